"""End to end on the bundled demo runs: each shows the pattern it was trained to show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tb_recipe_plugin.analysis.analyzer import analyze_run
from tb_recipe_plugin.io.loader import iter_runs

DEMO = Path(__file__).resolve().parent.parent / "demo_logs"
EXPECTED = {e["run"]: e for e in json.loads((DEMO / "expected.json").read_text())}
REPORTS = {rd.name: analyze_run(rd) for rd in iter_runs(str(DEMO))}


def test_every_demo_run_is_labelled_and_loaded():
    assert set(REPORTS) == set(EXPECTED)
    assert len(REPORTS) >= 8


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_demo_run_findings(name):
    label, report = EXPECTED[name], REPORTS[name]
    found = {f.code for f in report.findings}
    assert set(label["expected"]) <= found, (name, found)
    assert not (set(label["forbidden"]) & found), (name, found)
    assert not report.errors, report.errors


def test_healthy_demo_has_no_error_findings():
    assert REPORTS["keras_healthy"].status in ("ok", "info")


def test_restarted_run_has_no_duplicate_steps():
    report = REPORTS["torch_restart"]
    assert not report.errors
    for rd in iter_runs(str(DEMO), "torch_restart"):
        for s in rd.series.values():
            assert (s.steps[1:] > s.steps[:-1]).all()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_rendered_text_is_complete(lang):
    """No placeholder may stay unfilled ("?") in a message or a suggestion."""
    from tb_recipe_plugin.present.catalogue import render_finding

    for report in REPORTS.values():
        for finding in report.findings:
            f = render_finding(finding, lang)
            texts = [f["message"]] + [s[k] for s in f["suggestions"] for k in ("action", "why")]
            assert all("?" not in t and "{" not in t for t in texts), (report.run, f["code"], texts)
