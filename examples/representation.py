"""Representation: what the last layers encode — projector, neighbours, confusion matrix.

    KERAS_INSIGHT_FAST=1 python examples/representation.py   # well under a minute on 2 cores
    tensorboard --logdir logs/examples/representation --samples_per_plugin=images=100

The Projector tab shows the validation features (one embedding per logged epoch, sprites,
labels, predicted class); Images show ``neighbors/fc`` (nearest validation images in
feature space) beside ``neighbors/fc/pixels`` (the nearest in pixel space: learned
similarity versus raw pixels) and ``confusion/matrix``; Scalars the per-class accuracy.
"""

import os

import keras

import keras_insight as ki
from keras_insight import datasets
from keras_insight.callbacks import ConfusionMatrix, EmbeddingProjector, NearestNeighbors
from keras_insight.cli import demo_model

LOG_DIR = os.path.join(os.environ.get("EXAMPLES_LOG_DIR", "logs/examples"), "representation")
N_TRAIN = 2000 if os.environ.get("KERAS_INSIGHT_FAST") == "1" else 12000

keras.utils.set_random_seed(0)
(x_train, y_train), (x_val, y_val) = datasets.fashion_mnist()
x_train, y_train = x_train[:N_TRAIN].astype("float32"), y_train[:N_TRAIN]
val = (x_val[:1000].astype("float32"), y_val[:1000])
names = datasets.class_names("fashion_mnist")
model = demo_model(x_train.shape[1:], len(names))
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
callbacks = [
    EmbeddingProjector(val, LOG_DIR, num_samples=500, class_names=names),
    NearestNeighbors(val, val, LOG_DIR, k=5, class_names=names),
    ConfusionMatrix(val, LOG_DIR, num_samples=1000, class_names=names),
]
model.fit(x_train, y_train, epochs=2, batch_size=128, verbose=2, callbacks=callbacks)

f = ki.features(model, val[0])  # (1000, 64): the layer before the classifier
coords, components, explained = ki.pca(f)
idx, dist = ki.nearest_neighbors(f[:3], f, k=4)  # column 0 is each query itself
print(f"features {f.shape}; PCA explains {explained[:2].sum():.0%} of the variance in 2-D")
for q, row in enumerate(idx):
    print(f"  {names[val[1][q]]:12s} -> " + ", ".join(names[val[1][j]] for j in row[1:]))
print(f"tensorboard --logdir {LOG_DIR} --samples_per_plugin=images=100")
