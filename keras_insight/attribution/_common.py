"""Shared helpers of the attribution methods: input checks, targets, compiled scoring."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_insight._config import logger
from keras_insight.core.engine import cached, compiled, get_forward, run_batched
from keras_insight.core.engine import logits as model_logits
from keras_insight.core.input_range import as_float32
from keras_insight.core.targets import ClassTarget, Target, check_class_range, resolve_targets


def prepare_images(x: Any) -> np.ndarray:
    """float32 NHWC; a single grayscale batch (N, H, W) gets a channel axis."""
    arr = np.asarray(x.numpy() if hasattr(x, "numpy") else x)
    if arr.ndim == 3 and arr.dtype != object:
        arr = arr[..., None]
    return as_float32(arr, ndim=4)


def resolved_targets(
    model: keras.Model,
    x: np.ndarray,
    targets: Any,
    *,
    output: Any = None,
    batch_size: int | None = None,
) -> tuple[Target, np.ndarray]:
    """Resolve targets and replace "predicted" (-1) by the class predicted at ``x``.

    Methods that evaluate the model at other points than ``x`` (noise, paths, occluded
    copies) must keep explaining the class predicted for the clean input.
    """
    target, idx = resolve_targets(targets, x.shape[0])
    if isinstance(target, ClassTarget):
        if len(idx) and (idx >= 0).all():  # explicit classes: no forward pass over x
            n_cls = cached(
                model,
                ("attribution.num_classes", output, tuple(x.shape[1:])),
                lambda: model_logits(model, x[:1], output=output).shape[-1],
            )
            check_class_range(idx, n_cls)
            return target, idx.astype(np.int32)
        logits = model_logits(model, x, output=output, batch_size=batch_size)
        check_class_range(idx, logits.shape[-1])
        if logits.shape[-1] == 1:  # one unit: "predicted" (-1) scores the output itself
            return target, idx
        idx = np.where(idx < 0, logits.argmax(-1), idx).astype(np.int32)
    return target, idx


def score_fn(
    model: keras.Model,
    target: Target,
    shape: tuple,
    *,
    output: Any = None,
    probability: bool = False,
):
    """Compiled ``(x, class_idx) -> (scores (B,), logits (B, K))`` for a target, cached."""
    fwd = get_forward(model, tuple(target.layers), output=output)

    def fn(xb, ib):
        acts, logits = fwd(xb)
        logits = tf.cast(logits, tf.float32)
        if probability:
            probs = tf.nn.softmax(logits, axis=-1)
            idx = tf.where(ib < 0, tf.argmax(logits, -1, output_type=tf.int32), ib)
            scores = tf.gather(probs, idx, axis=-1, batch_dims=1)
        else:
            scores = target.score(logits, acts, ib)
        return tf.cast(scores, tf.float32), logits

    sig = [tf.TensorSpec((None,) + tuple(shape), tf.float32), tf.TensorSpec((None,), tf.int32)]
    key = ("attribution.score", fwd.key, target.key, probability, tuple(shape))
    return compiled(model, key, fn, sig)


def batched_scores(
    model: keras.Model,
    x: np.ndarray,
    target: Target,
    class_idx: np.ndarray,
    *,
    output: Any = None,
    probability: bool = False,
    batch_size: int | None = None,
) -> np.ndarray:
    """Scores of ``x`` (any N) for the target, compiled, in chunks of ``batch_size``."""
    if len(x) == 0:
        return np.zeros((0,), np.float32)
    f = score_fn(model, target, x.shape[1:], output=output, probability=probability)
    return run_batched(f, x, class_idx, batch_size=batch_size)[0].astype(np.float32)


def reduce_channels(g: np.ndarray, reduce: str | None) -> np.ndarray:
    """(N, H, W, C) -> (N, H, W) by "max_abs" or "sum"; None keeps the signed map."""
    if reduce is None:
        return g.astype(np.float32)
    if reduce == "max_abs":
        return np.abs(g).max(axis=-1).astype(np.float32)
    if reduce == "sum":
        return g.sum(axis=-1).astype(np.float32)
    if reduce == "abs_sum":
        return np.abs(g).sum(axis=-1).astype(np.float32)
    raise ValueError(f"reduce must be 'max_abs', 'sum', 'abs_sum' or None, got {reduce!r}.")


def degenerate(maps: np.ndarray) -> np.ndarray:
    """(N,) bool: True where a map is constant (e.g. all zeros) and carries no ranking.

    Example:
        >>> import numpy as np
        >>> degenerate(np.zeros((2, 3, 3))).tolist()
        [True, True]
    """
    maps = np.asarray(maps)
    if maps.shape[0] == 0:
        return np.zeros((0,), bool)
    flat = maps.reshape(maps.shape[0], -1)
    return flat.max(axis=1) == flat.min(axis=1)


def warn_degenerate(maps: np.ndarray, what: str, flags: np.ndarray | None = None) -> None:
    """Warn once per call when maps are constant (``flags``: precomputed :func:`degenerate`)."""
    flags = degenerate(maps) if flags is None else np.asarray(flags)
    if flags.any():
        logger.warning(
            "%s: %d of %d maps are constant (all zeros); returned as zeros. Check the target "
            "class and that the layer is not dead (check with keras_insight.attribution.degenerate).",
            what,
            int(flags.sum()),
            flags.size,
        )


def blur(x: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Gaussian blur over the spatial axes of an NHWC batch (sigma default: max(H, W) / 8)."""
    from scipy.ndimage import gaussian_filter

    s = sigma if sigma is not None else max(x.shape[1:3]) / 8.0
    return gaussian_filter(x, sigma=(0, s, s, 0), mode="nearest").astype(np.float32)


def baseline_array(baseline: Any, x: np.ndarray, *, allow_mean: bool = True) -> np.ndarray:
    """A baseline of x's shape from a scalar, "mean", "blur" or an array."""
    if isinstance(baseline, str):
        if baseline == "blur":
            return blur(x)
        if baseline == "mean" and allow_mean:
            return np.broadcast_to(x.mean(axis=(1, 2), keepdims=True), x.shape).astype(np.float32)
        choices = (
            "a number, 'mean', 'blur' or an array" if allow_mean else "a number, 'blur' or an array"
        )
        raise ValueError(f"Unknown baseline {baseline!r}; use {choices}.")
    b = np.asarray(baseline, dtype=np.float32)
    if b.ndim == 0:
        return np.full(x.shape, float(b), np.float32)
    if not np.isfinite(b).all():
        raise ValueError("baseline contains NaN or infinite values.")
    try:
        return np.broadcast_to(b, x.shape).astype(np.float32)
    except ValueError:
        raise ValueError(
            f"baseline of shape {b.shape} does not match the inputs {x.shape}: give a scalar, "
            "one image (H, W, C) or one per sample (N, H, W, C)."
        ) from None
