"""Random image transforms for transformation robustness (Olah et al. 2017), as pure TF ops.

Each transform is ``t(x, seed, input_range) -> x'`` on an (N, H, W, C) batch, with ``seed`` a
(2,) int32 tensor for stateless random ops: the same seed gives the same result, and one
draw is shared by the whole batch (so synthesising a batch equals synthesising each image
alone). Identity parameters (``pad(0)``, ``jitter(0)``, ``scale(1, 1)``, ``rotate(0)``,
``crop`` to the current size) return the input exactly. Shapes: pad(p) adds 2p, jitter(d)
removes d, crop(size) gives size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import tensorflow as tf

from keras_insight.render.geometry import affine_warp


class Transform:
    """Base class of the seeded transforms."""

    key: tuple = ()

    def __call__(self, x, seed, input_range):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{self.key[0]}{self.key[1:]}"


def _uniform(seed, lo, hi):
    return tf.random.stateless_uniform([], seed, minval=lo, maxval=hi)


def _randint(seed, n):
    # integer in [0, n] (inclusive), n a scalar int32 tensor
    return tf.random.stateless_uniform([], seed, minval=0, maxval=n + 1, dtype=tf.int32)


class Pad(Transform):
    """Pad ``width`` pixels on each side: constant (middle of the range by default) or reflect."""

    def __init__(self, width: int, mode: str = "constant", value: float | None = None) -> None:
        if mode not in ("constant", "reflect", "symmetric"):
            raise ValueError(
                f"pad mode must be 'constant', 'reflect' or 'symmetric', got {mode!r}."
            )
        self.width, self.mode, self.value = int(width), mode, value
        self.key = ("pad", self.width, mode, value)

    def __call__(self, x, seed, input_range):
        if self.width == 0:
            return x
        w = self.width
        pads = [[0, 0], [w, w], [w, w], [0, 0]]
        if self.mode == "constant":
            v = (input_range[0] + input_range[1]) / 2.0 if self.value is None else self.value
            return tf.pad(x, pads, constant_values=v)
        return tf.pad(x, pads, mode=self.mode.upper())


class Jitter(Transform):
    """Random crop that removes ``d`` rows and columns (Lucid's jitter): shape H-d, W-d."""

    def __init__(self, d: int) -> None:
        self.d = int(d)
        self.key = ("jitter", self.d)

    def __call__(self, x, seed, input_range):
        if self.d == 0:
            return x
        shape = tf.shape(x)
        oy = _randint(seed, self.d)
        ox = _randint(seed + [0, 1], self.d)
        return tf.slice(
            x, [0, oy, ox, 0], [shape[0], shape[1] - self.d, shape[2] - self.d, shape[3]]
        )


class Roll(Transform):
    """Random circular shift by up to ``d`` pixels (DeepDream's jitter); shape unchanged."""

    def __init__(self, d: int) -> None:
        self.d = int(d)
        self.key = ("roll", self.d)

    def __call__(self, x, seed, input_range):
        if self.d == 0:
            return x
        sy = _randint(seed, 2 * self.d) - self.d
        sx = _randint(seed + [0, 1], 2 * self.d) - self.d
        return tf.roll(x, [sy, sx], axis=[1, 2])


def scale_image(x, s):
    """Bilinear resize by factor ``s`` (size rounded); ``s == 1`` samples pixel centres exactly."""
    shape = tf.shape(x)
    s = tf.cast(s, tf.float32)
    size = tf.cast(tf.round(tf.cast(shape[1:3], tf.float32) * s), tf.int32)
    return tf.image.resize(x, size, method="bilinear")


class Scale(Transform):
    """Random zoom by a factor uniform in [lo, hi] (Lucid: 0.9-1.1)."""

    def __init__(self, lo: float = 0.9, hi: float = 1.1) -> None:
        if not 0 < lo <= hi:
            raise ValueError(f"scale needs 0 < lo <= hi, got ({lo}, {hi}).")
        self.lo, self.hi = float(lo), float(hi)
        self.key = ("scale", self.lo, self.hi)

    def __call__(self, x, seed, input_range):
        if self.lo == self.hi == 1.0:
            return x
        return scale_image(x, _uniform(seed, self.lo, self.hi) if self.hi > self.lo else self.lo)


def rotate_image(x, angle, fill_mode: str = "REFLECT"):
    """Rotate by ``angle`` radians about the image centre, bilinear; angle 0 is exact identity
    (:func:`keras_insight.render.geometry.affine_warp`)."""
    return affine_warp(x, angle, fill_mode=fill_mode)


class Rotate(Transform):
    """Random rotation by an angle uniform in [-degrees, degrees], reflect fill."""

    def __init__(self, degrees: float = 10.0) -> None:
        self.degrees = float(degrees)
        self.key = ("rotate", self.degrees)

    def __call__(self, x, seed, input_range):
        if self.degrees == 0:
            return x
        r = math.radians(self.degrees)
        return rotate_image(x, _uniform(seed, -r, r))


class Crop(Transform):
    """Random crop (or centred constant pad) to ``size`` = (H, W); None = the model's input size."""

    def __init__(self, size: tuple[int, int] | None = None) -> None:
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.key = ("crop", self.size)

    def __call__(self, x, seed, input_range):
        if self.size is None:
            raise ValueError("crop(size=None) needs the model input size; maximize fills it in.")
        th, tw = self.size
        if x.shape[1] == th and x.shape[2] == tw:
            return x
        shape = tf.shape(x)
        ph, pw = tf.maximum(th - shape[1], 0), tf.maximum(tw - shape[2], 0)
        mid = (input_range[0] + input_range[1]) / 2.0
        x = tf.pad(
            x,
            [[0, 0], [ph // 2, ph - ph // 2], [pw // 2, pw - pw // 2], [0, 0]],
            constant_values=mid,
        )
        shape = tf.shape(x)
        oy = _randint(seed, shape[1] - th)
        ox = _randint(seed + [0, 1], shape[2] - tw)
        out = tf.slice(x, [0, oy, ox, 0], [shape[0], th, tw, shape[3]])
        return tf.ensure_shape(out, [None, th, tw, x.shape[3]])


def pad(width: int, mode: str = "constant", value: float | None = None) -> Pad:
    """Pad transform (see :class:`Pad`). Example: ``pad(12)``."""
    return Pad(width, mode, value)


def jitter(d: int) -> Jitter:
    """Jitter transform: random crop removing ``d`` pixels. Example: ``jitter(8)``."""
    return Jitter(d)


def roll(d: int) -> Roll:
    """Random circular shift by up to ``d`` pixels."""
    return Roll(d)


def scale(lo: float = 0.9, hi: float = 1.1) -> Scale:
    """Random scale transform, factor uniform in [lo, hi]."""
    return Scale(lo, hi)


def rotate(degrees: float = 10.0) -> Rotate:
    """Random rotation in [-degrees, degrees]."""
    return Rotate(degrees)


def crop(size: tuple[int, int] | None = None) -> Crop:
    """Crop to a fixed size (None: the model's input size)."""
    return Crop(size)


def default_transforms(image_shape: Sequence[int]) -> list[Transform]:
    """Lucid's defaults (pad 12, jitter 8, scale 0.9-1.1, rotate +-10, jitter 4) scaled to the
    image size (the pixel counts are for 128-pixel images), then a crop back to the size."""
    h, w = int(image_shape[0]), int(image_shape[1])
    f = min(h, w) / 128.0

    def px(n):
        return max(1, round(n * f))

    return [pad(px(12)), jitter(px(8)), scale(0.9, 1.1), rotate(10.0), jitter(px(4)), crop((h, w))]


def resolve_transforms(transforms, image_shape) -> list[Transform]:
    """``"default"``, ``None``/``()`` or a sequence of transforms; a crop to the input size is
    appended when the chain may change the size."""
    if transforms == "default":
        return default_transforms(image_shape)
    if transforms is None:
        return []
    out = list(transforms)
    for t in out:
        if not isinstance(t, Transform):
            raise TypeError(
                f"transforms must be Transform objects (pad, jitter, ...), got {type(t).__name__}."
            )
    h, w = int(image_shape[0]), int(image_shape[1])
    out = [crop((h, w)) if isinstance(t, Crop) and t.size is None else t for t in out]
    if (
        out
        and not isinstance(out[-1], Crop)
        and any(isinstance(t, (Pad, Jitter, Scale)) for t in out)
    ):
        out.append(crop((h, w)))
    return out


def apply_transforms(transforms: Sequence[Transform], x, seed, input_range):
    """Apply the chain with per-transform seeds derived from ``seed`` ((2,) int32)."""
    seed = tf.cast(seed, tf.int32)
    for i, t in enumerate(transforms):
        x = t(x, seed + tf.constant([0, 1000 * (i + 1)], tf.int32), input_range)
    return x
