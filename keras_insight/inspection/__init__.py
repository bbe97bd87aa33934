"""Inspection of weights and activations: filters, activation maps, model summary."""

from keras_insight.inspection.activations import activation_maps, dead_channel_fraction
from keras_insight.inspection.filters import conv_layers, filter_tiles, high_frequency_ratio
from keras_insight.inspection.summary import model_summary

__all__ = [
    "activation_maps",
    "conv_layers",
    "dead_channel_fraction",
    "filter_tiles",
    "high_frequency_ratio",
    "model_summary",
]
