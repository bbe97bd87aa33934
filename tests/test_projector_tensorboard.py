"""End to end: a TensorBoard started BEFORE fit serves every epoch's projector embedding."""

import time

import numpy as np
import pytest
from PIL import Image

from keras_insight.callbacks.representation import EmbeddingProjector
from keras_insight.tensorboard.server import TensorBoardServer
from keras_insight.testing import small_cnn


def _poll(fn, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as err:  # server still loading: retry
            last = err
        time.sleep(0.3)
    raise TimeoutError(f"TensorBoard never met {what}; last answer: {last!r}")


class _Probe:
    """Reads the projector endpoints after each epoch, while training runs."""

    def __init__(self, tb):
        self.tb = tb
        self.seen = []

    def info(self):
        return self.tb.get_json("/data/plugin/projector/info", {"run": "insight"})


def test_projector_live_in_running_tensorboard(tmp_path, rng):
    import keras

    n = 24
    y = np.arange(n) % 4
    x = rng.uniform(size=(n, 16, 16, 3)).astype("float32")
    model = small_cnn()
    model.compile("adam", "sparse_categorical_crossentropy")
    cb = EmbeddingProjector((x, y), tmp_path, num_samples=n, strict=True, input_range=(0, 1))
    with TensorBoardServer(tmp_path, reload_interval=1) as tb:  # started before fit
        probe = _Probe(tb)

        class AfterEpoch(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                # the projector callback (listed first) has written this epoch's tensor
                want = epoch + 1

                def ready():
                    runs = tb.get_json("/data/plugin/projector/runs")
                    if "insight" not in runs:
                        return False
                    names = [e["tensorName"] for e in probe.info()["embeddings"]]
                    return names if len(names) == want else False

                probe.seen.append(_poll(ready, what=f"{want} embeddings"))

        model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[cb, AfterEpoch()])

        listing = _poll(
            lambda: tb.plugins_listing()["projector"]["enabled"], what="projector enabled"
        )
        assert listing is True
        e0, e1 = "embedding_gap/epoch_0000", "embedding_gap/epoch_0001"
        assert probe.seen == [[e0], [e0, e1]]  # one tensor after epoch 1, two after epoch 2

        d = tmp_path / "insight"
        info = probe.info()
        for emb in info["embeddings"]:
            name = emb["tensorName"]
            assert emb["tensorShape"] == [n, 16]
            raw = tb.get_bytes("/data/plugin/projector/tensor", {"run": "insight", "name": name})
            served = np.frombuffer(raw, "float32").reshape(n, 16)
            written = np.loadtxt(d / emb["tensorPath"], delimiter="\t", ndmin=2)
            np.testing.assert_allclose(served, written, rtol=1e-6)
            meta = tb.get_bytes("/data/plugin/projector/metadata", {"run": "insight", "name": name})
            assert meta == (d / emb["metadataPath"]).read_bytes()
            rows = meta.decode().splitlines()
            assert rows[0] == "label\tpredicted\tcorrect" and len(rows) == n + 1
            sprite = tb.get_bytes(
                "/data/plugin/projector/sprite_image", {"run": "insight", "name": name}
            )
            assert sprite == (d / emb["sprite"]["imagePath"]).read_bytes()
            tiles = np.asarray(Image.open(d / emb["sprite"]["imagePath"]))
            assert tiles.shape[:2] == (5 * 16, 5 * 16)
            # tile i of the sprite is probe sample i
            np.testing.assert_array_equal(
                tiles[:16, 16:32], np.rint(cb.probe_x[1] * 255).astype("uint8")
            )
        # the two epochs are different tensors (the model trained in between)
        t0, t1 = (
            np.frombuffer(
                tb.get_bytes(
                    "/data/plugin/projector/tensor", {"run": "insight", "name": e["tensorName"]}
                ),
                "float32",
            )
            for e in info["embeddings"]
        )
        assert not np.allclose(t0, t1)
    assert tb.pid is None


if __name__ == "__main__":
    pytest.main([__file__, "-q"])
