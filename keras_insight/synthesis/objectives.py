"""Composable objectives for activation maximisation (Lucid-style: they add and scale like numbers).

An objective maps an evaluation context (the image, the logits and layer activations of the
transformed image, reference activations) to one float32 score per sample, shape (B,).
``class_logit(3) - 0.1 * l2()`` is an objective whose score is exactly that arithmetic on the
two separate scores (Olah et al. 2017, "Feature Visualization").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from keras_insight.core.targets import Target, UnitTarget, structural_key

LayerRef = Any  # a layer name, index or keras layer object
#: pseudo-layer: the (transformed) input image itself, phi = identity
INPUT = "@input"


def layer_key(layer: LayerRef) -> Any:
    """Hashable key of a layer reference (name, index or object id)."""
    return layer if isinstance(layer, (str, int)) else ("id", id(layer))


def _no_image() -> ValueError:
    return ValueError(
        "This objective reads the input image, which a gradient target does not see: use "
        "class_logit, channel, neuron or layer_l2 (or their sums) as a target."
    )


class Context:
    """What an objective can read for a batch: see :class:`Objective`.

    Attributes:
        image: the untransformed images (B, H, W, C) float32 inside ``input_range``.
        logits: pre-activation class scores of the transformed images (B, K).
        input_range: ``(lo, hi)`` floats.
    """

    def __init__(self, image, logits, acts: dict, input_range, refs: dict | None = None):
        self._image = image
        self.logits = logits
        self._acts = acts
        self._input_range = input_range
        self._refs = refs or {}

    @property
    def image(self):
        if self._image is None:
            raise _no_image()
        return self._image

    @property
    def input_range(self):
        if self._input_range is None:
            raise _no_image()
        return self._input_range

    def act(self, layer: LayerRef):
        """float32 activations of ``layer`` for the transformed images."""
        return tf.cast(self._acts[layer_key(layer)], tf.float32)

    def ref_act(self, ref: str, layer: LayerRef):
        """float32 activations of ``layer`` for the reference images named ``ref``."""
        return tf.cast(self._refs[ref][layer_key(layer)], tf.float32)

    def slice(self, i: int) -> Context:
        """The context of sample ``i`` alone (batch of one)."""
        acts = {k: v[i : i + 1] for k, v in self._acts.items()}
        refs = {r: {k: v[i : i + 1] for k, v in d.items()} for r, d in self._refs.items()}
        image = None if self._image is None else self._image[i : i + 1]
        return Context(image, self.logits[i : i + 1], acts, self._input_range, refs)


class Objective(Target):
    """A per-sample score ``fn(ctx) -> (B,)`` to maximise; supports ``+``, ``-``, ``*`` scalar.

    An objective that reads only logits and layer activations (``class_logit``, ``channel``,
    ``neuron``, ``layer_l2`` and their combinations) is also a gradient target: pass it as
    ``targets`` to ``saliency``, ``grad_cam``, ``gradients``...

    Args:
        fn: ``Context -> (B,) tensor``.
        name: a readable description.
        layers: layer references whose activations ``fn`` reads.
        refs: names of reference image sets whose activations ``fn`` reads.
        checks: ``[(model, shapes) -> None]`` validators run before compiling.

    Example:
        >>> obj = class_logit(3) - 0.1 * l2()
        >>> obj.name
        '(class_logit(3) - 0.1 * l2())'
    """

    def __init__(
        self,
        fn: Callable[[Context], Any],
        name: str,
        layers: Sequence[LayerRef] = (),
        refs: Sequence[str] = (),
        checks: Sequence[Callable] = (),
    ) -> None:
        self.fn = fn
        self.name = name
        self.layers = tuple(layers)
        self.refs = tuple(refs)
        self.checks = tuple(checks)

    def __call__(self, ctx: Context):
        return tf.cast(self.fn(ctx), tf.float32)

    def score(self, logits, activations, class_idx):
        """The objective as a gradient target (no image, no references)."""
        if self.refs or INPUT in self.layers:
            raise ValueError(
                f"{self.name} reads reference or input images and cannot be a gradient target: "
                "use class_logit, channel, neuron or layer_l2 (or their sums)."
            )
        acts = {layer_key(lyr): a for lyr, a in zip(self.layers, activations)}
        return self(Context(None, tf.cast(logits, tf.float32), acts, None))

    @classmethod
    def from_target(cls, target: Any) -> Objective:
        """The objective of an engine unit target (``keras_insight.channel``/``neuron``)."""
        if isinstance(target, Objective):
            return target
        if isinstance(target, UnitTarget):
            layer = target.layers[0]
            if target.mean:
                return channel(layer, target.channel)
            return neuron(layer, target.channel, target.y, target.x)
        raise TypeError(
            "Expected keras_insight.synthesis objectives (class_logit, channel, ...) or "
            f"keras_insight.channel/neuron, got {type(target).__name__}."
        )

    @property
    def key(self) -> tuple:
        """Structural: equal only for objectives that compute the same score (the name alone
        is not enough: two custom objectives may share one)."""
        return (
            self.name,
            structural_key(self.fn),
            tuple(layer_key(lyr) for lyr in self.layers),
            self.refs,
        )

    def __repr__(self) -> str:
        return f"Objective({self.name})"

    # -- algebra
    def _combine(self, other: Objective, op: Callable, sym: str) -> Objective:
        return Objective(
            lambda ctx: op(self(ctx), other(ctx)),
            f"({self.name} {sym} {other.name})",
            _unique(self.layers + other.layers),
            tuple(dict.fromkeys(self.refs + other.refs)),
            self.checks + other.checks,
        )

    def __add__(self, other: Any) -> Objective:
        if isinstance(other, (int, float)):
            return Objective(
                lambda ctx: self(ctx) + float(other),
                f"({self.name} + {other})",
                self.layers,
                self.refs,
                self.checks,
            )
        return self._combine(_as_objective(other), tf.add, "+")

    __radd__ = __add__

    def __sub__(self, other: Any) -> Objective:
        if isinstance(other, (int, float)):
            return self + (-float(other))
        return self._combine(_as_objective(other), tf.subtract, "-")

    def __rsub__(self, other: Any) -> Objective:
        return (-1.0 * self) + other

    def __neg__(self) -> Objective:
        return -1.0 * self

    def __mul__(self, k: Any) -> Objective:
        if not isinstance(k, (int, float)):
            raise TypeError(f"Objectives scale by numbers only, got {type(k).__name__}.")
        k = float(k)
        return Objective(
            lambda ctx: k * self(ctx), f"{k:g} * {self.name}", self.layers, self.refs, self.checks
        )

    __rmul__ = __mul__

    def __truediv__(self, k: Any) -> Objective:
        return self * (1.0 / float(k))


def _as_objective(obj: Any) -> Objective:
    if not isinstance(obj, Objective):
        raise TypeError(f"Expected an Objective (e.g. class_logit(3)), got {type(obj).__name__}.")
    return obj


def _unique(layers: Sequence[LayerRef]) -> tuple:
    seen, out = set(), []
    for lyr in layers:
        k = layer_key(lyr)
        if k not in seen:
            seen.add(k)
            out.append(lyr)
    return tuple(out)


# ---------------------------------------------------------------- checks


def _check_class(c: int):
    def check(model, shapes):
        k = shapes["logits"][-1]
        if k is not None and not 0 <= c < k:
            raise ValueError(
                f"class_logit({c}) is out of range: the model has {k} output units (classes 0..{k - 1})."
            )

    return check


def _check_channel(layer: LayerRef, k: int, spatial: bool, y=None, x=None):
    def check(model, shapes):
        shape = shapes[layer_key(layer)]
        if spatial and len(shape) != 4:
            from keras_insight.core import spatial_layers

            names = ", ".join(repr(p) for p, _ in spatial_layers(model)) or "none"
            raise ValueError(
                f"Layer {layer!r} has output shape {tuple(shape)}, not a 4-D (N, H, W, C) feature map, so it "
                f"has no spatial channels to maximise. Layers with spatial output: {names}."
            )
        c = shape[-1]
        if not 0 <= k < c:
            raise ValueError(
                f"Channel {k} is out of range for layer {layer!r}: it has {c} channels (0..{c - 1})."
            )
        if len(shape) == 4:
            for name, v, n in (("y", y, shape[1]), ("x", x, shape[2])):
                if v is not None and n is not None and not 0 <= v < n:
                    raise ValueError(
                        f"neuron {name}={v} is outside layer {layer!r} of size {n} (0..{n - 1})."
                    )

    return check


# ---------------------------------------------------------------- objectives


def class_logit(c: int) -> Objective:
    """The pre-activation score of class ``c``: f(x) = z_c(x) (Simonyan et al. 2014).

    Example:
        >>> class_logit(2).name
        'class_logit(2)'
    """
    c = int(c)
    return Objective(lambda ctx: ctx.logits[:, c], f"class_logit({c})", checks=(_check_class(c),))


def channel(layer: LayerRef, k: int) -> Objective:
    """Mean activation of channel ``k`` of a conv layer: mean_{i,j} A^k_{ij} (Olah 2017).

    Example:
        >>> channel("conv2", 3).layers
        ('conv2',)
    """
    k = int(k)
    return Objective(
        lambda ctx: tf.reduce_mean(ctx.act(layer)[..., k], axis=[1, 2]),
        f"channel({layer!r}, {k})",
        (layer,),
        checks=(_check_channel(layer, k, True),),
    )


def neuron(layer: LayerRef, k: int, y: int | None = None, x: int | None = None) -> Objective:
    """One unit A^k_{y,x} of a layer (centre position by default; dense layers: unit k).

    Example:
        >>> neuron("conv2", 0, 2, 3).name
        "neuron('conv2', 0, 2, 3)"
    """
    k = int(k)

    def fn(ctx):
        a = ctx.act(layer)
        if a.shape.rank == 2:
            return a[:, k]
        yy = a.shape[1] // 2 if y is None else y
        xx = a.shape[2] // 2 if x is None else x
        return a[:, yy, xx, k]

    return Objective(
        fn,
        f"neuron({layer!r}, {k}, {y}, {x})",
        (layer,),
        checks=(_check_channel(layer, k, False, y, x),),
    )


def layer_l2(layer: LayerRef) -> Objective:
    """Mean squared activation of a whole layer: mean(A^2) (DeepDream, Mordvintsev 2015)."""

    def fn(ctx):
        a = ctx.act(layer)
        return tf.reduce_mean(tf.reshape(tf.square(a), [tf.shape(a)[0], -1]), axis=1)

    return Objective(fn, f"layer_l2({layer!r})", (layer,))


def _normalised(ctx: Context):
    lo, hi = ctx.input_range
    return (ctx.image - (lo + hi) / 2.0) / (hi - lo)


def l2() -> Objective:
    """Image energy: mean(((x - mid) / (hi - lo))^2), mid the centre of the input range."""
    return Objective(
        lambda ctx: tf.reduce_mean(tf.square(_normalised(ctx)), axis=[1, 2, 3]), "l2()"
    )


def alpha_norm(alpha: float = 6.0) -> Objective:
    """Alpha-norm prior mean(|(x - mid)/(hi - lo)|^alpha) (Mahendran & Vedaldi 2015)."""
    a = float(alpha)
    return Objective(
        lambda ctx: tf.reduce_mean(tf.pow(tf.abs(_normalised(ctx)) + 1e-12, a), axis=[1, 2, 3]),
        f"alpha_norm({a:g})",
    )


def total_variation(beta: float = 2.0) -> Objective:
    """TV(x) = mean_{ij} ((x_{i,j+1}-x_{ij})^2 + (x_{i+1,j}-x_{ij})^2)^(beta/2), x range-normalised.

    Reference: Mahendran & Vedaldi 2015.
    """
    b = float(beta)

    def fn(ctx):
        x = _normalised(ctx)
        dh = x[:, 1:, :-1, :] - x[:, :-1, :-1, :]
        dw = x[:, :-1, 1:, :] - x[:, :-1, :-1, :]
        sq = tf.square(dh) + tf.square(dw)
        tv = sq if b == 2.0 else tf.pow(sq + 1e-8, b / 2.0)
        return tf.reduce_mean(tv, axis=[1, 2, 3])

    return Objective(fn, f"total_variation({b:g})")


def feature_match(layer: LayerRef, ref: str = "target") -> Objective:
    """Negative relative feature error -||phi(x) - phi(x0)||^2 / ||phi(x0)||^2 (Mahendran 2015).

    ``x0`` is the reference image set named ``ref`` passed to the optimiser.
    """

    def fn(ctx):
        a, r = ctx.act(layer), ctx.ref_act(ref, layer)
        b = tf.shape(a)[0]
        num = tf.reduce_sum(tf.reshape(tf.square(a - r), [b, -1]), axis=1)
        den = tf.reduce_sum(tf.reshape(tf.square(r), [b, -1]), axis=1)
        return -num / (den + 1e-12)

    return Objective(fn, f"feature_match({layer!r}, {ref!r})", (layer,), (ref,))


def gram_matrix(features) -> Any:
    """G = F^T F / (H W) for features F (B, H, W, C) -> (B, C, C) (Gatys et al. 2015).

    Example:
        >>> import numpy as np
        >>> g = gram_matrix(np.ones((1, 2, 2, 3), "float32")).numpy()
        >>> g.shape, float(g[0, 0, 1])
        ((1, 3, 3), 1.0)
    """
    f = tf.convert_to_tensor(features, tf.float32)
    shape = tf.shape(f)
    flat = tf.reshape(f, [shape[0], -1, shape[-1]])
    return tf.matmul(flat, flat, transpose_a=True) / tf.cast(tf.shape(flat)[1], tf.float32)


def gram_match(layer: LayerRef, ref: str = "style") -> Objective:
    """Negative relative Gram error -||G(x) - G(x_s)||^2 / ||G(x_s)||^2 (Gatys et al. 2015)."""

    def fn(ctx):
        g, r = gram_matrix(ctx.act(layer)), gram_matrix(ctx.ref_act(ref, layer))
        num = tf.reduce_sum(tf.square(g - r), axis=[1, 2])
        den = tf.reduce_sum(tf.square(r), axis=[1, 2])
        return -num / (den + 1e-12)

    return Objective(fn, f"gram_match({layer!r}, {ref!r})", (layer,), (ref,))
