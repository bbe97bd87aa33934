"""Properties of the explanation-quality metrics (SPEC 4.6)."""

import numpy as np
import pytest

from keras_insight import attribution as A
from keras_insight import metrics as M
from keras_insight.testing import linear_model, small_cnn


def _x(n, shape, seed=0):
    return np.random.default_rng(seed).random((n, *shape)).astype("float32")


def test_deletion_auc_of_w_times_x_order_beats_100_random_orders():
    m = linear_model(num_classes=3)
    x = _x(1, (6, 6, 2), seed=2)
    c = int(m(x).numpy().argmax())
    w = m.get_layer("logits").kernel.numpy()[:, c].reshape(6, 6, 2)
    good = M.deletion_auc(m, x, (w * x).sum(-1), c, steps=36)[0]
    rng = np.random.default_rng(0)
    rand_maps = rng.random((100, 6, 6)).astype("float32")
    rand = M.deletion_auc(m, np.repeat(x, 100, 0), rand_maps, c, steps=36)
    assert good < rand.min()
    ins_good = M.insertion_auc(m, x, (w * x).sum(-1), c, steps=36, baseline=0.0)[0]
    ins_rand = M.insertion_auc(m, np.repeat(x, 100, 0), rand_maps, c, steps=36, baseline=0.0)
    assert ins_good > ins_rand.max()


def test_deletion_curve_endpoints_are_clean_and_baseline_probabilities():
    m = small_cnn()
    x = _x(2, (16, 16, 3))
    auc, curves = M.deletion_auc(m, x, A.saliency(m, x), [1, 2], steps=8, return_curves=True)
    p_clean = m(x).numpy()[[0, 1], [1, 2]]
    p_base = m(np.zeros_like(x)).numpy()[[0, 1], [1, 2]]
    np.testing.assert_allclose(curves[:, 0], p_clean, rtol=1e-5)
    np.testing.assert_allclose(curves[:, -1], p_base, rtol=1e-5)
    np.testing.assert_allclose(auc, np.trapezoid(curves, np.linspace(0, 1, 9), axis=1), rtol=1e-6)


def test_pointing_game_and_energy_in_mask():
    maps = np.zeros((3, 5, 5), "float32")
    maps[0, 1, 1] = 2.0
    maps[1, 4, 4] = 1.0
    masks = np.zeros((3, 5, 5), bool)
    masks[:, :3, :3] = True
    assert M.pointing_game(maps, masks) == pytest.approx(1 / 3)  # all-zero map 2 is a miss
    assert M.pointing_game(maps, masks, per_sample=True).tolist() == [True, False, False]
    np.testing.assert_allclose(M.energy_in_mask(maps, masks), [1.0, 0.0, 0.0])
    ties = np.ones((1, 5, 5), "float32")
    ties[0, 0, 0] = 0.0  # first argmax = (0, 1)
    assert M.pointing_game(ties, masks[:1]) == 1.0
    with pytest.raises(ValueError, match="do not match"):
        M.pointing_game(maps, masks[:, :4])


@pytest.mark.parametrize("method", ["vanilla", "grad_cam"])
def test_sanity_check_full_randomisation_decorrelates(method):
    m = small_cnn(seed=1)
    x = _x(6, (16, 16, 3), seed=5)
    before = [w.numpy().copy() for w in m.weights]
    r = M.sanity_check(m, x, method, seed=0)
    assert r["layers"] == ["logits", "conv2", "conv1"]
    assert r["spearman"][-1] <= 0.5
    for a, b in zip(before, m.weights):
        np.testing.assert_array_equal(a, b.numpy())  # the user's model is untouched


def test_sanity_check_identity_reinit_keeps_correlation_one():
    m = small_cnn()
    x = _x(2, (16, 16, 3))
    r = M.sanity_check(m, x, lambda mm, xx, t: A.saliency(mm, xx, t), layers=[])
    assert r["layers"] == [] and r["spearman"].shape == (0,)
