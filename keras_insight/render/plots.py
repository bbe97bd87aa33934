"""Matplotlib figures: embedding scatter plots, robust-accuracy and invariance curves.

Callbacks hand the figure to the writer (``TensorBoardWriter.figure``), which renders it
to a uint8 image; the functions return the figure so notebooks can show it too.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure

#: Resolution of every figure (px per inch) and its smallest text (legend and tick labels,
#: in points): 10 pt at 100 dpi is 13.9 px, so a 440 x 295 px figure keeps 10 px text both
#: on TensorBoard's 350 px Images card and in its Time Series box (319 x 215 px; see
#: ``keras_insight.render.grids.shown_scale``): a landscape figure, one panel each.
DPI = 100
SMALLEST_TEXT_PT = 10
SMALLEST_TEXT_PX = SMALLEST_TEXT_PT * DPI / 72
_WIDTH_IN, _HEIGHT_IN = 4.4, 2.95  # 440 x 295 px



def class_name(c: int, names: Sequence[str] | None) -> str:
    """``names[c]`` when given and in range, else the index as text.

    Example:
        >>> class_name(1, ["cat", "dog"]), class_name(5, ["cat"])
        ('dog', '5')
    """
    return str(names[c]) if names is not None and 0 <= c < len(names) else str(c)


def scatter_figure(
    coords: np.ndarray, labels: np.ndarray | None, title: str, lims=None, names=None
) -> Figure:
    """2-D points coloured by class (tab10) with a legend of class names outside the axes."""
    fig = Figure(figsize=(_WIDTH_IN, _HEIGHT_IN), dpi=DPI)
    ax = fig.add_subplot(111)
    c = labels if labels is not None else np.zeros(len(coords))
    ax.scatter(coords[:, 0], coords[:, 1], c=c, cmap="tab10", vmin=0, vmax=9, s=8)
    if labels is not None:
        for k in np.unique(labels)[:10]:
            ax.scatter(
                [],
                [],
                color=matplotlib.colormaps["tab10"](int(k) % 10),
                label=class_name(int(k), names),
                s=8,
            )
        # outside the axes, so it never hides points
        ax.legend(
            fontsize=SMALLEST_TEXT_PT,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            markerscale=1.5,
            borderaxespad=0.2,
            handletextpad=0.2,
        )
    if lims is not None:
        ax.set_xlim(*lims[0])
        ax.set_ylim(*lims[1])
    ax.set_title(title, fontsize=11)
    ax.tick_params(labelsize=SMALLEST_TEXT_PT)
    fig.tight_layout()
    return fig


def robustness_curve_figure(report) -> Figure:
    """Robust accuracy vs eps, one line per attack (``worst`` in black), AUC in the title.

    A bare Figure: no pyplot state, and the user's backend stays as it is.
    """
    fig = Figure(figsize=(_WIDTH_IN, _HEIGHT_IN), dpi=DPI)
    ax = fig.add_subplot(111)
    # distinct marker and dash per attack: curves that coincide stay visible
    styles = [("o", "-"), ("s", "--"), ("^", ":"), ("D", "-."), ("v", (0, (5, 1)))]
    for i, (attack, acc) in enumerate(report.accuracy.items()):
        marker, dash = styles[i % len(styles)]
        worst = attack == "worst"
        ax.plot(
            report.epsilons,
            acc,
            marker=marker,
            linestyle=dash,
            label=attack,
            lw=2.5 if worst else 1.4,
            markersize=8 if worst else 6,
            markerfacecolor="none" if not worst else None,
            color="black" if worst else None,
            zorder=1 if worst else 2,
        )
    ax.set_xlabel(f"eps ({report.norm}, input units)", fontsize=10)
    ax.set_ylabel("robust accuracy", fontsize=10)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"AUC {report.auc:.3f}, never broken {report.never_broken}", fontsize=11)
    ax.tick_params(labelsize=SMALLEST_TEXT_PT)
    ax.legend(fontsize=SMALLEST_TEXT_PT)
    fig.tight_layout()
    return fig


def _invariance_panels(report) -> list[tuple[str, dict, float]]:
    """(title, {transform: values per severity}, value at severity 0) of each panel."""
    panels = [("flip rate", report.flip_rate, 0.0)]
    if report.clean_accuracy is not None:
        panels.insert(0, ("accuracy", report.accuracy, report.clean_accuracy))
    if any(v is not None for v in report.feature_cosine.values()):
        panels.append(("feature cosine", report.feature_cosine, 1.0))
    return panels


def _invariance_curves(ax, severities, values: dict, first: float) -> None:
    """One line per transform from severity 0 (``first``) on; a distinct marker and dash
    per transform, so coinciding curves stay visible."""
    markers, dashes = "osD^vP*X", ["-", "--", ":", "-."]
    for i, (t, v) in enumerate(values.items()):
        if v is None:
            continue
        ax.plot(
            [0, *severities],
            [first, *v],
            marker=markers[i % len(markers)],
            linestyle=dashes[i % len(dashes)],
            markerfacecolor="none",
            label=t,
        )


def invariance_figure(report, *, stacked: bool = False):
    """Accuracy (when labels were given), flip rate and feature cosine vs severity, one
    line per transform, on the user's pyplot (headless: Agg by itself).

    ``stacked=True`` puts the panels one under the other, 440 px wide (a notebook or the
    Images tab's 350 px card). For TensorBoard's Time Series box (319 x 215 px), where a
    stacked figure shrinks by its height, :func:`invariance_pages` draws one page a panel."""
    import matplotlib.pyplot as plt

    panels = _invariance_panels(report)
    if stacked:
        fig, axes = plt.subplots(
            len(panels), 1, figsize=(_WIDTH_IN, 2.9 * len(panels)), dpi=DPI, squeeze=False
        )
        axes = axes.T
    else:
        fig, axes = plt.subplots(
            1, len(panels), figsize=(4 * len(panels), 3.2), dpi=DPI, squeeze=False
        )
    for ax, (title, values, first) in zip(axes[0], panels):
        _invariance_curves(ax, report.severities, values, first)
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("severity", fontsize=10)
        ax.tick_params(labelsize=SMALLEST_TEXT_PT)
        ax.set_ylim(-0.02, 1.02)
    axes[0][-1].legend(fontsize=SMALLEST_TEXT_PT, loc="best")
    fig.tight_layout()
    return fig


def invariance_pages(report) -> list[Figure]:
    """:func:`invariance_figure`'s panels as separate 440 x 295 px figures (accuracy when
    labels were given, flip rate, feature cosine), each with its legend: the pages of one
    TensorBoard tag, every one readable in the Time Series box.

    A bare Figure each: no pyplot state, and the user's backend stays as it is."""
    figures = []
    for title, values, first in _invariance_panels(report):
        fig = Figure(figsize=(_WIDTH_IN, _HEIGHT_IN), dpi=DPI)
        ax = fig.add_subplot(111)
        _invariance_curves(ax, report.severities, values, first)
        ax.set_title(f"invariance: {title}", fontsize=11)
        ax.set_xlabel("severity", fontsize=SMALLEST_TEXT_PT)
        ax.tick_params(labelsize=SMALLEST_TEXT_PT)
        ax.set_ylim(-0.02, 1.02)
        # outside the axes, so it never hides a curve
        ax.legend(fontsize=SMALLEST_TEXT_PT, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0.2, handlelength=1.8)  # fmt: skip
        fig.tight_layout()
        figures.append(fig)
    return figures
