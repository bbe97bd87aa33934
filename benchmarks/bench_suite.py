"""What the insight suite costs a training run: the issue-13 targets table in one invocation.

Runs, in one process and on one data set (30,000 Fashion-MNIST images, batch 128, a 3-conv
CNN with ~5 s epochs on a quiet 2-core CPU; ``fit`` gets no validation data, so the
epochs are pure training and the overhead is the strictest one):

1. ``fit`` without callbacks, 5 and 10 epochs, best of 2 each (the baselines);
2. ``fit`` with ``suite(level="standard")`` at its defaults, 5 and 10 epochs, and with
   ``suite(level="full")``, 10 epochs; overhead = (t_with - t_without) / t_without,
   tracing and imports included. Beside it the time spent inside the callbacks' own hooks
   (train begin, epoch end, train end), which does not depend on the baseline and so is
   steadier on a shared machine, the CPU seconds the run spent outside those hooks beyond
   the baseline's (near zero when the suite costs nothing outside its hooks: a stalled
   epoch on a virtual machine costs wall time, not CPU time of this process), and the
   number of keras-insight functions traced;
3. the per-callback table: every callback of the full suite at ``freq=1`` on the demo
   model (``keras-insight demo``'s CNN, 60,000 images), first log (tracing included) and
   steady per-epoch cost, as a fraction of that model's epoch.

Usage::

    python benchmarks/bench_suite.py            # the full table (about 6 minutes, quiet machine)
    python benchmarks/bench_suite.py --quick    # smoke run: small data, 2-3 epochs (~1-2 min)
    python benchmarks/bench_suite.py --markdown docs_rows.md   # also write markdown rows

``rows(quick=False)`` feeds ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from _common import row  # noqa: E402

HOOKS = ("on_train_begin", "on_epoch_end", "on_train_end")


def cnn3(input_shape=(28, 28, 1), num_classes: int = 10):
    """The benchmark's 3-conv CNN (~5 s epochs on 30,000 28x28 images, 2 CPU cores)."""
    import keras

    L = keras.layers
    return keras.Sequential(
        [
            keras.Input(input_shape),
            L.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            L.MaxPooling2D(2, name="pool1"),
            L.Conv2D(48, 3, padding="same", activation="relu", name="conv2"),
            L.MaxPooling2D(2, name="pool2"),
            L.Conv2D(64, 3, padding="same", activation="relu", name="conv3"),
            L.GlobalAveragePooling2D(name="gap"),
            L.Dense(num_classes, activation="softmax", name="predictions"),
        ],
        name="cnn3",
    )


def _data():
    import numpy as np

    from keras_insight import datasets

    (xt, yt), (xv, yv) = datasets.fashion_mnist()
    return (
        (np.asarray(xt, "float32"), np.asarray(yt)),
        (np.asarray(xv, "float32"), np.asarray(yv)),
        datasets.class_names("fashion_mnist"),
    )


class HookTimer:
    """Wrap the Keras hooks of callbacks (on the instances) to add up wall and CPU seconds
    and keras-insight traces spent inside them, per callback."""

    def __init__(self, callbacks):
        from keras_insight.core import engine

        self.engine = engine
        self.stats = {}
        for cb in callbacks:
            st = {"wall": 0.0, "cpu": 0.0, "traces": 0, "logs": [], "first": None}
            self.stats[id(cb)] = (cb, st)
            for name in HOOKS:
                setattr(cb, name, self._wrap(cb, getattr(cb, name), name, st))

    def _wrap(self, cb, fn, name, st):
        def timed(*args, **kwargs):
            t0, c0 = time.perf_counter(), time.process_time()
            n0 = sum(self.engine.TRACE_COUNTS.values())
            before = getattr(cb, "seconds", 0.0)
            try:
                return fn(*args, **kwargs)
            finally:
                wall = time.perf_counter() - t0
                st["wall"] += wall
                st["cpu"] += time.process_time() - c0
                st["traces"] += sum(self.engine.TRACE_COUNTS.values()) - n0
                ran = getattr(cb, "seconds", 0.0) > before
                if ran and name != "on_train_begin":  # a log ran in this hook
                    st["logs"].append(wall)

        return timed

    def total(self, key: str) -> float:
        return sum(st[key] for _, st in self.stats.values())


class EpochTimer:
    """First in the callback list: epoch wall time before any other epoch-end hook runs."""

    def __new__(cls):
        import keras

        class _T(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.epochs = []

            def on_epoch_begin(self, epoch, logs=None):
                self._t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.epochs.append(time.perf_counter() - self._t)

        return _T()


def _fit(data, epochs: int, level: str | None, names, log_root: str, seed: int = 0):
    import keras

    from keras_insight.callbacks import suite
    from keras_insight.core import engine

    (xt, yt), val = data
    keras.utils.set_random_seed(seed)
    model = cnn3(xt.shape[1:], 10)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    cbs, hooks = [], None
    if level is not None:
        log_dir = tempfile.mkdtemp(dir=log_root)
        cbs = suite(val, log_dir, level=level, seed=seed, class_names=names)
        hooks = HookTimer(cbs)
    traces0 = sum(engine.TRACE_COUNTS.values())
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(xt, yt, epochs=epochs, batch_size=128, verbose=0, callbacks=[timer, *cbs])
    out = {
        "wall": time.perf_counter() - t0,
        "cpu": time.process_time() - c0,
        "epochs": timer.epochs,
        "traces": sum(engine.TRACE_COUNTS.values()) - traces0,
        "hooks": hooks,
        "failures": {type(c).__name__: dict(c.failures) for c in cbs if c.failures},
    }
    return out


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def targets(quick: bool, log_root: str) -> tuple[list[dict], list[str]]:
    """Rows for the suite-overhead targets, and markdown lines."""
    (xt, yt), (xv, yv), names = _data()
    n = 3000 if quick else 30000
    data = ((xt[:n], yt[:n]), (xv, yv))
    e_short, e_long = (2, 3) if quick else (5, 10)
    base, base_cpu = {}, {}
    for e in (e_short, e_long):
        runs = [_fit(data, e, None, names, log_root) for _ in range(2)]
        base[e] = min(r["wall"] for r in runs)
        base_cpu[e] = min(r["cpu"] for r in runs)
        print(
            f"# baseline {e} epochs: {[round(r['wall'], 2) for r in runs]} s wall, "
            f"{[round(r['cpu'], 2) for r in runs]} CPU s",
            flush=True,
        )
    rows, md = [], []
    cases = [
        ("standard", e_short, "<= 10%"),
        ("standard", e_long, "<= 5%"),
        ("full", e_long, "<= 10%"),
    ]
    for level, e, target in cases:
        r = _fit(data, e, level, names, log_root)
        over = (r["wall"] - base[e]) / base[e]
        inside = r["hooks"].total("wall")
        # CPU the run spent outside the callbacks' hooks, beyond the baseline's: ~0 when the
        # suite adds nothing outside its hooks (a stalled epoch costs wall time, not CPU)
        outside_cpu = r["cpu"] - r["hooks"].total("cpu") - base_cpu[e]
        epoch = sorted(r["epochs"])[len(r["epochs"]) // 2]
        note = (
            f"{r['wall']:.1f} s vs {base[e]:.1f} s (best of 2); callbacks' own hooks "
            f"{inside:.1f} s = {100 * inside / base[e]:.1f}% of the baseline; "
            f"{r['traces']} traces; median epoch {epoch:.2f} s; CPU outside the hooks "
            f"{outside_cpu:+.1f} s vs the baseline's {base_cpu[e]:.1f} CPU s; "
            f"load {_load():.1f}"
        )
        if r["failures"]:
            note += f"; failures {r['failures']}"
        name = f"suite {level}, {e} epochs, {n} images / no callbacks"
        rows.append(row(name, 100 * over, "% overhead", target, note))
        md.append(
            f"| `{level}` | {e} | {base[e]:.1f} | {r['wall']:.1f} | {100 * over:.1f}% "
            f"| {100 * inside / base[e]:.1f}% | {100 * outside_cpu / base_cpu[e]:+.1f}% "
            f"| {r['traces']} | {target} |"
        )
        print(f"# {name}: {100 * over:.1f}% ({note})", flush=True)
        per_cb = sorted(r["hooks"].stats.values(), key=lambda p: -p[1]["wall"])
        print(
            "#   per callback (s, traces): "
            + ", ".join(f"{type(c).__name__} {s['wall']:.2f}/{s['traces']}" for c, s in per_cb),
            flush=True,
        )
    return rows, md


def per_callback(quick: bool, log_root: str) -> tuple[list[dict], list[str]]:
    """Each callback of the full suite at freq=1 on the demo model: first and steady log."""
    import keras

    from keras_insight.callbacks import suite
    from keras_insight.cli import demo_model
    from keras_insight.core import engine

    (xt, yt), (xv, yv), names = _data()
    n = 6000 if quick else 60000
    keras.utils.set_random_seed(0)
    model = demo_model(xt.shape[1:], 10)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(xt[:n], yt[:n], epochs=2, batch_size=128, verbose=0, callbacks=[timer])
    epoch = timer.epochs[-1]
    cbs = suite((xv, yv), tempfile.mkdtemp(dir=log_root), level="full", class_names=names)
    rows, md = [], []
    while cbs:
        # measured alone: the earlier callbacks are dropped, so their requests leave the
        # model's shared probe pass (callbacks/probe.py holds callbacks weakly)
        cb = cbs.pop(0)
        gc.collect()
        scheduled = cb.freq
        cb.freq = 1
        cb.budget = None  # its own cost at every epoch, not what the suite's budget lets run
        cb.set_model(model)
        cb.set_params({"epochs": 3, "verbose": 0, "steps": n // 128})
        times, cpus, traces = [], [], []
        t0 = time.perf_counter()
        cb.on_train_begin()
        begin = time.perf_counter() - t0
        for step in range(3):
            n0 = sum(engine.TRACE_COUNTS.values())
            t0, c0 = time.perf_counter(), time.process_time()
            cb.on_epoch_end(step)
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            traces.append(sum(engine.TRACE_COUNTS.values()) - n0)
        cb.on_train_end()
        steady = min(times[1:])
        share = 100 * steady / epoch
        every10 = scheduled >= 10
        target = "" if every10 or type(cb).__name__ == "ModelSummary" else "<= 2%"
        name = f"{type(cb).__name__} per log, freq=1, demo model"
        note = (
            f"{steady:.3f} s steady ({min(cpus[1:]):.3f} CPU s), first {times[0]:.2f} s "
            f"(+{begin:.2f} s setup), "
            f"traces {sum(traces)} (after the first log {sum(traces[1:])}); suite freq {scheduled}"
        )
        if cb.failures:
            note += f"; failures {dict(cb.failures)}"
        rows.append(row(name, share, "% of an epoch", target, note))
        md.append(
            f"| {type(cb).__name__} | {scheduled} | {begin + times[0]:.2f} | {steady:.3f} "
            f"| {share:.1f}% | {sum(traces)} / {sum(traces[1:])} |"
        )
        print(f"# {name}: {share:.2f}% ({note})", flush=True)
    md.insert(0, f"demo model epoch: {epoch:.2f} s on {n} images")
    return rows, md


def rows(quick: bool = False) -> list[dict]:
    with tempfile.TemporaryDirectory() as root:
        a, _ = targets(quick, root)
        b, _ = per_callback(quick, root)
    return a + b


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: small data, few epochs")
    p.add_argument("--only", choices=["targets", "callbacks"], default=None)
    p.add_argument("--markdown", default=None, help="also write markdown rows to this file")
    args = p.parse_args()
    start = time.perf_counter()
    out, md = [], []
    with tempfile.TemporaryDirectory() as root:
        if args.only in (None, "targets"):
            r, m = targets(args.quick, root)
            out += r
            md += [
                "| level | epochs | no callbacks (s) | with suite (s) | overhead | inside "
                "hooks | CPU outside hooks | traces | target |",
                "|---|---|---|---|---|---|---|---|---|",
                *m,
                "",
            ]
        if args.only in (None, "callbacks"):
            r, m = per_callback(args.quick, root)
            out += r
            md += [
                m[0],
                "",
                "| callback | suite freq | first log incl. setup (s) | steady "
                "log (s) | of an epoch | traces (all / after first) |",
                "|---|---|---|---|---|---|",
                *m[1:],
            ]
    print(f"{'benchmark':58s} {'value':>10s} {'unit':22s} {'target':10s} note")
    for r in out:
        print(f"{r['name']:58s} {r['value']:10.3f} {r['unit']:22s} {r['target']:10s} {r['note']}")
    print("\n".join(md))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(md) + "\n")
    print(f"# bench_suite took {time.perf_counter() - start:.0f} s, load {_load():.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
