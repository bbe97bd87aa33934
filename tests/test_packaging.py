"""Packaging and import-time behaviour (issue 10, items 9 and 12)."""

import os
import subprocess
import sys

_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _run(code: str, *flags: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *flags, "-c", code],
        capture_output=True,
        text=True,
        env=env or _ENV,
        timeout=300,
    )


def test_import_under_python_OO_strips_docstrings_without_error():
    mods = "keras_insight, keras_insight.attribution, keras_insight.callbacks, keras_insight.cli"
    r = _run(f"import {mods}; assert keras_insight.attribution.grad_cam.__doc__ is None", "-OO")
    assert r.returncode == 0, r.stderr[-2000:]
