"""One diagnosis per run (issue 9): root cause, relations, LR cause, ranked actions with the run's numbers, units."""

from __future__ import annotations

import numpy as np
import pytest

from tb_recipe_plugin.analysis import diagnosis as dg
from tb_recipe_plugin.analysis.analyzer import analyze_run
from tb_recipe_plugin.analysis.diagnosis import Diagnosis, diagnose
from tb_recipe_plugin.analysis.report import Finding, RunReport
from tb_recipe_plugin.present.actions import TOP_ACTIONS, rank_actions, run_numbers
from tb_recipe_plugin.present.verdict import render_diagnosis, verdict
from tests.curves import decay, run, run_xy


def _f(code: str, severity: str, **evidence) -> Finding:
    return Finding(code, 1, 9, evidence, 0.8, ("loss",), severity=severity, unit="step")


def test_the_primary_is_the_root_of_the_most_severe_chain():
    findings = [
        _f("nonfinite_loss", "error"),
        _f("nonfinite_gradients", "error"),
        _f("exploding_gradients", "warning"),
        _f("periodic_loss", "warning"),
        _f("val_better_than_train", "info"),
    ]
    d = diagnose(findings, None)
    assert d.kind == "problem" and d.primary == "exploding_gradients"
    relation = {r.code: (r.relation, r.of) for r in d.related}
    assert relation["nonfinite_gradients"] == ("consequence", "exploding_gradients")
    assert relation["nonfinite_loss"] == ("consequence", "nonfinite_gradients")
    assert relation["periodic_loss"] == ("separate", None)
    assert relation["val_better_than_train"] == ("context", None)


def test_a_cause_leads_its_error_and_an_error_outranks_a_warning_chain():
    d = diagnose([_f("lr_too_small", "warning"), _f("no_learning", "error")], None)
    assert d.primary == "lr_too_small"  # the root of the chain that ends in the error
    assert [(r.code, r.relation) for r in d.related] == [("no_learning", "consequence")]
    d = diagnose([_f("overfitting", "warning"), _f("val_plateau", "warning"), _f("nonfinite_loss", "error")], None)
    assert d.primary == "nonfinite_loss"
    assert {r.code: r.relation for r in d.related} == {"overfitting": "separate", "val_plateau": "consequence"}


def test_info_only_runs_are_healthy_and_name_what_to_do():
    d = diagnose([_f("val_better_than_train", "info"), _f("still_learning", "info")], None)
    assert d.kind == "healthy" and d.primary == "still_learning"
    assert all(r.relation == "context" for r in d.related)


def test_no_findings_no_context_is_no_data():
    assert diagnose([], None).kind == "no_data"


def _nan_run(factor: float) -> RunReport:
    """Loss fine for 30 epochs, NaN from epoch 30; the LR has risen `factor`x by then (and no further)."""
    n = 40
    loss = decay(n, 2.0, 0.3)
    loss[30:] = np.nan
    lr = np.minimum(0.01 * np.geomspace(1, factor, 31)[np.minimum(np.arange(n), 30)], 0.01 * factor)
    return analyze_run(run(train__epoch_loss=loss, train__epoch_learning_rate=lr))


@pytest.mark.parametrize("factor,named", [(dg.LR_RISE_FACTOR * 0.95, False), (dg.LR_RISE_FACTOR * 1.05, True)])
def test_a_learning_rate_risen_past_the_factor_is_named_as_the_cause(factor, named):
    report = _nan_run(factor)
    d = report.diagnosis
    assert d is not None and d.primary == "nonfinite_loss"
    assert (d.cause == "lr_rise") is named
    text = verdict(report, "en")
    assert ("the learning rate had risen" in text) is named
    if named:
        assert d.facts["lr_rise"] == pytest.approx(factor, rel=0.02)
        first = render_diagnosis(report, "en")["actions"][0]
        assert first["id"] == "lower_lr" and "lr_schedule" in first["from"]
        assert first["numbers"]["lr_now"] == pytest.approx(0.01 * factor, rel=1e-3)


def test_actions_are_deduplicated_and_shared_ones_rise():
    findings = [_f("loss_spikes", "warning"), _f("noisy_loss", "warning")]
    d = Diagnosis("problem", "loss_spikes", [dg.Related("noisy_loss", "separate")])
    ranked = rank_actions(d, findings)
    ids = [a.id for a in ranked]
    assert len(ids) == len(set(ids))
    assert ids[0] == "clip_gradients"  # the primary's first suggestion
    lower = next(a for a in ranked if a.id == "lower_lr")
    assert set(lower.sources) == {"loss_spikes", "noisy_loss"}
    # asked second by both, it outranks the primary's third suggestion asked by one
    assert ids.index("lower_lr") < ids.index("lr_warmup")


def test_actions_quote_the_runs_learning_rate_and_are_generic_without_one():
    with_lr = Diagnosis("problem", "lr_too_high", facts={"lr_peak": 4.0, "lr_first": 0.01, "lr_constant": 0})
    findings = [_f("lr_too_high", "warning", lr_peak=4.0)]
    numbers = run_numbers(with_lr, findings)
    assert (numbers["lr_now"], numbers["lr_low"], numbers["lr_high"]) == (4.0, 0.4, 1.3)
    report = RunReport("r", "warning", findings=findings, diagnosis=with_lr)
    first = render_diagnosis(report, "en")["actions"][0]
    assert first["action"].startswith("Lower the peak learning rate from 4 to 0.4-1.3")
    report.findings, report.diagnosis = [_f("lr_too_high", "warning")], Diagnosis("problem", "lr_too_high")
    generic = render_diagnosis(report, "en")["actions"][0]
    assert "e.g. 1e-3" in generic["action"] and "numbers" not in generic
    assert len(render_diagnosis(report, "en")["actions"]) <= TOP_ACTIONS
    assert len(render_diagnosis(report, "en", all_actions=True)["actions"]) == 3  # lr_too_high has 3 suggestions


def test_keras_epoch_curves_say_epoch_and_a_lone_counter_says_step():
    loss = decay(30, 2.0, 0.3)
    val = loss * 1.1
    val[10:] = val[10] * (1 + 0.04 * np.arange(20))  # overfits from epoch 10
    keras = analyze_run(run(train__epoch_loss=loss, validation__epoch_loss=val))
    plain = analyze_run(run(loss__train=loss, loss__val=val))
    of_keras = next(f for f in keras.findings if f.code == "overfitting")
    of_plain = next(f for f in plain.findings if f.code == "overfitting")
    assert of_keras.unit == "epoch" and keras.best_step_unit == "epoch"
    assert of_plain.unit == "step"
    assert "at epoch 10" in verdict(keras, "en") and "第 10 个 epoch" in verdict(keras, "zh")
    assert "at step 10" in verdict(plain, "en")


def test_an_epoch_index_beside_an_optimizer_step_axis_is_epochs():
    """A per-epoch validation curve counted 0, 1, 2... in a run whose training loss counts optimizer steps."""
    steps = np.arange(0, 2000, 10)
    v = np.r_[decay(12, 2.0, 0.5), 0.5 * (1 + 0.05 * np.arange(8))]
    report = analyze_run(run_xy(loss=(steps, decay(steps.size, 2.0, 0.2)), val_loss=(np.arange(20), v)))
    from tb_recipe_plugin.analysis.rules.context import Context
    from tb_recipe_plugin.analysis.units import counts_epochs

    ctx = Context(run=run_xy(loss=(steps, decay(steps.size)), val_loss=(np.arange(20), v)), roles=report.roles)
    assert counts_epochs(ctx, "val_loss", "epoch")
    assert not counts_epochs(ctx, "loss", "epoch")


def test_a_healthy_run_without_findings_says_which_checkpoint_to_keep():
    report = RunReport("r", "ok", best_step=17, best_step_unit="epoch", best_step_kind="lowest", best_step_tag="val")
    report.diagnosis = Diagnosis("healthy")
    assert verdict(report, "en") == "Healthy: no problem found; keep epoch 17 (lowest val)."
    assert verdict(report, "zh") == "健康：没有发现问题；保留第 17 个 epoch（val 最低）。"
    report.best_step = None
    assert verdict(report, "en") == "Healthy: no problem found."


def test_a_run_at_chance_is_no_learning_whatever_the_noise():
    """Issue 9's example: SGD at lr=5 on 3 classes, accuracies 0.28-0.40 all run, a loss that scatters."""
    rng = np.random.default_rng(0)
    n = 30
    acc = np.clip(0.34 + 0.04 * rng.standard_normal(n), 0.28, 0.40)
    vacc = np.clip(0.34 + 0.04 * rng.standard_normal(n), 0.28, 0.40)
    loss = np.log(3) * (1 + 0.3 * rng.standard_normal(n))
    vloss = np.log(3) * (1 + 0.3 * rng.standard_normal(n))
    report = analyze_run(
        run(
            train__epoch_loss=loss,
            validation__epoch_loss=vloss,
            train__epoch_accuracy=acc,
            validation__epoch_accuracy=vacc,
            train__epoch_learning_rate=np.full(n, 5.0),
        )
    )
    assert report.status == "error" and report.diagnosis is not None
    assert report.diagnosis.primary == "no_learning"
    assert "noisy_loss" not in {f.code for f in report.findings}  # the noise is not the verdict
    assert verdict(report, "en").startswith("Nothing is being learned: validation/epoch_accuracy stays at chance")
    assert report.diagnosis.facts["lr_peak"] == 5.0


def test_a_step_says_its_epoch_when_the_run_proved_the_epoch_length():
    from tb_recipe_plugin.present.catalogue.render import place

    assert place(531, "step", "en", 45) == "step 531 (epoch 11)"
    assert place(45, "step", "en", 45) == "step 45 (epoch 0)" and place(46, "step", "en", 45) == "step 46 (epoch 1)"
    assert place(531, "step", "zh", 45) == "第 531 步（第 11 个 epoch）"
    assert place(531, "step", "en") == "step 531" and place(11, "epoch", "en", 45) == "epoch 11"


def test_callback_runs_get_clip_and_warmup_numbers_from_their_own_logs():
    from pathlib import Path

    from tb_recipe_plugin.io.loader import iter_runs

    (rd,) = iter_runs(str(Path(__file__).resolve().parents[1] / "demo_logs" / "keras_nan_divergence"))
    d = render_diagnosis(analyze_run(rd), "en", all_actions=True)
    numbers = {a["id"]: a.get("numbers", {}) for a in d["actions"]}
    assert 0.5 < numbers["clip_gradients"]["clip_norm"] < 5  # the healthy first half's norms, not the 5e15 peak
    assert numbers["lr_warmup"]["total_steps"] == 720 and numbers["lr_warmup"]["warmup_high"] == 36
