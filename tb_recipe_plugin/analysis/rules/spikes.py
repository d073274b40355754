"""Isolated loss spikes: robust residuals from a local trend, on every loss curve a practitioner looks at.

A spike is a point (or a short run of points) far above the loss's own local
level that comes back down. Two things make that hard to see in logged
curves, and shape the method:

- Losses are multiplicative: late in training a per-batch loss of 0.01 that
  jumps to 0.1 on one hard batch is as ordinary as 1.0 jumping to 1.5 early
  on. So positive curves are read in log space, where a spike's size is its
  ratio to the local level and the noise band is comparable along the run.
- Noise changes along the run (small batches near convergence are
  heavy-tailed). So the band a point must leave is the robust spread (median
  absolute residual) of its own neighbourhood, not of the whole run.

The local level is a centred rolling median (Hampel's filter) whose width
follows the curve's length, so a 30-point epoch curve and a 100k-point batch
curve are each judged on their own scale. Long curves are first reduced to
bin medians; the residuals of the raw points are then taken against that
trend, so memory stays a few MB whatever the run's length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tb_recipe_plugin.analysis.curves import Curve, rolling_median
from tb_recipe_plugin.analysis.report import Finding
from tb_recipe_plugin.analysis.rules.context import Context
from tb_recipe_plugin.analysis.rules.registry import rule

SPIKE_FACTOR = 3.0
"""A batch-level point at 3x its local level (single batches routinely double),"""
SPIKE_FACTOR_EPOCH = 2.0
"""...an epoch-level point (a mean over an epoch, or an evaluation) at 2x it,"""
SPIKE_MAD = 6.0
"""...and 6 robust standard deviations of its neighbourhood above it,"""
SPIKE_MAX_WIDTH = 0.01
"""...that lasts at most 1% of the curve (at least 2 points: an epoch-level spike may take two evaluations to come
down),"""
SPIKE_RECOVERY = 3
"""...and then falls back at least halfway (in ratio) within 3 points (or within that width, if longer), is an
isolated spike,"""
SPIKE_MAX_SHARE = 0.01
"""...as long as such events are rare: more than 1% of the curve is the tail of the noise (tiny batches), not
isolated events,"""
SPIKE_FEW = 5
"""...though a handful (5) always counts as isolated on a short curve."""

_MIN_POINTS = 12
_MAX_WIDTH_POINTS = 25
"""The local level is a rolling median 4x as wide as the longest spike, so a spike cannot move it (and a warm-up or
a schedule's step, being longer, can): at least 7 points, at most 101 (its cost grows with its width)."""
_GRID = 20_000
"""Curves longer than this are reduced to this many bin medians for the trend and the noise band (cost)."""

_BLOCK = 1 << 18


@dataclass(frozen=True)
class Spikes:
    """The isolated spikes found in one curve: indices into its finite points and their ratios to the local level."""

    curve: Curve
    at: np.ndarray
    ratios: np.ndarray
    factor: float


def _odd(k: int) -> int:
    return k if k % 2 else k + 1


def _log(y: np.ndarray, positive: bool) -> np.ndarray:
    return np.log(y) if positive else y.astype(np.float64)


def _bin_medians(values: Callable[[int, int], np.ndarray], n: int, k: int) -> np.ndarray:
    """Medians of consecutive k-point bins of the n values `values(lo, hi)` gives (the last bin may be shorter),
    a block of bins at a time."""
    full = n // k
    out = np.empty(full + (1 if n % k else 0))
    per = max(1, _BLOCK // k)
    for first in range(0, full, per):
        last = min(full, first + per)
        out[first:last] = np.median(values(first * k, last * k).reshape(-1, k), axis=1)
    if n % k:
        out[-1] = np.median(values(full * k, n))
    return out


def noise_band(resid: np.ndarray, w: int) -> np.ndarray:
    """Robust standard deviation of the residuals around each point: 1.4826 x their rolling median absolute value
    over 3 trend windows, and never below half the curve's own (a calm stretch must not make every wiggle
    count)."""
    band = 1.4826 * rolling_median(resid, _odd(3 * w))
    return np.maximum(band, 0.5 * 1.4826 * float(np.median(resid)) + 1e-12)


def _scan(c: Curve, factor: float) -> Spikes | None:
    """Hampel-style scan of one curve; None when it is too short or its spikes are too many to be isolated."""
    y = c.values
    n = y.size
    if n < _MIN_POINTS:
        return None
    positive = bool(np.min(y) > 0)
    k = int(np.ceil(n / _GRID))

    def logged(lo: int, hi: int) -> np.ndarray:
        return _log(y[lo:hi], positive)

    grid = _bin_medians(logged, n, k) if k > 1 else logged(0, n)
    width = max(2, min(_MAX_WIDTH_POINTS, int(SPIKE_MAX_WIDTH * grid.size)))
    w = _odd(max(7, 4 * width))
    trend = rolling_median(grid, w)
    if k > 1:
        centres = np.arange(grid.size) * k + (k - 1) / 2

        def level(lo: int, hi: int) -> np.ndarray:
            return np.interp(np.arange(lo, hi, dtype=np.float64), centres, trend)

        # a bin's typical distance of single points from their level (a bin median's own spread is far smaller)
        resid = _bin_medians(lambda lo, hi: np.abs(logged(lo, hi) - level(lo, hi)), n, k)
    else:
        centres = None
        resid = np.abs(grid - trend)
    band = noise_band(resid, w)
    if positive:
        rise = np.log(factor)
    else:
        rise = (factor - 1.0) * float(np.median(np.abs(y)))
        if rise <= 0:
            return None

    def at(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Residual from the local level and the band, at raw indices."""
        if centres is None:
            return grid[idx] - trend[idx], band[idx]
        x = idx.astype(np.float64)
        return _log(y[idx], positive) - np.interp(x, centres, trend), np.interp(x, centres, band)

    found: list[np.ndarray] = []
    for lo in range(0, n, _BLOCK):
        idx = np.arange(lo, min(n, lo + _BLOCK))
        r, b = at(idx)
        found.append(idx[(r >= rise) & (r >= SPIKE_MAD * b)])
    cand = np.concatenate(found)
    # the first half-window is the initial drop (its level is the start of a steep fall); the last point has no
    # after to come back to
    cand = cand[(cand >= (w // 2) * k) & (cand < n - 1)]
    if cand.size == 0:
        return None
    starts = np.concatenate([[0], np.flatnonzero(np.diff(cand) > 1) + 1])
    ends = np.concatenate([starts[1:], [cand.size]]) - 1
    budget = max(SPIKE_FEW, SPIKE_MAX_SHARE * n)
    if starts.size > 20 * budget:
        return None  # a storm of jumps: noise, whatever comes back down
    first, last = cand[starts], cand[ends]
    short = (last - first + 1) <= width * k
    recover = max(SPIKE_RECOVERY, width * k)
    back = np.zeros(first.size, dtype=bool)
    for j in range(1, recover + 1):
        r, _ = at(np.minimum(last + j, n - 1))
        back |= r < rise / 2
    # near the end the level is a median of the last few points only: a jump there (often the climb of a
    # divergence) must show its whole recovery window before it counts as a spike
    back &= last + recover < n
    keep = short & back
    if not keep.any() or int(keep.sum()) > budget:
        return None
    peaks = np.array(
        [a + int(np.argmax(at(np.arange(a, b + 1))[0])) for a, b in zip(first[keep], last[keep], strict=True)],
        dtype=np.int64,
    )
    r, _ = at(peaks)
    ratios = np.exp(r) if positive else 1.0 + r / float(np.median(np.abs(y)))
    return Spikes(c, peaks, ratios, factor)


def _loss_curves(ctx: Context) -> list[tuple[Curve, float]]:
    """The loss curves a practitioner would scan for spikes, with the factor for their level."""
    out: list[tuple[Curve, float]] = []
    periodic = ctx.tags_of("periodic_loss")
    batch = None if ctx.batch_running_mean else ctx.curves.get("batch_loss")
    if batch is not None and batch.tag not in periodic:  # jumps recurring every epoch are the periodic pattern
        out.append((batch, SPIKE_FACTOR))
    for role in ("train_loss", "val_loss"):
        c = ctx.curves.get(role)
        if c is None or c.tag in periodic or any(c.tag == o.tag for o, _ in out):
            continue
        if ctx.batch_running_mean and "batch_loss" in ctx.roles and c.tag == ctx.roles["batch_loss"].tag:
            continue  # Keras' running mean: spikes are averaged away in it
        out.append((c, SPIKE_FACTOR if c.level == "batch" else SPIKE_FACTOR_EPOCH))
    return out


@rule(
    "warning",
    unless=("nonfinite_loss",),
    after=("periodic_loss",),
    thresholds=(
        "SPIKE_FACTOR",
        "SPIKE_FACTOR_EPOCH",
        "SPIKE_MAD",
        "SPIKE_MAX_WIDTH",
        "SPIKE_RECOVERY",
        "SPIKE_MAX_SHARE",
        "SPIKE_FEW",
    ),
)
def loss_spikes(ctx: Context) -> Finding | None:
    """Isolated spikes in a loss curve (per batch, per epoch or on validation): a bad batch, an LR too high for
    some curvature, Adam's second moment collapsing, or an LR restart. Each can precede a divergence, so they are
    reported beside one too: where the first spike came is where to look."""
    scans = [s for c, factor in _loss_curves(ctx) if (s := _scan(c, factor)) is not None]
    if not scans:
        return None
    best = max(scans, key=lambda s: float(np.max(s.ratios)))
    c, k = best.curve, int(np.argmax(best.ratios))
    top = int(best.at[k])
    return Finding(
        "loss_spikes",
        int(c.steps[best.at[0]]),
        int(c.steps[best.at[-1]]),
        {
            "tag": c.tag,
            "count": int(best.at.size),
            "threshold": best.factor,
            "max_value": float(c.values[top]),
            "max_step": int(c.steps[top]),
            "max_ratio": round(float(best.ratios[k]), 2),
            "spike_steps": ", ".join(str(int(c.steps[j])) for j in best.at[:20]),
        },
        min(0.9, 0.5 + 0.1 * int(best.at.size)),
        tuple(dict.fromkeys([c.tag, *(s.curve.tag for s in scans)])),
    )
