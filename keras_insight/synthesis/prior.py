"""A data-driven image prior for synthesis: a Gaussian in the principal-component space of
the user's own images.

Lucid's Fourier prior (1/f spectrum, decorrelated colours) was designed for ImageNet-scale
networks; on the small models most users train it still gives saturated strokes. This
parameterisation instead searches only among images that look like the data:

    x(z) = clip(mu + sum_k z_k s_k v_k, lo, hi),      penalty  w * ||z||^2,

where ``mu`` is the mean image, ``v_k`` the top-K principal directions (right singular
vectors of the centred, flattened images) and ``s_k = sigma_k / sqrt(N - 1)`` their
standard deviations (``sigma_k`` the singular values). Dividing by ``s_k`` *whitens* the
data: a real image has ``z_k = v_k . (x - mu) / s_k`` with mean 0 and variance 1 per
component, so ``0.5 * ||z||^2`` is, up to a constant, the negative log-density of the
Gaussian N(mu, V diag(s^2) V^T) fitted to the data. Maximising ``h(x(z)) - w ||z||^2``
is a MAP search: the model's score against how typical the image is (``w = 0.5`` is
exactly the Gaussian's log-density, ``w = 0.5 / T`` the density at temperature ``T``;
``w = 0`` keeps only the subspace constraint).

The trade-off: a strong prior (large ``w``) pulls every image towards the mean, so class
images become recognisable but the model has less room to show what *it* wants; a weak
prior lets the optimiser find whatever raises the score inside the subspace (more
contrast, more saturation). What the model contributed is ``x - mu``, the difference from
the prior mean (``DataPrior.difference``), drawn as a signed heatmap by
``keras_insight.render.signed_heatmap``. The prior is fitted from images only: the model is
never called or changed.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import tensorflow as tf

from keras_insight.core.input_range import resolve_input_range
from keras_insight.synthesis.param import Param

__all__ = ["DataPrior", "data_prior", "principal_components"]

# exact SVD below this many rows/columns; randomised (Halko et al. 2011) above
_EXACT_SVD_MAX = 4096
_OVERSAMPLE = 16
_POWER_ITERATIONS = 4


def principal_components(
    x: np.ndarray, k: int, *, seed: int = 0, method: str = "auto"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, top-``k`` principal directions and their standard deviations of flattened images.

    ``x`` (N, D) -> ``(mu (D,), V (D, k), s (k,))`` with ``Xc = x - mu ~= U diag(sigma) V^T``
    and ``s = sigma / sqrt(N - 1)`` (the standard deviation of the data along each column of
    ``V``). Exact (eigen-decomposition of the smaller of Xc^T Xc and Xc Xc^T) when
    ``min(N, D) <= 4096``; otherwise a seeded randomised SVD with
    power iterations (Halko, Martinsson & Tropp 2011), whose top components agree with the
    exact ones on image data (decaying spectra; tested). ``method``: ``"auto"``, ``"exact"``
    or ``"randomized"``. Computed in float64.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.standard_normal((5000, 3)) * [3.0, 1.0, 0.1]
        >>> mu, V, s = principal_components(x, 2)
        >>> np.round(s, 1).tolist(), np.round(np.abs(V[:, 0]), 1).tolist()
        ([3.0, 1.0], [1.0, 0.0, 0.0])
    """
    x = np.asarray(x, np.float64)
    n, d = x.shape
    mu = x.mean(axis=0)
    xc = x - mu
    k = int(min(k, n - 1, d))
    if method not in ("auto", "exact", "randomized"):
        raise ValueError(f"method must be 'auto', 'exact' or 'randomized', got {method!r}.")
    small = min(n, d) <= _EXACT_SVD_MAX or k + _OVERSAMPLE >= min(n, d) // 2
    if method == "exact" or (method == "auto" and small):
        if n > d:
            # more images than pixels: eigenvectors of the (D, D) scatter matrix Xc^T Xc are
            # V, its eigenvalues sigma^2 (issue 13: 2,000 x 784 took 3-5 CPU s by SVD and
            # 0.5 s this way, at a suite's train begin)
            evals, evecs = np.linalg.eigh(xc.T @ xc)
            v = evecs[:, ::-1][:, :k]
            sig = np.sqrt(np.maximum(evals[::-1][:k], 0.0))
        else:
            # fewer images than pixels: the (N, N) Gram matrix Xc Xc^T = U diag(sigma^2) U^T,
            # then V = Xc^T U / sigma (1,000 x 3,072: ~4 s instead of ~40 s by SVD, loaded CPU)
            evals, evecs = np.linalg.eigh(xc @ xc.T)
            sig = np.sqrt(np.maximum(evals[::-1][:k], 0.0))
            u = evecs[:, ::-1][:, :k]
            v = (xc.T @ u) / np.where(sig > 0, sig, 1.0)
    else:
        rng = np.random.default_rng(seed)
        q = xc @ rng.standard_normal((d, k + _OVERSAMPLE))
        q, _ = np.linalg.qr(q)
        for _ in range(_POWER_ITERATIONS):
            q, _ = np.linalg.qr(xc.T @ q)
            q, _ = np.linalg.qr(xc @ q)
        _, sig, vt = np.linalg.svd(q.T @ xc, full_matrices=False)
        v = vt[:k].T
        sig = sig[:k]
    # deterministic sign: the largest-magnitude entry of each direction is positive
    flip = np.sign(v[np.abs(v).argmax(axis=0), np.arange(v.shape[1])])
    v = v * np.where(flip == 0, 1.0, flip)
    return mu, v, sig / np.sqrt(max(n - 1, 1))


class DataPrior(Param):
    """x(z) = clip(mu + V (s * z), lo, hi) with penalty ``weight * ||z||^2`` per image.

    The parameter is z (N, K): whitened principal-component coordinates (each ~ N(0, 1)
    over the data). Built by :func:`data_prior`; see the module docstring for the maths.

    Attributes:
        mean_image: the prior mean mu as an (H, W, C) float32 image.
        basis: V, (H*W*C, K) float32 orthonormal columns.
        std: s, (K,) float32 standard deviations.
        weight: w, the penalty weight.
        explained: fraction of the data's variance the K components hold.
    """

    kind = "data_prior"

    def __init__(
        self,
        mean: np.ndarray,
        basis: np.ndarray,
        std: np.ndarray,
        *,
        shape: tuple[int, int, int],
        input_range: tuple[float, float],
        weight: float = 0.1,
        explained: float = float("nan"),
        sd: float = 0.01,
    ) -> None:
        super().__init__(shape, input_range)
        self.mean = np.asarray(mean, np.float32).reshape(-1)
        self.basis = np.asarray(basis, np.float32)
        self.std = np.asarray(std, np.float32).reshape(-1)
        self.weight, self.explained, self.sd = float(weight), float(explained), float(sd)
        d = int(np.prod(self.shape))
        if self.mean.shape != (d,) or self.basis.shape != (d, self.std.size):
            raise ValueError(
                f"DataPrior: mean {self.mean.shape} / basis {self.basis.shape} / std "
                f"{self.std.shape} do not fit images of shape {self.shape}."
            )
        h = hashlib.sha1()
        for a in (self.mean, self.basis, self.std):
            h.update(a.tobytes())
        self._digest = h.hexdigest()[:16]

    @property
    def components(self) -> int:
        return int(self.std.size)

    @property
    def mean_image(self) -> np.ndarray:
        return self.mean.reshape(self.shape).copy()

    @property
    def key(self) -> tuple:
        return super().key + (self._digest, self.weight, self.sd)

    def with_weight(self, weight: float) -> DataPrior:
        """The same fitted prior with another penalty weight (no refit)."""
        return DataPrior(
            self.mean,
            self.basis,
            self.std,
            shape=self.shape,
            input_range=(self.lo, self.hi),
            weight=_check_weight(weight),
            explained=self.explained,
            sd=self.sd,
        )

    def param_shape(self, n):
        return (n, self.components)

    def init(self, n, seed):
        rng = np.random.default_rng(seed)
        one = self.sd * rng.standard_normal((1, self.components)).astype(np.float32)
        return np.repeat(one, n, axis=0)

    def to_image(self, p):
        z = tf.convert_to_tensor(p, tf.float32)
        flat = tf.constant(self.mean)[None] + tf.matmul(
            z * tf.constant(self.std)[None], tf.constant(self.basis), transpose_b=True
        )
        img = tf.reshape(flat, (-1, *self.shape))
        return tf.clip_by_value(img, self.lo, self.hi)

    def from_image(self, x):
        """z = V^T (x - mu) / s: the whitened coordinates of the images' projections."""
        flat = np.asarray(x, np.float64).reshape(len(x), -1) - self.mean
        return ((flat @ self.basis) / self.std).astype(np.float32)

    def penalty(self, p):
        """``weight * ||z||^2`` per image (N,): ``weight = 0.5`` is the Gaussian's -log-density."""
        return self.weight * tf.reduce_sum(tf.square(tf.convert_to_tensor(p, tf.float32)), axis=1)

    def difference(self, images: Any) -> np.ndarray:
        """``images - mu``: what the optimisation (the model) added to the prior mean."""
        return (np.asarray(images, np.float32) - self.mean_image[None]).astype(np.float32)


def _check_weight(weight: Any) -> float:
    try:
        w = float(weight)
    except (TypeError, ValueError):
        raise ValueError(f"data_prior weight must be a number >= 0, got {weight!r}.") from None
    if not np.isfinite(w) or w < 0:
        raise ValueError(f"data_prior weight must be a finite number >= 0, got {weight!r}.")
    return w


def data_prior(
    x: Any,
    components: int = 64,
    weight: float = 0.1,
    *,
    input_range: tuple[float, float] | None = None,
    max_samples: int | None = 5000,
    seed: int = 0,
) -> DataPrior:
    """Fit a Gaussian prior in the principal-component space of images ``x``.

    Images are searched as x(z) = clip(mu + sum_k z_k s_k v_k, lo, hi) over the top
    ``components`` principal directions v_k (standard deviations s_k) of ``x``, with the
    penalty ``weight * ||z||^2`` subtracted from the objective (``weight = 0.5``: the
    negative log-density of the fitted Gaussian; whitening by the singular values makes
    every component cost the same per standard deviation). Pass it to
    :func:`keras_insight.synthesis.maximize` as ``param=``; it composes with any objective,
    regulariser, constraint and the transforms (which act on the image after the prior),
    and all objectives still run as one batch in one compiled loop.

    Trade-off: a larger ``weight`` keeps images closer to typical data (recognisable,
    but closer to the mean image); a smaller one lets the model's preferences show (more
    contrast, eventually saturation). The model's contribution is ``x - prior.mean_image``
    (``prior.difference(x)``). The model is not involved in fitting.

    Args:
        x: images (N, H, W, C) the model takes (typically the validation data), N >= 2.
        components: K, the number of principal components kept (capped at N - 1 and at
            H*W*C; more components let more detail through, fewer give smoother images).
        weight: w >= 0, the penalty weight. 0.5 is the Gaussian's exact log-density; the
            default 0.1 (a tempered prior, as if the model's score were 5x stronger) kept 9-10
            of 10 Fashion-MNIST class images recognisable on small CNNs where 0.5 kept 8-9
            (docs/synthesis.md has the sweep).
        input_range: ``(lo, hi)`` images are clipped to; inferred from ``x`` when None.
        max_samples: fit on at most this many images (a seeded random subset); None: all.
        seed: subset and randomised-SVD seed.

    Returns:
        a :class:`DataPrior` (a :class:`~keras_insight.synthesis.Param`).

    Example:
        >>> import numpy as np
        >>> from keras_insight.testing import small_cnn
        >>> from keras_insight.synthesis import class_logit, maximize
        >>> x_val = np.random.default_rng(0).uniform(0, 1, (64, 16, 16, 3)).astype("float32")
        >>> prior = data_prior(x_val, components=16, weight=0.5)
        >>> imgs = maximize(small_cnn(), [class_logit(c) for c in range(4)], param=prior,
        ...                 steps=8)
        >>> imgs.shape, prior.components, bool(imgs.min() >= 0 and imgs.max() <= 1)
        ((4, 16, 16, 3), 16, True)
    """
    w = _check_weight(weight)
    if not isinstance(components, (int, np.integer)) or components < 1:
        raise ValueError(f"data_prior components must be an integer >= 1, got {components!r}.")
    arr = np.asarray(x)
    if arr.ndim != 4:
        raise ValueError(
            f"data_prior needs images (N, H, W, C), got shape {arr.shape}; "
            "grayscale (N, H, W) images need a channel axis: x[..., None]."
        )
    if len(arr) < 2:
        raise ValueError(f"data_prior needs at least 2 images to fit, got {len(arr)}.")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError("data_prior: the images contain NaN or infinite values.")
    rng_range = resolve_input_range(input_range, arr, what="data_prior")
    if max_samples is not None and len(arr) > int(max_samples):
        if int(max_samples) < 2:
            raise ValueError(f"data_prior max_samples must be >= 2, got {max_samples!r}.")
        idx = np.sort(np.random.default_rng(seed).choice(len(arr), int(max_samples), False))
        arr = arr[idx]
    flat = arr.reshape(len(arr), -1)
    mu, v, s = principal_components(flat, int(components), seed=seed)
    total = float(np.square(flat - mu).sum() / max(len(flat) - 1, 1))
    keep = s > max(1e-6 * (s[0] if s.size else 0.0), 1e-12)
    if not keep.any():
        raise ValueError("data_prior: the images are all identical; there is nothing to fit.")
    v, s = v[:, keep], s[keep]
    explained = float(np.square(s).sum() / total) if total > 0 else float("nan")
    return DataPrior(
        mu,
        v,
        s,
        shape=tuple(int(d) for d in arr.shape[1:]),
        input_range=rng_range,
        weight=w,
        explained=explained,
    )
