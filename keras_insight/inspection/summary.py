"""Model summary as a Markdown table for TensorBoard's text tab."""

from __future__ import annotations

import keras
import numpy as np

from keras_insight.core.introspection import (
    input_shape,
    is_subclassed,
    iter_layers,
    layer_output_shapes,
)


def model_summary(model: keras.Model, x=None) -> str:
    """Markdown table of layers: path, type, output shape, parameter count, plus totals.

    The first line after the title is the input shape (``(None, H, W, C)``), from the model
    or, for a model built without ``keras.Input`` and never called, from data ``x``.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
        >>> "| d | Dense | (None, 2) | 10 |" in model_summary(m)
        True
    """
    total = int(sum(np.prod(w.shape) for w in model.weights))
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    lines = [f"**{model.name}** ({type(model).__name__})", ""]
    try:
        lines += [f"Input shape: {(None, *input_shape(model, x))}", ""]
    except ValueError:  # a subclassed or unbuilt model without data: no input shape known
        pass
    if is_subclassed(model):
        lines.append("Subclassed model: layer graph unknown until called.")
    else:
        shapes = layer_output_shapes(model, x)
        lines += ["| layer | type | output shape | params |", "|---|---|---|---|"]
        for path, layer in iter_layers(model):
            if isinstance(layer, keras.layers.InputLayer):
                continue
            shape = shapes.get(id(layer))
            shape_txt = (
                str(tuple(None if i == 0 else d for i, d in enumerate(shape))) if shape else "-"
            )
            lines.append(
                f"| {path} | {type(layer).__name__} | {shape_txt} | {layer.count_params() if layer.built else 0} |"
            )
    lines += [
        "",
        f"Total params: {total:,}  ",
        f"Trainable params: {trainable:,}  ",
        f"Non-trainable params: {total - trainable:,}",
    ]
    return "\n".join(lines)
