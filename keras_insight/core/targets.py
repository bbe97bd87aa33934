"""Targets: which scalar per sample a gradient method differentiates.

A target is given as an int class, a per-sample sequence of ints, ``None`` (the predicted
class), a callable ``logits -> (batch,) scores``, or a unit object such as
:func:`neuron` / :func:`channel` that scores an intermediate layer.
"""

from __future__ import annotations

import functools
import hashlib
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf


def structural_key(obj: Any, _depth: int = 0) -> Any:
    """A hashable key that is equal only for objects that compute the same thing.

    Compiled functions are cached under keys built from the user's callables; keying on a
    name lets two different callables share one compiled function, and keying on ``id``
    keeps a new one per fresh lambda (and a recycled id can hit a stale one). A Python
    function is keyed on its code object and the current values of everything it reads
    from outside (closure cells, defaults, globals it names), recursively; objects with a
    ``key`` property (targets, objectives) on that key; numbers and strings on their value;
    numpy arrays on their bytes; anything else on the object itself (held by the key, so
    its id cannot be recycled).

    Example:
        >>> make = lambda c: (lambda z: z[:, c])
        >>> structural_key(make(0)) == structural_key(make(0))
        True
        >>> structural_key(make(0)) == structural_key(make(1))
        False
    """
    if _depth > 8:
        return ("deep", _Keep(obj))
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        return obj
    if isinstance(obj, (tuple, list)):
        return (type(obj).__name__,) + tuple(structural_key(v, _depth + 1) for v in obj)
    if isinstance(obj, dict):
        return ("dict",) + tuple(
            (structural_key(k, _depth + 1), structural_key(v, _depth + 1)) for k, v in obj.items()
        )
    if isinstance(obj, np.ndarray):
        digest = hashlib.blake2b(np.ascontiguousarray(obj).tobytes(), digest_size=16).digest()
        return ("ndarray", obj.dtype.str, obj.shape, digest)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, types.FunctionType) and not _library_function(obj):
        code = obj.__code__
        cells = tuple(
            structural_key(c.cell_contents, _depth + 1) if _cell_full(c) else ("empty",)
            for c in obj.__closure__ or ()
        )
        names = tuple(n for n in code.co_names if n in obj.__globals__)
        glob = tuple(
            (n, structural_key(obj.__globals__[n], _depth + 1))
            for n in names
            if not isinstance(obj.__globals__[n], types.ModuleType)
        )
        defaults = structural_key(obj.__defaults__, _depth + 1)
        kwdefaults = structural_key(obj.__kwdefaults__, _depth + 1)
        return ("function", code, cells, glob, defaults, kwdefaults)
    if isinstance(obj, functools.partial):
        return ("partial", structural_key((obj.func, obj.args, obj.keywords), _depth + 1))
    if isinstance(obj, types.MethodType):
        return ("method", structural_key(obj.__func__, _depth + 1), ("obj", obj.__self__))
    key = getattr(type(obj), "key", None)
    if isinstance(key, property):
        return (type(obj).__name__, obj.key)
    try:
        hash(obj)
    except TypeError:
        return ("unhashable", _Keep(obj))
    return ("obj", obj)


_LIBRARIES = ("tensorflow", "keras", "numpy", "scipy", "keras_insight")


def _library_function(fn: types.FunctionType) -> bool:
    """A module-level function of a library: stable, keyed on itself."""
    module = (getattr(fn, "__module__", None) or "").split(".")[0]
    return module in _LIBRARIES and "<locals>" not in fn.__qualname__


def _cell_full(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - raises ValueError when the cell is empty
    except ValueError:
        return False
    return True


class _Keep:
    """Holds an unhashable object inside a key (so its id is not recycled); equal by id."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _Keep) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)


class Target:
    """Base class: ``score(logits, activations, class_idx) -> (batch,) float32``.

    ``layers`` lists the layers whose activations the target reads (in order); the engine
    passes their activations as a list.
    """

    layers: tuple = ()

    @property
    def key(self) -> tuple:
        raise NotImplementedError

    def score(self, logits, activations, class_idx):  # pragma: no cover - abstract
        raise NotImplementedError


class ClassTarget(Target):
    """Logit of a class per sample; ``class_idx == -1`` means the predicted class.

    A head with one output unit has no classes to pick from: for a binary sigmoid head
    (logit z = log p / (1 - p)) class 1 scores z and class 0 scores -z (the logit of
    1 - p), and ``None`` (-1) scores z, the output itself, which is also what a regression
    head's ``targets=None`` explains.
    """

    key = ("class",)

    def score(self, logits, activations, class_idx):
        logits = tf.cast(logits, tf.float32)
        if logits.shape[-1] == 1:
            z = logits[:, 0]
            return tf.where(class_idx == 0, -z, z)
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
        idx = tf.where(class_idx < 0, predicted, class_idx)
        return tf.gather(logits, idx, axis=-1, batch_dims=1)


class CallableTarget(Target):
    """Any ``fn(logits) -> (batch,)`` score (binary heads, regression, custom margins)."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    @property
    def key(self) -> tuple:
        return ("callable", structural_key(self.fn))

    def score(self, logits, activations, class_idx):
        s = tf.cast(self.fn(logits), tf.float32)
        return tf.reshape(s, [tf.shape(logits)[0], -1])[:, 0] if s.shape.rank != 1 else s


class UnitTarget(Target):
    """An intermediate unit: one channel of a layer, at a position or averaged."""

    def __init__(self, layer: Any, channel: int, y: int | None, x: int | None, mean: bool):
        self.layers = (layer,)
        self.channel, self.y, self.x, self.mean = int(channel), y, x, mean

    @property
    def key(self) -> tuple:
        name = getattr(self.layers[0], "name", self.layers[0])
        return ("unit", name, self.channel, self.y, self.x, self.mean)

    def score(self, logits, activations, class_idx):
        a = tf.cast(activations[0], tf.float32)
        if a.shape.rank == 2:
            return a[:, self.channel]
        a = a[..., self.channel]
        if self.mean:
            return tf.reduce_mean(a, axis=[1, 2])
        y = a.shape[1] // 2 if self.y is None else self.y
        x = a.shape[2] // 2 if self.x is None else self.x
        return a[:, y, x]


def neuron(layer: Any, channel: int, y: int | None = None, x: int | None = None) -> UnitTarget:
    """One unit of ``layer``: channel ``channel`` at ``(y, x)`` (default: the centre).

    Example:
        >>> t = neuron("conv1", 3)   # centre unit of channel 3 of layer "conv1"
    """
    return UnitTarget(layer, channel, y, x, mean=False)


def channel(layer: Any, channel: int) -> UnitTarget:
    """Mean activation of one channel of ``layer`` over all positions."""
    return UnitTarget(layer, channel, None, None, mean=True)


def resolve_targets(targets: Any, n: int) -> tuple[Target, np.ndarray]:
    """Turn a user target into ``(Target, class_idx (n,) int32)``; -1 = predicted class."""
    if isinstance(targets, Target):
        return targets, np.full((n,), -1, np.int32)
    if targets is None:
        return ClassTarget(), np.full((n,), -1, np.int32)
    if callable(targets):
        return CallableTarget(targets), np.full((n,), -1, np.int32)
    if isinstance(targets, (int, np.integer)) and not isinstance(targets, bool):
        if targets < 0:
            raise ValueError(f"Target class {targets} is negative; use 0..num_classes-1.")
        return ClassTarget(), np.full((n,), int(targets), np.int32)
    if isinstance(targets, (Sequence, np.ndarray, tf.Tensor)):
        return ClassTarget(), class_indices(targets, n, what="Per-sample targets")
    raise TypeError(
        "targets must be an int, a sequence of ints (one per sample), None (the predicted "
        f"class), a callable on logits, or neuron(...)/channel(...); got {type(targets).__name__}."
    )


def class_indices(
    y: Any,
    n: int,
    num_classes: int | None = None,
    *,
    what: str = "labels",
) -> np.ndarray:
    """The one label normaliser: ints, one-hot rows or (N, 1) columns -> (n,) int32 classes.

    One-hot (or probability) rows become their argmax. Raises a one-line ValueError for a
    count that is not one per sample, non-integer values, negative classes, and, given
    ``num_classes``, classes out of range.

    Example:
        >>> class_indices([[0, 1], [1, 0]], 2).tolist()
        [1, 0]
    """
    if y is None:
        raise ValueError(f"{what}: got None; give one class index per sample.")
    arr = np.asarray(y.numpy() if hasattr(y, "numpy") else y)
    if arr.ndim == 2 and arr.shape[1] > 1:  # one-hot or probabilities
        arr = arr.argmax(axis=-1)
    arr = arr.reshape(-1) if arr.ndim == 2 else arr
    if arr.shape != (n,):
        raise ValueError(
            f"{what}: got shape {np.shape(y)} for {n} samples; give one per sample (one label "
            "per sample: a class index or a one-hot row)."
        )
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.mod(arr, 1) == 0):
            raise ValueError(f"{what} must be integer class indices (or one-hot rows).")
    arr = arr.astype(np.int32)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{what} must be >= 0, got {int(arr.min())}.")
    if num_classes is not None:
        check_class_range(arr, num_classes)
    return arr


def check_class_range(class_idx: np.ndarray, num_classes: int) -> None:
    """Raise if any explicit class index is outside ``[0, num_classes)``.

    One output unit (a binary logit) takes classes 0 and 1 (see :class:`ClassTarget`).
    """
    if num_classes == 1 and class_idx.size and class_idx.max() <= 1:
        return
    if class_idx.size and class_idx.max() >= num_classes:
        raise ValueError(
            f"Target class {int(class_idx.max())} is out of range: the model has "
            f"{num_classes} output units (classes 0..{num_classes - 1})."
        )
