"""A NaN in the model, not in the data: functions warn once naming the first non-finite
layer (never blaming finite inputs); callbacks skip that step's pictures and say why."""

from __future__ import annotations

import logging

import keras
import numpy as np
import pytest

import keras_insight as ki
from keras_insight.callbacks import FilterGrid, GradCAM
from keras_insight.core.validation import nonfinite_activation, nonfinite_weights
from keras_insight.synthesis import class_logit
from keras_insight.tensorboard.events import read_events
from keras_insight.testing import small_cnn

X = np.random.default_rng(0).random((4, 16, 16, 3)).astype("float32")
Y = np.array([0, 1, 2, 3])


def _poisoned():
    m = small_cnn(seed=1)
    k = m.get_layer("conv2").kernel
    v = k.numpy()
    v[0, 0, 0, 0] = np.nan
    k.assign(v)
    return m


CALLS = {
    "saliency": lambda m: ki.saliency(m, X),
    "integrated_gradients": lambda m: ki.integrated_gradients(m, X, steps=4),
    "fgsm": lambda m: ki.fgsm(m, X, Y, eps=0.03, input_range=(0, 1)),
    "pgd": lambda m: ki.pgd(m, X, Y, eps=0.03, steps=2, input_range=(0, 1)),
    "maximize": lambda m: ki.maximize(m, class_logit(0), steps=2, input_range=(0, 1)),
}


@pytest.mark.parametrize("what", list(CALLS))
def test_nan_kernel_warns_once_naming_the_layer(what, caplog):
    m = _poisoned()
    with caplog.at_level(logging.WARNING, logger="keras_insight"):
        out = CALLS[what](m)
        CALLS[what](m)  # the same cause again: no second warning
    assert not np.isfinite(out).all()  # the result is honest (NaN), and now explained
    msgs = [r.getMessage() for r in caplog.records if "NaN/inf" in r.getMessage()]
    assert len(msgs) == 1, msgs
    assert msgs[0].startswith(f"{what}:")
    assert "layer 'conv2' has non-finite weights (kernel: 1 of 1152 values" in msgs[0]
    assert "clean the inputs" not in msgs[0]


def test_finite_model_no_warning_and_nan_inputs_still_blame_inputs(caplog):
    m = small_cnn(seed=1)
    assert nonfinite_weights(m) is None
    with caplog.at_level(logging.WARNING, logger="keras_insight"):
        assert np.isfinite(ki.saliency(m, X)).all()
    assert not [r for r in caplog.records if "NaN/inf" in r.getMessage()]
    bad = X.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="contains NaN or infinite values; clean the inputs"):
        ki.saliency(m, bad)


def test_overflowing_activation_is_named():
    """Finite weights whose product overflows float32: the first layer with an infinite
    output is named, not the inputs and not a weight."""
    keras.utils.set_random_seed(0)
    L = keras.layers
    m = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Conv2D(2, 3, name="big1"),
            L.Conv2D(2, 3, name="big2"),
            L.GlobalAveragePooling2D(),
            L.Dense(2, name="head"),
        ]
    )
    for name in ("big1", "big2"):
        k = m.get_layer(name).kernel
        k.assign(np.full(k.shape, 1e25, "float32"))
    x = np.ones((2, 8, 8, 1), "float32")
    assert nonfinite_weights(m) is None
    assert nonfinite_activation(m, x) == (
        "layer 'big2' outputs non-finite values for finite inputs and weights"
    )


class _Poison(keras.callbacks.Callback):
    """Put a NaN into conv2's kernel at the end of epoch ``at`` (before the insight
    callbacks that follow it in the list)."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            k = self.model.get_layer("conv2").kernel
            v = k.numpy()
            v[1, 1, 0, 0] = np.nan
            k.assign(v)


def test_callbacks_skip_nan_steps_and_say_why(tmp_path, caplog):
    m = small_cnn(seed=2)
    m.compile("sgd", "sparse_categorical_crossentropy")
    x = np.random.default_rng(1).random((16, 16, 16, 3)).astype("float32")
    y = np.arange(16) % 4
    cbs = [
        _Poison(at=1),
        FilterGrid(log_dir=tmp_path, freq=1),
        GradCAM((x[:4], y[:4]), log_dir=tmp_path, freq=1),
    ]
    with caplog.at_level(logging.WARNING, logger="keras_insight"):
        m.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=cbs)
    ev = read_events(str(tmp_path / "insight"))
    for tag, values in ev.items():
        steps = sorted({s for s, _ in values})
        assert steps == [0], (tag, steps)  # epochs 1 and 2 (NaN weights) skipped
    for cb in cbs[1:]:  # steps 1 and 2, and the train-end log of step 2
        assert cb.failures["NonFiniteWeights"] == 3
    warned = [r.getMessage() for r in caplog.records if "skip step" in r.getMessage()]
    assert len(warned) == 2  # once per skipped step, for all callbacks together
    assert "layer 'conv2' has non-finite weights" in warned[0]  # (by step 2 NaN reached conv1)
    assert "step 1's images" in warned[0] and "step 2's images" in warned[1]
