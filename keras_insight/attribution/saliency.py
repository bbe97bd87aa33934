"""Gradient attributions: vanilla saliency, gradient x input, SmoothGrad family, guided
backprop, deconvnet and integrated gradients. All go through the one compiled engine."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_insight.attribution._common import (
    baseline_array,
    prepare_images,
    reduce_channels,
    resolved_targets,
    warn_degenerate,
)
from keras_insight.core.engine import (
    DEFAULT_BATCH_SIZE,
    check_targets_in_range,
    compiled,
    get_forward,
    gradients,
    loss_scale,
    run_batched,
    score_and_gradients,
)
from keras_insight.core.targets import ClassTarget, Target, resolve_targets
from keras_insight.core.validation import check_images, guard_nonfinite

METHODS = (
    "vanilla",
    "gradient_x_input",
    "smoothgrad",
    "smoothgrad_sq",
    "vargrad",
    "guided_backprop",
    "deconvnet",
)


@tf.custom_gradient
def guided_relu(x):
    """ReLU whose backward pass keeps only positive gradients where the input was positive
    (Springenberg et al. 2015, guided backpropagation)."""
    y = tf.nn.relu(x)

    def grad(dy):
        return dy * tf.cast(dy > 0, dy.dtype) * tf.cast(x > 0, dy.dtype)

    return y, grad


@tf.custom_gradient
def deconvnet_relu(x):
    """ReLU whose backward pass is ReLU of the incoming gradient, whatever the forward input
    (Zeiler & Fergus 2014, deconvnet)."""
    y = tf.nn.relu(x)

    def grad(dy):
        return tf.nn.relu(dy)

    return y, grad


_RELU_OF = {"guided_backprop": guided_relu, "deconvnet": deconvnet_relu}


def _engine_targets(target: Target, idx: np.ndarray) -> Any:
    if not isinstance(target, ClassTarget):
        return target
    return None if idx.size and (idx < 0).all() else idx  # -1 stays only on one-unit heads


def _reduce_tf(g: tf.Tensor, reduce: str | None) -> tf.Tensor:
    if reduce is None:
        return g
    if reduce == "max_abs":
        return tf.reduce_max(tf.abs(g), axis=-1)
    if reduce == "sum":
        return tf.reduce_sum(g, axis=-1)
    return tf.reduce_sum(tf.abs(g), axis=-1)  # "abs_sum"


def _direct(model, x, targets, *, method, reduce, output, batch_size) -> np.ndarray:
    """Vanilla / gradient x input / guided / deconvnet maps as ONE compiled call per chunk:
    gradient, product with x, channel reduction and the constant-map flag all in-graph
    (the predicted class is resolved inside the same call)."""
    target, idx = resolve_targets(targets, x.shape[0])
    relu = _RELU_OF.get(method)
    fwd = get_forward(model, tuple(target.layers), output=output, relu=relu)
    scale = loss_scale(model)
    times_input = method == "gradient_x_input"

    def fn(xb, ib):
        out = score_and_gradients(fwd, target, xb, ib, scale=scale)
        g = out["input_grads"]
        if times_input:
            g = g * xb
        maps = _reduce_tf(g, reduce)
        flat = tf.reshape(maps, [tf.shape(maps)[0], -1])
        constant = tf.reduce_max(flat, 1) <= tf.reduce_min(flat, 1)
        return maps, constant, out["logits"]

    key = ("saliency.direct", fwd.key, target.key, times_input, reduce, scale, x.shape[1:])
    sig = [tf.TensorSpec((None,) + x.shape[1:], tf.float32), tf.TensorSpec((None,), tf.int32)]
    f = compiled(model, key, fn, sig)
    check_targets_in_range(model, key, f, target, idx, logits_at=2)
    maps, constant, _ = run_batched(f, x, idx, batch_size=batch_size)
    warn_degenerate(maps, f"saliency({method})", flags=constant)  # flags computed in-graph
    return maps


def _empty(x: np.ndarray, reduce: str | None) -> np.ndarray:
    return np.zeros(x.shape if reduce is None else x.shape[:3], np.float32)


def _grads(model, x, target, idx, *, output, batch_size, relu=None) -> np.ndarray:
    return gradients(
        model, x, _engine_targets(target, idx), output=output, batch_size=batch_size, relu=relu
    ).input_grads


#: most noise samples per seeded block: with ``block = min(n, _BLOCK)``, the noise of image
#: i, sample j is row j % block of the block seeded by (key_i, j // block), so chunking over
#: images or samples never changes it and n <= _BLOCK draws exactly n samples per image
_BLOCK = 64


def _image_keys(seed: int, n_images: int) -> np.ndarray:
    """One int64 key per image index, mixed from (seed, index) by splitmix64, so results
    depend on the image's position in ``x`` but not on batch size or on other images."""
    mul = np.uint64(0xBF58476D1CE4E5B9)
    z = np.full(n_images, seed & 0xFFFFFFFFFFFFFFFF, np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    z = z + (np.arange(n_images, dtype=np.uint64) + np.uint64(1)) * mul  # arrays wrap silently
    z = (z ^ (z >> np.uint64(30))) * mul
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(1)).astype(np.int64)


def _normal_blocks(pairs: tf.Tensor, block: int, shape: tuple) -> tf.Tensor:
    """(P, block) + shape standard normals, block p seeded by ``pairs[p]`` = (key, block):
    Box-Muller on seeded uniforms (on CPU 2x faster than ``tf.random.stateless_normal``);
    only the uniform draw is per block, the transform runs once on the whole tensor."""
    size = block * int(np.prod(shape))
    half = (size + 1) // 2
    u = tf.map_fn(
        lambda p: tf.random.stateless_uniform((2, half), p),
        pairs,
        fn_output_signature=tf.TensorSpec((2, half), tf.float32),
    )
    r = tf.sqrt(-2.0 * tf.math.log1p(-u[:, 0]))  # 1 - u in (0, 1]: finite
    theta = (2.0 * np.pi) * u[:, 1]
    z = tf.concat([r * tf.cos(theta), r * tf.sin(theta)], 1)[:, :size]
    return tf.reshape(z, (-1, block) + shape)


def smoothgrad_noise(x: Any, n: int, seed: int = 0) -> np.ndarray:
    """The standard normal noise of SmoothGrad: (N, n, H, W, C) float32.

    Sample j of image i is drawn from a stream seeded by (seed, i, j // 64), exactly as
    ``saliency(method="smoothgrad", seed=seed)`` and :func:`smooth` draw it, so results do
    not depend on the batch size or on the other images.

    Example:
        >>> import numpy as np
        >>> z = smoothgrad_noise(np.zeros((2, 4, 4, 1)), n=3, seed=1)
        >>> z.shape, bool(np.allclose(z[:1], smoothgrad_noise(np.zeros((1, 4, 4, 1)), 3, 1)))
        ((2, 3, 4, 4, 1), True)
    """
    x = np.asarray(x)
    n = int(n)
    if n < 1:
        raise ValueError(f"SmoothGrad needs n >= 1 noise samples, got {n}.")
    shape = tuple(int(d) for d in x.shape[1:])
    block = min(n, _BLOCK)
    nb = -(-n // block)
    keys = _image_keys(seed, len(x))
    blocks = np.tile(np.arange(nb, dtype=np.int64), len(x))
    pairs = tf.constant(np.stack([np.repeat(keys, nb), blocks], axis=1))
    z = _normal_blocks(pairs, block, shape).numpy()
    return z.reshape((len(x), nb * block) + shape)[:, :n]


SMOOTH_KINDS = ("smoothgrad", "smoothgrad_sq", "vargrad")


def smooth(
    method: Any,
    n: int = 25,
    sigma: float | None = None,
    *,
    level: float = 0.15,
    kind: str = "smoothgrad",
    seed: int = 0,
) -> Any:
    """SmoothGrad / VarGrad over any attribution method (captum's NoiseTunnel).

    Returns ``smoothed(model, x, targets=None, **kwargs)`` that computes, for each image,
    the mean ("smoothgrad"), mean of squares ("smoothgrad_sq") or variance ("vargrad") of
    ``method(model, x + sigma * z_j, targets, **kwargs)`` over ``n`` seeded noise samples
    z_j (:func:`smoothgrad_noise`), sigma in input units or, when ``sigma`` is None,
    ``level * (max(x) - min(x))`` per image (Smilkov et al. 2017; Adebayo et al. 2018).
    A ``None`` target is the class predicted at the clean ``x`` for every noisy copy.
    ``smooth(saliency)(m, x, reduce=None)`` equals ``saliency(m, x, method="smoothgrad",
    reduce=None)`` with the same ``n``, ``level`` and ``seed``.

    Example:
        >>> from keras_insight.testing import small_cnn
        >>> import numpy as np
        >>> from keras_insight.attribution import grad_cam, integrated_gradients
        >>> smooth(grad_cam, n=2)(small_cnn(), np.random.rand(1, 16, 16, 3)).shape
        (1, 16, 16)
        >>> smooth(integrated_gradients, n=2, kind="vargrad")(
        ...     small_cnn(), np.random.rand(1, 16, 16, 3), 0, steps=4).shape
        (1, 16, 16, 3)
    """
    if kind not in SMOOTH_KINDS:
        raise ValueError(f"kind must be one of {SMOOTH_KINDS}, got {kind!r}.")
    if int(n) < 1:
        raise ValueError(f"smooth needs n >= 1 noise samples, got {n}.")
    if (sigma is not None and sigma < 0) or level < 0:
        raise ValueError(f"The noise must be >= 0, got sigma={sigma}, level={level}.")
    n = int(n)

    def smoothed(model: keras.Model, x: Any, targets: Any = None, **kwargs: Any) -> np.ndarray:
        x = prepare_images(x)
        if x.shape[0] == 0:
            return method(model, x, targets, **kwargs)
        target, idx = resolved_targets(
            model, x, targets, output=kwargs.get("output"), batch_size=kwargs.get("batch_size")
        )
        t = _engine_targets(target, idx)
        if sigma is None:
            sig = level * (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3)))
        else:
            sig = np.full(len(x), sigma, np.float32)
        sig = sig.astype(np.float32).reshape((-1,) + (1,) * (x.ndim - 1))
        noise = smoothgrad_noise(x, n, seed)
        mean = sq = None
        for j in range(n):
            a = np.asarray(method(model, x + sig * noise[:, j], t, **kwargs), np.float64)
            mean = a / n if mean is None else mean + a / n
            sq = a * a / n if sq is None else sq + a * a / n
        stat = {"smoothgrad": mean, "smoothgrad_sq": sq, "vargrad": sq - mean * mean}[kind]
        return np.maximum(stat, 0.0).astype(np.float32) if kind == "vargrad" else stat.astype(
            np.float32
        )

    smoothed.__name__ = f"smooth_{getattr(method, '__name__', 'method')}"
    return smoothed


def _smooth_fn(model, target, shape, *, method, base, output, final, reduce, block):
    """Compiled SmoothGrad chunk: ``(x (B,...), idx, keys (B,), level, j0, m) ->`` the
    statistic of the gradients at ``x + sigma * noise`` over samples ``j0 .. j0 + m`` of
    each image: noise, gradients, reduction over samples and over channels in one call.
    ``final=False`` returns (mean, sum of squared deviations) for the host to combine."""
    relu = _RELU_OF.get(base)
    fwd = get_forward(model, tuple(target.layers), output=output, relu=relu)
    scale = loss_scale(model)

    def fn(xb, ib, keys, level, j0, m):
        b = tf.shape(xb)[0]
        lo = tf.reduce_min(xb, axis=[1, 2, 3])
        hi = tf.reduce_max(xb, axis=[1, 2, 3])
        sigma = tf.reshape(level * (hi - lo), (-1, 1, 1, 1, 1))
        blocks = tf.range(j0 // block, (j0 + m - 1) // block + 1)
        nb = tf.shape(blocks)[0]
        pairs = tf.stack([tf.repeat(keys, nb), tf.cast(tf.tile(blocks, [b]), tf.int64)], axis=1)
        noise = _normal_blocks(pairs, block, shape)
        off = j0 - blocks[0] * block
        noise = tf.reshape(noise, tf.concat([[b, nb * block], shape], 0))[:, off : off + m]
        noisy = xb[:, None] + sigma * noise
        flat = tf.reshape(noisy, tf.concat([[b * m], shape], 0))
        out = score_and_gradients(fwd, target, flat, tf.repeat(ib, m), scale=scale)
        g = out["input_grads"]
        if base == "gradient_x_input":
            g = g * flat
        g = tf.reshape(g, tf.concat([[b, m], shape], 0))
        mean = tf.reduce_mean(g, axis=1)
        if not final:
            return mean, tf.reduce_sum(tf.square(g - mean[:, None]), axis=1)
        if method == "smoothgrad":
            stat = mean
        elif method == "smoothgrad_sq":
            stat = tf.reduce_mean(tf.square(g), axis=1)
        else:  # vargrad: population variance, two-pass
            stat = tf.reduce_mean(tf.square(g - mean[:, None]), axis=1)
        return _reduce_tf(stat, reduce)

    key = ("saliency.smooth", fwd.key, target.key, method, base, final, reduce, scale, shape, block)
    sig = [
        tf.TensorSpec((None,) + shape, tf.float32),
        tf.TensorSpec((None,), tf.int32),
        tf.TensorSpec((None,), tf.int64),
        tf.TensorSpec((), tf.float32),
        tf.TensorSpec((), tf.int32),
        tf.TensorSpec((), tf.int32),
    ]
    return compiled(model, key, fn, sig)


def _smooth(
    model, x, target, idx, *, method, reduce, output, batch_size, seed, n, level, base
) -> np.ndarray:
    """Statistics of gradients at x + N(0, sigma^2), all in compiled calls that each hold at
    most ``batch_size`` noisy copies: ``batch_size // n`` images with all their samples, or,
    when ``n > batch_size``, one image with ``batch_size`` samples per call, combined on the
    host (Chan et al. pairwise mean/variance). Noise is seeded per (seed, image index,
    sample index), so the result does not depend on the internal batch size."""
    if n < 1:
        raise ValueError(f"SmoothGrad needs n >= 1 noise samples, got {n}.")
    if level < 0:
        raise ValueError(f"SmoothGrad noise level must be >= 0, got {level}.")
    bs = batch_size or DEFAULT_BATCH_SIZE
    shape = tuple(x.shape[1:])
    keys = _image_keys(seed, len(x))
    lvl = tf.constant(level, tf.float32)
    opts = dict(method=method, base=base, output=output, reduce=reduce, block=min(n, _BLOCK))
    if n <= bs:
        f = _smooth_fn(model, target, shape, final=True, **opts)
        j0, m = tf.constant(0), tf.constant(n)
        return run_batched(
            lambda xb, ib, kb: f(xb, ib, kb, lvl, j0, m), x, idx, keys, batch_size=bs, per_row=n
        )
    f = _smooth_fn(model, target, shape, final=False, **opts)
    out = []
    for i in range(len(x)):
        cnt, mean, m2 = 0, np.zeros(shape, np.float64), np.zeros(shape, np.float64)
        for j0 in range(0, n, bs):
            m = min(bs, n - j0)
            mb, m2b = f(
                tf.constant(x[i : i + 1]),
                tf.constant(idx[i : i + 1]),
                tf.constant(keys[i : i + 1]),
                lvl,
                tf.constant(j0),
                tf.constant(m),
            )
            mb, m2b = mb.numpy()[0].astype(np.float64), m2b.numpy()[0].astype(np.float64)
            delta = mb - mean
            tot = cnt + m
            mean = mean + delta * (m / tot)
            m2 = m2 + m2b + delta * delta * (cnt * m / tot)
            cnt = tot
        var = m2 / n
        stat = {"smoothgrad": mean, "smoothgrad_sq": var + mean * mean, "vargrad": var}[method]
        out.append(stat.astype(np.float32))
    return reduce_channels(np.stack(out), reduce)


@guard_nonfinite("saliency")
def saliency(
    model: keras.Model,
    x: Any,
    targets: Any = None,
    *,
    method: str = "vanilla",
    reduce: str | None = "max_abs",
    output: int | str | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    n: int = 25,
    level: float = 0.15,
    base: str = "vanilla",
) -> np.ndarray:
    """Gradient saliency maps of the target score f with respect to the input.

    * "vanilla": df/dx (Simonyan et al. 2014); "gradient_x_input": x * df/dx.
    * "smoothgrad" / "smoothgrad_sq" / "vargrad" (Smilkov et al. 2017; Adebayo et al. 2018):
      mean / mean of squares / variance of the ``base`` gradient at x + N(0, sigma^2) over
      ``n`` seeded samples, sigma = level * (max(x) - min(x)) per image. :func:`smooth` does
      the same over any attribution method.
    * "guided_backprop" (Springenberg et al. 2015) and "deconvnet" (Zeiler & Fergus 2014):
      the gradient with every ReLU's backward pass replaced (fused activations, ReLU layers
      and Activation("relu")); the user's model is untouched.

    ``reduce="max_abs"`` gives (N, H, W) = max over channels of |map| (Simonyan 2014),
    ``"sum"`` sums channels, ``None`` returns the signed (N, H, W, C) map.

    Args:
        model: a Keras model; scores are pre-activation logits.
        x: images (N, H, W, C) (or (N, H, W) grayscale).
        targets: int | per-sample ints | None (predicted class) | callable on logits |
            ``neuron(...)``/``channel(...)``.
        method: one of :data:`METHODS`.
        reduce: "max_abs", "sum", "abs_sum" or None (signed, per channel).
        output: which output of a multi-output model.
        batch_size: internal batch size (noisy copies per compiled call for SmoothGrad).
        seed: SmoothGrad noise seed.
        n: SmoothGrad noise samples per image.
        level: SmoothGrad noise level (fraction of each image's value range).
        base: the gradient SmoothGrad averages: "vanilla", "gradient_x_input",
            "guided_backprop" or "deconvnet".

    Example:
        >>> from keras_insight.testing import small_cnn
        >>> import numpy as np
        >>> m = small_cnn()
        >>> saliency(m, np.random.rand(2, 16, 16, 3), method="vanilla").shape
        (2, 16, 16)
    """
    if method not in METHODS:
        raise ValueError(f"Unknown saliency method {method!r}; choose one of {METHODS}.")
    check_images(model, x, grayscale_2d=True)
    x = prepare_images(x)
    if x.shape[0] == 0:
        return _empty(x, reduce)
    reduce_channels(x[:0], reduce)  # validate early
    n, level = int(n), float(level)
    if base not in ("vanilla", "gradient_x_input", "guided_backprop", "deconvnet"):
        raise ValueError(f"SmoothGrad base must be a gradient method, got {base!r}.")
    if method in ("smoothgrad", "smoothgrad_sq", "vargrad"):
        target, idx = resolved_targets(model, x, targets, output=output, batch_size=batch_size)
        g = _smooth(
            model,
            x,
            target,
            idx,
            method=method,
            reduce=reduce,
            output=output,
            batch_size=batch_size,
            seed=seed,
            n=n,
            level=level,
            base=base,
        )
    else:
        return _direct(
            model, x, targets, method=method, reduce=reduce, output=output, batch_size=batch_size
        )
    warn_degenerate(g, f"saliency({method})")
    return g


def gauss_legendre(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes in (0, 1) and weights summing to 1 of Gauss-Legendre quadrature.

    Example:
        >>> a, w = gauss_legendre(8)
        >>> round(float(w.sum()), 6)
        1.0
    """
    t, w = np.polynomial.legendre.leggauss(int(steps))
    return ((t + 1.0) / 2.0).astype(np.float64), (w / 2.0).astype(np.float64)


def _quadrature(steps: int, quadrature: str) -> tuple[np.ndarray, np.ndarray]:
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}.")
    if quadrature == "gauss_legendre":
        return gauss_legendre(steps)
    if quadrature == "midpoint":
        return (np.arange(steps) + 0.5) / steps, np.full(steps, 1.0 / steps)
    raise ValueError(f"quadrature must be 'gauss_legendre' or 'midpoint', got {quadrature!r}.")


@guard_nonfinite("integrated_gradients")
def integrated_gradients(
    model: keras.Model,
    x: Any,
    targets: Any = None,
    *,
    baseline: Any = 0.0,
    steps: int = 64,
    quadrature: str = "gauss_legendre",
    return_delta: bool = False,
    reduce: str | None = None,
    output: int | str | None = None,
    batch_size: int | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Integrated gradients (Sundararajan et al. 2017).

    IG_i = (x_i - x'_i) * integral_0^1 df/dx_i(x' + a (x - x')) da, integrated with
    Gauss-Legendre (default) or midpoint quadrature whose weights sum to 1, so that
    completeness sum(IG) = f(x) - f(x') holds up to the quadrature error; ``delta`` =
    sum(IG) - (f(x) - f(x')) per sample is returned with ``return_delta=True``.
    ``baseline``: a number in input units (default 0), "blur", or an array.

    Example:
        >>> from keras_insight.testing import linear_model
        >>> import numpy as np
        >>> ig, delta = integrated_gradients(linear_model(), np.ones((1, 6, 6, 2)), 0, steps=4, return_delta=True)
        >>> bool(abs(delta[0]) < 1e-3)
        True
    """
    check_images(model, x, grayscale_2d=True)
    x = prepare_images(x)
    alphas, weights = _quadrature(int(steps), quadrature)
    if x.shape[0] == 0:
        e = _empty(x, reduce)
        return (e, np.zeros((0,), np.float32)) if return_delta else e
    reduce_channels(x[:0], reduce)
    base = baseline_array(baseline, x, allow_mean=False)
    target, idx = resolved_targets(model, x, targets, output=output, batch_size=batch_size)
    bs = batch_size or DEFAULT_BATCH_SIZE
    a = alphas.astype(np.float32)[None, :, None, None, None]

    def chunk(xc, bc, ic):  # all path points of a few images through one gradient call
        path = (bc[:, None] + a * (xc - bc)[:, None]).reshape((-1,) + x.shape[1:])
        ic = np.repeat(ic, len(alphas))
        g = _grads(model, path, target, ic, output=output, batch_size=bs)
        g = g.reshape((len(xc), len(alphas)) + x.shape[1:]).astype(np.float64)
        return (np.tensordot(weights, g, axes=([0], [1])) * (xc - bc)).astype(np.float32)

    total = run_batched(chunk, x, base, idx, batch_size=bs, per_row=len(alphas), tensors=False)
    maps = reduce_channels(total, reduce)
    if not return_delta:
        return maps
    from keras_insight.attribution._common import batched_scores

    ends = batched_scores(
        model,
        np.concatenate([x, base]),
        target,
        np.concatenate([idx, idx]),
        output=output,
        batch_size=bs,
    )
    fx, fb = ends[: len(x)], ends[len(x) :]
    delta = total.reshape(len(x), -1).sum(axis=1, dtype=np.float64) - (fx.astype(np.float64) - fb)
    return maps, delta.astype(np.float32)
