"""Tiny models and data for tests, examples and benchmarks (no pytest import here)."""

from keras_insight.testing.models import (
    MODEL_KINDS,
    SubclassedCNN,
    gap_cnn,
    linear_model,
    make_model,
    small_cnn,
)

__all__ = ["MODEL_KINDS", "SubclassedCNN", "gap_cnn", "linear_model", "make_model", "small_cnn"]
