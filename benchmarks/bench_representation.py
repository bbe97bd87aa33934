"""Representation benchmarks: projector export, t-SNE, streaming max-activating patches.

Run alone: ``python benchmarks/bench_representation.py [--quick]``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import row  # noqa: E402


def _data(n: int):
    import numpy as np

    from keras_insight import datasets

    (xt, yt), _ = datasets.fashion_mnist()
    xt = np.asarray(xt, "float32")
    if xt.ndim == 3:
        xt = xt[..., None]
    if xt.max() > 1.5:
        xt = xt / 255.0
    return xt[:n], np.asarray(yt[:n])


def _projector(n: int) -> dict:
    import numpy as np

    from keras_insight.representation import write_projector

    x, y = _data(n)
    feats = np.random.default_rng(0).normal(size=(len(x), 64)).astype("float32")
    meta = {"label": y, "predicted": y, "correct": np.ones(len(y), bool)}
    d = tempfile.mkdtemp()
    start = time.perf_counter()
    write_projector(d, feats, metadata=meta, images=x, tag=0, input_range=(0, 1))
    secs = time.perf_counter() - start
    return row(
        f"projector export {len(x)} samples (64-D, metadata, 28px sprite)",
        secs,
        "s",
        "<= 5",
        "TSV tensor + metadata + sprite PNG + config + checkpoint; first write (sprite included)",
    )


def _tsne(n: int, max_iter: int | None = None) -> dict:
    import numpy as np

    from keras_insight.representation import tsne

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 64)) * 4
    feats = (centres[np.arange(n) % 10] + rng.normal(size=(n, 64))).astype("float32")
    start = time.perf_counter()
    tsne(feats, seed=0, max_iter=max_iter)
    secs = time.perf_counter() - start
    load = os.getloadavg()[0]
    return row(
        f"t-SNE {n} points (64-D, sklearn Barnes-Hut angle 0.8, {max_iter or 1000} iterations)",
        secs,
        "s",
        "<= 5",
        f"1 OpenMP thread, {os.cpu_count()} cores, load average {load:.1f} while measured",
    )


def _patches(n: int) -> tuple[dict, dict, float]:
    import keras
    import numpy as np

    from keras_insight.cli import demo_model
    from keras_insight.representation import max_activating_patches

    x, _ = _data(min(n, 60000))
    keras.utils.set_random_seed(0)
    model = demo_model(x.shape[1:], 10)
    conv = [lyr.name for lyr in model.layers if isinstance(lyr, keras.layers.Conv2D)][-1]

    def stream():  # batches from a generator: the data set is never held as one array here
        reps = int(np.ceil(n / len(x)))
        for r in range(reps):
            for s in range(0, len(x), 256):
                if r * len(x) + s >= n:
                    return
                yield x[s : s + 256]

    max_activating_patches(model, x[:512], conv, list(range(16)), k=9)  # trace once
    tracemalloc.start()
    start = time.perf_counter()
    max_activating_patches(model, stream(), conv, list(range(16)), k=9)
    secs = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (
        row(
            f"max-activating patches, {n} images, 16 ch x 9",
            n / secs,
            "images/s",
            "",
            f"layer {conv}, demo CNN",
        ),
        row(
            f"max-activating patches peak host memory, {n} images",
            peak / 2**20,
            "MiB",
            "same at 10k and 60k",
            "tracemalloc peak during streaming",
        ),
        peak,
    )


def rows(quick: bool = False) -> list[dict]:
    n_tsne = 500 if quick else 2000
    out = [_projector(2000 if quick else 10000), _tsne(n_tsne), _tsne(n_tsne, max_iter=500)]
    sizes = (2000, 6000) if quick else (10000, 60000)
    peaks = []
    for n in sizes:
        speed, mem, peak = _patches(n)
        out += [speed, mem]
        peaks.append(peak)
    out.append(
        row(
            f"max-activating patches peak memory ratio {sizes[1]}/{sizes[0]} images",
            peaks[1] / peaks[0],
            "x",
            "<= 1.1",
            "bounded: O(channels * k * field^2), independent of the data set size",
        )
    )
    return out


if __name__ == "__main__":
    for r in rows(quick="--quick" in sys.argv):
        print(
            f"{r['name']:<70} {r['value']:>10.3f} {r['unit']:<10} target {r['target']:<20} {r['note']}"
        )
