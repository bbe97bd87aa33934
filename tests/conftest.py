import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_INSIGHT_FAST", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _float32_policy():
    """Each test starts (and ends) under the float32 policy."""
    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")


def snapshot(model, x):
    """Weights (incl. BatchNorm statistics) and predictions, to prove nothing changed."""
    return [w.numpy().copy() for w in model.weights], np.asarray(model(x, training=False))


def assert_unchanged(model, x, before):
    weights, preds = before
    for a, b in zip(weights, [w.numpy() for w in model.weights]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(preds, np.asarray(model(x, training=False)))
