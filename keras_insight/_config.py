"""Library-wide settings: the backend check, logging and the speed knob used by tests."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys

EXTRAS_HINT = "pip install 'keras-insight[cpu]' (or 'keras-insight[gpu]')"


def configured_backend() -> str:
    """The Keras backend that ``import keras`` will use, read without importing Keras.

    ``KERAS_BACKEND`` first, then ``$KERAS_HOME/keras.json`` (default ``~/.keras``), then
    the default ``"tensorflow"``; an already imported Keras answers itself.
    """
    keras_mod = sys.modules.get("keras")
    config = getattr(keras_mod, "config", None)
    if config is not None and hasattr(config, "backend"):
        return str(config.backend())
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as fh:
            return str(json.load(fh).get("backend", "tensorflow"))
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def check_environment() -> None:
    """Raise a one-line ImportError when TensorFlow is missing or Keras runs another backend.

    keras-insight's engine is TensorFlow code (tf.function, GradientTape); the TensorFlow
    package comes with the ``cpu`` or ``gpu`` extra.
    """
    try:
        found = importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ImportError(f"keras-insight needs TensorFlow, which is not installed: {EXTRAS_HINT}.")
    backend = configured_backend()
    if backend != "tensorflow":
        raise ImportError(
            f"keras-insight runs on Keras's TensorFlow backend, but the backend is {backend!r}: "
            "set KERAS_BACKEND=tensorflow (or unset it) before importing keras."
        )


class _FallbackHandler(logging.StreamHandler):
    """Prints keras-insight's messages only while the application configured no logging.

    The library logger propagates to the root logger like any library's; once the
    application adds a root handler (``logging.basicConfig``), this one stays silent so
    nothing is printed twice.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if not logging.getLogger().handlers:
            super().emit(record)


logger = logging.getLogger("keras_insight")
if not any(isinstance(h, _FallbackHandler) for h in logger.handlers):
    _handler = _FallbackHandler()
    _handler.setFormatter(logging.Formatter("keras-insight: %(message)s"))
    logger.addHandler(_handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


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
