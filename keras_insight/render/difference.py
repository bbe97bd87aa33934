"""Signed differences (e.g. a synthesised image minus the prior mean) as uint8 pictures."""

from __future__ import annotations

from typing import Any

import numpy as np

from keras_insight.render.images import colormap, normalize_symmetric

__all__ = ["signed_heatmap"]


def signed_heatmap(diff: Any, *, cmap: str = "RdBu_r", per_image: bool = True) -> np.ndarray:
    """A signed difference ``d`` (N, H, W, C) -> uint8 RGB (N, H, W, 3), zero drawn neutral.

    Each image is scaled by its own ``max|d|`` (``per_image=True``) so that ``+max`` and
    ``-max`` reach the ends of the scale and 0 sits in the middle:

    - one channel: the diverging colormap ``cmap`` (default ``RdBu_r``: red where the
      difference is positive, blue where negative, white at 0);
    - three channels: the signed colour ``0.5 + d / (2 max|d|)`` per channel, mid-grey at 0,
      so a difference that adds red to the background shows as red on grey (the hue of
      what was added stays readable, which a channel average would lose).

    Example:
        >>> d = np.zeros((1, 2, 2, 1), "float32"); d[0, 0, 0, 0], d[0, 1, 1, 0] = 1.0, -1.0
        >>> h = signed_heatmap(d)
        >>> h.shape, h[0, 0, 0].tolist(), h[0, 1, 1].tolist(), h[0, 0, 1].tolist()
        ((1, 2, 2, 3), [103, 0, 31], [5, 48, 97], [247, 246, 246])
    """
    d = np.asarray(diff, np.float32)
    if d.ndim == 3:
        d = d[..., None]
    if d.ndim != 4 or d.shape[-1] not in (1, 3):
        raise ValueError(
            f"signed_heatmap needs differences (N, H, W) or (N, H, W, C) with C in 1, 3; "
            f"got shape {d.shape}."
        )
    if not np.isfinite(d).all():
        raise ValueError("signed_heatmap: the differences contain NaN or infinite values.")
    u = normalize_symmetric(d, per_image=per_image)
    if d.shape[-1] == 1:
        return colormap(u[..., 0], cmap)
    return np.rint(np.clip(u, 0.0, 1.0) * 255.0).astype(np.uint8)
