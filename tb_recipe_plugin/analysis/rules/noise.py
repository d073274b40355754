"""Rules about fluctuations: noisy curves and epoch-periodic batch loss (isolated spikes: `spikes.py`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tb_recipe_plugin.analysis.curves import Curve, noise_level, smooth
from tb_recipe_plugin.analysis.levels import epoch_counter_gap
from tb_recipe_plugin.analysis.report import Finding
from tb_recipe_plugin.analysis.rules.context import Context
from tb_recipe_plugin.analysis.rules.registry import rule

NOISY_RATIO = 0.25
"""Typical wiggle above 25% of the curve's total trend for epoch-level curves (a quarter of the movement: the
noise starts to hide the trend; epoch-level validation curves of real runs are jagged at 15-20% and read fine;
raised from 0.15 on the dev corpus of issue 8),"""
NOISY_BATCH_LEVEL = 0.2
"""A per-batch loss must also swing by at least 20% of its level: one batch's loss routinely moves 10-20% from the
next (sampling), so only larger swings hide its trend from a reader (this replaced a separate, higher ratio of
60% for batch-level curves, which let per-batch noise of half the level pass on a curve with a large early drop)."""
NOISY_BATCH_TAIL = 0.3
"""...measured on the raw points of the last 30% of the curve, against their own level: bin medians of a long curve
hide most of its batch-to-batch swing (a 10k-point curve read as 400 medians shows a fifth of it), and a level taken
over the whole run, early descent included, understates the swing where the loss has settled."""
NOISY_MIN_POINTS = 8
NOISY_LEVEL_FLOOR = 0.2
"""On a flat curve the trend is ~0; measure the wiggle against 20% of its level instead."""


def _noise_ratio(c: Curve, at_least: float = 0.0) -> tuple[float, float, float, float]:
    """(noise / reference, noise, trend, level): point noise against the curve's visible movement, or against
    NOISY_LEVEL_FLOOR of its level when it hardly moves. `at_least` is a noise read elsewhere that the downsampled
    curve's may not fall below (a per-batch curve's raw tail: bin medians of a long curve shrink its swing)."""
    noise = max(noise_level(c.bvalues), at_least)
    trend = float(np.ptp(smooth(c.bvalues)))
    level = abs(float(np.median(c.bvalues)))
    reference = max(trend, NOISY_LEVEL_FLOOR * level, 1e-12)
    return noise / reference, noise, trend, level


_TAIL_MAX_POINTS = 20_000  # a cost cap, not a threshold: the swing of 20k consecutive points is already exact


def _tail_swing(c: Curve) -> tuple[float, float]:
    """Point-to-point noise of a per-batch curve's raw tail: (absolute, as a fraction of that tail's level)."""
    take = min(_TAIL_MAX_POINTS, max(NOISY_MIN_POINTS, int(np.ceil(NOISY_BATCH_TAIL * c.values.size))))
    raw = c.values[-take:]
    noise = noise_level(raw)
    return noise, noise / max(abs(float(np.median(raw))), 1e-12)


@rule(
    "warning",
    unless=("nonfinite_loss", "divergence", "no_learning"),
    after=("periodic_loss",),
    thresholds=(
        "NOISY_RATIO",
        "NOISY_BATCH_LEVEL",
        "NOISY_BATCH_TAIL",
        "NOISY_MIN_POINTS",
        "NOISY_LEVEL_FLOOR",
    ),
)
def noisy_loss(ctx: Context) -> Finding | None:
    """Fluctuation that is large relative to the trend.

    With this much noise single evaluations are unreliable (checkpoint choice,
    early stopping) and the optimiser is probably bouncing: too small a batch,
    too high a learning rate, unshuffled data or a tiny validation set.
    """
    worst: tuple[float, Curve, float, float, float] | None = None
    # a batch loss that repeats with the epoch swings by design of the data order: periodic_loss says why
    periodic = ctx.tags_of("periodic_loss")
    # loss curves only: a metric such as a detector's AP jumps by whole points between evaluations early on and
    # still reads clearly (dev: 4 Detectron2-style runs flagged on their AP alone, 1 true one lost)
    for role in ("val_loss", "train_loss", "batch_loss"):
        c = ctx.curves.get(role)
        if c is None or c.n < NOISY_MIN_POINTS or (role == "batch_loss" and ctx.batch_running_mean):
            continue
        if c.tag in periodic:
            continue
        raw_noise = 0.0
        if c.level == "batch" or role == "batch_loss":
            raw_noise, swing = _tail_swing(c)
            if swing < NOISY_BATCH_LEVEL:
                continue
        ratio, noise, trend, level = _noise_ratio(c, at_least=raw_noise)
        score = ratio / NOISY_RATIO
        if score > 1 and (worst is None or score > worst[0]):
            worst = (score, c, ratio, noise, trend)
    if worst is None:
        return None
    score, c, ratio, noise, trend = worst
    return Finding(
        "noisy_loss",
        int(c.steps[0]),
        int(c.steps[-1]),
        {"tag": c.tag, "noise_ratio": round(ratio, 2), "noise": noise, "trend": trend},
        min(0.9, 0.4 + 0.2 * score),
        (c.tag,),
    )


PERIODIC_MIN_AUTOCORR = 0.3
"""Autocorrelation of the detrended batch loss at the period,"""
PERIODIC_MIN_Z = 5.0
"""...and at least 5 standard errors of a white-noise autocorrelation (1 / sqrt(pairs)). Residuals of a one-period
moving average are not white (the average itself correlates neighbours, and batch losses are heavy-tailed), so the
nominal error understates chance: dev chance correlations reached 3.1-3.3 of them (a 50-point Estimator loss at
0.46, an MMEngine batch-2 loss at 0.33) while every epoch-ordered run stood at 6-30 (was 3: an 80-point Keras batch
loss at 0.30 was 2.5),"""
PERIODIC_MIN_CYCLES = 3
"""...seen over at least three cycles,"""
PERIODIC_MIN_POINTS = 4
"""...of at least 4 points each (with fewer, no pattern within the epoch can be seen)."""
PERIODIC_MAX_POINTS = 4000
PERIODIC_FUNDAMENTAL = 0.8
"""A divisor of the best lag with 80% of its autocorrelation is the real period."""


def _uniform(c: Curve) -> tuple[np.ndarray, float]:
    """Batch loss on an even step grid (bin means if very long); returns values and the grid spacing.

    Built a block at a time and reduced to bin means as it goes, so a 10M-point
    run needs a few MB here, not several full-length float arrays; evenly
    logged steps (the usual case) need no interpolation at all.
    """
    steps, values = c.steps, c.values
    dstep, regular = 1.0, True
    if steps.size > 1:
        gaps = np.diff(steps)
        regular = bool(np.all(gaps == gaps[0]))
        dstep = float(np.median(gaps, overwrite_input=True))
        del gaps
    dstep = max(dstep, 1.0)
    n = int((float(steps[-1]) - float(steps[0])) / dstep) + 1
    if n > 4 * steps.size or (regular and n == steps.size):
        # Very uneven steps (gaps, restarts): an even grid would be mostly
        # interpolation, so treat the points as evenly spaced instead. Evenly
        # logged points already are the grid.
        return _bin_means(lambda lo, hi: values[lo:hi], steps.size, dstep)
    xp = steps.astype(np.float64)
    origin = float(xp[0])
    return _bin_means(lambda lo, hi: np.interp(origin + dstep * np.arange(lo, hi), xp, values), n, dstep)


_GRID_BLOCK = 1 << 20


def _bin_means(grid: Callable[[int, int], np.ndarray], n: int, dstep: float) -> tuple[np.ndarray, float]:
    """The n grid values (``grid(lo, hi)`` gives a block), as means of k consecutive values when n is too long."""
    if n <= PERIODIC_MAX_POINTS:
        return np.array(grid(0, n), dtype=np.float64), dstep
    k = int(np.ceil(n / PERIODIC_MAX_POINTS))
    m = n // k
    bins_per_block = max(1, _GRID_BLOCK // k)
    out = np.empty(m)
    for first in range(0, m, bins_per_block):
        last = min(m, first + bins_per_block)
        out[first:last] = grid(first * k, last * k).reshape(last - first, k).mean(axis=1)
    return out, dstep * k


def _autocorr(y: np.ndarray, lag: int) -> float:
    """Autocorrelation at `lag` after removing a trend averaged over exactly one lag.

    A moving average whose window equals the period cancels the periodic
    component, so the residual keeps the repeating pattern but not the
    downward trend of the loss.
    """
    if lag < 2 or y.size < lag * PERIODIC_MIN_CYCLES:
        return 0.0
    n = y.size
    # The moving average is biased where its window is cut short: half a lag at each end is dropped. Inside, every
    # window (width lag | 1) is whole, so one cumulative sum gives it: a blind search asks for every lag of a
    # 4000-point curve, and a general rolling mean per lag was a third of the corpus's analysis time.
    edge = lag // 2 + 1
    if n > 2 * edge + 2:
        half = (lag | 1) // 2
        csum = np.concatenate(([0.0], np.cumsum(y, dtype=np.float64)))
        lo, hi = edge, n - edge
        resid = y[lo:hi] - (csum[lo + half + 1 : hi + half + 1] - csum[lo - half : hi - half]) / (2 * half + 1)
    else:
        resid = y - y.mean()
    if resid.size <= lag + 2:
        return 0.0
    a, b = resid[:-lag], resid[lag:]
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b) / denom) if denom > 0 else 0.0


def _refine(y: np.ndarray, lag: int, ac: float) -> tuple[int, float]:
    """Best lag within 10% of a coarse one (the coarse grid skips lags)."""
    best_lag, best_ac = lag, ac
    for cand in range(max(2, int(lag * 0.9)), int(lag * 1.1) + 2):
        a = _autocorr(y, cand)
        if a > best_ac:
            best_lag, best_ac = cand, a
    return best_lag, best_ac


def _epoch_length(ctx: Context, c: Curve) -> float | None:
    """Steps per epoch, when the logs prove it (Keras' running means, an epoch-index axis: `ctx.steps_per_epoch`),
    or a Lightning-style `epoch` series or epoch-level losses logged on the same global-step axis reveal it."""
    if ctx.steps_per_epoch:
        return float(ctx.steps_per_epoch)
    for tag, s in ctx.run.series.items():
        if tag.rsplit("/", 1)[-1] == "epoch" and len(s) > 2 and (gap := epoch_counter_gap(s)) is not None:
            return gap
    t = ctx.curves.get("train_loss")
    # an epoch-level training loss: not the batch curve itself under another role (a dense `train/bce` is both)
    if t is not None and t.tag != c.tag and t.level == "epoch" and t.steps.size > 2:
        d = float(np.median(np.diff(t.steps)))
        if d > 4 and t.steps[-1] <= c.steps[-1] * 1.5:
            return d
    return None


def _evaluation_gap(ctx: Context, c: Curve) -> float | None:
    """Steps between evaluations on the batch curve's own step axis: often one epoch (a hint, not a proof)."""
    for role in ("val_loss", "val_metric"):
        v = ctx.curves.get(role)
        if v is not None and v.steps.size > 2 and 0.5 * c.steps[-1] <= v.steps[-1] <= 1.5 * c.steps[-1]:
            return float(np.median(np.diff(v.steps)))
    return None


def _repeats(y: np.ndarray, lag: int, ac: float, require_double: bool) -> bool:
    """Enough points per period and periods per run, and (when asked or possible) the pattern again at 2 periods.

    A blind search over every lag finds some lag with a chance correlation on
    a short spike train, so its result must come back at twice the period
    (6 cycles in all); one lag tested at a proven epoch length may skip that
    on short runs.
    """
    if lag < PERIODIC_MIN_POINTS or ac < PERIODIC_MIN_AUTOCORR or lag * PERIODIC_MIN_CYCLES > y.size:
        return False
    if ac * np.sqrt(y.size - lag) < PERIODIC_MIN_Z:
        return False  # within chance for this few pairs
    if require_double or 2 * lag * PERIODIC_MIN_CYCLES <= y.size:
        return _autocorr(y, 2 * lag) >= PERIODIC_MIN_AUTOCORR / 2
    return True


def _at_lag(y: np.ndarray, lag: int, proven: bool) -> tuple[int, float] | None:
    ac = _autocorr(y, lag) if lag >= 2 else 0.0
    return (lag, ac) if _repeats(y, lag, ac, require_double=not proven) else None


def _blind_search(y: np.ndarray) -> tuple[int, float] | None:
    """Every lag (a spike train's autocorrelation peak is one lag wide; y has at most PERIODIC_MAX_POINTS points,
    so this stays cheap), refined, and reduced to the fundamental: multiples of the period correlate too."""
    best_lag, best_ac = 0, 0.0
    for lag in range(PERIODIC_MIN_POINTS, y.size // PERIODIC_MIN_CYCLES + 1):
        ac = _autocorr(y, lag)
        if ac > best_ac + 1e-9:  # on a tie the shorter lag: its multiples correlate exactly as well
            best_lag, best_ac = lag, ac
    if best_lag == 0 or best_ac < PERIODIC_MIN_AUTOCORR:
        return None
    best_lag, best_ac = _refine(y, best_lag, best_ac)
    top = best_ac
    reduced = True
    while reduced:  # 80 -> 20 -> 10: reduce until no divisor of the lag correlates nearly as well
        reduced = False
        for k in (5, 4, 3, 2):
            lag, ac = _refine(y, int(round(best_lag / k)), 0.0)
            if PERIODIC_MIN_POINTS <= lag < best_lag and ac >= PERIODIC_FUNDAMENTAL * top:
                best_lag, best_ac, reduced = lag, ac, True
                break
    return (best_lag, best_ac) if _repeats(y, best_lag, best_ac, require_double=True) else None


@rule(
    "warning",
    unless=("nonfinite_loss", "divergence"),
    thresholds=(
        "PERIODIC_MIN_AUTOCORR",
        "PERIODIC_MIN_Z",
        "PERIODIC_MIN_CYCLES",
        "PERIODIC_MIN_POINTS",
        "PERIODIC_MAX_POINTS",
        "PERIODIC_FUNDAMENTAL",
    ),
)
def periodic_loss(ctx: Context) -> Finding | None:
    """Batch-level loss that repeats with the epoch: batches in the same order every epoch.

    Unshuffled (e.g. class-sorted) data makes each epoch replay the same
    sequence of easy and hard batches. Keras' own `batch_*` summaries are
    running means that reset every epoch and would look periodic by
    construction: they are analysed as the per-batch values recovered from
    them (analysis/levels.py), or not at all when that fails.
    """
    c = ctx.curves.get("batch_loss")
    if c is None or ctx.batch_running_mean or c.steps.size < 50:
        return None
    y, dstep = _uniform(c)
    if np.all(y > 0):
        # Log scale: a loss falling 50x over the run leaves the early epochs' curvature in the residuals on a linear
        # scale, which correlates at every lag; the pattern within an epoch is a ratio, like the loss itself.
        y = np.log(y)
    epoch = _epoch_length(ctx, c)
    if epoch is not None:
        found = _at_lag(y, int(round(epoch / dstep)), proven=True)
    else:
        hint = _evaluation_gap(ctx, c)
        found = _at_lag(y, int(round(hint / dstep)), proven=False) if hint else None
        found = found or _blind_search(y)
    if found is None:
        return None
    best_lag, best_ac = found
    period = best_lag * dstep
    return Finding(
        "periodic_loss",
        int(c.steps[0]),
        int(c.steps[-1]),
        {
            "tag": c.tag,
            "period": int(round(period)),
            "autocorr": round(best_ac, 2),
            "epoch_steps": int(round(epoch)) if epoch else "unknown",
        },
        min(0.95, 0.4 + best_ac),
        (c.tag,),
    )
