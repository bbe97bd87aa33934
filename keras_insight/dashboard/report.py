"""``keras-insight report D -o report.html``: the Insight viewer as one self-contained file.

The event files under ``D`` are loaded by TensorBoard's own multiplexer (every step kept)
and read through the same data provider and viewer module as the TensorBoard tab, so the
page shows the data the tab shows. Images become ``data:`` URIs; the viewer module and its
CSS are inlined; a Content-Security-Policy lets the page run only its own inline script
(by hash) and load only ``data:`` images, so it works offline and fetches nothing.

Example:
    >>> try:
    ...     write_report("/no/such/dir", "report.html")
    ... except NoInsightData as err:
    ...     print(err)
    '/no/such/dir' is not a directory: pass the log_dir of a training run
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import sys
import time
from typing import Any

from tensorboard_plugin_insight import metadata as md

# TensorBoard's modules are imported where they are used: the keras-insight command builds
# its parser (this module's add_report_command) on every start, --help included.

__all__ = [
    "NoInsightData",
    "add_report_command",
    "build_views",
    "render_html",
    "report_command",
    "write_report",
]

_BOOT = """
const DATA = JSON.parse(document.getElementById('insight-data').textContent);
mount(document.body, {
  host: 'report',
  runs: async () => DATA.runs,
  run: async (name) => DATA.views[name],
});
"""


class NoInsightData(ValueError):
    """The directory does not exist or holds no run with insight data."""


def _provider(logdir: str) -> Any:
    from tensorboard.backend.event_processing import data_provider as dp
    from tensorboard.backend.event_processing import event_accumulator as ea
    from tensorboard.backend.event_processing import plugin_event_multiplexer as pem

    keep_all = {ea.TENSORS: 0, ea.SCALARS: 0, ea.IMAGES: 0, ea.HISTOGRAMS: 1, ea.AUDIO: 1}
    mux = pem.EventMultiplexer(size_guidance=keep_all, tensor_size_guidance={})
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    return dp.MultiplexerDataProvider(mux, logdir)


def build_views(
    logdir: str | os.PathLike, *, max_images_per_tag: int | None = md.DEFAULT_MAX_IMAGES_PER_TAG
) -> dict[str, Any]:
    """``{"runs": [...], "views": {run: viewer JSON}}`` with images as ``data:`` URIs.

    Raises:
        NoInsightData: ``logdir`` is missing or no run under it holds ``insight/probe``.
    """
    from tensorboard import context

    from tensorboard_plugin_insight import viewer

    logdir = os.fspath(logdir)
    if not os.path.isdir(logdir):
        raise NoInsightData(f"{logdir!r} is not a directory: pass the log_dir of a training run")
    if not any("tfevents" in name for _, _, names in os.walk(logdir) for name in names):
        raise NoInsightData(f"no event files under {logdir!r}: pass the log_dir of a training run")
    source = viewer.ProviderSource(_provider(logdir), context.RequestContext(), "")
    runs = source.insight_runs()
    if not runs:
        raise NoInsightData(
            f"no insight data under {logdir!r}: train with keras_insight.callbacks.suite(...) "
            f"(it writes {md.PROBE_TAG}) and pass that log_dir"
        )

    def data_uri(run: str, plugin: str, tag: str, step: int, index: int) -> str:
        data = source.blob(run, plugin, tag, step, index)
        return "data:image/png;base64," + base64.b64encode(data or b"").decode("ascii")

    views = {
        run: viewer.run_view(source, run, data_uri, max_images_per_tag=max_images_per_tag)
        for run in runs
    }
    return {"runs": runs, "views": views}


def _script_json(obj: Any) -> str:
    # Inside <script type="application/json">: no "<", ">" or "&" may appear raw.
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(data: dict[str, Any], *, title: str = "Insight report") -> str:
    """The report page for ``build_views`` output: one HTML string, no external reference."""
    from tensorboard_plugin_insight.plugin import static_file

    module = static_file("insight.js").decode("utf-8")
    css = static_file("insight.css").decode("utf-8")
    script = module + _BOOT
    if "</script" in script.lower() or "</style" in css.lower():
        raise AssertionError("the viewer's module or CSS would end its own element")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{css}</style></head>\n<body>\n"
        f'<script type="application/json" id="insight-data">{_script_json(data)}</script>\n'
        f'<script type="module">{script}</script>\n</body></html>\n'
    )


def write_report(
    logdir: str | os.PathLike,
    out: str | os.PathLike = "report.html",
    *,
    max_images_per_tag: int | None = md.DEFAULT_MAX_IMAGES_PER_TAG,
) -> dict[str, Any]:
    """Write the self-contained report of every insight run under ``logdir`` to ``out``.

    Returns ``{"path", "bytes", "runs", "seconds"}``.

    Raises:
        NoInsightData: ``logdir`` is missing or holds no insight data.
    """
    start = time.perf_counter()
    data = build_views(logdir, max_images_per_tag=max_images_per_tag)
    page = render_html(data, title=f"Insight report: {os.path.basename(os.path.abspath(logdir))}")
    out = os.fspath(out)
    with open(out, "w", encoding="utf-8") as f:
        f.write(page)
    return {
        "path": out,
        "bytes": len(page.encode("utf-8")),
        "runs": data["runs"],
        "seconds": time.perf_counter() - start,
    }


def _positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def report_command(args: Any) -> int:
    """``keras-insight report``: write the page; a missing or empty log dir is one line, exit 2."""
    if "://" not in str(args.log_dir) and "tensorflow" not in sys.modules:
        # TensorBoard's own switch (its //tensorboard/compat:no_tensorflow target) to read
        # local event files with its pure-Python reader: importing TensorFlow takes seconds
        # and nothing here needs it. Set only in this command's process.
        import types

        sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("notf"))
    try:
        info = write_report(args.log_dir, args.output, max_images_per_tag=args.max_images_per_tag)
    except NoInsightData as exc:
        print(f"keras-insight report: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {info['path']} ({info['bytes'] / 1e6:.2f} MB, {len(info['runs'])} run(s), "
        f"{info['seconds']:.1f} s): one self-contained file, open it in any browser"
    )
    return 0


def add_report_command(sub: Any) -> None:
    """Register ``report`` on the ``keras-insight`` sub-command parser."""
    r = sub.add_parser(
        "report",
        help="write the Insight dashboard of a log dir as one self-contained HTML file",
        description="Write the Insight viewer (sample timeline, class view, robustness, run "
        "comparison) of every run under LOG_DIR as one HTML file with its data and images "
        "embedded: no network access, opens from disk in any browser.",
        epilog="example: keras-insight report logs/demo -o report.html",
    )
    r.add_argument("log_dir", help="the log_dir of one or more training runs")
    r.add_argument("-o", "--output", default="report.html", help="output file (report.html)")
    r.add_argument(
        "--max-images-per-tag",
        type=_positive_int,
        default=md.DEFAULT_MAX_IMAGES_PER_TAG,
        help="cap on embedded images per tag; evenly spaced epochs are kept and the page "
        f"says so (default {md.DEFAULT_MAX_IMAGES_PER_TAG})",
    )
    r.set_defaults(func=report_command)
