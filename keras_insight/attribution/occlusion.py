"""Occlusion sensitivity (Zeiler & Fergus 2014): slide a patch, record the score drop."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_insight.attribution._common import (
    baseline_array,
    prepare_images,
    warn_degenerate,
)
from keras_insight.core.engine import (
    DEFAULT_BATCH_SIZE,
    check_targets_in_range,
    compiled,
    get_forward,
    run_batched,
)
from keras_insight.core.targets import resolve_targets
from keras_insight.core.validation import check_images


def _starts(size: int, patch: int, stride: int) -> list[int]:
    starts = list(range(0, max(size - patch, 0) + 1, stride))
    if starts[-1] + patch < size:  # cover the last rows/columns too
        starts.append(size - patch)
    return starts


def patch_masks(
    height: int, width: int, patch: int | tuple[int, int] = 8, stride: int | tuple[int, int] = 4
) -> np.ndarray:
    """(P, H, W) float32 masks, 1 inside each patch position (row-major).

    Example:
        >>> patch_masks(4, 4, 2, 2).shape
        (4, 4, 4)
    """
    ph, pw = (patch, patch) if np.isscalar(patch) else patch
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    return _patch_masks(int(height), int(width), int(ph), int(pw), int(sh), int(sw)).copy()


@lru_cache(maxsize=32)
def _patch_masks(height: int, width: int, ph: int, pw: int, sh: int, sw: int) -> np.ndarray:
    """Cached masks (read-only); :func:`patch_masks` hands out copies."""
    if min(ph, pw, sh, sw) < 1:
        raise ValueError(
            f"patch and stride must be >= 1, got patch=({ph}, {pw}), stride=({sh}, {sw})."
        )
    ph, pw = min(ph, height), min(pw, width)
    ys, xs = _starts(height, ph, sh), _starts(width, pw, sw)
    masks = np.zeros((len(ys) * len(xs), height, width), np.float32)
    for i, y in enumerate(ys):  # mask construction only, not the model hot path
        for j, x0 in enumerate(xs):
            masks[i * len(xs) + j, y : y + ph, x0 : x0 + pw] = 1.0
    masks.flags.writeable = False
    return masks


@lru_cache(maxsize=32)
def _mask_tensors(height: int, width: int, ph: int, pw: int, sh: int, sw: int, q: int):
    """Patch masks as constant tensors in chunks of q, and 1 / coverage per pixel."""
    masks = _patch_masks(height, width, ph, pw, sh, sw)
    chunks = [tf.constant(masks[t : t + q]) for t in range(0, len(masks), q)]
    inv_cov = (1.0 / np.maximum(masks.sum(axis=0), 1.0)).astype(np.float32)
    return chunks, inv_cov


def occlusion(
    model: keras.Model,
    x: Any,
    targets: Any = None,
    *,
    patch: int | tuple[int, int] = 8,
    stride: int | tuple[int, int] = 4,
    baseline: Any = 0.0,
    score: str = "logit",
    output: int | str | None = None,
    batch_size: int | None = None,
) -> np.ndarray:
    """Occlusion sensitivity map (Zeiler & Fergus 2014).

    For every patch position p: drop_p = f(x) - f(x with the patch set to the baseline);
    a pixel's value is the mean drop over the patches covering it. ``score="logit"`` uses
    the pre-activation class score, ``"probability"`` the softmax probability (a drop of
    0.2 = P(elephant) 0.95 -> 0.75). ``baseline``: a number in input units, "mean" (per
    image and channel), "blur", or an input-shaped array. All N x P occluded copies go
    through one compiled function in chunks of ``batch_size``.

    Example:
        >>> from keras_insight.testing import small_cnn
        >>> import numpy as np
        >>> occlusion(small_cnn(), np.random.rand(2, 16, 16, 3), patch=4, stride=4).shape
        (2, 16, 16)
    """
    if score not in ("logit", "probability"):
        raise ValueError(f"score must be 'logit' or 'probability', got {score!r}.")
    check_images(model, x, grayscale_2d=True)
    x = prepare_images(x)
    if x.shape[0] == 0:
        return np.zeros(x.shape[:3], np.float32)
    base = baseline_array(baseline, x)
    target, idx = resolve_targets(targets, x.shape[0])
    ph, pw = (patch, patch) if np.isscalar(patch) else patch
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    dims = (x.shape[1], x.shape[2], int(ph), int(pw), int(sh), int(sw))
    p = _patch_masks(*dims).shape[0]
    fwd = get_forward(model, tuple(target.layers), output=output)
    probability = score == "probability"

    def fn(xb, bb, mb, ib):
        # copy 0 of every image is the clean input (empty mask): (b, H, W, C) x (q, H, W)
        # -> b*(q+1) copies built inside the graph and scored in one forward pass; the
        # drops are spread back onto the pixels in-graph: (b, q) x (q, H, W) -> (b, H, W)
        m = tf.concat([tf.zeros_like(mb[:1]), mb], 0)[None, :, :, :, None]
        q1 = tf.shape(m)[1]
        occl = xb[:, None] * (1.0 - m) + bb[:, None] * m
        occl = tf.reshape(occl, tf.concat([[-1], tf.shape(xb)[1:]], 0))
        acts, logits = fwd(occl)
        logits = tf.cast(logits, tf.float32)
        clean_logits = tf.reshape(logits, [tf.shape(xb)[0], q1, -1])[:, 0]
        if logits.shape[-1] != 1:  # one unit: "predicted" (-1) scores the output itself
            ib = tf.where(ib < 0, tf.argmax(clean_logits, -1, output_type=tf.int32), ib)
        rep = tf.repeat(ib, q1)
        if probability:
            s = tf.gather(tf.nn.softmax(logits, -1), rep, axis=-1, batch_dims=1)
        else:
            s = tf.cast(target.score(logits, acts, rep), tf.float32)
        s = tf.reshape(s, [tf.shape(xb)[0], q1])
        drops = s[:, :1] - s[:, 1:]
        return tf.tensordot(drops, mb, axes=[[1], [0]]), logits

    sig = [
        tf.TensorSpec((None,) + x.shape[1:], tf.float32),
        tf.TensorSpec((None,) + x.shape[1:], tf.float32),
        tf.TensorSpec((None,) + x.shape[1:3], tf.float32),
        tf.TensorSpec((None,), tf.int32),
    ]
    key = ("occlusion", fwd.key, target.key, probability, x.shape[1:])
    f = compiled(model, key, fn, sig)
    check_targets_in_range(model, key, f, target, idx, logits_at=1)
    bs = batch_size or DEFAULT_BATCH_SIZE
    q = min(p, bs)  # patches per call
    b = max(1, bs // (q + 1))  # images per call
    chunks, inv_cov = _mask_tensors(*dims, q)

    def images(xb, bb, ib):  # b images x all patches, q patches per compiled call
        total = f(xb, bb, chunks[0], ib)[0]
        for mb in chunks[1:]:
            total = total + f(xb, bb, mb, ib)[0]
        return total

    maps = run_batched(images, x, base, idx, batch_size=b) * inv_cov
    warn_degenerate(maps, "occlusion")
    return maps
