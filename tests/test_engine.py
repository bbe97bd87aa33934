"""The gradient engine: analytic gradients, batching, no retrace, XLA, mixed precision."""

import keras
import numpy as np
import pytest

from keras_insight.core import engine, gradients, infer_input_range, resolve_input_range
from keras_insight.core.input_range import as_float32
from keras_insight.testing import linear_model, make_model, small_cnn

X = np.random.default_rng(0).random((10, 16, 16, 3)).astype("float32")


def test_linear_model_gradient_is_w():
    m = linear_model()
    x = np.random.default_rng(1).random((4, 6, 6, 2)).astype("float32")
    w = m.get_layer("logits").kernel.numpy()  # (72, 3)
    r = gradients(m, x, targets=[0, 1, 2, 1])
    for i, c in enumerate([0, 1, 2, 1]):
        np.testing.assert_allclose(r.input_grads[i].ravel(), w[:, c], rtol=1e-5, atol=1e-6)
    # scores are the logits w.x + b, not softmax probabilities
    b = m.get_layer("logits").bias.numpy()
    np.testing.assert_allclose(
        r.scores, [x[i].ravel() @ w[:, c] + b[c] for i, c in enumerate([0, 1, 2, 1])], rtol=1e-5
    )


def test_predicted_class_and_callable_targets():
    m = small_cnn()
    r = gradients(m, X)
    np.testing.assert_array_equal(r.class_idx, r.logits.argmax(-1))
    np.testing.assert_allclose(r.scores, r.logits.max(-1), rtol=1e-6)
    rc = gradients(m, X, targets=lambda logits: logits[:, 2] - logits[:, 0])
    r2, r0 = gradients(m, X, targets=2), gradients(m, X, targets=0)
    np.testing.assert_allclose(
        rc.input_grads, r2.input_grads - r0.input_grads, rtol=1e-4, atol=1e-6
    )


def test_per_sample_targets_equal_single_sample_calls():
    m = small_cnn()
    t = [0, 3, 1, 2, 0, 1, 2, 3, 3, 1]
    r = gradients(m, X, targets=t)
    for i in (0, 1, 7):
        single = gradients(m, X[i : i + 1], targets=t[i])
        np.testing.assert_allclose(r.input_grads[i], single.input_grads[0], rtol=1e-5, atol=1e-6)


def test_chunked_equals_unchunked():
    m = make_model("nested")
    full = gradients(m, X, targets=1, layers=["conv2"], layer_grads=True, batch_size=64)
    chunked = gradients(m, X, targets=1, layers=["conv2"], layer_grads=True, batch_size=3)
    np.testing.assert_allclose(full.input_grads, chunked.input_grads, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(full.layer_grads[0], chunked.layer_grads[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(full.activations[0], chunked.activations[0], rtol=1e-5, atol=1e-6)


def test_no_retrace_for_second_batch():
    m = make_model("sequential_no_input", seed=3)  # no declared size: 8x8 input is valid
    gradients(m, X[:4], targets=1)
    before = dict(engine.TRACE_COUNTS)
    gradients(m, X[4:8], targets=1)
    gradients(m, X[:7], targets=[0] * 7)  # other batch size, other targets: same trace
    assert dict(engine.TRACE_COUNTS) == before
    gradients(m, X[:4, :8, :8], targets=1)  # a new input shape traces once
    assert sum(engine.TRACE_COUNTS.values()) == sum(before.values()) + 1


def test_xla_path_matches_graph_path():
    m = small_cnn(seed=4)
    plain = gradients(m, X, targets=2, jit_compile=False)
    xla = gradients(m, X, targets=2, jit_compile=True)
    np.testing.assert_allclose(plain.input_grads, xla.input_grads, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(plain.scores, xla.scores, rtol=1e-5, atol=1e-6)


def test_mixed_float16_inputs_and_gradients_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    m16 = small_cnn(seed=5)
    keras.mixed_precision.set_global_policy("float32")
    m32 = small_cnn(seed=5)
    m32.set_weights([w.numpy().astype("float32") for w in m16.weights])
    r16 = gradients(m16, X, targets=1)
    r32 = gradients(m32, X, targets=1)
    assert r16.input_grads.dtype == np.float32 and r16.scores.dtype == np.float32
    assert np.isfinite(r16.input_grads).all()
    cos = (r16.input_grads * r32.input_grads).sum() / (
        np.linalg.norm(r16.input_grads) * np.linalg.norm(r32.input_grads)
    )
    assert cos > 0.99


def test_bad_inputs_are_clear_errors():
    m = small_cnn()
    with pytest.raises(ValueError, match="out of range"):
        gradients(m, X, targets=7)
    with pytest.raises(ValueError, match="NaN"):
        bad = X.copy()
        bad[0, 0, 0, 0] = np.nan
        gradients(m, bad)
    with pytest.raises(ValueError, match="Empty"):
        gradients(m, X[:0])
    with pytest.raises(ValueError, match="one per sample"):
        gradients(m, X, targets=[1, 2])
    with pytest.raises(ValueError, match="Add a channel axis"):
        as_float32(X[..., 0])


def test_input_range_inference_and_uint8():
    assert infer_input_range(np.array([0.1, 0.7]), log=False) == (0.0, 1.0)
    assert infer_input_range(np.array([3.0, 200.0]), log=False) == (0.0, 255.0)
    assert infer_input_range(np.array([-0.5, 0.5]), log=False) == (-1.0, 1.0)
    assert infer_input_range(np.array([-2.0, 7.0]), log=False) == (-2.0, 7.0)
    assert infer_input_range(np.full(4, 300.0), log=False) == (300.0, 301.0)
    with pytest.raises(ValueError, match="input_range is required"):
        resolve_input_range(None)
    u = as_float32(np.full((1, 2, 2, 1), 200, np.uint8))
    assert u.dtype == np.float32 and u.max() == 200.0


# ------------------------------------------------------------------ cache keys (issue 10.2)


def test_fresh_lambda_per_call_reuses_one_compiled_function_and_distinct_ones_differ():
    m = small_cnn(seed=5)

    def margin(c):
        return lambda logits: logits[:, c] - logits[:, 0]

    def n_compiled():
        return sum(engine.TRACE_COUNTS.values())

    gradients(m, X[:2], targets=margin(1))
    before = n_compiled()
    for _ in range(3):  # a fresh lambda each call, same computation: no new function
        r1 = gradients(m, X[:2], targets=margin(1))
    assert n_compiled() == before
    r3 = gradients(m, X[:2], targets=margin(3))  # same code, other closure value: other function
    ref1, ref3, ref0 = (gradients(m, X[:2], targets=c).input_grads for c in (1, 3, 0))
    np.testing.assert_allclose(r1.input_grads, ref1 - ref0, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(r3.input_grads, ref3 - ref0, rtol=1e-4, atol=1e-6)


def test_two_custom_objectives_with_one_name_do_not_share_a_compiled_function():
    from keras_insight.synthesis import Objective, class_logit, maximize

    m = small_cnn(seed=6)
    kw = dict(steps=3, transforms=(), input_range=(0.0, 1.0), seed=2, param="pixels")
    mine0 = Objective(lambda ctx: ctx.logits[:, 0], "mine")
    mine1 = Objective(lambda ctx: ctx.logits[:, 1], "mine")
    a, b = maximize(m, mine0, **kw), maximize(m, mine1, **kw)
    np.testing.assert_allclose(a, maximize(m, class_logit(0), **kw), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b, maximize(m, class_logit(1), **kw), rtol=1e-5, atol=1e-6)
    assert np.abs(a - b).max() > 1e-3


# ------------------------------------------------------------------ one name per concept (10.7)


def test_engine_units_and_synthesis_objectives_accept_each_other():
    import keras_insight as ki
    from keras_insight import synthesis as S

    m = small_cnn(seed=7)
    x = X[:3]
    for unit, obj in [
        (ki.channel("conv2", 3), S.channel("conv2", 3)),
        (ki.neuron("conv1", 2, 5, 6), S.neuron("conv1", 2, 5, 6)),
    ]:
        g_unit = gradients(m, x, targets=unit).input_grads
        g_obj = gradients(m, x, targets=obj).input_grads
        np.testing.assert_allclose(g_obj, g_unit, rtol=1e-5, atol=1e-7)
        assert np.abs(g_unit).max() > 0
        kw = dict(steps=3, transforms=(), input_range=(0.0, 1.0), seed=1, param="pixels")
        np.testing.assert_allclose(
            ki.maximize(m, unit, **kw), ki.maximize(m, obj, **kw), rtol=1e-5, atol=1e-6
        )
    # an objective that is a target: class_logit(c) - logit(0) equals the callable difference
    diff = gradients(m, x, targets=S.class_logit(2) - S.class_logit(0)).input_grads
    ref = gradients(m, x, targets=lambda z: z[:, 2] - z[:, 0]).input_grads
    np.testing.assert_allclose(diff, ref, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="reads the input image"):
        gradients(m, x, targets=S.class_logit(0) - 0.1 * S.l2())


def test_run_batched_bounds_each_call_and_concatenates_nested_outputs():
    calls = []

    def f(a, b):
        calls.append(len(a))
        return {"sum": a + b, "parts": [a * 2, b[:, None]]}

    a, b = np.arange(10.0), np.arange(10.0) * 10
    out = engine.run_batched(f, a, b, batch_size=12, per_row=4, tensors=False)
    assert calls == [3, 3, 3, 1]  # 12 // 4 rows per call: at most 12 model inputs
    np.testing.assert_array_equal(out["sum"], a + b)
    np.testing.assert_array_equal(out["parts"][0], a * 2)
    np.testing.assert_array_equal(out["parts"][1], b[:, None])
    with pytest.raises(ValueError, match="Empty batch"):
        engine.run_batched(f, a[:0], b[:0])
    # PGD split over calls equals one call (attacks go through run_batched)
    from keras_insight.robustness import pgd

    m = small_cnn(seed=2)
    y = np.asarray(m(X)).argmax(-1)
    kw = dict(eps=4 / 255, steps=3, input_range=(0, 1), seed=1)
    split, whole = pgd(m, X, y, batch_size=3, **kw), pgd(m, X, y, **kw)
    assert np.mean(np.abs(split - whole) <= 1e-6) >= 0.999  # SPEC 3: batching and attacks
