"""Does the analysis scale? Wall time and peak RSS on a very long run and on a run with very many tags.

    python benchmarks/scale.py                          # 10M-point batch loss, 1M tags
    python benchmarks/scale.py --points 3000000 --tags 100000
    python benchmarks/scale.py --read                   # also write the long run as an event file and read it
    python benchmarks/scale.py --only points            # one case

Cases (all data built in memory from a fixed seed, so every machine analyses the same run):

- ``points``: one batch-level loss of N points (a noisy exponential decay with a few isolated spikes, as a
  long training job logs it), plus 100-point epoch train/validation losses so that every rule runs.
- ``callback``: a Keras `DiagnosisCallback` run of N/2 steps (per-step batch loss and gradient norm: N points),
  its window and per-layer series (20 layers) every 1000 steps, and epoch losses.
- ``tags``: a run with N tags: the Keras callback's per-layer series (``layer/<stat>/<layer>``, four reads
  each, read steps not aligned across layers) for N/2 tags, and N/2 ordinary tags with loss, metric and
  bookkeeping names, plus the usual epoch losses.
- ``read`` (``--read``): the ``points`` run written as one event file to a temp dir, read with the CLI's
  loader and then analysed.

Each measurement runs in a fresh subprocess so its peak RSS (``VmHWM``) is its own. Every case is paired with a
numpy baseline in its own subprocess: building the same arrays (or reading the file) and nothing else, so the
``x baseline`` columns say what the analysis costs relative to merely holding the data on this machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402

EPOCH_POINTS = 100
READS_PER_LAYER = 4
LAYER_STATS = ("grad_norm", "update_ratio", "dead_fraction", "saturated_fraction", "nonfinite_grad_steps")


# --------------------------------------------------------------------------- data


def long_loss(n: int, seed: int = 0) -> np.ndarray:
    """A noisy decaying batch loss with one spike per million points (at least three)."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, -5.0, n)  # in place from here on: the baseline should hold the data, not temporaries
    np.exp(y, out=y)
    y *= 2.0
    y += 0.3
    noise = rng.standard_normal(n)
    noise *= 0.1
    noise += 1.0
    y *= noise
    del noise
    spikes = rng.choice(np.arange(n // 10, n), size=max(3, n // 1_000_000), replace=False)
    y[spikes] *= 8.0
    return y


def points_run(n: int):
    from tb_recipe_plugin.analysis.series import RunData, Series

    rd = RunData("points")
    rd.series["train_loss_step"] = Series("train_loss_step", np.arange(n, dtype=np.int64), long_loss(n))
    epochs = np.linspace(n // EPOCH_POINTS, n, EPOCH_POINTS).astype(np.int64)
    t = np.linspace(0.0, 1.0, EPOCH_POINTS)
    rd.series["train_loss_epoch"] = Series("train_loss_epoch", epochs, 0.3 + 2.0 * np.exp(-5.0 * t))
    rd.series["val_loss"] = Series("val_loss", epochs, 0.35 + 2.0 * np.exp(-5.0 * t))
    return rd


def callback_run(n: int):
    """A `DiagnosisCallback` run of n/2 steps (batch loss and gradient norm per step: n points), read every 1000."""
    from tb_recipe_plugin import internal_tags as it
    from tb_recipe_plugin.analysis.series import RunData, Series

    rd = RunData("callback")
    steps = max(2000, n // 2)
    per_step = np.arange(1, steps + 1, dtype=np.int64)
    reads = np.arange(1000, steps + 1, 1000, dtype=np.int64)
    grad = long_loss(steps, seed=2)
    grad += 1.0

    def add(tag: str, x: np.ndarray, y: np.ndarray) -> None:
        rd.series["train/" + tag] = Series("train/" + tag, x, y)

    add(it.BATCH_LOSS, per_step, long_loss(steps, seed=1))
    add(it.GRAD_NORM, per_step, grad)
    add(it.LEARNING_RATE, reads, np.full(reads.size, 1e-3))
    zeros = np.zeros(reads.size)
    windows = {
        it.Window.STEPS: np.full(reads.size, 1000.0),
        it.Window.GRAD_NORM_MAX: grad[: reads.size * 1000].reshape(-1, 1000).max(axis=1),
        it.Window.LOSS_MAX: zeros + 3.0,
        it.Window.NONFINITE_LOSS_STEPS: zeros,
        it.Window.NONFINITE_GRAD_STEPS: zeros,
        it.Window.SKIPPED_STEPS: zeros,
    }
    for name, values in windows.items():
        add(it.window_tag(name), reads, values)
    rng = np.random.default_rng(3)
    for i in range(20):
        layer = f"dense_{i}"
        add(it.layer_index_tag(layer), np.array([0]), np.array([float(i)]))
        for stat in it.LayerStat:
            scale = 1e-3 if stat == it.LayerStat.UPDATE_RATIO else 0.1
            add(it.layer_tag(stat, layer), reads, scale * (1.0 + 0.1 * rng.standard_normal(reads.size)))
    for name, value in {"schema_version": 1.0, "num_classes": 10.0, "expected_initial_loss": np.log(10.0)}.items():
        add(it.meta_tag(it.Meta(name)), np.array([0]), np.array([value]))
    t = np.linspace(0.0, 1.0, EPOCH_POINTS)
    epochs = np.linspace(steps // EPOCH_POINTS, steps, EPOCH_POINTS).astype(np.int64)
    rd.series["train/epoch_loss"] = Series("train/epoch_loss", epochs, 0.3 + 2.0 * np.exp(-5.0 * t))
    rd.series["validation/epoch_loss"] = Series("validation/epoch_loss", epochs, 0.35 + 2.0 * np.exp(-5.0 * t))
    return rd


def tags_run(n: int):
    """About n tags: n/2 per-layer callback tags, n/2 ordinary ones."""
    from tb_recipe_plugin import internal_tags as it
    from tb_recipe_plugin.analysis.series import RunData, Series

    rng = np.random.default_rng(1)
    rd = RunData("tags")
    layers = max(1, n // 2 // (len(LAYER_STATS) + 1))
    for i in range(layers):
        name = f"dense_{i}"
        tag = "train/" + it.layer_index_tag(name)
        rd.series[tag] = Series(tag, np.array([0]), np.array([float(i)]))
        offset = i % 7  # read steps differ per layer: TensorBoard sampling, layers added later...
        steps = np.arange(1, READS_PER_LAYER + 1, dtype=np.int64) * 100 + offset
        for stat in LAYER_STATS:
            tag = "train/" + it.layer_tag(it.LayerStat(stat), name)
            rd.series[tag] = Series(tag, steps, rng.random(READS_PER_LAYER) * 0.01)
    kinds = ("probe_{}/loss", "class_{}/accuracy", "head_{}/val_loss", "timing/step_{}_seconds", "misc/value_{}")
    for i in range(n - len(rd.series)):
        tag = kinds[i % len(kinds)].format(i)
        rd.series[tag] = Series(tag, np.arange(3, dtype=np.int64) * 10, rng.random(3))
    t = np.linspace(0.0, 1.0, EPOCH_POINTS)
    epochs = np.arange(EPOCH_POINTS, dtype=np.int64)
    rd.series["train/epoch_loss"] = Series("train/epoch_loss", epochs, 0.3 + 2.0 * np.exp(-5.0 * t))
    rd.series["validation/epoch_loss"] = Series("validation/epoch_loss", epochs, 0.35 + 2.0 * np.exp(-5.0 * t))
    return rd


def write_points_file(logdir: Path, n: int) -> Path:
    """The ``points`` run's long batch loss as one PyTorch-style event file (simple_value, float32)."""
    from tb_recipe_plugin.io.event_reader import frame_record, masked_crc32c

    f32, f64 = struct.Struct("<f"), struct.Struct("<d")

    def varint(v: int) -> bytes:
        out = bytearray()
        while True:
            byte, v = v & 0x7F, v >> 7
            out.append(byte | 0x80 if v else byte)
            if not v:
                return bytes(out)

    def field(number: int, payload: bytes) -> bytes:
        return varint(number << 3 | 2) + varint(len(payload)) + payload

    tag = field(1, b"train_loss_step")
    values = long_loss(n)
    path = logdir / "points" / "events.out.tfevents.1700000000.bench.1.0"
    path.parent.mkdir(parents=True)
    with path.open("wb") as out:
        out.write(frame_record(b"\x09" + f64.pack(1.7e9) + field(3, b"brain.Event:2")))
        chunk = []
        for step in range(n):
            body = tag + b"\x15" + f32.pack(values[step])
            payload = b"\x09" + f64.pack(1.7e9 + step * 1e-3) + b"\x10" + varint(step) + field(5, field(1, body))
            length = struct.pack("<Q", len(payload))
            chunk.append(
                length + struct.pack("<I", masked_crc32c(length)) + payload + struct.pack("<I", masked_crc32c(payload))
            )
            if len(chunk) == 100_000:
                out.write(b"".join(chunk))
                chunk = []
        out.write(b"".join(chunk))
    return path


# --------------------------------------------------------------------------- one measurement (child process)


def _peak_rss_mb() -> float:
    """VmHWM of this process (Linux); ru_maxrss elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)


def measure(case: str, n: int, logdir: str | None) -> dict[str, object]:
    """Time one case in this fresh process; the clock covers the analysed work only, not data building."""
    from tb_recipe_plugin.analysis.analyzer import analyze_run

    builders = {"points": points_run, "callback": callback_run, "tags": tags_run}
    kind, _, mode = case.partition(":")
    note = ""
    clock = _Clock()
    if kind == "read":
        from tb_recipe_plugin.io.loader import iter_runs

        with clock:
            runs = list(iter_runs(logdir))
        if mode == "analyze":
            with clock:
                reports = [analyze_run(rd) for rd in runs]
            note = _summary(reports[0])
    else:
        with clock if mode == "baseline" else _Clock():
            rd = builders[kind](n)
        if mode != "baseline":
            with clock:
                note = _summary(analyze_run(rd))
    return {"case": case, "n": n, "seconds": clock.wall, "cpu": clock.cpu, "peak_rss_mb": _peak_rss_mb(), "note": note}


class _Clock:
    """Wall and CPU seconds summed over the `with` blocks; CPU time is the steadier figure on a shared machine."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> _Clock:
        self._start = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._start[0]
        self.cpu += time.process_time() - self._start[1]


def _summary(report) -> str:
    codes = ",".join(sorted(f.code for f in report.findings)) or "-"
    errors = f" ANALYSIS ERRORS: {report.analysis_errors}" if report.analysis_errors else ""
    return f"status {report.status}; findings {codes}{errors}"


def _child(case: str, n: int, logdir: str | None) -> dict[str, object] | None:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", case, "--n", str(n)]
    if logdir:
        cmd += ["--logdir", logdir]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        print(f"  {case}: failed ({tail[0]})", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report


def _row(label: str, result: dict | None, baseline: dict | None) -> None:
    if result is None:
        print(f"{label:<34}failed")
        return
    ratio_t = ratio_m = "-"
    if baseline is not None and result is not baseline:
        ratio_t = f"{result['cpu'] / max(baseline['cpu'], 1e-9):.1f}x"
        ratio_m = f"{result['peak_rss_mb'] / baseline['peak_rss_mb']:.2f}x"
    print(
        f"{label:<34}{result['n']:>12,}{result['seconds']:>9.2f}{result['cpu']:>8.2f}{ratio_t:>12}"
        f"{result['peak_rss_mb']:>10.0f} MB{ratio_m:>12}   {result['note']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000_000, help="points of the long run (default 10M)")
    parser.add_argument("--tags", type=int, default=1_000_000, help="tags of the wide run (default 1M)")
    parser.add_argument("--read", action="store_true", help="also write the long run to an event file and read it")
    parser.add_argument("--only", choices=("points", "callback", "tags", "read"), help="run one case")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: child process mode
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--logdir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.n, args.logdir)))
        return 0

    print(f"{'case':<34}{'size':>12}{'wall s':>9}{'cpu s':>8}{'x baseline':>12}{'peak RSS':>13}{'x baseline':>12}")
    cases = [c for c in ("points", "callback", "tags") if args.only in (None, c)]
    for case in cases:
        n = args.tags if case == "tags" else args.points
        baseline = _child(f"{case}:baseline", n, None)
        _row(f"{case}: build arrays (baseline)", baseline, None)
        _row(f"{case}: analyze_run", _child(f"{case}:analyze", n, None), baseline)
    if args.read or args.only == "read":
        tmp = tempfile.mkdtemp(prefix="tb_recipe_scale_")
        try:
            start = time.perf_counter()
            path = write_points_file(Path(tmp), args.points)
            print(f"(wrote {path.stat().st_size / 2**20:.0f} MB event file in {time.perf_counter() - start:.0f} s)")
            baseline = _child("read:only", args.points, tmp)
            _row("read: load event file (baseline)", baseline, None)
            _row("read: load + analyze_run", _child("read:analyze", args.points, tmp), baseline)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(
        "\nwall s / cpu s: the measured step only (x baseline compares CPU seconds, steadier on a shared machine);"
        "\npeak RSS: the whole measuring process, interpreter, numpy and the data included"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
