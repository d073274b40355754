"""The Diagnosis tab in a real `tensorboard` process, driven by headless Chromium.

Uses Debian's /usr/bin/chromium through Playwright (`executable_path`);
Playwright's own browser download is not available here. `.ci/run` installs
Chromium, so in CI a missing browser is a failure, not a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_cli import HOSTILE, healthy, write_run

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
# The README's picture: refreshed only on request, so a test run leaves the tree clean.
SCREENSHOT = ROOT / "docs" / "diagnosis_tab.png" if os.environ.get("UPDATE_SCREENSHOT") else None
SIGNALS_SCREENSHOT = ROOT / "docs" / "diagnosis_tab_callback.png" if os.environ.get("UPDATE_SCREENSHOT") else None
DEMO_RUNS = len(json.loads((ROOT / "demo_logs" / "expected.json").read_text()))

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip("Debian chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tensorboard(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("tab") / "logs"
    shutil.copytree(ROOT / "demo_logs", logdir, ignore=shutil.ignore_patterns("*.py", "*.md", "*.json"))
    write_run(logdir / HOSTILE, **{"Loss/train": healthy(), "Loss/val": [v * 1.05 for v in healthy()]})
    port = free_port()
    exe = Path(sys.executable).parent / "tensorboard"
    proc = subprocess.Popen(
        [str(exe), "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            runs = json.load(urllib.request.urlopen(f"{url}/data/plugin/tb_recipe/runs", timeout=5))["runs"]
            if len(runs) >= DEMO_RUNS + 1:  # and the hostile one
                break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"tensorboard did not come up: {proc.stderr.read()[-2000:]}")
        time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def page(tensorboard):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.errors = []
        page.on("console", lambda msg: msg.type == "error" and page.errors.append(msg.text))
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.goto(f"{tensorboard}/#tb_recipe", wait_until="networkidle")
        yield page
        browser.close()


def tab(page):
    return page.frame_locator("iframe")


def test_tab_lists_runs_errors_first_with_hostile_name_as_text(page):
    frame = tab(page)
    runs = frame.locator("#runs .run")
    runs.first.wait_for(timeout=60_000)
    names = runs.locator(".name").all_text_contents()
    assert "keras_overfitting" in names and HOSTILE in names
    assert runs.first.locator(".badge").text_content() == "error"
    assert frame.locator("img").count() == 0  # the hostile name was not parsed as HTML


def test_known_run_shows_findings_chart_and_highlight(page):
    frame = tab(page)
    frame.locator("#filter").fill("overfit")
    frame.locator(".run[data-run='keras_overfitting']").click()
    card = frame.locator(".card[data-code='overfitting']")
    card.wait_for(timeout=30_000)
    assert "bottomed at" in card.text_content()
    frame.locator("#chart-loss .main-svg").first.wait_for(timeout=30_000)
    chart = frame.locator("#chart-loss")
    shapes = chart.evaluate("el => el.layout.shapes.map(s => s.name)")
    assert "overfitting" in shapes
    card.click()
    frame.locator(".card.selected[data-code='overfitting']").wait_for(timeout=10_000)
    page.wait_for_timeout(500)
    assert "selected" in chart.evaluate("el => el.layout.shapes.map(s => s.name)")
    shot = page.screenshot(path=str(SCREENSHOT) if SCREENSHOT else None)
    assert len(shot) > 10_000


def test_nan_steps_are_marked(page):
    frame = tab(page)
    frame.locator("#filter").fill("")
    frame.locator(".run[data-run='keras_nan_divergence']").click()
    frame.locator("#chart-loss .main-svg").first.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    names = frame.locator("#chart-loss").evaluate("el => el.data.map(t => t.name)")
    assert any("non-finite" in n for n in names)


def test_batch_loss_has_its_own_chart(page):
    frame = tab(page)
    frame.locator(".run[data-run='keras_batch_logging']").click()
    frame.locator("#chart-batch .main-svg").first.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    loss_tags = frame.locator("#chart-loss").evaluate("el => el.data.map(t => t.name)")
    batch_tags = frame.locator("#chart-batch").evaluate("el => el.data.map(t => t.name)")
    assert "train/batch_loss" in batch_tags and "train/batch_loss" not in loss_tags


def test_callback_signals_chart_with_the_finding_range(page):
    frame = tab(page)
    frame.locator("#filter").fill("vanishing")
    frame.locator(".run[data-run='keras_vanishing_sigmoid']").click()
    card = frame.locator(".card[data-code='vanishing_gradients']")
    card.wait_for(timeout=30_000)
    assert "dense_8" in card.text_content()
    frame.locator("#chart-signal .main-svg").first.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    chart = frame.locator("#chart-signal")
    traces = chart.evaluate("el => el.data.map(t => t.name)")
    assert "train/tb_recipe/grad_norm" in traces and "train/tb_recipe/layer/grad_norm/dense" in traces
    assert chart.evaluate("el => el.layout.yaxis.type") == "log"
    assert "vanishing_gradients" in chart.evaluate("el => el.layout.shapes.map(s => s.name)")
    if SIGNALS_SCREENSHOT:
        chart.scroll_into_view_if_needed()
        page.screenshot(path=str(SIGNALS_SCREENSHOT))
    frame.locator("#filter").fill("")


def test_language_switch(page):
    frame = tab(page)
    frame.locator(".run[data-run='keras_nan_divergence']").click()
    frame.locator(".card[data-code='nonfinite_loss']").wait_for(timeout=30_000)
    frame.locator("button[data-lang='zh']").click()
    frame.locator("#title").filter(has_text="诊断").wait_for(timeout=10_000)
    frame.locator(".card").first.wait_for(timeout=30_000)
    assert "损失出现 NaN/Inf" in frame.locator("#main").text_content()
    frame.locator("button[data-lang='en']").click()


def test_follows_tensorboards_dark_mode(page):
    frame = tab(page)
    page.evaluate("document.body.classList.add('dark-mode')")
    frame.locator("html.dark").wait_for(state="attached", timeout=10_000)
    background = frame.locator("body").evaluate("el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(48, 48, 48)"
    page.evaluate("document.body.classList.remove('dark-mode')")
    frame.locator("html:not(.dark)").wait_for(state="attached", timeout=10_000)


def test_no_console_errors(page):
    assert not [e for e in page.errors if "favicon" not in e], page.errors
