"""Robustness callbacks inside model.fit: what lands in TensorBoard equals the pure functions."""

import keras
import numpy as np
import pytest

from keras_insight.callbacks.robustness import AdversarialRobustness, Invariance, ShapeBias
from keras_insight.datasets import shapes
from keras_insight.robustness import invariance_report, robustness_curve, shape_bias
from keras_insight.tensorboard.events import read_events

L = keras.layers


@pytest.fixture(scope="module")
def data():
    x, y, masks = shapes(48, size=16, spurious=1.0, seed=0)
    return x, y, masks


def model():
    keras.utils.set_random_seed(0)
    m = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            L.Conv2D(8, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(name="flat"),
            L.Dense(3, activation="softmax"),
        ]
    )
    m.compile("adam", "sparse_categorical_crossentropy")
    return m


def test_callbacks_write_what_the_functions_compute(tmp_path, data):
    x, y, masks = data
    m = model()
    adv = AdversarialRobustness((x, y), tmp_path, steps=3, num_samples=24, strict=True, freq=1)
    inv = Invariance(
        (x, y),
        tmp_path,
        transforms=("noise", "rotate"),
        severities=(1, 3),
        num_samples=24,
        strict=True,
    )
    sb = ShapeBias((x, y, masks), tmp_path, num_samples=24, strict=True)
    m.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[adv, inv, sb])
    ev = read_events(tmp_path)
    # one value per epoch, steps 0 and 1
    acc_tags = sorted(t for t in ev if t.startswith("robustness/linf_worst/acc_eps_"))
    assert len(acc_tags) == 5
    assert [s for s, _ in ev["robustness/auc"]] == [0, 1]
    # values at the last epoch equal the pure function on the same probe set
    r = robustness_curve(
        m,
        adv.probe_x,
        adv.probe_y,
        attacks=("fgsm", "pgd"),
        steps=3,
        loss="both",
        input_range=(0, 1),
    )
    for tag, value in r.scalars().items():
        assert ev[tag][-1][1] == pytest.approx(value, abs=1e-6), tag
    curve = [
        ev[f"robustness/linf_worst/acc_eps_{e}"][-1][1]
        for e in ("0", "0.003922", "0.007843", "0.01569", "0.03137")
    ]
    assert np.all(np.diff(curve) <= 0)
    # x | x_adv | delta images with labels, and the curve plot
    pic = ev["robustness/examples"][-1][1]
    pic = pic[0] if isinstance(pic, list) else pic
    assert pic.dtype == np.uint8 and pic.ndim == 3
    assert "robustness/curve" in ev
    # invariance
    ri = invariance_report(
        m,
        inv.probe_x,
        inv.probe_y,
        transforms=("noise", "rotate"),
        severities=(1, 3),
        input_range=(0, 1),
    )
    for tag, value in ri.scalars().items():
        assert ev[tag][-1][1] == pytest.approx(value, abs=1e-6), tag
    assert "invariance/summary" in ev and "invariance/examples" in ev
    # shape bias
    rs = shape_bias(m, sb.probe_x, sb.probe_y, sb.probe_extra[0], seed=0)
    for tag, value in rs.scalars().items():
        assert ev[tag][-1][1] == pytest.approx(value, abs=1e-6), tag
    assert "shape_bias/examples" in ev
    assert not adv.failures and not inv.failures and not sb.failures


def test_adversarial_needs_labels_and_bad_options(tmp_path, data):
    x, y, masks = data
    with pytest.raises(ValueError, match="Unknown attack"):
        AdversarialRobustness((x, y), tmp_path, attacks=("cw",))
    with pytest.raises(ValueError, match="norm"):
        AdversarialRobustness((x, y), tmp_path, norm="l1")
    with pytest.raises(ValueError, match="severities"):
        Invariance((x, y), tmp_path, severities=(0, 6))
    m = model()
    with pytest.raises(ValueError, match="true labels"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[AdversarialRobustness(x, tmp_path, strict=True)])
    with pytest.raises(ValueError, match="masks"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[ShapeBias((x, y), tmp_path, strict=True)])


def test_cue_conflict_construction(data):
    from keras_insight.robustness import cue_conflict

    x, y, masks = data
    xc, ys, yt = cue_conflict(x, y, masks, num_pairs=30, seed=1)
    assert len(xc) == 30 and np.all(ys != yt)
    np.testing.assert_array_equal(xc, cue_conflict(x, y, masks, num_pairs=30, seed=1)[0])
    # object pixels come from the shape image; no pixel outside it shows the texture
    # image's own object colour
    rng = np.random.default_rng(1)
    shape_idx = rng.permutation(np.resize(np.arange(len(x)), 30))
    for k in range(30):
        i = shape_idx[k]
        np.testing.assert_array_equal(xc[k][masks[i]], x[i][masks[i]])
    # fractions are consistent with the decisions
    m = model()
    r = shape_bias(m, x, y, masks, seed=1, num_pairs=30)
    assert r.shape_fraction == pytest.approx((r.predicted == r.shape_labels).mean())
    assert r.texture_fraction == pytest.approx((r.predicted == r.texture_labels).mean())
    assert r.shape_fraction + r.texture_fraction + r.other_fraction == pytest.approx(1.0)


def test_plotting_callbacks_keep_the_users_matplotlib_backend(tmp_path, data):
    # a notebook user's inline backend must survive a callback drawing a figure
    import matplotlib

    from keras_insight.callbacks import EmbeddingPlot

    x, y, _ = data
    before = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        cbs = [
            AdversarialRobustness((x, y), tmp_path, steps=2, num_samples=8, strict=True),
            Invariance((x, y), tmp_path, transforms=("blur",), severities=(1,), strict=True),
            EmbeddingPlot((x, y), tmp_path, use_tsne=False, num_samples=24, strict=True),
        ]
        model().fit(x, y, epochs=1, verbose=0, callbacks=cbs)
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
