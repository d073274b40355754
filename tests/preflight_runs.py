"""Pre-flight results as `run_preflight` returns them, without TensorFlow, for the analyzer, presenter and tab tests.

`result(code, passed)` gives one check's `CheckResult` with the numbers a
real run of that check writes (taken from the fault runs of
tests/test_preflight.py: the digits MLP, batches of 32); `report(...)` a
whole `PreflightReport`. `write_run` writes one to a log dir with
`tb_recipe_plugin.preflight.write_report` (the callback's own writer, no
TensorFlow) next to Keras-like epoch curves, so what the analyzer reads is
what a real fit leaves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from tb_recipe_plugin.analysis.series import RunData, Series
from tb_recipe_plugin.internal_tags import Check
from tb_recipe_plugin.preflight import CheckResult, PreflightReport, report_points, write_report

LN10 = math.log(10)
BIAS = tuple(math.log(p) for p in (0.099, 0.101, 0.098, 0.102, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1))
LRS = tuple(1e-7 * (1e8) ** (k / 99) for k in range(80))
CURVE = tuple(2.3 - 2.0 / (1 + math.exp(-(k - 45) / 6)) + (0.0 if k < 70 else 0.3 * (k - 70)) for k in range(80))

PASSED: dict[Check, dict[str, float]] = {
    Check.INITIAL_LOSS_OFF: {"loss": 2.31, "expected_loss": LN10, "num_classes": 10.0, "prior_loss": 2.301,
                             "ratio": 2.31 / LN10},
    Check.INPUTS_IGNORED: {"loss": 1.71, "zero_input_loss": 2.29, "steps": 40.0, "gain": (2.29 - 1.71) / 2.29},
    Check.BATCH_MIXING: {"batch_size": 8.0, "leak": 0.0},
    Check.CANNOT_OVERFIT_BATCH: {"start_loss": 2.33, "final_loss": 0.61, "steps": 100.0, "batch_size": 32.0},
    Check.NONFINITE_INPUTS: {"count": 0.0, "rows": 0.0, "seen": 1400.0},
    Check.NONFINITE_LABELS: {"count": 0.0, "rows": 0.0, "seen": 1400.0},
    Check.LABELS_OUT_OF_RANGE: {"seen": 1400.0, "label_min": 0.0, "label_max": 9.0, "num_units": 10.0, "count": 0.0,
                                "fraction": 0.0},
    Check.TRAIN_VAL_OVERLAP: {"count": 0.0, "seen": 397.0, "fraction": 0.0, "train_seen": 1400.0},
    Check.LR_RANGE_TEST: {"steps": 80.0, "compiled_lr": 1e-3, "suggested_lr": 0.0215, "min_loss_lr": 0.0464,
                          "steepest_lr": 0.0215, "ratio": 1e-3 / 0.0215},
}  # fmt: skip
"""What each check writes when it passes (the healthy digits MLP)."""

FAILED: dict[Check, dict[str, float]] = {
    Check.INITIAL_LOSS_OFF: {"loss": 12.6, "expected_loss": LN10, "num_classes": 10.0, "prior_loss": 2.301,
                             "ratio": 12.6 / LN10},
    Check.INPUTS_IGNORED: {"loss": 2.31, "zero_input_loss": 2.29, "steps": 40.0, "gain": (2.29 - 2.31) / 2.29},
    Check.BATCH_MIXING: {"batch_size": 8.0, "leak": 0.378},
    Check.CANNOT_OVERFIT_BATCH: {"start_loss": 2.303, "final_loss": 2.298, "steps": 100.0, "batch_size": 32.0},
    Check.NONFINITE_INPUTS: {"count": 20.0, "rows": 20.0, "seen": 1797.0},
    Check.NONFINITE_LABELS: {"count": 3.0, "rows": 3.0, "seen": 1797.0},
    Check.LABELS_OUT_OF_RANGE: {"seen": 1797.0, "label_min": 0.0, "label_max": 10.0, "num_units": 10.0,
                                "count": 181.0, "fraction": 181 / 1797},
    Check.TRAIN_VAL_OVERLAP: {"count": 300.0, "seen": 300.0, "fraction": 1.0, "train_seen": 1797.0},
    Check.LR_RANGE_TEST: {"steps": 80.0, "compiled_lr": 1e-6, "suggested_lr": 0.0215, "min_loss_lr": 0.0464,
                          "steepest_lr": 0.0215, "ratio": 1e-6 / 0.0215},
}  # fmt: skip
"""What each check writes when it fails (the fault runs: permuted labels, a batch-mean layer, dead ReLUs...)."""


def result(code: Check, passed: bool | None, measures: Mapping[str, float] | None = None) -> CheckResult:
    """One check's result: its passing or failing numbers (or `measures`), with the curves it writes."""
    numbers = dict(measures if measures is not None else (FAILED if passed is False else PASSED)[code])
    curves: dict[str, tuple[float, ...]] = {}
    if code == Check.INITIAL_LOSS_OFF:
        curves["suggested_bias"] = BIAS
    if code == Check.LR_RANGE_TEST:
        curves = {"lr": LRS, "curve_loss": CURVE}
    return CheckResult(code, passed, numbers, seconds=0.25, curves=curves)


def report(
    failed: tuple[Check, ...] = (),
    not_applicable: tuple[Check, ...] = (),
    skipped: tuple[Check, ...] = (),
    **measures: Mapping[str, float],
) -> PreflightReport:
    """Every check, passed unless named; `measures` by check name replace a check's numbers."""
    results = []
    for code in Check:
        numbers = measures.get(str(code))
        if code in skipped:
            results.append(CheckResult(code, None, note="skipped", skipped=True))
        elif code in not_applicable:
            results.append(CheckResult(code, None, {"seen": 32.0} if code == Check.LABELS_OUT_OF_RANGE else {},
                                       seconds=0.01, note="does not apply"))  # fmt: skip
        else:
            results.append(result(code, code not in failed, numbers))
    return PreflightReport(tuple(results), seconds=4.1, step_seconds=0.03, samples=512)


def series_of(rep: PreflightReport, split: str = "train") -> dict[str, Series]:
    """The scalar series a run holds after `write_report(rep, logdir)` (as the loaders key them)."""
    points: dict[str, tuple[list[int], list[float]]] = {}
    for tag, step, value in report_points(rep):
        steps, values = points.setdefault(f"{split}/{tag}", ([], []))
        steps.append(step)
        values.append(value)
    return {tag: Series(tag, np.array(s), np.array(v)) for tag, (s, v) in points.items()}


def with_preflight(run: RunData, rep: PreflightReport) -> RunData:
    """`run` with the series `rep` writes added (a copy; `run` is left as it was)."""
    return RunData(run.name, {**run.series, **series_of(rep)}, list(run.errors))


def write_run(folder: Path, rep: PreflightReport | None, curves: Mapping[str, list[float]] | None = None) -> Path:
    """A Keras-like run folder: `rep` written as the callback writes it, then epoch curves (tag -> values, tags
    with the split folder first: ``train/epoch_loss``)."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    folder.mkdir(parents=True, exist_ok=True)
    if rep is not None:
        write_report(rep, str(folder))
    by_split: dict[str, dict[str, list[float]]] = {}
    for tag, values in (curves or {}).items():
        split, _, name = tag.partition("/")
        by_split.setdefault(split, {})[name] = values
    for split, tags in by_split.items():
        writer = EventFileWriter(str(folder / split))
        for name, values in tags.items():
            for step, value in enumerate(values):
                summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=name, simple_value=value)])
                writer.add_event(event_pb2.Event(step=step, wall_time=1.7e9 + step, summary=summary))
        writer.close()
    return folder
