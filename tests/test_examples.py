"""Every script in examples/ runs to the end under the speed knob (KERAS_INSIGHT_FAST=1).

The scripts run in this process (runpy), so TensorFlow is imported once; their logs go to
a temporary directory. Each is also meant to finish in under a minute on 2 CPU cores.
"""

import runpy
from pathlib import Path

import keras
import pytest

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.py"))
# whole-suite and two-model tours: a minute or more each on 2 busy cores, run with -m slow
LONG = {"quickstart", "invariance_augmentation"}


def test_there_is_one_example_per_family_and_one_for_the_command_line():
    names = {p.stem for p in EXAMPLES}
    for family in ("inspection", "representation", "attribution", "synthesis", "robustness"):
        assert family in names
    assert "analyze_saved_model" in names


@pytest.mark.parametrize(
    "script",
    [pytest.param(p, marks=pytest.mark.slow) if p.stem in LONG else p for p in EXAMPLES],
    ids=lambda p: p.stem,
)
def test_example_runs(script, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_INSIGHT_FAST", "1")
    monkeypatch.setenv("EXAMPLES_LOG_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(script), run_name="__main__")
    keras.backend.clear_session()
    # it wrote TensorBoard events under the temporary directory
    assert any(tmp_path.rglob("events.out.tfevents.*"))
