"""tf.distribute and mixed precision as tested guarantees (issue 9).

MirroredStrategy over two logical CPU devices runs in a subprocess: logical devices must be
configured before TensorFlow initialises, which the test process has already done.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_insight import attribution as A
from keras_insight.callbacks import suite
from keras_insight.robustness import fgsm, pgd
from keras_insight.testing import small_cnn

MIRRORED_SCRIPT = textwrap.dedent(
    r'''
    import collections, glob, json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ.setdefault("KERAS_INSIGHT_FAST", "1")
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    import keras
    import numpy as np
    from keras_insight import attribution as A
    from keras_insight.callbacks import suite
    from keras_insight.core.engine import logits
    from keras_insight.datasets import shapes
    from keras_insight.testing import small_cnn

    out = sys.argv[1]
    x, y, _ = shapes(48, size=16, seed=2)
    x = x.astype("float32")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = small_cnn((16, 16, 3), num_classes=3, seed=0)
        model.compile("adam", "sparse_categorical_crossentropy")
    cbs = suite((x, y), out, level="standard", overhead=None)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=cbs)

    # count every (tag, step) in the raw event files: each must be written once
    counts = collections.Counter()
    files = sorted(glob.glob(os.path.join(out, "insight", "events.out.tfevents*")))
    for path in files:
        for event in tf.compat.v1.train.summary_iterator(path):
            for v in event.summary.value:
                counts[(v.tag, int(event.step))] += 1

    # the same weights on one device, outside the strategy
    single = small_cnn((16, 16, 3), num_classes=3, seed=1)
    single.set_weights(model.get_weights())
    probe = x[:8]
    same = {
        "logits": float(np.abs(logits(model, probe) - logits(single, probe)).max()),
        "grad_cam": float(np.abs(A.grad_cam(model, probe, layer="conv2")
                                 - A.grad_cam(single, probe, layer="conv2")).max()),
        "saliency": float(np.abs(A.saliency(model, probe) - A.saliency(single, probe)).max()),
    }
    cm = next(c for c in cbs if type(c).__name__ == "ConfusionMatrix")
    acc_single = float((logits(single, cm.probe_x).argmax(-1) == cm.probe_y).mean())
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "chief": [bool(c._chief()) for c in cbs],
        "failures": {type(c).__name__: dict(c.failures) for c in cbs if c.failures},
        "disabled": [type(c).__name__ for c in cbs if c.disabled],
        "counts": [[t, s, n] for (t, s), n in sorted(counts.items())],
        "run_dirs": sorted(os.listdir(out)),
        "event_files": len(files),
        "same": same,
        "acc_single": acc_single,
    }))
    '''
)


def test_mirrored_strategy_writes_each_summary_once(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_INSIGHT_FAST="1")
    proc = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["replicas"] == 2
    assert all(r["chief"]) and not r["failures"] and not r["disabled"], r
    assert r["run_dirs"] == ["insight"] and r["event_files"] == 1  # one writer, one file
    counts = {(t, s): n for t, s, n in r["counts"]}
    assert counts and set(counts.values()) == {1}, [k for k, n in counts.items() if n != 1]
    tags = {t for t, _ in counts}
    for tag in ("gradcam/grad_cam/overlay", "confusion/accuracy", "filters/conv1"):
        assert tag in tags
    steps = sorted(s for t, s in counts if t == "gradcam/grad_cam/overlay")
    assert steps == [0, 1]  # every epoch, once
    assert sorted(s for t, s in counts if t == "confusion/accuracy") == [1]  # freq=2
    # the strategy model and a single-device copy with its weights agree
    assert r["same"]["logits"] < 1e-5
    assert r["same"]["grad_cam"] < 1e-4 and r["same"]["saliency"] < 1e-4
    # the written accuracy (last epoch) is the single-device model's on the same probe set
    acc_written = next(
        v for t, s, v in _scalar_values(tmp_path / "insight") if t == "confusion/accuracy"
    )
    assert acc_written == pytest.approx(r["acc_single"], abs=1e-6)
    print("distributed tag counts:", len(counts), "(tag, step) pairs, each written once")


def test_non_chief_worker_writes_nothing(tmp_path, rng, monkeypatch):
    """A non-chief worker (multi-worker training) runs the callbacks but writes no file."""
    from keras_insight.callbacks import GradCAM, InsightCallback

    monkeypatch.setattr(InsightCallback, "_chief", lambda self: False)
    x = rng.random((8, 16, 16, 3)).astype("float32")
    y = np.arange(8) % 4
    m = small_cnn((16, 16, 3), num_classes=4, seed=0)
    m.compile("adam", "sparse_categorical_crossentropy")
    cbs = suite((x, y), str(tmp_path / "logs"), level="light", overhead=None) + [
        GradCAM((x, y), str(tmp_path / "logs"), num_samples=2)
    ]
    m.fit(x, y, epochs=1, verbose=0, callbacks=cbs)
    assert not any(c.failures or c.disabled for c in cbs)
    assert not (tmp_path / "logs").exists() or not any((tmp_path / "logs").rglob("*"))


def _scalar_values(path):
    from keras_insight.tensorboard import read_events

    for tag, entries in read_events(path).items():
        for step, value in entries:
            if isinstance(value, float):
                yield tag, step, value


# ---------------------------------------------------------------- mixed precision


def _pearson(a, b):
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    return float(np.corrcoef(a, b)[0, 1])


@pytest.fixture
def pair(rng):
    """The same small CNN under float32 and under mixed_float16 (same weights)."""
    m32 = small_cnn((16, 16, 3), num_classes=4, head="softmax", seed=3)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        m16 = small_cnn((16, 16, 3), num_classes=4, head="softmax", seed=3)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    m16.set_weights(m32.get_weights())
    assert m16.layers[0].compute_dtype == "float16"
    x = rng.random((6, 16, 16, 3)).astype("float32")
    return m32, m16, x


def test_mixed_float16_maps_are_float32_and_agree(pair):
    m32, m16, x = pair
    targets = np.arange(6) % 4
    methods = {
        "grad_cam": lambda m: A.grad_cam(m, x, targets, layer="conv2"),
        "vanilla": lambda m: A.saliency(m, x, targets, method="vanilla"),
        "smoothgrad": lambda m: A.saliency(m, x, targets, method="smoothgrad", n=8, seed=0),
        "integrated_gradients": lambda m: A.integrated_gradients(m, x, targets, steps=16),
        "occlusion": lambda m: A.occlusion(m, x, targets, patch=4, stride=4),
    }
    for name, fn in methods.items():
        r32, r16 = fn(m32), fn(m16)
        assert r16.dtype == np.float32 and np.isfinite(r16).all(), name
        assert _pearson(r16, r32) >= 0.98, (name, _pearson(r16, r32))


def test_mixed_float16_attacks_keep_eps_bound(pair):
    _, m16, x = pair
    y = np.arange(6) % 4
    eps = 4 / 255
    for xa in (
        fgsm(m16, x, y, eps=eps, input_range=(0, 1)),
        pgd(m16, x, y, eps=eps, steps=5, input_range=(0, 1), seed=0),
    ):
        assert xa.dtype == np.float32 and np.isfinite(xa).all()
        assert np.abs(xa - x).max() <= eps + 1e-6
        assert xa.min() >= 0.0 and xa.max() <= 1.0


def test_mixed_float16_training_with_suite(tmp_path, rng):
    keras.mixed_precision.set_global_policy("mixed_float16")
    m = small_cnn((16, 16, 3), num_classes=3, seed=0)
    m.compile("adam", "sparse_categorical_crossentropy")
    x = rng.random((24, 16, 16, 3)).astype("float32")
    y = np.arange(24) % 3
    cbs = suite((x, y), str(tmp_path), level="standard", overhead=None)
    m.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=cbs)
    assert not any(c.failures or c.disabled for c in cbs), [
        (type(c).__name__, c.disabled_reason, dict(c.failures)) for c in cbs
    ]
    scalars = list(_scalar_values(tmp_path))
    assert scalars and all(np.isfinite(v) for _, _, v in scalars)
