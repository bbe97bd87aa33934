"""Trained-model test (issue #3): Grad-CAM of a CNN trained on unbiased `shapes` points at
the object (and GrabCut seeded by it recovers the object mask); the same CNN trained with the background tied to the label (spurious=1.0,
"husky on snow") does not."""

import keras
import numpy as np
import pytest
from conftest import require_module

from keras_insight.attribution import grad_cam
from keras_insight.datasets import shapes
from keras_insight.metrics import pointing_game

SIZE = 32


def _cnn() -> keras.Model:
    """conv-conv-pool-conv-conv-pool-conv (BatchNorm, ReLU) -> GAP -> Dense: Grad-CAM on
    the last 8x8 block keeps enough resolution to land on 8-14 px objects."""
    keras.utils.set_random_seed(0)
    L = keras.layers

    def block(filters, name=None):
        return [
            L.Conv2D(filters, 3, padding="same", use_bias=False),
            L.BatchNormalization(momentum=0.9),
            L.ReLU(name=name),
        ]

    m = keras.Sequential(
        [keras.Input((SIZE, SIZE, 3))]
        + block(16)
        + block(16)
        + [L.MaxPooling2D()]
        + block(32)
        + block(32)
        + [L.MaxPooling2D()]
        + block(64, "cam")
        + [L.GlobalAveragePooling2D(), L.Dense(3)]
    )
    m.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return m


@pytest.fixture(scope="module")
def trained():
    """One model per spurious setting (the spurious one learns the background in 2 epochs)."""
    models = {}
    for spurious, n, epochs in ((0.0, 2000, 8), (1.0, 1000, 2)):
        x, y, _ = shapes(n, size=SIZE, spurious=spurious, seed=1)
        m = _cnn()
        m.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
        models[spurious] = m
    return models


@pytest.fixture(scope="module")
def held_out():
    return shapes(300, size=SIZE, spurious=0.0, seed=99)


def test_grad_cam_pointing_game_unbiased_vs_spurious(trained, held_out):
    x, y, masks = held_out
    scores, accs = {}, {}
    for spurious, m in trained.items():
        accs[spurious] = float((np.argmax(m.predict(x, verbose=0), 1) == y).mean())
        # Grad-CAM for the TRUE class on all held-out images; hit = first argmax inside the
        # exact object mask (no dilation).
        scores[spurious] = pointing_game(grad_cam(m, x, y, layer="cam"), masks)
    # the unbiased model recognises the shapes and looks at them
    assert accs[0.0] >= 0.85, accs
    assert scores[0.0] >= 0.8, scores
    # the spurious model is at chance on unbiased images and looks at the background
    assert accs[1.0] <= 0.5, accs
    assert scores[1.0] <= 0.5 and scores[1.0] <= scores[0.0] - 0.3, scores


def test_saliency_segmentation_grabcut_recovers_the_object(trained, held_out):
    require_module("cv2", "needs OpenCV (pip install -e .[segment])")
    from keras_insight.attribution import saliency_segmentation

    x, y, masks = (a[:60] for a in held_out)
    maps = grad_cam(trained[0.0], x, y, layer="cam")
    ious = []
    for img, sal, mk in zip(x, maps, masks):
        seg = saliency_segmentation(img, sal)
        ious.append((seg & mk).sum() / max((seg | mk).sum(), 1))
    assert float(np.mean(ious)) >= 0.5, np.mean(ious)
