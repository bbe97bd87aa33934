"""Explain a saved model from the command line: ``keras-insight analyze`` on your own files.

    KERAS_INSIGHT_FAST=1 python examples/analyze_saved_model.py   # about a minute on 2 cores

Stands in for "your" model and data: trains a small CNN, saves it as ``model.keras``,
writes validation images as ``val.npz`` (arrays ``x`` and ``y``) and as an image folder
with one subfolder per class, then runs the command on both, exactly as you would:

    keras-insight analyze model.keras --data val.npz --class-names names.txt --log-dir D
    keras-insight analyze model.keras --data images/ --input-range 0,1 --methods gradcam,confusion
    tensorboard --logdir D --samples_per_plugin=images=100
"""

import os
import subprocess
import sys

import keras
import numpy as np
from PIL import Image

from keras_insight import datasets
from keras_insight.cli import demo_model

OUT = os.path.join(os.environ.get("EXAMPLES_LOG_DIR", "logs/examples"), "analyze_saved_model")
N_TRAIN = 2000 if os.environ.get("KERAS_INSIGHT_FAST") == "1" else 12000
os.makedirs(OUT, exist_ok=True)

# 1. "your" model and data
keras.utils.set_random_seed(0)
(x_train, y_train), (x_val, y_val) = datasets.fashion_mnist()
names = datasets.class_names("fashion_mnist")
model = demo_model(x_train.shape[1:], len(names))
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train[:N_TRAIN].astype("float32"), y_train[:N_TRAIN], epochs=1, verbose=2)
model.save(os.path.join(OUT, "model.keras"))
np.savez(os.path.join(OUT, "val.npz"), x=x_val[:500], y=y_val[:500])
with open(os.path.join(OUT, "names.txt"), "w") as fh:
    fh.write("\n".join(names) + "\n")
for c in range(3):  # an image folder: one subfolder per class, sorted names are the classes
    folder = os.path.join(OUT, "images", f"{c}_{names[c].replace('/', '-')}")
    os.makedirs(folder, exist_ok=True)
    for i in np.flatnonzero(y_val == c)[:10]:
        Image.fromarray((x_val[i, ..., 0] * 255).astype("uint8")).save(f"{folder}/{i}.png")


# 2. the command line (the installed `keras-insight` is the same as `python -m keras_insight.cli`)
def keras_insight(*args: str) -> None:
    cmd = [sys.executable, "-m", "keras_insight.cli", *args]
    print("$ keras-insight " + " ".join(args), flush=True)
    subprocess.run(cmd, check=True)


log_dir = os.path.join(OUT, "logs")
keras_insight(
    "analyze", os.path.join(OUT, "model.keras"), "--data", os.path.join(OUT, "val.npz"),
    "--class-names", os.path.join(OUT, "names.txt"), "--level", "light", "--methods",
    "summary,filters,gradcam,confusion", "--log-dir", log_dir,
)  # fmt: skip
folder_run = (
    "analyze", os.path.join(OUT, "model.keras"), "--data", os.path.join(OUT, "images"),
    "--input-range", "0,1", "--methods", "gradcam,confusion", "--log-dir", log_dir + "_folder",
)  # fmt: skip
if os.environ.get("KERAS_INSIGHT_FAST") == "1":  # the test suite: one TensorFlow start is enough
    print("next, on the image folder: keras-insight " + " ".join(folder_run))
else:
    keras_insight(*folder_run)
