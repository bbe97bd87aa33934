"""A real ``tensorboard`` subprocess on loopback, and a client for its HTTP data API.

Used to prove that users will see what the writers store: the test reads pixels back
through the images plugin, not just from the event files.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from keras_insight.tensorboard.events import decode_png

__all__ = ["TensorBoardServer"]

_HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((_HOST, 0))
        return int(s.getsockname()[1])


class TensorBoardServer:
    """Run ``tensorboard --logdir D --host 127.0.0.1`` as a subprocess for a ``with`` block.

    Starts ``python -m tensorboard.main`` with ``--load_fast=false`` by default (the
    pure-Python loader, no Rust data server needed), waits up to ``timeout`` seconds for
    ``/data/environment``, and stops the process by its PID on exit (terminate, then kill).

    Args:
        logdir: directory TensorBoard watches (a ``log_dir``; runs are its sub-directories).
        port: port on 127.0.0.1. Default: a free one.
        timeout: seconds to wait for the server to answer. Default 60.
        reload_interval: seconds between TensorBoard's reloads of the logdir. Default 1.
        load_fast: use TensorBoard's Rust data server (``--load_fast=true``, what a plain
            ``tensorboard --logdir D`` picks when it can) instead of the Python loader.

    Example:
        >>> with TensorBoardServer("logs") as tb:  # doctest: +SKIP
        ...     tb.wait_for_tag("insight", "gradcam/grid", plugin="images")
        ...     step, pixels = tb.images("insight", "gradcam/grid")[-1]
    """

    def __init__(
        self,
        logdir: str | os.PathLike,
        port: int | None = None,
        *,
        timeout: float = 60.0,
        reload_interval: float = 1.0,
        load_fast: bool = False,
    ) -> None:
        self.logdir = os.fspath(logdir)
        self.port = int(port) if port else _free_port()
        self.timeout = float(timeout)
        self.reload_interval = reload_interval
        self.load_fast = bool(load_fast)
        self.url = f"http://{_HOST}:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def pid(self) -> int | None:
        """PID of the TensorBoard process while it runs."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> TensorBoardServer:
        """Start the subprocess and block until it serves ``/data/environment``."""
        cmd = [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            self.logdir,
            "--host",
            _HOST,
            "--port",
            str(self.port),
            f"--load_fast={'true' if self.load_fast else 'false'}",
            "--reload_interval",
            str(self.reload_interval),
        ]
        # A file, not a pipe: a full pipe would block TensorBoard; kept for error messages.
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                if self._proc.poll() is not None:
                    raise RuntimeError(
                        f"tensorboard exited with code {self._proc.returncode}:\n{self.log_tail()}"
                    )
                try:
                    self.get_json("/data/environment")
                    return self
                except (urllib.error.URLError, ConnectionError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"tensorboard did not answer on {self.url} within {self.timeout:.0f} s:\n"
                        f"{self.log_tail()}"
                    )
                time.sleep(0.25)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Terminate the process by its PID (kill after 10 s); safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def log_tail(self, n_chars: int = 4000) -> str:
        """The end of TensorBoard's combined stdout/stderr."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-n_chars:]

    def __enter__(self) -> TensorBoardServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop()
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    # HTTP client --------------------------------------------------------------------

    def get_bytes(self, path: str, params: dict[str, Any] | None = None) -> bytes:
        """GET ``path`` (e.g. ``/data/runs``) with query ``params``; raw body."""
        url = self.url + path
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.read()

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` and parse the JSON body."""
        return json.loads(self.get_bytes(path, params).decode("utf-8"))

    def runs(self) -> list[str]:
        """Run names TensorBoard has loaded (e.g. ``["insight", "train"]``)."""
        return list(self.get_json("/data/runs"))

    def plugins_listing(self) -> dict[str, Any]:
        """``/data/plugins_listing``: plugin name -> info, with ``enabled`` per plugin."""
        return self.get_json("/data/plugins_listing")

    def image_tags(self, run: str) -> list[str]:
        """Image tags of ``run`` from ``/data/plugin/images/tags``
        (shape ``{run: {tag: {"displayName", "description", "samples"}}}``)."""
        return sorted(self.get_json("/data/plugin/images/tags").get(run, {}))

    def wait_for_tag(
        self, run: str, tag: str, *, plugin: str = "images", timeout: float | None = None
    ) -> None:
        """Poll ``/data/plugin/<plugin>/tags`` until ``run`` lists ``tag``.

        TensorBoard loads the logdir in the background after it starts answering, so a
        fresh server may not list the runs yet. (The text plugin's tags are a list per run,
        the others a dict; ``in`` works on both.)
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if tag in self.get_json(f"/data/plugin/{plugin}/tags").get(run, {}):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"TensorBoard did not list {plugin} tag {tag!r} of run {run!r}")
            time.sleep(0.25)

    def images(self, run: str, tag: str, sample: int = 0) -> list[tuple[int, Any]]:
        """Each step's image ``sample`` of ``tag`` as ``(step, uint8 (H, W, C))``, via
        ``/data/plugin/images/images`` and ``individualImage``."""
        entries = self.get_json(
            "/data/plugin/images/images", {"run": run, "tag": tag, "sample": sample}
        )
        out = []
        for entry in entries:
            png = self.get_bytes("/data/plugin/images/individualImage?" + entry["query"])
            out.append((int(entry["step"]), decode_png(png)))
        return out

    def scalars(self, run: str, tag: str) -> list[tuple[int, float]]:
        """``(step, value)`` pairs from ``/data/plugin/scalars/scalars``."""
        rows = self.get_json("/data/plugin/scalars/scalars", {"run": run, "tag": tag})
        # Rows are [wall_time, step, value].
        return [(int(step), float(value)) for _, step, value in rows]

    def text(self, run: str, tag: str) -> list[tuple[int, str]]:
        """``(step, html)`` pairs from ``/data/plugin/text/text`` (markdown rendered to HTML)."""
        rows = self.get_json("/data/plugin/text/text", {"run": run, "tag": tag})
        return [(int(row["step"]), str(row["text"])) for row in rows]
