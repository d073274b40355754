"""Batch level from step density, and Keras' running means undone (analysis/levels.py).

The running means here are built the way Keras 3's TensorBoard callback
builds them: the loss tracker is a mean reset at every epoch, written at global
batch ``e * P + k`` (1-based) when that number is a multiple of ``update_freq``,
and the epoch's ``epoch_loss`` is the last running mean of the epoch.
"""

from __future__ import annotations

import numpy as np
import pytest

from tb_recipe_plugin.analysis import levels
from tb_recipe_plugin.analysis.analyzer import analyze_run
from tb_recipe_plugin.analysis.levels import prepare, undo_running_mean
from tb_recipe_plugin.analysis.roles import assign_roles
from tb_recipe_plugin.analysis.series import RunData, Series


def keras_logs(per_batch: np.ndarray, period: int, update_freq: int = 1) -> tuple[Series, Series]:
    """(batch_loss running means as Keras writes them, epoch_loss) for per-batch losses of whole epochs."""
    epochs = per_batch.size // period
    running = np.concatenate(
        [np.cumsum(e) / np.arange(1, period + 1) for e in per_batch[: epochs * period].reshape(epochs, period)]
    )
    steps = np.arange(1, running.size + 1)
    keep = steps % update_freq == 0
    batch = Series("train/batch_loss", steps[keep], running.astype(np.float32).astype(np.float64)[keep])
    epoch = Series("train/epoch_loss", np.arange(epochs), running.reshape(epochs, period)[:, -1].astype(np.float32))
    return batch, epoch


def losses(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 2.0 * np.exp(-np.arange(n) / 300) + 0.1 * rng.random(n)


@pytest.mark.parametrize("period", [7, 50, 113])
def test_every_batch_logged_gives_back_each_batch_loss(period: int) -> None:
    truth = losses(period * 6)
    batch, epoch = keras_logs(truth, period)
    undone = undo_running_mean(batch, epoch)
    assert undone is not None
    np.testing.assert_allclose(undone.values, truth, rtol=2e-4, atol=2e-5)
    np.testing.assert_array_equal(undone.steps, batch.steps)


def test_update_freq_n_gives_the_mean_of_each_window() -> None:
    period, n = 60, 5
    truth = losses(period * 8, seed=1)
    batch, epoch = keras_logs(truth, period, update_freq=n)
    undone = undo_running_mean(batch, epoch)
    assert undone is not None
    np.testing.assert_allclose(undone.values, truth.reshape(-1, n).mean(axis=1), rtol=2e-4, atol=2e-5)


def test_a_spike_hidden_by_the_running_mean_comes_back() -> None:
    """Late in an epoch one batch at 100x moves the running mean by a few percent only."""
    period = 200
    truth = losses(period * 5, seed=2)
    truth[3 * period + 180] *= 100
    batch, epoch = keras_logs(truth, period)
    jump = np.max(batch.values[1:] / batch.values[:-1])
    undone = undo_running_mean(batch, epoch)
    assert undone is not None
    assert jump < 1.6
    assert int(np.argmax(undone.values)) == 3 * period + 180
    assert undone.values.max() / np.median(undone.values) > 50


def test_not_keras_running_means_are_left_alone() -> None:
    """A raw per-batch loss (PyTorch-style) does not end each epoch at its epoch loss: no period matches."""
    truth = losses(600, seed=3)
    raw = Series("train/batch_loss", np.arange(1, 601), truth)
    epoch = Series("train/epoch_loss", np.arange(6), truth.reshape(6, 100).mean(axis=1))
    assert undo_running_mean(raw, epoch) is None


def test_epoch_axis_that_is_not_an_epoch_index_is_refused() -> None:
    batch, epoch = keras_logs(losses(500), 50)
    shifted = Series(epoch.tag, epoch.steps * 50 + 50, epoch.values)
    assert undo_running_mean(batch, shifted) is None


def test_match_share_edge() -> None:
    """EPOCH_MATCH_SHARE: 4 of 5 checked epochs matching is enough (0.8), 3 of 5 is not."""
    batch, epoch = keras_logs(losses(500), 100)
    for wrong, found in ((1, True), (2, False)):
        values = epoch.values.copy()
        values[:wrong] *= 1.5
        result = undo_running_mean(batch, Series(epoch.tag, epoch.steps, values))
        assert (result is not None) is found, wrong


def _lightning_like(every: int, epochs: int = 10, per_epoch: int = 100) -> RunData:
    steps = np.arange(every - 1, epochs * per_epoch, every)
    train = Series("train_loss", steps, 1.0 / (1 + steps / 200))
    val = Series("val_loss", np.arange(per_epoch - 1, epochs * per_epoch, per_epoch), np.linspace(1.0, 0.4, epochs))
    return RunData("r", {"train_loss": train, "val_loss": val})


@pytest.mark.parametrize(("every", "dense"), [(10, True), (25, True), (50, False)])
def test_train_loss_logged_densely_is_also_the_batch_curve(every: int, dense: bool) -> None:
    """DENSE_RATIO 4: every 25 steps against once per 100 is 4x (batch level), every 50 is 2x (epoch level).
    Every 25 steps over 1000 steps is 40 points, below DENSE_MIN_POINTS, so the run is made longer there."""
    run = _lightning_like(every, epochs=10 if every != 25 else 20)
    prepared = prepare(run.series, assign_roles(run.series), frozenset())
    assert ("batch_loss" in prepared.roles) is dense
    assert prepared.roles["train_loss"].level == ("batch" if dense else "epoch")
    if dense:
        assert prepared.roles["batch_loss"].tag == "train_loss"
        assert prepared.roles["batch_loss"].source == "dense_train_loss"


def test_dense_min_points_edge() -> None:
    run = _lightning_like(10, epochs=levels.DENSE_MIN_POINTS // 10 - 1)
    assert "batch_loss" not in prepare(run.series, assign_roles(run.series), frozenset()).roles
    run = _lightning_like(10, epochs=levels.DENSE_MIN_POINTS // 10)
    assert "batch_loss" in prepare(run.series, assign_roles(run.series), frozenset()).roles


def test_overridden_roles_are_taken_as_given() -> None:
    run = _lightning_like(10)
    prepared = prepare(run.series, assign_roles(run.series, {"train_loss": "train_loss"}), frozenset({"train_loss"}))
    assert "batch_loss" not in prepared.roles


def test_analysis_uses_the_undone_series_and_says_so() -> None:
    period = 100
    truth = losses(period * 8, seed=4)
    truth[5 * period + 90] *= 200
    batch, epoch = keras_logs(truth, period)
    run = RunData("k", {batch.tag: batch, epoch.tag: epoch})
    report = analyze_run(run)
    assert report.roles["batch_loss"].source == "per_batch_from_running_mean"
    spikes = [f for f in report.findings if f.code == "loss_spikes"]
    assert spikes and spikes[0].evidence["max_step"] == 5 * period + 91


def test_a_running_mean_that_cannot_be_undone_is_skipped_by_spike_and_period_rules() -> None:
    """Without epoch_loss the period cannot be checked: the running mean stays out of loss_spikes/periodic_loss."""
    period = 100
    truth = losses(period * 8, seed=4)
    truth[5 * period + 90] *= 200
    batch, _ = keras_logs(truth, period)
    report = analyze_run(RunData("k", {batch.tag: batch}))
    assert report.roles["batch_loss"].source == "logged"
    assert not {f.code for f in report.findings} & {"loss_spikes", "periodic_loss"}


def _step_train(epochs: int = 40, per_epoch: int = 32) -> Series:
    steps = np.arange(epochs * per_epoch)
    return Series("train/loss", steps, 1.0 / (1 + steps / 300))


def test_validation_counted_by_epoch_is_put_on_the_step_axis() -> None:
    """tensorboardX loop: train/loss per global step, val/loss and train/lr per epoch index 0..39."""
    train = _step_train()
    epochs = np.arange(40)
    val = Series("val/loss", epochs, np.linspace(1.0, 0.5, 40))
    lr = Series("train/lr", epochs, np.full(40, 1e-3))
    series = {s.tag: s for s in (train, val, lr)}
    prepared = prepare(series, assign_roles(series), frozenset())
    assert prepared.roles["val_loss"].source == "epoch_index_on_step_axis"
    assert prepared.derived["val_loss"].steps.tolist() == [(i + 1) * 32 - 1 for i in range(40)]
    assert prepared.derived["lr"].steps[-1] == 40 * 32 - 1


def test_a_test_batch_index_is_not_taken_for_an_epoch_axis() -> None:
    """Lightning's test_loss_step counts test batches 0..19: no training-side series confirms 20 epochs of 122
    steps, and the epoch-level training loss says an epoch is 98 steps."""
    steps = np.arange(49, 2450, 49)
    series = {
        "train_loss_step": Series("train_loss_step", steps, 1.0 / (1 + steps / 300)),
        "train_loss_epoch": Series("train_loss_epoch", np.arange(97, 2450, 98), np.linspace(1, 0.4, 25)),
        "test_loss_step": Series("test_loss_step", np.arange(20), np.full(20, 0.5)),
    }
    prepared = prepare(series, assign_roles(series), frozenset())
    assert "val_loss" not in prepared.roles or prepared.roles["val_loss"].tag != "test_loss_step"
    assert levels.epoch_index_period(series["test_loss_step"], series["train_loss_step"], series) is None


def test_a_lightning_epoch_series_confirms_the_epoch_length() -> None:
    train = _step_train(epochs=10, per_epoch=50)
    epoch = Series("epoch", np.arange(0, 500, 10), np.repeat(np.arange(10), 5).astype(float))
    val = Series("val_loss", np.arange(10), np.linspace(1.0, 0.6, 10))
    series = {s.tag: s for s in (train, epoch, val)}
    assert levels.epoch_index_period(val, train, series) == 50
    wrong = Series("epoch", np.arange(0, 500, 10), np.repeat(np.arange(5), 10).astype(float))  # 100-step epochs
    assert levels.epoch_index_period(val, train, {**series, "epoch": wrong}) is None


def test_a_fractional_epoch_counter_gives_whole_epochs() -> None:
    """Hugging Face's train/epoch grows at every logging step (1/45 of an epoch here); Lightning's by whole epochs."""
    steps = np.arange(1, 451)
    assert levels.epoch_counter_gap(Series("train/epoch", steps, steps / 45)) == 45
    lightning = Series("epoch", np.arange(0, 500, 10), np.repeat(np.arange(10), 5).astype(float))
    assert levels.epoch_counter_gap(lightning) == 50
    assert levels.epoch_counter_gap(Series("epoch", np.arange(5), np.zeros(5))) is None


def test_many_epoch_counted_candidates_read_the_run_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 per-class validation metrics counted 0..49 beside a per-step loss, with nothing confirming an epoch
    length: every candidate asks, and the run's tags are read once for all of them, not once per candidate."""
    n = 2000
    series = {"train/loss": Series("train/loss", np.arange(5000), np.linspace(2.0, 0.5, 5000))}
    for i in range(n):
        tag = f"val/acc_class_{i}"
        series[tag] = Series(tag, np.arange(50), np.linspace(0.1, 0.9, 50))
    calls = 0
    real = levels.tokens

    def counting(tag: str) -> list[str]:
        nonlocal calls
        calls += 1
        return real(tag)

    monkeypatch.setattr(levels, "tokens", counting)
    roles = assign_roles(series)
    assert "val_metric" not in roles  # a 0..49 axis that nothing confirms is not taken for epochs
    assert calls <= 3 * len(series)


def test_keras_2_batch_loss_in_the_run_folder_is_raw() -> None:
    """Keras 2 / TF 1.x wrote each batch's own loss as `batch_loss` in the run folder (no `train/` split folder):
    it is not a running mean, so its spike is found where it is."""
    period = 100
    truth = losses(period * 8, seed=4)
    truth[5 * period + 90] *= 200
    batch = Series("batch_loss", np.arange(truth.size), truth)
    epoch = Series("loss", np.arange(8), truth.reshape(8, period).mean(axis=1))
    report = analyze_run(RunData("k", {batch.tag: batch, epoch.tag: epoch}))
    assert report.roles["batch_loss"].tag == "batch_loss" and report.roles["batch_loss"].source == "logged"
    spikes = [f for f in report.findings if f.code == "loss_spikes"]
    assert spikes and spikes[0].evidence["max_step"] == 5 * period + 90


def test_ignite_epoch_counted_training_loss_moves_onto_the_batch_loss_axis() -> None:
    """Ignite's MNIST example: `training/batchloss` and `lr/group_0` every 10 of 63 iterations a pass, while the
    evaluators write `training/loss`, `training/accuracy` and `validation/*` at the trainer's epoch 1..20. The
    iteration axis is the run's; the epoch-counted training loss and validation move onto it, the LR stays."""
    it = np.arange(10, 1261, 10)
    ep = np.arange(1, 21)
    series = {
        s.tag: s
        for s in (
            Series("training/batchloss", it, 1.8 * np.exp(-it / 400) + 0.2),
            Series("lr/group_0", it, np.where(it < 126, 0.02, 0.002)),
            Series("training/loss", ep, 1.5 * np.exp(-ep / 6) + 0.2),
            Series("training/accuracy", ep, np.linspace(0.4, 0.7, 20)),
            Series("validation/loss", ep, 1.5 * np.exp(-ep / 6) + 0.25),
            Series("validation/accuracy", ep, np.linspace(0.4, 0.65, 20)),
        )
    }
    roles = assign_roles(series)
    assert roles["batch_loss"].tag == "training/batchloss"  # `batchloss` reads as a batch loss
    prepared = prepare(series, roles, frozenset())
    assert prepared.roles["train_loss"].source == "epoch_index_on_step_axis"
    # epoch i ends at step i * 63 - 1, counted from the first logged iteration (10)
    assert prepared.derived["train_loss"].steps[-1] == prepared.derived["val_loss"].steps[-1] == 20 * 63 - 1 + 10
    assert "lr" not in prepared.derived


def test_the_wall_clock_confirms_an_epoch_axis_that_nothing_else_does() -> None:
    """Ignite without a training-set evaluator: `validation/*` at the trainer's epoch 1..20, nothing else counted by
    epoch. Written once per epoch while training ran, its points land every 63 iterations on the batch loss's
    clock; the same values written after training (a test-batch index) land at its end and stay unconfirmed."""
    it = np.arange(10, 1261, 10)
    batch = Series("training/batchloss", it, 1.8 * np.exp(-it / 400) + 0.2, wall_times=1000.0 + it * 0.01)
    ep = np.arange(1, 21)
    during = Series("validation/loss", ep, np.linspace(1.2, 0.5, 20), wall_times=1000.0 + ep * 63 * 0.01 + 0.001)
    after = Series("validation/loss", ep, np.linspace(1.2, 0.5, 20), wall_times=1013.0 + ep * 0.01)
    assert levels.wall_clock_period(during, batch) == pytest.approx(63, rel=0.02)
    assert levels.epoch_index_period(during, batch, {"b": batch, "v": during}) == 63
    assert levels.wall_clock_period(after, batch) is None
    assert levels.epoch_index_period(after, batch, {"b": batch, "v": after}) is None
