"""Input checks against the model's input spec, before anything is traced.

Every public function that runs a model on user data calls :func:`check_images` first, so
that an image size, channel count or rank that does not fit the model ends in one line
that says what was expected, what was given and how to fix it, never in a TensorFlow
traceback from inside a compiled function.

What is checked, in order:

* the model has one input (a multi-input model gets one line saying to fix the other
  inputs), and ``x`` is one array (not a list of differently shaped arrays);
* the rank: ``(N, *input_shape)``; a missing batch axis, a missing channel axis and an
  extra axis each get their own fix;
* every dimension the model declares (``keras.Input((H, W, C))``) against ``x``'s:
  ``expected (H, W, C), got (h, w, c)``, with a grayscale/RGB hint for the channel axis;
* where the model declares nothing (``None`` sizes, a Sequential built by calling it or
  not built yet, a subclassed model), one zero sample through ``model(x, training=False)``,
  whose error, if any, is turned into one line; it builds an unbuilt model from the data's
  shape, as the model's first call would. Cached per model and sample shape.
"""

from __future__ import annotations

import functools
import re
import weakref
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from keras_insight.core.introspection import is_sequential

_PROBED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def model_inputs(model: keras.Model) -> list[Any]:
    """The model's symbolic inputs, or ``[]`` when it has none yet (unbuilt, subclassed)."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return []
    return list(inputs or [])


def _shape_str(shape: Any) -> str:
    dims = tuple(None if d is None else int(d) for d in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"


def _input_desc(t: Any) -> str:
    name = getattr(t, "name", "input")
    hist = getattr(t, "_keras_history", None)
    if hist is not None and getattr(hist[0], "name", None):
        name = hist[0].name
    return f"{name} {_shape_str(tuple(t.shape)[1:])}"


def _shape_of(x: Any, name: str, model: keras.Model) -> tuple[int, ...]:
    if isinstance(x, dict) or (
        isinstance(x, (list, tuple)) and x and all(hasattr(a, "shape") for a in x)
        and len({tuple(a.shape) for a in x}) > 1
    ):
        n = len(x)
        raise ValueError(
            f"{name} is a {type(x).__name__} of {n} arrays, but model {model.name!r} takes one "
            "image input: pass one array (N, H, W, C)."
        )
    shape = getattr(x, "shape", None)
    if shape is None:
        try:
            shape = np.shape(x)
        except ValueError:
            raise ValueError(
                f"{name} is a ragged nested list, not an array: pass one array (N, H, W, C) "
                "of equally sized images."
            ) from None
    return tuple(int(d) for d in shape)


def check_images(
    model: keras.Model, x: Any, *, name: str = "x", grayscale_2d: bool = False
) -> None:
    """Raise a one-line ``ValueError`` if ``x`` does not fit ``model``'s input; else None.

    Runs before any tracing and reads only shapes (one symbolic pass, cached, where the
    model declares no sizes). See the module docstring for what is checked. ``x`` may be
    an array, a tensor, or a ``tf.data.Dataset`` (its element spec is checked; other
    iterables are not read). ``grayscale_2d=True`` accepts a batch (N, H, W) for a
    one-channel model (callers that add the channel axis themselves).

    Example:
        >>> import keras, numpy as np
        >>> m = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3),
        ...                       keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)], name="seq")
        >>> check_images(m, np.zeros((2, 8, 8, 3)))
        >>> try:
        ...     check_images(m, np.zeros((2, 8, 8, 1)))
        ... except ValueError as e:
        ...     print(str(e)[:63])
        x: expected (8, 8, 3), got (8, 8, 1) per sample for model 'seq'
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"Expected a keras.Model (Keras 3), got {type(model).__name__}. "
            "Load saved models with keras.models.load_model(path)."
        )
    inputs = model_inputs(model)
    if len(inputs) > 1:
        descs = ", ".join(_input_desc(t) for t in inputs)
        got = (
            f"a list of {len(x)} arrays"
            if isinstance(x, (list, tuple, dict))
            else "one array"
        )
        raise ValueError(
            f"Model {model.name!r} takes {len(inputs)} inputs ({descs}) and {name} is {got}; "
            "keras-insight explains one image input: wrap the model as a single-input model "
            "that fixes the other inputs (keras.Model(image_input, outputs))."
        )
    if hasattr(x, "element_spec"):  # tf.data: check the spec of its first component
        spec = x.element_spec
        spec = spec[0] if isinstance(spec, (list, tuple)) else spec
        shape = getattr(spec, "shape", None)
        if shape is None or shape.rank is None or shape.rank == 0:
            return
        x = np.empty([1] + [0 if d is None else int(d) for d in shape[1:]], np.float32)
        if any(d is None for d in spec.shape[1:]):
            return
    elif not hasattr(x, "shape") and not isinstance(x, (list, tuple, dict)):
        return  # an iterable of batches: checked batch by batch by the caller
    shape = _shape_of(x, name, model)
    if grayscale_2d and len(shape) == 3 and inputs and len(inputs[0].shape) == 4:
        if inputs[0].shape[-1] == 1:
            shape = (*shape, 1)
    if len(shape) == 0:
        raise ValueError(f"{name} is a scalar; pass a batch of images (N, H, W, C).")
    declared = tuple(inputs[0].shape) if inputs else None
    if declared is not None and declared[0] is None:  # keras.Input: the user declared sizes
        _check_declared(model, shape, tuple(declared[1:]), name)
        if all(d is not None for d in declared[1:]):
            return
    elif declared is not None:  # a Sequential built by calling it: only rank and channels
        want = tuple(declared[1:])
        _check_rank(model, shape, want, name)
        loose = tuple(None if i < len(want) - 1 else d for i, d in enumerate(want))
        _check_declared(model, shape, loose, name)
    elif not model.built or (is_sequential(model) and not model_inputs(model)):
        _check_unbuilt(model, shape, name)  # the probe below builds it, as its first call would
    _probe(model, shape, name)


def _check_rank(model: keras.Model, shape: tuple, want: tuple, name: str) -> None:
    if len(shape) == len(want) + 1:
        return
    batch = "(N, " + _shape_str(want)[1:]
    if len(shape) == len(want) and _fits(shape, want):
        fix = f"one sample without a batch axis; pass a batch: {name}[None]"
    elif len(shape) == len(want) and want[-1] == 1 and _fits(shape[1:], want[:-1]):
        fix = f"no channel axis; add it: {name}[..., None]"
    elif len(shape) > len(want) + 1 and _fits(shape[-len(want):], want):
        flat = ", ".join(str(d) for d in shape[-len(want):])
        fix = f"extra leading axes; merge them: {name}.reshape(-1, {flat})"
    else:
        fix = "reshape or resize it to the model's input"
    raise ValueError(
        f"{name} has shape {_shape_str(shape)} but model {model.name!r} expects a batch "
        f"{batch} of {_shape_str(want)} samples: {fix}."
    )


def _fits(shape: tuple, want: tuple) -> bool:
    return len(shape) == len(want) and all(w is None or s == w for s, w in zip(shape, want))


def _check_declared(model: keras.Model, shape: tuple, want: tuple, name: str) -> None:
    _check_rank(model, shape, want, name)
    got = shape[1:]
    if _fits(got, want):
        return
    head = (
        f"{name}: expected {_shape_str(want)}, got {_shape_str(got)} per sample for model "
        f"{model.name!r}"
    )
    if len(want) == 3 and want[-1] is not None and got[-1] != want[-1]:
        c, k = got[-1], want[-1]
        if c == 1 and k == 3:
            fix = f"grayscale images on an RGB model: repeat the channel, np.repeat({name}, 3, axis=-1)"
        elif c == 3 and k == 1:
            fix = f"RGB images on a grayscale model: average the channels, {name}.mean(-1, keepdims=True)"
        else:
            fix = f"the model takes {k} channel(s), the data has {c}"
        raise ValueError(f"{head}: {fix}.")
    if len(want) == 3:
        h, w = (d if d is not None else s for d, s in zip(want[:2], got[:2]))
        fix = f"resize the images to {h}x{w} (e.g. keras.ops.image.resize({name}, ({h}, {w})))"
    else:
        fix = "reshape the data to the model's input"
    raise ValueError(f"{head}: {fix}.")


def _check_unbuilt(model: keras.Model, shape: tuple, name: str) -> None:
    """A Sequential never built: its first layer's input spec says the rank it takes."""
    first = next((lyr for lyr in model.layers if lyr.input_spec is not None), None)
    spec = first.input_spec if first is not None else None
    spec = spec[0] if isinstance(spec, (list, tuple)) else spec
    if spec is None:
        return
    ndim, lo = getattr(spec, "ndim", None), getattr(spec, "min_ndim", None)
    if (ndim is not None and len(shape) != ndim) or (lo is not None and len(shape) < lo):
        want = ndim if ndim is not None else lo
        hint = f" add a batch axis: {name}[None]" if len(shape) == want - 1 else ""
        raise ValueError(
            f"{name} has shape {_shape_str(shape)} but the first layer {first.name!r} of model "
            f"{model.name!r} takes {want}-D batches (N, H, W, C).{hint}"
        )


def _probe(model: keras.Model, shape: tuple, name: str) -> None:
    """One sample through ``model(x, training=False)``, cached per model and sample shape.

    An eager call on one zero sample is the exact test (Keras checks every layer's input
    spec on the way) and is cheap next to the method that follows; it adds no call nodes.
    """
    key = tuple(shape[1:])
    seen = _PROBED.setdefault(model, {})
    if key not in seen:
        seen[key] = _probe_error(model, key)
    err = seen[key]
    if err:
        hint = ""
        if len(shape) == 3 and shape[-1] in (1, 3, 4):
            hint = f" If it is one image, add a batch axis: {name}[None]."
        raise ValueError(
            f"{name}: got {_shape_str(key)} per sample, which model {model.name!r} cannot "
            f"take: {err}. Pass samples of the shape the model was built for.{hint}"
        )


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _probe_error(model: keras.Model, sample_shape: tuple) -> str:
    try:
        model(np.zeros((1, *sample_shape), np.float32), training=False)
    except Exception as e:  # noqa: BLE001 - any failure here is the input not fitting
        lines = [ln.strip() for ln in _ANSI.sub("", str(e)).splitlines() if ln.strip()]
        useful = [ln for ln in lines if not ln.startswith("Exception encountered")]
        return ((useful or lines or [type(e).__name__])[0]).rstrip(".:")[:300]
    return ""


# ---------------------------------------------------------------- non-finite models

_WARNED: set = set()


def _weights_of(model: keras.Model) -> list[tuple[str, Any]]:
    """``(layer path, variable)`` for every weight, nested models entered, in layer order."""
    from keras_insight.core.introspection import is_subclassed, iter_layers

    if is_subclassed(model):
        return [(str(getattr(w, "path", w.name)).rsplit("/", 1)[0], w) for w in model.weights]
    out = []
    for path, layer in iter_layers(model):
        if isinstance(layer, keras.Model):
            continue
        out.extend((path, w) for w in layer.weights)
    return out


def nonfinite_weights(model: keras.Model) -> str | None:
    """``None`` when every weight is finite, else a phrase naming the first layer (in layer
    order) with a NaN/inf weight, e.g. ``"layer 'conv2' has non-finite weights
    (kernel: 1 of 1152 values)"``.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="d")])
        >>> nonfinite_weights(m) is None
        True
    """
    import tensorflow as tf

    weights = _weights_of(model)
    if not weights or all(bool(tf.reduce_all(tf.math.is_finite(w))) for _, w in weights):
        return None
    for path, w in weights:
        v = np.asarray(w.numpy() if hasattr(w, "numpy") else w)
        bad = int(v.size - np.isfinite(v).sum())
        if bad:
            wname = str(getattr(w, "name", "weight")).rsplit("/", 1)[-1]
            return (
                f"layer {path!r} has non-finite weights ({wname}: {bad} of {v.size} values "
                "NaN/inf)"
            )
    return None  # pragma: no cover - found above


def nonfinite_activation(model: keras.Model, x: Any) -> str | None:
    """``None`` when every layer's output is finite at ``x`` (first 8 samples), else a
    phrase naming the first layer whose output is not (graph models only)."""
    from keras_insight.core.engine import forward_outputs
    from keras_insight.core.introspection import is_subclassed, iter_layers

    if is_subclassed(model) or x is None:
        return None
    layers = [
        lyr
        for _, lyr in iter_layers(model)
        if not isinstance(lyr, (keras.Model, keras.layers.InputLayer))
    ]
    try:
        acts, _ = forward_outputs(model, np.asarray(x, np.float32)[:8], layers, linear_head=False)
    except Exception:  # noqa: BLE001 - a diagnosis must not raise
        return None
    for lyr, a in zip(layers, acts):
        if not np.isfinite(a).all():
            return f"layer {lyr.name!r} outputs non-finite values for finite inputs and weights"
    return None


def describe_nonfinite(model: keras.Model, x: Any = None) -> str:
    """Why a computation on ``model`` came out non-finite, naming the first culprit layer."""
    culprit = nonfinite_weights(model)
    if culprit is None:
        culprit = nonfinite_activation(model, x)
    if culprit is not None:
        fix = (
            "reload or retrain the weights (a fit that diverged: lower the learning rate or "
            "clip gradients)"
            if "has non-finite weights" in culprit
            else "an overflow: normalise the inputs or lower the layer's scale"
        )
        inputs = "; the inputs are finite" if x is not None else ""
        return f"{culprit} in model {model.name!r}{inputs}: {fix}"
    return (
        f"model {model.name!r} has finite weights and layer outputs at these inputs, but its "
        "gradients overflowed (under mixed_float16, scale the loss)"
    )


def _has_nonfinite(out: Any) -> bool:
    if isinstance(out, np.ndarray):
        return out.dtype.kind == "f" and not bool(np.isfinite(out).all())
    if isinstance(out, (list, tuple)):
        return any(_has_nonfinite(o) for o in out)
    return False


def warn_nonfinite(model: keras.Model, out: Any, *, what: str, x: Any = None) -> bool:
    """Warn (once per model, method and cause) when ``out`` holds NaN/inf; True if it does.

    The warning names the first layer with non-finite weights, else the first layer whose
    output is non-finite at ``x``; it never blames finite inputs.
    """
    if not _has_nonfinite(out):
        return False
    msg = f"{what}: the result contains NaN/inf because {describe_nonfinite(model, x)}."
    key = (id(model), what, msg)
    if key not in _WARNED:
        _WARNED.add(key)
        from keras_insight._config import logger

        logger.warning(msg)
    return True


def guard_nonfinite(what: str, *, takes_x: bool = True) -> Callable:
    """Decorator for ``fn(model, x, ...)`` (``takes_x=False``: ``fn(model, ...)``): warn via
    :func:`warn_nonfinite` when the result holds NaN/inf, and turn an internal "contains NaN"
    error on finite inputs into one that names the non-finite layer."""

    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(model, *args, **kwargs):
            x = (args[0] if args else kwargs.get("x")) if takes_x else None
            try:
                out = fn(model, *args, **kwargs)
            except ValueError as e:
                if "NaN" in str(e) and isinstance(model, keras.Model) and _finite(x):
                    raise ValueError(
                        f"{what}: non-finite values because {describe_nonfinite(model, x)}."
                    ) from None
                raise
            warn_nonfinite(model, out, what=what, x=x if _finite(x) else None)
            return out

        return wrapper

    return deco


def _finite(x: Any) -> bool:
    if x is None:
        return True
    try:
        arr = np.asarray(x.numpy() if hasattr(x, "numpy") else x)
        return arr.dtype.kind not in "fc" or bool(np.isfinite(arr).all())
    except (TypeError, ValueError):
        return False
