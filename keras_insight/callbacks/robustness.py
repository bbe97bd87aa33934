"""Callbacks that log adversarial robustness, invariance to image variation, and shape bias."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from keras_insight.callbacks.base import (
    RIGHT_COLOR,
    WRONG_COLOR,
    InsightCallback,
    predicted_classes,
)
from keras_insight.render import class_name, figure_to_array, grid_pages, to_uint8
from keras_insight.render.plots import invariance_pages, robustness_curve_figure
from keras_insight.robustness.attacks import attack_losses, binary_head, check_norm
from keras_insight.robustness.corruptions import (
    TRANSFORMS,
    check_transform,
    corrupt,
    invariance_report,
)
from keras_insight.robustness.curve import ATTACKS as ATTACK_NAMES
from keras_insight.robustness.curve import robustness_curve
from keras_insight.robustness.shape_bias import shape_bias


class AdversarialRobustness(InsightCallback):
    """Log robust accuracy vs eps (FGSM/PGD), its AUC, minimal perturbation and diagnostics.

    Scalars per logged epoch: ``robustness/<norm>_<attack>/acc_eps_<e>`` (cumulative,
    non-increasing, true labels, all probe samples in the denominator; ``worst`` = any
    attack), ``robustness/auc``, ``robustness/mean_min_perturbation``,
    ``robustness/never_broken`` and ``robustness/diagnostics/*`` (zero-gradient fraction
    per loss, max(||delta|| - eps), NaN count). Images ``robustness/examples``: x | x_adv |
    amplified delta at the largest eps with true and predicted labels; a plot
    ``robustness/curve``.

    Args:
        validation_data: ``(x, y)`` arrays or a ``tf.data.Dataset`` with labels.
        log_dir, freq, at_train_end, seed, strict, input_range: see
            :class:`~keras_insight.callbacks.base.InsightCallback`.
        epsilons: eps grid in input units. Default Linf {0, 1, 2, 4, 8}/255 of the input
            range (L2: {0, .25, .5, 1} of it).
        attacks: ``("fgsm", "pgd")`` (FGSM is Linf only).
        norm: ``"linf"`` or ``"l2"``.
        steps: PGD steps (default 10); restarts: PGD restarts (default 1).
        loss: ``"cross_entropy"``, ``"margin"`` or ``"both"`` (default; the margin loss keeps
            its gradient when the softmax saturates).
        num_samples: probe samples attacked (default 64).
        num_images: probe samples shown as x | x_adv | delta (default 4).

    Example:
        >>> import keras, numpy as np
        >>> from keras_insight.callbacks.robustness import AdversarialRobustness
        >>> x, y = np.random.rand(16, 8, 8, 1).astype("float32"), np.arange(16) % 2
        >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
        ...                       keras.layers.Dense(2, activation="softmax")])
        >>> m.compile("adam", "sparse_categorical_crossentropy")
        >>> _ = m.fit(x, y, epochs=1, verbose=0, callbacks=[
        ...     AdversarialRobustness((x, y), log_dir="/tmp/ki_doc", steps=2)])
    """

    needs_classes = True

    def __init__(
        self,
        validation_data: Any = None,
        log_dir: str = "logs",
        *,
        epsilons: Sequence[float] | None = None,
        attacks: Sequence[str] = ("fgsm", "pgd"),
        norm: str = "linf",
        steps: int = 10,
        restarts: int = 1,
        loss: str = "both",
        num_samples: int = 64,
        num_images: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(validation_data, log_dir, num_samples=num_samples, **kwargs)
        self.norm = check_norm(norm)
        self.attacks = (attacks,) if isinstance(attacks, str) else tuple(attacks)
        for a in self.attacks:
            if a not in ATTACK_NAMES:
                raise ValueError(f"Unknown attack {a!r}; choose from {ATTACK_NAMES}.")
        attack_losses(loss)
        if int(steps) < 1 or int(restarts) < 1:
            raise ValueError("steps and restarts must be >= 1.")
        self.epsilons = None if epsilons is None else [float(e) for e in epsilons]
        self.steps, self.restarts, self.loss = int(steps), int(restarts), loss
        self.num_images = int(num_images)
        self.last_report = None

    def validate(self) -> None:
        if self.probe_y is None:
            raise ValueError(
                "AdversarialRobustness needs true labels: pass validation_data=(x, y) (robust "
                "accuracy is measured against the labels, not the model's own predictions)."
            )
        binary_head(self.model, None)

    def log(self, step: int) -> None:
        r = robustness_curve(
            self.model,
            self.probe_x,
            self.probe_y,
            epsilons=self.epsilons,
            attacks=self.attacks,
            norm=self.norm,
            steps=self.steps,
            restarts=self.restarts,
            loss=self.loss,
            input_range=self.input_range,
            seed=self.seed,
        )
        self.last_report = r
        for tag, value in r.scalars("robustness").items():
            self.writer.scalar(tag, value, step)
        self.writer.figure("robustness/curve", robustness_curve_figure(r), step)
        if r.examples is not None and self.num_images > 0:
            self.writer.image("robustness/examples", self._examples(r), step)

    def _examples(self, r) -> np.ndarray:
        from keras_insight.core.engine import logits

        x, x_adv, eps = r.examples
        k = min(self.num_images, len(x))
        lo, hi = self.input_range
        delta = x_adv[:k] - x[:k]
        scale = eps if self.norm == "linf" else max(float(np.abs(delta).max()), 1e-12)
        amplified = np.clip(0.5 + 0.5 * delta / scale, 0.0, 1.0)
        p_clean = predicted_classes(logits(self.model, x[:k]))
        p_adv = predicted_classes(logits(self.model, x_adv[:k]))
        tiles, labels, colors = [], [], []

        for i in range(k):
            tiles += [to_uint8(x[i], lo, hi), to_uint8(x_adv[i], lo, hi), to_uint8(amplified[i])]
            # clean: its class (green) or "true → predicted" (red); adversarial: what the
            # model now says, red when fooled
            labels += [
                self.label_text(i, p_clean),
                f"adversarial → {class_name(int(p_adv[i]), self.class_names)}",
                f"delta eps={eps:.3g}",
            ]
            colors += [self.label_color(i, p_clean), self.label_color(i, p_adv), (0, 0, 0)]
        # pages of a few rows (the samples of one tag) that read in the Time Series box
        return grid_pages(np.stack(tiles), ncols=3, labels=labels, label_colors=colors)


class Invariance(InsightCallback):
    """Log accuracy, prediction-flip rate and feature cosine under image corruptions.

    Scalars ``invariance/<transform>/acc_s<k>``, ``flip_s<k>``, ``cos_s<k>`` for each
    transform and severity (see :func:`keras_insight.robustness.invariance_report`), one
    summary plot ``invariance/summary`` and an image ``invariance/examples`` of the first
    probe image under every transform (rows) and severity (columns).

    Args:
        validation_data: ``(x, y)`` or ``x`` only (then no accuracy, flips and cosine only).
        log_dir, freq, at_train_end, num_samples, seed, strict, input_range: see
            :class:`~keras_insight.callbacks.base.InsightCallback`.
        transforms: corruption kinds (default all seven).
        severities: severities 1-5 (default all).
        feature_layer: layer for the feature cosine (default the one before the classifier).
        num_samples: probe size (default 64).

    Example:
        >>> import keras, numpy as np
        >>> from keras_insight.callbacks.robustness import Invariance
        >>> x, y = np.random.rand(16, 8, 8, 1).astype("float32"), np.arange(16) % 2
        >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(name="f"),
        ...                       keras.layers.Dense(2, activation="softmax")])
        >>> m.compile("adam", "sparse_categorical_crossentropy")
        >>> _ = m.fit(x, y, epochs=1, verbose=0, callbacks=[Invariance((x, y), "/tmp/ki_doc")])
    """

    needs_classes = True

    def __init__(
        self,
        validation_data: Any = None,
        log_dir: str = "logs",
        *,
        transforms: Sequence[str] = TRANSFORMS,
        severities: Sequence[int] = (1, 2, 3, 4, 5),
        feature_layer: Any = None,
        num_samples: int = 64,
        **kwargs: Any,
    ) -> None:
        super().__init__(validation_data, log_dir, num_samples=num_samples, **kwargs)
        self.transforms = (transforms,) if isinstance(transforms, str) else tuple(transforms)
        for t in self.transforms:
            check_transform(t)
        self.severities = tuple(int(s) for s in severities)
        for s in self.severities:
            if not 1 <= s <= 5:
                raise ValueError(f"severities must be in 1..5, got {s}.")
        self.feature_layer = feature_layer
        self.last_report = None

    def validate(self) -> None:
        if self.feature_layer is not None:
            from keras_insight.core.introspection import resolve_layer

            resolve_layer(self.model, self.feature_layer)

    def log(self, step: int) -> None:
        r = invariance_report(
            self.model,
            self.probe_x,
            self.probe_y,
            transforms=self.transforms,
            severities=self.severities,
            seed=self.seed,
            input_range=self.input_range,
            feature_layer=self.feature_layer,
        )
        self.last_report = r
        for tag, value in r.scalars("invariance").items():
            self.writer.scalar(tag, value, step)
        # one 440 x 295 page per panel (the samples of the tag): each reads in the Time
        # Series box, where the three stacked panels (430 x 870) showed at a quarter
        pages = np.stack([figure_to_array(f) for f in invariance_pages(r)])
        self.writer.image("invariance/summary", pages, step)
        if step == 0 or self._last_logged is None:  # the examples never change: write once
            self.writer.image("invariance/examples", self._examples(), step)

    def _examples(self) -> np.ndarray:
        lo, hi = self.input_range
        x = self.probe_x[:1]
        tiles, labels = [], []
        for t in self.transforms:
            for s in (0, *self.severities):
                tiles.append(
                    to_uint8(corrupt(x, t, s, seed=self.seed, input_range=(lo, hi))[0], lo, hi)
                )
                labels.append(t if s == 0 else f"s{s}")  # a row per transform, severity 0 first
        return grid_pages(np.stack(tiles), ncols=len(self.severities) + 1, labels=labels)


class ShapeBias(InsightCallback):
    """Log the shape-vs-texture decision fractions on cue-conflict images.

    Needs ``validation_data=(x, y, masks)`` with object masks, e.g.
    :func:`keras_insight.datasets.shapes` (with ``spurious > 0`` the background hue is a
    shortcut; a model that learns it decides by texture). Scalars ``shape_bias/shape_bias``,
    ``shape_bias/shape_fraction``, ``shape_bias/texture_fraction``; images
    ``shape_bias/examples`` labelled with the shape class, texture class and prediction.

    Example:
        >>> import keras
        >>> from keras_insight.callbacks.robustness import ShapeBias
        >>> from keras_insight.datasets import shapes
        >>> x, y, masks = shapes(24, size=16, spurious=1.0)
        >>> m = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten(),
        ...                       keras.layers.Dense(3, activation="softmax")])
        >>> m.compile("adam", "sparse_categorical_crossentropy")
        >>> _ = m.fit(x, y, epochs=1, verbose=0,
        ...           callbacks=[ShapeBias((x, y, masks), "/tmp/ki_doc")])
    """

    needs_classes = True

    def __init__(
        self,
        validation_data: Any = None,
        log_dir: str = "logs",
        *,
        num_samples: int = 64,
        num_images: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(validation_data, log_dir, num_samples=num_samples, **kwargs)
        self.num_images = int(num_images)
        self.last_report = None

    def validate(self) -> None:
        if self.probe_y is None or not self.probe_extra:
            raise ValueError(
                "ShapeBias needs validation_data=(x, y, masks) with object masks, e.g. "
                "keras_insight.datasets.shapes(n, spurious=1.0)."
            )

    def log(self, step: int) -> None:
        r = shape_bias(self.model, self.probe_x, self.probe_y, self.probe_extra[0], seed=self.seed)
        self.last_report = r
        for tag, value in r.scalars("shape_bias").items():
            self.writer.scalar(tag, value, step)
        k = min(self.num_images, len(r.images))
        if k:
            lo, hi = self.input_range
            # shape class, texture class, prediction: green when it follows the shape, red
            # when it follows the texture
            s, t, p = (np.asarray(a[:k]).astype(int).tolist()
                       for a in (r.shape_labels, r.texture_labels, r.predicted))  # fmt: skip
            labels = [f"s{s[i]} t{t[i]} p{p[i]}" for i in range(k)]
            colors = [RIGHT_COLOR if p[i] == s[i] else WRONG_COLOR if p[i] == t[i] else (0, 0, 0)
                      for i in range(k)]  # fmt: skip
            picture = grid_pages(
                to_uint8(r.images[:k], lo, hi), ncols=4, labels=labels, label_colors=colors
            )
            self.writer.image("shape_bias/examples", picture, step)
