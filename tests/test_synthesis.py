"""Synthesis: analytic results, equivalences and invariants (SPEC 4.4)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_insight._config import iterations
from keras_insight.core import engine, forward_outputs
from keras_insight.synthesis import (
    INPUT,
    FourierParam,
    PixelParam,
    blur_every,
    channel,
    class_logit,
    crop,
    deep_dream,
    gram_matrix,
    invert,
    jitter,
    l2,
    l2_ball,
    layer_l2,
    maximize,
    neuron,
    objective_values,
    pad,
    rotate,
    scale,
    synthesize_texture,
    texture_loss,
    total_variation,
)
from keras_insight.synthesis.transforms import (
    apply_transforms,
    default_transforms,
    rotate_image,
    scale_image,
)
from keras_insight.testing import linear_model, make_model, small_cnn

RNG = (0.0, 1.0)


@pytest.fixture(scope="module")
def cnn():
    return small_cnn()


def _x(n=2, shape=(16, 16, 3), seed=0):
    return np.random.default_rng(seed).uniform(0.05, 0.95, (n, *shape)).astype(np.float32)


# ------------------------------------------------------------ objectives


@pytest.mark.parametrize(
    "kind", ["class_logit", "channel", "neuron_centre", "neuron_at", "layer_l2"]
)
def test_objective_increases_for_every_kind(cnn, kind):
    start = maximize(cnn, class_logit(0), steps=1, lr=1e-12, transforms=(), input_range=RNG, seed=3)
    (a1, a2), _ = forward_outputs(cnn, start, ["conv1", "conv2"])
    k2 = int(
        a2[0].mean(axis=(0, 1)).argmax()
    )  # a live channel at the start (ReLU: dead ones stay 0)
    k1 = int(a1[0, 4, 7].argmax())
    objective = {
        "class_logit": class_logit(1),
        "channel": channel("conv2", k2),
        "neuron_centre": neuron("conv2", int(a2[0, 4, 4].argmax())),
        "neuron_at": neuron("conv1", k1, 4, 7),
        "layer_l2": layer_l2("conv1"),
    }[kind]
    end = maximize(cnn, objective, steps=iterations(64, 32), transforms=(), input_range=RNG, seed=3)
    v0 = objective_values(cnn, objective, start, input_range=RNG)
    v1 = objective_values(cnn, objective, end, input_range=RNG)
    assert v1[0] > v0[0] + 1e-3, (v0, v1)


def test_regularised_objective_decreases_penalty(cnn):
    obj = -1.0 * total_variation()
    x0 = _x(1)
    x1 = maximize(
        cnn, obj, steps=iterations(64, 32), param="pixels", transforms=(), init=x0, input_range=RNG
    )
    assert (
        objective_values(cnn, obj, x1, input_range=RNG)[0]
        > 2 * objective_values(cnn, obj, x0, input_range=RNG)[0]
    )


def test_objective_algebra_equals_arithmetic(cnn):
    x = _x(3)
    a, b, c = class_logit(2), channel("conv2", 1), l2()
    combo = a - 0.1 * c + 2 * b - 0.5
    va, vb, vc = (objective_values(cnn, o, x, input_range=RNG) for o in (a, b, c))
    got = objective_values(cnn, combo, x, input_range=RNG)
    np.testing.assert_allclose(got, va - 0.1 * vc + 2 * vb - 0.5, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        objective_values(cnn, -a / 4, x, input_range=RNG), -va / 4, rtol=1e-6
    )
    assert sorted(map(str, combo.layers)) == ["conv2"]


def test_class_objective_is_pre_activation_logit():
    m = linear_model()
    w, b = m.layers[-1].kernel.numpy(), m.layers[-1].bias.numpy()
    x = np.random.default_rng(1).uniform(-1, 1, (4, 6, 6, 2)).astype(np.float32)
    got = objective_values(m, class_logit(2), x, input_range=(-1, 1))
    np.testing.assert_allclose(got, x.reshape(4, -1) @ w[:, 2] + b[2], rtol=1e-5, atol=1e-5)


def test_linear_unit_in_l2_ball_converges_to_normalised_weights():
    m = linear_model()
    w = m.layers[-1].kernel.numpy()[:, 1]
    x = maximize(
        m,
        class_logit(1),
        steps=iterations(300, 200),
        param="pixels",
        constraint=l2_ball(1.0),
        transforms=(),
        input_range=(-1, 1),
    )
    v = x.reshape(-1)
    assert np.linalg.norm(v) <= 1 + 1e-5
    assert v @ w / np.linalg.norm(v) / np.linalg.norm(w) > 0.99


def test_batch_equals_each_alone(cnn):
    objs = [class_logit(i) for i in range(4)]
    steps = iterations(32, 16)
    together = maximize(cnn, objs, steps=steps, input_range=RNG, seed=7)
    alone = np.concatenate([maximize(cnn, o, steps=steps, input_range=RNG, seed=7) for o in objs])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)


def test_seed_reproducible_and_inside_range(cnn):
    a = maximize(cnn, class_logit(0), steps=8, input_range=(0, 255), seed=1)
    b = maximize(cnn, class_logit(0), steps=8, input_range=(0, 255), seed=1)
    c = maximize(cnn, class_logit(0), steps=8, input_range=(0, 255), seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert a.min() >= 0 and a.max() <= 255 and a.dtype == np.float32


def test_loop_is_traced_once(cnn):
    maximize(cnn, class_logit(3), steps=4, input_range=RNG, seed=0)
    before = sum(v for k, v in engine.TRACE_COUNTS.items() if k[0] == "maximize")
    maximize(cnn, class_logit(3), steps=9, input_range=RNG, seed=5)
    after = sum(v for k, v in engine.TRACE_COUNTS.items() if k[0] == "maximize")
    assert after == before


@pytest.mark.parametrize(
    "kind", ["sequential", "sequential_no_input", "functional", "nested", "subclassed"]
)
def test_all_model_kinds(kind):
    m = make_model(kind)
    objs = (
        [class_logit(0), class_logit(1)]
        if kind == "subclassed"
        else [class_logit(0), channel("conv2", 1)]
    )
    imgs = maximize(m, objs, steps=4, input_range=RNG, image_shape=(16, 16, 3))
    assert imgs.shape == (2, 16, 16, 3) and np.isfinite(imgs).all()


def test_user_model_unchanged(cnn):
    x = _x(2)
    before = [w.copy() for w in cnn.get_weights()]
    out = cnn(x).numpy()
    maximize(cnn, [class_logit(0), neuron("conv1", 1)], steps=4, input_range=RNG)
    for a, b in zip(before, cnn.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(out, cnn(x).numpy())
    np.testing.assert_allclose(out.sum(-1), 1, rtol=1e-5)  # softmax still there


# ------------------------------------------------------------ parameterisations


@pytest.mark.parametrize("shape", [(16, 16, 3), (15, 9, 1), (8, 8, 2)])
def test_fourier_round_trip_and_range(shape):
    for rng in [(0.0, 1.0), (0.0, 255.0), (-1.0, 1.0)]:
        P = FourierParam(shape, rng)
        x = np.random.default_rng(0).uniform(0.02, 0.98, (2, *shape)).astype(np.float32)
        x = rng[0] + (rng[1] - rng[0]) * x
        np.testing.assert_allclose(
            P.to_image(P.from_image(x)).numpy(), x, atol=2e-4 * (rng[1] - rng[0])
        )
        p = 50 * np.random.default_rng(1).standard_normal(P.param_shape(3)).astype(np.float32)
        img = P.to_image(p).numpy()
        assert img.min() >= rng[0] and img.max() <= rng[1] and np.isfinite(img).all()


def test_fourier_spectrum_is_one_over_f():
    P = FourierParam((32, 32, 1), RNG, sd=1.0)
    s = P.spectrum_scale
    assert s[0, 1] == pytest.approx(
        2 * s[0, 2], rel=1e-5
    )  # 1/f: twice the frequency, half the scale
    assert s[0, 0] == pytest.approx(s[0, 1], rel=1e-5)  # DC clamped at the lowest frequency


def test_pixel_param_round_trip_and_projection():
    P = PixelParam((4, 4, 1), (0, 255))
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 1)).astype(np.float32)
    np.testing.assert_allclose(P.to_image(P.from_image(x)).numpy(), x, rtol=1e-6)
    assert float(tf.reduce_max(P.project(tf.constant([2.0])))) == 1.0


def test_l2_ball_projection():
    x = np.random.default_rng(0).normal(0, 3, (3, 4, 4, 1)).astype(np.float32)
    y = l2_ball(2.0, 0.0)(x, (-10, 10)).numpy()
    np.testing.assert_allclose(np.linalg.norm(y.reshape(3, -1), axis=1), 2.0, rtol=1e-5)
    small = 0.01 * x
    np.testing.assert_allclose(l2_ball(2.0, 0.0)(small, (-10, 10)).numpy(), small, rtol=1e-6)


# ------------------------------------------------------------ transforms


def test_identity_transform_parameters_are_exact():
    x = tf.constant(_x(2, (12, 10, 3)))
    seed = tf.constant([1, 2])
    for t in [pad(0), jitter(0), scale(1, 1), rotate(0), crop((12, 10))]:
        np.testing.assert_array_equal(t(x, seed, RNG).numpy(), x.numpy())
    np.testing.assert_array_equal(rotate_image(x, 0.0).numpy(), x.numpy())
    np.testing.assert_array_equal(scale_image(x, 1.0).numpy(), x.numpy())


def test_transform_shape_algebra():
    x = tf.constant(_x(2, (20, 20, 1)))
    seed = tf.constant([0, 0])
    assert pad(5)(x, seed, RNG).shape == (2, 30, 30, 1)
    assert jitter(4)(x, seed, RNG).shape == (2, 16, 16, 1)
    assert crop((7, 9))(x, seed, RNG).shape == (2, 7, 9, 1)
    chain = [pad(3), jitter(2), jitter(1), crop((20, 20))]
    assert apply_transforms(chain, x, seed, RNG).shape == (2, 20, 20, 1)
    assert apply_transforms(default_transforms((20, 20)), x, seed, RNG).shape == (2, 20, 20, 1)
    # pad then jitter of 2p with a crop at offset p is the identity on the content
    padded = pad(3)(x, seed, RNG).numpy()
    np.testing.assert_array_equal(padded[:, 3:-3, 3:-3], x.numpy())
    assert np.all(padded[:, :3] == 0.5)  # constant fill at the middle of the range


def test_transforms_reproducible_under_seed():
    x = tf.constant(_x(2, (20, 20, 3)))
    chain = default_transforms((20, 20))
    a = apply_transforms(chain, x, tf.constant([3, 4]), RNG).numpy()
    b = apply_transforms(chain, x, tf.constant([3, 4]), RNG).numpy()
    c = apply_transforms(chain, x, tf.constant([3, 5]), RNG).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_jitter_is_a_crop_of_the_input():
    x = tf.constant(_x(1, (10, 10, 1)))
    y = jitter(3)(x, tf.constant([9, 9]), RNG).numpy()[0, :, :, 0]
    xs = x.numpy()[0, :, :, 0]
    assert any(np.array_equal(xs[i : i + 7, j : j + 7], y) for i in range(4) for j in range(4))


# ------------------------------------------------------------ inversion, texture, dream


def test_inversion_identity_recovers_image(cnn):
    x0 = _x(2)
    rec, err = invert(
        cnn, x0, INPUT, steps=iterations(200, 120), lambda_alpha=0, lambda_tv=0, input_range=RNG
    )
    assert np.all(err["pixel_error"] < 0.02)
    np.testing.assert_allclose(err["feature_error"], err["pixel_error"], rtol=1e-3, atol=1e-5)


def test_inversion_first_conv_layer_converges(cnn):
    x0 = _x(2)
    rec, err = invert(cnn, x0, "conv1", steps=iterations(256, 160), input_range=RNG)
    assert np.all(err["feature_error"] < 0.05), err
    assert rec.min() >= 0 and rec.max() <= 1


def test_gram_matrix_symmetric_and_analytic():
    f = np.random.default_rng(0).normal(size=(2, 5, 4, 3)).astype(np.float32)
    g = gram_matrix(f).numpy()
    np.testing.assert_allclose(g, np.transpose(g, (0, 2, 1)), rtol=1e-6)
    flat = f.reshape(2, 20, 3)
    np.testing.assert_allclose(g, np.einsum("npc,npd->ncd", flat, flat) / 20, rtol=1e-5, atol=1e-6)
    assert np.all(np.linalg.eigvalsh(g) > -1e-5)  # positive semi-definite


def test_texture_loss_falls_below_20_percent(cnn):
    style = _x(1, seed=4)
    layers = ["conv1", "conv2"]
    steps = iterations(200, 120)
    start = maximize(
        cnn, class_logit(0), steps=1, lr=1e-12, transforms=(), input_range=RNG
    )  # the initial image
    tex = synthesize_texture(cnn, style, layers, steps=steps, input_range=RNG)
    l0 = texture_loss(cnn, start, style, layers, input_range=RNG)[0]
    l1 = texture_loss(cnn, tex, style, layers, input_range=RNG)[0]
    assert l1 < 0.2 * l0, (l0, l1)
    assert texture_loss(cnn, style, style, layers, input_range=RNG)[0] == pytest.approx(0, abs=1e-6)


def test_deep_dream_increases_layer_energy(cnn):
    x = _x(1)
    out = deep_dream(cnn, x, "conv2", steps=iterations(16, 8), octaves=2, input_range=RNG)
    e0 = objective_values(cnn, layer_l2("conv2"), x, input_range=RNG)[0]
    e1 = objective_values(cnn, layer_l2("conv2"), out, input_range=RNG)[0]
    assert e1 > e0 and out.shape == x.shape and out.min() >= 0 and out.max() <= 1


def test_deep_dream_octaves_on_functional_model_with_fixed_input():
    # lower octaves optimise a smaller detail image that is resized to the model's size
    # before the forward pass; a Functional model rejects any other input size
    from keras_insight.testing import gap_cnn

    m = gap_cnn()
    x = _x(1)
    out = deep_dream(m, x, "conv2", steps=2, octaves=3, input_range=RNG)
    assert out.shape == x.shape and out.dtype == np.float32 and np.isfinite(out).all()


def test_blur_every_smooths(cnn):
    x = maximize(
        cnn,
        class_logit(0),
        steps=8,
        param="pixels",
        regularizers=[blur_every(1, 1.0)],
        input_range=RNG,
    )
    y = maximize(cnn, class_logit(0), steps=8, param="pixels", input_range=RNG)
    tv = total_variation()
    assert (
        objective_values(cnn, tv, x, input_range=RNG)[0]
        < objective_values(cnn, tv, y, input_range=RNG)[0]
    )


# ------------------------------------------------------------ bad input


def test_bad_inputs_raise_clear_errors(cnn):
    with pytest.raises(ValueError, match="input_range is required"):
        maximize(cnn, class_logit(0), steps=1)
    with pytest.raises(ValueError, match="class_logit\\(7\\) is out of range"):
        maximize(cnn, class_logit(7), steps=1, input_range=RNG)
    with pytest.raises(ValueError, match="Channel 99 is out of range"):
        maximize(cnn, channel("conv2", 99), steps=1, input_range=RNG)
    with pytest.raises(ValueError, match="not a 4-D"):
        maximize(cnn, channel("gap", 0), steps=1, input_range=RNG)
    with pytest.raises(ValueError, match="No layer named 'nope'"):
        maximize(cnn, channel("nope", 0), steps=1, input_range=RNG)
    with pytest.raises(ValueError, match="neuron y=40"):
        maximize(cnn, neuron("conv1", 0, 40, 0), steps=1, input_range=RNG)
    dense = keras.Sequential([keras.Input((10,)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="image input"):
        maximize(dense, class_logit(0), steps=1, input_range=RNG)
    with pytest.raises(TypeError, match="objectives"):
        maximize(cnn, 3, steps=1, input_range=RNG)
    with pytest.raises(TypeError):
        class_logit(0) * class_logit(1)
    with pytest.raises(ValueError, match="blur_every needs param='pixels'"):
        maximize(cnn, class_logit(0), steps=1, regularizers=[blur_every(2)], input_range=RNG)


def test_style_transfer_lowers_style_loss_and_keeps_content(cnn):
    from keras_insight.synthesis import style_transfer

    content, style = _x(1, seed=1), _x(1, seed=2)
    out = style_transfer(
        cnn,
        content,
        style,
        content_layer="conv2",
        style_layers=["conv1"],
        steps=iterations(64, 32),
        input_range=RNG,
    )
    assert (
        texture_loss(cnn, out, style, ["conv1"], input_range=RNG)[0]
        < texture_loss(cnn, content, style, ["conv1"], input_range=RNG)[0]
    )
    assert out.min() >= 0 and out.max() <= 1
    # content kept: the content layer's features of the result are much closer to the
    # content image's than the style image's are
    from keras_insight.core import forward_outputs

    feats = forward_outputs(cnn, np.concatenate([content, out, style]), ["conv2"])[0][0]
    to_content = np.linalg.norm(feats[1] - feats[0])
    assert to_content < 0.5 * np.linalg.norm(feats[2] - feats[0]), to_content
