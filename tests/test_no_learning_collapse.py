"""no_learning's second path: a model that learned, then fell back to a uniform guess and stayed there."""

from __future__ import annotations

import math

import numpy as np

from tb_recipe_plugin.analysis.analyzer import analyze_run
from tb_recipe_plugin.present.catalogue import render_finding
from tests.curves import run


def collapsed(n: int = 40, at: int = 25) -> np.ndarray:
    loss = np.linspace(1.3, 0.2, n)
    loss[at:] = math.log(4) * (1 + 0.005 * np.cos(np.arange(n - at)))
    return loss


def test_a_run_that_collapses_to_ln_c_learns_nothing_any_more() -> None:
    acc = np.r_[np.linspace(0.4, 0.9, 25), np.full(15, 0.25)]
    report = analyze_run(run(train_loss=collapsed(), val_accuracy=acc))
    (f,) = [f for f in report.findings if f.code == "no_learning"]
    assert f.severity == "error"
    assert f.evidence["collapsed_step"] == 25 and f.evidence["classes"] == 4
    message = render_finding(f)["message"]
    assert "fell back to a constant prediction" in message and "improvement" not in message


def test_an_accuracy_still_above_chance_vetoes_the_collapse() -> None:
    acc = np.r_[np.linspace(0.4, 0.9, 25), np.full(15, 0.6)]
    report = analyze_run(run(train_loss=collapsed(), val_accuracy=acc))
    assert "no_learning" not in {f.code for f in report.findings}


def test_a_loss_that_only_passes_ln_c_on_its_way_down_is_not_a_collapse() -> None:
    loss = np.linspace(2.0, 0.2, 40)
    report = analyze_run(run(train_loss=loss))
    assert "no_learning" not in {f.code for f in report.findings}


def test_a_collapse_read_from_a_per_batch_loss_that_scatters_around_ln_c() -> None:
    """Each batch's label mix moves a constant predictor's loss: 2.30 +- 0.04 for 10 classes, a few points past
    the 3% tolerance. Staying at ln(C) is judged on the smoothed tail."""
    rng = np.random.default_rng(8)
    loss = np.r_[np.linspace(2.3, 0.5, 30), 0.5 + np.linspace(0, 1.8, 10), math.log(10) + rng.normal(0, 0.04, 30)]
    acc = np.r_[np.linspace(0.2, 0.85, 7), np.full(3, 0.1)]
    report = analyze_run(run(train_loss=loss, val_accuracy=np.interp(np.arange(70), np.arange(0, 70, 7), acc)))
    (f,) = [f for f in report.findings if f.code == "no_learning"]
    assert f.evidence["classes"] == 10


def test_a_last_point_scattering_off_ln_c_still_dates_the_collapse() -> None:
    """The smoothed tail sits at ln(C) while the raw last point is off it (a per-batch loss): the collapse is dated
    on the smoothed curve instead of indexing past the end of an empty run of raw points (found by the property
    test)."""
    loss = collapsed()
    loss[-1] = math.log(4) * 1.2
    acc = np.r_[np.linspace(0.4, 0.9, 25), np.full(15, 0.25)]
    report = analyze_run(run(train_loss=loss, val_accuracy=acc))
    assert report.analysis_errors == []
    (f,) = [f for f in report.findings if f.code == "no_learning"]
    assert 25 <= f.evidence["collapsed_step"] <= 27
