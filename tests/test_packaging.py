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


def test_without_tensorflow_import_fails_with_one_line_naming_the_extras():
    r = _run("import sys; sys.modules['tensorflow'] = None; import keras_insight")
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: keras-insight needs TensorFlow")
    assert "keras-insight[cpu]" in last and "keras-insight[gpu]" in last


def test_non_tensorflow_keras_backend_is_a_clear_import_error():
    r = _run("import keras_insight", env={**_ENV, "KERAS_BACKEND": "jax"})
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert "'jax'" in last and "KERAS_BACKEND=tensorflow" in last


def test_logger_propagates_and_prints_itself_only_without_app_logging():
    alone = _run("from keras_insight._config import logger; logger.warning('hello')")
    assert alone.returncode == 0 and alone.stderr.count("hello") == 1
    assert "keras-insight: hello" in alone.stderr
    code = (
        "import logging; logging.basicConfig(format='APP %(name)s %(message)s'); "
        "from keras_insight._config import logger; assert logger.propagate; logger.warning('hi')"
    )
    app = _run(code)
    assert app.returncode == 0, app.stderr
    assert app.stderr.count("hi") == 1 and "APP keras_insight hi" in app.stderr


def test_declared_requirements_cover_third_party_imports():
    import ast
    import configparser
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    cfg = configparser.ConfigParser()
    cfg.read(root / "setup.cfg")
    declared = {
        line.split(">")[0].split("=")[0].split("[")[0].strip().lower()
        for section in (cfg["options"]["install_requires"], *cfg["options.extras_require"].values())
        for line in section.splitlines()
        if line.strip()
    }
    to_dist = {
        "tensorflow": "tensorflow-cpu",
        "sklearn": "scikit-learn",
        "PIL": "pillow",
        "cv2": "opencv-python-headless",
        "google": "protobuf",
        "tensorboard_plugin_insight": None,
        "keras_insight": None,
    }
    stdlib = set(sys.stdlib_module_names)
    imported = set()
    for path in (root / "keras_insight").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third = {to_dist.get(m, m) for m in imported - stdlib - {"__future__"}} - {None}
    missing = {d for d in third if d.lower() not in {x.lower() for x in declared}}
    assert not missing, f"imported but not declared in setup.cfg: {sorted(missing)}"
