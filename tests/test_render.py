"""Tests for keras_insight.render: exact pixel values of normalisation, grids and overlays."""

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from keras_insight.render import (
    as_uint8,
    colormap,
    figure_to_array,
    grid,
    label_height,
    normalize_minmax,
    normalize_symmetric,
    overlay,
    to_uint8,
    upscale_nearest,
)


def test_to_uint8_linear_clip_round():
    x = np.array([-5.0, -1.0, 0.0, 1.0, 3.0, np.nan])
    np.testing.assert_array_equal(to_uint8(x, -1.0, 1.0), [0, 0, 128, 255, 255, 0])
    # 255 * (0.2 - 0) / 1 = 51 exactly; 0.5 * 255 = 127.5 -> 128 (half to even).
    np.testing.assert_array_equal(to_uint8(np.array([0.2, 0.5])), [51, 128])
    assert to_uint8(np.zeros(2)).dtype == np.uint8
    with pytest.raises(ValueError):
        to_uint8(np.zeros(2), 1.0, 1.0)


def test_as_uint8_passes_uint8_through_and_reads_floats_as_unit_range():
    u = np.array([1, 2, 250], dtype=np.uint8)
    assert as_uint8(u) is u
    np.testing.assert_array_equal(as_uint8(np.array([0.0, 1.0])), [0, 255])
    np.testing.assert_array_equal(as_uint8(np.array([-3, 300])), [0, 255])


def test_normalize_symmetric_exact_formula():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3, 3, 2)).astype(np.float32)
    out = normalize_symmetric(w)
    np.testing.assert_allclose(out, 0.5 + w / (2 * np.abs(w).max()), rtol=1e-6)
    assert out.min() >= 0.0 and out.max() <= 1.0
    # The largest magnitude lands exactly on 0 or 1, zero exactly on 0.5.
    assert np.isclose(out.flat[np.argmax(np.abs(w))], 0.0) or np.isclose(
        out.flat[np.argmax(np.abs(w))], 1.0
    )


def test_normalize_symmetric_per_tile_and_all_zero():
    w = np.stack([np.full((2, 2), 4.0), np.zeros((2, 2)), np.array([[-1.0, 0.5], [0, 0]])])
    out = normalize_symmetric(w, per_image=True)
    np.testing.assert_array_equal(out[0], np.ones((2, 2)))
    np.testing.assert_array_equal(out[1], np.full((2, 2), 0.5))
    np.testing.assert_array_equal(out[2], [[0.0, 0.75], [0.5, 0.5]])
    zero = normalize_symmetric(np.zeros((3, 3)))
    assert not np.isnan(zero).any()
    np.testing.assert_array_equal(zero, 0.5)


def test_normalize_minmax_per_image_and_degenerate_is_zero():
    maps = np.stack(
        [
            np.array([[0.0, 2.0], [4.0, 1.0]]),
            np.array([[10.0, 20.0], [30.0, 40.0]]),
            np.full((2, 2), 7.0),  # constant: degenerate
        ]
    )
    out = normalize_minmax(maps)
    assert out.dtype == np.float32
    assert not np.isnan(out).any()
    np.testing.assert_allclose(out[0], [[0.0, 0.5], [1.0, 0.25]])
    np.testing.assert_allclose(out[1], [[0.0, 1 / 3], [2 / 3, 1.0]], rtol=1e-6)
    np.testing.assert_array_equal(out[2], np.zeros((2, 2)))
    # Not per image: one min/max over the whole batch, so image 0 is squashed.
    whole = normalize_minmax(maps, per_image=False)
    np.testing.assert_allclose(whole[0, 1, 0], 0.1, rtol=1e-6)
    np.testing.assert_array_equal(normalize_minmax(np.zeros((2, 3, 3))), 0.0)


def test_grid_places_tiles_at_exact_offsets():
    n, h, w = 5, 3, 4
    tiles = (np.arange(n, dtype=np.uint8)[:, None, None] * 10 + 1) * np.ones(
        (n, h, w), dtype=np.uint8
    )
    tiles[:, 0, 0] = 200  # mark each tile's top-left pixel
    pad, ncols = 2, 3
    g = grid(tiles, ncols=ncols, pad=pad, pad_value=255)
    nrows = 2
    assert g.dtype == np.uint8
    assert g.shape == (pad + nrows * (h + pad), pad + ncols * (w + pad), 1)
    for i in range(n):
        r, c = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        np.testing.assert_array_equal(g[y : y + h, x : x + w, 0], tiles[i])
    # Everything outside the tiles is padding, including the empty sixth cell.
    mask = np.ones(g.shape[:2], dtype=bool)
    for i in range(n):
        r, c = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        mask[y : y + h, x : x + w] = False
    assert np.all(g[mask] == 255)


def test_grid_rgb_float_input_and_default_columns():
    rng = np.random.default_rng(1)
    imgs = rng.random((4, 2, 2, 3)).astype(np.float32)
    g = grid(imgs, pad=0)
    assert g.shape == (4, 4, 3)  # ceil(sqrt(4)) = 2 columns
    np.testing.assert_array_equal(g[2:4, 2:4], to_uint8(imgs[3]))
    with pytest.raises(ValueError):
        grid(np.zeros((0, 2, 2)))


def test_grid_labels_force_rgb_upscale_and_draw_text():
    tiles = np.zeros((2, 4, 4), dtype=np.uint8)
    g = grid(tiles, ncols=2, pad=1, labels=["cat", "dog"])
    assert g.shape[-1] == 3
    lh = label_height(["cat", "dog"])
    # Scale was chosen automatically so the tile is as wide as the label.
    tile_w = (g.shape[1] - 1) // 2 - 1
    scale = tile_w // 4
    assert tile_w == 4 * scale and scale > 1
    assert g.shape[0] == 1 + (4 * scale + lh + 1)
    # Tile pixels are upscaled copies (all black) in all three channels.
    np.testing.assert_array_equal(g[1 : 1 + 4 * scale, 1 : 1 + 4 * scale], 0)
    # The label strip under each tile contains dark text pixels on the white pad.
    strip = g[1 + 4 * scale : 1 + 4 * scale + lh, 1 : 1 + 4 * scale]
    assert strip.min() < 128 and strip.max() == 255
    # Explicit scale and colours are honoured.
    g2 = grid(tiles, labels=["a", "b"], scale=3, label_colors=[(255, 0, 0), (0, 255, 0)])
    strip2 = g2[1 + 12 : 1 + 12 + label_height(["a", "b"]), 1:13]
    assert np.any((strip2[..., 0] > 200) & (strip2[..., 1] < 50))


def test_colormap_matches_matplotlib():
    maps = np.linspace(0, 1, 12, dtype=np.float32).reshape(1, 3, 4)
    out = colormap(maps, "viridis")
    assert out.shape == (1, 3, 4, 3) and out.dtype == np.uint8
    ref = matplotlib.colormaps["viridis"](maps.astype(np.float64), bytes=True)[..., :3]
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(
        colormap(np.array([[[2.0, -1.0]]]), "gray"), [[[[255] * 3, [0] * 3]]]
    )


def test_overlay_blend_and_grey_broadcast():
    images = np.full((2, 2, 2), 100, dtype=np.uint8)  # grey, no channel axis
    maps = np.array([np.zeros((2, 2)), np.ones((2, 2))])
    out = overlay(images, maps, alpha=0.25, cmap="gray")
    assert out.shape == (2, 2, 2, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0], 75)  # 0.75 * 100 + 0.25 * 0
    np.testing.assert_array_equal(out[1], 139)  # rint(75 + 63.75)
    # Float RGB image, single (H, W) map.
    img = np.zeros((2, 2, 3), dtype=np.float32)
    one = overlay(img, np.ones((2, 2)), alpha=0.5, cmap="gray")
    np.testing.assert_array_equal(one, 128)
    with pytest.raises(ValueError):
        overlay(np.zeros((1, 4, 4, 3)), np.zeros((1, 2, 2)))


def test_upscale_nearest_blocks():
    x = np.array([[[1, 2], [3, 4]]], dtype=np.uint8)
    up = upscale_nearest(x, 2)
    np.testing.assert_array_equal(up[0], [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    rgb = upscale_nearest(np.arange(12).reshape(1, 2, 2, 3), 3)
    assert rgb.shape == (1, 6, 6, 3)
    np.testing.assert_array_equal(rgb[0, 5, 5], [9, 10, 11])


def test_figure_to_array_pixels():
    fig = Figure(figsize=(2, 1), dpi=40)
    fig.patch.set_facecolor((1.0, 0.0, 0.0))
    arr = figure_to_array(fig)
    assert arr.shape == (40, 80, 3) and arr.dtype == np.uint8
    np.testing.assert_array_equal(arr[5, 5], [255, 0, 0])
