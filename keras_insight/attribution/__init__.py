"""Attribution: which pixels matter. Saliency family, integrated gradients, the CAM family
and occlusion, as pure batch-first functions returning raw float32 maps."""

from keras_insight.attribution._common import degenerate
from keras_insight.attribution.cam import (
    cam,
    grad_cam,
    grad_cam_plus_plus,
    guided_grad_cam,
    score_cam,
)
from keras_insight.attribution.occlusion import occlusion, patch_masks
from keras_insight.attribution.saliency import (
    METHODS,
    deconvnet_relu,
    gauss_legendre,
    guided_relu,
    integrated_gradients,
    saliency,
    smooth,
    smoothgrad_noise,
)
from keras_insight.attribution.segmentation import saliency_segmentation  # needs cv2 on call

__all__ = [
    "METHODS",
    "cam",
    "deconvnet_relu",
    "degenerate",
    "gauss_legendre",
    "grad_cam",
    "grad_cam_plus_plus",
    "guided_grad_cam",
    "guided_relu",
    "integrated_gradients",
    "occlusion",
    "patch_masks",
    "saliency",
    "saliency_segmentation",
    "score_cam",
    "smooth",
    "smoothgrad_noise",
]
