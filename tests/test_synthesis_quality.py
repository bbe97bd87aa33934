"""Class synthesis quality on Fashion-MNIST (issue 5): the images look like their class to the
model itself and to an independently trained CNN, and are not high-frequency noise.

A cheaper version of benchmarks/synthesis_quality.py; both use keras_insight.testing.fashion (smaller training set and models)."""

import numpy as np
import pytest
from conftest import require

from keras_insight import datasets
from keras_insight._config import iterations
from keras_insight.core import logits
from keras_insight.synthesis import class_logit, maximize
from keras_insight.testing.fashion import high_frequency_energy, train_fashion_cnn


@pytest.fixture(scope="module")
def trained():
    try:
        datasets.fashion_mnist()
    except Exception as exc:  # pragma: no cover - depends on the machine
        require(False, f"Fashion-MNIST not available offline: {exc}")
    n = iterations(12000, 6000)
    a, acc_a, xt = train_fashion_cnn(0, n, 2, width=16)
    b, acc_b, _ = train_fashion_cnn(1, n, 2, width=12)
    return a, b, xt, acc_a, acc_b


def test_class_images_are_recognised_and_transfer(trained):
    a, b, xt, acc_a, acc_b = trained
    assert acc_a > 0.7 and acc_b > 0.7
    imgs = maximize(a, [class_logit(c) for c in range(10)], steps=128, input_range=(0, 1), seed=0)
    classes = np.arange(10)
    assert (logits(a, imgs).argmax(-1) == classes).sum() >= 9
    assert (logits(b, imgs).argmax(-1) == classes).sum() >= 6
    ratio = high_frequency_energy(imgs) / high_frequency_energy(xt[:500])
    assert 0.5 <= ratio <= 2.0, ratio
