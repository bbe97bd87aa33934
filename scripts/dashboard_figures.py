"""Measure the Insight dashboard and take its screenshots (the figures in docs/dashboard.md).

Usage:
    keras-insight demo --log-dir logs/demo            # 3 epochs on Fashion-MNIST
    python3 scripts/dashboard_figures.py logs/demo docs/images

Prints, as JSON: the report's size and build time, the time until a headless Chromium
shows the report and the TensorBoard tab ready (every image decoded), and the median
response time of each insight route over 20 requests. Needs /usr/bin/chromium,
/usr/bin/chromedriver and selenium (``bash scripts/install.sh dev``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from selenium.webdriver.common.by import By

from keras_insight.dashboard.report import write_report
from keras_insight.tensorboard.server import TensorBoardServer
from keras_insight.testing.browser import headless_chromium

READY = (
    "const a = document.getElementById('insight-app');"
    "return !!(a && a.dataset.ready && [...document.images].every((i) => i.complete));"
)


def _until(fn, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (value := fn()):
        if time.monotonic() > deadline:
            raise TimeoutError("the viewer did not get ready")
        time.sleep(0.02)
    return value


def _median_ms(fn, n: int = 20) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return round(statistics.median(times), 1)


def main(logdir: str, images: str) -> dict:
    os.makedirs(images, exist_ok=True)
    work = tempfile.mkdtemp(prefix="ki-figures-")
    figures: dict = {}
    report = Path(work) / "report.html"
    info = write_report(logdir, report)
    figures["report_bytes"] = info["bytes"]
    figures["report_build_s"] = round(info["seconds"], 2)
    with headless_chromium(height=2300) as driver, contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        start = time.perf_counter()
        driver.get(report.as_uri())
        _until(lambda: driver.execute_script(READY))
        figures["report_load_s"] = round(time.perf_counter() - start, 2)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, height + 140)  # the whole page in one screenshot
        driver.save_screenshot(os.path.join(images, "dashboard_report.png"))
        with TensorBoardServer(logdir) as tb:
            _until(lambda: tb.plugins_listing().get("insight", {}).get("enabled"))
            runs = tb.get_json("/data/plugin/insight/runs")["runs"]
            view = tb.get_json("/data/plugin/insight/run", {"run": runs[0]})
            gradcam = next(iter(view["overlays"].values()))
            image = "/data/plugin/insight/" + gradcam[max(gradcam, key=int)][0]
            figures["run_json_bytes"] = len(tb.get_bytes("/data/plugin/insight/run", {"run": runs[0]}))
            figures["route_ms"] = {
                "runs": _median_ms(lambda: tb.get_bytes("/data/plugin/insight/runs")),
                "run": _median_ms(
                    lambda: tb.get_bytes("/data/plugin/insight/run", {"run": runs[0]})
                ),
                "image": _median_ms(lambda: tb.get_bytes(image)),
                "index.js": _median_ms(lambda: tb.get_bytes("/data/plugin/insight/index.js")),
            }
            driver.set_window_size(1280, 1500)
            start = time.perf_counter()
            driver.get(tb.url + "/#insight")
            frame = _until(lambda: driver.find_elements(By.CSS_SELECTOR, "iframe"))[0]
            driver.switch_to.frame(frame)
            _until(lambda: driver.execute_script(READY))
            figures["tab_load_s"] = round(time.perf_counter() - start, 2)
            driver.switch_to.default_content()
            driver.save_screenshot(os.path.join(images, "dashboard_tab.png"))
    return figures


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=1))
