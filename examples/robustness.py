"""Robustness: how easily small perturbations flip the model — PGD curve and examples.

    KERAS_INSIGHT_FAST=1 python examples/robustness.py   # well under a minute on 2 cores
    tensorboard --logdir logs/examples/robustness --samples_per_plugin=images=100

Scalars: ``robustness/linf_pgd/acc_eps_<e>`` (robust accuracy at each eps), its AUC and the
mean minimal perturbation; Images: ``robustness/curve`` and ``robustness/examples``
(clean | adversarial | amplified difference, with class names).
"""

import os

import keras
import numpy as np

import keras_insight as ki
from keras_insight import datasets
from keras_insight.callbacks import AdversarialRobustness
from keras_insight.cli import demo_model

LOG_DIR = os.path.join(os.environ.get("EXAMPLES_LOG_DIR", "logs/examples"), "robustness")
N_TRAIN = 2000 if os.environ.get("KERAS_INSIGHT_FAST") == "1" else 12000

keras.utils.set_random_seed(0)
(x_train, y_train), (x_val, y_val) = datasets.fashion_mnist()
x_train, y_train = x_train[:N_TRAIN].astype("float32"), y_train[:N_TRAIN]
names = datasets.class_names("fashion_mnist")
model = demo_model(x_train.shape[1:], len(names))
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
cb = AdversarialRobustness((x_val, y_val), LOG_DIR, num_samples=64, class_names=names)
model.fit(x_train, y_train, epochs=2, batch_size=128, verbose=2, callbacks=[cb])

x, y = x_val[:64].astype("float32"), y_val[:64]
x_adv = ki.pgd(model, x, y, eps=4 / 255, input_range=(0, 1))
print(f"largest change {np.abs(x_adv - x).max():.4f} <= eps {4 / 255:.4f}")
clean = (model.predict(x, verbose=0).argmax(-1) == y).mean()
adv = (model.predict(x_adv, verbose=0).argmax(-1) == y).mean()
print(f"accuracy on 64 images: clean {clean:.2f}, under PGD eps=4/255 {adv:.2f}")
print(f"tensorboard --logdir {LOG_DIR} --samples_per_plugin=images=100")
