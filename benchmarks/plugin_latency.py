"""Latency of the Diagnosis tab's routes in a real `tensorboard` process.

Generates a logdir of 200 runs (train/val loss, accuracy, LR; 300 epochs each,
some with NaN or overfitting), starts `tensorboard --logdir` on a free
loopback port, and times, cold (first request: reads and analyses every run)
and warm (cached, data unchanged):
  - the run list (`/data/plugin/tb_recipe/runs`),
  - one run's diagnosis and series,
and, as the peer in the same process, TensorBoard's own scalars tag listing
(`/data/plugin/scalars/tags`). Target: warm answers under 300 ms.

    python benchmarks/plugin_latency.py [--runs 200] [--points 300]
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter


def write_logdir(root: Path, runs: int, points: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(runs):
        t = np.linspace(0, 1, points)
        train = 0.2 + 2 * np.exp(-5 * t) + 0.01 * rng.standard_normal(points)
        val = train * 1.1 + (0.8 * np.clip(t - 0.4, 0, None) if i % 3 == 0 else 0)
        if i % 7 == 0:
            train[points // 2 :] = math.nan
        tags = {"Loss/train": train, "Loss/val": val, "Accuracy/val": 1 - val / 3, "lr": np.full(points, 1e-3)}
        writer = EventFileWriter(str(root / f"exp{i // 20:02d}" / f"run{i:03d}"))
        for step in range(points):
            values = [summary_pb2.Summary.Value(tag=tag, simple_value=float(v[step])) for tag, v in tags.items()]
            writer.add_event(
                event_pb2.Event(step=step, wall_time=1.0 + step, summary=summary_pb2.Summary(value=values))
            )
        writer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(url: str) -> tuple[float, object]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as response:
        body = json.load(response)
    return (time.perf_counter() - start) * 1000, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--points", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=10, help="warm requests per route")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        logdir = Path(tmp) / "logs"
        write_logdir(logdir, args.runs, args.points)
        port = free_port()
        exe = Path(sys.executable).parent / "tensorboard"
        proc = subprocess.Popen(
            [str(exe), "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}/data/plugin"
        try:
            deadline = time.time() + 300
            while True:  # wait until TensorBoard has loaded every run
                try:
                    _, tags = timed(f"{base}/scalars/tags")
                    if len(tags) >= args.runs:
                        break
                except OSError:
                    pass
                if time.time() > deadline or proc.poll() is not None:
                    sys.exit("tensorboard did not load the logdir in time")
                time.sleep(1)
            run = "exp00/run000"
            routes = {
                "run list": f"{base}/tb_recipe/runs",
                "diagnosis": f"{base}/tb_recipe/diagnosis?run={run}",
                "series": f"{base}/tb_recipe/series?run={run}",
                "peer: scalars/tags": f"{base}/scalars/tags",
            }
            print(f"{args.runs} runs x 4 tags x {args.points} points; tensorboard on port {port}\n")
            print(f"{'route':22s} {'cold ms':>9s} {'warm median ms':>15s} {'warm max ms':>12s}")
            warm_medians = {}
            for name, url in routes.items():
                cold, _ = timed(url)
                warm = [timed(url)[0] for _ in range(args.repeat)]
                warm_medians[name] = statistics.median(warm)
                print(f"{name:22s} {cold:9.1f} {warm_medians[name]:15.1f} {max(warm):12.1f}")
            peer = warm_medians["peer: scalars/tags"]
            print()
            for name in ("run list", "diagnosis", "series"):
                verdict = "ok" if warm_medians[name] < 300 else "OVER 300 ms"
                print(f"warm {name}: {warm_medians[name] / peer:.1f}x the scalars tag listing ({verdict})")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
