"""curves.tail_trend: the Theil-Sen tail change and its standard error that val_plateau judges flatness by."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tb_recipe_plugin.analysis.curves import make_curve, tail_trend
from tb_recipe_plugin.analysis.series import Series


def curve(values, direction: str = "min"):
    values = np.asarray(values, dtype=float)
    return make_curve(Series("t", np.arange(values.size), values), direction=direction)


@pytest.mark.parametrize("change", [-0.3, -0.02, 0.0, 0.1])
def test_a_log_linear_tail_gives_its_change_exactly_and_no_error(change: float) -> None:
    tail = np.exp(change * np.arange(10) / 9)
    got, se = tail_trend(curve(np.r_[np.linspace(3, 1.2, 20), tail]), 9 / 29)
    assert got == pytest.approx(change, abs=1e-9)
    assert se == pytest.approx(0.0, abs=1e-9)


def test_one_spike_does_not_tilt_the_trend() -> None:
    tail = np.ones(12)
    tail[-1] = 50.0
    got, _ = tail_trend(curve(np.r_[np.linspace(3, 1.0, 20), tail]), 11 / 31)
    assert abs(got) < 1e-9


def test_the_error_follows_the_noise() -> None:
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(30)
    small = tail_trend(curve(np.r_[np.linspace(3, 1, 30), np.exp(0.01 * noise)]), 0.5)[1]
    large = tail_trend(curve(np.r_[np.linspace(3, 1, 30), np.exp(0.1 * noise)]), 0.5)[1]
    assert large == pytest.approx(10 * small, rel=1e-6)


def test_metrics_improve_upwards_and_non_positive_curves_are_relative() -> None:
    acc = np.r_[np.linspace(0.2, 0.8, 10), np.linspace(0.8, 0.88, 10)]
    assert tail_trend(curve(acc, "max"), 9 / 19)[0] < 0  # rising accuracy is an improvement: negative change
    signed = np.r_[np.linspace(-1, -2, 10), np.linspace(-2.0, -2.2, 10)]
    got, _ = tail_trend(curve(signed), 9 / 19)
    assert got == pytest.approx(-0.2 / 2.1, rel=0.05)


def test_too_short_a_tail_has_no_verdict() -> None:
    assert tail_trend(curve([1.0, 0.9]), 0.3) == (0.0, math.inf)
