"""Keras callbacks that log what the network learns to TensorBoard."""

from keras_insight.callbacks.base import InsightCallback
from keras_insight.callbacks.inspection import ActivationMaps, FilterGrid, ModelSummary
from keras_insight.callbacks.presets import suite

__all__ = ["ActivationMaps", "FilterGrid", "InsightCallback", "ModelSummary", "suite"]
