"""Headless Chromium for the dashboard test, its figures and the gallery's TensorBoard
screenshots: Debian ``chromium`` + ``chromium-driver`` driven by selenium (the ``dev``
extra; ``bash scripts/install.sh dev`` installs all three)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def have_chromium() -> bool:
    """Whether the Debian browser and its driver are installed.

    Example:
        >>> isinstance(have_chromium(), bool)
        True
    """
    return os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)


@contextlib.contextmanager
def headless_chromium(width: int = 1280, height: int = 1000):
    """A selenium Chrome driver on headless :data:`CHROMIUM` with a ``width`` x ``height``
    window and a throwaway profile (no sync, updates or background networking); on exit
    the browser quits and the profile is deleted.

    Usage::

        with headless_chromium(height=1800) as driver:
            driver.get("file:///tmp/report.html")
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="ki-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        opts.add_argument(flag)
    try:
        driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
        try:
            yield driver
        finally:
            driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
