"""The Diagnosis tab's `/sweeps` route in a real TensorBoard app: sweeps found from HParams plugin data read
through TensorBoard's data provider, the same document as `tb-recipe sweep --format json`, PyTorch's and
tensorboardX's `add_hparams` child folders folded into their runs, and a bad run that breaks nothing."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
from pathlib import Path

import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.hparams import summary_v2 as hp_summary
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from tb_recipe_plugin.hparams_child import hparams_parent
from tests.curves import decay
from tests.tb_app import get, tensorboard_client
from tests.test_cli import write_run

LRS = (0.001, 0.01, 0.1)
SEEDS = (1, 2)
OPTIMIZER = {1: "adam", 2: "sgd"}  # a third hyperparameter, a text one (the parallel-coordinates view needs 3)
FLOOR = {0.001: 0.8, 0.01: 0.3}  # lr 0.1 diverges: NaN from epoch 8


def trial_curves(lr: float, seed: int, n: int = 30) -> dict[str, list[float]]:
    """Validation and training loss of one trial: a floor set by the learning rate, NaN for the largest."""
    val = list(decay(n, 2.0, FLOOR.get(lr, 0.5) + 0.01 * seed))
    if lr not in FLOOR:
        val[8:] = [float("nan")] * (n - 8)
    return {"Loss/train": [v * 0.8 for v in val], "Loss/val": val}


def write_hparams(folder: Path, values: dict[str, float | str], trial_id: str) -> None:
    """The HParams session data Keras' `hp.hparams` writes (TensorBoard's own `hparams_pb`, no TensorFlow)."""
    writer = EventFileWriter(str(folder))
    writer.add_event(event_pb2.Event(step=0, wall_time=1.0, summary=hp_summary.hparams_pb(values, trial_id=trial_id)))
    writer.close()


def write_sweep(root: Path, last_by=None) -> list[str]:
    """Six trials `sweep/trial_<k>` (lr x seed, with an optimizer per seed), hyperparameters only in their
    HParams data (the names say nothing); the two with lr 0.1 fail. `last_by`: a PyTorch or tensorboardX
    `SummaryWriter` class that writes the last trial, its hyperparameters by `add_hparams` (into a child folder).
    Returns the run names."""
    names = []
    for k, (lr, seed) in enumerate(itertools.product(LRS, SEEDS)):
        folder = root / "sweep" / f"trial_{k}"
        values = {"lr": lr, "seed": seed, "optimizer": OPTIMIZER[seed]}
        if last_by is not None and k == len(LRS) * len(SEEDS) - 1:
            with last_by(str(folder)) as writer:
                curves = trial_curves(lr, seed)
                for tag, points in curves.items():
                    for step, value in enumerate(points):
                        writer.add_scalar(tag, value, step)
                writer.add_hparams(values, {"hparam/val_loss": curves["Loss/val"][-1]})
        else:
            write_run(folder, **trial_curves(lr, seed))
            write_hparams(folder, values, f"trial_{k}")
        names.append(f"sweep/trial_{k}")
    return names


def write_add_hparams_sweep(root: Path, writer_class) -> list[str]:
    """Three runs written as PyTorch or tensorboardX write them: curves with `add_scalar`, then `add_hparams`,
    which puts the hyperparameters and the final metric into a child folder named by a timestamp."""
    names = []
    for k, lr in enumerate(LRS):
        name = f"torchlike/run_{k}"
        with writer_class(str(root / name)) as writer:
            for tag, values in trial_curves(lr, 1).items():
                for step, value in enumerate(values):
                    writer.add_scalar(tag, value, step)
            writer.add_hparams({"lr": lr, "batch_size": 32}, {"hparam/val_loss": trial_curves(lr, 1)["Loss/val"][-1]})
        names.append(name)
    return names


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweeps")
    write_sweep(root)
    write_run(root / "alone", **{"Loss/train": list(decay(20))})  # no hyperparameters: in no sweep
    return root


@pytest.fixture(scope="module")
def client(logdir):
    return tensorboard_client(str(logdir))


def test_a_sweep_is_found_from_hparams_plugin_data(client):
    code, body = get(client, "sweeps")
    assert code == 200 and body["schema"] == "tb-recipe.sweep/1" and body["lang"] == "en"
    (sweep,) = body["sweeps"]
    assert sweep["name"] == "sweep" and sweep["metric"] == {"tag": "Loss/val", "direction": "min"}
    assert sweep["hparams"] == ["lr", "optimizer", "seed"]
    assert sweep["scale"] == {"lr": "log", "optimizer": "category", "seed": "linear"}
    runs = {r["run"]: r for r in sweep["runs"]}
    assert sorted(runs) == [f"sweep/trial_{k}" for k in range(6)]
    assert {r["hparams_source"] for r in runs.values()} == {"hparams_plugin"}
    assert runs["sweep/trial_0"]["hparams"] == {"lr": 0.001, "optimizer": "adam", "seed": 1.0}
    assert [r["failed"] for r in sweep["runs"]] == [False, False, False, False, True, True]
    assert sweep["ranking"][0] == "sweep/trial_2"  # lr 0.01, seed 1
    failed = next(f for f in sweep["findings"] if f["code"] == "failed_range")
    assert failed["message"] == "lr >= 0.1: 2 of 2 runs failed (NaN or diverged)."
    # every run keeps its own diagnosis, in one sentence for the table
    assert "NaN" in runs["sweep/trial_4"]["verdict"] and "nonfinite_loss" in runs["sweep/trial_4"]["codes"]
    assert all(r["verdict"] for r in runs.values())
    assert sweep["display"]["runs"][0]["run"] == sweep["runs"][0]["run"]


def test_the_route_says_what_the_cli_says(client, logdir):
    _, body = get(client, "sweeps")
    assert_same_as_cli(body, logdir)


def assert_same_as_cli(body: dict, logdir: Path) -> None:
    """The route's document is `tb-recipe sweep --format json`, plus the route's own fields."""
    from tb_recipe_plugin.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["sweep", str(logdir), "--format", "json"]) == 0
    cli = json.loads(out.getvalue())
    body = dict(body)
    assert body.pop("samples_per_series") == 1000
    for sweep, printed in zip(body["sweeps"], cli["sweeps"], strict=True):
        assert sweep.pop("display")
        for run, row in zip(sweep["runs"], printed["runs"], strict=True):
            assert run["verdict"]
            if "verdict" not in row:  # the route's addition, unless the CLI prints it too
                del run["verdict"]
    assert body == cli


def test_trainer_arguments_and_config_files_reach_the_tab(tmp_path):
    """The CLI's other sources, through TensorBoard: a Trainer's `args` text (the text plugin's data) and
    `hparams.yaml` beside each run (read from the local logdir). The route finds what the CLI finds."""
    tensorboardx = pytest.importorskip("tensorboardX")
    for k, lr in enumerate(LRS):
        with tensorboardx.SummaryWriter(str(tmp_path / "hf" / f"run{k}")) as writer:
            writer.add_text("args", json.dumps({"learning_rate": lr, "output_dir": f"out/run{k}", "seed": 42}))
            for tag, values in trial_curves(lr, 1).items():
                for step, value in enumerate(values):
                    writer.add_scalar(tag, value, step)
        folder = tmp_path / "lightning" / f"version_{k}"
        write_run(folder, **trial_curves(lr, 2))
        (folder / "hparams.yaml").write_text(f"lr: {lr}\nmodel:\n  hidden: {64 * (k + 1)}\n")
    code, body = get(tensorboard_client(str(tmp_path)), "sweeps")
    assert code == 200
    found = {s["name"]: s for s in body["sweeps"]}
    assert sorted(found) == ["hf", "lightning"]
    assert found["hf"]["hparams"] == ["learning_rate"]  # output_dir names the run; the seed never changes
    assert {r["hparams_source"] for r in found["hf"]["runs"]} == {"trainer_args"}
    assert found["lightning"]["hparams"] == ["lr", "model.hidden"]
    assert {r["hparams_source"] for r in found["lightning"]["runs"]} == {"file:hparams.yaml"}
    assert_same_as_cli(body, tmp_path)


def test_sweeps_speak_chinese(client):
    code, body = get(client, "sweeps", lang="zh")
    assert code == 200 and body["lang"] == "zh"
    (sweep,) = body["sweeps"]
    failed = next(f for f in sweep["findings"] if f["code"] == "failed_range")
    assert failed["message"] == "lr >= 0.1 时，2 个运行中有 2 个失败（NaN 或发散）。"
    assert any("NaN" in r["verdict"] and "损失" in r["verdict"] for r in sweep["runs"])
    assert get(client, "sweeps", lang="fr")[0] == 400


def test_the_answer_is_cached_until_the_data_changes(tmp_path, monkeypatch):
    import tb_recipe_plugin.tensorboard.service as service

    calls = []
    real = service.analyze_sweeps
    monkeypatch.setattr(service, "analyze_sweeps", lambda *args: calls.append(1) or real(*args))
    write_sweep(tmp_path)
    client = tensorboard_client(str(tmp_path))
    _, first = get(client, "sweeps")
    _, again = get(client, "sweeps")
    assert again == first and len(calls) == 1
    get(client, "sweeps", lang="zh")
    assert len(calls) == 2  # one answer per language
    folder = tmp_path / "sweep" / "trial_6"
    write_run(folder, **trial_curves(0.01, 3))
    write_hparams(folder, {"lr": 0.01, "seed": 3, "optimizer": "adam"}, "trial_6")
    client.reload()
    _, after = get(client, "sweeps")
    assert len(after["sweeps"][0]["runs"]) == 7 and len(calls) == 3


def test_no_sweep_is_an_empty_list(tmp_path):
    write_run(tmp_path / "a", **{"Loss/train": list(decay(10))})
    code, body = get(tensorboard_client(str(tmp_path)), "sweeps")
    assert code == 200 and body["sweeps"] == []


@pytest.mark.parametrize("module", ["torch.utils.tensorboard", "tensorboardX"])
def test_an_add_hparams_child_is_folded_into_its_run(tmp_path, module):
    writer_class = pytest.importorskip(module).SummaryWriter
    names = write_add_hparams_sweep(tmp_path, writer_class)
    children = [p for name in names for p in (tmp_path / name).iterdir() if p.is_dir()]
    assert len(children) == 3  # the writer did put the HParams data in a child folder
    client = tensorboard_client(str(tmp_path))
    _, listing = get(client, "runs")
    assert sorted(r["run"] for r in listing["runs"]) == names  # no child listed as a run of its own
    child = f"{names[0]}/{next((tmp_path / names[0]).glob('*/')).name}"
    assert get(client, "diagnosis", run=child)[0] == 404
    _, body = get(client, "sweeps")
    (sweep,) = body["sweeps"]
    assert [r["run"] for r in sweep["runs"]] == names
    assert {r["hparams_source"] for r in sweep["runs"]} == {"hparams_plugin"}
    assert [r["hparams"]["lr"] for r in sweep["runs"]] == list(LRS)
    code, diagnosis = get(client, "diagnosis", run=names[0])
    assert code == 200 and "hparam/val_loss" not in json.dumps(diagnosis)  # the child's one value is not a curve


def test_a_child_with_curves_stays_a_run(tmp_path):
    """The CLI's rule: a nested folder with curves of its own is a run, even with HParams data in it."""
    write_run(tmp_path / "run", **{"Loss/train": list(decay(10))})
    write_run(tmp_path / "run" / "nested", **{"Loss/train": list(decay(10))})
    write_hparams(tmp_path / "run" / "nested", {"lr": 0.1}, "nested")
    _, listing = get(tensorboard_client(str(tmp_path)), "runs")
    assert sorted(r["run"] for r in listing["runs"]) == ["run", "run/nested"]


def test_one_bad_run_does_not_break_the_route(tmp_path, monkeypatch):
    import tb_recipe_plugin.tensorboard.service as service

    write_sweep(tmp_path)
    # HParams data that is not a protobuf: the run falls back to its name (none here) and leaves the sweep
    garbled = tmp_path / "sweep" / "garbled"
    write_run(garbled, **trial_curves(0.01, 1))
    writer = EventFileWriter(str(garbled))
    meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(
        plugin_name="hparams", content=b"\xff\xff\xff"))  # fmt: skip
    value = summary_pb2.Summary.Value(tag="_hparams_/session_start_info", metadata=meta, simple_value=0.0)
    writer.add_event(event_pb2.Event(step=0, wall_time=1.0, summary=summary_pb2.Summary(value=[value])))
    writer.close()
    # a truncated event file: the curves' (the larger), the HParams data in its own file stays whole
    event = max((tmp_path / "sweep" / "trial_1").glob("*tfevents*"), key=lambda f: f.stat().st_size)
    event.write_bytes(event.read_bytes()[:-7])
    # and an analysis that raises for one run
    real = service.analyze_run

    def flaky(run, *args, **kwargs):
        if run.name == "sweep/trial_3":
            raise RuntimeError("boom")
        return real(run, *args, **kwargs)

    monkeypatch.setattr(service, "analyze_run", flaky)
    # and a run whose HParams records make the parser itself raise
    real_hparams = service.run_hparams
    monkeypatch.setattr(
        service, "run_hparams", lambda name, c: 1 / 0 if name == "sweep/trial_5" else real_hparams(name, c)
    )
    client = tensorboard_client(str(tmp_path))
    code, body = get(client, "sweeps")
    assert code == 200
    (sweep,) = body["sweeps"]
    runs = {r["run"]: r for r in sweep["runs"]}
    assert "sweep/garbled" not in runs and "sweep/trial_5" not in runs
    assert runs["sweep/trial_3"]["status"] == "error" and runs["sweep/trial_3"]["verdict"] == ""
    assert {"sweep/trial_0", "sweep/trial_1", "sweep/trial_2", "sweep/trial_4"} <= set(runs)
    assert get(client, "runs")[0] == 200


def test_the_fold_rule_is_one_predicate():
    """`hparams_parent` decides for the loader and the tab alike."""
    start = {"_hparams_/session_start_info"}
    assert hparams_parent("run/1700000000.1", {"run"}, start, 1) == "run"
    assert hparams_parent("run/1700000000.1", {"run"}, start, 2) is None  # a curve: a run of its own
    assert hparams_parent("run/1700000000.1", {"run"}, set(), 0) is None  # no HParams session data
    assert hparams_parent("run/1700000000.1", {"other"}, start, 0) is None  # no parent run
    assert hparams_parent("run/validation", {"run"}, start, 0) is None  # a Keras split is part of its run
    assert hparams_parent("run", {"run"}, start, 0) is None


def test_every_tab_word_exists_in_every_language():
    """The tab has no words of its own: a key missing in one language would show up as "undefined" there."""
    from tb_recipe_plugin.present.catalogue import LANGS
    from tb_recipe_plugin.present.catalogue.labels import TAB

    def shape(tree: dict) -> dict:
        return {key: shape(value) if isinstance(value, dict) else bool(value) for key, value in tree.items()}

    assert all(shape(TAB[lang]) == shape(TAB["en"]) for lang in LANGS)
    assert all(filled for filled in shape(TAB["en"]).values() if isinstance(filled, bool))
