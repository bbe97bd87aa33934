"""Feature vectors of any layer (default: the layer before the classifier)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from keras_insight.core.engine import forward_outputs
from keras_insight.core.input_range import as_float32
from keras_insight.core.introspection import default_feature_layer, num_outputs, resolve_layer
from keras_insight.core.validation import check_images


def features(
    model: keras.Model,
    x: Any,
    layer: str | int | keras.layers.Layer | None = None,
    *,
    pool: str | None = "avg",
    output: int | str | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Activations of ``layer`` for ``x`` as ``(N, D)`` float32 (or raw with ``pool=None``).

    Default layer: the one feeding the classifier. 4-D activations are global-average
    pooled (``pool="avg"``), max pooled (``"max"``), flattened (``"flatten"``) or returned
    as they are (``None``).

    Example:
        >>> import keras, numpy as np
        >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3),
        ...                       keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
        >>> features(m, np.zeros((3, 8, 8, 1), "float32")).shape
        (3, 4)
    """
    check_images(model, x)
    x = as_float32(x, ndim=None)
    lyr = default_feature_layer(model, output) if layer is None else resolve_layer(model, layer)
    several = output is None and num_outputs(model) > 1  # no head is read: any output will do
    (acts,), _ = forward_outputs(
        model, x, [lyr], output=output, linear_head=not several, batch_size=batch_size
    )
    if acts.ndim == 4 and pool is not None:
        if pool == "avg":
            return acts.mean(axis=(1, 2))
        if pool == "max":
            return acts.max(axis=(1, 2))
        if pool == "flatten":
            return acts.reshape(len(acts), -1)
        raise ValueError(f"pool must be 'avg', 'max', 'flatten' or None, got {pool!r}.")
    if pool is not None and acts.ndim > 2:
        return acts.reshape(len(acts), -1)
    return acts
