"""Input validation and the model's valid input range ``(lo, hi)``."""

from __future__ import annotations

from typing import Any

import numpy as np

from keras_insight._config import logger

_SNAPS = ((0.0, 1.0), (0.0, 255.0), (-1.0, 1.0))
_uint8_noted = False
_logged: set = set()


def _log_once(key: Any, msg: str, *args) -> None:
    # once per process and outcome: callbacks with different probe sets would otherwise
    # each repeat the note with their own data min/max
    if key not in _logged:
        _logged.add(key)
        logger.info(msg, *args)


def as_float32(x: Any, *, ndim: int | None = 4, name: str = "x") -> np.ndarray:
    """Convert to a float32 numpy array; uint8 is cast without rescaling (with a note).

    Raises a clear error for non-numeric data, the wrong rank and NaN/inf values.
    """
    global _uint8_noted
    if hasattr(x, "numpy"):
        x = x.numpy()
    arr = np.asarray(x)
    if arr.dtype == np.uint8 and not _uint8_noted:
        logger.info("%s is uint8: cast to float32 without rescaling (values stay 0-255).", name)
        _uint8_noted = True
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be numeric image data, got dtype {arr.dtype}.")
    arr = arr.astype(np.float32, copy=False)
    if ndim is not None and arr.ndim != ndim:
        hint = " Add a channel axis with x[..., None]." if arr.ndim == 3 and ndim == 4 else ""
        raise ValueError(
            f"{name} must be a {ndim}-D batch (N, H, W, C) of channels-last images, got shape "
            f"{arr.shape}.{hint}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values; clean the inputs first.")
    return arr


def infer_input_range(x: Any, *, log: bool = True) -> tuple[float, float]:
    """Infer ``(lo, hi)`` from data: snap to (0, 1), (0, 255) or (-1, 1) when it fits.

    Example:
        >>> import numpy as np
        >>> infer_input_range(np.array([0.2, 0.9]), log=False)
        (0.0, 1.0)
        >>> infer_input_range(np.array([-3.0, 2.0]), log=False)
        (-3.0, 2.0)
    """
    arr = np.asarray(x, dtype=np.float32)
    if arr.size == 0:
        raise ValueError("Cannot infer the input range from empty data; pass input_range=(lo, hi).")
    lo, hi = float(arr.min()), float(arr.max())
    for a, b in _SNAPS:
        if lo >= a and hi <= b:
            if log:
                _log_once(
                    (a, b), "input_range inferred as (%g, %g) from data in [%g, %g].", a, b, lo, hi
                )
            return (a, b)
    if hi == lo:  # constant data: a degenerate range would break every rescaling
        hi = lo + 1.0
    if log:
        _log_once(
            "min/max",
            "input_range inferred as the data min/max (%g, %g); pass input_range=(lo, hi) to "
            "fix it (each probe set gives its own).",
            lo,
            hi,
        )
    return (lo, hi)


def resolve_input_range(
    input_range: tuple[float, float] | None, x: Any = None, *, what: str = "this method"
) -> tuple[float, float]:
    """Validate a given range, or infer it from ``x``; required when there is no data."""
    if input_range is None:
        if x is None:
            raise ValueError(
                f"input_range is required for {what} when there is no data to infer it from: "
                "pass input_range=(lo, hi), e.g. (0, 1) or (0, 255)."
            )
        return infer_input_range(x)
    try:
        lo, hi = (float(v) for v in input_range)
    except (TypeError, ValueError):
        raise ValueError(f"input_range must be a pair (lo, hi), got {input_range!r}.") from None
    if not hi > lo:
        raise ValueError(f"input_range must have hi > lo, got {input_range!r}.")
    return (lo, hi)
