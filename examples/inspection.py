"""Inspection: filters, activation maps and the model summary while a CNN trains.

    KERAS_INSIGHT_FAST=1 python examples/inspection.py   # well under a minute on 2 cores
    tensorboard --logdir logs/examples/inspection --samples_per_plugin=images=100

TensorBoard's Images tab gets ``filters/<layer>`` (one labelled block per filter) and
``activations/<layer>/sample_<i>`` (the input, then one tile per channel); Text gets
``model/summary``; Scalars get ``filters/<layer>/high_frequency_ratio`` (noisy filters are
near 0.5 and fall as training converges). The same pictures come from plain functions.
"""

import os

import keras

import keras_insight as ki
from keras_insight import datasets
from keras_insight.callbacks import ActivationMaps, FilterGrid, ModelSummary
from keras_insight.cli import demo_model

LOG_DIR = os.path.join(os.environ.get("EXAMPLES_LOG_DIR", "logs/examples"), "inspection")
N_TRAIN = 2000 if os.environ.get("KERAS_INSIGHT_FAST") == "1" else 12000

keras.utils.set_random_seed(0)
(x_train, y_train), (x_val, y_val) = datasets.fashion_mnist()
x_train, y_train = x_train[:N_TRAIN].astype("float32"), y_train[:N_TRAIN]
model = demo_model(x_train.shape[1:], 10)
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
callbacks = [
    ModelSummary(log_dir=LOG_DIR),
    FilterGrid(log_dir=LOG_DIR),
    ActivationMaps((x_val, y_val), LOG_DIR, layers=["conv1", "conv2"], num_images=2),
]
model.fit(x_train, y_train, epochs=2, batch_size=128, verbose=2, callbacks=callbacks)

# the functions behind the pictures
kernel = model.get_layer("conv1").kernel.numpy()  # (3, 3, 1, 16)
tiles = ki.filter_tiles(kernel)  # one [0, 1] tile per (filter, input channel)
print(
    f"conv1: {len(tiles)} filter tiles, high-frequency ratio {ki.high_frequency_ratio(kernel):.2f}"
)
maps = ki.activation_maps(model, x_val[:4].astype("float32"), ["conv2"])[0]
print(f"conv2 maps {maps.shape}, dead channels {ki.dead_channel_fraction(maps):.0%}")
rf = ki.receptive_field(model, "conv2")
print(f"a conv2 unit sees {rf.size[0]}x{rf.size[1]} input pixels (jump {rf.jump[0]})")
print(f"tensorboard --logdir {LOG_DIR} --samples_per_plugin=images=100")
