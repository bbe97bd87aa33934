"""Tiny Keras models of every kind: Sequential (with/without Input), Functional, nested,
subclassed. Seeded so tests are deterministic."""

from __future__ import annotations

import keras
import numpy as np

MODEL_KINDS = (
    "sequential",
    "sequential_no_input",
    "functional",
    "nested",
    "nested_functional",
    "subclassed",
)


def small_cnn(
    input_shape=(16, 16, 3), num_classes: int = 4, *, head: str = "softmax", seed: int = 0
) -> keras.Model:
    """Conv(8, relu) -> MaxPool -> Conv(16, relu) [name "conv2"] -> GAP -> Dense(head)."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(2, name="pool1"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(num_classes, activation=head, name="logits"),
        ],
        name="small_cnn",
    )


def gap_cnn(input_shape=(16, 16, 3), num_classes: int = 4, *, seed: int = 0) -> keras.Model:
    """Functional CNN ending in GAP + Dense(softmax): the CAM architecture."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input(input_shape)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inp)
    h = keras.layers.Conv2D(12, 3, padding="same", activation="relu", name="conv2")(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    out = keras.layers.Dense(num_classes, activation="softmax", name="logits")(h)
    return keras.Model(inp, out, name="gap_cnn")


def linear_model(input_shape=(6, 6, 2), num_classes: int = 3, *, seed: int = 0) -> keras.Model:
    """Flatten -> Dense(softmax): class logit c is w_c . x + b_c exactly."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(num_classes, activation="softmax", name="logits"),
        ],
        name="linear",
    )


class SubclassedCNN(keras.Model):
    """A subclassed CNN: only ``model(x)`` is known."""

    def __init__(self, num_classes: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(8, 3, padding="same", activation="relu")
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.dense = keras.layers.Dense(num_classes)

    def call(self, x, training=False):
        return self.dense(self.pool(self.conv(x)))


def make_model(
    kind: str, input_shape=(16, 16, 3), num_classes: int = 4, seed: int = 0
) -> keras.Model:
    """Build the same small CNN as each model kind in :data:`MODEL_KINDS`.

    Layer names are stable across kinds: "conv1", "conv2", "gap", "logits".
    """
    keras.utils.set_random_seed(seed)
    L = keras.layers

    def body():
        return [
            L.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
            L.MaxPooling2D(2, name="pool1"),
            L.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
        ]

    if kind == "sequential":
        return keras.Sequential(
            [
                keras.Input(input_shape),
                *body(),
                L.GlobalAveragePooling2D(name="gap"),
                L.Dense(num_classes, activation="softmax", name="logits"),
            ]
        )
    if kind == "sequential_no_input":
        m = keras.Sequential(
            [
                *body(),
                L.GlobalAveragePooling2D(name="gap"),
                L.Dense(num_classes, activation="softmax", name="logits"),
            ]
        )
        m(np.zeros((1, *input_shape), "float32"))
        return m
    if kind == "functional":
        inp = keras.Input(input_shape)
        h = inp
        for layer in body():
            h = layer(h)
        h = L.GlobalAveragePooling2D(name="gap")(h)
        return keras.Model(inp, L.Dense(num_classes, activation="softmax", name="logits")(h))
    if kind == "nested":
        inp = keras.Input(input_shape)
        h = inp
        for layer in body():
            h = layer(h)
        base = keras.Model(inp, h, name="base")
        return keras.Sequential(
            [
                keras.Input(input_shape),
                base,
                L.GlobalAveragePooling2D(name="gap"),
                L.Dense(num_classes, activation="softmax", name="logits"),
            ]
        )
    if kind == "nested_functional":  # transfer-learning shape: a base model inside a Functional
        inp = keras.Input(input_shape)
        h = inp
        for layer in body():
            h = layer(h)
        base = keras.Model(inp, h, name="base")
        outer_in = keras.Input(input_shape)
        h = L.GlobalAveragePooling2D(name="gap")(base(outer_in))
        return keras.Model(outer_in, L.Dense(num_classes, activation="softmax", name="logits")(h))
    if kind == "subclassed":
        m = SubclassedCNN(num_classes)
        m(np.zeros((1, *input_shape), "float32"))
        return m
    raise ValueError(f"Unknown model kind {kind!r}; choose one of {MODEL_KINDS}.")


def multi_input_cnn(input_shape=(16, 16, 3), num_classes: int = 4, *, seed: int = 0):
    """Functional model with two inputs: an image ("image") and a 4-vector ("meta")."""
    keras.utils.set_random_seed(seed)
    L = keras.layers
    img = keras.Input(input_shape, name="image")
    meta = keras.Input((4,), name="meta")
    h = L.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(img)
    h = L.GlobalAveragePooling2D(name="gap")(h)
    h = L.Concatenate(name="concat")([h, L.Dense(4, name="meta_dense")(meta)])
    out = L.Dense(num_classes, activation="softmax", name="logits")(h)
    return keras.Model([img, meta], out, name="multi_input")


def multi_output_cnn(input_shape=(16, 16, 3), num_classes: int = 4, *, seed: int = 0):
    """Functional model with two heads: "class_head" (softmax) and "box_head" (4 linear)."""
    keras.utils.set_random_seed(seed)
    L = keras.layers
    inp = keras.Input(input_shape)
    h = L.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inp)
    h = L.GlobalAveragePooling2D(name="gap")(h)
    cls = L.Dense(num_classes, activation="softmax", name="class_head")(h)
    box = L.Dense(4, name="box_head")(h)
    return keras.Model(inp, [cls, box], name="multi_output")


def mlp(input_shape=(16, 16, 3), num_classes: int = 4, *, seed: int = 0) -> keras.Model:
    """An image MLP without convolutions: Flatten -> Dense(32, relu) -> Dense(softmax)."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dense(num_classes, activation="softmax", name="logits"),
        ],
        name="mlp",
    )


APPLICATIONS = ("MobileNetV2", "ResNet50", "EfficientNetB0", "frozen_MobileNetV2")


def application(name: str, input_shape=(64, 64, 3), num_classes: int = 4, *, seed: int = 0):
    """A ``keras.applications`` model with random weights (``weights=None``; nothing is
    downloaded), or ``"frozen_MobileNetV2"``: a frozen MobileNetV2 base inside a Sequential
    (the transfer-learning shape)."""
    keras.utils.set_random_seed(seed)
    if name == "frozen_MobileNetV2":
        base = keras.applications.MobileNetV2(
            weights=None, include_top=False, input_shape=input_shape
        )
        base.trainable = False
        return keras.Sequential(
            [
                keras.Input(input_shape),
                base,
                keras.layers.GlobalAveragePooling2D(name="gap"),
                keras.layers.Dense(num_classes, activation="softmax", name="logits"),
            ],
            name="frozen_mobilenetv2",
        )
    if name not in APPLICATIONS:
        raise ValueError(f"Unknown application {name!r}; choose one of {APPLICATIONS}.")
    return getattr(keras.applications, name)(
        weights=None, input_shape=input_shape, classes=num_classes
    )
