"""Pictures people can read: every image tag of a short suite run, measured.

The run uses 8x8 digits, the smallest images the library meets, so any picture that
forgets to enlarge its tiles fails here.
"""

import math

import keras
import numpy as np
import pytest

from keras_insight import datasets
from keras_insight.callbacks import suite
from keras_insight.cli import demo_model
from keras_insight.render import filter_grid, grid
from keras_insight.render.grids import FONT_SIZE, font, wrap_label
from keras_insight.tensorboard.events import read_events

MIN_SIDE = 96  # px: every picture at least this wide and tall
MAX_GRID_ASPECT = 3.0  # grids of tiles: longer side / shorter side


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    log = tmp_path_factory.mktemp("pictures")
    (xt, yt), (xv, yv) = datasets.digits()
    names = datasets.class_names("digits")
    keras.utils.set_random_seed(0)
    model = demo_model(xt.shape[1:], len(names))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    cbs = suite((xv[:200], yv[:200]), str(log), level="full", class_names=names, overhead=None)
    model.fit(xt[:512], yt[:512], epochs=1, batch_size=128, verbose=0, callbacks=cbs)
    ev = read_events(str(log / "insight"))
    out = {}
    for tag, values in ev.items():
        last = values[-1][1]
        if isinstance(last, list) and last and getattr(last[0], "ndim", 0) == 3:
            out[tag] = last[0]
    return out


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
    pic = images["neighbors/fc"]
    k = 5
    ncols = 1 + 2 * k
    w = (pic.shape[1] - 1) // ncols - 1

    def tile(c):
        x0 = 1 + c * (w + 1)
        return pic[1 : 1 + w, x0 : x0 + w]

    assert not np.array_equal(tile(0), tile(1))  # first feature-space neighbour
    assert not np.array_equal(tile(0), tile(1 + k))  # first pixel-space neighbour


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
