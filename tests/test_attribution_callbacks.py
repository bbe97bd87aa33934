"""GradCAM / Saliency / Occlusion callbacks inside model.fit, read back from the event files."""

import keras
import numpy as np
import pytest

from keras_insight.callbacks.attribution import GradCAM, Occlusion, Saliency
from keras_insight.datasets import shapes
from keras_insight.tensorboard.events import read_events
from keras_insight.testing import small_cnn


@pytest.fixture(scope="module")
def data():
    return shapes(48, size=24, seed=1)


def _fit(data, callbacks, epochs=2):
    x, y, _ = data
    m = small_cnn((24, 24, 3), num_classes=3)
    m.compile("adam", "sparse_categorical_crossentropy")
    m.fit(x, y, epochs=epochs, batch_size=16, verbose=0, callbacks=callbacks)
    return m


def test_callbacks_log_overlays_and_mask_scores_each_epoch(tmp_path, data):
    x, y, masks = data
    cbs = [
        GradCAM((x, y, masks), tmp_path, num_samples=6, strict=True),
        Saliency(
            (x, y, masks),
            tmp_path,
            methods=["vanilla", "smoothgrad"],
            n=4,
            num_samples=6,
            strict=True,
        ),
        Occlusion((x, y, masks), tmp_path, patch=6, stride=6, num_samples=6, strict=True),
    ]
    _fit(data, cbs)
    ev = read_events(tmp_path)
    for tag in ("gradcam/grad_cam", "saliency/vanilla", "saliency/smoothgrad", "occlusion"):
        overlays = ev[f"{tag}/overlay"]
        assert [s for s, _ in overlays] == [0, 1]
        img = overlays[-1][1][0]
        assert img.dtype == np.uint8 and img.shape[-1] == 3
        assert img.shape[0] > 24 and img.shape[1] >= 3 * 24  # grid of labelled tiles
        for metric in ("pointing_game", "energy_in_mask"):
            vals = [v for _, v in ev[f"{tag}/{metric}"]]
            assert len(vals) == 2 and all(0.0 <= v <= 1.0 for v in vals)
    for cb in cbs:
        assert not cb.failures


def test_pointing_game_scalar_equals_function_on_probe(tmp_path, data):
    from keras_insight.attribution import grad_cam
    from keras_insight.metrics import pointing_game

    x, y, masks = data
    cb = GradCAM((x, y, masks), tmp_path, num_samples=6, strict=True, target="true")
    m = _fit(data, [cb], epochs=1)
    logged = read_events(tmp_path)["gradcam/grad_cam/pointing_game"][-1][1]
    probe_masks = cb.probe_extra[0]
    expected = pointing_game(grad_cam(m, cb.probe_x, cb.probe_y.astype(int)), probe_masks)
    assert logged == pytest.approx(expected, abs=1e-6)


def test_no_masks_no_mask_scalars(tmp_path, data):
    x, y, _ = data
    _fit(
        data, [Occlusion((x, y), tmp_path, patch=8, stride=8, num_samples=3, strict=True)], epochs=1
    )
    ev = read_events(tmp_path)
    assert "occlusion/overlay" in ev and "occlusion/pointing_game" not in ev


def test_bad_layer_is_a_clear_error_at_train_begin(tmp_path, data):
    x, y, _ = data
    with pytest.raises(ValueError, match="conv2"):
        _fit(data, [GradCAM((x, y), tmp_path, layer="gap", strict=True)], epochs=1)
    with pytest.raises(ValueError, match="Unknown saliency"):
        Saliency(methods=["nope"])
    with pytest.raises(ValueError, match="Unknown CAM"):
        GradCAM(method="nope")


def test_failure_inside_log_is_counted_not_raised(tmp_path, data, monkeypatch):
    x, y, _ = data
    cb = Saliency((x, y), tmp_path, methods=["vanilla"], num_samples=3)
    monkeypatch.setattr(cb, "maps", lambda t: (_ for _ in ()).throw(RuntimeError("boom")))
    _fit(data, [cb], epochs=1)
    assert cb.failures["RuntimeError"] >= 1
    keras.backend.clear_session()
