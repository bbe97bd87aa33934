"""Model introspection: find layers, build activation forwards and linear-head logits.

Every method in keras-insight reaches into a model through :class:`Forward`, a callable
``x -> (activations, logits)`` that

* works for Sequential (with or without ``keras.Input``), Functional, nested (a model used
  as a layer, searched into) and loaded models; subclassed models support only ``model(x)``;
* returns the *pre-activation* of the output layer ("logits"): a final softmax, sigmoid,
  ReLU or any other activation, fused into the last Dense/Conv or in a separate
  Activation/Softmax/ReLU layer, is made linear;
* can replace every ReLU by a custom function (guided backprop, deconvnet);
* never changes the user's model. Overrides are swapped onto the shared layer objects only
  while a ``tf.function`` traces the forward pass and are restored before the trace
  returns, so the compiled graph reads the live weights while the user's model object
  computes exactly what it did (tested).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras

_SPATIAL_REDUCERS = (
    keras.layers.Flatten,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.Reshape,
)
ACTIVATION_LAYERS = (
    keras.layers.Activation,
    keras.layers.Softmax,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
)
_INFERENCE_NOOPS = (
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
)
_SWAP_LOCK = threading.RLock()


class SubclassedModelError(ValueError):
    """Raised when a layer-based method is asked of a subclassed model."""


# ---------------------------------------------------------------- model kinds


def _class_names(obj: Any) -> list[str]:
    return [c.__name__ for c in type(obj).__mro__]


def is_sequential(model: Any) -> bool:
    return isinstance(model, keras.Sequential)


def is_functional(model: Any) -> bool:
    """A model built from ``keras.Input`` tensors (``keras.Model(inputs, outputs)``)."""
    return "Functional" in _class_names(model) and not is_sequential(model)


def is_subclassed(model: Any) -> bool:
    """A ``keras.Model`` subclass whose graph is only known by calling it."""
    return isinstance(model, keras.Model) and not (is_sequential(model) or is_functional(model))


def _check_model(model: Any) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"Expected a keras.Model (Keras 3), got {type(model).__name__}. "
            "Load saved models with keras.models.load_model(path)."
        )


def require_graph(model: Any, what: str) -> None:
    """Raise :class:`SubclassedModelError` (naming ``what`` and the alternatives) for a
    subclassed model, whose layer graph is unknown."""
    if is_subclassed(model):
        raise SubclassedModelError(
            f"{what} needs the model's layer graph, but {type(model).__name__} is a subclassed "
            "keras.Model whose internal layers are only known by running call(). Methods that "
            "only need model(x) work (input gradients, saliency, integrated gradients, "
            "occlusion, attacks, class objectives). Wrap the network as a Functional or "
            "Sequential model to use layer-based methods."
        )


# ---------------------------------------------------------------- layer listing


def iter_layers(model: keras.Model, prefix: str = "") -> Iterator[tuple[str, keras.layers.Layer]]:
    """Yield ``(path, layer)`` depth-first, entering nested models.

    The path joins names with ``/`` ("base/conv1"); a nested model itself is yielded before
    its layers.
    """
    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        yield path, layer
        if isinstance(layer, keras.Model) and not is_subclassed(layer):
            yield from iter_layers(layer, prefix=path + "/")


def _contains(model: keras.Model, layer: keras.layers.Layer) -> bool:
    return any(lyr is layer for _, lyr in iter_layers(model))


def input_shape(model: keras.Model, x: Any = None) -> tuple[int, ...]:
    """Per-sample input shape (without batch) from the model, else from data ``x``."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if inputs:
        shape = tuple(inputs[0].shape[1:])
        if all(d is not None for d in shape):
            return tuple(int(d) for d in shape)
    if x is not None:
        return tuple(int(d) for d in x.shape[1:])
    raise ValueError(
        f"Cannot tell the input shape of model {model.name!r}: it was built without "
        "keras.Input and never called. Pass data (x) or call the model once on a batch."
    )


def layer_output_shapes(model: keras.Model, x: Any = None) -> dict[int, tuple]:
    """Map ``id(layer) -> output shape`` (batch dim None) for every layer, nested included.

    Computed by replaying the model on a symbolic ``keras.Input``; never reads the Keras-2
    ``layer.output_shape``.
    """
    require_graph(model, "Layer output shapes")
    cache = _SHAPES_CACHE.setdefault(model, {})
    shape = input_shape(model, x)
    if shape not in cache:
        shapes: dict[int, tuple] = {}
        _symbolic_replay(model, keras.Input(shape), shapes)
        cache[shape] = shapes
    return cache[shape]


_SHAPES_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _symbolic_replay(model: keras.Model, h: Any, shapes: dict[int, tuple]) -> Any:
    """Record each layer's output shape; returns the output spec for input spec ``h``.

    Uses ``compute_output_spec`` so that no call node is added to the user's layers.
    """
    if is_sequential(model):
        for layer in model.layers:
            if isinstance(layer, keras.Model) and not is_subclassed(layer):
                h = _symbolic_replay(layer, h, shapes)
            else:
                h = layer.compute_output_spec(h)
            shapes[id(layer)] = tuple(h.shape)
        return h
    # Functional: every layer's output is in its own graph; nested models recurse.
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            out = layer.output
        except (AttributeError, ValueError):
            continue
        if isinstance(out, (list, tuple)):
            out = out[0]
        shapes[id(layer)] = tuple(out.shape)
        if isinstance(layer, keras.Model) and not is_subclassed(layer):
            _symbolic_replay(layer, keras.KerasTensor(layer.inputs[0].shape), shapes)
    out = model.compute_output_spec(h)
    return out[0] if isinstance(out, (list, tuple)) else out


def spatial_layers(model: keras.Model, x: Any = None) -> list[tuple[str, keras.layers.Layer]]:
    """All ``(path, layer)`` whose output is 4-D (N, H, W, C), nested models searched into.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c"),
        ...                       keras.layers.Flatten(), keras.layers.Dense(2)])
        >>> [p for p, _ in spatial_layers(m)]
        ['c']
    """
    shapes = layer_output_shapes(model, x)
    return [
        (path, layer)
        for path, layer in iter_layers(model)
        if not isinstance(layer, keras.Model) and len(shapes.get(id(layer), ())) == 4
    ]


def resolve_layer(
    model: keras.Model, layer: str | int | keras.layers.Layer, x: Any = None
) -> keras.layers.Layer:
    """Find a layer by name (or ``outer/inner`` path), index into ``model.layers``, or object.

    Names are searched in nested models too. A wrong name raises ``ValueError`` listing the
    valid names.
    """
    require_graph(model, f"Resolving layer {layer!r}")
    entries = list(iter_layers(model))
    if isinstance(layer, keras.layers.Layer):
        if any(lyr is layer for _, lyr in entries):
            return layer
        raise ValueError(f"Layer object {layer.name!r} is not part of model {model.name!r}.")
    if isinstance(layer, int) and not isinstance(layer, bool):
        try:
            return model.layers[layer]
        except IndexError:
            raise ValueError(
                f"Layer index {layer} is out of range: model {model.name!r} has "
                f"{len(model.layers)} top-level layers."
            ) from None
    if isinstance(layer, str):
        for path, lyr in entries:
            if layer in (path, lyr.name):
                return lyr
        names = ", ".join(repr(p) for p, _ in entries)
        raise ValueError(f"No layer named {layer!r} in model {model.name!r}. Valid names: {names}.")
    raise TypeError(f"A layer is a name, an index or a layer object, got {type(layer).__name__}.")


def require_spatial(model: keras.Model, layer: keras.layers.Layer, x: Any = None) -> None:
    """Raise a clear error if ``layer`` has no 4-D output."""
    shape = layer_output_shapes(model, x).get(id(layer))
    if shape is None or len(shape) != 4:
        candidates = ", ".join(repr(p) for p, _ in spatial_layers(model, x)) or "none"
        raise ValueError(
            f"Layer {layer.name!r} has output shape {shape}, not a 4-D (N, H, W, C) feature "
            f"map. Layers with spatial output: {candidates}."
        )


def default_spatial_layer(model: keras.Model, x: Any = None) -> keras.layers.Layer:
    """The last layer with a 4-D output before the head: the input of the first spatial
    reducer (Flatten, global pooling, Reshape) that every path to the output goes through.

    A reducer inside a block, such as the global pooling of a squeeze-excitation block
    (whose result re-scales the feature map it came from), is bypassed by the block's main
    path and does not end the spatial part: on ``keras.applications.EfficientNetB0`` the
    default is ``top_activation``, on ``MobileNetV2`` ``out_relu``. Nested models are
    searched. Without any such reducer it is the last layer with a 4-D output.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c"),
        ...                       keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
        >>> default_spatial_layer(m).name
        'c'
    """
    require_graph(model, "Finding the default spatial layer")
    shapes = layer_output_shapes(model, x)
    last, _ = _spatial_end(model, shapes)
    if last is None:
        raise ValueError(
            f"Model {model.name!r} has no layer with a 4-D (N, H, W, C) output, so there is no "
            "feature map to explain; use input-gradient methods (saliency, occlusion) instead."
        )
    return last


def _is_4d(layer: Any, shapes: dict[int, tuple]) -> bool:
    return len(shapes.get(id(layer), ())) == 4


def _spatial_end(model: keras.Model, shapes: dict[int, tuple]) -> tuple[Any, bool]:
    """``(last 4-D layer before the first cut reducer, whether such a reducer was found)``."""
    if is_sequential(model):
        ops = list(model.layers)
        cuts = None  # every layer of a Sequential is on the one path
    else:
        ops, cuts = _graph_cuts(model)
    last = None
    for op in ops:
        if isinstance(op, keras.layers.InputLayer) or not isinstance(op, keras.layers.Layer):
            continue
        if isinstance(op, keras.Model):
            if is_subclassed(op):
                continue
            inner, ended = _spatial_end(op, shapes)
            last = inner if inner is not None else last
            if ended:
                return last, True
            continue
        if isinstance(op, _SPATIAL_REDUCERS) and last is not None:
            if cuts is None or id(op) in cuts:
                return last, True
        if _is_4d(op, shapes):
            last = op
    return last, False


def _graph_cuts(model: keras.Model) -> tuple[list[Any], set[int]]:
    """Operations of a Functional model on a path to its outputs, in topological order, and
    the ids of those every input-to-output path goes through (no edge jumps over them)."""
    ops = list(getattr(model, "operations", model.layers))
    pos = {id(op): i for i, op in enumerate(ops)}
    edges: list[tuple[int, int]] = []
    live: set[int] = set()
    stack, seen = list(model.outputs), set()
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        hist = getattr(t, "_keras_history", None)
        if hist is None:
            continue
        op, node_index = hist[0], hist[1]
        live.add(id(op))
        try:
            node = op._inbound_nodes[node_index]
        except (AttributeError, IndexError):
            continue
        for inp in node.input_tensors:
            parent = getattr(inp, "_keras_history", None)
            if parent is not None and id(parent[0]) in pos and id(op) in pos:
                edges.append((pos[id(parent[0])], pos[id(op)]))
            stack.append(inp)
    ops = [op for op in ops if id(op) in live]
    cuts = {
        id(op)
        for op in ops
        if not any(u < pos[id(op)] < v for u, v in edges)
    }
    return ops, cuts


def _unwrap_last(model: keras.Model) -> tuple[keras.Model, keras.layers.Layer]:
    """The innermost (model, layer) pair that produces the model's final output."""
    layer = model.layers[-1]
    while isinstance(layer, keras.Model) and not is_subclassed(layer) and layer.layers:
        model, layer = layer, layer.layers[-1]
    return model, layer


def output_layer(model: keras.Model, output: int | str | None = None) -> keras.layers.Layer:
    """The layer that produces the (selected) output of the model, nested models unwrapped."""
    require_graph(model, "Finding the output layer")
    if is_sequential(model):
        if output not in (None, 0):
            raise ValueError("A Sequential model has a single output; use output=None.")
        return _unwrap_last(model)[1]
    tensor = _select_output(model, output)
    for layer in model.layers:
        try:
            out = layer.output
        except (AttributeError, ValueError):
            continue
        outs = out if isinstance(out, (list, tuple)) else [out]
        if any(o is tensor for o in outs):
            if isinstance(layer, keras.Model) and not is_subclassed(layer):
                return output_layer(layer)
            return layer
    raise ValueError(f"Could not find the layer producing output {output!r} of {model.name!r}.")


def _outputs(model: keras.Model) -> list[Any]:
    try:
        return list(model.outputs or [])
    except (AttributeError, ValueError):
        return []


def num_outputs(model: keras.Model) -> int:
    """How many outputs the model declares (0 when unknown: unbuilt or subclassed)."""
    return len(_outputs(model))


def _select_output(model: keras.Model, output: int | str | None) -> Any:
    outputs = list(model.outputs)
    if output is None:
        if len(outputs) > 1:
            names = output_names(model)
            raise ValueError(
                f"Model {model.name!r} has {len(outputs)} outputs {names}; "
                f"choose one with output=<index or layer name>, e.g. output={names[0]!r}."
            )
        return outputs[0]
    if isinstance(output, int):
        if not 0 <= output < len(outputs):
            raise ValueError(
                f"output={output} is out of range: model {model.name!r} has {len(outputs)} "
                f"outputs {output_names(model)} (0..{len(outputs) - 1})."
            )
        return outputs[output]
    for i, o in enumerate(outputs):
        producer = getattr(o, "_keras_history", None)
        name = producer[0].name if producer else None
        if output in (name, getattr(o, "name", None)):
            return outputs[i]
    raise ValueError(
        f"No output named {output!r} in model {model.name!r}; its outputs are "
        f"{output_names(model)} (pass one of these names or an index)."
    )


def output_names(model: keras.Model) -> list[str]:
    """Names of the layers producing each output (not the tensors' ``keras_tensor_N``)."""
    names = []
    for i, o in enumerate(model.outputs):
        producer = getattr(o, "_keras_history", None)
        names.append(producer[0].name if producer else str(i))
    return names


def default_feature_layer(model: keras.Model, output: int | str | None = None):
    """The layer before the classifier: the one feeding the output layer.

    Dropout-like layers (identity at inference) and activation layers are skipped.
    """
    head = output_layer(model, output)
    entries = [lyr for _, lyr in iter_layers(model) if not isinstance(lyr, keras.Model)]
    idx = next(i for i, lyr in enumerate(entries) if lyr is head)
    if isinstance(head, ACTIVATION_LAYERS):  # separate activation: the classifier is before
        idx -= 1
    for lyr in reversed(entries[:idx]):
        if not isinstance(lyr, _INFERENCE_NOOPS + (keras.layers.InputLayer,)):
            return lyr
    raise ValueError(f"Model {model.name!r} has no layer before its classifier.")


# ---------------------------------------------------------------- overrides


def _is_linear(fn: Any) -> bool:
    return fn is None or getattr(fn, "__name__", "") == "linear"


def _is_relu_fn(fn: Any) -> bool:
    return getattr(fn, "__name__", "") == "relu"


@contextlib.contextmanager
def _swapped(swaps: Sequence[tuple[Any, str, Any]]) -> Iterator[None]:
    """Temporarily set ``obj.attr = value`` for each swap; always restored."""
    with _SWAP_LOCK:
        saved = []
        try:
            for obj, attr, value in swaps:
                had = attr in obj.__dict__
                saved.append((obj, attr, had, obj.__dict__.get(attr)))
                object.__setattr__(obj, attr, value)
            yield
        finally:
            for obj, attr, had, old in reversed(saved):
                if had:
                    object.__setattr__(obj, attr, old)
                else:
                    obj.__dict__.pop(attr, None)


def _linear_call(inputs, *args, **kwargs):
    return inputs


class Forward:
    """Callable ``x -> (activations, logits)`` over a Keras model, for use inside tf.function.

    Args:
        model: any Keras 3 model.
        layers: layers (name, index or object) whose activations to return, in order.
        output: which output of a multi-output model (index or name); None for one output.
        linear_head: replace the final activation by the identity (class scores = logits).
        relu: optional replacement ``fn(x) -> y`` for every ReLU (fused, ``layers.ReLU``,
            ``layers.Activation("relu")``), used by guided backprop and deconvnet.

    The forward pass always uses ``training=False``.

    Example:
        >>> import keras, numpy as np
        >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
        >>> acts, logits = Forward(m)(np.ones((1, 4), "float32"))
        >>> bool(np.allclose(keras.ops.softmax(logits), m(np.ones((1, 4)))))
        True
    """

    def __init__(
        self,
        model: keras.Model,
        layers: Sequence[str | int | keras.layers.Layer] = (),
        *,
        output: int | str | None = None,
        linear_head: bool = True,
        relu: Callable | None = None,
    ) -> None:
        _check_model(model)
        self.model = model
        self.output = output
        self.linear_head = linear_head
        self.relu = relu
        if layers and is_subclassed(model):
            require_graph(model, "Layer activations")
        self.layers = [resolve_layer(model, lyr) for lyr in layers]
        self._head: keras.layers.Layer | None = None
        if is_subclassed(model):
            if linear_head:
                self._warn_subclassed()
        else:
            if output is None and not linear_head and len(_outputs(model)) > 1:
                self.output = 0  # activations only: no head is read, any output will do
            self._head = output_layer(model, self.output)
        self._submodels: dict[int, keras.Model] = {}

    @property
    def key(self) -> tuple:
        """Hashable description used by compiled-function caches."""
        return (
            tuple(id(lyr) for lyr in self.layers),
            self.output,
            self.linear_head,
            id(self.relu) if self.relu is not None else None,
        )

    def _warn_subclassed(self) -> None:
        from keras_insight._config import logger

        logger.info(
            "model %r is subclassed: its output is used as the class score as-is. If it ends "
            "in softmax/sigmoid, return logits instead so gradients do not saturate.",
            self.model.name,
        )

    # -- swaps applied while tracing
    def _swaps(self) -> list[tuple[Any, str, Any]]:
        swaps: list[tuple[Any, str, Any]] = []
        head = self._head
        if self.linear_head and head is not None:
            if isinstance(head, ACTIVATION_LAYERS):  # a separate activation layer
                swaps.append((head, "call", _linear_call))
            elif not _is_linear(getattr(head, "activation", None)):
                swaps.append((head, "activation", keras.activations.linear))
        if self.relu is not None and not is_subclassed(self.model):
            relu = self.relu
            for _, layer in iter_layers(self.model):
                if layer is head and self.linear_head:
                    continue
                if isinstance(layer, keras.layers.ReLU):
                    if _is_default_relu(layer):
                        swaps.append((layer, "call", _relu_call(relu)))
                elif _is_relu_fn(getattr(layer, "activation", None)):
                    swaps.append((layer, "activation", relu))
        return swaps

    def __call__(self, x: Any) -> tuple[list[Any], Any]:
        with _swapped(self._swaps()):
            if is_subclassed(self.model):
                out = self.model(x, training=False)
                return [], _pick(out, self.output)
            acts, out = self._run(self.model, x, top=True)
        return acts, out

    def _run(self, model: keras.Model, x: Any, top: bool = False) -> tuple[list[Any], Any]:
        wanted = [lyr for lyr in self.layers if top or _contains(model, lyr)]
        if is_sequential(model):
            return self._run_sequential(model, x, wanted, top)
        return self._run_functional(model, x, wanted, top)

    def _run_sequential(self, model, x, wanted, top):
        found: dict[int, Any] = {}
        h = x
        for layer in model.layers:
            nested = isinstance(layer, keras.Model) and not is_subclassed(layer)
            if nested and any(_contains(layer, w) for w in wanted):
                sub_acts, h = self._run(layer, h)
                inner = [w for w in wanted if _contains(layer, w)]
                found.update({id(w): a for w, a in zip(inner, sub_acts)})
            else:
                h = layer(h, training=False)
            if any(w is layer for w in wanted):
                found[id(layer)] = h
        return [found[id(w)] for w in wanted], h

    def _run_functional(self, model, x, wanted, top):
        sub = self._submodels.get(id(model))
        if sub is None:
            sub = self._build_submodel(model, wanted, top)
            self._submodels[id(model)] = sub
        outs = sub(x, training=False)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        return outs[:-1], outs[-1]

    def _build_submodel(self, model, wanted, top):
        """A Functional over the same layers returning (wanted activations..., output)."""
        tensors = []
        for w in wanted:
            if any(lyr is w for lyr in model.layers):
                tensors.append(w.output)
                continue
            nested = next(
                lyr for lyr in model.layers if isinstance(lyr, keras.Model) and _contains(lyr, w)
            )
            tensors.append(self._nested_activation(model, nested, w))
        out = _select_output(model, self.output if top else None)
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        return keras.Model(inputs, tensors + [out])

    @staticmethod
    def _nested_activation(model, nested, w):
        """``w``'s activation in ``model``'s graph, through the call node of ``nested``
        that belongs to this graph (a model may be called in several graphs)."""
        for node in reversed(nested._inbound_nodes):
            inner_in = node.input_tensors[0]
            inner_acts, _ = Forward(nested, [w], linear_head=False)._run(nested, inner_in, True)
            try:
                keras.Model(model.inputs, inner_acts[0])
            except ValueError:  # that call node is in another graph
                continue
            return inner_acts[0]
        raise ValueError(
            f"Could not connect layer {w.name!r} inside {nested.name!r} to {model.name!r}."
        )


def _is_default_relu(layer: keras.layers.ReLU) -> bool:
    cfg = layer.get_config()
    return not cfg.get("max_value") and not cfg.get("negative_slope") and not cfg.get("threshold")


def _relu_call(relu: Callable) -> Callable:
    def call(inputs, *args, **kwargs):
        return relu(inputs)

    return call


def _pick(out: Any, output: int | str | None) -> Any:
    if isinstance(out, dict):
        if output is None and len(out) == 1:
            return next(iter(out.values()))
        return out[output]
    if isinstance(out, (list, tuple)):
        if output is None:
            if len(out) == 1:
                return out[0]
            raise ValueError(f"The model has {len(out)} outputs; choose one with output=<index>.")
        return out[output]
    return out
