"""Constructed training curves for rule tests.

Shapes are parameterised by length, scale and noise so that each rule is
checked across the range it claims to handle, not on one hand-picked series.
"""

from __future__ import annotations

import numpy as np

from tb_recipe_plugin.analysis.series import RunData, Series


def decay(n: int, start: float = 2.0, floor: float = 0.2, rate: float = 5.0) -> np.ndarray:
    """Exponential approach to `floor`: the usual healthy loss shape."""
    t = np.linspace(0, 1, n)
    return floor + (start - floor) * np.exp(-rate * t)


def noisy(y: np.ndarray, rel_sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return y * (1 + rel_sigma * rng.standard_normal(y.size))


def run(name: str = "run", steps: np.ndarray | None = None, **series: np.ndarray) -> RunData:
    """A RunData whose keyword names are tags; `__` in a name stands for `/`."""
    rd = RunData(name)
    for key, values in series.items():
        tag = key.replace("__", "/")
        st = steps if steps is not None else np.arange(len(values))
        rd.series[tag] = Series(tag, st, values)
    return rd


def codes(report) -> set[str]:
    return {f.code for f in report.findings}


def knots(n: int, *points: tuple[float, float]) -> np.ndarray:
    """n values at indices 0..n-1, piecewise linear through the (index, value) points.

    Curves of at most 14 points are not smoothed by the analyzer (its window
    rounds to 1), so a rule sees exactly these values: threshold edge tests
    use that to put a rule's decisive quantity where they want it.
    """
    xs, ys = zip(*points, strict=True)
    return np.interp(np.arange(n), xs, ys)


def wiggle(x: np.ndarray, std: float) -> np.ndarray:
    """A zero-mean +-1 pattern with no linear trend in x, scaled to population std `std`.

    Added to a straight line it leaves the least-squares fit unchanged, so the
    residuals are exactly this pattern: R^2 and trend-to-scatter ratios follow
    from `std` alone.
    """
    x = np.asarray(x, dtype=np.float64)
    pattern = np.resize([1.0, -1.0, -1.0, 1.0], x.size)  # symmetric: nearly orthogonal to a line already
    basis = np.vstack([np.ones_like(x), x]).T
    coef, *_ = np.linalg.lstsq(basis, pattern, rcond=None)
    resid = pattern - basis @ coef
    return resid * (std / float(np.std(resid)))


def run_xy(name: str = "run", **series: tuple[np.ndarray, np.ndarray]) -> RunData:
    """A RunData whose series each have their own steps: keyword = tag (`__` for `/`), value = (steps, values)."""
    rd = RunData(name)
    for key, (steps, values) in series.items():
        tag = key.replace("__", "/")
        rd.series[tag] = Series(tag, np.asarray(steps), np.asarray(values, dtype=np.float64))
    return rd
