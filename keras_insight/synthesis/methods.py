"""DeepDream, feature inversion, texture synthesis and style transfer, built on :func:`maximize`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_insight.core.input_range import as_float32, resolve_input_range
from keras_insight.core.validation import check_images
from keras_insight.synthesis.objectives import (
    INPUT,
    alpha_norm,
    feature_match,
    gram_match,
    layer_l2,
    total_variation,
)
from keras_insight.synthesis.optimize import image_shape_of, maximize, objective_values
from keras_insight.synthesis.transforms import Crop, Roll


def _resize(x: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    return tf.image.resize(x, hw, method="bilinear").numpy().astype(np.float32)


def deep_dream(
    model: keras.Model,
    image: Any,
    layer: Any,
    *,
    steps: int = 32,
    octaves: int = 3,
    octave_scale: float = 1.4,
    lr: float = 0.01,
    jitter: int = 2,
    input_range: tuple[float, float] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """DeepDream (Mordvintsev et al. 2015): ascend mean(A_layer^2) from a real image.

    Coarse-to-fine octaves: at octave k a detail image of size H / octave_scale^k is
    optimised (upsampled to the model's size inside the graph) and added to the image;
    random circular shifts (``jitter``) each step. Pixel units are range-relative.

    Example:
        >>> import numpy as np
        >>> from keras_insight.testing import small_cnn
        >>> x = np.random.default_rng(0).uniform(0, 1, (1, 16, 16, 3)).astype("float32")
        >>> deep_dream(small_cnn(), x, "conv2", steps=2, octaves=2, input_range=(0, 1)).shape
        (1, 16, 16, 3)
    """
    check_images(model, image, name="image")
    x = as_float32(image, name="image")
    rng = resolve_input_range(input_range, x, what="deep_dream")
    shape = image_shape_of(model, None if x.shape[1:] == () else tuple(x.shape[1:]))
    h, w, _ = shape
    obj = layer_l2(layer)
    for k in reversed(range(int(octaves))):
        hk, wk = max(4, round(h / octave_scale**k)), max(4, round(w / octave_scale**k))
        base = _resize(x, (hk, wk)) if (hk, wk) != (h, w) else x
        tfs = [Roll(jitter)] if jitter else []
        if (hk, wk) != (h, w):
            tfs.append(_Resize((h, w)))
        out = maximize(
            model,
            [obj] * x.shape[0],
            steps=steps,
            param="pixels",
            transforms=tfs,
            lr=lr,
            input_range=rng,
            image_shape=(hk, wk, shape[2]),
            seed=seed + k,
            init=base,
        )
        detail = out - base
        x = np.clip(x + (_resize(detail, (h, w)) if (hk, wk) != (h, w) else detail), *rng).astype(
            np.float32
        )
    return x


class _Resize(Crop):
    """Bilinear resize to a fixed size (deterministic), used to feed low-res octaves."""

    def __init__(self, size):
        super().__init__(size)
        self.key = ("resize", self.size)

    def __call__(self, x, seed, input_range):
        out = tf.image.resize(x, self.size, method="bilinear")
        return tf.ensure_shape(out, [None, *self.size, x.shape[3]])


def invert(
    model: keras.Model,
    image: Any,
    layer: Any,
    *,
    steps: int = 256,
    param: str = "pixels",
    alpha: float = 6.0,
    lambda_alpha: float = 1e-3,
    lambda_tv: float = 1e-2,
    transforms: Any = (),
    lr: float = 0.05,
    input_range: tuple[float, float] | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Feature inversion (Mahendran & Vedaldi 2015).

    x* = argmin_x ||phi(x) - phi(x0)||^2 / ||phi(x0)||^2 + lambda_a ||x||_a^a + lambda_tv TV(x),
    phi the activations of ``layer`` (``INPUT`` = identity), starting from a seeded grey image.

    Returns:
        (x* (N, H, W, C), {"feature_error": ||phi(x*) - phi(x0)|| / ||phi(x0)||,
        "pixel_error": ||x* - x0|| / ||x0||}), errors per sample (N,).

    Example:
        >>> import numpy as np
        >>> from keras_insight.testing import small_cnn
        >>> x = np.random.default_rng(0).uniform(0, 1, (2, 16, 16, 3)).astype("float32")
        >>> rec, err = invert(small_cnn(), x, "conv1", steps=4, input_range=(0, 1))
        >>> rec.shape, sorted(err)
        ((2, 16, 16, 3), ['feature_error', 'pixel_error'])
    """
    check_images(model, image, name="image")
    x0 = as_float32(image, name="image")
    rng = resolve_input_range(input_range, x0, what="invert")
    n = x0.shape[0]
    obj = feature_match(layer, "target")
    regs = []
    if lambda_alpha:
        regs.append(lambda_alpha * alpha_norm(alpha))
    if lambda_tv:
        regs.append(lambda_tv * total_variation())
    rec = maximize(
        model,
        [obj] * n,
        steps=steps,
        param=param,
        transforms=transforms,
        regularizers=regs,
        lr=lr,
        input_range=rng,
        image_shape=x0.shape[1:],
        seed=seed,
        references={"target": x0},
    )
    rel_sq = -objective_values(model, obj, rec, input_range=rng, references={"target": x0})
    pix = np.linalg.norm((rec - x0).reshape(n, -1), axis=1) / np.maximum(
        np.linalg.norm(x0.reshape(n, -1), axis=1), 1e-12
    )
    return rec, {
        "feature_error": np.sqrt(np.maximum(rel_sq, 0)).astype(np.float32),
        "pixel_error": pix.astype(np.float32),
    }


def _texture_objective(layers: Sequence[Any]):
    layers = [layers] if isinstance(layers, (str, int)) else list(layers)
    if not layers:
        raise ValueError("Texture synthesis needs at least one layer.")
    obj = gram_match(layers[0], "style")
    for lyr in layers[1:]:
        obj = obj + gram_match(lyr, "style")
    return obj * (1.0 / len(layers))


def texture_loss(
    model: keras.Model, images: Any, style: Any, layers: Sequence[Any], *, input_range=None
) -> np.ndarray:
    """Mean over layers of ||G(x) - G(x_s)||^2 / ||G(x_s)||^2 per image (Gatys et al. 2015)."""
    x = as_float32(images, name="images")
    return -objective_values(
        model,
        _texture_objective(layers),
        x,
        input_range=input_range,
        references={"style": as_float32(style, name="style")},
    )


def synthesize_texture(
    model: keras.Model,
    image: Any,
    layers: Sequence[Any],
    *,
    steps: int = 256,
    param: str = "fourier",
    lr: float = 0.05,
    input_range: tuple[float, float] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Texture synthesis by Gram-matrix matching (Gatys et al. 2015).

    x* = argmin_x mean_l ||G_l(x) - G_l(x_s)||^2 / ||G_l(x_s)||^2, G_l = F_l^T F_l / (H_l W_l).

    Example:
        >>> import numpy as np
        >>> from keras_insight.testing import small_cnn
        >>> s = np.random.default_rng(0).uniform(0, 1, (1, 16, 16, 3)).astype("float32")
        >>> synthesize_texture(small_cnn(), s, ["conv1", "conv2"], steps=2, input_range=(0, 1)).shape
        (1, 16, 16, 3)
    """
    check_images(model, image, name="image")
    xs = as_float32(image, name="image")
    rng = resolve_input_range(input_range, xs, what="synthesize_texture")
    obj = _texture_objective(layers)
    return maximize(
        model,
        [obj] * xs.shape[0],
        steps=steps,
        param=param,
        transforms=(),
        lr=lr,
        input_range=rng,
        image_shape=xs.shape[1:],
        seed=seed,
        references={"style": xs},
    )


def style_transfer(
    model: keras.Model,
    content: Any,
    style: Any,
    *,
    content_layer: Any,
    style_layers: Sequence[Any],
    content_weight: float = 1.0,
    style_weight: float = 1.0,
    tv_weight: float = 1e-3,
    steps: int = 256,
    lr: float = 0.02,
    input_range: tuple[float, float] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Neural style transfer (Gatys et al. 2016), starting from the content image.

    x* = argmin_x a ||phi(x) - phi(x_c)||^2 / ||phi(x_c)||^2 + b * texture loss(x, x_s) + c TV(x).
    """
    check_images(model, content, name="content")
    check_images(model, style, name="style")
    xc = as_float32(content, name="content")
    xs = as_float32(style, name="style")
    rng = resolve_input_range(input_range, xc, what="style_transfer")
    obj = content_weight * feature_match(
        content_layer, "content"
    ) + style_weight * _texture_objective(style_layers)
    regs = [tv_weight * total_variation()] if tv_weight else []
    return maximize(
        model,
        [obj] * xc.shape[0],
        steps=steps,
        param="pixels",
        transforms=(),
        regularizers=regs,
        lr=lr,
        input_range=rng,
        image_shape=xc.shape[1:],
        seed=seed,
        init=xc,
        references={"content": xc, "style": xs},
    )


__all__ = ["INPUT", "deep_dream", "invert", "style_transfer", "synthesize_texture", "texture_loss"]
