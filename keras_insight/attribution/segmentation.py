"""Optional extra ``[segment]`` (opencv-python-headless): object masks from a saliency map
with GrabCut seeded by the map."""

from __future__ import annotations

from typing import Any

import numpy as np


def saliency_segmentation(
    image: Any,
    saliency_map: Any,
    *,
    fg_quantile: float = 0.95,
    bg_quantile: float = 0.5,
    iterations: int = 5,
) -> np.ndarray:
    """(H, W) bool object mask: GrabCut (Rother et al. 2004) seeded by a saliency map.

    Pixels with map >= the ``fg_quantile`` quantile are sure foreground, pixels below the
    ``bg_quantile`` quantile are sure background, the rest "probably foreground" above
    the map's mean and "probably background" below it; GrabCut then fits colour models
    and cuts along image edges. ``image`` (H, W, C) or (H, W) in any range (min-max
    scaled to uint8), ``saliency_map`` (H, W), e.g. ``grad_cam(model, x[None])[0]``.

    Example:
        >>> import numpy as np
        >>> img = np.zeros((32, 32, 3)); img[8:20, 8:20] = 1.0
        >>> yy, xx = np.mgrid[:32, :32]
        >>> m = np.exp(-((yy - 14) ** 2 + (xx - 13) ** 2) / 30.0)  # a blob on the square
        >>> seg = saliency_segmentation(img, m)
        >>> bool(seg[8:20, 8:20].all()) and int(seg.sum()) == 144
        True
    """
    try:
        import cv2
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "saliency_segmentation needs OpenCV: pip install 'keras-insight[segment]' "
            "(or pip install opencv-python-headless)."
        ) from None
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[-1] not in (1, 3):
        raise ValueError(f"image must be (H, W), (H, W, 1) or (H, W, 3), got {img.shape}.")
    sal = np.asarray(saliency_map, dtype=np.float32)
    if sal.shape != img.shape[:2]:
        raise ValueError(
            f"saliency_map {sal.shape} must match the image's spatial size {img.shape[:2]}; "
            "upsample it first (CAM methods already return input-sized maps)."
        )
    if not (np.isfinite(img).all() and np.isfinite(sal).all()):
        raise ValueError("image or saliency_map contains NaN or infinite values.")
    if not 0.0 <= bg_quantile < fg_quantile <= 1.0:
        raise ValueError(
            f"need 0 <= bg_quantile < fg_quantile <= 1, got {bg_quantile}, {fg_quantile}."
        )
    if sal.max() <= sal.min():  # a constant map seeds nothing
        return np.zeros(sal.shape, bool)
    lo, hi = float(img.min()), float(img.max())
    u8 = np.round((img - lo) / (hi - lo if hi > lo else 1.0) * 255.0).astype(np.uint8)
    if u8.shape[-1] == 1:
        u8 = np.repeat(u8, 3, axis=-1)
    u8 = np.ascontiguousarray(u8)
    t_fg, t_bg = np.quantile(sal, fg_quantile), np.quantile(sal, bg_quantile)
    seeds = np.where(sal >= sal.mean(), cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    seeds[sal < t_bg] = cv2.GC_BGD
    seeds[sal >= t_fg] = cv2.GC_FGD
    if not (seeds == cv2.GC_BGD).any():  # GrabCut needs both colour models: use the border
        border = np.ones(sal.shape, bool)
        border[1:-1, 1:-1] = False
        seeds[border & (seeds != cv2.GC_FGD)] = cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    cv2.grabCut(u8, seeds, None, bgd, fgd, int(iterations), cv2.GC_INIT_WITH_MASK)
    return (seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)
