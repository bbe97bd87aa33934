"""Train a small CNN on Fashion-MNIST with the insight callbacks, then open TensorBoard.

Run: python examples/quickstart.py  (about a minute on 2 CPU cores)
"""

import os

import keras

from keras_insight import datasets
from keras_insight.callbacks import suite
from keras_insight.cli import demo_model

(x_train, y_train), (x_val, y_val) = datasets.fashion_mnist()
if os.environ.get("KERAS_INSIGHT_FAST") == "1":  # the test suite's speed knob
    x_train, y_train = x_train[:2000], y_train[:2000]
LOG_DIR = os.path.join(os.environ.get("EXAMPLES_LOG_DIR", "logs"), "quickstart")
model = demo_model(x_train.shape[1:], 10)
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(
    x_train,
    y_train,
    epochs=1 if os.environ.get("KERAS_INSIGHT_FAST") == "1" else 3,
    batch_size=128,
    validation_data=(x_val, y_val),
    # overhead=None: every view in a 3-epoch tour; in real runs leave the default budget
    # (about 3% of training time), which postpones what does not fit
    callbacks=suite((x_val, y_val), log_dir=LOG_DIR, overhead=None),
)
print(f"tensorboard --logdir {LOG_DIR} --samples_per_plugin=images=100")
keras.backend.clear_session()
