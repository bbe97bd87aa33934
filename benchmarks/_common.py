"""Shared timing helpers for the benchmarks: medians of compiled calls, and the floor.

The floor every gradient method is compared with is one plain compiled forward+backward
pass (gradient of the summed logits w.r.t. the input) of the same model on the same batch.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def time_call(fn: Callable[[], object], *, repeats: int = 20, warmup: int = 3) -> float:
    """Median wall time in seconds of ``fn()`` after ``warmup`` calls (results materialised)."""

    def run():
        out = fn()
        for t in tf.nest.flatten(out):
            if hasattr(t, "numpy"):
                t.numpy()

    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fwd_bwd_fn(model, x: np.ndarray) -> Callable[[], object]:
    """A compiled plain forward+backward pass: d(sum of outputs)/dx, training=False."""
    xt = tf.constant(x, tf.float32)

    @tf.function(jit_compile=bool(tf.config.list_physical_devices("GPU")))
    def step(xb):
        with tf.GradientTape() as tape:
            tape.watch(xb)
            out = model(xb, training=False)
            total = tf.reduce_sum(out)
        return tape.gradient(total, xb)

    return lambda: step(xt)


def fwd_bwd_seconds(model, x: np.ndarray, *, repeats: int = 20) -> float:
    """Median seconds of one plain compiled forward+backward pass on ``x``."""
    return time_call(fwd_bwd_fn(model, x), repeats=repeats)


def forward_seconds(model, x: np.ndarray, *, repeats: int = 20) -> float:
    """Median seconds of one plain compiled forward pass on ``x``."""
    xt = tf.constant(x, tf.float32)
    step = tf.function(lambda xb: model(xb, training=False))
    return time_call(lambda: step(xt), repeats=repeats)


def row(name: str, value: float, unit: str, target: str = "", note: str = "") -> dict:
    """One benchmark table row."""
    return {"name": name, "value": float(value), "unit": unit, "target": target, "note": note}
