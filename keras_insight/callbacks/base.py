"""The base class every insight callback shares: probe set, schedule, writer, fault policy."""

from __future__ import annotations

import collections
import hashlib
import os
import time
import weakref
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from keras_insight._config import logger
from keras_insight.core.input_range import as_float32, resolve_input_range
from keras_insight.core.introspection import is_subclassed, output_layer
from keras_insight.core.validation import nonfinite_weights
from keras_insight.render import class_name
from keras_insight.tensorboard import INSIGHT_SUBDIR, get_writer, new_run_name

#: Label colours of a right and a wrong prediction (``grid`` darkens them for contrast).
RIGHT_COLOR, WRONG_COLOR = (0, 128, 0), (200, 0, 0)


def prediction_label(
    true: int, predicted: int | None, names: Sequence[str] | None = None
) -> tuple[str, tuple[int, int, int]]:
    """A sample's short label and its colour, readable at TensorBoard's card size: the
    true class in green when predicted right, "true → predicted" in red when wrong, the
    true class in black without a prediction.

    Example:
        >>> prediction_label(1, 1, ["Coat", "Shirt"]), prediction_label(0, 1, ["Coat", "Shirt"])
        (('Shirt', (0, 128, 0)), ('Coat → Shirt', (200, 0, 0)))
    """
    if predicted is None:
        return class_name(int(true), names), (0, 0, 0)
    if int(predicted) == int(true):
        return class_name(int(true), names), RIGHT_COLOR
    return f"{class_name(int(true), names)} → {class_name(int(predicted), names)}", WRONG_COLOR


def _to_numpy(v: Any) -> np.ndarray:
    return v.numpy() if hasattr(v, "numpy") else np.asarray(v)


MAX_SCAN = 4096
"""The most samples any reader of validation data takes (one default for every callback).

A ``tf.data.Dataset`` is read until this many samples or its end, whichever comes first, so
an endless pipeline (``ds.repeat()``) returns; pass ``max_scan=`` to a callback to change it.
"""


def is_endless(dataset: Any) -> bool:
    """True for a ``tf.data.Dataset`` whose cardinality is infinite (``ds.repeat()``)."""
    try:
        import tensorflow as tf

        return int(dataset.cardinality()) == int(tf.data.INFINITE_CARDINALITY)
    except Exception:  # not a tf.data dataset, or cardinality unknown
        return False


def _sample_keys(arrays: tuple[np.ndarray, ...]) -> list[bytes]:
    """One content hash per sample (image and label bytes): equal samples, equal keys."""
    x = np.ascontiguousarray(arrays[0])
    y = None
    if len(arrays) > 1 and np.ndim(arrays[1]) >= 1 and len(arrays[1]) == len(x):
        y = np.ascontiguousarray(arrays[1])
    keys = []
    for i in range(len(x)):
        h = hashlib.blake2b(x[i].tobytes(), digest_size=16)
        if y is not None:
            h.update(y[i].tobytes())
        keys.append(h.digest())
    return keys


def _row_hashes(arrays: tuple[np.ndarray, ...], chunk: int = 4096) -> np.ndarray:
    """A 64-bit hash per sample of its image and label bytes (equal samples, equal hashes).

    Vectorised: the bytes of each row, read as 64-bit words, dotted with fixed odd
    multipliers in wrapping integer arithmetic (exact, unlike a float projection).
    """
    x = arrays[0]
    n = len(x)
    parts = [x]
    if len(arrays) > 1 and np.ndim(arrays[1]) >= 1 and len(arrays[1]) == n:
        parts.append(arrays[1])
    out = np.zeros(n, np.uint64)
    for start in range(0, n, chunk):
        words = []
        for p in parts:
            b = np.ascontiguousarray(p[start : start + chunk]).reshape(-1).view(np.uint8)
            b = b.reshape(min(chunk, n - start), -1)
            pad = (-b.shape[1]) % 8
            if pad:
                b = np.pad(b, ((0, 0), (0, pad)))
            words.append(np.ascontiguousarray(b).view(np.uint64))
        w = np.concatenate(words, axis=1)
        mult = np.random.default_rng(w.shape[1]).integers(
            1, 2**63, size=w.shape[1], dtype=np.uint64
        ) | np.uint64(1)
        with np.errstate(over="ignore"):
            out[start : start + chunk] = (w * mult).sum(axis=1, dtype=np.uint64)
    return out


def _has_repeats(arrays: tuple[np.ndarray, ...]) -> bool:
    """Whether two samples may be equal (a repeated hash); False proves all are distinct."""
    h = _row_hashes(arrays)
    return len(np.unique(h)) < len(h)


def unpack_validation_data(
    data: Any,
    *,
    limit: int | None = MAX_SCAN,
    dedupe: bool = True,
    return_index: bool = False,
    what: str = "validation_data",
) -> tuple:
    """Turn arrays, a tuple ``(x, y, extra...)`` or a ``tf.data.Dataset`` into numpy.

    Returns ``(x, y or None, extras)`` (and the kept row indices when ``return_index``). A
    dataset (batched or not) is read until ``limit`` samples (default :data:`MAX_SCAN`;
    ``None`` reads to the end and is refused for an endless dataset) or its end; a
    warning says when an endless dataset was cut or when the data repeat. Duplicate
    samples (same image and label bytes, i.e. one content hash) are dropped, keeping first
    occurrences, so probe sets never hold the same sample twice. One-hot labels become
    class indices.

    Example:
        >>> import tensorflow as tf
        >>> x = np.arange(12, dtype="float32").reshape(3, 2, 2, 1)
        >>> ds = tf.data.Dataset.from_tensor_slices((x, np.arange(3))).repeat().batch(2)
        >>> xs, ys, _ = unpack_validation_data(ds, limit=10)
        >>> ys.tolist()
        [0, 1, 2]
    """
    if data is None:
        raise ValueError(f"{what} is required: pass (x, y) arrays or a tf.data.Dataset.")
    if limit is not None and int(limit) < 1:
        raise ValueError(f"max_scan must be a positive number of samples, got {limit!r}.")
    if hasattr(data, "as_numpy_iterator"):  # tf.data.Dataset: read once per object
        # the callbacks of one fit share one read (and one warning) per dataset object; a
        # smaller limit takes the rows whose first occurrence lies within it
        key = (id(data), dedupe)
        hit = _DATASET_READS.get(key)
        if hit is not None and hit[0]() is data:
            read_limit, n_read, out = hit[1:]
            complete = read_limit is None or n_read < read_limit  # the data ended or repeat
            if complete or (limit is not None and limit <= read_limit):
                out = _prefix(out, limit)
                return out if return_index else out[:3]
        out, n_read = _unpack(data, limit, dedupe, what)
        try:
            ref = weakref.ref(data)
        except TypeError:  # not weak-referenceable: no caching
            return out if return_index else out[:3]
        while len(_DATASET_READS) >= 4:
            _DATASET_READS.pop(next(iter(_DATASET_READS)))
        _DATASET_READS[key] = (ref, limit, n_read, out)
        return out if return_index else out[:3]
    out, _ = _unpack(data, limit, dedupe, what)
    return out if return_index else out[:3]


def _prefix(out: tuple, limit: int | None) -> tuple:
    x, y, extras, index = out
    if limit is None or len(index) == 0 or index.max() < limit:
        return out
    keep = index < limit
    return (
        x[keep],
        None if y is None else y[keep],
        tuple(e[keep] if np.ndim(e) and len(e) == len(x) else e for e in extras),
        index[keep],
    )


_DATASET_READS: dict[tuple, tuple[Any, ...]] = {}
# the repeat check of array data, per array object, while the callbacks of a fit draw their
# probe sets (13 callbacks of a suite read the same 10,000 validation images): cleared with
# _DATASET_READS once training starts, so arrays changed in place later are hashed afresh
_REPEAT_CHECKS: dict[tuple, tuple[tuple, bool]] = {}


def _forget_reads() -> None:
    _DATASET_READS.clear()
    _REPEAT_CHECKS.clear()


def _has_repeats_once(arrays: tuple[np.ndarray, ...]) -> bool:
    """:func:`_has_repeats`, computed once per array object during a fit's setup."""
    key = tuple((id(a), np.shape(a)) for a in arrays)
    hit = _REPEAT_CHECKS.get(key)
    if hit is not None and all(r() is a for r, a in zip(hit[0], arrays)):
        return hit[1]
    result = _has_repeats(arrays)
    try:
        refs = tuple(weakref.ref(a) for a in arrays)
    except TypeError:  # not weak-referenceable: not cached
        return result
    while len(_REPEAT_CHECKS) >= 8:
        _REPEAT_CHECKS.pop(next(iter(_REPEAT_CHECKS)))
    _REPEAT_CHECKS[key] = (refs, result)
    return result


def _unpack(data: Any, limit: int | None, dedupe: bool, what: str) -> tuple:
    endless = False
    if hasattr(data, "as_numpy_iterator"):  # tf.data.Dataset
        endless = is_endless(data)
        if endless and limit is None:
            raise ValueError(
                f"{what} is an endless dataset (ds.repeat()); pass a finite one or a max_scan."
            )
        parts: list[list[np.ndarray]] = []
        count = 0
        seen: set[bytes] = set()
        last_new = 0  # sample count when the last unseen sample arrived
        for item in data.as_numpy_iterator():
            item = item if isinstance(item, tuple) else (item,)
            item = tuple(np.asarray(v) for v in item)
            if not parts:
                parts = [[] for _ in item]
            batched = item[0].ndim == 4
            item = tuple(v if batched else v[None] for v in item)
            for p, v in zip(parts, item):
                p.append(v)
            count += len(item[0])
            if limit is not None and count >= limit:
                break
            if endless and dedupe:
                # a repeated finite source: once a whole pass (at least 64 samples) brings
                # nothing new, every later pass repeats it too, so stop reading early
                new = set(_sample_keys(item)) - seen
                if new:
                    seen |= new
                    last_new = count
                elif count - last_new >= max(len(seen), 64):
                    break
        if not parts:
            raise ValueError(f"{what} is an empty dataset.")
        arrays = tuple(np.concatenate(p) for p in parts)
        if limit is not None and len(arrays[0]) > limit:
            arrays = tuple(a[:limit] for a in arrays)
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
        raise ValueError(f"{what} is empty: it holds no samples.")
    if x.ndim != 4:
        raise ValueError(
            f"{what} images must be a 4-D batch (N, H, W, C), got shape {x.shape}. "
            "Grayscale (N, H, W) images need a channel axis: x[..., None]."
        )
    index = np.arange(len(x))
    n_read = len(x)
    dropped = 0
    if dedupe and _has_repeats_once(arrays):  # the fast check first: most data has none
        first: dict[bytes, int] = {}
        for i, key in enumerate(_sample_keys(arrays)):
            first.setdefault(key, i)
        if len(first) < len(x):
            index = np.fromiter(first.values(), dtype=np.int64, count=len(first))
            dropped = len(x) - len(index)
            arrays = tuple(a[index] if np.ndim(a) and len(a) == len(x) else a for a in arrays)
    if endless:
        logger.warning(
            "%s is an endless dataset (ds.repeat()): read %d samples (max_scan=%d)%s.",
            what,
            len(x),
            limit,
            f", {dropped} of them repeats, dropped: {len(x) - dropped} unique" if dropped else "",
        )
    elif dropped and hasattr(data, "as_numpy_iterator"):
        logger.warning(
            "%s repeats: %d of the %d samples read are duplicates (a repeated dataset?); "
            "each sample is used once.",
            what,
            dropped,
            len(x),
        )
    elif dropped:
        logger.info("%s holds %d duplicate samples; each is used once.", what, dropped)
    x = arrays[0]
    y = None
    if len(arrays) > 1 and arrays[1] is not None:
        y = np.asarray(arrays[1])
        if y.ndim == 2 and y.shape[1] > 1:
            y = y.argmax(-1)
        y = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y
        if len(y) != len(x):
            raise ValueError(f"{what} has {len(x)} images but {len(y)} labels.")
        y = y.astype(np.int64)
    extras = tuple(np.asarray(a) for a in arrays[2:])
    return (x, y, extras, index), n_read


def predicted_classes(logits: Any) -> np.ndarray:
    """The predicted class per sample: argmax over class scores, or, for one output unit (a
    binary sigmoid head's logit), 1 where the logit is > 0 (probability > 0.5), else 0.

    Example:
        >>> predicted_classes(np.array([[0.3], [-2.0]])).tolist()
        [1, 0]
        >>> predicted_classes(np.array([[0.1, 0.9, 0.0]])).tolist()
        [1]
    """
    z = np.asarray(logits)
    if z.ndim == 2 and z.shape[-1] == 1:
        return (z[:, 0] > 0).astype(np.int64)
    return z.argmax(-1)


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
        max_scan: the most validation samples read (default :data:`MAX_SCAN`, 4096); an
            endless ``tf.data`` pipeline (``ds.repeat()``) is cut there with a warning, and
            duplicate samples are dropped (content hash) so probe sets hold each once.

    Lifecycle and faults (one rule for every callback):

    * Validation that needs the built model (layers, shapes) runs at train begin when the
      model is built, else once Keras has built it (a ``Sequential`` without
      ``keras.Input`` is built by the first train step): at the second batch or the first
      epoch end, whichever comes first.
    * A callback that does not apply to the model (a layer method on a subclassed model,
      a class method on a regression head) or is misconfigured (a wrong ``layer=`` name,
      missing labels, an unwritable ``log_dir``) warns once and disables itself for the
      run; ``fit`` finishes. With ``strict=True`` the error is raised instead.
    * An error while logging or writing (including the flush at train end) is counted in
      ``.failures`` and warned about once per kind; ``strict=True`` re-raises it.
    * A new set of callbacks in a ``log_dir`` that already holds insight data writes to a
      new run directory ``insight_1``, ``insight_2``, ... (logged); the same instances in
      a later ``fit`` (``initial_epoch``) append to their run.
    """

    requires_data: bool = True
    needs_layers: bool = False  # needs the layer graph: not for subclassed models
    needs_classes: bool = False  # needs class scores: not for regression heads

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
        max_scan: int = MAX_SCAN,
    ) -> None:
        super().__init__()
        if not isinstance(max_scan, int) or max_scan < 1:
            raise ValueError(f"max_scan must be a positive number of samples, got {max_scan!r}.")
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
        self.budget = None  # an OverheadBudget shared by the callbacks of a suite, or None
        self.logs_done = 0  # logs written in this fit
        self.last_cost: float | None = None  # seconds of the last log
        self.prev_cost: float | None = None  # ... and of the one before (budget estimates)
        self.first_cost: float | None = None  # seconds of the first log (tracing included)
        self._deferred = False  # a scheduled log the budget postponed: still due
        self.probe_x: np.ndarray | None = None
        self.probe_y: np.ndarray | None = None
        self.probe_extra: tuple = ()
        self.input_range: tuple[float, float] | None = None
        self.writer = None
        self._last_logged: int | None = None
        self._last_epoch: int | None = None
        self.max_scan = max_scan
        self.disabled = False
        self.disabled_reason: str | None = None
        self.run_name: str | None = None  # "insight", "insight_1", ...: fixed at first fit
        self._claim = None
        self._ready = False
        if validation_data is not None and not hasattr(validation_data, "as_numpy_iterator"):
            # in-memory data: check its shape now (cheap), before fit; datasets are read
            # (bounded by max_scan) at train begin
            _unpack(validation_data, max_scan, False, "validation_data")  # raises if bad

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
        """Short label for probe sample ``i``, readable at TensorBoard's card size: its true
        class ("Coat") when the prediction is right or not given, "Coat → Shirt" (true
        → predicted) when wrong, "pred Shirt" without labels; :meth:`label_color` gives
        its colour."""

        names = self.class_names if names is None else names
        if self.probe_y is None:
            return "" if predicted is None else f"pred {class_name(int(predicted[i]), names)}"
        pred = None if predicted is None else predicted[i]
        return prediction_label(self.probe_y[i], pred, names)[0]

    def label_color(self, i: int, predicted: np.ndarray | None = None) -> tuple[int, int, int]:
        """Colour of :meth:`label_text`: green when the prediction is right, red when wrong,
        black when either is unknown."""
        if self.probe_y is None or predicted is None:
            return (0, 0, 0)
        return prediction_label(self.probe_y[i], predicted[i])[1]

    # ------------------------------------------------------------ applicability
    def not_applicable(self, model: Any) -> str | None:
        """Why this callback cannot apply to ``model`` (None when it can).

        Decided from the model kind alone (no data, no forward pass): layer-based
        callbacks (``needs_layers``) do not apply to subclassed models, class-based ones
        (``needs_classes``) not to regression heads (see :func:`head_kind`).
        """
        if self.needs_layers and is_subclassed(model):
            return (
                f"{type(model).__name__} is a subclassed model: {self.family} needs the "
                "layer graph (wrap the network as a Functional or Sequential model)"
            )
        if self.needs_classes and head_kind(model) == "regression":
            return f"the model has a regression head: {self.family} needs class scores"
        return None

    # ------------------------------------------------------------ Keras hooks
    def _chief(self) -> bool:
        try:
            return bool(self.model.distribute_strategy.extended.should_checkpoint)
        except Exception:  # no strategy: single worker is the chief
            return True

    def _disable(self, exc: BaseException | str) -> None:
        """The fault rule for misconfiguration: re-raise under strict, else warn once and stop."""
        if self.strict:
            if isinstance(exc, BaseException):
                raise exc
            raise ValueError(f"{self.family}: {exc}.")
        reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        self.disabled, self.disabled_reason = True, reason
        logger.warning(
            "%s is disabled for this run (%s); training goes on. Pass strict=True to raise.",
            self.family,
            reason,
        )

    def _guard(self, fn, *args) -> None:
        """Run a write (flush, close) under the fault policy: count and warn, or raise."""
        try:
            fn(*args)
        except Exception as exc:
            if self.strict:
                raise
            self._count_failure(exc, self._last_epoch if self._last_epoch is not None else 0)

    def _count_failure(self, exc: BaseException, step: int) -> None:
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

    def _read_probe(self) -> None:
        if self.requires_data or self.validation_data is not None:
            x, y, extras = unpack_validation_data(
                self.validation_data, limit=self.max_scan, what="validation_data"
            )
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

    def _open_run(self) -> None:
        """Pick the run directory (a new ``insight_<n>`` for a new callback set in a used
        ``log_dir``, the same one for the same instances) and get its shared writer."""
        key = _log_dir_key(self.log_dir)
        claim = _ACTIVE_RUNS.get(key)
        if self.run_name is None:
            if claim is not None and claim.joinable(self.model):
                self.run_name = claim.run
            else:
                self.run_name = new_run_name(self.log_dir)
                claim = _RunClaim(self.run_name, self.model)
                _ACTIVE_RUNS[key] = claim
                if self.run_name != INSIGHT_SUBDIR:
                    logger.info(
                        "%s already holds insight data from another run; this run writes to %s",
                        self.log_dir,
                        os.path.join(self.log_dir, self.run_name),
                    )
        elif claim is None or claim.run != self.run_name or not claim.joinable(self.model):
            _ACTIVE_RUNS[key] = claim = _RunClaim(self.run_name, self.model)
        self._claim = _ACTIVE_RUNS[key]
        self.writer = get_writer(self.log_dir, chief=self._chief(), run=self.run_name)

    def on_train_begin(self, logs=None) -> None:
        self._last_logged = None
        self._last_epoch = None
        self.logs_done, self._deferred = 0, False
        if self.budget is not None:
            self.budget.train_begin()
        self.disabled, self.disabled_reason, self._ready = False, None, False
        self.rng = np.random.default_rng(self.seed)
        start = time.perf_counter()  # .seconds: setup (probe read, validation) costs too
        try:
            self._open_run()
            self._read_probe()
        except Exception as exc:  # misconfiguration found at train begin: the fault rule
            self._disable(exc)
            self.seconds += time.perf_counter() - start
            return
        if model_is_built(self.model):
            self._setup()
        self.seconds += time.perf_counter() - start

    def _setup(self) -> None:
        """Validate against the (built) model once per fit; disable on misconfiguration."""
        self._ready = True
        try:
            reason = self.not_applicable(self.model)
            if reason is not None:
                self._disable(reason)
                return
            self.validate()
        except Exception as exc:
            self._disable(exc)
            return
        self.on_ready()

    def on_ready(self) -> None:
        """Called once per fit after :meth:`validate` passed (the model is built)."""

    def _ensure_setup(self) -> bool:
        """Run the deferred setup when the model got built; True when the callback is live."""
        if self.disabled or self.writer is None:
            return False
        if self._claim is not None:
            self._claim.started = True
        # training has started: every callback has drawn its probe set, so the shared read
        # of a dataset (up to max_scan samples) is not needed any more
        _forget_reads()
        if not self._ready:
            if not model_is_built(self.model):
                return False
            start = time.perf_counter()
            self._setup()
            self.seconds += time.perf_counter() - start
        return not self.disabled

    def on_train_batch_begin(self, batch: int, logs=None) -> None:
        # A Sequential without keras.Input is built by the first train step: validation
        # that needs the built model runs here (from the second batch on) or at epoch end.
        if not self._ready and batch > 0:
            self._ensure_setup()
        elif self._claim is not None:
            self._claim.started = True
            _forget_reads()

    def _run_log(self, step: int) -> None:
        if skip_nonfinite(self.model, step, self.family):
            self.failures["NonFiniteWeights"] += 1  # pictures of a NaN model: not written
            return
        start = time.perf_counter()
        try:
            self.log(step)
            self.writer.flush()
        except Exception as exc:  # a visualisation must not kill a long training run
            if self.strict:
                raise
            self._count_failure(exc, step)
        finally:
            self.prev_cost, self.last_cost = self.last_cost, time.perf_counter() - start
            self.seconds += self.last_cost
            if self.first_cost is None:
                self.first_cost = self.last_cost
        self._last_logged = step
        self.logs_done += 1
        self._deferred = False

    def wants_log(self, phase: str, step: int) -> bool:
        """Whether a log is due at ``step``: ``phase`` "epoch" (its ``freq``, or a log the
        overhead budget postponed) or "end" (``at_train_end`` and not logged at ``step``)."""
        if self.disabled or self.writer is None:
            return False
        if phase == "end":
            return self.at_train_end and self._last_logged != step
        return (step + 1) % self.freq == 0 or self._deferred

    def _granted(self, phase: str, step: int) -> bool:
        """The overhead budget's answer (always yes without one); a refusal defers."""
        if self.budget is None or self.budget.grant(self, step, phase):
            return True
        self._deferred = True
        return False

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        if self.budget is not None:
            self.budget.epoch_begin(epoch)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self._last_epoch = epoch
        if self.budget is not None:
            self.budget.epoch_end(epoch)  # the first member closes the epoch's training time
        if not self._ensure_setup():
            return
        if self.wants_log("epoch", epoch) and self._granted("epoch", epoch):
            self._run_log(epoch)

    def on_train_end(self, logs=None) -> None:
        if (
            self._last_epoch is not None
            and self._ensure_setup()
            and self.wants_log("end", self._last_epoch)
            and self._granted("end", self._last_epoch)
        ):
            self._run_log(self._last_epoch)
        if self.budget is not None:
            self.budget.train_end(self)
        if self._claim is not None:
            self._claim.started = True  # a new callback set after this fit gets a new run
        if self.writer is not None:
            self._guard(self.writer.flush)


class _RunClaim:
    """The run directory a set of callbacks started in one ``fit`` shares."""

    def __init__(self, run: str, model: Any) -> None:
        self.run = run
        self.model_ref = weakref.ref(model) if model is not None else (lambda: None)
        self.started = False  # set by the first batch: later callbacks are a new set

    def joinable(self, model: Any) -> bool:
        return not self.started and self.model_ref() is model


_ACTIVE_RUNS: dict[str, _RunClaim] = {}
_NONFINITE: dict = {}  # {"key": (model id, step, train steps), "reason": ..., "warned": bool}


def skip_nonfinite(model: Any, step: int, family: str) -> bool:
    """True when ``model`` has a NaN/inf weight at this log: the step's images and scalars
    would be NaN pictures or plausible-looking numbers (filter noise 0.0, dead fraction
    1.0), so they are skipped. One warning per step names the first non-finite layer for
    all callbacks together; the weights are read once per step."""
    iterations = getattr(getattr(model, "optimizer", None), "iterations", None)
    # a MirroredVariable under tf.distribute has no __int__: read it as numpy
    key = (id(model), step, None if iterations is None else int(np.asarray(iterations)))
    if _NONFINITE.get("key") != key:
        _NONFINITE.update(key=key, reason=nonfinite_weights(model), warned=False)
    reason = _NONFINITE["reason"]
    if reason is None:
        return False
    if not _NONFINITE["warned"]:
        _NONFINITE["warned"] = True
        logger.warning(
            "insight callbacks skip step %d's images and scalars (first: %s): %s in model %r; "
            "the fit diverged (lower the learning rate or clip gradients).",
            step,
            family,
            reason,
            getattr(model, "name", "?"),
        )
    return True


def _log_dir_key(log_dir: str) -> str:
    return log_dir if "://" in log_dir else os.path.realpath(log_dir)


def model_is_built(model: Any) -> bool:
    """True when ``model`` has its weights and, for a Sequential, its input.

    A Sequential built without ``keras.Input`` is only built by the first train step
    (after ``on_train_begin``), so callbacks defer what needs the model until then.

    Example:
        >>> import keras
        >>> model_is_built(keras.Sequential([keras.layers.Dense(2)]))
        False
    """
    if model is None or not getattr(model, "built", False):
        return False
    if isinstance(model, keras.Sequential):
        try:
            return bool(model.inputs)
        except (AttributeError, ValueError):
            return False
    return True


_REGRESSION_LOSSES = ("mean_squared", "mse", "mean_absolute", "mae", "huber", "log_cosh", "mape")


def head_kind(model: Any) -> str:
    """What the model's (first) output is: ``"multiclass"``, ``"binary"``, ``"multilabel"``,
    ``"regression"`` or ``"unknown"``.

    From the compiled loss when it names a regression loss (MSE, MAE, Huber, log-cosh,
    MAPE), else from the head layer: one sigmoid unit is binary, several sigmoid units
    multi-label, one linear unit regression, anything else with several units multiclass.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        >>> head_kind(m)
        'regression'
    """
    loss = getattr(model, "loss", None)
    names = [getattr(lo, "name", None) or getattr(lo, "__name__", None) or str(lo)
             for lo in (loss if isinstance(loss, (list, tuple)) else [loss]) if lo is not None]
    if names and any(r in str(names[0]).lower() for r in _REGRESSION_LOSSES):
        return "regression"
    if is_subclassed(model):
        return "unknown"
    try:
        head = output_layer(model)
    except Exception:
        return "unknown"
    units = getattr(head, "units", None) or getattr(head, "filters", None)
    act = getattr(getattr(head, "activation", None), "__name__", "linear")
    if isinstance(head, keras.layers.Softmax):
        act = "softmax"
    if units is None:  # a separate Activation/Softmax layer ends the model
        try:
            units = int(model.outputs[0].shape[-1])
        except (AttributeError, ValueError, TypeError, IndexError):
            return "unknown"
    if act == "sigmoid":
        return "binary" if units == 1 else "multilabel"
    if units == 1:
        return "binary" if names and "binary" in str(names[0]).lower() else "regression"
    return "multiclass"
