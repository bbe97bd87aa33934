"""Read event files back into numpy: images as uint8 arrays, scalars as floats, text as str.

The reader goes through TensorBoard's own ``EventAccumulator`` (the loader behind
``tensorboard --load_fast=false``), so what it returns is what TensorBoard shows.
"""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.util import tensor_util

__all__ = ["decode_png", "read_events"]

_INSIGHT_SUBDIR = "insight"


def decode_png(data: bytes) -> np.ndarray:
    """Decode PNG bytes to uint8 ``(H, W, C)`` (grey keeps ``C = 1``).

    Example:
        >>> buf = io.BytesIO(); Image.new("L", (3, 2), 7).save(buf, "PNG")
        >>> decode_png(buf.getvalue()).shape
        (2, 3, 1)
    """
    with Image.open(io.BytesIO(data)) as img:
        arr = np.asarray(img)
    if arr.dtype != np.uint8:
        raise ValueError(f"expected an 8-bit PNG, got {arr.dtype}")
    return arr[..., None] if arr.ndim == 2 else arr


def _has_event_files(path: str) -> bool:
    return any("tfevents" in name for name in os.listdir(path))


def _decode(plugin: str, ndarray: np.ndarray) -> Any:
    if plugin == "images":
        # Image summaries are a string vector [width, height, png_0, png_1, ...].
        return [decode_png(bytes(b)) for b in ndarray.reshape(-1)[2:]]
    if plugin == "scalars":
        return float(ndarray)
    if plugin == "text":
        flat = ndarray.reshape(-1)
        texts = [b.decode("utf-8") if isinstance(b, bytes) else str(b) for b in flat]
        return texts[0] if ndarray.ndim == 0 else texts
    return ndarray


def read_events(path: str | os.PathLike) -> dict[str, list[tuple[int, Any]]]:
    """Read every summary under ``path`` into ``{tag: [(step, value), ...]}``.

    ``path`` is an event file or a run directory; a ``log_dir`` holding no event files but
    an ``insight/`` run is read through that run. Values by plugin: images -> list of
    uint8 ``(H, W, C)`` arrays (one per image in the summary), scalars -> float,
    text -> str; anything else -> the raw numpy tensor. Entries are in step order.

    Example:
        >>> import tempfile
        >>> from keras_insight.tensorboard import get_writer
        >>> w = get_writer(tempfile.mkdtemp()); w.scalar("loss", 0.5, step=3); w.flush()
        >>> read_events(w.path)["loss"]
        [(3, 0.5)]
    """
    path = os.fspath(path)
    if os.path.isdir(path) and not _has_event_files(path):
        sub = os.path.join(path, _INSIGHT_SUBDIR)
        if os.path.isdir(sub):
            path = sub
    acc = ea.EventAccumulator(path, size_guidance={ea.TENSORS: 0, ea.SCALARS: 0})
    acc.Reload()
    tags = acc.Tags()
    out: dict[str, list[tuple[int, Any]]] = {}
    for tag in tags.get(ea.TENSORS, []):
        plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
        events = acc.Tensors(tag)
        out[tag] = [
            (int(e.step), _decode(plugin, tensor_util.make_ndarray(e.tensor_proto))) for e in events
        ]
    # TF1-style simple_value scalars, for event files not written by tf.summary in TF2.
    for tag in tags.get(ea.SCALARS, []):
        out.setdefault(tag, [(int(e.step), float(e.value)) for e in acc.Scalars(tag)])
    for entries in out.values():
        entries.sort(key=lambda item: item[0])
    return out
