"""Train the corpus and label each run as soon as it is trained.

    python -m benchmarks.corpus                       # everything missing, 2 programs at a time
    python -m benchmarks.corpus --programs keras_mlp_digits --force
    python -m benchmarks.corpus --list                # runs per program and split, nothing trained

Layout: ``OUT/<program>/<run>/`` holds the run's event files (in whatever
layout its writer uses), ``facts.json`` (what the program says about the run),
``label.json`` (written by `label.py` right after training, before anything
else reads the run) and ``.complete.json`` (the spec's fingerprint: a run is
retrained only when its spec or program version changed). ``OUT/labels.json``
collects every finished run's label with its program and split.

Each program trains in its own subprocess (a fresh TensorFlow or PyTorch,
one thread each), ``--jobs`` of them at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.corpus.split import SPLIT  # noqa: E402

if TYPE_CHECKING:
    from benchmarks.corpus.spec import Program, RunSpec

DEFAULT_OUT = REPO / "benchmarks" / "_data" / "corpus2"
MARKER = ".complete.json"
LABELS = "labels.json"


def _quiet_single_thread() -> None:
    """One thread per program process: two programs share the two cores without oversubscribing them."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def is_complete(run_dir: Path, fingerprint: str) -> bool:
    try:
        return json.loads((run_dir / MARKER).read_text()).get("fingerprint") == fingerprint
    except (OSError, json.JSONDecodeError):
        return False


def train_program(name: str, out: Path, force: bool, only_runs: list[str] | None, label: bool = True) -> None:
    """Train and label the missing runs of one program (runs inside the program's own process).

    ``label=False`` (``--no-label``) is for developing a program: its runs are trained but not labelled and
    not marked complete, so the next full generation trains and labels them properly.
    """
    _quiet_single_thread()
    from benchmarks.corpus.programs import load

    program = load(name)
    for spec in program.runs():
        if only_runs and spec.name not in only_runs:
            continue
        run_dir = out / spec.program / spec.name
        fingerprint = spec.fingerprint(program.version)
        if not force and is_complete(run_dir, fingerprint):
            continue
        if run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        t0 = time.time()
        facts = program.train(spec, run_dir)
        facts.seconds = round(time.time() - t0, 2)
        (run_dir / "facts.json").write_text(json.dumps(facts.to_json(), indent=1, default=float))
        if label:
            from benchmarks.corpus.label import label_run

            # Labelled now, from the curves just written, before any analyzer has seen the run.
            (run_dir / "label.json").write_text(json.dumps(label_run(run_dir, spec, facts), indent=1))
            (run_dir / MARKER).write_text(json.dumps({"fingerprint": fingerprint}))
        print(f"  {spec.run_id}: {facts.seconds:.1f}s", flush=True)


def _complete_runs(out: Path, programs: Iterable[Program]) -> Iterator[tuple[RunSpec, Path]]:
    """Every run of `programs` trained and labelled under its current spec (its marker's fingerprint matches)."""
    for program in programs:
        for spec in program.runs():
            run_dir = out / spec.program / spec.name
            if is_complete(run_dir, spec.fingerprint(program.version)):
                yield spec, run_dir


def relabel(out: Path, names: list[str], only_runs: list[str] | None) -> int:
    """Label complete runs again from their event files and ``facts.json``, without training.

    For a fix to how `label.py` *reads* runs. The held-out labels are frozen (`benchmarks/heldout.sha256`):
    `benchmarks/accuracy.py` says whether a relabelling changed any of them.
    """
    from benchmarks.corpus.label import label_run
    from benchmarks.corpus.programs import load
    from benchmarks.corpus.spec import Facts

    changed = 0
    for spec, run_dir in _complete_runs(out, (load(name) for name in names)):
        if only_runs and spec.name not in only_runs:
            continue
        facts = Facts(**json.loads((run_dir / "facts.json").read_text()))
        old = (run_dir / "label.json").read_text()
        new = json.dumps(label_run(run_dir, spec, facts), indent=1)
        if new != old:
            changed += 1
            (run_dir / "label.json").write_text(new)
            print(f"  relabelled {spec.run_id}", flush=True)
    return changed


def collect(out: Path) -> list[dict[str, Any]]:
    """labels.json: every finished run of every program in the split, with its program and split."""
    from benchmarks.corpus.programs import all_programs

    labels = []
    for spec, run_dir in _complete_runs(out, all_programs()):
        label = json.loads((run_dir / "label.json").read_text())
        labels.append(
            {"run": spec.run_id, "program": spec.program, "split": SPLIT[spec.program], "intent": spec.intent, **label}
        )
    (out / LABELS).write_text(json.dumps(labels, indent=1) + "\n")
    return labels


def _spawn(name: str, out: Path, force: bool, only_runs: list[str] | None, label: bool) -> int:
    cmd = [sys.executable, "-m", "benchmarks.corpus.generate", "--worker", name, "--out", str(out)]
    if force:
        cmd.append("--force")
    if not label:
        cmd.append("--no-label")
    if only_runs:
        cmd += ["--runs", *only_runs]
    print(f"[{name}] starting", flush=True)
    rc = subprocess.call(cmd, cwd=REPO)
    print(f"[{name}] {'done' if rc == 0 else f'FAILED (exit {rc})'}", flush=True)
    return rc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--programs", nargs="*", help="only these programs (default: all in split.py)")
    ap.add_argument("--runs", nargs="*", help="only these run names (with one program)")
    ap.add_argument("--force", action="store_true", help="retrain even complete runs")
    ap.add_argument("--jobs", type=int, default=2, help="programs trained at the same time")
    ap.add_argument("--list", action="store_true", help="list programs and runs, train nothing")
    ap.add_argument("--no-label", action="store_true", help="train only (developing a program); not marked complete")
    ap.add_argument("--relabel", action="store_true", help="label complete runs again, train nothing")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        train_program(args.worker, args.out, args.force, args.runs, label=not args.no_label)
        return 0
    names = args.programs or list(SPLIT)
    unknown = [n for n in names if n not in SPLIT]
    if unknown:
        ap.error(f"unknown programs {unknown}; known: {list(SPLIT)}")
    if args.list:
        from benchmarks.corpus.programs import load

        for name in names:
            runs = load(name).runs()
            intents = sorted({r.intent for r in runs})
            print(f"{name:30s} {SPLIT[name]:8s} {len(runs):3d} runs  {', '.join(intents)}")
        return 0
    if args.relabel:
        print(f"{relabel(args.out, names, args.runs)} label(s) changed")
        print(f"wrote {args.out / LABELS}: {len(collect(args.out))} runs")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        codes = list(pool.map(lambda n: _spawn(n, args.out, args.force, args.runs, not args.no_label), names))
    labels = collect(args.out)
    print(f"wrote {args.out / LABELS}: {len(labels)} runs")
    return 0 if all(c == 0 for c in codes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
