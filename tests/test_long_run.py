"""A long run with the standard suite logging every epoch (issue 9): no retrace after the
first epoch, resident memory flat, no leaked file descriptors.

Slow (about 2-4 minutes on 2 CPU cores): run with ``-m slow``. The figures are printed
(``-s``) for the closing note.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest

from keras_insight.callbacks import suite
from keras_insight.core import engine
from keras_insight.datasets import shapes
from keras_insight.testing import small_cnn

EPOCHS = 32


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS")


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class _Monitor(keras.callbacks.Callback):
    """After every other callback's epoch end: traces so far, RSS, open fds."""

    def __init__(self):
        super().__init__()
        self.traces, self.rss, self.fds = [], [], []

    def on_epoch_end(self, epoch, logs=None):
        self.traces.append(sum(engine.TRACE_COUNTS.values()))
        self.rss.append(_rss_mb())
        self.fds.append(_fds())


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc (Linux)")
def test_standard_suite_every_epoch_for_32_epochs(tmp_path):
    x, y, _ = shapes(64, size=16, seed=4)
    x = x.astype("float32")
    model = small_cnn((16, 16, 3), num_classes=3, seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    cbs = suite((x, y), str(tmp_path), level="standard", overhead=None)
    for cb in cbs:
        cb.freq = 1  # every family every epoch: the worst case for retracing and leaks
    monitor = _Monitor()
    model.fit(x, y, epochs=EPOCHS, batch_size=32, verbose=0, callbacks=[*cbs, monitor])
    assert not any(c.failures or c.disabled for c in cbs), [
        (type(c).__name__, c.disabled_reason, dict(c.failures)) for c in cbs
    ]
    t, rss, fds = monitor.traces, monitor.rss, monitor.fds
    print(
        f"\nlong run: traces after epoch 1 = {t[0]}, after epoch {EPOCHS} = {t[-1]}; "
        f"RSS epoch 5 = {rss[4]:.1f} MB, epoch 30 = {rss[29]:.1f} MB, "
        f"max after epoch 5 = {max(rss[4:]):.1f} MB; fds {fds[0]} -> {fds[-1]}"
    )
    assert t[-1] == t[0], f"retraced after the first epoch: {t}"
    assert max(rss[4:]) - rss[4] < 50.0, rss
    assert abs(rss[29] - rss[4]) < 50.0
    assert fds[-1] == fds[0], fds
    assert np.isfinite(rss).all()
