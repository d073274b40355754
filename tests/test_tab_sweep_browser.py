"""The Diagnosis tab's sweep view in a real `tensorboard` process (its default data server), driven by headless
Chromium as in `test_tab_browser.py`.

The logdir holds a sweep of six trials (lr x seed, an optimizer per seed) whose hyperparameters are only in
their HParams data, the last written by tensorboardX's `add_hparams` (a child folder the tab must fold into its
run); the two trials with lr 0.1 diverge to NaN.
"""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from tests.browser import ROOT, open_tab, serve
from tests.curves import decay
from tests.test_cli import write_run
from tests.test_plugin_sweeps import write_sweep
from tests.test_tab_browser import sync_api, tab

SCREENSHOT = ROOT / "docs" / "sweep_view.png" if os.environ.get("UPDATE_SCREENSHOT") else None
TRIALS = [f"sweep/trial_{k}" for k in range(6)]  # lr 0.001, 0.001, 0.01, 0.01, 0.1, 0.1; seeds 1, 2


def _sweep_ready(url: str) -> bool:
    """The data server loads files in the background: wait for every trial with its HParams data."""
    try:
        sweeps = json.load(urllib.request.urlopen(f"{url}/data/plugin/tb_recipe/sweeps", timeout=10))["sweeps"]
        runs = json.load(urllib.request.urlopen(f"{url}/data/plugin/tb_recipe/runs", timeout=10))["runs"]
    except OSError:
        return False
    return (
        len(runs) == len(TRIALS) + 1
        and len(sweeps) == 1
        and len(sweeps[0]["runs"]) == len(TRIALS)
        and {r["hparams_source"] for r in sweeps[0]["runs"]} == {"hparams_plugin"}
    )


@pytest.fixture(scope="module")
def tensorboard(tmp_path_factory):
    tensorboardx = pytest.importorskip("tensorboardX")
    logdir = tmp_path_factory.mktemp("sweeptab") / "logs"
    assert write_sweep(logdir, last_by=tensorboardx.SummaryWriter) == TRIALS
    assert [p for p in (logdir / TRIALS[-1]).iterdir() if p.is_dir()]  # add_hparams wrote its child folder
    write_run(logdir / "alone", **{"Loss/train": list(decay(20))})
    yield from serve(logdir, _sweep_ready)


@pytest.fixture(scope="module")
def page(tensorboard):
    yield from open_tab(sync_api, tensorboard)


def rows(page) -> list[str]:
    return tab(page).locator("#sweep-table tbody tr").evaluate_all("trs => trs.map(tr => tr.dataset.run)")


def css_var(page, name: str) -> str:
    return tab(page).locator("html").evaluate(f"el => getComputedStyle(el).getPropertyValue('--{name}').trim()")


def rgb(page, css_color: str) -> str:
    """`css_color` as the browser computes it (``rgb(r, g, b)``)."""
    probe = (
        "(body, c) => { const d = document.createElement('i'); d.style.color = c; body.appendChild(d);"
        " const out = getComputedStyle(d).color; d.remove(); return out; }"
    )
    return tab(page).locator("body").evaluate(probe, css_color)


def test_the_tab_opens_on_the_sweep(page):
    frame = tab(page)
    frame.locator("#sweep-table tbody tr").first.wait_for(timeout=60_000)
    assert frame.locator("#main h2").text_content() == "Sweep sweep"
    entry = frame.locator("#sweeps .sweep[data-sweep='sweep']")
    assert entry.locator(".count").text_content() == "6 runs · 2 failed"
    assert "selected" in entry.get_attribute("class")
    # the add_hparams child folder is part of its run, not a run of its own
    listed = frame.locator("#runs .run").evaluate_all("els => els.map(e => e.dataset.run)")
    assert sorted(listed) == sorted([*TRIALS, "alone"])


def test_the_table_lists_every_run_coloured_by_status(page):
    frame = tab(page)
    assert rows(page)[:4] == ["sweep/trial_2", "sweep/trial_3", "sweep/trial_0", "sweep/trial_1"]  # ranked first
    assert sorted(rows(page)) == TRIALS
    headers = frame.locator("#sweep-table th").all_text_contents()
    assert headers[:5] == ["# ▲", "Run", "lr", "optimizer", "seed"]
    assert headers[5:] == ["Best Loss/val", "Best step", "Status", "Diagnosis"]
    for row in frame.locator("#sweep-table tbody tr").all():
        status = row.get_attribute("data-status")
        badge = row.locator(".badge")
        assert badge.text_content() == status  # EN status words are the codes
        assert badge.evaluate("el => getComputedStyle(el).backgroundColor") == rgb(page, css_var(page, status))
        assert row.evaluate("el => getComputedStyle(el).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
    failed = frame.locator("#sweep-table tr[data-run='sweep/trial_4']")
    assert failed.get_attribute("data-status") == "error"
    assert "nonfinite_loss" in failed.locator(".codes").text_content()
    assert "NaN" in failed.locator(".verdict-cell").text_content()
    assert failed.locator("td").nth(1).text_content() == "trial_4"  # shown below the sweep's folder


def test_sorting_by_a_column_reorders_the_rows(page):
    frame = tab(page)
    frame.locator("#sweep-table th[data-key='hp:lr']").click()
    assert frame.locator("#sweep-table th[data-key='hp:lr']").get_attribute("aria-sort") == "ascending"
    lrs = frame.locator("#sweep-table tbody tr td:nth-child(3)").all_text_contents()
    assert lrs == ["0.001", "0.001", "0.01", "0.01", "0.1", "0.1"]
    frame.locator("#sweep-table th[data-key='hp:lr']").click()
    assert frame.locator("#sweep-table th[data-key='hp:lr']").get_attribute("aria-sort") == "descending"
    assert frame.locator("#sweep-table tbody tr td:nth-child(3)").all_text_contents() == lrs[::-1]
    frame.locator("#sweep-table th[data-key='status']").click()
    assert rows(page)[:2] == ["sweep/trial_4", "sweep/trial_5"]  # errors first
    frame.locator("#sweep-table th[data-key='rank']").click()
    assert rows(page)[0] == "sweep/trial_2"


def test_best_metric_against_the_learning_rate_on_a_log_axis(page):
    frame = tab(page)
    chart = frame.locator(".sweep-scatter[data-hparam='lr']")
    chart.locator(".main-svg").first.wait_for(timeout=30_000)
    assert chart.evaluate("el => el.layout.xaxis.type") == "log"
    assert chart.evaluate("el => el.data[0].x") == [0.001, 0.001, 0.01, 0.01]  # the scored runs
    failed = chart.evaluate("el => el.data[1]")  # the diverged runs: red x marks, not scores
    assert failed["x"] == [0.1, 0.1] and failed["marker"]["symbol"] == "x"
    assert "% of the score's variance" in chart.evaluate("el => el.layout.title.text")
    assert frame.locator(".sweep-scatter[data-hparam='seed']").count() == 0  # a seed is no hyperparameter to tune
    parcoords = frame.locator("#sweep-parcoords")
    parcoords.locator(".main-svg").first.wait_for(timeout=30_000)
    labels = parcoords.evaluate("el => el.data[0].dimensions.map(d => d.label)")
    assert labels == ["lr", "optimizer", "seed", "Loss/val"]


def test_findings_name_the_failed_range_and_advice_follows(page):
    frame = tab(page)
    failed = frame.locator(".sweep-findings li[data-code='failed_range']")
    assert failed.text_content().endswith("lr >= 0.1: 2 of 2 runs failed (NaN or diverged).")
    assert failed.locator(".badge").text_content() == "error"
    assert frame.locator(".sweep-advice li[data-advice='search_range']").count() == 1
    if SCREENSHOT:  # tall enough for the table below the charts
        page.set_viewport_size({"width": 1400, "height": 1400})
        frame.locator("#main").evaluate("el => el.scrollTo(0, 0)")
        page.wait_for_timeout(1200)
        page.screenshot(path=str(SCREENSHOT))
        page.set_viewport_size({"width": 1400, "height": 1000})
    if os.environ.get("SWEEP_DARK_SCREENSHOT"):  # for looking at the dark theme by hand; not kept in docs/
        page.evaluate("document.body.classList.add('dark-mode')")
        frame.locator("html.dark").wait_for(state="attached", timeout=10_000)
        page.wait_for_timeout(1200)
        page.screenshot(path=os.environ["SWEEP_DARK_SCREENSHOT"])
        frame.locator("#main").evaluate("el => el.scrollTo(0, el.scrollHeight)")
        page.wait_for_timeout(500)
        page.screenshot(path=os.environ["SWEEP_DARK_SCREENSHOT"].replace(".png", "_bottom.png"))
        page.evaluate("document.body.classList.remove('dark-mode')")
        frame.locator("html:not(.dark)").wait_for(state="attached", timeout=10_000)


def test_the_sweep_follows_the_dark_theme(page):
    frame = tab(page)
    page.evaluate("document.body.classList.add('dark-mode')")
    frame.locator("html.dark").wait_for(state="attached", timeout=10_000)
    page.wait_for_timeout(800)
    chart = frame.locator(".sweep-scatter[data-hparam='lr']")
    assert chart.evaluate("el => el.layout.xaxis.gridcolor") == "#555"
    header = frame.locator("#sweep-table th").first.evaluate("el => getComputedStyle(el).backgroundColor")
    assert header == "rgb(48, 48, 48)"
    page.evaluate("document.body.classList.remove('dark-mode')")
    frame.locator("html:not(.dark)").wait_for(state="attached", timeout=10_000)


def test_clicking_a_row_opens_that_runs_diagnosis(page):
    frame = tab(page)
    with page.expect_request(lambda r: "/tb_recipe/diagnosis?" in r.url and "trial_4" in r.url):
        frame.locator("#sweep-table tr[data-run='sweep/trial_4']").click()
    frame.locator("#main h2").filter(has_text="sweep/trial_4").wait_for(timeout=30_000)
    frame.locator(".card[data-code='nonfinite_loss']").wait_for(timeout=30_000)
    assert "selected" in frame.locator(".run[data-run='sweep/trial_4']").get_attribute("class")
    assert "selected" not in frame.locator(".sweep[data-sweep='sweep']").get_attribute("class")
    frame.locator("#main a.back").click()  # and back to the sweep it belongs to
    frame.locator("#sweep-table").wait_for(timeout=10_000)
    assert frame.locator("#main h2").text_content() == "Sweep sweep"


def test_the_sweep_speaks_chinese(page):
    frame = tab(page)
    frame.locator("button[data-lang='zh']").click()
    frame.locator("#main h2").filter(has_text="超参数搜索").wait_for(timeout=30_000)
    failed = frame.locator(".sweep-findings li[data-code='failed_range']")
    failed.wait_for(timeout=30_000)
    assert "lr >= 0.1 时，2 个运行中有 2 个失败" in failed.text_content()
    assert frame.locator("#sweeps .sweep .count").text_content() == "6 个运行 · 2 个失败"
    frame.locator("button[data-lang='en']").click()
    frame.locator("#main h2").filter(has_text="Sweep sweep").wait_for(timeout=30_000)


def test_no_console_errors(page):
    assert not [e for e in page.errors if "favicon" not in e], page.errors
