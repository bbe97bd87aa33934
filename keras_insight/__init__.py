"""keras-insight: see what your CNN is learning while it trains.

Keras 3 callbacks and TensorBoard writers (filters, activations, embeddings, Grad-CAM,
saliency, occlusion, class synthesis, robustness) built on plain, batch-first functions.
Callbacks live in :mod:`keras_insight.callbacks`; the method families in
``attribution``, ``representation``, ``synthesis``, ``robustness``, ``metrics``,
``inspection``; pictures in ``render``; TensorBoard plumbing in ``tensorboard``.

Example:
    >>> import keras_insight as ki
    >>> callable(ki.grad_cam) and callable(ki.pgd) and callable(ki.maximize)
    True
"""

import importlib

from keras_insight._config import check_environment

check_environment()  # one-line ImportError without TensorFlow or on another Keras backend

__version__ = "0.1.0"

# Where each public name lives. Submodules are imported on first use, so `import keras_insight`
# and the `keras-insight` command start without TensorFlow (`--help` well under a second).
_SUBMODULES = ("callbacks", "datasets", "render")
_API = {
    "attribution": (
        "cam",
        "grad_cam",
        "grad_cam_plus_plus",
        "guided_grad_cam",
        "integrated_gradients",
        "occlusion",
        "saliency",
        "saliency_segmentation",
        "score_cam",
        "smooth",
    ),
    "core": (
        "channel",
        "default_feature_layer",
        "default_spatial_layer",
        "features",
        "gradients",
        "infer_input_range",
        "logits",
        "neuron",
        "resolve_layer",
        "spatial_layers",
    ),
    "inspection": (
        "activation_maps",
        "dead_channel_fraction",
        "filter_tiles",
        "high_frequency_ratio",
        "model_summary",
    ),
    "metrics": (
        "deletion_auc",
        "energy_in_mask",
        "insertion_auc",
        "pointing_game",
        "sanity_check",
    ),
    "representation": (
        "confusion_matrix",
        "grid_layout",
        "linear_probe",
        "max_activating_patches",
        "nearest_neighbors",
        "pca",
        "procrustes_align",
        "receptive_field",
        "tsne",
        "write_projector",
    ),
    "robustness": (
        "corrupt",
        "fgsm",
        "invariance_report",
        "pgd",
        "robustness_curve",
        "shape_bias",
    ),
    "synthesis": (
        "class_logit",
        "data_prior",
        "deep_dream",
        "invert",
        "l2_ball",
        "maximize",
        "style_transfer",
        "synthesize_texture",
    ),
}
_WHERE = {name: module for module, names in _API.items() for name in names}

__all__ = [
    "__version__",
    "activation_maps",
    "callbacks",
    "cam",
    "channel",
    "class_logit",
    "confusion_matrix",
    "corrupt",
    "data_prior",
    "datasets",
    "dead_channel_fraction",
    "deep_dream",
    "default_feature_layer",
    "default_spatial_layer",
    "deletion_auc",
    "energy_in_mask",
    "features",
    "fgsm",
    "filter_tiles",
    "grad_cam",
    "grad_cam_plus_plus",
    "gradients",
    "grid_layout",
    "guided_grad_cam",
    "high_frequency_ratio",
    "infer_input_range",
    "insertion_auc",
    "integrated_gradients",
    "invariance_report",
    "invert",
    "l2_ball",
    "linear_probe",
    "logits",
    "max_activating_patches",
    "maximize",
    "model_summary",
    "nearest_neighbors",
    "neuron",
    "occlusion",
    "pca",
    "pgd",
    "pointing_game",
    "procrustes_align",
    "receptive_field",
    "render",
    "resolve_layer",
    "robustness_curve",
    "saliency",
    "saliency_segmentation",
    "sanity_check",
    "score_cam",
    "shape_bias",
    "smooth",
    "spatial_layers",
    "style_transfer",
    "synthesize_texture",
    "tsne",
    "write_projector",
]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
