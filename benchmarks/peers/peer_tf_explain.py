"""tf-explain 0.3.1 Grad-CAM and occlusion timings; prints one JSON line {name: seconds}.

Run with TF_USE_LEGACY_KERAS=1 (tf_keras) as tf-explain expects Keras 2 models."""

import json

import tensorflow as tf
from _peer_common import build, data, median_seconds
from tf_explain.core.grad_cam import GradCAM
from tf_explain.core.occlusion_sensitivity import OcclusionSensitivity

keras = tf.keras
model = build(keras)
x, y = data()
gc = GradCAM()
t_gc = median_seconds(lambda: gc.explain((x, None), model, class_index=3, layer_name="conv2"))
occ = OcclusionSensitivity()
t_occ = median_seconds(lambda: occ.explain((x[:1], None), model, class_index=3, patch_size=4))
print(json.dumps({"grad_cam 64 images": t_gc, "occlusion patch 4, 1 image": t_occ}))
