"""Activation maps of chosen layers, and dead channels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from keras_insight.core.engine import forward_outputs
from keras_insight.core.input_range import as_float32
from keras_insight.core.introspection import require_spatial, resolve_layer
from keras_insight.core.validation import check_images


def activation_maps(
    model: keras.Model, x: Any, layers: Sequence[Any], *, batch_size: int = 256
) -> list[np.ndarray]:
    """Feature maps ``(N, H, W, C)`` of each layer for inputs ``x`` (``training=False``).

    Example:
        >>> import keras, numpy as np
        >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c"),
        ...                       keras.layers.Flatten(), keras.layers.Dense(2)])
        >>> activation_maps(m, np.zeros((1, 8, 8, 1), "float32"), ["c"])[0].shape
        (1, 6, 6, 2)
    """
    check_images(model, x)
    x = as_float32(x)
    resolved = [resolve_layer(model, lyr) for lyr in layers]
    for lyr in resolved:
        require_spatial(model, lyr, x)
    acts, _ = forward_outputs(model, x, resolved, linear_head=False, batch_size=batch_size)
    return acts


def dead_channel_fraction(activations: np.ndarray, *, threshold: float = 0.0) -> float:
    """Fraction of channels never active (``a <= threshold`` at every sample and position).

    Example:
        >>> a = np.ones((2, 3, 3, 4)); a[..., 1] = 0.0
        >>> dead_channel_fraction(a)
        0.25
    """
    a = np.asarray(activations)
    per_channel = a.reshape(-1, a.shape[-1]).max(axis=0)
    return float(np.mean(per_channel <= threshold))
