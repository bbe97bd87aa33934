"""tf-keras-vis 0.8.7 Grad-CAM timing; prints one JSON line {name: seconds}."""

import json

import tensorflow as tf
from _peer_common import build, data, median_seconds
from tf_keras_vis.gradcam import Gradcam
from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
from tf_keras_vis.utils.scores import CategoricalScore

keras = tf.keras
model = build(keras)
x, y = data()
gradcam = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)
score = CategoricalScore(list(y))
# its Conv-layer seek checks against Keras 3 classes, which tf_keras layers are not: name it
t = median_seconds(
    lambda: gradcam(score, x, penultimate_layer="conv2", seek_penultimate_conv_layer=False)
)
print(json.dumps({"grad_cam 64 images": t}))
