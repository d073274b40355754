"""The pre-flight checklist in the Diagnosis tab, in a real `tensorboard` process driven by headless Chromium (as in
`test_tab_browser.py`).

The runs hold pre-flight results written by `tb_recipe_plugin.preflight.write_report` from constructed reports (the
numbers of tests/test_preflight.py's real fault runs; no TensorFlow needed) next to Keras-like epoch curves: one
whose checks found the inputs ignored (and whose loss then stays at ln(10)), one where every check passed, one
whose fit wrote nothing after the checks (labels beyond the output units stop the first step).
"""

from __future__ import annotations

import json
import math
import os
import urllib.request

import pytest

from tb_recipe_plugin.internal_tags import Check
from tests.browser import ROOT, open_tab, serve
from tests.preflight_runs import report, write_run
from tests.test_tab_browser import sync_api, tab

SCREENSHOT = ROOT / "docs" / "preflight_checklist.png" if os.environ.get("UPDATE_SCREENSHOT") else None
IGNORED, HEALTHY, CRASHED = "inputs_ignored_run", "healthy_run", "crashed_run"


def _flat(n: int = 30) -> list[float]:
    return [math.log(10) + 0.002 * math.sin(i) for i in range(n)]


def _decay(n: int = 30, floor: float = 0.1) -> list[float]:
    return [2.3 * math.exp(-i / 8) + floor for i in range(n)]


@pytest.fixture(scope="module")
def tensorboard(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("preflight_tab") / "logs"
    flat = _flat()
    write_run(
        logdir / IGNORED,
        report(failed=(Check.INPUTS_IGNORED,), not_applicable=(Check.TRAIN_VAL_OVERLAP,)),
        {"train/epoch_loss": flat, "validation/epoch_loss": [v + 0.01 for v in flat]},
    )
    write_run(logdir / HEALTHY, report(), {"train/epoch_loss": _decay(), "validation/epoch_loss": _decay(floor=0.2)})
    write_run(logdir / CRASHED, report(failed=(Check.LABELS_OUT_OF_RANGE,), skipped=(Check.LR_RANGE_TEST,)))

    def ready(url: str) -> bool:
        try:
            runs = json.load(urllib.request.urlopen(f"{url}/data/plugin/tb_recipe/runs", timeout=5))["runs"]
        except OSError:
            return False
        return {r["run"] for r in runs} == {IGNORED, HEALTHY, CRASHED}

    yield from serve(logdir, ready)


@pytest.fixture(scope="module")
def page(tensorboard):
    yield from open_tab(sync_api, tensorboard)


def _open(page, run: str):
    """Select `run` and wait for its view: a fresh one (the page shown before is marked, since clicking the run on
    show fetches it again and repaints, which would undo anything done to the old view in between)."""
    frame = tab(page)
    if frame.locator("#main h2").count():
        frame.locator("#main h2").evaluate("h => h.classList.add('stale')")
    frame.locator(f".run[data-run='{run}']").click()
    frame.locator(f"#main h2:not(.stale):has-text('{run}')").wait_for(timeout=30_000)
    frame.locator("#preflight li").first.wait_for(timeout=30_000)
    return frame


def _rows(frame) -> dict[str, tuple[str, str]]:
    """check code -> (status, shown numbers) of the checklist's rows."""
    return {
        item["code"]: (item["status"], item["numbers"])
        for item in frame.locator("#preflight li").evaluate_all(
            "lis => lis.map(li => ({code: li.dataset.check, status: li.dataset.status,"
            " numbers: li.querySelector('.numbers').textContent}))"
        )
    }


def test_the_checklist_is_at_the_top_with_passed_and_failed_checks_and_their_numbers(page):
    frame = tab(page)
    frame.locator("#runs .run").first.wait_for(timeout=60_000)
    frame = _open(page, IGNORED)
    rows = _rows(frame)
    assert list(rows) == [str(c) for c in Check]  # every check that ran, in the checks' order
    assert rows["inputs_ignored"] == (
        "failed",
        "held-out loss 2.31 vs 2.29 on zeroed inputs after 40 steps (gain -0.9%)",
    )
    assert rows["initial_loss_off"] == ("passed", "loss 2.31 vs ln(10) = 2.303 (1.003x)")
    assert rows["train_val_overlap"][0] == "not_applicable"
    assert {status for status, _ in rows.values()} == {"passed", "failed", "not_applicable"}
    summary = frame.locator("#preflight .summary").text_content()
    assert (
        summary == "Pre-flight: 7 passed, 1 failed (inputs_ignored), 1 not applicable (4.1 s, about 137 training steps)"
    )
    badge = frame.locator("#preflight li[data-check='inputs_ignored'] .badge")
    assert badge.text_content() == "failed"
    # At the top: right under the verdict, which names the failed check, and above the curves.
    order = frame.locator("#main").evaluate(
        "m => [...m.children].map(c => c.id || c.className)"
        ".filter(x => ['verdict', 'preflight', 'chart-loss'].includes(x))"
    )
    assert order == ["verdict", "preflight", "chart-loss"]
    assert frame.locator(".verdict .headline").text_content().startswith("The model ignores its inputs")
    # The failed check is a finding too, placed before training rather than at a step.
    meta = frame.locator(".card[data-code='inputs_ignored'] .meta").text_content()
    assert "before training" in meta and "step 0" not in meta


def test_the_range_test_curve_is_drawn_with_the_suggested_and_compiled_rates(page):
    frame = _open(page, IGNORED)
    chart = frame.locator("#chart-lr-range")
    chart.locator(".main-svg").first.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    layout = chart.evaluate("el => ({type: el.layout.xaxis.type, shapes: el.layout.shapes.map(s => [s.name, s.x0])})")
    assert layout["type"] == "log"
    assert dict(layout["shapes"]) == {"suggested_lr": pytest.approx(0.0215), "compiled_lr": pytest.approx(1e-3)}
    points = chart.evaluate("el => el.data[0].x.length")
    assert points == 80
    # The range test's curve is not a callback signal: the gradient chart stays empty.
    assert frame.locator("#chart-signal").evaluate("el => el.style.display") == "none"
    if SCREENSHOT:
        frame.locator("#main").evaluate("m => m.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOT), clip={"x": 0, "y": 0, "width": 1400, "height": 1000})


def test_clicking_a_failed_check_shows_its_finding(page):
    frame = _open(page, IGNORED)
    frame.locator("#preflight li[data-check='inputs_ignored']").click()
    frame.locator(".card.flash[data-code='inputs_ignored']").wait_for(timeout=10_000)


def test_a_healthy_run_shows_every_check_passed(page):
    frame = _open(page, HEALTHY)
    rows = _rows(frame)
    assert {status for status, _ in rows.values()} == {"passed"} and len(rows) == len(Check)
    assert rows["nonfinite_inputs"][1] == "0 of 1400 rows hold NaN/Inf (0 values)"
    assert frame.locator("#preflight .summary").text_content().startswith("Pre-flight: 9 passed")
    assert frame.locator(".card[data-code^='inputs']").count() == 0


def test_a_fit_that_crashed_after_the_checks_is_diagnosed_from_them(page):
    frame = _open(page, CRASHED)
    rows = _rows(frame)
    assert "lr_range_test" not in rows  # skipped: not listed
    assert rows["labels_out_of_range"] == ("failed", "labels 0 to 10 for 10 output units (181 out of range)")
    assert frame.locator(".verdict .headline").text_content() == (
        "The class labels run from 0 to 10 but the output has 10 units (classes 0 to 9)."
    )
    assert frame.locator("#chart-lr-range").count() == 0


def test_the_checklist_speaks_chinese(page):
    frame = _open(page, IGNORED)
    frame.locator("button.lang[data-lang='zh']").click()
    frame.locator("#preflight h3:has-text('训练前检查')").wait_for(timeout=30_000)
    rows = _rows(frame)
    assert rows["inputs_ignored"] == ("failed", "训练 40 步后留出损失 2.31，全零输入为 2.29（提升 -0.9%）")
    assert rows["initial_loss_off"][1] == "损失 2.31，对比 ln(10) = 2.303（1.003 倍）"
    assert frame.locator("#preflight li[data-check='inputs_ignored'] .badge").text_content() == "未通过"
    assert frame.locator("#preflight li[data-check='initial_loss_off'] .badge").text_content() == "通过"
    assert frame.locator("#preflight li[data-check='train_val_overlap'] .badge").text_content() == "不适用"
    assert frame.locator("#preflight .summary").text_content() == (
        "训练前检查：7 项通过，1 项未通过（inputs_ignored），1 项不适用（用时 4.1 秒，约合 137 个训练步）"
    )
    assert "训练前" in frame.locator(".card[data-code='inputs_ignored'] .meta").text_content()
    frame.locator("button.lang[data-lang='en']").click()
    frame.locator("#preflight h3:has-text('Pre-flight checks')").wait_for(timeout=30_000)


def test_no_console_errors(page):
    assert not page.errors, page.errors
