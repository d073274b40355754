"""The TensorFlow corpus programs: tf_loop_regression, tf_loop_cnn, keras_lstm_forecast, tf_estimator_style,
tf_od_api_style.

Listing runs must stay cheap (no TensorFlow import), every run list must be a
usable slice of the corpus (unique names, known intents, enough healthy runs
and fault families), the schedules must have the shape their runs rely on,
and one tiny real training run per writer convention must leave event files
holding exactly the tags its Facts name.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.corpus.programs import load

REPO = Path(__file__).resolve().parent.parent
PROGRAMS = ("tf_loop_regression", "tf_loop_cnn", "keras_lstm_forecast", "tf_estimator_style",
            "tf_od_api_style")






def test_cnn_schedules_have_the_shape_their_runs_rely_on() -> None:
    from benchmarks.corpus.programs.tf_loop_cnn import DEFAULTS, lr_at

    def curve(**params: object) -> np.ndarray:
        p = {**DEFAULTS, **params}
        return np.array([lr_at(p, s) for s in range(p["steps"])])

    warm = curve(schedule="warmup_cosine", warmup=200, lr=3e-3, steps=3000)
    assert warm.argmax() == 199 and warm.max() == pytest.approx(3e-3)
    assert np.all(np.diff(warm[:200]) > 0) and np.all(np.diff(warm[200:]) <= 0) and warm[-1] < 1e-8

    one = curve(schedule="onecycle", lr=1.0, pct_start=0.4, steps=3000)
    assert one.argmax() == 1200 and one[0] == pytest.approx(1.0 / 25) and one[-1] < 1e-3

    sgdr = curve(schedule="sgdr", lr=0.05, restart_period=500, steps=3500)
    restarts = np.flatnonzero(np.diff(sgdr) > 0) + 1
    assert restarts.tolist() == [500, 1500] and sgdr[restarts].tolist() == [0.05, 0.05]

    early = curve(schedule="warmup_cosine", warmup=0, decay_steps=300, lr=2e-3, steps=3000)
    assert early[0] == pytest.approx(2e-3) and np.all(early[300:] == 0.0)

    kicked = curve(lr=2e-3, kick_steps=[899], kick_factor=40.0, steps=1000)
    assert np.flatnonzero(kicked != 2e-3).tolist() == [899] and kicked[899] == pytest.approx(0.08)


def test_regression_and_lstm_step_schedules() -> None:
    from benchmarks.corpus.programs import keras_lstm_forecast as lstm
    from benchmarks.corpus.programs import tf_loop_regression as reg

    p = {**reg.DEFAULTS, "schedule": "step", "milestones": [2, 4], "gamma": 0.1, "lr": 1e-3}
    assert [reg.lr_at(p, e, 0) for e in range(6)] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5])
    growing = {**reg.DEFAULTS, "schedule": "exp", "exp_rate": 1.5, "exp_steps": 100, "lr": 1e-4}
    assert reg.lr_at(growing, 0, 1000) == pytest.approx(1e-4 * 1.5**10)

    q = {**lstm.DEFAULTS, "lr": 2e-3, "step_every": 100, "kick_epochs": [12, 24], "kick_factor": 60.0}
    lrs = [lstm.step_lr(q, e) for e in range(30)]
    assert [e for e, lr in enumerate(lrs) if lr != 2e-3] == [12, 24] and lrs[12] == pytest.approx(0.12)


def test_regression_val_glitch_scales_only_a_few_validation_rows() -> None:
    """The best_checkpoint_mismatch runs rely on a few validation rows far outside the training inputs.

    Only those rows may change (raw features x glitch_factor, standardised with the
    untouched training statistics); training rows and all targets stay as they were.
    """
    from sklearn.model_selection import train_test_split

    from benchmarks.corpus.programs import tf_loop_regression as reg

    seed = 25
    plain = {**reg.DEFAULTS, "n": 600}
    glitched = {**plain, "val_glitch": 0.05, "glitch_factor": 3.0}
    xt, yt, xv, yv = reg._split(plain, seed)
    gxt, gyt, gxv, gyv = reg._split(glitched, seed)
    assert np.array_equal(xt, gxt) and np.array_equal(yt, gyt) and np.array_equal(yv, gyv)
    rows = np.flatnonzero(np.any(xv != gxv, axis=1))
    assert len(rows) == round(0.05 * len(xv)) == 9

    x, y = reg._load(plain, seed)
    raw_train = train_test_split(x, y, test_size=plain["val_frac"], random_state=seed)[0]
    mu, sd = raw_train.mean(0), raw_train.std(0) + 1e-8
    np.testing.assert_allclose(gxv[rows] * sd + mu, 3.0 * (xv[rows] * sd + mu), rtol=1e-4, atol=1e-5)
    assert np.all(np.abs(gxv[rows]).max(axis=1) > np.abs(xt).max())  # outside every training input


def test_cnn_gratings_are_balanced_and_seeded() -> None:
    from benchmarks.corpus.programs.tf_loop_cnn import NUM_CLASSES, gratings

    x, y = gratings(4000, 1.2, np.random.default_rng(0))
    x2, y2 = gratings(4000, 1.2, np.random.default_rng(0))
    assert x.shape == (4000, 16, 16, 1) and x.dtype == np.float32
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    counts = np.bincount(y, minlength=NUM_CLASSES)
    assert counts.min() > 0.8 * 4000 / NUM_CLASSES


def test_lstm_windows_predict_the_next_value() -> None:
    from benchmarks.corpus.programs.keras_lstm_forecast import windows

    s = np.arange(10, dtype=np.float64)
    x, y = windows(s, 3)
    assert x.shape == (7, 3, 1)
    assert x[0, :, 0].tolist() == [0, 1, 2] and y[0] == 3
    assert x[-1, :, 0].tolist() == [6, 7, 8] and y[-1] == 9


TINY = {
    "tf_loop_cnn": ("healthy_onecycle_per_step", {"steps": 30, "n_train": 256, "n_eval": 64, "eval_every": 15}),
    "tf_loop_regression": ("loss_spikes_bad_batches", {"epochs": 2, "spike_steps": [3]}),
    "keras_lstm_forecast": ("loss_spikes_lr_kicks", {"epochs": 2, "length": 400, "kick_epochs": [1]}),
    "tf_estimator_style": ("loss_spikes_corrupt_shard", {"max_steps": 60, "n_train": 400, "n_eval": 100,
                                                         "save_summary_steps": 10, "log_step_count_steps": 10,
                                                         "save_checkpoints_steps": 20, "corrupt_steps": [21]}),
    "tf_od_api_style": ("loss_spikes_corrupt_batches", {"total_steps": 300, "n_train": 128, "n_eval": 32,
                                                        "checkpoint_every_n": 100, "corrupt_steps": [200]}),
}


@pytest.mark.parametrize("name", list(TINY))
def test_tiny_run_writes_the_tags_its_facts_name(name: str, tmp_path: Path) -> None:
    """Train a scaled-down run for real and read its event files the way the labeller does."""
    pytest.importorskip("tensorflow")
    from benchmarks.corpus.scalars import read_run

    program = load(name)
    run_name, override = TINY[name]
    spec = next(r for r in program.runs() if r.name == run_name)
    spec = dataclasses.replace(spec, params={**spec.params, **override})
    facts = program.train(spec, tmp_path)
    curves = read_run(tmp_path)
    for role, tag in facts.tags.items():
        assert tag in curves, (role, tag, sorted(curves))
        steps, values = curves[tag]
        assert len(steps) >= 2 and np.all(np.isfinite(values)), (role, tag, values)
    assert set(facts.steps) == set(facts.tags)
    assert facts.steps_per_epoch > 0 and facts.batch_size > 0 and facts.epochs > 0
    if facts.task == "classification":
        assert facts.metric_direction == "max" and facts.num_classes and facts.chance_metric == 1 / facts.num_classes
    elif facts.task == "detection":  # mAP in [0, 1]; chance = a centre box with random class scores
        assert facts.metric_direction == "max" and facts.num_classes and 0 <= facts.chance_metric < 0.05
        steps, _ = curves[facts.tags["val_metric"]]
        assert steps[0] == 0 and facts.eval_every_steps == 100 and facts.log_every_steps == 100
    else:
        assert facts.metric_direction == "min" and facts.chance_metric and facts.chance_metric > 0
    json.dumps(facts.to_json())  # facts.json must be writable
    # issue 9: the report of a real training run keeps every invariant (the 495-run corpus is checked where it exists)
    from tb_recipe_plugin.analysis.analyzer import analyze_run
    from tb_recipe_plugin.io.loader import iter_runs
    from tests.invariants import violations

    for run in iter_runs(str(tmp_path)):
        report = analyze_run(run)
        assert violations(report, "en") + violations(report, "zh") == []
