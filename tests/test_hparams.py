"""Hyperparameters of a run (issue 10): read from the HParams plugin data that real writers put in event files,
else from the run's folder name."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tb_recipe_plugin.io.loader import discover_runs, load_run
from tb_recipe_plugin.sweep.hparams import SESSION_START_TAG, from_plugin_data, from_run_name, run_hparams
from tests.conftest import require_tensorflow


def _runs(logdir: Path) -> dict[str, object]:
    return {source.name: load_run(source) for source in discover_runs(str(logdir))}


def test_tensorboardx_add_hparams(tmp_path: Path) -> None:
    tensorboardx = pytest.importorskip("tensorboardX")
    with tensorboardx.SummaryWriter(str(tmp_path / "run")) as writer:
        for step in range(5):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
        writer.add_hparams({"lr": 0.01, "bs": 64, "optimizer": "adam", "nesterov": True}, {"hparam/accuracy": 0.9},
                           name="hp")  # fmt: skip
    runs = _runs(tmp_path)
    # tensorboardX writes add_hparams into a child folder of the run: folded into the run it describes
    assert list(runs) == ["run"]
    run = runs["run"]
    assert SESSION_START_TAG in run.hparams and list(run.series) == ["loss"]  # the metric's one point is not a curve
    hp = run_hparams(run.name, run.hparams)
    assert hp is not None and hp.source == "hparams_plugin"
    assert hp.values == {"lr": 0.01, "bs": 64.0, "optimizer": "adam", "nesterov": True}
    assert hp.metrics == ("hparam/accuracy",)


def test_tensorflow_hparams_api(tmp_path: Path) -> None:
    tf = require_tensorflow()
    from tensorboard.plugins.hparams import api as hp

    lr = hp.HParam("learning_rate", hp.RealInterval(1e-4, 1e-1))
    units = hp.HParam("units", hp.Discrete([16, 32]))
    with tf.summary.create_file_writer(str(tmp_path / "logs" / "trial_0")).as_default():
        hp.hparams_config(hparams=[lr, units], metrics=[hp.Metric("epoch_accuracy", group="validation")])
        hp.hparams({lr: 3e-4, units: 32}, trial_id="trial_0")
        for step in range(3):
            tf.summary.scalar("epoch_loss", 1.0 - 0.1 * step, step=step)
    (run,) = _runs(tmp_path / "logs").values()
    got = run_hparams(run.name, run.hparams)
    assert got is not None and got.source == "hparams_plugin" and got.group == "trial_0"
    assert got.values["units"] == 32.0 and math.isclose(got.values["learning_rate"], 3e-4, rel_tol=1e-6)
    assert got.metrics == ("epoch_accuracy",)


def test_torch_add_hparams(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "run")) as writer:
        writer.add_scalar("Loss/train", 0.5, 0)
        writer.add_hparams({"lr": 1e-3, "batch_size": 32}, {"hparam/loss": 0.5})  # child named by a timestamp
    runs = _runs(tmp_path)
    assert list(runs) == ["run"]
    got = run_hparams("run", runs["run"].hparams)
    assert got is not None and got.values == {"lr": 1e-3, "batch_size": 32.0}


def test_a_child_run_with_curves_stays_a_run(tmp_path: Path) -> None:
    """Only a child that records hyperparameters and single values is folded; a nested run of its own is not."""
    tensorboardx = pytest.importorskip("tensorboardX")
    with tensorboardx.SummaryWriter(str(tmp_path / "run")) as writer:
        writer.add_scalar("loss", 1.0, 0)
    with tensorboardx.SummaryWriter(str(tmp_path / "run" / "nested")) as writer:
        for step in range(3):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
        writer.add_hparams({"lr": 0.1}, {"hparam/acc": 0.5}, name=".")  # hparams in the nested run's own folder
    runs = _runs(tmp_path)
    assert sorted(runs) == ["run", "run/nested"] and not runs["run"].hparams


def test_unreadable_plugin_data_is_a_note_and_the_name_still_counts() -> None:
    got = run_hparams("exp/lr=0.1", {SESSION_START_TAG: b"\xff\xff\xff"})
    assert got is not None and got.source == "run_name" and got.values == {"lr": 0.1}
    assert got.notes and "unreadable" in got.notes[0]
    assert from_plugin_data({}) is None


@pytest.mark.parametrize(
    "name,values",
    [
        ("lr=0.01,bs=64", {"lr": 0.01, "batch_size": 64.0}),
        ("sweep/optimizer=adam,lr=1e-3", {"optimizer": "adam", "lr": 1e-3}),
        ("UNet_dr015_bs32_lr3e_4", {"dropout": 0.15, "batch_size": 32.0, "lr": 3e-4}),
        ("UNet_wd_1e_4", {"weight_decay": 1e-4}),
        ("resnet50_lr3e-4", {"lr": 3e-4}),
        ("runs/lr0.1_bs128_seed3", {"lr": 0.1, "batch_size": 128.0, "seed": 3.0}),
        ("exp2/lr_0.01", {"lr": 0.01}),
        ("flag=true", {"flag": True}),
    ],
)
def test_run_name_tokens(name: str, values: dict) -> None:
    got = from_run_name(name)
    assert got is not None and got.source == "run_name"
    assert got.values.keys() == values.keys()
    for key, value in values.items():
        assert got.values[key] == pytest.approx(value) if isinstance(value, float) else got.values[key] == value


@pytest.mark.parametrize("name", ["version_0", "resnet50", "exp2", "UNet_RSMprop_combo", "2026-11-30_12-00"])
def test_names_without_hyperparameters(name: str) -> None:
    assert from_run_name(name) is None


def test_hugging_face_trainer_style_hparams_without_metrics(tmp_path: Path) -> None:
    """HF's TensorBoardCallback calls add_hparams(args.to_sanitized_dict(), metric_dict={}) beside its curves."""
    pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "runs" / "Nov30_12-00-00_host")) as writer:
        writer.add_text("args", '{"learning_rate": 5e-05, "per_device_train_batch_size": 8}')
        args = {"learning_rate": 5e-05, "per_device_train_batch_size": 8, "lr_scheduler_type": "linear"}
        writer.add_hparams(args, {})
        for step in range(0, 50, 10):
            writer.add_scalar("train/loss", 2.0 - 0.01 * step, step)
    runs = _runs(tmp_path)
    assert list(runs) == ["runs/Nov30_12-00-00_host"]
    got = run_hparams("x", next(iter(runs.values())).hparams)
    assert got is not None and got.values["lr_scheduler_type"] == "linear" and got.values["learning_rate"] == 5e-05
