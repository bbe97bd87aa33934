"""Robustness benchmarks: PGD cost per step vs a forward+backward pass, whole-curve and
corruption timings, and (when its venv exists) ART's TF2 PGD side by side.

Run alone: ``python benchmarks/bench_robustness.py [--quick]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import fwd_bwd_seconds, row, time_call  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

EPS = 8 / 255
STEPS = 10
PEERS = Path(__file__).resolve().parent / "peers"


def tiny_cnn(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    L = keras.layers
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            L.Conv2D(16, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(32, 3, padding="same", activation="relu"),
            L.GlobalAveragePooling2D(),
            L.Dense(10, activation="softmax"),
        ]
    )


def plain_pgd(model: keras.Model, x: np.ndarray, y: np.ndarray):
    """A hand-written compiled Linf PGD loop (no random start): the floor to compare with."""
    head = model.layers[-1]
    features = keras.Model(model.inputs, model.layers[-2].output)

    def logits_model(v, training=False):
        return tf.matmul(features(v, training=training), head.kernel) + head.bias

    alpha = 2.5 * EPS / STEPS
    xt, yt = tf.constant(x), tf.constant(y, tf.int32)

    @tf.function
    def run(x0, labels):
        x_adv = x0
        for _ in tf.range(STEPS):
            with tf.GradientTape() as tape:
                tape.watch(x_adv)
                z = logits_model(x_adv, training=False)
                loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, z))
            g = tape.gradient(loss, x_adv)
            x_adv = tf.clip_by_value(
                x_adv + alpha * tf.sign(g), tf.maximum(x0 - EPS, 0.0), tf.minimum(x0 + EPS, 1.0)
            )
        return x_adv

    return lambda: run(xt, yt)


def _art_rows(
    x: np.ndarray, y: np.ndarray, model: keras.Model, ours_s: float, quick: bool
) -> list[dict]:
    py = PEERS / ".venv-art" / "bin" / "python"
    if not py.exists():
        return [
            row(
                "ART 1.20 TF2 PGD, 256 images",
                float("nan"),
                "s",
                ">= 2x slower than ours",
                "skipped: benchmarks/peers/.venv-art missing (run benchmarks/peers/setup.sh)",
            )
        ]
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        model.save(f"{d}/m.keras")
        np.savez(f"{d}/data.npz", x=x, y=y)
        script = f"""
import json, time, numpy as np, keras, tensorflow as tf
from art.estimators.classification import TensorFlowV2Classifier
from art.attacks.evasion import ProjectedGradientDescent
m = keras.models.load_model("{d}/m.keras")
d = np.load("{d}/data.npz")
clf = TensorFlowV2Classifier(m, nb_classes=10, input_shape=(32, 32, 3), clip_values=(0, 1),
    loss_object=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=False))
atk = ProjectedGradientDescent(clf, norm=np.inf, eps={EPS}, eps_step={2.5 * EPS / STEPS}, max_iter={STEPS},
    num_random_init=0, batch_size=256, verbose=False)
atk.generate(d["x"][:8], y=d["y"][:8])
ts = []
for _ in range(2):
    t = time.perf_counter(); xa = atk.generate(d["x"], y=d["y"]); ts.append(time.perf_counter() - t)
s = min(ts)
np.save("{d}/art.npy", xa); print(json.dumps({{"s": s}}))
"""
        out = subprocess.run([str(py), "-c", script], capture_output=True, text=True, timeout=600)
        if out.returncode:
            return [
                row(
                    "ART 1.20 TF2 PGD, 256 images",
                    float("nan"),
                    "s",
                    "",
                    f"failed: {out.stderr[-200:]}",
                )
            ]
        art_s = json.loads(out.stdout.strip().splitlines()[-1])["s"]
        art_x = np.load(f"{d}/art.npy")
    from keras_insight.robustness import pgd

    ours = pgd(model, x, y, eps=EPS, steps=STEPS, random_start=False, input_range=(0, 1))
    same = float((np.abs(ours - art_x) <= 1e-6).mean())
    return [
        row(
            "ART 1.20 TF2 PGD, 256 images, batch 256",
            art_s,
            "s",
            "",
            "min of 2 runs; same settings, no random start",
        ),
        row("speed-up vs ART", art_s / ours_s, "x", ">= 2", ""),
        row("pixels identical to ART (|diff| <= 1e-6)", same, "fraction", ">= 0.999", ""),
    ]


def rows(quick: bool = False) -> list[dict]:
    from keras_insight.robustness import TRANSFORMS, corrupt, pgd, robustness_curve

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(256, 32, 32, 3)).astype("float32")
    model = tiny_cnn()
    y = np.asarray(model(x)).argmax(-1)
    repeats = 3 if quick else 7
    fb = fwd_bwd_seconds(model, x, repeats=repeats * 2)

    def ours():
        return pgd(model, x, y, eps=EPS, steps=STEPS, random_start=False, input_range=(0, 1))

    ours_s = time_call(ours, repeats=repeats, warmup=1)
    one_s = time_call(
        lambda: pgd(model, x, y, eps=EPS, steps=1, random_start=False, input_range=(0, 1)),
        repeats=repeats,
        warmup=1,
    )
    plain_s = time_call(plain_pgd(model, x, y), repeats=repeats, warmup=1)

    def curve():
        return robustness_curve(model, x[:64], y[:64], steps=STEPS, loss="both", input_range=(0, 1))

    curve_s = time_call(curve, repeats=max(2, repeats // 2), warmup=1)
    corrupt_s = time_call(
        lambda: [corrupt(x, t, 3, input_range=(0, 1)) for t in TRANSFORMS],
        repeats=repeats,
        warmup=1,
    )
    out = [
        row("forward+backward, 256x32x32x3 tiny CNN", fb * 1e3, "ms", "", "plain compiled floor"),
        row(
            "PGD Linf eps 8/255, 10 steps, 256 images",
            ours_s,
            "s",
            "<= 0.33",
            "keras-insight pgd(), one batch",
        ),
        row(
            "plain compiled PGD loop, same settings",
            plain_s,
            "s",
            "",
            "hand-written tf.function floor",
        ),
        row(
            "PGD cost per step (marginal)",
            (ours_s - one_s) / (STEPS - 1) / fb,
            "x forward+backward",
            "<= 1.3",
            "(t(10 steps) - t(1 step)) / 9",
        ),
        row(
            "PGD cost per step (total / steps)",
            ours_s / STEPS / fb,
            "x forward+backward",
            "",
            "includes the clean label check and the final forward",
        ),
        row("PGD overhead vs plain loop", ours_s / plain_s, "x", "<= 1.3", ""),
        row(
            "robustness_curve default grid, 64 images, fgsm+pgd, both losses",
            curve_s,
            "s",
            "",
            "4 eps x 2 losses in one batched run",
        ),
        row("corrupt: all 7 transforms at severity 3, 256 images", corrupt_s, "s", "", ""),
    ]
    return out + _art_rows(x, y, model, ours_s, quick)


if __name__ == "__main__":
    for r in rows(quick="--quick" in sys.argv):
        print(
            f"{r['name']:<70} {r['value']:>10.4g} {r['unit']:<20} target {r['target']:<10} {r['note']}"
        )
