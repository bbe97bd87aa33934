"""Convolution kernels as tiles, and how smooth or noisy they are."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from keras_insight.core.introspection import iter_layers, require_graph, resolve_layer
from keras_insight.render import normalize_symmetric


def conv_layers(model: keras.Model) -> list[tuple[str, keras.layers.Layer]]:
    """``(path, layer)`` of every layer with a 4-D kernel (Conv2D, Conv2DTranspose, ...)."""
    require_graph(model, "Listing convolution layers")
    out = []
    for path, layer in iter_layers(model):
        kernel = _kernel(layer)
        if kernel is not None:
            out.append((path, layer))
    return out


def _kernel(layer: Any) -> np.ndarray | None:
    for attr in ("kernel", "depthwise_kernel"):
        k = getattr(layer, attr, None)
        if k is not None and len(k.shape) == 4:
            return np.asarray(keras.ops.convert_to_numpy(k), dtype=np.float32)
    return None


def layer_kernel(model: keras.Model, layer: Any) -> np.ndarray:
    """The (kh, kw, cin, cout) kernel of a convolution layer, as float32 numpy."""
    lyr = resolve_layer(model, layer)
    k = _kernel(lyr)
    if k is None:
        names = ", ".join(repr(p) for p, _ in conv_layers(model)) or "none"
        raise ValueError(f"Layer {lyr.name!r} has no 4-D convolution kernel. Conv layers: {names}.")
    return k


def filter_tiles(
    kernel: np.ndarray, *, max_filters: int = 64, max_channels: int = 16, rgb: bool | None = None
) -> np.ndarray:
    """Tiles in [0, 1] for a (kh, kw, cin, cout) kernel, each normalised symmetrically.

    ``tile = 0.5 + w / (2 max|w|)`` per tile, so grey is 0. With ``cin == 3`` (``rgb``
    default) each filter is one RGB tile ``(cout, kh, kw, 3)``; otherwise each (filter,
    input channel) pair is a grayscale tile, filter-major: ``(cout * cin, kh, kw)``,
    limited to ``max_filters`` filters and ``max_channels`` input channels.

    Example:
        >>> k = np.zeros((3, 3, 3, 2), "float32"); k[0, 0, 0, 0] = -2.0
        >>> filter_tiles(k)[0, 0, 0].tolist()
        [0.0, 0.5, 0.5]
    """
    k = np.asarray(kernel, dtype=np.float32)
    if k.ndim != 4:
        raise ValueError(f"A conv kernel is (kh, kw, cin, cout), got shape {k.shape}.")
    k = k[..., :max_filters]
    rgb = k.shape[2] == 3 if rgb is None else rgb
    if rgb:
        tiles = np.transpose(k, (3, 0, 1, 2))  # (cout, kh, kw, 3)
    else:
        k = k[:, :, :max_channels, :]
        tiles = np.transpose(k, (3, 2, 0, 1)).reshape(-1, k.shape[0], k.shape[1])
    return normalize_symmetric(tiles, per_image=True)


def high_frequency_ratio(kernel: np.ndarray) -> float:
    """How noisy filters are: 0 = perfectly smooth (constant), 1 = checkerboard.

    ``r = sum (a - b)^2 / sum 2 (a^2 + b^2)`` over all horizontally and vertically adjacent
    kernel weights (a, b), pooled over filters and input channels. Since
    ``(a - b)^2 <= 2 (a^2 + b^2)`` with equality iff ``a = -b``, r lies in [0, 1]; white
    noise gives about 0.5. Smooth, structured first-layer filters (a converged network)
    sit well below 0.5; values near 0.5 suggest undertraining.

    Example:
        >>> round(high_frequency_ratio(np.ones((3, 3, 1, 1))), 3)
        0.0
        >>> cb = np.indices((4, 4)).sum(0) % 2 * 2.0 - 1.0
        >>> round(high_frequency_ratio(cb[:, :, None, None]), 3)
        1.0
    """
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 4:
        raise ValueError(f"A conv kernel is (kh, kw, cin, cout), got shape {k.shape}.")
    num = den = 0.0
    for a, b in ((k[1:], k[:-1]), (k[:, 1:], k[:, :-1])):
        num += float(np.sum((a - b) ** 2))
        den += float(np.sum(2.0 * (a**2 + b**2)))
    return num / den if den > 0 else 0.0
