"""keras-insight analyze on the user's own model and data: what it writes, and bad input."""

import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from keras_insight import datafiles
from keras_insight.cli import UsageError, main
from keras_insight.tensorboard.events import read_events


def _model(shape=(8, 8, 1), classes=3, lam=False):
    L = keras.layers
    layers = [keras.Input(shape)]
    if lam:
        layers.append(L.Lambda(lambda t: t * 2.0))
    layers += [
        L.Conv2D(4, 3, padding="same", activation="relu", name="conv1"),
        L.Flatten(),
        L.Dense(classes, activation="softmax", name="predictions"),
    ]
    return keras.Sequential(layers)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("analyze")
    keras.utils.set_random_seed(0)
    m = _model()
    m.save(d / "m.keras")
    _model(lam=True).save(d / "lam.keras")
    _model(shape=(8, 8, 3)).save(d / "rgb.keras")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (24, 8, 8)).astype("float32")
    y = np.arange(24) % 3
    np.savez(d / "val.npz", x=x, y=y)
    np.savez(d / "images.npz", images=x[..., None], labels=np.eye(3)[y])
    np.savez(d / "nolabels.npz", x=x)
    np.savez(d / "big.npz", x=np.zeros((4, 28, 28, 1), "float32"), y=np.zeros(4, int))
    np.savez(d / "many.npz", x=x, y=np.arange(24) % 5)
    np.savez(d / "objects.npz", x=np.array([{"a": 1}], dtype=object))
    (d / "not_a_model.keras").write_text("hello")
    return d


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    return err


def _analyze(saved, *args):
    return main(["analyze", *map(str, args)])


def test_npz_written_once_at_step_0_with_one_line_per_analysis(saved, tmp_path, capsys):
    log = tmp_path / "run"
    rc = _analyze(
        saved, saved / "m.keras", "--data", saved / "val.npz", "--class-names", "a,b,c",
        "--methods", "summary,filters,gradcam,confusion", "--log-dir", log,
    )  # fmt: skip
    assert rc == 0
    out = capsys.readouterr().out
    ev = read_events(str(log / "insight"))
    assert [s for s, _ in ev["filters/conv1"]] == [0]
    assert any(t.startswith("gradcam/") for t in ev)
    assert any(t.startswith("confusion/") for t in ev)
    assert not any(t.startswith("saliency/") for t in ev)  # not asked for
    # a progress line with a time for each of the four analyses, then the tensorboard line
    for name in ("ModelSummary", "FilterGrid", "GradCAM", "ConfusionMatrix"):
        assert sum(name in line and line.rstrip().endswith(" s") for line in out.splitlines()) == 1
    assert "--samples_per_plugin=images=100" in out


def test_several_checkpoints_are_steps_in_order(saved, tmp_path, capsys):
    keras.utils.set_random_seed(1)
    second = _model()
    second.save(tmp_path / "m2.keras")
    log = tmp_path / "run"
    rc = _analyze(
        saved, saved / "m.keras", tmp_path / "m2.keras", "--data", saved / "val.npz",
        "--methods", "filters", "--log-dir", log,
    )  # fmt: skip
    assert rc == 0
    ev = read_events(str(log / "insight"))
    steps = [s for s, _ in ev["filters/conv1"]]
    assert steps == [0, 1]
    # step 1 shows the second checkpoint's filters, which differ from the first's
    assert not np.array_equal(ev["filters/conv1"][0][1][0], ev["filters/conv1"][1][1][0])


def test_keys_and_one_hot_labels(saved, tmp_path, capsys):
    rc = _analyze(
        saved, saved / "m.keras", "--data", saved / "images.npz", "--x-key", "images",
        "--y-key", "labels", "--methods", "confusion", "--log-dir", tmp_path / "r",
    )  # fmt: skip
    assert rc == 0, _err(capsys)


@pytest.mark.parametrize(
    "args, words",
    [
        (["{d}/missing.keras", "--data", "{d}/val.npz"], ["model not found"]),
        (["{d}/not_a_model.keras", "--data", "{d}/val.npz"], ["not a Keras model"]),
        (["{d}/lam.keras", "--data", "{d}/val.npz"], ["Lambda", "--unsafe"]),
        (["{d}/m.keras", "--data", "{d}/big.npz"], ["28x28x1", "8x8x1"]),
        (["{d}/rgb.keras", "--data", "{d}/val.npz"], ["8x8x1", "8x8x3", "np.repeat"]),
        (["{d}/m.keras", "--data", "{d}/many.npz"], ["5 classes", "3 outputs"]),
        (["{d}/m.keras", "--data", "{d}/val.npz", "--class-names", "a,b,c,d"], ["4 class names"]),
        (["{d}/m.keras", "--data", "{d}/nolabels.npz", "--methods", "confusion"], ["confusion"]),
        (["{d}/m.keras", "--data", "{d}/val.npz", "--y-key", "labels"], ["no labels 'labels'"]),
        (["{d}/m.keras", "--data", "{d}/val.npz", "--x-key", "images"], ["no array 'images'"]),
        (["{d}/m.keras", "--data", "{d}/objects.npz"], ["pickled"]),
        (["{d}/m.keras", "--data", "fashion_mnist"], ["28x28x1", "8x8x1"]),
        (["{d}/m.keras", "--data", "{d}/val.npz", "--input-range", "1,0"], ["hi > lo"]),
        (["{d}/m.keras", "--data", "{d}/val.npz", "--methods", "gradcan"], ["unknown method"]),
        (["{d}", "--data", "{d}/val.npz"], ["not a SavedModel"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(saved, tmp_path, capsys, args, words):
    argv = [a.format(d=saved) for a in args] + ["--log-dir", str(tmp_path / "r")]
    assert main(["analyze", *argv]) == 2
    err = _err(capsys)
    assert len(err.splitlines()) == 1, err
    assert err.startswith("keras-insight: error:")
    for w in words:
        assert w in err, (w, err)


def test_without_labels_the_label_analyses_are_left_out_with_a_note(saved, tmp_path, capsys):
    rc = _analyze(saved, saved / "m.keras", "--data", saved / "nolabels.npz", "--log-dir",
                  tmp_path / "r", "--level", "standard", "--methods", "filters,gradcam")  # fmt: skip
    assert rc == 0
    rc = _analyze(saved, saved / "m.keras", "--data", saved / "nolabels.npz", "--log-dir",
                  tmp_path / "r2", "--level", "light")  # fmt: skip
    assert rc == 0


def test_image_folder_classes_sorted_resized_and_scaled(tmp_path, capsys):
    root = tmp_path / "imgs"
    colours = {"b_dog": (0, 0, 255), "a_cat": (255, 0, 0), "c_owl": (0, 255, 0)}
    for name, rgb in colours.items():
        (root / name).mkdir(parents=True)
        for k in range(2):
            Image.new("RGB", (12, 10), rgb).save(root / name / f"{k}.png")
    (root / "a_cat" / "notes.txt").write_text("not an image")
    data = datafiles.read_data(root, image_size=(8, 8), channels=3, pixel_range=(0.0, 1.0))
    assert data.class_names == ["a_cat", "b_dog", "c_owl"]  # sorted, like Keras
    assert data.y.tolist() == [0, 0, 1, 1, 2, 2]
    assert data.x.shape == (6, 8, 8, 3)
    # a solid colour stays that colour through the resize, scaled 0-255 -> 0-1
    np.testing.assert_allclose(data.x[0, 3, 3], [1.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(data.x[5, 3, 3], [0.0, 1.0, 0.0], atol=1e-6)
    assert any("resized 6 of 6" in n for n in data.notes)
    gray = datafiles.read_data(root, image_size=(8, 8), channels=1)
    assert gray.x.shape == (6, 8, 8, 1)

    keras.utils.set_random_seed(0)
    _model(shape=(8, 8, 3)).save(tmp_path / "rgb.keras")
    rc = main(["analyze", str(tmp_path / "rgb.keras"), "--data", str(root), "--methods",
               "gradcam,confusion", "--log-dir", str(tmp_path / "r")])  # fmt: skip
    assert rc == 0, _err(capsys)
    assert "note: resized 6 of 6 images" in capsys.readouterr().out


def test_image_folder_refuses_decompression_bombs(tmp_path, monkeypatch):
    (tmp_path / "c").mkdir()
    Image.new("L", (40, 40)).save(tmp_path / "c" / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # 1600 px > 2 * 500
    with pytest.raises(ValueError, match="decompression-bomb"):
        datafiles.read_data(tmp_path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1600 px: Pillow only warns
    with pytest.raises(ValueError, match="decompression-bomb"):
        datafiles.read_data(tmp_path)


def test_class_names_from_file_or_list(tmp_path):
    f = tmp_path / "names.txt"
    f.write_text("cat\n\ndog\n<img src=x>\n")
    assert datafiles.read_class_names(str(f)) == ["cat", "dog", "<img src=x>"]
    assert datafiles.read_class_names("a, b") == ["a", "b"]
    with pytest.raises(ValueError, match="repeats"):
        datafiles.read_class_names("a,a")


def test_exit_codes_from_the_real_command(saved, tmp_path):
    """The real process: one line on stderr, exit 2, no traceback, no TensorFlow INFO lines."""
    cmd = [sys.executable, "-m", "keras_insight.cli", "analyze", str(saved / "lam.keras"),
           "--data", str(saved / "val.npz"), "--log-dir", str(tmp_path / "r")]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert "--unsafe" in r.stderr and "Traceback" not in r.stderr
    assert "I0000" not in r.stderr and "oneDNN" not in r.stderr  # TensorFlow's INFO lines


def test_debug_shows_the_error_and_unsafe_loads_lambda_models(saved, tmp_path):
    argv = ["analyze", str(saved / "lam.keras"), "--data", str(saved / "val.npz"),
            "--log-dir", str(tmp_path / "r")]  # fmt: skip
    with pytest.raises(UsageError, match="--unsafe"):
        main([*argv, "--debug"])
    assert main([*argv, "--unsafe", "--methods", "filters"]) == 0


def test_savedmodel_folder_runs_the_layer_free_analyses(saved, tmp_path, capsys):
    keras.utils.set_random_seed(0)
    _model().export(str(tmp_path / "sm"), verbose=False)
    rc = main(["analyze", str(tmp_path / "sm"), "--data", str(saved / "val.npz"), "--methods",
               "saliency,confusion", "--log-dir", str(tmp_path / "r")])  # fmt: skip
    assert rc == 0, _err(capsys)
    ev = read_events(str(tmp_path / "r" / "insight"))
    assert any(t.startswith("saliency/") for t in ev) and any(
        t.startswith("confusion/") for t in ev
    )
