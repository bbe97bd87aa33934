"""Image parameterisations (pixels, Fourier with 1/f scaling and colour decorrelation) and the L2-ball constraint.

A parameterisation maps a float32 parameter tensor to images inside ``input_range``:
``to_image(p) -> (N, H, W, C)``. The Fourier one follows Olah et al. 2017 ("Feature
Visualization", Lucid's ``fft_image`` + ``to_valid_rgb``): spectrum scaled by 1/frequency,
colours decorrelated for 3-channel input, then a sigmoid squashes it into the range.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

# square root of the ImageNet colour correlation (Lucid), columns normalised below
_COLOR_SVD_SQRT = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32
)
_COLOR = _COLOR_SVD_SQRT / np.max(np.linalg.norm(_COLOR_SVD_SQRT, axis=0))
_EPS = 1e-4


class Param:
    """Base class: a parameter tensor and its map to images in ``input_range``."""

    kind = "base"

    def __init__(self, shape: tuple[int, int, int], input_range: tuple[float, float]) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.lo, self.hi = float(input_range[0]), float(input_range[1])

    @property
    def key(self) -> tuple:
        return (self.kind, self.shape, self.lo, self.hi)

    def param_shape(self, n: int) -> tuple[int, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def init(self, n: int, seed: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_image(self, p):  # pragma: no cover - abstract
        raise NotImplementedError

    def from_image(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def project(self, p):
        """Projection after each optimiser step (identity by default)."""
        return p

    def penalty(self, p):
        """Per-image penalty (N,) subtracted from the objective (a prior), or None (default)."""
        return None


class PixelParam(Param):
    """x = lo + (hi - lo) * p with p projected to [0, 1] after each step (range-relative units).

    Example:
        >>> P = PixelParam((2, 2, 1), (0, 255))
        >>> float(P.to_image(P.from_image(np.full((1, 2, 2, 1), 51.0, "float32"))).numpy()[0, 0, 0, 0])
        51.0
    """

    kind = "pixels"

    def __init__(self, shape, input_range, *, clip: bool = True) -> None:
        super().__init__(shape, input_range)
        self.clip = clip

    @property
    def key(self) -> tuple:
        return super().key + (self.clip,)

    def param_shape(self, n):
        return (n, *self.shape)

    def init(self, n, seed):
        rng = np.random.default_rng(seed)
        one = 0.5 + 0.01 * rng.standard_normal((1, *self.shape)).astype(np.float32)
        return np.repeat(one, n, axis=0)

    def to_image(self, p):
        return self.lo + (self.hi - self.lo) * tf.convert_to_tensor(p, tf.float32)

    def from_image(self, x):
        return ((np.asarray(x, np.float32) - self.lo) / (self.hi - self.lo)).astype(np.float32)

    def project(self, p):
        return tf.clip_by_value(p, 0.0, 1.0) if self.clip else p


def rfft2d_freqs(h: int, w: int) -> np.ndarray:
    """Frequencies |f| of the 2-D real FFT grid (h, w // 2 + 1), cycles per pixel."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    return np.sqrt(fx * fx + fy * fy).astype(np.float32)


class FourierParam(Param):
    """Decorrelated Fourier parameterisation (Olah et al. 2017).

    x = lo + (hi - lo) * sigmoid(M . irfft2(S * s / 4)), S = 1 / max(|f|, 1/max(H, W))^decay
    * sqrt(H W) and M the normalised colour-correlation square root (3 channels only).
    The parameter holds real and imaginary parts: (N, 2, C, H, W // 2 + 1).

    Example:
        >>> P = FourierParam((8, 8, 3), (0, 1))
        >>> x = np.random.default_rng(0).uniform(0.1, 0.9, (1, 8, 8, 3)).astype("float32")
        >>> bool(np.allclose(P.to_image(P.from_image(x)).numpy(), x, atol=1e-4))
        True
    """

    kind = "fourier"

    def __init__(
        self,
        shape,
        input_range,
        *,
        decay_power: float = 1.0,
        decorrelate: bool = True,
        sd: float = 0.01,
    ):
        super().__init__(shape, input_range)
        h, w, c = self.shape
        self.decay_power, self.sd = float(decay_power), float(sd)
        self.decorrelate = bool(decorrelate) and c == 3
        freqs = rfft2d_freqs(h, w)
        scale = 1.0 / np.maximum(freqs, 1.0 / max(h, w)) ** self.decay_power
        #: (H, W // 2 + 1) amplitude per frequency: 1 / max(f, 1 / max(H, W))^decay * sqrt(HW)
        self.spectrum_scale = (scale * np.sqrt(h * w)).astype(np.float32)

    @property
    def key(self) -> tuple:
        return super().key + (self.decay_power, self.decorrelate, self.sd)

    def param_shape(self, n):
        h, w, c = self.shape
        return (n, 2, c, h, w // 2 + 1)

    def init(self, n, seed):
        rng = np.random.default_rng(seed)
        one = self.sd * rng.standard_normal(self.param_shape(1)).astype(np.float32)
        return np.repeat(one, n, axis=0)

    def to_image(self, p):
        h, w, c = self.shape
        spec = tf.complex(p[:, 0], p[:, 1]) * tf.cast(self.spectrum_scale, tf.complex64)
        img = tf.signal.irfft2d(spec, fft_length=[h, w])  # (N, C, H, W)
        img = tf.transpose(img, [0, 2, 3, 1]) / 4.0
        if self.decorrelate:
            img = tf.einsum("nhwc,dc->nhwd", img, tf.constant(_COLOR))
        return self.lo + (self.hi - self.lo) * tf.sigmoid(img)

    def from_image(self, x):
        """The parameter whose image is ``x`` (values clipped just inside the range)."""
        h, w, c = self.shape
        s = np.clip((np.asarray(x, np.float64) - self.lo) / (self.hi - self.lo), _EPS, 1 - _EPS)
        t = np.log(s) - np.log1p(-s)
        if self.decorrelate:
            t = np.einsum("nhwd,cd->nhwc", t, np.linalg.inv(_COLOR.astype(np.float64)))
        t = np.transpose(t * 4.0, (0, 3, 1, 2))
        spec = np.fft.rfft2(t, s=(h, w)) / self.spectrum_scale
        return np.stack([spec.real, spec.imag], axis=1).astype(np.float32)


def make_param(param: str | Param, shape, input_range) -> Param:
    """A :class:`Param` from ``"pixels"``, ``"fourier"`` or an instance."""
    if isinstance(param, Param):
        return param
    if param == "pixels":
        return PixelParam(shape, input_range)
    if param == "fourier":
        return FourierParam(shape, input_range)
    raise ValueError(f"param must be 'pixels', 'fourier' or a Param instance, got {param!r}.")


class L2Ball:
    """Constraint ||x - c||_2 <= r: x -> c + (x - c) * min(1, r / ||x - c||) (differentiable).

    ``center`` defaults to the middle of the input range. Used as ``constraint=l2_ball(r)``.
    """

    def __init__(self, radius: float, center: float | None = None) -> None:
        if not radius > 0:
            raise ValueError(f"l2_ball radius must be > 0, got {radius!r}.")
        self.radius, self.center = float(radius), center

    @property
    def key(self) -> tuple:
        return ("l2_ball", self.radius, self.center)

    def __call__(self, x, input_range):
        lo, hi = input_range
        c = (lo + hi) / 2.0 if self.center is None else float(self.center)
        d = x - c
        norm = tf.sqrt(tf.reduce_sum(tf.square(d), axis=[1, 2, 3], keepdims=True) + 1e-24)
        return c + d * tf.minimum(1.0, self.radius / norm)


def l2_ball(radius: float, center: float | None = None) -> L2Ball:
    """The constraint ||x - center||_2 <= radius (center: middle of the input range by default).

    Example:
        >>> import numpy as np
        >>> x = l2_ball(1.0, 0.0)(np.full((1, 2, 2, 1), 3.0, "float32"), (-5, 5)).numpy()
        >>> round(float(np.linalg.norm(x)), 5)
        1.0
    """
    return L2Ball(radius, center)
