"""Pixel helpers: float maps -> uint8 pictures (normalise, colour, overlay, upscale).

Every function here is pure numpy (matplotlib only for colour tables and figures) and
every picture it returns is ``uint8``, so the pixels a writer stores are exactly the
pixels a test can compare against.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np

if TYPE_CHECKING:
    from matplotlib.colors import Colormap
    from matplotlib.figure import Figure

__all__ = [
    "as_uint8",
    "colormap",
    "figure_to_array",
    "normalize_minmax",
    "normalize_symmetric",
    "overlay",
    "to_uint8",
    "resize_nearest",
    "upscale_nearest",
]


def to_uint8(images: Any, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """Map ``[lo, hi]`` linearly onto ``[0, 255]``, clip, round half to even, cast to uint8.

    ``u = clip(rint(255 * (x - lo) / (hi - lo)), 0, 255)``; NaN becomes 0.

    Example:
        >>> to_uint8(np.array([-1.0, 0.0, 0.5, 1.0, 2.0])).tolist()
        [0, 0, 128, 255, 255]
        >>> to_uint8(np.array([0, 127.5, 255]), 0, 255).tolist()
        [0, 128, 255]
    """
    if not hi > lo:
        raise ValueError(f"to_uint8 needs hi > lo, got lo={lo}, hi={hi}")
    x = np.asarray(images)
    # float32 math for float32 input (4x less memory traffic than float64); else float64
    dtype = np.float32 if x.dtype in (np.float32, np.float16, np.uint8) else np.float64
    scaled = np.subtract(x, lo, dtype=dtype)
    scaled *= dtype(255.0 / (hi - lo))
    np.rint(scaled, out=scaled)
    # NaN would make the uint8 cast undefined; map it to the bottom of the range.
    if not np.isfinite(scaled).all():
        scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    np.clip(scaled, 0, 255, out=scaled)
    return scaled.astype(np.uint8)


def as_uint8(images: Any) -> np.ndarray:
    """Return ``images`` as uint8: uint8 passes through, floats are read as ``[0, 1]``.

    Other integer and bool arrays are clipped to ``[0, 255]`` (bool: False -> 0, True -> 255).

    Example:
        >>> as_uint8(np.array([0.0, 1.0])).tolist(), as_uint8(np.array([3, 300])).tolist()
        ([0, 255], [3, 255])
    """
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return x
    if x.dtype == np.bool_:
        return x.astype(np.uint8) * np.uint8(255)
    if np.issubdtype(x.dtype, np.integer):
        return np.clip(x, 0, 255).astype(np.uint8)
    return to_uint8(x, 0.0, 1.0)


def _reduce_axes(x: np.ndarray, per_image: bool) -> tuple[int, ...] | None:
    # Per image: one statistic per leading index, shared by all other axes.
    if per_image and x.ndim >= 2:
        return tuple(range(1, x.ndim))
    return None


def normalize_symmetric(w: Any, *, per_image: bool = False) -> np.ndarray:
    """Map signed values to ``[0, 1]`` with zero at 0.5: ``0.5 + w / (2 max|w|)``.

    The sign stays readable (grey = 0), as for conv filters. An all-zero array (or tile)
    gives 0.5 everywhere, never NaN.

    Args:
        w: array of any shape (float).
        per_image: False (default): one ``max|w|`` for the whole array. True: ``w`` is a
            batch ``(N, ...)`` and each ``w[i]`` (one tile) gets its own ``max|w[i]|``.

    Example:
        >>> normalize_symmetric(np.array([-2.0, 0.0, 1.0])).tolist()
        [0.0, 0.5, 0.75]
        >>> normalize_symmetric(np.array([[1.0, -1.0], [0.0, 0.0]]), per_image=True).tolist()
        [[1.0, 0.0], [0.5, 0.5]]
    """
    x = np.asarray(w, dtype=np.float32)
    amax = np.max(np.abs(x), axis=_reduce_axes(x, per_image), keepdims=True) if x.size else 0
    # Where max|w| == 0 every value is 0: divide by 1 instead, giving exactly 0.5.
    denom = np.where(amax > 0, 2.0 * amax, 1.0).astype(np.float32)
    return (0.5 + x / denom).astype(np.float32)


def normalize_minmax(maps: Any, *, per_image: bool = True) -> np.ndarray:
    """Rescale to ``[0, 1]``: ``(m - min) / (max - min)``, per image by default.

    A constant (degenerate) map becomes zeros, never NaN. Per-image scaling matters: one
    min-max over a whole grid lets one strong map wash out all the others.

    Args:
        maps: a batch ``(N, ...)``, e.g. CAM maps ``(N, H, W)``.
        per_image: True (default): min and max of each ``maps[i]``. False: of the whole array.

    Example:
        >>> normalize_minmax(np.array([[1.0, 3.0], [5.0, 5.0]])).tolist()
        [[0.0, 1.0], [0.0, 0.0]]
    """
    x = np.asarray(maps, dtype=np.float32)
    if x.size == 0:
        return x.copy()
    axes = _reduce_axes(x, per_image)
    lo = np.min(x, axis=axes, keepdims=True)
    span = np.max(x, axis=axes, keepdims=True) - lo
    safe = np.where(span > 0, span, 1.0)
    return np.where(span > 0, (x - lo) / safe, 0.0).astype(np.float32)


def _get_cmap(cmap: str | Colormap) -> Colormap:
    if isinstance(cmap, str):
        return matplotlib.colormaps[cmap]
    return cmap


def colormap(maps: Any, cmap: str | Colormap = "jet") -> np.ndarray:
    """Colour scalar maps in ``[0, 1]`` with a matplotlib colormap -> uint8 RGB.

    ``(..., H, W)`` float -> ``(..., H, W, 3)`` uint8. Values are clipped to ``[0, 1]``
    (NaN -> 0), then looked up exactly as ``matplotlib.colormaps[cmap](x, bytes=True)``.

    Example:
        >>> colormap(np.array([[[0.0, 1.0]]]), "gray").tolist()
        [[[[0, 0, 0], [255, 255, 255]]]]
    """
    x = np.nan_to_num(np.asarray(maps, dtype=np.float64), nan=0.0)
    rgba = _get_cmap(cmap)(np.clip(x, 0.0, 1.0), bytes=True)
    return np.ascontiguousarray(rgba[..., :3], dtype=np.uint8)


def _to_rgb(images: np.ndarray, spatial_ndim: int) -> np.ndarray:
    # spatial_ndim: ndim of the maps; images have it (grey) or it + 1 (channels last).
    if images.ndim == spatial_ndim:
        images = images[..., None]
    if images.ndim != spatial_ndim + 1 or images.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"images must be (..., H, W) or (..., H, W, C) with C in 1, 3, 4, matching maps; "
            f"got shape {images.shape}"
        )
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return images[..., :3]


def overlay(
    images: Any,
    maps: Any,
    alpha: float = 0.5,
    cmap: str | Colormap = "jet",
) -> np.ndarray:
    """Blend coloured maps over images: ``rint((1 - alpha) * image + alpha * colormap(map))``.

    Args:
        images: ``(N, H, W)``, ``(N, H, W, 1|3|4)`` (or one image without N when ``maps``
            is ``(H, W)``); float in ``[0, 1]`` or uint8. Grey is broadcast to RGB, alpha
            channels are dropped.
        maps: ``(N, H, W)`` or ``(H, W)`` in ``[0, 1]`` (normalise first, e.g.
            ``normalize_minmax``), same H, W as the images.
        alpha: weight of the heat map, 0 (image only) to 1 (map only). Default 0.5.
        cmap: matplotlib colormap name or object. Default ``"jet"``.

    Returns:
        uint8 ``(N, H, W, 3)`` (or ``(H, W, 3)``).

    Example:
        >>> out = overlay(np.zeros((1, 2, 2)), np.ones((1, 2, 2)), alpha=1.0, cmap="gray")
        >>> out.shape, int(out.max())
        ((1, 2, 2, 3), 255)
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    m = np.asarray(maps)
    if m.ndim not in (2, 3):
        raise ValueError(f"maps must be (N, H, W) or (H, W), got shape {m.shape}")
    rgb = _to_rgb(as_uint8(images), m.ndim)
    if rgb.shape[:-1] != m.shape:
        raise ValueError(
            f"images {rgb.shape[:-1]} and maps {m.shape} differ in size; resize the maps "
            "to the image size first"
        )
    heat = colormap(m, cmap).astype(np.float32)
    blended = (1.0 - alpha) * rgb.astype(np.float32) + alpha * heat
    return to_uint8(blended, 0.0, 255.0)


def resize_nearest(images: Any, shape: tuple[int, int]) -> np.ndarray:
    """The one nearest-neighbour resizer: ``(H, W)`` -> ``shape`` = (h, w), any factors.

    Output pixel (i, j) takes input pixel (floor((i + 0.5) H / h), floor((j + 0.5) W / w))
    (pixel centres, as ``PIL.Image.NEAREST``); an integer upscale repeats each pixel as a
    block. Layouts: ``(H, W)``, ``(N, H, W)`` or ``(N, H, W, C)``; dtype is kept.

    Example:
        >>> resize_nearest(np.arange(4).reshape(2, 2), (4, 4))[0].tolist()
        [0, 0, 1, 1]
        >>> resize_nearest(np.arange(16).reshape(4, 4), (2, 2)).tolist()
        [[5, 7], [13, 15]]
    """
    x = np.asarray(images)
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"images must be (H, W), (N, H, W) or (N, H, W, C), got {x.shape}")
    h_axis = 0 if x.ndim == 2 else 1
    src_h, src_w = x.shape[h_axis], x.shape[h_axis + 1]
    h, w = int(shape[0]), int(shape[1])
    if h < 1 or w < 1:
        raise ValueError(f"shape must be positive (h, w), got {shape}.")
    if (h, w) == (src_h, src_w):
        return x
    rows = np.minimum(((np.arange(h) + 0.5) * src_h / h).astype(np.int64), src_h - 1)
    cols = np.minimum(((np.arange(w) + 0.5) * src_w / w).astype(np.int64), src_w - 1)
    return np.take(np.take(x, rows, axis=h_axis), cols, axis=h_axis + 1)


def upscale_nearest(images: Any, factor: int) -> np.ndarray:
    """Enlarge by an integer ``factor`` (each pixel -> a block): :func:`resize_nearest` to
    (factor H, factor W).

    Example:
        >>> upscale_nearest(np.array([[1, 2]]), 2).tolist()
        [[1, 1, 2, 2], [1, 1, 2, 2]]
    """
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor}")
    x = np.asarray(images)
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"images must be (H, W), (N, H, W) or (N, H, W, C), got {x.shape}")
    h_axis = 0 if x.ndim == 2 else 1
    return resize_nearest(x, (x.shape[h_axis] * factor, x.shape[h_axis + 1] * factor))


def figure_to_array(fig: Figure, *, close: bool = True) -> np.ndarray:
    """Render a matplotlib figure with the Agg backend -> uint8 ``(H, W, 3)``.

    The figure is closed afterwards (``close=True``) so callbacks that draw every epoch do
    not leak pyplot figures.

    Example:
        >>> from matplotlib.figure import Figure
        >>> figure_to_array(Figure(figsize=(2, 1), dpi=50)).shape
        (50, 100, 3)
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    # Attaching an Agg canvas works whatever backend pyplot chose, even without a display.
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgb = np.array(canvas.buffer_rgba(), dtype=np.uint8)[..., :3]
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return np.ascontiguousarray(rgb)
