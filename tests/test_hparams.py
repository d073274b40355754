"""Hyperparameters of a run (issue 10): read from the HParams plugin data that real writers put in event files,
else from the run's folder name."""

from __future__ import annotations

import json
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


# --------------------------------------------------------------------------- Trainer arguments, config files

REALLOGS = Path(__file__).resolve().parents[2] / "shared" / "reallogs"

TRAINER_ARGS = {
    "output_dir": "./results/{run}",
    "logging_dir": "./results/{run}/runs/Nov30_12-00-00_host",
    "run_name": "./results/{run}",
    "learning_rate": 5e-05,
    "per_device_train_batch_size": 16,
    "num_train_epochs": 3.0,
    "lr_scheduler_type": "linear",
    "fp16": False,
    "report_to": ["tensorboard"],
    "seed": 42,
    "warmup_ratio": 0.0,
    "deepspeed": None,
}


def _trainer_args(run: str, **changes: object) -> str:
    """`TrainingArguments.to_json_string()` as Hugging Face's TensorBoardCallback passes it to `add_text("args")`."""
    args = {k: v.format(run=run) if isinstance(v, str) else v for k, v in TRAINER_ARGS.items()}
    return json.dumps({**args, **changes}, indent=2)


def _write_trainer_run(folder: Path, args: str, steps: int) -> None:
    """A run written as the Trainer writes it through tensorboardX: the arguments as text, then the curves."""
    tensorboardx = pytest.importorskip("tensorboardX")
    with tensorboardx.SummaryWriter(str(folder)) as writer:
        for step in range(steps):
            writer.add_scalar("train/loss", 2.0 / (1 + 0.1 * step), step)
            if step == steps // 2:
                writer.add_text("args", args)  # mid-file, so the column reader meets it inside a batch
        writer.add_text("model_config", '{"hidden_size": 768}')


@pytest.mark.parametrize("steps", [5, 400])  # the per-record path; the column (batch) path
def test_trainer_args_text(tmp_path: Path, steps: int) -> None:
    _write_trainer_run(tmp_path / "run0", _trainer_args("run0"), steps)
    (run,) = _runs(tmp_path).values()
    got = run_hparams(run.name, run.hparams)
    assert got is not None and got.source == "trainer_args"
    assert got.values["learning_rate"] == 5e-05 and got.values["per_device_train_batch_size"] == 16.0
    assert got.values["lr_scheduler_type"] == "linear" and got.values["fp16"] is False
    assert "report_to" not in got.values and "deepspeed" not in got.values  # a list and a null: not values
    assert len(run.series["train/loss"]) == steps


def test_trainer_args_that_are_not_json_leave_a_note_and_the_name_counts(tmp_path: Path) -> None:
    _write_trainer_run(tmp_path / "lr=0.1", "learning_rate: 0.1 (not JSON)", 5)
    (run,) = _runs(tmp_path).values()
    got = run_hparams(run.name, run.hparams)
    assert got is not None and got.source == "run_name" and got.values == {"lr": 0.1}
    assert got.notes and "args" in got.notes[0]


def test_an_oversized_args_text_is_not_kept(tmp_path: Path) -> None:
    from tb_recipe_plugin.io.event_reader import CONFIG_TEXT_MAX

    _write_trainer_run(tmp_path / "run0", _trainer_args("run0", notes="x" * CONFIG_TEXT_MAX), 5)
    (run,) = _runs(tmp_path).values()
    assert run.hparams == {} and run_hparams(run.name, run.hparams) is None


@pytest.mark.skipif(not (REALLOGS / "AguLeon__LoRA_RoBERTa_AGNews").is_dir(), reason="../shared/reallogs is absent")
def test_trainer_args_of_real_hugging_face_runs() -> None:
    """Two public LoRA fine-tuning runs written by the Trainer (../shared/reallogs): their own arguments."""
    runs = _runs(REALLOGS / "AguLeon__LoRA_RoBERTa_AGNews")
    got = {name: run_hparams(name, run.hparams) for name, run in runs.items()}
    assert {name: hp.source for name, hp in got.items()} == {"runs/run0": "trainer_args", "runs/run4": "trainer_args"}
    assert got["runs/run0"].values["learning_rate"] == 5e-06 and got["runs/run4"].values["learning_rate"] == 5e-05
    assert got["runs/run4"].values["per_device_train_batch_size"] == 32.0


def _yaml_run(folder: Path, files: dict[str, str]) -> None:
    from tests.test_cli import write_run

    write_run(folder, **{"loss": [1.0, 0.8, 0.6]})
    for name, text in files.items():
        (folder / name).write_text(text)


def test_lightning_hparams_yaml(tmp_path: Path) -> None:
    """What Lightning's `save_hparams_to_yaml` writes: `yaml.dump` of the hyperparameters, nested dicts kept, and an
    object PyYAML can only write with a Python tag (read as nothing, the rest of the file still counts)."""
    import argparse

    import yaml

    hparams = {"lr": 3e-4, "batch_size": 64, "model": {"hidden": 256, "dropout": 0.1}, "name": "lstm",
               "args": argparse.Namespace(foo=1), "milestones": [10, 20]}  # fmt: skip
    text = yaml.dump(hparams)
    assert "!!python/object" in text  # what makes `yaml.safe_load` refuse the whole file
    _yaml_run(tmp_path / "lightning_logs" / "version_0", {"hparams.yaml": text})
    (run,) = _runs(tmp_path).values()
    got = run_hparams(run.name, run.hparams)
    assert got is not None and got.source == "file:hparams.yaml"
    assert got.values == {"lr": 3e-4, "batch_size": 64.0, "model.hidden": 256.0, "model.dropout": 0.1, "name": "lstm"}


def test_yolo_opt_and_hyp_yaml_are_merged(tmp_path: Path) -> None:
    opt = "weights: yolov5s.pt\nepochs: 100\nbatch_size: 16\nimgsz: 640\noptimizer: SGD\nname: exp3\n"
    hyp = "lr0: 3e-3\nlrf: 0.01\nmomentum: 0.937\nweight_decay: 0.0005\nepochs: 999\n"  # YAML 1.1 reads 3e-3 as text
    _yaml_run(tmp_path / "runs" / "train" / "exp3", {"opt.yaml": opt, "hyp.yaml": hyp, "notes.yaml": "lr0: 9\n"})
    (run,) = _runs(tmp_path).values()
    got = run_hparams(run.name, run.hparams)
    assert got is not None and got.source == "file:opt.yaml+file:hyp.yaml"
    assert got.values["lr0"] == 3e-3 and got.values["epochs"] == 100.0  # opt.yaml names epochs first
    assert got.values["optimizer"] == "SGD" and got.values["weights"] == "yolov5s.pt"


def test_unreadable_and_oversized_config_files(tmp_path: Path) -> None:
    from tb_recipe_plugin.io.loader import CONFIG_FILE_MAX

    _yaml_run(tmp_path / "bs=8", {"args.yaml": "lr0: [unclosed\n"})
    _yaml_run(tmp_path / "bs=16", {"args.yaml": "lr0: 0.01\n" + "#" * CONFIG_FILE_MAX})
    _yaml_run(tmp_path / "bs=32", {"args.yaml": "- a list\n- not a mapping\n"})
    runs = _runs(tmp_path)
    broken, big, listed = (run_hparams(n, runs[n].hparams) for n in ("bs=8", "bs=16", "bs=32"))
    assert broken.source == "run_name" and broken.values == {"batch_size": 8.0}
    assert "not readable YAML" in broken.notes[0]
    assert big.source == "run_name" and any("larger than 256 KiB" in e for e in runs["bs=16"].errors)
    assert listed.source == "run_name" and "not a mapping" in listed.notes[0]


def test_sources_in_order_of_preference(tmp_path: Path) -> None:
    """HParams data, then the Trainer's arguments, then config files, then the folder name."""
    tensorboardx = pytest.importorskip("tensorboardX")
    folder = tmp_path / "lr=0.5"
    with tensorboardx.SummaryWriter(str(folder)) as writer:
        writer.add_text("args", json.dumps({"learning_rate": 0.2}))
        for step in range(3):
            writer.add_scalar("loss", 1.0 - 0.1 * step, step)
    (folder / "hparams.yaml").write_text("learning_rate: 0.3\n")
    (run,) = _runs(tmp_path).values()
    assert run_hparams(run.name, run.hparams).values == {"learning_rate": 0.2}
    no_args = {k: v for k, v in run.hparams.items() if not k.startswith("text:")}
    assert run_hparams(run.name, no_args).values == {"learning_rate": 0.3}
    assert run_hparams(run.name, {}).values == {"lr": 0.5}
    with tensorboardx.SummaryWriter(str(folder)) as writer:
        writer.add_hparams({"learning_rate": 0.1}, {"hparam/loss": 0.5}, name="hp")
    (run,) = _runs(tmp_path).values()
    assert run_hparams(run.name, run.hparams).values == {"learning_rate": 0.1}


def test_a_sweep_of_trainer_runs_searches_what_changed_not_the_folders(tmp_path: Path) -> None:
    """A Trainer records ~100 arguments; the sweep's hyperparameters are the ones that differ between runs, less the
    output/logging folders and run names that differ on every run. A text setting that differs on every run but
    names no run (the optimizer) stays."""
    from tb_recipe_plugin.analysis.analyzer import analyze_run
    from tb_recipe_plugin.sweep.analysis import analyze_sweeps

    for i, (lr, optim) in enumerate([(1e-5, "adamw_torch"), (5e-5, "sgd"), (2e-4, "adafactor")]):
        _write_trainer_run(tmp_path / f"run{i}", _trainer_args(f"run{i}", learning_rate=lr, optim=optim), 5)
    runs = _runs(tmp_path)
    hps = {name: run_hparams(name, run.hparams) for name, run in runs.items()}
    (sweep,) = analyze_sweeps([analyze_run(r) for r in runs.values()], runs, hps)
    assert sweep.hparams == ["learning_rate", "optim"]


def test_an_experiment_declared_at_the_sweep_root_is_no_run(tmp_path: Path) -> None:
    """TensorFlow's HParams tutorial writes `hp.hparams_config` into the sweep's root folder and each trial's values
    into its own folder: the root holds no curve and no session, so it is not listed as a (no-data) run."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.hparams import summary_v2 as hp_summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    from tests.test_cli import write_run

    def write(folder: Path, summary) -> None:  # noqa: ANN001
        writer = EventFileWriter(str(folder))
        writer.add_event(event_pb2.Event(step=0, wall_time=1.0, summary=summary))
        writer.close()

    lr = hp_summary.HParam("lr", hp_summary.Discrete([0.1, 0.01]))
    write(tmp_path / "sweep", hp_summary.hparams_config_pb(hparams=[lr], metrics=[hp_summary.Metric("loss")]))
    for k, value in enumerate((0.1, 0.01)):
        write_run(tmp_path / "sweep" / f"trial_{k}", loss=[1.0, 0.8, 0.6])
        write(tmp_path / "sweep" / f"trial_{k}", hp_summary.hparams_pb({"lr": value}, trial_id=f"trial_{k}"))
    assert sorted(_runs(tmp_path)) == ["sweep/trial_0", "sweep/trial_1"]
    write_run(tmp_path / "sweep", loss=[1.0, 0.9, 0.8])  # with curves of its own, the root is a run after all
    assert sorted(_runs(tmp_path)) == ["sweep", "sweep/trial_0", "sweep/trial_1"]


def test_discovery_reads_an_add_hparams_child_but_not_its_run(tmp_path: Path, monkeypatch) -> None:
    """Deciding the fold opens the small child folder only: once it is folded, its run has no run below it,
    so the run's own curves are read once, when it is loaded, not also at discovery."""
    from tb_recipe_plugin.io import loader

    tensorboardx = pytest.importorskip("tensorboardX")
    with tensorboardx.SummaryWriter(str(tmp_path / "run")) as writer:
        for step in range(5):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
        writer.add_hparams({"lr": 0.01}, {"hparam/loss": 0.2}, name="hp")
    opened: list[str] = []
    real = loader._read_file
    monkeypatch.setattr(loader, "_read_file", lambda c, split, path: opened.append(path) or real(c, split, path))
    (source,) = loader.discover_runs(str(tmp_path))
    assert source.name == "run" and opened == source.hparams_files  # the child's file, nothing of the run's
