"""Quality of explanations: deletion/insertion AUC, pointing game, energy in mask, and the
model-randomisation sanity check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from scipy.integrate import trapezoid  # np.trapezoid needs numpy 2 (TF 2.16/2.17: < 2)

from keras_insight.attribution._common import (
    baseline_array,
    prepare_images,
    resolved_targets,
)
from keras_insight.core.engine import compiled, get_forward, run_batched


def _maps_for(x: np.ndarray, maps: Any) -> np.ndarray:
    m = np.asarray(maps, dtype=np.float32)
    if m.ndim == 4:
        m = m.sum(axis=-1) if m.shape[-1] > 1 else m[..., 0]
    if m.shape != x.shape[:3]:
        raise ValueError(f"maps of shape {m.shape} do not match the images {x.shape[:3]}.")
    if not np.isfinite(m).all():
        raise ValueError("maps contain NaN or infinite values.")
    return m


def _curve(
    model, x, maps, targets, *, steps, baseline, insertion, output, batch_size
) -> np.ndarray:
    x = prepare_images(x)
    maps = _maps_for(x, maps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}.")
    n, h, w = maps.shape
    base = baseline_array(baseline, x)
    target, idx = resolved_targets(model, x, targets, output=output, batch_size=batch_size)
    # rank pixels by the map (descending; ties broken by position, stable)
    order = np.argsort(-maps.reshape(n, -1), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(h * w)[None].repeat(n, 0), axis=1)
    counts = np.round(np.linspace(0, h * w, steps + 1)).astype(np.int64)  # pixels removed
    fwd = get_forward(model, (), output=output)

    def fn(xb, bb, rb, cb, ib):
        # (b, H, W, C), rank (b, H, W), counts (s,) -> (b*s) perturbed images in-graph
        gone = tf.cast(rb[:, None] < cb[None, :, None, None], tf.float32)[..., None]
        if insertion:
            gone = 1.0 - gone
        pert = xb[:, None] * (1.0 - gone) + bb[:, None] * gone
        pert = tf.reshape(pert, tf.concat([[-1], tf.shape(xb)[1:]], 0))
        _, logits = fwd(pert)
        probs = tf.nn.softmax(tf.cast(logits, tf.float32), -1)
        rep = tf.repeat(ib, tf.shape(cb)[0])
        return tf.reshape(tf.gather(probs, rep, axis=-1, batch_dims=1), [tf.shape(xb)[0], -1])

    sig = [
        tf.TensorSpec((None,) + x.shape[1:], tf.float32),
        tf.TensorSpec((None,) + x.shape[1:], tf.float32),
        tf.TensorSpec((None,) + x.shape[1:3], tf.int32),
        tf.TensorSpec((None,), tf.int32),
        tf.TensorSpec((None,), tf.int32),
    ]
    f = compiled(model, ("metrics.curve", fwd.key, insertion, x.shape[1:]), fn, sig)
    rank = rank.reshape(n, h, w).astype(np.int32)
    cts = tf.constant(counts.astype(np.int32))
    curves = run_batched(
        lambda xb, bb, rb, ib: f(xb, bb, rb, cts, ib),
        x,
        base,
        rank,
        idx,
        batch_size=batch_size,
        per_row=steps + 1,
    )
    return curves.astype(np.float32)


def _auc(curves: np.ndarray) -> np.ndarray:
    frac = np.linspace(0.0, 1.0, curves.shape[1])
    return trapezoid(curves, frac, axis=1).astype(np.float32)


def deletion_auc(
    model: keras.Model,
    x: Any,
    maps: Any,
    targets: Any = None,
    *,
    steps: int = 32,
    baseline: Any = 0.0,
    return_curves: bool = False,
    output: int | str | None = None,
    batch_size: int | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Deletion AUC (Petsiuk et al. 2018, RISE): remove pixels (all channels, set to the
    baseline) in decreasing order of the map and integrate the softmax probability of the
    target over the fraction removed (trapezoid rule). Lower = a more faithful map.

    Returns (N,) AUCs (and (N, steps+1) curves with ``return_curves=True``).

    Example:
        >>> from keras_insight.testing import linear_model
        >>> import numpy as np
        >>> x = np.random.rand(2, 6, 6, 2).astype("float32")
        >>> deletion_auc(linear_model(), x, np.random.rand(2, 6, 6), 0, steps=6).shape
        (2,)
    """
    c = _curve(
        model,
        x,
        maps,
        targets,
        steps=steps,
        baseline=baseline,
        insertion=False,
        output=output,
        batch_size=batch_size,
    )
    return (_auc(c), c) if return_curves else _auc(c)


def insertion_auc(
    model: keras.Model,
    x: Any,
    maps: Any,
    targets: Any = None,
    *,
    steps: int = 32,
    baseline: Any = "blur",
    return_curves: bool = False,
    output: int | str | None = None,
    batch_size: int | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Insertion AUC (Petsiuk et al. 2018): start from the baseline (default a blurred
    copy), insert pixels in decreasing order of the map, integrate the softmax probability
    of the target over the fraction inserted. Higher = a more faithful map.

    Example:
        >>> from keras_insight.testing import linear_model
        >>> import numpy as np
        >>> x = np.random.rand(1, 6, 6, 2).astype("float32")
        >>> insertion_auc(linear_model(), x, np.random.rand(1, 6, 6), 0, steps=4).shape
        (1,)
    """
    c = _curve(
        model,
        x,
        maps,
        targets,
        steps=steps,
        baseline=baseline,
        insertion=True,
        output=output,
        batch_size=batch_size,
    )
    return (_auc(c), c) if return_curves else _auc(c)


def _masks_for(maps: np.ndarray, masks: Any) -> np.ndarray:
    mk = np.asarray(masks)
    if mk.ndim == 4 and mk.shape[-1] == 1:
        mk = mk[..., 0]
    if mk.shape != maps.shape:
        raise ValueError(
            f"masks of shape {mk.shape} do not match maps {maps.shape}; give one (H, W) mask per map."
        )
    return mk.astype(bool)


def pointing_game(maps: Any, masks: Any, *, per_sample: bool = False) -> float | np.ndarray:
    """Pointing game (Zhang et al. 2016): a hit when the map's peak (first argmax in
    row-major order) lies inside the object mask. Returns the hit rate, or (N,) bool hits.
    A constant map (no peak, e.g. all zeros) counts as a miss.

    Example:
        >>> import numpy as np
        >>> maps = np.zeros((2, 4, 4)); maps[0, 1, 1] = 1; maps[1, 3, 3] = 1
        >>> masks = np.zeros((2, 4, 4), bool); masks[:, :2, :2] = True
        >>> pointing_game(maps, masks)
        0.5
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (N, H, W), got shape {maps.shape}.")
    mk = _masks_for(maps, masks)
    if maps.shape[0] == 0:
        return np.zeros((0,), bool) if per_sample else float("nan")
    flat = maps.reshape(len(maps), -1)
    peak = flat.argmax(axis=1)
    hits = mk.reshape(len(maps), -1)[np.arange(len(maps)), peak] & (flat.max(1) > flat.min(1))
    return hits if per_sample else float(hits.mean())


def energy_in_mask(maps: Any, masks: Any) -> np.ndarray:
    """(N,) fraction of the positive map energy inside the mask: sum_mask ReLU(m) / sum ReLU(m)
    (0 for an all-zero map, never NaN).

    Example:
        >>> import numpy as np
        >>> energy_in_mask(np.ones((1, 2, 2)), np.array([[[True, False], [False, False]]])).tolist()
        [0.25]
    """
    maps = np.maximum(np.asarray(maps, dtype=np.float64), 0.0)
    mk = _masks_for(maps, masks)
    total = maps.reshape(len(maps), -1).sum(1)
    inside = (maps * mk).reshape(len(maps), -1).sum(1)
    return np.where(total > 0, inside / np.where(total > 0, total, 1.0), 0.0).astype(np.float32)


def _spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    ra = rankdata(a.reshape(len(a), -1), axis=1)
    rb = rankdata(b.reshape(len(b), -1), axis=1)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    den = np.sqrt((ra * ra).sum(1) * (rb * rb).sum(1))
    return np.where(den > 0, (ra * rb).sum(1) / np.where(den > 0, den, 1.0), 0.0)


def _method_fn(method: str | Callable) -> Callable:
    if callable(method):
        return method
    from keras_insight import attribution as A

    table: dict[str, Callable] = {
        "grad_cam": A.grad_cam,
        "grad_cam_plus_plus": A.grad_cam_plus_plus,
        "score_cam": A.score_cam,
        "guided_grad_cam": A.guided_grad_cam,
        "integrated_gradients": lambda m, x, t, **kw: A.integrated_gradients(
            m, x, t, reduce="max_abs", **kw
        ),
        "occlusion": A.occlusion,
    }
    for name in A.METHODS:
        table[name] = lambda m, x, t, _n=name, **kw: A.saliency(m, x, t, method=_n, **kw)
    table["gradient"] = table["vanilla"]
    if method not in table:
        raise ValueError(
            f"Unknown method {method!r}; choose one of {sorted(table)} or pass a callable."
        )
    return table[method]


def _reinit(layer: keras.layers.Layer, rng: np.random.Generator) -> None:
    for v in layer.trainable_weights:
        shape = tuple(v.shape)
        if len(shape) >= 2:  # kernels: Glorot uniform
            rf = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
            fan_in, fan_out = shape[-2] * rf, shape[-1] * rf
            lim = np.sqrt(6.0 / (fan_in + fan_out))
            v.assign(rng.uniform(-lim, lim, shape).astype(v.dtype))
        else:  # biases, BatchNorm scales/offsets: small noise around the defaults
            v.assign((v.numpy() * 0 + rng.normal(0, 0.05, shape)).astype(v.dtype))


def sanity_check(
    model: keras.Model,
    x: Any,
    method: str | Callable = "vanilla",
    targets: Any = None,
    *,
    layers: list[str] | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """Model-randomisation sanity check (Adebayo et al. 2018).

    Re-initialises the layers with weights from the top (output) down, cumulatively, on a
    clone, and after each step reports the mean Spearman rank correlation between the maps
    of the trained and of the randomised model (explaining the class the trained model
    predicts). A method that explains the model must drop towards 0; guided backprop
    famously does not.

    Returns ``{"layers": [names re-initialised, cumulative], "spearman": (L,) mean,
    "per_sample": (L, N)}``. ``method`` is a name ("vanilla", "grad_cam", ...) or a
    callable ``(model, x, targets, **kw) -> maps``. The user's model is not modified.

    Example:
        >>> from keras_insight.testing import small_cnn
        >>> import numpy as np
        >>> r = sanity_check(small_cnn(), np.random.rand(2, 16, 16, 3), "vanilla")
        >>> r["layers"][-1]
        'conv1'
    """
    fn = _method_fn(method)
    x = prepare_images(x)
    target, idx = resolved_targets(model, x, targets, batch_size=batch_size)
    from keras_insight.core.targets import ClassTarget

    t = idx if isinstance(target, ClassTarget) else target
    ref = fn(model, x, t, **kw)
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    from keras_insight.core.introspection import iter_layers

    weighted = [
        (p, lyr)
        for p, lyr in iter_layers(clone)
        if lyr.trainable_weights and not isinstance(lyr, keras.Model)
    ]
    if layers is not None:
        weighted = [(p, lyr) for p, lyr in weighted if p in layers or lyr.name in layers]
    rng = np.random.default_rng(seed)
    names, rhos = [], []
    for path, lyr in reversed(weighted):
        _reinit(lyr, rng)
        maps = fn(clone, x, t, **kw)
        names.append(path)
        rhos.append(_spearman(np.asarray(ref), np.asarray(maps)))
    per = np.array(rhos, np.float32).reshape(len(names), len(x))
    return {"layers": names, "spearman": per.mean(axis=1), "per_sample": per}


__all__ = ["deletion_auc", "energy_in_mask", "insertion_auc", "pointing_game", "sanity_check"]
