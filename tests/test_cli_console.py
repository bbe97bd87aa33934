"""A quiet console: library notes once per run, repeated warnings once per callback."""

import logging

import keras
import numpy as np

from keras_insight._config import logger
from keras_insight.callbacks import ActivationMaps, GradCAM


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _collect():
    h = _Collect()
    logger.addHandler(h)
    return h


def _dead_cnn():
    # the conv layer outputs zeros everywhere: every Grad-CAM map is constant
    L = keras.layers
    m = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Conv2D(
                2,
                3,
                padding="same",
                activation="relu",
                kernel_initializer="zeros",
                bias_initializer="zeros",
                name="conv",
            ),  # fmt: skip
            L.Flatten(),
            L.Dense(2, bias_initializer="ones"),
        ]
    )
    m.compile(keras.optimizers.SGD(learning_rate=0.0), "sparse_categorical_crossentropy")
    return m


def test_constant_maps_warned_once_per_callback_with_a_count(tmp_path):
    x = np.random.default_rng(0).uniform(0, 1, (8, 8, 8, 1)).astype("float32")
    y = np.arange(8) % 2
    cb = GradCAM((x, y), str(tmp_path), num_samples=4)
    h = _collect()
    try:
        _dead_cnn().fit(x, y, epochs=3, verbose=0, callbacks=[cb])
    finally:
        logger.removeHandler(h)
    constant = [m for m in h.messages if "are constant" in m]
    assert len(constant) == 1, h.messages
    assert "4 of 4 maps at step 0" in constant[0]
    assert cb.constant_maps == 12  # 4 maps in each of 3 epochs, all counted


def test_input_range_inferred_once_although_probe_sets_differ(tmp_path, monkeypatch):
    from keras_insight.core import input_range

    monkeypatch.setattr(input_range, "_logged", set())
    x = np.linspace(0.05, 0.95, 40 * 64, dtype="float32").reshape(40, 8, 8, 1)
    y = np.arange(40) % 2
    L = keras.layers
    m = keras.Sequential(
        [keras.Input((8, 8, 1)), L.Conv2D(2, 3, name="c"), L.Flatten(), L.Dense(2)]
    )
    m.compile("adam", "sparse_categorical_crossentropy")
    # probes of 2 and of 40 samples: different data min/max, the same inferred range
    cbs = [ActivationMaps((x, y), str(tmp_path), num_samples=2),
           ActivationMaps((x, y), str(tmp_path), num_samples=40)]  # fmt: skip
    h = _collect()
    try:
        m.fit(x, y, epochs=1, verbose=0, callbacks=cbs)
    finally:
        logger.removeHandler(h)
    assert cbs[0].input_range == cbs[1].input_range == (0.0, 1.0)
    inferred = [m for m in h.messages if "input_range inferred" in m]
    assert len(inferred) == 1, inferred
