"""Corruptions and the invariance report (SPEC 4.5: identity, range, noise std, growth)."""

import numpy as np
import pytest

from keras_insight.datasets import shapes
from keras_insight.robustness import (
    SEVERITY_MAGNITUDES,
    TRANSFORMS,
    corrupt,
    corruption_magnitude,
    invariance_report,
)
from keras_insight.testing import make_model, small_cnn


@pytest.fixture(scope="module")
def images():
    x, y, masks = shapes(8, size=24, seed=0)
    return x, y


@pytest.mark.parametrize("kind", TRANSFORMS)
def test_identity_magnitude_returns_input_exactly(images, kind):
    x, _ = images
    np.testing.assert_array_equal(corrupt(x, kind, 0), x)
    np.testing.assert_array_equal(corrupt(x, kind, magnitude=0.0, input_range=(0, 1)), x)
    x255 = x * 255
    np.testing.assert_array_equal(corrupt(x255, kind, 0, input_range=(0, 255)), x255)


@pytest.mark.parametrize("kind", TRANSFORMS)
@pytest.mark.parametrize("rng_lo_hi", [(0.0, 1.0), (-1.0, 1.0), (0.0, 255.0)])
def test_output_stays_in_range_and_is_deterministic(images, kind, rng_lo_hi):
    lo, hi = rng_lo_hi
    x = lo + images[0] * (hi - lo)
    x[:, :3] = lo  # touch both edges
    x[:, -3:] = hi
    for s in (1, 3, 5):
        c = corrupt(x, kind, s, input_range=(lo, hi), seed=1)
        assert c.dtype == np.float32 and c.shape == x.shape
        assert c.min() >= lo and c.max() <= hi
        assert np.isfinite(c).all()
        np.testing.assert_array_equal(c, corrupt(x, kind, s, input_range=(lo, hi), seed=1))


@pytest.mark.parametrize("kind", TRANSFORMS)
def test_corruption_magnitude_grows_with_severity(images, kind):
    x, _ = images
    dist = [np.linalg.norm(corrupt(x, kind, s, input_range=(0, 1), seed=0) - x) for s in range(6)]
    assert dist[0] == 0
    assert np.all(np.diff(dist) > 0), dist


@pytest.mark.parametrize("width", [1.0, 255.0])
def test_gaussian_noise_has_requested_std(width):
    x = np.full((4, 32, 32, 3), 0.5 * width, "float32")  # 12,288 pixels, far from the edges
    for s in range(1, 6):
        c = corrupt(x, "noise", s, input_range=(0, width), seed=s)
        sigma = SEVERITY_MAGNITUDES["noise"][s] * width
        assert np.std(c - x) == pytest.approx(sigma, rel=0.05)
        assert abs(np.mean(c - x)) < 0.05 * sigma
    assert not np.array_equal(
        corrupt(x, "noise", 3, seed=0, input_range=(0, width)),
        corrupt(x, "noise", 3, seed=1, input_range=(0, width)),
    )


def test_photometric_maths():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.3, 0.6, size=(3, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(
        corrupt(x, "brightness", magnitude=0.2, input_range=(0, 1)), x + 0.2, atol=1e-6
    )
    c = corrupt(x, "contrast", magnitude=0.5, input_range=(0, 1))
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(c, mean + 0.5 * (x - mean), atol=1e-6)
    const = np.full((2, 9, 9, 1), 0.4, "float32")
    np.testing.assert_allclose(corrupt(const, "blur", 5, input_range=(0, 1)), const, atol=1e-6)
    b = corrupt(x, "blur", 3, input_range=(0, 1))
    assert b.std() < x.std()


def test_rotation_by_90_degrees_is_rot90():
    rng = np.random.default_rng(0)
    for size in (7, 8):
        x = rng.uniform(size=(6, size, size, 2)).astype("float32")
        c = corrupt(x, "rotate", magnitude=90.0, input_range=(0, 1))
        for xi, ci in zip(x, c):
            err = min(np.abs(ci - np.rot90(xi, k, axes=(0, 1))).max() for k in (1, -1))
            assert err < 1e-5


def test_scale_zoom_about_centre_keeps_centre_pixel():
    x = np.zeros((4, 9, 9, 1), "float32")
    x[:, 4, 4] = 1.0
    c = corrupt(x, "scale", magnitude=0.3, input_range=(0, 1))
    np.testing.assert_allclose(c[:, 4, 4, 0], 1.0, atol=1e-6)


def test_bad_arguments(images):
    x, _ = images
    with pytest.raises(ValueError, match="Unknown corruption"):
        corrupt(x, "fog", 1)
    with pytest.raises(ValueError, match="severity must be"):
        corrupt(x, "noise", 6)
    with pytest.raises(ValueError, match="magnitude must be"):
        corrupt(x, "noise", magnitude=-1)
    with pytest.raises(ValueError, match="4-D"):
        corrupt(x[0], "noise", 1)
    assert corruption_magnitude("rotate", 5) == 30.0


def test_invariance_report_matches_direct_computation(images):
    x, y = images
    m = small_cnn((24, 24, 3), 3)
    r = invariance_report(
        m, x, y, transforms=("noise", "rotate"), severities=(0, 2, 4), seed=3, input_range=(0, 1)
    )
    clean = np.asarray(m(x)).argmax(-1)
    assert r.clean_accuracy == pytest.approx((clean == y).mean())
    # severity 0 is the identity: no flips, cosine 1, clean accuracy
    assert r.flip_rate["noise"][0] == 0 and r.feature_cosine["noise"][0] == pytest.approx(1.0)
    assert r.accuracy["rotate"][0] == pytest.approx(r.clean_accuracy)
    xc = corrupt(x, "rotate", 4, seed=3, input_range=(0, 1))
    pred = np.asarray(m(xc)).argmax(-1)
    assert r.flip_rate["rotate"][2] == pytest.approx((pred != clean).mean())
    assert r.accuracy["rotate"][2] == pytest.approx((pred == y).mean())
    from keras_insight.core import features

    fc, f0 = features(m, xc), features(m, x)
    cos = (fc * f0).sum(1) / np.linalg.norm(fc, axis=1) / np.linalg.norm(f0, axis=1)
    assert r.feature_cosine["rotate"][2] == pytest.approx(cos.mean(), rel=1e-5)
    tags = r.scalars()
    assert tags["invariance/rotate/acc_s4"] == pytest.approx(r.accuracy["rotate"][2])
    assert "invariance/noise/cos_s2" in tags
    import matplotlib.pyplot as plt

    fig = r.figure()
    assert len(fig.axes) == 3
    plt.close(fig)


def test_invariance_report_without_labels_and_subclassed(images):
    x, _ = images
    m = make_model("subclassed", (24, 24, 3), 3)
    r = invariance_report(m, x, transforms=("blur",), severities=(1,), input_range=(0, 1))
    assert r.clean_accuracy is None and r.accuracy["blur"] is None
    assert r.feature_cosine["blur"] is None
    assert 0 <= r.flip_rate["blur"][0] <= 1
    assert set(r.scalars()) == {"invariance/blur/flip_s1"}
