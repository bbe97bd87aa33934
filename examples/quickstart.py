"""Train a small CNN on Fashion-MNIST with the insight callbacks, then open TensorBoard.

Run: python examples/quickstart.py  (about a minute on 2 CPU cores)
"""

import keras

from keras_insight import datasets
from keras_insight.callbacks import suite
from keras_insight.cli import demo_model

(x_train, y_train), (x_val, y_val) = datasets.fashion_mnist()
model = demo_model(x_train.shape[1:], 10)
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(
    x_train,
    y_train,
    epochs=3,
    batch_size=128,
    validation_data=(x_val, y_val),
    callbacks=suite((x_val, y_val), log_dir="logs/quickstart"),
)
print("tensorboard --logdir logs/quickstart")
keras.backend.clear_session()
