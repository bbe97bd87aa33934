"""Names shared by the writers (``keras_insight.dashboard.summary``) and the readers.

Standard library only: TensorBoard imports this package when it starts.

The insight plugin's summaries (plugin name ``insight``; every one carries a
``data_class``, without which TensorBoard's data provider would not list it):

- ``insight/probe`` (tensor): a JSON string per logged epoch with the probe set's true
  classes, predicted classes, top-k probabilities, correctness and the class names.
- ``insight/input`` (blob sequence): one PNG per probe sample (the input as shown).
- ``insight/overlay/<method>`` (blob sequence): one PNG per probe sample, e.g.
  ``insight/overlay/gradcam/grad_cam`` or ``insight/overlay/saliency/vanilla``.
- ``insight/confusion`` (tensor): a JSON string ``{"matrix": [[...]]}`` per epoch.

Example:
    >>> overlay_tag("gradcam/grad_cam")
    'insight/overlay/gradcam/grad_cam'
"""

from __future__ import annotations

__all__ = [
    "CONFUSION_TAG",
    "DEFAULT_MAX_IMAGES_PER_TAG",
    "INPUT_TAG",
    "OVERLAY_PREFIX",
    "PLUGIN_NAME",
    "PROBE_TAG",
    "SCHEMA_VERSION",
    "overlay_tag",
]

PLUGIN_NAME = "insight"
DEFAULT_MAX_IMAGES_PER_TAG = 2000  # the report's default cap (``--max-images-per-tag``)
SCHEMA_VERSION = 1
PROBE_TAG = "insight/probe"
INPUT_TAG = "insight/input"
OVERLAY_PREFIX = "insight/overlay/"
CONFUSION_TAG = "insight/confusion"


def overlay_tag(method_tag: str) -> str:
    """The insight tag holding per-sample overlays of an attribution method's tag."""
    return OVERLAY_PREFIX + method_tag
