"""numpy -> uint8 pictures: normalisation, colormaps, overlays, grids and figures.

Algorithms return raw float32 arrays; everything that turns them into pixels lives here,
and every picture returned is uint8.
"""

from keras_insight.render.difference import signed_heatmap
from keras_insight.render.grids import enlarge, filter_grid, grid, grid_pages, label_height
from keras_insight.render.images import (
    as_uint8,
    colormap,
    figure_to_array,
    normalize_minmax,
    normalize_symmetric,
    overlay,
    resize_nearest,
    to_uint8,
    upscale_nearest,
)
from keras_insight.render.plots import (
    class_name,
    invariance_figure,
    invariance_pages,
    robustness_curve_figure,
    scatter_figure,
)

__all__ = [
    "as_uint8",
    "class_name",
    "colormap",
    "enlarge",
    "figure_to_array",
    "filter_grid",
    "grid",
    "grid_pages",
    "invariance_figure",
    "invariance_pages",
    "label_height",
    "normalize_minmax",
    "normalize_symmetric",
    "overlay",
    "resize_nearest",
    "robustness_curve_figure",
    "scatter_figure",
    "signed_heatmap",
    "to_uint8",
    "upscale_nearest",
]
