#!/usr/bin/env bash
# Install (with test extras) and run lint + the whole test suite, as CI does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev,segment  # segment: OpenCV, so the GrabCut test runs
export KERAS_INSIGHT_FAST=1 TF_CPP_MIN_LOG_LEVEL=3
python3 -m ruff check keras_insight tensorboard_plugin_insight tests benchmarks examples scripts
# the docstring examples run too; `slow` tests are deselected (pyproject addopts): the
# full-count run is KERAS_INSIGHT_FAST=0 python3 -m pytest tests -m "slow or not slow"
python3 -m pytest tests --doctest-modules keras_insight tensorboard_plugin_insight -p no:cacheprovider --timeout=900 "$@"
