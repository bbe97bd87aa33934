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
t = median_seconds(lambda: gradcam(score, x, penultimate_layer="conv2"))
print(json.dumps({"grad_cam 64 images": t}))
