"""Receptive fields of conv units and the dataset patches that excite a channel most."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import keras
import numpy as np
import tensorflow as tf

from keras_insight.core.engine import compiled, get_forward, run_batched, score_and_gradients
from keras_insight.core.input_range import as_float32
from keras_insight.core.introspection import (
    input_shape,
    iter_layers,
    layer_output_shapes,
    require_spatial,
    resolve_layer,
)
from keras_insight.core.targets import Target
from keras_insight.core.validation import check_images

__all__ = [
    "PatchResult",
    "ReceptiveField",
    "max_activating_patches",
    "receptive_field",
    "unit_projections",
]

_CONV = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
_POOL = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
_UNSUPPORTED = (keras.layers.Conv2DTranspose, keras.layers.UpSampling2D, keras.layers.Resizing)


class ReceptiveField(NamedTuple):
    """Receptive field of the units of one layer, per axis ``(y, x)``.

    ``size``: field side ``r``; ``jump``: input pixels between neighbouring units ``J``;
    ``start``: input coordinate of the centre of unit 0 (may be negative or half-integer);
    ``out_shape``: the layer's spatial size. Unit ``i`` covers input rows
    ``[start + i*J - (r-1)/2, start + i*J + (r-1)/2]`` (before clipping to the image).
    """

    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[float, float]
    out_shape: tuple[int, int]
    in_shape: tuple[int, int]

    def box(self, y: int, x: int, *, clip: bool = True) -> tuple[int, int, int, int]:
        """Half-open input box ``(y0, y1, x0, x1)`` of unit ``(y, x)``, clipped to the image."""
        out = []
        for axis, u in enumerate((y, x)):
            lo = int(round(self.start[axis] + u * self.jump[axis] - (self.size[axis] - 1) / 2))
            hi = lo + self.size[axis]
            if clip:
                lo, hi = max(lo, 0), min(hi, self.in_shape[axis])
            out += [lo, hi]
        return out[0], out[1], out[2], out[3]


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    return (int(v[0]), int(v[1]))


def _pad_pairs(v: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    if isinstance(v, int):
        return ((v, v), (v, v))
    a, b = v
    a = (a, a) if isinstance(a, int) else tuple(a)
    b = (b, b) if isinstance(b, int) else tuple(b)
    return (int(a[0]), int(a[1])), (int(b[0]), int(b[1]))


def receptive_field(
    model: keras.Model, layer: str | int | keras.layers.Layer, x: Any = None
) -> ReceptiveField:
    """Receptive field size, jump and centre offset of ``layer``'s units, per axis.

    ``r_L = 1 + sum_l (k_l - 1) d_l prod_{m<l} s_m``, ``J_L = prod_l s_l``, centre
    ``c_L = c_{L-1} + ((k_eff - 1)/2 - p_before) J_{L-1}`` with ``k_eff = d (k - 1) + 1`` and
    TensorFlow's "same" padding ``p_before = floor(max((ceil(n/s) - 1) s + k_eff - n, 0) / 2)``
    (Araujo et al. 2019, "Computing receptive fields of CNNs"). Conv2D, depthwise and
    separable convs, max/average pooling, ZeroPadding2D and Cropping2D change the field;
    element-wise layers do not. Layers are walked in model order (a single chain).

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Conv2D(1, 3, name="a"),
        ...     keras.layers.MaxPooling2D(2), keras.layers.Conv2D(1, 3, name="b")])
        >>> receptive_field(m, "b").size
        (8, 8)
    """
    target = resolve_layer(model, layer)
    require_spatial(model, target, x)
    shape = input_shape(model, x)
    if len(shape) != 3:
        raise ValueError(f"receptive_field needs an image model (H, W, C) input, got {shape}.")
    n = [int(shape[0]), int(shape[1])]
    size, jump, start = [1, 1], [1, 1], [0.0, 0.0]
    for _, lyr in iter_layers(model):
        if isinstance(lyr, keras.Model):
            continue
        if isinstance(lyr, _UNSUPPORTED):
            raise NotImplementedError(
                f"receptive_field does not handle {type(lyr).__name__} ({lyr.name!r}) before the "
                "target layer: upsampling makes the field non-uniform."
            )
        if isinstance(lyr, _CONV) or isinstance(lyr, _POOL):
            if isinstance(lyr, _CONV):
                k, s, d = _pair(lyr.kernel_size), _pair(lyr.strides), _pair(lyr.dilation_rate)
            else:
                k, s, d = _pair(lyr.pool_size), _pair(lyr.strides or lyr.pool_size), (1, 1)
            for a in range(2):
                keff = d[a] * (k[a] - 1) + 1
                if lyr.padding == "same":
                    out = math.ceil(n[a] / s[a])
                    before = max((out - 1) * s[a] + keff - n[a], 0) // 2
                elif lyr.padding == "valid":
                    out = (n[a] - keff) // s[a] + 1
                    before = 0
                else:
                    raise NotImplementedError(f"padding={lyr.padding!r} in {lyr.name!r}")
                start[a] += ((keff - 1) / 2 - before) * jump[a]
                size[a] += (keff - 1) * jump[a]
                jump[a] *= s[a]
                n[a] = out
        elif isinstance(lyr, keras.layers.ZeroPadding2D):
            for a, (before, after) in enumerate(_pad_pairs(lyr.padding)):
                start[a] -= before * jump[a]
                n[a] += before + after
        elif isinstance(lyr, keras.layers.Cropping2D):
            for a, (before, after) in enumerate(_pad_pairs(lyr.cropping)):
                start[a] += before * jump[a]
                n[a] -= before + after
        if lyr is target:
            return ReceptiveField(
                (size[0], size[1]),
                (jump[0], jump[1]),
                (start[0], start[1]),
                (n[0], n[1]),
                (int(shape[0]), int(shape[1])),
            )
    raise ValueError(f"Layer {target.name!r} was not reached walking model {model.name!r}.")


class PatchResult(NamedTuple):
    """Top-k units per channel over a data set (see :func:`max_activating_patches`)."""

    channels: np.ndarray  # (C,) channel ids
    values: np.ndarray  # (C, k) float32, descending
    indices: np.ndarray  # (C, k) int64 sample index in the stream
    positions: np.ndarray  # (C, k, 2) int64 (y, x) of the unit in the layer's map
    boxes: np.ndarray  # (C, k, 4) int64 clipped input boxes (y0, y1, x0, x1), half-open
    patches: np.ndarray  # (C, k, r_y, r_x, C_in) float32, ``fill`` outside the image
    field: ReceptiveField


def _batches(data: Any, batch_size: int) -> Iterable[np.ndarray]:
    if isinstance(data, (np.ndarray, list)) or (
        hasattr(data, "__array__") and not isinstance(data, tf.data.Dataset)
    ):
        arr = as_float32(data, ndim=4, name="data")
        for s in range(0, len(arr), batch_size):
            yield arr[s : s + batch_size]
        return
    for item in data:
        xb = item[0] if isinstance(item, (tuple, list)) else item
        if isinstance(xb, dict):
            raise TypeError("max_activating_patches needs image batches, not dicts.")
        yield as_float32(np.asarray(xb), ndim=4, name="data batch")


def max_activating_patches(
    model: keras.Model,
    data: Any,
    layer: str | int | keras.layers.Layer,
    channels: Sequence[int] | int | None = None,
    k: int = 9,
    *,
    batch_size: int = 256,
    fill: float = 0.0,
    jit_compile: bool | str = "auto",
) -> PatchResult:
    """Stream ``data`` and keep, per channel, the k images whose strongest unit is largest.

    For each image and channel c the unit ``argmax_{(y,x)} A_c(y, x)`` is recorded; a running
    top-k over images (ties: earlier image first) keeps the value, position and the crop of
    its receptive field (Zeiler & Fergus 2014). Memory is ``O(C k r^2)``, independent of the
    data set size. ``data``: an (N, H, W, C) array or an iterable / ``tf.data.Dataset`` of
    batches (``x`` or ``(x, y, ...)``).

    Example:
        >>> import keras, numpy as np
        >>> from keras_insight.testing import small_cnn
        >>> r = max_activating_patches(small_cnn(), np.random.rand(20, 16, 16, 3), "conv2", [0, 1], k=3)
        >>> r.patches.shape
        (2, 3, 8, 8, 3)
    """
    check_images(model, data, name="data")
    lyr = resolve_layer(model, layer)
    require_spatial(model, lyr)
    field = receptive_field(model, lyr)
    n_ch = int(layer_output_shapes(model)[id(lyr)][-1])
    if channels is None:
        channels = list(range(n_ch))
    elif isinstance(channels, int):
        channels = [channels]
    ch = np.asarray(list(channels), np.int64)
    if ch.size == 0 or ch.min() < 0 or ch.max() >= n_ch:
        raise ValueError(
            f"channels must be in 0..{n_ch - 1} for layer {lyr.name!r}, got {list(channels)}."
        )
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}.")
    fwd = get_forward(model, (lyr,), linear_head=False)
    ch_t = tf.constant(ch, tf.int32)
    hw = field.out_shape[0] * field.out_shape[1]
    ishape = input_shape(model)

    def fn(xb):
        acts, _ = fwd(xb)
        a = tf.gather(tf.cast(acts[0], tf.float32), ch_t, axis=-1)
        a = tf.reshape(a, [-1, hw, len(ch)])
        return tf.reduce_max(a, axis=1), tf.argmax(a, axis=1, output_type=tf.int32)

    key = ("max_patches", fwd.key, tuple(ch.tolist()), tuple(ishape))
    f = compiled(model, key, fn, [tf.TensorSpec((None, *ishape), tf.float32)], jit_compile)

    nc, (ry, rx) = len(ch), field.size
    cin = int(ishape[-1])
    vals = np.full((nc, k), -np.inf, np.float32)
    idx = np.full((nc, k), np.iinfo(np.int64).max, np.int64)
    pos = np.zeros((nc, k, 2), np.int64)
    patches = np.full((nc, k, ry, rx, cin), fill, np.float32)
    # padding that makes every unit's full (unclipped) field indexable
    y_lo0, y_hi_last = (
        field.box(0, 0, clip=False)[0],
        field.box(field.out_shape[0] - 1, 0, clip=False)[1],
    )
    x_lo0, x_hi_last = (
        field.box(0, 0, clip=False)[2],
        field.box(0, field.out_shape[1] - 1, clip=False)[3],
    )
    pad_y = (max(0, -y_lo0), max(0, y_hi_last - field.in_shape[0]))
    pad_x = (max(0, -x_lo0), max(0, x_hi_last - field.in_shape[1]))
    ar_y, ar_x = np.arange(ry), np.arange(rx)
    seen = 0
    for xb in _batches(data, batch_size):
        if tuple(xb.shape[1:]) != tuple(ishape):
            raise ValueError(
                f"data batches must be {tuple(ishape)} per sample, got {xb.shape[1:]}."
            )
        bv, bp = (t.numpy() for t in f(tf.constant(xb)))
        b = len(xb)
        cand_v = np.concatenate([vals, bv.T], 1)
        cand_i = np.concatenate([idx, np.broadcast_to(seen + np.arange(b), (nc, b))], 1)
        order = np.lexsort((cand_i, -cand_v), axis=1)[:, :k]
        new_v = np.take_along_axis(cand_v, order, 1)
        new_i = np.take_along_axis(cand_i, order, 1)
        from_batch = order >= k
        old_slot = np.where(from_batch, 0, order)
        rows = np.arange(nc)[:, None]
        new_pos = pos[rows, old_slot].copy()
        new_patches = patches[rows, old_slot]
        if from_batch.any():
            ci, si = np.nonzero(from_batch)
            bi = order[ci, si] - k
            flat = bp[bi, ci].astype(np.int64)
            uy, ux = flat // field.out_shape[1], flat % field.out_shape[1]
            new_pos[ci, si] = np.stack([uy, ux], 1)
            y0 = (
                np.rint(field.start[0] + uy * field.jump[0] - (ry - 1) / 2).astype(np.int64)
                + pad_y[0]
            )
            x0 = (
                np.rint(field.start[1] + ux * field.jump[1] - (rx - 1) / 2).astype(np.int64)
                + pad_x[0]
            )
            padded = np.pad(xb, ((0, 0), pad_y, pad_x, (0, 0)), constant_values=fill)
            crops = padded[
                bi[:, None, None],
                y0[:, None, None] + ar_y[None, :, None],
                x0[:, None, None] + ar_x[None, None, :],
            ]
            new_patches[ci, si] = crops
        vals, idx, pos, patches = new_v, new_i, new_pos, new_patches
        seen += b
    if seen == 0:
        raise ValueError("max_activating_patches got no data.")
    if seen < k:
        raise ValueError(f"k={k} patches per channel need at least k images; the data has {seen}.")
    boxes = np.array(
        [[field.box(int(p[0]), int(p[1])) for p in row] for row in pos], np.int64
    ).reshape(nc, k, 4)
    return PatchResult(ch, vals, idx, pos, boxes, patches, field)


class _UnitAt(Target):
    """Per-sample unit of one layer: ``class_idx = (y * W + x) * C + c`` indexes the flat map."""

    def __init__(self, layer: keras.layers.Layer) -> None:
        self.layers = (layer,)

    @property
    def key(self) -> tuple:
        return ("unit_at", id(self.layers[0]))

    def score(self, logits, activations, class_idx):
        a = tf.cast(activations[0], tf.float32)
        flat = tf.reshape(a, [tf.shape(a)[0], -1])
        return tf.gather(flat, class_idx, axis=1, batch_dims=1)


def unit_projections(
    model: keras.Model,
    patches: PatchResult,
    layer: str | int | keras.layers.Layer,
    *,
    method: str = "guided_backprop",
    batch_size: int = 64,
    jit_compile: bool | str = "auto",
) -> np.ndarray:
    """Project each recorded unit back to pixel space on its own patch.

    ``d a_c(y, x) / d x`` through guided-backprop ReLUs (Springenberg et al. 2015) or
    deconvnet ReLUs (Zeiler & Fergus 2014), computed on a blank image holding only the
    stored crop: a unit and every unit it reads see only its receptive field, so this
    equals the projection on the original image, cropped. Returns the signed gradient
    crops ``(C, k, r_y, r_x, C_in)`` float32 (zero outside the image).

    Example:
        >>> import numpy as np
        >>> from keras_insight.testing import small_cnn
        >>> m = small_cnn()
        >>> r = max_activating_patches(m, np.random.rand(8, 16, 16, 3), "conv2", [0], k=2)
        >>> unit_projections(m, r, "conv2").shape
        (1, 2, 8, 8, 3)
    """
    from keras_insight.attribution.saliency import deconvnet_relu, guided_relu

    relu = {"guided_backprop": guided_relu, "deconvnet": deconvnet_relu}.get(method)
    if relu is None:
        raise ValueError(f"method must be 'guided_backprop' or 'deconvnet', got {method!r}.")
    lyr = resolve_layer(model, layer)
    f = patches.field
    nc, k, ry, rx, cin = patches.patches.shape
    h, w = f.in_shape
    n_ch = int(layer_output_shapes(model)[id(lyr)][-1])
    canvases = np.zeros((nc * k, h, w, cin), np.float32)
    boxes = []
    for i, (c, s) in enumerate(np.ndindex(nc, k)):
        uy, ux = (int(v) for v in patches.positions[c, s])
        y0, y1, x0, x1 = f.box(uy, ux, clip=False)
        cy0, cy1, cx0, cx1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
        canvases[i, cy0:cy1, cx0:cx1] = patches.patches[
            c, s, cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0
        ]
        boxes.append((y0, cy0, cy1, x0, cx0, cx1))
    pos = patches.positions.reshape(-1, 2)
    chans = np.repeat(patches.channels, k)
    unit_idx = ((pos[:, 0] * f.out_shape[1] + pos[:, 1]) * n_ch + chans).astype(np.int32)
    target = _UnitAt(lyr)
    fwd = get_forward(model, (lyr,), relu=relu)

    def fn(xb, ib):
        return score_and_gradients(fwd, target, xb, ib)["input_grads"]

    ishape = tuple(canvases.shape[1:])
    g = compiled(
        model,
        ("unit_projection", fwd.key, ishape),
        fn,
        [tf.TensorSpec((None, *ishape), tf.float32), tf.TensorSpec((None,), tf.int32)],
        jit_compile,
    )
    grads = run_batched(g, canvases, unit_idx, batch_size=batch_size)
    out = np.zeros((nc * k, ry, rx, cin), np.float32)
    for i, (y0, cy0, cy1, x0, cx0, cx1) in enumerate(boxes):
        out[i, cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] = grads[i, cy0:cy1, cx0:cx1]
    return out.reshape(nc, k, ry, rx, cin)
