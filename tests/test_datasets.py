"""Tests for keras_insight.datasets (offline data: Fashion-MNIST, digits, shapes)."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import require

from keras_insight import datasets

HAVE_DEBIAN_FASHION = all(
    (datasets.DEBIAN_FASHION_MNIST_DIR / f).is_file() for f in datasets.FASHION_MNIST_FILES.values()
)


@pytest.fixture
def debian_fashion():
    require(HAVE_DEBIAN_FASHION, f"needs `{datasets.APT_INSTALL_HINT}`")


needs_debian = pytest.mark.usefixtures("debian_fashion")


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def _write_idx(path: Path, array: np.ndarray, magic: int | None = None) -> None:
    array = np.asarray(array, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def _fake_fashion_dir(directory: Path, n_train: int = 20, n_test: int = 10, seed: int = 0):
    """Write four small, valid idx gzip files; return the raw uint8 arrays."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    raw = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for key, name in datasets.FASHION_MNIST_FILES.items():
        _write_idx(directory / name, raw[key])
    return raw


@pytest.fixture
def no_sources(tmp_path, monkeypatch):
    """Empty Keras home, no Debian files, download fails, fresh in-memory cache."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    (tmp_path / "keras_home").mkdir()
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no_debian")
    monkeypatch.setattr(datasets, "_fashion_cache", {})

    def fail():
        raise Exception("URL fetch failure: [Errno -2] Name or service not known")

    monkeypatch.setattr(datasets, "_download_with_keras", fail)
    return tmp_path


def _border_colour(x: np.ndarray, width: int = 2) -> np.ndarray:
    n = x.shape[0]
    parts = [
        x[:, :width].reshape(n, -1, 3),
        x[:, -width:].reshape(n, -1, 3),
        x[:, :, :width].reshape(n, -1, 3),
        x[:, :, -width:].reshape(n, -1, 3),
    ]
    return np.concatenate(parts, axis=1).mean(axis=1)


def _nearest_centroid_accuracy(features: np.ndarray, y: np.ndarray, k: int) -> float:
    half = len(y) // 2
    f_tr, y_tr, f_te, y_te = features[:half], y[:half], features[half:], y[half:]
    centroids = np.stack([f_tr[y_tr == c].mean(axis=0) for c in range(k)])
    pred = np.argmin(((f_te[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    return float((pred == y_te).mean())


# --------------------------------------------------------------------------------------
# Fashion-MNIST
# --------------------------------------------------------------------------------------


@needs_debian
def test_fashion_mnist_full_values():
    (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist()
    assert x_train.shape == (60000, 28, 28, 1)
    assert x_test.shape == (10000, 28, 28, 1)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert float(x_train.min()) == 0.0 and float(x_train.max()) == 1.0
    assert float(x_test.min()) == 0.0 and float(x_test.max()) == 1.0
    # pixel values are exactly k / 255
    sample = x_train[:500]
    np.testing.assert_allclose(sample * 255, np.round(sample * 255), atol=1e-4)
    # labels exactly 0-9, all present, balanced as published
    np.testing.assert_array_equal(np.unique(y_train), np.arange(10))
    np.testing.assert_array_equal(np.unique(y_test), np.arange(10))
    np.testing.assert_array_equal(np.bincount(y_train), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(y_test), np.full(10, 1000))
    # the first training image is the well-known ankle boot
    assert datasets.FASHION_MNIST_CLASSES[int(y_train[0])] == "Ankle boot"
    assert 0.2 < float(x_train.mean()) < 0.4  # mean intensity ~0.286


@needs_debian
def test_fashion_mnist_is_cached_and_read_only():
    first = datasets.fashion_mnist()
    second = datasets.fashion_mnist()
    assert second[0][0] is first[0][0]  # the same arrays: served from the cache, not re-read
    for arr in (*second[0], *second[1]):
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0] = 0
    copy = np.array(second[0][0][:2])
    copy[0] = 0  # a copy is writable


@needs_debian
def test_fashion_mnist_uses_debian_when_keras_cache_empty(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    dirs = datasets.fashion_mnist_dirs()
    assert dirs[0] == tmp_path / "datasets" / "fashion-mnist"
    assert dirs[-1] == datasets.DEBIAN_FASHION_MNIST_DIR
    assert datasets.find_fashion_mnist() == datasets.DEBIAN_FASHION_MNIST_DIR

    def no_download():
        raise AssertionError("must not download when the Debian files exist")

    monkeypatch.setattr(datasets, "_download_with_keras", no_download)
    (x_train, y_train), (x_test, _) = datasets.fashion_mnist()
    assert len(x_train) == 60000 and len(x_test) == 10000
    assert set(np.unique(y_train).tolist()) == set(range(10))


def test_keras_cache_has_priority(tmp_path, monkeypatch):
    raw = _fake_fashion_dir(tmp_path / "datasets" / "fashion-mnist")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(datasets, "_fashion_cache", {})
    assert datasets.find_fashion_mnist() == tmp_path / "datasets" / "fashion-mnist"
    (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist()
    assert x_train.shape == (20, 28, 28, 1) and x_test.shape == (10, 28, 28, 1)
    np.testing.assert_allclose(x_train[..., 0], raw["x_train"] / 255.0, atol=1e-7)
    np.testing.assert_allclose(x_test[..., 0], raw["x_test"] / 255.0, atol=1e-7)
    np.testing.assert_array_equal(y_train, raw["y_train"].astype(np.int64))
    np.testing.assert_array_equal(y_test, raw["y_test"].astype(np.int64))
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64


def test_bad_magic_is_skipped_with_warning(no_sources):
    keras_dir = no_sources / "keras_home" / "datasets" / "fashion-mnist"
    _fake_fashion_dir(keras_dir)
    # labels file written with the images' magic number (0x803 instead of 0x801)
    _write_idx(keras_dir / "train-labels-idx1-ubyte.gz", np.arange(20) % 10, magic=0x0803)
    good = _fake_fashion_dir(datasets.DEBIAN_FASHION_MNIST_DIR, seed=1)
    with pytest.warns(RuntimeWarning, match="magic"):
        (x_train, _), _ = datasets.fashion_mnist()
    np.testing.assert_allclose(x_train[..., 0], good["x_train"] / 255.0, atol=1e-7)


def test_truncated_file_is_rejected(tmp_path):
    path = tmp_path / "x.gz"
    with gzip.open(path, "wb") as f:
        f.write((0x0803).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in (5, 28, 28)))
        f.write(b"\x00" * 100)
    with pytest.raises(ValueError, match="holds 100 bytes"):
        datasets._read_idx(path, 3)


def test_missing_everywhere_raises_apt_hint(no_sources):
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        datasets.fashion_mnist()
    msg = str(info.value)
    assert "apt-get install -y dataset-fashion-mnist" in msg
    assert "Name or service not known" in msg  # the download failure is reported
    assert str(no_sources / "keras_home") in msg  # the cache location is named
    assert isinstance(info.value, FileNotFoundError)


def test_download_false_skips_keras(no_sources, monkeypatch):
    def boom():
        raise AssertionError("download attempted")

    monkeypatch.setattr(datasets, "_download_with_keras", boom)
    with pytest.raises(datasets.DatasetNotFoundError, match="apt-get install"):
        datasets.fashion_mnist(download=False)


def test_download_fallback_converts(tmp_path, monkeypatch):
    import keras

    rng = np.random.default_rng(0)
    xtr = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    ytr = (np.arange(30) % 10).astype(np.uint8)
    xte, yte = xtr[:10], ytr[:10]
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no_debian")
    monkeypatch.setattr(datasets, "_fashion_cache", {})
    # the real downloader, backed by a fake keras loader (no network)
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", lambda: ((xtr, ytr), (xte, yte)))
    (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist()
    assert x_train.shape == (30, 28, 28, 1) and x_train.dtype == np.float32
    assert x_test.shape == (10, 28, 28, 1)
    np.testing.assert_allclose(x_train[..., 0], xtr / 255.0, atol=1e-7)
    assert y_train.dtype == np.int64 and y_test.tolist() == list(range(10))


# --------------------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------------------


def test_digits_split_values():
    from sklearn.datasets import load_digits

    (x_train, y_train), (x_test, y_test) = datasets.digits()
    assert len(x_train) + len(x_test) == 1797
    assert (len(x_train), len(x_test)) == (1437, 360)
    assert x_train.shape[1:] == (8, 8, 1) and x_train.dtype == np.float32
    assert y_train.dtype == np.int64
    assert float(min(x_train.min(), x_test.min())) == 0.0
    assert float(max(x_train.max(), x_test.max())) == 1.0
    # stratified: each class keeps its share in the test split (+-1 sample)
    all_y = np.concatenate([y_train, y_test])
    counts, test_counts = np.bincount(all_y, minlength=10), np.bincount(y_test, minlength=10)
    assert np.all(np.abs(test_counts - 0.2 * counts) <= 1.0)
    # the split is a partition of the original images (scaled by 1/16)
    bunch = load_digits()
    ref = np.sort((bunch.images / 16.0).reshape(1797, -1).sum(1))
    got = np.sort(np.concatenate([x_train, x_test]).reshape(1797, -1).sum(1))
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    np.testing.assert_array_equal(np.bincount(all_y), np.bincount(bunch.target))


def test_digits_deterministic():
    (a, ya), _ = datasets.digits()
    (b, yb), _ = datasets.digits()
    (c, _), _ = datasets.digits(seed=1)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a, c)
    a[0] = 5.0  # writable copy, does not affect later calls
    (d, _), _ = datasets.digits()
    assert float(d.max()) == 1.0


# --------------------------------------------------------------------------------------
# shapes
# --------------------------------------------------------------------------------------


def test_shapes_types_and_labels():
    x, y, masks = datasets.shapes(60, size=32, seed=0)
    assert x.shape == (60, 32, 32, 3) and x.dtype == np.float32
    assert y.shape == (60,) and y.dtype == np.int64
    assert masks.shape == (60, 32, 32) and masks.dtype == bool
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    np.testing.assert_array_equal(np.bincount(y), [20, 20, 20])
    _, y6, m6 = datasets.shapes(60, size=32, num_classes=6)
    np.testing.assert_array_equal(np.bincount(y6), [10] * 6)
    assert m6.any(axis=(1, 2)).all()
    assert datasets.class_names("shapes")[:3] == ["circle", "square", "triangle"]
    x0, y0, m0 = datasets.shapes(0)
    assert x0.shape == (0, 64, 64, 3) and y0.shape == (0,) and m0.shape == (0, 64, 64)


def test_shapes_deterministic_and_seeded():
    a = datasets.shapes(40, size=32, seed=7, spurious=0.5)
    b = datasets.shapes(40, size=32, seed=7, spurious=0.5)
    c = datasets.shapes(40, size=32, seed=8, spurious=0.5)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[2], c[2])


def test_shapes_masks_match_drawn_object():
    x, _, masks = datasets.shapes(200, size=48, seed=3, num_classes=6)
    for img, m in zip(x, masks):
        inside = img[m]
        assert inside.shape[0] > 20
        colour = inside[0]
        np.testing.assert_array_equal(inside, np.broadcast_to(colour, inside.shape))
        # every background pixel is clearly different from the object colour
        dist = np.linalg.norm(img[~m] - colour, axis=-1)
        assert dist.min() >= 0.4 - 1e-5
    # the object never touches the 2-pixel border
    assert not masks[:, :2].any() and not masks[:, -2:].any()
    assert not masks[:, :, :2].any() and not masks[:, :, -2:].any()


def test_shapes_circle_area_is_pi_r_squared():
    size = 64
    x, y, masks = datasets.shapes(300, size=size, seed=4)
    circles = masks[y == 0]
    assert len(circles) == 100
    yy, xx = np.mgrid[:size, :size] + 0.5
    for m in circles:
        area = m.sum()
        cx, cy = xx[m].mean(), yy[m].mean()
        # a disk of radius r has E[dx^2 + dy^2] = r^2 / 2
        r = np.sqrt(2 * (((xx[m] - cx) ** 2 + (yy[m] - cy) ** 2).mean()))
        assert 0.12 * size - 1 <= r <= 0.22 * size + 1
        assert abs(area / (np.pi * r * r) - 1.0) < 0.1
        # and the mask is a solid disk: its bounding box is ~2r wide
        cols = np.flatnonzero(m.any(axis=0))
        assert abs((cols[-1] - cols[0] + 1) - 2 * r) <= 2.0

    # squares fill their bounding box far more than triangles do
    def fill(ms):
        out = []
        for m in ms:
            rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
            out.append(m.sum() / ((rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1)))
        return np.mean(out)

    assert fill(masks[y == 1]) > 0.75 > 0.6 > fill(masks[y == 2])


def test_shapes_spurious_background_predicts_label():
    n = 600
    x1, y1, _ = datasets.shapes(n, spurious=1.0, seed=11)
    x0, y0, _ = datasets.shapes(n, spurious=0.0, seed=11)
    acc1 = _nearest_centroid_accuracy(_border_colour(x1), y1, 3)
    acc0 = _nearest_centroid_accuracy(_border_colour(x0), y0, 3)
    assert acc1 >= 0.95, acc1
    assert acc0 <= 0.6, acc0
    xh, yh, _ = datasets.shapes(n, spurious=0.5, seed=11)
    acch = _nearest_centroid_accuracy(_border_colour(xh), yh, 3)
    assert acc0 < acch < acc1


@pytest.mark.slow  # a wall-clock check: meaningful only on a quiet machine
def test_shapes_fast():
    t0 = time.perf_counter()
    datasets.shapes(1000, size=64, seed=0)
    assert time.perf_counter() - t0 < 3.0  # ~0.3 s on 2 cores; generous for CI load


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": -1},
        {"n": 4, "size": 8},
        {"n": 4, "spurious": 1.5},
        {"n": 4, "num_classes": 0},
        {"n": 4, "num_classes": 7},
    ],
)
def test_shapes_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        datasets.shapes(**kwargs)


# --------------------------------------------------------------------------------------
# class names
# --------------------------------------------------------------------------------------


def test_class_names():
    assert len(datasets.FASHION_MNIST_CLASSES) == 10
    assert datasets.class_names("fashion_mnist") == list(datasets.FASHION_MNIST_CLASSES)
    assert datasets.class_names("Fashion-MNIST")[0] == "T-shirt/top"
    assert datasets.class_names("digits") == [str(i) for i in range(10)]
    assert len(datasets.class_names("shapes")) == len(datasets.SHAPES_CLASSES) == 6
    names = datasets.class_names("shapes")
    names.append("x")  # a copy: the module constant is untouched
    assert len(datasets.SHAPES_CLASSES) == 6
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.class_names("cifar10")
