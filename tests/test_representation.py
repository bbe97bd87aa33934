"""Properties of the representation functions (SPEC 4.1 receptive field/patches, 4.2)."""

import itertools
import logging
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import assert_unchanged, snapshot

from keras_insight.representation import (
    confusion_matrix,
    grid_layout,
    group_accuracy,
    linear_probe,
    max_activating_patches,
    nearest_neighbors,
    pca,
    per_class_accuracy,
    procrustes_align,
    receptive_field,
    sprite_layout,
    tsne,
    write_projector,
)
from keras_insight.testing import make_model, small_cnn

# ---------------------------------------------------------------- PCA, kNN, t-SNE


def test_pca_orthonormal_and_equals_numpy_svd(rng):
    x = rng.normal(size=(60, 7)) @ rng.normal(size=(7, 7))
    coords, comps, evr = pca(x, n_components=4)
    np.testing.assert_allclose(comps @ comps.T, np.eye(4), atol=1e-5)
    _, s, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
    for i in range(4):
        sign = np.sign(comps[i] @ vt[i])
        np.testing.assert_allclose(comps[i], sign * vt[i], atol=1e-5)
    np.testing.assert_allclose(evr, s[:4] ** 2 / (s**2).sum(), rtol=1e-5)
    assert np.all(np.diff(evr) <= 0)
    np.testing.assert_allclose(coords, (x - x.mean(0)) @ comps.T, rtol=1e-4, atol=1e-4)


def test_pca_bad_components():
    with pytest.raises(ValueError, match="n_components"):
        pca(np.ones((3, 2)), n_components=3)


@pytest.mark.parametrize("n_gallery", [50, 5000])  # sort path and partition path
def test_knn_equals_brute_force(rng, n_gallery):
    q, g = rng.normal(size=(40, 6)), rng.normal(size=(n_gallery, 6))
    idx, dist = nearest_neighbors(q, g, k=5, batch_size=16)
    d = np.sqrt(((q[:, None] - g[None]) ** 2).sum(-1))
    bf = np.argsort(d, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(idx, bf)
    np.testing.assert_allclose(dist, np.take_along_axis(d, bf, 1), rtol=1e-5, atol=1e-5)


def test_knn_query_not_excluded_and_too_few(rng):
    g = rng.normal(size=(6, 3))
    idx, dist = nearest_neighbors(g, g, k=2)
    np.testing.assert_array_equal(idx[:, 0], np.arange(6))
    np.testing.assert_allclose(dist[:, 0], 0, atol=1e-6)
    with pytest.raises(ValueError, match="gallery size"):
        nearest_neighbors(g, g, k=7)


def test_tsne_seeded_and_separates_clusters(rng):
    centres = rng.normal(size=(3, 10)) * 20
    x = np.concatenate([c + rng.normal(size=(20, 10)) for c in centres])
    y = np.repeat(np.arange(3), 20)
    a = tsne(x, perplexity=10, seed=1, max_iter=250)
    b = tsne(x, perplexity=10, seed=1, max_iter=250)
    np.testing.assert_array_equal(a, b)
    idx, _ = nearest_neighbors(a, a, k=4)
    assert (y[idx[:, 1:]] == y[:, None]).mean() > 0.95


def _knn_kept(high, low, k=10):
    a, _ = nearest_neighbors(high, high, k=k + 1)
    b, _ = nearest_neighbors(low, low, k=k + 1)
    return np.mean([len(set(p[1:]) & set(q[1:])) / k for p, q in zip(a, b)])


def test_tsne_default_angle_keeps_neighbours_like_sklearn_default():
    # the faster Barnes-Hut default (angle 0.8) keeps as many 10-NN of digits features as
    # sklearn's angle 0.5
    from sklearn.datasets import load_digits

    x = load_digits().data[:400].astype("float32")
    fast = _knn_kept(x, tsne(x, seed=0, max_iter=300))
    exact = _knn_kept(x, tsne(x, seed=0, max_iter=300, angle=0.5))
    assert fast > 0.4 and fast >= exact - 0.02, (fast, exact)


# ---------------------------------------------------------------- grid and Procrustes


@pytest.mark.parametrize("n", [2, 4, 5, 7])
def test_grid_layout_is_optimal_permutation(rng, n):
    coords = rng.normal(size=(n, 2))
    cell = grid_layout(coords)
    ncols = int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    assert len(set(cell.tolist())) == n and cell.min() >= 0 and cell.max() < ncols * nrows
    if ncols * nrows == n:
        assert sorted(cell.tolist()) == list(range(n))
    # brute force over all injective assignments, same cost definition
    lo, hi = coords.min(0), coords.max(0)
    unit = (coords - lo) / (hi - lo)
    gy, gx = np.meshgrid(np.linspace(0, 1, nrows), np.linspace(0, 1, ncols), indexing="ij")
    cells = np.stack([gx.ravel(), gy.ravel()], 1)
    cost = ((unit[:, None] - cells[None]) ** 2).sum(-1)
    best = min(
        cost[np.arange(n), list(p)].sum() for p in itertools.permutations(range(ncols * nrows), n)
    )
    assert cost[np.arange(n), cell].sum() == pytest.approx(best, abs=1e-12)


def test_procrustes_recovers_rotated_reflected_copy(rng):
    ref = rng.normal(size=(30, 2))
    theta = 0.7
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    moved = ref @ rot @ np.diag([1.0, -1.0]) + np.array([5.0, -3.0])
    np.testing.assert_allclose(procrustes_align(moved, ref), ref, atol=1e-5)
    np.testing.assert_allclose(procrustes_align(2.5 * moved, ref, scale=True), ref, atol=1e-4)


# ---------------------------------------------------------------- confusion and probes


def test_confusion_matrix_equals_sklearn(rng):
    from sklearn.metrics import confusion_matrix as sk_cm

    model = small_cnn(num_classes=4)
    x = rng.uniform(size=(50, 16, 16, 3)).astype("float32")
    y = rng.integers(0, 4, size=50)
    before = snapshot(model, x)
    cm = confusion_matrix(model, x, y)
    pred = np.asarray(model(x, training=False)).argmax(-1)
    np.testing.assert_array_equal(cm, sk_cm(y, pred, labels=range(4)))
    acc, counts = per_class_accuracy(cm)
    np.testing.assert_array_equal(counts, np.bincount(y, minlength=4))
    for c in range(4):
        assert acc[c] == pytest.approx((pred[y == c] == c).mean())
    assert_unchanged(model, x, before)


def test_group_accuracy():
    out = group_accuracy([0, 1, 1, 0], [0, 1, 0, 1], ["eu", "eu", "af", "af"])
    assert out == {"af": 0.0, "eu": 1.0}


def test_linear_probe_finds_linearly_separable_signal(rng):
    # class = which colour channel is bright: trivially linear in GAP features of conv1
    n = 60
    y = np.arange(n) % 3
    x = rng.uniform(0, 0.2, size=(n, 16, 16, 3)).astype("float32")
    x[np.arange(n), :, :, y] += 0.8
    model = small_cnn(num_classes=3)
    accs = linear_probe(model, x, y, ["conv1"], seed=0)
    assert accs["conv1"] == 1.0


# ---------------------------------------------------------------- receptive field


def _ones_model(layers, shape=(37, 41, 1)):
    model = keras.Sequential([keras.Input(shape), *layers])
    for w in model.weights:
        w.assign(np.ones(w.shape, "float32") if len(w.shape) > 1 else np.zeros(w.shape, "float32"))
    return model


L = keras.layers
RF_CASES = {
    "conv_valid": [L.Conv2D(1, 3, name="t")],
    "conv_same_strided": [
        L.Conv2D(1, 3, padding="same"),
        L.Conv2D(1, 4, strides=2, padding="same", name="t"),
    ],
    "dilated": [
        L.Conv2D(1, 3, dilation_rate=2, padding="same"),
        L.Conv2D(1, 3, dilation_rate=(1, 3), name="t"),
    ],
    "avgpool": [
        L.Conv2D(1, 3, padding="same"),
        L.AveragePooling2D(2),
        L.Conv2D(1, 3, strides=2, padding="same"),
        L.AveragePooling2D(3, strides=2, padding="same"),
        L.Conv2D(1, (3, 2), name="t"),
    ],
    "zeropad": [L.ZeroPadding2D(((2, 0), (1, 3))), L.Conv2D(1, 5, strides=(2, 3), name="t")],
    "depthwise": [
        L.DepthwiseConv2D(3, strides=2, padding="same"),
        L.SeparableConv2D(1, 3, name="t"),
    ],
}


@pytest.mark.parametrize("case", sorted(RF_CASES))
def test_receptive_field_equals_gradient_support(case):
    model = _ones_model(RF_CASES[case])
    rf = receptive_field(model, "t")
    x = tf.ones((1, 37, 41, 1))
    sub = keras.Model(model.inputs, model.get_layer("t").output)
    h, w = rf.out_shape
    assert sub.output.shape[1:3] == (h, w)
    units = {(0, 0), (h - 1, w - 1), (h // 2, w // 2), (0, w - 1), (h - 1, 0)}
    for uy, ux in units:
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = sub(x, training=False)[0, uy, ux, 0]
        g = tape.gradient(out, x).numpy()[0, :, :, 0]
        ys, xs = np.nonzero(g)
        assert (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1) == rf.box(uy, ux), (case, uy, ux)


def test_receptive_field_bad_layers():
    model = small_cnn()
    with pytest.raises(ValueError, match="Valid names"):
        receptive_field(model, "nope")
    with pytest.raises(ValueError, match="4-D"):
        receptive_field(model, "gap")


# ---------------------------------------------------------------- max-activating patches


@pytest.mark.parametrize("kind", ["sequential", "nested"])
def test_streaming_topk_equals_global_topk_and_crops_recompute(rng, kind):
    model = make_model(kind)
    x = rng.uniform(size=(37, 16, 16, 3)).astype("float32")
    before = snapshot(model, x)
    chans = [0, 3, 7]
    res = max_activating_patches(model, x, "conv2", chans, k=4, batch_size=5)
    full = max_activating_patches(model, x, "conv2", chans, k=4, batch_size=64)
    np.testing.assert_array_equal(res.indices, full.indices)
    np.testing.assert_allclose(res.values, full.values, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(res.patches, full.patches)

    # global top-k from all activations at once
    sub_layer = (
        model.get_layer("base").get_layer("conv2") if kind == "nested" else model.get_layer("conv2")
    )
    from keras_insight.core import forward_outputs

    (acts,), _ = forward_outputs(model, x, [sub_layer])
    per_img = acts[..., chans].reshape(len(x), -1, len(chans)).max(1)  # (N, C)
    for c in range(len(chans)):
        top = np.lexsort((np.arange(len(x)), -per_img[:, c]))[:4]
        np.testing.assert_array_equal(res.indices[c], top)
        np.testing.assert_allclose(res.values[c], per_img[top, c], rtol=1e-5, atol=1e-6)

    # the unit's activation recomputed from its stored crop alone equals the recorded one
    rf = res.field
    for c, ch in enumerate(chans):
        for s in range(4):
            uy, ux = res.positions[c, s]
            y0, y1, x0, x1 = rf.box(uy, ux, clip=False)
            canvas = np.zeros((1, 16, 16, 3), "float32")
            cy0, cx0 = max(y0, 0), max(x0, 0)
            cy1, cx1 = min(y1, 16), min(x1, 16)
            canvas[0, cy0:cy1, cx0:cx1] = res.patches[
                c, s, cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0
            ]
            (a,), _ = forward_outputs(model, canvas, [sub_layer])
            assert a[0, uy, ux, ch] == pytest.approx(res.values[c, s], rel=1e-5, abs=1e-6)
            # the stored crop is the image region
            np.testing.assert_array_equal(
                res.patches[c, s, cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0],
                x[res.indices[c, s], cy0:cy1, cx0:cx1],
            )
    assert_unchanged(model, x, before)


def test_max_patches_streams_dataset_and_bad_input(rng):
    model = small_cnn()
    x = rng.uniform(size=(20, 16, 16, 3)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, np.zeros(20))).batch(6)
    a = max_activating_patches(model, ds, "conv1", [1, 2], k=3)
    b = max_activating_patches(model, x, "conv1", [1, 2], k=3)
    np.testing.assert_array_equal(a.indices, b.indices)
    with pytest.raises(ValueError, match="at least k"):
        max_activating_patches(model, x[:2], "conv1", [0], k=3)
    with pytest.raises(ValueError, match="channels"):
        max_activating_patches(model, x, "conv1", [99], k=3)
    with pytest.raises(ValueError, match="4-D"):
        max_activating_patches(model, x, "logits", [0], k=3)


# ---------------------------------------------------------------- projector files


def _read_config(d):
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    cfg = ProjectorConfig()
    with open(os.path.join(d, "projector_config.pbtxt")) as f:
        text_format.Parse(f.read(), cfg)
    return cfg


def test_write_projector_files(tmp_path, rng):
    from PIL import Image

    feats = rng.normal(size=(10, 4)).astype("float32")
    imgs = rng.uniform(size=(10, 12, 12, 3)).astype("float32")
    y, p = np.arange(10) % 3, np.arange(10) % 2
    meta = {"label": y, "predicted": p, "correct": y == p}
    n1 = write_projector(
        tmp_path, feats, metadata=meta, images=imgs, name="emb", tag="epoch_0", input_range=(0, 1)
    )
    n2 = write_projector(
        tmp_path,
        feats + 1,
        metadata=meta,
        images=imgs,
        name="emb",
        tag="epoch_0",
        input_range=(0, 1),
    )
    assert n1 == "emb/epoch_0" and n2 != n1  # a name is never reused
    d = tmp_path / "insight"
    cfg = _read_config(d)
    assert [e.tensor_name for e in cfg.embeddings] == [n1, n2]
    for e, f in zip(cfg.embeddings, [feats, feats + 1]):
        for path in (e.tensor_path, e.metadata_path, e.sprite.image_path):
            assert not os.path.isabs(path) and (d / path).exists()
        t = np.loadtxt(d / e.tensor_path, delimiter="\t", ndmin=2)
        np.testing.assert_allclose(t, f, rtol=1e-6)
        rows = (d / e.metadata_path).read_text().splitlines()
        assert rows[0] == "label\tpredicted\tcorrect" and len(rows) - 1 == len(t)
        assert rows[1:3] == ["0\t0\tTrue", "1\t1\tTrue"]
        sprite = np.asarray(Image.open(d / e.sprite.image_path))
        assert sprite.shape[:2] == (4 * 12, 4 * 12) and list(e.sprite.single_image_dim) == [12, 12]
        np.testing.assert_array_equal(sprite[12:24, :12], np.rint(imgs[4] * 255).astype("uint8"))
    # checkpoint advanced on each write, holding no 2-D variable
    latest = tf.train.latest_checkpoint(str(d))
    assert latest.endswith("-2")
    assert all(
        len(s) < 2 for s in tf.train.load_checkpoint(latest).get_variable_to_shape_map().values()
    )
    assert list(d.glob(".tmp_*")) == []
    assert any(f.name.startswith("events.out.tfevents") for f in d.iterdir())


def test_write_projector_single_column_no_header_and_no_labels(tmp_path, rng):
    feats = rng.normal(size=(5, 3))
    write_projector(tmp_path, feats, metadata=["a", "b", "c", "d", "e"], tag=1)
    write_projector(tmp_path, feats, tag=2)
    cfg = _read_config(tmp_path / "insight")
    rows = (tmp_path / "insight" / cfg.embeddings[0].metadata_path).read_text().splitlines()
    assert rows == ["a", "b", "c", "d", "e"]
    assert cfg.embeddings[1].metadata_path == ""


def test_sprite_size_rule_and_subsampling(tmp_path, rng, caplog):
    for n, hw in [(10_000, (28, 28)), (60_000, (32, 32)), (3, (200, 100)), (2_000_000, (8, 8))]:
        kept, thumb, side = sprite_layout(n, hw)
        assert side == int(np.ceil(np.sqrt(kept))) * thumb <= 8192
    assert sprite_layout(2_000_000, (8, 8))[0] < 2_000_000
    # non-image inputs: no sprite, a warning
    with caplog.at_level(logging.WARNING, logger="keras_insight"):
        write_projector(
            tmp_path, rng.normal(size=(4, 3)), images=rng.normal(size=(4, 3, 5, 7)), tag=0
        )
        assert "not images" in caplog.text
        # too many for a 8192 px sprite of 200 px tiles: subsample with a warning
        big = rng.uniform(size=(1700, 200, 1, 1)).astype("float32")
        write_projector(tmp_path, rng.normal(size=(1700, 2)), images=big, thumb_size=200, tag=1)
        assert "do not fit" in caplog.text
    cfg = _read_config(tmp_path / "insight")
    assert cfg.embeddings[0].sprite.image_path == ""
    assert list(cfg.embeddings[1].tensor_shape) == [(8192 // 200) ** 2, 2]


def test_unit_projection_on_crop_equals_guided_backprop_on_image(rng):
    from keras_insight.attribution import saliency
    from keras_insight.core import neuron
    from keras_insight.representation import unit_projections

    model = small_cnn()
    x = rng.uniform(size=(12, 16, 16, 3)).astype("float32")
    res = max_activating_patches(model, x, "conv2", [2, 5], k=2)
    proj = unit_projections(model, res, "conv2")
    rf = res.field
    for c, ch in enumerate(res.channels):
        for s in range(2):
            uy, ux = (int(v) for v in res.positions[c, s])
            full = saliency(
                model,
                x[res.indices[c, s]][None],
                targets=neuron("conv2", int(ch), uy, ux),
                method="guided_backprop",
                reduce=None,
            )[0]
            y0, y1, x0, x1 = rf.box(uy, ux, clip=False)
            cy0, cy1, cx0, cx1 = max(y0, 0), min(y1, 16), max(x0, 0), min(x1, 16)
            np.testing.assert_allclose(
                proj[c, s, cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0],
                full[cy0:cy1, cx0:cx1],
                rtol=1e-5,
                atol=1e-6,
            )
            outside = full.copy()
            outside[cy0:cy1, cx0:cx1] = 0
            assert np.abs(outside).max() == 0  # the projection lives inside the field
