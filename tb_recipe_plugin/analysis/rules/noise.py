"""Rules about fluctuations: noisy curves, epoch-periodic batch loss, isolated spikes."""

from __future__ import annotations

import numpy as np

from tb_recipe_plugin.analysis.curves import Curve, noise_level, rolling_mean, smooth
from tb_recipe_plugin.analysis.report import Finding
from tb_recipe_plugin.analysis.roles import is_running_mean
from tb_recipe_plugin.analysis.rules.context import Context
from tb_recipe_plugin.analysis.rules.registry import rule

NOISY_RATIO = 0.15
"""Typical wiggle above 15% of the curve's total trend for epoch-level curves,"""
NOISY_RATIO_BATCH = 0.6
"""...and above 60% for raw batch-level losses, which are noisy by nature."""
NOISY_MIN_POINTS = 8
NOISY_LEVEL_FLOOR = 0.2
"""On a flat curve the trend is ~0; measure the wiggle against 20% of its level instead."""


def _noise_ratio(c: Curve) -> tuple[float, float, float]:
    noise = noise_level(c.bvalues)
    trend = float(np.ptp(smooth(c.bvalues)))
    reference = max(trend, NOISY_LEVEL_FLOOR * abs(float(np.median(c.bvalues))), 1e-12)
    return noise / reference, noise, trend


@rule(
    "warning",
    unless=("nonfinite_loss", "divergence", "no_learning"),
    thresholds=("NOISY_RATIO", "NOISY_RATIO_BATCH", "NOISY_MIN_POINTS", "NOISY_LEVEL_FLOOR"),
)
def noisy_loss(ctx: Context) -> Finding | None:
    """Fluctuation that is large relative to the trend.

    With this much noise single evaluations are unreliable (checkpoint choice,
    early stopping) and the optimiser is probably bouncing: too small a batch,
    too high a learning rate, unshuffled data or a tiny validation set.
    """
    worst: tuple[float, Curve, float, float, float] | None = None
    for role in ("val_loss", "val_metric", "train_loss", "batch_loss"):
        c = ctx.curves.get(role)
        if c is None or c.n < NOISY_MIN_POINTS or (role == "batch_loss" and is_running_mean(c.tag)):
            continue
        ratio, noise, trend = _noise_ratio(c)
        limit = NOISY_RATIO_BATCH if c.level == "batch" or role == "batch_loss" else NOISY_RATIO
        score = ratio / limit
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
PERIODIC_MIN_CYCLES = 3
"""...seen over at least three cycles."""
PERIODIC_MAX_POINTS = 4000
PERIODIC_FUNDAMENTAL = 0.8
"""A divisor of the best lag with 80% of its autocorrelation is the real period."""


def _uniform(c: Curve) -> tuple[np.ndarray, float]:
    """Batch loss on an even step grid (bin means if very long); returns values and the grid spacing."""
    steps, values = c.steps.astype(np.float64), c.values
    dstep = float(np.median(np.diff(steps))) if steps.size > 1 else 1.0
    dstep = max(dstep, 1.0)
    n = int((steps[-1] - steps[0]) / dstep) + 1
    if n > 4 * steps.size:
        # Very uneven steps (gaps, restarts): an even grid would be mostly
        # interpolation, so treat the points as evenly spaced instead.
        steps = steps[0] + dstep * np.arange(steps.size)
        n = steps.size
    grid = steps[0] + dstep * np.arange(n)
    y = np.interp(grid, steps, values)
    if n > PERIODIC_MAX_POINTS:
        k = int(np.ceil(n / PERIODIC_MAX_POINTS))
        m = n // k
        y = y[: m * k].reshape(m, k).mean(axis=1)
        dstep *= k
    return y, dstep


def _autocorr(y: np.ndarray, lag: int) -> float:
    """Autocorrelation at `lag` after removing a trend averaged over exactly one lag.

    A moving average whose window equals the period cancels the periodic
    component, so the residual keeps the repeating pattern but not the
    downward trend of the loss.
    """
    if lag < 2 or y.size < lag * PERIODIC_MIN_CYCLES:
        return 0.0
    resid = (y - rolling_mean(y, lag | 1))[lag:-lag] if y.size > 2 * lag + 2 else y - y.mean()
    if resid.size <= lag + 2:
        return 0.0
    a, b = resid[:-lag], resid[lag:]
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
    return float(np.sum(a * b) / denom) if denom > 0 else 0.0


def _refine(y: np.ndarray, lag: int, ac: float) -> tuple[int, float]:
    """Best lag within 10% of a coarse one (the coarse grid skips lags)."""
    best_lag, best_ac = lag, ac
    for cand in range(max(2, int(lag * 0.9)), int(lag * 1.1) + 2):
        a = _autocorr(y, cand)
        if a > best_ac:
            best_lag, best_ac = cand, a
    return best_lag, best_ac


def _epoch_length(ctx: Context, c: Curve) -> float | None:
    """Steps per epoch, when a Lightning-style `epoch` series or epoch-level
    losses logged on the same global-step axis reveal it."""
    for tag, s in ctx.run.series.items():
        if tag.rsplit("/", 1)[-1] == "epoch" and len(s) > 2:
            changes = np.nonzero(np.diff(s.values) > 0)[0]
            if changes.size >= 2:
                return float(np.median(np.diff(s.steps[changes + 1])))
    t = ctx.curves.get("train_loss")
    if t is not None and t is not c and t.steps.size > 2:
        d = float(np.median(np.diff(t.steps)))
        if d > 4 and t.steps[-1] <= c.steps[-1] * 1.5:
            return d
    return None


@rule(
    "warning",
    thresholds=("PERIODIC_MIN_AUTOCORR", "PERIODIC_MIN_CYCLES", "PERIODIC_MAX_POINTS", "PERIODIC_FUNDAMENTAL"),
)
def periodic_loss(ctx: Context) -> Finding | None:
    """Batch-level loss that repeats with the epoch: batches in the same order every epoch.

    Unshuffled (e.g. class-sorted) data makes each epoch replay the same
    sequence of easy and hard batches. Keras' own `batch_*` summaries are
    running means that reset every epoch and would look periodic by
    construction, so they are not used here.
    """
    c = ctx.curves.get("batch_loss")
    if c is None or is_running_mean(c.tag) or c.steps.size < 50:
        return None
    y, dstep = _uniform(c)
    epoch = _epoch_length(ctx, c)
    if epoch is not None:
        lags = {max(2, int(round(epoch / dstep)))}
    else:
        hi = y.size // PERIODIC_MIN_CYCLES
        # Every lag: a spike train's autocorrelation peak is one lag wide.
        # y has at most PERIODIC_MAX_POINTS points, so this stays cheap.
        lags = set(range(4, hi + 1))
    best_lag, best_ac = 0, 0.0
    for lag in sorted(lags):
        ac = _autocorr(y, lag)
        if ac > best_ac:
            best_lag, best_ac = lag, ac
    if best_lag == 0 or best_ac < PERIODIC_MIN_AUTOCORR:
        return None
    best_lag, best_ac = _refine(y, best_lag, best_ac)
    # Multiples of the period correlate as well as the period itself: keep the fundamental.
    for k in (5, 4, 3, 2):
        lag, ac = _refine(y, int(round(best_lag / k)), 0.0)
        if lag >= 2 and ac >= PERIODIC_FUNDAMENTAL * best_ac:
            best_lag, best_ac = lag, ac
            break
    if 2 * best_lag * PERIODIC_MIN_CYCLES <= y.size * 2 and _autocorr(y, 2 * best_lag) < PERIODIC_MIN_AUTOCORR / 2:
        return None
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


SPIKE_FACTOR = 2.0
"""A point above 2x the running median of the points before it,"""
SPIKE_MAD = 6.0
"""...and 6 robust standard deviations above it,"""
SPIKE_RECOVERY = 3
"""...that falls back within 3 points, is an isolated spike."""


@rule(
    "warning",
    unless=("divergence", "nonfinite_loss"),
    after=("periodic_loss",),
    thresholds=("SPIKE_FACTOR", "SPIKE_MAD", "SPIKE_RECOVERY"),
)
def loss_spikes(ctx: Context) -> Finding | None:
    """Isolated spikes in the training loss: a bad batch, an LR too high for some
    curvature, or Adam's epsilon/second moment collapsing. Each can precede a
    divergence."""
    c = ctx.curves.get("batch_loss")
    if c is None or is_running_mean(c.tag):
        c = ctx.curves.get("train_loss")
    if c is None or c.steps.size < 12:
        return None
    if any(f.code == "periodic_loss" and c.tag in f.tags for f in ctx.findings):
        return None  # jumps that recur every epoch are the periodic pattern, not isolated spikes
    y = c.values
    n = y.size
    w = int(min(50, max(5, n // 20)))
    # Trailing window of the w points before each point i >= w.
    windows = np.lib.stride_tricks.sliding_window_view(y[:-1], w)
    base = np.median(windows, axis=1)
    mad = 1.4826 * np.median(np.abs(windows - base[:, None]), axis=1)
    cur = y[w:]
    candidates = np.nonzero((base > 0) & (cur > SPIKE_FACTOR * base) & (cur > base + SPIKE_MAD * mad))[0] + w
    spikes: list[int] = []
    ratios: list[float] = []
    for i in candidates:
        if spikes and i - spikes[-1] <= SPIKE_RECOVERY:
            continue
        b = base[i - w]
        back = y[i + 1 : i + 1 + SPIKE_RECOVERY]
        if back.size and np.any(back < b * (1 + (SPIKE_FACTOR - 1) / 2)):
            spikes.append(int(i))
            ratios.append(float(y[i] / b))
    if not spikes:
        return None
    k = int(np.argmax(ratios))
    top = spikes[k]
    return Finding(
        "loss_spikes",
        int(c.steps[spikes[0]]),
        int(c.steps[spikes[-1]]),
        {
            "tag": c.tag,
            "count": len(spikes),
            "threshold": SPIKE_FACTOR,
            "max_value": float(y[top]),
            "max_step": int(c.steps[top]),
            "max_ratio": round(ratios[k], 2),
            "spike_steps": ", ".join(str(int(c.steps[j])) for j in spikes[:20]),
        },
        min(0.9, 0.5 + 0.1 * len(spikes)),
        (c.tag,),
    )
