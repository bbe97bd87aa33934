"""Callback lifecycle on the user's own model and data (issue 9).

Sequential without keras.Input, subclassed models and wrong layer names (one fault rule:
warn once and disable unless strict=True), endless tf.data pipelines (bounded scan, no
duplicates), write faults, reused log directories, small probe sets and model heads.
"""

from __future__ import annotations

import logging
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_insight.callbacks import (
    ActivationMaps,
    AdversarialRobustness,
    ClassSynthesis,
    ConfusionMatrix,
    EmbeddingPlot,
    EmbeddingProjector,
    FeatureInversion,
    FilterGrid,
    FilterSynthesis,
    GradCAM,
    Invariance,
    LinearProbe,
    MaxActivatingPatches,
    ModelSummary,
    NearestNeighbors,
    Occlusion,
    Saliency,
    ShapeBias,
    suite,
)
from keras_insight.callbacks.base import MAX_SCAN, head_kind, unpack_validation_data
from keras_insight.datasets import shapes
from keras_insight.tensorboard import InsightWriter, read_events
from keras_insight.testing.models import SubclassedCNN

L = keras.layers
SIZE = 16


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def warnings(self, needle: str = "") -> list[str]:
        msgs = [r.getMessage() for r in self.records if r.levelno >= logging.WARNING]
        return [m for m in msgs if needle in m]

    def text(self) -> str:
        return "\n".join(r.getMessage() for r in self.records)


@pytest.fixture
def logs():
    """Every keras_insight log record of the test."""
    lg = logging.getLogger("keras_insight")
    h = _Records()
    lg.addHandler(h)
    yield h
    lg.removeHandler(h)


@pytest.fixture(scope="module")
def data():
    x, y, masks = shapes(24, size=SIZE, seed=1)
    return x.astype("float32"), y.astype("int64"), masks


def _body():
    return [
        L.Conv2D(4, 3, padding="same", activation="relu", name="conv1"),
        L.Conv2D(6, 3, padding="same", activation="relu", name="conv2"),
        L.GlobalAveragePooling2D(name="gap"),
    ]


def no_input_cnn(num_classes=3, head="softmax"):
    """The README's snippet: a Sequential without keras.Input (built by the first step)."""
    keras.utils.set_random_seed(0)
    m = keras.Sequential([*_body(), L.Dense(num_classes, activation=head, name="logits")])
    m.compile("adam", "sparse_categorical_crossentropy")
    return m


def input_cnn(num_classes=3, head="softmax", loss="sparse_categorical_crossentropy"):
    keras.utils.set_random_seed(0)
    m = keras.Sequential(
        [keras.Input((SIZE, SIZE, 3)), *_body(), L.Dense(num_classes, activation=head, name="logits")]
    )
    m.compile("adam", loss)
    return m


def _every_callback(d, x, y, masks, **kw):
    """One instance of every callback, light settings."""
    return [
        ModelSummary(log_dir=d, **kw),
        FilterGrid(log_dir=d, **kw),
        ActivationMaps((x, y), d, num_samples=4, **kw),
        GradCAM((x, y), d, num_samples=4, **kw),
        Saliency((x, y), d, methods=("vanilla",), num_samples=4, **kw),
        Occlusion((x, y), d, patch=6, stride=6, num_samples=2, **kw),
        ConfusionMatrix((x, y), d, **kw),
        EmbeddingProjector((x, y), d, num_samples=12, **kw),
        EmbeddingPlot((x, y), d, num_samples=12, use_tsne=False, **kw),
        NearestNeighbors((x, y), (x, y), d, k=2, num_samples=2, **kw),
        MaxActivatingPatches(x, "conv1", [0, 1], d, k=2, guided=False, freq=1, **kw),
        LinearProbe((x, y), d, layers=["conv2"], num_samples=24, freq=1, **kw),
        ClassSynthesis(d, validation_data=(x, y), steps=2, freq=1, **kw),
        FilterSynthesis(d, "conv1", [0], steps=2, freq=1, input_range=(0, 1), **kw),
        FeatureInversion(x[:1], ["conv1"], d, steps=2, freq=1, **kw),
        AdversarialRobustness((x, y), d, num_samples=4, steps=1, epsilons=[0.0, 0.01], **kw),
        Invariance((x, y), d, num_samples=4, transforms=("noise",), severities=(1,), **kw),
        ShapeBias((x, y, masks), d, num_samples=6, **kw),
    ]


# ---------------------------------------------------------------- item 1: no keras.Input


def test_sequential_without_input_every_callback_works(tmp_path, data, logs):
    x, y, masks = data
    m = no_input_cnn()
    assert not m.built
    cbs = _every_callback(str(tmp_path), x, y, masks)
    m.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=cbs)
    problems = {c.family: (c.disabled_reason, dict(c.failures)) for c in cbs}
    assert all(not c.disabled and not c.failures for c in cbs), problems
    ev = read_events(tmp_path)
    # the summary knows the input shape the data gave the model: 16x16 maps, 6 channels
    summary = ev["model/summary"][0][1]
    assert "Input shape: (None, 16, 16, 3)" in summary
    assert "(None, 16, 16, 6)" in summary and "conv2" in summary
    assert {"filters/conv1", "filters/conv2", "gradcam/grad_cam/overlay"} <= set(ev)
    assert ev["filters/conv1"][0][0] == 0


def test_suite_on_sequential_without_input_logs_everything(tmp_path, data):
    x, y, _ = data
    m = no_input_cnn()
    cbs = suite((x, y), str(tmp_path), level="standard", overhead=None)
    m.fit(x, y, epochs=1, batch_size=24, verbose=0, callbacks=cbs)  # one batch: epoch end
    assert all(not c.disabled and not c.failures for c in cbs), [
        (c.family, c.disabled_reason, dict(c.failures)) for c in cbs
    ]
    tags = set(read_events(tmp_path))
    assert {"model/summary", "filters/conv1", "confusion/accuracy", "synthesis/classes"} <= tags


# ---------------------------------------------------------------- item 2: one fault rule


LAYER_CALLBACKS = {"FilterGrid", "ActivationMaps", "GradCAM", "EmbeddingProjector",
                   "EmbeddingPlot", "NearestNeighbors", "MaxActivatingPatches", "LinearProbe",
                   "FilterSynthesis", "FeatureInversion"}  # fmt: skip


def test_subclassed_model_layer_callbacks_disable_with_one_warning(tmp_path, data, logs):
    x, y, masks = data
    keras.utils.set_random_seed(0)
    m = SubclassedCNN(num_classes=3)
    m.compile("adam", "sparse_categorical_crossentropy")
    cbs = _every_callback(str(tmp_path), x, y, masks)
    m.fit(x, y, epochs=2, batch_size=12, verbose=0, callbacks=cbs)  # fit finishes
    disabled = {c.family for c in cbs if c.disabled}
    assert disabled == LAYER_CALLBACKS
    for fam in LAYER_CALLBACKS:
        msgs = logs.warnings(f"{fam} is disabled")
        assert len(msgs) == 1 and "subclassed" in msgs[0], (fam, msgs)
    live = [c for c in cbs if not c.disabled]
    assert all(not c.failures for c in live), [(c.family, dict(c.failures)) for c in live]
    tags = set(read_events(tmp_path))
    assert "saliency/vanilla/overlay" in tags and "confusion/accuracy" in tags
    assert not any(t.startswith(("filters/", "gradcam/")) for t in tags)


def test_suite_with_model_only_includes_what_applies(tmp_path, data, logs):
    x, y, _ = data
    m = SubclassedCNN(num_classes=3)
    full = {c.family for c in suite((x, y), str(tmp_path), level="full")}
    applied = suite((x, y), str(tmp_path), level="full", model=m)
    kept = {c.family for c in applied}
    assert kept == full - LAYER_CALLBACKS
    assert "Saliency" in kept and "GradCAM" not in kept
    assert "suite: skipped" in logs.text()
    m.compile("adam", "sparse_categorical_crossentropy")
    m.fit(x, y, epochs=1, verbose=0, callbacks=applied)
    assert not logs.warnings("is disabled")


def test_suite_on_subclassed_model_finishes_fit(tmp_path, data):
    x, y, _ = data
    m = SubclassedCNN(num_classes=3)
    m.compile("adam", "sparse_categorical_crossentropy")
    for level in ("light", "standard"):
        cbs = suite((x, y), str(tmp_path / level), level=level, overhead=None)
        m.fit(x, y, epochs=1, verbose=0, callbacks=cbs)
        assert {c.family for c in cbs if c.disabled} <= LAYER_CALLBACKS
        assert any(not c.disabled for c in cbs)


def test_strict_raises_on_subclassed_model(tmp_path, data):
    x, y, _ = data
    m = SubclassedCNN(num_classes=3)
    m.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="subclassed"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[FilterGrid(log_dir=str(tmp_path), strict=True)])


def _wrong_layer_callbacks(d, x, y, **kw):
    return [
        FilterGrid(log_dir=d, layers=["nope"], **kw),
        ActivationMaps((x, y), d, layers=["nope"], **kw),
        GradCAM((x, y), d, layer="nope", **kw),
        EmbeddingProjector((x, y), d, layer="nope", **kw),
        EmbeddingPlot((x, y), d, layer="nope", **kw),
        NearestNeighbors((x, y), (x, y), d, layer="nope", **kw),
        MaxActivatingPatches(x, "nope", None, d, **kw),
        LinearProbe((x, y), d, layers=["nope"], freq=1, **kw),
        FilterSynthesis(d, "nope", input_range=(0, 1), freq=1, **kw),
        FeatureInversion(x[:1], ["nope"], d, freq=1, **kw),
        Invariance((x, y), d, feature_layer="nope", **kw),
    ]


def test_wrong_layer_name_warns_once_and_disables_every_callback(tmp_path, data, logs):
    x, y, _ = data
    m = input_cnn()
    cbs = _wrong_layer_callbacks(str(tmp_path), x, y)
    m.fit(x, y, epochs=2, verbose=0, callbacks=cbs)  # fit finishes
    for c in cbs:
        assert c.disabled and "nope" in c.disabled_reason, c.family
        assert len(logs.warnings(f"{c.family} is disabled")) == 1, c.family
        assert not c.failures


@pytest.mark.parametrize("index", range(11))
def test_wrong_layer_name_raises_under_strict(tmp_path, data, index):
    x, y, _ = data
    cb = _wrong_layer_callbacks(str(tmp_path), x, y, strict=True)[index]
    with pytest.raises(ValueError, match="nope"):
        input_cnn().fit(x, y, epochs=1, verbose=0, callbacks=[cb])


def test_missing_labels_disable_only_that_callback(tmp_path, data, logs):
    x, y, _ = data
    cm, gc = ConfusionMatrix(x, str(tmp_path)), GradCAM(x, str(tmp_path), num_samples=2)
    input_cnn().fit(x, y, epochs=1, verbose=0, callbacks=[cm, gc])
    assert cm.disabled and "labels" in cm.disabled_reason
    assert not gc.disabled and "gradcam/grad_cam/overlay" in read_events(tmp_path)


# ---------------------------------------------------------------- item 3: endless pipelines


def _keys(a):
    return {row.tobytes() for row in np.asarray(a).reshape(len(a), -1)}


def test_reader_stops_on_a_repeated_dataset_without_duplicates(data, logs):
    x, y, _ = data
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(24, seed=0).repeat().batch(5)
    xs, ys, _ = unpack_validation_data(ds)
    assert len(xs) == 24 and len(_keys(xs)) == 24  # every sample once, none twice
    assert _keys(xs) == _keys(x)
    assert sorted(ys.tolist()) == sorted(y.tolist())
    assert len(logs.warnings("endless")) == 1


def test_reader_bounds_an_endless_stream_of_new_samples():
    stream = tf.data.Dataset.random(seed=3).map(
        lambda s: tf.fill((4, 4, 1), tf.cast(s % 100003, tf.float32))
    )
    xs, ys, _ = unpack_validation_data(stream.batch(7), limit=50)
    assert ys is None and len(xs) == 50  # bounded by max_scan, not by memory
    assert MAX_SCAN == 4096


def test_reader_refuses_unbounded_read_of_endless_data(data):
    ds = tf.data.Dataset.from_tensor_slices(data[0]).repeat()
    with pytest.raises(ValueError, match="endless"):
        unpack_validation_data(ds, limit=None)


def test_suite_and_neighbors_on_repeated_dataset(tmp_path, data, logs):
    x, y, _ = data
    ds = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(8)
    m = input_cnn()
    nn = NearestNeighbors(ds, ds, str(tmp_path), k=3, num_samples=4)
    cbs = [*suite(ds, str(tmp_path), level="standard", overhead=None), nn]
    m.fit(x, y, epochs=1, verbose=0, callbacks=cbs)  # returns
    for c in cbs:
        assert not c.disabled and not c.failures, (c.family, c.disabled_reason, c.failures)
        if c.probe_x is not None:
            assert len(_keys(c.probe_x)) == len(c.probe_x), c.family  # no duplicates
    cm = next(c for c in cbs if isinstance(c, ConfusionMatrix))
    assert len(cm.probe_x) == 24 and cm.matrix.sum() == 24  # the 24 real samples, once each
    assert len(nn.gallery_x) == 24 and len(_keys(nn.gallery_x)) == 24
    assert len(logs.warnings("endless")) == 1  # one read of the dataset, one warning


def test_max_activating_patches_on_endless_dataset(tmp_path, data):
    x, y, _ = data
    ds = tf.data.Dataset.from_tensor_slices(x).repeat().batch(8)
    cb = MaxActivatingPatches(ds, "conv1", [0, 1], str(tmp_path), k=3, guided=False, freq=1)
    input_cnn().fit(x, y, epochs=1, verbose=0, callbacks=[cb])  # returns
    assert not cb.disabled and not cb.failures, (cb.disabled_reason, cb.failures)
    # the top-3 images per channel are 3 different images of the 24 (no repeats)
    for row in cb.result.indices:
        assert len(set(row.tolist())) == 3 and row.max() < 24


# ---------------------------------------------------------------- item 6: write faults


def test_flush_oserror_at_train_end_is_counted_not_raised(tmp_path, data, monkeypatch):
    x, y, _ = data
    cb = GradCAM((x, y), str(tmp_path), num_samples=2)
    summary = ModelSummary(log_dir=str(tmp_path))
    real_flush = InsightWriter.flush

    def flaky(self):
        if os.environ.get("KI_TEST_FAIL_FLUSH") == "1":
            raise OSError(28, "No space left on device")
        real_flush(self)

    monkeypatch.setattr(InsightWriter, "flush", flaky)

    class FailLater(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            os.environ["KI_TEST_FAIL_FLUSH"] = "1"

    monkeypatch.setenv("KI_TEST_FAIL_FLUSH", "0")
    input_cnn().fit(x, y, epochs=2, verbose=0, callbacks=[FailLater(), cb, summary])
    assert cb.failures["OSError"] >= 1 and summary.failures["OSError"] == 1
    monkeypatch.setenv("KI_TEST_FAIL_FLUSH", "1")
    strict = ModelSummary(log_dir=str(tmp_path / "s"), strict=True)
    with pytest.raises(OSError, match="No space"):
        input_cnn().fit(x, y, epochs=1, verbose=0, callbacks=[strict])


def test_unwritable_log_dir_disables_the_callback(tmp_path, data, logs):
    x, y, _ = data
    blocker = tmp_path / "file"
    blocker.write_text("a regular file")
    cb = GradCAM((x, y), str(blocker / "logs"), num_samples=2)
    input_cnn().fit(x, y, epochs=1, verbose=0, callbacks=[cb])
    assert cb.disabled and "cannot create" in cb.disabled_reason
    with pytest.raises(OSError, match="cannot create"):
        input_cnn().fit(
            x, y, epochs=1, verbose=0,
            callbacks=[GradCAM((x, y), str(blocker / "logs"), num_samples=2, strict=True)],
        )  # fmt: skip


# ---------------------------------------------------------------- item 7: reused log_dir


def _steps(path, tag):
    return [s for s, _ in read_events(path)[tag]]


def test_new_callback_set_in_used_log_dir_gets_a_new_run(tmp_path, data, logs):
    x, y, _ = data
    d = str(tmp_path)
    m = input_cnn()
    first = [GradCAM((x, y), d, num_samples=2), ConfusionMatrix((x, y), d)]
    m.fit(x, y, epochs=2, verbose=0, callbacks=first)
    second = [
        GradCAM((x, y), d, num_samples=2),
        ConfusionMatrix((x, y), d),
        EmbeddingProjector((x, y), d, num_samples=8),
    ]
    m.fit(x, y, epochs=3, verbose=0, callbacks=second)
    # the projector files go with the run's event files
    assert (tmp_path / "insight_1" / "projector_config.pbtxt").exists()
    assert not (tmp_path / "insight" / "projector_config.pbtxt").exists()
    assert {c.run_name for c in first} == {"insight"}
    assert {c.run_name for c in second} == {"insight_1"}  # one set shares one run
    assert _steps(tmp_path / "insight", "gradcam/grad_cam/overlay") == [0, 1]
    assert _steps(tmp_path / "insight_1", "gradcam/grad_cam/overlay") == [0, 1, 2]
    assert _steps(tmp_path / "insight_1", "confusion/accuracy") == [0, 1, 2]
    assert os.path.join(d, "insight_1") in logs.text()
    third = GradCAM((x, y), d, num_samples=2)
    m.fit(x, y, epochs=1, verbose=0, callbacks=[third])
    assert third.run_name == "insight_2"


def test_same_instances_append_across_fits(tmp_path, data):
    x, y, _ = data
    d = str(tmp_path)
    m = input_cnn()
    cbs = [GradCAM((x, y), d, num_samples=2), ConfusionMatrix((x, y), d), ModelSummary(log_dir=d)]
    m.fit(x, y, epochs=2, verbose=0, callbacks=cbs)
    m.fit(x, y, epochs=4, initial_epoch=2, verbose=0, callbacks=cbs)
    assert sorted(os.listdir(tmp_path)) == ["insight"]
    assert _steps(tmp_path / "insight", "model/summary") == [0]  # written once per run
    assert _steps(tmp_path / "insight", "gradcam/grad_cam/overlay") == [0, 1, 2, 3]
    assert _steps(tmp_path / "insight", "confusion/accuracy") == [0, 1, 2, 3]


def test_interrupted_fit_leaves_readable_logs_and_next_set_gets_new_run(tmp_path, data):
    x, y, _ = data
    d = str(tmp_path)

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    m = input_cnn()
    cb = GradCAM((x, y), d, num_samples=2)
    with pytest.raises(KeyboardInterrupt):
        m.fit(x, y, epochs=5, verbose=0, callbacks=[cb, Stop()])
    # written epochs are on disk and readable without on_train_end having run
    assert _steps(tmp_path / "insight", "gradcam/grad_cam/overlay") == [0, 1]
    again = GradCAM((x, y), d, num_samples=2)
    m.fit(x, y, epochs=1, verbose=0, callbacks=[again])
    assert again.run_name == "insight_1"


# ---------------------------------------------------------------- item 9: small probe sets


def test_suite_with_fewer_than_five_images(tmp_path, data, logs):
    x, y, _ = data
    cbs = suite((x[:3], y[:3]), str(tmp_path), level="standard", overhead=None)  # no error at construction
    input_cnn().fit(x, y, epochs=1, verbose=0, callbacks=cbs)
    nn = next(c for c in cbs if isinstance(c, NearestNeighbors))
    # k shrinks to what the 3-image gallery holds (the query itself is not its neighbour)
    assert 1 <= nn.k <= 3 and not nn.disabled and not nn.failures
    assert "fewer than k=5" in logs.text()
    (step, pictures), = read_events(tmp_path)[f"neighbors/{nn._layer.name}"]
    assert step == 0 and pictures[0].dtype == np.uint8 and pictures[0].size > 0


# ---------------------------------------------------------------- heads


def test_head_kinds():
    assert head_kind(input_cnn(3)) == "multiclass"
    assert head_kind(input_cnn(1, "sigmoid", "binary_crossentropy")) == "binary"
    assert head_kind(input_cnn(3, "sigmoid", "binary_crossentropy")) == "multilabel"
    assert head_kind(input_cnn(1, None, "mse")) == "regression"
    assert head_kind(input_cnn(2, None, "mse")) == "regression"  # two regression targets
    separate = keras.Sequential([keras.Input((4,)), L.Dense(1), L.Activation("sigmoid")])
    assert head_kind(separate) == "binary"
    assert head_kind(keras.Sequential([keras.Input((4,)), L.Dense(3), L.Softmax()])) == "multiclass"


def test_regression_head_skips_class_callbacks_with_one_warning(tmp_path, data, logs):
    x, y, _ = data
    m = input_cnn(1, None, "mse")
    yr = y.astype("float32")
    d = str(tmp_path)
    cbs = [
        ConfusionMatrix((x, y), d),
        ClassSynthesis(d, validation_data=(x, y), steps=2, freq=1),
        GradCAM((x, yr), d, num_samples=2),
        Saliency((x, yr), d, methods=("vanilla",), num_samples=2),
    ]
    m.fit(x, yr, epochs=2, verbose=0, callbacks=cbs)
    assert [c.disabled for c in cbs] == [True, True, False, False]
    for c in cbs[:2]:
        msgs = logs.warnings(f"{c.family} is disabled")
        assert len(msgs) == 1 and "regression head" in msgs[0]
    assert not any(c.failures for c in cbs[2:])
    kept = {c.family for c in suite((x, y), d, level="full", model=m)}
    assert not kept & {"ConfusionMatrix", "ClassSynthesis", "AdversarialRobustness"}
    assert "GradCAM" in kept


@pytest.mark.parametrize("units", [1, 3], ids=["binary", "multilabel"])
def test_sigmoid_heads_run_every_class_callback(tmp_path, data, units):
    x, y, _ = data
    yb = (y > 0).astype("int64") if units == 1 else y
    m = input_cnn(units, "sigmoid", "binary_crossentropy" if units == 1 else "mse")
    if units == 3:
        m.compile("adam", "binary_crossentropy")
        target = keras.utils.to_categorical(y, 3)
    else:
        target = yb.astype("float32")
    d = str(tmp_path)
    cm = ConfusionMatrix((x, yb), d)
    cs = ClassSynthesis(d, validation_data=(x, yb), steps=2)
    cbs = [cm, GradCAM((x, yb), d, num_samples=4), cs]
    m.fit(x, target, epochs=1, verbose=0, callbacks=cbs)
    assert not any(c.disabled or c.failures for c in cbs), [
        (c.family, c.disabled_reason, dict(c.failures)) for c in cbs
    ]
    logits = m.predict(x, verbose=0)
    if units == 1:  # predicted class of one sigmoid unit: p > 0.5, not argmax (always 0)
        pred = (logits[:, 0] > 0.5).astype(int)
        assert cm.matrix.shape == (2, 2)
        assert np.trace(cm.matrix) == int((pred == yb).sum())
        # one sigmoid unit still has two classes to synthesise: z up (1) and z down (0)
        assert cs._classes == [0, 1]
        assert {"synthesis/class_0", "synthesis/class_1"} <= set(read_events(tmp_path))


def test_targets_on_one_unit_heads():
    """Binary sigmoid: target 1 explains the logit, target 0 its negation, None the logit.
    Regression: targets=None explains the output itself."""
    from keras_insight.core.engine import gradients

    rng = np.random.default_rng(0)
    x = rng.random((5, SIZE, SIZE, 3)).astype("float32")
    binary = input_cnn(1, "sigmoid", "binary_crossentropy")
    p = binary.predict(x, verbose=0)[:, 0].astype(np.float64)
    logit = np.log(p / (1 - p))
    g1, g0, gn = (gradients(binary, x, targets=t) for t in (1, 0, None))
    np.testing.assert_allclose(g1.scores, logit, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(g0.scores, -g1.scores, rtol=1e-6)
    np.testing.assert_allclose(g0.input_grads, -g1.input_grads, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(gn.input_grads, g1.input_grads, rtol=1e-6, atol=1e-9)
    assert np.abs(g1.input_grads).max() > 0
    with pytest.raises(ValueError, match="out of range"):
        gradients(binary, x, targets=2)
    regression = input_cnn(1, None, "mse")
    out = regression.predict(x, verbose=0)[:, 0]
    np.testing.assert_allclose(gradients(regression, x).scores, out, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- one repeat check per fit


def test_suite_hashes_shared_validation_arrays_once_per_fit(tmp_path, data, monkeypatch):
    """The callbacks of a suite draw their probe sets from the same arrays: the duplicate
    check hashes them once per fit, and afresh in the next fit, so rows changed in place
    between fits are still deduplicated."""
    from keras_insight.callbacks import base

    x, y, _ = data
    x, y = x.copy(), y.copy()
    calls = []
    real = base._has_repeats
    monkeypatch.setattr(base, "_has_repeats", lambda arrays: calls.append(1) or real(arrays))
    cbs = suite((x, y), str(tmp_path), level="standard", overhead=None)
    model = input_cnn()
    model.fit(x, y, epochs=1, verbose=0, callbacks=cbs)
    readers = [c for c in cbs if c.probe_x is not None]
    assert len(readers) >= 5 and len(calls) == 1
    assert all(len(np.unique(c.probe_x.reshape(len(c.probe_x), -1), axis=0)) == len(c.probe_x)
               for c in readers)  # fmt: skip
    # between fits the user duplicates a sample in place: the next fit hashes again and
    # drops it (same label too, so the two rows are one sample)
    x[1], y[1] = x[0], y[0]
    cbs = suite((x, y), str(tmp_path / "second"), level="standard", overhead=None)
    model.fit(x, y, epochs=1, verbose=0, callbacks=cbs)
    assert len(calls) == 2
    cm = next(c for c in cbs if type(c).__name__ == "ConfusionMatrix")
    assert len(cm.probe_x) == len(x) - 1
