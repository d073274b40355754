"""Every declared rule threshold decides something, where it says, and a change to it makes the suite fail.

Three layers (cases in tests/threshold_cases.py):

- Edge: for each (rule, threshold) a run just below and one just above the
  constant's current value; the rule fires on exactly one side. The probes are
  derived from the constant, so the edge test follows a deliberate change.
- Mutation: the constant patched to a clearly lower and a clearly higher value
  moves the edge past both probes. This proves each probe is decided by that
  threshold and not by another condition that happens to fail, i.e. that the
  edge test bites. The six changes that left the whole suite green before
  issue 8 are checked by name.
- Reviewed value: an edge test that follows its constant cannot notice that
  the constant changed. `REVIEWED_AT` records the value each threshold had
  when it was last checked against the accuracy benchmark; when a constant no
  longer equals it, its edge is also run at the reviewed value and must still
  give the reviewed outcome, so an accidental or unmeasured change fails with
  the behaviour it changed. To change a threshold on purpose: re-measure with
  benchmarks/accuracy.py, then update its entry here in the same commit.
"""

from __future__ import annotations

import pytest

from tb_recipe_plugin.analysis.rules import BY_CODE, RULES
from tests.threshold_cases import EDGES, Edge

REVIEWED_AT: dict[tuple[str, str], float] = {
    ("divergence", "DIV_RISE_OF_DROP"): 0.5,
    ("divergence", "DIV_MIN_RATIO"): 1.3,
    ("divergence", "DIV_TAIL"): 0.2,
    ("divergence", "DIV_EXPLODE_RATIO"): 10.0,
    ("no_learning", "NO_LEARN_MAX_IMPROVEMENT"): 0.05,
    ("no_learning", "NO_LEARN_MIN_POINTS"): 5,
    ("no_learning", "NO_LEARN_TRAIN_BESIDE_FLAT_VAL"): 0.2,
    ("no_learning", "CHANCE_TOLERANCE"): 0.03,
    ("no_learning", "METRIC_MIN_GAIN"): 0.05,
    ("no_learning", "METRIC_ABOVE_CHANCE"): 0.1,
    ("no_learning", "NO_LEARN_COLLAPSE_TAIL"): 0.2,
    ("no_learning", "CHANCE_METRIC_BAND"): 0.05,
    ("no_learning", "CHANCE_METRIC_SPREAD"): 0.15,
    ("no_learning", "CHANCE_TRAIN_LEARNS"): 0.3,
    ("exploding_gradients", "EXPLODE_GROWTH"): 50.0,
    ("exploding_gradients", "EXPLODE_LAYER_RATIO"): 70.0,
    ("exploding_gradients", "EARLY_FRACTION"): 0.1,
    ("exploding_gradients", "MIN_GRAD_POINTS"): 8,
    ("exploding_gradients", "MIN_LAYERS"): 3,
    ("dying_relu", "DEAD_FRACTION"): 0.7,
    ("dying_relu", "RECENT_POINTS"): 3,
    ("vanishing_gradients", "VANISH_LAYER_RATIO"): 0.001,
    ("vanishing_gradients", "MIN_LAYERS"): 3,
    ("saturated_activations", "SATURATED_FRACTION"): 0.5,
    ("saturated_activations", "RECENT_POINTS"): 3,
    ("update_ratio_high", "UPDATE_RATIO_HIGH"): 0.01,
    ("update_ratio_high", "MIN_RATIO_POINTS"): 3,
    ("update_ratio_low", "UPDATE_RATIO_LOW"): 1e-05,
    ("update_ratio_low", "MIN_RATIO_POINTS"): 3,
    ("initial_loss_off", "INITIAL_LOSS_FACTOR"): 2.0,
    ("val_better_than_train", "VBT_MIN_FRACTION"): 0.8,
    ("val_better_than_train", "VBT_MIN_MARGIN"): 0.04,
    ("data_problem", "DATA_TRAIN_FLAT"): 0.05,
    ("data_problem", "DATA_VAL_GAIN"): 0.2,
    ("data_problem", "DATA_TRAIN_GAIN"): 0.3,
    ("data_problem", "DATA_VAL_NEVER"): 0.02,
    ("data_problem", "DATA_ACCURACY_LEARNED"): 0.6,
    ("overfitting", "OVERFIT_MIN_RISE_OF_BEST"): 0.1,
    ("overfitting", "OVERFIT_MIN_RISE_SE"): 3.0,
    ("overfitting", "OVERFIT_MIN_AFTER"): 3,
    ("overfitting", "OVERFIT_CONFIRMED_RISE_SE"): 2.0,
    ("overfitting", "OVERFIT_SAME_TURN"): 0.1,
    ("overfitting", "TRAIN_STILL_FALLING"): 0.02,
    ("overfitting", "DATA_VAL_NEVER"): 0.02,
    ("overfitting", "DATA_ACCURACY_LEARNED"): 0.6,
    ("val_plateau", "VAL_FLAT_TOLERANCE"): 0.05,
    ("val_plateau", "VAL_FLAT_SE"): 2.0,
    ("val_plateau", "VAL_FLAT_MAX_SE"): 0.1,
    ("val_plateau", "VAL_MIN_EARLY_GAIN"): 0.1,
    ("val_plateau", "VAL_FLAT_MIN_TAIL"): 0.3,
    ("val_plateau", "TRAIN_GAIN_IN_TAIL"): 0.035,
    ("val_plateau", "VAL_VS_TRAIN"): 0.5,
    ("best_checkpoint_mismatch", "MISMATCH_MIN_METRIC_LOSS"): 0.05,
    ("best_checkpoint_mismatch", "MISMATCH_MIN_RELATIVE"): 0.005,
    ("best_checkpoint_mismatch", "MISMATCH_MIN_DISTANCE"): 0.1,
    ("best_checkpoint_mismatch", "MISMATCH_MIN_NOISE"): 2.0,
    ("plateau", "PLATEAU_TOLERANCE"): 0.03,
    ("plateau", "PLATEAU_FLAT_SE"): 2.0,
    ("plateau", "PLATEAU_MAX_SE"): 0.1,
    ("plateau", "PLATEAU_MIN_TAIL"): 0.3,
    ("plateau", "PLATEAU_MIN_EARLY_GAIN"): 0.1,
    ("plateau", "TRAIN_GAIN_IN_TAIL"): 0.035,
    ("still_learning", "STILL_TAIL"): 0.25,
    ("still_learning", "STILL_MIN_TAIL_GAIN"): 0.02,
    ("still_learning", "STILL_MIN_TREND_NOISE"): 2.0,
    ("still_learning", "STILL_BEST_NEAR_END"): 0.1,
    ("still_learning", "STILL_TRAIN_UNREADABLE_SE"): 1.0,
    ("lr_too_small", "LINEAR_MIN_R2"): 0.97,
    ("lr_too_small", "LINEAR_MIN_HALF_RATIO"): 0.6,
    ("lr_too_small", "LINEAR_MIN_POINTS"): 8,
    ("lr_decay_too_early", "LR_DECAYED_FRACTION"): 0.1,
    ("lr_too_high", "LR_HIGH_FRACTION"): 0.5,
    ("lr_too_high", "LR_HIGH_MIN_RANGE"): 3.0,
    ("lr_too_high", "LR_HIGH_MIN_SPAN"): 0.1,
    ("lr_too_high", "LR_HIGH_PACE"): 2.0,
    ("lr_too_high", "LR_HIGH_JITTER"): 3.0,
    ("lr_too_high", "LR_HIGH_RESUME_GAP"): 50.0,
    ("lr_too_high", "LR_HIGH_RESUME_MIN_S"): 600.0,
    ("lr_too_high", "LR_HIGH_MAX_SHARE"): 0.25,
    ("lr_too_high", "LR_HIGH_MIN_GAIN_AFTER"): 0.2,
    ("lr_decay_too_early", "LR_MIN_AFTER"): 0.25,
    ("lr_decay_too_early", "LR_GAIN_BEFORE"): 0.05,
    ("lr_decay_too_early", "LR_MAX_GAIN_AFTER"): 0.05,
    ("lr_decay_too_early", "LR_PACE_AFTER"): 0.1,
    ("underfitting", "UNDERFIT_MAX_IMPROVEMENT"): 0.3,
    ("underfitting", "UNDERFIT_MAX_GAP"): 0.1,
    ("underfitting", "UNDERFIT_FLAT_TOLERANCE"): 0.03,
    ("underfitting", "UNDERFIT_FLAT_SE"): 2.0,
    ("underfitting", "UNDERFIT_FLAT_MAX_SE"): 0.1,
    ("underfitting", "UNDERFIT_MIN_TAIL"): 0.3,
    ("underfitting", "UNDERFIT_MAX_TRAIN_ACCURACY"): 0.8,
    ("underfitting", "UNDERFIT_MAX_ACCURACY_GAP"): 0.05,
    ("noisy_loss", "NOISY_RATIO"): 0.25,
    ("noisy_loss", "NOISY_BATCH_LEVEL"): 0.2,
    ("noisy_loss", "NOISY_MIN_POINTS"): 8,
    ("noisy_loss", "NOISY_BATCH_TAIL"): 0.3,
    ("noisy_loss", "NOISY_LEVEL_FLOOR"): 0.2,
    ("periodic_loss", "PERIODIC_MIN_AUTOCORR"): 0.3,
    ("periodic_loss", "PERIODIC_MIN_Z"): 5.0,
    ("periodic_loss", "PERIODIC_MIN_CYCLES"): 3,
    ("periodic_loss", "PERIODIC_MIN_POINTS"): 4,
    ("periodic_loss", "PERIODIC_MAX_POINTS"): 4000,
    ("periodic_loss", "PERIODIC_FUNDAMENTAL"): 0.8,
    ("loss_spikes", "SPIKE_FACTOR"): 3.0,
    ("loss_spikes", "SPIKE_FACTOR_EPOCH"): 2.0,
    ("loss_spikes", "SPIKE_MAD"): 6.0,
    ("loss_spikes", "SPIKE_MAX_WIDTH"): 0.01,
    ("loss_spikes", "SPIKE_RECOVERY"): 3,
    ("loss_spikes", "SPIKE_MAX_SHARE"): 0.01,
    ("loss_spikes", "SPIKE_FEW"): 5,
}

ISSUE_8_MUTATIONS = [
    ("loss_spikes", "SPIKE_FACTOR_EPOCH", 3.0),  # the issue's SPIKE_FACTOR 2->3: the factor that is 2 today
    ("lr_too_small", "LINEAR_MIN_R2", 0.995),
    ("val_better_than_train", "VBT_MIN_FRACTION", 0.95),
    ("best_checkpoint_mismatch", "MISMATCH_MIN_DISTANCE", 0.3),
    ("divergence", "DIV_MIN_RATIO", 2.0),
    ("still_learning", "STILL_MIN_TREND_NOISE", 4.0),
]
"""Threshold changes that left all 331 tests passing before issue 8."""


def _param(edge: Edge, reason: str | None) -> pytest.ParameterSet:
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(edge, id=edge.id, marks=marks)


def _current(edge: Edge) -> float:
    return BY_CODE[edge.code].thresholds[edge.threshold]


def _patch(monkeypatch: pytest.MonkeyPatch, code: str, name: str, value: float) -> None:
    """Set the constant where the rule looks it up: its own module's globals (a shared constant is per module)."""
    monkeypatch.setitem(BY_CODE[code].fn.__globals__, name, value)


@pytest.mark.parametrize("edge", [_param(e, e.xfail) for e in EDGES])
def test_rule_fires_on_one_side_of_its_threshold(edge: Edge):
    t = _current(edge)
    below, above = edge.probes(t)
    assert edge.outcomes(t) == edge.expected, (
        f"{edge.code} should fire only {edge.fires} {edge.threshold} = {t} (probes x = {below:g} and {above:g})"
    )
    reviewed = REVIEWED_AT[(edge.code, edge.threshold)]
    if reviewed != t:
        got = edge.outcomes(reviewed)
        below, above = edge.probes(reviewed)
        assert got == edge.expected, (
            f"{edge.threshold} is {t}, reviewed at {reviewed}: {edge.code} now gives {got} at x = {below:g} and "
            f"{above:g}, was {edge.expected}. If deliberate, re-measure with benchmarks/accuracy.py and update "
            "REVIEWED_AT."
        )


@pytest.mark.parametrize("direction", ["lower", "higher"])
@pytest.mark.parametrize("edge", [_param(e, e.xfail or e.patch_xfail) for e in EDGES])
def test_changing_the_constant_moves_the_edge(edge: Edge, direction: str, monkeypatch: pytest.MonkeyPatch):
    t = _current(edge)
    assert edge.outcomes(t) == edge.expected  # the edge test passes before the change...
    if direction == "lower" and edge.lower_unobservable:
        pytest.xfail(edge.lower_unobservable)
    to = edge.mutations(t)[direction == "higher"]
    _patch(monkeypatch, edge.code, edge.threshold, to)
    # ...and after it, both probes give what the side of the new edge they are on says.
    assert edge.outcomes(t) == edge.moved(t, to), f"{edge.threshold} {t} -> {to} did not change {edge.code}'s edge"


@pytest.mark.parametrize(("code", "name", "to"), ISSUE_8_MUTATIONS, ids=[m[1] for m in ISSUE_8_MUTATIONS])
def test_the_threshold_changes_named_in_issue_8_are_caught(code: str, name: str, to: float, monkeypatch):
    """Made in the source, each change fails the edge test above at the reviewed value; here, patched in."""
    (edge,) = [e for e in EDGES if (e.code, e.threshold) == (code, name)]
    reviewed = REVIEWED_AT[(code, name)]
    _patch(monkeypatch, code, name, to)
    got = edge.outcomes(reviewed)
    assert got != edge.expected and got == edge.moved(reviewed, to)


def test_every_declared_threshold_has_an_edge_case_and_a_reviewed_value():
    declared = {(r.code, name) for r in RULES for name in r.threshold_names}
    covered = {(e.code, e.threshold) for e in EDGES}
    assert declared - covered == set(), "a declared threshold has no edge case in tests/threshold_cases.py"
    assert covered - declared == set(), "an edge case names a threshold its rule does not declare"
    assert set(REVIEWED_AT) == declared, "REVIEWED_AT must list exactly the declared thresholds"
