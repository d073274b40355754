"""Rules on plausible but awkward data: gaps in the steps, steps out of order, extreme magnitudes.

The gap and step-order cases made a rule raise (an analysis error of the run)
or gave another answer for the same curve before their fix; the magnitude and
int64 cases pin what already held, as plain examples next to the property test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tb_recipe_plugin.analysis.analyzer import analyze_run
from tb_recipe_plugin.analysis.series import RunData, Series
from tests.curves import codes, decay, noisy, run


def clean(report):
    assert not report.analysis_errors, report.analysis_errors
    return report


@pytest.mark.filterwarnings("error")
def test_lr_decay_inside_a_gap_of_a_long_loss_curve():
    """The smoothed curve is downsampled to bin centres; after a big gap in the steps none may lie past the decay,
    which made ``np.min`` of an empty selection raise."""
    n = 1000
    steps = np.r_[np.arange(n - 1), 10**9]
    lr_steps = np.array([0, 10**8, 5 * 10**8, 6 * 10**8, 10**9])
    rd = RunData("gap")
    rd.series["train/epoch_loss"] = Series("train/epoch_loss", steps, decay(n, 2.0, 0.1))
    rd.series["lr"] = Series("lr", lr_steps, np.array([1.0, 1.0, 0.01, 0.01, 0.01]))
    report = clean(analyze_run(rd))
    assert report.roles["lr"].tag == "lr"


def shuffled(rd: RunData, seed: int = 0) -> RunData:
    out = RunData(rd.name)
    rng = np.random.default_rng(seed)
    for tag, s in rd.series.items():
        order = rng.permutation(len(s))
        out.series[tag] = Series(tag, s.steps[order], s.values[order])
    return out


def overfitting_run(n: int = 60) -> RunData:
    train = noisy(decay(n, 2.0, 0.3), 0.01)
    val = noisy(decay(n, 2.1, 0.4), 0.01, seed=1)
    val[n // 2 :] += np.linspace(0, 0.6, n - n // 2)
    return run(Loss__train=train, Loss__val=val, steps=np.arange(n) * 10)


def summary(report) -> list:
    return [(f.code, f.start_step, f.end_step, f.evidence) for f in report.findings] + [report.best_step]


def test_steps_out_of_order_are_analysed_in_step_order():
    """A hand-built RunData may list points in any order; shuffled steps made spikes and noise out of a clean turn."""
    rd = overfitting_run()
    expected = summary(analyze_run(rd))
    mixed = shuffled(rd)
    before = {tag: s.steps.copy() for tag, s in mixed.series.items()}
    assert summary(clean(analyze_run(mixed))) == expected
    assert "overfitting" in codes(analyze_run(mixed))
    assert all(np.array_equal(mixed.series[tag].steps, steps) for tag, steps in before.items())  # input untouched


def test_a_repeated_step_keeps_the_later_point_as_the_reader_does():
    rd = overfitting_run()
    s = rd.series["Loss/train"]
    doubled = RunData("d", dict(rd.series))
    doubled.series["Loss/train"] = Series(s.tag, np.r_[s.steps, s.steps[-1]], np.r_[s.values[:-1], 99.0, s.values[-1]])
    assert summary(clean(analyze_run(doubled))) == summary(analyze_run(rd))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("scale", [1e-300, 1e300, -1.0, -1e300])
@pytest.mark.parametrize("n", [1, 2, 5, 60, 2000])
def test_extreme_and_negative_magnitudes(scale, n):
    train = decay(n, 2.0, 0.3) * scale
    val = decay(n, 2.1, 0.35) * scale
    batch = noisy(decay(n, 2.0, 0.3), 0.2) * scale
    clean(analyze_run(run(Loss__train=train, Loss__val=val, train_loss_step=batch, steps=np.arange(n) * 7)))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("steps", [[-(2**63), 0, 2**63 - 1], [2**62, 2**62 + 1, 2**62 + 2]])
def test_steps_at_the_ends_of_int64(steps):
    train, val = np.array([1.0, 2.0, math.nan]), np.ones(3)
    clean(analyze_run(run(Loss__train=train, Loss__val=val, steps=np.array(steps, dtype=np.int64))))
