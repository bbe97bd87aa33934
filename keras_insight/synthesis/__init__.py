"""Synthesis: what the network looks for (activation maximisation, DeepDream, feature
inversion, texture synthesis, style transfer).

Objectives compose like numbers (``class_logit(3) - 0.1 * l2()``); parameterisation,
transforms and objective are three separate choices (Olah et al. 2017).
"""

from keras_insight.synthesis.methods import (
    deep_dream,
    invert,
    style_transfer,
    synthesize_texture,
    texture_loss,
)
from keras_insight.synthesis.objectives import (
    INPUT,
    Context,
    Objective,
    alpha_norm,
    channel,
    class_logit,
    feature_match,
    gram_match,
    gram_matrix,
    l2,
    layer_l2,
    neuron,
    total_variation,
)
from keras_insight.synthesis.optimize import blur_every, maximize, objective_values
from keras_insight.synthesis.param import FourierParam, Param, PixelParam, l2_ball
from keras_insight.synthesis.prior import DataPrior, data_prior, principal_components
from keras_insight.synthesis.transforms import (
    crop,
    default_transforms,
    jitter,
    pad,
    roll,
    rotate,
    scale,
)

__all__ = [
    "INPUT",
    "Context",
    "DataPrior",
    "FourierParam",
    "Objective",
    "Param",
    "PixelParam",
    "alpha_norm",
    "blur_every",
    "channel",
    "class_logit",
    "crop",
    "data_prior",
    "deep_dream",
    "default_transforms",
    "feature_match",
    "gram_match",
    "gram_matrix",
    "invert",
    "jitter",
    "l2",
    "l2_ball",
    "layer_l2",
    "maximize",
    "neuron",
    "objective_values",
    "pad",
    "principal_components",
    "roll",
    "rotate",
    "scale",
    "style_transfer",
    "synthesize_texture",
    "texture_loss",
    "total_variation",
]
