"""How fast does the CLI read scalars compared with TensorBoard's own loaders?

    python benchmarks/read_speed.py                      # 4M scalars in a temp dir, then deleted
    python benchmarks/read_speed.py --scalars 1000000    # smaller / larger logdir
    python benchmarks/read_speed.py --logdir DIR         # generate into DIR (kept) or reuse it
    python benchmarks/read_speed.py --skip tbparse       # leave a reader out
    python benchmarks/read_speed.py --damaged            # resync speed over garbage, zeros, a bogus length

Why a synthetic logdir: real logs small enough to share read in milliseconds,
which measures start-up, not throughput. The generated logdir mixes the layouts
the reader must handle: PyTorch-style `simple_value` runs, TF2/Keras-style tensor
runs split into `train/` and `validation/` folders, many tags, one event per
scalar as the real writers do. Records are framed here with our own CRC code,
so generating 4M scalars takes seconds, not a TensorFlow training loop.

Each reader is measured in its own fresh subprocess, so import time is
excluded, the peak RSS (`ru_maxrss`) belongs to that reader alone and no
reader benefits from another's warm caches (the page cache is shared: every
reader sees the files hot).
"""

from __future__ import annotations

import argparse
import json
import os
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

from tb_recipe_plugin.io.event_reader import frame_record, masked_crc32c  # noqa: E402

READERS = ("ours", "event_accumulator", "tbparse")
MARKER = ".read_speed.json"
_F64 = struct.Struct("<d")
_F32 = struct.Struct("<f")


# --------------------------------------------------------------------------- generation


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """Length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _event(wall: float, step: int, summary_value: bytes) -> bytes:
    """Serialized `Event{wall_time, step, summary{value}}`, laid out as protobuf writes it."""
    step_field = b"\x10" + _varint(step) if step else b""  # proto3 omits a zero step
    return b"\x09" + _F64.pack(wall) + step_field + _field(5, _field(1, summary_value))


def _header(wall: float) -> bytes:
    return b"\x09" + _F64.pack(wall) + _field(3, b"brain.Event:2")


def _simple_value(tag: bytes, value: float) -> bytes:
    return _field(1, tag) + b"\x15" + _F32.pack(value)


_SCALAR_METADATA = _field(9, _field(1, _field(1, b"scalars")) + b"\x20\x01")  # plugin_data + DATA_CLASS_SCALAR
_FLOAT_SCALAR_HEAD = b"\x08\x01\x12\x00\x22\x04"  # dtype DT_FLOAT, shape {}, tensor_content of 4 bytes


def _tensor_value(tag: bytes, value: float, first: bool) -> bytes:
    """TF2 `tf.summary.scalar`: metadata only on the first value of a tag, float32 in tensor_content."""
    tensor = _field(8, _FLOAT_SCALAR_HEAD + _F32.pack(value))
    return _field(1, tag) + (_SCALAR_METADATA if first else b"") + tensor


def _write_file(path: Path, tags: list[str], steps: int, tensor_style: bool, seed: int) -> int:
    """One event file, step-major like a training loop; returns the number of scalars written.

    The first step goes through the plain encoders (metadata, zero step); later
    records only vary in wall time, step and value, so everything else is
    pre-encoded per tag and the record header is cached per payload length.
    """
    tag_bytes = [t.encode() for t in tags]
    wall0 = 1.7e9 + seed
    records = [frame_record(_header(wall0))]
    for k, tag in enumerate(tag_bytes):
        payload = _tensor_value(tag, 1.0 + 0.01 * k, True) if tensor_style else _simple_value(tag, 1.0 + 0.01 * k)
        records.append(frame_record(_event(wall0, 0, payload)))
    # Payload = wall field + step field + summary head (per tag) + 4 value bytes.
    heads = []
    for tag in tag_bytes:
        body = _tensor_value(tag, 0.0, False) if tensor_style else _simple_value(tag, 0.0)
        heads.append(_varint(5 << 3 | 2) + _varint(len(body) + 2) + b"\x0a" + _varint(len(body)) + body[:-4])
    frame_head: dict[int, bytes] = {}
    crc = masked_crc32c
    for step in range(1, steps):
        prefix = b"\x09" + _F64.pack(wall0 + step * 0.01) + b"\x10" + _varint(step)
        base = 1.0 / (1.0 + 0.001 * step)
        for k, head in enumerate(heads):
            payload = prefix + head + _F32.pack(base + 0.01 * k)
            size = len(payload)
            header = frame_head.get(size)
            if header is None:
                length = struct.pack("<Q", size)
                header = frame_head[size] = length + struct.pack("<I", crc(length))
            records.append(header + payload + struct.pack("<I", crc(payload)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(records))
    return steps * len(tag_bytes)


def generate(logdir: Path, scalars: int, runs: int = 20, tags: int = 20) -> int:
    """Half the runs PyTorch-style (one folder), half Keras-style (train/ + validation/ folders)."""
    steps = max(1, scalars // (runs * tags))
    total = 0
    for r in range(runs):
        tensor_style = r % 2 == 1
        if tensor_style:
            half = tags // 2
            for split, names in (("train", range(half)), ("validation", range(half, tags))):
                file = logdir / f"keras_{r:02d}" / split / f"events.out.tfevents.{1700000000 + r}.bench.1.v2"
                total += _write_file(file, [f"epoch_m{k}" for k in names], steps, True, r)
        else:
            file = logdir / f"torch_{r:02d}" / f"events.out.tfevents.{1700000000 + r}.bench.1.0"
            total += _write_file(file, [f"train/m{k}" for k in range(tags)], steps, False, r)
    (logdir / MARKER).write_text(json.dumps({"scalars": total, "runs": runs, "tags": tags, "steps": steps}))
    return total


# --------------------------------------------------------------------------- measurement (in a subprocess)


def _event_folders(logdir: str) -> list[str]:
    return sorted({os.path.dirname(os.path.join(d, f)) for d, _, fs in os.walk(logdir) for f in fs if "tfevents" in f})


def _measure_ours(logdir: str) -> int:
    from tb_recipe_plugin.io.loader import iter_runs

    return sum(len(s) for run in iter_runs(logdir) for s in run.series.values())


def _measure_event_accumulator(logdir: str) -> tuple[int, float, float]:
    """One accumulator per event folder, as TensorBoard does; returns (scalars, wall and CPU seconds of decoding).

    `Reload` alone leaves TF2 scalars as TensorProtos; turning them into numbers
    (what our reader returns) is timed separately so both figures are visible.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    accumulators = []
    for folder in _event_folders(logdir):
        acc = EventAccumulator(folder, size_guidance={"scalars": 0, "tensors": 0})
        acc.Reload()
        accumulators.append(acc)
    start, cpu_start = time.perf_counter(), time.process_time()
    count = 0
    for acc in accumulators:
        tags = acc.Tags()
        for tag in tags["scalars"]:
            count += len([e.value for e in acc.Scalars(tag)])
        for tag in tags["tensors"]:
            if acc.summary_metadata[tag].plugin_data.plugin_name == "scalars":
                count += len([float(tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)])
    return count, time.perf_counter() - start, time.process_time() - cpu_start


def _measure_tbparse(logdir: str) -> int:
    from tbparse import SummaryReader

    reader = SummaryReader(logdir, event_types={"scalars", "tensors"})
    return len(reader.scalars) + len(reader.tensors)


def _warm_up(reader: str) -> str:
    """Import everything the reader needs before the clock starts; returns a note on its record backend."""
    if reader == "ours":
        import tb_recipe_plugin.io.loader  # noqa: F401

        return "pure Python + upb + google_crc32c"
    from tensorboard.compat import tf

    if reader == "tbparse":
        import tbparse  # noqa: F401
    return "TensorFlow C++ record reader" if tf.__version__ != "stub" else "TensorBoard stub record reader"


def measure(reader: str, logdir: str) -> list[dict[str, object]]:
    """Time one reader in this (fresh) process; EventAccumulator yields two rows, Reload and Reload + values."""
    import resource

    backend = _warm_up(reader)
    start, cpu_start = time.perf_counter(), time.process_time()
    values_seconds = values_cpu = 0.0
    if reader == "ours":
        count = _measure_ours(logdir)
    elif reader == "event_accumulator":
        count, values_seconds, values_cpu = _measure_event_accumulator(logdir)
    elif reader == "tbparse":
        count = _measure_tbparse(logdir)
    else:
        raise ValueError(reader)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row = {
        "reader": reader,
        "scalars": count,
        "seconds": seconds,
        "cpu": cpu,
        "peak_rss_mb": peak_mb,
        "backend": backend,
    }
    if reader != "event_accumulator":
        return [row]
    reload_row = dict(row, reader="event_accumulator (Reload)", seconds=seconds - values_seconds, cpu=cpu - values_cpu)
    return [reload_row, dict(row, reader="event_accumulator (+ values)")]


def _run_child(reader: str, logdir: str) -> list[dict[str, object]]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", reader, "--logdir", logdir]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
        print(f"  {reader}: failed ({tail[0]})", file=sys.stderr)
        return []
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- damaged files


def damaged_speed(sizes_mb: tuple[int, ...] = (16, 64)) -> None:
    """Seconds to read past damage of growing size: the scan for the next record must stay linear.

    Each file is valid records, then the damage, then valid records again; the
    rate is damaged megabytes per second (the valid records are a few kB).
    """
    import io
    import random

    from tb_recipe_plugin.io.event_reader import ScalarCollector, read_event_stream

    valid = b"".join(frame_record(_event(1.7e9 + s, s, _simple_value(b"loss", 1.0))) for s in range(1, 200))
    length = struct.pack("<Q", (1 << 31) - 1)
    bogus_header = length + struct.pack("<I", masked_crc32c(length))  # checksummed, claims 2 GiB - 1
    rng = random.Random(0)
    print(f"\n{'damage':<34}{'MB':>6}{'seconds':>10}{'MB/s':>10}")
    for mb in sizes_mb:
        size = mb << 20
        cases = {
            "random bytes": rng.randbytes(size),
            "zero bytes (crash tail)": bytes(size),
            "bogus 2 GiB length, then zeros": bogus_header + bytes(size),
        }
        for name, damage in cases.items():
            data = valid + damage + valid
            start = time.perf_counter()
            report = read_event_stream(io.BytesIO(data), ScalarCollector().scope(""), "bench")
            seconds = time.perf_counter() - start
            assert report.records == 2 * 199 and len(report.errors) == 1, report.errors
            print(f"{name:<34}{mb:>6}{seconds:>10.2f}{mb / seconds:>10.0f}")


# --------------------------------------------------------------------------- report


def _tbparse_available() -> bool:
    """Without importing it: tbparse imports TensorFlow, and a child forked from a big parent
    inherits the parent's peak RSS in `ru_maxrss`, which would spoil the figures."""
    import importlib.util

    return importlib.util.find_spec("tbparse") is not None


def _print_table(results: list[dict[str, object]], expected: int) -> None:
    """Wall-clock and CPU-time rates: on a shared machine the CPU ratio is the steadier of the two."""
    ours = next((r for r in results if r["reader"] == "ours"), None)
    print(
        f"\n{'reader':<30}{'scalars':>10}{'wall s':>8}{'scalars/s':>12}{'ours/this':>10}"
        f"{'cpu s':>8}{'ours/this cpu':>14}{'peak RSS':>10}"
    )
    for r in results:
        rate = r["scalars"] / r["seconds"]
        ratio = f"{(ours['scalars'] / ours['seconds']) / rate:.1f}x" if ours else "-"
        cpu_ratio = f"{(ours['scalars'] / ours['cpu']) / (r['scalars'] / r['cpu']):.1f}x" if ours else "-"
        print(
            f"{r['reader']:<30}{r['scalars']:>10,}{r['seconds']:>8.2f}{rate:>12,.0f}{ratio:>10}"
            f"{r['cpu']:>8.2f}{cpu_ratio:>14}{r['peak_rss_mb']:>7.0f} MB"
        )
    print(f"\nexpected scalars: {expected:,}; peak RSS is the whole measuring process (imports included)")
    for r in results:
        if r["scalars"] != expected:
            print(f"  note: {r['reader']} counted {r['scalars']:,} scalars")
        print(f"  {r['reader']}: {r['backend']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scalars", type=int, default=4_000_000, help="scalars to generate (default 4M)")
    parser.add_argument("--logdir", help="generate into / reuse this folder instead of a temp dir")
    parser.add_argument("--skip", action="append", default=[], choices=READERS, help="leave a reader out")
    parser.add_argument("--damaged", action="store_true", help="measure reading past damaged stretches instead")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: child process mode
    args = parser.parse_args(argv)

    if args.damaged:
        damaged_speed()
        return 0

    if args.measure:
        print(json.dumps(measure(args.measure, args.logdir)))
        return 0

    tmp = None
    logdir = Path(args.logdir) if args.logdir else Path(tmp := tempfile.mkdtemp(prefix="tb_recipe_bench_"))
    try:
        marker = logdir / MARKER
        if marker.exists() and json.loads(marker.read_text())["scalars"] >= args.scalars:
            expected = json.loads(marker.read_text())["scalars"]
            print(f"reusing {logdir} ({expected:,} scalars)")
        else:
            start = time.perf_counter()
            expected = generate(logdir, args.scalars)
            size = sum(f.stat().st_size for f in logdir.rglob("*tfevents*"))
            print(f"generated {expected:,} scalars ({size / 2**20:.0f} MB) in {time.perf_counter() - start:.1f}s")
        readers = [r for r in READERS if r not in args.skip]
        if "tbparse" in readers and not _tbparse_available():
            readers.remove("tbparse")
            print("tbparse not installed: skipped")
        results = []
        for reader in readers:
            print(f"measuring {reader} ...", flush=True)
            results.extend(_run_child(reader, str(logdir)))
        _print_table(results, expected)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
