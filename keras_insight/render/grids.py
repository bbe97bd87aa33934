"""Tile a batch of images into one uint8 grid picture, optionally labelled under each tile."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from keras_insight.render.images import as_uint8, resize_nearest, upscale_nearest

__all__ = [
    "CARD_FONT_SIZE",
    "CARD_WIDTH",
    "BOX_HEIGHT",
    "BOX_WIDTH",
    "FONT_SIZE",
    "MIN_DISPLAY",
    "MIN_TILE",
    "card_text_size",
    "enlarge",
    "filter_grid",
    "font",
    "grid",
    "grid_pages",
    "display_font_size",
    "label_height",
    "max_text_height",
    "max_text_width",
    "shown_scale",
    "wrap_label",
]

# Labels widen a tile to at most this many times its width (or 3 * MIN_TILE px for tiny
# tiles); longer labels are wrapped and shortened with an ellipsis.
_MAX_AUTO_SCALE = 8
_TEXT_MARGIN = 2
#: Label font size in pixels (DejaVu Sans, matplotlib's bundled font): legible at
#: TensorBoard's card size, never below about 10 px of glyph height.
FONT_SIZE = 14
#: Smallest tile side (pixels) when labels are drawn: tiles are enlarged with
#: nearest-neighbour to at least this, so an 8x8 or 28x28 image is not a smudge; a
#: labelled grid up to :func:`max_text_width` wide keeps tiles of 40 px or more on a card.
MIN_TILE = 56
_MAX_LINES = 2


@functools.lru_cache(maxsize=8)
def font(size: int = FONT_SIZE) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """DejaVu Sans at ``size`` px (the font matplotlib ships), else Pillow's default font.

    Example:
        >>> font().getbbox("H")[3] - font().getbbox("H")[1] >= 10  # cap height in px
        True
    """
    try:
        import matplotlib

        path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
        return ImageFont.truetype(path, size)
    except (ImportError, OSError):
        return ImageFont.load_default()


#: Width (px) TensorBoard's Images tab fits a picture into; wider pictures are shrunk.
#: Measured in headless Chromium (TensorBoard 2.21, ``getBoundingClientRect`` of the card
#: images): 350 px in the Images tab at 1024, 1280 and 1920 px windows (a fixed card
#: width: wider pictures are shrunk to it, narrower ones enlarged; the height follows).
CARD_WIDTH = 350
#: The Time Series tab (TensorBoard's default) fits every picture into a box
#: ``BOX_WIDTH`` x ``BOX_HEIGHT`` px (``object-fit: contain``: shrunk or enlarged, by width
#: or by height). Measured the same way with the defaults (settings pane open, "Card
#: Width" slider unset, "Show actual image size" off): the box is always 215 px tall; its
#: width follows the card grid, 319 px at a 1280 px window, 372 at 1920, 483 at 1024, so
#: 319 is the narrowest. A tag whose step holds N images (a batch) gets N cards there,
#: "Sample 1/N" ... "Sample N/N", each with its own step slider (the Images tab too:
#: "sample: 1 of N"): long grids are written as pages, the samples of one tag
#: (:func:`grid_pages`).
BOX_WIDTH = 319
BOX_HEIGHT = 215
#: Font size (px) labels should keep once a picture is shrunk to ``CARD_WIDTH``.
CARD_FONT_SIZE = 10
_MAX_FONT_SIZE = 22


def shown_scale(width: int, height: int) -> float:
    """Scale TensorBoard shows a ``width`` x ``height`` picture at in the worse of its two
    tabs: the Images tab (``min(1, CARD_WIDTH / width)``) and the Time Series box
    (``min(BOX_WIDTH / width, BOX_HEIGHT / height)``, small pictures enlarged).

    Example:
        >>> round(shown_scale(300, 200), 2), round(shown_scale(487, 953), 2)
        (1.0, 0.23)
    """
    w, h = max(1, int(width)), max(1, int(height))
    return min(min(1.0, CARD_WIDTH / w), BOX_WIDTH / w, BOX_HEIGHT / h)


def card_text_size(font_px: float, picture_width: int, picture_height: int = 0) -> float:
    """Height (px) of ``font_px`` text once TensorBoard shows a ``picture_width`` x
    ``picture_height`` picture: ``font_px * shown_scale(width, height)``, the worse of the
    Images tab and the Time Series box (height 0: the Images tab only).

    Example:
        >>> card_text_size(14, 300), card_text_size(14, 700), round(card_text_size(14, 341, 493), 1)
        (14.0, 7.0, 6.1)
    """
    if not picture_height:
        return float(font_px) * min(1.0, CARD_WIDTH / max(1, int(picture_width)))
    return float(font_px) * shown_scale(picture_width, picture_height)


def max_text_width(font_px: float = FONT_SIZE) -> int:
    """Widest picture (px) whose ``font_px`` text is still :data:`CARD_FONT_SIZE` px tall
    in both tabs (:func:`shown_scale`); labelled grids fit their tiles into it.

    Example:
        >>> max_text_width()
        446
    """
    return int(min(CARD_WIDTH, BOX_WIDTH) * font_px // CARD_FONT_SIZE)


def max_text_height(font_px: float = FONT_SIZE) -> int:
    """Tallest picture (px) whose ``font_px`` text is still :data:`CARD_FONT_SIZE` px tall
    in the Time Series box; :func:`grid_pages` splits taller grids into pages.

    Example:
        >>> max_text_height()
        301
    """
    return int(BOX_HEIGHT * font_px // CARD_FONT_SIZE)


@functools.lru_cache(maxsize=4096)
def _width(text: str, size: int = FONT_SIZE) -> int:
    # cached: a callback measures the same labels ("ch0", "true Coat", ...) every epoch
    return int(math.ceil(font(size).getlength(text)))


def _line_height(size: int = FONT_SIZE) -> int:
    # "Ag" fixes the line height, so labels with and without descenders align.
    return int(font(size).getbbox("Ag")[3]) + 1


def _text_size(texts: Sequence[str]) -> tuple[int, int]:
    """Widest text and tallest line box (pixels) in the label font."""
    return max((_width(t) for t in texts), default=0), _line_height()


def _ellipsize(text: str, width: int, size: int = FONT_SIZE) -> str:
    if _width(text, size) <= width:
        return text
    while text and _width(text + "\u2026", size) > width:
        text = text[:-1]
    return text + "\u2026"


def _splits(text: str, level: int = 0) -> list[tuple[str, str]]:
    """Two-line breaks of ``text``: at a space (dropped); from ``level`` 1 also after a
    "/" or "-" (kept: "T-shirt/" + "top"); from level 2 inside a word ("bright-" + "ness")."""
    out = []
    for i, ch in enumerate(text[:-1]):
        if ch == " " and 0 < i:
            out.append((text[:i], text[i + 1 :]))
        elif level >= 1 and ch in "/-" and 0 < i:
            out.append((text[: i + 1], text[i + 1 :]))
        elif level >= 2 and 2 <= i <= len(text) - 2 and (text[i - 1] + ch).isalpha():
            out.append((text[:i] + "-", text[i:]))
    return out


def wrap_label(
    text: str, width: int, max_lines: int = _MAX_LINES, size: int = FONT_SIZE
) -> list[str]:
    """Fit ``text`` into ``width`` pixels (less the margins): one line if it fits, else
    two lines split where they balance best: at a space ("true Coat" / "pred Shirt"), after
    a "/" or "-" ("T-shirt/" / "top"), or, when no such break fits, inside a word with a
    hyphen ("brigh-" / "tness"); a line that still does not fit ends in an ellipsis, so
    labels never run into the neighbouring tile.

    Example:
        >>> wrap_label("true T-shirt/top pred Shirt", 130)
        ['true T-shirt/top', 'pred Shirt']
        >>> wrap_label("T-shirt/top", 60), wrap_label("brightness", 60)
        (['T-shirt/', 'top'], ['brigh-', 'tness'])
    """
    text = str(text)
    usable = width - 2 * _TEXT_MARGIN
    if _width(text, size) <= usable or max_lines < 2:
        return [_ellipsize(text, usable, size)]

    def widest(split: tuple[str, str]) -> int:
        return max(_width(split[0], size), _width(split[1], size))

    best = None
    for level in (0, 1, 2):  # spaces first; "/" or "-", then a hyphen, only when needed
        splits = _splits(text, level)
        if splits:
            best = min(splits, key=widest)
            if widest(best) <= usable:
                break
    if best is None:
        return [_ellipsize(text, usable, size)]
    return [_ellipsize(best[0], usable, size), _ellipsize(best[1], usable, size)]


def _balanced_width(
    text: str, max_lines: int = _MAX_LINES, size: int = FONT_SIZE, level: int = 0
) -> int:
    """Narrowest width (px) that shows ``text`` in ``max_lines`` lines broken at spaces
    (``level`` 1: also after "/" or "-"; 2: also inside words), as :func:`wrap_label` does."""
    splits = _splits(str(text), level) if max_lines >= 2 else []
    whole = _width(text, size)
    return min([whole] + [max(_width(a, size), _width(b, size)) for a, b in splits])


def display_font_size(picture_width: int, labels: Sequence[str], tile_width: int) -> int:
    """Label font size (px) for a picture ``picture_width`` px wide: :data:`FONT_SIZE`, or
    larger so the text is still :data:`CARD_FONT_SIZE` px once TensorBoard shrinks the
    picture to its :data:`CARD_WIDTH` px card, as long as every label still fits its tile
    in two lines (a wide comparison panel keeps the base size rather than cut its labels).

    Example:
        >>> display_font_size(300, ["cat"], 64), display_font_size(560, ["cat"], 140)
        (14, 16)
    """
    want = min(_MAX_FONT_SIZE, math.ceil(CARD_FONT_SIZE * picture_width / CARD_WIDTH))
    size = max(FONT_SIZE, want)
    while size > FONT_SIZE and any(
        _balanced_width(t, size=size) + 2 * _TEXT_MARGIN > tile_width for t in labels
    ):
        size -= 1
    return size


def label_height(labels: Sequence[str], width: int | None = None, size: int = FONT_SIZE) -> int:
    """Height in pixels of the label strip ``grid`` puts under each tile.

    ``width`` is the tile width the labels wrap to (default: one line each).

    Example:
        >>> label_height(["cat"]) > 0
        True
    """
    lines = 1
    if width is not None:
        lines = max((len(wrap_label(t, width, size=size)) for t in labels), default=1)
    return lines * _line_height(size) + 2 * _TEXT_MARGIN


def _luminance(rgb: Sequence[float]) -> float:
    r, g, b = (float(c) / 255.0 for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _readable(color: Sequence[int], background: Sequence[int]) -> tuple[int, int, int]:
    """``color`` darkened on a light background (lightened on a dark one) until the text
    has contrast: pure green on white is unreadable, dark green is not."""
    rgb = np.asarray(color[:3], dtype=np.float64)
    lum, light = _luminance(rgb), _luminance(background) >= 0.5
    if light and lum > 0.35:
        rgb = rgb * (0.35 / lum)
    elif not light and lum < 0.6:
        rgb = 255.0 - (255.0 - rgb) * ((1 - 0.6) / max(1 - lum, 1e-6))
    return tuple(int(round(c)) for c in np.clip(rgb, 0, 255))


def _label_strips(
    labels: Sequence[str],
    width: int,
    height: int,
    background: tuple[int, int, int],
    colors: Sequence[Sequence[int]] | None,
    size: int = FONT_SIZE,
) -> np.ndarray:
    """Render one ``(height, width, 3)`` strip per label, wrapped to the tile width."""
    # Black text on light pads, white on dark ones.
    default = (0, 0, 0) if sum(background) >= 3 * 128 else (255, 255, 255)
    strips = np.empty((len(labels), height, width, 3), dtype=np.uint8)
    for i, text in enumerate(labels):
        fill = _readable(colors[i], background) if colors is not None else default
        strips[i] = _label_strip(text, width, height, tuple(background), tuple(fill), size)
    return strips


@functools.lru_cache(maxsize=1024)
def _label_strip(
    text: str,
    width: int,
    height: int,
    background: tuple[int, ...],
    fill: tuple[int, ...],
    size: int,
) -> np.ndarray:
    """One rendered label (read-only, cached: the same labels come back every epoch)."""
    img = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(img)
    for k, line in enumerate(wrap_label(text, width, size=size)):
        y = _TEXT_MARGIN - 1 + k * _line_height(size)
        draw.text((_TEXT_MARGIN, y), line, fill=fill, font=font(size))
    strip = np.asarray(img)
    strip.flags.writeable = False
    return strip


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
        labels: optional ``N`` strings drawn under the tiles in DejaVu Sans
            (:data:`FONT_SIZE` px), broken at spaces into at most two lines and shortened
            with an ellipsis if still too wide, so no label runs into its neighbour.
        scale: nearest-neighbour enlargement of each tile. Default ``None``: 1 without
            labels; with labels, the smallest integer that makes each tile at least
            :data:`MIN_TILE` px and as wide as its widest label on two lines (but no wider
            than 8 times the tile, or ``3 * MIN_TILE`` px for tiny tiles); when that integer
            would make the grid wider than :func:`max_text_width` and a smaller tile still
            holds the labels, tiles are resized (nearest) to the largest width that fits.
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
        if scale is None:
            # wide enough for every label in two balanced lines, and at least MIN_TILE
            # (up to 8x the tile, or 96 px for tiny tiles; longer labels are shortened)
            text_w = max(_balanced_width(t) for t in labels) + 2 * _TEXT_MARGIN
            cap = max(_MAX_AUTO_SCALE * x.shape[2], 3 * MIN_TILE)
            need = max(MIN_TILE, min(text_w, cap))
            scale = max(1, math.ceil(need / x.shape[2]))
            # an integer factor that would push the grid past the card's text width: the
            # largest tile that fits instead, if its labels still fit it (e.g. six 28 px
            # columns: 80 px tiles, not 84)
            if pad + ncols * (scale * x.shape[2] + pad) > max_text_width():
                fit = (max_text_width() - pad) // ncols - pad
                # (labels may then break after "/" or "-", or with a hyphen, never be cut)
                fits = max(_balanced_width(t, level=2) for t in labels) + 2 * _TEXT_MARGIN
                if max(MIN_TILE, fits) <= fit:
                    shape = (round(x.shape[1] * fit / x.shape[2]), fit)
                    x, scale = resize_nearest(x, shape), 1
        if x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
    x = upscale_nearest(x, int(scale or 1))
    _, h, w, c = x.shape

    fill = np.broadcast_to(np.asarray(pad_value, dtype=np.int64), (c,))
    if np.any(fill < 0) or np.any(fill > 255):
        raise ValueError(f"pad_value must be in [0, 255], got {pad_value}")
    fill = fill.astype(np.uint8)

    if labels is not None:
        size = display_font_size(pad + ncols * (w + pad), labels, w)
        lh = label_height(labels, w, size)
        bg = tuple(int(v) for v in fill) if c == 3 else (int(fill[0]),) * 3
        x = np.concatenate([x, _label_strips(labels, w, lh, bg, label_colors, size)], axis=1)
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


def grid_pages(
    images: Any,
    ncols: int | None = None,
    pad: int = 1,
    pad_value: int | Sequence[int] = 255,
    labels: Sequence[str] | None = None,
    scale: int | None = None,
    label_colors: Sequence[Sequence[int]] | None = None,
    max_height: int | None = None,
) -> np.ndarray:
    """:func:`grid`, cut between rows into pages no taller than ``max_height`` (default
    :func:`max_text_height`, so labels stay 10 px in TensorBoard's Time Series box):
    uint8 ``(P, H', W', C)``, every page the same size (the last one padded with
    ``pad_value``), to write as the P samples of one tag. A grid that fits is one page.

    Same tiles, labels and fonts on every page (the whole grid is drawn once, then cut);
    rows are spread evenly (4 rows that need 2 pages give 2 + 2, not 3 + 1).

    Example:
        >>> pages = grid_pages(np.zeros((16, 28, 28)), ncols=4, labels=["cat"] * 16)
        >>> pages.shape[0], pages.shape[2] <= max_text_width(), pages.shape[1] <= 301
        (2, True, True)
    """
    n = len(images)
    ncols = int(ncols) if ncols else math.ceil(math.sqrt(max(1, n)))
    g = grid(images, ncols, pad, pad_value, labels, scale, label_colors)
    return _split_rows(g, math.ceil(n / ncols), pad, max_height)


def _split_rows(g: np.ndarray, nrows: int, pad: int, max_height: int | None) -> np.ndarray:
    """Cut a :func:`grid` of ``nrows`` equal rows into equal pages (see grid_pages)."""
    limit = max_text_height() if max_height is None else int(max_height)
    row = (g.shape[0] - pad) // nrows  # a row of tiles with its labels and bottom pad
    per_page = max(1, (limit - pad) // row)
    n_pages = math.ceil(nrows / per_page)
    per_page = math.ceil(nrows / n_pages)
    out = np.empty((n_pages, pad + per_page * row, *g.shape[1:]), dtype=np.uint8)
    out[...] = g[0, 0]  # the border colour
    for k in range(n_pages):
        rows = g[pad + k * per_page * row : pad + min(nrows, (k + 1) * per_page) * row]
        out[k, pad : pad + len(rows)] = rows
    return out


def filter_grid(
    tiles: Any,
    per_filter: int = 1,
    *,
    min_tile: int = 40,
    labels: bool = True,
    first_index: int = 0,
    paged: bool = False,
) -> np.ndarray:
    """Lay out conv filters as a near-square grid of blocks, one block per filter.

    ``tiles`` holds ``F * per_filter`` images, filter-major (as
    :func:`keras_insight.inspection.filter_tiles` returns them): ``(F, kh, kw, 3)`` RGB
    filters (``per_filter=1``) or ``(F * C, kh, kw)`` grayscale tiles, C input channels per
    filter. Each tile is enlarged by nearest neighbour to at least ``min_tile`` px (an
    integer factor, so weights stay crisp squares); each filter's C tiles form a
    near-square block, and the F blocks a near-square grid labelled with the filter index
    (``first_index`` onwards) when ``labels``. ``paged=True`` returns the grid cut into
    pages ``(P, H, W, C)`` that read in TensorBoard's Time Series box (:func:`grid_pages`).

    Example:
        >>> g = filter_grid(np.zeros((16, 3, 3), "float32"), per_filter=1, labels=False)
        >>> g.shape[0] == g.shape[1]  # 4 x 4 tiles of 42 px (3 px * 14) with 3 px pads
        True
    """
    x = as_uint8(tiles)
    if x.ndim == 3:
        x = x[..., None]
    if per_filter < 1 or len(x) % per_filter:
        raise ValueError(f"{len(x)} tiles do not split into blocks of per_filter={per_filter}.")
    n = len(x) // per_filter
    label_w = _width(f"#{first_index + n - 1}") + 2 * _TEXT_MARGIN + 4 if labels else 0
    if labels and per_filter == 1:  # the tile must hold its index label
        min_tile = max(min_tile, label_w)
    scale = max(1, math.ceil(min_tile / max(x.shape[1], x.shape[2], 1)))
    cols = math.ceil(math.sqrt(per_filter))
    ncols = math.ceil(math.sqrt(n))
    if labels:  # index labels: keep the picture within the card's text width
        scale, ncols = _filter_layout(n, per_filter, x.shape[1:3], scale, label_w)
    x = upscale_nearest(x, scale)
    if per_filter > 1:
        blocks = np.stack(
            [grid(x[i * per_filter : (i + 1) * per_filter], ncols=cols, pad=1, pad_value=255)
             for i in range(n)]
        )  # fmt: skip
    else:
        blocks = x
    names = [f"#{first_index + i}" for i in range(n)] if labels else None
    out = grid(blocks, ncols=ncols, pad=3, pad_value=255, labels=names, scale=1)
    return _split_rows(out, math.ceil(n / ncols), 3, None) if paged else out


def _filter_layout(
    n: int, per_filter: int, kernel: tuple[int, int], scale: int, label_w: int
) -> tuple[int, int]:
    """(weight scale, block columns) of a labelled :func:`filter_grid` no wider than
    :func:`max_text_width`: of the layouts at most twice as tall as wide, the one whose
    weights are largest once shrunk to the card; ``scale`` is the largest factor tried."""
    kh, kw = kernel
    cols = math.ceil(math.sqrt(per_filter)) if per_filter > 1 else 1
    rows = math.ceil(per_filter / cols)
    strip = label_height(["#0"])
    best: tuple[float, int, int] | None = None
    for ncols in range(math.ceil(math.sqrt(n)), 0, -1):
        for s in range(scale, 0, -1):
            bw = s * kw if cols == 1 else cols * (s * kw + 1) + 1
            width = 3 + ncols * (bw + 3)
            if width <= max_text_width() and bw >= label_w:
                break
        else:
            continue
        bh = s * kh if cols == 1 else rows * (s * kh + 1) + 1
        if 3 + math.ceil(n / ncols) * (bh + strip + 3) > 2 * width:
            break  # fewer columns only make it taller
        shown = s * min(1.0, CARD_WIDTH / width)
        if best is None or shown > best[0]:
            best = (shown, s, ncols)
    return (best[1], best[2]) if best else (scale, math.ceil(math.sqrt(n)))


#: Shorter side (px) a single picture is enlarged to for display (TensorBoard shows small
#: images at their own size: an 8x8 class image would be a dot).
MIN_DISPLAY = 128


def enlarge(image: Any, min_side: int = MIN_DISPLAY) -> np.ndarray:
    """Enlarge one ``(H, W[, C])`` picture by the smallest integer nearest-neighbour factor
    that makes its shorter side at least ``min_side`` px (pixels stay crisp squares).

    Example:
        >>> enlarge(np.zeros((8, 8), np.uint8)).shape
        (128, 128, 1)
    """
    x = as_uint8(image)
    if x.ndim == 2:
        x = x[..., None]
    factor = max(1, math.ceil(min_side / max(1, min(x.shape[:2]))))
    return upscale_nearest(x[None], factor)[0]
