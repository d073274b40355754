"""A run's scalar curves, read with TensorBoard's own `EventAccumulator` (not tb-recipe's reader).

The labeller must not share code with what it judges, so it reads event
files the way TensorBoard does: every sub-folder holding event files is read,
and each tag is shown as ``<sub-folder>/<tag>`` (the tag alone at the run's
top level), TF2 tensor scalars and ``simple_value`` scalars alike.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

Curves = dict[str, tuple[np.ndarray, np.ndarray]]


def read_run(run_dir: Path) -> Curves:
    """{display tag: (steps, values)} with steps ascending and, for a repeated step, the last value written."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    folders = sorted({p.parent for p in run_dir.rglob("*tfevents*") if p.is_file()})
    out: Curves = {}
    for folder in folders:
        rel = folder.relative_to(run_dir).as_posix()
        prefix = "" if rel == "." else f"{rel}/"
        acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
        acc.Reload()
        points: dict[str, dict[int, float]] = {}
        for tag in acc.Tags().get("scalars", []):
            for e in acc.Scalars(tag):
                points.setdefault(tag, {})[int(e.step)] = float(e.value)
        for tag in acc.Tags().get("tensors", []):
            for e in acc.Tensors(tag):
                arr = tensor_util.make_ndarray(e.tensor_proto)
                if arr.size == 1 and np.issubdtype(arr.dtype, np.number):
                    points.setdefault(tag, {})[int(e.step)] = float(arr.reshape(()))
        for tag, by_step in points.items():
            steps = np.array(sorted(by_step), dtype=np.int64)
            out[prefix + tag] = (steps, np.array([by_step[s] for s in steps.tolist()], dtype=np.float64))
    return out
