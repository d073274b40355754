"""One edge case per declared rule threshold: a run just below the threshold and one just above.

Each `Edge` builds a run from x, the *decisive quantity*: the number the rule
compares with the constant (a spike's ratio to its running level, the share
of evaluations where validation is below training, a count of points...).
`probes(t)` turns the constant's value t into the x just below and just above
it: t*0.95 and t*1.05 for ratios, N-1 and N for counts. The rule must fire on
exactly one side (`fires`). Because the probes are derived from the constant,
the test follows a deliberate change of the constant, and a mutation of the
constant (test_thresholds.py) moves the edge past a probe and flips the outcome.

Every other condition of the rule is held comfortably satisfied, so the edge
is the threshold's and nothing else's. The builders use curves of at most 14
points where they can: the analyzer does not smooth those (its window rounds to
1), so the rule sees exactly the values written here. Where the decisive
quantity is a robust statistic (a noise level, an autocorrelation), the builder
places the run with the analyzer's own estimator (`noise_level`,
`noise._autocorr`) and a bisection; the edge test then checks the comparison
with the threshold, not the estimator (tests/test_rules.py covers those).

Rules are run one at a time (`report_of`): in the full analyzer a rule is
skipped when a code in its ``unless`` fired, and some edges coincide with
another rule's. On a run whose training is flat, no_learning is vetoed when
validation gains more than 4 * NO_LEARN_MAX_IMPROVEMENT = 20%, which is also
DATA_VAL_GAIN: through analyze_run, data_problem's silence below that edge
would be no_learning's doing. Run alone, each rule shows its own edge (how
rules silence each other is tested in tests/test_rules.py and
tests/test_rule_registry.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from unittest import mock

import numpy as np

from tb_recipe_plugin.analysis import analyzer
from tb_recipe_plugin.analysis.analyzer import analyze_run
from tb_recipe_plugin.analysis.curves import (
    make_curve,
    noise_level,
    rolling_median,
    smooth,
    tail_start_index,
    tail_trend,
)
from tb_recipe_plugin.analysis.report import RunReport
from tb_recipe_plugin.analysis.rules import BY_CODE, noise, progress, spikes
from tb_recipe_plugin.analysis.series import RunData, Series
from tests.curves import decay, knots, run, run_xy, wiggle
from tests.test_internal_rules import READ_EVERY, callback_run

Probes = Callable[[float], tuple[float, float]]


def around(t: float) -> tuple[float, float]:
    """5% either side of a ratio threshold."""
    return t * 0.95, t * 1.05


def count_from(t: float) -> tuple[float, float]:
    """A minimum count N: N-1 points and N points."""
    return t - 1, t


def count_to(t: float) -> tuple[float, float]:
    """A maximum count N: N points and N+1 points."""
    return t, t + 1


def unexplained(t: float) -> tuple[float, float]:
    """An R^2 threshold: 5% more and 5% less of the variance left unexplained than 1 - t allows."""
    return 1 - (1 - t) * 1.05, 1 - (1 - t) * 0.95


@dataclass(frozen=True)
class Edge:
    code: str
    threshold: str
    build: Callable[[float], RunData]
    fires: Literal["above", "below"]
    """On which side of the threshold the rule fires: at the upper probe ("above") or the lower one."""
    probes: Probes = around
    outcome: Callable[[RunReport, str], bool] | None = None
    """What "fires" means when it is not "the rule reports its code" (see periodic_loss's fundamental)."""
    xfail: str | None = None
    """Why the edge test cannot pass today (a rule bug)."""
    patch_xfail: str | None = None
    """Why patching the module constant cannot move the edge today (a rule bug)."""
    lower_unobservable: str | None = None
    """Why a lower value of the constant cannot show (the estimator needs more than that); the higher one must."""
    variant: str = ""
    """Tells apart two edges of one threshold (INITIAL_LOSS_FACTOR's upper and lower bound)."""
    moves: Callable[[float], tuple[float, float]] | None = None
    """Values below and above t that move the edge past both probes, when 0.6x/1.5x (or -1/+1 for counts) do not."""

    @property
    def id(self) -> str:
        return "-".join(filter(None, (self.code, self.threshold, self.variant)))

    def mutations(self, t: float) -> tuple[float, float]:
        """A clearly lower and a clearly higher value of the constant: 0.6x and 1.5x, or -1 and +1 for counts."""
        if self.moves is not None:
            return self.moves(t)
        return (t - 1, t + 1) if isinstance(t, int) else (t * 0.6, t * 1.5)

    def moved(self, t: float, to: float) -> tuple[bool, bool]:
        """The outcomes at the probes of t once the edge has moved to `to`: both probes now sit on one side of it."""
        fires_at_both = (to < t) == (self.fires == "above")
        return fires_at_both, fires_at_both

    def outcomes(self, t: float) -> tuple[bool, bool]:
        """(fires at the lower probe, fires at the upper probe) for threshold value t."""
        return tuple(self.fired(self.build(x)) for x in self.probes(t))  # type: ignore[return-value]

    def fired(self, rd: RunData) -> bool:
        report = report_of(self.code, rd)
        assert not report.analysis_errors, report.analysis_errors
        if self.outcome is not None:
            return self.outcome(report, self.code)
        return any(f.code == self.code for f in report.findings)

    @property
    def expected(self) -> tuple[bool, bool]:
        return (False, True) if self.fires == "above" else (True, False)


def report_of(code: str, rd: RunData) -> RunReport:
    """The analyzer's report with only rule `code` run: its own edge, not another rule's veto."""
    with mock.patch.object(analyzer, "RULES", (BY_CODE[code],)):
        return analyze_run(rd)


def value(code: str, name: str) -> float:
    """A threshold's current value (the builders hold the *other* conditions relative to these)."""
    return BY_CODE[code].thresholds[name]


def bisect(f: Callable[[float], float], target: float, lo: float, hi: float, decreasing: bool = False) -> float:
    """The argument in [lo, hi] where the monotone f crosses `target`."""
    for _ in range(80):
        mid = (lo + hi) / 2
        if (f(mid) < target) != decreasing:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


N = 14  # curves this long are not smoothed
FLAT_VAL = [1.4, 1.3, 1.2, 1.15] + [1.0] * (N - 4)
"""Falls clearly (15%: outside the flat band even at 1.5x its tolerance) and is flat at 1.0 from index 4:
9 of 13 steps of tail."""


# -- divergence ------------------------------------------------------------------------------


def div_ratio(x: float) -> RunData:
    """Ends at x times its minimum; the rise is 2.7x the drop and holds over the tail."""
    return run(train_loss=knots(12, (0, 1.0), (2, 0.9), (11, 0.9 * x)))


def div_rise_of_drop(x: float) -> RunData:
    """Falls by 2, climbs back x of that (ending 1 + 2x times the minimum: far above DIV_MIN_RATIO)."""
    return run(train_loss=knots(12, (0, 3.0), (2, 1.0), (11, 1.0 + 2.0 * x)))


def div_tail(x: float) -> RunData:
    """Up at 3x its minimum over the last x of the run; before that it sat near the minimum."""
    low_until = round(10000 * (1 - x))
    steps = np.r_[[0, 1000, 2000, 3000, low_until], np.linspace(8000, 10000, 4)].astype(int)
    return run_xy(train_loss=(steps, [3.0, 2.0, 1.0, 1.05, 1.05, 3.0, 3.0, 3.0, 3.0]))


def div_explode(x: float) -> RunData:
    """Flat at half its start, then a last point at x times the start (not sustained: only the explosion counts)."""
    y = knots(12, (0, 1.0), (3, 0.5), (11, 0.5))
    y[-1] = x
    return run(train_loss=y)


# -- no_learning -----------------------------------------------------------------------------


def nl_improvement(x: float) -> RunData:
    """Falls by x (relative) over the whole run."""
    return run(train_loss=np.linspace(1.0, 1.0 - x, 10))


def nl_train_beside_flat_val(x: float) -> RunData:
    """Training falls by x (beyond NO_LEARN_MAX_IMPROVEMENT) while validation stays flat."""
    return run(train_loss=np.linspace(1.0, 1.0 - x, 10), val_loss=np.resize([1.0, 0.999], 10))


def nl_points(x: float) -> RunData:
    """A flat loss of x points."""
    return run(train_loss=np.resize([1.0, 0.99], int(x)))


def nl_chance(x: float) -> RunData:
    """Flat loss x (relative) above ln 2; accuracy gains more than METRIC_MIN_GAIN but less than
    METRIC_ABOVE_CHANCE: learning if the loss is no uniform guess, chance level if it is one over 2 classes."""
    gain = (value("no_learning", "METRIC_MIN_GAIN") + value("no_learning", "METRIC_ABOVE_CHANCE")) / 2
    return run(train_loss=np.full(10, math.log(2) * (1 + x)), val_accuracy=np.linspace(0.5, 0.5 + gain, 10))


def nl_metric_gain(x: float) -> RunData:
    """Flat loss at no ln(C); a validation accuracy that gains x, from 0.7 (far from any chance level 1/C, where
    `CHANCE_METRIC_BAND` would call it chance whatever its gain)."""
    return run(train_loss=np.full(10, 0.9), val_accuracy=np.linspace(0.7, 0.7 + x, 10))


def nl_above_chance(x: float) -> RunData:
    """Loss at ln 2 (two classes, chance 0.5); accuracy climbs to x above chance."""
    return run(train_loss=np.full(10, math.log(2)), val_accuracy=np.linspace(0.5, 0.5 + x, 10))


def nl_chance_band(x: float) -> RunData:
    """Train and validation accuracy flat x of the way from chance (0.5, two classes) to perfect; the loss falls 30%
    to a value that is no ln(C), so only the accuracy can say chance."""
    acc = 0.5 + 0.5 * x + np.resize([0.0, 0.001, -0.001], 10)  # a constant series is no metric; median unchanged
    return run(train_loss=np.linspace(5.0, 3.5, 10), train_accuracy=acc, val_accuracy=acc)


def nl_chance_spread(x: float) -> RunData:
    """Accuracies at chance (0.5) but for one evaluation x of the way to perfect (10 points: not smoothed)."""
    acc = 0.5 + np.resize([0.0, 0.001, -0.001], 10)
    acc[6] = 0.5 + 0.5 * x
    return run(train_loss=np.linspace(5.0, 3.5, 10), train_accuracy=acc, val_accuracy=acc)


def nl_chance_train_learns(x: float) -> RunData:
    """Validation accuracy at chance, no training accuracy; the training loss improves by x (to no ln(C))."""
    return run(train_loss=np.linspace(5.0, 5.0 * (1 - x), 10), val_accuracy=np.resize([0.5, 0.49, 0.51], 10))


# -- val_better_than_train -------------------------------------------------------------------


def vbt_fraction(x: float) -> RunData:
    """Validation at half the training loss on the last x of 100 evaluations, 2% above it before."""
    train = np.linspace(2.0, 1.0, 100)
    below = np.arange(100) >= 100 - round(100 * x)
    return run(train_loss=train, val_loss=np.where(below, 0.5, 1.02) * train)


def vbt_margin(x: float) -> RunData:
    """Validation x (relative) below training at every evaluation."""
    train = np.linspace(2.0, 1.0, 12)
    return run(train_loss=train, val_loss=train * (1 - x))


# -- data_problem ----------------------------------------------------------------------------


def dp_train_flat(x: float) -> RunData:
    """Training gains x while validation gains 50%."""
    return run(train_loss=np.linspace(1.0, 1.0 - x, 12), val_loss=np.linspace(1.0, 0.5, 12))


def dp_val_gain(x: float) -> RunData:
    """Training flat while validation gains x."""
    return run(train_loss=np.full(12, 1.0), val_loss=np.linspace(1.0, 1.0 - x, 12))


def dp_train_gain(x: float) -> RunData:
    """Training gains x while validation only gets worse."""
    return run(train_loss=np.linspace(1.0, 1.0 - x, 12), val_loss=np.linspace(1.0, 1.2, 12))


def dp_val_never(x: float) -> RunData:
    """Training gains 60%; validation stays x below its first value for 3 evaluations, then rises (the rule reads
    the best through a 3-point median)."""
    val = knots(12, (0, 1.0), (2, 1.0 - x), (4, 1.0 - x), (11, 1.2))
    return run(train_loss=np.linspace(1.0, 0.4, 12), val_loss=val)


def val_rising_accuracy(x: float) -> RunData:
    """Training gains 60%; validation loss only rises (+30%) from its first evaluation; validation accuracy climbs
    to x (a model that learned, or one that did not, depending on x)."""
    return run(
        train_loss=np.linspace(1.0, 0.4, 12),
        val_loss=np.linspace(1.0, 1.3, 12),
        train_accuracy=np.linspace(0.3, 0.99, 12),
        val_accuracy=np.linspace(0.3, x, 12),
    )


def dp_accuracy_learned(x: float) -> RunData:
    """A validation loss that never improves is other data only while its accuracy stays below the bound."""
    return val_rising_accuracy(x)


# -- overfitting -----------------------------------------------------------------------------

FALLING = np.linspace(2.0, 0.5, 12)


def of_rise(x: float) -> RunData:
    """Validation ends x (relative) above its best; training keeps falling."""
    return run(train_loss=FALLING, val_loss=knots(12, (0, 2.0), (2, 1.0), (11, 1.0 + x)))


def of_rise_se(x: float) -> RunData:
    """Validation rises 50% over the 4 points after its best; the noise (on the descent) makes that x standard
    errors of (raw best, end): point noise x sqrt(1 + 1/4)."""
    trend = knots(N, (0, 3.0), (9, 1.0), (13, 1.5))
    pattern = np.zeros(N)
    pattern[1:9] = np.resize([1.0, -1.0], 8)

    def standard_errors(a: float) -> float:
        return 0.5 / (noise_level(trend + a * pattern) * np.sqrt(1 + 1 / 4))

    a = bisect(standard_errors, x, 1e-4, 0.2, decreasing=True)
    return run(train_loss=np.linspace(2.0, 0.5, N), val_loss=trend + a * pattern)


def _of_loss_at(se: float) -> np.ndarray:
    """of_rise_se's validation loss (best at index 9, +50% after it) at `se` standard errors."""
    trend = knots(N, (0, 3.0), (9, 1.0), (13, 1.5))
    pattern = np.zeros(N)
    pattern[1:9] = np.resize([1.0, -1.0], 8)

    def standard_errors(a: float) -> float:
        return 0.5 / (noise_level(trend + a * pattern) * np.sqrt(1 + 1 / 4))

    return trend + bisect(standard_errors, se, 1e-4, 0.2, decreasing=True) * pattern


OF_ACCURACY_TURN = knots(N, (0, 0.5), (9, 0.9), (13, 0.8))
"""A noiseless validation accuracy that turns at index 9 with the loss: confirms any rise."""


def of_confirmed_rise_se(x: float) -> RunData:
    """A validation loss rising x standard errors (2-3: below OVERFIT_MIN_RISE_SE) beside an accuracy that turns at
    the same evaluation."""
    return run(train_loss=np.linspace(2.0, 0.5, N), val_loss=_of_loss_at(x), val_accuracy=OF_ACCURACY_TURN)


def of_same_turn(x: float) -> RunData:
    """The loss at 2.5 standard errors turns at step 90 of 0-130; the accuracy turns x of that span later."""
    steps = np.arange(N) * 10
    shift = int(round(x * 130))
    return run_xy(
        train_loss=(steps, np.linspace(2.0, 0.5, N)),
        val_loss=(steps, _of_loss_at(2.5)),
        val_accuracy=(steps + shift, OF_ACCURACY_TURN),
    )


def of_after(x: float) -> RunData:
    """50 evaluations; the best is followed by x of them, along which validation doubles."""
    best = 49 - int(x)
    return run(train_loss=np.linspace(3.0, 0.5, 50), val_loss=knots(50, (0, 3.0), (best, 1.0), (49, 2.0)))


def of_train_falling(x: float) -> RunData:
    """Training improves by x (relative) after validation's best."""
    return run(
        train_loss=knots(12, (0, 2.0), (4, 1.0), (11, 1.0 - x)),
        val_loss=knots(12, (0, 2.0), (4, 1.0), (11, 1.6)),
    )


def of_accuracy_learned(x: float) -> RunData:
    """The same run read by overfitting: a validation loss rising from the first evaluation is a turn when the
    validation accuracy shows the model learned."""
    return val_rising_accuracy(x)


def of_val_never(x: float) -> RunData:
    """Validation first improves by x (relative to its best), then rises 50%."""
    return run(train_loss=FALLING, val_loss=knots(12, (0, 1.0 + x), (4, 1.0), (11, 1.5)))


# -- val_plateau -----------------------------------------------------------------------------


VP_TRAIN = np.linspace(3.0, 1.0, N)
"""Training gains 32% over the last 30% (indices 10-13), well above TRAIN_GAIN_IN_TAIL."""
VP_HEAD = np.linspace(2.0, 1.0, 10)
"""Validation halves before the tail (indices 0-9): far above VAL_MIN_EARLY_GAIN."""


def vp_tail(change: float) -> np.ndarray:
    """Validation: VP_HEAD, then a tail (indices 10-13) that is a straight line in log space changing by `change`."""
    return np.r_[VP_HEAD, np.exp(change * np.arange(4) / 3)]


def vp_tolerance(x: float) -> RunData:
    """Validation's tail rises by x (log scale), exactly: no noise, so the standard error is 0."""
    return run(train_loss=VP_TRAIN, val_loss=vp_tail(x))


VP_NOISE = np.random.default_rng(11).standard_normal(12)


def noisy_tail(scale: float, change_in_se: float, fraction: float, start: float = 2.0) -> np.ndarray:
    """40 values: a fall from `start` to 1.0 over the first 28, then 12 whose log is scale * VP_NOISE plus a trend.

    The tail (the last `fraction` of the run: the 12 points) is placed with the analyzer's own estimator: its
    standard error is exactly `scale` times the noise's, and the trend makes its change `change_in_se` standard
    errors (Theil-Sen's slope shifts by exactly the trend's slope, and the residuals do not move)."""
    head = np.linspace(start, 1.0, 28)
    c = make_curve(Series("v", np.arange(40), np.r_[head, np.exp(VP_NOISE)]))
    c1, se1 = tail_trend(c, fraction)
    length = 39 - tail_start_index(c.bsteps, fraction)  # steps spanned by the tail the estimator reads (<= 11)
    per_step = (change_in_se * scale * se1 - scale * c1) / length
    return np.r_[head, np.exp(scale * VP_NOISE + per_step * np.arange(12))]


def noise_se(fraction: float) -> float:
    """The standard error of VP_NOISE's tail at scale 1."""
    return tail_trend(make_curve(Series("v", np.arange(40), noisy_tail(1.0, 0.0, fraction))), fraction)[1]


def vp_noisy(scale: float, change_in_se: float) -> RunData:
    """Validation with a noisy_tail; training falls from 3.0 to 1.0 over the same 40 evaluations."""
    fraction = value("val_plateau", "VAL_FLAT_MIN_TAIL")
    return run(train_loss=np.linspace(3.0, 1.0, 40), val_loss=noisy_tail(scale, change_in_se, fraction))


def vp_flat_se(x: float) -> RunData:
    """A tail with a standard error of 0.04 (2 SE = 0.08, wider than VAL_FLAT_TOLERANCE) that rises by x SE."""
    return vp_noisy(0.04 / noise_se(value("val_plateau", "VAL_FLAT_MIN_TAIL")), x)


def vp_max_se(x: float) -> RunData:
    """A tail whose standard error is x and whose change is 0.5 SE: flat whenever the noise allows a verdict."""
    return vp_noisy(x / noise_se(value("val_plateau", "VAL_FLAT_MIN_TAIL")), 0.5)


def vp_min_tail(x: float) -> RunData:
    """Validation falls to 1.3 at step F = 10000 (1 - x), then sits at 1.0: flat over the last x of the run. The
    tail examined (last VAL_FLAT_MIN_TAIL) holds the 1.3 exactly when x is below that share."""
    f = round(10000 * (1 - x))
    steps = np.array([0, 2000, f, f + (10000 - f) // 3, f + 2 * (10000 - f) // 3, 10000])
    train = (np.arange(0, 10001, 1000), np.linspace(3.0, 1.0, 11))
    return run_xy(train_loss=train, val_loss=(steps, [2.0, 1.6, 1.3, 1.0, 1.0, 1.0]))


def tail_steps(x: float, head: list[int]) -> np.ndarray:
    """`head` steps, then 4 points over the last x of 0..10000."""
    return np.r_[head, np.linspace(round(10000 * (1 - x)), 10000, 4)].astype(int)


def vp_early_gain(x: float) -> RunData:
    """Validation improves by x at its second evaluation and is flat from there."""
    return run(train_loss=VP_TRAIN, val_loss=np.r_[1.0 / (1.0 - x), np.ones(N - 1)])


def vp_train_gain(x: float) -> RunData:
    """Validation flat over the tail while training gains x there (indices 10-13)."""
    return run(train_loss=knots(N, (0, 2.0), (10, 1.0), (13, 1.0 - x)), val_loss=vp_tail(0.0))


def vp_vs_train(x: float) -> RunData:
    """Training gains 6% over the tail, validation x times that (log scale).

    6%: above TRAIN_GAIN_IN_TAIL, and small enough that validation's change
    stays inside VAL_FLAT_TOLERANCE at the probes and at 1.5x the constant, so
    only the ratio decides.
    """
    return run(train_loss=knots(N, (0, 3.0), (10, 1.0), (13, 0.94)), val_loss=vp_tail(-0.06 * x))


# -- best_checkpoint_mismatch ----------------------------------------------------------------

VAL_LOSS_BEST_AT_800 = [2.0, 1.5, 1.2, 1.1, 1.0, 1.05, 1.1]


def bcm_distance(x: float) -> RunData:
    """Loss best at step 800, accuracy best x of the 1000-step run earlier."""
    steps = np.array([0, 200, 400, 800 - round(1000 * x), 800, 900, 1000])
    acc = [0.5, 0.7, 0.8, 0.9, 0.8, 0.78, 0.76]
    return run_xy(val_loss=(steps, VAL_LOSS_BEST_AT_800), val_accuracy=(steps, acc))


MISMATCH_STEPS = np.arange(0, 1400, 100)  # val_loss best at step 1000 (index 10)
MISMATCH_LOSS = knots(N, (0, 2.0), (10, 1.0), (13, 1.1))


def bcm_metric_loss(x: float) -> RunData:
    """Accuracy 0 -> 0.9 (best at step 500), straight down to x of that range lower at the loss-best step 1000.

    Straight pieces: the metric's second differences are zero but at its two bends, so its noise level is 0 and
    MISMATCH_MIN_NOISE holds whatever the gap."""
    acc = knots(N, (0, 0.0), (5, 0.9), (10, 0.9 - 0.9 * x), (13, 0.9 - 0.9 * x - 0.001))
    return run_xy(val_loss=(MISMATCH_STEPS, MISMATCH_LOSS), val_accuracy=(MISMATCH_STEPS, acc))


def bcm_relative(x: float) -> RunData:
    """Accuracy within 0.88..0.9; at the loss-best step it is x (relative) below its best 0.9 (a narrow range, so
    the gap is a large share of it and only MISMATCH_MIN_RELATIVE decides)."""
    acc = knots(N, (0, 0.88), (5, 0.9), (10, 0.9 * (1 - x)), (13, 0.9 * (1 - x) - 0.001))
    return run_xy(val_loss=(MISMATCH_STEPS, MISMATCH_LOSS), val_accuracy=(MISMATCH_STEPS, acc))


def bcm_noise(x: float) -> RunData:
    """Accuracy jittering by ~0.01 between evaluations; at the loss-best step it is x noise levels below its best.

    The noise level is the analyzer's own estimator on the final curve (the dip itself moves it a little, so the
    value is settled by a few fixed-point rounds)."""
    acc = knots(N, (0, 0.5), (5, 0.9), (13, 0.88)) + 0.01 * np.random.default_rng(3).standard_normal(N)
    acc[5] = acc.max() + 0.005  # the best, half the run away from the loss-best step
    for _ in range(20):
        acc[10] = np.max(np.delete(acc, 10)) - x * noise_level(acc)
    return run_xy(val_loss=(MISMATCH_STEPS, MISMATCH_LOSS), val_accuracy=(MISMATCH_STEPS, acc))


# -- plateau ---------------------------------------------------------------------------------


def pl_tolerance(x: float) -> RunData:
    """Training halves, then its tail (the last 30%) changes by x on a log scale, exactly (no noise)."""
    return run(train_loss=vp_tail(x))


def pl_flat_se(x: float) -> RunData:
    """A training tail with a standard error of 0.03 (2 SE = 0.06, wider than PLATEAU_TOLERANCE) that rises by x SE."""
    fraction = value("plateau", "PLATEAU_MIN_TAIL")
    return run(train_loss=noisy_tail(0.03 / noise_se(fraction), x, fraction))


def pl_max_se(x: float) -> RunData:
    """A training tail whose standard error is x and whose change is 0.5 SE."""
    fraction = value("plateau", "PLATEAU_MIN_TAIL")
    return run(train_loss=noisy_tail(x / noise_se(fraction), 0.5, fraction))


def pl_min_tail(x: float) -> RunData:
    """Training falls to 1.3 at step F = 10000 (1 - x), then sits at 1.0: flat over the last x of the run."""
    f = round(10000 * (1 - x))
    steps = np.array([0, 2000, f, f + (10000 - f) // 3, f + 2 * (10000 - f) // 3, 10000])
    return run_xy(train_loss=(steps, [2.0, 1.6, 1.3, 1.0, 1.0, 1.0]))


def pl_early_gain(x: float) -> RunData:
    """The first value is the only one above the plateau: x of it is gained."""
    return run(train_loss=np.r_[1.0 / (1.0 - x), np.full(N - 1, 1.0)])


def pl_train_gain(x: float) -> RunData:
    """Validation flat over the tail (indices 10-13) while training still gains x there."""
    return run(train_loss=knots(N, (0, 2.0), (10, 1.0), (13, 1.0 - x)), val_loss=vp_tail(0.0))


# -- still_learning --------------------------------------------------------------------------

DESCENT = np.linspace(3.0, 1.3, 10)
"""Indices 0-9; the still_learning tail of a 14-point curve is indices 10-13.

STILL_MIN_TAIL_GAIN, STILL_MIN_TREND_NOISE and
STILL_BEST_NEAR_END are measured over the tail that STILL_TAIL delimits, so
their cases assume it: checked to hold for STILL_TAIL from 0.1 to 0.3 (0.2
to 0.3 for STILL_BEST_NEAR_END, whose falling stretch must reach into the
tail), not for a much longer or shorter tail.
"""


def sl_tail(x: float) -> RunData:
    """A loss falling at a steady log-rate that takes the last x of the run to gain STILL_MIN_TAIL_GAIN: a longer
    tail than x sees more than that gain, a shorter one less (101 points, no noise: the trend is exact)."""
    steps = np.arange(0, 10001, 100)
    gain = value("still_learning", "STILL_MIN_TAIL_GAIN")
    return run_xy(train_loss=(steps, np.exp(-gain / x * steps / 10000)))


def tail_line(middle: float, change: float) -> np.ndarray:
    """4 points falling by `change` in a straight line around `middle` (their median)."""
    return middle + change * np.array([1.5, 0.5, -0.5, -1.5]) / 3


def sl_gain(x: float) -> RunData:
    """The tail falls by x of its level; the run fell 9 before, so the tail's share is under 1%."""
    return run(train_loss=np.r_[np.linspace(10.0, 1.2, 10), tail_line(1.0, x)])


def sl_trend_noise(x: float) -> RunData:
    """A 40-point loss whose tail falls by x standard errors of its own trend (SE 0.03: 2 SE is past
    STILL_MIN_TAIL_GAIN), placed with the analyzer's estimator (`noisy_tail`)."""
    fraction = value("still_learning", "STILL_TAIL")
    return run(train_loss=noisy_tail(0.03 / noise_se(fraction), -x, fraction))


def sl_best_near_end(x: float) -> RunData:
    """25 evaluations falling in a line, then flat (to 1e-3): the smoothed curve is best x before the end.

    The smoothing (25 points are smoothed) puts the lowest point one after the
    start of the flat stretch, hence x + 1 flat points.
    """
    k = int(x)
    y = np.r_[np.linspace(3.0, 1.0, 24 - k), 1.0 + 1e-3 * np.arange(1, k + 2)]
    assert int(np.argmin(smooth(y))) == 24 - k, "the analyzer's smoothing changed: rebuild this case"
    return run(train_loss=y)


def sl_train_unreadable(x: float) -> RunData:
    """Validation still falls in a clean line; training's noisy tail (SE 0.1) rises by x standard errors of its own
    trend: within one, it cannot contradict validation."""
    fraction = value("still_learning", "STILL_TAIL")
    return run(
        train_loss=noisy_tail(0.1 / noise_se(fraction), x, fraction),
        val_loss=np.exp(-0.02 * np.arange(40)),
    )


def best_near_end(t: float) -> tuple[float, float]:
    """STILL_BEST_NEAR_END: evaluations after the best, max(1, int(t * 25)) allowed."""
    k = max(1, int(t * 25))
    return k, k + 1


# -- lr_too_small ----------------------------------------------------------------------------


def lts_r2(x: float) -> RunData:
    """A straight fall with scatter that leaves 1 - x of the variance unexplained (R^2 = x)."""
    steps = np.arange(N, dtype=float)
    line = np.linspace(2.0, 1.0, N)
    return run(train_loss=line + wiggle(steps, float(np.std(line)) * math.sqrt((1 - x) / x)))


def lts_half_ratio(x: float) -> RunData:
    """Straight falls in each half, the second x times as steep as the first."""
    return run(train_loss=knots(N, (0, 2.0), (7, 1.3), (13, 1.3 - 0.6 * x)))


def lts_points(x: float) -> RunData:
    """A straight fall of x points."""
    return run(train_loss=np.linspace(2.0, 1.0, int(x)))


# -- lr_decay_too_early ----------------------------------------------------------------------


def lr_cut(after: float = 0.01) -> np.ndarray:
    """An LR at 1.0 for indices 0-3, then `after`."""
    return np.r_[np.full(4, 1.0), np.full(N - 4, after)]


def lrd_fraction(x: float) -> RunData:
    """The LR drops to x of its peak while the loss, halved so far, stops falling."""
    return run(train_loss=knots(N, (0, 2.0), (4, 1.0), (13, 1.0)), lr=lr_cut(x))


def lrd_min_after(x: float) -> RunData:
    """Loss halves until the LR is cut with x of the run left, then stays flat."""
    cut = round(10000 * (1 - x))
    steps = np.union1d(np.arange(0, 10001, 1000), [cut])
    loss = np.interp(steps, [0, cut, 10000], [2.0, 1.0, 1.0])
    return run_xy(train_loss=(steps, loss), lr=(steps, np.where(steps < cut, 1.0, 0.01)))


def lrd_gain_before(x: float) -> RunData:
    """The loss gains x before the LR cut, nothing after."""
    return run(train_loss=knots(N, (0, 1.0), (4, 1.0 - x), (13, 1.0 - x)), lr=lr_cut())


def lrd_max_gain_after(x: float) -> RunData:
    """The loss gains 10% before the LR cut (index 4), holds for the window after it that the rule lets settle, and
    gains x over the rest: slow enough against the 10% before that LR_PACE_AFTER does not decide."""
    return run(train_loss=knots(N, (0, 1.0), (4, 0.9), (8, 0.9), (13, 0.9 * (1.0 - x))), lr=lr_cut())


def lrd_pace_after(x: float) -> RunData:
    """11 points over 1000 steps, LR cut x0.01 at step 100: the loss halves before the cut (a pace of 5 per run),
    settles until step 200, then falls by 4x over the remaining 80%: a pace of x times the one before, and far
    more than LR_MAX_GAIN_AFTER in total, so only the pace decides."""
    steps = np.arange(0, 1001, 100)
    loss = np.interp(steps, [0, 100, 200, 1000], [2.0, 1.0, 1.0, 1.0 - 4 * x])
    return run_xy(train_loss=(steps, loss), lr=(steps, np.where(steps < 100, 1.0, 0.01)))


# -- no_learning: collapse -------------------------------------------------------------------


def nl_collapse_tail(x: float) -> RunData:
    """101 epochs: the loss falls from 2.0 to 0.3, then sits at ln(10) from step 100 (1 - x) on."""
    steps = np.arange(101)
    loss = np.where(steps >= round(100 * (1 - x)), math.log(10), np.linspace(2.0, 0.3, 101))
    return run(train_loss=loss)


# -- lr_too_high -----------------------------------------------------------------------------

LR_STEP_DOWN = np.r_[np.full(7, 1.0), np.full(N - 7, 0.1)]  # high (peak 1.0) up to index 6, 10x lower after


def lrh_share(x: float) -> RunData:
    """While the LR is high the loss gains x of what it gains once the LR is 10x lower (1.0).

    The high stretch is steps 0-2000, the low one 2000-10000: the gain after the cut is spread over 4x as many
    steps, so its pace stays near the pace before (about 1x, far below LR_HIGH_PACE) and only the share decides."""
    steps = np.r_[np.linspace(0, 2000, 7), np.linspace(2000, 10000, 8)[1:]].astype(int)
    return run_xy(train_loss=(steps, knots(N, (0, 2.0), (6, 2.0 - x), (13, 1.0 - x))), lr=(steps, LR_STEP_DOWN))


def lrh_gain_after(x: float) -> RunData:
    """Flat at 2.0 while the LR is high, then x (relative) lower once it is cut."""
    return run(train_loss=knots(N, (0, 2.0), (6, 2.0), (13, 2.0 * (1 - x))), lr=LR_STEP_DOWN)


def lrh_range(x: float) -> RunData:
    """Flat while high, halved after; the schedule's peak is x times its lowest value."""
    return run(train_loss=knots(N, (0, 2.0), (6, 2.0), (13, 1.0)), lr=np.r_[np.full(7, 1.0), np.full(N - 7, 1 / x)])


def _lrh_paused(gap_s: float, every_s: float) -> RunData:
    """lrh_gain_after's run (flat at 2.0 while the LR is high, halved once it is cut) logged a point every every_s
    seconds, with one pause of gap_s seconds before index 3, inside the high stretch."""
    rd = lrh_gain_after(0.5)
    i = np.arange(N)
    wall = 1000.0 + every_s * i + np.where(i >= 3, gap_s - every_s, 0.0)
    for tag, series in rd.series.items():
        rd.series[tag] = Series(tag, series.steps, series.values, wall_times=wall)
    return rd


def lrh_resume_gap(x: float) -> RunData:
    """A pause of x median gaps of a minute (x = 50 is 50 min, past LR_HIGH_RESUME_MIN_S) in the high stretch."""
    return _lrh_paused(60.0 * x, 60.0)


def lrh_resume_min_s(x: float) -> RunData:
    """A pause of x seconds in the high stretch of a run logged a point a second (far more than 50 gaps)."""
    return _lrh_paused(x, 1.0)


def lrh_pace(x: float) -> RunData:
    """The log loss falls 0.1 per step while the LR is high (indices 0-6) and 0.1 x per step after the cut: the
    high stretch keeps far more than a quarter of the gain, so only the speed-up can decide."""
    i = np.arange(N)
    log_loss = np.log(2.0) - 0.1 * np.minimum(i, 6) - 0.1 * x * np.maximum(i - 6, 0)
    return run(train_loss=np.exp(log_loss), lr=LR_STEP_DOWN)


LRH_NOISE = np.random.default_rng(21).standard_normal(100)


def lrh_jitter(x: float) -> RunData:
    """100 steps, LR 1.0 for the first 50 and 0.1 after. The log loss falls 0.006 a step while the LR is high and
    0.009 after (a 1.5x speed-up: past 1, below LR_HIGH_PACE; the high stretch keeps most of the gain, so the
    quarter-share path is out); its point noise in the second half of the high stretch is x times its noise after
    (relative to its level, placed with the rule's own estimator on the downsampled curve, here the curve itself)."""
    i = np.arange(100)
    trend = -0.006 * np.minimum(i, 49) - 0.009 * np.maximum(i - 49, 0)
    quiet = 0.004 * LRH_NOISE
    late_high = (i >= 25) & (i <= 49)

    def ratio(a: float) -> float:
        y = np.exp(trend + np.where(late_high, a * LRH_NOISE, quiet))
        return progress._relative_noise(y[late_high]) / progress._relative_noise(y[i > 49])

    a = bisect(ratio, x, 0.0, 0.2)
    log_loss = trend + np.where(late_high, a * LRH_NOISE, quiet)
    return run(train_loss=np.exp(log_loss), lr=np.where(i <= 49, 1.0, 0.1))


def lrh_min_span(x: float) -> RunData:
    """1001 steps: the LR is 1.0 for the first x of the run, 0.05 after; the loss is flat while it is high and
    halves after."""
    steps = np.arange(0, 1001, 10)
    high = steps <= round(1000 * x)
    cut = steps[high][-1]
    loss = np.where(high, 2.0, 2.0 - 1.0 * (steps - cut) / (1000 - cut))
    return run_xy(train_loss=(steps, loss), lr=(steps, np.where(high, 1.0, 0.05)))


def lrh_fraction(x: float) -> RunData:
    """LR 1.0 to index 4, x at indices 5-6, 0.05 after. The loss is flat to index 4 and falls fast at 5-6: only
    when x is below LR_HIGH_FRACTION does that fall count as coming after the high stretch."""
    lr = np.r_[np.full(5, 1.0), np.full(2, x), np.full(N - 7, 0.05)]
    return run(train_loss=knots(N, (0, 2.0), (4, 2.0), (6, 1.2), (13, 1.0)), lr=lr)


# -- underfitting ----------------------------------------------------------------------------


def uf_improvement(x: float) -> RunData:
    """Only the first point is above the flat level: the loss improves by x; validation equals training."""
    y = np.r_[1.0 / (1.0 - x), np.full(N - 1, 1.0)]
    return run(train_loss=y, val_loss=y.copy())


def uf_gap(x: float) -> RunData:
    """Barely fitted (17%) and flat; validation x (relative) above training."""
    y = np.r_[1.2, np.full(N - 1, 1.0)]
    return run(train_loss=y, val_loss=y * (1 + x))


UF_HEAD = np.linspace(1.2, 1.0, 10)
"""Training improves 17% before the tail (below UNDERFIT_MAX_IMPROVEMENT: barely fitted)."""


def uf_tolerance(x: float) -> RunData:
    """Barely fitted; the tail (the last 30%, indices 10-13) changes by x on a log scale, exactly (no noise)."""
    y = np.r_[UF_HEAD, np.exp(x * np.arange(4) / 3)]
    return run(train_loss=y, val_loss=y.copy())


def uf_noisy(scale: float, change_in_se: float) -> RunData:
    """Barely fitted (1.2 -> 1.0) with a noisy_tail; validation equals training."""
    fraction = value("underfitting", "UNDERFIT_MIN_TAIL")
    y = noisy_tail(scale, change_in_se, fraction, start=1.2)
    return run(train_loss=y, val_loss=y.copy())


def uf_flat_se(x: float) -> RunData:
    """A training tail with a standard error of 0.03 (2 SE wider than UNDERFIT_FLAT_TOLERANCE) that rises by x SE."""
    return uf_noisy(0.03 / noise_se(value("underfitting", "UNDERFIT_MIN_TAIL")), x)


def uf_max_se(x: float) -> RunData:
    """A training tail whose standard error is x and whose change is 0.5 SE."""
    return uf_noisy(x / noise_se(value("underfitting", "UNDERFIT_MIN_TAIL")), 0.5)


def uf_min_tail(x: float) -> RunData:
    """Barely fitted (29%): falls to 1.3 at step F = 10000 (1 - x), then sits at 1.0: flat over the last x of the
    run. The tail examined (the last UNDERFIT_MIN_TAIL) holds the 1.3 exactly when x is below that share."""
    f = round(10000 * (1 - x))
    steps = np.array([0, 2000, f, f + (10000 - f) // 3, f + 2 * (10000 - f) // 3, 10000])
    series = (steps, [1.4, 1.35, 1.3, 1.0, 1.0, 1.0])
    return run_xy(train_loss=series, val_loss=series)


def accuracy_run(train_acc: float, val_acc: float) -> RunData:
    """Loss halved (beyond UNDERFIT_MAX_IMPROVEMENT) and flat; accuracies level off at the given values."""
    loss = np.r_[2.0, np.full(N - 1, 1.0)]
    return run(
        train_loss=loss,
        val_loss=loss.copy(),
        train_accuracy=knots(N, (0, 0.3), (3, train_acc), (13, train_acc)),
        val_accuracy=knots(N, (0, 0.3), (3, val_acc), (13, val_acc)),
    )


def uf_train_accuracy(x: float) -> RunData:
    """Train and validation accuracy level off together at x."""
    return accuracy_run(x, x)


def uf_accuracy_gap(x: float) -> RunData:
    """Train accuracy levels off at 0.45, validation x below it (above it never blocks: dropout, augmentation)."""
    return accuracy_run(0.45, 0.45 - x)


# -- noisy_loss ------------------------------------------------------------------------------

ALTERNATING = np.resize([1.0, -1.0], 20)


def flat_with_noise(noise_over_level: float, tag: str = "train_loss") -> RunData:
    """A flat curve at 1.0 whose point-to-point noise is `noise_over_level` of its level.

    Its trend is ~0, so the noise is measured against NOISY_LEVEL_FLOOR x the level.
    """
    a = noise_over_level / noise_level(1.0 + ALTERNATING)
    return run_xy(**{tag: (np.arange(20), 1.0 + a * ALTERNATING)})


def nz_ratio(x: float) -> RunData:
    """An epoch-level curve whose noise is x of the reference it is measured against."""
    return flat_with_noise(x * value("noisy_loss", "NOISY_LEVEL_FLOOR"))


def nz_batch_level(x: float) -> RunData:
    """A flat batch-level curve whose noise is x of its level (far past NOISY_RATIO of the floor: only the level
    test decides)."""
    return flat_with_noise(x, tag="train_loss_step")


def nz_batch_tail(x: float) -> RunData:
    """400 per-step points with the same swing (0.22) everywhere: level 1.3 first, then 1.0 over the last x/2 of
    the curve. The examined tail (NOISY_BATCH_TAIL of the points) sits at level 1.0 when more than half of it
    does, i.e. when x > NOISY_BATCH_TAIL: a swing of 22% of its level, above NOISY_BATCH_LEVEL; at level 1.3 it is
    17%, below it."""
    n = 400
    low = int(round(n * x / 2))
    level = np.r_[np.full(n - low, 1.3), np.ones(low)]
    wiggle = np.resize([1.0, -1.0], n)
    a = 0.22 / noise_level(1.0 + wiggle)
    return run_xy(train_loss_step=(np.arange(n), level + a * wiggle))


def nz_floor(x: float) -> RunData:
    """Noise at NOISY_RATIO x x of the level: noisy exactly when the floor is below x."""
    return flat_with_noise(value("noisy_loss", "NOISY_RATIO") * x)


def nz_points(x: float) -> RunData:
    """x points of 1.3 0.7 1.0 repeated: noise 0.9 of the range at any length from 5 (an alternating
    pattern would not do: with an odd number of second differences their median absolute deviation is 0)."""
    return run(train_loss=1.0 + 0.3 * np.resize([1.0, -1.0, 0.0], int(x)))


# -- periodic_loss ---------------------------------------------------------------------------


def batch_run(y: np.ndarray, epoch: int) -> RunData:
    """A per-step loss and a Lightning-style `epoch` series that says how long an epoch is."""
    steps = np.arange(y.size)
    return run_xy(train_loss_step=(steps, y), epoch=(steps, steps // epoch))


SAWTOOTH = np.linspace(1.0, 0.0, 20)


def pd_autocorr(x: float) -> RunData:
    """A saw-tooth repeating every 20-step epoch, buried in noise until its autocorrelation is x (on the log scale
    the rule reads a positive loss on)."""
    z = np.random.default_rng(7).standard_normal(400)
    base = 0.3 * np.resize(SAWTOOTH, 400)
    sigma = bisect(lambda s: noise._autocorr(base + s * z, 20), x, 0.0, 2.0, decreasing=True)
    return batch_run(np.exp(base + sigma * z), 20)


def pd_min_z(x: float) -> RunData:
    """60 per-step points, a saw-tooth every 10-step epoch, noise tuned so that the autocorrelation at the epoch is
    x / sqrt(50 pairs): 0.42 at the constant, above PERIODIC_MIN_AUTOCORR, so only the significance decides."""
    z = np.random.default_rng(11).standard_normal(60)
    base = 0.3 * np.resize(np.linspace(1.0, 0.0, 10), 60)
    target = x / np.sqrt(50.0)
    sigma = bisect(lambda s: noise._autocorr(base + s * z, 10), target, 0.0, 2.0, decreasing=True)
    return batch_run(np.exp(base + sigma * z), 10)


def pd_cycles(x: float) -> RunData:
    """x cycles of a clean saw-tooth with a 25-step epoch (2 cycles: the 50 points the rule needs at least)."""
    return batch_run(1.0 + 0.3 * np.resize(np.linspace(1.0, 0.0, 25), int(x) * 25), 25)


def pd_min_points(x: float) -> RunData:
    """A clean saw-tooth whose epoch (known from an `epoch` series) spans x logged points: 400 per-step points,
    logged every 5 steps, so x points per epoch is an epoch of 5x steps."""
    period = int(x)
    y = 1.0 + 0.3 * np.resize(np.linspace(1.0, 0.0, period), 80)
    steps = np.arange(80) * 5
    return run_xy(train_loss_step=(steps, y), epoch=(steps, steps // (5 * period)))


def pd_max_points(x: float) -> RunData:
    """x points of a 1 0 0 1 pattern with a 4-step epoch: any pairwise binning averages it away."""
    return batch_run(1.0 + 0.5 * np.resize([1.0, 0.0, 0.0, 1.0], int(x)), 4)


def pd_fundamental(x: float) -> RunData:
    """A pulse every 10 steps plus one of alternating sign every 20 steps, with no epoch length logged.

    The epoch (20) correlates fully; the 10-step period correlates x as much,
    less the stronger the alternating pulses are.
    """
    pulses = np.resize(np.eye(1, 10).ravel(), 240)
    alternating = np.resize(np.r_[np.eye(1, 10, 5).ravel(), -np.eye(1, 10, 5).ravel()], 240)

    def ratio(beta: float) -> float:
        v = 0.5 * (pulses + beta * alternating)  # the log of the loss, which is what the rule reads
        return noise._autocorr(v, 10) / noise._autocorr(v, 20)

    beta = bisect(ratio, x, 0.0, 3.0, decreasing=True)
    y = np.exp(0.5 * (pulses + beta * alternating))
    return run_xy(train_loss_step=(np.arange(y.size), y))  # no epoch series: the fundamental is a blind search's


def reports_period_10(report: RunReport, code: str) -> bool:
    found = [f for f in report.findings if f.code == code]
    assert found, "periodic_loss must fire on both sides; only the period it reports changes"
    return found[0].evidence["period"] == 10


# -- loss_spikes -----------------------------------------------------------------------------
# The rule reads positive losses in log space against a centred rolling median; on a noiseless curve the noise
# band is ~0, so only the condition under test decides.


def sp_factor(x: float) -> RunData:
    """A noiseless per-step loss of 1 with one point at x (its robust deviation is 0: any rise passes SPIKE_MAD)."""
    y = np.full(100, 1.0)
    y[50] = x
    return run(train_loss_step=y)


def sp_factor_epoch(x: float) -> RunData:
    """The same on a 30-point epoch-level loss: an epoch mean (or an evaluation) needs a smaller jump."""
    y = np.full(30, 1.0)
    y[15] = x
    return run(epoch_loss=y)


def spike_train(n: int, k: int) -> RunData:
    """A clean slow decay of n points with k isolated 10x spikes, evenly spread over the middle 80%."""
    y = 1.0 + 0.5 * np.exp(-np.arange(n) / n)
    at = np.linspace(n // 10, n - n // 10, k).astype(int) if k else np.array([], dtype=int)
    y[at] *= 10
    return run(train_loss_step=y)


def sp_max_share(x: float) -> RunData:
    """2000 points with round(2000 x) spikes: isolated while they are at most SPIKE_MAX_SHARE of the curve."""
    return spike_train(2000, round(2000 * x))


def sp_few(x: float) -> RunData:
    """100 points (1% of them is 1 spike) with x spikes: a handful is still isolated."""
    return spike_train(100, int(x))


LOG_PATTERN = np.array([0.0, 0.5, -0.5])
"""Repeated in log space: every rolling median of >= 3 points is 0 and the median absolute residual 0.5."""


def sp_mad(x: float) -> RunData:
    """A spike x robust standard deviations of its neighbourhood above the local level (6 of them: e^4.4, far past
    SPIKE_FACTOR). The level and the band at the spike do not depend on its height (it is the largest value of
    every window holding it), so they are read once with the rule's own estimator and the spike placed on them."""
    v = np.resize(LOG_PATTERN, 100)
    v[50] = 50.0
    w = 9  # the trend window of a 100-point curve: 4 x its longest spike (2 points), odd
    level = rolling_median(v, w)
    band = spikes.noise_band(np.abs(v - level), w)
    v[50] = level[50] + x * band[50]
    return run(train_loss_step=np.exp(v))


def sp_max_width(x: float) -> RunData:
    """A 5x burst of round(2000 x) points on a flat 2000-point loss: a spike while it is short next to the curve."""
    y = np.full(2000, 1.0)
    y[1000 : 1000 + round(2000 * x)] = 5.0
    return run(train_loss_step=y)


def sp_recovery(x: float) -> RunData:
    """A 5x spike followed by x - 1 elevated points (not spikes, not recovered), then back to 1.

    Elevated: 3/4 of the way to SPIKE_FACTOR in log space, so above the
    recovery level (half of the way) and below a spike, whatever the factor.
    """
    y = np.full(100, 1.0)
    y[50] = 5.0
    y[51 : 50 + int(x)] = value("loss_spikes", "SPIKE_FACTOR") ** 0.75
    return run(train_loss_step=y)


# -- Keras callback rules --------------------------------------------------------------------

LAYER_READS = -(-400 // READ_EVERY)


def layers(*levels: float) -> list[np.ndarray]:
    return [np.full(LAYER_READS, v) for v in levels]


def eg_growth(x: float) -> RunData:
    """A gradient norm of 1 with one step at x, mid-run."""
    return callback_run(grad=np.r_[np.ones(200), x, np.ones(199)], layer_grad=layers(1, 1, 1, 1))


def eg_layer_ratio(x: float) -> RunData:
    """The first layer's gradient x times the last one's; the overall norm steady."""
    return callback_run(grad=np.ones(400), layer_grad=layers(x, 1, 1, 1))


def eg_early(x: float) -> RunData:
    """A 1000x gradient at per-step index x of 500 (500 steps: the early window ends on a read)."""
    grad = np.ones(500)
    grad[int(x)] = 1000.0
    return callback_run(steps=500, grad=grad, layer_grad=[np.ones(20)] * 4)


def early_window(t: float) -> tuple[float, float]:
    """EARLY_FRACTION: the last index inside the early window of 500 steps, and the first after it."""
    n = max(3, int(500 * t))
    return n - 1, n


def eg_points(x: float) -> RunData:
    """x steps (one layer read) whose gradient norm jumps 1000x after the 3-step early window."""
    n = int(x)
    return callback_run(steps=n, grad=np.r_[1.0, 1.0, 1.0, np.full(n - 3, 1000.0)], layer_grad=[np.ones(1)] * 4)


def eg_layers(x: float) -> RunData:
    """x layers, the first getting 1000x the last one's gradient."""
    k = int(x)
    return callback_run(layers=k, grad=np.ones(400), layer_grad=layers(1000, *([1] * (k - 1))))


def vg_ratio(x: float) -> RunData:
    """The first layer's gradient x times the last one's."""
    return callback_run(layer_grad=layers(x, 1, 1, 1))


def vg_layers(x: float) -> RunData:
    """x layers, the first getting 1e-5 of the last one's gradient."""
    k = int(x)
    return callback_run(layers=k, layer_grad=layers(1e-5, *([1] * (k - 1))))


def activation_level(stat: str) -> Callable[[float], RunData]:
    """A layer whose dead/saturated fraction is x at every probe."""

    def build(x: float) -> RunData:
        return callback_run(**{stat: [np.full(LAYER_READS, x), None, None, None]})

    return build


def activation_recent(stat: str) -> Callable[[float], RunData]:
    """A layer at 0% for the whole run but its last x probes, which are at 95%."""

    def build(x: float) -> RunData:
        k = int(x)
        return callback_run(**{stat: [np.r_[np.zeros(LAYER_READS - k), np.full(k, 0.95)], None, None, None]})

    return build


def recent_majority(t: float) -> tuple[float, float]:
    """RECENT_POINTS: the median of the last t probes turns once more than half of them are high."""
    k = int(t) // 2
    return k, k + 1


def fewer_recent(t: float) -> tuple[float, float]:
    """RECENT_POINTS - 1 keeps the majority rule's outcome at 1 high probe out of 2 (a tie): go to t - 2."""
    return t - 2, t + 1


def update_ratio(x: float) -> RunData:
    """Every layer's update/weight ratio at x."""
    return callback_run(update_ratio=layers(x, x, x, x))


def update_reads(level: float) -> Callable[[float], RunData]:
    """x layer reads with an update ratio far out of range (`level`)."""

    def build(x: float) -> RunData:
        k = int(x)
        return callback_run(steps=READ_EVERY * k, update_ratio=[np.full(k, level)] * 4, layer_grad=[np.ones(k)] * 4)

    return build


def initial_loss(x: float) -> RunData:
    """A first batch loss x times ln(10), the uniform guess over the run's 10 classes."""
    loss = decay(400, 2.4, 0.3)
    loss[0] = math.log(10) * x
    return callback_run(loss=loss)


def initial_loss_low(x: float) -> RunData:
    """A first batch loss ln(10) / x."""
    loss = decay(400, 2.4, 0.3)
    loss[0] = math.log(10) / x
    return callback_run(loss=loss)


# -- the table -------------------------------------------------------------------------------

EDGES: tuple[Edge, ...] = (
    Edge("divergence", "DIV_MIN_RATIO", div_ratio, "above"),
    Edge("divergence", "DIV_RISE_OF_DROP", div_rise_of_drop, "above"),
    Edge("divergence", "DIV_TAIL", div_tail, "above"),
    Edge("divergence", "DIV_EXPLODE_RATIO", div_explode, "above"),
    Edge("no_learning", "NO_LEARN_COLLAPSE_TAIL", nl_collapse_tail, "above"),
    Edge("no_learning", "NO_LEARN_MAX_IMPROVEMENT", nl_improvement, "below"),
    Edge("no_learning", "NO_LEARN_MIN_POINTS", nl_points, "above", count_from),
    Edge("no_learning", "NO_LEARN_TRAIN_BESIDE_FLAT_VAL", nl_train_beside_flat_val, "below"),
    Edge("no_learning", "CHANCE_TOLERANCE", nl_chance, "below"),
    Edge("no_learning", "METRIC_MIN_GAIN", nl_metric_gain, "below"),
    Edge("no_learning", "METRIC_ABOVE_CHANCE", nl_above_chance, "below"),
    Edge("no_learning", "CHANCE_METRIC_BAND", nl_chance_band, "below"),
    Edge("no_learning", "CHANCE_METRIC_SPREAD", nl_chance_spread, "below"),
    Edge("no_learning", "CHANCE_TRAIN_LEARNS", nl_chance_train_learns, "below"),
    Edge("val_better_than_train", "VBT_MIN_FRACTION", vbt_fraction, "above"),
    Edge("val_better_than_train", "VBT_MIN_MARGIN", vbt_margin, "above"),
    Edge("data_problem", "DATA_TRAIN_FLAT", dp_train_flat, "below"),
    Edge("data_problem", "DATA_VAL_GAIN", dp_val_gain, "above"),
    Edge("data_problem", "DATA_TRAIN_GAIN", dp_train_gain, "above"),
    Edge("data_problem", "DATA_VAL_NEVER", dp_val_never, "below"),
    Edge("data_problem", "DATA_ACCURACY_LEARNED", dp_accuracy_learned, "below"),
    Edge("overfitting", "OVERFIT_MIN_RISE_OF_BEST", of_rise, "above"),
    Edge("overfitting", "OVERFIT_MIN_RISE_SE", of_rise_se, "above"),
    Edge("overfitting", "OVERFIT_MIN_AFTER", of_after, "above", count_from),
    Edge("overfitting", "OVERFIT_CONFIRMED_RISE_SE", of_confirmed_rise_se, "above"),
    Edge("overfitting", "OVERFIT_SAME_TURN", of_same_turn, "below"),
    Edge("overfitting", "TRAIN_STILL_FALLING", of_train_falling, "above"),
    Edge("overfitting", "DATA_VAL_NEVER", of_val_never, "above"),
    Edge("overfitting", "DATA_ACCURACY_LEARNED", of_accuracy_learned, "above"),
    Edge("val_plateau", "VAL_FLAT_TOLERANCE", vp_tolerance, "below"),
    Edge("val_plateau", "VAL_FLAT_SE", vp_flat_se, "below"),
    Edge("val_plateau", "VAL_FLAT_MAX_SE", vp_max_se, "below"),
    Edge("val_plateau", "VAL_FLAT_MIN_TAIL", vp_min_tail, "above"),
    Edge("val_plateau", "VAL_MIN_EARLY_GAIN", vp_early_gain, "above"),
    Edge("val_plateau", "TRAIN_GAIN_IN_TAIL", vp_train_gain, "above"),
    Edge("val_plateau", "VAL_VS_TRAIN", vp_vs_train, "below"),
    Edge("best_checkpoint_mismatch", "MISMATCH_MIN_DISTANCE", bcm_distance, "above"),
    Edge("best_checkpoint_mismatch", "MISMATCH_MIN_METRIC_LOSS", bcm_metric_loss, "above"),
    Edge("best_checkpoint_mismatch", "MISMATCH_MIN_RELATIVE", bcm_relative, "above"),
    Edge("best_checkpoint_mismatch", "MISMATCH_MIN_NOISE", bcm_noise, "above"),
    Edge("plateau", "PLATEAU_TOLERANCE", pl_tolerance, "below"),
    Edge("plateau", "PLATEAU_FLAT_SE", pl_flat_se, "below"),
    Edge("plateau", "PLATEAU_MAX_SE", pl_max_se, "below"),
    Edge("plateau", "PLATEAU_MIN_TAIL", pl_min_tail, "above"),
    Edge("plateau", "PLATEAU_MIN_EARLY_GAIN", pl_early_gain, "above"),
    Edge("plateau", "TRAIN_GAIN_IN_TAIL", pl_train_gain, "below"),
    Edge("still_learning", "STILL_TAIL", sl_tail, "below"),
    Edge("still_learning", "STILL_MIN_TAIL_GAIN", sl_gain, "above"),
    Edge("still_learning", "STILL_MIN_TREND_NOISE", sl_trend_noise, "above"),
    Edge("still_learning", "STILL_BEST_NEAR_END", sl_best_near_end, "below", best_near_end),
    Edge("still_learning", "STILL_TRAIN_UNREADABLE_SE", sl_train_unreadable, "below"),
    Edge("lr_too_small", "LINEAR_MIN_R2", lts_r2, "above", unexplained),
    Edge("lr_too_small", "LINEAR_MIN_HALF_RATIO", lts_half_ratio, "above"),
    Edge("lr_too_small", "LINEAR_MIN_POINTS", lts_points, "above", count_from),
    Edge("lr_decay_too_early", "LR_DECAYED_FRACTION", lrd_fraction, "below"),
    Edge("lr_decay_too_early", "LR_MIN_AFTER", lrd_min_after, "above"),
    Edge("lr_decay_too_early", "LR_GAIN_BEFORE", lrd_gain_before, "above"),
    Edge("lr_decay_too_early", "LR_MAX_GAIN_AFTER", lrd_max_gain_after, "below"),
    Edge("lr_decay_too_early", "LR_PACE_AFTER", lrd_pace_after, "below"),
    Edge("lr_too_high", "LR_HIGH_MAX_SHARE", lrh_share, "below"),
    Edge("lr_too_high", "LR_HIGH_MIN_GAIN_AFTER", lrh_gain_after, "above"),
    Edge("lr_too_high", "LR_HIGH_MIN_RANGE", lrh_range, "above"),
    Edge("lr_too_high", "LR_HIGH_FRACTION", lrh_fraction, "below"),
    Edge("lr_too_high", "LR_HIGH_MIN_SPAN", lrh_min_span, "above"),
    Edge("lr_too_high", "LR_HIGH_PACE", lrh_pace, "above"),
    Edge("lr_too_high", "LR_HIGH_JITTER", lrh_jitter, "above"),
    Edge("lr_too_high", "LR_HIGH_RESUME_GAP", lrh_resume_gap, "below"),
    Edge("lr_too_high", "LR_HIGH_RESUME_MIN_S", lrh_resume_min_s, "below"),
    Edge("underfitting", "UNDERFIT_MAX_IMPROVEMENT", uf_improvement, "below"),
    Edge("underfitting", "UNDERFIT_MAX_GAP", uf_gap, "below"),
    Edge("underfitting", "UNDERFIT_FLAT_TOLERANCE", uf_tolerance, "below"),
    Edge("underfitting", "UNDERFIT_FLAT_SE", uf_flat_se, "below"),
    Edge("underfitting", "UNDERFIT_FLAT_MAX_SE", uf_max_se, "below"),
    Edge("underfitting", "UNDERFIT_MIN_TAIL", uf_min_tail, "above"),
    Edge("underfitting", "UNDERFIT_MAX_TRAIN_ACCURACY", uf_train_accuracy, "below"),
    Edge("underfitting", "UNDERFIT_MAX_ACCURACY_GAP", uf_accuracy_gap, "below"),
    Edge("noisy_loss", "NOISY_RATIO", nz_ratio, "above"),
    Edge("noisy_loss", "NOISY_BATCH_LEVEL", nz_batch_level, "above"),
    Edge("noisy_loss", "NOISY_MIN_POINTS", nz_points, "above", count_from),
    Edge("noisy_loss", "NOISY_BATCH_TAIL", nz_batch_tail, "above"),
    Edge("noisy_loss", "NOISY_LEVEL_FLOOR", nz_floor, "above"),
    Edge("periodic_loss", "PERIODIC_MIN_AUTOCORR", pd_autocorr, "above"),
    Edge("periodic_loss", "PERIODIC_MIN_Z", pd_min_z, "above"),
    Edge(
        "periodic_loss",
        "PERIODIC_MIN_CYCLES",
        pd_cycles,
        "above",
        count_from,
        lower_unobservable=(
            "noise._autocorr drops half a period at each end (where the one-period moving average is cut short), "
            "so 2 cycles leave fewer than one period of residuals and no pair at the period's lag"
        ),
    ),
    Edge("periodic_loss", "PERIODIC_MIN_POINTS", pd_min_points, "above", count_from),
    Edge("periodic_loss", "PERIODIC_MAX_POINTS", pd_max_points, "below", count_to),
    Edge("periodic_loss", "PERIODIC_FUNDAMENTAL", pd_fundamental, "above", outcome=reports_period_10),
    Edge("loss_spikes", "SPIKE_MAX_SHARE", sp_max_share, "below"),
    Edge("loss_spikes", "SPIKE_FEW", sp_few, "below", count_to),
    Edge("loss_spikes", "SPIKE_FACTOR", sp_factor, "above"),
    Edge("loss_spikes", "SPIKE_FACTOR_EPOCH", sp_factor_epoch, "above"),
    Edge("loss_spikes", "SPIKE_MAD", sp_mad, "above"),
    Edge("loss_spikes", "SPIKE_MAX_WIDTH", sp_max_width, "below"),
    Edge("loss_spikes", "SPIKE_RECOVERY", sp_recovery, "below", count_to),
    Edge("exploding_gradients", "EXPLODE_GROWTH", eg_growth, "above"),
    Edge("exploding_gradients", "EXPLODE_LAYER_RATIO", eg_layer_ratio, "above"),
    Edge("exploding_gradients", "EARLY_FRACTION", eg_early, "above", early_window),
    Edge("exploding_gradients", "MIN_GRAD_POINTS", eg_points, "above", count_from),
    Edge("exploding_gradients", "MIN_LAYERS", eg_layers, "above", count_from),
    Edge("vanishing_gradients", "VANISH_LAYER_RATIO", vg_ratio, "below"),
    Edge("vanishing_gradients", "MIN_LAYERS", vg_layers, "above", count_from),
    Edge("dying_relu", "DEAD_FRACTION", activation_level("dead_fraction"), "above"),
    Edge(
        "dying_relu", "RECENT_POINTS", activation_recent("dead_fraction"), "above", recent_majority, moves=fewer_recent
    ),
    Edge("saturated_activations", "SATURATED_FRACTION", activation_level("saturated_fraction"), "above"),
    Edge(
        "saturated_activations",
        "RECENT_POINTS",
        activation_recent("saturated_fraction"),
        "above",
        recent_majority,
        moves=fewer_recent,
    ),
    Edge("update_ratio_high", "UPDATE_RATIO_HIGH", update_ratio, "above"),
    Edge("update_ratio_high", "MIN_RATIO_POINTS", update_reads(0.1), "above", count_from),
    Edge("update_ratio_low", "UPDATE_RATIO_LOW", update_ratio, "below"),
    Edge("update_ratio_low", "MIN_RATIO_POINTS", update_reads(1e-7), "above", count_from),
    Edge("initial_loss_off", "INITIAL_LOSS_FACTOR", initial_loss, "above"),
    Edge("initial_loss_off", "INITIAL_LOSS_FACTOR", initial_loss_low, "above", variant="low"),
)
