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

import importlib.util
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


# --------------------------------------------------------------------------- the demo sweeps
# `demo_logs/sweep_keras/` and `demo_logs/sweep_torch/` are folders of runs written with their hyperparameters in
# TensorBoard's HParams format. The expectations come from the grid that generate.py wrote, not from one output.


def _generator():
    spec = importlib.util.spec_from_file_location("demo_logs_generate", DEMO / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATE = _generator()
TRIALS = {sweep: dict(GENERATE.sweep_trials(sweep)) for sweep in GENERATE.SWEEPS}


@pytest.fixture(scope="module")
def sweeps():
    from tb_recipe_plugin.cli import sweep_logdir

    return {s.name: s for s in sweep_logdir(str(DEMO), None, None, progress=False, jobs=1)}


def test_every_sweep_run_is_labelled():
    for trials in TRIALS.values():
        assert set(trials) <= set(EXPECTED) and set(trials) <= set(REPORTS)


def test_the_demo_sweeps_are_found_with_the_written_hyperparameters(sweeps):
    assert set(sweeps) == set(GENERATE.SWEEPS) and len(sweeps) == 2
    for name, sweep in sweeps.items():
        assert {r.run for r in sweep.runs} == set(TRIALS[name])
        for run in sweep.runs:
            assert run.hparams_source == "hparams_plugin", run.run
            assert run.hparams == {k: float(v) for k, v in TRIALS[name][run.run].items()}, run.run


def test_keras_sweep_folder_names_spell_what_the_hparams_data_records(sweeps):
    from tb_recipe_plugin.sweep.hparams import from_run_name

    for run in sweeps["sweep_keras"].runs:
        named = from_run_name(run.run.rpartition("/")[2])
        assert named is not None and named.values == run.hparams, run.run


def test_torch_sweep_hparams_come_from_add_hparams_and_its_child_folder_is_no_run(sweeps):
    from tb_recipe_plugin.sweep.hparams import from_run_name

    runs = set(TRIALS["sweep_torch"])
    for run in runs:
        assert from_run_name(run.rpartition("/")[2]) is None, run  # `run_<i>` spells no hyperparameter
        children = [p for p in (DEMO / run).iterdir() if p.is_dir()]
        assert len(children) == 1 and list(children[0].glob("events.out.tfevents.*")), run  # add_hparams' folder
    assert {name for name in REPORTS if name.startswith("sweep_torch/")} == runs
    assert {rd.name for rd in iter_runs(str(DEMO / "sweep_torch"))} == {r.rpartition("/")[2] for r in runs}


def test_keras_sweep_story(sweeps):
    """LR matters most; the top LR fails in every run; the winner is an LR inside the grid; the lowest LR is still
    improving."""
    sweep, trials = sweeps["sweep_keras"], TRIALS["sweep_keras"]
    lrs = sorted({v["lr"] for v in trials.values()})
    assert sweep.importance[0][0] == "lr"
    assert dict(sweep.importance)["lr"] > dict(sweep.importance)["batch_size"]
    (failed,) = [f for f in sweep.findings if f.code == "failed_range"]
    top = {run for run, v in trials.items() if v["lr"] == lrs[-1]}
    assert failed.hparam == "lr" and set(failed.runs) == top
    assert failed.evidence["side"] == "at_least" and failed.evidence["threshold"] == lrs[-1]
    assert {r.run for r in sweep.runs if r.failed} == top and not top & set(sweep.ranking)
    assert lrs[0] < trials[sweep.ranking[0]]["lr"] < lrs[-1]
    (learning,) = [f for f in sweep.findings if f.code == "still_learning_range"]
    assert learning.hparam == "lr" and learning.evidence["side"] == "at_most"
    assert {run for run, v in trials.items() if v["lr"] == lrs[0]} <= set(learning.runs)


def test_torch_sweep_story(sweeps):
    """LR matters, dropout does not; the best LR is the top of the searched range."""
    sweep, trials = sweeps["sweep_torch"], TRIALS["sweep_torch"]
    lrs = sorted({v["lr"] for v in trials.values()})
    assert sweep.importance[0][0] == "lr" and not any(r.failed for r in sweep.runs)
    (edge,) = [f for f in sweep.findings if f.code == "best_at_edge"]
    assert edge.hparam == "lr" and edge.evidence["side"] == "high" and edge.runs == sweep.ranking[:1]
    assert trials[sweep.ranking[0]]["lr"] == lrs[-1]
