"""Confusion matrix, per-class and per-group accuracy, and linear probes of layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from keras_insight.core.engine import logits as _logits
from keras_insight.core.features import features as _features
from keras_insight.core.input_range import as_float32
from keras_insight.core.introspection import resolve_layer
from keras_insight.core.targets import class_indices
from keras_insight.core.validation import check_images

__all__ = ["confusion_matrix", "group_accuracy", "linear_probe", "per_class_accuracy"]


def _labels(y: Any, n: int, name: str = "y") -> np.ndarray:
    return class_indices(y, n, what=name).astype(np.int64)


def confusion_from_labels(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """``C[i, j]`` = number of samples of true class ``i`` predicted as ``j`` (int64)."""
    yt = _labels(y_true, len(np.asarray(y_true)), "y_true")
    yp = _labels(y_pred, len(yt), "y_pred")
    k = int(num_classes or max(yt.max(initial=0), yp.max(initial=0)) + 1)
    if yt.min(initial=0) < 0 or yt.max(initial=0) >= k or yp.max(initial=0) >= k:
        raise ValueError(f"labels must lie in 0..{k - 1}.")
    return np.bincount(yt * k + yp, minlength=k * k).reshape(k, k).astype(np.int64)


def confusion_matrix(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    num_classes: int | None = None,
    batch_size: int = 256,
    output: int | str | None = None,
) -> np.ndarray:
    """Confusion matrix of the model's arg-max predictions: rows true, columns predicted.

    ``C[i, j] = #{n : y_n = i, argmax_c f_c(x_n) = j}`` (int64, ``K x K`` with ``K`` the
    number of model outputs unless ``num_classes`` is given). ``output`` picks the head of
    a multi-output model (index or layer name).

    Example:
        >>> from keras_insight.testing import small_cnn
        >>> import numpy as np
        >>> int(confusion_matrix(small_cnn(), np.zeros((3, 16, 16, 3)), [0, 1, 2]).sum())
        3
    """
    check_images(model, x)
    x = as_float32(x, ndim=None)
    lg = _logits(model, x, batch_size=batch_size, output=output)
    yt = _labels(y, len(x))
    k = int(num_classes or lg.shape[-1])
    return confusion_from_labels(yt, lg.argmax(-1), k)


def per_class_accuracy(cm: Any) -> tuple[np.ndarray, np.ndarray]:
    """Recall per class ``C[i, i] / sum_j C[i, j]`` and the class counts.

    Classes without samples get accuracy 0 and count 0 (never NaN): check the counts.
    """
    cm = np.asarray(cm)
    counts = cm.sum(1)
    acc = np.divide(np.diag(cm), counts, out=np.zeros(len(cm)), where=counts > 0)
    return acc.astype(np.float32), counts.astype(np.int64)


def group_accuracy(y_true: Any, y_pred: Any, groups: Any) -> dict[Any, float]:
    """Accuracy within each group (e.g. region, background): ``{group: accuracy}``.

    Exposes a model that is accurate on average but fails on one sub-population.
    """
    yt = _labels(y_true, len(np.asarray(y_true)), "y_true")
    yp = _labels(y_pred, len(yt), "y_pred")
    g = np.asarray(groups).reshape(-1)
    if len(g) != len(yt):
        raise ValueError(f"groups has {len(g)} entries for {len(yt)} samples.")
    return {
        (gv.item() if hasattr(gv, "item") else gv): float((yt[g == gv] == yp[g == gv]).mean())
        for gv in np.unique(g)
    }


def linear_probe(
    model: keras.Model,
    x: Any,
    y: Any,
    layers: Sequence[str | int | keras.layers.Layer] | None = None,
    *,
    x_test: Any = None,
    y_test: Any = None,
    test_fraction: float = 0.3,
    pool: str = "avg",
    C: float = 1.0,
    max_iter: int = 300,
    seed: int = 0,
) -> dict[str, float]:
    """Held-out accuracy of a logistic regression on each layer's (pooled) features.

    ``acc_l = mean(argmax(W phi_l(x) + b) == y)`` on a test split, with ``phi_l`` the
    standardised global-average-pooled activations (Alain & Bengio 2016, "linear
    classifier probes"; Yosinski et al. 2014 on transferability). Default layers: every
    spatial layer plus the feature layer before the classifier.

    Example:
        >>> from keras_insight.testing import small_cnn
        >>> import numpy as np
        >>> x = np.random.rand(40, 16, 16, 3); y = np.arange(40) % 2
        >>> sorted(linear_probe(small_cnn(), x, y, ["conv1", "conv2"]))
        ['conv1', 'conv2']
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from keras_insight.core.introspection import default_feature_layer, spatial_layers

    check_images(model, x)
    x = as_float32(x, ndim=None)
    yv = _labels(y, len(x))
    if x_test is None:
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(x))
        n_test = max(1, int(round(test_fraction * len(x))))
        if len(x) - n_test < 2:
            raise ValueError(
                f"linear_probe needs more samples than {len(x)} to split off a test set."
            )
        te, tr = perm[:n_test], perm[n_test:]
        x_tr, y_tr, x_te, y_te = x[tr], yv[tr], x[te], yv[te]
    else:
        x_tr, y_tr = x, yv
        x_te = as_float32(x_test, ndim=None)
        y_te = _labels(y_test, len(x_te), "y_test")
    if len(np.unique(y_tr)) < 2:
        raise ValueError("linear_probe needs at least two classes in the training split.")
    if layers is None:
        layers = [p for p, _ in spatial_layers(model)] + [default_feature_layer(model)]
    out: dict[str, float] = {}
    for spec in layers:
        lyr = resolve_layer(model, spec)
        f_tr = _features(model, x_tr, lyr, pool=pool)
        f_te = _features(model, x_te, lyr, pool=pool)
        scaler = StandardScaler().fit(f_tr)
        clf = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
        clf.fit(scaler.transform(f_tr), y_tr)
        out[lyr.name] = float((clf.predict(scaler.transform(f_te)) == y_te).mean())
    return out
