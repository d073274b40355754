"""The pre-flight checks in the analysis and every presenter: each failed check is a finding with its numbers, every
check that ran is on the run's checklist (passed ones too), and a pre-flight fault is named as the cause of the curve
findings it explains. No TensorFlow: the results are `CheckResult`s with the numbers real runs of the checks write
(tests/preflight_runs.py), turned into series exactly as `write_report` writes them, and once through real event
files and the CLI's loader.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from tb_recipe_plugin import internal_tags as t
from tb_recipe_plugin.analysis.analyzer import analyze_run
from tb_recipe_plugin.analysis.preflight import find_preflight
from tb_recipe_plugin.analysis.rules import BY_CODE, PREFLIGHT_CODES
from tb_recipe_plugin.analysis.series import RunData, Series
from tb_recipe_plugin.internal_tags import MEASURES, Check, Measure, Use
from tb_recipe_plugin.io.loader import iter_runs
from tb_recipe_plugin.present.catalogue import FINDINGS, LANGS, SUGGESTIONS, render_finding
from tb_recipe_plugin.present.catalogue.labels import PREFLIGHT, TEXT
from tb_recipe_plugin.present.catalogue.verdicts import HEADLINES, NOUNS
from tb_recipe_plugin.present.json_report import run_to_dict
from tb_recipe_plugin.present.markdown import markdown_report
from tb_recipe_plugin.present.text import make_console, print_report
from tests.curves import codes, decay, noisy
from tests.invariants import violations
from tests.preflight_runs import FAILED, report, result, with_preflight, write_run
from tests.tb_app import get, tensorboard_client
from tests.test_internal_rules import callback_run, constant, reads

SEVERITY = {
    Check.NONFINITE_INPUTS: "error",
    Check.NONFINITE_LABELS: "error",
    Check.LABELS_OUT_OF_RANGE: "error",
    Check.INPUTS_IGNORED: "error",
    Check.BATCH_MIXING: "error",
    Check.CANNOT_OVERFIT_BATCH: "warning",
    Check.TRAIN_VAL_OVERLAP: "warning",
    Check.INITIAL_LOSS_OFF: "warning",
    Check.LR_RANGE_TEST: "info",
}
MESSAGES = {
    Check.NONFINITE_INPUTS: "found 20 NaN/Inf value(s) in 20 of the 1797 input rows it read (1.1%)",
    Check.NONFINITE_LABELS: "in the labels of 3 of the 1797 rows it read (0.2%)",
    Check.LABELS_OUT_OF_RANGE: "run from 0 to 10, but the output has 10 units (classes 0 to 9): 181 label(s) (10.1%)",
    Check.INPUTS_IGNORED: "the held-out loss is 2.31 on the real inputs and 2.29 on zeroed inputs (a gain of -0.9%)",
    Check.BATCH_MIXING: "reaches the other 7 samples of its batch of 8 with 0.378x the norm of its own",
    Check.CANNOT_OVERFIT_BATCH: "batch of 32 rows for 100 steps, the loss only went from 2.303 to 2.298 (99.8% of",
    Check.TRAIN_VAL_OVERLAP: "300 of the 300 validation rows checked (100%) are also training rows (compared with 1797",
    Check.INITIAL_LOSS_OFF: "the loss was 12.6 (5.472x), against ln(10) = 2.303 for a freshly initialised 10-class",
    Check.LR_RANGE_TEST: "suggests 0.0215 (where the loss fell fastest) and its loss was lowest at 0.0464; the model "
    "is compiled with 1e-06, 22000x below the suggestion",
}
"""A part of each failed check's English message: the numbers it wrote, in words."""


def curves_run(name: str = "r", n: int = 30) -> RunData:
    """Keras-like epoch curves of a healthy run (no finding of their own but still_learning at most)."""
    loss = decay(n, 2.3, 0.1, 4)
    rd = RunData(name)
    for tag, values in (("train/epoch_loss", loss), ("validation/epoch_loss", loss * 1.05 + 0.02)):
        rd.series[tag] = Series(tag, np.arange(n), values)
    return rd


def flat_run(name: str = "r", n: int = 30) -> RunData:
    """A loss that stays at ln(10): no_learning."""
    rd = RunData(name)
    for tag in ("train/epoch_loss", "validation/epoch_loss"):
        rd.series[tag] = Series(tag, np.arange(n), noisy(np.full(n, math.log(10)), 0.001))
    return rd


def finding(rep, code: str):
    found = [f for f in rep.findings if f.code == code]
    assert len(found) == 1, sorted(codes(rep))
    return found[0]


def assert_keeps_the_invariants(rep) -> None:
    problems = [p for lang in LANGS for p in violations(rep, lang)]
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------- one finding per failed check


@pytest.mark.parametrize("code", list(Check))
def test_a_failed_check_is_its_finding_with_its_numbers(code):
    rep = analyze_run(with_preflight(curves_run(), report(failed=(code,))))
    f = finding(rep, str(code))
    assert f.severity == SEVERITY[code] == BY_CODE[str(code)].severity
    assert f.stage == "preflight" and f.start_step == f.end_step == 0 and f.unit == "step"
    assert f.tags and all(tag.startswith(f"train/{t.PREFLIGHT}/{code}/") for tag in f.tags)
    assert f.tags[0].endswith("/passed")
    message = render_finding(f, "en")["message"]
    assert MESSAGES[code] in message, message
    for lang in LANGS:
        rendered = render_finding(f, lang)
        assert "?" not in rendered["message"] and "None" not in rendered["message"], rendered["message"]
        assert rendered["stage"] == "preflight"
    assert_keeps_the_invariants(rep)
    # Only that check's finding came from the checks: the others passed.
    assert codes(rep) & PREFLIGHT_CODES == {str(code)}


def test_passed_checks_give_no_finding_but_a_checklist_entry_each():
    rep = analyze_run(with_preflight(curves_run(), report()))
    assert not codes(rep) & PREFLIGHT_CODES
    assert [c.code for c in rep.preflight.checks] == [str(c) for c in Check]
    assert all(c.passed is True for c in rep.preflight.checks)
    numbers = {c.code: c.numbers for c in rep.preflight.checks}
    assert numbers["inputs_ignored"]["zero_input_loss"] == pytest.approx(2.29)
    assert numbers["lr_range_test"]["seconds"] == pytest.approx(0.25)
    lr = next(c for c in rep.preflight.checks if c.code == "lr_range_test")
    assert len(lr.curves["lr"]) == len(lr.curves["curve_loss"]) == 80
    assert lr.series == {
        "lr": f"train/{t.PREFLIGHT}/lr_range_test/lr",
        "curve_loss": f"train/{t.PREFLIGHT}/lr_range_test/curve_loss",
    }
    assert rep.preflight.seconds == pytest.approx(4.1) and rep.preflight.step_seconds == pytest.approx(0.03)
    assert rep.diagnosis.kind == "healthy"


def test_not_applicable_checks_are_listed_and_skipped_ones_are_not():
    rep = analyze_run(
        with_preflight(curves_run(), report(not_applicable=(Check.TRAIN_VAL_OVERLAP,), skipped=(Check.LR_RANGE_TEST,)))
    )
    listed = {c.code: c.passed for c in rep.preflight.checks}
    assert listed["train_val_overlap"] is None and "lr_range_test" not in listed
    assert not codes(rep) & PREFLIGHT_CODES


def test_a_run_without_preflight_results_has_no_checklist():
    rep = analyze_run(curves_run())
    assert rep.preflight is None
    assert run_to_dict(rep)["preflight"] is None


def test_a_passed_value_that_is_neither_one_nor_zero_is_no_verdict():
    rd = with_preflight(curves_run(), report(failed=(Check.BATCH_MIXING,)))
    tag = f"train/{t.preflight_tag(Check.BATCH_MIXING, Measure.PASSED)}"
    rd.series[tag] = Series(tag, np.array([0]), np.array([math.nan]))
    rep = analyze_run(rd)
    assert "batch_mixing" not in codes(rep)
    assert next(c for c in rep.preflight.checks if c.code == "batch_mixing").passed is None


@pytest.mark.parametrize(
    ("measures", "message", "suggestion"),
    [
        (
            {"seen": 1797.0, "label_width": 9.0, "num_units": 10.0, "count": 16173.0, "fraction": 1.0},
            "The one-hot labels are 9 wide but the output has 10 units",
            "9 classes need `Dense(9)`",
        ),
        (
            {"seen": 1797.0, "label_width": 10.0, "num_units": 10.0, "label_min": -1.0, "label_max": 1.0,
             "count": 30.0, "fraction": 0.0017},
            "30 one-hot label value(s) (0.2%) lie outside [0, 1] (from -1 to 1",
            "Make the labels fit the output layer",
        ),
        (
            {"seen": 1797.0, "label_min": 0.0, "label_max": 254.8, "range_low": 0.0, "range_high": 1.0,
             "count": 1790.0, "fraction": 0.996},
            "99.6% of the targets (1790) lie outside [0, 1], the range of the output activation (they run from 0 "
            "to 254.8",
            "Scale the targets into [0, 1]",
        ),
        (
            {"seen": 500.0, "label_min": -3.0, "label_max": 2.5, "range_low": 0.0, "count": 240.0, "fraction": 0.48},
            "48% of the targets (240) lie below 0, the lowest value of the output activation",
            "targets below 0: a linear output",
        ),
        (
            {"seen": 1797.0, "label_min": 1.0, "label_max": 10.0, "num_units": 10.0, "count": 180.0, "fraction": 0.1},
            "The class labels run from 1 to 10, but the output has 10 units (classes 0 to 9)",
            "labels counted from 1: `y - 1`",
        ),
    ],
    ids=["one_hot_width", "one_hot_values", "sigmoid_0_255", "relu_negative", "labels_from_1"],
)  # fmt: skip
def test_labels_out_of_range_says_which_case_with_its_numbers(measures, message, suggestion):
    rep = analyze_run(
        with_preflight(curves_run(), report(failed=(Check.LABELS_OUT_OF_RANGE,), labels_out_of_range=measures))
    )
    f = finding(rep, "labels_out_of_range")
    rendered = render_finding(f, "en")
    assert message in rendered["message"], rendered["message"]
    assert suggestion in rendered["suggestions"][0]["action"], rendered["suggestions"][0]["action"]
    assert_keeps_the_invariants(rep)


def test_the_range_test_says_on_which_side_the_compiled_rate_is():
    high = dict(FAILED[Check.LR_RANGE_TEST], compiled_lr=0.5, ratio=0.5 / 0.0215)
    rep = analyze_run(with_preflight(curves_run(), report(failed=(Check.LR_RANGE_TEST,), lr_range_test=high)))
    f = finding(rep, "lr_range_test")
    assert "compiled with 0.5, 23x the suggestion and above where" in render_finding(f, "en")["message"]
    action = render_finding(f, "en")["suggestions"][0]["action"]
    assert action.startswith("Try a learning rate of 0.0215 instead of 0.5")
    assert rep.diagnosis.kind == "healthy"  # an info note, not a problem


def test_every_rules_measure_is_read_by_a_rule():
    """The pre-flight half of the tag contract (tests/test_keras_contract.py checks the callback's `USE`)."""
    rd = with_preflight(curves_run(), report(failed=tuple(Check)))
    readings = find_preflight(rd.series)
    from tb_recipe_plugin.analysis.rules import RULES, Context

    ctx = Context(run=rd, roles={}, preflight=readings)
    for r in RULES:
        if r.preflight:
            r(ctx)
    wanted = {
        (check, measure) for check, table in MEASURES.items() for measure, use in table.items() if use is Use.RULES
    }
    assert wanted - readings.reads == set()


# ---------------------------------------------------------------------- initial_loss_off: one rule, two readings


def _first_batch_off() -> RunData:
    loss = noisy(decay(400, 2.4, 0.3), 0.03)
    loss[0] = 50.0  # 21.7x ln(10)
    return callback_run(loss=loss)


def test_initial_loss_prefers_the_preflight_measurement():
    rep = analyze_run(with_preflight(_first_batch_off(), report(failed=(Check.INITIAL_LOSS_OFF,))))
    f = finding(rep, "initial_loss_off")
    assert f.evidence["source"] == "preflight" and f.stage == "preflight"
    assert f.evidence["loss"] == pytest.approx(12.6) and "first_loss" not in f.evidence
    rendered = render_finding(f, "en")
    assert rendered["message"].startswith("Before any training step (pre-flight check on a clone of the model)")
    bias = next(s for s in rendered["suggestions"] if s["id"] == "init_output_bias")
    assert bias["action"].startswith("Initialise the last layer's bias to the log class priors the pre-flight check")
    assert "[-2.31, -2.29, -2.32," in bias["action"] and bias["numbers"]["prior_loss"] == pytest.approx(2.301)
    assert_keeps_the_invariants(rep)


def test_a_passed_preflight_initial_loss_outranks_the_first_batch():
    rep = analyze_run(with_preflight(_first_batch_off(), report()))
    assert "initial_loss_off" not in codes(rep)


def test_without_a_preflight_verdict_the_first_batch_is_used():
    for rd in (
        _first_batch_off(),
        with_preflight(_first_batch_off(), report(not_applicable=(Check.INITIAL_LOSS_OFF,))),
    ):
        f = finding(analyze_run(rd), "initial_loss_off")
        assert f.evidence["source"] == "first_batch" and f.stage == "training" and f.start_step == 1
        message = render_finding(f, "en")["message"]
        assert message.startswith("The first batch's loss was 50, 21.71x the 2.303 = ln(10)"), message


def test_initial_loss_of_a_regression_against_the_targets_spread():
    measures = {"loss": 21000.0, "expected_loss": 5400.0, "prior_loss": 5400.0, "ratio": 21000 / 5400}
    rd = with_preflight(curves_run(), report(failed=(Check.INITIAL_LOSS_OFF,), initial_loss_off=measures))
    bias = f"train/{t.preflight_tag(Check.INITIAL_LOSS_OFF, Measure.SUGGESTED_BIAS)}"
    rd.series[bias] = Series(bias, np.array([0]), np.array([127.4]))
    rep = analyze_run(rd)
    rendered = render_finding(finding(rep, "initial_loss_off"), "en")
    assert "the loss was 21000 (3.889x), against the targets' spread of 5400" in rendered["message"]
    assert "an output bias at the targets' mean (median for MAE), [127]" in rendered["message"]
    action = next(s for s in rendered["suggestions"] if s["id"] == "init_output_bias")["action"]
    assert action.startswith("Initialise the output bias at the targets' mean (median for MAE), [127]")
    assert_keeps_the_invariants(rep)


def test_a_nonfinite_initial_loss_reads_as_a_sentence():
    measures = {
        "loss": math.nan,
        "expected_loss": math.log(10),
        "num_classes": 10.0,
        "prior_loss": 2.3,
        "ratio": math.nan,
    }
    rep = analyze_run(with_preflight(curves_run(), report(failed=(Check.INITIAL_LOSS_OFF,), initial_loss_off=measures)))
    f = finding(rep, "initial_loss_off")
    assert "ratio" not in f.evidence
    assert render_finding(f, "en")["message"].startswith(
        "Before any training step (pre-flight check on a clone of the model) the loss was NaN, against ln(10)"
    )
    assert_keeps_the_invariants(rep)


# ---------------------------------------------------------------------- the diagnosis names the pre-flight fault


@pytest.mark.parametrize(
    ("check", "curve_code", "build"),
    [
        (Check.INPUTS_IGNORED, "no_learning", flat_run),
        (Check.LABELS_OUT_OF_RANGE, "no_learning", flat_run),
        (Check.CANNOT_OVERFIT_BATCH, "no_learning", flat_run),
    ],
)
def test_a_preflight_fault_is_the_primary_cause_of_no_learning(check, curve_code, build):
    rep = analyze_run(with_preflight(build(), report(failed=(check,))))
    assert {str(check), curve_code} <= codes(rep)
    d = rep.diagnosis
    assert d.primary == str(check)
    related = {r.code: r for r in d.related}
    assert related[curve_code].relation == "consequence"
    verdict = run_to_dict(rep)["diagnosis"]["verdict"]
    assert verdict.endswith("; this led to no learning at all."), verdict
    assert_keeps_the_invariants(rep)


def test_nan_inputs_are_the_cause_of_a_nan_loss():
    rd = with_preflight(curves_run(), report(failed=(Check.NONFINITE_INPUTS,)))
    for tag in ("train/epoch_loss", "validation/epoch_loss"):
        s = rd.series[tag]
        values = s.values.copy()
        values[12:] = math.nan
        rd.series[tag] = Series(tag, s.steps, values)
    rep = analyze_run(rd)
    assert rep.diagnosis.primary == "nonfinite_inputs"
    assert next(r for r in rep.diagnosis.related if r.code == "nonfinite_loss").relation == "consequence"
    actions = run_to_dict(rep)["diagnosis"]["actions"]
    assert actions[0]["id"] == "clean_nonfinite_inputs" and actions[0]["numbers"] == {
        "rows": 20,
        "count": 20,
        "seen": 1797,
    }
    assert_keeps_the_invariants(rep)


def test_a_model_that_cannot_overfit_is_named_before_its_dead_units():
    rd = callback_run(dead_fraction=[constant(0.95, reads()), None, None, None])
    rep = analyze_run(with_preflight(rd, report(failed=(Check.CANNOT_OVERFIT_BATCH,))))
    assert rep.diagnosis.primary == "cannot_overfit_batch"
    assert next(r for r in rep.diagnosis.related if r.code == "dying_relu").of == "cannot_overfit_batch"


def test_overlapping_validation_explains_a_validation_loss_below_training():
    train = decay(30, 2, 0.5)
    rd = RunData("r", {"Loss/train": Series("Loss/train", np.arange(30), train),
                       "Loss/val": Series("Loss/val", np.arange(30), train * 0.75)})  # fmt: skip
    rep = analyze_run(with_preflight(rd, report(failed=(Check.TRAIN_VAL_OVERLAP,))))
    assert rep.diagnosis.primary == "train_val_overlap"
    assert next(r for r in rep.diagnosis.related if r.code == "val_better_than_train").relation == "consequence"


# ---------------------------------------------------------------------- a fit that crashed after the checks


def test_a_run_with_only_the_preflight_results_is_diagnosed_from_them():
    rep = analyze_run(
        RunData("r", dict(with_preflight(RunData("r"), report(failed=(Check.LABELS_OUT_OF_RANGE,))).series))
    )
    assert rep.status == "error" and rep.diagnosis.primary == "labels_out_of_range"
    assert rep.errors == ["no loss or metric series: only the pre-flight checks' results (60 tags)"]
    assert len(rep.preflight.checks) == len(Check)
    assert_keeps_the_invariants(rep)


def test_only_passed_preflight_results_are_no_data_with_a_checklist():
    rep = analyze_run(with_preflight(RunData("r"), report()))
    assert rep.status == "no_data" and rep.diagnosis.kind == "no_data" and not rep.findings
    assert all(c.passed for c in rep.preflight.checks)


# ---------------------------------------------------------------------- the checklist in every format


def _reports():
    flat = with_preflight(
        flat_run("ignored"), report(failed=(Check.INPUTS_IGNORED,), not_applicable=(Check.TRAIN_VAL_OVERLAP,))
    )
    return [analyze_run(flat)]


def test_json_checklist():
    doc = run_to_dict(_reports()[0])
    p = doc["preflight"]
    assert p["summary"] == "Pre-flight: 7 passed, 1 failed (inputs_ignored), 1 not applicable"
    assert p["cost"] == "4.1 s, about 137 training steps"
    assert (p["passed"], p["failed"], p["not_applicable"]) == (7, 1, 1)
    assert p["seconds"] == 4.1 and p["step_seconds"] == 0.03 and p["cost_steps"] == pytest.approx(136.667)
    checks = {c["code"]: c for c in p["checks"]}
    assert checks["inputs_ignored"]["passed"] is False and checks["inputs_ignored"]["status"] == "failed"
    assert checks["inputs_ignored"]["numbers"]["zero_input_loss"] == 2.29
    assert checks["train_val_overlap"]["passed"] is None and checks["train_val_overlap"]["text"] == ""
    assert checks["initial_loss_off"]["curves"]["suggested_bias"][0] == pytest.approx(-2.31264, abs=1e-4)
    assert checks["lr_range_test"]["series"]["lr"] == f"train/{t.PREFLIGHT}/lr_range_test/lr"
    ignored = next(f for f in doc["findings"] if f["code"] == "inputs_ignored")
    assert ignored["stage"] == "preflight"
    assert all(f["stage"] == "training" for f in doc["findings"] if f["code"] != "inputs_ignored")
    json.dumps(doc, allow_nan=False)
    zh = run_to_dict(_reports()[0], "zh")["preflight"]
    assert zh["summary"] == "训练前检查：7 项通过，1 项未通过（inputs_ignored），1 项不适用"
    assert {c["code"]: c["title"] for c in zh["checks"]}["inputs_ignored"] == "是否用到输入"


def test_nonfinite_numbers_are_strict_json():
    measures = {"loss": math.nan, "expected_loss": math.log(10), "num_classes": 10.0, "ratio": math.inf}
    rep = analyze_run(with_preflight(curves_run(), report(failed=(Check.INITIAL_LOSS_OFF,), initial_loss_off=measures)))
    doc = run_to_dict(rep)
    numbers = next(c for c in doc["preflight"]["checks"] if c["code"] == "initial_loss_off")["numbers"]
    assert numbers["loss"] == "nan" and numbers["ratio"] == "inf"
    json.dumps(doc, allow_nan=False)


@pytest.mark.parametrize("lang", LANGS)
def test_text_checklist_after_the_verdict(lang):
    out = io.StringIO()
    print_report(_reports(), "logs", lang, make_console(out, False))
    lines = out.getvalue().splitlines()
    words = PREFLIGHT[lang]
    at = next(i for i, line in enumerate(lines) if line.strip().startswith(words["summary"].split("{")[0]))
    verdict = next(
        i for i, line in enumerate(lines) if line.startswith("  ") and "ignor" in line or "没有用到输入" in line
    )
    assert verdict < at
    summary = lines[at].strip()
    if lang == "en":
        assert (
            summary
            == "Pre-flight: 7 passed, 1 failed (inputs_ignored), 1 not applicable (4.1 s, about 137 training steps)"
        )
    else:
        assert (
            summary
            == "训练前检查：7 项通过，1 项未通过（inputs_ignored），1 项不适用（用时 4.1 秒，约合 137 个训练步）"
        )
    rows = lines[at + 1 : at + 1 + len(Check)]
    status = words["status"]
    assert sum(r.strip().startswith(status["passed"]) for r in rows) == 7
    failed = next(r for r in rows if "(inputs_ignored)" in r)  # only a failed check names its code (its finding)
    assert failed.strip().startswith(status["failed"]) and "2.31" in failed and "2.29" in failed
    assert sum("(" + str(c) + ")" in r for r in rows for c in Check) == 1
    not_applicable = rows[list(Check).index(Check.TRAIN_VAL_OVERLAP)].strip()
    title = PREFLIGHT[lang]["checks"]["train_val_overlap"][0]
    assert not_applicable.startswith(status["not_applicable"]) and not_applicable.endswith(f"  {title}")
    finding_line = next(line for line in lines if "(inputs_ignored, " in line)
    assert TEXT[lang]["before_training"] in finding_line


@pytest.mark.parametrize("lang", LANGS)
def test_markdown_checklist(lang):
    md = markdown_report(_reports(), "logs", lang)
    rows = {
        "en": (
            "| Initial loss (`initial_loss_off`) | 🟢 passed | loss 2\\.31 vs ln\\(10\\) = 2\\.303 \\(1\\.003x\\) |",
            "| Inputs used (`inputs_ignored`) | 🔴 FAILED | held\\-out loss 2\\.31 vs 2\\.29 on zeroed inputs",
            "| No validation rows in training (`train_val_overlap`) | ⚪ n/a | – |",
        ),
        "zh": (
            "| 初始损失 (`initial_loss_off`) | 🟢 通过 | 损失 2\\.31，对比 ln\\(10\\) = 2\\.303（1\\.003 倍） |",
            "| 是否用到输入 (`inputs_ignored`) | 🔴 未通过 | 训练 40 步后留出损失 2\\.31，全零输入为 2\\.29",
            "| 验证数据不在训练数据中 (`train_val_overlap`) | ⚪ 不适用 | – |",
        ),
    }[lang]
    for row in rows:
        assert row in md, md
    heading = {"en": "**Pre\\-flight: 7 passed", "zh": "**训练前检查：7 项通过"}[lang]
    assert md.index("## ") < md.index(heading) < md.index("### ")  # under the run's verdict, above the findings


# ---------------------------------------------------------------------- the catalogue


def test_every_preflight_code_has_its_words_in_every_language():
    for code in Check:
        assert str(code) in FINDINGS and str(code) in HEADLINES and str(code) in NOUNS
        for lang in LANGS:
            assert HEADLINES[str(code)][lang] and NOUNS[str(code)][lang]
            assert str(code) in PREFLIGHT[lang]["checks"]
        assert len(HEADLINES[str(code)]["en"]) == len(HEADLINES[str(code)]["zh"])
        assert FINDINGS[str(code)].fragments == () or all(
            set(t) == set(LANGS) for _, _, t in FINDINGS[str(code)].fragments
        )
    for lang in LANGS:
        assert set(PREFLIGHT[lang]) == set(PREFLIGHT["en"])
        for code, (title, wordings) in PREFLIGHT[lang]["checks"].items():
            assert title and len(wordings) == len(PREFLIGHT["en"]["checks"][code][1])
    for sid, texts in SUGGESTIONS.items():
        assert set(texts["en"]) == set(texts["zh"]), sid


def test_every_failed_check_renders_in_chinese_with_its_numbers():
    rep = analyze_run(with_preflight(flat_run(), report(failed=tuple(Check))))
    for f in rep.findings:
        rendered = render_finding(f, "zh")
        assert "?" not in rendered["message"] and rendered["message"] != render_finding(f, "en")["message"]
    zh = run_to_dict(rep, "zh")
    assert zh["diagnosis"]["verdict"].startswith("输入中有 NaN/Inf：训练前检查的 1797 行中有 20 行共 20 个")
    assert_keeps_the_invariants(rep)


# ---------------------------------------------------------------------- event files, the CLI's loader, the tab


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("preflight") / "logs"
    flat = [float(v) for v in flat_run().series["train/epoch_loss"].values]
    write_run(root / "ignored", report(failed=(Check.INPUTS_IGNORED,)), {"train/epoch_loss": flat})
    write_run(root / "crashed", report(failed=(Check.LABELS_OUT_OF_RANGE,)))
    return root


def test_written_event_files_read_back_into_the_same_report(logdir):
    runs = {r.name: analyze_run(r) for r in iter_runs(str(logdir))}
    assert set(runs) == {"ignored", "crashed"}
    assert runs["ignored"].diagnosis.primary == "inputs_ignored"
    assert runs["crashed"].diagnosis.primary == "labels_out_of_range" and runs["crashed"].status == "error"
    bias = next(c for c in runs["ignored"].preflight.checks if c.code == "initial_loss_off").curves["suggested_bias"]
    np.testing.assert_allclose(bias, result(Check.INITIAL_LOSS_OFF, True).curves["suggested_bias"], rtol=1e-6)
    for rep in runs.values():
        assert_keeps_the_invariants(rep)


def test_the_tab_routes_serve_the_checklist_and_the_range_test_curve(logdir):
    client = tensorboard_client(str(logdir))
    code, body = get(client, "diagnosis", run="ignored")
    assert code == 200
    assert body["preflight"]["failed"] == 1 and body["display"]["preflight"]["summary"] == body["preflight"]["summary"]
    code, series = get(client, "series", run="ignored")
    roles = {tag: s["roles"] for tag, s in series["series"].items()}
    assert roles[f"train/{t.PREFLIGHT}/lr_range_test/lr"] == ["preflight_lr_range_test_lr"]
    assert roles[f"train/{t.PREFLIGHT}/lr_range_test/curve_loss"] == ["preflight_lr_range_test_curve_loss"]
    assert not any("signal" in r for r in roles.values())  # the failed check's numbers are no callback signal
    assert len(series["series"][f"train/{t.PREFLIGHT}/lr_range_test/lr"]["steps"]) == 80
    code, zh = get(client, "diagnosis", run="ignored", lang="zh")
    assert zh["preflight"]["summary"].startswith("训练前检查：8 项通过")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_text_tab_summary_is_the_checklist_in_the_callbacks_language(lang):
    """`report_text` (what the callback writes for TensorBoard's Text tab) says what the analyzer's checklist
    says, in the callback's language: one line per check that ran, failed ones as failed."""
    from tb_recipe_plugin.preflight import report_text
    from tb_recipe_plugin.present.catalogue.labels import PREFLIGHT

    rep = report(failed=(Check.INPUTS_IGNORED,), skipped=(Check.LR_RANGE_TEST,))
    text = report_text(rep, lang)
    lines = [line for line in text.splitlines() if line.startswith("- **")]
    assert len(lines) == len(Check) - 1  # the skipped check wrote nothing
    failed = [line for line in lines if line.startswith(f"- **{PREFLIGHT[lang]['status']['failed']}**")]
    assert len(failed) == 1 and "2\\.29" in failed[0]  # the zero-input loss it measured
    assert "None" not in text and "?" not in text
