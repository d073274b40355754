"""How long does `tb-recipe sweep` take on a sweep of many small runs, and in how much memory, beside TensorBoard's
HParams plugin answering for the same logdir?

    python benchmarks/sweep_speed.py                   # 2,000 runs (and a 500-run copy) in a temp dir, then deleted
    python benchmarks/sweep_speed.py --runs 500        # fewer runs (the copy has a quarter of them)
    python benchmarks/sweep_speed.py --logdir DIR      # generate into DIR (kept) or reuse it
    python benchmarks/sweep_speed.py --repeat 3        # each measurement 3 times, the fastest kept
    python benchmarks/sweep_speed.py --without-tensorflow  # TensorBoard as installed without TensorFlow

The logdir is laid out as TensorFlow's HParams API writes a sweep: ``_hparams_/experiment`` at the root (lr, bs and
seed; metrics Loss/train and Loss/val), and per run a ``_hparams_/session_start_info`` with its values beside a
training and a validation loss of 30 epochs (the size of a typical trial's scalars); the run folders are also named
by their hyperparameters (``lr=0.01,bs=64,seed=3``), as PyTorch users do. Both tools read the values from the
HParams data (tb-recipe prefers it to the folder name; the script counts how many runs it got them from).

Each measurement runs in a fresh subprocess. The clock starts after the imports (TensorFlow included: TensorBoard
imports it at start-up when it is installed; SciPy included: tb-recipe imports it on the first run it analyses)
and stops when the whole answer is in memory; the wall time of the whole process, imports included, is printed
beside it.

- `tb-recipe sweep` (`sweep_logdir`) with ``--jobs 1`` (one process) and one worker process per core: reading
  and analysing every run, the sweep analysis, the JSON report rendered.
- TensorBoard's HParams plugin as ``tensorboard --logdir DIR --load_fast=false`` builds it (`EventMultiplexer` +
  `MultiplexerDataProvider`, ``Reload()``), then the two requests its HParams tab makes (``/experiment``, then
  ``/session_groups`` with every hyperparameter and metric as a column), sent to the plugin's WSGI apps. The
  session groups are asked for all at once (the tab asks for a page of 100; the server computes all either way).
- The same plugin on TensorBoard's default loader (``--load_fast=auto``): the Rust data server, which
  ``tensorboard`` starts as a subprocess when it is installed (`tensorboard-data-server`). It loads in the
  background, so ``/session_groups`` is asked every 50 ms until it lists every session with both metrics at the
  last epoch.

Peak RSS is each process's own high-water mark: the main process, and separately the largest child (a tb-recipe
worker, or TensorBoard's data server). "after imports" is the main process's peak before the clock starts. The
second logdir, a quarter of the runs, checks that tb-recipe's peak follows the largest run, not the run count.

Issue 10's target: 2,000 runs in under 10 s on this 2-core machine. The script prints ratios; nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0)
BATCHES = (16, 32, 64, 128, 256)
EPOCHS = 30
METRICS = ("Loss/train", "Loss/val")
STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]
POLL_SECONDS = 0.05
NO_TENSORFLOW = "SWEEP_SPEED_WITHOUT_TENSORFLOW"


# --------------------------------------------------------------------------- data


def generate(root: Path, runs: int) -> None:
    """`runs` trials of a grid over lr x bs, repeated with a new seed, in TensorFlow's HParams layout."""
    import numpy as np
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    from tb_recipe_plugin.io.event_reader import frame_record

    def hparams_summary(tag: str, data: plugin_data_pb2.HParamsPluginData) -> summary_pb2.Summary:
        # what tensorboard.plugins.hparams.summary_v2.hparams_pb / hparams_config_pb return, without TensorFlow
        value = summary_pb2.Summary.Value(
            tag=tag, metadata=metadata.create_summary_metadata(data), tensor=metadata.NULL_TENSOR
        )
        return summary_pb2.Summary(value=[value])

    def write(path: Path, events: list) -> None:
        records = [event_pb2.Event(wall_time=1.0, file_version="brain.Event:2")] + events
        path.write_bytes(b"".join(frame_record(e.SerializeToString()) for e in records))

    root.mkdir(parents=True, exist_ok=True)
    number = api_pb2.DATA_TYPE_FLOAT64
    experiment = api_pb2.Experiment(
        time_created_secs=1.0,
        hparam_infos=[api_pb2.HParamInfo(name=name, type=number) for name in ("lr", "bs", "seed")],
        metric_infos=[api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag)) for tag in METRICS],
    )
    config = hparams_summary(metadata.EXPERIMENT_TAG, plugin_data_pb2.HParamsPluginData(experiment=experiment))
    write(root / "events.out.tfevents.0.bench", [event_pb2.Event(wall_time=1.0, summary=config)])
    t = np.arange(EPOCHS)
    for i in range(runs):
        lr, bs, seed = LRS[i % len(LRS)], BATCHES[i // len(LRS) % len(BATCHES)], i // (len(LRS) * len(BATCHES))
        folder = root / f"lr={lr},bs={bs},seed={seed}"
        folder.mkdir(parents=True, exist_ok=True)
        values = {"lr": lr, "bs": bs, "seed": seed}
        group = hashlib.sha256(json.dumps(values, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        start = plugin_data_pb2.SessionStartInfo(group_name=group, start_time_secs=1.0)  # summary_v2's group name
        for name, value in values.items():
            start.hparams[name].number_value = value
        session = hparams_summary(
            metadata.SESSION_START_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_start_info=start)
        )
        events = [event_pb2.Event(wall_time=1.0, summary=session)]
        rng = np.random.default_rng(i)
        floor = 0.2 + 0.3 * abs(np.log10(lr) + 2.5) + 0.02 * rng.standard_normal()
        train = floor * 0.8 + 2.0 * np.exp(-t / 5)
        val = floor + 2.0 * np.exp(-t / 5) + 0.01 * rng.standard_normal(EPOCHS)
        if lr >= 1.0:
            val[10:] = np.nan
            train[10:] = np.nan
        for step in range(EPOCHS):
            for tag, v in zip(METRICS, (train[step], val[step]), strict=True):
                summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(v))])
                events.append(event_pb2.Event(step=step, wall_time=1.0 + step, summary=summary))
        write(folder / "events.out.tfevents.1.bench", events)


# --------------------------------------------------------------------------- measured, each in its own process


def _peak_mb(who: int) -> float:
    import resource

    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


def _import_lazy_modules() -> None:
    """What tb-recipe imports on the first run it analyses, so that its clock too starts after the imports."""
    import scipy.ndimage  # noqa: F401 - curves.py, lazily
    import scipy.stats  # noqa: F401
    from tensorboard.compat.proto import event_pb2  # noqa: F401 - the event reader
    from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: F401 - sweep/hparams.py


def child_sweep(logdir: str, jobs: int) -> dict:
    import io
    import resource

    from tb_recipe_plugin import runner  # noqa: F401 - imported before the clock, as the CLI has it by then
    from tb_recipe_plugin.analysis import analyzer  # noqa: F401
    from tb_recipe_plugin.cli import sweep_logdir
    from tb_recipe_plugin.io import loader  # noqa: F401
    from tb_recipe_plugin.present.sweep_report import SWEEP_FORMATS
    from tb_recipe_plugin.sweep import analysis, hparams  # noqa: F401

    _import_lazy_modules()
    after_imports = _peak_mb(resource.RUSAGE_SELF)
    start = time.perf_counter()
    sweeps = sweep_logdir(logdir, None, None, False, jobs=jobs)
    out = io.StringIO()
    SWEEP_FORMATS["json"](sweeps, logdir, "en", out, False)
    seconds = time.perf_counter() - start
    runs = [r for s in sweeps for r in s.runs]
    return {
        "seconds": seconds,
        "rss_mb": _peak_mb(resource.RUSAGE_SELF),
        "after_imports_mb": after_imports,
        "child_rss_mb": _peak_mb(resource.RUSAGE_CHILDREN),  # the largest worker (all are reaped by now)
        "sessions": len(runs),
        "from_plugin_data": sum(r.hparams_source == "hparams_plugin" for r in runs),
        "answer_bytes": len(out.getvalue().encode()),
    }


def _hparams_tab(apps: dict, slice_size: int) -> tuple[dict, bytes]:
    """The HParams tab's requests: the experiment, then the session groups with every hparam and metric as a column."""
    from werkzeug.test import Client

    experiment = json.loads(Client(apps["/experiment"]).post("/", data=json.dumps({"experimentName": ""})).data)
    columns = [{"hparam": h["name"], "includeInResult": True} for h in experiment.get("hparamInfos", [])]
    columns += [{"metric": m["name"], "includeInResult": True} for m in experiment.get("metricInfos", [])]
    request = {
        "experimentName": "",
        "allowedStatuses": STATUSES,
        "colParams": columns,
        "startIndex": 0,
        "sliceSize": slice_size,
    }
    body = Client(apps["/session_groups"]).post("/", data=json.dumps(request)).data
    return json.loads(body), body


def _sessions(groups: dict) -> tuple[int, int]:
    """Sessions listed, and of those how many have every metric's value at the last epoch."""
    sessions = [s for g in groups.get("sessionGroups", []) for s in g["sessions"]]
    complete = sum(
        len(s.get("metricValues", [])) == len(METRICS)
        and all(int(m.get("trainingStep", -1)) == EPOCHS - 1 for m in s["metricValues"])
        for s in sessions
    )
    return len(sessions), complete


def _import_tensorflow_as_tensorboard_does() -> None:
    if os.environ.get(NO_TENSORFLOW):
        sys.modules["tensorflow"] = None  # type: ignore[assignment] # import fails: TensorBoard uses its stub
    from tensorboard.compat import tf

    getattr(tf, "__version__", "stub")  # what LocalDataIngester does at start-up: imports TensorFlow if installed


def _vm_hwm_mb(pid: int) -> float:
    """The peak RSS of a running process (the data server: its ru_maxrss would include the Python it forked from)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _children(pid: int) -> list[int]:
    return [int(c) for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()]


def child_tensorboard(logdir: str, expected: int) -> dict:
    import resource

    from tensorboard.backend.event_processing import data_ingester, data_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer as pem
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import hparams_plugin

    _import_tensorflow_as_tensorboard_does()
    after_imports = _peak_mb(resource.RUSAGE_SELF)
    start = time.perf_counter()
    # as data_ingester.LocalDataIngester builds it with tensorboard's default flags
    multiplexer = pem.EventMultiplexer(
        size_guidance=data_ingester.DEFAULT_SIZE_GUIDANCE,
        tensor_size_guidance=data_ingester.DEFAULT_TENSOR_SIZE_GUIDANCE,
        purge_orphaned_data=True,
        max_reload_threads=1,
    )
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, logdir)
    context = base_plugin.TBContext(
        data_provider=provider, multiplexer=multiplexer, logdir=logdir, plugin_name_to_instance={}
    )
    groups, body = _hparams_tab(hparams_plugin.HParamsPlugin(context).get_plugin_apps(), max(expected, 1))
    seconds = time.perf_counter() - start
    sessions, complete = _sessions(groups)
    return {
        "seconds": seconds,
        "rss_mb": _peak_mb(resource.RUSAGE_SELF),
        "after_imports_mb": after_imports,
        "child_rss_mb": 0.0,
        "sessions": sessions,
        "complete": complete,
        "groups": int(groups.get("totalSize", 0)),
        "answer_bytes": len(body),
    }


def child_tensorboard_fast(logdir: str, expected: int) -> dict:
    import resource

    from tensorboard.data import server_ingester
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import hparams_plugin
    from tensorboard.util import grpc_util

    _import_tensorflow_as_tensorboard_does()
    binary = server_ingester.get_server_binary()  # raises NoDataServerError without tensorboard-data-server
    after_imports = _peak_mb(resource.RUSAGE_SELF)
    start = time.perf_counter()
    # as tensorboard's program.TensorBoard._start_subprocess_data_ingester with the default flags
    ingester = server_ingester.SubprocessServerDataIngester(
        server_binary=binary, logdir=logdir, reload_interval=0, channel_creds_type=grpc_util.ChannelCredsType.LOCAL
    )
    ingester.start()
    context = base_plugin.TBContext(data_provider=ingester.data_provider, logdir=logdir, plugin_name_to_instance={})
    apps = hparams_plugin.HParamsPlugin(context).get_plugin_apps()
    polls = 0
    while True:
        polls += 1
        groups, body = _hparams_tab(apps, max(expected, 1))
        sessions, complete = _sessions(groups)
        if complete >= expected or time.perf_counter() - start > 600:
            break
        time.sleep(POLL_SECONDS)
    seconds = time.perf_counter() - start
    server = max((_vm_hwm_mb(pid) for pid in _children(os.getpid())), default=0.0)
    ingester._stdin_handle.close()  # the server was started with --die-after-stdin
    return {
        "seconds": seconds,
        "rss_mb": _peak_mb(resource.RUSAGE_SELF),
        "after_imports_mb": after_imports,
        "child_rss_mb": server,
        "sessions": sessions,
        "complete": complete,
        "groups": int(groups.get("totalSize", 0)),
        "answer_bytes": len(body),
        "polls": polls,
    }


CHILDREN: dict[str, Callable[..., dict]] = {
    "sweep": child_sweep,
    "tensorboard": child_tensorboard,
    "tensorboard_fast": child_tensorboard_fast,
}


def measure(kind: str, logdir: Path, arg: int, repeat: int, without_tensorflow: bool = False) -> dict:
    """The fastest of `repeat` runs of `kind` in a fresh process, with that process's whole wall time."""
    best: dict | None = None
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if without_tensorflow:
        env[NO_TENSORFLOW] = "1"
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "--child", kind, str(logdir), str(arg)],
            capture_output=True,
            text=True,
            env=env,
        )
        process = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{kind} failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1]) | {"process_seconds": process}
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    assert best is not None
    return best


def has_data_server() -> bool:
    try:
        from tensorboard.data import server_ingester

        server_ingester.get_server_binary()
    except Exception:  # noqa: BLE001 - NoDataServerError, or an older TensorBoard without it
        return False
    return True


# --------------------------------------------------------------------------- report


def _row(name: str, r: dict) -> str:
    child = f" + {r['child_rss_mb']:5.0f} MB" if r["child_rss_mb"] else " " * 11
    return (
        f"  {name:<40} {r['seconds']:6.2f} s  (process {r['process_seconds']:5.2f} s)  "
        f"peak RSS {r['rss_mb']:5.0f} MB{child}  (after imports {r['after_imports_mb']:4.0f} MB)"
    )


def _counts(r: dict) -> str:
    if "from_plugin_data" in r:
        return f"{r['sessions']} runs with hyperparameters, {r['from_plugin_data']} of them from HParams data"
    polls = f" (after {r['polls']} request{'s' * (r['polls'] != 1)})" if "polls" in r else ""
    return (
        f"{r['groups']} session groups, {r['sessions']} sessions, {r['complete']} with both metrics' last values"
        + polls
    )


PYTHON_LOADER = "TensorBoard HParams, Python loader"
RUST_LOADER = "TensorBoard HParams, Rust data server"


def table(label: str, logdir: Path, runs: int, args: argparse.Namespace, fast: bool) -> dict[str, dict]:
    cores = os.cpu_count() or 1
    rows = {"tb-recipe sweep --jobs 1": measure("sweep", logdir, 1, args.repeat)}
    if cores > 1:
        rows[f"tb-recipe sweep --jobs {cores}"] = measure("sweep", logdir, cores, args.repeat)
    rows[PYTHON_LOADER] = measure("tensorboard", logdir, runs, args.repeat, args.without_tensorflow)
    if fast:
        rows[RUST_LOADER] = measure("tensorboard_fast", logdir, runs, args.repeat, args.without_tensorflow)
    print(f"\n{label}: {runs} runs ({logdir})")
    for name, r in rows.items():
        print(_row(name, r))
    print("  what each saw:")
    for name, r in rows.items():
        print(f"    {name:<40} {_counts(r)}")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--logdir", type=Path)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each measurement; the fastest is kept")
    parser.add_argument(
        "--without-tensorflow",
        action="store_true",
        help="TensorBoard as installed without TensorFlow (its import is blocked: the stub and Python reader)",
    )
    parser.add_argument("--child", nargs=3, metavar=("KIND", "LOGDIR", "ARG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, logdir, arg = args.child
        print(json.dumps(CHILDREN[kind](logdir, int(arg))))
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="tb-recipe-sweep-"))
    root = args.logdir or tmp / "all"
    try:
        if not any(root.glob("*/events.out.tfevents.*")):
            generate(root, args.runs)
        runs = sum(1 for p in root.iterdir() if p.is_dir())
        small_runs = max(runs // 4, 1)
        generate(tmp / "quarter", small_runs)
        fast = has_data_server()
        if not fast:
            print("(tensorboard-data-server is not installed: TensorBoard's default loader is the Python one)")
        print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} before measuring")
        if args.without_tensorflow:
            print("TensorBoard measured without TensorFlow (import blocked)")
        full = table("Sweep", root, runs, args, fast)
        part = table("A quarter of it", tmp / "quarter", small_runs, args, fast)
        print(f"load average {os.getloadavg()[0]:.2f} after measuring")

        print(f"\nTime to the answer, {runs} runs (clock after imports):")
        peers = [name for name in full if name.startswith("TensorBoard")]
        for name, r in full.items():
            if not name.startswith("TensorBoard"):
                ratios = "; ".join(f"{r['seconds'] / full[p]['seconds']:.2f}x the time of {p[12:]}" for p in peers)
                print(f"  {name}: {ratios}")
        print(f"\nPeak RSS, {small_runs} -> {runs} runs (main process; largest child):")
        for name, r in full.items():
            q = part[name]
            child = f";  {q['child_rss_mb']:4.0f} -> {r['child_rss_mb']:4.0f} MB" if r["child_rss_mb"] else ""
            grew = r["rss_mb"] - r["after_imports_mb"]
            print(f"  {name:<40} {q['rss_mb']:5.0f} -> {r['rss_mb']:5.0f} MB ({grew:+.0f} MB over imports){child}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
