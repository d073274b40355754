"""End to end on the bundled demo runs: each shows the pattern it was trained to show, and nothing unexplained.

A demo run may report only its `expected` codes and the codes its `allowed`
entry in demo_logs/expected.json explains (a true extra finding, with the
numbers that make it true). Any other code fails, so a rule change that adds
a finding to a demo run has to be judged, not waved through. Findings judged
wrong for their run's curves are listed in `FALSE_POSITIVES`: they are kept
out of `allowed` and each has a strict xfail test that turns red (XPASS) once
the rule is fixed, so the entry gets removed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tb_recipe_plugin.analysis.analyzer import analyze_run
from tb_recipe_plugin.io.loader import iter_runs
from tb_recipe_plugin.present.catalogue import FINDINGS

DEMO = Path(__file__).resolve().parent.parent / "demo_logs"
EXPECTED = {e["run"]: e for e in json.loads((DEMO / "expected.json").read_text())}
REPORTS = {rd.name: analyze_run(rd) for rd in iter_runs(str(DEMO))}


def test_every_demo_run_is_labelled_and_loaded():
    assert set(REPORTS) == set(EXPECTED)
    assert len(REPORTS) >= 8


FALSE_POSITIVES: dict[tuple[str, str], str] = {}
"""(run, code) pairs the analyzer reports today although they are wrong for that run's curves."""


def found_codes(name: str) -> set[str]:
    return {f.code for f in REPORTS[name].findings}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_demo_run_findings(name):
    label, report = EXPECTED[name], REPORTS[name]
    found = found_codes(name)
    assert set(label["expected"]) <= found, (name, found)
    assert not (set(label["forbidden"]) & found), (name, found)
    assert not report.errors, report.errors
    assert not report.analysis_errors, report.analysis_errors


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_demo_run_reports_nothing_unexplained(name):
    label = EXPECTED[name]
    known_wrong = {code for run, code in FALSE_POSITIVES if run == name}
    unexplained = found_codes(name) - set(label["expected"]) - set(label["allowed"]) - known_wrong
    assert not unexplained, (
        f"{name} reports {sorted(unexplained)}, neither expected nor allowed: if true for this run's curves, add it "
        "to the run's `allowed` in demo_logs/expected.json with the numbers that make it true; if not, it is a "
        "false positive of the rule"
    )


@pytest.mark.parametrize(
    ("name", "code"),
    [pytest.param(*key, marks=pytest.mark.xfail(strict=True, reason=why)) for key, why in FALSE_POSITIVES.items()],
    ids=[f"{name}-{code}" for name, code in FALSE_POSITIVES],
)
def test_known_false_positive_is_gone(name, code):
    assert code not in found_codes(name)


def test_every_allowed_extra_is_explained_and_consistent_with_the_labels():
    for name, label in EXPECTED.items():
        allowed = label["allowed"]
        assert isinstance(allowed, dict), f"{name}: `allowed` maps each code to why it is true for this run"
        for code, why in allowed.items():
            assert code in FINDINGS, (name, code)
            assert len(why) > 20, f"{name}: say why {code} is true for this run"
            assert code not in label["expected"] and code not in label["forbidden"], (name, code)
            assert code in label["acceptable"], f"{name}: {code} is allowed but the labels do not accept it"
            assert (name, code) not in FALSE_POSITIVES, (name, code)


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
