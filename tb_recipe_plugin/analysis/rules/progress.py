"""Rules about the pace of training: plateaus, unfinished runs, LR too small or decayed too early."""

from __future__ import annotations

import math

import numpy as np

from tb_recipe_plugin.analysis.curves import (
    Curve,
    is_flat,
    linear_fit,
    noise_level,
    tail_start_index,
    tail_trend,
    trend_since,
)
from tb_recipe_plugin.analysis.report import Finding
from tb_recipe_plugin.analysis.rules.context import Context, pct, rel
from tb_recipe_plugin.analysis.rules.fit import TRAIN_GAIN_IN_TAIL, flat_tail_start, tail_gain
from tb_recipe_plugin.analysis.rules.registry import rule

PLATEAU_TOLERANCE = 0.03
"""A curve is flat when its tail trend changes it by at most 3% (log scale),"""
PLATEAU_FLAT_SE = 2.0
"""...or by at most 2 standard errors of that trend on a noisier curve,"""
PLATEAU_MAX_SE = 0.1
"""...as long as that standard error is at most 10% (noisier than that, flat cannot be told from a trend),"""
PLATEAU_MIN_TAIL = 0.3
"""...over the last 30% of the run,"""
PLATEAU_MIN_EARLY_GAIN = 0.1
"""...after having improved by at least 10% before (else it is no_learning)."""


def _early_gain(c: Curve, s: int) -> float:
    """Improvement from the first logged value to the plateau level.

    Raw first value: runs that converge within a few epochs have their whole
    descent inside one smoothing window.
    """
    o = c.oriented()
    first = float(c.values[0] if c.direction == "min" else -c.values[0])
    return rel(first - float(np.median(o[s:])), first)


def _flat_tail(c: Curve) -> int | None:
    """Start index of the last PLATEAU_MIN_TAIL of the run when the curve is flat there, else None.

    Flat is judged by the Theil-Sen trend against the curve's own noise
    (`curves.tail_trend`); thresholds are read at call time (the mutation
    tests patch them).
    """
    change, se = tail_trend(c, PLATEAU_MIN_TAIL)
    if not is_flat(change, se, PLATEAU_TOLERANCE, PLATEAU_FLAT_SE, PLATEAU_MAX_SE):
        return None
    return min(tail_start_index(c.bsteps, PLATEAU_MIN_TAIL), c.n - 3)


@rule(
    "warning",
    unless=("no_learning", "divergence", "overfitting"),
    thresholds=(
        "PLATEAU_TOLERANCE",
        "PLATEAU_FLAT_SE",
        "PLATEAU_MAX_SE",
        "PLATEAU_MIN_TAIL",
        "PLATEAU_MIN_EARLY_GAIN",
        "TRAIN_GAIN_IN_TAIL",
    ),
)
def plateau(ctx: Context) -> Finding | None:
    """Both curves flat over a long tail after early progress: the run has converged
    at this learning rate, and the remaining epochs are wasted unless something
    changes (lower LR, smaller batch).

    Not exclusive with `val_plateau`: when the training curve's fall over the
    tail is within its own noise, "validation stopped while training goes on"
    and "both have levelled off" are both readings a practitioner gives (on
    the dev corpus of issue 8 the labels hold both; plateau F1 0.82 -> 0.89,
    no new false positive).
    """
    c = ctx.primary_loss()
    if c is None or c.n < 6:
        return None
    s = _flat_tail(c)
    if s is None:
        return None
    early = _early_gain(c, s)
    t = ctx.curves.get("train_loss")
    if t is not None and t is not c:
        # Training judged over the same stretch by the same noise-aware trend: a small-batch training loss whose
        # 5-8% fall is inside two standard errors is as converged as its validation curve.
        train_change, train_se = trend_since(t, float(c.bsteps[s]))
        if -train_change >= max(TRAIN_GAIN_IN_TAIL, PLATEAU_FLAT_SE * train_se):
            return None
        # Progress made by training counts too: a validation loss that moved little before levelling off beside a
        # training loss that improved and levelled off is a converged run (too weak, perhaps: see underfitting).
        ts = int(np.searchsorted(t.bsteps, c.bsteps[s]))
        if ts < t.n:
            early = max(early, _early_gain(t, ts))
    if early < PLATEAU_MIN_EARLY_GAIN:
        return None
    o = c.oriented()
    tail_change = rel(float(o[s] - np.min(o[s:])), float(o[s]))
    # Report where the plateau began: the smoothed curve may have been level for longer than the tail examined.
    s = min(s, flat_tail_start(c, PLATEAU_TOLERANCE))
    return Finding(
        "plateau",
        int(c.bsteps[s]),
        int(c.steps[-1]),
        {
            "tag": c.tag,
            "tail_change_pct": max(pct(tail_change), 1.0),
            "tail_fraction_pct": pct((c.bsteps[-1] - c.bsteps[s]) / max(c.bsteps[-1] - c.bsteps[0], 1)),
            "early_improvement_pct": pct(early),
            "plateau_value": float(np.median(c.bvalues[s:])),
            "best_step": int(c.bsteps[s]),
        },
        0.7,
        (c.tag,),
    )


STILL_TAIL = 0.25
"""Look at the last quarter of the run..."""
STILL_MIN_TAIL_GAIN = 0.02
"""...where the fitted trend must still improve by at least 2% of the curve's level,"""
STILL_MIN_TREND_NOISE = 2.0
"""...and that trend must be at least two standard errors (a trend that is not noise),"""
STILL_BEST_NEAR_END = 0.1
"""...and be at its best within the last 10% of the evaluations."""
STILL_TRAIN_UNREADABLE_SE = 1.0
"""Training beside it must point the same way, unless its own trend is within 1 standard error of flat: which way
it goes cannot be read then (a raw single-batch loss logged every 100 steps, as Estimators write it, scatters by
30% around a trend of a few per cent), and it cannot contradict validation."""


def _still_improving(c: Curve, significant: bool = True) -> bool:
    """A downward trend over the tail of at least STILL_MIN_TAIL_GAIN that (when `significant`) stands out from
    its standard error.

    The trend is `curves.tail_trend`'s (Theil-Sen, on a log scale for a positive curve). Significance is asked of
    the curve the verdict rests on (validation when logged); the training curve beside it only has to point the
    same way: a per-batch training loss scatters so much that a quarter of a short run cannot prove its trend.
    """
    change, se = tail_trend(c, STILL_TAIL)
    gain = -change
    if not math.isfinite(se) or gain <= (STILL_MIN_TREND_NOISE * se if significant else 0.0):
        return False
    return gain >= STILL_MIN_TAIL_GAIN


def _trend_unreadable(c: Curve) -> bool:
    change, se = tail_trend(c, STILL_TAIL)
    return math.isfinite(se) and abs(change) < STILL_TRAIN_UNREADABLE_SE * se


@rule(
    "info",
    unless=("no_learning", "divergence", "overfitting", "val_plateau", "plateau", "nonfinite_loss"),
    thresholds=(
        "STILL_TAIL",
        "STILL_MIN_TAIL_GAIN",
        "STILL_MIN_TREND_NOISE",
        "STILL_BEST_NEAR_END",
        "STILL_TRAIN_UNREADABLE_SE",
    ),
)
def still_learning(ctx: Context) -> Finding | None:
    """Both curves still improving at the last step: the run was stopped too early."""
    c = ctx.primary_loss()
    if c is None or c.n < 4:
        return None
    gain = tail_gain(c, STILL_TAIL)
    best_i = int(np.argmin(c.oriented()))
    if not _still_improving(c) or best_i < c.n - 1 - max(1, int(STILL_BEST_NEAR_END * c.n)):
        return None
    t = ctx.curves.get("train_loss")
    val_note = ""
    if t is not None and t is not c:
        if not _still_improving(t, significant=False) and not _trend_unreadable(t):
            return None
        val_note = t.tag
    return Finding(
        "still_learning",
        int(
            c.bsteps[
                min(c.n - 1, int(np.searchsorted(c.bsteps, c.bsteps[-1] - STILL_TAIL * (c.bsteps[-1] - c.bsteps[0]))))
            ]
        ),
        int(c.steps[-1]),
        {
            "tag": c.tag,
            # the trend the decision read (smoothed end points can show ~0 on a jagged tail that trends down)
            "tail_change_pct": pct(-tail_trend(c, STILL_TAIL)[0]),
            "tail_fraction_pct": pct(STILL_TAIL),
            "last_value": float(c.values[-1]),
            "also_improving": val_note or None,
        },
        min(0.9, 0.5 + 3 * gain),
        (c.tag,) + ((t.tag,) if val_note and t else ()),
    )


LINEAR_MIN_R2 = 0.97
"""A straight line explains at least 97% of the curve's variance,"""
LINEAR_MIN_HALF_RATIO = 0.6
"""...the second half still falls at 60% or more of the first half's rate,"""
LINEAR_MIN_POINTS = 8


@rule(
    "warning",
    unless=("no_learning", "divergence", "nonfinite_loss"),
    thresholds=("LINEAR_MIN_R2", "LINEAR_MIN_HALF_RATIO", "LINEAR_MIN_POINTS"),
)
def lr_too_small(ctx: Context) -> Finding | None:
    """Loss that decreases in a straight line: healthy curves fall fast and then
    bend; a line that never bends means each step moves the weights too little."""
    c = ctx.curves.get("train_loss") or ctx.curves.get("val_loss")
    v = ctx.curves.get("val_loss")
    if c is not None and c.level == "batch" and v is not None and v.n >= LINEAR_MIN_POINTS:
        c = v  # a per-batch training loss scatters too much for any line to explain it: validation shows the line
    if c is None or c.n < LINEAR_MIN_POINTS:
        return None
    # The smoothed curve, but starting from the first evaluation itself: its smoothing window (a tenth of the
    # run) would swallow a fast first drop and leave only the slow creep after it, which is a line.
    x, y = c.bsteps, c.smooth.copy()
    y[0] = c.bvalues[0]
    slope, _, r2 = linear_fit(x, y)
    if slope >= 0 or r2 < LINEAR_MIN_R2:
        return None
    h = c.n // 2
    s1, _, _ = linear_fit(x[: h + 1], y[: h + 1])
    s2, _, _ = linear_fit(x[h:], y[h:])
    if s1 >= 0 or s2 / s1 < LINEAR_MIN_HALF_RATIO:
        return None
    first, last = float(c.values[0]), float(c.values[-1])
    return Finding(
        "lr_too_small",
        int(c.steps[0]),
        int(c.steps[-1]),
        {
            "tag": c.tag,
            "r2": round(r2, 3),
            "second_half_ratio": round(s2 / s1, 2),
            "first_value": first,
            "last_value": last,
        },
        min(0.9, 0.4 + (r2 - 0.9) * 5),
        (c.tag,),
    )


LR_DECAYED_FRACTION = 0.1
"""The LR counts as decayed once it is below 10% of its peak,"""
LR_MIN_AFTER = 0.25
"""...if that happened with at least 25% of the run still to go,"""
LR_GAIN_BEFORE = 0.05
"""...the loss improved at least 5% over the stretch just before,"""
LR_MAX_GAIN_AFTER = 0.05
"""...and at most 5% in all the remaining run,"""
LR_PACE_AFTER = 0.1
"""...or, over a long remainder, at a tenth of the pace before or less: an order of magnitude, what a x0.1 cut does
to a loss still far from converged (progress per step scales with the LR there). The corpus labeller reads its
"yes" at the same tenth, so the dev gain this brought (lr_decay_too_early 0.73 -> 1.00) is partly by construction;
held-out and real runs did not change."""


def _lowest_from(c: Curve, step: int) -> float:
    """Lowest smoothed value from `step` on; the raw points there when no downsampled point is.

    A long curve's downsampled points sit at bin centres, so after a big gap
    in the steps (a run resumed much later) none may lie past `step` although
    raw points do.
    """
    after = c.smooth[c.bsteps >= step]
    return float(np.min(after)) if after.size else float(np.min(c.values[c.steps >= step]))


@rule(
    "warning",
    thresholds=("LR_DECAYED_FRACTION", "LR_MIN_AFTER", "LR_GAIN_BEFORE", "LR_MAX_GAIN_AFTER", "LR_PACE_AFTER"),
)
def lr_decay_too_early(ctx: Context) -> Finding | None:
    """LR schedule that kills the learning rate while the loss is still falling.

    Progress stops not because the model converged but because the steps
    became too small: a schedule tuned for a longer run, or a decay whose
    default rate was never checked.
    """
    lr, c = ctx.curves.get("lr"), ctx.train_curve() or ctx.primary_loss()
    if lr is None or c is None or lr.steps.size < 4 or c.n < 6:
        return None
    p = int(np.argmax(lr.values))
    peak = float(lr.values[p])
    if peak <= 0:
        return None
    low = np.nonzero(lr.values[p:] <= LR_DECAYED_FRACTION * peak)[0]
    if not low.size:
        return None
    d_step = int(lr.steps[p + low[0]])
    start, end = int(c.steps[0]), int(c.steps[-1])
    if end - d_step < LR_MIN_AFTER * (end - start) or d_step <= start:
        return None
    window = max(d_step - max(int(lr.steps[p]), start), (end - start) // 10, 1)

    # Raw values: the decisive stretch is often the first few epochs, which a
    # smoothing window would blur.
    def at(step: float) -> float:
        return float(np.interp(step, c.steps, c.values))

    o_before = rel(at(d_step - window) - at(d_step), at(d_step - window))
    # After the cut, from a tenth of the run on: the optimizer's momentum and the evaluation lag carry a last bit
    # of progress past the step where the LR fell; what matters is the rest of the run. (Not the before-window:
    # it reaches back to the LR's peak, which without warm-up is the first step, and would carry "after" past
    # the end.)
    settled = min(d_step + max((end - start) // 10, 1), end)
    o_after = rel(at(settled) - _lowest_from(c, settled), at(settled))
    if c.direction == "max":
        o_before, o_after = -o_before, -o_after
    # A long remaining run adds a slow crawl up past LR_MAX_GAIN_AFTER: the pace (gain per share of the run) says
    # the same thing whatever is left.
    span = max(end - start, 1)
    pace_before = o_before / (window / span)
    pace_after = o_after / max((end - settled) / span, 1e-12)
    crawl = pace_after <= LR_PACE_AFTER * pace_before
    if o_before < LR_GAIN_BEFORE or (o_after > LR_MAX_GAIN_AFTER and not crawl):
        return None
    return Finding(
        "lr_decay_too_early",
        d_step,
        end,
        {
            "tag": c.tag,
            "lr_tag": lr.tag,
            "lr_peak": peak,
            "lr_fraction_pct": pct(float(lr.values[p + low[0]]) / peak),
            "decay_step": d_step,
            "before_change_pct": pct(o_before),
            "after_change_pct": pct(max(o_after, 0.0)),
        },
        0.7,
        (c.tag, lr.tag),
    )


LR_HIGH_FRACTION = 0.5
"""The "high-LR stretch": from the first to the last logged LR at or above half its peak,"""
LR_HIGH_MIN_RANGE = 3.0
"""...in a schedule whose peak is at least 3x its lowest value (else nothing shows what a lower LR would do),"""
LR_HIGH_MIN_SPAN = 0.1
"""...lasting at least 10% of the run (a stall needs time to show; an LR cut in the first few percent is
lr_decay_too_early's story),"""
LR_HIGH_MAX_SHARE = 0.25
"""...during which the loss made at most a quarter of the gain it made once the LR came down,"""
LR_HIGH_MIN_GAIN_AFTER = 0.2
"""...and after which it still fell by at least 20% of its level;"""
LR_HIGH_PACE = 2.0
"""...or, instead of the quarter, fell at least 2x faster per step once the LR was below half its peak than
while it was above (log scale for a positive loss: the same speed-up at any loss level);"""
LR_HIGH_JITTER = 3.0
"""...or fell faster at all after (training normally decelerates) while it bounced at least 3x as much from point
to point in the second half of the high stretch as after it (log scale): the loss oscillating at the peak."""
LR_HIGH_RESUME_GAP = 50.0
"""Not judged when the run was resumed inside the high stretch: a pause between two logged points of at least 50x
the median one,"""
LR_HIGH_RESUME_MIN_S = 600.0
"""...and at least 10 minutes (a validation pass or a checkpoint save is shorter). A restart from a checkpoint resets
the optimizer's state and the data pipeline, and the loss steps up there whatever the LR: inside the high stretch
that reads as a stall at the peak (a YOLOv5 run resumed four times, its weights' linear decay read as too high)."""


@rule(
    "warning",
    unless=("nonfinite_loss", "divergence", "no_learning"),
    thresholds=(
        "LR_HIGH_FRACTION",
        "LR_HIGH_MIN_RANGE",
        "LR_HIGH_MIN_SPAN",
        "LR_HIGH_MAX_SHARE",
        "LR_HIGH_MIN_GAIN_AFTER",
        "LR_HIGH_PACE",
        "LR_HIGH_JITTER",
        "LR_HIGH_RESUME_GAP",
        "LR_HIGH_RESUME_MIN_S",
    ),
)
def lr_too_high(ctx: Context) -> Finding | None:
    """The loss stalls (or bounces) while the learning rate is high and falls only once the schedule lowers it.

    Seed 003's curve shapes: steps too large for the curvature keep the loss at
    a high level without blowing it up, so the progress a run makes is bought
    by the decay, not by the peak. Healthy step-decay and cosine runs make most
    of their progress at the peak LR and only refine it after the decay, which
    is what tells them apart. Needs a logged LR that changes.
    """
    lr, c = ctx.curves.get("lr"), ctx.train_curve() or ctx.curves.get("val_loss")
    if lr is None or c is None or lr.steps.size < 4 or c.n < 6:
        return None
    values = lr.values
    peak, low = float(np.max(values)), float(np.min(values))
    if not peak > 0 or peak < LR_HIGH_MIN_RANGE * max(low, 0.0):
        return None
    high = np.flatnonzero(values >= LR_HIGH_FRACTION * peak)
    start, end = int(lr.steps[high[0]]), int(lr.steps[high[-1]])
    if end >= c.bsteps[-1] or end <= c.bsteps[0]:
        return None  # the LR never came down within the logged loss
    first = max(start, float(c.bsteps[0]))  # the high stretch within the logged loss
    if end - first < LR_HIGH_MIN_SPAN * (c.bsteps[-1] - c.bsteps[0]):
        return None
    if any(first < step <= end for step in _resumed_at(c)):
        return None
    o = c.oriented()
    at_start, at_end = (float(np.interp(s, c.bsteps, o)) for s in (first, end))
    after = o[c.bsteps > end]
    if not after.size:
        return None
    best_after = float(np.min(after))
    gain_high, gain_after = at_start - at_end, at_end - best_after
    if rel(gain_after, at_end) < LR_HIGH_MIN_GAIN_AFTER:
        return None
    if gain_high > LR_HIGH_MAX_SHARE * gain_after:
        pace = _pace_ratio(c, first, end)
        if pace < LR_HIGH_PACE and not (pace > 1.0 and _jitter_ratio(c, first, end) >= LR_HIGH_JITTER):
            return None
    sign = 1.0 if c.direction == "min" else -1.0
    return Finding(
        "lr_too_high",
        start,
        end,
        {
            "tag": c.tag,
            "lr_tag": lr.tag,
            "lr_peak": peak,
            "high_start": start,
            "high_end": end,
            "loss_at_start": sign * at_start,
            "loss_at_end": sign * at_end,
            "loss_after": sign * best_after,
            "suggested_low": peak / 10,
            "suggested_high": peak / 3,
        },
        min(0.9, 0.5 + 0.4 * (1 - max(gain_high, 0.0) / max(gain_after, 1e-12))),
        (c.tag, lr.tag),
    )


def _resumed_at(c: Curve) -> list[int]:
    """Steps where logging resumed after a pause long enough to be a restart (LR_HIGH_RESUME_GAP and
    LR_HIGH_RESUME_MIN_S), from the wall times of the curve's points; none when they are not known."""
    wall = c.series.wall_times
    if wall is None or wall.size != c.series.steps.size or wall.size < 3:
        return []
    gaps = np.diff(wall)
    limit = max(LR_HIGH_RESUME_GAP * float(np.median(gaps)), LR_HIGH_RESUME_MIN_S)
    return [int(c.series.steps[i + 1]) for i in np.flatnonzero(gaps >= limit)]


def _jitter_ratio(c: Curve, start: float, end: float) -> float:
    """Point noise relative to the level over the second half of [start, end], against the same after `end`;
    0 when either stretch has fewer than 5 points (too few to tell noise from shape)."""
    during = c.bvalues[(c.bsteps >= (start + end) / 2) & (c.bsteps <= end)]
    after = c.bvalues[c.bsteps > end]
    if during.size < 5 or after.size < 5:
        return 0.0
    return _relative_noise(during) / max(_relative_noise(after), 1e-12)


def _relative_noise(v: np.ndarray) -> float:
    """Point noise over the level (what a log scale measures, and defined for a loss logged as 0.0000), never
    below the logging resolution's own: Hugging Face rounds the loss to 4 decimals, and a memorised run's loss
    reading 0.0001 at every step has no measurable noise, not a perfectly calm one."""
    steps = np.diff(np.unique(v))
    resolution = float(steps.min()) / math.sqrt(12.0) if steps.size else 0.0
    return max(noise_level(v), resolution) / max(abs(float(np.median(v))), 1e-12)


def _pace_ratio(c: Curve, start: float, end: float) -> float:
    """How many times faster per step the smoothed curve improves after `end` than from `start` to `end`.

    On a log scale for a positive loss, so the speed-up means the same at any
    level; infinite when it did not improve at all before.
    """
    o = c.oriented()
    y = np.log(o) if np.all(o > 0) else o
    a, b = (float(np.interp(s, c.bsteps, y)) for s in (start, end))
    z = float(y[-1])
    before = (a - b) / max(end - start, 1.0)
    after = (b - z) / max(float(c.bsteps[-1]) - end, 1.0)
    if before <= 0:
        return math.inf if after > 0 else 0.0
    return after / before
