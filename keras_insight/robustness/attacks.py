"""Gradient attacks: FGSM and PGD (Linf and L2), compiled once, batched, float32.

Both go through the core gradient engine (:func:`keras_insight.core.score_and_gradients`)
with an attack-loss :class:`AttackLoss` target that reads the labels through
``class_idx``. Logits are the pre-activation of the output layer (the final softmax is
stripped), every forward pass uses ``training=False``, and inputs, perturbations and
results stay float32 under ``mixed_float16``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_insight._config import logger
from keras_insight.core.engine import compiled, get_forward, score_and_gradients
from keras_insight.core.input_range import as_float32, resolve_input_range
from keras_insight.core.introspection import is_subclassed, output_layer
from keras_insight.core.targets import Target
from keras_insight.core.validation import check_images

LOSSES = ("cross_entropy", "margin")
NORMS = ("linf", "l2")
DEFAULT_BATCH_SIZE = 256


class AttackLoss(Target):
    """Per-sample attack loss on logits; ``class_idx`` carries the (true or target) labels.

    ``cross_entropy``: CE(softmax(z), y). ``margin``: max_{j != y} z_j - z_y (Carlini &
    Wagner 2017), which keeps its gradient when the softmax saturates. Targeted attacks
    ascend the negative loss towards the target class. A 1-unit sigmoid head is read as the
    two logits (0, z).
    """

    def __init__(self, loss: str, targeted: bool = False, binary: bool = False) -> None:
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES} (or 'both' for attacks), got {loss!r}.")
        self.loss, self.targeted, self.binary = loss, bool(targeted), bool(binary)

    @property
    def key(self) -> tuple:
        return ("attack_loss", self.loss, self.targeted, self.binary)

    def score(self, logits, activations, class_idx):
        z = _two_class(tf.cast(logits, tf.float32), self.binary)
        if self.loss == "cross_entropy":
            value = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=class_idx, logits=z)
        else:
            value = -_margin(z, class_idx)
        return -value if self.targeted else value


def _two_class(z: tf.Tensor, binary: bool) -> tf.Tensor:
    return tf.concat([tf.zeros_like(z), z], axis=-1) if binary else z


def _margin(z: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """z_y - max_{j != y} z_j: positive when the label wins."""
    k = tf.shape(z)[-1]
    onehot = tf.one_hot(labels, k, dtype=z.dtype)
    z_y = tf.reduce_sum(z * onehot, axis=-1)
    other = tf.reduce_max(z - onehot * 1e30, axis=-1)
    return z_y - other


# ------------------------------------------------------------------- validation


def _labels(y: Any, n: int, num_classes: int | None = None) -> np.ndarray:
    if y is None:
        raise ValueError("Attacks need the true labels y (one per sample); got None.")
    arr = np.asarray(y.numpy() if hasattr(y, "numpy") else y)
    if arr.ndim == 2 and arr.shape[1] > 1:  # one-hot or probabilities
        arr = arr.argmax(axis=-1)
    arr = arr.reshape(-1) if arr.ndim == 2 else arr
    if arr.shape != (n,):
        raise ValueError(
            f"Got labels of shape {np.shape(y)} for {n} samples; give one label per sample."
        )
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.mod(arr, 1) == 0):
            raise ValueError("Labels must be integer class indices (or one-hot rows).")
    arr = arr.astype(np.int32)
    if arr.size and arr.min() < 0:
        raise ValueError(f"Labels must be >= 0, got {int(arr.min())}.")
    if num_classes is not None and arr.size and arr.max() >= num_classes:
        raise ValueError(
            f"Label {int(arr.max())} is out of range: the model has {num_classes} classes "
            f"(0..{num_classes - 1})."
        )
    return arr


def _check_eps(eps: Any, norm: str, lo: float, hi: float, shape: tuple) -> float:
    eps = float(eps)
    if not np.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}.")
    width = hi - lo
    limit = width if norm == "linf" else width * float(np.sqrt(np.prod(shape)))
    if eps > limit * (1 + 1e-6):
        raise ValueError(
            f"eps={eps} exceeds the input range ({lo:g}, {hi:g}) ({norm} limit {limit:g}): eps is "
            "in the units of the model's input (e.g. 8/255 for 0-1 data, 8 for 0-255 data)."
        )
    return eps


def _check_norm(norm: str) -> str:
    norm = str(norm).lower().replace("inf", "inf")
    aliases = {"linf": "linf", "inf": "linf", "l_inf": "linf", "l2": "l2", "2": "l2"}
    if norm not in aliases:
        raise ValueError(f"norm must be 'linf' or 'l2', got {norm!r}.")
    return aliases[norm]


def _losses(loss: str) -> tuple[str, ...]:
    if loss == "both":
        return LOSSES
    if loss not in LOSSES:
        raise ValueError(f"loss must be 'cross_entropy', 'margin' or 'both', got {loss!r}.")
    return (loss,)


def _head_kind(model: keras.Model, output: Any) -> bool:
    """Return True for a 1-unit sigmoid head (binary); raise for other 1-unit heads."""
    if is_subclassed(model):
        return False
    head = output_layer(model, output)
    units = getattr(head, "units", None) or getattr(head, "filters", None)
    if units == 1:
        act = getattr(getattr(head, "activation", None), "__name__", "")
        if act == "sigmoid":
            return True
        raise ValueError(
            f"Model {model.name!r} has a single linear output unit (a regression head): attacks "
            "need class scores. Use a classifier (softmax over >= 2 units or a 1-unit sigmoid)."
        )
    return False


_WARNED_PROBS: set[int] = set()


def _check_logits(model: keras.Model, logits: np.ndarray) -> None:
    if logits.shape[-1] == 1 and not is_subclassed(model):
        return
    if logits.shape[-1] < 2:
        raise ValueError(
            f"Model output has {logits.shape[-1]} unit(s): attacks need a classifier with class "
            "scores (regression heads are not supported)."
        )
    sums = logits.sum(-1)
    if (logits >= 0).all() and (logits <= 1).all() and np.allclose(sums, 1, atol=1e-3):
        if id(model) not in _WARNED_PROBS:
            _WARNED_PROBS.add(id(model))
            logger.warning(
                "Model %r outputs probabilities with no separable softmax layer: attack gradients "
                "may vanish when it saturates. Return logits (or use loss='margin').",
                model.name,
            )


# ------------------------------------------------------------------- compiled loops


def _scale(model: keras.Model) -> float:
    policy = getattr(model, "dtype_policy", None)
    return 1024.0 if getattr(policy, "compute_dtype", "float32") == "float16" else 1.0


def _bcast(v: tf.Tensor, rank: int) -> tf.Tensor:
    return tf.reshape(v, [-1] + [1] * (rank - 1))


def _l2(v: tf.Tensor) -> tf.Tensor:
    axes = list(range(1, v.shape.rank))
    return tf.sqrt(tf.reduce_sum(tf.square(v), axis=axes, keepdims=True))


def _pgd_fn(model, fwd, target, norm, shape, jit_compile):
    """Compiled PGD: (x, labels, unit start noise, eps, alpha, steps, lo, hi) -> results."""
    scale = _scale(model)
    rank = len(shape) + 1

    def run(x, labels, noise, eps, alpha, steps, lo, hi):
        e = _bcast(eps, rank)
        a = _bcast(alpha, rank)
        if norm == "linf":
            x_min, x_max = tf.maximum(x - e, lo), tf.minimum(x + e, hi)
            x_adv = tf.clip_by_value(x + e * noise, x_min, x_max)
        else:
            x_adv = tf.clip_by_value(x + e * noise, lo, hi)

        def body(i, x_adv, zero):
            out = score_and_gradients(fwd, target, x_adv, labels, scale=scale)
            g = out["input_grads"]
            all_zero = tf.reduce_all(tf.equal(g, 0.0), axis=list(range(1, rank)))
            zero = tf.where(tf.equal(i, 0), all_zero, zero)
            if norm == "linf":
                x_new = tf.clip_by_value(x_adv + a * tf.sign(g), x_min, x_max)
            else:
                step = a * g / tf.maximum(_l2(g), 1e-12)
                delta = x_adv + step - x
                delta = delta * tf.minimum(1.0, e / tf.maximum(_l2(delta), 1e-12))
                x_new = tf.clip_by_value(x + delta, lo, hi)
            return i + 1, x_new, zero

        zero0 = tf.zeros(tf.shape(x)[:1], tf.bool)
        _, x_adv, zero = tf.while_loop(
            lambda i, *_: i < steps, body, [tf.constant(0), x_adv, zero0], parallel_iterations=1
        )
        _, z = fwd(x_adv)
        return x_adv, tf.cast(z, tf.float32), zero

    f32 = tf.float32
    sig = [
        tf.TensorSpec((None, *shape), f32),
        tf.TensorSpec((None,), tf.int32),
        tf.TensorSpec((None, *shape), f32),
        tf.TensorSpec((None,), f32),
        tf.TensorSpec((None,), f32),
        tf.TensorSpec((), tf.int32),
        tf.TensorSpec((), f32),
        tf.TensorSpec((), f32),
    ]
    key = ("pgd", fwd.key, target.key, norm, shape, scale)
    return compiled(model, key, run, sig, jit_compile)


def _fgsm_fn(model, fwd, target, shape, jit_compile):
    scale = _scale(model)
    rank = len(shape) + 1

    def run(x, labels, eps, lo, hi):
        out = score_and_gradients(fwd, target, x, labels, scale=scale)
        x_adv = tf.clip_by_value(x + _bcast(eps, rank) * tf.sign(out["input_grads"]), lo, hi)
        _, z = fwd(x_adv)
        return x_adv, tf.cast(z, tf.float32)

    f32 = tf.float32
    sig = [
        tf.TensorSpec((None, *shape), f32),
        tf.TensorSpec((None,), tf.int32),
        tf.TensorSpec((None,), f32),
        tf.TensorSpec((), f32),
        tf.TensorSpec((), f32),
    ]
    return compiled(model, ("fgsm", fwd.key, target.key, shape, scale), run, sig, jit_compile)


def start_noise(shape: tuple, norm: str, seed: int, restart: int) -> np.ndarray:
    """Unit-ball random start for restart ``restart``: independent of the restart count.

    Linf: U(-1, 1) per pixel; L2: uniform in the unit L2 ball (Gaussian direction, radius
    u^(1/d)). The attack scales it by eps.
    """
    rng = np.random.default_rng([int(seed), int(restart)])
    if norm == "linf":
        return rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)
    n, d = shape[0], int(np.prod(shape[1:]))
    g = rng.standard_normal((n, d))
    g /= np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
    r = rng.uniform(0.0, 1.0, size=(n, 1)) ** (1.0 / d)
    return (g * r).reshape(shape).astype(np.float32)


def _success(z: np.ndarray, labels: np.ndarray, targeted: bool, binary: bool) -> np.ndarray:
    pred = (z[:, 0] > 0).astype(np.int32) if binary else z.argmax(-1)
    return pred == labels if targeted else pred != labels


def _margin_np(z: np.ndarray, labels: np.ndarray, binary: bool) -> np.ndarray:
    if binary:
        z = np.concatenate([np.zeros_like(z), z], axis=-1)
    onehot = np.eye(z.shape[-1], dtype=bool)[labels]
    return z[onehot] - np.where(onehot, -np.inf, z).max(-1)


class AttackResult:
    """Internal: x_adv, logits on x_adv, success, zero-gradient flags (first step)."""

    def __init__(self, x_adv, logits, success, zero_grad):
        self.x_adv, self.logits, self.success, self.zero_grad = x_adv, logits, success, zero_grad


def _prepare(model, x, y, input_range, output, what, clean=True):
    check_images(model, x)
    x = as_float32(x, ndim=None)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty batch (N, ...), got shape {x.shape}.")
    lo, hi = resolve_input_range(input_range, x, what=what)
    if x.min() < lo - 1e-6 * (hi - lo) or x.max() > hi + 1e-6 * (hi - lo):
        raise ValueError(
            f"x has values in [{x.min():g}, {x.max():g}] outside input_range ({lo:g}, {hi:g}); "
            "pass the model's true input range."
        )
    binary = _head_kind(model, output)
    if y is None:
        _labels(y, x.shape[0])
    from keras_insight.core.engine import forward_outputs

    # the class count and the probability check need only a few samples unless asked
    _, clean_z = forward_outputs(model, x if clean else x[:16], output=output)
    _check_logits(model, clean_z)
    labels = _labels(y, x.shape[0], 2 if binary else clean_z.shape[-1])
    return x, labels, (lo, hi), binary, clean_z


def _run_pgd(
    model,
    x,
    labels,
    eps,
    *,
    norm,
    steps,
    step_size,
    random_start,
    restarts,
    losses,
    targeted,
    lo,
    hi,
    seed,
    batch_size,
    binary,
    output,
    jit_compile,
    tile=1,
) -> AttackResult:
    """PGD over all samples with per-sample eps (N,), worst case over restarts and losses.

    ``tile`` > 1 means x is ``tile`` copies of one set (one per eps): the random starts
    are drawn for one copy and repeated, so each sample's start does not depend on tiling.
    """
    n, shape = x.shape[0], tuple(x.shape[1:])
    base_shape = (n // tile,) + shape
    fwd = get_forward(model, (), output=output)
    eps = np.broadcast_to(np.asarray(eps, np.float32), (n,)).astype(np.float32)
    alpha = (
        2.5 * eps / steps if step_size is None else np.broadcast_to(np.float32(step_size), (n,))
    ).astype(np.float32)
    bs = int(batch_size or DEFAULT_BATCH_SIZE)
    best_x = x.copy()
    best_z = None
    best_margin = np.full(n, np.inf, np.float32)  # label margin: lower = closer to broken
    success = np.zeros(n, bool)
    zero_by_loss: dict[str, np.ndarray] = {}
    first = True
    for loss in losses:
        target = AttackLoss(loss, targeted, binary)
        f = _pgd_fn(model, fwd, target, norm, shape, jit_compile)
        for r in range(max(1, restarts) if random_start else 1):
            if random_start:
                noise = start_noise(base_shape, norm, seed, r)
                noise = np.tile(noise, (tile,) + (1,) * len(shape)) if tile > 1 else noise
            else:
                noise = np.zeros_like(x)
            outs = []
            for s in range(0, n, bs):
                sl = slice(s, s + bs)
                res = f(
                    x[sl],
                    labels[sl],
                    noise[sl],
                    eps[sl],
                    alpha[sl],
                    tf.constant(int(steps)),
                    tf.constant(lo, tf.float32),
                    tf.constant(hi, tf.float32),
                )
                outs.append([t.numpy() for t in res])
            xa = np.concatenate([o[0] for o in outs])
            z = np.concatenate([o[1] for o in outs])
            if r == 0:
                zero_by_loss[loss] = np.concatenate([o[2] for o in outs])
            if first:
                best_z = z
            ok = _success(z, labels, targeted, binary)
            m = _margin_np(z, labels, binary) * (-1.0 if targeted else 1.0)
            take = (ok & ~success) | (~success & ~ok & (m < best_margin)) | first
            best_x[take], best_z[take], best_margin[take] = xa[take], z[take], m[take]
            success |= ok
            first = False
    res = AttackResult(best_x, best_z, success, zero_by_loss[losses[0]])
    res.zero_by_loss = zero_by_loss
    return res


def pgd(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    eps: float,
    norm: str = "linf",
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = True,
    restarts: int = 1,
    loss: str = "cross_entropy",
    targeted: bool = False,
    input_range: tuple[float, float] | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    output: int | str | None = None,
    jit_compile: bool | str = "auto",
) -> np.ndarray:
    """Projected gradient descent (Madry et al. 2018), Linf or L2, per-sample worst case.

    x_{t+1} = Proj_{B(x, eps) ∩ [lo, hi]}(x_t + alpha * sign(grad L)) (Linf; L2 uses
    grad / ||grad||_2), alpha = 2.5 * eps / steps by default, from a seeded uniform start in
    the ball (restart r's start depends only on (seed, r)). Returns the float32 adversarial
    images: for each sample the first successful run over restarts (and over both losses with
    ``loss="both"``), else the one with the lowest label margin. ``eps`` is in the units of
    the model's input range; ``y`` are true labels (ints or one-hot), or target labels with
    ``targeted=True``.

    Example:
        >>> import numpy as np
        >>> from keras_insight.testing import small_cnn
        >>> m = small_cnn()
        >>> x = np.random.default_rng(0).uniform(size=(4, 16, 16, 3)).astype("float32")
        >>> x_adv = pgd(m, x, [0, 1, 2, 3], eps=8 / 255, steps=3, input_range=(0, 1))
        >>> bool(np.abs(x_adv - x).max() <= 8 / 255 + 1e-6)
        True
    """
    x, labels, (lo, hi), binary, _ = _prepare(model, x, y, input_range, output, "pgd", clean=False)
    norm = _check_norm(norm)
    eps = _check_eps(eps, norm, lo, hi, x.shape[1:])
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}.")
    if step_size is not None and not float(step_size) > 0:
        raise ValueError(f"step_size must be > 0 (or None for 2.5 * eps / steps), got {step_size}.")
    if int(restarts) < 1:
        raise ValueError(f"restarts must be >= 1, got {restarts}.")
    losses = _losses(loss)
    if eps == 0:
        return x.copy()
    res = _run_pgd(
        model,
        x,
        labels,
        eps,
        norm=norm,
        steps=int(steps),
        step_size=step_size,
        random_start=random_start,
        restarts=int(restarts),
        losses=losses,
        targeted=targeted,
        lo=lo,
        hi=hi,
        seed=seed,
        batch_size=batch_size,
        binary=binary,
        output=output,
        jit_compile=jit_compile,
    )
    return res.x_adv


def _run_fgsm(
    model, x, labels, eps, *, loss, targeted, lo, hi, batch_size, binary, output, jit_compile
):
    n, shape = x.shape[0], tuple(x.shape[1:])
    fwd = get_forward(model, (), output=output)
    f = _fgsm_fn(model, fwd, AttackLoss(loss, targeted, binary), shape, jit_compile)
    eps = np.broadcast_to(np.asarray(eps, np.float32), (n,)).astype(np.float32)
    bs = int(batch_size or DEFAULT_BATCH_SIZE)
    outs = []
    for s in range(0, n, bs):
        sl = slice(s, s + bs)
        res = f(
            x[sl], labels[sl], eps[sl], tf.constant(lo, tf.float32), tf.constant(hi, tf.float32)
        )
        outs.append([t.numpy() for t in res])
    xa = np.concatenate([o[0] for o in outs])
    z = np.concatenate([o[1] for o in outs])
    return AttackResult(xa, z, _success(z, labels, targeted, binary), np.zeros(n, bool))


def fgsm(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    eps: float,
    input_range: tuple[float, float] | None = None,
    targeted: bool = False,
    loss: str = "cross_entropy",
    output: int | str | None = None,
    batch_size: int | None = None,
    jit_compile: bool | str = "auto",
) -> np.ndarray:
    """Fast gradient sign method (Goodfellow et al. 2015).

    x_adv = clip(x + eps * sign(grad_x L(f(x), y)), lo, hi) (targeted: minus, towards y),
    L = cross-entropy on the logits (final softmax stripped) or the margin loss.

    Example:
        >>> import numpy as np
        >>> from keras_insight.testing import small_cnn
        >>> x = np.full((2, 16, 16, 3), 0.5, "float32")
        >>> x_adv = fgsm(small_cnn(), x, [0, 1], eps=0.1, input_range=(0, 1))
        >>> bool(np.abs(x_adv - x).max() <= 0.1 + 1e-6)
        True
    """
    x, labels, (lo, hi), binary, _ = _prepare(model, x, y, input_range, output, "fgsm", clean=False)
    eps = _check_eps(eps, "linf", lo, hi, x.shape[1:])
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}.")
    if eps == 0:
        return x.copy()
    res = _run_fgsm(
        model,
        x,
        labels,
        eps,
        loss=loss,
        targeted=targeted,
        lo=lo,
        hi=hi,
        batch_size=batch_size,
        binary=binary,
        output=output,
        jit_compile=jit_compile,
    )
    return res.x_adv
