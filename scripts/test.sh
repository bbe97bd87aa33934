#!/usr/bin/env bash
# Install (with test extras) and run lint + the whole test suite, as CI does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev
export KERAS_INSIGHT_FAST=1 TF_CPP_MIN_LOG_LEVEL=3
python3 -m ruff check keras_insight tests benchmarks examples
python3 -m pytest tests -p no:cacheprovider --timeout=900 "$@"
