"""What ``targets`` means on the heads people have, for the public functions.

* one sigmoid unit (binary): target 1 explains the logit z, target 0 its negation -z,
  ``None`` the output z itself;
* multi-label sigmoid: target c explains logit c (no softmax coupling between labels);
* regression (one linear unit): ``targets=None`` explains the output itself.

Linear heads make every expected value analytic: for Flatten -> Dense(w, b) the logit is
z = w . x + b, so d z / d x = w, integrated gradients from a zero baseline are w * x and
occluding pixel p with zero drops z by w_p x_p.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_insight as ki

SHAPE = (4, 4, 2)
X = np.random.default_rng(0).uniform(0.1, 1.0, (3, *SHAPE)).astype("float32")


def _linear(units: int, activation):
    keras.utils.set_random_seed(units)
    m = keras.Sequential(
        [
            keras.Input(SHAPE),
            keras.layers.Flatten(),
            keras.layers.Dense(units, activation=activation, name="head"),
        ]
    )
    w, b = m.get_layer("head").get_weights()
    m.get_layer("head").set_weights([w, np.full_like(b, 0.25)])
    return m, m.get_layer("head").kernel.numpy().reshape(*SHAPE, units), 0.25


def _z(x, w):  # the linear logits (N, units)
    return np.einsum("nhwc,hwck->nk", x, w) + 0.25


def test_binary_sigmoid_targets():
    m, w, _ = _linear(1, "sigmoid")
    w1 = w[..., 0]
    s1 = ki.saliency(m, X, 1, reduce=None)
    s0 = ki.saliency(m, X, 0, reduce=None)
    sn = ki.saliency(m, X, None, reduce=None)
    np.testing.assert_allclose(s1, np.broadcast_to(w1, X.shape), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(s0, -s1, rtol=1e-6, atol=0)  # class 0 = -z = logit of 1 - p
    np.testing.assert_allclose(sn, s1, rtol=1e-6, atol=0)  # None: the output z itself
    # integrated gradients, zero baseline: w * x, complete against z(x) - z(0) (and its negation)
    ig1, d1 = ki.integrated_gradients(m, X, 1, steps=8, return_delta=True)
    ig0 = ki.integrated_gradients(m, X, 0, steps=8)
    np.testing.assert_allclose(ig1, w1 * X, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ig0, -ig1, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ig1.sum(axis=(1, 2, 3)), _z(X, w)[:, 0] - 0.25, rtol=1e-4)
    assert np.abs(d1).max() < 1e-4
    # occlusion, 1x1 zero patch: the drop of z is w_p x_p summed over channels
    o1 = ki.occlusion(m, X, 1, patch=1, stride=1, baseline=0.0)
    o0 = ki.occlusion(m, X, 0, patch=1, stride=1, baseline=0.0)
    np.testing.assert_allclose(o1, (w1 * X).sum(-1), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(o0, -o1, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="out of range"):
        ki.saliency(m, X, 2)


def test_multi_label_sigmoid_targets():
    m, w, _ = _linear(3, "sigmoid")
    for c in range(3):
        np.testing.assert_allclose(
            ki.saliency(m, X, c, reduce=None),
            np.broadcast_to(w[..., c], X.shape),
            rtol=1e-5,
            atol=1e-7,
        )
    # None: the label with the largest logit, per sample
    best = _z(X, w).argmax(-1)
    np.testing.assert_allclose(
        ki.saliency(m, X, None, reduce=None),
        np.moveaxis(w[..., best], -1, 0),
        rtol=1e-5,
        atol=1e-7,
    )
    ig = ki.integrated_gradients(m, X, [0, 1, 2], steps=8)
    np.testing.assert_allclose(
        ig.sum(axis=(1, 2, 3)), _z(X, w)[[0, 1, 2], [0, 1, 2]] - 0.25, rtol=1e-4
    )


def test_regression_targets_none_explains_the_output():
    m, w, _ = _linear(1, None)
    y = m.predict(X, verbose=0)[:, 0]
    np.testing.assert_allclose(_z(X, w)[:, 0], y, rtol=1e-5)
    sal = ki.saliency(m, X, None, reduce=None)
    np.testing.assert_allclose(sal, np.broadcast_to(w[..., 0], X.shape), rtol=1e-5, atol=1e-7)
    ig, delta = ki.integrated_gradients(m, X, None, steps=8, return_delta=True)
    np.testing.assert_allclose(ig.sum(axis=(1, 2, 3)), y - 0.25, rtol=1e-4)
    assert np.abs(delta).max() < 1e-4
    np.testing.assert_allclose(ki.gradients(m, X).scores, y, rtol=1e-5, atol=1e-6)
    occ = ki.occlusion(m, X, None, patch=1, stride=1, baseline=0.0)
    np.testing.assert_allclose(occ, (w[..., 0] * X).sum(-1), rtol=1e-4, atol=1e-6)


def test_binary_sigmoid_cam_family_and_none():
    """GAP + Dense(1, sigmoid): CAM for class 0 is minus CAM for class 1, None is class 1,
    and pre-ReLU Grad-CAM = CAM / Z for both classes."""
    keras.utils.set_random_seed(5)
    L = keras.layers
    m = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            L.Conv2D(4, 3, padding="same", name="conv"),
            L.GlobalAveragePooling2D(),
            L.Dense(1, activation="sigmoid", name="head"),
        ]
    )
    x = np.random.default_rng(2).uniform(0, 1, (3, 8, 8, 3)).astype("float32")
    c1 = ki.cam(m, x, 1, relu=False)
    c0 = ki.cam(m, x, 0, relu=False)
    assert np.abs(c1).max() > 0
    np.testing.assert_allclose(c0, -c1, rtol=1e-6, atol=0)
    np.testing.assert_allclose(ki.cam(m, x, None, relu=False), c1, rtol=1e-6, atol=0)
    for t, c in ((1, c1), (0, c0), (None, c1)):
        np.testing.assert_allclose(
            ki.grad_cam(m, x, t, relu=False), c / 64.0, rtol=1e-4, atol=1e-7
        )
    o1 = ki.occlusion(m, x, 1, patch=4, stride=4)
    np.testing.assert_allclose(ki.occlusion(m, x, None, patch=4, stride=4), o1, rtol=1e-6)
    np.testing.assert_allclose(ki.occlusion(m, x, 0, patch=4, stride=4), -o1, rtol=1e-5, atol=1e-7)
