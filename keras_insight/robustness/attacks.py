"""Gradient attacks: FGSM and PGD (Linf and L2), compiled once, batched, float32.

Both go through the core gradient engine (:func:`keras_insight.core.score_and_gradients`)
with an attack-loss :class:`AttackLoss` target that reads the labels through
``class_idx``. Logits are the pre-activation of the output layer (the final softmax is
stripped), every forward pass uses ``training=False``, and inputs, perturbations and
results stay float32 under ``mixed_float16``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_insight._config import logger
from keras_insight.core.engine import (
    compiled,
    forward_outputs,
    get_forward,
    loss_scale,
    run_batched,
    score_and_gradients,
)
from keras_insight.core.input_range import as_float32, resolve_input_range
from keras_insight.core.introspection import is_subclassed, output_layer
from keras_insight.core.targets import Target, class_indices
from keras_insight.core.validation import check_images, guard_nonfinite

LOSSES = ("cross_entropy", "margin")
NORMS = ("linf", "l2")


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


def check_eps(eps: Any, norm: str, lo: float, hi: float, shape: tuple) -> float:
    """eps as a float, checked against the input range (eps is in input units)."""
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


def check_norm(norm: str) -> str:
    """The canonical norm name, "linf" or "l2" (aliases: "inf", "l_inf", "2")."""
    norm = str(norm).lower().replace("inf", "inf")
    aliases = {"linf": "linf", "inf": "linf", "l_inf": "linf", "l2": "l2", "2": "l2"}
    if norm not in aliases:
        raise ValueError(f"norm must be 'linf' or 'l2', got {norm!r}.")
    return aliases[norm]


def attack_losses(loss: str) -> tuple[str, ...]:
    """The attack losses a ``loss`` argument names ("both" = cross-entropy and margin)."""
    if loss == "both":
        return LOSSES
    if loss not in LOSSES:
        raise ValueError(f"loss must be 'cross_entropy', 'margin' or 'both', got {loss!r}.")
    return (loss,)


def binary_head(model: keras.Model, output: Any) -> bool:
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


def _bcast(v: tf.Tensor, rank: int) -> tf.Tensor:
    return tf.reshape(v, [-1] + [1] * (rank - 1))


def _l2(v: tf.Tensor) -> tf.Tensor:
    axes = list(range(1, v.shape.rank))
    return tf.sqrt(tf.reduce_sum(tf.square(v), axis=axes, keepdims=True))


def _pgd_fn(model, fwd, target, norm, shape, jit_compile):
    """Compiled PGD: (x, labels, unit start noise, eps, alpha, steps, lo, hi) -> results."""
    scale = loss_scale(model)
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
    scale = loss_scale(model)
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


def attack_success(z: np.ndarray, labels: np.ndarray, targeted: bool, binary: bool) -> np.ndarray:
    """Per sample: the attack succeeded (targeted: predicts the label; else: does not)."""
    pred = (z[:, 0] > 0).astype(np.int32) if binary else z.argmax(-1)
    return pred == labels if targeted else pred != labels


def _margin_np(z: np.ndarray, labels: np.ndarray, binary: bool) -> np.ndarray:
    if binary:
        z = np.concatenate([np.zeros_like(z), z], axis=-1)
    onehot = np.eye(z.shape[-1], dtype=bool)[labels]
    return z[onehot] - np.where(onehot, -np.inf, z).max(-1)


@dataclass
class AttackResult:
    """Adversarial images, logits on them, per-sample success, and per attack loss the
    flags of samples whose input gradient was exactly zero at the first step."""

    x_adv: np.ndarray
    logits: np.ndarray
    success: np.ndarray
    zero_by_loss: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class AttackConfig:
    """Everything an attack run needs besides the model, images, labels and eps.

    ``lo``/``hi``: the input range; ``losses``: from :func:`attack_losses`; ``step_size``
    None = 2.5 * eps / steps; ``binary``: a 1-unit sigmoid head (:func:`binary_head`).
    """

    lo: float
    hi: float
    norm: str = "linf"
    steps: int = 10
    step_size: float | None = None
    random_start: bool = True
    restarts: int = 1
    losses: tuple[str, ...] = ("cross_entropy",)
    targeted: bool = False
    seed: int = 0
    batch_size: int | None = None
    binary: bool = False
    output: Any = None
    jit_compile: bool | str = "auto"


def prepare_attack(model, x, y, input_range, output, what, clean=True):
    """Checked float32 ``x``, int labels, ``(lo, hi)``, binary head flag and logits of x
    (of the first 16 samples unless ``clean``)."""
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
    binary = binary_head(model, output)
    if y is None:
        raise ValueError("Attacks need the true labels y (one per sample); got None.")
    # the class count and the probability check need only a few samples unless asked
    _, clean_z = forward_outputs(model, x if clean else x[:16], output=output)
    _check_logits(model, clean_z)
    labels = class_indices(y, x.shape[0], 2 if binary else clean_z.shape[-1], what="Labels")
    return x, labels, (lo, hi), binary, clean_z


def run_pgd(model, x, labels, eps, cfg: AttackConfig, *, tile: int = 1) -> AttackResult:
    """PGD over all samples with per-sample eps (N,), worst case over restarts and losses.

    ``tile`` > 1 means x is ``tile`` copies of one set (one per eps): the random starts
    are drawn for one copy and repeated, so each sample's start does not depend on tiling.
    """
    n, shape = x.shape[0], tuple(x.shape[1:])
    base_shape = (n // tile,) + shape
    fwd = get_forward(model, (), output=cfg.output)
    eps = np.broadcast_to(np.asarray(eps, np.float32), (n,)).astype(np.float32)
    steps = int(cfg.steps)
    alpha = (
        2.5 * eps / steps
        if cfg.step_size is None
        else np.broadcast_to(np.float32(cfg.step_size), (n,))
    ).astype(np.float32)
    consts = (tf.constant(steps), tf.constant(cfg.lo, tf.float32), tf.constant(cfg.hi, tf.float32))
    best_x = x.copy()
    best_z = None
    best_margin = np.full(n, np.inf, np.float32)  # label margin: lower = closer to broken
    success = np.zeros(n, bool)
    zero_by_loss: dict[str, np.ndarray] = {}
    first = True
    for loss in cfg.losses:
        f = _pgd_fn(
            model, fwd, AttackLoss(loss, cfg.targeted, cfg.binary), cfg.norm, shape, cfg.jit_compile
        )
        for r in range(max(1, cfg.restarts) if cfg.random_start else 1):
            if cfg.random_start:
                noise = start_noise(base_shape, cfg.norm, cfg.seed, r)
                noise = np.tile(noise, (tile,) + (1,) * len(shape)) if tile > 1 else noise
            else:
                noise = np.zeros_like(x)
            xa, z, zero = run_batched(
                lambda *a, f=f: f(*a, *consts),
                x,
                labels,
                noise,
                eps,
                alpha,
                batch_size=cfg.batch_size,
            )
            if r == 0:
                zero_by_loss[loss] = zero
            if first:
                best_z = z
            ok = attack_success(z, labels, cfg.targeted, cfg.binary)
            m = _margin_np(z, labels, cfg.binary) * (-1.0 if cfg.targeted else 1.0)
            take = (ok & ~success) | (~success & ~ok & (m < best_margin)) | first
            best_x[take], best_z[take], best_margin[take] = xa[take], z[take], m[take]
            success |= ok
            first = False
    return AttackResult(best_x, best_z, success, zero_by_loss)


@guard_nonfinite("pgd")
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
    x, labels, (lo, hi), binary, _ = prepare_attack(model, x, y, input_range, output, "pgd", clean=False)
    norm = check_norm(norm)
    eps = check_eps(eps, norm, lo, hi, x.shape[1:])
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}.")
    if step_size is not None and not float(step_size) > 0:
        raise ValueError(f"step_size must be > 0 (or None for 2.5 * eps / steps), got {step_size}.")
    if int(restarts) < 1:
        raise ValueError(f"restarts must be >= 1, got {restarts}.")
    losses = attack_losses(loss)
    if eps == 0:
        return x.copy()
    cfg = AttackConfig(
        lo=lo,
        hi=hi,
        norm=norm,
        steps=int(steps),
        step_size=step_size,
        random_start=random_start,
        restarts=int(restarts),
        losses=losses,
        targeted=targeted,
        seed=seed,
        batch_size=batch_size,
        binary=binary,
        output=output,
        jit_compile=jit_compile,
    )
    return run_pgd(model, x, labels, eps, cfg).x_adv


def run_fgsm(model, x, labels, eps, cfg: AttackConfig) -> AttackResult:
    """FGSM with per-sample eps (N,) and the first of ``cfg.losses``."""
    n, shape = x.shape[0], tuple(x.shape[1:])
    fwd = get_forward(model, (), output=cfg.output)
    target = AttackLoss(cfg.losses[0], cfg.targeted, cfg.binary)
    f = _fgsm_fn(model, fwd, target, shape, cfg.jit_compile)
    eps = np.broadcast_to(np.asarray(eps, np.float32), (n,)).astype(np.float32)
    lo, hi = tf.constant(cfg.lo, tf.float32), tf.constant(cfg.hi, tf.float32)
    xa, z = run_batched(lambda *a: f(*a, lo, hi), x, labels, eps, batch_size=cfg.batch_size)
    return AttackResult(xa, z, attack_success(z, labels, cfg.targeted, cfg.binary))


@guard_nonfinite("fgsm")
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
    x, labels, (lo, hi), binary, _ = prepare_attack(model, x, y, input_range, output, "fgsm", clean=False)
    eps = check_eps(eps, "linf", lo, hi, x.shape[1:])
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}.")
    if eps == 0:
        return x.copy()
    cfg = AttackConfig(
        lo=lo,
        hi=hi,
        losses=(loss,),
        targeted=targeted,
        batch_size=batch_size,
        binary=binary,
        output=output,
        jit_compile=jit_compile,
    )
    return run_fgsm(model, x, labels, eps, cfg).x_adv
