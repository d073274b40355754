"""Numerical helpers shared by the rules: cleaning, downsampling, smoothing, fits.

Rules must cope with 5-point epoch curves and 100k-point batch curves alike,
with uneven steps and any loss scale. So every rule works on a `Curve`: the
finite points of a series, downsampled to at most `MAX_POINTS` by bin medians
(robust to the spikes a separate rule looks for) and lightly smoothed, plus
scale-free summary numbers.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from tb_recipe_plugin.analysis.series import Series

MAX_POINTS = 400
"""Long series are reduced to this many bin medians before trend analysis."""

SMOOTH_FRACTION = 0.1
"""Smoothing window as a fraction of the (downsampled) curve length."""


@dataclass
class Curve:
    """A series prepared for trend rules. `direction` says which way is better."""

    tag: str
    series: Series
    steps: np.ndarray  # finite points only
    values: np.ndarray
    bsteps: np.ndarray  # downsampled
    bvalues: np.ndarray
    smooth: np.ndarray  # smoothed bvalues
    direction: str = "min"
    level: str = "epoch"
    # (change, standard error) by first index: plateau, val_plateau, still_learning and underfitting ask for the
    # same tails, and each Theil-Sen fit costs ~1 ms. Not an init field: dataclasses.replace starts an empty one.
    trends: dict[int, tuple[float, float]] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def n(self) -> int:
        return int(self.bsteps.size)

    @property
    def span(self) -> int:
        return int(self.steps[-1] - self.steps[0]) if self.steps.size else 0

    def oriented(self) -> np.ndarray:
        """Smoothed values with lower = better, so rules handle metrics and losses alike."""
        return self.smooth if self.direction == "min" else -self.smooth

    def best_index(self) -> int:
        """Index into the finite raw points of the best value."""
        v = self.values if self.direction == "min" else -self.values
        return int(np.argmin(v))

    def best_step(self) -> int:
        return int(self.steps[self.best_index()])

    def best_value(self) -> float:
        return float(self.values[self.best_index()])


def make_curve(series: Series, direction: str = "min", level: str = "epoch") -> Curve | None:
    finite = np.isfinite(series.values)
    if finite.all():
        steps, values = series.steps, series.values  # shared, not copied: rules never write into a curve
    else:
        steps, values = series.steps[finite], series.values[finite]
    if steps.size == 0:
        return None
    bsteps, bvalues = downsample(steps, values, MAX_POINTS)
    return Curve(
        tag=series.tag,
        series=series,
        steps=steps,
        values=values,
        bsteps=bsteps,
        bvalues=bvalues,
        smooth=smooth(bvalues),
        direction=direction,
        level=level,
    )


def downsample(steps: np.ndarray, values: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    n = steps.size
    if n <= max_points:
        return steps.astype(np.float64), values.copy()
    edges = np.linspace(0, n, max_points + 1).astype(np.int64)
    lo, hi = edges[:-1], edges[1:]
    bsteps = steps[(lo + hi - 1) // 2].astype(np.float64)
    bvalues = np.empty(max_points)
    # Bins differ in size by at most one point: take the medians of all bins of one size at once.
    # A block of bins at a time keeps the gathered copy to a few MB on a 10M-point curve.
    sizes = hi - lo
    for size in np.unique(sizes):
        which = np.flatnonzero(sizes == size)
        per_block = max(1, _DOWNSAMPLE_BLOCK // int(size))
        for first in range(0, which.size, per_block):
            part = which[first : first + per_block]
            bvalues[part] = np.median(values[lo[part, None] + np.arange(size)], axis=1)
    return bsteps, bvalues


_DOWNSAMPLE_BLOCK = 1 << 18


def rolling_median(values: np.ndarray, window: int) -> np.ndarray:
    """Centered rolling median; windows shrink at the ends instead of padding."""
    n = values.size
    if window <= 1 or n < 3:
        return values.copy()
    half = window // 2
    if n <= 2 * half:
        padded = np.concatenate([np.full(half, np.nan), values, np.full(half, np.nan)])
        return np.nanmedian(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1), axis=1)
    from scipy import ndimage  # imported here: the plugin's entry point must stay light

    # Full windows by scipy's running selection (no n x window copy: long windows on long curves stay cheap);
    # only the 2 * half shrunken windows at the ends need one call each.
    out = ndimage.median_filter(values.astype(np.float64), size=2 * half + 1, mode="nearest")
    out[:half] = _growing_medians(values[: 2 * half].tolist(), half)
    out[n - half :] = _growing_medians(values[n - 2 * half :][::-1].tolist(), half)[::-1]
    return out


def _growing_medians(v: list[float], half: int) -> list[float]:
    """Medians of v[:half + 1], v[:half + 2], ... v[:2 * half]: the shrunken windows at one end of a rolling median.

    One sorted list grown by insertion: a numpy median per window costs ~25 us of call overhead, and a run's
    analysis takes thousands of them (most of the time of its smoothing, before this).
    """
    ordered = sorted(v[:half])
    out = []
    for x in v[half : 2 * half]:
        bisect.insort(ordered, x)
        m = len(ordered)
        out.append(ordered[m // 2] if m % 2 else (ordered[m // 2 - 1] + ordered[m // 2]) / 2)
    return out


def rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Centered rolling mean in O(n) via cumulative sums; windows shrink at the ends."""
    n = values.size
    if window <= 1 or n < 3:
        return values.copy()
    half = window // 2
    csum = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    idx = np.arange(n)
    lo = np.clip(idx - half, 0, n)
    hi = np.clip(idx + half + 1, 0, n)
    return (csum[hi] - csum[lo]) / (hi - lo)


def smooth(values: np.ndarray) -> np.ndarray:
    """Median then mean: removes isolated outliers first, then the jitter."""
    n = values.size
    window = int(round(n * SMOOTH_FRACTION)) | 1
    if window < 3:
        return values.copy()
    # The mean stage is short so that one huge first-epoch value cannot leak
    # far into its neighbours (the median stage already removed outliers).
    return rolling_mean(rolling_median(values, window), 3)


def linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Slope, intercept and R² of a least-squares line (R² = 0 for constant y)."""
    if x.size < 2 or np.ptp(x) == 0:
        return 0.0, float(y.mean()) if y.size else 0.0, 0.0
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / total if total > 0 else 0.0
    return float(slope), float(intercept), r2


def tail_start_index(steps: np.ndarray, fraction: float) -> int:
    """First index of the last `fraction` of the step span."""
    if steps.size == 0:
        return 0
    cut = steps[-1] - fraction * (steps[-1] - steps[0])
    return int(np.searchsorted(steps, cut, side="left"))


def noise_level(values: np.ndarray) -> float:
    """Robust standard deviation of point-to-point noise, from second differences.

    Second differences cancel any locally linear trend, so a steep but smooth
    descent does not count as noise; the MAD ignores isolated spikes, which a
    separate rule reports. For iid noise, var(y[i-1] - 2y[i] + y[i+1]) = 6 sigma^2.
    """
    if values.size < 5:
        return 0.0
    d2 = values[:-2] - 2 * values[1:-1] + values[2:]
    return float(1.4826 * np.median(np.abs(d2 - np.median(d2))) / np.sqrt(6.0))


def tail_trend(c: Curve, fraction: float) -> tuple[float, float]:
    """(change, standard error) of the curve over the last `fraction` of its steps, improvement negative.

    The change is the Theil-Sen slope (scipy: the median of pairwise slopes,
    so one spike or one lucky evaluation does not tilt it) times the tail's
    length, taken on a log scale for a positive curve (a ratio: -0.1 is a
    10% improvement whatever the loss scale) and relative to the tail's
    median otherwise. The standard error comes from the scatter around that
    line, sigma * sqrt(12 / m) for m evenly spread points, so a jagged
    validation curve of 20 evaluations is judged against its own noise.
    Returns (0, inf) when the tail has fewer than 3 points.
    """
    return _trend_from(c, tail_start_index(c.bsteps, fraction))


def trend_since(c: Curve, step: float) -> tuple[float, float]:
    """`tail_trend` from a given step on: one curve measured over the stretch another curve's tail covers."""
    return _trend_from(c, int(np.searchsorted(c.bsteps, step, side="left")))


def _trend_from(c: Curve, start: int) -> tuple[float, float]:
    i = min(start, c.n - 3)
    if i < 0:
        return 0.0, math.inf
    if i not in c.trends:
        c.trends[i] = _fit_trend(c, i)
    return c.trends[i]


def _fit_trend(c: Curve, i: int) -> tuple[float, float]:
    from scipy.stats import theilslopes  # imported here: the plugin's entry point must stay light

    x, y = c.bsteps[i:], c.bvalues[i:]
    if c.direction == "max":
        y = -y
    positive = bool(np.all(y > 0))
    if positive:
        y = np.log(y)
    length = float(x[-1] - x[0])
    if length <= 0:
        return 0.0, math.inf
    slope, intercept, _, _ = theilslopes(y, x)
    resid = y - (slope * x + intercept)
    sigma = float(1.4826 * np.median(np.abs(resid - np.median(resid))))
    se = sigma * math.sqrt(12.0 / x.size)
    change = float(slope * length)
    if not positive:
        level = max(abs(float(np.median(y))), 1e-12)
        change, se = change / level, se / level
    return change, se


def is_flat(change: float, se: float, tolerance: float, se_factor: float, max_se: float) -> bool:
    """Is a `tail_trend` (change, standard error) flat: within `tolerance`, or within `se_factor` standard errors
    on a noisier curve, as long as the standard error is at most `max_se` (noisier than that, flat cannot be told
    from a trend)? Thresholds are the caller's, passed at call time."""
    return se <= max_se and abs(change) <= max(tolerance, se_factor * se)
