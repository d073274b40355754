"""How long does a sweep of many small runs take, by worker count, and beside TensorBoard loading the same logdir?

    python benchmarks/sweep_speed.py                   # 2,000 runs in a temp dir, then deleted
    python benchmarks/sweep_speed.py --runs 500        # fewer runs
    python benchmarks/sweep_speed.py --logdir DIR      # generate into DIR (kept) or reuse it

Each run is a PyTorch-style folder named by its hyperparameters (``lr=0.01,bs=64,seed=3``) with a training and a
validation loss of 30 epochs, the size of a typical sweep trial's scalars. Measured, each in a fresh subprocess so
imports are excluded from the clock but not the worker start-up:

- `tb-recipe sweep` (reading, per-run analysis, the sweep analysis) with 1 process and with one per core;
- TensorBoard's `EventMultiplexer` loading the same logdir (what `tensorboard --logdir` does before its HParams tab
  can list a single session), with the peak memory of each.

Issue 10's target: 2,000 runs in under 10 s on this 2-core machine. The script prints ratios; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0)
BATCHES = (16, 32, 64, 128, 256)


def generate(root: Path, runs: int) -> None:
    import numpy as np
    from tensorboard.compat.proto import event_pb2, summary_pb2

    from tb_recipe_plugin.io.event_reader import frame_record

    for i in range(runs):
        lr, bs, seed = LRS[i % len(LRS)], BATCHES[i // len(LRS) % len(BATCHES)], i // (len(LRS) * len(BATCHES))
        folder = root / f"lr={lr},bs={bs},seed={seed}"
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(i)
        floor = 0.2 + 0.3 * abs(np.log10(lr) + 2.5) + 0.02 * rng.standard_normal()
        t = np.arange(30)
        train = floor * 0.8 + 2.0 * np.exp(-t / 5)
        val = floor + 2.0 * np.exp(-t / 5) + 0.01 * rng.standard_normal(30)
        if lr >= 1.0:
            val[10:] = np.nan
            train[10:] = np.nan
        records = [event_pb2.Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString()]
        for step in range(30):
            for tag, v in (("Loss/train", train[step]), ("Loss/val", val[step])):
                summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(v))])
                records.append(event_pb2.Event(step=step, wall_time=1.0 + step, summary=summary).SerializeToString())
        (folder / "events.out.tfevents.1.bench").write_bytes(b"".join(frame_record(r) for r in records))


CHILD = {
    "sweep": """
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from tb_recipe_plugin.cli import sweep_logdir
t = time.perf_counter()
sweeps = sweep_logdir({logdir!r}, None, None, False, jobs={jobs})
s = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({{"seconds": s, "rss_mb": rss / 1024, "sweeps": len(sweeps),
                   "runs": sum(len(x.runs) for x in sweeps)}}))
""",
    "tensorboard": """
import json, resource, sys, time
from tensorboard.backend.event_processing import plugin_event_multiplexer as pem
t = time.perf_counter()
mux = pem.EventMultiplexer(tensor_size_guidance={{"scalars": 1000}})
mux.AddRunsFromDirectory({logdir!r})
mux.Reload()
s = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": s, "rss_mb": rss / 1024, "sweeps": 0, "runs": len(mux.Runs())}}))
""",
}


def measure(kind: str, logdir: Path, jobs: int = 1) -> dict:
    code = CHILD[kind].format(repo=str(HERE.parent), logdir=str(logdir), jobs=jobs)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--logdir", type=Path)
    args = parser.parse_args()
    root = args.logdir or Path(tempfile.mkdtemp(prefix="tb-recipe-sweep-"))
    try:
        if not any(root.glob("*/events.out.tfevents.*")):
            generate(root, args.runs)
        cores = os.cpu_count() or 1
        rows = [("tb-recipe sweep, 1 process", measure("sweep", root, 1))]
        if cores > 1:
            rows.append((f"tb-recipe sweep, {cores} processes", measure("sweep", root, cores)))
        rows.append(("TensorBoard EventMultiplexer load", measure("tensorboard", root)))
        print(f"{args.runs} runs in {root}")
        for name, r in rows:
            print(f"  {name:<38} {r['seconds']:7.2f} s  peak RSS {r['rss_mb']:7.1f} MB  runs {r['runs']}")
        base = rows[-1][1]["seconds"]
        for name, r in rows[:-1]:
            print(f"  {name}: {r['seconds'] / base:.2f}x TensorBoard's load time")
    finally:
        if args.logdir is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
