"""Tests for keras_insight.tensorboard: shared writers, event read-back, real TensorBoard."""

import os

import numpy as np
import pytest

from keras_insight.render import grid
from keras_insight.tensorboard import (
    INSIGHT_SUBDIR,
    close_all,
    get_writer,
    read_events,
    sanitize_tag,
)


@pytest.fixture(autouse=True)
def _close_writers():
    yield
    close_all()


def _pixels(seed, shape):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_image_scalar_text_round_trip(tmp_path):
    w = get_writer(tmp_path)
    assert w.path == os.path.realpath(tmp_path / INSIGHT_SUBDIR) and w.chief
    picture = grid(_pixels(0, (5, 6, 7, 3)), ncols=3, pad=2)
    batch = _pixels(1, (4, 3, 5, 1))
    w.image("gradcam/grid", picture, step=2)
    w.image("gradcam/grid", picture[::-1].copy(), step=5)
    w.image("filters/conv1", batch, step=0, description="first conv layer")
    w.image("gray", batch[0, :, :, 0], step=1)
    w.scalar("robustness/linf_pgd/acc_eps_0.03", 0.75, step=3)
    w.text("notes/summary", "**top class** = 7", step=4)
    w.flush()

    events = read_events(tmp_path)  # log_dir resolves to its insight run
    assert set(events) == set(read_events(w.path))
    steps = [s for s, _ in events["gradcam/grid"]]
    assert steps == [2, 5]
    np.testing.assert_array_equal(events["gradcam/grid"][0][1][0], picture)
    np.testing.assert_array_equal(events["gradcam/grid"][1][1][0], picture[::-1])
    # All four images of a batch are kept under one tag (tf.summary defaults to 3).
    (step, imgs) = events["filters/conv1"][0]
    assert step == 0 and len(imgs) == 4
    for got, want in zip(imgs, batch):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(events["gray"][0][1][0][..., 0], batch[0, :, :, 0])
    assert events["robustness/linf_pgd/acc_eps_0.03"] == [(3, 0.75)]
    assert events["notes/summary"] == [(4, "**top class** = 7")]


def _image_records(path):
    """(tag, step, plugin name, description, [width, height, *png bytes]) of every image."""
    import glob

    import tensorflow as tf

    out = []
    for f in sorted(glob.glob(os.path.join(path, "**", "events.*"), recursive=True)):
        for raw in tf.data.TFRecordDataset(f):
            ev = tf.compat.v1.Event.FromString(raw.numpy())
            for v in ev.summary.value:
                if v.metadata.plugin_data.plugin_name == "images":
                    vals = list(tf.make_ndarray(v.tensor))
                    out.append((v.tag, ev.step, v.metadata.summary_description, vals))
    return out


def test_image_record_matches_tf_summary_image(tmp_path):
    """The writer encodes PNGs itself (zlib level 3): the record TensorBoard reads must be
    the one ``tf.summary.image`` writes (plugin, description, width/height strings, one
    lossless PNG per image, ``max_outputs`` honoured), for grey, RGB and RGBA."""
    import io

    import tensorflow as tf
    from PIL import Image

    batches = {"grey": _pixels(2, (3, 4, 5, 1)), "rgb": _pixels(3, (2, 6, 3, 3)),
               "rgba": _pixels(4, (2, 5, 7, 4))}  # fmt: skip
    w = get_writer(tmp_path / "ours")
    ref = tf.summary.create_file_writer(str(tmp_path / "ref"))
    for tag, b in batches.items():
        w.image(tag, b, step=3, description=f"about {tag}", max_outputs=2)
        with ref.as_default():
            tf.summary.image(tag, b, step=3, max_outputs=2, description=f"about {tag}")
    w.flush()
    ref.flush()
    ours, theirs = _image_records(w.path), _image_records(str(tmp_path / "ref"))
    assert [r[:3] for r in ours] == [r[:3] for r in theirs] and len(ours) == 3
    for (tag, _, _, a), (_, _, _, b) in zip(ours, theirs):
        assert a[:2] == b[:2] and len(a) == len(b) == 4  # width, height, 2 images
        for png_a, png_b in zip(a[2:], b[2:]):
            pa, pb = (np.asarray(Image.open(io.BytesIO(p))) for p in (png_a, png_b))
            np.testing.assert_array_equal(pa, pb)
        np.testing.assert_array_equal(
            np.asarray(Image.open(io.BytesIO(a[2]))).reshape(batches[tag][0].shape),
            batches[tag][0],
        )


def test_image_requires_uint8_and_valid_shape(tmp_path):
    w = get_writer(tmp_path)
    with pytest.raises(TypeError, match="uint8"):
        w.image("x", np.zeros((2, 2, 3), dtype=np.float32), step=0)
    with pytest.raises(ValueError):
        w.image("x", np.zeros((2, 2, 5), dtype=np.uint8), step=0)


def test_tags_are_sanitized(tmp_path):
    assert sanitize_tag("saliency/smooth grad:cls=3") == "saliency/smooth_grad_cls_3"
    w = get_writer(tmp_path)
    w.scalar("a b", 1.0, step=0)
    w.flush()
    assert read_events(w.path) == {"a_b": [(0, 1.0)]}
    with pytest.raises(ValueError):
        sanitize_tag("")


def test_same_writer_shared_by_two_callbacks(tmp_path):
    w1 = get_writer(tmp_path)
    w2 = get_writer(str(tmp_path) + "/./")
    link = tmp_path.parent / (tmp_path.name + "_link")
    link.symlink_to(tmp_path)
    w3 = get_writer(link)
    assert w1 is w2 is w3
    for epoch in range(3):  # two "callbacks" interleaving writes every epoch
        w1.scalar("gradcam/score", float(epoch), step=epoch)
        w2.image("filters/conv1", _pixels(epoch, (2, 2, 3)), step=epoch)
    close_all()
    files = [f for f in os.listdir(w1.path) if "tfevents" in f]
    assert len(files) == 1
    events = read_events(w1.path)
    assert [s for s, _ in events["gradcam/score"]] == [0, 1, 2]
    assert [s for s, _ in events["filters/conv1"]] == [0, 1, 2]
    np.testing.assert_array_equal(events["filters/conv1"][2][1][0], _pixels(2, (2, 2, 3)))


def test_reopen_after_close_keeps_earlier_events(tmp_path):
    w = get_writer(tmp_path)
    w.scalar("loss", 1.0, step=0)
    w.close()
    assert w.closed
    again = get_writer(tmp_path)
    assert not again.closed
    again.scalar("loss", 0.5, step=1)
    # A closed writer held by an old callback reopens itself on write.
    again.close()
    w.scalar("loss", 0.25, step=2)
    w.flush()
    assert read_events(tmp_path)["loss"] == [(0, 1.0), (1, 0.5), (2, 0.25)]


def test_log_dir_under_regular_file_raises_clear_error(tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    with pytest.raises(OSError, match="not_a_dir") as info:
        get_writer(blocker / "run1")
    assert "log_dir" in str(info.value)


def test_non_chief_writes_nothing(tmp_path):
    w = get_writer(tmp_path / "worker", chief=False)
    assert not w.chief
    w.image("x", np.zeros((2, 2), dtype=np.uint8), step=0)
    w.scalar("y", 1.0, step=0)
    w.text("z", "t", step=0)
    w.flush()
    w.close()
    assert not (tmp_path / "worker").exists()
    # The chief of the same directory is a different, writing object.
    assert get_writer(tmp_path / "worker") is not w


def test_figure_written_as_rgb(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1), dpi=20)
    fig.patch.set_facecolor((0.0, 0.0, 1.0))
    w = get_writer(tmp_path)
    w.figure("confusion/matrix", fig, step=1)
    w.flush()
    (step, [img]) = read_events(w.path)["confusion/matrix"][0]
    assert step == 1 and img.shape == (20, 20, 3)
    np.testing.assert_array_equal(img[10, 10], [0, 0, 255])


def test_real_tensorboard_serves_pixels_scalars_and_text(tmp_path):
    from keras_insight.tensorboard.server import TensorBoardServer

    w = get_writer(tmp_path)
    picture = grid(_pixels(7, (4, 5, 5, 3)), ncols=2, labels=["a", "b", "c", "d"])
    gray = _pixels(8, (3, 4, 6, 1))
    w.image("gradcam/grid", picture, step=1)
    w.image("filters/conv1", gray, step=2)
    w.scalar("robustness/acc", 0.5, step=1)
    w.scalar("robustness/acc", 0.875, step=2)
    w.text("notes/summary", "**bold** note", step=3)
    w.flush()

    with TensorBoardServer(tmp_path, timeout=60) as tb:
        pid = tb.pid
        tb.wait_for_tag(INSIGHT_SUBDIR, "robustness/acc", plugin="scalars", timeout=30)
        tb.wait_for_tag(INSIGHT_SUBDIR, "notes/summary", plugin="text", timeout=30)
        listing = tb.plugins_listing()
        assert listing["images"]["enabled"] and listing["scalars"]["enabled"]
        assert listing["text"]["enabled"]
        assert INSIGHT_SUBDIR in tb.runs()
        assert tb.image_tags(INSIGHT_SUBDIR) == ["filters/conv1", "gradcam/grid"]
        [(step, served)] = tb.images(INSIGHT_SUBDIR, "gradcam/grid")
        assert step == 1
        np.testing.assert_array_equal(served, picture)
        tags = tb.get_json("/data/plugin/images/tags")[INSIGHT_SUBDIR]
        assert tags["filters/conv1"]["samples"] == 3
        for k in range(3):
            [(step, served)] = tb.images(INSIGHT_SUBDIR, "filters/conv1", sample=k)
            assert step == 2
            np.testing.assert_array_equal(served, gray[k])
        assert tb.scalars(INSIGHT_SUBDIR, "robustness/acc") == [(1, 0.5), (2, 0.875)]
        [(step, html)] = tb.text(INSIGHT_SUBDIR, "notes/summary")
        assert step == 3 and "<strong>bold</strong>" in html
    # Stopped by PID: the process is gone.
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_concurrent_writes_from_threads_all_arrive(tmp_path):
    import threading

    w = get_writer(tmp_path)

    def write(name):
        for step in range(20):
            w.scalar(f"thread/{name}", float(step), step=step)

    threads = [threading.Thread(target=write, args=(n,)) for n in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.flush()
    events = read_events(w.path)
    for name in ("a", "b", "c"):
        assert events[f"thread/{name}"] == [(s, float(s)) for s in range(20)]
