"""Where one 10-epoch fit of the bench_suite model spends its time, with a suite level or none.

Prints each epoch's training time, the time before the first epoch and after the last,
and the seconds each keras-insight callback spent (setup, tracing, logging, writing), so a
stalled epoch can be told apart from a cost of the callbacks::

    python benchmarks/probe_epochs.py full      # or: standard, light, none
    python benchmarks/probe_epochs.py standard 5   # a 5-epoch fit
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(level: str, epochs: int = 10, n: int = 30000) -> None:
    import keras
    from bench_suite import _data, cnn3

    from keras_insight.callbacks import suite

    (xt, yt), val, names = _data()
    keras.utils.set_random_seed(0)
    model = cnn3()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    marks: dict[str, float] = {}
    times: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            marks["begin"] = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            marks["epoch"] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - marks["epoch"])

        def on_train_end(self, logs=None):
            marks["end"] = time.perf_counter()

    cbs = [] if level == "none" else suite(val, tempfile.mkdtemp(), level=level,
                                           class_names=names)  # fmt: skip
    start = time.perf_counter()
    model.fit(xt[:n], yt[:n], epochs=epochs, batch_size=128, verbose=0,
              callbacks=[Clock(), *cbs])  # fmt: skip
    wall = time.perf_counter() - start
    print("epochs (s):", " ".join(f"{t:.2f}" for t in times))
    print(f"before the first epoch {marks['begin'] - start:.2f} s; wall {wall:.2f} s; "
          f"epochs {sum(times):.2f} s")  # fmt: skip
    print(f"callbacks {sum(c.seconds for c in cbs):.2f} s:",
          {type(c).__name__: round(c.seconds, 2) for c in cbs})  # fmt: skip
    print("logs written:", {type(c).__name__: c.logs_done for c in cbs})


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else "full",
        epochs=int(sys.argv[2]) if len(sys.argv) > 2 else 10,
    )
