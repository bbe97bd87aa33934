"""Keras callbacks that log what the network learns to TensorBoard.

Every callback shares one constructor shape (see :class:`InsightCallback`) and writes
under ``<log_dir>/insight/`` through one writer per run.
"""

from keras_insight.callbacks.attribution import GradCAM, Occlusion, Saliency
from keras_insight.callbacks.base import InsightCallback
from keras_insight.callbacks.budget import OverheadBudget
from keras_insight.callbacks.inspection import ActivationMaps, FilterGrid, ModelSummary
from keras_insight.callbacks.presets import suite
from keras_insight.callbacks.representation import (
    ConfusionMatrix,
    EmbeddingPlot,
    EmbeddingProjector,
    LinearProbe,
    MaxActivatingPatches,
    NearestNeighbors,
)
from keras_insight.callbacks.robustness import AdversarialRobustness, Invariance, ShapeBias
from keras_insight.callbacks.synthesis import ClassSynthesis, FeatureInversion, FilterSynthesis

__all__ = [
    "ActivationMaps",
    "AdversarialRobustness",
    "ClassSynthesis",
    "ConfusionMatrix",
    "EmbeddingPlot",
    "EmbeddingProjector",
    "FeatureInversion",
    "FilterGrid",
    "FilterSynthesis",
    "GradCAM",
    "InsightCallback",
    "Invariance",
    "LinearProbe",
    "MaxActivatingPatches",
    "ModelSummary",
    "NearestNeighbors",
    "Occlusion",
    "OverheadBudget",
    "Saliency",
    "ShapeBias",
    "suite",
]
