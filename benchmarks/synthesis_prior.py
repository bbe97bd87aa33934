"""Data prior for synthesis (issue 14): measurements and the pictures in docs/synthesis.md.

Run alone (about 3-6 minutes on 2 cores):

    python benchmarks/synthesis_prior.py            # prints the tables, writes docs/images/

1. Fashion-MNIST class images under ``data_prior`` for the weights 0, 0.1, 0.5, 2 (and the
   Fourier default): classes closest (Pearson) to their own class mean, classes the model
   assigns to themselves, fraction of pixels at the range limits (within 1/255), next to
   real images. Picture: ``synthesis_prior_sweep.png`` (each weight: images, then their
   difference from the prior mean).
2. ``shapes(num_classes=6)`` with the background hue tied to the class (spurious=1.0) and
   independent of it (0.0): circular distance between the class image's border-band hue
   and the tied hue. Picture: ``synthesis_prior_shortcut.png``.
3. Filter (channel) synthesis and feature inversion with and without the prior: activation
   reached, pixels at limits, high-frequency energy; inversion pixel and feature errors.
   Pictures: ``synthesis_prior_filters.png``, ``synthesis_prior_inversion.png``.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from keras_insight import datasets  # noqa: E402
from keras_insight.core import forward_outputs, logits  # noqa: E402
from keras_insight.render import grid, signed_heatmap, to_uint8  # noqa: E402
from keras_insight.synthesis import (  # noqa: E402
    channel,
    class_logit,
    data_prior,
    invert,
    maximize,
)
from keras_insight.testing.shapes import SHAPES_K, border_hue_distance, train_shapes_cnn  # noqa: E402

WEIGHTS = (0.0, 0.1, 0.5, 2.0)
L = keras.layers


def _docs(name: str) -> str:
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "images")
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, name)


def fashion_model(n: int = 6000, epochs: int = 2, seed: int = 0):
    """The test's CNN (tests/test_synthesis_prior.py): conv16-pool-conv32-pool-dense."""
    (x, y), (xt, yt) = datasets.fashion_mnist()
    keras.utils.set_random_seed(seed)
    m = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            L.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            L.MaxPooling2D(2),
            L.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(10, name="logits"),
        ]
    )
    idx = np.random.default_rng(seed).choice(len(x), n, replace=False)
    m.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    m.fit(x[idx], y[idx], epochs=epochs, batch_size=128, verbose=0)
    acc = float(m.evaluate(xt[:2000], yt[:2000], verbose=0)[1])
    return m, acc, (x, y), (xt, yt)


def closest_to_own_mean(imgs: np.ndarray, means: np.ndarray) -> int:
    a = imgs.reshape(len(imgs), -1).astype(np.float64)
    b = means.reshape(len(means), -1).astype(np.float64)
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    a /= np.linalg.norm(a, axis=1, keepdims=True) + 1e-12
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    return int(((a @ b.T).argmax(1) == np.arange(len(imgs))).sum())


def at_limits(x: np.ndarray, lo: float = 0.0, hi: float = 1.0) -> float:
    e = (hi - lo) / 255
    return float(((x <= lo + e) | (x >= hi - e)).mean())


def high_frequency_energy(x: np.ndarray) -> float:
    x = x.astype(np.float64)
    d = np.square(np.diff(x, axis=1)).mean(axis=(1, 2, 3)) + np.square(np.diff(x, axis=2)).mean(
        axis=(1, 2, 3)
    )
    return float(np.mean(d / (x.var(axis=(1, 2, 3)) + 1e-12)))


def sweep(m, x, y, xt, steps: int = 128) -> list[dict]:
    prior = data_prior(xt[:2000])
    means = np.stack([x[y == c].mean(0) for c in range(10)])
    objs = [class_logit(c) for c in range(10)]
    rows, tiles, labels = [], [], []
    names = [n.split("/")[0] for n in datasets.class_names("fashion_mnist")]
    for w in WEIGHTS:
        t0 = time.perf_counter()
        imgs = maximize(m, objs, param=prior.with_weight(w), steps=steps)
        dt = time.perf_counter() - t0
        rows.append(_row(f"data_prior w={w}", m, imgs, means, dt))
        heat = signed_heatmap(prior.difference(imgs))
        tiles += [np.repeat(to_uint8(imgs), 3, -1), heat]
        labels += [f"w={w} {n}" for n in names] + ["minus mean"] * 10
    t0 = time.perf_counter()
    four = maximize(m, objs, steps=steps, input_range=(0, 1))
    rows.append(_row("fourier (no data)", m, four, means, time.perf_counter() - t0))
    rows.append(
        {
            "setting": "real test images",
            "closest": 10,
            "assigned": "-",
            "at_limits": at_limits(xt[:1000]),
            "hf": high_frequency_energy(xt[:500]),
            "s": 0.0,
        }
    )
    tiles += [np.repeat(to_uint8(four), 3, -1), np.repeat(to_uint8(means), 3, -1)]
    labels += [f"Fourier {n}" for n in names] + [f"mean {n}" for n in names]
    pic = grid(np.concatenate(tiles), ncols=10, labels=labels, scale=3)
    Image.fromarray(pic).save(_docs("synthesis_prior_sweep.png"))
    return rows


def _row(name, m, imgs, means, dt):
    return {
        "setting": name,
        "closest": closest_to_own_mean(imgs, means),
        "assigned": int((logits(m, imgs).argmax(-1) == np.arange(10)).sum()),
        "at_limits": at_limits(imgs),
        "hf": high_frequency_energy(imgs),
        "s": dt,
    }


# ------------------------------------------------------------ shortcut (shapes)

def shortcut() -> list[dict]:
    rows, tiles, labels = [], [], []
    names = datasets.class_names("shapes")[:SHAPES_K]
    for sp in (1.0, 0.0):
        m, xv, acc = train_shapes_cnn(sp)
        prior = data_prior(xv)
        imgs = maximize(m, [class_logit(c) for c in range(SHAPES_K)], param=prior, steps=128)
        d = border_hue_distance(imgs)
        rows.append({"spurious": sp, "acc_unbiased_test": acc, "hue_distance": d})
        tiles += [to_uint8(imgs), signed_heatmap(prior.difference(imgs))]
        labels += [f"s={sp} {n}" for n in names] + ["minus mean"] * SHAPES_K
    pic = grid(np.concatenate(tiles), ncols=SHAPES_K, labels=labels, scale=3)
    Image.fromarray(pic).save(_docs("synthesis_prior_shortcut.png"))
    return rows


# ------------------------------------------------------------ filters and inversion


def filters_and_inversion(m, xt, steps: int = 128) -> dict:
    out = {}
    prior = data_prior(xt[:2000])
    real = xt[:2000]
    tiles, labels = [], []
    for layer in ("conv1", "conv2"):
        objs = [channel(layer, k) for k in range(8)]
        (acts_real,), _ = forward_outputs(m, real, [layer])
        top_real = np.asarray(acts_real).mean(axis=(1, 2)).max(0)[:8]  # best real image
        res = {}
        for name, kw in [
            ("fourier", {"input_range": (0, 1)}),
            ("data_prior w=0.1", {"param": prior}),
            ("data_prior w=0.01", {"param": prior.with_weight(0.01)}),
        ]:
            imgs = maximize(m, objs, steps=steps, **kw)
            (a,), _ = forward_outputs(m, imgs, [layer])
            reached = np.diag(np.asarray(a).mean(axis=(1, 2))[:, :8])
            res[name] = {
                "activation_vs_best_real": float(np.median(reached / np.maximum(top_real, 1e-6))),
                "at_limits": at_limits(imgs),
                "hf_vs_real": high_frequency_energy(imgs) / high_frequency_energy(real[:500]),
            }
            tiles.append(to_uint8(imgs))
            labels += [f"{layer} {name.replace('data_prior ', '')} {k}" for k in range(8)]
        out[f"filters {layer}"] = res
    Image.fromarray(grid(np.concatenate(tiles), ncols=8, labels=labels, scale=3)).save(
        _docs("synthesis_prior_filters.png")
    )
    x0 = xt[2000:2008]
    tiles, labels = [x0], ["input"] * 8
    for layer in ("conv1", "conv2", "logits"):
        res = {}
        for name, param in [
            ("pixels", "pixels"),
            ("data_prior w=1e-3", prior.with_weight(1e-3)),
            ("data_prior w=0", prior.with_weight(0.0)),
        ]:
            rec, err = invert(m, x0, layer, steps=256, param=param, input_range=(0, 1))
            res[name] = {
                "pixel_error": float(err["pixel_error"].mean()),
                "feature_error": float(err["feature_error"].mean()),
                "hf_vs_real": high_frequency_energy(rec) / high_frequency_energy(real[:500]),
            }
            tiles.append(rec)
            labels += [f"{layer} {name.replace('data_prior ', '')}"] * 8
        out[f"inversion {layer}"] = res
    Image.fromarray(grid(to_uint8(np.concatenate(tiles)), ncols=8, labels=labels, scale=3)).save(
        _docs("synthesis_prior_inversion.png")
    )
    return out


def callback_picture(m, x, y, xt, yt) -> float:
    """The default ``ClassSynthesis`` (validation data given, so param='auto' = data prior):
    its ``synthesis/classes`` grid saved as ``synthesis_prior_callback.png``. The model is
    fitted with SGD(lr=0) for one step, only to run the callback; its weights do not move."""
    import tempfile

    from keras_insight.callbacks.synthesis import ClassSynthesis
    from keras_insight.tensorboard.events import read_events

    with tempfile.TemporaryDirectory() as d:
        cb = ClassSynthesis(
            d,
            validation_data=(xt, yt),
            class_names=datasets.class_names("fashion_mnist"),
            strict=True,
        )
        m.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
        m.fit(x[:128], y[:128], epochs=1, batch_size=128, verbose=0, callbacks=[cb])
        ev = read_events(os.path.join(d, "insight"))
    # the tag's pages (TensorBoard shows each as a card), one under the other for the docs
    pages = ev["synthesis/classes"][-1][1]
    Image.fromarray(np.concatenate(pages, axis=0)).save(_docs("synthesis_prior_callback.png"))
    return float(ev["synthesis/self_accuracy"][-1][1])


def main() -> None:
    t0 = time.perf_counter()
    m, acc, (x, y), (xt, yt) = fashion_model()
    print(f"Fashion-MNIST CNN: test accuracy {acc:.3f} ({time.perf_counter() - t0:.1f} s)")
    print(
        "| setting | closest to own class mean | assigned to its class | pixels at limits | "
        "HF energy | s |"
    )
    print("|---|---|---|---|---|---|")
    for r in sweep(m, x, y, xt):
        print(
            f"| {r['setting']} | {r['closest']}/10 | {r['assigned']}/10 | {r['at_limits']:.3f} "
            f"| {r['hf']:.3f} | {r['s']:.2f} |"
        )
    print(f"default ClassSynthesis callback: self_accuracy {callback_picture(m, x, y, xt, yt)}")
    for k, res in filters_and_inversion(m, xt).items():
        for name, v in res.items():
            print(k, name, {a: round(b, 3) for a, b in v.items()})
    if "--no-shapes" not in sys.argv:
        for r in shortcut():
            d = r["hue_distance"]
            print(
                f"shapes spurious={r['spurious']}: unbiased-test accuracy "
                f"{r['acc_unbiased_test']:.3f}, hue distances {np.round(d, 3).tolist()}, "
                f"within 0.1: {int((d < 0.1).sum())}/6"
            )


if __name__ == "__main__":
    main()
