"""Event data -> the viewer's JSON, shared by the TensorBoard plugin and the HTML report.

Both hosts read through a TensorBoard *data provider* (the plugin gets TensorBoard's own;
``keras-insight report`` builds one over the event files), and both call
:func:`run_view`, so they serve identical data. They differ only in how an image is
referenced: the plugin hands out ``image?run=..&tag=..`` URLs, the report ``data:`` URIs.
Standard library and ``tensorboard`` only.

Definitions used by the timeline (per probe sample, over the logged epochs in order):

- ``first_correct``: the first logged epoch whose prediction equals the true class.
- ``forgetting``: the number of forgetting events, i.e. epochs t where the sample was
  right at the previous logged epoch and wrong at t (Toneva et al., 2019). A sample with
  at least one is marked as flip-flopping.

Example:
    >>> forgetting_events([False, True, False, True])
    1
    >>> first_correct([3, 5, 7], [False, True, True])
    5
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from tensorboard.data import provider as tb_provider

from tensorboard_plugin_insight import metadata as md

__all__ = [
    "DEFAULT_MAX_IMAGES_PER_TAG",
    "ProviderSource",
    "first_correct",
    "forgetting_events",
    "keep_steps",
    "run_view",
    "runs_view",
]

DEFAULT_MAX_IMAGES_PER_TAG = md.DEFAULT_MAX_IMAGES_PER_TAG
IMAGES_PLUGIN = "images"
SCALARS_PLUGIN = "scalars"
# Image summaries of the images plugin are [width, height, png_0, ...].
IMAGES_PLUGIN_OFFSET = 2
_ALL = 1_000_000_000  # "no downsampling" for the provider's read_* calls
_ROBUST_ACC = re.compile(r"^robustness/([A-Za-z0-9_]+)/acc_eps_([0-9.eE+-]+)$")
_CLASS_ACC = re.compile(r"^confusion/acc_class_([0-9]+)$")
_SYNTH = re.compile(r"^synthesis/class_([0-9]+)$")

ImageRef = Callable[[str, str, str, int, int], str]


def forgetting_events(correct: Sequence[bool]) -> int:
    """Count right -> wrong transitions between consecutive logged epochs."""
    return sum(1 for a, b in zip(correct, correct[1:]) if a and not b)


def first_correct(steps: Sequence[int], correct: Sequence[bool]) -> int | None:
    """The first step at which the sample is classified correctly, or None."""
    for s, c in zip(steps, correct):
        if c:
            return int(s)
    return None


def keep_steps(steps: Sequence[int], per_step: int, cap: int | None) -> list[int]:
    """Evenly spaced steps (first and last kept) so that ``len * per_step <= cap``.

    Example:
        >>> keep_steps(list(range(10)), 4, 12)
        [0, 4, 9]
    """
    steps = sorted(steps)
    if cap is None or per_step <= 0 or len(steps) * per_step <= cap:
        return steps
    n = max(1, cap // per_step)
    if n == 1:
        return [steps[-1]]
    idx = sorted({round(i * (len(steps) - 1) / (n - 1)) for i in range(n)})
    return [steps[i] for i in idx]


def _decode_json(value: Any) -> Any:
    raw = value.item() if hasattr(value, "item") else value
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return json.loads(raw)


class ProviderSource:
    """Reads the series the viewer needs from a TensorBoard data provider.

    Args:
        provider: a ``tensorboard.data.provider.DataProvider``.
        ctx: the request context (``tensorboard.context.RequestContext()``).
        experiment_id: the experiment (``""`` for a local logdir).
    """

    def __init__(self, provider: Any, ctx: Any, experiment_id: str = "") -> None:
        self.provider = provider
        self.ctx = ctx
        self.eid = experiment_id

    def _filter(self, run: str, tags: Sequence[str] | None = None) -> Any:
        return tb_provider.RunTagFilter(runs=[run], tags=tags)

    def insight_runs(self) -> list[str]:
        """Runs holding an ``insight/probe`` series, sorted."""
        listing = self.provider.list_tensors(
            self.ctx, experiment_id=self.eid, plugin_name=md.PLUGIN_NAME
        )
        return sorted(run for run, tags in listing.items() if md.PROBE_TAG in tags)

    def tensors(self, run: str, tag: str) -> list[tuple[int, Any]]:
        """``[(step, decoded JSON)]`` of an insight tensor tag; one entry per step (last wins)."""
        data = self.provider.read_tensors(
            self.ctx,
            experiment_id=self.eid,
            plugin_name=md.PLUGIN_NAME,
            run_tag_filter=self._filter(run, [tag]),
            downsample=_ALL,
        )
        by_step = {int(d.step): _decode_json(d.numpy) for d in data.get(run, {}).get(tag, [])}
        return sorted(by_step.items())

    def blob_tags(self, run: str, plugin: str) -> list[str]:
        listing = self.provider.list_blob_sequences(
            self.ctx, experiment_id=self.eid, plugin_name=plugin, run_tag_filter=self._filter(run)
        )
        return sorted(listing.get(run, {}))

    def blob_counts(self, run: str, plugin: str, tags: Sequence[str]) -> dict[str, dict[int, int]]:
        """``{tag: {step: number of blobs}}``."""
        if not tags:
            return {}
        data = self.provider.read_blob_sequences(
            self.ctx,
            experiment_id=self.eid,
            plugin_name=plugin,
            run_tag_filter=self._filter(run, list(tags)),
            downsample=_ALL,
        )
        return {
            tag: {int(d.step): len(d.values) for d in series}
            for tag, series in data.get(run, {}).items()
        }

    def blob(self, run: str, plugin: str, tag: str, step: int, index: int) -> bytes | None:
        """The bytes of blob ``index`` at ``step`` of ``run``/``tag``, or None."""
        data = self.provider.read_blob_sequences(
            self.ctx,
            experiment_id=self.eid,
            plugin_name=plugin,
            run_tag_filter=self._filter(run, [tag]),
            downsample=_ALL,
        )
        for d in data.get(run, {}).get(tag, []):
            if int(d.step) == int(step) and 0 <= index < len(d.values):
                return self.provider.read_blob(self.ctx, blob_key=d.values[index].blob_key)
        return None

    def scalars(self, run: str) -> dict[str, list[tuple[int, float]]]:
        """Every scalar series of ``run``: ``{tag: [(step, value)]}``."""
        data = self.provider.read_scalars(
            self.ctx,
            experiment_id=self.eid,
            plugin_name=SCALARS_PLUGIN,
            run_tag_filter=self._filter(run),
            downsample=_ALL,
        )
        return {
            tag: sorted((int(d.step), float(d.value)) for d in series)
            for tag, series in data.get(run, {}).items()
        }


def runs_view(source: ProviderSource) -> dict[str, Any]:
    """``{"runs": [...]}``: the runs with insight data."""
    return {"version": md.SCHEMA_VERSION, "runs": source.insight_runs()}


def _timeline(records: list[tuple[int, Any]]) -> dict[str, Any]:
    steps = [s for s, _ in records]
    first = records[-1][1]
    n = len(first["pred"])
    true = first.get("true")
    epochs = []
    for step, rec in records:
        if len(rec["pred"]) != n:
            continue  # a different probe set (another run in the same directory)
        epochs.append(
            {
                "step": step,
                "pred": [int(p) for p in rec["pred"]],
                "topk": [[[int(c), float(p)] for c, p in row] for row in rec["topk"]],
                "correct": rec.get("correct"),
            }
        )
    steps = [e["step"] for e in epochs]
    samples = []
    for i in range(n):
        corr = [e["correct"][i] for e in epochs] if true is not None else []
        samples.append(
            {
                "index": i,
                "true": None if true is None else int(true[i]),
                "first_correct": first_correct(steps, corr) if corr else None,
                "forgetting": forgetting_events(corr) if corr else 0,
            }
        )
    return {"steps": steps, "epochs": epochs, "samples": samples}


def run_view(
    source: ProviderSource,
    run: str,
    image_ref: ImageRef,
    *,
    max_images_per_tag: int | None = None,
) -> dict[str, Any]:
    """Everything the viewer shows for one run, as JSON-ready dicts and lists.

    ``image_ref(run, plugin, tag, step, index)`` returns the string an ``<img src>`` gets.
    ``max_images_per_tag`` caps the images referenced per tag (evenly spaced epochs are
    kept); every cap applied is listed in ``notes``.

    Raises:
        KeyError: ``run`` holds no ``insight/probe`` data.
    """
    records = source.tensors(run, md.PROBE_TAG)
    if not records:
        raise KeyError(f"run {run!r} has no {md.PROBE_TAG} data")
    view: dict[str, Any] = {"version": md.SCHEMA_VERSION, "run": run, "notes": []}
    last = records[-1][1]
    k = int(last.get("num_classes") or 0)
    names = last.get("classes") or [str(c) for c in range(k)]
    view["classes"] = [str(c) for c in names]
    view.update(_timeline(records))
    n = len(view["samples"])
    notes = view["notes"]

    # Per-sample images: the input and one overlay series per attribution method.
    blob_tags = source.blob_tags(run, md.PLUGIN_NAME)
    counts = source.blob_counts(run, md.PLUGIN_NAME, blob_tags)

    def per_sample(tag: str) -> dict[str, list[str]]:
        steps = [s for s, c in counts.get(tag, {}).items() if c == n]
        if len(steps) < len(counts.get(tag, {})):
            notes.append(f"{tag}: skipped steps whose sample count differs from the probe set")
        kept = keep_steps(steps, n, max_images_per_tag)
        if len(kept) < len(steps):
            notes.append(
                f"{tag}: showing {len(kept)} of {len(steps)} epochs "
                f"(at most {max_images_per_tag} images per tag)"
            )
        return {str(s): [image_ref(run, md.PLUGIN_NAME, tag, s, i) for i in range(n)] for s in kept}

    inputs = per_sample(md.INPUT_TAG) if md.INPUT_TAG in counts else {}
    view["input"] = inputs[max(inputs, key=int)] if inputs else None
    view["overlays"] = {
        tag[len(md.OVERLAY_PREFIX) :]: per_sample(tag)
        for tag in blob_tags
        if tag.startswith(md.OVERLAY_PREFIX)
    }

    # Class view: synthesised class images (images plugin), class accuracy, confusion rows.
    synth_tags = [t for t in source.blob_tags(run, IMAGES_PLUGIN) if _SYNTH.match(t)]
    synth_counts = source.blob_counts(run, IMAGES_PLUGIN, synth_tags)
    synthesis: dict[str, dict[str, str]] = {}
    for tag, by_step in synth_counts.items():
        c = _SYNTH.match(tag).group(1)
        steps = [s for s, cnt in by_step.items() if cnt > IMAGES_PLUGIN_OFFSET]
        kept = keep_steps(steps, 1, max_images_per_tag)
        if len(kept) < len(steps):
            notes.append(f"{tag}: showing {len(kept)} of {len(steps)} epochs")
        synthesis[c] = {
            str(s): image_ref(run, IMAGES_PLUGIN, tag, s, IMAGES_PLUGIN_OFFSET) for s in kept
        }
    scalars = source.scalars(run)
    accuracy = {
        m.group(1): [[s, v] for s, v in series]
        for tag, series in scalars.items()
        if (m := _CLASS_ACC.match(tag))
    }
    confusion = {
        str(s): rec["matrix"] for s, rec in source.tensors(run, md.CONFUSION_TAG) if "matrix" in rec
    }
    view["class_view"] = {"synthesis": synthesis, "accuracy": accuracy, "confusion": confusion}

    # Robustness: accuracy vs eps per attack and logged epoch; AUC and clean accuracy.
    by_attack: dict[str, dict[int, list[tuple[float, float]]]] = {}
    for tag, series in scalars.items():
        m = _ROBUST_ACC.match(tag)
        if m:
            eps = float(m.group(2))
            for s, v in series:
                by_attack.setdefault(m.group(1), {}).setdefault(s, []).append((eps, v))
    curves = [
        {
            "attack": attack,
            "step": s,
            "eps": [e for e, _ in sorted(pts)],
            "acc": [a for _, a in sorted(pts)],
        }
        for attack, per_step in sorted(by_attack.items())
        for s, pts in sorted(per_step.items())
    ]
    view["robustness"] = {
        "curves": curves,
        "auc": [[s, v] for s, v in scalars.get("robustness/auc", [])],
        "clean": [[s, v] for s, v in scalars.get("robustness/clean_accuracy", [])],
    }
    view["accuracy"] = [[s, v] for s, v in scalars.get("confusion/accuracy", [])]
    return view
