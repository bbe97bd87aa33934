"""Synthesis callbacks: ClassSynthesis, FilterSynthesis, FeatureInversion snapshots."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from keras_insight.callbacks.base import (
    InsightCallback,
    head_kind,
    predicted_classes,
    prediction_label,
    unpack_validation_data,
)
from keras_insight.core.engine import logits as model_logits
from keras_insight.core.input_range import as_float32
from keras_insight.core.introspection import require_spatial, resolve_layer
from keras_insight.render import enlarge, grid_pages, signed_heatmap, to_uint8
from keras_insight.synthesis import (
    DataPrior,
    Param,
    channel,
    class_logit,
    data_prior,
    invert,
    maximize,
)
from keras_insight.synthesis.optimize import image_shape_of


def _check_log_dir(log_dir: Any, cls: str) -> str:
    if not isinstance(log_dir, (str, os.PathLike)):
        raise TypeError(
            f"{cls}: the first argument is log_dir (a path), got {type(log_dir).__name__}. "
            "Pass data as validation_data=... (synthesis needs none)."
        )
    return str(log_dir)


class _SynthesisCallback(InsightCallback):
    requires_data = False

    def __init__(
        self,
        log_dir,
        *,
        steps,
        image_shape,
        param,
        transforms,
        lr,
        prior_components=64,
        prior_weight=0.1,
        prior_samples=2000,
        **kwargs,
    ):
        super().__init__(
            kwargs.pop("validation_data", None),
            _check_log_dir(log_dir, type(self).__name__),
            **kwargs,
        )
        self.steps, self.image_shape = int(steps), image_shape
        self.param, self.transforms, self.lr = param, transforms, float(lr)
        if not isinstance(param, (str, Param)):
            raise TypeError(
                f"{type(self).__name__}: param must be 'auto', 'fourier', 'pixels' or a Param "
                f"(e.g. data_prior(x_val)), got {type(param).__name__}."
            )
        if int(prior_samples) < 2:
            raise ValueError(f"prior_samples must be >= 2, got {prior_samples!r}.")
        self.prior_components, self.prior_weight = int(prior_components), float(prior_weight)
        self.prior_samples = int(prior_samples)
        self._prior_cache: tuple[Any, DataPrior] | None = None
        self._prior_images: tuple[Any, np.ndarray] | None = None  # read, not fitted yet
        self._prior: DataPrior | None = None
        self._param: Any = param

    def validate(self) -> None:
        if self.input_range is None:
            raise ValueError(
                f"{self.family}: input_range is required (there is no data to infer it from): "
                "pass input_range=(lo, hi), e.g. (0, 1) or (0, 255)."
            )
        try:
            self._shape = image_shape_of(self.model, self.image_shape)
        except ValueError:
            if self.image_shape is not None or self.probe_x is None:
                raise
            # a model that does not say its input size (subclassed): the probe images do
            self._shape = image_shape_of(self.model, self.probe_x.shape[1:])
        self._resolve_param()

    def _resolve_param(self) -> None:
        """``param="auto"``: a data prior fitted on the validation data (once per run, on at
        most ``prior_samples`` images), or ``"fourier"`` when there is none."""
        self._prior = self.param if isinstance(self.param, DataPrior) else None
        self._param = self.param
        if not (isinstance(self.param, str) and self.param == "auto"):
            return
        if self.validation_data is None:
            self._param = "fourier"
            return
        src = self.validation_data
        if self._prior_cache is None or self._prior_cache[0] is not src:
            x, _, _ = unpack_validation_data(src, limit=self.prior_samples)
            x = as_float32(x, name="validation_data images")
            if tuple(x.shape[1:]) != tuple(self._shape):
                raise ValueError(
                    f"{self.family}: validation images are {tuple(x.shape[1:])} but the model "
                    f"takes {tuple(self._shape)}; the data prior needs images the model takes "
                    "(pass param='fourier' to synthesise without one)."
                )
            # fitted at the first synthesis, so a run whose overhead budget never grants
            # this view does not pay for the PCA (0.1-0.3 s on 2,000 28x28 images)
            self._prior_images = (src, x)
            self._param = self._prior = None
            return
        self._param = self._prior = self._prior_cache[1]

    def _fit_prior(self) -> None:
        src, x = self._prior_images
        prior = data_prior(
            x,
            self.prior_components,
            self.prior_weight,
            input_range=self.input_range,
            max_samples=self.prior_samples,
            seed=self.seed,
        )
        self._prior_cache, self._prior_images = (src, prior), None
        self._param = self._prior = prior

    def _synthesise(self, objectives):
        if self._prior_images is not None:
            self._fit_prior()
        return maximize(
            self.model,
            objectives,
            steps=self.steps,
            param=self._param,
            transforms=self.transforms,
            lr=self.lr,
            input_range=self.input_range,
            image_shape=self._shape,
            seed=self.seed,
        )

    def _pictures(self, images):
        return to_uint8(images, *self.input_range)


class ClassSynthesis(_SynthesisCallback):
    """Log one synthesised image per class (activation maximisation of the class logit).

    Every logged epoch the same seed and settings are used, so the images show class
    concepts forming over training. All classes are optimised as one batch in one compiled
    loop (traced once per run). Tags: ``synthesis/classes`` (a labelled grid with the
    model's prediction for each image) and ``synthesis/class_<c>``; scalar
    ``synthesis/self_accuracy`` = fraction of images the model assigns to their class.

    With ``validation_data`` (and the default ``param="auto"``) the images are searched
    under a data prior (:func:`keras_insight.synthesis.data_prior`, fitted once per run on
    at most ``prior_samples`` validation images): x = clip(mu + sum_k z_k s_k v_k) over the
    data's top principal components, penalty ``prior_weight * ||z||^2``. Small models then
    give recognisable class images instead of saturated strokes. Next to each image the
    grid shows its difference from the prior mean, x - mu, as a signed heatmap (what the
    model added: red/blue for one channel, signed colour on grey for RGB), also written as
    ``synthesis/difference/class_<c>``, and the mean itself as ``synthesis/prior_mean``.
    Without data the Fourier parameterisation is used.

    Args:
        log_dir: run directory (written under ``<log_dir>/insight/``).
        classes: ``"all"`` or a list of class indices.
        freq: every ``freq`` epochs (default 5: synthesis costs ~steps forward+backward passes).
        steps: optimisation steps (default 128).
        input_range: the model's input range (required unless ``validation_data`` is given).
        image_shape: (H, W, C) when the model does not fix its input size.
        seed: initialisation and transform seed.
        param: ``"auto"`` (default: data prior with validation data, else ``"fourier"``),
            ``"fourier"``, ``"pixels"`` or a Param such as ``data_prior(x_val, ...)``.
        prior_components, prior_weight, prior_samples: the data prior's K (default 64),
            penalty weight w (default 0.1, see docs/synthesis.md for the sweep) and the
            number of validation images it is fitted on (default 2000).
        transforms, lr: see :func:`keras_insight.synthesis.maximize`.
        class_names: optional names for the labels.
        per_class_images: also write one tag per class (default True).
        validation_data, at_train_end, strict: see ``InsightCallback``.

    Example:
        >>> import keras, numpy as np
        >>> from keras_insight.callbacks.synthesis import ClassSynthesis
        >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3),
        ...                       keras.layers.Flatten(), keras.layers.Dense(2)])
        >>> m.compile("adam", "sparse_categorical_crossentropy")
        >>> cb = ClassSynthesis("/tmp/ki_doc", steps=4, input_range=(0, 1))
        >>> _ = m.fit(np.zeros((4, 8, 8, 1)), np.zeros(4), epochs=1, verbose=0, callbacks=[cb])
        >>> cb.failures
        Counter()
    """

    needs_classes = True

    def __init__(
        self,
        log_dir: str = "logs",
        *,
        classes: str | Sequence[int] = "all",
        freq: int = 5,
        steps: int = 128,
        input_range: tuple[float, float] | None = None,
        image_shape: Sequence[int] | None = None,
        seed: int = 0,
        param: str | Param = "auto",
        transforms: Any = "default",
        lr: float = 0.05,
        class_names: Sequence[str] | None = None,
        per_class_images: bool = True,
        prior_components: int = 64,
        prior_weight: float = 0.1,
        prior_samples: int = 2000,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            log_dir,
            steps=steps,
            image_shape=image_shape,
            param=param,
            transforms=transforms,
            lr=lr,
            prior_components=prior_components,
            prior_weight=prior_weight,
            prior_samples=prior_samples,
            freq=freq,
            seed=seed,
            input_range=input_range,
            class_names=class_names,
            **kwargs,
        )
        self.classes, self.per_class_images = classes, per_class_images

    def validate(self) -> None:
        super().validate()
        k = int(model_logits(self.model, np.zeros((1, *self._shape), np.float32)).shape[-1])
        # one sigmoid unit: two classes, 1 maximises the logit z, 0 maximises -z
        self._binary = k == 1 and head_kind(self.model) == "binary"
        k = 2 if self._binary else k
        if isinstance(self.classes, str):
            if self.classes != "all":
                raise ValueError(f"classes must be 'all' or a list of ints, got {self.classes!r}.")
            self._classes = list(range(k))
        else:
            self._classes = [int(c) for c in self.classes]
            bad = [c for c in self._classes if not 0 <= c < k]
            if bad or not self._classes:
                raise ValueError(
                    f"ClassSynthesis: classes {bad or '[]'} out of range: the model has {k} classes (0..{k - 1})."
                )

    def _objective(self, c: int):
        if getattr(self, "_binary", False):
            return class_logit(0) if c == 1 else class_logit(0) * -1.0
        return class_logit(c)

    def log(self, step: int) -> None:
        images = self._synthesise([self._objective(c) for c in self._classes])
        predicted = predicted_classes(model_logits(self.model, images))
        pics = self._pictures(images)
        # the class name, green when the model sees it in its image; "class → seen" in red
        labels, colors = zip(
            *(prediction_label(c, p, self.class_names) for c, p in zip(self._classes, predicted))
        )
        heat = None
        if self._prior is None:
            picture = grid_pages(pics, labels=labels, label_colors=colors)
        else:  # each class image, then its difference from the prior mean
            heat = signed_heatmap(self._prior.difference(images))
            rgb = pics if pics.shape[-1] == 3 else np.repeat(pics, 3, axis=-1)
            tiles = np.stack([rgb, heat], axis=1).reshape(-1, *rgb.shape[1:])
            n = len(self._classes)
            # pairs a row (2 for 4 to 10 classes), pages of a few rows (the samples of the
            # tag), so it reads on the Images tab's card and in the Time Series box
            picture = grid_pages(
                tiles,
                ncols=2 * int(np.ceil(np.sqrt(n / 2.5))),
                labels=[t for lab in labels for t in (lab, "minus mean")],
                label_colors=[t for col in colors for t in (col, (0, 0, 0))],
            )
            mean_pic = self._pictures(self._prior.mean_image[None])[0]
            self.writer.image("synthesis/prior_mean", enlarge(mean_pic), step)
        self.writer.image("synthesis/classes", picture, step)
        if self.per_class_images:
            for i, (c, pic) in enumerate(zip(self._classes, pics)):
                # single pictures enlarged (nearest) so a 28x28 image is not a dot
                self.writer.image(f"synthesis/class_{c}", enlarge(pic), step)
                if heat is not None:
                    self.writer.image(f"synthesis/difference/class_{c}", enlarge(heat[i]), step)
        self.writer.scalar(
            "synthesis/self_accuracy", float(np.mean(predicted == np.array(self._classes))), step
        )


class FilterSynthesis(_SynthesisCallback):
    """Log images that maximise chosen channels of a conv layer, one grid per layer.

    Tag ``synthesis/filters/<layer>``: channel k's image is argmax_x mean_ij A^k_ij(x).

    Args:
        log_dir: run directory.
        layer: a conv layer (name, index or object), or a list of them.
        channels: channel indices (default the first 16).
        freq: every ``freq`` epochs (default 5). steps: default 128.
        input_range, image_shape, seed, param, transforms, lr: see :class:`ClassSynthesis`;
            ``param`` defaults to ``"fourier"`` here: a ``data_prior`` turned conv channel
            images into blurred garment silhouettes at half the activation (measured in
            docs/synthesis.md), so it is not used unless passed explicitly.

    Example:
        >>> from keras_insight.callbacks.synthesis import FilterSynthesis
        >>> cb = FilterSynthesis("/tmp/ki_doc", "conv1", [0, 1, 2], input_range=(0, 1))
    """

    needs_layers = True

    def __init__(
        self,
        log_dir: str = "logs",
        layer: Any = None,
        channels: Sequence[int] | None = None,
        *,
        freq: int = 5,
        steps: int = 128,
        input_range: tuple[float, float] | None = None,
        image_shape: Sequence[int] | None = None,
        seed: int = 0,
        param: str = "fourier",
        transforms: Any = "default",
        lr: float = 0.05,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            log_dir,
            steps=steps,
            image_shape=image_shape,
            param=param,
            transforms=transforms,
            lr=lr,
            freq=freq,
            seed=seed,
            input_range=input_range,
            **kwargs,
        )
        if layer is None:
            raise ValueError("FilterSynthesis needs layer=<conv layer name> (or a list of layers).")
        self.layer_args = list(layer) if isinstance(layer, (list, tuple)) else [layer]
        self.channels = channels

    def validate(self) -> None:
        from keras_insight.core.introspection import layer_output_shapes

        super().validate()
        self._plan = []
        for arg in self.layer_args:
            lyr = resolve_layer(self.model, arg)
            require_spatial(self.model, lyr)
            n = int(layer_output_shapes(self.model)[id(lyr)][-1])
            chans = (
                list(range(min(16, n)))
                if self.channels is None
                else [int(c) for c in self.channels]
            )
            bad = [c for c in chans if not 0 <= c < n]
            if bad:
                raise ValueError(
                    f"FilterSynthesis: channels {bad} out of range for layer {lyr.name!r} ({n} channels)."
                )
            self._plan.append((lyr, chans))

    def log(self, step: int) -> None:
        for lyr, chans in self._plan:
            pics = self._pictures(self._synthesise([channel(lyr.name, c) for c in chans]))
            self.writer.image(
                f"synthesis/filters/{lyr.name}",
                grid_pages(pics, labels=[str(c) for c in chans]),
                step,
            )


class FeatureInversion(InsightCallback):
    """Reconstruct fixed images from several layers' features, side by side (Mahendran 2015).

    Tag ``synthesis/inversion`` (rows: samples; columns: the original, then one per layer)
    and two scalars per layer: ``synthesis/inversion/<layer>/feature_error``
    (||phi(x*) - phi(x0)|| / ||phi(x0)||: did the optimisation converge) and
    ``.../pixel_error`` (||x* - x0|| / ||x0||: how much of the image the layer kept).

    Args:
        validation_data: images (N, H, W, C) to invert, or ``(x, y)`` (a few; each layer
            costs ``steps`` passes).
        layers: layers whose features are inverted.
        log_dir: run directory.
        freq: every ``freq`` epochs (default 10; expensive). steps: default 256.
        lambda_alpha, lambda_tv, lr, param: see :func:`keras_insight.synthesis.invert`.
            ``param=data_prior(x_val, weight=1e-3)`` helps when inverting late layers (from
            the logits of a Fashion-MNIST CNN: pixel error 0.37 instead of 0.52) and hurts
            for early ones, which keep nearly every pixel (docs/synthesis.md).
        input_range: inferred from ``validation_data`` when None.

    Example:
        >>> import numpy as np
        >>> from keras_insight.callbacks.synthesis import FeatureInversion
        >>> cb = FeatureInversion(np.zeros((2, 8, 8, 1)), ["conv1"], log_dir="/tmp/ki_doc")
    """

    needs_layers = True

    def __init__(
        self,
        validation_data: Any,
        layers: Sequence[Any],
        log_dir: str = "logs",
        *,
        freq: int = 10,
        steps: int = 256,
        param: str = "pixels",
        lambda_alpha: float = 1e-3,
        lambda_tv: float = 1e-2,
        lr: float = 0.05,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("num_samples", len(validation_data))
        super().__init__(validation_data, log_dir, freq=freq, **kwargs)
        if isinstance(layers, (str, int)):
            layers = [layers]
        if not layers:
            raise ValueError("FeatureInversion needs at least one layer.")
        self.layers_arg = list(layers)
        self.steps, self.param = int(steps), param
        self.lambda_alpha, self.lambda_tv, self.lr = lambda_alpha, lambda_tv, lr

    def validate(self) -> None:
        self._layers = [resolve_layer(self.model, lyr) for lyr in self.layers_arg]
        self._x0 = as_float32(self.probe_x, name="sample")

    def log(self, step: int) -> None:
        columns = [self._x0]
        for lyr in self._layers:
            rec, err = invert(
                self.model,
                self._x0,
                lyr.name,
                steps=self.steps,
                param=self.param,
                lambda_alpha=self.lambda_alpha,
                lambda_tv=self.lambda_tv,
                lr=self.lr,
                input_range=self.input_range,
                seed=self.seed,
            )
            columns.append(rec)
            self.writer.scalar(
                f"synthesis/inversion/{lyr.name}/feature_error",
                float(err["feature_error"].mean()),
                step,
            )
            self.writer.scalar(
                f"synthesis/inversion/{lyr.name}/pixel_error",
                float(err["pixel_error"].mean()),
                step,
            )
        n = len(self._x0)
        tiles = np.stack(columns, axis=1).reshape(n * len(columns), *self._x0.shape[1:])
        names = ["input"] + [lyr.name for lyr in self._layers]
        labels = [names[i % len(columns)] for i in range(len(tiles))]
        self.writer.image(
            "synthesis/inversion",
            grid_pages(to_uint8(tiles, *self.input_range), ncols=len(columns), labels=labels),
            step,
        )
