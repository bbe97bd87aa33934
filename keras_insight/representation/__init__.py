"""Representation: embeddings (kNN, PCA, t-SNE, grid layout, Procrustes), projector export,
receptive fields, maximally activating patches, confusion matrices and linear probes."""

from keras_insight.representation.confusion import (
    confusion_from_labels,
    confusion_matrix,
    group_accuracy,
    linear_probe,
    per_class_accuracy,
)
from keras_insight.representation.embedding import (
    grid_layout,
    nearest_neighbors,
    pca,
    procrustes_align,
    tsne,
)
from keras_insight.representation.projector import sprite_layout, write_projector
from keras_insight.representation.receptive import (
    PatchResult,
    ReceptiveField,
    max_activating_patches,
    receptive_field,
    unit_projections,
)

__all__ = [
    "PatchResult",
    "ReceptiveField",
    "confusion_from_labels",
    "confusion_matrix",
    "grid_layout",
    "group_accuracy",
    "linear_probe",
    "max_activating_patches",
    "nearest_neighbors",
    "pca",
    "per_class_accuracy",
    "procrustes_align",
    "receptive_field",
    "sprite_layout",
    "tsne",
    "unit_projections",
    "write_projector",
]
