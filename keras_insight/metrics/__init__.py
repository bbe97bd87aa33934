"""Quality of explanations: deletion/insertion AUC, pointing game, energy in mask, and the
model-randomisation sanity check (SPEC 4.6)."""

from keras_insight.metrics.quality import (
    deletion_auc,
    energy_in_mask,
    insertion_auc,
    pointing_game,
    sanity_check,
)

__all__ = ["deletion_auc", "energy_in_mask", "insertion_auc", "pointing_game", "sanity_check"]
