"""Headless Debian Chromium driven over the Chrome DevTools protocol, for everything a
person looks at (the HTML report, the Prefect UI) and for the screenshots under docs/.

Chromium is Debian's `chromium` package: installed when it is missing and this runs as
root with apt-get (CI's machine); otherwise `ChromiumUnavailable` says why, and tests
skip with that reason (`pytest_browser`).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


class ChromiumUnavailable(RuntimeError):
    """Chromium is missing and cannot be installed here; the message says why."""


def find_chromium() -> str:
    """The chromium executable, installing Debian's package first when possible."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ChromiumUnavailable(f"{CHROMIUM} is missing and cannot be installed here (needs "
                                  "root and apt-get: `apt-get install -y chromium`)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        proc = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ChromiumUnavailable(f"apt-get install chromium failed: "
                                      f"{proc.stderr.strip()[-300:]}")
    return CHROMIUM


class DevTools:
    """A minimal Chrome DevTools protocol client: one page target, flat session."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=None, open_timeout=20)
        self.next_id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]

    def call(self, method: str, session: bool = False, timeout: float = 60, **params) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def page(self, method: str, **params) -> dict:
        return self.call(method, session=True, **params)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while time.monotonic() < deadline:
            event = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            self.events.append(event)
            if event.get("method") == method:
                return event
        raise TimeoutError(method)

    def drain(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                self.events.append(json.loads(self.ws.recv(timeout=left)))
            except TimeoutError:
                break

    def evaluate(self, expression: str):
        result = self.page("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def wait_until(self, expression: str, timeout: float = 90, poll: float = 0.5):
        """Poll a JavaScript expression until it is truthy (an SPA rendering); returns it."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false after {timeout:.0f}s: {expression}")
            self.drain(poll)

    def screenshot(self, width: int = 1400, height: int | None = None) -> bytes:
        """A PNG of the page at `width` (full page height unless given)."""
        if height is None:
            height = int(self.page("Page.getLayoutMetrics")["cssContentSize"]["height"])
        self.page("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self.drain(0.5)
        shot = self.page("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        self.page("Emulation.clearDeviceMetricsOverride")
        return base64.b64decode(shot["data"])


@contextmanager
def launch(profile: Path, exe: str | None = None, window: str = "1400,900") -> Iterator[DevTools]:
    """Start headless Chromium with its profile in `profile`; yields a DevTools client."""
    exe = exe or find_chromium()
    proc = subprocess.Popen(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", f"--window-size={window}",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.exists() and len(active.read_text().splitlines()) >= 2):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not open its DevTools port (exit {proc.poll()})")
            time.sleep(0.1)
        port, path = active.read_text().splitlines()[:2]
        client = DevTools(f"ws://127.0.0.1:{port}{path}")
        try:
            yield client
        finally:
            client.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def pytest_browser(tmp_path: Path) -> Iterator[DevTools]:
    """Body of a pytest `browser` fixture: skips with the reason when Chromium is missing."""
    import pytest

    try:
        exe = find_chromium()
    except ChromiumUnavailable as exc:
        pytest.skip(str(exc))
    with launch(tmp_path / "profile", exe) as client:
        yield client
