"""Attacks and robust-accuracy curves: bounds, equivalences, canaries (SPEC 4.5)."""

import keras
import numpy as np
import pytest

from keras_insight.robustness import fgsm, pgd, robustness_curve
from keras_insight.robustness.attacks import start_noise
from tests.conftest import assert_unchanged, snapshot

L = keras.layers
EPS = 8 / 255


def _body(seed=0, bn=False, num_classes=4):
    keras.utils.set_random_seed(seed)
    layers = [L.Conv2D(8, 3, padding="same", activation="relu", name="conv1")]
    if bn:
        layers.append(L.BatchNormalization(name="bn"))
    layers += [L.MaxPooling2D(2), L.Conv2D(8, 3, padding="same", activation="relu"), L.Flatten()]
    if bn:
        layers.append(L.Dropout(0.5))
    layers.append(L.Dense(num_classes, name="logits_dense"))
    return layers


def cnn(seed=0, bn=False, shape=(12, 12, 3)):
    """A tiny CNN with a separate softmax layer and varied predictions on random inputs."""
    m = keras.Sequential([keras.Input(shape), *_body(seed, bn), L.Activation("softmax")])
    if bn:  # non-trivial moving statistics
        bnl = m.get_layer("bn")
        bnl.moving_mean.assign(np.linspace(-0.1, 0.1, 8).astype("float32"))
        bnl.moving_variance.assign(np.linspace(0.5, 2.0, 8).astype("float32"))
    return m


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, size=(48, 12, 12, 3)).astype("float32")
    return x


def labels_for(model, x, flip=4):
    """Labels = the model's clean prediction, a few flipped, so clean accuracy < 1."""
    y = np.asarray(model(x)).argmax(-1)
    y[:flip] = (y[:flip] + 1) % 4
    return y


def linf(a, b):
    return np.abs(a - b).reshape(len(a), -1).max(1)


def test_linf_bound_range_and_model_unchanged(data):
    m = cnn()
    y = labels_for(m, data)
    before = snapshot(m, data)
    for loss in ("cross_entropy", "margin", "both"):
        xa = pgd(m, data, y, eps=EPS, steps=5, loss=loss, input_range=(0, 1), restarts=2)
        assert xa.dtype == np.float32
        assert linf(xa, data).max() <= EPS + 1e-6
        assert xa.min() >= 0.0 and xa.max() <= 1.0
        assert not np.array_equal(xa, data)
    xf = fgsm(m, data, y, eps=EPS, input_range=(0, 1))
    assert linf(xf, data).max() <= EPS + 1e-6 and xf.min() >= 0 and xf.max() <= 1
    assert_unchanged(m, data, before)


def test_l2_bound_and_range(data):
    m = cnn()
    y = labels_for(m, data)
    for eps in (0.3, 1.5):
        xa = pgd(m, data, y, eps=eps, norm="l2", steps=5, input_range=(0, 1))
        d = np.linalg.norm((xa - data).reshape(len(xa), -1).astype(np.float64), axis=1)
        assert d.max() <= eps * (1 + 1e-5)
        assert xa.min() >= 0 and xa.max() <= 1


def test_clipping_to_range_is_exact_at_the_edges():
    m = cnn()
    x = np.zeros((8, 12, 12, 3), "float32")
    x[4:] = 1.0
    y = np.zeros(8, int)
    xa = pgd(m, x, y, eps=0.2, steps=3, input_range=(0, 1))
    assert xa.min() == 0.0 and xa.max() == 1.0


def test_eps_zero_returns_x_and_clean_accuracy(data):
    m = cnn()
    y = labels_for(m, data)
    np.testing.assert_array_equal(pgd(m, data, y, eps=0.0, input_range=(0, 1)), data)
    np.testing.assert_array_equal(fgsm(m, data, y, eps=0.0, input_range=(0, 1)), data)
    r = robustness_curve(m, data, y, epsilons=[0.0], input_range=(0, 1))
    clean = float((np.asarray(m(data)).argmax(-1) == y).mean())
    assert r.accuracy["worst"][0] == pytest.approx(clean)
    assert r.clean_accuracy == pytest.approx(clean) == pytest.approx(44 / 48)


def test_fgsm_equals_one_pgd_step_of_size_eps(data):
    m = cnn()
    y = labels_for(m, data)
    for loss in ("cross_entropy", "margin"):
        xf = fgsm(m, data, y, eps=EPS, input_range=(0, 1), loss=loss)
        xp = pgd(
            m,
            data,
            y,
            eps=EPS,
            steps=1,
            step_size=EPS,
            random_start=False,
            loss=loss,
            input_range=(0, 1),
        )
        np.testing.assert_array_equal(xf, xp)


def test_fgsm_on_linear_model_is_sign_of_weight_difference():
    # untargeted CE on a linear model: gradient sign = sign(sum_j p_j w_j - w_y)
    from keras_insight.testing import linear_model

    m = linear_model((4, 4, 1), 2)
    w = m.get_layer("logits").kernel.numpy()
    x = np.full((3, 4, 4, 1), 0.5, "float32")
    xa = fgsm(m, x, [0, 0, 0], eps=0.1, input_range=(0, 1))
    expected = 0.5 + 0.1 * np.sign(w[:, 1] - w[:, 0]).reshape(4, 4, 1)
    np.testing.assert_allclose(xa[0], expected, atol=1e-7)


def test_curve_non_increasing_cumulative_and_sorted(data):
    m = cnn()
    y = labels_for(m, data)
    eps = [8 / 255, 0.0, 2 / 255, 1 / 255, 4 / 255, 16 / 255]  # unsorted: sorted inside
    r = robustness_curve(m, data, y, epsilons=eps, steps=4, input_range=(0, 1), loss="both")
    np.testing.assert_allclose(r.epsilons, np.sort(eps), rtol=1e-6)
    for attack, acc in r.accuracy.items():
        assert np.all(np.diff(acc) <= 0), attack
        assert acc[0] == pytest.approx(r.clean_accuracy)
    # worst over attacks is never above any single attack
    assert np.all(r.accuracy["worst"] <= np.minimum(r.accuracy["fgsm"], r.accuracy["pgd"]) + 1e-9)
    assert r.accuracy["worst"][-1] < r.clean_accuracy  # the attack does something
    # minimal perturbation bookkeeping: never broken reported as such, never as 0
    correct = np.asarray(m(data)).argmax(-1) == y
    assert r.never_broken == int((correct & np.isinf(r.breaking_eps)).sum())
    assert r.never_broken == round(r.accuracy["worst"][-1] * len(y))
    broken = correct & np.isfinite(r.breaking_eps)
    assert np.all(r.min_perturbation[broken] > 0)
    assert np.all(r.min_perturbation[broken] <= r.breaking_eps[broken] + 1e-6)
    assert r.mean_min_perturbation == pytest.approx(float(r.min_perturbation[broken].mean()))
    assert np.all(r.breaking_eps[~correct] == 0)
    # diagnostics: the bound held, no NaN
    assert r.diagnostics["max_excess"] <= 1e-6
    assert r.diagnostics["nan_count"] == 0
    assert 0.0 <= r.auc <= r.clean_accuracy
    tags = r.scalars()
    assert tags["robustness/linf_pgd/acc_eps_0.03137"] == pytest.approx(r.accuracy["pgd"][-2])


def test_curve_pgd_matches_standalone_pgd(data):
    # the curve's batched run over all eps gives the same success as pgd() per eps
    m = cnn()
    y = labels_for(m, data)
    r = robustness_curve(
        m, data, y, epsilons=[0, 2 / 255, 8 / 255], attacks=("pgd",), steps=3, input_range=(0, 1)
    )
    clean_ok = np.asarray(m(data)).argmax(-1) == y
    broken_so_far = ~clean_ok
    for j, e in enumerate([2 / 255, 8 / 255]):
        xa = pgd(m, data, y, eps=e, steps=3, input_range=(0, 1))
        broken_so_far |= np.asarray(m(xa)).argmax(-1) != y
        # cumulative: correct clean and not broken at any eps' <= eps, over all samples
        assert r.accuracy["pgd"][j + 1] == pytest.approx((~broken_so_far).mean(), abs=1e-6)
    assert r.accuracy["pgd"][0] == pytest.approx(clean_ok.mean())
    assert r.accuracy["pgd"][-1] < r.accuracy["pgd"][0]  # the attack breaks something


def test_more_restarts_never_increase_worst_case(data):
    m = cnn()
    y = labels_for(m, data)
    # restarts draw different starts
    assert not np.array_equal(start_noise((3, 4), "linf", 5, 0), start_noise((3, 4), "linf", 5, 1))
    # per sample: restart r starts from the same point whatever the count, so a sample
    # broken with k restarts stays broken with k + 1 (the worst case only gets worse)
    broken = []
    for restarts in (1, 2, 3):
        xa = pgd(m, data, y, eps=3 / 255, steps=2, restarts=restarts, input_range=(0, 1), seed=3)
        broken.append(np.asarray(m(xa)).argmax(-1) != y)
    assert np.all(broken[0] <= broken[1]) and np.all(broken[1] <= broken[2])
    assert broken[2].any() and not broken[2].all()  # the check has room to fail either way


def test_one_hot_labels_accepted(data):
    m = cnn()
    y = labels_for(m, data)
    a = pgd(m, data, y, eps=EPS, steps=2, input_range=(0, 1))
    b = pgd(m, data, np.eye(4)[y], eps=EPS, steps=2, input_range=(0, 1))
    np.testing.assert_array_equal(a, b)


def scaled_model(base, factor):
    """base's logits multiplied by ``factor`` (a power of 2: exact), then softmax."""
    inp = keras.Input(base.input_shape[1:])
    h = inp
    for layer in base.layers[:-1]:  # drop the softmax
        h = layer(h)
    h = L.Rescaling(factor)(h)
    return keras.Model(inp, L.Activation("softmax")(h))


def test_logit_scaling_canary(data):
    m = cnn()
    y = labels_for(m, data)
    big = scaled_model(m, 2.0**24)
    kw = dict(epsilons=[0, 4 / 255, 8 / 255], attacks=("pgd",), steps=5, input_range=(0, 1))
    ref = robustness_curve(m, data, y, loss="margin", **kw)
    ce = robustness_curve(big, data, y, loss="cross_entropy", **kw)
    margin = robustness_curve(big, data, y, loss="margin", **kw)
    # margin PGD ignores the scale exactly (sign steps): same robust accuracy
    np.testing.assert_array_equal(margin.accuracy["pgd"], ref.accuracy["pgd"])
    # cross-entropy collapses on saturated softmax: zero gradients, attack mostly fails
    assert ce.diagnostics["zero_grad_fraction_cross_entropy"] >= 0.5
    assert margin.diagnostics["zero_grad_fraction_margin"] == 0.0
    assert ref.diagnostics["zero_grad_fraction_margin"] == 0.0
    assert ce.accuracy["pgd"][-1] > margin.accuracy["pgd"][-1]


def test_batchnorm_dropout_deterministic_and_batch_independent(data):
    m = cnn(bn=True)
    y = labels_for(m, data)
    before = snapshot(m, data)
    kw = dict(eps=EPS, steps=4, input_range=(0, 1), restarts=2, loss="both")
    a = pgd(m, data, y, batch_size=48, **kw)
    b = pgd(m, data, y, batch_size=7, **kw)
    c = pgd(m, data, y, batch_size=48, **kw)
    np.testing.assert_array_equal(a, c)
    assert (a == b).mean() >= 0.999
    acc = [(np.asarray(m(v)).argmax(-1) == y).mean() for v in (a, b)]
    assert acc[0] == acc[1]
    assert_unchanged(m, data, before)


def test_mixed_float16_eps_bound_and_accuracy(data):
    m32 = cnn()
    y = labels_for(m32, data)
    kw = dict(
        epsilons=[0, 4 / 255, 8 / 255], attacks=("pgd",), steps=5, input_range=(0, 1), loss="margin"
    )
    r32 = robustness_curve(m32, data, y, **kw)
    keras.mixed_precision.set_global_policy("mixed_float16")
    m16 = cnn()
    m16.set_weights(m32.get_weights())
    xa = pgd(m16, data, y, eps=EPS, steps=5, input_range=(0, 1))
    assert xa.dtype == np.float32
    assert linf(xa, data).max() <= EPS + 1e-6
    r16 = robustness_curve(m16, data, y, **kw)
    assert r16.diagnostics["max_excess"] <= 1e-6
    assert np.all(np.abs(r16.accuracy["pgd"] - r32.accuracy["pgd"]) * len(y) <= 1 + 1e-6)


def test_rescaling_model_on_0_255_data_gives_same_curve(data):
    m = cnn()
    y = labels_for(m, data)
    m255 = keras.Sequential([keras.Input((12, 12, 3)), L.Rescaling(1 / 255), m])
    x255 = data * 255.0
    eps = np.array([0, 2, 4, 8]) / 255
    r1 = robustness_curve(m, data, y, epsilons=eps, steps=4, input_range=(0, 1))
    r255 = robustness_curve(m255, x255, y, epsilons=eps * 255, steps=4, input_range=(0, 255))
    for k in r1.accuracy:
        assert np.all(np.abs(r1.accuracy[k] - r255.accuracy[k]) * len(y) <= 1 + 1e-6), k
    assert r255.auc == pytest.approx(r1.auc, abs=1.5 / len(y))
    # default eps grid scales with the input range
    d = robustness_curve(m255, x255, y, attacks=("fgsm",), input_range=(0, 255))
    np.testing.assert_allclose(d.epsilons, [0, 1, 2, 4, 8], rtol=1e-6)


def test_binary_sigmoid_head(data):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((12, 12, 3)), L.Flatten(), L.Dense(1, activation="sigmoid")])
    y = (np.asarray(m(data))[:, 0] > 0.5).astype(int)
    r = robustness_curve(
        m, data, y, epsilons=[0, 0.1], attacks=("pgd",), steps=3, input_range=(0, 1)
    )
    assert r.clean_accuracy == 1.0
    assert r.accuracy["pgd"][-1] < 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(eps=-0.1), "eps must be >= 0"),
        (dict(eps=2.0), "exceeds the input range"),
        (dict(eps=0.1, norm="l3"), "norm must be"),
        (dict(eps=0.1, loss="hinge"), "loss must be"),
        (dict(eps=0.1, steps=0), "steps must be"),
    ],
)
def test_bad_arguments(data, kwargs, match):
    m = cnn()
    with pytest.raises(ValueError, match=match):
        pgd(m, data[:4], [0, 1, 2, 3], input_range=(0, 1), **kwargs)


def test_bad_labels_and_heads(data):
    m = cnn()
    with pytest.raises(ValueError, match="true labels"):
        pgd(m, data[:4], None, eps=0.1, input_range=(0, 1))
    with pytest.raises(ValueError, match="out of range"):
        robustness_curve(m, data[:4], [0, 1, 2, 9], input_range=(0, 1), steps=1)
    with pytest.raises(ValueError, match="one label per sample"):
        pgd(m, data[:4], [0, 1], eps=0.1, input_range=(0, 1))
    reg = keras.Sequential([keras.Input((12, 12, 3)), L.Flatten(), L.Dense(1)])
    with pytest.raises(ValueError, match="regression"):
        pgd(reg, data[:4], [0, 1, 0, 1], eps=0.1, input_range=(0, 1))
    with pytest.raises(ValueError, match="outside input_range"):
        pgd(m, data[:4] * 3, [0, 1, 2, 3], eps=0.1, input_range=(0, 1))


def test_probability_output_warns(data, caplog):
    import logging

    class Probs(keras.Model):
        def __init__(self):
            super().__init__()
            self.f = L.Flatten()
            self.d = L.Dense(4)

        def call(self, x, training=False):
            return keras.ops.softmax(self.d(self.f(x)))

    m = Probs()
    m(data[:1])
    with caplog.at_level(logging.WARNING, logger="keras_insight"):
        pgd(m, data[:4], [0, 1, 2, 3], eps=0.05, steps=1, input_range=(0, 1))
    assert "probabilities" in caplog.text


def test_targeted_attack_moves_towards_the_target(data):
    m = cnn()
    pred = np.asarray(m(data)).argmax(-1)
    target = (pred + 1) % 4
    hit = []
    for eps in (0.02, 0.3):
        for loss in ("cross_entropy", "margin"):
            xa = pgd(
                m, data, target, eps=eps, steps=10, targeted=True, loss=loss, input_range=(0, 1)
            )
            hit.append((np.asarray(m(xa)).argmax(-1) == target).mean())
    assert max(hit[2:]) >= 0.9  # a large budget reaches the target class
    assert min(hit[2:]) >= max(hit[:2])
