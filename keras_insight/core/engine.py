"""The one gradient engine: compiled, cached, batched score/gradient computation.

Every gradient method in keras-insight goes through :func:`score_and_gradients` (a pure
TensorFlow function to call inside a ``tf.function``) and, for whole data sets,
:func:`gradients`, which compiles it once per (model, forward, target, shape) and feeds
the data in chunks of ``batch_size``. No method handles tapes, batching or targets itself.

Conventions: ``training=False`` in every forward pass; inputs, input gradients and results
are float32 even when the model runs under ``mixed_float16``; ``jit_compile="auto"`` turns
XLA on only when a GPU is visible (on a 2-core CPU XLA made a small CNN's gradient 2-3x
slower).
"""

from __future__ import annotations

import functools
import logging
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import keras
import numpy as np
import tensorflow as tf

from keras_insight.core.introspection import Forward
from keras_insight.core.targets import ClassTarget, Target, check_class_range, resolve_targets
from keras_insight.core.validation import check_images

#: the one default internal batch size (model inputs per compiled call) of every method;
#: attacks used 256 and gradients 128: 256 keeps a 256-image PGD in one call
DEFAULT_BATCH_SIZE = 256
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.RLock()
#: how often each cached function was traced: key -> count (tests assert no retrace)
TRACE_COUNTS: Counter = Counter()


class _OwnTracesFilter(logging.Filter):
    """Drop TF's "frequent retracing" warning for keras-insight's compiled functions.

    TF groups closures by code object, so one compiled function per (model, method,
    shape) looks like retracing to it; ``TRACE_COUNTS`` shows each traces once.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not ("triggered tf.function retracing" in msg and "keras_insight." in msg)


logging.getLogger("tensorflow").addFilter(_OwnTracesFilter())


def use_xla(jit_compile: bool | str = "auto") -> bool:
    """Resolve the jit policy: ``"auto"`` = XLA on GPU only."""
    if jit_compile == "auto":
        return bool(tf.config.list_physical_devices("GPU"))
    if not isinstance(jit_compile, bool):
        raise ValueError(f"jit_compile must be True, False or 'auto', got {jit_compile!r}.")
    return jit_compile


def cached(owner: Any, key: tuple, build: Callable[[], Any]) -> Any:
    """Return ``build()`` memoised per ``owner`` (weakly held) and ``key``."""
    with _LOCK:
        table = _CACHE.setdefault(owner, {})
        if key not in table:
            table[key] = build()
        return table[key]


def compiled(
    owner: Any,
    key: tuple,
    fn: Callable,
    input_signature: Sequence[tf.TensorSpec],
    jit_compile: bool | str = "auto",
) -> Callable:
    """``tf.function(fn)`` with a fixed signature, cached per ``owner`` and ``key``.

    The batch dimension in the signature should be ``None`` so that any batch size reuses
    one trace. Each trace increments ``TRACE_COUNTS[key]``.
    """
    xla = use_xla(jit_compile)
    full_key = key + ("xla" if xla else "graph",)

    def build():
        @functools.wraps(fn)
        def counted(*args):
            TRACE_COUNTS[full_key] += 1
            return fn(*args)

        counted.__qualname__ = f"keras_insight.{fn.__qualname__}"
        # autograph=False: every compiled function writes its loops as tf.while_loop, and
        # AutoGraph's source conversion (of each function and what it calls) was the largest
        # one-off cost of the callback suite (profiled: 21.1 -> 13.9 CPU s over a 5-epoch
        # standard suite, benchmarks/bench_suite.py). Nothing is lost: Keras 3 layer calls
        # are never converted (a model branching in Python on tensors fails either way).
        return tf.function(
            counted, input_signature=list(input_signature), jit_compile=xla, autograph=False
        )

    return cached(owner, full_key, build)


def get_forward(
    model: keras.Model,
    layers: Sequence[Any] = (),
    *,
    output: int | str | None = None,
    linear_head: bool = True,
    relu: Callable | None = None,
) -> Forward:
    """A cached :class:`Forward` for the model and configuration."""
    layer_key = tuple(lyr if isinstance(lyr, (str, int)) else id(lyr) for lyr in layers)
    key = ("forward", layer_key, output, linear_head, id(relu) if relu else None)
    return cached(
        model,
        key,
        lambda: Forward(model, layers, output=output, linear_head=linear_head, relu=relu),
    )


def score_and_gradients(
    forward: Forward,
    target: Target,
    x: tf.Tensor,
    class_idx: tf.Tensor,
    *,
    layer_grads: bool = False,
    input_grads: bool = True,
    scale: float = 1.0,
) -> dict[str, Any]:
    """Scores and their gradients, for use inside a ``tf.function``.

    ``forward`` must return the target's layers first, then any extra layers. Gradients of
    ``sum(scores)`` equal per-sample gradients because samples do not interact when
    ``training=False``.

    Returns a dict with ``scores`` (B,), ``logits`` (B, K), ``activations`` (list),
    ``input_grads`` (B, ...) and ``layer_grads`` (list), all float32.
    """
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x)
        acts, logits = forward(x)
        if layer_grads:
            for a in acts:
                tape.watch(a)
        n_t = len(target.layers)
        scores = target.score(logits, acts[:n_t], class_idx)
        scaled = tf.reduce_sum(scores) * scale
    sources = ([x] if input_grads else []) + (list(acts) if layer_grads else [])
    grads = tape.gradient(scaled, sources, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    grads = [tf.cast(g, tf.float32) / scale for g in grads]
    return {
        "scores": scores,
        "logits": tf.cast(logits, tf.float32),
        "activations": [tf.cast(a, tf.float32) for a in acts],
        "input_grads": grads[0] if input_grads else None,
        "layer_grads": grads[1:] if input_grads else grads,
    }


def check_targets_in_range(
    model: keras.Model,
    key: tuple,
    f: Callable,
    target: Target,
    class_idx: np.ndarray,
    *,
    logits_at: int,
) -> None:
    """Raise a clear error if an explicit class index exceeds the number of classes.

    The class count is read once from the traced output spec of ``f`` (its output number
    ``logits_at`` holds the logits) and cached under ``key``: no extra forward pass.
    """
    if isinstance(target, ClassTarget) and class_idx.size and class_idx.max() >= 0:
        num_classes = cached(
            model,
            key + ("num_classes",),
            lambda: f.get_concrete_function().structured_outputs[logits_at].shape[-1],
        )
        check_class_range(class_idx, num_classes)


class GradientResult(NamedTuple):
    """Results of :func:`gradients`, float32 numpy arrays."""

    scores: np.ndarray
    logits: np.ndarray
    input_grads: np.ndarray | None
    activations: list[np.ndarray]
    layer_grads: list[np.ndarray]
    class_idx: np.ndarray


def _spec(x: np.ndarray) -> tf.TensorSpec:
    return tf.TensorSpec((None,) + tuple(x.shape[1:]), tf.float32)


def loss_scale(model: keras.Model) -> float:
    """Factor to scale a score by before the backward pass (divide the gradients after).

    Under ``mixed_float16`` float16 gradients of a logit underflow below ~6e-8: 1024 then,
    else 1. :func:`score_and_gradients` takes it as ``scale``.
    """
    policy = getattr(model, "dtype_policy", None)
    return 1024.0 if getattr(policy, "compute_dtype", "float32") == "float16" else 1.0


def _to_numpy(t: Any) -> np.ndarray:
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)  # .numpy(): writable


def run_batched(
    f: Callable,
    *arrays: Any,
    batch_size: int | None = None,
    per_row: int = 1,
    tensors: bool = True,
) -> Any:
    """The one batching runner: ``f`` on consecutive row blocks, outputs concatenated.

    Each call gets ``arrays[i][s:e]`` (as tensors when ``tensors``, else numpy slices) for
    blocks of ``max(1, batch_size // per_row)`` rows, so that a call that expands each row
    into ``per_row`` model inputs (integrated-gradient steps, SmoothGrad samples) still
    holds at most ``batch_size`` of them; the blocks are then evened out (``ceil(n / b)``
    rows each for ``b`` blocks), so a batch that divides evenly traces one shape. Outputs (any nest of tensors or arrays) come back
    as numpy, concatenated along axis 0; a single block is returned without copying.

    Example:
        >>> import numpy as np
        >>> run_batched(lambda a: a * 2, np.arange(5.0), batch_size=2).tolist()
        [0.0, 2.0, 4.0, 6.0, 8.0]
    """
    bs = int(batch_size or DEFAULT_BATCH_SIZE)
    if bs < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    rows = max(1, bs // max(1, int(per_row)))
    n = len(arrays[0])
    if n == 0:
        raise ValueError("Empty batch: x has 0 samples.")
    # equal blocks (sizes differ by at most one): 16 SmoothGrad samples at 10 per block
    # run as 8 + 8, one traced shape instead of two (10 and 6)
    rows = -(-n // -(-n // rows))
    parts = []
    for s in range(0, n, rows):
        block = [a[s : s + rows] for a in arrays]
        if tensors:
            block = [tf.constant(b) for b in block]
        parts.append(tf.nest.map_structure(_to_numpy, f(*block)))
    if len(parts) == 1:
        return parts[0]
    return tf.nest.map_structure(lambda *p: np.concatenate(p), *parts)


def gradients(
    model: keras.Model,
    x: Any,
    targets: Any = None,
    *,
    layers: Sequence[Any] = (),
    output: int | str | None = None,
    batch_size: int | None = None,
    jit_compile: bool | str = "auto",
    relu: Callable | None = None,
    input_grads: bool = True,
    layer_grads: bool = False,
) -> GradientResult:
    """Scores, logits, input gradients and layer activations/gradients for a batch.

    d score / d x for each sample, where the score is the target (see
    :func:`keras_insight.core.targets.resolve_targets`) read from the pre-activation of the
    output layer. Compiled once per configuration and input shape; chunked by
    ``batch_size``.

    Example:
        >>> import keras, numpy as np
        >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
        >>> w = m.layers[0].kernel.numpy()
        >>> r = gradients(m, np.ones((4, 3), "float32"), targets=1)
        >>> bool(np.allclose(r.input_grads, w[:, 1]))
        True
    """
    from keras_insight.core.input_range import as_float32

    check_images(model, x)
    x = as_float32(x, ndim=None)
    n = x.shape[0]
    target, class_idx = resolve_targets(targets, n)
    fwd = get_forward(model, tuple(target.layers) + tuple(layers), output=output, relu=relu)
    scale = loss_scale(model)
    key = ("gradients", fwd.key, target.key, input_grads, layer_grads, scale)

    def fn(xb, ib):
        out = score_and_gradients(
            fwd, target, xb, ib, layer_grads=layer_grads, input_grads=input_grads, scale=scale
        )
        return (
            out["scores"],
            out["logits"],
            out["input_grads"] if input_grads else tf.zeros([0]),
            out["activations"],
            out["layer_grads"],
        )

    f = compiled(
        model, key + (x.shape[1:],), fn, [_spec(x), tf.TensorSpec((None,), tf.int32)], jit_compile
    )
    check_targets_in_range(model, key + (x.shape[1:],), f, target, class_idx, logits_at=1)
    if n == 0:
        raise ValueError("Empty batch: x has 0 samples.")
    scores, logits, grads, acts, lgrads = run_batched(f, x, class_idx, batch_size=batch_size)
    n_t = len(target.layers)
    predicted = logits.argmax(-1).astype(np.int32)
    resolved_idx = np.where(class_idx < 0, predicted, class_idx)
    return GradientResult(
        scores=scores.astype(np.float32),
        logits=logits,
        input_grads=grads if input_grads else None,
        activations=list(acts[n_t:]),
        layer_grads=list(lgrads[n_t:]),
        class_idx=resolved_idx,
    )


def forward_outputs(
    model: keras.Model,
    x: Any,
    layers: Sequence[Any] = (),
    *,
    output: int | str | None = None,
    linear_head: bool = True,
    batch_size: int | None = None,
    jit_compile: bool | str = "auto",
) -> tuple[list[np.ndarray], np.ndarray]:
    """Compiled, batched forward pass: ``(activations of layers, logits)`` as numpy float32.

    Example:
        >>> import keras, numpy as np
        >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
        >>> acts, logits = forward_outputs(m, np.ones((5, 3), "float32"), ["d"])
        >>> bool(np.allclose(acts[0], logits))
        True
    """
    from keras_insight.core.input_range import as_float32

    check_images(model, x)
    x = as_float32(x, ndim=None)
    if x.shape[0] == 0:
        raise ValueError("Empty batch: x has 0 samples.")
    fwd = get_forward(model, tuple(layers), output=output, linear_head=linear_head)

    def fn(xb):
        acts, logits = fwd(xb)
        return [tf.cast(a, tf.float32) for a in acts], tf.cast(logits, tf.float32)

    f = compiled(model, ("forward", fwd.key, x.shape[1:]), fn, [_spec(x)], jit_compile)
    acts, lg = run_batched(f, x, batch_size=batch_size)
    return list(acts), lg


def logits(
    model: keras.Model, x: Any, *, output: int | str | None = None, batch_size: int | None = None
) -> np.ndarray:
    """Pre-activation class scores of the output layer, batched and compiled."""
    return forward_outputs(model, x, output=output, batch_size=batch_size)[1]
