"""The GPU check of issue 13: XLA on and off, and the suite's overhead on a GPU fit.

One short script for a machine with a GPU (GPU time is scarce: about 4-6 minutes):

1. On a ResNet50-sized model (``keras.applications.ResNet50(weights=None)``, 224x224x3,
   batch 64): Grad-CAM, vanilla saliency, PGD-10 and 100 class-synthesis steps, each with
   ``jit_compile`` forced off and on (median of a few calls after a warm-up; the first
   call, compilation included, is reported too), beside a plain compiled forward+backward
   pass, XLA off and on.
2. The suite overhead on a GPU fit: ``benchmarks/bench_suite.py``'s targets (standard 5
   and 10 epochs, full 10 epochs) with ``--gpu-epochs`` scaled data.

Usage::

    python benchmarks/gpu.py              # both parts
    python benchmarks/gpu.py --only xla   # part 1 only
    python benchmarks/gpu.py --quick      # smoke run (a small model, also on CPU)

Record the printed rows in docs/benchmarks.md and set ``jit_compile="auto"``'s rule in
``keras_insight.core.engine.use_xla`` from them (today: XLA on GPU only).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from _common import row, time_call  # noqa: E402


def _model(quick: bool):
    import keras

    if quick:
        from bench_suite import cnn3

        return cnn3((64, 64, 3), 10), (64, 64, 3), 16
    return keras.applications.ResNet50(weights=None, classes=1000), (224, 224, 3), 64


def _force_xla(on: bool) -> None:
    # every compiled function resolves "auto" through engine.use_xla at build time; the
    # cache key holds the choice, so switching compiles a fresh function
    from keras_insight.core import engine

    engine.use_xla = lambda jit_compile="auto", _on=on: _on


def xla_rows(quick: bool) -> list[dict]:
    import numpy as np
    import tensorflow as tf

    from keras_insight import attribution as A
    from keras_insight.robustness import pgd
    from keras_insight.synthesis import class_logit, maximize

    model, shape, batch = _model(quick)
    x = np.random.default_rng(0).uniform(0, 1, (batch, *shape)).astype("float32")
    y = np.arange(batch) % 10
    repeats = 3 if quick else 5
    xt = tf.constant(x)
    out = []
    for on in (False, True):
        _force_xla(on)
        tag = "XLA on" if on else "XLA off"

        @tf.function(jit_compile=on)
        def fb(xb):
            with tf.GradientTape() as tape:
                tape.watch(xb)
                s = tf.reduce_sum(model(xb, training=False))
            return tape.gradient(s, xb)

        floor = time_call(lambda: fb(xt), repeats=repeats, warmup=2)
        out.append(row(f"fwd+bwd batch {batch}, {tag}", 1e3 * floor, "ms", "", "plain tf.function"))
        cases = {
            "grad_cam": lambda: A.grad_cam(model, x, y),
            "vanilla saliency": lambda: A.saliency(model, x, y),
            "PGD-10 Linf 8/255": lambda: pgd(
                model, x, y, eps=8 / 255, steps=10, input_range=(0, 1)
            ),
            "synthesis 10 classes x 100 steps": lambda: maximize(
                model,
                [class_logit(c) for c in range(10)],
                steps=100,
                input_range=(0, 1),
                image_shape=shape,
            ),
        }
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            first = time.perf_counter() - t0
            secs = time_call(fn, repeats=repeats, warmup=0)
            out.append(
                row(
                    f"{name}, batch {batch}, {tag}",
                    1e3 * secs,
                    "ms",
                    "",
                    f"{secs / floor:.2f}x fwd+bwd; first call {first:.1f} s (compilation)",
                )
            )
    return out


def main() -> int:
    import tensorflow as tf

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", choices=["xla", "suite"], default=None)
    args = p.parse_args()
    gpus = tf.config.list_physical_devices("GPU")
    print(f"# GPUs: {[g.name for g in gpus] or 'none (CPU run: the XLA rows are not GPU figures)'}")
    rows = []
    if args.only in (None, "xla"):
        rows += xla_rows(args.quick)
    if args.only in (None, "suite"):
        import tempfile

        import bench_suite

        with tempfile.TemporaryDirectory() as root:
            r, _ = bench_suite.targets(args.quick, root)
        rows += r
    for r in rows:
        print(f"{r['name']:58s} {r['value']:10.3f} {r['unit']:8s} {r['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
