"""shape_bias measures what it claims: models whose bias is known by construction.

Two kinds of evidence. Oracle data with 2K channels (object pixels of class c light channel c,
background pixels of class c light channel K + c) makes every cue readable, so the
bookkeeping is checked exactly. On `datasets.shapes(spurious=1.0)`, a hand-built colour
model (global average pooling: shape is invisible) must score ~0 and a CNN trained where
colour carries no label information (spurious=0.0, so only shape can be learnt) must score
high.
"""

import keras
import numpy as np
import pytest

from keras_insight.datasets import shapes
from keras_insight.robustness import cue_conflict, shape_bias

L = keras.layers
K = 3  # classes in the oracle data


def oracle_data(n=24, size=12, num_classes=K, seed=0):
    """(x, y, masks): a square object lighting channel y, background lighting channel K + y."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % num_classes
    masks = np.zeros((n, size, size), bool)
    for i in range(n):  # test data only
        r, c = rng.integers(1, size - 5, 2)
        masks[i, r : r + 4, c : c + 4] = True
    x = np.zeros((n, size, size, 2 * num_classes), np.float32)
    x[np.arange(n), :, :, y] = masks[np.arange(n)].astype(np.float32)
    x[np.arange(n), :, :, num_classes + y] = (~masks[np.arange(n)]).astype(np.float32)
    return x, y, masks


def cue_model(shape_weights, texture_weights, bias=None, size=12, num_classes=K):
    """Global max pool, then logit_c = shape_weights[c] * [shape cue is c]
    + texture_weights[c] * [texture cue is c] + bias[c]."""
    kernel = np.zeros((2 * num_classes, num_classes), np.float32)
    kernel[np.arange(num_classes), np.arange(num_classes)] = shape_weights
    kernel[num_classes + np.arange(num_classes), np.arange(num_classes)] = texture_weights
    dense = L.Dense(num_classes)
    m = keras.Sequential(
        [keras.Input((size, size, 2 * num_classes)), L.GlobalMaxPooling2D(), dense]
    )
    dense.set_weights([kernel, np.zeros(num_classes, np.float32) if bias is None else bias])
    return m


@pytest.fixture(scope="module")
def oracle():
    return oracle_data()


def test_cue_conflict_keeps_exactly_one_shape_and_one_texture(oracle):
    x, y, masks = oracle
    images, ys, yt = cue_conflict(x, y, masks, seed=0)
    assert images.shape == x.shape and (ys != yt).all()
    onehot = np.eye(K, dtype=np.float32)
    # the pasted object is the only shape cue: the texture image's own object is gone
    np.testing.assert_array_equal(images[..., :K].max(axis=(1, 2)), onehot[ys])
    np.testing.assert_array_equal(images[..., K:].max(axis=(1, 2)), onehot[yt])
    # every pixel is either object of the shape class or background of the texture class
    np.testing.assert_array_equal(images.sum(-1), np.ones(images.shape[:3], np.float32))
    # every image serves as the shape source exactly once
    np.testing.assert_array_equal(np.bincount(ys, minlength=K), np.bincount(y, minlength=K))


def test_cue_conflict_is_seeded_and_deterministic():
    x, y, masks = shapes(30, size=16, spurious=1.0, seed=3)
    a = cue_conflict(x, y, masks, seed=5)
    b = cue_conflict(x, y, masks, seed=5)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    c = cue_conflict(x, y, masks, seed=6)
    assert not np.array_equal(a[0], c[0])
    images, ys, yt = cue_conflict(x, y, masks, num_pairs=70, seed=0)
    assert len(images) == len(ys) == len(yt) == 70 and (ys != yt).all()
    assert images.min() >= 0.0 and images.max() <= 1.0


@pytest.mark.parametrize(
    "shape_w, texture_w, expected",
    [
        ((1, 1, 1), (0, 0, 0), 1.0),  # decides by shape only
        ((0, 0, 0), (1, 1, 1), 0.0),  # decides by texture only
    ],
)
def test_oracle_models_give_the_bias_they_were_built_with(oracle, shape_w, texture_w, expected):
    x, y, masks = oracle
    r = shape_bias(cue_model(shape_w, texture_w), x, y, masks, seed=1)
    assert r.shape_bias == expected
    assert r.shape_fraction == expected and r.texture_fraction == 1.0 - expected
    assert r.other_fraction == 0.0


def test_fraction_is_shape_over_shape_plus_texture_decisions(oracle):
    x, y, masks = oracle
    # texture class 0 outweighs any shape cue; otherwise shape wins: pred = yt if yt == 0 else ys
    r = shape_bias(cue_model((1, 1, 1), (2, 0.5, 0.5)), x, y, masks, seed=2)
    expected = np.where(r.texture_labels == 0, r.texture_labels, r.shape_labels)
    np.testing.assert_array_equal(r.predicted, expected)
    n_texture = int((r.texture_labels == 0).sum())
    assert 0 < n_texture < len(x)
    assert r.shape_bias == pytest.approx((len(x) - n_texture) / len(x))
    # a constant decision (class 2) follows shape, texture or neither: "other" is left out
    r = shape_bias(cue_model((0, 0, 0), (0, 0, 0), bias=np.float32([0, 0, 1])), x, y, masks)
    s, t = int((r.shape_labels == 2).sum()), int((r.texture_labels == 2).sum())
    assert s > 0 and t > 0
    assert r.shape_fraction == pytest.approx(s / len(x))
    assert r.texture_fraction == pytest.approx(t / len(x))
    assert r.other_fraction == pytest.approx(1 - (s + t) / len(x))
    assert r.shape_bias == pytest.approx(s / (s + t))
    assert set(r.scalars()) == {
        "shape_bias/shape_bias",
        "shape_bias/shape_fraction",
        "shape_bias/texture_fraction",
    }


def test_no_shape_or_texture_decision_gives_none():
    x, y, masks = oracle_data(n=12, num_classes=2)
    # two classes in the data, a 3-way head that always says class 2
    dense = L.Dense(3)
    m = keras.Sequential([keras.Input(x.shape[1:]), L.GlobalMaxPooling2D(), dense])
    dense.set_weights([np.zeros((4, 3), np.float32), np.float32([0, 0, 1])])
    r = shape_bias(m, x, y, masks)
    assert r.shape_bias is None and r.other_fraction == 1.0
    assert "shape_bias/shape_bias" not in r.scalars()


def test_binary_sigmoid_head_decides_by_the_logit_sign():
    x, y, masks = oracle_data(n=12, num_classes=2)
    # p(class 1) = sigmoid(shape cue 1 - shape cue 0): a pure shape model with a sigmoid head
    dense = L.Dense(1, activation="sigmoid")
    m = keras.Sequential([keras.Input(x.shape[1:]), L.GlobalMaxPooling2D(), dense])
    dense.set_weights([np.float32([[-4], [4], [0], [0]]), np.zeros(1, np.float32)])
    r = shape_bias(m, x, y, masks)
    assert r.shape_bias == 1.0
    np.testing.assert_array_equal(r.predicted, r.shape_labels)


@pytest.fixture(scope="module")
def probe():
    # background hue carries the label, so texture and shape name different classes
    return shapes(300, size=32, spurious=1.0, seed=1)


def test_colour_only_model_has_low_shape_bias(probe):
    x, y, masks = probe
    # mean RGB -> logits: class k has background hue k/3 (red, green, blue); global average
    # pooling is invariant to any permutation of pixels, so the shape is invisible to it
    dense = L.Dense(3, use_bias=False)
    m = keras.Sequential([keras.Input((32, 32, 3)), L.GlobalAveragePooling2D(), dense])
    dense.set_weights([np.eye(3, dtype=np.float32)])
    clean = m.predict(x, verbose=0).argmax(-1)
    assert (clean == y).mean() > 0.95  # it does solve the task, by colour
    r = shape_bias(m, x, y, masks, seed=0)
    assert r.shape_bias < 0.1
    assert r.texture_fraction > 0.9


def test_cnn_trained_where_only_shape_predicts_has_high_shape_bias(probe):
    # spurious=0.0: the background hue is independent of the label, only the shape is learnable
    xs, ys, _ = shapes(1500, size=32, spurious=0.0, seed=2)
    keras.utils.set_random_seed(0)
    m = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            L.Conv2D(16, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(32, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(32, 3, padding="same", activation="relu"),
            L.GlobalMaxPooling2D(),
            L.Dense(3),
        ]
    )
    m.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    m.fit(xs, ys, epochs=12, batch_size=64, verbose=0)  # seeds 0-2: bias 0.92-0.93
    x, y, masks = probe
    assert (m.predict(x, verbose=0).argmax(-1) == y).mean() > 0.8
    r = shape_bias(m, x, y, masks, seed=0)
    assert r.shape_bias > 0.8
    assert r.shape_fraction > 0.7


def test_one_hot_labels_give_the_same_probe(oracle):
    x, y, masks = oracle
    a = cue_conflict(x, y, masks, seed=0)
    b = cue_conflict(x, np.eye(K)[y], masks, seed=0)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_bad_masks_and_labels_raise(oracle):
    x, y, masks = oracle
    first = np.arange(len(x))[:, None, None] == 0
    # a full mask used to in-paint from the neighbouring image, leaking its texture
    with pytest.raises(ValueError, match=r"images \[0\] are empty or cover the whole image"):
        cue_conflict(x, y, np.where(first, True, masks))
    with pytest.raises(ValueError, match="empty or cover"):
        cue_conflict(x, y, np.where(first, False, masks))
    with pytest.raises(ValueError, match="integer class indices"):
        cue_conflict(x, y + 0.5, masks)
    with pytest.raises(ValueError, match="at least two classes"):
        cue_conflict(x, np.zeros_like(y), masks)
    with pytest.raises(ValueError, match="masks"):
        cue_conflict(x, y, masks[:, :-1])
    with pytest.raises(ValueError, match="out of range"):
        shape_bias(cue_model((1, 1), (0, 0), num_classes=2), x[..., [0, 1, 3, 4]], y, masks)
