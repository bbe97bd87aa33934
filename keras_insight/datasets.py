"""Datasets that work offline.

Three sources, all returned as channels-last (NHWC) float32 images in [0, 1] with int64
labels:

- :func:`fashion_mnist` -- the full Fashion-MNIST (60,000 train / 10,000 test, 28x28x1),
  read from the Keras cache, the Debian package ``dataset-fashion-mnist``
  (``/usr/share/datasets/fashion-mnist``) or, as a last resort, the Keras download.
- :func:`digits` -- scikit-learn's 1,797 8x8 handwritten digits with a deterministic,
  stratified train/test split.
- :func:`shapes` -- procedural RGB images of one coloured shape on a textured background,
  with exact object masks and an optional spurious background/label correlation.

Example:
    >>> from keras_insight import datasets
    >>> (x_train, y_train), (x_test, y_test) = datasets.digits()
    >>> x_train.shape, x_train.dtype.name, y_train.dtype.name
    ((1437, 8, 8, 1), 'float32', 'int64')
    >>> x, y, masks = datasets.shapes(8, size=32, seed=1)
    >>> x.shape, masks.shape, datasets.class_names("shapes")[:3]
    ((8, 32, 32, 3), (8, 32, 32), ['circle', 'square', 'triangle'])
"""

from __future__ import annotations

import gzip
import os
import threading
import warnings
from pathlib import Path

import numpy as np

__all__ = [
    "APT_INSTALL_HINT",
    "DEBIAN_FASHION_MNIST_DIR",
    "DIGITS_CLASSES",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_FILES",
    "SHAPES_CLASSES",
    "DatasetNotFoundError",
    "class_names",
    "clear_cache",
    "digits",
    "fashion_mnist",
    "fashion_mnist_dirs",
    "find_fashion_mnist",
    "shapes",
]

Split = tuple[np.ndarray, np.ndarray]

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""Fashion-MNIST class names, indexed by label."""

DIGITS_CLASSES: tuple[str, ...] = tuple(str(i) for i in range(10))
"""Class names of :func:`digits` ("0" ... "9")."""

SHAPES_CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "cross", "ring", "diamond")
"""Class names of :func:`shapes`; ``shapes(num_classes=k)`` uses the first ``k``.

- 0 ``circle``: a filled disk.
- 1 ``square``: an axis-aligned square, rotated by at most 15 degrees.
- 2 ``triangle``: an equilateral triangle pointing up, rotated by at most 15 degrees.
- 3 ``cross``: a "+" (two bars a third of the arm length wide), rotated by at most 15 degrees.
- 4 ``ring``: an annulus, inner radius 0.55 of the outer one.
- 5 ``diamond``: a square standing on a corner (45 degrees), rotated by at most 15 degrees.
"""

DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where the Debian package ``dataset-fashion-mnist`` installs the gzip idx files."""

APT_INSTALL_HINT = "apt-get install -y dataset-fashion-mnist"

FASHION_MNIST_FILES: dict[str, str] = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
"""The four gzip idx files, named as Keras and the Debian package name them."""

_IDX_UBYTE = 0x08  # idx data type code for unsigned bytes
_DOWNLOAD_KEY = "<keras download>"

_cache_lock = threading.Lock()
_fashion_cache: dict[str, tuple[Split, Split]] = {}
_digits_cache: list[tuple[np.ndarray, np.ndarray]] = []


class DatasetNotFoundError(FileNotFoundError):
    """No source of a dataset could be read (no cached files, no package, no download)."""


# --------------------------------------------------------------------------------------
# Fashion-MNIST
# --------------------------------------------------------------------------------------


def _keras_home() -> Path:
    """Keras' cache root: ``$KERAS_HOME`` if set, else ``~/.keras`` (read at call time)."""
    env = os.environ.get("KERAS_HOME")
    if env:
        return Path(env).expanduser()
    return Path("~").expanduser() / ".keras"


def fashion_mnist_dirs() -> list[Path]:
    """Directories searched for the Fashion-MNIST gzip files, in order.

    1. The Keras cache, ``$KERAS_HOME/datasets/fashion-mnist`` (``KERAS_HOME`` defaults to
       ``~/.keras``), plus ``/tmp/.keras/datasets/fashion-mnist`` when the Keras home is not
       writable (Keras itself downloads there in that case).
    2. :data:`DEBIAN_FASHION_MNIST_DIR` (``/usr/share/datasets/fashion-mnist``).

    Example:
        >>> from keras_insight.datasets import fashion_mnist_dirs
        >>> str(fashion_mnist_dirs()[-1])
        '/usr/share/datasets/fashion-mnist'
    """
    home = _keras_home()
    dirs = [home / "datasets" / "fashion-mnist"]
    if not os.access(home, os.W_OK):
        tmp_dir = Path("/tmp/.keras/datasets/fashion-mnist")
        if tmp_dir not in dirs:
            dirs.append(tmp_dir)
    dirs.append(Path(DEBIAN_FASHION_MNIST_DIR))
    return dirs


def _has_all_files(directory: Path) -> bool:
    return all((directory / name).is_file() for name in FASHION_MNIST_FILES.values())


def find_fashion_mnist() -> Path | None:
    """The first directory of :func:`fashion_mnist_dirs` holding all four gzip files.

    Returns ``None`` when no directory has them all (then :func:`fashion_mnist` would try
    the Keras download). The files are not parsed here.

    Example:
        >>> from keras_insight.datasets import find_fashion_mnist
        >>> find_fashion_mnist() is None or find_fashion_mnist().is_dir()
        True
    """
    for directory in fashion_mnist_dirs():
        if _has_all_files(directory):
            return directory
    return None


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """Parse one gzip idx file of unsigned bytes with ``ndim`` dimensions (uint8 array)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated idx header ({len(data)} bytes)")
    expected_magic = (_IDX_UBYTE << 8) | ndim
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise ValueError(
            f"{path}: bad idx magic number 0x{magic:08x}, expected 0x{expected_magic:08x}"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    size = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != size:
        raise ValueError(
            f"{path}: idx header announces shape {dims} ({size} bytes) but the file "
            f"holds {len(data) - header} bytes of data"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _to_images(raw: np.ndarray) -> np.ndarray:
    x = raw.astype(np.float32)
    np.divide(x, 255.0, out=x)
    return x[..., None]


def _freeze(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.setflags(write=False)


def _prepare(raw: dict[str, np.ndarray], origin: str) -> tuple[Split, Split]:
    """Check raw uint8 arrays and convert them to (float32 NHWC, int64) read-only pairs."""
    out = []
    for split in ("train", "test"):
        xr, yr = np.asarray(raw[f"x_{split}"]), np.asarray(raw[f"y_{split}"])
        if xr.ndim != 3 or xr.shape[1:] != (28, 28):
            raise ValueError(f"{origin}: {split} images have shape {xr.shape}, expected (N,28,28)")
        if yr.shape != (xr.shape[0],):
            raise ValueError(
                f"{origin}: {xr.shape[0]} {split} images but labels of shape {yr.shape}"
            )
        if yr.size and int(yr.max()) > 9:
            raise ValueError(f"{origin}: {split} label {int(yr.max())} outside 0-9")
        x, y = _to_images(xr), yr.astype(np.int64)
        _freeze(x, y)
        out.append((x, y))
    return out[0], out[1]


def _load_dir(directory: Path) -> tuple[Split, Split]:
    raw = {
        key: _read_idx(directory / name, 3 if key.startswith("x") else 1)
        for key, name in FASHION_MNIST_FILES.items()
    }
    return _prepare(raw, str(directory))


def _download_with_keras() -> tuple[Split, Split]:
    """Last resort: ``keras.datasets.fashion_mnist.load_data()`` (needs the internet)."""
    import keras

    (xtr, ytr), (xte, yte) = keras.datasets.fashion_mnist.load_data()
    raw = {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}
    return _prepare(raw, "keras.datasets.fashion_mnist.load_data()")


def fashion_mnist(*, download: bool = True) -> tuple[Split, Split]:
    """Fashion-MNIST as ``((x_train, y_train), (x_test, y_test))``.

    Images are float32 in [0, 1] with shape (N, 28, 28, 1) (60,000 train, 10,000 test);
    labels are int64 in 0-9 (names in :data:`FASHION_MNIST_CLASSES`).

    Sources, first that works wins (see :func:`fashion_mnist_dirs`): the Keras cache
    (``$KERAS_HOME/datasets/fashion-mnist``, default ``~/.keras``), the Debian package
    location ``/usr/share/datasets/fashion-mnist`` (``apt-get install -y
    dataset-fashion-mnist``), then ``keras.datasets.fashion_mnist.load_data()`` (downloads;
    skipped when ``download=False``). The gzip idx files are parsed with numpy and their
    magic numbers and sizes checked; a corrupt source is skipped with a warning.

    The parsed arrays are cached in memory per source (about 220 MB), so repeated calls are
    cheap; they are returned **read-only** and shared between calls. Use ``np.array(x)``
    for a writable copy and :func:`clear_cache` to free the memory.

    Raises:
        DatasetNotFoundError: no source could be read; the message lists what was tried
            and names ``apt-get install -y dataset-fashion-mnist``.

    Example:
        >>> from keras_insight.datasets import fashion_mnist, FASHION_MNIST_CLASSES
        >>> (x_train, y_train), (x_test, y_test) = fashion_mnist()
        >>> x_train.shape, x_test.shape, x_train.dtype.name, y_train.dtype.name
        ((60000, 28, 28, 1), (10000, 28, 28, 1), 'float32', 'int64')
        >>> FASHION_MNIST_CLASSES[int(y_train[0])]
        'Ankle boot'
    """
    tried: list[str] = []
    for directory in fashion_mnist_dirs():
        if not _has_all_files(directory):
            missing = [n for n in FASHION_MNIST_FILES.values() if not (directory / n).is_file()]
            tried.append(f"{directory}: missing {', '.join(missing)}")
            continue
        key = str(directory.resolve())
        with _cache_lock:
            if key in _fashion_cache:
                return _fashion_cache[key]
            try:
                data = _load_dir(directory)
            except (OSError, ValueError, EOFError) as exc:
                warnings.warn(
                    f"Skipping unreadable Fashion-MNIST files in {directory}: {exc}",
                    RuntimeWarning,
                    stacklevel=2,
                )
                tried.append(f"{directory}: unreadable ({exc})")
                continue
            _fashion_cache[key] = data
            return data

    if download:
        with _cache_lock:
            if _DOWNLOAD_KEY in _fashion_cache:
                return _fashion_cache[_DOWNLOAD_KEY]
            try:
                data = _download_with_keras()
            except Exception as exc:  # Keras raises a bare Exception on URL failures
                tried.append(f"keras.datasets.fashion_mnist.load_data(): {exc}")
            else:
                _fashion_cache[_DOWNLOAD_KEY] = data
                return data
    else:
        tried.append("keras download: skipped (download=False)")

    raise DatasetNotFoundError(
        "Fashion-MNIST is not available offline. Install it with "
        f"`{APT_INSTALL_HINT}` (files go to {DEBIAN_FASHION_MNIST_DIR}), or copy the "
        f"four files {', '.join(FASHION_MNIST_FILES.values())} into "
        f"{fashion_mnist_dirs()[0]}. Tried:\n  " + "\n  ".join(tried)
    )


def clear_cache() -> None:
    """Forget the in-memory copies kept by :func:`fashion_mnist` and :func:`digits`."""
    with _cache_lock:
        _fashion_cache.clear()
        _digits_cache.clear()


# --------------------------------------------------------------------------------------
# scikit-learn digits
# --------------------------------------------------------------------------------------


def digits(*, test_size: float = 0.2, seed: int = 0) -> tuple[Split, Split]:
    """scikit-learn's 8x8 digits as ``((x_train, y_train), (x_test, y_test))``.

    The 1,797 images are scaled to [0, 1] (pixel / 16), float32 NHWC (N, 8, 8, 1); labels
    are int64 0-9. The split is stratified and deterministic given ``seed``
    (``sklearn.model_selection.train_test_split``); the default is 1,437 / 360.

    Example:
        >>> from keras_insight.datasets import digits
        >>> (x_train, y_train), (x_test, y_test) = digits()
        >>> len(x_train), len(x_test), float(x_train.max())
        (1437, 360, 1.0)
    """
    from sklearn.model_selection import train_test_split

    with _cache_lock:
        if not _digits_cache:
            from sklearn.datasets import load_digits

            bunch = load_digits()
            x_all = (bunch.images.astype(np.float32) / np.float32(16.0))[..., None]
            _digits_cache.append((x_all, bunch.target.astype(np.int64)))
        x_all, y_all = _digits_cache[0]
    x_train, x_test, y_train, y_test = train_test_split(
        x_all, y_all, test_size=test_size, stratify=y_all, random_state=seed
    )
    return (x_train, y_train), (x_test, y_test)


# --------------------------------------------------------------------------------------
# Procedural shapes
# --------------------------------------------------------------------------------------

_CONTRAST_MARGIN = 0.4  # min RGB distance between a shape's colour and its background
_MAX_ROTATION = np.deg2rad(15.0)
_EXTENT = 1.25  # every shape lies within _EXTENT * r of its centre
_NOISE_GRID = 8
_COLOUR_CANDIDATES = 16


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """HSV -> RGB for arrays of equal shape (hue wraps at 1); returns shape + (3,)."""
    from matplotlib.colors import hsv_to_rgb

    return hsv_to_rgb(np.stack([np.mod(h, 1.0), s, v], axis=-1))


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from points (n, m, 3) to the RGB segments [a, b] (n, 3) -> (n, m)."""
    d = (b - a)[:, None, :]
    t = np.einsum("nmc,nmc->nm", points - a[:, None, :], np.broadcast_to(d, points.shape))
    t = np.clip(t / (np.sum(d * d, axis=-1) + 1e-12), 0.0, 1.0)
    closest = a[:, None, :] + t[..., None] * d
    return np.linalg.norm(points - closest, axis=-1)


def _shape_mask(kind: int, u: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Inside test in shape-local coordinates (u right, v down), r broadcastable."""
    if kind == 0:  # circle
        return u * u + v * v <= r * r
    if kind == 1:  # square, same area as the circle
        half = r * (np.sqrt(np.pi) / 2)
        return np.maximum(np.abs(u), np.abs(v)) <= half
    if kind == 2:  # equilateral triangle pointing up, circumradius 1.2 r
        inr = 0.6 * r  # inradius = circumradius / 2
        s60 = np.sqrt(3) / 2
        return (v <= inr) & (s60 * u - 0.5 * v <= inr) & (-s60 * u - 0.5 * v <= inr)
    if kind == 3:  # cross
        arm, bar = 0.95 * r, 0.95 * r / 3
        au, av = np.abs(u), np.abs(v)
        return ((au <= bar) & (av <= arm)) | ((av <= bar) & (au <= arm))
    if kind == 4:  # ring
        d2 = u * u + v * v
        return (d2 <= r * r) & (d2 >= (0.55 * r) ** 2)
    if kind == 5:  # diamond
        return np.abs(u) + np.abs(v) <= 1.2 * r
    raise ValueError(f"unknown shape kind {kind}")


def _texture(
    kind: np.ndarray,
    freq: np.ndarray,
    angle: np.ndarray,
    phase: np.ndarray,
    grid: np.ndarray,
    offset: np.ndarray,
    size: int,
) -> np.ndarray:
    """Background pattern in [0, 1], (b, size, size) float32, for a chunk of images."""
    b = kind.shape[0]
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size  # pixel centres in (0, 1)
    xx, yy = coords[None, None, :], coords[None, :, None]
    out = np.empty((b, size, size), dtype=np.float32)

    sel = np.flatnonzero(kind == 0)  # smooth value noise, bilinear with smoothstep
    if sel.size:
        f = freq[sel, None]
        off = offset[sel] * (_NOISE_GRID - 1 - freq[sel, None])  # random crop, (k, 2)
        gx = coords[None, :] * f + off[:, :1]  # (k, size)
        gy = coords[None, :] * f + off[:, 1:]
        ix0 = np.minimum(np.floor(gx).astype(np.int64), _NOISE_GRID - 2)
        iy0 = np.minimum(np.floor(gy).astype(np.int64), _NOISE_GRID - 2)
        fx, fy = gx - ix0, gy - iy0
        fx, fy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
        g = grid[sel]
        n = np.arange(sel.size)[:, None, None]
        y0, x0 = iy0[:, :, None], ix0[:, None, :]
        top = g[n, y0, x0] * (1 - fx[:, None, :]) + g[n, y0, x0 + 1] * fx[:, None, :]
        bot = g[n, y0 + 1, x0] * (1 - fx[:, None, :]) + g[n, y0 + 1, x0 + 1] * fx[:, None, :]
        p = top * (1 - fy[:, :, None]) + bot * fy[:, :, None]
        lo = p.min(axis=(1, 2), keepdims=True)
        hi = p.max(axis=(1, 2), keepdims=True)
        out[sel] = (p - lo) / np.maximum(hi - lo, 1e-6)

    ca, sa = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    sel = np.flatnonzero(kind == 1)  # sinusoidal stripes
    if sel.size:
        proj = xx * ca[sel] + yy * sa[sel]
        out[sel] = 0.5 + 0.5 * np.sin(
            2 * np.pi * freq[sel, None, None] * proj + phase[sel, None, None]
        )

    sel = np.flatnonzero(kind == 2)  # rotated checkerboard
    if sel.size:
        f = freq[sel, None, None]
        ph = phase[sel, None, None] / (2 * np.pi)
        a = np.floor(f * (xx * ca[sel] + yy * sa[sel]) + ph)
        c = np.floor(f * (yy * ca[sel] - xx * sa[sel]) + 2 * ph)
        out[sel] = np.mod(a + c, 2.0)
    return out


def shapes(
    n: int,
    *,
    size: int = 64,
    spurious: float = 0.0,
    seed: int = 0,
    num_classes: int = 3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Procedural images of one coloured shape on a textured background, with masks.

    Returns ``(x, y, masks)``: ``x`` float32 (n, size, size, 3) in [0, 1], ``y`` int64 (n,)
    class ids (balanced: ``n // num_classes`` or one more per class, shuffled), ``masks``
    bool (n, size, size), True exactly on the pixels painted with the shape's colour.
    Class ``k`` is ``SHAPES_CLASSES[k]`` (circle, square, triangle, cross, ring, diamond).

    Each image draws, independently of its label: the shape's position, scale (radius
    0.12-0.22 of ``size``; the shape stays at least 2 pixels away from the border), a small
    rotation, and a flat RGB colour at least 0.4 (Euclidean RGB distance) away from every
    background colour; and a background texture (smooth noise, stripes or checkerboard)
    blending two colours of one hue. Shapes have hard edges, so the mask is exact.

    ``spurious`` is the probability that the background hue is tied to the label (class
    ``k`` gets hue ``k / num_classes`` +- ``0.25 / num_classes``) -- the "husky on snow"
    lesson: at ``spurious=1.0`` the background colour alone predicts the class, at ``0.0``
    the hue is uniform and independent of the label. Only the hue is tied; texture kind,
    saturation and brightness never depend on the label.

    Deterministic given ``seed``; vectorised (1,000 64x64 images take a fraction of a
    second).

    Example:
        >>> from keras_insight.datasets import shapes, SHAPES_CLASSES
        >>> x, y, masks = shapes(6, size=32, spurious=1.0, seed=0)
        >>> x.shape, x.dtype.name, y.dtype.name, masks.dtype.name
        ((6, 32, 32, 3), 'float32', 'int64', 'bool')
        >>> sorted(SHAPES_CLASSES[k] for k in set(y.tolist()))
        ['circle', 'square', 'triangle']
        >>> bool((masks.sum(axis=(1, 2)) > 0).all())
        True
    """
    n = int(n)
    size = int(size)
    num_classes = int(num_classes)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if size < 16:
        raise ValueError(f"size must be >= 16, got {size}")
    if not 1 <= num_classes <= len(SHAPES_CLASSES):
        raise ValueError(f"num_classes must be in 1..{len(SHAPES_CLASSES)}, got {num_classes}")
    spurious = float(spurious)
    if not 0.0 <= spurious <= 1.0:
        raise ValueError(f"spurious must be in [0, 1], got {spurious}")

    rng = np.random.default_rng(seed)
    # Every random quantity is drawn up front, in a fixed order, so results do not depend
    # on the rendering chunk size.
    y = rng.permutation(np.arange(n) % num_classes).astype(np.int64)
    tied = rng.random(n) < spurious
    free_hue = rng.random(n)
    hue_jitter = rng.uniform(-1.0, 1.0, n) * (0.25 / num_classes)
    hue = np.where(tied, y / num_classes + hue_jitter, free_hue)
    hue2 = hue + rng.uniform(-0.03, 0.03, n)
    sat1, val1 = rng.uniform(0.55, 0.9, n), rng.uniform(0.3, 0.55, n)
    sat2, val2 = rng.uniform(0.35, 0.7, n), rng.uniform(0.6, 0.85, n)
    tex_kind = rng.integers(0, 3, n)
    tex_freq = rng.uniform(1.5, 5.0, n)
    tex_angle = rng.uniform(0.0, np.pi, n)
    tex_phase = rng.uniform(0.0, 2 * np.pi, n)
    noise_grid = rng.random((n, _NOISE_GRID, _NOISE_GRID)).astype(np.float32)
    noise_offset = rng.random((n, 2))
    radius = rng.uniform(0.12, 0.22, n) * size
    reach = _EXTENT * radius + 2.0
    cx = reach + rng.random(n) * (size - 2 * reach)
    cy = reach + rng.random(n) * (size - 2 * reach)
    rot = rng.uniform(-_MAX_ROTATION, _MAX_ROTATION, n)
    candidates = rng.random((n, _COLOUR_CANDIDATES, 3))

    bg1 = _hsv_to_rgb(hue, sat1, val1)
    bg2 = _hsv_to_rgb(hue2, sat2, val2)
    corners = np.array(
        [[i, j, k] for i in (0.0, 1.0) for j in (0.0, 1.0) for k in (0.0, 1.0)]
    )  # deterministic fallbacks, tried after the random candidates
    candidates = np.concatenate([candidates, np.broadcast_to(corners, (n, 8, 3))], axis=1)
    dist = _segment_distance(candidates, bg1, bg2)
    ok = dist >= _CONTRAST_MARGIN
    pick = np.where(ok.any(axis=1), ok.argmax(axis=1), dist.argmax(axis=1))
    colour = candidates[np.arange(n), pick]

    x = np.empty((n, size, size, 3), dtype=np.float32)
    masks = np.empty((n, size, size), dtype=bool)
    pix = np.arange(size, dtype=np.float64) + 0.5
    chunk = max(1, (1 << 21) // (size * size))
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        p = _texture(
            tex_kind[sl],
            tex_freq[sl],
            tex_angle[sl],
            tex_phase[sl],
            noise_grid[sl],
            noise_offset[sl],
            size,
        )[..., None]
        c1 = bg1[sl, None, None, :].astype(np.float32)
        c2 = bg2[sl, None, None, :].astype(np.float32)
        img = c1 + (c2 - c1) * p

        m = np.zeros(p.shape[:3], dtype=bool)
        cls = y[sl]
        for k in np.unique(cls):
            sel = np.flatnonzero(cls == k)
            g = sel + start
            dx = pix[None, None, :] - cx[g, None, None]
            dy = pix[None, :, None] - cy[g, None, None]
            cr, sr = np.cos(rot[g])[:, None, None], np.sin(rot[g])[:, None, None]
            u, v = cr * dx + sr * dy, -sr * dx + cr * dy
            r = radius[g, None, None]
            m[sel] = _shape_mask(int(k), u, v, r)
        img = np.where(m[..., None], colour[sl, None, None, :].astype(np.float32), img)
        x[sl] = np.clip(img, 0.0, 1.0)
        masks[sl] = m
    return x, y, masks


# --------------------------------------------------------------------------------------
# Class names
# --------------------------------------------------------------------------------------

_CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "fashion_mnist": FASHION_MNIST_CLASSES,
    "digits": DIGITS_CLASSES,
    "shapes": SHAPES_CLASSES,
}


def class_names(name: str) -> list[str]:
    """Class names of a dataset of this module, indexed by label.

    ``name`` is ``"fashion_mnist"`` (also ``"fashion-mnist"``, any case), ``"digits"`` or
    ``"shapes"`` (all six; ``shapes(num_classes=k)`` uses the first ``k``).

    Example:
        >>> from keras_insight.datasets import class_names
        >>> class_names("Fashion-MNIST")[9], class_names("shapes")[:3]
        ('Ankle boot', ['circle', 'square', 'triangle'])
    """
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    if key not in _CLASS_NAMES:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(sorted(_CLASS_NAMES))}")
    return list(_CLASS_NAMES[key])
