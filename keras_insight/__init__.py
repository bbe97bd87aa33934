"""keras-insight: see what your CNN is learning while it trains.

Keras 3 callbacks and TensorBoard writers (filters, activations, embeddings, Grad-CAM,
saliency, occlusion, class synthesis, robustness) built on plain, batch-first functions.
"""

__version__ = "0.1.0"

from keras_insight.core import (  # noqa: E402
    channel,
    default_feature_layer,
    default_spatial_layer,
    features,
    gradients,
    infer_input_range,
    logits,
    neuron,
    resolve_layer,
    spatial_layers,
)

__all__ = [
    "__version__",
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
]
