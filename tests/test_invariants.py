"""Every report keeps the invariants of `tests/invariants.py`: the demo set always, the real public runs of
``../shared/reallogs`` and the generated accuracy corpus where this machine has them (issue 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tb_recipe_plugin.analysis.analyzer import analyze_run
from tb_recipe_plugin.analysis.report import Finding, Role, RunReport
from tb_recipe_plugin.io.loader import iter_runs
from tests.invariants import violations

REPO = Path(__file__).resolve().parents[1]
SETS = {
    "demo_logs": REPO / "demo_logs",
    "reallogs": REPO.parent / "shared" / "reallogs",
    "reallogs_public": REPO / "benchmarks" / "_data" / "reallogs_public",
    "corpus": REPO / "benchmarks" / "_data" / "corpus2",
}


@pytest.mark.parametrize("name", list(SETS))
def test_every_report_keeps_the_invariants(name):
    root = SETS[name]
    if name != "demo_logs" and not root.is_dir():
        pytest.skip(f"{root} is not on this machine")
    problems, runs = [], 0
    for run in iter_runs(str(root)):
        report = analyze_run(run)
        runs += 1
        for lang in ("en", "zh"):
            problems += violations(report, lang)
    assert runs >= (17 if name == "demo_logs" else 1)
    assert not problems, "\n".join(problems[:40])


def _report(*findings: Finding, roles: dict[str, Role] | None = None) -> RunReport:
    from tb_recipe_plugin.analysis.diagnosis import diagnose

    report = RunReport("r", "warning", roles=roles or {}, findings=list(findings))
    report.diagnosis = diagnose(report.findings, None)
    return report


def _finding(code: str, severity: str = "warning", **evidence) -> Finding:
    return Finding(code, 1, 9, evidence, 0.7, ("loss",), severity=severity, unit="step")


@pytest.mark.parametrize(
    "finding,needle",
    [
        (_finding("overfitting", val_tag="loss", val_best=0.9, val_last=0.5), "best 0.9 but last 0.5"),
        (_finding("still_learning", "info", tag="loss", tail_change_pct=-3.0), "still_learning with a change"),
        (_finding("plateau", tag="loss", early_improvement_pct=0.0), "never improved"),
        (_finding("divergence", tag="loss"), "missing value"),  # its message quotes keys this evidence lacks
    ],
)
def test_the_checker_catches_each_broken_invariant(finding, needle):
    """Mutation check: each invariant fails on a report that breaks it."""
    problems = violations(_report(finding, roles={"val_loss": Role("loss", "epoch")}))
    assert any(needle in p for p in problems), problems


def test_the_checker_passes_a_sound_report():
    sound = _finding("overfitting", val_tag="loss", train_tag="t", val_best=0.5, best_step=3, val_last=0.9,
                     train_at_best=0.4, train_last=0.1, rise_pct=80.0)  # fmt: skip
    assert violations(_report(sound, roles={"val_loss": Role("loss", "epoch")})) == []
