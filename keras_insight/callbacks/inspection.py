"""Callbacks that show weights and activations: FilterGrid, ActivationMaps, ModelSummary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from keras_insight.callbacks.base import InsightCallback, predicted_classes
from keras_insight.callbacks.probe import probe_pass
from keras_insight.core.engine import logits as model_logits
from keras_insight.core.introspection import (
    default_spatial_layer,
    output_layer,
    require_spatial,
    resolve_layer,
)
from keras_insight.inspection.activations import activation_maps, dead_channel_fraction
from keras_insight.inspection.filters import (
    conv_layers,
    filter_tiles,
    high_frequency_ratio,
    layer_kernel,
)
from keras_insight.inspection.summary import model_summary
from keras_insight.render import (
    filter_grid,
    grid_pages,
    normalize_minmax,
    resize_nearest,
    to_uint8,
)


class FilterGrid(InsightCallback):
    """Log convolution filters as image grids, and how noisy they are, every ``freq`` epochs.

    The first conv layer is shown as RGB tiles when it has 3 input channels; other layers as
    one grayscale tile per (filter, input channel), the channels of a filter in one block;
    blocks form a near-square grid labelled by filter index (``#k``). Each tile is
    normalised symmetrically, ``0.5 + w / (2 max|w|)`` (grey = 0). A scalar per layer,
    ``filters/<layer>/high_frequency_ratio``, is 0 for smooth and 1 for checkerboard
    filters (white noise: 0.5); it falls as training converges.

    Args:
        validation_data: not needed (filters are weights); accepted for a uniform signature.
        log_dir, freq, at_train_end, num_samples, seed, strict, input_range: see
            :class:`~keras_insight.callbacks.base.InsightCallback`.
        layers: conv layers (names, indices or objects); default all conv layers.
        max_filters: filters shown per layer (default 32).
        max_channels: input channels shown per filter for grayscale layers (default 8).

    Example:
        >>> import keras, numpy as np
        >>> from keras_insight.callbacks import FilterGrid
        >>> m = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3),
        ...                       keras.layers.Flatten(), keras.layers.Dense(2)])
        >>> m.compile("adam", "sparse_categorical_crossentropy")
        >>> _ = m.fit(np.zeros((4, 8, 8, 3)), np.zeros(4), epochs=1, verbose=0,
        ...           callbacks=[FilterGrid(log_dir="/tmp/ki_doc")])
    """

    requires_data = False
    needs_layers = True

    def __init__(
        self,
        validation_data: Any = None,
        log_dir: str = "logs",
        *,
        layers: Sequence[Any] | None = None,
        max_filters: int = 32,
        max_channels: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(validation_data, log_dir, **kwargs)
        self.layers = layers
        self.max_filters = max_filters
        self.max_channels = max_channels

    def validate(self) -> None:
        if self.layers is None:
            self._layers = [lyr for _, lyr in conv_layers(self.model)]
            if not self._layers:
                raise ValueError(
                    "FilterGrid: the model has no convolution layer with a 4-D kernel."
                )
        else:
            self._layers = [resolve_layer(self.model, lyr) for lyr in self.layers]
            for lyr in self._layers:
                layer_kernel(self.model, lyr)  # clear error for non-conv layers

    def log(self, step: int) -> None:
        for lyr in self._layers:
            kernel = layer_kernel(self.model, lyr)
            tiles = filter_tiles(
                kernel, max_filters=self.max_filters, max_channels=self.max_channels
            )
            # a near-square grid of filters (each a block of its input channels), tiles
            # enlarged to >= 32 px and labelled by filter index
            per_filter = 1 if tiles.ndim == 4 else min(kernel.shape[2], self.max_channels)
            # pages (samples of the tag) that read in TensorBoard's Time Series box too
            image = filter_grid(tiles, per_filter, paged=True)
            self.writer.image(f"filters/{lyr.name}", image, step)
            self.writer.scalar(
                f"filters/{lyr.name}/high_frequency_ratio", high_frequency_ratio(kernel), step
            )


class ActivationMaps(InsightCallback):
    """Log feature maps of chosen layers for fixed probe images, and dead channels.

    For each of the first ``num_images`` probe samples, a grid with the input image first
    and then one grayscale tile per channel (min-max normalised per tile; an all-zero
    channel is black). A scalar per layer, ``activations/<layer>/dead_fraction``, is the
    fraction of channels never active (``<= 0``) on the whole probe set.

    Args:
        validation_data: ``(x, y)`` arrays or a ``tf.data.Dataset`` (probe set source).
        log_dir, freq, at_train_end, num_samples, seed, strict, input_range: see
            :class:`~keras_insight.callbacks.base.InsightCallback`.
        layers: layers with 4-D output; default the first conv layer and the last spatial
            layer before the head.
        num_images: probe images shown (default 2).
        max_channels: channels shown per layer (default 32).

    Example:
        >>> import keras, numpy as np
        >>> from keras_insight.callbacks import ActivationMaps
        >>> x, y = np.random.rand(8, 8, 8, 1).astype("float32"), np.arange(8) % 2
        >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, name="c"),
        ...                       keras.layers.Flatten(), keras.layers.Dense(2)])
        >>> m.compile("adam", "sparse_categorical_crossentropy")
        >>> _ = m.fit(x, y, epochs=1, verbose=0,
        ...           callbacks=[ActivationMaps((x, y), log_dir="/tmp/ki_doc")])
    """

    needs_layers = True

    def __init__(
        self,
        validation_data: Any = None,
        log_dir: str = "logs",
        *,
        layers: Sequence[Any] | None = None,
        num_images: int = 2,
        max_channels: int = 32,
        **kwargs: Any,
    ) -> None:
        super().__init__(validation_data, log_dir, **kwargs)
        self.layers = layers
        self.num_images = num_images
        self.max_channels = max_channels

    def validate(self) -> None:
        if self.layers is None:
            convs = [lyr for _, lyr in conv_layers(self.model)]
            last = default_spatial_layer(self.model, self.probe_x)
            chosen = ([convs[0]] if convs else []) + [last]
            self._layers = list(dict.fromkeys(chosen))
        else:
            self._layers = [resolve_layer(self.model, lyr) for lyr in self.layers]
        # a clear error naming spatial layers when one is not 4-D (from shapes: no trace)
        for lyr in self._layers:
            require_spatial(self.model, lyr, self.probe_x[:1])
        # maps and labels come from the suite's one forward pass (callbacks/probe.py),
        # unless a layer is the output one (its maps keep the output activation)
        self._shared = not any(lyr is output_layer(self.model) for lyr in self._layers)
        if self._shared:
            probe_pass(self.model).register(self, self.probe_x, layers=self._layers)

    def log(self, step: int) -> None:
        if self._shared:
            out = probe_pass(self.model).outputs(self, step)
            acts, probe_logits = out.activations, out.logits
        else:
            acts = activation_maps(self.model, self.probe_x, self._layers)
            probe_logits = model_logits(self.model, self.probe_x)
        predicted = predicted_classes(probe_logits)
        lo, hi = self.input_range
        n_img = min(self.num_images, len(self.probe_x))
        for lyr, a in zip(self._layers, acts):
            self.writer.scalar(
                f"activations/{lyr.name}/dead_fraction", dead_channel_fraction(a), step
            )
            for i in range(n_img):
                maps = np.moveaxis(a[i, :, :, : self.max_channels], -1, 0)  # (C, h, w)
                tiles = to_uint8(normalize_minmax(maps))
                image = to_uint8(self.probe_x[i], lo, hi)
                image = image.mean(-1).astype(np.uint8) if image.shape[-1] != 1 else image[..., 0]
                image = resize_nearest(image, maps.shape[1:])
                labels = [self.label_text(i, predicted)] + [f"ch{c}" for c in range(len(maps))]
                colors = [self.label_color(i, predicted)] + [(0, 0, 0)] * len(maps)
                # 6 columns, pages of a few rows: readable in the Time Series box as well
                picture = grid_pages(
                    np.concatenate([image[None], tiles]),
                    ncols=6,
                    labels=labels,
                    label_colors=colors,
                )
                self.writer.image(f"activations/{lyr.name}/sample_{i}", picture, step)


class ModelSummary(InsightCallback):
    """Write the model summary (layers, output shapes, parameters) to the text tab once.

    Written under the tag ``model/summary`` at step 0: at train begin, or, for a model that
    Keras builds during the first train step (a ``Sequential`` without ``keras.Input``),
    as soon as it is built, with the input shape the data gave it.

    Example:
        >>> from keras_insight.callbacks import ModelSummary
        >>> cb = ModelSummary(log_dir="/tmp/ki_doc")
    """

    requires_data = False

    def on_ready(self) -> None:
        # once per run directory: the same instance in a later fit (initial_epoch) appends
        # to its run, which already holds the summary at step 0
        if getattr(self, "_summary_run", None) != (self.run_name, id(self.model)):
            self._summary_run = (self.run_name, id(self.model))
            self._run_log(0)

    def wants_log(self, phase: str, step: int) -> bool:
        # written once, at step 0, when the model is ready (on_ready); the base's epoch end
        # then only runs the deferred setup
        return False

    def on_train_end(self, logs=None) -> None:
        self._ensure_setup()
        if self.writer is not None:
            self._guard(self.writer.flush)

    def log(self, step: int) -> None:
        self.writer.text("model/summary", model_summary(self.model), step)
