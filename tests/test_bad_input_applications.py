"""keras.applications models (random weights, nothing downloaded): the default Grad-CAM /
activation layer is the last spatial layer before the head, also on squeeze-excitation
architectures, and a few bad-input cells on these models."""

from __future__ import annotations

import numpy as np
import pytest

import keras_insight as ki
from keras_insight.core.introspection import default_spatial_layer, layer_output_shapes
from keras_insight.testing.models import application

SHAPE = (64, 64, 3)
#: the layer feeding the head's global pooling in each architecture
DEFAULTS = {
    "MobileNetV2": "out_relu",
    "ResNet50": "conv5_block3_out",
    "EfficientNetB0": "top_activation",  # was block1a_activation: the first SE pooling
    "frozen_MobileNetV2": "out_relu",  # inside the nested base
}
_MODELS: dict = {}


def _model(name):
    if name not in _MODELS:
        _MODELS[name] = application(name, SHAPE, num_classes=3)
    return _MODELS[name]


@pytest.mark.parametrize("name", list(DEFAULTS))
def test_default_spatial_layer_is_last_before_head(name):
    m = _model(name)
    layer = default_spatial_layer(m)
    assert layer.name == DEFAULTS[name]
    shapes = layer_output_shapes(m)
    # the deepest feature map: 64 / 32 = 2 pixels on a side, all channels of the last stage
    assert shapes[id(layer)][1:3] == (2, 2)
    # no 4-D layer with more channels at that resolution comes after it (SE maps are 1x1)
    later = [
        s for lyr_id, s in shapes.items() if len(s) == 4 and s[1:3] == (2, 2)
    ]
    assert max(s[-1] for s in later) == shapes[id(layer)][-1]


def test_efficientnet_grad_cam_default_is_cam_over_z():
    """On the default layer (GAP -> Dropout -> Dense head) pre-ReLU Grad-CAM = CAM / Z:
    true only at the layer the head pools, not at an early SE block."""
    m = _model("EfficientNetB0")
    x = np.random.default_rng(0).uniform(0, 255, (2, *SHAPE)).astype("float32")
    gc = ki.grad_cam(m, x, [0, 2], relu=False)
    np.testing.assert_allclose(
        gc, ki.grad_cam(m, x, [0, 2], layer="top_activation", relu=False), rtol=1e-6, atol=0
    )
    cam = ki.cam(m, x, [0, 2], layer="top_activation", relu=False)
    assert np.abs(cam).max() > 0
    np.testing.assert_allclose(gc, cam / 4.0, rtol=1e-3, atol=1e-6 * np.abs(cam).max())


def test_bad_input_on_applications_is_one_line():
    m = _model("MobileNetV2")
    gray = np.zeros((2, 64, 64, 1), "float32")
    with pytest.raises(ValueError, match=r"expected \(64, 64, 3\), got \(64, 64, 1\)") as e:
        ki.grad_cam(m, gray)
    assert "\n" not in str(e.value) and "np.repeat" in str(e.value)
    small = np.zeros((2, 32, 32, 3), "float32")
    with pytest.raises(ValueError, match=r"expected \(64, 64, 3\), got \(32, 32, 3\)"):
        ki.saliency(_model("frozen_MobileNetV2"), small)


def test_frozen_base_in_sequential_gives_maps():
    """Grad-CAM through a frozen nested base equals the map at the base's last layer."""
    m = _model("frozen_MobileNetV2")
    x = np.random.default_rng(1).uniform(0, 1, (2, *SHAPE)).astype("float32")
    a = ki.grad_cam(m, x, [0, 1], relu=False)
    b = ki.grad_cam(m, x, [0, 1], layer="out_relu", relu=False)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 64, 64) and np.isfinite(a).all()
