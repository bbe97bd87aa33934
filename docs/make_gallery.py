"""Write the demo's pictures to docs/images/gallery/: one PNG per TensorBoard image tag.

    python docs/make_gallery.py                 # train the demo CNN briefly, then dump
    python docs/make_gallery.py --from logs/demo  # dump an existing run instead

It trains the demo CNN on 12,000 Fashion-MNIST images for 2 epochs with every insight
callback (``suite(level="full")``) and ``keras.callbacks.TensorBoard``, then writes the last
logged picture of every image tag as ``<tag with / replaced by __>.png`` (the first image of
the summary; per-sample tags keep sample 0 only) and an ``index.md`` listing them with
their pixel sizes. These are the pictures TensorBoard shows; the getting-started page
links to them. About two minutes on 2 CPU cores.

``--screenshots`` also starts TensorBoard on the run and saves what a browser shows
(headless Chromium through selenium, as ``scripts/dashboard_figures.py`` does): the
Scalars tab (Keras's loss and accuracy beside the insight scalars) and the Images tab, as
``docs/images/tensorboard_scalars.png`` and ``docs/images/tensorboard_images.png``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def train(log_dir: str, epochs: int, limit: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    from keras_insight import datasets
    from keras_insight.callbacks import suite
    from keras_insight.cli import demo_model

    keras.utils.set_random_seed(0)
    (xt, yt), (xv, yv) = datasets.fashion_mnist()
    names = datasets.class_names("fashion_mnist")
    model = demo_model(xt.shape[1:], len(names))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    cbs = suite((xv, yv), log_dir, level="full", class_names=names, overhead=None)
    model.fit(
        np.asarray(xt[:limit], "float32"),
        yt[:limit],
        epochs=epochs,
        batch_size=128,
        verbose=2,
        callbacks=[keras.callbacks.TensorBoard(log_dir), *cbs],
    )


def dump(log_dir: str, out: Path) -> list[tuple[str, tuple[int, ...]]]:
    from PIL import Image

    from keras_insight.tensorboard.events import read_events

    runs = sorted(p for p in Path(log_dir).iterdir() if p.name.startswith("insight"))
    if not runs:
        sys.exit(f"no insight run under {log_dir}")
    events = read_events(str(runs[-1]))
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    written = []
    for tag, values in sorted(events.items()):
        last = values[-1][1]
        if not isinstance(last, list) or not last or getattr(last[0], "ndim", 0) != 3:
            continue
        if re.search(r"/sample_[1-9]\d*$", tag):  # one per-sample picture is enough
            continue
        img = last[0]
        name = tag.replace("/", "__") + ".png"
        Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(out / name)
        written.append((tag, img.shape))
    from keras_insight.render.grids import CARD_WIDTH, FONT_SIZE, max_text_width

    lines = ["# Gallery: the demo's pictures as TensorBoard shows them", ""]
    lines += [
        "Made by `python docs/make_gallery.py`. Width x height in pixels, then the scale",
        f"TensorBoard's Images tab shows it at (every card is {CARD_WIDTH} px wide). Pictures",
        f"with {FONT_SIZE} px labels are at most {max_text_width()} px wide, so their labels",
        "stay at least 10 px tall on the card (`tests/test_pictures.py` checks every tag).",
        "",
    ]
    lines += [
        f"- `{t}` ({s[1]}x{s[0]}, x{CARD_WIDTH / s[1]:.2f}): ![{t}]({t.replace('/', '__')}.png)"
        for t, s in written
    ]
    (out / "index.md").write_text("\n".join(lines) + "\n")
    return written


def screenshots(log_dir: str, out: Path) -> list[Path]:
    """Save TensorBoard's Scalars and Images tabs, as a browser shows them, under ``out``."""
    import time

    from keras_insight.tensorboard.server import TensorBoardServer
    from keras_insight.testing.browser import headless_chromium

    pages = {
        "tensorboard_scalars.png": "#scalars&tagFilter=epoch_accuracy%7Cepoch_loss%7Cconfusion%2Faccuracy",
        "tensorboard_images.png": "#images&tagFilter=gradcam%7Cfilters%2Fconv1",
    }
    written = []
    with headless_chromium(height=1000) as driver, TensorBoardServer(log_dir) as tb:
        for name, page in pages.items():
            driver.get(tb.url + "/" + page)
            time.sleep(8)  # TensorBoard loads its data lazily; no readiness hook to wait on
            driver.save_screenshot(str(out / name))
            written.append(out / name)
    return written


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--from", dest="source", default=None, help="dump this log_dir, no training")
    p.add_argument("--log-dir", default="/tmp/keras_insight_gallery")
    p.add_argument("--out", default=str(HERE / "images" / "gallery"))
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--limit", type=int, default=12000)
    p.add_argument("--screenshots", action="store_true", help="also screenshot TensorBoard")
    args = p.parse_args()
    log_dir = args.source
    if log_dir is None:
        import shutil

        shutil.rmtree(args.log_dir, ignore_errors=True)
        train(args.log_dir, args.epochs, args.limit)
        log_dir = args.log_dir
    for tag, shape in dump(log_dir, Path(args.out)):
        print(f"{shape[1]:5d} x {shape[0]:5d}  {tag}")
    if args.screenshots:
        for path in screenshots(log_dir, Path(args.out).parent):
            print(f"screenshot {path}")


if __name__ == "__main__":
    main()
