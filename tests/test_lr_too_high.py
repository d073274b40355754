"""lr_too_high on the schedule shapes that look alike: healthy decays must stay silent.

Seed 003: a learning rate that is too high keeps the loss high or bouncing, and
the loss falls only when a schedule lowers it. Step decay (ResNet-style), cosine
and a well-tuned OneCycle also show the loss dropping after an LR cut, but there
most of the progress is made at the peak LR, which is what the rule relies on.
"""

from __future__ import annotations

import numpy as np
import pytest

from tb_recipe_plugin.analysis.analyzer import analyze_run
from tests.curves import codes, noisy, run

N = 200
T = np.linspace(0, 1, N)


def one_cycle(peak: float) -> np.ndarray:
    """Up for 30% of the run, then cosine down to peak/1000."""
    up = T < 0.3
    return np.where(
        up,
        peak * (0.04 + 0.96 * T / 0.3),
        peak / 1000 + (peak - peak / 1000) * 0.5 * (1 + np.cos(np.pi * (T - 0.3) / 0.7)),
    )


def finding(rd):
    report = analyze_run(rd)
    return next((f for f in report.findings if f.code == "lr_too_high"), None), codes(report)


def test_one_cycle_whose_peak_stalls_the_loss() -> None:
    """Falls during warm-up, bounces at ~1.6 around the peak, falls to 0.3 only as the LR comes down."""
    lr = one_cycle(2.0)
    loss = np.where(lr > 1.0, 1.6, np.interp(lr, [0.0, 1.0], [0.3, 1.6]))
    loss = np.where(T < 0.1, 2.3 - 7 * T, loss)
    f, found = finding(run(train_loss=noisy(loss, 0.05), lr=lr))
    assert f is not None, found
    peak = float(lr.max())
    assert f.evidence["lr_peak"] == peak
    assert f.evidence["suggested_low"] == pytest.approx(peak / 10)
    assert f.evidence["suggested_high"] == pytest.approx(peak / 3)
    assert f.evidence["loss_after"] < 0.5 < 1.4 < f.evidence["loss_at_end"]


def test_step_decay_that_learned_at_the_peak_is_healthy() -> None:
    """ResNet-style: most of the loss is gone before the first cut; the cuts only refine it."""
    lr = np.select([T < 0.5, T < 0.75], [0.1, 0.01], 0.001)
    loss = 0.3 + 2.0 * np.exp(-8 * T) - 0.15 * (T >= 0.5) - 0.05 * (T >= 0.75)
    f, found = finding(run(train_loss=noisy(loss, 0.03), lr=lr))
    assert f is None, found


def test_cosine_decay_is_healthy() -> None:
    lr = 0.01 * 0.5 * (1 + np.cos(np.pi * T))
    f, found = finding(run(train_loss=noisy(0.2 + 2.0 * np.exp(-5 * T), 0.03), lr=lr))
    assert f is None, found


def test_constant_lr_gives_nothing_to_compare() -> None:
    f, found = finding(run(train_loss=noisy(np.full(N, 2.0), 0.05), lr=np.full(N, 5.0)))
    assert f is None, found


def test_metric_only_runs_use_the_metric_direction() -> None:
    """A validation accuracy that stays at chance while the LR is high and climbs once it is cut."""
    lr = np.where(T < 0.5, 1.0, 0.01)
    acc = np.where(T < 0.5, 0.1, 0.1 + 0.8 * (1 - np.exp(-10 * (T - 0.5))))
    loss = np.where(T < 0.5, 2.3, 2.3 - 2.0 * (1 - np.exp(-10 * (T - 0.5))))
    f, _ = finding(run(train_loss=noisy(loss, 0.02), val_accuracy=acc, lr=lr))
    assert f is not None
    assert f.evidence["loss_at_end"] > f.evidence["loss_after"]


def test_one_cycle_whose_loss_creeps_at_the_peak_and_speeds_up_after() -> None:
    """The shape of a real OneCycle run (ResNet-18, Adam, peak 0.1): 1.9 -> 1.2 in the warm-up, a creep from 1.2
    to 1.0 while the LR is above half its peak, then 1.0 -> 0.64 as it anneals: most of the gain is not after the
    cut (the quarter-share path is out) but the loss falls over twice as fast per step once the LR is lower."""
    lr = one_cycle(0.1)
    high = lr >= 0.05
    first, last = np.flatnonzero(high)[[0, -1]]
    log_loss = np.interp(np.arange(N), [0, first, last, N - 1], np.log([1.9, 1.2, 1.0, 0.64]))
    f, found = finding(run(train_loss=noisy(np.exp(log_loss), 0.01), lr=lr))
    assert f is not None, found


def test_a_loss_rounded_to_zero_after_the_cut_is_not_a_calm_that_flatters_the_peak() -> None:
    """Hugging Face logs the loss to 4 decimals, so a memorised run's loss reads 0.0000-0.0003 after the cut. Its
    bouncing at the peak (+-40% around 0.2) is thousands of times the noise after in absolute terms, and about the
    same relative to each stretch's level, which is what the oscillation test means."""
    from tb_recipe_plugin.analysis.curves import make_curve
    from tb_recipe_plugin.analysis.rules.progress import _jitter_ratio
    from tb_recipe_plugin.analysis.series import Series

    rng = np.random.default_rng(5)
    level = np.r_[np.full(50, 0.2), np.full(50, 0.0001)]
    loss = np.round(level * np.exp(rng.normal(0, 0.4, 100)), 4)
    assert loss.min() == 0.0  # rounded: the log scale is not available
    c = make_curve(Series("train/loss", np.arange(100), loss))
    assert 0.3 < _jitter_ratio(c, 0.0, 49.0) < 3.0
