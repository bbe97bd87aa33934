"""Robustness and invariance: FGSM/PGD attacks, robust-accuracy curves, corruptions,
invariance reports and the shape-bias cue-conflict probe."""

from keras_insight.robustness.attacks import AttackLoss, fgsm, pgd
from keras_insight.robustness.curve import RobustnessReport, robustness_curve

__all__ = ["AttackLoss", "RobustnessReport", "fgsm", "pgd", "robustness_curve"]
