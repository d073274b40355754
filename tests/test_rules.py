"""Each rule on constructed curves: fires on its pattern, stays silent elsewhere,
whatever the loss scale and the number of points."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tb_recipe_plugin.analysis.analyzer import analyze_run
from tb_recipe_plugin.analysis.rules import noise
from tb_recipe_plugin.present.catalogue import FINDINGS, LANGS, render_finding
from tests.curves import codes, decay, noisy, run, run_xy

SCALES = [1e-3, 1.0, 1e3]
LENGTHS = [10, 40, 300]


def finding(report, code):
    return next(f for f in report.findings if f.code == code)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("n", LENGTHS)
def test_healthy_run_has_no_warnings(scale, n):
    train = noisy(decay(n, 2.0, 0.3, rate=6), 0.01) * scale
    val = noisy(decay(n, 2.1, 0.35, rate=6), 0.01, seed=1) * scale
    rep = analyze_run(run(Loss__train=train, Loss__val=val))
    assert rep.status in ("ok", "info"), [render_finding(f)["message"] for f in rep.findings]
    assert not codes(rep) & {"nonfinite_loss", "divergence", "no_learning", "overfitting", "noisy_loss"}


# -- nonfinite_loss ---------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nonfinite_reports_first_step(bad):
    train = decay(30)
    train[17:] = bad
    rep = analyze_run(run(train_loss=train, steps=np.arange(30) * 10))
    f = finding(rep, "nonfinite_loss")
    assert f.start_step == 170 and f.evidence["first_step"] == 170
    assert f.evidence["count"] == 13
    assert f.evidence["last_finite_step"] == 160
    assert rep.status == "error"


def test_nonfinite_in_metric_is_reported_too():
    acc = np.linspace(0.3, 0.9, 20)
    acc[5] = math.nan
    rep = analyze_run(run(train_loss=decay(20), val_acc=acc))
    assert finding(rep, "nonfinite_loss").evidence["tag"] == "val_acc"


def test_all_nan_series_does_not_crash():
    rep = analyze_run(run(train_loss=np.full(10, np.nan)))
    assert "nonfinite_loss" in codes(rep)


# -- divergence ------------------------------------------------------------------


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("n", [12, 60, 2000])
def test_divergence_loss_turns_up_and_stays(scale, n):
    k = n // 3
    y = np.concatenate([decay(k, 2.0, 0.5, 4), np.linspace(0.55, 3.0, n - k)]) * scale
    rep = analyze_run(run(train_loss=noisy(y, 0.01)))
    f = finding(rep, "divergence")
    assert f.evidence["last_value"] > 2 * f.evidence["min_value"]


def test_rising_train_loss_from_the_start_is_divergence():
    rep = analyze_run(run(train_loss=np.linspace(1.0, 4.0, 20), val_loss=np.linspace(1.1, 4.5, 20)))
    assert "divergence" in codes(rep)


def test_recovered_bump_is_not_divergence():
    y = decay(60)
    y[20:30] += np.hanning(10) * 1.5
    rep = analyze_run(run(train_loss=y))
    assert "divergence" not in codes(rep)


def test_an_accelerating_blow_up_is_divergence():
    """Falls 10x, wobbles, then climbs faster and faster to 9x its start (an LR ramp): early in the last fifth the
    loss is still far below where it ends, but it never comes back down."""
    y = np.r_[np.linspace(2.3, 0.23, 12), np.full(4, 0.25), 2.3 * np.exp(np.linspace(0.0, 2.2, 14))]
    rep = analyze_run(run(Loss__train=y))
    assert "divergence" in codes(rep)


def test_overfitting_is_not_divergence():
    n = 40
    train = decay(n, 2, 0.05)
    val = decay(n, 2, 0.5) + np.clip(np.linspace(-0.4, 0.8, n), 0, None)
    assert "divergence" not in codes(analyze_run(run(Loss__train=train, Loss__val=val)))


# -- no_learning -----------------------------------------------------------------


@pytest.mark.parametrize("classes", [2, 4, 10, 100])
def test_no_learning_at_uniform_guess_loss(classes):
    y = noisy(np.full(50, math.log(classes)), 0.003)
    acc = noisy(np.full(50, 1 / classes), 0.01)
    rep = analyze_run(run(train__loss=y, eval__loss=y + 0.002, eval__accuracy=acc))
    f = finding(rep, "no_learning")
    assert f.evidence["classes"] == classes
    assert f"ln({classes})" in render_finding(f)["message"]
    assert rep.status == "error"


def test_flat_loss_without_chance_value_is_still_no_learning():
    rep = analyze_run(run(train_loss=noisy(np.full(30, 0.731), 0.002)))
    f = finding(rep, "no_learning")
    assert "classes" not in f.evidence


@pytest.mark.parametrize("loss", [3.0, 4.0, 5.3])
def test_a_large_flat_loss_names_no_class_count(loss):
    """Above ~12 classes every loss is within CHANCE_TOLERANCE of some ln(C): naming one would be a guess."""
    rep = analyze_run(run(train_loss=noisy(np.full(30, loss), 0.002)))
    assert "classes" not in finding(rep, "no_learning").evidence


def test_guessed_class_count_is_the_nearest_guessable_one():
    from tb_recipe_plugin.analysis.rules.health import uniform_guess_classes

    assert uniform_guess_classes(math.log(10) * 1.02) == 10
    assert uniform_guess_classes(math.log(1000) * 0.98) == 1000
    assert uniform_guess_classes(math.log(55)) is None


def test_a_percent_accuracy_at_chance_does_not_veto_no_learning():
    """MMEngine logs top-1 in percent: 9 -> 11 for 10 classes is chance, not a 20% gain."""
    loss = noisy(np.full(30, math.log(10)), 0.002)
    top1 = noisy(np.linspace(9.0, 11.0, 30), 0.3)
    assert "no_learning" in codes(analyze_run(run(loss=loss, accuracy__top1=top1)))
    assert "no_learning" not in codes(analyze_run(run(loss=loss, accuracy__top1=top1 + 30.0)))


def test_scores_are_read_as_fractions_of_perfect():
    from tb_recipe_plugin.analysis.curves import make_curve
    from tb_recipe_plugin.analysis.rules.context import as_fraction
    from tb_recipe_plugin.analysis.series import Series

    def curve(tag, values, direction="max"):
        return make_curve(Series(tag, np.arange(len(values)), np.asarray(values, dtype=float)), direction)

    assert as_fraction(curve("val_acc", [0.2, 0.9])).tolist() == [0.2, 0.9]
    assert as_fraction(curve("accuracy/top1", [20.0, 90.0])).tolist() == [0.2, 0.9]
    assert as_fraction(curve("bbox/AP", [1.5, 38.0])).tolist() == [0.015, 0.38]
    assert as_fraction(curve("psnr", [20.0, 31.0])) is None  # not a percentage by name
    assert as_fraction(curve("accuracy", [20.0, 120.0])) is None  # above 100: not a percentage
    assert as_fraction(curve("mae", [0.3, 0.1], "min")) is None  # lower is better: not a score of perfect


def test_improving_metric_vetoes_no_learning():
    loss = noisy(np.full(30, 0.9), 0.002)
    acc = np.linspace(0.5, 0.9, 30)
    assert "no_learning" not in codes(analyze_run(run(train_loss=loss, val_acc=acc)))


def test_learning_run_is_not_no_learning():
    assert "no_learning" not in codes(analyze_run(run(train_loss=decay(30))))


# -- overfitting -----------------------------------------------------------------


def _rise_at_2_5_se(start: float) -> np.ndarray:
    """14 evaluations from `start` down to 1.0 at index 9, then +50%: a rise of 2.5 standard errors."""
    from tests.threshold_cases import N, bisect, knots, noise_level

    trend = knots(N, (0, start), (9, 1.0), (13, 1.5))
    pattern = np.zeros(N)
    pattern[1:9] = np.resize([1.0, -1.0], 8)
    a = bisect(lambda a: 0.5 / (noise_level(trend + a * pattern) * np.sqrt(1.25)), 2.5, 1e-4, 0.2, decreasing=True)
    return trend + a * pattern


def test_a_weak_rise_is_overfitting_only_when_the_metric_turns_with_it():
    train = np.linspace(2.0, 0.5, 14)
    turning = np.interp(np.arange(14), [0, 9, 13], [0.5, 0.9, 0.8])
    still_rising = np.linspace(0.5, 0.9, 14)
    loss = _rise_at_2_5_se(3.0)
    assert "overfitting" in codes(analyze_run(run(train_loss=train, val_loss=loss, val_accuracy=turning)))
    assert "overfitting" not in codes(analyze_run(run(train_loss=train, val_loss=loss, val_accuracy=still_rising)))
    assert "overfitting" not in codes(analyze_run(run(train_loss=train, val_loss=loss)))


def test_a_weak_rise_needs_validation_to_have_improved_more_than_it_gave_back():
    """From 1.3 down to 1.0 and back up to 1.5: a noisy curve that hardly learned, not a turn."""
    turning = np.interp(np.arange(14), [0, 9, 13], [0.5, 0.9, 0.8])
    rd = run(train_loss=np.linspace(2.0, 0.5, 14), val_loss=_rise_at_2_5_se(1.3), val_accuracy=turning)
    assert "overfitting" not in codes(analyze_run(rd))


def _u_shape(n, turn, scale=1.0, rise=0.6):
    t = np.arange(n)
    val = decay(n, 2.0, 0.5, rate=4) + rise * np.clip((t - turn) / (n - turn), 0, None)
    return val * scale


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("n,turn", [(10, 4), (40, 15), (300, 100)])
def test_overfitting_best_step_is_the_turn(scale, n, turn):
    train = decay(n, 2.0, 0.05, rate=4) * scale
    val = noisy(_u_shape(n, turn, scale), 0.005)
    rep = analyze_run(run(epoch_loss=train, val_epoch_loss=val))
    f = finding(rep, "overfitting")
    true_turn = int(np.argmin(_u_shape(n, turn)))
    assert abs(f.start_step - true_turn) <= max(2, n // 8)
    assert rep.best_step == f.evidence["best_step"]
    assert rep.status == "warning"


def test_overfitting_on_metric_when_no_val_loss():
    n = 40
    acc = 0.9 - 0.4 * np.exp(-np.arange(n) / 4) - 0.15 * np.clip((np.arange(n) - 15) / 25, 0, None)
    rep = analyze_run(run(train_loss=decay(n, 2, 0.05), val_accuracy=acc))
    assert "overfitting" in codes(rep)


def test_small_late_wobble_is_not_overfitting():
    n = 40
    val = decay(n, 2.0, 0.5, rate=4)
    val[-3:] += 0.01
    rep = analyze_run(run(Loss__train=decay(n, 2.0, 0.3), Loss__val=val))
    assert "overfitting" not in codes(rep)


def test_a_late_regression_cut_short_by_early_stopping_is_overfitting():
    """Issue 8: 100 epochs, validation +40% from its best over the last 5 evaluations, accuracy down 6 points,
    training still falling: overfitting, though only 5% of the evaluations follow the best."""
    n = 100
    val = noisy(decay(95, 1.2, 0.5, 4), 0.01, 1)
    val = np.r_[val, val[-1] * np.array([1.08, 1.16, 1.25, 1.33, 1.4])]
    acc = np.r_[np.linspace(0.5, 0.86, 95), 0.86 - np.array([0.01, 0.02, 0.035, 0.05, 0.06])]
    rep = analyze_run(
        run(
            Loss__train=decay(n, 1.2, 0.1, 4),
            Loss__val=val,
            Accuracy__train=np.linspace(0.5, 0.99, n),
            Accuracy__val=acc,
        )
    )
    assert 88 <= finding(rep, "overfitting").evidence["best_step"] <= 94


def test_a_converged_noisy_validation_curve_is_not_overfitting():
    """60 evaluations, flat at 1.0 after epoch 15 with 6% noise, training still falling: the lowest evaluation
    sits ~2 noise sigmas below the level, so the end is 12% above "the best" without any turn."""
    n = 60
    val = np.r_[np.linspace(2.0, 1.0, 15), np.ones(n - 15)] * np.exp(np.random.default_rng(7).normal(0, 0.06, n))
    rep = analyze_run(run(Loss__train=decay(n, 2.0, 0.2, 4), Loss__val=val))
    assert "overfitting" not in codes(rep)


# -- val_plateau / plateau / still_learning --------------------------------------------


@pytest.mark.parametrize("n", [12, 40, 300])
def test_val_plateau_train_keeps_falling(n):
    train = np.linspace(1.0, 0.1, n)
    val = noisy(decay(n, 1.2, 0.6, rate=12), 0.005)
    rep = analyze_run(run(Loss__train=train, Loss__val=val))
    assert "val_plateau" in codes(rep)
    assert "overfitting" not in codes(rep)


def test_val_plateau_after_a_drop_faster_than_the_smoothing_window():
    """300 evaluations whose whole gain comes in the first 4: the smoothed curve starts on the plateau already
    (its median window is 30 points wide), so the early gain must be read from the first evaluation itself."""
    n = 300
    val = np.full(n, 0.6)
    val[:4] = [1.2, 0.9, 0.7, 0.62]
    val = noisy(val, 0.003)
    train = np.linspace(1.0, 0.3, n)
    rep = analyze_run(run(Loss__train=train, Loss__val=val))
    assert "val_plateau" in codes(rep)


@pytest.mark.parametrize("scale", SCALES)
def test_plateau_both_flat_after_progress(scale):
    n = 50
    train = noisy(decay(n, 2.0, 0.4, rate=15), 0.002) * scale
    val = noisy(decay(n, 2.1, 0.45, rate=15), 0.002, 1) * scale
    rep = analyze_run(run(Loss__train=train, Loss__val=val))
    f = finding(rep, "plateau")
    assert f.start_step < n // 2


def test_still_learning_when_both_fall_at_the_end():
    n = 20
    rep = analyze_run(run(Loss__train=decay(n, 2, 0.1, rate=1.2), Loss__val=decay(n, 2.1, 0.2, rate=1.2)))
    assert "still_learning" in codes(rep)
    assert rep.status == "info"


def test_plateau_is_not_still_learning():
    n = 50
    rep = analyze_run(run(Loss__train=decay(n, 2, 0.4, 15), Loss__val=decay(n, 2, 0.45, 15)))
    assert "still_learning" not in codes(rep)


def test_still_learning_beside_a_noisy_per_batch_training_loss():
    """Validation (20 evaluations) still falls 10% over the last quarter; the per-batch training loss beside it
    falls too but scatters +-40%: it only has to point the same way, not prove its trend on its own."""
    val = np.exp(np.linspace(0.0, -0.8, 20))
    batches = np.exp(np.linspace(0.3, -0.6, 400) + np.random.default_rng(5).normal(0, 0.4, 400))
    rep = analyze_run(run_xy(train__loss=(np.arange(400) * 5, batches), val__loss=(np.arange(1, 21) * 100, val)))
    assert "still_learning" in codes(rep)


def test_plateau_when_training_made_the_progress_and_validation_barely_moved():
    """A weak model: training improved 30% and levelled off; validation moved 4% and levelled off beside it."""
    n = 30
    train = decay(n, 1.0, 0.7, 6)
    val = decay(n, 0.72, 0.69, 6)
    rep = analyze_run(run(Loss__train=train, Loss__val=val))
    assert "plateau" in codes(rep)


def test_a_straight_line_still_falling_at_the_end_is_both_too_small_an_lr_and_unfinished():
    """Both hold and both are worth saying: the LR is too small, and the run stopped while it was still learning."""
    n = 40
    train = np.linspace(2.0, 1.2, n)
    rep = analyze_run(run(Loss__train=train, Loss__val=train * 1.02))
    assert {"lr_too_small", "still_learning"} <= codes(rep)


# -- underfitting ----------------------------------------------------------------


def test_underfitting_high_flat_small_gap():
    n = 40
    train = decay(n, 1.0, 0.82, rate=10)
    val = train * 1.03
    rep = analyze_run(run(Loss__train=train, Loss__val=val))
    assert "underfitting" in codes(rep)


def test_underfitting_seen_in_a_low_accuracy_plateau():
    """The loss fell a lot, but training accuracy levels off at 0.72 with validation level with it."""
    n = 40
    acc = 0.72 - 0.4 * np.exp(-np.arange(n) / 3)
    rep = analyze_run(
        run(
            Loss__train=decay(n, 1.0, 0.45, 8),
            Loss__val=decay(n, 1.0, 0.47, 8),
            Accuracy__train=acc,
            Accuracy__val=acc + 0.01,
        )
    )
    f = finding(rep, "underfitting")
    assert f.evidence["train_accuracy"] < 0.75
    assert "plateau" in codes(rep)  # both descriptions hold: converged, and too weak


def test_underfitting_on_a_small_data_set_whose_accuracy_moves_in_steps():
    """150 epochs on ~150 samples: training accuracy jitters +-3 points around 0.62 (one sample is 0.7 points),
    validation (dropout off) sits 10 points above it. Levelled off by its trend, not by staying in a 3% band; and
    validation above training does not make the model less weak."""
    n = 150
    rng = np.random.default_rng(3)
    level = 0.62 - 0.27 * np.exp(-np.arange(n) / 6)
    train_acc = np.round((level + rng.normal(0, 0.025, n)) * 150) / 150
    rep = analyze_run(
        run(
            Loss__train=noisy(decay(n, 1.2, 0.68, 8), 0.04, 1),
            Loss__val=noisy(decay(n, 1.2, 0.58, 8), 0.02, 2),
            Accuracy__train=train_acc,
            Accuracy__val=np.clip(level + 0.1, 0, 1),
        )
    )
    assert finding(rep, "underfitting").evidence["val_accuracy"] > 0.7


def test_high_accuracy_plateau_is_not_underfitting():
    n = 40
    acc = 0.97 - 0.4 * np.exp(-np.arange(n) / 3)
    rep = analyze_run(
        run(
            Loss__train=decay(n, 1.0, 0.05, 8),
            Loss__val=decay(n, 1.0, 0.06, 8),
            Accuracy__train=acc,
            Accuracy__val=acc - 0.01,
        )
    )
    assert "underfitting" not in codes(rep)


def test_dropout_holding_training_accuracy_down_is_not_underfitting():
    """Training accuracy levels off at 0.86 under dropout while validation reaches 0.92: the model is not weak."""
    n = 40
    acc = 0.86 - 0.4 * np.exp(-np.arange(n) / 3)
    rep = analyze_run(
        run(
            Loss__train=decay(n, 1.0, 0.45, 8),
            Loss__val=decay(n, 1.0, 0.35, 8),
            Accuracy__train=acc,
            Accuracy__val=acc + 0.06,
        )
    )
    assert "underfitting" not in codes(rep)


def test_an_even_slow_fall_is_lr_too_small_not_underfitting():
    """8% in a straight line over the whole run: the tail is as flat as everything before it, which is a step size
    problem, not a model that levelled off."""
    t = np.linspace(1.38, 1.27, 40)
    rep = analyze_run(run(Loss__train=t, Loss__val=t - 0.005))
    assert "lr_too_small" in codes(rep)
    assert "underfitting" not in codes(rep)


def test_well_fitted_is_not_underfitting():
    rep = analyze_run(run(Loss__train=decay(40, 1.0, 0.05, 8), Loss__val=decay(40, 1.0, 0.06, 8)))
    assert "underfitting" not in codes(rep)


# -- lr_too_small ----------------------------------------------------------------


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("n", [10, 50, 5000])
def test_lr_too_small_straight_line(scale, n):
    y = noisy(np.linspace(2.3, 1.6, n), 0.002) * scale
    rep = analyze_run(run(train_loss=y))
    assert "lr_too_small" in codes(rep)


def test_a_fast_first_drop_then_a_slow_creep_is_not_lr_too_small():
    """0.64 -> 0.22 in the first 5 of 200 epochs, then a straight creep to 0.16: the smoothing window (20 epochs)
    swallows the drop, and the creep alone is a line. The curve bent; the LR is not too small."""
    n = 200
    loss = np.r_[np.linspace(0.64, 0.22, 5), np.linspace(0.22, 0.16, n - 5)]
    rep = analyze_run(run(Loss__train=noisy(loss, 0.002), Loss__val=noisy(loss * 1.1 + 0.05, 0.002, 1)))
    assert "lr_too_small" not in codes(rep)


def test_a_per_batch_training_loss_leaves_the_line_to_validation():
    """A recommender logs its BCE every 10 steps (batch-to-batch noise of 8%) and validates every 70: validation
    falls in a straight line 0.50 -> 0.46 over 30 epochs, which the noisy per-step curve cannot show."""
    steps = np.arange(10, 2101, 10)
    train = noisy(np.linspace(0.50, 0.46, steps.size), 0.08, 3)
    rd = run_xy(train__bce=(steps, train), val__bce=(np.arange(70, 2101, 70), np.linspace(0.50, 0.46, 30)))
    rep = analyze_run(rd)
    assert rep.roles["train_loss"].level == "batch"
    assert "lr_too_small" in codes(rep)


def test_bending_curve_is_not_lr_too_small():
    assert "lr_too_small" not in codes(analyze_run(run(train_loss=decay(50, 2.3, 0.2, 5))))


# -- noisy_loss ------------------------------------------------------------------


@pytest.mark.parametrize("scale", SCALES)
def test_noisy_validation(scale):
    n = 30
    val = (decay(n, 1.0, 0.5, 5) + 0.2 * np.random.default_rng(3).standard_normal(n)) * scale
    rep = analyze_run(run(Loss__train=decay(n, 1.0, 0.3, 5) * scale, Loss__val=val))
    f = finding(rep, "noisy_loss")
    assert f.evidence["noise_ratio"] > noise.NOISY_RATIO


def test_per_batch_losses_swinging_by_a_third_of_their_level_are_noisy():
    """Batch size 2: the per-step loss swings by ~35% of its level around a trend it hides (noise 0.4 of the
    movement); a batch size of 128 (8% swings) is ordinary sampling noise, however little the curve moves."""
    n = 600
    rng = np.random.default_rng(9)
    trend = decay(n, 1.2, 0.6, 3)
    noisy_steps = trend * (1 + 0.35 * rng.standard_normal(n))
    evals = np.arange(60, n + 1, 60)
    val = (evals, decay(10, 1.1, 0.65, 3))
    rep = analyze_run(run_xy(train__loss=(np.arange(n), np.abs(noisy_steps)), eval__loss=val))
    assert finding(rep, "noisy_loss").evidence["tag"] == "train/loss"
    calm = trend * (1 + 0.08 * rng.standard_normal(n))
    assert "noisy_loss" not in codes(analyze_run(run_xy(train__loss=(np.arange(n), calm), eval__loss=val)))


def test_a_periodic_batch_loss_is_not_also_noisy():
    """Unshuffled data: the same 50 batches in the same order every epoch, each with its own loss (+-50%). The
    curve is as jagged as a noisy one, but the jaggedness is the repeating pattern periodic_loss reports."""
    per_epoch, epochs = 50, 12
    pattern = np.exp(0.5 * np.random.default_rng(2).standard_normal(per_epoch))
    y = decay(per_epoch * epochs, 1.4, 0.8, 3) * np.tile(pattern, epochs)
    rep = analyze_run(run(Loss__train_batch=y))
    assert "periodic_loss" in codes(rep) and "noisy_loss" not in codes(rep)


def test_smooth_curves_are_not_noisy():
    rep = analyze_run(run(Loss__train=noisy(decay(30), 0.003), Loss__val=noisy(decay(30, 2.1, 0.3), 0.003)))
    assert "noisy_loss" not in codes(rep)


# -- periodic_loss ---------------------------------------------------------------


def _epoch_periodic(epochs=12, per_epoch=50, amplitude=0.3, seed=0):
    steps = np.arange(epochs * per_epoch)
    trend = decay(steps.size, 2.0, 0.5, 3)
    pattern = amplitude * np.sin(2 * np.pi * steps / per_epoch)
    return steps, noisy(trend + pattern, 0.03, seed)


@pytest.mark.parametrize("per_epoch", [20, 50, 137])
def test_periodic_batch_loss_found_with_its_period(per_epoch):
    steps, y = _epoch_periodic(per_epoch=per_epoch)
    rep = analyze_run(run(train__batch_loss_raw=y, steps=steps))
    rep = analyze_run(run(**{"Loss__train_batch": y}, steps=steps))
    f = finding(rep, "periodic_loss")
    assert abs(f.evidence["period"] - per_epoch) <= max(2, per_epoch * 0.05)


def test_hugging_face_fractional_epoch_counter_gives_the_epoch_length():
    """HF logs train/epoch as 0.02, 0.04... at every logging step: an epoch ends where its whole part goes up. A
    sorted data set replays the same 45-step pattern every epoch."""
    per_epoch, epochs = 45, 10
    steps = np.arange(1, per_epoch * epochs + 1)
    pattern = 0.3 * np.sin(2 * np.pi * steps / per_epoch)
    loss = noisy(decay(steps.size, 2.4, 2.2, 3) + pattern, 0.01)
    evals = np.arange(per_epoch, steps.size + 1, per_epoch)
    rep = analyze_run(
        run_xy(
            train__loss=(steps, loss),
            train__epoch=(steps, steps / per_epoch),
            eval__loss=(evals, np.linspace(2.3, 2.2, evals.size)),
        )
    )
    f = finding(rep, "periodic_loss")
    assert f.evidence["epoch_steps"] == per_epoch and f.evidence["period"] == per_epoch


@pytest.mark.parametrize(("fold", "noise_sd"), [(500, 0.02), (50, 0.05)])
def test_a_loss_falling_by_orders_of_magnitude_is_not_periodic(fold, noise_sd):
    """Four logged batches an epoch, the loss falling 50-500x over 40 epochs with multiplicative noise and no
    pattern: on a linear scale the early epochs' curvature correlated at the epoch lag (autocorrelation 0.45-0.78)."""
    n = 160
    y = np.exp(np.linspace(0, -np.log(fold), n)) * np.exp(np.random.default_rng(4).normal(0, noise_sd, n))
    steps = np.arange(n)
    rep = analyze_run(run_xy(train__epoch_loss=(steps[3::4], y[3::4].copy()), train__tb_recipe__batch_loss=(steps, y)))
    assert "periodic_loss" not in codes(rep)


def test_iid_noise_is_not_periodic():
    y = noisy(decay(600, 2, 0.5, 3), 0.1)
    rep = analyze_run(run(Loss__train_batch=y))
    assert "periodic_loss" not in codes(rep)


def test_keras_running_mean_batch_loss_is_not_called_periodic():
    """Keras' batch_loss restarts its running mean every epoch: periodic by construction."""
    per_epoch, epochs = 40, 10
    raw = noisy(decay(per_epoch * epochs, 2, 0.5, 3), 0.2)
    running = np.concatenate(
        [np.cumsum(raw[e * per_epoch : (e + 1) * per_epoch]) / np.arange(1, per_epoch + 1) for e in range(epochs)]
    )
    rep = analyze_run(run(train__batch_loss=running, train__epoch_loss=decay(epochs)))
    assert "periodic_loss" not in codes(rep)


# -- loss_spikes -----------------------------------------------------------------


@pytest.mark.parametrize("scale", SCALES)
def test_isolated_spikes_are_counted(scale):
    y = noisy(decay(800, 2, 0.4, 3), 0.03) * scale
    for i in (200, 450, 700):
        y[i] *= 4
    rep = analyze_run(run(Loss__train_step=y))
    f = finding(rep, "loss_spikes")
    assert f.evidence["count"] == 3
    assert f.evidence["max_step"] in (200, 450, 700)


def test_gaussian_noise_has_no_spikes():
    rep = analyze_run(run(Loss__train_step=noisy(decay(800, 2, 0.4, 3), 0.05)))
    assert "loss_spikes" not in codes(rep)


# -- lr_decay_too_early ----------------------------------------------------------


def test_lr_decayed_while_loss_was_falling():
    n = 60
    lr = np.where(np.arange(n) < 15, 1e-3, 1e-5)
    loss = np.concatenate([np.linspace(2.0, 1.0, 15), np.full(n - 15, 0.99)])
    rep = analyze_run(run(Loss__train=noisy(loss, 0.002), learning_rate=lr))
    f = finding(rep, "lr_decay_too_early")
    assert 14 <= f.evidence["decay_step"] <= 16


def test_step_decay_without_warm_up_that_keeps_the_loss_improving_is_not_too_early():
    """LR 0.1 from the first step, x0.1 at 45% of the run: the loss keeps improving for the next quarter of the run
    (2.0 -> 1.2) and then levels off. The stretch before the decay reaches back to the first step; the settling
    time after it must not, or "after the decay" would start past the end."""
    n = 100
    lr = np.where(np.arange(n) < 45, 0.1, 0.01)
    loss = np.r_[np.linspace(3.0, 2.0, 45), np.linspace(2.0, 1.2, 25), np.linspace(1.2, 1.15, 30)]
    rep = analyze_run(run(Loss__train=loss, lr=lr))
    assert "lr_decay_too_early" not in codes(rep)


def test_a_step_decay_read_on_the_training_loss_not_on_validation():
    """A ViT-style run: x0.1 at half the run. Validation drops at the cut and then creeps up (overfitting), but
    training keeps improving after the cut: the LR was not cut too early. The LR acts on the optimisation, which
    the training loss shows."""
    n = 100
    lr = np.where(np.arange(n) < 50, 1e-3, 1e-4)
    train = np.r_[np.linspace(2.0, 1.0, 50), np.linspace(0.8, 0.3, 50)]
    val = np.r_[np.linspace(2.1, 1.3, 50), np.full(5, 1.1), np.linspace(1.1, 1.25, 45)]
    rep = analyze_run(run(Loss__train=noisy(train, 0.002), Loss__val=noisy(val, 0.002, 1), learning_rate=lr))
    assert "lr_decay_too_early" not in codes(rep)


def test_constant_lr_is_not_decay_too_early():
    n = 60
    rep = analyze_run(run(Loss__train=decay(n, 2, 0.5, 10), learning_rate=np.full(n, 1e-3)))
    assert "lr_decay_too_early" not in codes(rep)


def test_cosine_to_the_end_is_fine():
    n = 60
    lr = 1e-3 * 0.5 * (1 + np.cos(np.pi * np.arange(n) / n))
    rep = analyze_run(run(Loss__train=decay(n, 2, 0.3, 3), learning_rate=lr))
    assert "lr_decay_too_early" not in codes(rep)


# -- val_better_than_train / data_problem / best_checkpoint_mismatch ---------------------


def test_val_better_than_train():
    train = decay(30, 2, 0.5)
    rep = analyze_run(run(Loss__train=train, Loss__val=train * 0.75))
    assert "val_better_than_train" in codes(rep)
    assert "val_better_than_train" not in codes(analyze_run(run(Loss__train=train, Loss__val=train * 1.1)))


def test_val_better_than_train_is_still_reported_beside_a_nan():
    """An observation about the finite part of the curves (info): a NaN late in the run does not undo it."""
    train = decay(30, 2, 0.5)
    train[-3:] = np.nan
    rep = analyze_run(run(Loss__train=train, Loss__val=decay(30, 2, 0.5)[:30] * 0.75))
    assert {"nonfinite_loss", "val_better_than_train"} <= codes(rep)


@pytest.mark.parametrize(
    ("train", "val", "val_acc", "expected", "not_expected"),
    [
        # A run resumed at epoch 10 (a real Lightning log): validation was at its best when logging restarted and
        # rises 0.166 -> 0.217 while training keeps improving; validation accuracy sits at 0.95: overfitting.
        ((0.1, 0.02), (0.166, 0.217), 0.951, "overfitting", "data_problem"),
        # The same shape with validation accuracy near chance (0.26 of 4 classes): other data (and, as the
        # loss only rises, overfitting from the start too), never a learning problem.
        ((1.4, 0.1), (1.4, 1.9), 0.26, "data_problem", "no_learning"),
    ],
    ids=["accuracy_learned", "accuracy_near_chance"],
)
def test_validation_that_only_rises_is_overfitting_when_its_accuracy_says_the_model_learned(
    train, val, val_acc, expected, not_expected
):
    n = 21
    rep = analyze_run(
        run(
            train_loss=decay(n, *train, 3),
            valid_loss=np.linspace(*val, n),
            train_acc=np.linspace(0.3, 0.99, n),
            valid_acc=val_acc + 0.002 * np.sin(np.arange(n)),
        )
    )
    assert expected in codes(rep) and not_expected not in codes(rep)


def test_val_never_improves_while_train_does():
    """Both hold: validation rising from the first evaluation while training falls is overfitting from the start,
    and a validation set that never improves at all suggests it is other data (the labels of the dev corpus
    expect both)."""
    n = 30
    rep = analyze_run(run(Loss__train=decay(n, 2, 0.2), Loss__val=np.linspace(2.3, 2.8, n)))
    assert {"data_problem", "overfitting"} <= codes(rep)


def test_validation_that_never_improves_nor_worsens_is_not_overfitting():
    n = 30
    rep = analyze_run(run(Loss__train=decay(n, 2, 0.2), Loss__val=2.3 + 0.01 * np.sin(np.arange(n))))
    assert "overfitting" not in codes(rep)


def test_val_improves_while_train_flat():
    n = 30
    rep = analyze_run(run(Loss__train=noisy(np.full(n, 1.0), 0.003), Loss__val=decay(n, 2, 0.5)))
    assert "data_problem" in codes(rep)


def test_best_checkpoint_mismatch():
    n = 40
    t = np.arange(n)
    val_loss = decay(n, 2, 0.5, 6) + 0.3 * np.clip((t - 12) / 28, 0, None)
    val_acc = 0.5 + 0.4 * (1 - np.exp(-t / 8))
    rep = analyze_run(run(Loss__train=decay(n, 2, 0.05, 6), Loss__val=val_loss, Accuracy__val=val_acc))
    f = finding(rep, "best_checkpoint_mismatch")
    assert f.evidence["metric_step"] > f.evidence["loss_step"]


# -- catalogue and report invariants ---------------------------------------------------


def test_every_code_renders_in_every_language():
    for spec in FINDINGS.values():
        for lang in LANGS:
            assert spec.title[lang] and spec.message[lang]
            assert spec.suggestions


def test_rendered_messages_have_no_missing_numbers():
    cases = [
        run(train_loss=np.r_[decay(10), [np.nan] * 3]),
        run(Loss__train=decay(40, 2, 0.05, 4), Loss__val=_u_shape(40, 15)),
        run(train_loss=noisy(np.full(40, math.log(10)), 0.002)),
    ]
    for rd in cases:
        for f in analyze_run(rd).findings:
            for lang in LANGS:
                msg = render_finding(f, lang)["message"]
                assert "?" not in msg, msg


def test_no_data_run():
    rep = analyze_run(run())
    assert rep.status == "no_data" and rep.errors


def test_unrecognised_tags_say_how_to_fix():
    rep = analyze_run(run(epoch_time=np.arange(10.0)))
    assert rep.status == "no_data"
    assert "--role" in rep.errors[-1]


def test_role_override():
    rep = analyze_run(run(nll_thing=decay(20), other=np.arange(20.0)), role_overrides={"train_loss": "other"})
    assert rep.roles["train_loss"].tag == "other"
    with pytest.raises(KeyError):
        analyze_run(run(x=decay(5)), role_overrides={"train_loss": "missing"})


def test_phases_cover_each_role_series():
    rep = analyze_run(run(Loss__train=decay(40), Loss__val=_u_shape(40, 15)))
    ph = rep.phases["Loss/val"]
    assert ph[0].start_step == 0 and ph[-1].end_step == 39
    assert {p.label for p in ph} >= {"falling", "rising"}


def test_jumps_at_every_epoch_start_are_periodic_not_spikes():
    """Class-sorted data: the loss jumps when each new class block starts, every epoch."""
    per_epoch, epochs = 45, 12
    steps = np.arange(per_epoch * epochs)
    base = noisy(decay(steps.size, 1.0, 0.1, 3), 0.05)
    jumps = np.where(steps % per_epoch == 0, 8.0, 1.0)
    rep = analyze_run(run(Loss__train_batch=base * jumps, steps=steps))
    assert "periodic_loss" in codes(rep)
    assert "loss_spikes" not in codes(rep)


def test_a_nan_validation_loss_is_the_story_not_a_plateau_of_the_metric_beside_it():
    """An Estimator run whose eval loss is NaN at every evaluation (an Inf feature in one eval record) while the eval
    accuracy sits flat: nonfinite_loss says what happened; a validation plateau read off the accuracy would not."""
    n = 20
    rep = analyze_run(
        run(
            loss=np.linspace(1.4, 0.3, n),
            eval__loss=np.full(n, np.nan),
            eval__accuracy=np.r_[np.linspace(0.5, 0.8, 8), np.full(n - 8, 0.8)],
        )
    )
    assert "nonfinite_loss" in codes(rep)
    assert "val_plateau" not in codes(rep)


def test_a_detectors_class_loss_overfitting_while_its_box_loss_improves():
    """YOLO logs box, obj and class losses for both splits; the box loss is the one read. A class loss whose
    validation turns up by 40% while training keeps falling is overfitting all the same, named by its tags."""
    n = 40
    falling = decay(n, 0.1, 0.04, 4)
    turn = np.r_[np.linspace(0.03, 0.015, 15), np.linspace(0.015, 0.021, n - 15)]
    rep = analyze_run(
        run(
            train__box_loss=falling * 1.1,
            val__box_loss=falling,
            train__cls_loss=decay(n, 0.03, 0.002, 4),
            val__cls_loss=turn,
        )
    )
    f = finding(rep, "overfitting")
    assert (f.evidence["val_tag"], f.evidence["train_tag"]) == ("val/cls_loss", "train/cls_loss")
    assert "overfitting" not in codes(
        analyze_run(
            run(
                train__box_loss=falling * 1.1,
                val__box_loss=falling,
                train__cls_loss=falling,
                val__cls_loss=falling * 0.9,
            )
        )
    )
