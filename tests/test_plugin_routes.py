"""The Diagnosis tab's JSON routes inside a real TensorBoard app over demo_logs."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from tests.tb_app import PREFIX, get, tensorboard_client
from tests.test_cli import HOSTILE, healthy, write_run

DEMO = Path(__file__).resolve().parent.parent / "demo_logs"


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tb") / "logs"
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns("*.py", "*.md", "*.json"))
    write_run(root / HOSTILE, **{"Loss/train": healthy(), "Loss/val": [v * 1.05 for v in healthy()]})
    broken = root / "truncated"
    write_run(broken, **{"Loss/train": healthy()})
    event = next(broken.iterdir())
    event.write_bytes(event.read_bytes()[:-7])
    return root


@pytest.fixture(scope="module")
def client(logdir):
    return tensorboard_client(str(logdir))


def test_plugin_is_listed_with_its_tab(client):
    listing = json.loads(client.get("/data/plugins_listing").get_data(as_text=True))
    entry = listing["tb_recipe"]
    assert entry["enabled"] is True
    assert entry["tab_name"] == "Diagnosis"
    assert entry["loading_mechanism"] == {"type": "IFRAME", "module_path": f"{PREFIX}/index.js"}


def test_run_list_merges_keras_splits_and_sorts_errors_first(client):
    code, body = get(client, "runs")
    assert code == 200
    names = [r["run"] for r in body["runs"]]
    assert "keras_overfitting" in names and "keras_overfitting/train" not in names
    assert HOSTILE in names
    statuses = [r["status"] for r in body["runs"]]
    assert statuses[0] == "error"
    nan_run = next(r for r in body["runs"] if r["run"] == "keras_nan_divergence")
    assert nan_run["counts"]["error"] >= 1 and "nonfinite_loss" in nan_run["codes"]


def test_diagnosis_has_the_cli_schema(client):
    code, body = get(client, "diagnosis", run="keras_overfitting")
    assert code == 200
    assert {"run", "status", "best_step", "roles", "findings", "phases", "errors"} <= set(body)
    assert "overfitting" in [f["code"] for f in body["findings"]]
    assert body["roles"]["val_loss"]["tag"] == "validation/epoch_loss"
    code, zh = get(client, "diagnosis", run="keras_overfitting", lang="zh")
    assert code == 200 and zh["findings"][0]["title"] == "过拟合"


def test_series_lists_nonfinite_points_explicitly(client):
    code, body = get(client, "series", run="keras_nan_divergence")
    assert code == 200
    train = body["series"]["train/epoch_loss"]
    assert len(train["steps"]) == len(train["values"]) == 11
    assert [p["step"] for p in train["nonfinite"]] == [11, 12, 13, 14, 15]
    assert all(p["value"] == "nan" for p in train["nonfinite"])


def test_hostile_run_name_round_trips(client):
    code, body = get(client, "diagnosis", run=HOSTILE)
    assert code == 200 and body["run"] == HOSTILE


@pytest.mark.parametrize(
    "route,args,status",
    [
        ("diagnosis", {}, 400),
        ("diagnosis", {"run": "keras_healthy", "lang": "fr"}, 400),
        ("series", {}, 400),
        ("diagnosis", {"run": "no_such_run"}, 404),
        ("series", {"run": "../../etc/passwd"}, 404),
    ],
)
def test_bad_arguments(client, route, args, status):
    code, body = get(client, route, **args)
    assert code == status and body["error"]


def test_truncated_event_file_does_not_break_the_tab(client):
    code, body = get(client, "diagnosis", run="truncated")
    assert code == 200
    assert body["status"] in ("ok", "info", "warning")


def test_frontend_module_is_served_from_the_package(client):
    from importlib import resources

    response = client.get(f"{PREFIX}/index.js")
    assert response.status_code == 200
    source = resources.files("tb_recipe_plugin.tensorboard").joinpath("frontend", "index.js").read_text("utf-8")
    assert response.get_data(as_text=True) == source and "export async function render" in source


def test_tensorboard_finds_the_plugin_through_its_entry_point():
    """What `tensorboard` does at start-up: load every `tensorboard_plugins` entry point."""
    from importlib import metadata

    from tensorboard import default

    from tb_recipe_plugin.tensorboard.plugin import DiagnosisPlugin

    (entry,) = [e for e in metadata.entry_points(group="tensorboard_plugins") if e.name == "tb_recipe"]
    assert entry.value == "tb_recipe_plugin.tensorboard.plugin:DiagnosisPlugin"
    assert DiagnosisPlugin in default.get_dynamic_plugins()


def test_new_data_shows_up_after_tensorboard_reloads(tmp_path):
    write_run(tmp_path / "live", **{"Loss/train": healthy(10)})
    client = tensorboard_client(str(tmp_path))
    _, before = get(client, "series", run="live")
    _, again = get(client, "series", run="live")
    assert again == before
    # A second launch adds a file whose name sorts after the first (TensorBoard reads a run's files in name
    # order and skips one that sorts earlier). Two files written in the same second by this process can sort
    # the other way (their counter suffix is not zero-padded: ".10" < ".9"), so the name is made to sort last.
    first = next((tmp_path / "live").iterdir())
    write_run(tmp_path / "second_launch", **{"Loss/train": healthy(30)})
    next((tmp_path / "second_launch").iterdir()).rename(first.with_name(first.name + ".2"))
    (tmp_path / "second_launch").rmdir()
    client.reload()
    _, after = get(client, "series", run="live")
    assert len(before["series"]["Loss/train"]["steps"]) == 10
    assert len(after["series"]["Loss/train"]["steps"]) == 30


def test_empty_logdir_gives_an_empty_run_list(tmp_path):
    code, body = get(tensorboard_client(str(tmp_path)), "runs")
    assert code == 200 and body["runs"] == []


def test_a_run_whose_analysis_fails_is_reported_not_fatal(tmp_path, monkeypatch):
    import tb_recipe_plugin.tensorboard.service as service

    write_run(tmp_path / "fine", **{"Loss/train": healthy()})
    write_run(tmp_path / "cursed", **{"Loss/train": healthy()})
    real = service.analyze_run

    def flaky(run, *args, **kwargs):
        if run.name == "cursed":
            raise RuntimeError("boom")
        return real(run, *args, **kwargs)

    monkeypatch.setattr(service, "analyze_run", flaky)
    client = tensorboard_client(str(tmp_path))
    code, body = get(client, "runs")
    assert code == 200
    by_name = {r["run"]: r for r in body["runs"]}
    assert by_name["cursed"]["status"] == "error" and by_name["fine"]["status"] != "error"
    assert (by_name["cursed"]["analysis_errors"], by_name["cursed"]["errors"]) == (1, 0)
    assert by_name["fine"]["analysis_errors"] == 0
    code, report = get(client, "diagnosis", run="cursed")
    assert code == 200 and report["errors"] == []  # our bug, not a problem reading the user's data
    assert report["analysis_errors"] == ["analysis failed: RuntimeError: boom"]


def test_a_failing_rule_is_an_analysis_error_of_that_run(tmp_path, monkeypatch):
    """A rule that raises inside the analyzer: the run keeps its other findings, and the tab gets the failure
    as an analysis error (counted in the run list), not as a read error."""
    from tb_recipe_plugin.analysis import analyzer
    from tb_recipe_plugin.analysis.rules import RULES

    def broken(rule):
        def crash(ctx):
            raise IndexError("index 5 is out of bounds")

        return dataclasses.replace(rule, fn=crash)

    monkeypatch.setattr(analyzer, "RULES", tuple(broken(r) if r.code == "nonfinite_loss" else r for r in RULES))
    write_run(tmp_path / "run", **{"Loss/train": healthy(), "Loss/val": [v * 1.05 for v in healthy()]})
    client = tensorboard_client(str(tmp_path))
    code, body = get(client, "runs")
    assert code == 200
    row = body["runs"][0]
    assert (row["status"], row["analysis_errors"], row["errors"]) == ("error", 1, 0)
    code, report = get(client, "diagnosis", run="run")
    assert report["analysis_errors"] == ["rule nonfinite_loss failed: IndexError: index 5 is out of bounds"]
    assert report["errors"] == [] and report["display"]["analysis_errors"] == report["analysis_errors"]


def test_entry_point_module_imports_nothing_heavy():
    """TensorBoard imports the entry point at start-up; keep it to TensorBoard and werkzeug."""
    import subprocess
    import sys

    probe = (
        "import sys, tb_recipe_plugin.tensorboard.plugin\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'torch', 'plotly')\n"
        "         or m in ('tb_recipe_plugin.analysis.analyzer', 'tb_recipe_plugin.tensorboard.service')]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_sampling_hint_is_honoured(logdir):
    client = tensorboard_client(str(logdir), "--samples_per_plugin", "scalars=7")
    code, body = get(client, "series", run="keras_overfitting")
    assert code == 200 and body["samples_per_series"] == 7
    assert all(len(s["steps"]) <= 7 for s in body["series"].values())
