"""Shared model/data for peer benchmark scripts (run inside a peer venv)."""

import os
import statistics
import time

import numpy as np


def build(keras):
    """The 2-conv CNN of the attribution and synthesis benchmarks, built on the given keras."""
    L = keras.layers
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            L.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            L.MaxPooling2D(2),
            L.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            L.GlobalAveragePooling2D(),
            L.Dense(10, activation="softmax", name="logits"),
        ]
    )


def data():
    rng = np.random.default_rng(0)
    return rng.random((64, 32, 32, 3)).astype("float32"), rng.integers(0, 10, 64)


def median_seconds(fn):
    reps = 5 if os.environ.get("QUICK") == "1" else 20
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)
