"""CNNs tolerate the variation they were trained on: the same model trained with and
without rotation augmentation, and its invariance curves.

Trains a small CNN twice on Fashion-MNIST (falls back to scikit-learn's digits when the
Fashion-MNIST files are not available offline), once plain and once with
``RandomRotation`` (+-30 degrees) in front, with :class:`Invariance` and
:class:`AdversarialRobustness` logging to ``logs/invariance_augmentation/<run>``. At the
end it prints the accuracy under rotation per severity for both runs: the augmented
model's curve stays flat where the plain one falls. A few minutes on 2 CPU cores.

    python examples/invariance_augmentation.py
    tensorboard --logdir logs/invariance_augmentation
"""

from __future__ import annotations

import os
import sys

import keras

from keras_insight import datasets
from keras_insight.callbacks.robustness import AdversarialRobustness, Invariance
from keras_insight.robustness import invariance_report

FAST = os.environ.get("KERAS_INSIGHT_FAST") == "1"  # the test suite's speed knob
EPOCHS = 1 if FAST else 4
N_TRAIN = 2000 if FAST else 12000


def load():
    try:
        (x, y), (xt, yt) = datasets.fashion_mnist(download=False)
        return x[:N_TRAIN], y[:N_TRAIN], xt[:2000], yt[:2000]
    except Exception as exc:  # offline without the files: small digits instead
        print(f"Fashion-MNIST unavailable ({exc}); using digits.", file=sys.stderr)
        (x, y), (xt, yt) = datasets.digits()
        return x, y, xt, yt


def make_model(input_shape, num_classes, augment: bool) -> keras.Model:
    keras.utils.set_random_seed(0)
    L = keras.layers
    aug = [L.RandomRotation(30 / 360, fill_mode="nearest", seed=0)] if augment else []
    return keras.Sequential(
        [
            keras.Input(input_shape),
            *aug,
            L.Conv2D(32, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(64, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(64, 3, padding="same", activation="relu"),
            L.GlobalAveragePooling2D(),
            L.Dense(num_classes, activation="softmax"),
        ]
    )


def main() -> None:
    x, y, xt, yt = load()
    num_classes = int(y.max()) + 1
    results = {}
    for run, augment in (("plain", False), ("rotation_aug", True)):
        model = make_model(x.shape[1:], num_classes, augment)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        log_dir = os.path.join(
            os.environ.get("EXAMPLES_LOG_DIR", "logs"), "invariance_augmentation", run
        )
        callbacks = [
            Invariance((xt, yt), log_dir, num_samples=256, input_range=(0, 1)),
            AdversarialRobustness((xt, yt), log_dir, freq=2, num_samples=64, input_range=(0, 1)),
        ]
        model.fit(
            x,
            y,
            epochs=EPOCHS,
            batch_size=128,
            validation_data=(xt, yt),
            callbacks=callbacks,
            verbose=2,
        )
        results[run] = invariance_report(
            model, xt[:1000], yt[:1000], transforms=("rotate", "noise"), input_range=(0, 1)
        )
    print("\naccuracy under rotation (severity 0..5 = 0, 5, 10, 15, 20, 30 degrees)")
    for run, r in results.items():
        curve = [r.clean_accuracy, *r.accuracy["rotate"]]
        print(f"  {run:<13}", " ".join(f"{a:.3f}" for a in curve))
    print("accuracy under Gaussian noise (severity 0..5)")
    for run, r in results.items():
        curve = [r.clean_accuracy, *r.accuracy["noise"]]
        print(f"  {run:<13}", " ".join(f"{a:.3f}" for a in curve))


if __name__ == "__main__":
    main()
