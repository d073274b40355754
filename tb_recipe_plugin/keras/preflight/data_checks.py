"""Checks of the data alone: NaN/Inf values, labels the output cannot produce, validation rows seen in training.

"Look at the data first" (seed 002): these need no training, only the rows
the checks read and the model's output (units, activation). Each returns
its `CheckResult` and, where it applies, the rows it found at fault, which
the training checks then leave out: a NaN input would turn every loss they
measure into NaN, and an out-of-range class label stops a TensorFlow step
on the CPU, so each finding is reported by its own check only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tb_recipe_plugin.internal_tags import Check
from tb_recipe_plugin.keras.preflight.samples import leaves, nonfinite, rows
from tb_recipe_plugin.keras.preflight.task import Kind, Task
from tb_recipe_plugin.preflight import CheckResult

TARGET_OUT_OF_RANGE_FRACTION = 0.01
"""Regression targets: more than 1% of them outside the output activation's range fails the check.

A target out of reach cannot be fitted at any weights, so the gradient keeps
pushing the activation into saturation; a few outliers do little harm,
whereas the usual fault (0-255 pixel targets for a sigmoid, standardised
targets for a ReLU output) puts most of them out of reach.
"""
TARGET_RANGE_MARGIN = 1e-3
"""A target this far (relative to the range's width, or absolutely for half-open ranges) beyond a bound still counts
as inside: float rounding of targets stored as exactly 0 and 1."""

OVERLAP_LIMIT = 0.01
"""More than 1% of the validation rows found verbatim among the training rows fails the check.

Natural data sets hold a few exact duplicates (the same image scraped twice);
a validation set carved from the training data shows up as a large share.
"""
KEY_COLUMNS = 64
"""Values per row (evenly spaced) that make its hash key; candidate matches are then compared whole.

A key from a few values keeps hashing cheap on large rows (an image), and the
full comparison of candidates keeps it exact.
"""


def nonfinite_inputs(x: Any) -> tuple[CheckResult, np.ndarray]:
    return _nonfinite(Check.NONFINITE_INPUTS, x)


def nonfinite_labels(y: Any) -> tuple[CheckResult, np.ndarray | None]:
    if y is None:
        return CheckResult(Check.NONFINITE_LABELS, None, note="no labels given"), None
    return _nonfinite(Check.NONFINITE_LABELS, y)


def _nonfinite(code: Check, a: Any) -> tuple[CheckResult, np.ndarray]:
    count, mask = nonfinite(a)
    measures = {"count": float(count), "rows": float(mask.sum()), "seen": float(rows(a))}
    note = f"{int(mask.sum())} of {rows(a)} rows hold NaN or Inf" if count else ""
    return CheckResult(code, count == 0, measures, note=note), mask


def labels_out_of_range(y: Any, task: Task) -> tuple[CheckResult, np.ndarray | None]:
    """Labels the output cannot produce: class indices beyond its units, a one-hot width that differs from
    them, binary labels outside [0, 1], regression targets outside the output activation's range.

    The second item marks the rows to leave out of the training checks (class
    labels only; an unreachable regression target does not stop a step).
    """
    code = Check.LABELS_OUT_OF_RANGE
    if y is None:
        return CheckResult(code, None, note="no labels given"), None
    if task.kind in (Kind.NONE, Kind.OTHER):
        note = f"the loss ({task.loss_name or 'several or none'}) has no label range"
        return CheckResult(code, None, note=note), None
    labels = np.asarray(y)
    if labels.dtype == object or not labels.ndim:
        return CheckResult(code, None, note="labels are not one numeric array"), None
    n = len(labels)
    flat = labels.reshape(n, -1).astype(np.float64)
    finite = np.isfinite(flat)  # non-finite labels are nonfinite_labels' finding
    values = flat[finite]
    measures: dict[str, float] = {"seen": float(n)}
    if values.size:
        measures["label_min"], measures["label_max"] = float(values.min()), float(values.max())
    units = task.units
    if units is not None:
        measures["num_units"] = float(units)

    if task.kind is Kind.SPARSE:
        if units is None:
            return CheckResult(code, None, measures, note="the output's number of units is unknown"), None
        bad = finite & ((flat < 0) | (flat >= units) | (flat != np.floor(flat)))
        note = f"class labels must be integers 0..{units - 1} for {units} output units"
    elif task.kind is Kind.CATEGORICAL:
        width = labels.shape[-1] if labels.ndim >= 2 else 1
        measures["label_width"] = float(width)
        bad = finite & ((flat < 0) | (flat > 1))
        if units is not None and width != units:
            bad = np.ones_like(flat, dtype=bool)
            note = f"one-hot labels are {width} wide for {units} output units"
        else:
            note = "one-hot labels must lie in [0, 1]"
    elif task.kind is Kind.BINARY:
        measures["range_low"], measures["range_high"] = 0.0, 1.0
        bad = finite & ((flat < 0) | (flat > 1))
        note = "binary cross-entropy labels must lie in [0, 1]"
    else:
        return _target_range(task, flat, finite, measures), None

    rows_bad = bad.any(axis=1)
    count = int(bad.sum())
    measures["count"] = float(count)
    measures["fraction"] = count / max(int(finite.sum()), 1)
    return CheckResult(code, count == 0, measures, note="" if count == 0 else note), rows_bad


def _target_range(task: Task, flat: np.ndarray, finite: np.ndarray, measures: dict[str, float]) -> CheckResult:
    code = Check.LABELS_OUT_OF_RANGE
    span = task.output_range
    if span is None:
        if task.activation in (None, "linear"):
            return CheckResult(code, True, measures, note="linear output: any target can be reached")
        return CheckResult(code, None, measures, note=f"the range of the output activation {task.activation!r}")
    low, high = span
    margin = TARGET_RANGE_MARGIN * (high - low) if math.isfinite(high - low) else TARGET_RANGE_MARGIN
    bad = finite & ((flat < low - margin) | (flat > high + margin))
    count = int(bad.sum())
    fraction = count / max(int(finite.sum()), 1)
    measures.update(count=float(count), fraction=fraction)
    measures.update({k: v for k, v in (("range_low", low), ("range_high", high)) if math.isfinite(v)})
    passed = target_range_verdict(fraction)
    note = "" if passed else f"{fraction:.0%} of the targets lie outside [{low:g}, {high:g}]"
    note += "" if passed else f", the range of the {task.activation} output"
    return CheckResult(code, passed, measures, note=note)


def target_range_verdict(fraction: float) -> bool:
    return fraction <= TARGET_OUT_OF_RANGE_FRACTION


def train_val_overlap(train_x: Any, val_x: Any) -> CheckResult:
    """Validation rows (inputs only) found verbatim among the training rows (each side as read: arrays up to
    `samples.MAX_DATA_ROWS` rows, datasets in the batches read)."""
    code = Check.TRAIN_VAL_OVERLAP
    if val_x is None:
        return CheckResult(code, None, note="no validation data given")
    train = [_matrix(a) for a in leaves(train_x)]
    val = [_matrix(a) for a in leaves(val_x)]
    if len(train) != len(val) or any(t.shape[1] != v.shape[1] for t, v in zip(train, val, strict=True)):
        return CheckResult(code, None, note="training and validation inputs differ in shape")
    if not val or not len(val[0]) or not len(train[0]):
        return CheckResult(code, None, note="no validation rows")
    columns = [np.unique(np.linspace(0, t.shape[1] - 1, min(t.shape[1], KEY_COLUMNS)).astype(int)) for t in train]
    index: dict[bytes, list[int]] = {}
    for j, key in enumerate(_keys(train, columns)):
        index.setdefault(key, []).append(j)
    found = 0
    for i, key in enumerate(_keys(val, columns)):
        if any(all(np.array_equal(t[j], v[i]) for t, v in zip(train, val, strict=True)) for j in index.get(key, ())):
            found += 1
    seen = len(val[0]) if val else 0
    fraction = found / max(seen, 1)
    measures = {"count": float(found), "seen": float(seen), "fraction": fraction, "train_seen": float(len(train[0]))}
    passed = overlap_verdict(fraction)
    note = "" if passed else f"{found} of {seen} validation rows are also training rows"
    return CheckResult(code, passed, measures, note=note)


def overlap_verdict(fraction: float) -> bool:
    return fraction <= OVERLAP_LIMIT


def _matrix(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a.reshape(len(a), int(np.prod(a.shape[1:])))


def _keys(matrices: list[np.ndarray], columns: list[np.ndarray]) -> list[bytes]:
    """Bytes of each row's key values as float64 (1 and 1.0 alike; ``+ 0.0`` makes -0.0 into 0.0)."""
    parts = [np.asarray(m[:, c], dtype=np.float64) + 0.0 for m, c in zip(matrices, columns, strict=True)]
    keys = np.ascontiguousarray(np.concatenate(parts, axis=1))
    return [row.tobytes() for row in keys]
