"""The one affine warp: rotate, zoom and shift images about their centre (batched).

Used by the synthesis transforms (inside a compiled loop) and by the invariance
corruptions (eagerly); TensorFlow is imported on first use, so ``render`` stays light.
"""

from __future__ import annotations

from typing import Any


def affine_warp(
    x: Any,
    theta: Any = 0.0,
    zoom: Any = 1.0,
    shift: Any = (0.0, 0.0),
    *,
    fill_mode: str = "reflect",
    interpolation: str = "bilinear",
):
    """Warp NHWC images: output pixel p samples the input at c + R(theta) (p - c) / zoom - t.

    c is the image centre ((W - 1) / 2, (H - 1) / 2), R the rotation by ``theta`` radians,
    t = ``shift`` = (dx, dy) in pixels. ``theta``, ``zoom`` are scalars or one per image,
    ``shift`` one pair or (N, 2). ``fill_mode``: "reflect", "nearest", "constant" (0),
    "wrap". theta = 0, zoom = 1, shift = 0 is the exact identity. Returns a float32 tensor;
    works inside ``tf.function``.

    Example:
        >>> import numpy as np
        >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
        >>> bool(np.array_equal(affine_warp(x).numpy(), x))
        True
        >>> np.round(affine_warp(x, np.pi).numpy()[0, 0, :, 0], 4).tolist()  # half a turn
        [15.0, 14.0, 13.0, 12.0]
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(x, tf.float32)
    shape = tf.shape(x)
    n = shape[0]
    h, w = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    theta = tf.broadcast_to(tf.cast(theta, tf.float32), [n])
    zoom = tf.broadcast_to(tf.cast(zoom, tf.float32), [n])
    shift = tf.broadcast_to(tf.cast(shift, tf.float32), [n, 2])
    cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
    a0, a1 = tf.cos(theta) / zoom, -tf.sin(theta) / zoom
    b0, b1 = tf.sin(theta) / zoom, tf.cos(theta) / zoom
    a2 = cx - a0 * cx - a1 * cy - shift[:, 0]
    b2 = cy - b0 * cx - b1 * cy - shift[:, 1]
    zeros = tf.zeros([n])
    transform = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x,
        transforms=transform,
        output_shape=shape[1:3],
        interpolation=interpolation.upper(),
        fill_mode=fill_mode.upper(),
        fill_value=0.0,
    )
