"""Run discovery and loading: naming, the Keras split layout, restarts across files, damaged or
vanishing files, remote (fsspec) logdirs, and the real public runs in /work/shared/reallogs
cross-checked against TensorBoard's EventAccumulator."""

from __future__ import annotations

import builtins
import os
import re
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest

from tb_recipe_plugin.io import loader
from tb_recipe_plugin.io.event_reader import frame_record
from tb_recipe_plugin.io.loader import LogdirError, RunSource, discover_runs, iter_runs, load_run
from tests.test_reader import (
    header,
    points,
    serialized,
    session_start,
    simple_event,
    tensor_event,
    write_events,
    write_raw,
)

# --------------------------------------------------------------------------- helpers


def event_file(folder: Path, stamp: int, events, host: str = "host") -> Path:
    """An event file named as writers name them, so restart ordering by timestamp can be tested."""
    return write_events(folder, events, name=f"events.out.tfevents.{stamp}.{host}.1.0")


def loss_file(folder: Path, stamp: int = 1000, steps=range(5), tag: str = "loss", value: float = 1.0) -> Path:
    return event_file(folder, stamp, [simple_event(tag, s, value) for s in steps])


def names(logdir: Path | str) -> list[str]:
    return [run.name for run in discover_runs(str(logdir))]


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), root)] = (st.st_mtime_ns, st.st_size, st.st_mode)
    return out


# --------------------------------------------------------------------------- discovery


def test_run_names_nested_and_logdir_itself(tmp_path):
    loss_file(tmp_path)
    loss_file(tmp_path / "a")
    loss_file(tmp_path / "a" / "b" / "c")
    loss_file(tmp_path / "lightning_logs" / "version_0")
    (tmp_path / "empty" / "deeper").mkdir(parents=True)
    (tmp_path / "notes.txt").write_text("not an event file")
    assert names(tmp_path) == [".", "a", "a/b/c", "lightning_logs/version_0"]


def test_keras_split_folders_merge_into_their_parent(tmp_path):
    run = tmp_path / "logs" / "20251112-143203"
    event_file(run / "train", 1000, [tensor_event("epoch_loss", s, 1.0 - s / 10) for s in range(5)])
    event_file(run / "validation", 1001, [tensor_event("epoch_loss", s, 2.0 - s / 10) for s in range(5)])
    event_file(run / "validation", 1002, [tensor_event("evaluation_loss_vs_iterations", 100, 0.5)])
    (source,) = discover_runs(str(tmp_path))
    assert source.name == "logs/20251112-143203"
    assert [split for split, _ in source.files] == ["train", "validation", "validation"]
    data = load_run(source)
    assert sorted(data.series) == [
        "train/epoch_loss",
        "validation/epoch_loss",
        "validation/evaluation_loss_vs_iterations",
    ]
    np.testing.assert_allclose(data.series["validation/epoch_loss"].values, [2.0, 1.9, 1.8, 1.7, 1.6], rtol=1e-6)
    assert data.errors == []


def test_fairseq_split_folders_merge_into_their_parent(tmp_path):
    """fairseq writes `loss` per update in train_inner/, per epoch in train/ and per validation in valid/."""
    run = tmp_path / "checkpoints" / "tb"
    event_file(run / "train_inner", 1000, [tensor_event("loss", s, 5.0 - s / 100) for s in range(10, 110, 10)])
    event_file(run / "train", 1001, [tensor_event("loss", s, 4.5 - s / 100) for s in (50, 100)])
    event_file(run / "valid", 1002, [tensor_event("loss", s, 4.6 - s / 100) for s in (50, 100)])
    (data,) = iter_runs(str(tmp_path))
    assert data.name == "checkpoints/tb"
    assert sorted(data.series) == ["train/loss", "train_inner/loss", "valid/loss"]


@pytest.mark.parametrize("split", ["train", "train_inner", "validation", "valid", "val", "eval", "test"])
def test_lone_split_folder_under_logdir_is_the_root_run(tmp_path, split):
    loss_file(tmp_path / split)
    (run,) = iter_runs(str(tmp_path))
    assert run.name == "." and list(run.series) == [f"{split}/loss"]


def test_parent_files_and_split_folders_share_a_run(tmp_path):
    loss_file(tmp_path / "run", tag="lr")
    loss_file(tmp_path / "run" / "train")
    (run,) = iter_runs(str(tmp_path))
    assert run.name == "run" and sorted(run.series) == ["lr", "train/loss"]


def test_folder_named_train_holding_runs_is_not_a_split(tmp_path):
    """YOLOv5 writes runs/train/exp, runs/train/exp2: the split rule only applies to folders holding files."""
    loss_file(tmp_path / "runs" / "train" / "exp")
    loss_file(tmp_path / "runs" / "train" / "exp2")
    assert names(tmp_path) == ["runs/train/exp", "runs/train/exp2"]


def test_logdir_given_as_a_split_folder_itself(tmp_path):
    loss_file(tmp_path / "run" / "train")
    (run,) = iter_runs(str(tmp_path / "run" / "train"))
    assert run.name == "." and list(run.series) == ["loss"]


def test_directory_named_like_an_event_file_is_ignored(tmp_path):
    (tmp_path / "events.out.tfevents.dir").mkdir()
    loss_file(tmp_path / "run")
    assert names(tmp_path) == ["run"]


def test_symlink_loop_does_not_hang(tmp_path):
    loss_file(tmp_path / "run")
    os.symlink(tmp_path, tmp_path / "run" / "loop")
    os.symlink(tmp_path / "missing", tmp_path / "dangling")
    assert names(tmp_path) == ["run"]


def test_symlinked_run_is_followed(tmp_path):
    loss_file(tmp_path / "elsewhere" / "real")
    (tmp_path / "logs").mkdir()
    os.symlink(tmp_path / "elsewhere" / "real", tmp_path / "logs" / "linked")
    assert names(tmp_path / "logs") == ["linked"]


def test_many_runs_sorted(tmp_path):
    for i in (3, 11, 1, 20):
        loss_file(tmp_path / f"run_{i:02d}")
    assert names(tmp_path) == ["run_01", "run_03", "run_11", "run_20"]


# --------------------------------------------------------------------------- unusable logdir


def test_missing_logdir(tmp_path):
    with pytest.raises(LogdirError, match="does not exist"):
        discover_runs(str(tmp_path / "nope"))


def test_logdir_is_a_file(tmp_path):
    path = loss_file(tmp_path)
    with pytest.raises(LogdirError, match="not a directory"):
        discover_runs(str(path))


def test_unreadable_logdir(tmp_path, monkeypatch):
    loss_file(tmp_path / "run")
    if os.geteuid() == 0:  # root reads anything: simulate the refusal
        real_scandir = os.scandir

        def refuse(path="."):
            if os.fspath(path) == str(tmp_path):
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)

        monkeypatch.setattr(loader.os, "scandir", refuse)
        with pytest.raises(LogdirError, match="Permission denied"):
            discover_runs(str(tmp_path))
    else:
        tmp_path.chmod(0)
        try:
            with pytest.raises(LogdirError):
                discover_runs(str(tmp_path))
        finally:
            tmp_path.chmod(0o755)


def test_iter_runs_on_missing_logdir_raises_logdir_error(tmp_path):
    with pytest.raises(LogdirError):
        list(iter_runs(str(tmp_path / "nope")))


# --------------------------------------------------------------------------- restarts and merging


def test_restart_files_ordered_by_timestamp_not_name(tmp_path):
    """'...tfevents.999...' sorts after '...tfevents.1000...' as text but was written first."""
    event_file(tmp_path, 999, [simple_event("loss", s, 1.0) for s in range(0, 100)])
    event_file(tmp_path, 1000, [simple_event("loss", s, 2.0) for s in range(60, 150)])
    (source,) = discover_runs(str(tmp_path))
    assert [Path(p).name.split(".")[3] for _, p in source.files] == ["999", "1000"]
    run = load_run(source)
    loss = run.series["loss"]
    assert loss.steps.tolist() == list(range(150))  # no duplicates
    assert loss.values.tolist() == [1.0] * 60 + [2.0] * 90  # later launch wins


def test_session_start_in_a_later_file_purges_the_run_folder(tmp_path):
    event_file(tmp_path / "run", 1000, [simple_event(t, s, 1.0) for s in range(100) for t in ("a", "b")])
    event_file(tmp_path / "run", 2000, [session_start(40)] + [simple_event("a", s, 2.0) for s in range(40, 50)])
    (run,) = iter_runs(str(tmp_path))
    assert run.series["b"].steps.tolist() == list(range(40))
    assert run.series["a"].steps.tolist() == list(range(50))


def test_session_start_stays_within_its_split_folder(tmp_path):
    """train/ and validation/ are separate TensorBoard runs: a restart marker in one leaves the other."""
    event_file(tmp_path / "run" / "train", 1000, [tensor_event("epoch_loss", s, 1.0) for s in range(10)])
    event_file(tmp_path / "run" / "validation", 1001, [tensor_event("epoch_loss", s, 1.0) for s in range(10)])
    event_file(tmp_path / "run" / "train", 1002, [session_start(5)])
    (run,) = iter_runs(str(tmp_path))
    assert len(run.series["train/epoch_loss"]) == 5 and len(run.series["validation/epoch_loss"]) == 10


def test_loaded_series_contract(tmp_path):
    event_file(tmp_path, 1000, [simple_event("x", s, float("nan") if s == 3 else s) for s in (5, 1, 2, 3, 9)])
    (run,) = iter_runs(str(tmp_path))
    x = run.series["x"]
    assert x.steps.dtype == np.int64 and x.values.dtype == np.float64 and x.wall_times.dtype == np.float64
    assert (np.diff(x.steps) > 0).all()
    assert x.steps.tolist() == [1, 2, 3, 9] and np.isnan(x.values[2])


# --------------------------------------------------------------------------- bad files inside a run


def test_truncated_file_reported_and_others_loaded(tmp_path):
    good = loss_file(tmp_path / "run", 1000, range(10))
    bad = loss_file(tmp_path / "run", 2000, range(10, 20))
    bad.write_bytes(bad.read_bytes()[:-7])
    (run,) = iter_runs(str(tmp_path))
    assert run.series["loss"].steps.tolist() == list(range(19))
    assert len(run.errors) == 1
    assert re.fullmatch(
        re.escape(bad.name)
        + r": truncated record at byte \d+ \(file still being written\?\); read 10 records before it",
        run.errors[0],
    ), run.errors
    assert good.exists()


def test_unreadable_file(tmp_path, monkeypatch):
    loss_file(tmp_path / "run", 1000)
    secret = loss_file(tmp_path / "run", 2000, tag="secret")
    if os.geteuid() == 0:  # root ignores permissions: make open() refuse like it would for a user
        real_open = builtins.open

        def refusing_open(file, *args, **kwargs):
            if os.fspath(file) == str(secret):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", refusing_open)
    else:
        secret.chmod(0)
    try:
        (run,) = iter_runs(str(tmp_path))
    finally:
        secret.chmod(0o644)
    assert list(run.series) == ["loss"]
    assert run.errors == [f"{secret.name}: permission denied; skipped"]


def test_file_deleted_between_discovery_and_load(tmp_path):
    loss_file(tmp_path / "run", 1000)
    gone = loss_file(tmp_path / "run", 2000, tag="gone")
    (source,) = discover_runs(str(tmp_path))
    gone.unlink()
    run = load_run(source)
    assert list(run.series) == ["loss"]
    assert run.errors == [f"{gone.name}: file disappeared before it could be read; skipped"]


def test_bad_files_of_every_kind_never_raise(tmp_path):
    run_dir = tmp_path / "run"
    loss_file(run_dir, 1000)
    (run_dir / "events.out.tfevents.2000.empty").write_bytes(b"")
    write_events(run_dir, [], name="events.out.tfevents.3000.header_only")
    (run_dir / "events.out.tfevents.4000.text").write_text("hello " * 100)
    write_raw(run_dir / "events.out.tfevents.5000.bad_proto", serialized([header()]) + [b"\x0a\xff\xff\xff\xff\x0f"])
    (run_dir / "events.out.tfevents.6000.dir").mkdir()  # a folder is not a file: not discovered
    (run,) = iter_runs(str(tmp_path))
    assert list(run.series) == ["loss"]
    assert run.errors == [
        "events.out.tfevents.2000.empty: empty file (no records yet)",
        "events.out.tfevents.3000.header_only: only the file header, no events yet",
        "events.out.tfevents.4000.text: not a TensorBoard event file (bad record checksum at byte 0); skipped",
        "events.out.tfevents.5000.bad_proto: skipped 1 record(s) that are not valid Event protos (first at byte 40)",
    ]


def test_load_run_never_raises_on_unexpected_errors(tmp_path, monkeypatch):
    path = loss_file(tmp_path)

    def boom(*args, **kwargs):
        raise RuntimeError("backend exploded")

    monkeypatch.setattr(loader, "read_event_stream", boom)
    run = load_run(RunSource(".", [(None, str(path))]))
    assert run.series == {} and "backend exploded" in run.errors[0]


def test_logdir_is_not_modified(tmp_path):
    loss_file(tmp_path / "a", 1000)
    loss_file(tmp_path / "a" / "train", 1001)
    bad = loss_file(tmp_path / "b", 1002)
    bad.write_bytes(bad.read_bytes()[:-3])
    before = snapshot(tmp_path)
    runs = list(iter_runs(str(tmp_path)))
    assert [r.name for r in runs] == ["a", "b"]
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- selection and streaming


def test_run_glob(tmp_path):
    for name in ("exp1/train_run", "exp1/other", "exp2/train_run"):
        loss_file(tmp_path / name)
    assert [r.name for r in iter_runs(str(tmp_path), "*/train_run")] == ["exp1/train_run", "exp2/train_run"]
    assert [r.name for r in iter_runs(str(tmp_path), "exp1/*")] == ["exp1/other", "exp1/train_run"]
    assert list(iter_runs(str(tmp_path), "nothing*")) == []


def test_iter_runs_loads_lazily(tmp_path, monkeypatch):
    for i in range(3):
        loss_file(tmp_path / f"r{i}")
    loaded = []
    real = loader.load_run
    monkeypatch.setattr(loader, "load_run", lambda source: loaded.append(source.name) or real(source))
    runs = iter_runs(str(tmp_path))
    assert loaded == []
    next(runs)
    assert loaded == ["r0"]


# --------------------------------------------------------------------------- remote logdirs (fsspec)


@pytest.fixture
def memory_logdir():
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    root = f"/tb_recipe_test_{uuid.uuid4().hex}"
    yield fs, root
    if fs.exists(root):
        fs.rm(root, recursive=True)


def _bytes_of(events) -> bytes:
    return b"".join(frame_record(p) for p in serialized([header(), *events]))


def test_memory_filesystem_logdir(memory_logdir):
    fs, root = memory_logdir
    fs.pipe(f"{root}/run/events.out.tfevents.2000.h", _bytes_of([simple_event("loss", s, 2.0) for s in range(3, 8)]))
    fs.pipe(f"{root}/run/events.out.tfevents.1000.h", _bytes_of([simple_event("loss", s, 1.0) for s in range(5)]))
    fs.pipe(f"{root}/k/train/events.out.tfevents.1.h", _bytes_of([tensor_event("epoch_loss", 0, 0.5)]))
    fs.pipe(f"{root}/k/validation/events.out.tfevents.1.h", _bytes_of([tensor_event("epoch_loss", 0, 0.7)]))
    fs.pipe(f"{root}/events.out.tfevents.1.h", _bytes_of([simple_event("top", 1, 1.0)]))
    fs.pipe(f"{root}/broken/events.out.tfevents.1.h", _bytes_of([simple_event("x", 1, 1.0)])[:-2])
    fs.pipe(f"{root}/readme.md", b"hello")
    runs = {r.name: r for r in iter_runs(f"memory://{root}")}
    assert sorted(runs) == [".", "broken", "k", "run"]
    assert points(runs["run"].series["loss"]) == [
        (0, 1.0),
        (1, 1.0),
        (2, 1.0),
        (3, 2.0),
        (4, 2.0),
        (5, 2.0),
        (6, 2.0),
        (7, 2.0),
    ]
    assert sorted(runs["k"].series) == ["train/epoch_loss", "validation/epoch_loss"]
    assert list(runs["."].series) == ["top"]
    assert "truncated record" in runs["broken"].errors[0]
    assert [r.name for r in iter_runs(f"memory://{root}", "r*")] == ["run"]


def test_memory_filesystem_missing_logdir(memory_logdir):
    _, root = memory_logdir
    with pytest.raises(LogdirError, match="does not exist"):
        discover_runs(f"memory://{root}/absent")


def test_memory_file_vanishing_before_load(memory_logdir):
    fs, root = memory_logdir
    fs.pipe(f"{root}/run/events.out.tfevents.1.h", _bytes_of([simple_event("loss", 1, 1.0)]))
    fs.pipe(f"{root}/run/events.out.tfevents.2.h", _bytes_of([simple_event("gone", 1, 1.0)]))
    (source,) = discover_runs(f"memory://{root}")
    fs.rm(f"{root}/run/events.out.tfevents.2.h")
    run = load_run(source)
    assert list(run.series) == ["loss"] and "disappeared" in run.errors[0]


def test_file_url_logdir_matches_local_path(tmp_path):
    loss_file(tmp_path / "a" / "train", 1000)
    loss_file(tmp_path / "a" / "validation", 1001, value=3.0)
    loss_file(tmp_path / "b", 1000)
    local = list(iter_runs(str(tmp_path)))
    remote = list(iter_runs(tmp_path.as_uri()))
    assert [r.name for r in remote] == [r.name for r in local] == ["a", "b"]
    for lr, rr in zip(local, remote, strict=True):
        assert {k: points(v) for k, v in lr.series.items()} == {k: points(v) for k, v in rr.series.items()}
    assert all(path.startswith("file://") for _, path in discover_runs(tmp_path.as_uri())[0].files)


# --------------------------------------------------------------------------- real public runs

REAL_LOGS = next(
    (
        p
        for p in (Path("/work/shared/reallogs"), Path(__file__).resolve().parents[2] / "shared" / "reallogs")
        if p.is_dir()
    ),
    None,
)
needs_real_logs = pytest.mark.skipif(REAL_LOGS is None, reason="real TensorBoard logs not available")


@pytest.fixture(scope="module")
def real_runs():
    return {run.name: run for run in iter_runs(str(REAL_LOGS))}


@needs_real_logs
def test_real_logs_facts_from_index(real_runs):
    assert len(real_runs) == 16
    assert all(run.errors == [] for run in real_runs.values()), {n: r.errors for n, r in real_runs.items() if r.errors}

    agnews = real_runs["AguLeon__LoRA_RoBERTa_AGNews/runs/run0"]
    assert agnews.series["eval/loss"].steps.tolist() == list(range(100, 1300, 100))
    assert agnews.series["eval/accuracy"].values.min() == pytest.approx(0.2408, abs=1e-4)

    keras = real_runs["TeoKets__Emotion_Recognition_model_Project/logs/20251112-143203"]
    assert len(keras.series["train/epoch_loss"]) == 16
    assert keras.series["train/epoch_loss"].values[-1] == pytest.approx(0.08603, rel=1e-3)
    assert len(keras.series["validation/epoch_loss"]) == 16
    assert keras.series["validation/evaluation_loss_vs_iterations"].steps[-1] == 23648
    assert not any(
        name.startswith("TeoKets__Emotion_Recognition_model_Project/logs/20251112-143203/") for name in real_runs
    )

    empty = real_runs["TeoKets__Emotion_Recognition_model_Project/logs/20251114-231944"]
    assert empty.series == {} and empty.errors == []

    lstm = real_runs["Abdul-AA__Text-Generation-With-LSTM/lightning_logs/version_0"]
    assert len(lstm.series["train_loss"]) == 7691 and len(lstm.series["val_loss"]) == 29
    assert lstm.series["val_loss"].values.min() == pytest.approx(0.253, abs=5e-4)

    erav2 = real_runs["prithsha__erav2-session13/logs/lightning_logs/version_0"]
    assert len(erav2.series["train_loss_epoch"]) == 25 and len(erav2.series["test_acc_step"]) == 20
    assert erav2.series["test_acc_epoch"].steps.tolist() == [2450]  # from the second file

    yolo = real_runs["AmelNozieres__Mushrooms_YOLOv5/runs/train/exp2"]
    assert len(yolo.series["metrics/mAP_0.5"]) == 100 and (yolo.series["val/cls_loss"].values == 0).all()


def _later_wins(pairs: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """EventAccumulator keeps repeated steps (file_version 2 disables its out-of-order purge);
    our contract is unique steps with the later point winning, so its output is put in that form."""
    out: list[tuple[int, float]] = []
    for step, value in pairs:
        while out and out[-1][0] >= step:
            out.pop()
        out.append((step, value))
    return out


def _accumulator_series(folder: str, prefix: str) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    acc = EventAccumulator(folder, size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    out = {prefix + tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in tags["scalars"]}
    for tag in tags["tensors"]:
        if acc.summary_metadata[tag].plugin_data.plugin_name == "scalars":
            out[prefix + tag] = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]
    return out


@needs_real_logs
def test_real_logs_match_event_accumulator(real_runs):
    for source in discover_runs(str(REAL_LOGS)):
        folders = {os.path.dirname(path): f"{split}/" if split else "" for split, path in source.files}
        expected: dict[str, list[tuple[int, float]]] = {}
        for folder, prefix in folders.items():
            expected.update({k: _later_wins(v) for k, v in _accumulator_series(folder, prefix).items()})
        ours = real_runs[source.name].series
        assert sorted(ours) == sorted(expected), source.name
        for key, pairs in expected.items():
            np.testing.assert_array_equal(ours[key].steps, [p[0] for p in pairs], err_msg=f"{source.name} {key}")
            np.testing.assert_array_equal(ours[key].values, [p[1] for p in pairs], err_msg=f"{source.name} {key}")


# --------------------------------------------------------------------------- folders the walk cannot enter

PATH_MAX = 4096


def deep_tree(root: Path, depth_bytes: int = PATH_MAX + 200) -> str:
    """Nested folders whose path from `root` is longer than PATH_MAX, with an event file at the bottom.

    The path cannot be created by name, so each folder is made relative to an open descriptor of its
    parent (mkdir/open with dir_fd). Returns the relative path of the deepest folder.
    """
    names = []
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        while sum(len(n) + 1 for n in names) < depth_bytes:
            name = f"{len(names):02d}" + "d" * 198
            os.mkdir(name, dir_fd=fd)
            sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = sub
            names.append(name)
        data = _bytes_of([simple_event("loss", s, 1.0) for s in range(5)])
        out = os.open("events.out.tfevents.1.deep", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        try:
            os.write(out, data)
        finally:
            os.close(out)
    finally:
        os.close(fd)
    return "/".join(names)


@pytest.fixture
def deep_logdir(tmp_path):
    loss_file(tmp_path / "shallow")
    (tmp_path / "deep").mkdir()
    yield tmp_path, "deep/" + deep_tree(tmp_path / "deep")
    shutil.rmtree(tmp_path / "deep")  # fd-based on Linux: removes paths longer than PATH_MAX


def _deep_run(runs: list, deep_rel: str):
    (deep,) = [r for r in runs if r.name.startswith("deep/")]
    assert deep_rel.startswith(deep.name), "the run is the deepest folder the walk could reach"
    return deep


@pytest.mark.parametrize("as_url", [False, True], ids=["local", "file_url"])
def test_folder_deeper_than_path_max_is_reported_not_dropped(deep_logdir, as_url):
    """Before: the walk's stat of the too-long path failed and the folder vanished from the report
    without a word (only a logger warning, or nothing at all through fsspec)."""
    root, deep_rel = deep_logdir
    runs = list(iter_runs(root.as_uri() if as_url else str(root)))
    assert [r.name for r in runs if not r.name.startswith("deep/")] == ["shallow"]
    deep = _deep_run(runs, deep_rel)
    assert deep.series == {}
    (message,) = deep.errors
    assert "could not be read (its path is longer than the operating system allows" in message
    assert "event files under it, if any, are not in this report" in message
    assert f"({len(deep.name)} characters)" in message  # a 4 kB path is abbreviated in the sentence


def test_unreadable_folder_shows_as_a_no_data_run_in_the_report(deep_logdir, capsys):
    """The message reaches every presenter without any CLI change: the run is `no_data` with it."""
    from tb_recipe_plugin.analysis.analyzer import analyze_run
    from tb_recipe_plugin.cli import main

    root, deep_rel = deep_logdir
    (source,) = [s for s in discover_runs(str(root)) if s.name.startswith("deep/")]
    report = analyze_run(load_run(source))
    assert report.status == "no_data" and "longer than the operating system allows" in report.errors[0]
    main(["analyze", str(root), "--format", "json", "--no-color"])
    assert "longer than the operating system allows" in capsys.readouterr().out


def test_permission_denied_folder_is_reported(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads a chmod 000 folder anyway (see the simulated test below)")
    loss_file(tmp_path / "ok")
    loss_file(tmp_path / "locked" / "run")
    (tmp_path / "locked").chmod(0)
    try:
        runs = {r.name: r for r in iter_runs(str(tmp_path))}
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert sorted(runs) == ["locked", "ok"]
    assert runs["locked"].errors == [
        "folder locked could not be read (Permission denied); event files under it, if any, are not in this report"
    ]


def test_permission_denied_folder_is_reported_simulated(tmp_path, monkeypatch):
    """The same refusal as a non-root user meets, made by the walk's own scandir (runs as root too)."""
    loss_file(tmp_path / "ok")
    loss_file(tmp_path / "locked" / "train")
    real_scandir = os.scandir

    def refuse(path="."):
        if os.fspath(path) == str(tmp_path / "locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(loader.os, "scandir", refuse)
    runs = {r.name: r for r in iter_runs(str(tmp_path))}
    assert sorted(runs) == ["locked", "ok"] and runs["locked"].series == {}
    assert runs["locked"].errors == [
        "folder locked could not be read (Permission denied); event files under it, if any, are not in this report"
    ]


def test_symlink_loops_and_dangling_event_links_are_reported(tmp_path):
    loss_file(tmp_path / "run")
    os.symlink("self", tmp_path / "run" / "self")  # ELOOP on stat
    os.symlink(tmp_path / "gone", tmp_path / "run" / "events.out.tfevents.9.link")
    os.symlink(tmp_path / "missing", tmp_path / "dangling")  # not an event file: nothing to say
    (run,) = iter_runs(str(tmp_path))
    assert list(run.series) == ["loss"]
    assert sorted(run.errors) == [
        "events.out.tfevents.9.link: symbolic link to a missing file; skipped",
        "self: cannot be examined (a loop of symbolic links: Too many levels of symbolic links); skipped",
    ]


def test_memory_filesystem_has_no_path_max(memory_logdir):
    """fsspec's memory:// has no PATH_MAX: a run 5 kB deep is simply read."""
    fs, root = memory_logdir
    deep = "/".join(f"{i:02d}" + "d" * 198 for i in range(25))
    fs.pipe(f"{root}/{deep}/events.out.tfevents.1.h", _bytes_of([simple_event("loss", s, 1.0) for s in range(5)]))
    (run,) = iter_runs(f"memory://{root}")
    assert run.name == deep and run.errors == [] and len(run.series["loss"]) == 5


def test_fsspec_folder_that_cannot_be_listed_is_reported(tmp_path, monkeypatch):
    """Through fsspec (`file://`), whose own walk omits a folder it cannot list without a word."""
    from fsspec.implementations.local import LocalFileSystem

    loss_file(tmp_path / "ok")
    loss_file(tmp_path / "bad" / "run")
    real_ls = LocalFileSystem.ls

    def ls(self, path, detail=False, **kwargs):
        if path.rstrip("/").endswith("/bad"):
            raise PermissionError(13, "Permission denied", path)
        return real_ls(self, path, detail=detail, **kwargs)

    monkeypatch.setattr(LocalFileSystem, "ls", ls)
    runs = {r.name: r for r in iter_runs(tmp_path.as_uri())}
    assert sorted(runs) == ["bad", "ok"] and runs["bad"].series == {}
    assert runs["bad"].errors == [
        "folder bad could not be read (Permission denied); event files under it, if any, are not in this report"
    ]
