"""Robustness and invariance: FGSM/PGD attacks, robust-accuracy curves, corruptions,
invariance reports and the shape-bias cue-conflict probe."""

from keras_insight.robustness.attacks import AttackLoss, fgsm, pgd
from keras_insight.robustness.corruptions import (
    SEVERITY_MAGNITUDES,
    TRANSFORMS,
    InvarianceReport,
    corrupt,
    corruption_magnitude,
    invariance_report,
)
from keras_insight.robustness.curve import RobustnessReport, robustness_curve
from keras_insight.robustness.shape_bias import ShapeBiasReport, cue_conflict, shape_bias

__all__ = [
    "SEVERITY_MAGNITUDES",
    "TRANSFORMS",
    "AttackLoss",
    "InvarianceReport",
    "RobustnessReport",
    "ShapeBiasReport",
    "corrupt",
    "corruption_magnitude",
    "cue_conflict",
    "fgsm",
    "invariance_report",
    "pgd",
    "robustness_curve",
    "shape_bias",
]
