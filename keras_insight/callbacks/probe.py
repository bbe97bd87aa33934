"""One shared forward pass per epoch for every callback that reads the same model.

Several callbacks of a suite look at the model through a plain forward pass of their probe
images: predicted classes (for labels), logits (confusion matrix), pooled features
(projector, PCA/t-SNE, nearest neighbours) and feature maps (activation maps). Run
separately, each one compiles (traces) its own forward function and pushes its images
through the model again, although the stratified probe sets of one seed are nested (the 16
images of Grad-CAM are among the 2,048 of the confusion matrix).

:class:`ProbePass` gathers those requests per model. Rows are deduplicated by content, so
the union of all probe sets goes through the model once per epoch, in one compiled
function (traced once per run) that returns the logits, every requested pooled feature and
the requested feature maps (gathered in-graph for the few rows that asked, so maps of the
big probe sets never reach the host). A callback's :meth:`ProbePass.outputs` returns its
own rows; the first request of an epoch computes the rows of every callback due that
epoch, later ones read them. Results are keyed by the step, the optimizer's iteration and
a checksum of the weights, so new weights always mean a new pass.

Values equal the separate computations: the same ``training=False`` forward with the
output activation made linear (:class:`~keras_insight.core.introspection.Forward`), the
same ``avg``/``max``/``flatten`` pooling as :func:`keras_insight.core.features.features`.

Example:
    >>> import keras, numpy as np
    >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, name="c"),
    ...                       keras.layers.GlobalAveragePooling2D(name="g"),
    ...                       keras.layers.Dense(3, activation="softmax")])
    >>> x = np.random.default_rng(0).random((6, 8, 8, 1)).astype("float32")
    >>> class Owner: freq = 1
    >>> a, b = Owner(), Owner()
    >>> pp = probe_pass(m)
    >>> pp.register(a, x, features=("g", "avg"))
    >>> pp.register(b, x[:2], layers=["c"])
    >>> out = pp.outputs(b, step=0)
    >>> out.activations[0].shape, pp.outputs(a, step=0).features.shape
    ((2, 6, 6, 4), (6, 4))
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Sequence
from typing import Any, NamedTuple

import keras
import numpy as np
import tensorflow as tf

from keras_insight.core.engine import cached, compiled, get_forward
from keras_insight.core.introspection import resolve_layer

__all__ = ["POOLS", "ProbeOutputs", "ProbePass", "probe_pass"]

POOLS = ("avg", "max", "flatten", None)


class ProbeOutputs(NamedTuple):
    """One request's rows: ``logits (N, K)``, ``features (N, D)`` or None, and one
    ``(N, h, w, c)`` array per requested layer in ``activations``; float32 numpy."""

    logits: np.ndarray
    features: np.ndarray | None
    activations: list[np.ndarray]


class _Request:
    def __init__(self, owner: Any, rows: np.ndarray, layers: list, feature: tuple | None):
        self.owner = weakref.ref(owner)
        self.rows = rows
        self.layers = layers
        self.feature = feature  # (layer, pool) or None


def _pool(a: tf.Tensor, pool: str | None) -> tf.Tensor:
    # the pooling of keras_insight.core.features.features, in the graph
    if a.shape.rank == 4 and pool is not None:
        if pool == "avg":
            return tf.reduce_mean(a, axis=[1, 2])
        if pool == "max":
            return tf.reduce_max(a, axis=[1, 2])
        return tf.reshape(a, [tf.shape(a)[0], -1])
    if pool is not None and a.shape.rank > 2:
        return tf.reshape(a, [tf.shape(a)[0], -1])
    return a


class ProbePass:
    """The shared forward pass of one model (get it with :func:`probe_pass`)."""

    def __init__(self, model: keras.Model) -> None:
        self._model = weakref.ref(model)
        self._lock = threading.RLock()
        self._requests: dict[tuple, _Request] = {}
        self._index: dict[bytes, int] = {}
        self._rows: list[np.ndarray] = []
        self._key: tuple | None = None
        self._reset_results()
        #: forward passes run (one per epoch when every request is due together)
        self.passes = 0

    @property
    def size(self) -> int:
        """Distinct images registered (the union of every probe set, by content)."""
        return len(self._rows)

    # ------------------------------------------------------------ registration
    def register(
        self,
        owner: Any,
        x: np.ndarray,
        *,
        layers: Sequence[Any] = (),
        features: tuple[Any, str | None] | None = None,
        name: str = "probe",
    ) -> None:
        """Ask for the logits of ``x`` every epoch, the feature maps of ``layers`` and the
        pooled ``features=(layer, pool)``. ``owner`` (a callback) is held weakly; its
        ``freq`` says in which epochs its rows are computed with the others."""
        model = self._model()
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim < 2 or len(x) == 0:
            raise ValueError(f"probe images must be a non-empty batch, got shape {x.shape}.")
        resolved = [resolve_layer(model, lyr) for lyr in layers]
        feature = None
        if features is not None:
            layer, pool = features
            if pool not in POOLS:
                raise ValueError(f"pool must be one of {POOLS}, got {pool!r}.")
            feature = (resolve_layer(model, layer), pool)
        with self._lock:
            rows = np.empty(len(x), np.int64)
            for i, row in enumerate(x):
                k = hashlib.blake2b(row.tobytes(), digest_size=16).digest()
                j = self._index.get(k)
                if j is None:
                    j = self._index[k] = len(self._rows)
                    self._rows.append(row)
                rows[i] = j
            self._requests[(id(owner), name)] = _Request(owner, rows, resolved, feature)
            self._reset_results()
            self._key = None

    def _reset_results(self) -> None:
        self._have = np.zeros(len(self._rows), bool)
        self._logits: np.ndarray | None = None
        self._feats: dict[tuple, np.ndarray] = {}
        self._acts: dict[int, dict[int, np.ndarray]] = {}

    def _live(self) -> list[tuple[tuple, _Request]]:
        dead = [k for k, r in self._requests.items() if r.owner() is None]
        for k in dead:
            del self._requests[k]
        return list(self._requests.items())

    def _plan(self) -> tuple[list, list, list]:
        """Feature specs, activation layers and activation rows of every live request."""
        specs: dict[tuple, tuple] = {}
        layers: dict[int, Any] = {}
        act_rows: set[int] = set()
        for _, r in self._live():
            if r.feature is not None:
                specs[(id(r.feature[0]), r.feature[1])] = r.feature
            for lyr in r.layers:
                layers[id(lyr)] = lyr
            if r.layers:
                act_rows.update(int(i) for i in r.rows)
        return list(specs.values()), list(layers.values()), sorted(act_rows)

    # ------------------------------------------------------------ computing
    def _fingerprint(self, step: int) -> tuple:
        model = self._model()
        try:
            it = int(model.optimizer.iterations.numpy())
        except Exception:  # no optimizer (a loaded model being analysed)
            it = None
        # a checksum of every weight (one reduction per variable, on the device): weights
        # changed outside training (set_weights, a loaded checkpoint) mean a new pass too
        sums = [tf.reduce_sum(tf.cast(v, tf.float64)) for v in model.weights]
        check = float(tf.add_n(sums).numpy()) if sums else None
        return (int(step), it, check)

    def _due(self, r: _Request, step: int) -> bool:
        owner = r.owner()
        if owner is None or getattr(owner, "disabled", False):
            return False
        return (int(step) + 1) % max(int(getattr(owner, "freq", 1)), 1) == 0

    def outputs(self, owner: Any, step: int, *, name: str = "probe") -> ProbeOutputs:
        """The rows ``owner`` registered, for the model's current weights."""
        with self._lock:
            req = self._requests.get((id(owner), name))
            if req is None or req.owner() is not owner:
                raise ValueError(
                    f"{type(owner).__name__} has not registered probe images with this "
                    "model's probe pass: call register(owner, x, ...) first."
                )
            key = self._fingerprint(step)
            if key != self._key:
                self._key = key
                self._reset_results()
            specs, layers, act_rows = self._plan()
            act_pos = {r: i for i, r in enumerate(act_rows)}
            missing = ~self._have[req.rows]
            if req.layers:
                missing |= np.array(
                    [act_pos[int(r)] not in self._acts.get(id(req.layers[0]), {}) for r in req.rows]
                )
            if missing.any():
                want = set(int(i) for i in req.rows)
                for _, r in self._live():
                    if r is not req and self._due(r, step):
                        want.update(int(i) for i in r.rows)
                todo = np.array(sorted(i for i in want if not self._have[i]), np.int64)
                if req.layers:  # the maps of this request's rows even if logits are cached
                    todo = np.union1d(todo, req.rows).astype(np.int64)
                self._compute(todo, specs, layers, act_pos)
            feats = None
            if req.feature is not None:
                spec = (id(req.feature[0]), req.feature[1])
                feats = self._feats[spec][req.rows]
            acts = [
                np.stack([self._acts[id(lyr)][act_pos[int(r)]] for r in req.rows])
                for lyr in req.layers
            ]
            return ProbeOutputs(self._logits[req.rows], feats, acts)

    def _compute(self, todo: np.ndarray, specs: list, layers: list, act_pos: dict) -> None:
        model = self._model()
        feat_layers = [lyr for lyr, _ in specs]
        fwd = get_forward(model, tuple(feat_layers) + tuple(layers))
        n_f = len(feat_layers)
        pools = [p for _, p in specs]

        def fn(xb, pick):
            acts, logits = fwd(xb)
            feats = [tf.cast(_pool(a, p), tf.float32) for a, p in zip(acts[:n_f], pools)]
            maps = [tf.cast(tf.gather(a, pick), tf.float32) for a in acts[n_f:]]
            return tf.cast(logits, tf.float32), feats, maps

        by_shape: dict[tuple, list[int]] = {}  # a model taking any size: one call per size
        for i in todo:
            by_shape.setdefault(self._rows[int(i)].shape, []).append(int(i))
        chunks = []
        for shape, rows in by_shape.items():
            key = ("probe_pass", fwd.key, tuple(pools), shape)
            sig = [tf.TensorSpec((None, *shape), tf.float32), tf.TensorSpec((None,), tf.int32)]
            f = compiled(model, key, fn, sig)
            chunks += [(f, np.array(rows[s : s + 512])) for s in range(0, len(rows), 512)]
        for f, idx in chunks:
            pick = [k for k, i in enumerate(idx) if int(i) in act_pos]
            # rows are views into the callbacks' own probe arrays: no second copy is kept
            xb = np.stack([self._rows[int(i)] for i in idx])
            logits, feats, maps = f(tf.constant(xb), tf.constant(pick, tf.int32))
            logits = logits.numpy()
            if self._logits is None:
                self._logits = np.zeros((len(self._rows), logits.shape[-1]), np.float32)
            self._logits[idx] = logits
            for (lyr, p), v in zip(specs, feats):
                v = v.numpy()
                spec = (id(lyr), p)
                if spec not in self._feats:
                    self._feats[spec] = np.zeros((len(self._rows), *v.shape[1:]), np.float32)
                self._feats[spec][idx] = v
            for lyr, m in zip(layers, maps):
                m = m.numpy()
                store = self._acts.setdefault(id(lyr), {})
                for k, j in enumerate(pick):
                    store[act_pos[int(idx[j])]] = m[k]
            self._have[idx] = True
        self.passes += 1


def probe_pass(model: keras.Model) -> ProbePass:
    """The one :class:`ProbePass` of ``model`` (created on first use, held with the model)."""
    return cached(model, ("probe_pass",), lambda: ProbePass(model))
