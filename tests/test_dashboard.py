"""The Insight dashboard, end to end with real components.

One short fit per run (tiny CNN, 2 epochs) is shared by the module: run ``suite`` uses
``callbacks.suite`` as a user would; run ``every_epoch`` logs robustness, synthesis and
confusion every epoch and names a class ``<img src=x onerror=alert(1)>``. A real
TensorBoard on 127.0.0.1 serves the plugin; a real headless Chromium opens the tab and the
report file.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from conftest import require, require_module

from keras_insight.callbacks import (
    AdversarialRobustness,
    ClassSynthesis,
    ConfusionMatrix,
    GradCAM,
    Saliency,
    suite,
)
from keras_insight.core.engine import logits as model_logits
from keras_insight.dashboard import probe_record, write_report
from keras_insight.dashboard.report import build_views
from keras_insight.datasets import shapes
from keras_insight.tensorboard import read_events
from keras_insight.tensorboard.events import decode_png
from keras_insight.tensorboard.server import TensorBoardServer
from keras_insight.testing import small_cnn
from keras_insight.testing.browser import have_chromium, headless_chromium
from tensorboard_plugin_insight import metadata as md
from tensorboard_plugin_insight import viewer
from tensorboard_plugin_insight.plugin import static_file

XSS = "<img src=x onerror=alert(1)>"
NAMES = ["circle", XSS, "triangle"]
EPS = [0.0, 0.02, 0.05, 0.1]
EPOCHS = 2
RUN_A, RUN_B = "every_epoch/insight", "suite/insight"


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    root = tmp_path_factory.mktemp("insight_logs")
    x, y, _ = shapes(192, size=16, seed=0)
    xv, yv, _ = shapes(64, size=16, seed=1)
    keras.utils.set_random_seed(0)
    m_suite = small_cnn(num_classes=3)
    m_suite.compile("adam", "sparse_categorical_crossentropy")
    cbs = suite((xv, yv), str(root / "suite"), class_names=NAMES, overhead=None)
    m_suite.fit(x, y, epochs=EPOCHS, batch_size=32, verbose=0, callbacks=cbs)
    keras.utils.set_random_seed(1)
    model = small_cnn(num_classes=3)
    model.compile("adam", "sparse_categorical_crossentropy")
    d = str(root / "every_epoch")
    gradcam = GradCAM((xv, yv), d, class_names=NAMES, num_samples=12, strict=True)
    cbs = [
        gradcam,
        Saliency((xv, yv), d, methods=["vanilla"], class_names=NAMES, num_samples=12, strict=True),
        ConfusionMatrix((xv, yv), d, class_names=NAMES, strict=True),
        AdversarialRobustness(
            (xv, yv), d, num_samples=16, epsilons=EPS, attacks=["fgsm"], num_images=0, strict=True
        ),
        ClassSynthesis(d, validation_data=(xv, yv), steps=4, strict=True),
    ]
    model.fit(x, y, epochs=EPOCHS, batch_size=32, verbose=0, callbacks=cbs)
    return {"root": root, "model": model, "gradcam": gradcam, "events": read_events(d)}


@pytest.fixture(scope="module")
def tb(logs):
    with TensorBoardServer(logs["root"]) as server:
        deadline = time.monotonic() + 60
        while not server.plugins_listing().get("insight", {}).get("enabled"):
            assert time.monotonic() < deadline, "insight never enabled in /data/plugins_listing"
            time.sleep(0.25)
        while set(server.get_json("/data/plugin/insight/runs")["runs"]) != {RUN_A, RUN_B}:
            assert time.monotonic() < deadline, "TensorBoard did not load both runs"
            time.sleep(0.25)
        yield server


def _tensor_json(events, tag):
    return [(s, json.loads(v.item())) for s, v in events[tag]]


# ----------------------------------------------------------------------------- pure parts
def test_probe_record_is_softmax_top_k_and_correctness():
    # logits (0, 0, ln 3): p = (1/5, 1/5, 3/5); ties keep the lower class first.
    rec = probe_record(np.array([[0.0, 0.0, np.log(3.0)], [5.0, 1.0, 1.0]]), [2, 1], ["a", "b", "c"])
    assert rec["pred"] == [2, 0] and rec["correct"] == [True, False]
    assert rec["topk"][0] == [[2, 0.6], [0, 0.2], [1, 0.2]]
    assert rec["classes"] == ["a", "b", "c"] and rec["num_classes"] == 3
    with pytest.raises(ValueError, match="logits"):
        probe_record(np.zeros(3))


def test_timeline_definitions():
    assert viewer.forgetting_events([True, False, True, False]) == 2
    assert viewer.forgetting_events([False, False, True]) == 0
    assert viewer.first_correct([0, 2, 4], [False, False, True]) == 4
    assert viewer.first_correct([0, 1], [False, False]) is None
    assert viewer.keep_steps(list(range(100)), 16, 160) == [0, 11, 22, 33, 44, 55, 66, 77, 88, 99]
    assert viewer.keep_steps([3, 1, 2], 16, None) == [1, 2, 3]


class _FakeSource:
    """The ProviderSource interface over in-memory records (no TensorBoard)."""

    def __init__(self, records, n):
        self.records, self.n = records, n

    def insight_runs(self):
        return ["r"]

    def tensors(self, run, tag):
        return self.records if tag == md.PROBE_TAG else []

    def blob_tags(self, run, plugin):
        return [md.INPUT_TAG, md.overlay_tag("gradcam/grad_cam")] if plugin == md.PLUGIN_NAME else []

    def blob_counts(self, run, plugin, tags):
        steps = [s for s, _ in self.records]
        return {t: {s: self.n for s in steps} for t in tags}

    def scalars(self, run):
        return {}


def test_run_view_without_labels_and_with_a_cap():
    n = 4
    records = [(s, probe_record(np.eye(3)[[0, 1, 2, s % 3]] * (s + 1))) for s in range(6)]
    refs = []

    def ref(run, plugin, tag, step, index):
        refs.append((tag, step, index))
        return f"{tag}@{step}#{index}"

    view = viewer.run_view(_FakeSource(records, n), "r", ref, max_images_per_tag=3 * n)
    assert view["classes"] == ["0", "1", "2"] and view["steps"] == list(range(6))
    assert all(s["true"] is None and s["first_correct"] is None for s in view["samples"])
    assert [e["pred"][3] for e in view["epochs"]] == [0, 1, 2, 0, 1, 2]
    kept = sorted(view["overlays"]["gradcam/grad_cam"], key=int)
    assert kept == ["0", "2", "5"]  # evenly spaced, first and last kept: 3 epochs x 4 samples
    assert view["input"] == [f"{md.INPUT_TAG}@5#{i}" for i in range(n)]
    assert any("showing 3 of 6 epochs" in note for note in view["notes"])
    assert len(refs) == 2 * 3 * n  # only the kept images are referenced


def test_plugin_module_imports_only_tensorboard_and_stdlib():
    code = (
        "import sys; import tensorboard_plugin_insight.plugin; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'keras', 'keras_insight', 'tensorflow', 'PIL', 'matplotlib', 'sklearn'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- TensorBoard
def test_listing_and_run_route_return_what_was_written(logs, tb):
    assert tb.plugins_listing()["insight"]["loading_mechanism"] == {
        "type": "IFRAME",
        "module_path": "/data/plugin/insight/index.js",
    }
    view = tb.get_json("/data/plugin/insight/run", {"run": RUN_A})
    written = _tensor_json(logs["events"], md.PROBE_TAG)
    steps = sorted({s for s, _ in written})
    assert view["steps"] == steps == list(range(EPOCHS))
    assert view["classes"] == NAMES
    by_step = dict(written)
    for epoch in view["epochs"]:
        rec = by_step[epoch["step"]]
        assert epoch["pred"] == rec["pred"] and epoch["correct"] == rec["correct"]
        assert epoch["topk"] == rec["topk"]
    # The last record is the trained model's own prediction on the probe set.
    cb = logs["gradcam"]
    z = model_logits(logs["model"], cb.probe_x)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    last = view["epochs"][-1]
    assert last["pred"] == z.argmax(1).tolist()
    np.testing.assert_allclose([row[0][1] for row in last["topk"]], p.max(1), atol=1e-4)
    assert [s["true"] for s in view["samples"]] == cb.probe_y.tolist()
    for i, s in enumerate(view["samples"]):
        correct = [e["correct"][i] for e in view["epochs"]]
        assert s["first_correct"] == viewer.first_correct(steps, correct)
    # Images: the route's PNG is the written one, pixel for pixel.
    assert len(view["input"]) == 12
    step0, inputs = logs["events"][md.INPUT_TAG][-1]
    assert step0 == 0  # written at the first log of the fit
    png = tb.get_bytes("/data/plugin/insight/" + view["input"][3])
    np.testing.assert_array_equal(decode_png(png), decode_png(bytes(inputs.reshape(-1)[3])))
    assert set(view["overlays"]) == {"gradcam/grad_cam", "saliency/vanilla"}
    assert sorted(view["overlays"]["gradcam/grad_cam"], key=int) == [str(s) for s in steps]
    # Robustness: one curve per epoch, values equal the logged scalars.
    fgsm = [c for c in view["robustness"]["curves"] if c["attack"] == "linf_fgsm"]
    assert [c["step"] for c in fgsm] == steps and fgsm[0]["eps"] == EPS
    scal = dict(logs["events"]["robustness/linf_fgsm/acc_eps_0.05"])
    assert [c["acc"][2] for c in fgsm] == pytest.approx([scal[s] for s in steps])
    assert [s for s, _ in view["robustness"]["auc"]] == steps
    # Class view: confusion rows sum to the probe's class counts; trace/sum = accuracy.
    acc = dict(logs["events"]["confusion/accuracy"])
    for s, matrix in view["class_view"]["confusion"].items():
        m = np.array(matrix)
        assert m.trace() / m.sum() == pytest.approx(acc[int(s)])
        for c in range(3):
            row_acc = dict(logs["events"][f"confusion/acc_class_{c}"])[int(s)]
            assert m[c, c] / m[c].sum() == pytest.approx(row_acc)
    assert set(view["class_view"]["synthesis"]) == {"0", "1", "2"}
    ref = view["class_view"]["synthesis"]["1"][str(steps[-1])]
    assert decode_png(tb.get_bytes("/data/plugin/insight/" + ref)).shape[-1] in (1, 3)


def test_rust_data_server_serves_the_same_view(logs, tb):
    # A plain `tensorboard --logdir D` reads through the Rust data server when it can.
    data_server = require_module("tensorboard_data_server", "needs tensorboard-data-server")
    require(data_server.server_binary(), "no tensorboard-data-server binary for this platform")
    with TensorBoardServer(logs["root"], load_fast=True) as fast:
        deadline = time.monotonic() + 60
        while set(fast.get_json("/data/plugin/insight/runs")["runs"]) != {RUN_A, RUN_B}:
            assert time.monotonic() < deadline, "the Rust data server did not list both runs"
            time.sleep(0.25)
        assert fast.plugins_listing()["insight"]["enabled"]
        for run in (RUN_A, RUN_B):
            view = fast.get_json("/data/plugin/insight/run", {"run": run})
            assert view == tb.get_json("/data/plugin/insight/run", {"run": run})
        ref = "/data/plugin/insight/" + view["input"][0]
        assert fast.get_bytes(ref) == tb.get_bytes(ref)


def test_static_routes_serve_the_module(tb):
    for route, name in (("index.js", "insight.js"), ("style.css", "insight.css")):
        body = tb.get_bytes(f"/data/plugin/insight/{route}")
        assert body == static_file(name)
    assert b"export async function render()" in tb.get_bytes("/data/plugin/insight/index.js")


@pytest.mark.parametrize(
    "params, code",
    [
        ({"run": RUN_A, "plugin": "../../etc", "tag": md.INPUT_TAG, "step": 0, "index": 0}, 400),
        ({"run": RUN_A, "plugin": "insight", "tag": "../../etc/passwd", "step": 0, "index": 0}, 404),
        ({"run": "../../etc", "plugin": "insight", "tag": md.INPUT_TAG, "step": 0, "index": 0}, 404),
        ({"run": RUN_A, "plugin": "insight", "tag": md.INPUT_TAG, "step": "x", "index": 0}, 400),
        ({"run": RUN_A, "plugin": "insight", "tag": md.INPUT_TAG, "step": 0, "index": 99}, 404),
    ],
)
def test_image_route_takes_identifiers_only(tb, params, code):
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as err:
        tb.get_bytes("/data/plugin/insight/image", params)
    assert err.value.code == code


def test_listing_disables_insight_without_its_data(tmp_path):
    from keras_insight.tensorboard import get_writer

    w = get_writer(tmp_path)
    w.scalar("loss", 1.0, step=0)
    w.close()
    with TensorBoardServer(tmp_path) as server:
        deadline = time.monotonic() + 60
        while not server.plugins_listing()["scalars"]["enabled"]:
            assert time.monotonic() < deadline
            time.sleep(0.25)
        assert server.plugins_listing()["insight"]["enabled"] is False
        assert server.get_json("/data/plugin/insight/runs")["runs"] == []


# ----------------------------------------------------------------------------- report
def test_report_is_self_contained_and_matches_the_plugin(logs, tb, tmp_path):
    out = tmp_path / "report.html"
    info = write_report(logs["root"], out)
    page = out.read_text("utf-8")
    assert info["bytes"] == len(page.encode("utf-8")) and info["runs"] == [RUN_A, RUN_B]
    assert "http://" not in page and "https://" not in page
    assert re.search(r"<script[^>]*\bsrc=", page) is None and "<link" not in page
    assert "Content-Security-Policy" in page and "img-src data:;" in page
    # The user's class name is data, never markup: only its escaped form is in the page.
    assert XSS not in page and "\\u003cimg src=x onerror=alert(1)\\u003e" in page
    srcs = re.findall(r'"(data:image/png;base64,[^"]*)"', page)
    assert len(srcs) > 50
    # Same data as the plugin's route, image references aside.
    data = json.loads(re.search(r'id="insight-data">(.*?)</script>', page, re.S).group(1))
    routed = tb.get_json("/data/plugin/insight/run", {"run": RUN_A})
    embedded = data["views"][RUN_A]
    for key in ("steps", "epochs", "samples", "classes", "robustness", "accuracy"):
        assert embedded[key] == routed[key], key
    assert embedded["class_view"]["confusion"] == routed["class_view"]["confusion"]
    assert {k: sorted(v) for k, v in embedded["overlays"].items()} == {
        k: sorted(v) for k, v in routed["overlays"].items()
    }


def test_report_caps_images_per_tag_and_says_so(logs):
    data = build_views(logs["root"], max_images_per_tag=12)  # 12 samples: one epoch per tag
    view = data["views"][RUN_A]
    assert list(view["overlays"]["gradcam/grad_cam"]) == [str(EPOCHS - 1)]
    assert any("showing 1 of 2 epochs" in n for n in view["notes"])


def test_report_command_on_missing_or_empty_dir_is_one_line_exit_2(tmp_path, capsys):
    from keras_insight.cli import main
    from keras_insight.tensorboard import get_writer

    empty, scalars_only = tmp_path / "empty", tmp_path / "scalars_only"
    empty.mkdir()
    w = get_writer(scalars_only)
    w.scalar("loss", 1.0, step=0)
    w.close()
    expected = {
        tmp_path / "missing": "is not a directory",
        empty: "no event files",
        scalars_only: "no insight data",
    }
    for target, message in expected.items():
        assert main(["report", str(target), "-o", str(tmp_path / "r.html")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("keras-insight report: ")
        assert message in err
    assert not (tmp_path / "r.html").exists()


# ----------------------------------------------------------------------------- browser
@pytest.fixture(scope="module")
def browser():
    require_module("selenium.webdriver", "needs selenium (pip install -e .[dev])")
    require(have_chromium(), "needs Debian chromium and chromium-driver (scripts/install.sh dev)")
    with headless_chromium(height=1800) as driver:
        yield driver


def _wait(driver, predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting in the browser"
        time.sleep(0.2)


def _js(driver, code):
    return driver.execute_script(code)


def _check_viewer(driver, view):
    """Assertions shared by both hosts; the driver is inside the viewer's document and
    ``view`` is the viewer JSON of the first run."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _wait(driver, lambda: _js(driver, "return document.getElementById('insight-app')?.dataset.ready"))
    # Every panel renders.
    for panel in ("timeline", "classes", "robustness", "compare"):
        assert driver.find_element(By.ID, f"panel-{panel}").is_displayed()
    assert len(driver.find_elements(By.CSS_SELECTOR, "#sample-picker .thumb")) == 12
    assert len(driver.find_elements(By.CSS_SELECTOR, "#panel-classes tbody tr")) == 3
    assert len(driver.find_elements(By.CSS_SELECTOR, "#panel-compare .compare-col")) == 2
    assert len(driver.find_elements(By.CSS_SELECTOR, "#compare-classes tbody tr")) == 3
    # First-correct epochs and forgetting events are marked on the thumbnails.
    badges = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "#sample-picker .badges")]
    assert len(badges) == len(view["samples"])
    for s, text in zip(view["samples"], badges):
        if s["first_correct"] is not None:
            assert f"\u2605{s['first_correct'] + 1}" in text
        assert ("\u21ba" in text) == (s["forgetting"] > 0)
    # The robustness curves are drawn: some canvas pixel is not white.
    drawn = _js(
        driver,
        "const c = document.getElementById('robustness-curves');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 200) n++; return n;",
    )
    assert drawn > 100
    # Every <img> decoded.
    _wait(driver, lambda: _js(driver, "return [...document.images].every((i) => i.complete)"))
    widths = _js(driver, "return [...document.images].map((i) => i.naturalWidth)")
    assert widths and min(widths) > 0
    # The class named like markup is text (no <img> from it, no alert).
    heads = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#panel-classes tbody th")]
    assert heads == NAMES
    assert _js(driver, "return document.querySelectorAll('img[src=\"x\"]').length") == 0

    def card():
        imgs = driver.find_elements(By.CSS_SELECTOR, "#timeline-card img")
        label = driver.find_element(By.ID, "pred-label").text
        return [i.get_attribute("src") for i in imgs], label

    # The epoch slider moves the card: another Grad-CAM picture and another label.
    srcs_last, label_last = card()
    slider = driver.find_element(By.ID, "epoch-slider")
    slider.click()
    slider.send_keys(Keys.HOME)
    _wait(driver, lambda: card()[1] != label_last)
    srcs_first, label_first = card()
    assert srcs_first[0] == srcs_last[0]  # the input is the same image
    assert srcs_first[1] != srcs_last[1]  # Grad-CAM of another epoch
    assert "epoch 1" in driver.find_element(By.ID, "epoch-label").text
    # The play button steps through the epochs.
    driver.find_element(By.ID, "play").click()
    _wait(driver, lambda: "epoch 2" in driver.find_element(By.ID, "epoch-label").text)
    _wait(driver, lambda: card()[1] == label_last)
    assert driver.find_element(By.ID, "play").text.endswith("play")  # stopped on the last
    # The sample picker switches the timeline.
    driver.find_elements(By.CSS_SELECTOR, "#sample-picker .thumb")[7].click()
    _wait(driver, lambda: card()[0][0] != srcs_first[0])
    selected = driver.find_elements(By.CSS_SELECTOR, "#sample-picker .thumb.selected")
    assert [s.get_attribute("data-index") for s in selected] == ["7"]
    slider.send_keys(Keys.END)
    _wait(driver, lambda: "epoch 2" in driver.find_element(By.ID, "epoch-label").text)


def test_browser_report(logs, browser, tmp_path):
    out = tmp_path / "report.html"
    write_report(logs["root"], out)
    start = time.perf_counter()
    browser.get(out.as_uri())
    _check_viewer(browser, build_views(logs["root"])["views"][RUN_A])
    print(f"report: {out.stat().st_size} bytes, viewer ready in {time.perf_counter() - start:.2f} s")
    logs_ = browser.get_log("browser") if hasattr(browser, "get_log") else []
    assert not [e for e in logs_ if e.get("level") == "SEVERE"], logs_
    browser.save_screenshot(str(tmp_path / "report.png"))


def test_browser_tensorboard_tab(tb, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(tb.url + "/#insight")
    frame = _wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "iframe"))[0]
    browser.switch_to.frame(frame)
    try:
        _check_viewer(browser, tb.get_json("/data/plugin/insight/run", {"run": RUN_A}))
    finally:
        browser.switch_to.default_content()
    browser.save_screenshot(str(tmp_path / "tensorboard_tab.png"))


def test_report_command_writes_the_same_page_without_tensorflow(logs, tmp_path):
    # The command reads local event files with TensorBoard's pure-Python reader (no
    # TensorFlow import); the page must be byte-identical to the library's.
    out_cli, out_lib = tmp_path / "cli.html", tmp_path / "lib.html"
    code = (
        "import sys; from keras_insight.cli import main; rc = main(sys.argv[1:]); "
        "assert 'tensorflow' not in sys.modules; sys.exit(rc)"
    )
    args = ["report", str(logs["root"]), "-o", str(out_cli)]
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out_cli} (")
    write_report(logs["root"], out_lib)
    assert out_cli.read_bytes() == out_lib.read_bytes()
