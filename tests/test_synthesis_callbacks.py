"""Synthesis callbacks: what they write equals the pure functions, traced once, clear errors."""

import numpy as np
import pytest

from keras_insight.callbacks.synthesis import ClassSynthesis, FeatureInversion, FilterSynthesis
from keras_insight.core import engine
from keras_insight.render import enlarge, to_uint8
from keras_insight.synthesis import class_logit, invert, maximize
from keras_insight.tensorboard.events import read_events
from keras_insight.testing import small_cnn


def _fit(model, callbacks, epochs=2):
    x = np.random.default_rng(0).uniform(0, 1, (16, 16, 16, 3)).astype(np.float32)
    y = np.arange(16) % 4
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=8, verbose=0, callbacks=callbacks)
    return x, y


def test_class_synthesis_writes_what_maximize_returns(tmp_path):
    m = small_cnn()
    cb = ClassSynthesis(tmp_path, freq=1, steps=6, input_range=(0, 1), strict=True)
    _fit(m, [cb])
    ev = read_events(str(tmp_path / "insight"))
    assert [s for s, _ in ev["synthesis/class_2"]] == [0, 1]
    assert [s for s, _ in ev["synthesis/self_accuracy"]] == [0, 1]
    expected = maximize(m, [class_logit(c) for c in range(4)], steps=6, input_range=(0, 1), seed=0)
    got = ev["synthesis/class_2"][-1][1][0]
    want = enlarge(to_uint8(expected[2], 0, 1))  # single pictures are enlarged for display
    assert got.shape == want.shape
    np.testing.assert_allclose(got.astype(int), want.astype(int), atol=1)
    assert ev["synthesis/classes"][-1][1][0].ndim == 3
    assert 0 <= ev["synthesis/self_accuracy"][-1][1] <= 1


def test_class_synthesis_traces_once_across_epochs(tmp_path):
    m = small_cnn(seed=1)
    cb = ClassSynthesis(tmp_path, classes=[0, 3], freq=1, steps=3, input_range=(0, 1), strict=True)
    _fit(m, [cb], epochs=1)
    before = sum(v for k, v in engine.TRACE_COUNTS.items() if k[0] == "maximize")
    m.fit(np.zeros((8, 16, 16, 3), "float32"), np.zeros(8), epochs=3, verbose=0, callbacks=[cb])
    after = sum(v for k, v in engine.TRACE_COUNTS.items() if k[0] == "maximize")
    assert after == before
    assert cb.failures == {}


def test_filter_synthesis_grid_per_layer(tmp_path):
    m = small_cnn()
    cb = FilterSynthesis(
        tmp_path, ["conv1", "conv2"], [0, 1, 2], freq=2, steps=4, input_range=(0, 1), strict=True
    )
    _fit(m, [cb], epochs=3)
    ev = read_events(str(tmp_path / "insight"))
    assert [s for s, _ in ev["synthesis/filters/conv1"]] == [1, 2]  # freq 2, then train end
    assert "synthesis/filters/conv2" in ev


def test_feature_inversion_scalars_match_invert(tmp_path):
    m = small_cnn()
    sample = np.random.default_rng(3).uniform(0, 1, (2, 16, 16, 3)).astype(np.float32)
    cb = FeatureInversion(
        sample, ["conv1", "conv2"], log_dir=tmp_path, freq=1, steps=8, strict=True
    )
    _fit(m, [cb], epochs=1)
    ev = read_events(str(tmp_path / "insight"))
    _, err = invert(m, sample, "conv1", steps=8, input_range=(0, 1))
    got = ev["synthesis/inversion/conv1/feature_error"][-1][1]
    assert got == pytest.approx(float(err["feature_error"].mean()), rel=1e-4)
    assert "synthesis/inversion/conv2/pixel_error" in ev
    assert ev["synthesis/inversion"][-1][1][0].ndim == 3


def test_bad_configuration_errors(tmp_path):
    m = small_cnn()
    with pytest.raises(ValueError, match="input_range is required"):
        _fit(m, [ClassSynthesis(tmp_path, steps=2, strict=True)], epochs=1)
    with pytest.raises(ValueError, match="out of range"):
        _fit(
            m,
            [ClassSynthesis(tmp_path, classes=[9], steps=2, input_range=(0, 1), strict=True)],
            epochs=1,
        )
    with pytest.raises(ValueError, match="not a 4-D"):
        _fit(
            m,
            [FilterSynthesis(tmp_path, "gap", [0], steps=2, input_range=(0, 1), strict=True)],
            epochs=1,
        )
    with pytest.raises(ValueError, match="out of range"):
        _fit(
            m,
            [FilterSynthesis(tmp_path, "conv1", [99], steps=2, input_range=(0, 1), strict=True)],
            epochs=1,
        )
    with pytest.raises(TypeError, match="log_dir"):
        ClassSynthesis(np.zeros((2, 4, 4, 1)))
