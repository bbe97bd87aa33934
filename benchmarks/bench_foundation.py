"""Foundation benchmarks: callback overhead per epoch, engine gradient vs the floor."""

from __future__ import annotations

import time

from _common import fwd_bwd_fn, row, time_call


def _epoch_overhead(quick: bool) -> dict:
    import numpy as np

    from keras_insight import datasets
    from keras_insight.callbacks import ActivationMaps, FilterGrid, ModelSummary
    from keras_insight.cli import demo_model

    (xt, yt), (xv, yv) = datasets.fashion_mnist()
    n = 10000 if quick else 60000
    xt, yt = np.asarray(xt[:n]), yt[:n]
    epochs = 2

    def train(with_callbacks: bool) -> float:
        import keras

        keras.utils.set_random_seed(0)
        m = demo_model(xt.shape[1:], 10)
        m.compile("adam", "sparse_categorical_crossentropy")
        cbs = []
        if with_callbacks:
            cbs = [
                ModelSummary(log_dir="/tmp/ki_bench"),
                FilterGrid(log_dir="/tmp/ki_bench"),
                ActivationMaps((xv, yv), log_dir="/tmp/ki_bench"),
            ]
        times = []

        class T(keras.callbacks.Callback):
            def on_epoch_begin(self, e, logs=None):
                self.t = time.perf_counter()

            def on_epoch_end(self, e, logs=None):
                times.append(time.perf_counter() - self.t)

        # the timer runs last so the insight callbacks' epoch-end work is inside it
        m.fit(xt, yt, epochs=epochs, batch_size=128, verbose=0, callbacks=cbs + [T()])
        return min(times[1:]) if len(times) > 1 else times[0]

    base = train(False)
    withcb = train(True)
    return row(
        "epoch time with demo callbacks (freq=1) / without",
        withcb / base,
        "x",
        "<= 1.05",
        f"{n} Fashion-MNIST images, {base:.2f} s vs {withcb:.2f} s per epoch",
    )


def _engine_ratio(quick: bool) -> dict:
    import numpy as np

    from keras_insight.core import gradients
    from keras_insight.testing import small_cnn

    model = small_cnn((32, 32, 3), 10)
    x = np.random.default_rng(0).random((64, 32, 32, 3)).astype("float32")
    reps = 10 if quick else 30
    floor_fn = fwd_bwd_fn(model, x)

    def ours_fn():
        return gradients(model, x, targets=None, batch_size=64).input_grads

    # best of 3 rounds each: the shared 2-core machine adds ~20% run-to-run noise
    floor = min(time_call(floor_fn, repeats=reps) for _ in range(3))
    ours = min(time_call(ours_fn, repeats=reps) for _ in range(3))
    return row(
        "engine input gradient / plain compiled fwd+bwd",
        ours / floor,
        "x",
        "<= 1.3",
        f"small CNN, 64x32x32x3: {1e3 * ours:.2f} ms vs {1e3 * floor:.2f} ms",
    )


def rows(quick: bool = False) -> list[dict]:
    return [_engine_ratio(quick), _epoch_overhead(quick)]


if __name__ == "__main__":
    for r in rows():
        print(r)
