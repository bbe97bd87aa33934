"""Export embeddings to TensorBoard's Projector: TSV tensors, metadata, sprite, config.

Layout (all inside ``<log_dir>/insight/``, the run directory of the shared writer, which
holds an event file as the projector requires)::

    projector_config.pbtxt             one ``embeddings`` entry per written tensor
    <name>_<tag>.tsv                   the (N, D) tensor, one new file and name per call
    <name>_<tag>_metadata.tsv          label / predicted / correct columns
    <name>_sprite_<hash>.png           square grid of thumbnails (<= 8192 px a side)
    projector_ckpt-<n>.*, checkpoint   tiny scalar checkpoint, advanced on every call

A running TensorBoard re-reads the config only when the latest checkpoint in that
directory changes, and caches tensors by name; hence the counter checkpoint and the
never-reused tensor names. All asset paths are relative; files are written atomically.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import tempfile
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from keras_insight._config import logger

__all__ = ["SPRITE_MAX_SIDE", "sprite_layout", "write_projector"]

SPRITE_MAX_SIDE = 8192
CONFIG_NAME = "projector_config.pbtxt"
_CKPT_PREFIX = "projector_ckpt"
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.-]")
_LOCK = threading.Lock()


def _atomic_write(path: str, data: bytes) -> None:
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp_", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def sprite_layout(
    n: int, image_hw: tuple[int, int], thumb: int | None = None
) -> tuple[int, int, int]:
    """``(n_kept, thumb, side)`` for a sprite of ``n`` images: side = ceil(sqrt(n)) * thumb.

    The thumbnail defaults to the image size capped at 64 px and shrinks (down to 8 px) so
    the side stays <= 8192 px; an explicit ``thumb`` is kept. When ``(8192 // thumb)^2 < n``,
    ``n_kept < n`` (subsample).

    Example:
        >>> sprite_layout(10_000, (28, 28))
        (10000, 28, 2800)
    """
    per_side = math.ceil(math.sqrt(max(n, 1)))
    if thumb is None:
        thumb = int(min(max(image_hw), 64))
        if per_side * thumb > SPRITE_MAX_SIDE:
            thumb = max(SPRITE_MAX_SIDE // per_side, min(8, thumb))
    thumb = max(1, min(int(thumb), SPRITE_MAX_SIDE))
    cap = (SPRITE_MAX_SIDE // thumb) ** 2
    n_kept = min(n, cap)
    side = math.ceil(math.sqrt(max(n_kept, 1))) * thumb
    return n_kept, thumb, side


def _resize_nearest(images: np.ndarray, size: int) -> np.ndarray:
    n, h, w = images.shape[:3]
    if (h, w) == (size, size):
        return images
    # keep aspect: fit the longer side, centre on a square tile
    from keras_insight.render import resize_nearest

    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = resize_nearest(images, (nh, nw))
    out = np.full((n, size, size, images.shape[3]), 255, np.uint8)
    oy, ox = (size - nh) // 2, (size - nw) // 2
    out[:, oy : oy + nh, ox : ox + nw] = small
    return out


def _sprite_png(images: np.ndarray, thumb: int, input_range: tuple[float, float] | None) -> bytes:
    from PIL import Image

    from keras_insight.render import to_uint8

    imgs = np.asarray(images)
    if imgs.ndim == 3:
        imgs = imgs[..., None]
    if imgs.dtype != np.uint8:
        lo, hi = input_range if input_range is not None else (float(imgs.min()), float(imgs.max()))
        if not hi > lo:
            hi = lo + 1.0
        imgs = to_uint8(imgs, lo, hi)
    if imgs.shape[-1] not in (1, 3):
        imgs = imgs[..., :1] if imgs.shape[-1] != 4 else imgs[..., :3]
    tiles = _resize_nearest(imgs, thumb)
    n = len(tiles)
    per_side = math.ceil(math.sqrt(n))
    c = tiles.shape[-1]
    canvas = np.full((per_side * per_side, thumb, thumb, c), 255, np.uint8)
    canvas[:n] = tiles
    canvas = canvas.reshape(per_side, per_side, thumb, thumb, c).transpose(0, 2, 1, 3, 4)
    canvas = canvas.reshape(per_side * thumb, per_side * thumb, c)
    buf = io.BytesIO()
    Image.fromarray(canvas[..., 0] if c == 1 else canvas).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _metadata_tsv(metadata: Any, n: int) -> bytes | None:
    if metadata is None:
        return None
    if isinstance(metadata, Mapping):
        cols = {
            str(k): list(np.asarray(v).reshape(-1)) for k, v in metadata.items() if v is not None
        }
    else:
        cols = {"label": list(np.asarray(metadata).reshape(-1))}
    if not cols:
        return None
    for k, v in cols.items():
        if len(v) != n:
            raise ValueError(f"metadata column {k!r} has {len(v)} rows for {n} samples.")

    def clean(v: Any) -> str:
        return str(v.item() if hasattr(v, "item") else v).replace("\t", " ").replace("\n", " ")

    lines = []
    if len(cols) > 1:  # the projector reads a header only when there are several columns
        lines.append("\t".join(cols))
    for i in range(n):
        lines.append("\t".join(clean(v[i]) for v in cols.values()))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _tensor_tsv(x: np.ndarray) -> bytes:
    buf = io.StringIO()
    np.savetxt(buf, x, fmt="%.7g", delimiter="\t")
    return buf.getvalue().encode("ascii")


def _save_counter_checkpoint(directory: str, number: int) -> None:
    import tensorflow as tf

    # Only a scalar: a 2-D variable would show up as an extra embedding.
    ckpt = tf.train.Checkpoint(projector_writes=tf.Variable(number, dtype=tf.int64))
    manager = tf.train.CheckpointManager(
        ckpt, directory, max_to_keep=1, checkpoint_name=_CKPT_PREFIX
    )
    manager.save(checkpoint_number=number)


def write_projector(
    log_dir: str | os.PathLike,
    features: Any,
    *,
    metadata: Mapping[str, Sequence[Any]] | Sequence[Any] | None = None,
    images: Any = None,
    name: str = "embedding",
    tag: str | int | None = None,
    thumb_size: int | None = None,
    input_range: tuple[float, float] | None = None,
    seed: int = 0,
    run: str = "insight",
) -> str:
    """Add one embedding to TensorBoard's Projector for the run ``<log_dir>/<run>``
    (``insight`` by default; callbacks pass their run directory, e.g. ``insight_1``).

    Writes the ``(N, D)`` ``features`` as a TSV tensor named ``<name>/<tag>`` (never
    reusing a name: TensorBoard caches tensors by name), the metadata TSV (a dict of
    columns, e.g. ``{"label": y, "predicted": p, "correct": y == p}``, or one sequence for a
    single unlabelled column), and, for image inputs ``(N, H, W, C)`` with C in 1, 3, a
    sprite of square thumbnails (side ``ceil(sqrt(N)) * thumb <= 8192``). More samples
    than a sprite can hold are subsampled (seeded, with a warning). Then it updates
    ``projector_config.pbtxt`` and advances a tiny checkpoint so a TensorBoard that is
    already running re-reads the config.

    Returns:
        the tensor name shown in the Projector.

    Example:
        >>> import tempfile, numpy as np
        >>> d = tempfile.mkdtemp()
        >>> write_projector(d, np.eye(3), metadata=["a", "b", "c"], tag=0)
        'embedding/0'
    """
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    from keras_insight.tensorboard import get_writer

    feats = np.asarray(features, dtype=np.float32)
    if feats.ndim != 2 or feats.shape[0] == 0:
        raise ValueError(f"features must be a non-empty (N, D) array, got {feats.shape}.")
    if not np.all(np.isfinite(feats)):
        raise ValueError("features contain NaN or infinite values; the projector cannot show them.")
    n = len(feats)
    # creates the run directory (``insight`` or a callback set's ``insight_<n>``) and its
    # event file
    writer = get_writer(log_dir, run=run)
    directory = writer.path
    writer.flush()
    base = _NAME_BAD.sub("_", str(name).replace("/", "_")) or "embedding"

    use_sprite = images is not None
    img = None
    if use_sprite:
        img = np.asarray(images)
        if len(img) != n:
            raise ValueError(f"images has {len(img)} samples for {n} feature rows.")
        if not (img.ndim == 4 and img.shape[-1] in (1, 3, 4) or img.ndim == 3):
            logger.warning(
                "write_projector: inputs of shape %s are not images; no sprite.", img.shape[1:]
            )
            use_sprite = False
    keep = np.arange(n)
    thumb = None
    if use_sprite:
        n_kept, thumb, _ = sprite_layout(n, img.shape[1:3], thumb_size)
        if n_kept < n:
            logger.warning(
                "write_projector: %d samples do not fit a %d px sprite; keeping a seeded random %d.",
                n,
                SPRITE_MAX_SIDE,
                n_kept,
            )
            keep = np.sort(np.random.default_rng(seed).choice(n, n_kept, replace=False))
    feats = feats[keep]
    if isinstance(metadata, Mapping):
        metadata = {
            k: np.asarray(v).reshape(-1)[keep] if len(np.asarray(v).reshape(-1)) == n else v
            for k, v in metadata.items()
        }
    elif metadata is not None:
        md = np.asarray(metadata).reshape(-1)
        metadata = md[keep] if len(md) == n else md
    meta_bytes = _metadata_tsv(metadata, len(keep))

    with _LOCK:
        config = ProjectorConfig()
        config_path = os.path.join(directory, CONFIG_NAME)
        if os.path.exists(config_path):
            with open(config_path, encoding="utf-8") as f:
                text_format.Parse(f.read(), config)
        existing = {e.tensor_name for e in config.embeddings}
        tag_str = _NAME_BAD.sub("_", str(tag)) if tag is not None else f"{len(existing):04d}"
        tensor_name, r = f"{base}/{tag_str}", 1
        while tensor_name in existing:
            tensor_name, r = f"{base}/{tag_str}_r{r}", r + 1
        stem = tensor_name.replace("/", "_")
        tensor_file = f"{stem}.tsv"
        _atomic_write(os.path.join(directory, tensor_file), _tensor_tsv(feats))
        emb = config.embeddings.add()
        emb.tensor_name = tensor_name
        emb.tensor_path = tensor_file
        emb.tensor_shape.extend([int(feats.shape[0]), int(feats.shape[1])])
        if meta_bytes is not None:
            meta_file = f"{stem}_metadata.tsv"
            _atomic_write(os.path.join(directory, meta_file), meta_bytes)
            emb.metadata_path = meta_file
        if use_sprite:
            # the probe set is fixed for a run: one sprite file per distinct image set
            digest = hashlib.sha1(np.ascontiguousarray(img[keep]).tobytes())
            digest.update(repr((thumb, input_range, img.shape, str(img.dtype))).encode())
            sprite_file = f"{base}_sprite_{digest.hexdigest()[:10]}.png"
            sprite_path = os.path.join(directory, sprite_file)
            if not os.path.exists(sprite_path):
                _atomic_write(sprite_path, _sprite_png(img[keep], thumb, input_range))
            emb.sprite.image_path = sprite_file
            emb.sprite.single_image_dim.extend([thumb, thumb])
        _atomic_write(config_path, text_format.MessageToString(config).encode("utf-8"))
        _save_counter_checkpoint(directory, len(config.embeddings))
    return tensor_name
