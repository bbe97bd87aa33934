"""Image corruptions at CIFAR-10-C-like severities and the invariance report built on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from keras_insight._config import logger
from keras_insight.core.engine import forward_outputs
from keras_insight.core.input_range import as_float32, resolve_input_range
from keras_insight.core.introspection import default_feature_layer, is_subclassed, resolve_layer
from keras_insight.core.validation import check_images

TRANSFORMS = ("translate", "rotate", "scale", "brightness", "contrast", "noise", "blur")

#: magnitude per severity 0..5 (0 = identity). translate: fraction of the image side;
#: rotate: degrees; scale: |zoom - 1|; brightness: shift as a fraction of the input range;
#: contrast: 1 - contrast factor; noise: Gaussian std as a fraction of the range;
#: blur: Gaussian std in pixels.
SEVERITY_MAGNITUDES: dict[str, tuple[float, ...]] = {
    "translate": (0.0, 0.03, 0.06, 0.10, 0.15, 0.20),
    "rotate": (0.0, 5.0, 10.0, 15.0, 20.0, 30.0),
    "scale": (0.0, 0.05, 0.10, 0.15, 0.20, 0.30),
    "brightness": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
    "contrast": (0.0, 0.25, 0.4, 0.55, 0.7, 0.8),
    "noise": (0.0, 0.04, 0.06, 0.08, 0.09, 0.10),
    "blur": (0.0, 0.5, 0.75, 1.0, 1.5, 2.0),
}


def corruption_magnitude(kind: str, severity: int) -> float:
    """The magnitude :func:`corrupt` uses for ``kind`` at ``severity`` (0 = identity)."""
    check_transform(kind)
    if not isinstance(severity, (int, np.integer)) or not 0 <= severity <= 5:
        raise ValueError(f"severity must be an integer 0..5 (0 = identity), got {severity!r}.")
    return SEVERITY_MAGNITUDES[kind][int(severity)]


def check_transform(kind: str) -> None:
    """Raise a one-line ValueError unless ``kind`` is one of :data:`TRANSFORMS`."""
    if kind not in SEVERITY_MAGNITUDES:
        raise ValueError(f"Unknown corruption {kind!r}; choose from {TRANSFORMS}.")


def corrupt(
    images: Any,
    kind: str,
    severity: int | None = None,
    *,
    magnitude: float | None = None,
    seed: int = 0,
    input_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """Corrupt a batch of NHWC images; deterministic given ``seed``; output stays in range.

    Geometric kinds (translate, rotate, scale) warp each image about its centre (bilinear,
    edge pixels repeated) with a seeded per-image direction/sign; photometric kinds act on
    values: brightness x + m*(hi-lo), contrast mean + (1-m)(x - mean), noise x + N(0,
    (m*(hi-lo))^2), blur Gaussian(sigma=m px). Severities 1-5 follow CIFAR-10-C
    (Hendrycks & Dietterich 2019); magnitude 0 returns the input exactly. Give either
    ``severity`` (0-5) or ``magnitude`` (see :data:`SEVERITY_MAGNITUDES`).

    Example:
        >>> import numpy as np
        >>> x = np.full((2, 8, 8, 1), 0.5, "float32")
        >>> bool(np.array_equal(corrupt(x, "rotate", 0), x))
        True
        >>> round(float(corrupt(x, "brightness", 2, input_range=(0, 1)).max()), 6)
        0.7
    """
    check_transform(kind)
    x = as_float32(images, ndim=4, name="images")
    lo, hi = resolve_input_range(input_range, x, what="corrupt")
    if magnitude is None:
        if severity is None:
            raise ValueError("Give severity=1..5 (or magnitude=...).")
        m = corruption_magnitude(kind, severity)
    else:
        m = float(magnitude)
        if not np.isfinite(m) or m < 0:
            raise ValueError(f"magnitude must be >= 0, got {magnitude}.")
    if m == 0:
        return x.copy()
    rng = np.random.default_rng([int(seed), TRANSFORMS.index(kind)])
    n, h, w, _ = x.shape
    width = hi - lo
    if kind in ("translate", "rotate", "scale"):
        if kind == "translate":
            angle = rng.uniform(0, 2 * np.pi, n)
            shift = m * np.array([w, h])[None, :] * np.stack([np.cos(angle), np.sin(angle)], 1)
            out = _warp(x, np.zeros(n), np.ones(n), shift)
        elif kind == "rotate":
            sign = rng.choice([-1.0, 1.0], n)
            out = _warp(x, np.deg2rad(m) * sign, np.ones(n), np.zeros((n, 2)))
        else:
            sign = rng.choice([-1.0, 1.0], n)
            out = _warp(x, np.zeros(n), 1.0 + m * sign, np.zeros((n, 2)))
    elif kind == "brightness":
        out = x + m * width
    elif kind == "contrast":
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        out = mean + (1.0 - m) * (x - mean)
    elif kind == "noise":
        out = x + (m * width) * rng.standard_normal(x.shape).astype(np.float32)
    else:
        from scipy.ndimage import gaussian_filter

        out = gaussian_filter(x, sigma=(0, m, m, 0), mode="reflect", truncate=3.0)
    return np.clip(out, lo, hi).astype(np.float32)


def _warp(x: np.ndarray, theta: np.ndarray, zoom: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Rotate by theta, zoom and shift (pixels) about the centre; batched, one op."""
    from keras_insight.render.geometry import affine_warp

    out = affine_warp(x, theta, zoom, shift, fill_mode="nearest")
    return np.asarray(out.numpy(), np.float32)


@dataclass
class InvarianceReport:
    """Result of :func:`invariance_report`: per transform, arrays over severities.

    ``accuracy`` (None without labels), ``flip_rate`` (prediction differs from the clean
    prediction), ``feature_cosine`` (mean cosine similarity of features to the clean ones;
    None when the model has no feature layer).
    """

    severities: tuple[int, ...]
    clean_accuracy: float | None
    accuracy: dict[str, np.ndarray] = field(default_factory=dict)
    flip_rate: dict[str, np.ndarray] = field(default_factory=dict)
    feature_cosine: dict[str, np.ndarray] = field(default_factory=dict)
    magnitudes: dict[str, np.ndarray] = field(default_factory=dict)

    def scalars(self, prefix: str = "invariance") -> dict[str, float]:
        """``{<prefix>/<transform>/acc_s<k> | flip_s<k> | cos_s<k>: value}``."""
        out: dict[str, float] = {}
        for t in self.flip_rate:
            for i, s in enumerate(self.severities):
                if self.accuracy.get(t) is not None:
                    out[f"{prefix}/{t}/acc_s{s}"] = float(self.accuracy[t][i])
                out[f"{prefix}/{t}/flip_s{s}"] = float(self.flip_rate[t][i])
                if self.feature_cosine.get(t) is not None:
                    out[f"{prefix}/{t}/cos_s{s}"] = float(self.feature_cosine[t][i])
        if self.clean_accuracy is not None:
            out[f"{prefix}/clean_accuracy"] = self.clean_accuracy
        return out

    def figure(self):
        """One matplotlib figure: accuracy (or 1 - flip rate), flip rate and cosine vs severity
        (drawn by :func:`keras_insight.render.invariance_figure` with the user's pyplot)."""
        from keras_insight.render.plots import invariance_figure

        return invariance_figure(self)


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    both_zero = (na == 0) & (nb == 0)
    cos = (a * b).sum(1) / np.maximum(na * nb, 1e-30)
    return np.where(both_zero, 1.0, np.where((na == 0) | (nb == 0), 0.0, cos))


def invariance_report(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    transforms: Any = TRANSFORMS,
    severities: Any = (1, 2, 3, 4, 5),
    seed: int = 0,
    input_range: tuple[float, float] | None = None,
    feature_layer: Any = None,
    output: int | str | None = None,
    batch_size: int = 256,
) -> InvarianceReport:
    """Accuracy, prediction-flip rate and feature cosine under each corruption and severity.

    flip(t, s) = mean_i [argmax f(c_{t,s}(x_i)) != argmax f(x_i)];
    cos(t, s) = mean_i cos(phi(c_{t,s}(x_i)), phi(x_i)) with phi the (pooled) features of
    the layer before the classifier (or ``feature_layer``). CNNs tolerate the variation
    they were trained on (the lecture notes' invariance lesson).

    Example:
        >>> import numpy as np
        >>> from keras_insight.testing import small_cnn
        >>> x = np.random.default_rng(0).uniform(size=(4, 16, 16, 3)).astype("float32")
        >>> r = invariance_report(small_cnn(), x, [0, 1, 2, 3], transforms=("noise",), severities=(1,))
        >>> sorted(r.scalars())[:2]
        ['invariance/clean_accuracy', 'invariance/noise/acc_s1']
    """
    check_images(model, x)
    x = as_float32(x, ndim=4)
    lo, hi = resolve_input_range(input_range, x, what="invariance_report")
    if isinstance(transforms, str):
        transforms = (transforms,)
    for t in transforms:
        check_transform(t)
    severities = tuple(int(s) for s in severities)
    for s in severities:
        corruption_magnitude("noise", s)
    labels = None
    if y is not None:
        from keras_insight.core.targets import class_indices

        labels = class_indices(y, len(x), what="Labels")
    layer = None
    if not is_subclassed(model):
        layer = (
            default_feature_layer(model, output)
            if feature_layer is None
            else resolve_layer(model, feature_layer)
        )
    else:
        logger.info(
            "invariance_report: model %r is subclassed; feature cosine is skipped.", model.name
        )

    def run(batch):
        acts, z = forward_outputs(
            model, batch, [layer] if layer is not None else [], output=output, batch_size=batch_size
        )
        feats = acts[0] if acts else None
        if feats is not None and feats.ndim == 4:
            feats = feats.mean(axis=(1, 2))
        pred = (z[:, 0] > 0).astype(np.int64) if z.shape[-1] == 1 else z.argmax(-1)
        return pred, feats, z.shape[-1]

    clean_pred, clean_feat, k_out = run(x)
    if labels is not None and labels.size and labels.max() >= max(2, k_out):
        raise ValueError(
            f"Label {int(labels.max())} is out of range: the model has {max(2, k_out)} classes."
        )
    report = InvarianceReport(
        severities=severities,
        clean_accuracy=float((clean_pred == labels).mean()) if labels is not None else None,
    )
    # all (transform, severity) variants in one batched forward pass
    variants = [(t, s) for t in transforms for s in severities]
    stack = np.concatenate([corrupt(x, t, s, seed=seed, input_range=(lo, hi)) for t, s in variants])
    pred, feat, _ = run(stack)
    n = len(x)
    for t in transforms:
        acc, flip, cos, mags = [], [], [], []
        for s in severities:
            k = variants.index((t, s))
            p = pred[k * n : (k + 1) * n]
            flip.append((p != clean_pred).mean())
            if labels is not None:
                acc.append((p == labels).mean())
            if feat is not None:
                cos.append(_cosine(feat[k * n : (k + 1) * n], clean_feat).mean())
            mags.append(SEVERITY_MAGNITUDES[t][s])
        report.flip_rate[t] = np.asarray(flip, np.float32)
        report.accuracy[t] = np.asarray(acc, np.float32) if labels is not None else None
        report.feature_cosine[t] = np.asarray(cos, np.float32) if feat is not None else None
        report.magnitudes[t] = np.asarray(mags, np.float32)
    return report
