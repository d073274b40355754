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
