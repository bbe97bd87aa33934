"""Shape-versus-texture cue-conflict probe (Geirhos et al. 2019) on images with object masks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from keras_insight.core.engine import forward_outputs
from keras_insight.core.input_range import as_float32
from keras_insight.core.targets import class_indices
from keras_insight.core.validation import check_images


@dataclass
class ShapeBiasReport:
    """Result of :func:`shape_bias`.

    ``shape_bias`` = shape decisions / (shape + texture decisions) (None when the model
    followed neither cue on any image); ``shape_fraction``, ``texture_fraction`` and
    ``other_fraction`` are over all cue-conflict images and sum to 1. ``images``,
    ``shape_labels`` and ``texture_labels`` are the probe itself, ``predicted`` the
    model's decisions.
    """

    shape_bias: float | None
    shape_fraction: float
    texture_fraction: float
    other_fraction: float
    images: np.ndarray
    shape_labels: np.ndarray
    texture_labels: np.ndarray
    predicted: np.ndarray

    def scalars(self, prefix: str = "shape_bias") -> dict[str, float]:
        out = {
            f"{prefix}/shape_fraction": self.shape_fraction,
            f"{prefix}/texture_fraction": self.texture_fraction,
        }
        if self.shape_bias is not None:
            out[f"{prefix}/shape_bias"] = self.shape_bias
        return out


def cue_conflict(
    x: Any, y: Any, masks: Any, *, num_pairs: int | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cue-conflict images: the object of image i (class a) on the background of image j
    (class b != a), with j's own object removed.

    j's object pixels are filled with the nearest background pixel of j (Euclidean
    distance transform), then i's object pixels are pasted on top. Returns
    ``(images, shape_labels, texture_labels)``. Labels may be ints or one-hot rows; every
    mask needs at least one object pixel and one background pixel.

    Example:
        >>> from keras_insight.datasets import shapes
        >>> x, y, m = shapes(6, size=32, spurious=1.0)
        >>> xc, ys, yt = cue_conflict(x, y, m, seed=0)
        >>> bool((ys != yt).all())
        True
    """
    x = as_float32(x, ndim=4)
    y = class_indices(y, len(x), what="Labels").astype(np.int64)
    masks = np.asarray(masks).astype(bool)
    if masks.ndim == 4:
        masks = masks[..., 0]
    if masks.shape != x.shape[:3]:
        raise ValueError(
            f"Need images (N, H, W, C) and masks (N, H, W); got {x.shape} and {masks.shape}."
        )
    # an empty mask has no shape cue; a full one leaves no background to in-paint from (the
    # nearest "background" would come from another image and carry its texture)
    area = masks.sum(axis=(1, 2))
    bad = np.flatnonzero((area == 0) | (area == masks[0].size))
    if bad.size:
        raise ValueError(
            f"Masks of images {bad[:10].tolist()} are empty or cover the whole image; every "
            "image needs both object and background pixels."
        )
    if len(np.unique(y)) < 2:
        raise ValueError("Cue conflict needs images of at least two classes.")
    rng = np.random.default_rng(seed)
    n, h, w, _ = x.shape
    num_pairs = n if num_pairs is None else int(num_pairs)
    shape_idx = rng.permutation(np.resize(np.arange(n), num_pairs))
    texture_idx = np.empty(num_pairs, np.int64)
    for k, i in enumerate(shape_idx):  # choice of partners only; the images are vectorised
        others = np.flatnonzero(y != y[i])
        texture_idx[k] = rng.choice(others)
    bg = _inpaint_nearest(x[texture_idx], masks[texture_idx])
    images = np.where(masks[shape_idx][..., None], x[shape_idx], bg).astype(np.float32)
    return images, y[shape_idx], y[texture_idx]


def _inpaint_nearest(x: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Replace masked pixels by the nearest unmasked pixel of the same image (batched)."""
    from scipy.ndimage import distance_transform_edt

    n, h, w = masks.shape
    # a huge spacing along the batch axis keeps every nearest pixel inside its own image
    _, idx = distance_transform_edt(masks, sampling=(10.0 * (h + w), 1.0, 1.0), return_indices=True)
    return x[idx[0], idx[1], idx[2]]


def shape_bias(
    model: keras.Model,
    x: Any,
    y: Any,
    masks: Any,
    *,
    num_pairs: int | None = None,
    seed: int = 0,
    output: int | str | None = None,
    batch_size: int = 256,
) -> ShapeBiasReport:
    """Fraction of cue-conflict decisions that follow shape rather than texture/background.

    shape_bias = #{pred = shape class} / #{pred in {shape class, texture class}}
    (Geirhos et al. 2019, "ImageNet-trained CNNs are biased towards texture"), on
    :func:`cue_conflict` images built from procedural data with exact masks (e.g.
    :func:`keras_insight.datasets.shapes` with ``spurious > 0``).

    Example:
        >>> from keras_insight.datasets import shapes
        >>> from keras_insight.testing import small_cnn
        >>> x, y, m = shapes(6, size=16, spurious=1.0)
        >>> r = shape_bias(small_cnn((16, 16, 3), 3), x, y, m)
        >>> round(r.shape_fraction + r.texture_fraction + r.other_fraction, 6)
        1.0
    """
    check_images(model, x)
    images, ys, yt = cue_conflict(x, y, masks, num_pairs=num_pairs, seed=seed)
    _, z = forward_outputs(model, images, output=output, batch_size=batch_size)
    num_classes = 2 if z.shape[-1] == 1 else z.shape[-1]
    if max(ys.max(), yt.max()) >= num_classes:
        raise ValueError(
            f"Label {int(max(ys.max(), yt.max()))} is out of range: the model has "
            f"{num_classes} classes (0..{num_classes - 1})."
        )
    pred = (z[:, 0] > 0).astype(np.int64) if z.shape[-1] == 1 else z.argmax(-1)
    s, t = float((pred == ys).mean()), float((pred == yt).mean())
    bias = s / (s + t) if s + t > 0 else None
    return ShapeBiasReport(bias, s, t, 1.0 - s - t, images, ys, yt, pred)
