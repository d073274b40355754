"""The vectorised downsampling and rolling median give exactly what the one-bin / one-window-at-a-time
definitions give (the first had a Python loop of 400 numpy calls per long curve, the second a nanmedian over
NaN-padded windows: together most of the corpus' analysis time)."""

from __future__ import annotations

import numpy as np
import pytest

from tb_recipe_plugin.analysis import curves


def reference_downsample(steps: np.ndarray, values: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    edges = np.linspace(0, steps.size, m + 1).astype(np.int64)
    bsteps, bvalues = np.empty(m), np.empty(m)
    for i in range(m):
        lo, hi = edges[i], edges[i + 1]
        bsteps[i] = steps[(lo + hi - 1) // 2]
        bvalues[i] = np.median(values[lo:hi])
    return bsteps, bvalues


def reference_rolling_median(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or values.size < 3:
        return values.copy()
    half = window // 2
    padded = np.concatenate([np.full(half, np.nan), values, np.full(half, np.nan)])
    return np.nanmedian(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1), axis=1)


@pytest.mark.parametrize("n", [401, 999, 1000, 12_345, 100_000])
def test_downsample_is_the_per_bin_median(n: int) -> None:
    rng = np.random.default_rng(n)
    steps = np.sort(rng.choice(10**7, n, replace=False))
    values = rng.standard_normal(n)
    got, want = curves.downsample(steps, values, 400), reference_downsample(steps, values, 400)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


@pytest.mark.parametrize("n", [3, 4, 5, 10, 41, 400])
@pytest.mark.parametrize("window", [1, 2, 3, 5, 7, 41, 99])
def test_rolling_median_is_the_shrinking_window_median(n: int, window: int) -> None:
    values = np.random.default_rng(n * 100 + window).standard_normal(n)
    assert np.array_equal(curves.rolling_median(values, window), reference_rolling_median(values, window))
