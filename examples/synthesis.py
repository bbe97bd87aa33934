"""Synthesis: what the network looks for — class images by activation maximisation.

    KERAS_INSIGHT_FAST=1 python examples/synthesis.py   # well under a minute on 2 cores
    tensorboard --logdir logs/examples/synthesis --samples_per_plugin=images=100

Images tab: ``synthesis/classes``, one labelled image per class (what maximises each class
score), next to its difference from the data mean. See docs/synthesis.md for the
parameterisations (pixels, Fourier, the data prior) and objectives that add like numbers.
"""

import os

import keras
import numpy as np

import keras_insight as ki
from keras_insight import datasets
from keras_insight.callbacks import ClassSynthesis
from keras_insight.cli import demo_model
from keras_insight.synthesis.objectives import l2

LOG_DIR = os.path.join(os.environ.get("EXAMPLES_LOG_DIR", "logs/examples"), "synthesis")
FAST = os.environ.get("KERAS_INSIGHT_FAST") == "1"
N_TRAIN = 2000 if FAST else 12000

keras.utils.set_random_seed(0)
(x_train, y_train), (x_val, y_val) = datasets.fashion_mnist()
x_train, y_train = x_train[:N_TRAIN].astype("float32"), y_train[:N_TRAIN]
names = datasets.class_names("fashion_mnist")
model = demo_model(x_train.shape[1:], len(names))
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
synth = ClassSynthesis(LOG_DIR, validation_data=(x_val, y_val), class_names=names, steps=64)
model.fit(x_train, y_train, epochs=2, batch_size=128, verbose=2, callbacks=[synth])

# the function: maximise two class logits at once, minus a small L2 penalty
objectives = [ki.class_logit(c) - 0.01 * l2() for c in (1, 7)]
images, history = ki.maximize(
    model,
    objectives,
    steps=32 if FAST else 256,
    input_range=(0, 1),
    image_shape=(28, 28, 1),
    return_history=True,
)
print(
    f"synthesised {images.shape}; objective per image rose from "
    f"{np.round(history[0], 2).tolist()} to {np.round(history[-1], 2).tolist()}"
)
print(f"tensorboard --logdir {LOG_DIR} --samples_per_plugin=images=100")
