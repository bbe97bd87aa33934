#!/usr/bin/env bash
# Install keras-insight with its CPU TensorFlow and the offline Fashion-MNIST data.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null 2>&1 && [ ! -d /usr/share/datasets/fashion-mnist ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi
python3 -m pip install -q -e ".[cpu${1:+,$1}]"
# The dashboard's browser tests (tests/test_dashboard.py) drive a headless Chromium.
if [[ ",${1:-}," == *",dev,"* ]] && [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
