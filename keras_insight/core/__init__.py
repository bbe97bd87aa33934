"""Core: model introspection, targets, the gradient engine, input range and features."""

from keras_insight.core.engine import (
    GradientResult,
    compiled,
    forward_outputs,
    get_forward,
    gradients,
    logits,
    score_and_gradients,
    use_xla,
)
from keras_insight.core.features import features
from keras_insight.core.input_range import as_float32, infer_input_range, resolve_input_range
from keras_insight.core.introspection import (
    Forward,
    SubclassedModelError,
    default_feature_layer,
    default_spatial_layer,
    is_subclassed,
    iter_layers,
    layer_output_shapes,
    output_layer,
    require_spatial,
    resolve_layer,
    spatial_layers,
)
from keras_insight.core.targets import Target, channel, neuron, resolve_targets

__all__ = [
    "Forward",
    "GradientResult",
    "SubclassedModelError",
    "Target",
    "as_float32",
    "channel",
    "compiled",
    "default_feature_layer",
    "default_spatial_layer",
    "features",
    "forward_outputs",
    "get_forward",
    "gradients",
    "infer_input_range",
    "is_subclassed",
    "iter_layers",
    "layer_output_shapes",
    "logits",
    "neuron",
    "output_layer",
    "require_spatial",
    "resolve_input_range",
    "resolve_layer",
    "resolve_targets",
    "score_and_gradients",
    "spatial_layers",
    "use_xla",
]
