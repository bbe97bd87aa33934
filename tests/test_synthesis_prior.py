"""Data prior for synthesis (issue 14, SPEC 4.4): PCA/whitening identities, the analytic MAP
image of a linear model, batching and seeds, the callback's default, and two behavioural
checks on trained models: Fashion-MNIST class images are recognisable, and the prior
reveals a background-hue shortcut without inventing one."""

import keras
import numpy as np
import pytest
from conftest import assert_unchanged, require, snapshot

from keras_insight import datasets
from keras_insight.callbacks.synthesis import ClassSynthesis, FeatureInversion
from keras_insight.core import engine, logits
from keras_insight.render import enlarge, signed_heatmap, to_uint8
from keras_insight.synthesis import (
    DataPrior,
    class_logit,
    data_prior,
    invert,
    l2,
    maximize,
    principal_components,
)
from keras_insight.tensorboard.events import read_events
from keras_insight.testing import small_cnn
from keras_insight.testing.shapes import SHAPES_K, border_hue_distance, train_shapes_cnn


def _images(n=300, shape=(16, 16, 3), seed=0):
    """Smooth random images in (0, 1): low-rank enough for a prior to mean something."""
    rng = np.random.default_rng(seed)
    h, w, c = shape
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    basis = np.stack(
        [np.sin((i + 1) * np.pi * yy + j * xx * 3) for i in range(4) for j in range(4)]
    )
    coef = rng.standard_normal((n, 16, c)) * 0.08
    x = 0.5 + np.einsum("nkc,khw->nhwc", coef, basis) + 0.01 * rng.standard_normal((n, h, w, c))
    return np.clip(x, 0.02, 0.98).astype(np.float32)


# ------------------------------------------------------------ PCA and whitening


def test_whitened_coordinates_have_identity_covariance():
    x = _images()
    prior = data_prior(x, components=12)
    z = prior.from_image(x)
    assert z.shape == (len(x), 12)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(np.cov(z, rowvar=False), np.eye(12), atol=1e-3)
    np.testing.assert_allclose(prior.mean_image, x.mean(0), atol=1e-6)
    # orthonormal directions, decreasing standard deviations, explained variance in (0, 1]
    np.testing.assert_allclose(prior.basis.T @ prior.basis, np.eye(12), atol=1e-5)
    assert np.all(np.diff(prior.std) <= 0) and 0 < prior.explained <= 1


def test_randomised_svd_matches_exact():
    x = datasets.shapes(400, size=16, seed=1)[0].reshape(400, -1)  # real, decaying spectrum
    mu, v, s = principal_components(x, 8, seed=0, method="randomized")
    mu_e, v_e, s_e = principal_components(x, 8, method="exact")
    np.testing.assert_allclose(mu, mu_e, atol=1e-12)
    np.testing.assert_allclose(s, s_e, rtol=1e-4)
    np.testing.assert_allclose(v, v_e, atol=1e-3)  # same deterministic signs


def test_image_round_trip_and_range():
    x = _images(200)
    prior = data_prior(x, components=10)
    z = np.random.default_rng(0).standard_normal((5, 10)).astype(np.float32)
    img = prior.to_image(z).numpy()
    assert img.min() >= 0 and img.max() <= 1  # clipped to the range of x
    inside = np.all((img > 0) & (img < 1), axis=(1, 2, 3))
    assert inside.any()
    np.testing.assert_allclose(prior.from_image(img[inside]), z[inside], atol=1e-3)
    # penalty: weight * ||z||^2, 0.5 being the Gaussian's -log-density
    np.testing.assert_allclose(
        prior.with_weight(0.5).penalty(z).numpy(), 0.5 * (z**2).sum(1), rtol=1e-5
    )
    assert prior.with_weight(0.5).key != prior.key  # different weight, different loop


def _linear(shape=(6, 6, 1), classes=3, scale=0.02):
    m = keras.Sequential(
        [keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(classes)], name="lin"
    )
    w = np.random.default_rng(2).standard_normal((int(np.prod(shape)), classes)) * scale
    m.layers[-1].set_weights([w.astype(np.float32), np.zeros(classes, np.float32)])
    return m, w


def test_linear_model_reaches_the_analytic_map_image():
    # h(x) = w_c . x: argmax_z w_c . (mu + V(s z)) - lam ||z||^2 is z* = s (V^T w_c) / (2 lam),
    # i.e. x* - mu = V diag(s^2) V^T w_c / (2 lam) (the data covariance times w_c)
    x = _images(400, (6, 6, 1), seed=3)
    m, w = _linear()
    lam = 0.5
    prior = data_prior(x, components=8, weight=lam)
    imgs = maximize(
        m, [class_logit(c) for c in range(3)], param=prior, steps=400, lr=0.02, transforms=()
    )
    for c in range(3):
        z_star = prior.std * (prior.basis.T @ w[:, c]) / (2 * lam)
        x_star = prior.mean_image + (prior.basis @ (prior.std * z_star)).reshape(6, 6, 1)
        assert 0 < x_star.min() and x_star.max() < 1  # clipping inactive: exact optimum
        np.testing.assert_allclose(imgs[c], x_star, atol=2e-3)
    # a stronger prior stays closer to the mean (||z*|| ~ 1 / lam)
    strong = maximize(
        m, class_logit(0), param=prior.with_weight(4 * lam), steps=400, lr=0.02, transforms=()
    )
    d_weak = np.linalg.norm(imgs[0] - prior.mean_image)
    d_strong = np.linalg.norm(strong[0] - prior.mean_image)
    assert d_strong == pytest.approx(d_weak / 4, rel=0.05)


# ------------------------------------------------------------ composition, batching, seeds


@pytest.fixture(scope="module")
def cnn():
    return small_cnn()


def test_batch_equals_each_alone_and_seeds(cnn):
    prior = data_prior(_images(), components=16)
    objs = [class_logit(0), class_logit(1) - 0.1 * l2()]
    batch = maximize(cnn, objs, param=prior, steps=12, seed=4)
    for i, o in enumerate(objs):
        alone = maximize(cnn, o, param=prior, steps=12, seed=4)
        np.testing.assert_allclose(batch[i], alone[0], atol=1e-5)
    again = maximize(cnn, objs, param=prior, steps=12, seed=4)
    np.testing.assert_array_equal(batch, again)
    other = maximize(cnn, objs, param=prior, steps=12, seed=5)
    assert not np.allclose(batch, other)


def test_prior_ascends_the_objective_and_traces_once(cnn):
    prior = data_prior(_images(), components=16)
    _, hist = maximize(cnn, class_logit(2), param=prior, steps=40, return_history=True)
    assert hist[-1, 0] > hist[0, 0] + 1e-3  # objective minus w ||z||^2 increases
    key = [k for k in engine.TRACE_COUNTS if k[0] == "maximize"]
    before = sum(engine.TRACE_COUNTS[k] for k in key)
    maximize(cnn, class_logit(2), param=prior, steps=7, seed=9)
    after = sum(
        engine.TRACE_COUNTS[k] for k in [k for k in engine.TRACE_COUNTS if k[0] == "maximize"]
    )
    assert after == before


def test_images_lie_in_the_prior_subspace_for_any_objective(cnn):
    # x - mu = V (s z): nothing outside the span of the K components (clipping aside), for
    # class images and for feature inversion alike
    prior = data_prior(_images(), components=16)
    x0 = _images(2, seed=5)
    rec, _ = invert(cnn, x0, "conv2", steps=6, param=prior, input_range=(0, 1))
    imgs = maximize(cnn, [class_logit(1)], param=prior, steps=6)
    for img in np.concatenate([rec, imgs]):
        assert 0 < img.min() and img.max() < 1  # clipping inactive here
        d = (img - prior.mean_image).reshape(-1)
        residual = d - prior.basis @ (prior.basis.T @ d)
        assert np.linalg.norm(residual) < 1e-4 * max(np.linalg.norm(d), 1e-3)


def test_user_model_unchanged(cnn):
    x = _images(8)
    before = snapshot(cnn, x)
    maximize(cnn, [class_logit(0), class_logit(1)], param=data_prior(_images(), 8), steps=5)
    assert_unchanged(cnn, x, before)


def test_bad_inputs_raise_clear_errors(cnn):
    x = _images(20)
    with pytest.raises(ValueError, match="channel axis"):
        data_prior(x[..., 0])
    with pytest.raises(ValueError, match="at least 2"):
        data_prior(x[:1])
    with pytest.raises(ValueError, match="weight"):
        data_prior(x, weight=-1)
    with pytest.raises(ValueError, match="components"):
        data_prior(x, components=0)
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        data_prior(bad)
    with pytest.raises(ValueError, match="identical"):
        data_prior(np.full((4, 16, 16, 3), 0.5, np.float32))
    with pytest.raises(ValueError, match="image shape"):
        maximize(cnn, class_logit(0), param=data_prior(_images(20, (8, 8, 3))), steps=2)
    with pytest.raises(ValueError, match="input_range"):
        maximize(cnn, class_logit(0), param=data_prior(x), steps=2, input_range=(0, 255))


# ------------------------------------------------------------ rendering the difference


def test_signed_heatmap_is_neutral_at_zero_and_antisymmetric():
    d = np.zeros((1, 4, 4, 1), np.float32)
    d[0, 0, 0], d[0, 1, 1] = 2.0, -2.0
    h = signed_heatmap(d).astype(int)
    assert h[0, 0, 0, 0] > h[0, 0, 0, 2] and h[0, 1, 1, 2] > h[0, 1, 1, 0]  # red +, blue -
    assert abs(h[0, 2, 2] - 247).max() <= 1  # RdBu_r centre is near-white
    rgb = np.zeros((1, 4, 4, 3), np.float32)
    rgb[0, :, :, 0], rgb[0, :, :, 1] = 0.3, -0.3  # more red, less green
    c = signed_heatmap(rgb)[0, 0, 0].astype(int)
    assert c[0] == 255 and c[1] == 0 and c[2] == 128  # mid-grey where nothing changed
    flipped = signed_heatmap(-rgb)[0, 0, 0].astype(int)
    np.testing.assert_array_equal(flipped[:2], 255 - c[:2])
    with pytest.raises(ValueError, match="NaN"):
        signed_heatmap(np.full((1, 2, 2, 1), np.nan))


# ------------------------------------------------------------ the callback's default


def _fit(model, callbacks, x, epochs=1):
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(
        x[:16], np.arange(16) % 4, epochs=epochs, batch_size=8, verbose=0, callbacks=callbacks
    )


def test_class_synthesis_uses_the_prior_with_validation_data(tmp_path):
    m = small_cnn(seed=2)
    xv = _images(120)
    cb = ClassSynthesis(
        tmp_path,
        validation_data=(xv, np.arange(120) % 4),
        freq=1,
        steps=6,
        prior_components=16,
        strict=True,
    )
    _fit(m, [cb], xv)
    assert isinstance(cb._param, DataPrior) and cb._param.components == 16
    ev = read_events(str(tmp_path / "insight"))
    prior = data_prior(xv, 16, 0.1, input_range=(0, 1), max_samples=2000, seed=0)
    expected = maximize(m, [class_logit(c) for c in range(4)], param=prior, steps=6, seed=0)
    np.testing.assert_allclose(
        ev["synthesis/class_1"][-1][1][0].astype(int),
        enlarge(to_uint8(expected[1])).astype(int),
        atol=1,
    )
    heat = signed_heatmap(expected - prior.mean_image[None])
    np.testing.assert_allclose(
        ev["synthesis/difference/class_1"][-1][1][0].astype(int),
        enlarge(heat[1]).astype(int),
        atol=2,
    )
    assert "synthesis/prior_mean" in ev
    grid_pic = ev["synthesis/classes"][-1][1][0]
    assert grid_pic.shape[1] > 4 * 16 * 2  # image and difference side by side
    # a second fit on the same data reuses the prior: no new trace
    before = sum(v for k, v in engine.TRACE_COUNTS.items() if k[0] == "maximize")
    m.fit(xv[:8], np.zeros(8), epochs=2, verbose=0, callbacks=[cb])
    assert sum(v for k, v in engine.TRACE_COUNTS.items() if k[0] == "maximize") == before
    assert cb.failures == {}


def test_class_synthesis_without_data_stays_fourier_and_checks_shapes(tmp_path):
    m = small_cnn(seed=3)
    cb = ClassSynthesis(tmp_path, freq=1, steps=3, input_range=(0, 1), strict=True)
    _fit(m, [cb], _images(16))
    assert cb._param == "fourier" and cb._prior is None
    bad = ClassSynthesis(tmp_path, validation_data=_images(20, (8, 8, 3)), steps=2, strict=True)
    with pytest.raises(ValueError, match="data prior needs images"):
        _fit(small_cnn(seed=3), [bad], _images(16))
    with pytest.raises(TypeError, match="param must be"):
        ClassSynthesis(tmp_path, param=3)


def test_feature_inversion_callback_takes_a_prior(tmp_path):
    m = small_cnn(seed=4)
    prior = data_prior(_images(), components=16, weight=1e-3)
    sample = _images(2, seed=6)
    cb = FeatureInversion(
        sample, ["conv2"], log_dir=tmp_path, freq=1, steps=5, param=prior, strict=True
    )
    _fit(m, [cb], _images(16))
    _, err = invert(m, sample, "conv2", steps=5, param=prior, input_range=(0, 1))
    ev = read_events(str(tmp_path / "insight"))
    got = ev["synthesis/inversion/conv2/pixel_error"][-1][1]
    assert got == pytest.approx(float(err["pixel_error"].mean()), rel=1e-4)


# ------------------------------------------------------------ trained models

FASHION_STEPS = 128


def _pearson_closest(imgs, means):
    a = imgs.reshape(len(imgs), -1).astype(np.float64)
    b = means.reshape(len(means), -1).astype(np.float64)
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    r = (a / np.linalg.norm(a, axis=1, keepdims=True)) @ (
        b / np.linalg.norm(b, axis=1, keepdims=True)
    ).T
    return r.argmax(1)


def _at_limits(x, lo=0.0, hi=1.0):
    e = (hi - lo) / 255
    return float(((x <= lo + e) | (x >= hi - e)).mean())


@pytest.fixture(scope="module")
def fashion():
    try:
        (x, y), (xt, yt) = datasets.fashion_mnist()
    except Exception as exc:  # pragma: no cover - depends on the machine
        require(False, f"Fashion-MNIST not available offline: {exc}")
    keras.utils.set_random_seed(0)
    L = keras.layers
    m = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            L.Conv2D(16, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(32, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(10),
        ]
    )
    idx = np.random.default_rng(0).choice(len(x), 6000, replace=False)
    m.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    m.fit(x[idx], y[idx], epochs=2, batch_size=128, verbose=0)
    return m, x, y, xt, yt


def test_fashion_class_images_are_recognisable(fashion):
    m, x, y, xt, _ = fashion
    before = snapshot(m, xt[:8])
    prior = data_prior(xt[:2000])  # the defaults: 64 components, weight 0.1
    assert prior.components == 64 and prior.explained > 0.8
    assert_unchanged(m, xt[:8], before)  # fitting the prior never touches the model
    imgs = maximize(m, [class_logit(c) for c in range(10)], param=prior, steps=FASHION_STEPS)
    classes = np.arange(10)
    means = np.stack([x[y == c].mean(0) for c in classes])
    closest = int((_pearson_closest(imgs, means) == classes).sum())
    assigned = int((logits(m, imgs).argmax(-1) == classes).sum())
    limits, real_limits = _at_limits(imgs), _at_limits(xt[:1000])
    print(
        f"fashion: closest to own mean {closest}/10, assigned {assigned}/10, "
        f"at limits {limits:.3f} (real {real_limits:.3f})"
    )
    assert closest >= 9, closest
    assert assigned >= 9, assigned
    assert limits <= real_limits, (limits, real_limits)


def _class_images(m, xv):
    return maximize(m, [class_logit(c) for c in range(SHAPES_K)], param=data_prior(xv), steps=128)


def test_prior_reveals_the_background_shortcut():
    m, xv, acc = train_shapes_cnn(1.0, 1200, 2, n_val=1000)
    assert acc < 0.5  # the model reads the hue, not the shape
    d = border_hue_distance(_class_images(m, xv))
    print("biased model: hue distances", np.round(d, 3))
    assert (d < 0.1).all(), d


@pytest.mark.slow
def test_prior_reveals_the_shortcut_and_invents_none():
    biased, xv_b, acc_b = train_shapes_cnn(1.0, 6000, 8)
    fair, xv_f, acc_f = train_shapes_cnn(0.0, 6000, 8)
    d_b = border_hue_distance(_class_images(biased, xv_b))
    d_f = border_hue_distance(_class_images(fair, xv_f))
    print(
        f"biased (unbiased-test acc {acc_b:.3f}) hue distances {np.round(d_b, 3)}; "
        f"unbiased (acc {acc_f:.3f}) {np.round(d_f, 3)}"
    )
    assert acc_f >= 0.85, acc_f
    assert (d_b < 0.1).all(), d_b
    assert (d_f < 0.1).sum() <= 2, d_f
