"""Activation maximisation: x* = argmax_x h(x) - sum_r R_r(x), one compiled loop for a batch.

Every objective in a list is optimised on its own image, all as one batch inside a single
``tf.function`` (a ``tf.while_loop`` over the steps, Adam written out), so the loop is
traced once per configuration and reused across calls (e.g. every epoch of a callback).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_insight.core import engine
from keras_insight.core.input_range import resolve_input_range
from keras_insight.core.introspection import Forward, input_shape, is_subclassed
from keras_insight.core.validation import guard_nonfinite
from keras_insight.synthesis.objectives import INPUT, Context, Objective, layer_key
from keras_insight.synthesis.param import L2Ball, Param, PixelParam, make_param
from keras_insight.synthesis.transforms import Crop, apply_transforms, resolve_transforms


class BlurEvery:
    """Regulariser: Gaussian-blur the pixel parameter every ``k`` steps (Yosinski et al. 2015)."""

    def __init__(self, k: int, sigma: float = 0.5) -> None:
        if k < 1 or sigma <= 0:
            raise ValueError(f"blur_every needs k >= 1 and sigma > 0, got k={k}, sigma={sigma}.")
        self.k, self.sigma = int(k), float(sigma)
        self.key = ("blur", self.k, self.sigma)

    def kernel(self, channels: int):
        r = max(1, int(np.ceil(2 * self.sigma)))
        t = np.arange(-r, r + 1, dtype=np.float32)
        g = np.exp(-0.5 * (t / self.sigma) ** 2)
        g = np.outer(g, g) / np.outer(g, g).sum()
        return np.tile(g[:, :, None, None], (1, 1, channels, 1)).astype(np.float32)

    def __call__(self, p):
        k = self.kernel(p.shape[-1])
        return tf.nn.depthwise_conv2d(p, k, [1, 1, 1, 1], "SAME")


def blur_every(k: int, sigma: float = 0.5) -> BlurEvery:
    """Blur the image every ``k`` steps (pixels parameterisation), a smoothness regulariser."""
    return BlurEvery(k, sigma)


def image_shape_of(model: keras.Model, image_shape: Sequence[int] | None) -> tuple[int, int, int]:
    """(H, W, C) of the model's image input; clear error for non-image inputs."""
    if image_shape is None:
        try:
            shape = input_shape(model)
        except ValueError:
            raise ValueError(
                f"Cannot tell the image shape of model {model.name!r}; pass image_shape=(H, W, C)."
            ) from None
    else:
        shape = tuple(image_shape)
    if len(shape) != 3 or any(s is None or int(s) < 1 for s in shape):
        raise ValueError(
            f"Synthesis needs an image input (H, W, C); model {model.name!r} takes inputs of shape {shape}. "
            "Pass image_shape=(H, W, C) for a model with a flexible input size."
        )
    return tuple(int(s) for s in shape)


def _as_objectives(objective: Any) -> list[Objective]:
    objs = list(objective) if isinstance(objective, (list, tuple)) else [objective]
    if not objs:
        raise ValueError("No objective given: pass an Objective or a non-empty list of them.")
    return [Objective.from_target(o) for o in objs]


def _layers_of(objs: Sequence[Objective]) -> list:
    seen, out = set(), []
    for o in objs:
        for lyr in o.layers:
            k = layer_key(lyr)
            if lyr != INPUT and k not in seen:
                seen.add(k)
                out.append(lyr)
    return out


def _forward(model, layers, objs=(), output=None):
    if layers and is_subclassed(model):
        return Forward(model, layers)  # raises the clear subclassed error
    reads_logits = not layers or any("class_logit(" in o.name for o in objs)
    if output is None and not reads_logits and len(getattr(model, "outputs", None) or []) > 1:
        output = 0  # layer objectives on a multi-output model: no head is read
    return engine.get_forward(model, tuple(layers), output=output)


def _model_input_shape(transforms, shape):
    """(H, W, C) the model sees: the last crop/resize of the chain sets it (the transforms
    after it keep the size), e.g. DeepDream's low octaves are resized to the model's size."""
    for t in reversed(transforms):
        if isinstance(t, Crop) and t.size is not None:
            return (*t.size, shape[2])
    return shape


def _run_checks(model, fwd, layers, objs, shape):
    def build():
        acts, logits = fwd(tf.zeros((1, *shape), tf.float32))
        return acts, logits

    acts, logits = engine.cached(model, ("synthesis-shapes", fwd.key, shape), build)
    shapes = {layer_key(lyr): tuple(a.shape) for lyr, a in zip(layers, acts)}
    shapes["logits"] = tuple(logits.shape)
    shapes[layer_key(INPUT)] = (None, *shape)
    for o in objs:
        for check in o.checks:
            check(model, shapes)


def _contexts(fwd, layers, x_model, image, input_range, refs):
    acts, logits = fwd(x_model)
    table = {layer_key(lyr): a for lyr, a in zip(layers, acts)}
    table[layer_key(INPUT)] = x_model
    return Context(image, tf.cast(logits, tf.float32), table, input_range, refs)


def _total(objs, ctx):
    """Sum over samples of objective i on sample i (one objective: on all samples)."""
    if len(objs) == 1:
        return objs[0](ctx)
    return tf.concat([o(ctx.slice(i)) for i, o in enumerate(objs)], axis=0)


def _build_loop(
    model, fwd, layers, objs, param: Param, transforms, constraint, regs, blur, lr, ref_names, rng
):
    lo, hi = param.lo, param.hi
    b1, b2, eps = 0.9, 0.999, 1e-8

    def image_of(p):
        x = param.to_image(p)
        if constraint is not None:
            x = tf.clip_by_value(constraint(x, rng), lo, hi)
        return x

    def loop(p0, steps, seed, *refs):
        ref_tables = {}
        for name, r in zip(ref_names, refs):
            r_acts, _ = fwd(r)
            table = {layer_key(lyr): tf.stop_gradient(a) for lyr, a in zip(layers, r_acts)}
            table[layer_key(INPUT)] = r
            ref_tables[name] = table

        def body(i, p, m, v, hist):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(p)
                img = image_of(p)
                xt = apply_transforms(transforms, img, tf.stack([seed, i]), rng)
                ctx = _contexts(fwd, layers, xt, img, rng, ref_tables)
                per_sample = _total(objs, ctx)
                for r in regs:
                    per_sample = per_sample - r(ctx)
                prior = param.penalty(p)  # e.g. data_prior: weight * ||z||^2
                if prior is not None:
                    per_sample = per_sample - prior
                total = tf.reduce_sum(per_sample)
            g = tape.gradient(total, p)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * tf.square(g)
            t = tf.cast(i + 1, tf.float32)
            mhat = m / (1 - tf.pow(b1, t))
            vhat = v / (1 - tf.pow(b2, t))
            p = param.project(p + lr * mhat / (tf.sqrt(vhat) + eps))
            if blur is not None:
                p = tf.cond((i + 1) % blur.k == 0, lambda: blur(p), lambda: p)
            hist = hist.write(i, per_sample)
            return i + 1, p, m, v, hist

        hist = tf.TensorArray(tf.float32, size=steps)
        z = tf.zeros_like(p0)
        _, p, _, _, hist = tf.while_loop(
            lambda i, *_: i < steps, body, (tf.constant(0), p0, z, z, hist), parallel_iterations=1
        )
        return image_of(p), p, hist.stack()

    return loop


@guard_nonfinite("maximize", takes_x=False)
def maximize(
    model: keras.Model,
    objective: Objective | Sequence[Objective],
    *,
    steps: int = 256,
    param: str | Param = "fourier",
    transforms: Any = "default",
    regularizers: Sequence[Any] = (),
    constraint: L2Ball | None = None,
    lr: float = 0.05,
    input_range: tuple[float, float] | None = None,
    image_shape: Sequence[int] | None = None,
    seed: int = 0,
    init: np.ndarray | None = None,
    references: dict[str, np.ndarray] | None = None,
    return_history: bool = False,
    output: int | str | None = None,
    jit_compile: bool | str = "auto",
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Activation maximisation: x* = argmax_x sum_i h_i(x_i) - sum_r R_r(x_i) (Olah et al. 2017).

    Adam ascent on a parameterisation (``"fourier"``: 1/f-scaled, colour-decorrelated
    spectrum squashed into ``input_range``; ``"pixels"``), with random ``transforms`` each
    step (Lucid defaults scaled to the image size). A list of N objectives gives N images
    optimised as one batch in one compiled loop; every image starts from the same seeded
    initialisation and sees the same transforms, so batching does not change results.

    Args:
        model: a Keras image model; class scores are the pre-activation logits.
        objective: an :class:`Objective` or a list of them (one image each).
        steps: optimisation steps.
        param: ``"fourier"``, ``"pixels"`` (range-relative units, clipped) or a Param.
        transforms: ``"default"``, ``()`` for none, or a list (``pad``, ``jitter``, ...).
        regularizers: penalties subtracted from the objective (e.g. ``0.1 * l2()``,
            ``total_variation()``) and ``blur_every(k)`` (pixels only).
        constraint: ``l2_ball(r)`` keeps ||x - c|| <= r.
        lr: Adam learning rate in parameter units.
        input_range: ``(lo, hi)`` of valid inputs; required.
        image_shape: (H, W, C) when the model does not fix it.
        seed: initialisation and transform seed.
        init: optional start images (N or 1, H, W, C) inside the range.
        references: named reference images ``{name: (N or 1, H, W, C)}`` read by
            ``feature_match`` / ``gram_match`` objectives.
        return_history: also return the per-step objective values (steps, N).
        output: the head (index or layer name) class objectives read on a multi-output
            model; not needed when the objectives read only layers.

    Returns:
        float32 images (N, H, W, C) inside ``input_range`` [, history].

    Example:
        >>> from keras_insight.testing import small_cnn
        >>> from keras_insight.synthesis import class_logit, l2
        >>> imgs = maximize(small_cnn(), [class_logit(0), class_logit(1) - 0.1 * l2()], steps=4,
        ...                 input_range=(0, 1))
        >>> imgs.shape, bool(imgs.min() >= 0 and imgs.max() <= 1)
        ((2, 16, 16, 3), True)
    """
    objs = _as_objectives(objective)
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model, got {type(model).__name__}.")
    if input_range is None and isinstance(param, Param):  # e.g. data_prior(x): range of x
        input_range = (param.lo, param.hi)
    rng = resolve_input_range(input_range, None, what="synthesis (maximize)")
    shape = image_shape_of(model, image_shape)
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}.")
    n = len(objs)
    if param == "pixels" and constraint is not None:
        par: Param = PixelParam(shape, rng, clip=False)
    else:
        par = make_param(param, shape, rng)
    if tuple(par.shape) != shape:
        raise ValueError(f"The parameterisation has shape {par.shape}, the image shape is {shape}.")
    if (par.lo, par.hi) != rng:
        raise ValueError(
            f"The parameterisation maps into {(par.lo, par.hi)} but input_range is {rng}: "
            "fit it for the model's range (e.g. data_prior(x, input_range=...))."
        )
    tfs = resolve_transforms(transforms, shape)
    blur = next((r for r in regularizers if isinstance(r, BlurEvery)), None)
    regs = [r for r in regularizers if not isinstance(r, BlurEvery)]
    for r in regs:
        if not isinstance(r, Objective):
            raise TypeError(
                f"regularizers are objectives (l2(), total_variation()) or blur_every(k), got {r!r}."
            )
    if blur is not None and not isinstance(par, PixelParam):
        raise ValueError("blur_every needs param='pixels' (it blurs the pixel parameter).")
    ref_names = tuple(sorted(references or {}))
    needed = {r for o in objs + regs for r in o.refs}
    missing = needed - set(ref_names)
    if missing:
        raise ValueError(
            f"The objectives read reference images {sorted(missing)}: pass references={{name: images}}."
        )

    layers = _layers_of(objs + regs)
    fwd = _forward(model, layers, objs + regs, output)
    _run_checks(model, fwd, layers, objs + regs, _model_input_shape(tfs, shape))

    if init is None:
        p0 = par.init(n, seed)
    else:
        x0 = _batch(init, n, shape, "init")
        p0 = par.from_image(np.clip(x0, rng[0], rng[1]))
    refs = [tf.constant(_batch(references[k], n, shape, f"references[{k!r}]")) for k in ref_names]

    key = (
        "maximize",
        fwd.key,
        tuple(o.key for o in objs),
        tuple(r.key for r in regs),
        par.key,
        tuple(t.key for t in tfs),
        constraint.key if constraint is not None else None,
        blur.key if blur is not None else None,
        float(lr),
        n,
        ref_names,
    )
    loop = _build_loop(
        model, fwd, layers, objs, par, tfs, constraint, regs, blur, float(lr), ref_names, rng
    )
    sig = [
        tf.TensorSpec(p0.shape, tf.float32),
        tf.TensorSpec([], tf.int32),
        tf.TensorSpec([], tf.int32),
    ]
    sig += [tf.TensorSpec((n, *shape), tf.float32) for _ in ref_names]
    f = engine.compiled(model, key, loop, sig, jit_compile)
    images, _, hist = f(
        tf.constant(p0), tf.constant(steps), tf.constant(int(seed) % (2**31 - 1)), *refs
    )
    images = np.asarray(images.numpy(), np.float32)
    if return_history:
        return images, hist.numpy()
    return images


def _batch(x: Any, n: int, shape, name: str) -> np.ndarray:
    arr = np.asarray(x, np.float32)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.shape[1:] != tuple(shape):
        raise ValueError(
            f"{name} has shape {arr.shape}; expected (N, {', '.join(map(str, shape))})."
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    if arr.shape[0] == 1 and n > 1:
        arr = np.repeat(arr, n, axis=0)
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} images for {n} objectives; pass 1 or {n}.")
    return arr


def objective_values(
    model: keras.Model,
    objective: Objective | Sequence[Objective],
    images: Any,
    *,
    input_range: tuple[float, float] | None = None,
    references: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Objective i evaluated on image i (no transforms): (N,) float32.

    Example:
        >>> import numpy as np
        >>> from keras_insight.testing import linear_model
        >>> from keras_insight.synthesis import class_logit
        >>> v = objective_values(linear_model(), class_logit(0), np.zeros((2, 6, 6, 2)), input_range=(-1, 1))
        >>> v.shape
        (2,)
    """
    objs = _as_objectives(objective)
    x = np.asarray(images, np.float32)
    rng = resolve_input_range(input_range, x, what="objective_values")
    n = x.shape[0]
    if len(objs) not in (1, n):
        raise ValueError(f"{len(objs)} objectives for {n} images: pass one or one per image.")
    layers = _layers_of(objs)
    fwd = _forward(model, layers, objs)
    shape = tuple(x.shape[1:])
    _run_checks(model, fwd, layers, objs, shape)
    ref_tables = {}
    for name, r in (references or {}).items():
        r = tf.constant(_batch(r, n, shape, f"references[{name!r}]"))
        acts, _ = fwd(r)
        table = {layer_key(lyr): a for lyr, a in zip(layers, acts)}
        table[layer_key(INPUT)] = r
        ref_tables[name] = table
    xt = tf.constant(x)
    ctx = _contexts(fwd, layers, xt, xt, rng, ref_tables)
    return np.asarray(_total(objs, ctx).numpy(), np.float32)
