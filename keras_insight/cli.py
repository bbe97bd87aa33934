"""The ``keras-insight`` command: a demo run, and analysis of a saved model."""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _load(name: str, limit_train: int | None = None):
    from keras_insight import datasets

    if name == "fashion_mnist":
        (xt, yt), (xv, yv) = datasets.fashion_mnist()
    elif name == "digits":
        (xt, yt), (xv, yv) = datasets.digits()
    elif name == "shapes":
        x, y, m = datasets.shapes(3000, size=32, seed=0)
        xv_, yv_, mv = datasets.shapes(400, size=32, seed=1)
        return (x, y), (xv_, yv_, mv), datasets.class_names("shapes")[:3]
    else:
        raise SystemExit(f"unknown data set {name!r}: choose fashion_mnist, digits or shapes")
    if limit_train:
        xt, yt = xt[:limit_train], yt[:limit_train]
    return (xt, yt), (xv, yv), datasets.class_names(name)


def demo_model(input_shape, num_classes: int):
    """The demo CNN: two conv blocks, a small dense layer, softmax output (~88% in 3 epochs)."""
    import keras

    L = keras.layers
    return keras.Sequential(
        [
            keras.Input(input_shape),
            L.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            L.MaxPooling2D(2, name="pool1"),
            L.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            L.MaxPooling2D(2, name="pool2"),
            L.Flatten(name="flatten"),
            L.Dense(64, activation="relu", name="fc"),
            L.Dense(num_classes, activation="softmax", name="predictions"),
        ],
        name="demo_cnn",
    )


def demo(args: argparse.Namespace) -> int:
    import keras
    import numpy as np

    from keras_insight.callbacks import suite

    keras.utils.set_random_seed(args.seed)
    (xt, yt), val, names = _load(args.data, args.limit)
    num_classes = len(names)
    model = demo_model(xt.shape[1:], num_classes)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = suite(val, args.log_dir, level=args.level, seed=args.seed, class_names=names)
    print(
        f"keras-insight demo: {len(xt)} {args.data} training images, {args.epochs} epochs, "
        f"{len(callbacks)} insight callbacks -> {args.log_dir}",
        flush=True,
    )
    start = time.perf_counter()
    model.fit(
        np.asarray(xt, "float32"),
        yt,
        validation_data=(np.asarray(val[0], "float32"), val[1]),
        epochs=args.epochs,
        batch_size=128,
        verbose=2,
        callbacks=callbacks,
    )
    spent = sum(getattr(c, "seconds", 0.0) for c in callbacks)
    total = time.perf_counter() - start
    print(
        f"trained in {total:.1f} s; insight callbacks took {spent:.1f} s ({100 * spent / total:.1f}%)"
    )
    if args.save:
        model.save(args.save)
        print(f"saved the trained model to {args.save}")
    if args.timings:
        for c in callbacks:
            print(f"  {type(c).__name__:24s} {getattr(c, 'seconds', 0.0):6.2f} s")
    failures = {
        type(c).__name__: dict(c.failures) for c in callbacks if getattr(c, "failures", None)
    }
    if failures:
        print(f"callback failures (training went on): {failures}")
    print(f"\nOpen TensorBoard:\n  tensorboard --logdir {args.log_dir}\n")
    return 0


def analyze(args: argparse.Namespace) -> int:
    """Run the suite's callbacks once (step 0) on a saved model, without training."""
    import keras

    from keras_insight.callbacks import suite

    model = keras.models.load_model(args.model, compile=False)
    _, val, names = _load(args.data)
    callbacks = suite(val, args.log_dir, level=args.level, seed=args.seed, class_names=names)
    for cb in callbacks:
        cb.set_model(model)
        cb.on_train_begin()
        cb._run_log(0)
        cb.on_train_end()
    print(f"wrote {len(callbacks)} analyses of {args.model}\n  tensorboard --logdir {args.log_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="keras-insight", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="train a small CNN with the insight callbacks")
    d.add_argument("--epochs", type=int, default=3)
    d.add_argument("--log-dir", default="logs/demo")
    d.add_argument("--data", default="fashion_mnist", choices=["fashion_mnist", "digits", "shapes"])
    d.add_argument("--level", default="standard", choices=["light", "standard", "full"])
    d.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--timings", action="store_true", help="print seconds spent per callback")
    d.add_argument("--save", default=None, help="save the trained model (.keras) to this path")
    d.set_defaults(func=demo)
    a = sub.add_parser("analyze", help="analyse a saved .keras/.h5 model once")
    a.add_argument("model")
    a.add_argument("--data", default="fashion_mnist", choices=["fashion_mnist", "digits", "shapes"])
    a.add_argument("--log-dir", default="logs/analyze")
    a.add_argument("--level", default="standard", choices=["light", "standard", "full"])
    a.add_argument("--seed", type=int, default=0)
    a.set_defaults(func=analyze)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
