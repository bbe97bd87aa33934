"""Read a user's images from disk: ``.npz``/``.npy`` arrays or a folder of class subfolders.

Everything here is data, never code: arrays load with ``np.load(..., allow_pickle=False)``
and images through Pillow with its decompression-bomb guard on. No TensorFlow is imported,
so the ``keras-insight`` command can check a data source before it starts TensorFlow.
Every problem is a one-line ``ValueError`` that names the file and the fix.

Example:
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "val.npz")
    >>> np.savez(path, x=np.zeros((4, 8, 8), "float32"), y=np.array([0, 1, 0, 1]))
    >>> data = read_data(path)
    >>> data.x.shape, data.y.tolist()
    ((4, 8, 8, 1), [0, 1, 0, 1])
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: File endings read from an image folder (those ``keras.utils.image_dataset_from_directory`` reads).
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


@dataclass
class DataSource:
    """Images ``x`` (N, H, W, C) float32, integer labels ``y`` or None, class names or None."""

    x: np.ndarray
    y: np.ndarray | None
    class_names: list[str] | None = None
    notes: list[str] = field(default_factory=list)


def parse_range(text: str) -> tuple[float, float]:
    """Parse ``"lo,hi"`` into a pair with ``hi > lo``.

    Example:
        >>> parse_range("0,255")
        (0.0, 255.0)
    """
    try:
        lo, hi = (float(v) for v in str(text).split(","))
    except ValueError:
        raise ValueError(
            f"--input-range must be 'lo,hi' such as 0,1 or 0,255, got {text!r}."
        ) from None
    if not hi > lo:
        raise ValueError(f"--input-range needs hi > lo, got {text!r}.")
    return lo, hi


def read_class_names(spec: str) -> list[str]:
    """Class names from a file (one per line, blank lines skipped) or a list ``"a,b,c"``.

    Example:
        >>> read_class_names("cat, dog ,bird")
        ['cat', 'dog', 'bird']
    """
    if os.path.isfile(spec):
        with open(spec, encoding="utf-8") as fh:
            names = [line.strip() for line in fh if line.strip()]
        where = f"file {spec}"
    else:
        names = [n.strip() for n in spec.split(",")]
        where = repr(spec)
        if any(not n for n in names):
            raise ValueError(
                f"--class-names {where} has an empty name: give 'a,b,c' or a file with one "
                "name per line."
            )
    if not names:
        raise ValueError(f"--class-names {where} holds no names.")
    if len(set(names)) != len(names):
        raise ValueError(f"--class-names {where} repeats a name: each class needs its own.")
    return names


def _as_labels(y: np.ndarray, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot or scores
        y = y.argmax(-1)
    y = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y
    if not np.issubdtype(y.dtype, np.number) or y.dtype == bool:
        raise ValueError(f"{what} must be integer class indices, got dtype {y.dtype}.")
    if np.issubdtype(y.dtype, np.floating) and not np.all(np.mod(y, 1) == 0):
        raise ValueError(f"{what} must be integer class indices, found non-integer values.")
    if y.size and y.min() < 0:
        raise ValueError(f"{what} has negative class indices (min {int(y.min())}).")
    return y.astype(np.int64)


def _as_images(x: np.ndarray, what: str, notes: list[str]) -> np.ndarray:
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{what} must be numeric images, got dtype {x.dtype}.")
    if x.ndim == 3:
        x = x[..., None]
        notes.append(f"{what}: (N, H, W) images read as one channel (N, H, W, 1).")
    if x.ndim != 4:
        raise ValueError(
            f"{what} must be a batch of images (N, H, W) or (N, H, W, C), got shape {x.shape}."
        )
    if len(x) == 0:
        raise ValueError(f"{what} holds no images.")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contains NaN or infinite values.")
    return x


def _np_load(path: Path):
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "pickle" in str(exc).lower():
            raise ValueError(
                f"{path} holds Python objects (pickled), which keras-insight never loads: "
                "save plain numeric arrays with np.savez(path, x=images, y=labels)."
            ) from None
        raise ValueError(f"cannot read {path} as a NumPy file: {exc}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path} as a NumPy file ({exc}).") from None


def read_arrays(
    path: str | os.PathLike, *, x_key: str = "x", y_key: str | None = "y", y_required: bool = False
) -> DataSource:
    """Read an ``.npz`` (images under ``x_key``, labels under ``y_key``) or an ``.npy`` of images.

    Labels may be class indices or one-hot rows; (N, H, W) images get a channel axis.
    A missing ``y_key`` means unlabelled data unless ``y_required``.
    """
    path = Path(path)
    notes: list[str] = []
    if path.suffix == ".npy":
        x = _np_load(path)
        return DataSource(_as_images(x, str(path), notes), None, None, notes)
    with _np_load(path) as archive:
        try:
            return _read_npz(path, archive, x_key, y_key, y_required, notes)
        except ValueError as exc:
            if "allow_pickle" in str(exc):
                raise ValueError(
                    f"{path} holds Python objects (pickled), which keras-insight never loads: "
                    "save plain numeric arrays with np.savez(path, x=images, y=labels)."
                ) from None
            raise


def _read_npz(path, archive, x_key, y_key, y_required, notes) -> DataSource:
    keys = list(archive.keys())
    if x_key not in keys:
        raise ValueError(
            f"{path} has no array {x_key!r} (it has {', '.join(keys) or 'none'}): "
            "choose the images with --x-key."
        )
    x = _as_images(archive[x_key], f"{path}[{x_key!r}]", notes)
    y = None
    if y_key is not None and y_key in keys:
        y = _as_labels(archive[y_key], f"{path}[{y_key!r}]")
        if len(y) != len(x):
            raise ValueError(
                f"{path}: {len(x)} images under {x_key!r} but {len(y)} labels under {y_key!r}."
            )
    elif y_required:
        raise ValueError(
            f"{path} has no labels {y_key!r} (it has {', '.join(keys)}): choose them with --y-key."
        )
    return DataSource(x, y, None, notes)


def _class_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _open_image(path: Path, mode: str, size: tuple[int, int] | None):
    from PIL import Image

    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and raises at twice that: refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.draft(mode, size)  # lets JPEG decode at a reduced size
                return np.asarray(im.convert(mode), dtype=np.uint8), im.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(
            f"{path} is larger than Pillow's decompression-bomb limit "
            f"({Image.MAX_IMAGE_PIXELS} pixels): resize it first."
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"cannot read image {path} ({exc}).") from None


def read_image_folder(
    root: str | os.PathLike,
    *,
    image_size: tuple[int, int] | None = None,
    channels: int | None = None,
    pixel_range: tuple[float, float] = (0.0, 255.0),
    max_images: int = 2048,
) -> DataSource:
    """Read a folder with one subfolder of images per class, as Keras's
    ``image_dataset_from_directory`` does: class ``k`` is the ``k``-th subfolder name in sorted
    order. A folder of images with no subfolders is read unlabelled.

    Images are converted to ``channels`` (1: grayscale, 3: RGB; default RGB), resized
    bilinearly to ``image_size`` (H, W) when given (else to the first image's size), and
    pixel values mapped linearly from 0-255 to ``pixel_range``. At most ``max_images`` are
    read, shared evenly across classes (the first ones in sorted file order).
    """
    from PIL import Image

    root = Path(root)
    mode = {None: "RGB", 1: "L", 3: "RGB"}.get(channels)
    if mode is None:
        raise ValueError(
            f"image folders give 1 (grayscale) or 3 (RGB) channels; the model wants {channels}."
        )
    folders = _class_folders(root)
    if folders:
        files = [_image_files(f) for f in folders]
        keep = [(i, f) for i, f in enumerate(files) if f]
        if not keep:
            raise ValueError(
                f"no images ({', '.join(IMAGE_SUFFIXES)}) in the class subfolders of {root}."
            )
        names = [folders[i].name for i in range(len(folders))]
    else:
        files = [_image_files(root)]
        names = None
        if not files[0]:
            raise ValueError(
                f"{root} holds no images ({', '.join(IMAGE_SUFFIXES)}) and no class subfolders."
            )
    per_class = max(1, max_images // max(1, sum(1 for f in files if f)))
    chosen = [(label, p) for label, fs in enumerate(files) for p in fs[:per_class]]
    images, labels, resized = [], [], 0
    target = None if image_size is None else (int(image_size[1]), int(image_size[0]))
    for label, path in chosen:
        arr, size = _open_image(path, mode, target)
        if target is None:
            target = size
        if (arr.shape[1], arr.shape[0]) != target:
            arr = np.asarray(Image.fromarray(arr).resize(target, Image.BILINEAR))
            resized += 1
        images.append(arr)
        labels.append(label)
    x = np.stack(images).astype(np.float32)
    if x.ndim == 3:
        x = x[..., None]
    lo, hi = pixel_range
    x = lo + x * ((hi - lo) / 255.0)
    notes = []
    if resized:
        notes.append(
            f"resized {resized} of {len(x)} images from {root} to {target[1]}x{target[0]} "
            "(the model's input size)."
        )
    skipped = sum(len(fs) for fs in files) - len(chosen)
    if skipped:
        notes.append(
            f"read {len(chosen)} images ({per_class} per class at most); {skipped} left out."
        )
    y = np.asarray(labels, np.int64) if names is not None else None
    return DataSource(x, y, names, notes)


def read_data(
    src: str | os.PathLike,
    *,
    x_key: str = "x",
    y_key: str | None = "y",
    y_required: bool = False,
    image_size: tuple[int, int] | None = None,
    channels: int | None = None,
    pixel_range: tuple[float, float] = (0.0, 255.0),
    max_images: int = 2048,
) -> DataSource:
    """Read ``.npz``/``.npy`` arrays or an image folder (see :func:`read_image_folder`)."""
    path = Path(src)
    if not path.exists():
        raise ValueError(f"data not found: {src} (give an .npz, an .npy or an image folder).")
    if path.is_dir():
        return read_image_folder(
            path,
            image_size=image_size,
            channels=channels,
            pixel_range=pixel_range,
            max_images=max_images,
        )
    if path.suffix not in (".npz", ".npy"):
        raise ValueError(
            f"cannot read {src}: give an .npz (images and labels), an .npy (images) or a folder "
            "with one subfolder of images per class."
        )
    return read_arrays(path, x_key=x_key, y_key=y_key, y_required=y_required)
