"""One shared TensorBoard writer per run directory, writing under ``<log_dir>/insight/``.

TensorBoard's pure-Python loader reads a run's event files in name order and never goes
back to an older file, so two writers appending to one directory at once lose events.
All callbacks of a run therefore share the single ``InsightWriter`` that ``get_writer``
returns for that directory. The ``insight`` sub-directory keeps our run apart from the
``train``/``validation`` runs of ``keras.callbacks.TensorBoard(log_dir)``.

Run directories: the first set of insight callbacks in a ``log_dir`` writes to
``<log_dir>/insight``. A *new* set of callbacks started in a ``log_dir`` whose ``insight``
directory already holds files (from an earlier run, in this process or another) writes to
``insight_1``, then ``insight_2``, ... (:func:`new_run_name`), and says so in the log, so
two runs never mix their steps in one series. The same callback instances used again (a
second ``fit`` with ``initial_epoch``) keep their run directory and append to it. Readers
(TensorBoard, the dashboard) see each ``insight*`` directory as one run: the names match
:data:`RUN_DIR_PATTERN`.
"""

from __future__ import annotations

import atexit
import functools
import io
import os
import re
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "INSIGHT_SUBDIR",
    "RUN_DIR_PATTERN",
    "InsightWriter",
    "close_all",
    "encode_png",
    "get_writer",
    "holds_insight_data",
    "new_run_name",
    "run_dir_name",
    "sanitize_tag",
]

INSIGHT_SUBDIR = "insight"
RUN_DIR_PATTERN = re.compile(r"^insight(_[0-9]+)?$")
"""Names of insight run directories inside a ``log_dir``: ``insight``, ``insight_1``, ..."""

_TAG_BAD_CHARS = re.compile(r"[^A-Za-z0-9_./-]")
_registry: dict[tuple[str, bool], InsightWriter] = {}
_registry_lock = threading.Lock()


def sanitize_tag(tag: str) -> str:
    """Keep a tag to ``[A-Za-z0-9_./-]``; every other character becomes ``_``.

    Example:
        >>> sanitize_tag("gradcam/conv 1:class=3")
        'gradcam/conv_1_class_3'
    """
    tag = str(tag)
    if not tag:
        raise ValueError("a TensorBoard tag must not be empty")
    return _TAG_BAD_CHARS.sub("_", tag)


def _is_remote(path: str) -> bool:
    # gs://, s3://, hdfs:// ... have no local realpath; tf.io.gfile handles them.
    return "://" in path


def _insight_path(log_dir: str | os.PathLike, run: str = INSIGHT_SUBDIR) -> str:
    log_dir = os.fspath(log_dir)
    if not RUN_DIR_PATTERN.match(run):
        raise ValueError(f"run must be 'insight' or 'insight_<n>', got {run!r}.")
    if _is_remote(log_dir):
        return log_dir.rstrip("/") + "/" + run
    return os.path.realpath(os.path.join(log_dir, run))


def run_dir_name(index: int) -> str:
    """The name of the ``index``-th insight run directory of a ``log_dir``.

    Example:
        >>> [run_dir_name(i) for i in range(3)]
        ['insight', 'insight_1', 'insight_2']
    """
    return INSIGHT_SUBDIR if index == 0 else f"{INSIGHT_SUBDIR}_{int(index)}"


def holds_insight_data(path: str) -> bool:
    """True when the directory ``path`` exists and holds any file or folder."""
    try:
        if _is_remote(path):
            return bool(tf.io.gfile.isdir(path) and tf.io.gfile.listdir(path))
        return os.path.isdir(path) and bool(os.listdir(path))
    except (OSError, tf.errors.OpError):
        return False


def new_run_name(log_dir: str | os.PathLike) -> str:
    """The first run directory name of ``log_dir`` that is free: neither holding data on
    disk nor opened by a writer of this process.

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp(); new_run_name(d)
        'insight'
        >>> get_writer(d).scalar("x", 1.0, step=0); new_run_name(d)
        'insight_1'
    """
    with _registry_lock:
        opened = {path for path, _ in _registry}
    index = 0
    while True:
        path = _insight_path(log_dir, run_dir_name(index))
        if path not in opened and not holds_insight_data(path):
            return run_dir_name(index)
        index += 1


def _make_dir(path: str) -> None:
    try:
        if _is_remote(path):
            tf.io.gfile.makedirs(path)
        else:
            os.makedirs(path, exist_ok=True)
            if not os.access(path, os.W_OK):
                raise PermissionError(f"{path!r} is not writable")
    except (OSError, tf.errors.OpError) as err:
        raise OSError(
            f"keras_insight cannot create its TensorBoard directory {path!r} ({err}). "
            "Pass a log_dir that is, or can be created as, a writable directory "
            "(no part of it may be an existing regular file)."
        ) from err


def _as_image_batch(image: Any) -> np.ndarray:
    x = np.asarray(image)
    if x.dtype != np.uint8:
        raise TypeError(
            f"InsightWriter.image takes uint8 pixels, got {x.dtype}; convert with "
            "keras_insight.render.to_uint8 (floats) so the stored pixels are the tested ones"
        )
    if x.ndim == 2:
        x = x[None, :, :, None]
    elif x.ndim == 3:
        # (H, W, C) with a colour axis; a (N, H, W) grey batch must say so with C = 1.
        if x.shape[-1] not in (1, 3, 4):
            raise ValueError(
                f"a 3-D image must be (H, W, C) with C in 1, 3, 4, got {x.shape}; "
                "pass a grey batch as (N, H, W, 1)"
            )
        x = x[None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4) or 0 in x.shape:
        raise ValueError(f"image must be (H, W), (H, W, C) or (N, H, W, C), got {x.shape}")
    return x


#: zlib level of the PNG pictures (TensorFlow's encoder uses 6).
PNG_COMPRESSION = 3


def encode_png(image: np.ndarray, compress_level: int = PNG_COMPRESSION) -> bytes:
    """PNG bytes of one uint8 ``(H, W, C)`` picture, C in 1, 3, 4 (lossless).

    Example:
        >>> import io
        >>> from PIL import Image
        >>> img = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
        >>> bool((np.asarray(Image.open(io.BytesIO(encode_png(img)))) == img).all())
        True
    """
    from PIL import Image

    pixels = image[..., 0] if image.shape[-1] == 1 else image
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(
        out, format="PNG", compress_level=compress_level
    )
    return out.getvalue()


@functools.lru_cache(maxsize=8)
def _image_metadata(description: str | None) -> Any:
    from tensorboard.plugins.image import metadata

    return metadata.create_summary_metadata(display_name=None, description=description)


class InsightWriter:
    """A thread-safe ``tf.summary`` file writer for one run directory.

    Get one with ``get_writer(log_dir)``, not by constructing it, so every callback of a
    run shares it. On a non-chief worker (``chief=False``) every method is a no-op and
    nothing is created on disk.

    Attributes:
        path: the ``<log_dir>/insight`` directory the event files go to.
        chief: whether this process writes.

    Example:
        >>> import tempfile
        >>> w = get_writer(tempfile.mkdtemp())
        >>> w.scalar("robustness/clean_acc", 0.9, step=1)
        >>> w.close()
    """

    def __init__(self, path: str, *, chief: bool = True) -> None:
        self.path = path
        self.chief = bool(chief)
        self._lock = threading.RLock()
        self._once: set[tuple[str, int]] = set()
        self._writer: Any = None
        if self.chief:
            self._open()

    def _open(self) -> None:
        _make_dir(self.path)
        self._writer = tf.summary.create_file_writer(self.path)

    @property
    def closed(self) -> bool:
        """True after ``close()`` until the next write or ``get_writer`` reopens it."""
        return self.chief and self._writer is None

    def _ensure_open(self) -> Any:
        # A callback may keep the object past close(); reopening starts a new event file
        # in the same directory, which the loader reads after the old one: nothing lost.
        if self._writer is None:
            self._open()
        return self._writer

    def image(
        self,
        tag: str,
        image: Any,
        step: int,
        description: str | None = None,
        max_outputs: int | None = None,
    ) -> None:
        """Write uint8 picture(s): ``(H, W)``, ``(H, W, C)`` or a batch ``(N, H, W, C)``.

        All ``N`` images are kept under the one tag (TensorBoard shows them as samples)
        unless ``max_outputs`` is smaller. C is 1, 3 or 4.
        """
        if not self.chief:
            return
        batch = _as_image_batch(image)
        n = batch.shape[0] if max_outputs is None else int(max_outputs)
        # The image plugin's record, [width, height, png...], as tf.summary.image writes
        # it; encoded here with zlib level 3 (about half of TensorFlow's level-6 time for
        # ~10% larger files: pictures are written every epoch, read rarely).
        record = [str(batch.shape[2]).encode(), str(batch.shape[1]).encode()]
        record += [encode_png(img) for img in batch[: max(n, 0)]]
        with self._lock:
            with self._ensure_open().as_default():
                tf.summary.write(
                    sanitize_tag(tag),
                    tf.constant(record, dtype=tf.string),
                    step=int(step),
                    metadata=_image_metadata(description),
                )

    def scalar(self, tag: str, value: float, step: int, description: str | None = None) -> None:
        """Write one float scalar."""
        if not self.chief:
            return
        with self._lock:
            with self._ensure_open().as_default():
                tf.summary.scalar(
                    sanitize_tag(tag), float(value), step=int(step), description=description
                )

    def text(self, tag: str, markdown: str, step: int, description: str | None = None) -> None:
        """Write a markdown string (TensorBoard's text plugin renders it)."""
        if not self.chief:
            return
        with self._lock:
            with self._ensure_open().as_default():
                tf.summary.text(
                    sanitize_tag(tag), str(markdown), step=int(step), description=description
                )

    def summary(self, tag: str, tensor: Any, step: int, metadata: Any) -> None:
        """Write a raw tensor with its ``SummaryMetadata`` (plugin name and data class).

        For custom TensorBoard plugins (the ``insight`` dashboard): TensorBoard's data
        provider lists a plugin's series only when ``metadata.data_class`` is set.
        """
        if not self.chief:
            return
        with self._lock:
            with self._ensure_open().as_default():
                tf.summary.write(sanitize_tag(tag), tensor, step=int(step), metadata=metadata)

    def figure(self, tag: str, fig: Figure, step: int, description: str | None = None) -> None:
        """Render a matplotlib figure (Agg) and write it as an RGB image; the figure is closed."""
        from keras_insight.render.images import figure_to_array

        if not self.chief:
            # Still close it: a non-chief worker drawing every epoch must not leak figures.
            import matplotlib.pyplot as plt

            plt.close(fig)
            return
        self.image(tag, figure_to_array(fig), step, description=description)

    def once(self, tag: str, step: int) -> bool:
        """True the first time ``(tag, step)`` is claimed on this writer, then False.

        For records several callbacks could write for the same step (the dashboard's
        per-probe record): the first writes it, the others skip, so each step holds one.
        """
        with self._lock:
            key = (sanitize_tag(tag), int(step))
            if key in self._once:
                return False
            self._once.add(key)
            return True

    def flush(self) -> None:
        """Push buffered events to disk (so TensorBoard sees them now)."""
        with self._lock:
            if self._writer is not None:
                self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file. A later write or ``get_writer`` reopens it."""
        with self._lock:
            if self._writer is not None:
                self._writer.flush()
                self._writer.close()
                self._writer = None

    def reopen(self) -> None:
        """Open the event file again after ``close()`` (no-op when open or non-chief)."""
        if not self.chief:
            return
        with self._lock:
            self._ensure_open()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"InsightWriter(path={self.path!r}, chief={self.chief}, {state})"


def get_writer(
    log_dir: str | os.PathLike, *, chief: bool = True, run: str = INSIGHT_SUBDIR
) -> InsightWriter:
    """Return the one ``InsightWriter`` for ``<log_dir>/<run>``, creating it if needed.

    ``run`` is the run directory name, ``insight`` by default (see :func:`new_run_name`).

    The registry key is the real path, so ``"logs"``, ``"./logs/"`` and a symlink to it
    share one writer. A writer closed earlier is reopened. Pass
    ``chief=model.distribute_strategy.extended.should_checkpoint`` under ``tf.distribute``
    so only the chief writes.

    Raises:
        OSError: the directory cannot be created (e.g. ``log_dir`` lies under a file).

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> get_writer(d) is get_writer(d + "/")
        True
    """
    path = _insight_path(log_dir, run)
    key = (path, bool(chief))
    with _registry_lock:
        writer = _registry.get(key)
        if writer is None:
            writer = InsightWriter(path, chief=chief)
            _registry[key] = writer
        else:
            writer.reopen()
        return writer


def close_all() -> None:
    """Flush and close every registered writer (also run at interpreter exit).

    Keras 3 skips ``on_train_end`` when ``fit`` is interrupted, so ``atexit`` makes sure
    the last events reach the disk anyway.
    """
    with _registry_lock:
        writers = list(_registry.values())
    for writer in writers:
        try:
            writer.close()
        except Exception:  # best effort at exit: one failure must not stop the rest
            pass


atexit.register(close_all)
