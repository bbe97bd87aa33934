"""Write the demo's pictures to docs/images/gallery/: one PNG per TensorBoard image tag.

    python docs/make_gallery.py                 # train the demo CNN briefly, then dump
    python docs/make_gallery.py --from logs/demo  # dump an existing run instead

It trains the demo CNN on 12,000 Fashion-MNIST images for 2 epochs with every insight
callback (``suite(level="full")``) and ``keras.callbacks.TensorBoard``, then writes the last
logged picture of every image tag as ``<tag with / replaced by __>.png`` (a tag written
as several pages, the samples TensorBoard shows as cards "Sample 1/N" ..., also gets
``..._p2.png`` and on; per-probe-image tags keep sample_0 only) and an ``index.md``
listing them with their pixel sizes and the scale each view shows them at. These are the
pictures TensorBoard shows; the getting-started page links to them. About two minutes on
2 CPU cores.

``--screenshots`` also starts TensorBoard on the run and saves what a browser shows
(headless Chromium through selenium, as ``scripts/dashboard_figures.py`` does): the
Scalars tab (Keras's loss and accuracy beside the insight scalars), the Images tab and
the Time Series tab (TensorBoard's default), as ``docs/images/tensorboard_scalars.png``,
``docs/images/tensorboard_images.png`` and ``docs/images/tensorboard_timeseries.png``.
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


def dump(log_dir: str, out: Path) -> list[tuple[str, tuple[int, ...], int]]:
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
        for k, img in enumerate(last):
            name = tag.replace("/", "__") + (f"_p{k + 1}" if k else "") + ".png"
            Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(out / name)
        written.append((tag, last[0].shape, len(last)))
    from keras_insight.render.grids import (
        BOX_HEIGHT,
        BOX_WIDTH,
        CARD_WIDTH,
        FONT_SIZE,
        max_text_height,
        max_text_width,
    )

    lines = ["# Gallery: the demo's pictures as TensorBoard shows them", ""]
    lines += [
        "Made by `python docs/make_gallery.py`. Width x height in pixels, the number of pages",
        "(a tag's samples: the Time Series tab shows each as its own card, \"Sample 1/N\"...),",
        f"then the scale of the Images tab (every card {CARD_WIDTH} px wide) and of the Time",
        f"Series tab (TensorBoard's default: each picture fitted into a {BOX_WIDTH} x",
        f"{BOX_HEIGHT} px box). Pictures with {FONT_SIZE} px labels are at most",
        f"{max_text_width()} x {max_text_height()} px, so their labels stay at least 10 px",
        "tall in both (`tests/test_pictures.py` checks every tag).",
        "",
    ]
    for t, s, n in written:
        images = min(1.0, CARD_WIDTH / s[1])
        series = min(BOX_WIDTH / s[1], BOX_HEIGHT / s[0])
        base = t.replace("/", "__")
        links = " ".join(
            f"![{t} page {k + 1}]({base}{f'_p{k + 1}' if k else ''}.png)" for k in range(n)
        )
        pages = f", {n} pages" if n > 1 else ""
        lines.append(f"- `{t}` ({s[1]}x{s[0]}{pages}; x{images:.2f}, x{series:.2f}): {links}")
    (out / "index.md").write_text("\n".join(lines) + "\n")
    return written


def screenshots(log_dir: str, out: Path) -> list[Path]:
    """Save TensorBoard's Scalars, Images and Time Series tabs, as a browser shows them,
    under ``out``."""
    import time

    from keras_insight.tensorboard.server import TensorBoardServer
    from keras_insight.testing.browser import headless_chromium

    pages = {
        "tensorboard_scalars.png": "#scalars&tagFilter=epoch_accuracy%7Cepoch_loss%7Cconfusion%2Faccuracy",
        "tensorboard_images.png": "#images&tagFilter=gradcam%7Cfilters%2Fconv1",
        "tensorboard_timeseries.png": "#timeseries",
    }
    # the Time Series tab takes its tag filter from its search box, not from the URL
    typed = {"tensorboard_timeseries.png": "gradcam/grad_cam|confusion/matrix"}
    written = []
    with headless_chromium(height=1000) as driver, TensorBoardServer(log_dir) as tb:
        for name, page in pages.items():
            driver.get(tb.url + "/" + page)
            time.sleep(8)  # TensorBoard loads its data lazily; no readiness hook to wait on
            if name in typed:
                from selenium.webdriver.common.by import By

                box = driver.find_element(By.CSS_SELECTOR, "input[placeholder^='Filter tags']")
                box.send_keys(typed[name])
                time.sleep(2)
                driver.execute_script("document.activeElement.blur()")  # close the suggestions
                driver.find_element(By.TAG_NAME, "body").click()
                time.sleep(6)
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
    for tag, shape, pages in dump(log_dir, Path(args.out)):
        print(f"{shape[1]:5d} x {shape[0]:5d} x {pages}  {tag}")
    if args.screenshots:
        for path in screenshots(log_dir, Path(args.out).parent):
            print(f"screenshot {path}")


if __name__ == "__main__":
    main()
