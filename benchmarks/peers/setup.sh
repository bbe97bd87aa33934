#!/usr/bin/env bash
# Install the peer libraries into their own venvs (from PyPI), for side-by-side benchmarks.
#   .venv-tf-keras-vis : tf-keras-vis 0.8.7 + tf_keras 2.21.0 (--no-deps); run with
#                        TF_USE_LEGACY_KERAS=1 (its ReplaceToLinear needs Keras 2's output_names)
#   .venv-tf-explain   : tf-explain 0.3.1 + opencv-python-headless + tf_keras 2.21.0 (--no-deps);
#                        run with TF_USE_LEGACY_KERAS=1 for Sequential models
#   .venv-art          : adversarial-robustness-toolbox 1.20.1 (robustness issue)
# Usage: bash benchmarks/peers/setup.sh [tf-keras-vis|tf-explain|art ...]   (default: all)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py="${PYTHON:-python3}"
which_peers=("$@")
[ ${#which_peers[@]} -eq 0 ] && which_peers=(tf-keras-vis tf-explain art)

make_venv() {  # name, pip args...
  local name="$1"; shift
  local venv="$here/.venv-$name"
  if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv --system-site-packages "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet "$@"
}

for peer in "${which_peers[@]}"; do
  case "$peer" in
    tf-keras-vis)
      make_venv tf-keras-vis "tf-keras-vis==0.8.7"
      "$here/.venv-tf-keras-vis/bin/python" -m pip install --quiet --no-deps "tf_keras==2.21.0" ;;
    tf-explain)
      make_venv tf-explain "tf-explain==0.3.1" opencv-python-headless
      "$here/.venv-tf-explain/bin/python" -m pip install --quiet --no-deps "tf_keras==2.21.0" ;;
    art) make_venv art "adversarial-robustness-toolbox==1.20.1" ;;
    *) echo "unknown peer $peer (tf-keras-vis, tf-explain, art)" >&2; exit 2 ;;
  esac
  echo "installed $peer"
done
