"""Callbacks that show which pixels matter: GradCAM, Saliency and Occlusion.

Each one explains the same fixed probe images every ``freq`` epochs, writes heat-map
overlays labelled with the true and predicted class, and, when the validation data carry
object masks (``validation_data=(x, y, masks)``), logs the pointing-game score and the
fraction of map energy inside the object: the user watches the model learn to look at the
object, or at a spurious background.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from keras_insight import attribution as A
from keras_insight._config import logger
from keras_insight.callbacks.base import InsightCallback, head_kind, predicted_classes
from keras_insight.callbacks.probe import probe_pass
from keras_insight.core.introspection import default_spatial_layer, require_spatial, resolve_layer
from keras_insight.dashboard import summary as dashboard
from keras_insight.metrics import energy_in_mask, pointing_game
from keras_insight.render import grid_pages, normalize_minmax, overlay, to_uint8
from tensorboard_plugin_insight.metadata import INPUT_TAG, overlay_tag

_CAM_METHODS = {
    "grad_cam": A.grad_cam,
    "grad_cam_plus_plus": A.grad_cam_plus_plus,
    "score_cam": A.score_cam,
    "cam": A.cam,
}


class _ConstantMapCount(logging.Filter):
    """Count, and hold back, the methods' "N of M maps are constant" warnings in a block."""

    _PATTERN = re.compile(r"(\d+) of (\d+) maps are constant")

    def __init__(self) -> None:
        super().__init__()
        self.maps = self.total = 0

    def filter(self, record: logging.LogRecord) -> bool:
        found = self._PATTERN.search(record.getMessage())
        if found is None:
            return True
        self.maps += int(found.group(1))
        self.total += int(found.group(2))
        return False

    def __enter__(self) -> _ConstantMapCount:
        logger.addFilter(self)
        return self

    def __exit__(self, *exc) -> None:
        logger.removeFilter(self)


class _AttributionCallback(InsightCallback):
    """Shared logging: overlays with true/pred labels, pointing game, energy in mask."""

    def __init__(
        self,
        validation_data: Any = None,
        log_dir: str = "logs",
        *,
        target: str = "predicted",
        alpha: float = 0.5,
        cmap: str = "jet",
        **kwargs: Any,
    ) -> None:
        super().__init__(validation_data, log_dir, **kwargs)  # class_names: the base's
        if target not in ("predicted", "true"):
            raise ValueError(f"target must be 'predicted' or 'true', got {target!r}.")
        self.target = target
        self.constant_maps = 0  # maps that came out constant (all zeros), over every log
        self._constant_noted = False
        self.alpha = alpha
        self.cmap = cmap

    # subclasses: compute (N, H, W) maps for self.probe_x and these targets
    def maps(self, targets: np.ndarray) -> dict[str, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def _masks(self) -> np.ndarray | None:
        for extra in self.probe_extra:
            m = np.asarray(extra)
            if m.ndim == 4 and m.shape[-1] == 1:
                m = m[..., 0]
            if m.shape == self.probe_x.shape[:3]:
                return m.astype(bool)
        return None

    def validate(self) -> None:
        if self.target == "true" and self.probe_y is None:
            raise ValueError(
                f"{self.family}(target='true') needs labels: pass validation_data=(x, y)."
            )
        # one sigmoid unit: class 1 explains the logit, class 0 its negation (ClassTarget)
        self._head = head_kind(self.model)
        # the labels' predicted classes come from the suite's one forward pass
        probe_pass(self.model).register(self, self.probe_x)

    def _display(self) -> np.ndarray:
        lo, hi = self.input_range
        x = np.clip((self.probe_x - lo) / (hi - lo), 0.0, 1.0)
        return x[..., 0] if x.shape[-1] == 1 else x[..., :3]

    def log(self, step: int) -> None:
        probe_logits = probe_pass(self.model).outputs(self, step).logits
        predicted = predicted_classes(probe_logits)
        targets = (
            self.probe_y.astype(np.int32) if self.target == "true" else predicted.astype(np.int32)
        )
        if probe_logits.shape[-1] == 1 and self._head != "binary":
            targets = None  # one regression output: explain the output itself
        labels = [self.label_text(i, predicted, self.class_names) for i in range(len(self.probe_x))]
        colors = [self.label_color(i, predicted) for i in range(len(self.probe_x))]
        masks = self._masks()
        shown = self._display()
        with _ConstantMapCount() as constant:
            results = self.maps(targets)
        if constant.maps:
            self.constant_maps += constant.maps
            if not self._constant_noted:  # once per callback, not every epoch
                self._constant_noted = True
                logger.warning(
                    "%s: %d of %d maps at step %d are constant (all zeros): a dead target or "
                    "layer; later ones are counted in .constant_maps (silence with "
                    "logging.getLogger('keras_insight').setLevel(logging.ERROR)).",
                    self.family,
                    constant.maps,
                    constant.total,
                    step,
                )
        for tag, maps in results.items():
            pictures = overlay(shown, normalize_minmax(maps), alpha=self.alpha, cmap=self.cmap)
            # pages of 4 x 2 tiles, the samples of one tag: each reads in TensorBoard's
            # Time Series box (319 x 215 px) as well as on the Images tab's 350 px card
            picture = grid_pages(pictures, ncols=4, labels=labels, label_colors=colors)
            self.writer.image(f"{tag}/overlay", picture, step)
            dashboard.write_sample_images(self.writer, overlay_tag(tag), pictures, step)
            if masks is not None:
                self.writer.scalar(f"{tag}/pointing_game", pointing_game(maps, masks), step)
                self.writer.scalar(
                    f"{tag}/energy_in_mask", float(energy_in_mask(maps, masks).mean()), step
                )
        # The Insight dashboard's per-sample record (same probe set, no extra forward pass).
        dashboard.write_probe(self.writer, step, probe_logits, self.probe_y, self.class_names)
        if self._last_logged is None:  # first log of this fit: the inputs as shown
            dashboard.write_sample_images(self.writer, INPUT_TAG, to_uint8(shown), step)


class GradCAM(_AttributionCallback):
    """Log Grad-CAM (or Grad-CAM++ / Score-CAM / CAM) overlays of fixed validation images.

    Tags: ``gradcam/<method>/overlay`` (labelled with the true class, green when
    predicted right, "true → predicted" in red when wrong) and, when the
    validation data hold masks, ``gradcam/<method>/pointing_game`` and
    ``gradcam/<method>/energy_in_mask``.

    Args:
        validation_data: ``x``, ``(x, y)``, ``(x, y, masks)`` or a ``tf.data.Dataset``.
        log_dir: run directory (written under ``<log_dir>/insight/``). Default "logs".
        layer: the feature layer; default the last 4-D layer before the head.
        method: "grad_cam" (default), "grad_cam_plus_plus", "score_cam" or "cam".
        target: explain the "predicted" class (default) or the "true" one.
        alpha: overlay opacity, default 0.5. cmap: default "jet".
        class_names: optional names for the labels.
        **kwargs: ``freq=1, at_train_end=True, num_samples=16, seed=0, strict=False,
            input_range=None`` (see :class:`InsightCallback`).

    Example:
        >>> from keras_insight.datasets import shapes
        >>> from keras_insight.testing import small_cnn
        >>> x, y, masks = shapes(32, size=16)
        >>> m = small_cnn(num_classes=3); m.compile("adam", "sparse_categorical_crossentropy")
        >>> import tempfile; d = tempfile.mkdtemp()
        >>> _ = m.fit(x, y, epochs=1, verbose=0, callbacks=[GradCAM((x, y, masks), d, num_samples=4)])
    """

    needs_layers = True

    def __init__(
        self,
        validation_data: Any = None,
        log_dir: str = "logs",
        *,
        layer: Any = None,
        method: str = "grad_cam",
        **kwargs: Any,
    ) -> None:
        super().__init__(validation_data, log_dir, **kwargs)
        if method not in _CAM_METHODS:
            raise ValueError(
                f"Unknown CAM method {method!r}; choose one of {sorted(_CAM_METHODS)}."
            )
        self.layer = layer
        self.method = method
        self._layer_obj = None

    def validate(self) -> None:
        super().validate()
        if self.layer is None:
            self._layer_obj = default_spatial_layer(self.model, self.probe_x)
        else:
            self._layer_obj = resolve_layer(self.model, self.layer, self.probe_x)
            require_spatial(self.model, self._layer_obj, self.probe_x)

    def maps(self, targets: np.ndarray) -> dict[str, np.ndarray]:
        fn = _CAM_METHODS[self.method]
        return {
            f"gradcam/{self.method}": fn(self.model, self.probe_x, targets, layer=self._layer_obj)
        }


class Saliency(_AttributionCallback):
    """Log gradient saliency overlays for several methods of fixed validation images.

    Tags: ``saliency/<method>/overlay`` per method (and ``.../pointing_game``,
    ``.../energy_in_mask`` with masks).

    Args:
        validation_data, log_dir: as for :class:`GradCAM`.
        methods: any of ``keras_insight.attribution.METHODS`` and "integrated_gradients";
            default ("vanilla", "smoothgrad").
        n: SmoothGrad samples (default 25). steps: IG steps (default 32).
        target, alpha, cmap, class_names, **kwargs: as for :class:`GradCAM`.

    Example:
        >>> cb = Saliency(methods=["vanilla", "guided_backprop"])
    """

    def __init__(
        self,
        validation_data: Any = None,
        log_dir: str = "logs",
        *,
        methods: Sequence[str] = ("vanilla", "smoothgrad"),
        n: int = 25,
        steps: int = 32,
        **kwargs: Any,
    ) -> None:
        super().__init__(validation_data, log_dir, **kwargs)
        methods = [methods] if isinstance(methods, str) else list(methods)
        valid = set(A.METHODS) | {"integrated_gradients"}
        bad = [m for m in methods if m not in valid]
        if bad or not methods:
            raise ValueError(f"Unknown saliency methods {bad}; choose from {sorted(valid)}.")
        self.methods = methods
        self.n = int(n)
        self.steps = int(steps)

    def maps(self, targets: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for method in self.methods:
            if method == "integrated_gradients":
                m = A.integrated_gradients(
                    self.model, self.probe_x, targets, steps=self.steps, reduce="max_abs"
                )
            else:
                m = A.saliency(
                    self.model, self.probe_x, targets, method=method, n=self.n, seed=self.seed
                )
            out[f"saliency/{method}"] = m
        return out


class Occlusion(_AttributionCallback):
    """Log occlusion-sensitivity overlays of fixed validation images.

    Tags: ``occlusion/overlay`` (and ``occlusion/pointing_game``,
    ``occlusion/energy_in_mask`` with masks).

    Args:
        validation_data, log_dir: as for :class:`GradCAM`.
        patch: patch size in pixels (default 8). stride: default 4.
        baseline: fill value in input units, "mean" or "blur" (default 0.0).
        score: "logit" (default) or "probability".
        target, alpha, cmap, class_names, **kwargs: as for :class:`GradCAM`.

    Example:
        >>> cb = Occlusion(patch=4, stride=2, score="probability")
    """

    def __init__(
        self,
        validation_data: Any = None,
        log_dir: str = "logs",
        *,
        patch: int = 8,
        stride: int = 4,
        baseline: Any = 0.0,
        score: str = "logit",
        **kwargs: Any,
    ) -> None:
        super().__init__(validation_data, log_dir, **kwargs)
        if score not in ("logit", "probability"):
            raise ValueError(f"score must be 'logit' or 'probability', got {score!r}.")
        self.patch, self.stride, self.baseline, self.score = patch, stride, baseline, score

    def maps(self, targets: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "occlusion": A.occlusion(
                self.model,
                self.probe_x,
                targets,
                patch=self.patch,
                stride=self.stride,
                baseline=self.baseline,
                score=self.score,
            )
        }


__all__ = ["GradCAM", "Occlusion", "Saliency"]
