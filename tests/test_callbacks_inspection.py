"""FilterGrid, ActivationMaps, ModelSummary and the base callback's policies, end to end."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import assert_unchanged, snapshot

from keras_insight.callbacks import ActivationMaps, FilterGrid, InsightCallback, ModelSummary
from keras_insight.callbacks.base import stratified_indices, unpack_validation_data
from keras_insight.inspection import dead_channel_fraction, filter_tiles, high_frequency_ratio
from keras_insight.render import filter_grid, to_uint8
from keras_insight.tensorboard.events import read_events
from keras_insight.tensorboard.server import TensorBoardServer


def _data(n=48, shape=(12, 12, 3), classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, *shape)).astype("float32"), rng.integers(0, classes, n)


def _bn_model(shape=(12, 12, 3), classes=3):
    keras.utils.set_random_seed(0)
    m = keras.Sequential(
        [
            keras.Input(shape),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv1"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Conv2D(6, 3, activation="relu", name="conv2"),
            keras.layers.Dropout(0.3),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(classes, activation="softmax", name="out"),
        ]
    )
    m.compile("adam", "sparse_categorical_crossentropy")
    return m


class Probe(keras.callbacks.Callback):
    """Snapshot the model before and after the insight callbacks of each epoch run."""

    def __init__(self, x):
        super().__init__()
        self.x, self.ok = x, []

    def on_epoch_end(self, epoch, logs=None):
        self.before = snapshot(self.model, self.x)


class Check(keras.callbacks.Callback):
    def __init__(self, probe):
        super().__init__()
        self.probe = probe

    def on_epoch_end(self, epoch, logs=None):
        assert_unchanged(self.model, self.probe.x, self.probe.before)
        self.probe.ok.append(epoch)


def test_filter_grid_tiles_and_scalar(tmp_path):
    x, y = _data()
    m = _bn_model()
    m.fit(x, y, epochs=2, verbose=0, callbacks=[FilterGrid(log_dir=tmp_path, freq=1)])
    ev = read_events(str(tmp_path / "insight"))
    steps = [s for s, _ in ev["filters/conv1"]]
    assert steps == [0, 1]
    k = m.get_layer("conv1").kernel.numpy()
    tiles = filter_tiles(k)
    assert tiles.shape == (4, 3, 3, 3)  # RGB first layer
    # each tile is 0.5 + w / (2 max|w|) of its own filter
    for j in range(4):
        np.testing.assert_allclose(
            tiles[j], 0.5 + k[..., j] / (2 * np.abs(k[..., j]).max()), rtol=1e-6
        )
    # the picture is those tiles laid out by the render layer: a near-square labelled grid,
    # cut into pages (the samples of the tag) that read in TensorBoard's Time Series box
    expected = filter_grid(to_uint8(tiles), 1, paged=True)
    np.testing.assert_array_equal(np.stack(ev["filters/conv1"][-1][1]), expected)
    # deeper layer: grayscale tiles, one row per filter
    k2 = m.get_layer("conv2").kernel.numpy()
    t2 = filter_tiles(k2, max_channels=8)
    img2 = np.stack(ev["filters/conv2"][-1][1])
    per_filter = min(k2.shape[2], 8)
    np.testing.assert_array_equal(img2, filter_grid(to_uint8(t2), per_filter, paged=True))
    ratio = ev["filters/conv1/high_frequency_ratio"][-1][1]
    assert ratio == pytest.approx(high_frequency_ratio(k), rel=1e-5)


def test_high_frequency_ratio_extremes(rng):
    assert high_frequency_ratio(np.ones((5, 5, 3, 2))) == 0.0
    checker = (np.indices((5, 5)).sum(0) % 2 * 2.0 - 1.0)[:, :, None, None] * np.ones((1, 1, 3, 2))
    assert high_frequency_ratio(checker) == pytest.approx(1.0)
    noise = high_frequency_ratio(rng.normal(size=(5, 5, 16, 32)))
    smooth = high_frequency_ratio(np.cumsum(np.cumsum(rng.normal(size=(5, 5, 16, 32)), 0), 1))
    assert 0.0 < smooth < noise < 1.0 and abs(noise - 0.5) < 0.05


def test_dead_channel_fraction_with_one_killed_channel(tmp_path):
    x, y = _data()
    m = _bn_model()
    conv = m.get_layer("conv1")
    b = conv.bias.numpy()
    b[2] = -1e3
    conv.bias.assign(b)
    cb = ActivationMaps((x, y), log_dir=tmp_path, layers=["conv1"], num_samples=12)
    m.fit(x, y, epochs=1, verbose=0, callbacks=[cb])
    ev = read_events(str(tmp_path / "insight"))
    # the -1e3 bias survives one epoch of Adam: that channel never fires
    assert ev["activations/conv1/dead_fraction"][0][1] == pytest.approx(1 / 4)
    img = ev["activations/conv1/sample_0"][0][1][0]
    assert img.dtype == np.uint8 and img.shape[-1] == 3
    assert dead_channel_fraction(np.ones((2, 3, 3, 5))) == 0.0


def test_model_unchanged_and_summary_text(tmp_path):
    x, y = _data()
    m = _bn_model()
    probe = Probe(x[:8])
    cbs = [
        probe,
        FilterGrid(log_dir=tmp_path),
        ActivationMaps((x, y), log_dir=tmp_path),
        ModelSummary(log_dir=tmp_path),
        Check(probe),
    ]
    m.fit(x, y, epochs=2, verbose=0, callbacks=cbs)
    assert probe.ok == [0, 1]
    ev = read_events(str(tmp_path / "insight"))
    text = ev["model/summary"][0][1]
    assert "| conv1 | Conv2D | (None, 10, 10, 4) | 112 |" in text
    assert "| bn | BatchNormalization |" in text


class Boom(InsightCallback):
    def log(self, step):
        raise RuntimeError("boom")


def test_failure_inside_callback_does_not_stop_training(tmp_path):
    x, y = _data()
    m = _bn_model()
    cb = Boom((x, y), log_dir=tmp_path)
    hist = m.fit(x, y, epochs=3, verbose=0, callbacks=[cb])
    assert len(hist.history["loss"]) == 3
    assert cb.failures["RuntimeError"] == 3
    with pytest.raises(RuntimeError, match="boom"):
        _bn_model().fit(
            x, y, epochs=3, verbose=0, callbacks=[Boom((x, y), log_dir=tmp_path, strict=True)]
        )


def test_freq_and_at_train_end(tmp_path):
    x, y = _data()
    m = _bn_model()
    m.fit(x, y, epochs=5, verbose=0, callbacks=[FilterGrid(log_dir=tmp_path, freq=2)])
    steps = [s for s, _ in read_events(str(tmp_path / "insight"))["filters/conv1"]]
    assert steps == [1, 3, 4]


def test_probe_set_stratified_seeded_and_dataset_input():
    x, y = _data(n=60, classes=3)
    idx = stratified_indices(y, 60, 9, seed=3)
    assert np.bincount(y[idx], minlength=3).tolist() == [3, 3, 3]
    np.testing.assert_array_equal(idx, stratified_indices(y, 60, 9, seed=3))
    ds = tf.data.Dataset.from_tensor_slices((x, keras.utils.to_categorical(y, 3))).batch(7)
    xd, yd, _ = unpack_validation_data(ds)
    np.testing.assert_array_equal(yd, y)
    np.testing.assert_allclose(xd, x)


@pytest.mark.parametrize(
    "data, match",
    [
        ((np.zeros((0, 8, 8, 1)), np.zeros(0)), "empty"),
        ((np.zeros((10, 5)), np.zeros(10)), "4-D batch"),
        ((np.zeros((10, 8, 8)), np.zeros(10)), r"x\[\.\.\., None\]"),
        (None, "validation_data is required"),
    ],
)
def test_bad_validation_data(data, match, tmp_path):
    x, y = _data()
    with pytest.raises(ValueError, match=match):
        _bn_model().fit(
            x, y, epochs=1, verbose=0, callbacks=[ActivationMaps(data, log_dir=tmp_path, strict=True)]
        )


def test_bad_layer_and_log_dir(tmp_path):
    x, y = _data()
    with pytest.raises(ValueError, match="No layer named 'nope'.*'conv1'"):
        _bn_model().fit(
            x,
            y,
            epochs=1,
            verbose=0,
            callbacks=[ActivationMaps((x, y), log_dir=tmp_path, layers=["nope"], strict=True)],
        )
    with pytest.raises(ValueError, match=r"not a 4-D.*'conv1'"):
        _bn_model().fit(
            x,
            y,
            epochs=1,
            verbose=0,
            callbacks=[ActivationMaps((x, y), log_dir=tmp_path, layers=["out"], strict=True)],
        )
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError, match=str(blocker)):
        _bn_model().fit(
            x, y, epochs=1, verbose=0, callbacks=[FilterGrid(log_dir=blocker / "logs", strict=True)]
        )


def test_tensorboard_serves_the_callback_images(tmp_path):
    x, y = _data()
    m = _bn_model()
    m.fit(
        x,
        y,
        epochs=1,
        verbose=0,
        callbacks=[FilterGrid(log_dir=tmp_path), ModelSummary(log_dir=tmp_path)],
    )
    written = read_events(str(tmp_path / "insight"))["filters/conv1"][0][1][0]
    with TensorBoardServer(str(tmp_path)) as tb:
        tb.wait_for_tag("insight", "filters/conv1")
        served = tb.images("insight", "filters/conv1")
        assert served[0][0] == 0
        np.testing.assert_array_equal(served[0][1], written)
        scalars = tb.scalars("insight", "filters/conv1/high_frequency_ratio")
        assert scalars[0][1] == pytest.approx(
            high_frequency_ratio(m.get_layer("conv1").kernel.numpy()), rel=1e-5
        )
        assert "conv1" in tb.text("insight", "model/summary")[0][1]
