"""Callbacks of the representation family, run inside a short model.fit."""

import numpy as np
import pytest
from conftest import corner_squares, fit_briefly

from keras_insight._config import iterations
from keras_insight.callbacks.representation import (
    ConfusionMatrix,
    EmbeddingPlot,
    EmbeddingProjector,
    LinearProbe,
    MaxActivatingPatches,
    NearestNeighbors,
)
from keras_insight.representation import confusion_matrix
from keras_insight.tensorboard import read_events
from keras_insight.testing import small_cnn


@pytest.fixture
def data(rng):
    return corner_squares(rng)


def test_embedding_and_confusion_callbacks(tmp_path, data):
    x, y = data
    model = small_cnn()
    groups = np.where(np.arange(len(x)) < 24, "a", "b")
    cbs = [
        EmbeddingProjector((x, y), tmp_path, num_samples=32, strict=True, class_names=list("ABCD")),
        EmbeddingPlot((x, y), tmp_path, num_samples=32, grid_size=4, perplexity=5, strict=True),
        ConfusionMatrix((x, y, groups), tmp_path, groups=0, strict=True),
        LinearProbe((x, y), tmp_path, layers=["conv1", "conv2"], freq=1, strict=True),
        NearestNeighbors((x, y), (x, y), tmp_path, k=3, num_samples=4, strict=True),
    ]
    fit_briefly(model, x, y, cbs, epochs=iterations(2, 2))
    assert all(not cb.failures for cb in cbs)
    ev = read_events(tmp_path / "insight")
    for tag in (
        "embedding/pca",
        "embedding/dynamics",
        "embedding/tsne",
        "embedding/tsne_grid",
        "confusion/matrix",
        "neighbors/gap",
        "linear_probe/conv1",
    ):
        assert [s for s, _ in ev[tag]] == [0, 1], tag
    assert cbs[0].tensor_names == ["embedding_gap/epoch_0000", "embedding_gap/epoch_0001"]
    # the logged matrix is the one of the final model on the probe set; accuracy scalar agrees
    cm = confusion_matrix(model, x, y)
    np.testing.assert_array_equal(cbs[2].matrix, cm)
    assert ev["confusion/accuracy"][-1][1] == pytest.approx(np.trace(cm) / cm.sum(), abs=1e-6)
    pred = model.predict(x, verbose=0).argmax(-1)
    for g in "ab":
        m = groups == g
        assert ev[f"confusion/acc_group_{g}"][-1][1] == pytest.approx(
            (pred[m] == y[m]).mean(), abs=1e-6
        )
    # the queries come from the gallery: brute force says each query's nearest gallery image
    # is itself (distance 0); the callback shows the k nearest of the others, never itself
    nn = cbs[4]
    d = ((nn.probe_x[:, None] - x[None]) ** 2).reshape(len(nn.probe_x), len(x), -1).sum(-1)
    own = d.argmin(axis=1)
    assert np.all(d[np.arange(len(own)), own] == 0)
    d[np.arange(len(own)), own] = np.inf
    np.testing.assert_array_equal(nn.pixel_neighbors, np.argsort(d, axis=1, kind="stable")[:, :3])


def test_max_activating_patches_callback(tmp_path, data):
    x, y = data
    model = small_cnn()
    from keras_insight.core.engine import TRACE_COUNTS

    cb = MaxActivatingPatches(x, "conv2", [0, 1, 2], tmp_path, k=3, freq=1, strict=True)
    old = dict(TRACE_COUNTS)
    fit_briefly(model, x, y, [cb], epochs=2)
    traced = {
        k: v - old.get(k, 0)
        for k, v in TRACE_COUNTS.items()
        if k[0] in ("max_patches", "unit_projection") and v != old.get(k, 0)
    }
    assert len(traced) == 2 and set(traced.values()) == {1}  # traced once, reused every epoch
    ev = read_events(tmp_path / "insight")
    assert "patches/conv2" in ev
    # brute force on the trained model: per channel, the 3 largest per-image maxima of conv2
    acts = model.get_layer("conv2")(model.get_layer("pool1")(model.get_layer("conv1")(x)))
    per_image_max = np.asarray(acts).max(axis=(1, 2))[:, [0, 1, 2]]  # (N, 3)
    expected = -np.sort(-per_image_max, axis=0)[:3].T  # (channels, k) descending
    np.testing.assert_allclose(cb.result.values, expected, rtol=1e-5, atol=1e-6)
    assert expected.max() > 0


def test_bad_input(tmp_path, data):
    x, y = data
    model = small_cnn()
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="Valid names"):
        model.fit(
            x,
            y,
            epochs=1,
            verbose=0,
            callbacks=[EmbeddingProjector((x, y), tmp_path, layer="nope", strict=True)],
        )
    with pytest.raises(ValueError, match="4-D"):
        model.fit(
            x,
            y,
            epochs=1,
            verbose=0,
            callbacks=[MaxActivatingPatches(x, "gap", None, tmp_path, strict=True)],
        )
    with pytest.raises(ValueError, match="labels"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ConfusionMatrix(x, tmp_path, strict=True)])
    with pytest.raises(ValueError, match="gallery"):
        NearestNeighbors((x, y), None, tmp_path, k=5)
    with pytest.raises(ValueError, match="k must be"):
        NearestNeighbors((x, y), (x, y), tmp_path, k=0)


def test_projector_without_labels_has_single_unheaded_column(tmp_path, data):
    x, y = data
    model = small_cnn()
    cb = EmbeddingProjector(x, tmp_path, num_samples=8, sprite=False, strict=True)
    fit_briefly(model, x, y, [cb], epochs=1)
    files = sorted((tmp_path / "insight").glob("*_metadata.tsv"))
    assert len(files) == 1
    rows = files[0].read_text().splitlines()
    pred = model.predict(cb.probe_x, verbose=0).argmax(-1)
    assert rows == [str(p) for p in pred]
    assert not list((tmp_path / "insight").glob("*.png"))
