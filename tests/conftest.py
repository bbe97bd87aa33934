import importlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_INSIGHT_FAST", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

#: CI sets CI=true and installs every optional piece (scripts/test.sh: extras dev,segment,
#: Debian chromium + chromium-driver, dataset-fashion-mnist), so nothing may be missing there.
IN_CI = os.environ.get("CI") == "true"


def require(ok, why: str) -> None:
    """Skip the test when ``ok`` is false locally; fail it under CI (``CI=true``).

    ``why`` says what is missing and how to get it. Platform skips that CI cannot fix (no
    /proc, say) stay plain ``pytest.skip`` / ``skipif``.
    """
    if not ok:
        if IN_CI:
            pytest.fail(f"CI=true but {why}: CI must install it, not skip", pytrace=False)
        pytest.skip(why)


def require_module(name: str, why: str):
    """Import and return module ``name``; when it is missing, :func:`require` decides."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        require(False, f"{why} ({exc})")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _float32_policy():
    """Each test starts (and ends) under the float32 policy."""
    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")


def corner_squares(rng, n: int = 48):
    """``n`` 16x16x3 images of faint noise in [0, 0.3] and labels ``arange(n) % 4``: classes
    0-2 add 0.7 to channel ``y`` of the top-left 8x8 corner, class 3 adds nothing."""
    y = np.arange(n) % 4
    x = rng.uniform(0, 0.3, size=(n, 16, 16, 3)).astype("float32")
    x[np.arange(n), :8, :8, y % 3] += 0.7 * (y < 3)[:, None, None]
    return x, y


def fit_briefly(model, x, y, callbacks, epochs: int = 2):
    """Adam + sparse cross-entropy, batch 16, silent: a short fit that drives callbacks."""
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=16, verbose=0, callbacks=callbacks)


def snapshot(model, x):
    """Weights (incl. BatchNorm statistics) and predictions, to prove nothing changed."""
    return [w.numpy().copy() for w in model.weights], np.asarray(model(x, training=False))


def assert_unchanged(model, x, before):
    weights, preds = before
    for a, b in zip(weights, [w.numpy() for w in model.weights]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(preds, np.asarray(model(x, training=False)))
