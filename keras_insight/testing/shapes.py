"""A small ``datasets.shapes`` CNN and the border-hue measure shared by the synthesis-prior
test and benchmark (issue 14: does the data prior reveal a background shortcut?)."""

from __future__ import annotations

import colorsys

import keras
import numpy as np

from keras_insight import datasets

#: classes and image size of the shortcut experiment
SHAPES_K, SHAPES_SIZE = 6, 32


def shapes_cnn() -> keras.Model:
    """Three conv-pool blocks (16, 32, 64 channels) -> Flatten -> Dense(SHAPES_K) logits.

    Example:
        >>> shapes_cnn().output_shape
        (None, 6)
    """
    L = keras.layers
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((SHAPES_SIZE, SHAPES_SIZE, 3)),
            L.Conv2D(16, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(32, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(64, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(SHAPES_K),
        ]
    )


def train_shapes_cnn(spurious: float, n: int = 6000, epochs: int = 8, n_val: int = 2000):
    """Train :func:`shapes_cnn` on ``n`` shapes whose background hue is tied to the class
    with probability ``spurious``: ``(model, x_val, acc)`` where ``x_val`` (``n_val``
    images, same ``spurious``) feeds the data prior and ``acc`` is the accuracy on 2000
    images whose hue is random (spurious=0)."""
    kw = dict(size=SHAPES_SIZE, num_classes=SHAPES_K)
    x, y, _ = datasets.shapes(n, spurious=spurious, seed=1, **kw)
    xv, _, _ = datasets.shapes(n_val, spurious=spurious, seed=2, **kw)
    xte, yte, _ = datasets.shapes(2000, spurious=0.0, seed=3, **kw)
    m = shapes_cnn()
    m.compile(
        keras.optimizers.Adam(2e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    m.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
    return m, xv, float(m.evaluate(xte, yte, verbose=0)[1])


def border_hue_distance(imgs: np.ndarray, band: int = 4) -> np.ndarray:
    """Circular distance ``min(|h - c/K|, 1 - |h - c/K|)`` between the hue ``h`` of image
    ``c``'s border band (mean RGB -> HSV) and the hue ``datasets.shapes`` ties to class
    ``c``, ``c / SHAPES_K``.

    Example:
        >>> img = np.zeros((1, 16, 16, 3), np.float32); img[..., 0] = 1.0  # red: hue 0
        >>> border_hue_distance(img).tolist()
        [0.0]
    """
    out = []
    for c, im in enumerate(imgs):
        ring = np.ones(im.shape[:2], bool)
        ring[band:-band, band:-band] = False
        h = colorsys.rgb_to_hsv(*im[ring].mean(0))[0]
        d = abs(h - c / SHAPES_K)
        out.append(min(d, 1 - d))
    return np.array(out)
