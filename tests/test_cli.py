"""The CLI as users and CI jobs call it: formats, languages, exit codes, bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from tb_recipe_plugin.cli import main

DEMO = Path(__file__).resolve().parent.parent / "demo_logs"
HOSTILE = "<img src=x onerror=alert(1)>"


def write_run(folder: Path, **tags: list[float]) -> None:
    """A PyTorch-style (simple_value) event file with one point per step."""
    folder.mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(folder))
    for tag, values in tags.items():
        for step, value in enumerate(values):
            summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
            writer.add_event(event_pb2.Event(step=step, wall_time=1.0 + step, summary=summary))
    writer.close()


def healthy(n: int = 30) -> list[float]:
    return list(0.3 + 2 * np.exp(-np.linspace(0, 6, n)))


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    write_run(tmp_path / "good", **{"Loss/train": healthy(), "Loss/val": [v * 1.05 for v in healthy()]})
    nan = healthy()
    nan[20:] = [float("nan")] * 10
    write_run(tmp_path / "exploded", **{"Loss/train": nan})
    write_run(tmp_path / HOSTILE, **{"Loss/train": healthy(), "Loss/val": [v * 1.05 for v in healthy()]})
    write_run(tmp_path / "a|b*_c" / "train", epoch_loss=healthy())
    write_run(tmp_path / "a|b*_c" / "validation", epoch_loss=[v * 1.1 for v in healthy()])
    return tmp_path


def run_cli(*args: str, capsys) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_schema_and_findings(logdir, capsys):
    code, out, _ = run_cli("analyze", str(logdir), "--format", "json", capsys=capsys)
    doc = json.loads(out)
    assert doc["schema"].startswith("tb-recipe.report/") and doc["lang"] == "en"
    assert {"schema", "tool", "logdir", "lang", "runs"} <= set(doc)
    runs = {r["run"]: r for r in doc["runs"]}
    assert set(runs) == {"good", "exploded", HOSTILE, "a|b*_c"}
    for r in runs.values():
        assert {"run", "status", "best_step", "roles", "findings", "phases", "errors"} <= set(r)
    bad = runs["exploded"]["findings"][0]
    assert bad["code"] == "nonfinite_loss" and bad["start_step"] == 20 and bad["suggestions"]
    assert runs["a|b*_c"]["roles"]["val_loss"]["tag"] == "validation/epoch_loss"
    assert code == 1  # an error-level finding with the default --fail-on error


def test_exit_codes(logdir, tmp_path_factory, capsys):
    clean = tmp_path_factory.mktemp("clean")
    write_run(clean / "ok", **{"Loss/train": healthy(), "Loss/val": [v * 1.05 for v in healthy()]})
    assert run_cli("analyze", str(clean), "--format", "json", capsys=capsys)[0] == 0
    assert run_cli("analyze", str(logdir), "--fail-on", "never", capsys=capsys)[0] == 0
    assert run_cli("analyze", str(logdir), "--run", "good", "--fail-on", "warning", capsys=capsys)[0] in (0, 1)
    assert run_cli("analyze", str(logdir), "--run", "exploded", capsys=capsys)[0] == 1


def test_chinese_titles(logdir, capsys):
    _, out, _ = run_cli("analyze", str(logdir), "--format", "json", "--lang", "zh", "--run", "exploded", capsys=capsys)
    finding = json.loads(out)["runs"][0]["findings"][0]
    assert finding["title"] == "损失出现 NaN/Inf"
    assert "第 20 步" in finding["message"]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["analyze", "/definitely/not/here"], "does not exist"),
        (["analyze", "{empty}"], "no event files"),
        (["analyze", "{logdir}", "--role", "nonsense"], "ROLE=TAG"),
        (["analyze", "{logdir}", "--role", "bogus=x"], "unknown role"),
        (["analyze", "{logdir}", "--run", "zzz*"], "matches --run"),
    ],
)
def test_usage_and_io_errors_exit_2_without_traceback(args, needle, logdir, tmp_path_factory, capsys):
    empty = tmp_path_factory.mktemp("empty")
    args = [a.format(logdir=logdir, empty=empty) for a in args]
    code, _, err = run_cli(*args, capsys=capsys)
    assert code == 2
    assert needle in err and "Traceback" not in err


def test_role_override_is_reported(logdir, capsys):
    _, out, _ = run_cli(
        "analyze", str(logdir), "--run", "good", "--format", "json", "--role", "val_loss=Loss/train", capsys=capsys
    )
    assert json.loads(out)["runs"][0]["roles"]["val_loss"]["tag"] == "Loss/train"


def test_markdown_escapes_untrusted_names(logdir, capsys):
    _, out, _ = run_cli("analyze", str(logdir), "--format", "markdown", capsys=capsys)
    assert HOSTILE not in out and "&lt;img src=x onerror=alert\\(1\\)&gt;" in out
    assert "a\\|b\\*\\_c" in out
    table = [line for line in out.splitlines() if line.startswith("| ")]
    assert all(line.count(" | ") == 2 for line in table), table  # run, status, verdict
    # The catalogue's code in suggestions stays code: backticks are span delimiters, not escaped literals.
    assert "`EarlyStopping(monitor='val_loss'" in out and "\\`" not in out


def test_text_output_lists_runs_worst_first(logdir, capsys):
    _, out, _ = run_cli("analyze", str(logdir), "--no-color", capsys=capsys)
    assert out.index("exploded") < out.index("good")
    assert HOSTILE in out  # printed as text, not interpreted as rich markup
    assert "Non-finite loss" in out and "4 runs:" in out


def test_corrupt_file_is_a_run_error_not_a_crash(logdir, capsys):
    target = next((logdir / "good").iterdir())
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    (logdir / "junk").mkdir()
    (logdir / "junk" / "events.out.tfevents.1.host").write_bytes(b"not an event file at all")
    code, out, _ = run_cli("analyze", str(logdir), "--format", "json", "--fail-on", "never", capsys=capsys)
    runs = {r["run"]: r for r in json.loads(out)["runs"]}
    assert runs["good"]["errors"] and runs["junk"]["errors"]
    assert runs["exploded"]["findings"]
    assert code == 0


def test_output_file_and_logdir_untouched(logdir, tmp_path_factory, capsys):
    before = sorted((p, p.stat().st_mtime_ns) for p in logdir.rglob("*"))
    dest = tmp_path_factory.mktemp("out") / "report.md"
    code, out, _ = run_cli("analyze", str(logdir), "--format", "markdown", "-o", str(dest), capsys=capsys)
    assert out == "" and dest.read_text().startswith("# tb-recipe report")
    assert sorted((p, p.stat().st_mtime_ns) for p in logdir.rglob("*")) == before


def test_console_script_on_demo_logs_and_help_is_light():
    exe = shutil.which("tb-recipe") or str(Path(sys.executable).parent / "tb-recipe")
    proc = subprocess.run([exe, "analyze", str(DEMO), "--format", "json"], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr  # the demo set includes a NaN run
    assert len(json.loads(proc.stdout)["runs"]) >= 8
    probe = "import sys; from tb_recipe_plugin.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n"
    probe += "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'numpy', 'keras')]\nprint(bad)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env={**os.environ}).stdout
    assert out.strip().endswith("[]"), out


def test_the_readme_sample_is_the_current_output(capsys):
    """Issue 9: the README's sample output is what `tb-recipe analyze demo_logs --run keras_overfitting` prints."""
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    command = "$ tb-recipe analyze demo_logs --run keras_overfitting\n"
    start = readme.index("```text\n" + command) + len("```text\n" + command)
    sample = readme[start : readme.index("```", start)]
    demo = str(root / "demo_logs")
    _, out, _ = run_cli("analyze", demo, "--run", "keras_overfitting", "--no-color", capsys=capsys)
    assert out.replace(demo, "demo_logs") == sample


def test_the_readme_sweep_sample_is_the_current_output(capsys):
    """The README's `tb-recipe sweep demo_logs` sample is the current output; its "…" line stands for ranking lines
    left out, so the lines before it open the output and the lines after it follow on, in order."""
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    command = "$ tb-recipe sweep demo_logs\n"
    start = readme.index("```text\n" + command) + len("```text\n" + command)
    sample = readme[start : readme.index("```", start)].splitlines()
    cut = next(i for i, line in enumerate(sample) if line.strip() == "…")
    head, tail = sample[:cut], sample[cut + 1 :]
    demo = str(root / "demo_logs")
    _, out, _ = run_cli("sweep", demo, "--no-color", capsys=capsys)
    lines = out.replace(demo, "demo_logs").splitlines()
    assert lines[: len(head)] == head
    resume = lines.index(tail[0], len(head))
    assert lines[resume : resume + len(tail)] == tail and resume + len(tail) == len(lines)


def test_worker_processes_give_the_same_report(tmp_path, capsys):
    """--jobs 2 spreads the runs over two processes; the report is byte-for-byte the one of --jobs 1."""
    from tb_recipe_plugin import runner

    for i in range(runner.PARALLEL_MIN_RUNS + 5):
        loss = healthy()
        if i % 7 == 0:
            loss[20:] = [float("nan")] * 10
        write_run(tmp_path / f"run_{i:02d}", **{"Loss/train": loss, "Loss/val": [v * 1.05 for v in healthy()]})
    outs = []
    for jobs in ("1", "2"):
        code, out, _ = run_cli("analyze", str(tmp_path), "--format", "json", "--jobs", jobs, capsys=capsys)
        outs.append((code, out))
    assert outs[0] == outs[1] and outs[0][0] == 1
    assert len(json.loads(outs[0][1])["runs"]) == runner.PARALLEL_MIN_RUNS + 5
    with pytest.raises(SystemExit) as usage:  # argparse: a usage error, exit code 2
        run_cli("analyze", str(tmp_path), "--jobs", "0", capsys=capsys)
    assert usage.value.code == 2


def test_the_json_report_does_not_depend_on_the_hash_seed():
    """Two interpreters with different hash seeds print the same bytes (an action's `numbers` keep template order)."""
    demo = str(Path(__file__).resolve().parents[1] / "demo_logs")
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        cmd = [sys.executable, "-m", "tb_recipe_plugin", "analyze", demo, "--run", "keras_nan_divergence"]
        cmd += ["--format", "json"]
        outs.append(subprocess.run(cmd, capture_output=True, env=env, check=False).stdout)
    assert outs[0] == outs[1] and b'"lr_now"' in outs[0]
