"""A real `tensorboard` process and a headless Chromium page on its Diagnosis tab, for the browser tests.

Chromium is Debian's /usr/bin/chromium, driven through Playwright's `executable_path` (Playwright's own browser
download is not available here). Both are generators for module-scoped fixtures: they yield, then clean up.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
TENSORBOARD = "import sys; from tensorboard.main import run_main; sys.argv[0] = 'tensorboard'; sys.exit(run_main())"
"""What the `tensorboard` command runs: the plugin is loaded through its `tensorboard_plugins` entry point."""
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(logdir: Path, ready: Callable[[str], bool], launch: str = TENSORBOARD, timeout: float = 120) -> Iterator[str]:
    """Start TensorBoard on `logdir` (`launch`: the Python code that runs it), yield its URL once `ready(url)`.

    Its log goes to a file beside the logdir (a pipe nobody drains while tests run could block it) and is shown
    when it does not come up in `timeout` seconds."""
    port = free_port()
    log = (logdir.parent / "tensorboard.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-c", launch, "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while not ready(url):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            log.seek(0)
            pytest.fail(f"tensorboard did not come up: {log.read()[-2000:]}")
        time.sleep(0.5)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def open_tab(sync_api, url: str) -> Iterator:  # noqa: ANN001 - playwright.sync_api, imported by the test module
    """A 1400x1000 page on the Diagnosis tab; `page.errors` collects console errors and uncaught exceptions."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.errors = []
        page.on("console", lambda msg: msg.type == "error" and page.errors.append(msg.text))
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.goto(f"{url}/#tb_recipe", wait_until="networkidle")
        yield page
        browser.close()
