"""Properties of the attribution methods (SPEC 4.3): analytic results and equivalences."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_insight import attribution as A
from keras_insight.core import logits as core_logits
from keras_insight.core import neuron
from keras_insight.testing import gap_cnn, linear_model, make_model, small_cnn

L = keras.layers


def _x(n=3, shape=(16, 16, 3), seed=0):
    return np.random.default_rng(seed).random((n, *shape)).astype("float32")


def _kernel(model, c):
    return model.get_layer("logits").kernel.numpy()[:, c]


# ------------------------------------------------------------------ saliency


def test_linear_saliency_is_abs_w_and_signed_is_w():
    m = linear_model()
    x = _x(4, (6, 6, 2))
    w = _kernel(m, 1).reshape(6, 6, 2)
    np.testing.assert_allclose(
        A.saliency(m, x, 1, reduce=None), np.broadcast_to(w, x.shape), atol=1e-6
    )
    np.testing.assert_allclose(
        A.saliency(m, x, 1), np.broadcast_to(np.abs(w).max(-1), x.shape[:3]), atol=1e-6
    )
    np.testing.assert_allclose(
        A.saliency(m, x, 1, method="gradient_x_input", reduce=None), w * x, atol=1e-6
    )


def _smooth_model():
    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            L.Conv2D(4, 3, activation="tanh", name="c1"),
            L.Conv2D(4, 3, activation="tanh", name="c2"),
            L.Flatten(),
            L.Dense(3, name="logits"),
        ]
    )


def test_gradient_matches_central_differences_on_smooth_model():
    m = _smooth_model()
    x = _x(1, (8, 8, 2), seed=1).astype("float64")
    g = A.saliency(m, x, 2, reduce=None)[0]
    f = lambda z: float(m(z.astype("float32"), training=False)[0, 2])  # noqa: E731
    h = 1e-2
    rng = np.random.default_rng(0)
    for _ in range(6):
        i, j, c = rng.integers(0, 8), rng.integers(0, 8), rng.integers(0, 2)
        e = np.zeros_like(x)
        e[0, i, j, c] = h
        fd = (f(x + e) - f(x - e)) / (2 * h)
        assert abs(fd - g[i, j, c]) <= 2e-3 + 1e-2 * abs(fd)


def test_neuron_target_gradient_stays_in_receptive_field():
    m = small_cnn()
    x = _x(1)
    k = int(m.get_layer("conv1")(x).numpy()[0, 5, 7].argmax())  # a live unit
    g = A.saliency(m, x, neuron("conv1", k, 5, 7), reduce="max_abs")[0]
    support = np.argwhere(g != 0)
    assert len(support) > 0
    assert support[:, 0].min() >= 4 and support[:, 0].max() <= 6
    assert support[:, 1].min() >= 6 and support[:, 1].max() <= 8


# ------------------------------------------------------------------ integrated gradients


@pytest.mark.parametrize("steps", [1, 7, 64])
def test_gauss_legendre_weights_sum_to_one(steps):
    a, w = A.gauss_legendre(steps)
    assert abs(w.sum() - 1.0) < 1e-12 and ((a > 0) & (a < 1)).all()


@pytest.mark.parametrize("baseline", [0.0, "blur", 0.5])
def test_ig_completeness(baseline):
    m = small_cnn()
    x = _x(3)
    ig, delta = A.integrated_gradients(m, x, baseline=baseline, steps=32, return_delta=True)
    if baseline == "blur":  # the documented blur baseline: Gaussian, sigma = max(H, W) / 8
        from scipy.ndimage import gaussian_filter

        base = gaussian_filter(x, sigma=(0, 2, 2, 0), mode="nearest")
    else:
        base = np.full_like(x, baseline)
    lin = core_logits
    fx, fb = lin(m, x), lin(m, base)
    c = fx.argmax(-1)
    diff = fx[np.arange(3), c] - fb[np.arange(3), c]
    np.testing.assert_allclose(ig.reshape(3, -1).sum(1) - diff, delta, atol=1e-5)
    assert (np.abs(delta) <= 1e-2 * np.maximum(np.abs(diff), 1e-3)).all()


def test_ig_exact_on_sum_of_squares():
    m = keras.Sequential(
        [keras.Input((4, 5, 2)), L.Lambda(lambda z: keras.ops.sum(z * z, axis=(1, 2, 3))[:, None])]
    )
    x = _x(2, (4, 5, 2))
    base = np.full_like(x, 0.25)
    # one output unit: targets=None explains the output itself (class 0 would be its negation)
    ig, delta = A.integrated_gradients(m, x, None, baseline=base, steps=2, return_delta=True)
    np.testing.assert_allclose(ig, x**2 - base**2, atol=1e-6)
    assert np.abs(delta).max() < 1e-5


# ------------------------------------------------------------------ SmoothGrad


def test_smoothgrad_zero_noise_is_the_gradient():
    m = small_cnn()
    x = _x(2)
    g = A.saliency(m, x, 1, reduce=None)
    sg = A.saliency(m, x, 1, method="smoothgrad", reduce=None, level=0.0, n=3)
    np.testing.assert_allclose(sg, g, rtol=1e-5, atol=1e-6)
    tiny = A.saliency(m, x, 1, method="smoothgrad", reduce=None, level=1e-7, n=3)
    np.testing.assert_allclose(tiny, g, rtol=1e-3, atol=1e-5)
    vg = A.saliency(m, x, 1, method="vargrad", reduce=None, level=0.0, n=3)
    np.testing.assert_allclose(vg, 0.0, atol=1e-10)


@pytest.mark.parametrize("method", ["smoothgrad", "smoothgrad_sq", "vargrad"])
def test_smoothgrad_independent_of_batch_size(method):
    m = small_cnn()
    x = _x(5)
    a = A.saliency(m, x, method=method, n=6, seed=3, batch_size=7, reduce=None)
    b = A.saliency(m, x, method=method, n=6, seed=3, batch_size=64, reduce=None)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    c = A.saliency(m, x, method=method, n=6, seed=4, batch_size=64, reduce=None)
    assert not np.allclose(b, c)


@pytest.mark.parametrize("method", ["smoothgrad", "smoothgrad_sq", "vargrad"])
def test_smoothgrad_chunked_over_samples_and_batch_composition(method):
    # n > batch_size: samples of one image are split over compiled calls and combined on
    # the host; the noise of (image index, sample index) is the same either way
    m = small_cnn()
    x = _x(3)
    whole = A.saliency(m, x, 1, method=method, n=40, seed=2, batch_size=128, reduce=None)
    split = A.saliency(m, x, 1, method=method, n=40, seed=2, batch_size=7, reduce=None)
    np.testing.assert_allclose(split, whole, rtol=1e-5, atol=1e-6)
    # the other images in the call do not change an image's map
    head = A.saliency(m, x[:2], 1, method=method, n=40, seed=2, reduce=None)
    np.testing.assert_allclose(head, whole[:2], rtol=1e-5, atol=1e-6)
    assert np.isfinite(whole).all()


@pytest.mark.parametrize("kind", ["smoothgrad", "smoothgrad_sq", "vargrad"])
def test_smooth_of_vanilla_saliency_equals_builtin_smoothgrad(kind):
    m = small_cnn()
    x = _x(3)
    wrapped = A.smooth(A.saliency, n=5, level=0.2, kind=kind, seed=3)(m, x, [0, 1, 2], reduce=None)
    builtin = A.saliency(m, x, [0, 1, 2], method=kind, n=5, level=0.2, seed=3, reduce=None)
    np.testing.assert_allclose(wrapped, builtin, rtol=1e-4, atol=1e-6)
    assert np.abs(builtin).max() > 0


@pytest.mark.parametrize("kind", ["smoothgrad", "vargrad"])
def test_smooth_is_the_statistic_of_the_method_over_the_same_seeded_noise(kind):
    # NoiseTunnel over integrated gradients and Grad-CAM: by hand from smoothgrad_noise
    m = small_cnn()
    x = _x(2)
    n, sigma = 3, 0.1
    z = A.smoothgrad_noise(x, n, seed=5)
    for method, kw in [(A.integrated_gradients, {"steps": 8}), (A.grad_cam, {})]:
        runs = np.stack([method(m, x + sigma * z[:, j], 1, **kw) for j in range(n)])
        expected = runs.mean(0) if kind == "smoothgrad" else runs.var(0)
        got = A.smooth(method, n=n, sigma=sigma, kind=kind, seed=5)(m, x, 1, **kw)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-7)
        assert np.abs(expected).max() > 0
    # None = the class predicted at the clean input, for every noisy copy
    pred = core_logits(m, x).argmax(-1)
    np.testing.assert_allclose(
        A.smooth(A.grad_cam, n=n, sigma=sigma, seed=5)(m, x),
        A.smooth(A.grad_cam, n=n, sigma=sigma, seed=5)(m, x, pred),
        rtol=1e-6,
    )


def test_smoothgrad_noise_is_gaussian_with_sigma():
    # linear model, base gradient x input: g = w * (x + sigma z), so the VarGrad map is
    # w^2 sigma^2 var(z) and the SmoothGrad map w * (x + sigma mean(z))
    m = linear_model()
    x = _x(2, (6, 6, 2))
    w = _kernel(m, 1).reshape(6, 6, 2)
    level, n = 0.2, 400
    sigma = level * (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3)))[:, None, None, None]
    kw = dict(n=n, level=level, base="gradient_x_input", reduce=None, seed=5)
    var = A.saliency(m, x, 1, method="vargrad", **kw) / (w * w * sigma**2)
    assert abs(var.mean() - 1.0) < 0.02 and 0.7 < var.min() and var.max() < 1.35
    mean_z = (A.saliency(m, x, 1, method="smoothgrad", **kw) / w - x) / sigma
    assert abs(mean_z.mean()) < 0.01 and np.abs(mean_z).max() < 5.0 / np.sqrt(n)
    # different images and different pixels get independent noise
    flat = var.reshape(2, -1)
    assert abs(np.corrcoef(flat[0], flat[1])[0, 1]) < 0.2


# ------------------------------------------------------------------ guided backprop / deconvnet


def _relu_net(form, maxpool=False):
    keras.utils.set_random_seed(7)
    act = {
        "fused": lambda: [],
        "layer": lambda: [L.ReLU()],
        "activation": lambda: [L.Activation("relu")],
    }[form]
    fused = "relu" if form == "fused" else None
    layers = [keras.Input((12, 10, 3)), L.Conv2D(6, 3, activation=fused), *act()]
    if maxpool:
        layers.append(L.MaxPooling2D(2))
    layers += [
        L.Conv2D(6, 3, activation=fused),
        *act(),
        L.Flatten(),
        L.Dense(8, activation=fused),
        *act(),
    ]
    layers.append(L.Dense(3, activation="softmax", name="logits"))
    return keras.Sequential(layers)


def test_no_relu_net_guided_and_deconv_equal_vanilla():
    m = _smooth_model()
    x = _x(2, (8, 8, 2))
    g = A.saliency(m, x, 0, reduce=None)
    np.testing.assert_allclose(
        A.saliency(m, x, 0, method="guided_backprop", reduce=None), g, rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(
        A.saliency(m, x, 0, method="deconvnet", reduce=None), g, rtol=1e-5, atol=1e-7
    )


@pytest.mark.parametrize("form", ["fused", "layer", "activation"])
def test_deconvnet_does_not_depend_on_input(form):
    m = _relu_net(form)
    x = _x(3, (12, 10, 3)) * np.array([1.0, 5.0, 0.1])[:, None, None, None]
    d = A.saliency(m, x.astype("float32"), 2, method="deconvnet", reduce=None)
    np.testing.assert_allclose(d, np.broadcast_to(d[0], d.shape), rtol=1e-5, atol=1e-7)
    assert np.abs(d).max() > 0
    v = A.saliency(m, x.astype("float32"), 2, reduce=None)
    assert not np.allclose(v, np.broadcast_to(v[0], v.shape))


def test_guided_backprop_same_for_every_relu_form():
    x = _x(2, (12, 10, 3))
    maps = {
        f: A.saliency(_relu_net(f), x, 1, method="guided_backprop", reduce=None)
        for f in ("fused", "layer", "activation")
    }
    np.testing.assert_allclose(maps["fused"], maps["layer"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(maps["fused"], maps["activation"], rtol=1e-5, atol=1e-7)
    vanilla = A.saliency(_relu_net("fused"), x, 1, reduce=None)
    assert not np.allclose(maps["fused"], vanilla)
    # the definition, written out: the gradient of the class-1 logit where every ReLU's
    # backward pass zeroes negative upstream gradients and negative forward inputs
    m = _relu_net("fused")

    @tf.custom_gradient
    def relu_by_definition(z):
        def grad(dy):
            return tf.where((dy > 0) & (z > 0), dy, tf.zeros_like(dy))

        return tf.nn.relu(z), grad

    conv1, conv2, dense, logits = (lyr for lyr in m.layers if lyr.weights)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        h = relu_by_definition(tf.nn.conv2d(xt, conv1.kernel, 1, "VALID") + conv1.bias)
        h = relu_by_definition(tf.nn.conv2d(h, conv2.kernel, 1, "VALID") + conv2.bias)
        h = relu_by_definition(tf.reshape(h, [len(x), -1]) @ dense.kernel + dense.bias)
        score = tf.reduce_sum((h @ logits.kernel + logits.bias)[:, 1])
    expected = tape.gradient(score, xt).numpy()
    np.testing.assert_allclose(maps["fused"], expected, rtol=1e-5, atol=1e-7)
    assert np.abs(expected).max() > 0


def test_users_model_bit_identical_after_guided_and_deconv():
    m = _relu_net("layer")
    x = _x(2, (12, 10, 3))
    xt = tf.constant(x)

    def out_and_grad():
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = m(xt, training=False)
            s = tf.reduce_sum(y[:, 1])
        return y.numpy(), tape.gradient(s, xt).numpy()

    y0, g0 = out_and_grad()
    w0 = [w.numpy().copy() for w in m.weights]
    A.saliency(m, x, 1, method="guided_backprop")
    A.saliency(m, x, 1, method="deconvnet")
    A.guided_grad_cam(m, x, 1, layer=2)
    y1, g1 = out_and_grad()
    np.testing.assert_array_equal(y0, y1)
    np.testing.assert_array_equal(g0, g1)
    for a, b in zip(w0, m.weights):
        np.testing.assert_array_equal(a, b.numpy())
    assert m.layers[-1].activation.__name__ == "softmax"


# ------------------------------------------------------------------ CAM family


def test_pre_relu_grad_cam_is_cam_over_z():
    m = gap_cnn()
    x = _x(4)
    for c in (0, 2):
        cam = A.cam(m, x, c, relu=False)
        gc = A.grad_cam(m, x, c, relu=False)
        np.testing.assert_allclose(gc, cam / (16 * 16), rtol=1e-4, atol=1e-7)
        assert np.abs(cam).max() > 0
    np.testing.assert_allclose(A.grad_cam(m, x, 1), np.maximum(A.grad_cam(m, x, 1, relu=False), 0))


@pytest.mark.parametrize("fn", [A.grad_cam, A.grad_cam_plus_plus, A.score_cam])
def test_grad_cam_relu_at_layer_resolution_then_upsample(fn):
    # SPEC 4.3: map = upsample(ReLU(sum_k w_k A^k)), the order of Selvaraju et al.
    keras.utils.set_random_seed(3)
    m = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            L.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
            L.MaxPooling2D(2, name="pool1"),
            L.Conv2D(6, 3, padding="same", name="conv2"),  # linear: A^k of both signs
            L.GlobalAveragePooling2D(),
            L.Dense(4, activation="softmax", name="logits"),
        ]
    )
    x = _x(3)
    maps, w = fn(m, x, [0, 1, 2], layer="conv2", return_weights=True)
    acts = m.get_layer("conv2")(m.get_layer("pool1")(m.get_layer("conv1")(x))).numpy()  # 8x8
    signed = np.einsum("nhwk,nk->nhw", acts, w)
    assert (signed > 0).any() and (signed < 0).any()  # mixed signs: the order matters
    up = tf.image.resize(np.maximum(signed, 0)[..., None], (16, 16), method="bilinear")
    np.testing.assert_allclose(maps, up.numpy()[..., 0], rtol=1e-5, atol=1e-6)
    wrong = np.maximum(tf.image.resize(signed[..., None], (16, 16)).numpy()[..., 0], 0)
    assert np.abs(maps - wrong).max() > 1e-3 * np.abs(maps).max()
    # relu=False keeps the upsampled signed map
    signed_up = tf.image.resize(signed[..., None], (16, 16), method="bilinear").numpy()[..., 0]
    np.testing.assert_allclose(
        fn(m, x, [0, 1, 2], layer="conv2", relu=False), signed_up, rtol=1e-5, atol=1e-6
    )


def test_grad_cam_plus_plus_weights_closed_form_on_gap_dense():
    m = gap_cnn()
    x = _x(3)
    c = 1
    _, w = A.grad_cam_plus_plus(m, x, c, return_weights=True)
    acts = m.get_layer("conv2")(m.get_layer("conv1")(x)).numpy()
    z = acts.shape[1] * acts.shape[2]
    wk = _kernel(m, c)
    s = acts.sum(axis=(1, 2))  # (N, K)
    g = wk / z
    # alpha = g^2 / (2 g^2 + S g^3) constant over positions; weight = Z * alpha * relu(g)
    expected = z * g**2 / (2 * g**2 + s * g**3) * np.maximum(g, 0)
    np.testing.assert_allclose(w, expected, rtol=1e-4, atol=1e-9)


def test_score_cam_one_channel_is_relu_of_upsampled_activation():
    keras.utils.set_random_seed(1)
    m = keras.Sequential(
        [
            keras.Input((12, 16, 3)),
            L.Conv2D(1, 3, padding="same", name="one"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(3, name="logits"),
        ]
    )
    x = _x(2, (12, 16, 3)) - 0.5
    sc = A.score_cam(m, x, layer="one")
    act = m.get_layer("one")(x).numpy()
    np.testing.assert_allclose(sc, np.maximum(act[..., 0], 0), rtol=1e-5, atol=1e-6)
    sc2 = A.score_cam(m, x, layer="one", relu=False)
    np.testing.assert_allclose(sc2, act[..., 0], rtol=1e-5, atol=1e-6)


def test_guided_grad_cam_is_product_of_public_outputs():
    m = small_cnn()
    x = _x(3)
    ggc = A.guided_grad_cam(m, x, [0, 1, 2])
    expected = A.grad_cam(m, x, [0, 1, 2]) * A.saliency(m, x, [0, 1, 2], method="guided_backprop")
    np.testing.assert_allclose(ggc, expected, rtol=1e-6, atol=1e-9)
    full = A.guided_grad_cam(m, x, [0, 1, 2], reduce=None)
    assert full.shape == x.shape


@pytest.mark.parametrize("kind", ["sequential", "sequential_no_input", "functional", "nested"])
def test_grad_cam_same_on_every_model_kind(kind):
    x = _x(2)
    ref = A.grad_cam(make_model("sequential"), x, 1, layer="conv2")
    np.testing.assert_allclose(
        A.grad_cam(make_model(kind), x, 1, layer="conv2"), ref, rtol=1e-5, atol=1e-6
    )


def test_subclassed_model_saliency_works_cam_raises():
    m = make_model("subclassed")
    x = _x(1)
    assert A.saliency(m, x).shape == (1, 16, 16)
    with pytest.raises(ValueError, match="subclassed"):
        A.grad_cam(m, x)


# ------------------------------------------------------------------ occlusion


def test_occlusion_with_baseline_equal_to_input_is_zero():
    m = small_cnn()
    x = _x(2)
    np.testing.assert_array_equal(A.occlusion(m, x, patch=5, stride=3, baseline=x), 0.0)
    np.testing.assert_array_equal(
        A.occlusion(m, x, patch=5, stride=3, baseline=x[0]),
        np.stack([np.zeros((16, 16)), A.occlusion(m, x[1:], patch=5, stride=3, baseline=x[0])[0]]),
    )


def test_occlusion_linear_1x1_zero_baseline_is_w_times_x():
    m = linear_model()
    x = _x(3, (6, 6, 2))
    w = _kernel(m, 2).reshape(6, 6, 2)
    np.testing.assert_allclose(
        A.occlusion(m, x, 2, patch=1, stride=1, batch_size=7), (w * x).sum(-1), atol=1e-5
    )


def test_occlusion_probability_is_drop_of_softmax():
    m = linear_model()
    x = _x(1, (6, 6, 2))
    occ = A.occlusion(m, x, 0, patch=6, stride=6, score="probability")
    p = m(x).numpy()[0, 0] - m(np.zeros_like(x)).numpy()[0, 0]
    np.testing.assert_allclose(occ, p, atol=1e-6)


def test_occlusion_mean_drop_over_covering_patches():
    m = linear_model()
    x = _x(1, (6, 6, 2))
    w = _kernel(m, 0).reshape(6, 6, 2)
    occ = A.occlusion(m, x, 0, patch=2, stride=2)
    contrib = (w * x)[0].sum(-1)
    blocks = contrib.reshape(3, 2, 3, 2).sum(axis=(1, 3))
    np.testing.assert_allclose(occ[0], np.kron(blocks, np.ones((2, 2))), atol=1e-5)


# ------------------------------------------------------------------ batching / targets


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x, t: A.saliency(m, x, t),
        lambda m, x, t: A.saliency(m, x, t, method="guided_backprop"),
        lambda m, x, t: A.integrated_gradients(m, x, t, steps=8),
        lambda m, x, t: A.grad_cam(m, x, t),
        lambda m, x, t: A.grad_cam_plus_plus(m, x, t),
        lambda m, x, t: A.score_cam(m, x, t),
        lambda m, x, t: A.occlusion(m, x, t, patch=4, stride=4),
    ],
)
def test_per_sample_targets_equal_stacked_single_results(fn):
    m = small_cnn()
    x = _x(3)
    targets = [2, 0, 3]
    batched = fn(m, x, targets)
    single = np.concatenate([fn(m, x[i : i + 1], targets[i]) for i in range(3)])
    np.testing.assert_allclose(batched, single, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ bad input


def test_cam_layer_without_spatial_output_names_candidates():
    with pytest.raises(ValueError, match="'conv1', 'conv2'"):
        A.grad_cam(gap_cnn(), _x(1), layer="gap")


def test_cam_without_gap_dense_suggests_grad_cam():
    keras.utils.set_random_seed(0)
    m = keras.Sequential(
        [keras.Input((8, 8, 3)), L.Conv2D(4, 3, name="c"), L.Flatten(), L.Dense(2)]
    )
    with pytest.raises(ValueError, match="grad_cam"):
        A.cam(m, _x(1, (8, 8, 3)))


def test_target_out_of_range_and_nan_inputs_raise():
    m = small_cnn()
    for fn in (A.saliency, A.grad_cam, A.occlusion, A.integrated_gradients):
        with pytest.raises(ValueError, match="out of range"):
            fn(m, _x(1), 9)
    bad = _x(1)
    bad[0, 0, 0, 0] = np.nan
    for fn in (A.saliency, A.grad_cam, A.occlusion, A.integrated_gradients):
        with pytest.raises(ValueError, match="NaN"):
            fn(m, bad)


def test_all_zero_maps_are_zeros_not_nan():
    keras.utils.set_random_seed(0)
    m = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            L.Conv2D(
                4,
                3,
                activation="relu",
                bias_initializer=keras.initializers.Constant(-100.0),
                name="c",
            ),
            L.GlobalAveragePooling2D(),
            L.Dense(2, name="logits"),
        ]
    )
    x = _x(2, (8, 8, 3))
    for maps in (
        A.grad_cam(m, x),
        A.grad_cam_plus_plus(m, x),
        A.score_cam(m, x),
        A.cam(m, x),
        A.saliency(m, x),
        A.occlusion(m, x, patch=4),
    ):
        assert np.isfinite(maps).all()
        np.testing.assert_array_equal(maps, 0.0)
        assert A.degenerate(maps).all()


def test_non_square_grayscale_batch_of_one_and_empty():
    keras.utils.set_random_seed(0)
    m = keras.Sequential(
        [
            keras.Input((10, 14, 1)),
            L.Conv2D(3, 3, padding="same", activation="relu"),
            L.GlobalAveragePooling2D(),
            L.Dense(2),
        ]
    )
    x = _x(1, (10, 14, 1))
    for fn in (A.saliency, A.grad_cam, A.score_cam, A.occlusion, A.guided_grad_cam):
        assert fn(m, x).shape == (1, 10, 14)
        assert fn(m, x[..., 0]).shape == (1, 10, 14)  # grayscale without channel axis
        assert fn(m, x[:0]).shape == (0, 10, 14)
    assert A.integrated_gradients(m, x, steps=4).shape == (1, 10, 14, 1)
    assert A.integrated_gradients(m, x[:0]).shape == (0, 10, 14, 1)
