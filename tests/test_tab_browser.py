"""The Diagnosis tab in a real `tensorboard` process, driven by headless Chromium.

Uses Debian's /usr/bin/chromium through Playwright (`executable_path`);
Playwright's own browser download is not available here. `.ci/run` installs
Chromium, so in CI a missing browser is a failure, not a skip.

The process is TensorBoard's own `run_main` (what the `tensorboard` command
runs, loading the plugin through its `tensorboard_plugins` entry point) with
one rule made to fail for the run ANALYSIS_BUG, so that the tab's display of an
analysis error is checked without relying on a real bug.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tb_recipe_plugin.present.safe_text import visible
from tests.browser import CHROMIUM, ROOT, open_tab, serve
from tests.test_cli import HOSTILE, healthy, write_run
from tests.test_plugin_display import NAMES, TRAIN_TAG, VAL_TAG, overfitting

# The README's picture: refreshed only on request, so a test run leaves the tree clean.
SCREENSHOT = ROOT / "docs" / "diagnosis_tab.png" if os.environ.get("UPDATE_SCREENSHOT") else None
SIGNALS_SCREENSHOT = ROOT / "docs" / "diagnosis_tab_callback.png" if os.environ.get("UPDATE_SCREENSHOT") else None
VERDICT_SCREENSHOTS = ROOT / "docs" if os.environ.get("UPDATE_SCREENSHOT") else None
SWEEP = "a_sweep_with_a_long_shared_name_2026_11_30"  # runs of a sweep: names that differ only at the end
DEMO_RUNS = len(json.loads((ROOT / "demo_logs" / "expected.json").read_text()))
ANALYSIS_BUG = "analysis_bug"
UNDECODABLE = b"bad\xffbyte"  # a folder name that is not UTF-8 (Linux allows any byte but / and NUL)
# TensorBoard's data server (the default loader) replaces that byte by U+FFFD before the plugin sees the name.
UNDECODABLE_SHOWN = "bad\ufffdbyte"

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip("Debian chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def tensorboard(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("tab") / "logs"
    shutil.copytree(ROOT / "demo_logs", logdir, ignore=shutil.ignore_patterns("*.py", "*.md", "*.json"))
    write_run(logdir / HOSTILE, **{"Loss/train": healthy(), "Loss/val": [v * 1.05 for v in healthy()]})
    for name in NAMES:
        write_run(logdir / name, **overfitting())
    write_run(logdir / ANALYSIS_BUG, **overfitting())
    for lr in ("lr_0.1", "lr_0.01"):
        write_run(logdir / SWEEP / lr, **overfitting())
    if sys.platform == "linux":
        write_run(logdir / "undecodable", **overfitting())
        os.rename(logdir / "undecodable", os.fsencode(logdir) + b"/" + UNDECODABLE)
    expected_runs = DEMO_RUNS + 4 + len(NAMES) + (sys.platform == "linux")

    def ready(url: str) -> bool:
        try:
            runs = json.load(urllib.request.urlopen(f"{url}/data/plugin/tb_recipe/runs", timeout=5))["runs"]
        except OSError:
            return False
        return len(runs) >= expected_runs

    launch = f"from tests.tb_app import serve_with_a_failing_rule as serve; serve({ANALYSIS_BUG!r})"
    yield from serve(logdir, ready, launch)


@pytest.fixture(scope="module")
def page(tensorboard):
    yield from open_tab(sync_api, tensorboard)


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


def show_run(page, shown: str) -> dict[str, list[str]]:
    """Click the run listed as `shown`; the query string the tab sent for its diagnosis."""
    frame = tab(page)
    frame.locator("#filter").fill("")
    with page.expect_request(lambda r: "/tb_recipe/diagnosis?" in r.url) as request:
        frame.locator("#runs .run .name").get_by_text(shown, exact=True).click()
    frame.locator("#main h2").filter(has_text=shown).wait_for(timeout=30_000)
    return parse_qs(urlparse(request.value.url).query)


@pytest.mark.parametrize("name", NAMES)
def test_hostile_names_are_shown_visibly_and_requested_raw(page, name):
    frame = tab(page)
    shown = visible(name)
    assert shown in frame.locator("#runs .run .name").all_text_contents()
    assert show_run(page, shown)["run"] == [name]  # the identifier is the raw name
    assert frame.locator("#main h2").text_content().endswith(" " + shown)
    card = frame.locator(".card[data-code='overfitting'] .message")
    card.wait_for(timeout=30_000)
    assert visible(VAL_TAG) in card.text_content() and visible(TRAIN_TAG) in card.text_content()
    frame.locator("#chart-loss .legendtext").first.wait_for(timeout=30_000)
    legend = frame.locator("#chart-loss .legendtext").all_text_contents()
    assert visible(TRAIN_TAG) in legend and visible(VAL_TAG) in legend
    text = frame.locator("#app").text_content()
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text and name not in text
    assert f"lowest {visible(VAL_TAG)}" in text and f"train_loss={visible(TRAIN_TAG)}" in text


@pytest.mark.skipif(sys.platform != "linux", reason="a folder name with byte 0xFF needs Linux")
def test_a_name_that_is_not_utf8_is_listed_and_opens(page):
    frame = tab(page)
    assert UNDECODABLE_SHOWN in frame.locator("#runs .run .name").all_text_contents()
    assert show_run(page, UNDECODABLE_SHOWN)["run"] == [UNDECODABLE_SHOWN]
    frame.locator(".card[data-code='overfitting']").wait_for(timeout=30_000)


def test_an_analysis_error_is_shown_apart_from_read_errors(page):
    frame = tab(page)
    row = frame.locator(f".run[data-run='{ANALYSIS_BUG}']")
    assert row.locator(".badge").text_content() == "error"
    assert "analysis failed" in row.locator(".count").text_content()
    show_run(page, ANALYSIS_BUG)
    failures = frame.locator("#main .analysis-errors")
    failures.wait_for(timeout=30_000)
    assert failures.locator("h3").text_content() == "Analysis failed (a tb-recipe bug; please report it)"
    assert failures.locator("li").all_text_contents() == [
        "rule nonfinite_loss failed: IndexError: injected failure for the tab test"
    ]
    assert frame.locator("#main .read-errors").count() == 0
    assert frame.locator(".card[data-code='overfitting']").count() == 1  # the other rules still ran
    frame.locator("button[data-lang='zh']").click()
    zh_heading = frame.locator("#main .analysis-errors h3").filter(has_text="分析失败（tb-recipe 的缺陷，请报告）")
    zh_heading.wait_for(timeout=30_000)
    assert "分析失败" in frame.locator(f".run[data-run='{ANALYSIS_BUG}'] .count").text_content()
    frame.locator("button[data-lang='en']").click()
    frame.locator("#title").filter(has_text="Diagnosis").wait_for(timeout=10_000)


VERDICTS = {
    "keras_overfitting": ("Overfitting: validation/epoch_loss was best at epoch 9", "early_stopping"),
    "keras_nan_divergence": ("the learning rate had risen 10.6x", "lower_lr"),
    "keras_healthy": ("Healthy, and validation/epoch_loss was still improving", "train_longer"),
}


@pytest.mark.parametrize("run", list(VERDICTS))
def test_verdict_and_actions_come_before_the_charts(page, run):
    """Issue 9: what is wrong and what to try first, above the curves; the finding cards below them."""
    frame = tab(page)
    frame.locator("#filter").fill("")
    frame.locator(f".run[data-run='{run}']").click()
    frame.locator("#main h2").filter(has_text=run).wait_for(timeout=30_000)
    text, first_action = VERDICTS[run]
    verdict = frame.locator(".verdict .headline")
    verdict.wait_for(timeout=30_000)
    assert text in verdict.text_content()
    actions = frame.locator(".verdict ol.actions li")
    assert 1 <= actions.count() <= 3 and actions.first.get_attribute("data-action") == first_action
    frame.locator("#chart-loss .main-svg").first.wait_for(timeout=30_000)
    top = {sel: frame.locator(sel).first.bounding_box()["y"] for sel in (".verdict", "#chart-loss", ".card")}
    assert top[".verdict"] < top["#chart-loss"] < top[".card"]
    assert frame.locator(".card details[open]").count() == 0  # the cards' suggestions start collapsed
    # every finding range shaded on the loss chart lies within the chart's own axis (steps vs epochs converted)
    x_max = frame.locator("#chart-loss").evaluate("el => Math.max(...el.data.flatMap(t => t.x))")
    ends = frame.locator("#chart-loss").evaluate("el => el.layout.shapes.map(s => s.x1)")
    assert all(end <= x_max + 1 for end in ends), (ends, x_max)
    if VERDICT_SCREENSHOTS:
        page.wait_for_timeout(500)
        page.screenshot(path=str(VERDICT_SCREENSHOTS / f"verdict_{run}.png"))


def test_charts_read_as_the_issue_asks(page):
    frame = tab(page)
    frame.locator("#filter").fill("")
    frame.locator(".run[data-run='keras_nan_divergence']").click()
    frame.locator("#chart-batch .main-svg").first.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    batch = frame.locator("#chart-batch")
    assert batch.evaluate("el => el.layout.yaxis.type") == "log"  # a batch loss up to 3e22 spans > 3 decades
    assert batch.evaluate("el => el.layout.showlegend") is True  # the tag is named even for one series
    assert frame.locator("#chart-batch .legendtext").first.text_content() == "train/tb_recipe/batch_loss"
    assert frame.locator("#chart-loss").evaluate("el => el.layout.xaxis.title.text") == "epoch"
    assert batch.evaluate("el => el.layout.xaxis.title.text") == "step"
    frame.locator(".run[data-run='keras_overfitting']").click()
    note = frame.locator("#lr-note")
    note.filter(has_text="constant").wait_for(timeout=30_000)
    assert "0.001" in note.text_content() and frame.locator("#chart-lr").evaluate("el => el.style.display") == "none"
    frame.locator("#chart-loss .main-svg").first.wait_for(timeout=30_000)
    page.evaluate("document.body.classList.add('dark-mode')")
    frame.locator("html.dark").wait_for(state="attached", timeout=10_000)
    page.wait_for_timeout(800)
    grid = frame.locator("#chart-loss").evaluate("el => el.layout.xaxis.gridcolor")
    assert grid == "#555"  # the dark theme's line colour, not Plotly's light default
    page.evaluate("document.body.classList.remove('dark-mode')")
    frame.locator("html:not(.dark)").wait_for(state="attached", timeout=10_000)


def test_clicking_a_finding_scrolls_to_its_range(page):
    frame = tab(page)
    frame.locator(".run[data-run='keras_overfitting']").click()
    frame.locator("#chart-loss .main-svg").first.wait_for(timeout=30_000)
    frame.locator("#main").evaluate("el => el.scrollTo(0, el.scrollHeight)")
    frame.locator(".card[data-code='overfitting']").click()
    page.wait_for_timeout(1500)
    chart = frame.locator("#chart-loss")
    assert "selected" in chart.evaluate("el => el.layout.shapes.map(s => s.name)")
    box, height = chart.bounding_box(), frame.locator("body").evaluate("() => window.innerHeight")
    assert 0 <= box["y"] and box["y"] + box["height"] / 2 <= height  # scrolled into view


def test_runs_with_a_long_shared_prefix_can_be_told_apart(page):
    frame = tab(page)
    frame.locator("#filter").fill(SWEEP)
    rows = frame.locator("#runs .run")
    rows.first.wait_for(timeout=10_000)
    shown = sorted(rows.locator(".name").all_text_contents())
    assert shown == ["…lr_0.01", "…lr_0.1"]
    assert sorted(r.get_attribute("title") for r in rows.all()) == [f"{SWEEP}/lr_0.01", f"{SWEEP}/lr_0.1"]
    frame.locator("#filter").fill("")


def test_a_late_answer_for_an_earlier_click_is_not_painted(page):
    """Click A, then B before A's answer arrives: B stays on screen."""
    frame = tab(page)
    frame.locator("#filter").fill("")
    frame.locator("body").evaluate(
        """() => {
          const original = window.__realFetch = window.fetch;
          window.fetch = (url, ...rest) => String(url).includes('run=keras_overfitting')
            ? new Promise((resolve) => setTimeout(() => resolve(original(url, ...rest)), 1500))
            : original(url, ...rest);
        }"""
    )
    frame.locator(".run[data-run='keras_overfitting']").click()
    frame.locator(".run[data-run='keras_healthy']").click()
    frame.locator("#main h2").filter(has_text="keras_healthy").wait_for(timeout=30_000)
    page.wait_for_timeout(2500)  # A's answer has arrived by now
    assert frame.locator("#main h2").text_content().endswith("keras_healthy")
    assert "Healthy" in frame.locator(".verdict .headline").text_content()
    frame.locator("body").evaluate("() => { window.fetch = window.__realFetch; }")


PLUGIN_ROUTES = (
    "index.js",
    "plotly.js",
    "runs",
    "diagnosis?run=keras_healthy",
    "series?run=keras_healthy",
    "sweeps",
    "strings",
)


@pytest.mark.parametrize("route", PLUGIN_ROUTES)
def test_only_get_and_head_over_http(tensorboard, route):
    url = f"{tensorboard}/data/plugin/tb_recipe/{route}"
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method=method), timeout=30)
        assert refused.value.code == 405, method
        assert refused.value.headers["Allow"] == "GET, HEAD"
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30) as head:
        assert head.read() == b"" and int(head.headers["Content-Length"]) > 0


def test_no_console_errors(page):
    assert not [e for e in page.errors if "favicon" not in e], page.errors
