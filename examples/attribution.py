"""Attribution: which pixels matter — Grad-CAM and saliency while training, and as functions.

    KERAS_INSIGHT_FAST=1 python examples/attribution.py   # well under a minute on 2 cores
    tensorboard --logdir logs/examples/attribution --samples_per_plugin=images=100

Images tab: ``gradcam/grad_cam/overlay`` and ``saliency/<method>/overlay``, the same 16
validation images every epoch, labelled with true and predicted class. The data are the
library's procedural shapes with a spurious background hue tied to the class (the "husky
on snow" lesson) and object masks, so the pointing-game scalar says whether the model
looks at the object or at the background.
"""

import os

import keras
import numpy as np

import keras_insight as ki
from keras_insight import datasets
from keras_insight.callbacks import GradCAM, Saliency
from keras_insight.cli import demo_model

LOG_DIR = os.path.join(os.environ.get("EXAMPLES_LOG_DIR", "logs/examples"), "attribution")
FAST = os.environ.get("KERAS_INSIGHT_FAST") == "1"

keras.utils.set_random_seed(0)
x, y, masks = datasets.shapes(600 if FAST else 3000, size=32, seed=0, spurious=0.9)
xv, yv, mv = datasets.shapes(200, size=32, seed=1)  # no shortcut in validation
names = datasets.class_names("shapes")[: int(y.max()) + 1]
model = demo_model(x.shape[1:], len(names))
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
callbacks = [
    GradCAM((xv, yv, mv), LOG_DIR, class_names=names),
    Saliency((xv, yv, mv), LOG_DIR, methods=("vanilla", "smoothgrad"), class_names=names),
]
model.fit(x, y, epochs=3, batch_size=64, verbose=2, callbacks=callbacks)

probe = xv[:8]
cam = ki.grad_cam(model, probe)  # (8, 32, 32), predicted class, last conv layer
smooth = ki.saliency(model, probe, method="smoothgrad", n=8 if FAST else 25)
ig, delta = ki.integrated_gradients(model, probe, return_delta=True, steps=32)
print(f"Grad-CAM {cam.shape}, SmoothGrad {smooth.shape}, IG {ig.shape}")
print(f"IG completeness: largest |sum(IG) - (f(x) - f(0))| = {np.abs(delta).max():.2e}")
print(f"pointing game on 8 images: {ki.pointing_game(cam, mv[:8]):.2f} (1 = always on the object)")
print(f"tensorboard --logdir {LOG_DIR} --samples_per_plugin=images=100")
