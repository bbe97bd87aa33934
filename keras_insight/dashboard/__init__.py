"""The Insight dashboard: what the callbacks write for it, and the HTML report.

The viewer itself (TensorBoard plugin ``insight``, viewer JSON, frontend) lives in the
``tensorboard_plugin_insight`` package, which imports no Keras: TensorBoard imports its
plugins at start-up, and one that fails to import takes TensorBoard down with it.
``keras-insight report D -o report.html`` writes the same viewer as one file.

Names load on first use (``keras-insight --help`` stays fast).

Example:
    >>> from keras_insight import dashboard
    >>> dashboard.probe_record([[0.0, 2.0]], [1])["correct"]
    [True]
"""

import importlib

_API = {
    "probe_record": "summary",
    "write_confusion": "summary",
    "write_probe": "summary",
    "write_sample_images": "summary",
    "write_report": "report",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        module = importlib.import_module(f"keras_insight.dashboard.{_API[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'keras_insight.dashboard' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
