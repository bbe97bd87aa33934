"""Pictures people can read: every image tag of a short suite run, measured.

The run uses 8x8 digits, the smallest images the library meets, so any picture that
forgets to enlarge its tiles fails here. TensorBoard shows a picture in two places: the
Images tab (a 350 px wide card) and the Time Series tab, its default (a 319 x 215 px box);
every picture must read in both (``shown_scale``), long grids being written as pages, the
samples of one tag.
"""

import math
import re

import keras
import numpy as np
import pytest

from keras_insight import datasets
from keras_insight.callbacks import suite
from keras_insight.cli import demo_model
from keras_insight.render import filter_grid, grid, plots
from keras_insight.render.grids import (
    CARD_FONT_SIZE,
    CARD_WIDTH,
    FONT_SIZE,
    card_text_size,
    font,
    grid_pages,
    max_text_height,
    max_text_width,
    shown_scale,
    wrap_label,
)
from keras_insight.tensorboard.events import read_events

MIN_SIDE = 96  # px: every picture at least this wide and tall
MAX_GRID_ASPECT = 3.0  # grids of tiles: longer side / shorter side
MIN_CARD_TILE = 40  # px: a labelled tile at least this wide on a card

# matplotlib figures (smallest text: plots.SMALLEST_TEXT_PX) and pictures without text;
# every other picture is a grid or the confusion matrix, whose text is never below
# FONT_SIZE px (grid only ever enlarges it), so an unknown new tag is held to FONT_SIZE
FIGURES = re.compile(r"^(robustness/curve|invariance/summary|embedding/(pca|tsne|dynamics))$")
NO_TEXT = re.compile(
    r"^(synthesis/(class_\d+|difference/class_\d+|prior_mean)|embedding/tsne_grid"
    r"|patches/.*/guided_backprop)$"
)


def smallest_text_px(tag):
    """Smallest text (px) the picture under ``tag`` was drawn with, None without text."""
    if FIGURES.match(tag):
        return plots.SMALLEST_TEXT_PX
    return None if NO_TEXT.match(tag) else FONT_SIZE


@pytest.fixture(scope="module")
def images_run(tmp_path_factory):
    log = tmp_path_factory.mktemp("pictures")
    (xt, yt), (xv, yv) = datasets.digits()
    names = datasets.class_names("digits")
    keras.utils.set_random_seed(0)
    model = demo_model(xt.shape[1:], len(names))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    cbs = suite((xv[:200], yv[:200]), str(log), level="full", class_names=names, overhead=None)
    model.fit(xt[:512], yt[:512], epochs=1, batch_size=128, verbose=0, callbacks=cbs)
    return _pages(log)


def _pages(log):
    """tag -> the pages (samples) of its last logged step, for every image tag."""
    ev = read_events(str(log / "insight"))
    out = {}
    for tag, values in ev.items():
        last = values[-1][1]
        if isinstance(last, list) and last and getattr(last[0], "ndim", 0) == 3:
            out[tag] = last
    return out


@pytest.fixture(scope="module")
def all_pages(pages, extra_pages):
    return {**pages, **extra_pages}


@pytest.fixture(scope="module")
def images(all_pages):
    """tag -> its first page."""
    return {tag: p[0] for tag, p in all_pages.items()}


@pytest.fixture(scope="module")
def extra_pages(tmp_path_factory):
    """The pictures suite() leaves out: shape bias, max-activating patches, filter
    synthesis and feature inversion, from a small model on 16 px shapes."""
    from keras_insight.callbacks import FeatureInversion, FilterSynthesis, MaxActivatingPatches
    from keras_insight.callbacks.robustness import ShapeBias
    from keras_insight.testing.models import small_cnn

    log = tmp_path_factory.mktemp("extra")
    x, y, masks = datasets.shapes(48, size=16, spurious=1.0, seed=0)
    m = small_cnn(num_classes=3)
    m.compile("adam", "sparse_categorical_crossentropy")
    cbs = [
        ShapeBias((x, y, masks), str(log), num_samples=24, strict=True),
        MaxActivatingPatches(x, "conv2", [0, 1, 2, 3], str(log), k=5, strict=True),
        FilterSynthesis(str(log), ["conv2"], list(range(8)), steps=3, input_range=(0, 1),
                        strict=True),  # fmt: skip
        FeatureInversion(x[:3], ["conv1", "conv2"], log_dir=str(log), steps=3, strict=True),
    ]
    m.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=cbs)
    return _pages(log)


@pytest.fixture(scope="module")
def pages(images_run):
    return images_run


def test_every_family_drew_pictures(images):
    families = {tag.split("/")[0] for tag in images}
    for family in ("filters", "activations", "gradcam", "confusion", "neighbors", "robustness"):
        assert family in families, sorted(images)


def test_every_picture_is_large_enough(images):
    small = {t: img.shape[:2] for t, img in images.items() if min(img.shape[:2]) < MIN_SIDE}
    assert small == {}, sorted(small.items())[-12:]


def test_grids_are_near_square(images):
    grids = [t for t in images if t.split("/")[0] in ("filters", "activations", "gradcam",
                                                      "saliency", "synthesis")]  # fmt: skip
    assert grids
    skewed = {}
    for t in grids:
        h, w = images[t].shape[:2]
        if max(h, w) / min(h, w) > MAX_GRID_ASPECT:
            skewed[t] = (w, h)
    assert skewed == {}


def test_filter_grid_layout_is_near_square_and_crisp():
    rng = np.random.default_rng(0)
    tiles = rng.uniform(0, 1, (16 * 8, 3, 3)).astype("float32")  # 16 filters x 8 channels
    g = filter_grid(tiles, per_filter=8)
    h, w = g.shape[:2]
    assert max(h, w) / min(h, w) < 1.5
    # each 3x3 weight became a uniform square of ceil(40 / 3) = 14 px (nearest neighbour)
    one = filter_grid(tiles[:1], per_filter=1, labels=False)
    s = math.ceil(40 / 3)
    block = one[3 : 3 + s, 3 : 3 + s, 0]
    assert block.min() == block.max()
    with pytest.raises(ValueError, match="per_filter"):
        filter_grid(tiles[:5], per_filter=2)


def test_labels_fit_their_tile_and_are_legible():
    # the font is DejaVu Sans (matplotlib's), with capitals at least 10 px tall
    top, bottom = font().getbbox("H")[1::2]
    assert bottom - top >= 10 and FONT_SIZE >= 13
    # a long label is wrapped to two lines and shortened with an ellipsis, never wider
    lines = wrap_label("true T-shirt/top pred T-shirt/top and more words", 100)
    assert len(lines) == 2 and lines[-1].endswith("\u2026")
    assert all(font().getlength(line) <= 100 for line in lines)
    # two neighbouring labelled tiles: no text pixel crosses the 1 px white gap
    g = grid(np.zeros((2, 28, 28)), labels=["true T-shirt/top pred Pullover"] * 2, ncols=2)
    tile_w = (g.shape[1] - 3) // 2
    assert np.all(g[:, 1 + tile_w] == 255)


def test_light_label_colours_are_darkened_for_contrast():
    g = grid(np.zeros((1, 8, 8)), labels=["class"], label_colors=[(0, 255, 0)])
    strip = g[-20:].reshape(-1, 3).astype(int)
    text = strip[(strip != 255).any(-1)]
    assert text.size and text[:, 1].min() < 150  # dark green, not the unreadable (0, 255, 0)


def test_neighbours_never_show_the_query_itself(images):
    # suite() passes the validation data as query and gallery: the query's own row is
    # excluded by index, so neither its first feature nor first pixel neighbour is itself
    k = 5
    for tag in ("neighbors/fc", "neighbors/fc/pixels"):  # feature space, pixel space
        pic = images[tag]
        w = (pic.shape[1] - 1) // (1 + k) - 1
        query, first = pic[1 : 1 + w, 1 : 1 + w], pic[1 : 1 + w, 2 + w : 2 + 2 * w]
        assert not np.array_equal(query, first), tag
        assert w * min(1.0, CARD_WIDTH / pic.shape[1]) >= MIN_CARD_TILE, tag


def test_drop_self_matches_keeps_order():
    from keras_insight.callbacks.representation import drop_self_matches

    idx = np.array([[7, 3, 9, 1], [2, 7, 5, 0]])
    assert drop_self_matches(idx, np.array([7, 7]), 3).tolist() == [[3, 9, 1], [2, 5, 0]]
    assert drop_self_matches(idx, np.array([-1, 4]), 2).tolist() == [[7, 3], [2, 7]]


def test_wide_grids_get_labels_that_survive_the_card_shrink():
    from keras_insight.render.grids import CARD_FONT_SIZE, CARD_WIDTH, display_font_size

    labels = [f"#{i}" for i in range(16)]  # short labels under large tiles (filter grids)
    g = grid(np.zeros((16, 28, 28)), labels=labels, scale=5)
    tile_w = (g.shape[1] - 1) // 4 - 1
    size = display_font_size(g.shape[1], labels, tile_w)
    assert size > FONT_SIZE  # the 4x4 grid is wider than a card: a larger font...
    assert size * CARD_WIDTH / g.shape[1] >= CARD_FONT_SIZE  # ...still 10 px once shrunk
    # a label that would not fit its tile at the larger size keeps the base size
    assert display_font_size(900, ["a very long label for a tile"], 60) == FONT_SIZE


def test_every_picture_reads_at_card_size(images):
    # TensorBoard's Images tab shrinks a picture to its CARD_WIDTH px card, the Time Series
    # tab fits it into a 319 x 215 px box: the smallest text of every picture must stay
    # CARD_FONT_SIZE px tall in both (a 936 px wide grid of FONT_SIZE labels shows them at
    # 5 px on the card; a 487 x 953 one at 3 px in the box)
    unreadable = {}
    for tag, img in images.items():
        h, w = img.shape[:2]
        px = smallest_text_px(tag)
        if px is not None and card_text_size(px, w, h) < CARD_FONT_SIZE:
            unreadable[tag] = (w, h, round(card_text_size(px, w, h), 1))
    assert unreadable == {}, unreadable
    assert card_text_size(FONT_SIZE, 936) < CARD_FONT_SIZE  # the rule catches the old ones
    assert card_text_size(FONT_SIZE, 487, 953) < CARD_FONT_SIZE  # neighbours before paging
    assert card_text_size(FONT_SIZE, 341, 493) < CARD_FONT_SIZE  # 16 Grad-CAM overlays
    assert card_text_size(FONT_SIZE, max_text_width(), max_text_height()) >= CARD_FONT_SIZE


def test_the_extra_pictures_were_drawn(extra_pages):
    for tag in ("shape_bias/examples", "patches/conv2", "patches/conv2/guided_backprop",
                "synthesis/filters/conv2", "synthesis/inversion"):  # fmt: skip
        assert tag in extra_pages, sorted(extra_pages)


def test_pages_of_a_tag_share_one_size(all_pages):
    # TensorBoard shows the N images of a step as N cards ("Sample 1/N"): one size each
    for tag, p in all_pages.items():
        assert len({img.shape for img in p}) == 1, tag


def test_labelled_tiles_stay_large_on_screen(images):
    # the 4 x 2 pages of attribution overlays: each tile at least MIN_CARD_TILE px wide in
    # the smaller of the two views
    for tag in [t for t in images if t.endswith("/overlay")]:
        h, w = images[tag].shape[:2]
        tile = (w - 1) // 4 - 1
        assert tile * shown_scale(w, h) >= MIN_CARD_TILE, (tag, w, h)


def test_long_grids_become_pages_that_fit_the_box():
    tiles = np.zeros((16, 28, 28))
    labels = ["true T-shirt/top pred Shirt"] * 16
    pages = grid_pages(tiles, ncols=4, labels=labels)
    assert pages.ndim == 4 and len(pages) == 2
    assert pages.shape[2] <= max_text_width() and pages.shape[1] <= max_text_height()
    # the same tiles and labels as the one long grid, cut between rows
    whole = grid(tiles, ncols=4, labels=labels)
    row = (whole.shape[0] - 1) // 4
    np.testing.assert_array_equal(pages[1][1 : 1 + 2 * row], whole[1 + 2 * row :])
    # 5 rows that need pages of 2: 3 pages of 2 rows (the last padded white)
    five = grid_pages(np.zeros((20, 28, 28)), ncols=4, labels=labels + labels[:4])
    assert len(five) == 3 and five[-1][-row:].min() == 255


def test_labelled_grids_fit_the_card_text_width():
    # six 28 px columns labelled "T-shirt/top": a 3x factor (84 px) would make the grid
    # 511 px wide; the tiles are resized to the widest that fits (73 px), "T-shirt/top"
    # broken after its "/" (never cut)
    names = ["T-shirt/top", "Pullover", "Ankle boot"] * 4
    g = grid(np.zeros((12, 28, 28)), ncols=6, labels=names)
    assert g.shape[1] <= max_text_width()
    tile_w = (g.shape[1] - 1) // 6 - 1
    assert wrap_label("T-shirt/top", tile_w) == ["T-shirt/", "top"]
    assert tile_w * shown_scale(*g.shape[1::-1]) >= MIN_CARD_TILE
    # one long word: hyphenated over two lines rather than cut with an ellipsis
    wide = grid(np.zeros((6, 28, 28)), ncols=6, labels=["Unbreakable"] * 6)
    assert wide.shape[1] <= max_text_width()
    lines = wrap_label("Unbreakable", (wide.shape[1] - 1) // 6 - 1)
    assert lines[0].endswith("-") and lines[0][:-1] + lines[1] == "Unbreakable"
    # a labelled filter grid of 32 filters x 16 channels fits too, blocks still large
    rng = np.random.default_rng(0)
    f = filter_grid(rng.uniform(0, 1, (32 * 16, 3, 3)).astype("float32"), per_filter=16)
    assert f.shape[1] <= max_text_width() and f.shape[0] <= 2 * f.shape[1]
