"""The ``insight`` TensorBoard plugin: one probe image's story across epochs, in a tab.

Registered through the ``tensorboard_plugins`` entry point, so ``pip install
keras-insight`` is enough for ``tensorboard --logdir D`` to show an INSIGHT tab when a run
under ``D`` was logged with the attribution callbacks. Imports only ``tensorboard`` and
the standard library (TensorBoard imports every plugin at start-up; one that fails to
import takes TensorBoard down with it).

Routes under ``/data/plugin/insight/`` (all read-only, all through TensorBoard's data
provider; no request parameter is ever used as a file path):

- ``index.js``, ``style.css``: the frontend (a fixed table of two package files).
- ``runs``: ``{"runs": [...]}``, the runs holding insight data.
- ``run?run=R``: the viewer JSON of run ``R`` (see :func:`viewer.run_view`).
- ``image?run=R&plugin=P&tag=T&step=S&index=I``: one PNG, ``P`` in ``insight``/``images``.

Example:
    >>> InsightPlugin.plugin_name
    'insight'
"""

from __future__ import annotations

import importlib.resources
import urllib.parse
from typing import Any

from tensorboard import plugin_util
from tensorboard.backend import http_util
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from tensorboard_plugin_insight import metadata as md
from tensorboard_plugin_insight import viewer

__all__ = ["InsightPlugin"]

_STATIC = {
    "/index.js": ("insight.js", "text/javascript"),
    "/style.css": ("insight.css", "text/css"),
}
_IMAGE_PLUGINS = frozenset({md.PLUGIN_NAME, viewer.IMAGES_PLUGIN})


def static_file(name: str) -> bytes:
    """The bytes of a frontend file shipped in ``tensorboard_plugin_insight/static``."""
    return (importlib.resources.files(__package__) / "static" / name).read_bytes()


def image_url(run: str, plugin: str, tag: str, step: int, index: int) -> str:
    """Relative URL of the plugin's image route (resolves against ``plugin/insight/``)."""
    query = urllib.parse.urlencode(
        {"run": run, "plugin": plugin, "tag": tag, "step": int(step), "index": int(index)}
    )
    return "image?" + query


class InsightPlugin(base_plugin.TBPlugin):
    """TensorBoard plugin ``insight`` (an ES-module iframe plugin)."""

    plugin_name = md.PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext) -> None:
        self._provider = context.data_provider

    def get_plugin_apps(self) -> dict[str, Any]:
        apps: dict[str, Any] = {path: self._serve_static for path in _STATIC}
        apps["/runs"] = self._serve_runs
        apps["/run"] = self._serve_run
        apps["/image"] = self._serve_image
        return apps

    def data_plugin_names(self) -> tuple[str, ...]:
        # The listing enables the tab exactly when some run holds `insight` summaries.
        return (md.PLUGIN_NAME,)

    def is_active(self) -> bool:
        return False  # only data_plugin_names decides; no extra scan on every listing

    def frontend_metadata(self) -> base_plugin.FrontendMetadata:
        return base_plugin.FrontendMetadata(es_module_path="/index.js", tab_name="Insight")

    def _source(self, request: Any) -> viewer.ProviderSource:
        return viewer.ProviderSource(
            self._provider,
            plugin_util.context(request.environ),
            plugin_util.experiment_id(request.environ),
        )

    @wrappers.Request.application
    def _serve_static(self, request: Any) -> Any:
        suffix = request.path[request.path.rfind("/") :]
        name, mime = _STATIC[suffix]  # routing only ever calls this for the table's keys
        return http_util.Respond(request, static_file(name), mime)

    @wrappers.Request.application
    def _serve_runs(self, request: Any) -> Any:
        return http_util.Respond(request, viewer.runs_view(self._source(request)), "application/json")

    @wrappers.Request.application
    def _serve_run(self, request: Any) -> Any:
        source = self._source(request)
        run = request.args.get("run", "")
        if run not in source.insight_runs():
            return http_util.Respond(request, "unknown run", "text/plain", code=404)
        return http_util.Respond(request, viewer.run_view(source, run, image_url), "application/json")

    @wrappers.Request.application
    def _serve_image(self, request: Any) -> Any:
        args = request.args
        run, plugin, tag = args.get("run", ""), args.get("plugin", ""), args.get("tag", "")
        try:
            step, index = int(args.get("step", "")), int(args.get("index", ""))
        except ValueError:
            return http_util.Respond(request, "step and index must be integers", "text/plain", 400)
        if plugin not in _IMAGE_PLUGINS:
            return http_util.Respond(request, "plugin must be insight or images", "text/plain", 400)
        source = self._source(request)
        if tag not in source.blob_tags(run, plugin):
            return http_util.Respond(request, "unknown run or tag", "text/plain", code=404)
        data = source.blob(run, plugin, tag, step, index)
        if data is None:
            return http_util.Respond(request, "no such step or index", "text/plain", code=404)
        return http_util.Respond(request, data, "image/png")
