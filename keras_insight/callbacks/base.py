"""The base class every insight callback shares: probe set, schedule, writer, fault policy."""

from __future__ import annotations

import collections
import time
from typing import Any

import keras
import numpy as np

from keras_insight._config import logger
from keras_insight.core.input_range import as_float32, resolve_input_range
from keras_insight.tensorboard import get_writer


def _to_numpy(v: Any) -> np.ndarray:
    return v.numpy() if hasattr(v, "numpy") else np.asarray(v)


def unpack_validation_data(
    data: Any, *, limit: int | None = 4096
) -> tuple[np.ndarray, np.ndarray | None, tuple]:
    """Turn arrays, a tuple ``(x, y, extra...)`` or a ``tf.data.Dataset`` into numpy.

    Returns ``(x, y or None, extras)``. A dataset is read until ``limit`` samples (it may be
    batched or not). One-hot labels become class indices.
    """
    if data is None:
        raise ValueError("validation_data is required: pass (x, y) arrays or a tf.data.Dataset.")
    if hasattr(data, "as_numpy_iterator"):  # tf.data.Dataset
        parts: list[list[np.ndarray]] = []
        count = 0
        for item in data.as_numpy_iterator():
            item = item if isinstance(item, tuple) else (item,)
            item = tuple(np.asarray(v) for v in item)
            if not parts:
                parts = [[] for _ in item]
            batched = item[0].ndim == 4
            for p, v in zip(parts, item):
                p.append(v if batched else v[None])
            count += len(item[0]) if batched else 1
            if limit is not None and count >= limit:
                break
        if not parts:
            raise ValueError("validation_data is an empty dataset.")
        arrays = tuple(np.concatenate(p) for p in parts)
    elif (
        isinstance(data, (tuple, list))
        and len(data) > 0
        and not np.isscalar(data[0])
        and np.ndim(data[0]) >= 2
        and not isinstance(data, np.ndarray)
    ):
        arrays = tuple(_to_numpy(v) for v in data)
    else:
        arrays = (_to_numpy(data),)
    x = arrays[0]
    if x.size == 0 or len(x) == 0:
        raise ValueError("validation_data is empty: it holds no samples.")
    if x.ndim != 4:
        raise ValueError(
            f"validation_data images must be a 4-D batch (N, H, W, C), got shape {x.shape}. "
            "Grayscale (N, H, W) images need a channel axis: x[..., None]."
        )
    y = None
    if len(arrays) > 1 and arrays[1] is not None:
        y = np.asarray(arrays[1])
        if y.ndim == 2 and y.shape[1] > 1:
            y = y.argmax(-1)
        y = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y
        if len(y) != len(x):
            raise ValueError(f"validation_data has {len(x)} images but {len(y)} labels.")
        y = y.astype(np.int64)
    extras = tuple(np.asarray(a) for a in arrays[2:])
    return x, y, extras


def stratified_indices(y: np.ndarray | None, n: int, num_samples: int, seed: int) -> np.ndarray:
    """Pick ``num_samples`` indices, round-robin over classes (seeded), sorted by class.

    Example:
        >>> stratified_indices(np.array([0, 0, 1, 1, 2, 2]), 6, 3, seed=0).tolist()
        [0, 2, 4]
    """
    rng = np.random.default_rng(seed)
    num_samples = min(num_samples, n)
    if y is None:
        return np.sort(rng.choice(n, num_samples, replace=False))
    pools = {c: list(rng.permutation(np.flatnonzero(y == c))) for c in np.unique(y)}
    chosen: list[int] = []
    while len(chosen) < num_samples:
        for c in sorted(pools):
            if pools[c] and len(chosen) < num_samples:
                chosen.append(int(pools[c].pop(0)))
    chosen_arr = np.array(sorted(chosen, key=lambda i: (y[i], i)))
    return chosen_arr


class InsightCallback(keras.callbacks.Callback):
    """Base class of every keras-insight callback.

    Subclasses implement :meth:`log` (compute with pure functions, write with
    ``self.writer``) and optionally :meth:`validate`.

    Args:
        validation_data: arrays ``x``, a tuple ``(x, y)`` or ``(x, y, extra...)``, or a
            ``tf.data.Dataset``; the probe set is drawn from it once, stratified by class
            and seeded, so every epoch shows the same samples. Keras 3 does not hand fit's
            validation data to callbacks, hence the argument.
        log_dir: the run directory; everything is written under ``<log_dir>/insight/`` by
            one writer shared by all callbacks of the run.
        freq: log every ``freq`` epochs (epoch numbers are Keras's 0-based ones).
        at_train_end: also log after the last epoch if it was not logged already.
        num_samples: size of the probe set.
        seed: seed for the probe choice and any randomness of the method.
        strict: re-raise errors raised while logging instead of warning and going on.
        input_range: the model's valid input range ``(lo, hi)``; inferred from the probe
            data when None (snapped to (0, 1), (0, 255) or (-1, 1)).
        class_names: optional names of the classes, used in image labels.
    """

    requires_data: bool = True

    def __init__(
        self,
        validation_data: Any = None,
        log_dir: str = "logs",
        *,
        freq: int = 1,
        at_train_end: bool = True,
        num_samples: int = 16,
        seed: int = 0,
        strict: bool = False,
        input_range: tuple[float, float] | None = None,
        class_names: Any = None,
    ) -> None:
        super().__init__()
        if not isinstance(freq, int) or freq < 1:
            raise ValueError(f"freq must be a positive integer (epochs), got {freq!r}.")
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples!r}.")
        self.validation_data = validation_data
        self.log_dir = str(log_dir)
        self.freq = freq
        self.at_train_end = at_train_end
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.strict = strict
        self._input_range_arg = input_range
        if class_names is not None or not hasattr(self, "class_names"):
            self.class_names = None if class_names is None else list(class_names)
        self.failures: collections.Counter = collections.Counter()
        self.seconds = 0.0
        self.probe_x: np.ndarray | None = None
        self.probe_y: np.ndarray | None = None
        self.probe_extra: tuple = ()
        self.input_range: tuple[float, float] | None = None
        self.writer = None
        self._last_logged: int | None = None
        self._last_epoch: int | None = None

    # ------------------------------------------------------------ hooks for subclasses
    def validate(self) -> None:
        """Check the configuration against the model; raise clear errors. Optional."""

    def log(self, step: int) -> None:  # pragma: no cover - abstract
        """Compute and write this callback's summaries for ``step``."""
        raise NotImplementedError

    # ------------------------------------------------------------ helpers
    @property
    def family(self) -> str:
        return type(self).__name__

    def label_text(self, i: int, predicted: np.ndarray | None = None, names=None) -> str:
        """ "true/pred" label for probe sample ``i``."""

        names = self.class_names if names is None else names

        def name(c):
            return str(names[c]) if names is not None and 0 <= c < len(names) else str(c)

        parts = []
        if self.probe_y is not None:
            parts.append(f"true {name(int(self.probe_y[i]))}")
        if predicted is not None:
            parts.append(f"pred {name(int(predicted[i]))}")
        return " ".join(parts)

    # ------------------------------------------------------------ Keras hooks
    def _chief(self) -> bool:
        try:
            return bool(self.model.distribute_strategy.extended.should_checkpoint)
        except Exception:  # no strategy: single worker is the chief
            return True

    def on_train_begin(self, logs=None) -> None:
        self._last_logged = None
        self._last_epoch = None
        if self.requires_data or self.validation_data is not None:
            x, y, extras = unpack_validation_data(self.validation_data)
            x = as_float32(x, name="validation_data images")
            idx = stratified_indices(y, len(x), self.num_samples, self.seed)
            self.probe_x = x[idx]
            self.probe_y = None if y is None else y[idx]
            self.probe_extra = tuple(e[idx] if len(e) == len(x) else e for e in extras)
            self.input_range = resolve_input_range(
                self._input_range_arg, self.probe_x, what=self.family
            )
        elif self._input_range_arg is not None:
            self.input_range = resolve_input_range(self._input_range_arg)
        self.rng = np.random.default_rng(self.seed)
        self.writer = get_writer(self.log_dir, chief=self._chief())
        self.validate()

    def _run_log(self, step: int) -> None:
        start = time.perf_counter()
        try:
            self.log(step)
            self.writer.flush()
        except Exception as exc:  # a visualisation must not kill a long training run
            if self.strict:
                raise
            kind = type(exc).__name__
            self.failures[kind] += 1
            if self.failures[kind] == 1:
                logger.warning(
                    "%s failed at step %d (%s: %s); training goes on. Pass strict=True to raise. "
                    "Further %s errors are counted in .failures.",
                    self.family,
                    step,
                    kind,
                    exc,
                    kind,
                )
        finally:
            self.seconds += time.perf_counter() - start
        self._last_logged = step

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self._last_epoch = epoch
        if (epoch + 1) % self.freq == 0:
            self._run_log(epoch)

    def on_train_end(self, logs=None) -> None:
        if (
            self.at_train_end
            and self._last_epoch is not None
            and self._last_logged != self._last_epoch
        ):
            self._run_log(self._last_epoch)
        if self.writer is not None:
            self.writer.flush()
