"""Class activation maps: CAM, Grad-CAM, Grad-CAM++, Score-CAM and Guided Grad-CAM.

All variants share :class:`_CAMBase`: one compiled call computes the layer activations
A^k (and the gradients g^k = dF/dA^k), the channel weights, the weighted sum
sum_k w_k A^k, the ReLU at the layer's resolution and then bilinear upsampling to the
input size (the order of Selvaraju et al., pytorch-grad-cam and captum). A variant only
overrides how the channel weights are computed (as in pytorch-grad-cam's ``base_cam``).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_insight.attribution._common import (
    batched_scores,
    prepare_images,
    resolved_targets,
    warn_degenerate,
)
from keras_insight.core.engine import (
    check_targets_in_range,
    compiled,
    forward_outputs,
    get_forward,
    run_batched,
    score_and_gradients,
)
from keras_insight.core.introspection import (
    ACTIVATION_LAYERS,
    default_feature_layer,
    default_spatial_layer,
    iter_layers,
    output_layer,
    require_spatial,
    resolve_layer,
)
from keras_insight.core.targets import ClassTarget, resolve_targets
from keras_insight.core.validation import check_images


def _layer(model: keras.Model, layer: Any, x: np.ndarray) -> keras.layers.Layer:
    if layer is None:
        return default_spatial_layer(model, x)
    lyr = resolve_layer(model, layer, x)
    require_spatial(model, lyr, x)
    return lyr


def _upsample(maps: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """(B, h, w[, K]) -> (B, H, W[, K]) bilinear (half-pixel centres)."""
    squeeze = maps.shape.rank == 3
    m = maps[..., None] if squeeze else maps
    up = tf.image.resize(m, size, method="bilinear")
    return up[..., 0] if squeeze else up


class _CAMBase:
    """Shared machinery; subclasses override :meth:`weights` (TensorFlow, (B, K))."""

    name = "cam_base"
    needs_grads = True

    def weights(self, acts, grads, logits, class_idx, ctx):  # pragma: no cover - abstract
        raise NotImplementedError

    def context(self, model, layer, output) -> tuple:
        """Constant tensors the weights need (e.g. the Dense kernel for CAM)."""
        return ()

    def __call__(
        self,
        model,
        x,
        targets=None,
        *,
        layer=None,
        output=None,
        batch_size=None,
        relu=True,
        return_weights=False,
    ):
        check_images(model, x, grayscale_2d=True)
        x = prepare_images(x)
        if x.shape[0] == 0:
            empty = np.zeros(x.shape[:3], np.float32)
            return (empty, np.zeros((0, 0), np.float32)) if return_weights else empty
        lyr = _layer(model, layer, x)
        target, idx = resolve_targets(targets, x.shape[0])
        ctx = self.context(model, lyr, output)
        fwd = get_forward(model, tuple(target.layers) + (lyr,), output=output)
        size = tuple(x.shape[1:3])
        needs_grads = self.needs_grads

        def fn(xb, ib):
            if needs_grads:
                out = score_and_gradients(fwd, target, xb, ib, layer_grads=True, input_grads=False)
                acts, grads, logits = out["activations"][-1], out["layer_grads"][-1], out["logits"]
            else:
                a, logits = fwd(xb)
                acts, grads, logits = tf.cast(a[-1], tf.float32), None, tf.cast(logits, tf.float32)
            w = self.weights(acts, grads, logits, ib, ctx)
            cam = tf.einsum("bhwk,bk->bhw", acts, w)
            if relu:  # at the layer's resolution, then upsample (SPEC 4.3, Selvaraju et al.)
                cam = tf.nn.relu(cam)
            return _upsample(cam, size), w, logits

        sig = [tf.TensorSpec((None,) + x.shape[1:], tf.float32), tf.TensorSpec((None,), tf.int32)]
        key = ("cam", self.name, fwd.key, target.key, bool(relu), x.shape[1:])
        f = compiled(model, key, fn, sig)
        check_targets_in_range(model, key, f, target, idx, logits_at=2)
        maps, ws, _ = run_batched(f, x, idx, batch_size=batch_size)
        maps = maps.astype(np.float32)
        warn_degenerate(maps, self.name)
        return (maps, ws) if return_weights else maps


class _GradCAM(_CAMBase):
    """alpha_k = mean_ij dF/dA^k_ij (Selvaraju et al. 2017)."""

    name = "grad_cam"

    def weights(self, acts, grads, logits, class_idx, ctx):
        return tf.reduce_mean(grads, axis=[1, 2])


class _GradCAMPlusPlus(_CAMBase):
    """w_k = sum_ij a_ij^k ReLU(g_ij^k), a = g^2 / (2 g^2 + sum_ab A_ab g^3)
    (Chattopadhay et al. 2018, with the exponential-score closed form)."""

    name = "grad_cam_plus_plus"

    def weights(self, acts, grads, logits, class_idx, ctx):
        g2 = grads * grads
        g3 = g2 * grads
        sum_a = tf.reduce_sum(acts, axis=[1, 2], keepdims=True)
        denom = 2.0 * g2 + sum_a * g3
        alpha = tf.math.divide_no_nan(g2, denom)
        return tf.reduce_sum(alpha * tf.nn.relu(grads), axis=[1, 2])


class _CAM(_CAMBase):
    """CAM_c = sum_k w_kc A^k for GAP + Dense heads (Zhou et al. 2016)."""

    name = "cam"
    needs_grads = False

    def context(self, model, layer, output):
        head = output_layer(model, output)
        entries = [lyr for _, lyr in iter_layers(model) if not isinstance(lyr, keras.Model)]
        if isinstance(head, ACTIVATION_LAYERS):
            head = entries[[i for i, e in enumerate(entries) if e is head][0] - 1]
        try:
            feature = default_feature_layer(model, output)
        except ValueError:
            feature = None
        ok = (
            isinstance(head, keras.layers.Dense)
            and isinstance(feature, keras.layers.GlobalAveragePooling2D)
            and layer is default_spatial_layer(model)
        )
        if not ok:
            raise ValueError(
                f"CAM needs a model ending in <conv layer> -> GlobalAveragePooling2D -> Dense, with "
                f"layer = the conv layer feeding the pooling; model {model.name!r} with layer "
                f"{layer.name!r} is not. Use grad_cam(...), which works for any architecture "
                "(and equals CAM / (H*W) on such models)."
            )
        return (head.kernel,)

    def weights(self, acts, grads, logits, class_idx, ctx):
        kernel = tf.cast(ctx[0], tf.float32)  # (K, classes), read live at call time
        if kernel.shape[-1] == 1:  # one unit: class 0 scores -z, class 1 and None z
            sign = tf.where(class_idx == 0, -1.0, 1.0)
            return tf.transpose(kernel) * sign[:, None]
        idx = tf.where(class_idx < 0, tf.argmax(logits, -1, output_type=tf.int32), class_idx)
        return tf.transpose(tf.gather(kernel, idx, axis=1))


_grad_cam = _GradCAM()
_grad_cam_pp = _GradCAMPlusPlus()
_cam = _CAM()

def grad_cam(
    model,
    x,
    targets=None,
    *,
    layer=None,
    output=None,
    batch_size=None,
    relu=True,
    return_weights=False,
):
    """Grad-CAM (Selvaraju et al. 2017): upsample(ReLU(sum_k alpha_k A^k)),
    alpha_k = mean_ij dF/dA^k_ij; the ReLU acts at the layer's resolution.

    Example:
        >>> from keras_insight.testing import small_cnn
        >>> import numpy as np
        >>> grad_cam(small_cnn(), np.random.rand(2, 16, 16, 3), layer="conv2").shape
        (2, 16, 16)

    Args:
        model: a Keras model (Sequential, Functional or nested).
        x: images (N, H, W, C) (or (N, H, W) grayscale).
        targets: int | per-sample ints | None (predicted class) | callable on logits |
            ``neuron(...)``/``channel(...)``.
        layer: the feature layer (name, index or object); default: the last 4-D layer
            before the head.
        output: which output of a multi-output model.
        batch_size: internal batch size.
        relu: apply the ReLU at the layer's resolution before upsampling (False gives the
            upsampled signed map).
        return_weights: also return the channel weights (N, K).

    Returns:
        (N, H, W) float32 maps, bilinearly upsampled to the input size.
    """
    return _grad_cam(
        model,
        x,
        targets,
        layer=layer,
        output=output,
        batch_size=batch_size,
        relu=relu,
        return_weights=return_weights,
    )


def grad_cam_plus_plus(
    model,
    x,
    targets=None,
    *,
    layer=None,
    output=None,
    batch_size=None,
    relu=True,
    return_weights=False,
):
    """Grad-CAM++ (Chattopadhay et al. 2018): w_k = sum_ij alpha_ij ReLU(g_ij),
    alpha = g^2 / (2 g^2 + sum_ab A_ab g^3).

    Example:
        >>> from keras_insight.testing import small_cnn
        >>> import numpy as np
        >>> grad_cam_plus_plus(small_cnn(), np.random.rand(1, 16, 16, 3)).shape
        (1, 16, 16)

    Args and returns: as :func:`grad_cam`.
    """
    return _grad_cam_pp(
        model,
        x,
        targets,
        layer=layer,
        output=output,
        batch_size=batch_size,
        relu=relu,
        return_weights=return_weights,
    )


def cam(
    model,
    x,
    targets=None,
    *,
    layer=None,
    output=None,
    batch_size=None,
    relu=True,
    return_weights=False,
):
    """CAM (Zhou et al. 2016) for <conv> -> GAP -> Dense models: upsample(ReLU(sum_k w_kc A^k)).

    Example:
        >>> from keras_insight.testing import gap_cnn
        >>> import numpy as np
        >>> cam(gap_cnn(), np.random.rand(1, 16, 16, 3), 0).shape
        (1, 16, 16)

    Args and returns: as :func:`grad_cam`.
    """
    return _cam(
        model,
        x,
        targets,
        layer=layer,
        output=output,
        batch_size=batch_size,
        relu=relu,
        return_weights=return_weights,
    )


def score_cam(
    model,
    x,
    targets=None,
    *,
    layer=None,
    output=None,
    batch_size=None,
    relu=True,
    return_weights=False,
):
    """Score-CAM (Wang et al. 2020), gradient-free: w = softmax_k f(x * M_k) with M_k the
    upsampled, min-max normalised channel A^k; map = upsample(ReLU(sum_k w_k A^k)), the ReLU
    at the layer's resolution as for Grad-CAM (pytorch-grad-cam's order).

    All N*K masked inputs go through one compiled forward in chunks of ``batch_size``.

    Example:
        >>> from keras_insight.testing import small_cnn
        >>> import numpy as np
        >>> score_cam(small_cnn(), np.random.rand(1, 16, 16, 3)).shape
        (1, 16, 16)
    """
    check_images(model, x, grayscale_2d=True)
    x = prepare_images(x)
    if x.shape[0] == 0:
        empty = np.zeros(x.shape[:3], np.float32)
        return (empty, np.zeros((0, 0), np.float32)) if return_weights else empty
    lyr = _layer(model, layer, x)
    target, idx = resolved_targets(model, x, targets, output=output, batch_size=batch_size)
    acts = forward_outputs(model, x, [lyr], output=output, batch_size=batch_size)[0][0]
    up = _upsample(tf.constant(acts), tuple(x.shape[1:3])).numpy()  # (N, H, W, K)
    lo = up.min(axis=(1, 2), keepdims=True)
    span = up.max(axis=(1, 2), keepdims=True) - lo
    masks = np.where(span > 0, (up - lo) / np.where(span > 0, span, 1.0), 0.0).astype(np.float32)
    n, k = masks.shape[0], masks.shape[-1]

    def chunk(p):  # masked copies (image p // k, channel p % k), built one chunk at a time
        masked = x[p // k] * masks[p // k, :, :, p % k][..., None]
        return batched_scores(model, masked, target, idx[p // k], output=output, batch_size=len(p))

    scores = run_batched(chunk, np.arange(n * k), batch_size=batch_size, tensors=False)
    scores = scores.reshape(n, k)
    w = np.exp(scores - scores.max(axis=1, keepdims=True))
    w = (w / w.sum(axis=1, keepdims=True)).astype(np.float32)
    cam_small = np.einsum("nhwk,nk->nhw", acts.astype(np.float32), w)
    if relu:
        cam_small = np.maximum(cam_small, 0.0)
    maps = _upsample(tf.constant(cam_small), tuple(x.shape[1:3])).numpy().astype(np.float32)
    warn_degenerate(maps, "score_cam")
    return (maps, w) if return_weights else maps


def guided_grad_cam(
    model,
    x,
    targets=None,
    *,
    layer=None,
    output=None,
    batch_size=None,
    reduce: str | None = "max_abs",
) -> np.ndarray:
    """Guided Grad-CAM (Selvaraju et al. 2017): upsampled Grad-CAM * guided backprop.

    Equals ``grad_cam(...) * saliency(..., method="guided_backprop", reduce=reduce)``
    (broadcast over channels when ``reduce=None``).

    Example:
        >>> from keras_insight.testing import small_cnn
        >>> import numpy as np
        >>> guided_grad_cam(small_cnn(), np.random.rand(1, 16, 16, 3)).shape
        (1, 16, 16)
    """
    from keras_insight.attribution.saliency import saliency

    check_images(model, x, grayscale_2d=True)
    x = prepare_images(x)
    if x.shape[0] == 0:
        return np.zeros(x.shape if reduce is None else x.shape[:3], np.float32)
    # one class for both halves: the class predicted at x
    target, idx = resolved_targets(model, x, targets, output=output, batch_size=batch_size)
    t = idx if isinstance(target, ClassTarget) else target
    gc = grad_cam(model, x, t, layer=layer, output=output, batch_size=batch_size)
    gb = saliency(
        model, x, t, method="guided_backprop", reduce=reduce, output=output, batch_size=batch_size
    )
    return (gc[..., None] * gb if reduce is None else gc * gb).astype(np.float32)
