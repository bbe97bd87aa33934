"""Cost mechanisms of the callback suite: the shared probe pass and the trace budget."""

import keras
import numpy as np
import pytest
from conftest import corner_squares, fit_briefly

from keras_insight.callbacks import (
    ActivationMaps,
    ConfusionMatrix,
    EmbeddingPlot,
    EmbeddingProjector,
    GradCAM,
    NearestNeighbors,
    suite,
)
from keras_insight.callbacks.probe import probe_pass
from keras_insight.core import engine
from keras_insight.core.features import features
from keras_insight.inspection.activations import activation_maps
from keras_insight.testing import small_cnn


@pytest.fixture
def data(rng):
    return corner_squares(rng)


class _Owner:
    freq = 1


def test_shared_pass_equals_the_separate_computations(data):
    x, _ = data
    m = small_cnn(seed=1)
    a, b, c = _Owner(), _Owner(), _Owner()
    pp = probe_pass(m)
    pp.register(a, x, features=("gap", "avg"))
    pp.register(b, x[:5], layers=["conv1", "conv2"])
    pp.register(c, x[10:30], features=("conv2", "max"))
    out_b = pp.outputs(b, step=0)
    # the first request computed the rows of every due request in one pass
    assert pp.passes == 1
    out_a, out_c = pp.outputs(a, step=0), pp.outputs(c, step=0)
    assert pp.passes == 1
    logits = engine.logits(m, x)
    np.testing.assert_allclose(out_a.logits, logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out_b.logits, logits[:5], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out_a.features, features(m, x, "gap"), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        out_c.features, features(m, x[10:30], "conv2", pool="max"), rtol=1e-5, atol=1e-6
    )
    for got, want in zip(out_b.activations, activation_maps(m, x[:5], ["conv1", "conv2"])):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # the output activation is made linear: softmax of the logits is the model's output
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    np.testing.assert_allclose(probs, m(x, training=False).numpy(), rtol=1e-4, atol=1e-6)


def test_new_weights_mean_a_new_pass(data):
    x, _ = data
    m = small_cnn(seed=2)
    owner = _Owner()
    pp = probe_pass(m)
    pp.register(owner, x[:8])
    before = pp.outputs(owner, step=3).logits
    w = m.layers[-1].kernel
    w.assign(w.numpy() * 2.0)  # same step, no optimizer step: the checksum changes
    after = pp.outputs(owner, step=3).logits
    assert pp.passes == 2
    np.testing.assert_allclose(after, engine.logits(m, x[:8]), rtol=1e-5, atol=1e-6)
    assert not np.allclose(before, after)


def test_unregistered_owner_is_a_clear_error(data):
    pp = probe_pass(small_cnn(seed=3))
    with pytest.raises(ValueError, match="register"):
        pp.outputs(_Owner(), step=0)


def test_suite_callbacks_share_one_pass_and_never_retrace(tmp_path, data):
    x, y = data
    m = small_cnn(seed=4)
    cbs = [
        ActivationMaps((x, y), tmp_path, num_samples=8, strict=True),
        GradCAM((x, y), tmp_path, num_samples=8, strict=True),
        ConfusionMatrix((x, y), tmp_path, num_samples=40, strict=True),
        EmbeddingProjector((x, y), tmp_path, num_samples=24, strict=True),
        EmbeddingPlot((x, y), tmp_path, num_samples=16, freq=10, strict=True),
        NearestNeighbors((x, y), (x, y), tmp_path, num_samples=4, k=2, freq=10, strict=True),
    ]
    traces = []

    class Count(keras.callbacks.Callback):  # after each epoch's callbacks: traces so far
        def on_epoch_end(self, epoch, logs=None):
            traces.append(sum(engine.TRACE_COUNTS.values()))

    fit_briefly(m, x, y, [*cbs, Count()], epochs=3)
    assert all(not cb.failures for cb in cbs)
    assert traces[1] == traces[0] == traces[2], "a callback retraced after the first epoch"
    pp = probe_pass(m)
    # nested stratified probe sets share rows: the union is the 40-sample set + the gallery
    assert pp.size == len(x)
    # one pass per epoch for the per-epoch callbacks, one more at train end for the gallery
    assert pp.passes == 4
    # the features the projector wrote for the last epoch are the model's features
    out = pp.outputs(cbs[3], step=2)
    np.testing.assert_allclose(out.features, features(m, cbs[3].probe_x), rtol=1e-5, atol=1e-5)


def test_standard_suite_traces_each_function_once(tmp_path, data):
    x, y = data
    m = small_cnn(seed=5)
    cbs = suite((x, y), tmp_path, level="standard", strict=True, overhead=None)
    for cb in cbs:
        if hasattr(cb, "steps"):
            cb.steps = min(cb.steps, 4)
    before = engine.TRACE_COUNTS.copy()
    fit_briefly(m, x, y, cbs, epochs=2)
    new = {k: v - before.get(k, 0) for k, v in engine.TRACE_COUNTS.items() if v > before.get(k, 0)}
    assert all(v == 1 for v in new.values()), new


def test_pass_serves_a_model_that_takes_any_image_size():
    keras.utils.set_random_seed(6)
    m = keras.Sequential(
        [
            keras.Input((None, None, 3)),
            keras.layers.Conv2D(4, 3, activation="relu", name="c"),
            keras.layers.GlobalAveragePooling2D(name="g"),
            keras.layers.Dense(3),
        ]
    )
    rng = np.random.default_rng(1)
    big, small = rng.random((5, 16, 16, 3), "float32"), rng.random((4, 12, 12, 3), "float32")
    a, b = _Owner(), _Owner()
    pp = probe_pass(m)
    pp.register(a, big, features=("g", "avg"))
    pp.register(b, small, features=("g", "avg"))
    out_a, out_b = pp.outputs(a, step=0), pp.outputs(b, step=0)
    assert pp.passes == 1
    np.testing.assert_allclose(out_a.logits, engine.logits(m, big), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out_b.features, features(m, small, "g"), rtol=1e-5, atol=1e-6)
