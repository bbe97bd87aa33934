"""Introspection on every model kind: layers, defaults, activations, linear heads."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import assert_unchanged, snapshot

from keras_insight.core import (
    Forward,
    SubclassedModelError,
    default_feature_layer,
    default_spatial_layer,
    features,
    forward_outputs,
    gradients,
    iter_layers,
    output_layer,
    require_spatial,
    resolve_layer,
    spatial_layers,
)
from keras_insight.testing import MODEL_KINDS, make_model

GRAPH_KINDS = [k for k in MODEL_KINDS if k != "subclassed"]
X = np.random.default_rng(0).random((5, 16, 16, 3)).astype("float32")


def _saved(kind, tmp_path, ext):
    model = make_model(kind)
    path = str(tmp_path / f"m.{ext}")
    model.save(path)
    return model, keras.models.load_model(path, compile=False)


@pytest.mark.parametrize("kind", GRAPH_KINDS)
def test_spatial_layers_and_defaults(kind):
    m = make_model(kind)
    names = [lyr.name for _, lyr in spatial_layers(m)]
    assert names == ["conv1", "pool1", "conv2"]
    assert default_spatial_layer(m).name == "conv2"
    assert default_feature_layer(m).name == "gap"
    assert output_layer(m).name == "logits"


@pytest.mark.parametrize("kind", GRAPH_KINDS)
def test_activations_equal_calling_layers_directly(kind):
    m = make_model(kind)
    before = snapshot(m, X)
    conv1, pool1, conv2 = (resolve_layer(m, n) for n in ("conv1", "pool1", "conv2"))
    (a1, a2), logits = forward_outputs(m, X, ["conv1", "conv2"])
    direct1 = conv1(X)
    direct2 = conv2(pool1(direct1))
    np.testing.assert_allclose(a1, direct1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a2, direct2, rtol=1e-5, atol=1e-6)
    # logits are the pre-softmax scores: softmax(logits) is what the model outputs
    np.testing.assert_allclose(tf.nn.softmax(logits), m(X), rtol=1e-5, atol=1e-6)
    assert not np.allclose(logits.sum(-1), 1.0)
    assert_unchanged(m, X, before)


@pytest.mark.parametrize("ext", ["keras", "h5"])
@pytest.mark.parametrize("kind", ["sequential", "sequential_no_input", "functional"])
def test_loaded_models(kind, ext, tmp_path):
    original, loaded = _saved(kind, tmp_path, ext)
    if kind.startswith("sequential") and ext == "keras":
        with pytest.raises((AttributeError, ValueError)):
            _ = loaded.output  # the Keras 3 trap the introspection must avoid
    assert default_spatial_layer(loaded).name == "conv2"
    (a,), lg = forward_outputs(loaded, X, ["conv2"])
    (b,), lg0 = forward_outputs(original, X, ["conv2"])
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lg, lg0, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "head",
    [
        ("fused", "softmax"),
        ("fused", "sigmoid"),
        ("fused", "relu"),
        ("layer", keras.layers.Softmax),
        ("layer", lambda: keras.layers.Activation("sigmoid")),
        ("layer", keras.layers.ReLU),
    ],
    ids=["softmax", "sigmoid", "relu", "Softmax", "Activation-sigmoid", "ReLU"],
)
def test_final_activation_removed(head):
    keras.utils.set_random_seed(1)
    how, act = head
    layers = [keras.Input((6,)), keras.layers.Dense(5, name="hidden", activation="tanh")]
    if how == "fused":
        layers.append(keras.layers.Dense(3, activation=act, name="out"))
    else:
        layers += [keras.layers.Dense(3, name="out"), act()]
    m = keras.Sequential(layers)
    x = np.random.default_rng(1).normal(size=(4, 6)).astype("float32") * 3
    before = snapshot(m, x)
    _, logits = Forward(m)(tf.constant(x))
    out = m.get_layer("out")
    expected = np.tanh(
        x @ m.get_layer("hidden").kernel.numpy() + m.get_layer("hidden").bias.numpy()
    )
    expected = expected @ out.kernel.numpy() + out.bias.numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
    assert (expected < 0).any()  # so a leftover ReLU/sigmoid/softmax would be visible
    assert_unchanged(m, x, before)


def test_functional_multi_output_select():
    inp = keras.Input((4,))
    h = keras.layers.Dense(3, activation="relu", name="h")(inp)
    a = keras.layers.Dense(2, activation="softmax", name="a")(h)
    b = keras.layers.Dense(1, activation="sigmoid", name="b")(h)
    m = keras.Model(inp, [a, b])
    x = np.random.default_rng(0).random((3, 4)).astype("float32")
    with pytest.raises(ValueError, match="output="):
        Forward(m)
    _, lb = Forward(m, output=1)(tf.constant(x))
    hb = np.maximum(x @ m.get_layer("h").kernel.numpy() + m.get_layer("h").bias.numpy(), 0)
    np.testing.assert_allclose(
        lb,
        hb @ m.get_layer("b").kernel.numpy() + m.get_layer("b").bias.numpy(),
        rtol=1e-5,
        atol=1e-6,
    )
    assert output_layer(m, "b").name == "b"


def test_subclassed_model_input_gradients_work_layers_raise():
    m = make_model("subclassed")
    r = gradients(m, X, targets=1)
    # finite differences on one pixel
    eps = 1e-2
    x2 = X.copy()
    x2[0, 3, 4, 1] += eps
    fd = (m(x2)[0, 1] - m(X)[0, 1]) / eps
    np.testing.assert_allclose(r.input_grads[0, 3, 4, 1], fd, rtol=0.05, atol=1e-3)
    with pytest.raises(SubclassedModelError, match="subclassed"):
        spatial_layers(m)
    with pytest.raises(SubclassedModelError, match="Functional or Sequential"):
        Forward(m, ["conv1"])


def test_nested_layer_found_by_path_and_name():
    m = make_model("nested")
    assert resolve_layer(m, "base/conv2") is resolve_layer(m, "conv2")
    assert resolve_layer(m, 0).name == "base"


def test_wrong_layer_name_lists_valid_ones():
    m = make_model("sequential")
    with pytest.raises(ValueError, match=r"No layer named 'conv9'.*'conv1'.*'conv2'"):
        resolve_layer(m, "conv9")
    with pytest.raises(ValueError, match="out of range"):
        resolve_layer(m, 42)


def test_layer_without_4d_output_is_a_clear_error():
    m = make_model("sequential")
    with pytest.raises(ValueError, match=r"not a 4-D.*'conv1', 'pool1', 'conv2'"):
        require_spatial(m, resolve_layer(m, "gap"))


def test_features_default_layer_and_pooling():
    m = make_model("functional")
    f = features(m, X)
    (a,), _ = forward_outputs(m, X, ["conv2"])
    np.testing.assert_allclose(f, a.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    raw = features(m, X, "conv2", pool=None)
    assert raw.ndim == 4
    np.testing.assert_allclose(features(m, X, "conv2"), raw.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(features(m, X, "conv2", pool="max"), raw.max(axis=(1, 2)), rtol=1e-6)


@pytest.mark.parametrize("kind", GRAPH_KINDS)
def test_shape_introspection_adds_no_call_nodes(kind):
    m = make_model(kind)
    before = {id(lyr): len(lyr._inbound_nodes) for _, lyr in iter_layers(m)}
    spatial_layers(m)
    default_spatial_layer(m)
    assert {id(lyr): len(lyr._inbound_nodes) for _, lyr in iter_layers(m)} == before
    # and a layer inside a nested model is still reached from the outer input afterwards
    (a,), _ = forward_outputs(m, X, ["conv2"])
    conv1, pool1, conv2 = (resolve_layer(m, n) for n in ("conv1", "pool1", "conv2"))
    np.testing.assert_allclose(a, conv2(pool1(conv1(X))), rtol=1e-5, atol=1e-6)
