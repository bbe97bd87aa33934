"""Tile a batch of images into one uint8 grid picture, optionally labelled under each tile."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from keras_insight.render.images import as_uint8, upscale_nearest

__all__ = ["grid", "label_height"]

# Labels are at most this many times the tile width before auto-scaling gives up and
# lets the text be cut at the tile edge (a 1x1 tile must not become a 60x60 one).
_MAX_AUTO_SCALE = 8
_TEXT_MARGIN = 2


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default()


def _text_size(texts: Sequence[str]) -> tuple[int, int]:
    """Widest text and tallest line box (pixels) in the default font."""
    font = _font()
    draw = ImageDraw.Draw(Image.new("L", (1, 1)))
    # "Ag" fixes the line height, so labels with and without descenders align.
    height = draw.textbbox((0, 0), "Ag", font=font)[3]
    width = max((draw.textbbox((0, 0), t, font=font)[2] for t in texts), default=0)
    return int(width), int(height)


def label_height(labels: Sequence[str]) -> int:
    """Height in pixels of the label strip ``grid`` puts under each tile.

    Example:
        >>> label_height(["cat"]) > 0
        True
    """
    return _text_size(labels)[1] + 2 * _TEXT_MARGIN


def _label_strips(
    labels: Sequence[str],
    width: int,
    height: int,
    background: tuple[int, int, int],
    colors: Sequence[Sequence[int]] | None,
) -> np.ndarray:
    """Render one ``(height, width, 3)`` strip per label; text is cut at the tile edge."""
    font = _font()
    # Black text on light pads, white on dark ones.
    default = (0, 0, 0) if sum(background) >= 3 * 128 else (255, 255, 255)
    strips = np.empty((len(labels), height, width, 3), dtype=np.uint8)
    for i, text in enumerate(labels):
        img = Image.new("RGB", (width, height), background)
        fill = tuple(int(c) for c in colors[i]) if colors is not None else default
        ImageDraw.Draw(img).text((_TEXT_MARGIN, _TEXT_MARGIN - 1), str(text), fill=fill, font=font)
        strips[i] = np.asarray(img)
    return strips


def grid(
    images: Any,
    ncols: int | None = None,
    pad: int = 1,
    pad_value: int | Sequence[int] = 255,
    labels: Sequence[str] | None = None,
    scale: int | None = None,
    label_colors: Sequence[Sequence[int]] | None = None,
) -> np.ndarray:
    """Tile ``N`` images into one uint8 picture, row by row, with ``pad`` pixels between.

    Layout (with ``H, W`` the tile size after ``scale`` and ``L`` the label strip height,
    0 without labels): tile ``i`` sits at row ``r = i // ncols``, column ``c = i % ncols``,
    its top-left pixel at ``(pad + r * (H + L + pad), pad + c * (W + pad))``; the picture is
    ``(pad + rows * (H + L + pad), pad + ncols * (W + pad), C)``. Empty cells of the last
    row are ``pad_value``.

    Channels: 1-channel input (``(N, H, W)`` or ``(N, H, W, 1)``) gives a 1-channel
    ``(H', W', 1)`` grid; RGB stays RGB. Labels force RGB output (grey is copied to the
    three channels) so they can be coloured.

    Args:
        images: ``(N, H, W)`` or ``(N, H, W, C)`` with C in 1, 3; float in ``[0, 1]`` or
            uint8 (floats are converted with ``to_uint8``; normalise per image first).
        ncols: tiles per row. Default ``ceil(sqrt(N))``.
        pad: pixels between tiles and around the border. Default 1.
        pad_value: padding colour, an int (grey) or one value per channel. Default 255.
        labels: optional ``N`` strings drawn under the tiles (PIL default font).
        scale: nearest-neighbour enlargement of each tile. Default ``None``: 1 without
            labels; with labels, the smallest integer (at most 8) that makes each tile as
            wide as its widest label, so labels under small tiles stay readable.
        label_colors: optional ``N`` RGB text colours (e.g. green right, red wrong).
            Default black on a light pad, white on a dark one.

    Returns:
        uint8 ``(H', W', C)``.

    Example:
        >>> g = grid(np.zeros((3, 2, 2), dtype=np.uint8), ncols=2, pad=1)
        >>> g.shape, int(g[1, 1, 0]), int(g[0, 0, 0])
        ((7, 7, 1), 0, 255)
    """
    x = as_uint8(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"images must be (N, H, W) or (N, H, W, C) with C in 1, 3; got {x.shape}")
    n = x.shape[0]
    if n == 0:
        raise ValueError("grid needs at least one image")
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    ncols = int(ncols) if ncols else math.ceil(math.sqrt(n))
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    nrows = math.ceil(n / ncols)
    if labels is not None:
        labels = [str(t) for t in labels]
        if len(labels) != n:
            raise ValueError(f"got {len(labels)} labels for {n} images")
        if label_colors is not None and len(label_colors) != n:
            raise ValueError(f"got {len(label_colors)} label_colors for {n} images")
        text_w, _ = _text_size(labels)
        if scale is None:
            needed = math.ceil((text_w + 2 * _TEXT_MARGIN) / x.shape[2])
            scale = min(max(needed, 1), _MAX_AUTO_SCALE)
        if x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
    x = upscale_nearest(x, int(scale or 1))
    _, h, w, c = x.shape

    fill = np.broadcast_to(np.asarray(pad_value, dtype=np.int64), (c,))
    if np.any(fill < 0) or np.any(fill > 255):
        raise ValueError(f"pad_value must be in [0, 255], got {pad_value}")
    fill = fill.astype(np.uint8)

    if labels is not None:
        lh = label_height(labels)
        bg = tuple(int(v) for v in fill) if c == 3 else (int(fill[0]),) * 3
        x = np.concatenate([x, _label_strips(labels, w, lh, bg, label_colors)], axis=1)
        h += lh

    # Vectorised layout: pad each cell bottom/right, reshape to (rows, cols) cells, then
    # add the top/left border once.
    cells = np.empty((nrows * ncols, h + pad, w + pad, c), dtype=np.uint8)
    cells[...] = fill
    cells[:n, :h, :w] = x
    out = cells.reshape(nrows, ncols, h + pad, w + pad, c).transpose(0, 2, 1, 3, 4)
    out = out.reshape(nrows * (h + pad), ncols * (w + pad), c)
    canvas = np.empty((out.shape[0] + pad, out.shape[1] + pad, c), dtype=np.uint8)
    canvas[...] = fill
    canvas[pad:, pad:] = out
    return canvas
