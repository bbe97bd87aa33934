"""One-line presets: a sensible set of insight callbacks for a run."""

from __future__ import annotations

from typing import Any

import keras

from keras_insight._config import logger
from keras_insight.callbacks.attribution import GradCAM, Occlusion, Saliency
from keras_insight.callbacks.base import MAX_SCAN
from keras_insight.callbacks.budget import OverheadBudget
from keras_insight.callbacks.inspection import ActivationMaps, FilterGrid, ModelSummary
from keras_insight.callbacks.representation import (
    ConfusionMatrix,
    EmbeddingPlot,
    EmbeddingProjector,
    NearestNeighbors,
)
from keras_insight.callbacks.robustness import AdversarialRobustness, Invariance
from keras_insight.callbacks.synthesis import ClassSynthesis

#: Default share of training time a suite may spend, per level (issue 13's targets: the
#: standard suite at most 10% of a 5-epoch run and 5% of a 10-epoch one, full at most 10%).
OVERHEAD = {"light": 0.03, "standard": 0.03, "full": 0.05}


def suite(
    validation_data: Any,
    log_dir: str = "logs",
    *,
    level: str = "standard",
    seed: int = 0,
    input_range: tuple[float, float] | None = None,
    strict: bool = False,
    class_names: Any = None,
    model: keras.Model | None = None,
    max_scan: int = MAX_SCAN,
    overhead: float | None | str = "auto",
) -> list[keras.callbacks.Callback]:
    """A sensible set of callbacks sharing one run directory and one probe seed.

    ``level="light"``: model summary, filters and activation maps every epoch.
    ``"standard"`` (default) adds Grad-CAM and the projector every epoch, saliency
    (vanilla + SmoothGrad) and the confusion matrix every 2 epochs, and the expensive
    ones (PCA/t-SNE plots, nearest neighbours, class synthesis, adversarial robustness)
    every 10 epochs and at train end. ``"full"`` adds occlusion and invariance on the same
    10-epoch schedule. Measured with the demo on Fashion-MNIST (6 s epochs on 2 CPU
    cores): see ``docs/benchmarks.md``; relative cost falls as epochs get longer.

    ``model``: when given, only the callbacks that apply to it are returned (no layer
    callbacks for a subclassed model, no class callbacks for a regression head), with one
    log line naming the rest. Without it every callback decides at train begin: one that
    does not apply warns once and disables itself, and ``fit`` finishes.
    ``validation_data`` may be an endless ``tf.data`` pipeline: every callback reads at most
    ``max_scan`` samples (default 4096), once, without duplicates. A small probe set is
    fine: the nearest-neighbour ``k`` shrinks to the gallery size.

    ``overhead``: the share of training time the whole set may spend (setup, tracing,
    logging and writing included), enforced by one :class:`OverheadBudget`: a scheduled log
    that does not fit is postponed to the next epoch end with room, views that logged least
    go first. ``"auto"`` is ``OVERHEAD[level]`` (3% for light and standard, 5% for full),
    with a head start for one-off costs in young runs (up to 8% of the training so far,
    at most 0.3 of the first epoch in all: a 5-epoch run may spend up to 6%); ``None``
    logs everything on its schedule (what ``keras-insight demo`` does, to show every view
    in three epochs). The budget only ever drops or postpones logs; what is
    written is the same as without it, at the epoch it was written.

    Example:
        >>> import numpy as np
        >>> cbs = suite((np.zeros((8, 8, 8, 1), "float32"), np.arange(8) % 2), "/tmp/ki_doc")
        >>> len(cbs) >= 3
        True
    """
    if level not in ("light", "standard", "full"):
        raise ValueError(f"level must be 'light', 'standard' or 'full', got {level!r}.")
    budget = OverheadBudget(OVERHEAD[level] if overhead == "auto" else overhead)
    common = dict(
        seed=seed,
        strict=strict,
        input_range=input_range,
        class_names=class_names,
        max_scan=max_scan,
    )
    cbs: list[keras.callbacks.Callback] = [
        ModelSummary(log_dir=log_dir, **common),
        FilterGrid(log_dir=log_dir, **common),
        ActivationMaps(validation_data, log_dir, **common),
    ]
    if level != "light":
        cbs += _standard(validation_data, log_dir, common)
    if level == "full":
        cbs += _full(validation_data, log_dir, common)
    if model is not None:
        kept, skipped = [], []
        for cb in cbs:
            reason = cb.not_applicable(model)
            (skipped if reason else kept).append((cb, reason))
        if skipped:
            logger.info(
                "suite: skipped %s for this model (%s).",
                ", ".join(cb.family for cb, _ in skipped),
                "; ".join(sorted({r for _, r in skipped})),
            )
        cbs = [cb for cb, _ in kept]
    for cb in cbs:  # one budget for the set that is returned
        cb.budget = budget
        budget.join(cb)
    return cbs


def _standard(validation_data, log_dir, common) -> list:
    return [
        GradCAM(validation_data, log_dir, **common),
        Saliency(validation_data, log_dir, methods=("vanilla", "smoothgrad"), freq=2, **common),
        ConfusionMatrix(validation_data, log_dir, num_samples=2048, freq=2, **common),
        EmbeddingProjector(validation_data, log_dir, num_samples=512, **common),
        EmbeddingPlot(validation_data, log_dir, num_samples=256, freq=10, **common),
        NearestNeighbors(validation_data, validation_data, log_dir, freq=10, **common),
        ClassSynthesis(log_dir, validation_data=validation_data, freq=10, steps=96, **common),
        # 32 samples: the attack is the suite's costliest log (4 eps x 2 losses x 10 steps)
        AdversarialRobustness(validation_data, log_dir, num_samples=32, freq=10, **common),
    ]


def _full(validation_data, log_dir, common) -> list:
    return [
        Occlusion(validation_data, log_dir, freq=10, **common),
        Invariance(validation_data, log_dir, freq=10, **common),
    ]
