"""Write the small per-sample, per-epoch summaries the Insight dashboard reads.

Called by the attribution callbacks (GradCAM, Saliency, Occlusion), which already hold the
probe set and its logits, so the dashboard costs no extra forward pass. All summaries use
plugin name ``insight`` and set ``data_class`` (see
:mod:`tensorboard_plugin_insight.metadata` for the tags).

The probe record of an epoch stores, per probe sample, the predicted class
``argmax_c z_c``, the top-k softmax probabilities ``p_c = exp(z_c) / sum_j exp(z_j)`` of
the logits ``z`` (k = min(3, classes)), the true class and ``pred == true``.

Example:
    >>> import numpy as np, tempfile
    >>> from keras_insight.tensorboard import get_writer
    >>> w = get_writer(tempfile.mkdtemp())
    >>> rec = write_probe(w, 0, np.array([[2.0, 0.0], [0.0, 1.0]]), np.array([0, 0]))
    >>> rec["pred"], rec["correct"]
    ([0, 1], [True, False])
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image
from tensorboard.compat.proto import summary_pb2

from tensorboard_plugin_insight import metadata as md

__all__ = ["probe_record", "write_confusion", "write_probe", "write_sample_images"]

TOP_K = 3


def _metadata(kind: str, data_class: int) -> summary_pb2.SummaryMetadata:
    content = json.dumps({"version": md.SCHEMA_VERSION, "kind": kind}).encode("utf-8")
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name=md.PLUGIN_NAME, content=content
        ),
        data_class=data_class,
    )


def _png(image: np.ndarray) -> bytes:
    img = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG")
    return buf.getvalue()


def probe_record(
    logits: Any, true: Any = None, class_names: Sequence[str] | None = None, *, k: int = TOP_K
) -> dict[str, Any]:
    """The JSON-ready record of one epoch: predictions, top-k probabilities, correctness.

    Example:
        >>> probe_record(np.array([[0.0, 0.0, 3.0]]), [2], k=2)["topk"][0][0]
        [2, 0.9094]
    """
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] < 1:
        raise ValueError(f"probe_record needs (N, classes) logits, got shape {z.shape}")
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    pred = z.argmax(1)
    top = np.argsort(-p, axis=1, kind="stable")[:, : min(k, z.shape[1])]
    rec: dict[str, Any] = {
        "num_classes": int(z.shape[1]),
        "pred": pred.tolist(),
        "topk": [[[int(c), round(float(p[i, c]), 4)] for c in row] for i, row in enumerate(top)],
        "true": None,
        "correct": None,
        "classes": None if class_names is None else [str(c) for c in class_names],
    }
    if true is not None:
        t = np.asarray(true).astype(np.int64).reshape(-1)
        rec["true"] = t.tolist()
        rec["correct"] = (t == pred).tolist()
    return rec


def write_probe(
    writer: Any,
    step: int,
    logits: Any,
    true: Any = None,
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Write ``insight/probe`` for ``step`` and return the record written.

    Several callbacks of a run share the probe set; the first to log a step writes the
    record, the others skip it (``InsightWriter.once``), so each step holds one record.
    """
    rec = probe_record(logits, true, class_names)
    once = getattr(writer, "once", None)
    if once is not None and not once(md.PROBE_TAG, step):
        return rec
    writer.summary(
        md.PROBE_TAG,
        np.array(json.dumps(rec), dtype=object),
        step,
        _metadata("probe", summary_pb2.DATA_CLASS_TENSOR),
    )
    return rec


def write_sample_images(writer: Any, tag: str, images: Any, step: int) -> None:
    """Write uint8 ``(N, H, W[, C])`` pictures as one PNG per probe sample under ``tag``
    (a blob sequence: sample ``i`` is blob ``i``)."""
    x = np.asarray(images)
    if x.dtype != np.uint8 or x.ndim not in (3, 4):
        raise ValueError(
            f"write_sample_images takes uint8 (N, H, W[, C]) pictures, got {x.dtype} {x.shape}"
        )
    blobs = np.array([_png(im) for im in x], dtype=object)
    writer.summary(tag, blobs, step, _metadata("images", summary_pb2.DATA_CLASS_BLOB_SEQUENCE))


def write_confusion(writer: Any, matrix: Any, step: int) -> None:
    """Write the confusion matrix (rows: true class, columns: predicted) for ``step``."""
    m = np.asarray(matrix).astype(np.int64)
    writer.summary(
        md.CONFUSION_TAG,
        np.array(json.dumps({"matrix": m.tolist()}), dtype=object),
        step,
        _metadata("confusion", summary_pb2.DATA_CLASS_TENSOR),
    )
