"""Library-wide settings: logging and the speed knob used by tests."""

from __future__ import annotations

import logging
import os

logger = logging.getLogger("keras_insight")
if not logger.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("keras-insight: %(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def fast_mode() -> bool:
    """True when ``KERAS_INSIGHT_FAST=1``: tests and demos shrink iteration counts."""
    return os.environ.get("KERAS_INSIGHT_FAST", "0").lower() in ("1", "true", "yes")


def iterations(full: int, fast: int) -> int:
    """Pick an iteration count: ``fast`` under ``KERAS_INSIGHT_FAST=1``, else ``full``.

    Example:
        >>> iterations(256, 16) in (256, 16)
        True
    """
    return fast if fast_mode() else full
