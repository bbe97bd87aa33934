"""Synthesis benchmarks: compiled activation-maximisation loop, steps/s, one step vs the floor,
and tf-keras-vis ActivationMaximization side by side when its venv exists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from _common import fwd_bwd_seconds, row, time_call

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_VENV = os.path.join(HERE, "peers", ".venv-tf-keras-vis")

_PEER_SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import tensorflow as tf
    from _peer_common import build, median_seconds
    from tf_keras_vis.activation_maximization import ActivationMaximization
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore
    model = build(tf.keras)
    am = ActivationMaximization(model, model_modifier=ReplaceToLinear(), clone=True)
    t = median_seconds(lambda: am(CategoricalScore([3]), steps=100))
    print(json.dumps({"seconds": t}))
    """
)


def _model():
    sys.path.insert(0, os.path.join(HERE, "peers"))
    import keras
    from _peer_common import build

    return build(keras)


def _peer_seconds(quick: bool = False) -> tuple[float | None, str]:
    python = os.path.join(PEER_VENV, "bin", "python")
    if not os.path.exists(python):
        return None, "skipped: run benchmarks/peers/setup.sh to install tf-keras-vis"
    # TF_USE_LEGACY_KERAS=1: tf.keras must be tf_keras (Keras 2), since ReplaceToLinear reads
    # model.output_names, which Keras 3 models lack (the peer crashed without it)
    env = {
        **os.environ,
        "QUICK": "1" if quick else "0",
        "TF_USE_LEGACY_KERAS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    try:
        out = subprocess.run(
            [python, "-c", _PEER_SCRIPT, os.path.join(HERE, "peers")],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )
    except Exception as exc:  # the peer is optional
        return None, f"peer failed: {type(exc).__name__}: {exc}"
    if out.returncode != 0 or not out.stdout.strip():
        err = out.stderr.strip().splitlines()
        return None, f"peer failed: {err[-1] if err else f'exit {out.returncode}'}"
    seconds = float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
    return seconds, "tf-keras-vis 100 steps, 1 class"


def rows(quick: bool = False) -> list[dict]:
    import numpy as np

    from keras_insight.synthesis import class_logit, maximize

    model = _model()
    repeats = 3 if quick else 7
    out = []

    def run(n, transforms="default", steps=100):
        objs = [class_logit(c) for c in range(n)]
        return lambda: maximize(model, objs, steps=steps, input_range=(0, 1), transforms=transforms)

    one = time_call(run(1), repeats=repeats, warmup=1)
    out.append(
        row(
            "maximize 1 class x 100 steps (32x32 CNN)",
            1000 * one,
            "ms",
            "",
            "Fourier + default transforms; tf-keras-vis side by side below",
        )
    )
    out.append(row("synthesis steps per second (1 image)", 100 / one, "steps/s", ""))
    ten = time_call(run(10), repeats=repeats, warmup=1)
    out.append(
        row(
            "maximize 10 classes x 100 steps, one batch",
            1000 * ten,
            "ms",
            "",
            f"{1000 * ten / 10:.1f} ms per class",
        )
    )
    bare = time_call(run(1, transforms=()), repeats=repeats, warmup=1)
    x1 = np.random.default_rng(0).uniform(0, 1, (1, 32, 32, 3)).astype("float32")
    floor = fwd_bwd_seconds(model, x1, repeats=50 if quick else 200)
    out.append(
        row(
            "one step / forward+backward (no transforms)",
            bare / 100 / floor,
            "x forward+backward",
            "<= 2",
            f"floor {1e6 * floor:.0f} us; step includes Fourier param, Adam",
        )
    )
    out.append(
        row(
            "one step / forward+backward (default transforms)",
            one / 100 / floor,
            "x forward+backward",
            "<= 3",
        )
    )
    peer, note = _peer_seconds(quick)
    if peer is None:
        out.append(
            row(
                "tf-keras-vis ActivationMaximization 100 steps / ours",
                float("nan"),
                "x",
                ">= 10",
                note,
            )
        )
    else:
        out.append(
            row(
                "tf-keras-vis ActivationMaximization 100 steps / ours",
                peer / one,
                "x",
                ">= 10",
                f"{note}: {peer:.3f} s vs ours {one:.3f} s",
            )
        )
    return out


if __name__ == "__main__":
    for r in rows(quick="--quick" in sys.argv):
        print(r)
