"""Pre-flight checks: what to verify before trusting any training curve (Karpathy's recipe, seed 002).

`run_preflight` runs them on a clone of a compiled Keras model and of its
optimizer, so the real model, its weights and its optimizer state are left
exactly as they were: the loss at initialisation against ln(C) (or the
targets' spread), a zero-input baseline, whether one sample's output depends
on other samples of its batch, whether one small batch can be fitted, and
the data themselves (NaN/Inf, labels outside the output units or outside the
output activation's range, validation rows found in the training data). An
optional learning-rate range test suggests a learning rate.

This module holds what a caller sees: the entry point, the results (plain
dataclasses, so a report can be built, written and read without
TensorFlow) and the functions that write a report as summaries next to
`DiagnosisCallback`'s (the names are in `tb_recipe_plugin.internal_tags`).
TensorFlow is imported only when the checks run (by
`tb_recipe_plugin.keras.preflight`) or when a report is written through a
``tf.summary`` writer: the analyzer and the CLI import this module without it.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tb_recipe_plugin.internal_tags import (
    INDEXED,
    MEASURES,
    PREFLIGHT_SECONDS,
    PREFLIGHT_STEP_SECONDS,
    PREFLIGHT_SUMMARY,
    Check,
    Measure,
    preflight_tag,
)

DEFAULT_BUDGET_STEPS = 200
"""All checks together take about this many training steps of the model (plus tracing the clone's functions)."""
LR_RANGE_BUDGET_STEPS = 100
"""What the learning-rate range test adds to the default budget when it is asked for."""
DEFAULT_BATCH_SIZE = 32
"""Rows per batch in the checks that train: the "small batch" of the overfitting check as well."""
DEFAULT_MAX_SAMPLES = 512
"""Rows the checks read from the data (a seeded random subset of arrays, the first batches of a dataset)."""

__all__ = [
    "Check",
    "CheckResult",
    "Measure",
    "PreflightReport",
    "report_json",
    "report_points",
    "report_text",
    "run_preflight",
    "write_report",
]


@dataclass(frozen=True)
class CheckResult:
    """What one check found.

    ``passed`` is None when the check did not run (skipped) or did not
    apply (a classification check on a regression model, too few samples,
    an error: ``note`` says which). ``measures`` are the numbers it measured,
    by `Measure` name; ``curves`` the measures that are lists (the output
    bias it suggests, one value per output unit; the range test's curve).
    """

    code: Check
    passed: bool | None
    measures: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    note: str = ""
    curves: dict[str, tuple[float, ...]] = field(default_factory=dict)
    skipped: bool = False

    @property
    def failed(self) -> bool:
        return self.passed is False


@dataclass(frozen=True)
class PreflightReport:
    """All checks of one `run_preflight`, in the order they ran.

    ``seconds`` is the wall time of the whole run (cloning and tracing
    included); ``step_seconds`` the median time of one training step of the
    clone (None when no check trained), so ``seconds / step_seconds`` is the
    cost in training steps.
    """

    results: tuple[CheckResult, ...]
    seconds: float
    step_seconds: float | None = None
    samples: int = 0
    notes: tuple[str, ...] = ()

    def __getitem__(self, code: Check | str) -> CheckResult:
        for result in self.results:
            if result.code == code:
                return result
        raise KeyError(code)

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.results)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.passed is False]

    @property
    def cost_in_steps(self) -> float | None:
        if not self.step_seconds:
            return None
        return self.seconds / self.step_seconds


def run_preflight(
    model: Any,
    x: Any,
    y: Any = None,
    *,
    sample_weight: Any = None,
    validation_data: Any = None,
    skip: Iterable[Check | str] = (),
    lr_range_test: bool = False,
    budget_steps: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    seed: int = 0,
) -> PreflightReport:
    """Run the pre-flight checks on a clone of ``model`` and return what they found.

    Args:
        model: a Keras 3 model (TensorFlow backend), compiled with a loss and
            an optimizer for the checks that train; the data checks run on an
            uncompiled one too. Neither it nor its optimizer is changed.
        x, y, sample_weight: the training data as ``model.fit`` takes them:
            arrays (or tensors, or lists/dicts of them), or a batched
            ``tf.data.Dataset`` of ``(x, y[, sample_weight])`` with ``y=None``.
            One batch is enough for most checks (``DiagnosisCallback`` passes
            its first); the zero-input baseline needs ``4 * batch_size`` rows.
        validation_data: ``(x_val, y_val[, sample_weight])`` or a dataset, for
            the train/validation overlap.
        skip: `Check` codes (or their names) not to run.
        lr_range_test: also run the learning-rate range test.
        budget_steps: the checks that train share about this many training
            steps (fewer steps each when it is smaller); by default
            `DEFAULT_BUDGET_STEPS`, plus `LR_RANGE_BUDGET_STEPS` with the
            range test.
        batch_size: rows per training batch of the checks.
        max_samples: rows the training checks use (a seeded random subset of
            arrays; the first batches of a dataset). The data checks read
            every row of arrays (up to 200,000), of a dataset these batches.
        seed: for the subset and the random projections.
    """
    from tb_recipe_plugin.keras.preflight import run

    return run(
        model,
        x,
        y,
        sample_weight=sample_weight,
        validation_data=validation_data,
        skip=frozenset(Check(s) for s in skip),
        lr_range_test=lr_range_test,
        budget_steps=int(budget_steps) if budget_steps is not None else default_budget(lr_range_test),
        batch_size=int(batch_size),
        max_samples=int(max_samples),
        seed=int(seed),
    )


def default_budget(lr_range_test: bool) -> int:
    return DEFAULT_BUDGET_STEPS + (LR_RANGE_BUDGET_STEPS if lr_range_test else 0)


# ---------------------------------------------------------------------- writing


def report_points(report: PreflightReport) -> list[tuple[str, int, float]]:
    """Every scalar of a report as ``(tag, step, value)``: what `write_report` writes, for a writer of its own.

    A writer that already exists (``DiagnosisCallback``'s event file) writes
    these and `report_text` under ``internal_tags.PREFLIGHT_SUMMARY``
    instead of opening a second file. ``passed`` is written for the checks that ran and applied only; indexed
    measures (`internal_tags.INDEXED`) are one point per index, everything
    else is at step 0.
    """
    points: list[tuple[str, int, float]] = [(PREFLIGHT_SECONDS, 0, float(report.seconds))]
    if report.step_seconds is not None:
        points.append((PREFLIGHT_STEP_SECONDS, 0, float(report.step_seconds)))
    for result in report.results:
        if result.skipped:
            continue
        declared = MEASURES[result.code]
        if result.passed is not None:
            points.append((preflight_tag(result.code, Measure.PASSED), 0, 1.0 if result.passed else 0.0))
        points.append((preflight_tag(result.code, Measure.SECONDS), 0, float(result.seconds)))
        for name, value in result.measures.items():
            measure = Measure(name)
            if measure in declared and measure not in INDEXED:
                points.append((preflight_tag(result.code, measure), 0, float(value)))
        for name, values in result.curves.items():
            measure = Measure(name)
            if measure in declared and measure in INDEXED:
                tag = preflight_tag(result.code, measure)
                points.extend((tag, i, float(v)) for i, v in enumerate(values))
    return points


def report_text(report: PreflightReport, lang: str = "en") -> str:
    """The report as Markdown for TensorBoard's Text tab, in `lang`: the checklist the analyzer reads back from
    `report_points` (so the words are the catalogue's, as in `tb-recipe analyze` and the tab), then any notes."""
    import numpy as np

    from tb_recipe_plugin.analysis.preflight import checklist, find_preflight
    from tb_recipe_plugin.analysis.series import Series
    from tb_recipe_plugin.present.markdown import md_escape
    from tb_recipe_plugin.present.preflight import render_preflight

    points: dict[str, tuple[list[int], list[float]]] = {}
    for tag, step, value in report_points(report):
        steps, values = points.setdefault(tag, ([], []))
        steps.append(step)
        values.append(value)
    series = {tag: Series(tag, np.asarray(st), np.asarray(vs, dtype=np.float64)) for tag, (st, vs) in points.items()}
    shown = render_preflight(checklist(find_preflight(series)), lang)
    lines = [md_escape(shown["headline"]), ""] if shown else []
    for check in shown["checks"] if shown else []:
        text = f": {md_escape(check['text'])}" if check["text"] else ""
        lines.append(f"- **{md_escape(check['status_text'])}** {md_escape(check['title'])}{text}")
    lines += [f"- {md_escape(n)}" for n in report.notes]
    return "\n".join(lines)


def report_json(report: PreflightReport) -> str:
    """The report as JSON (what the CLI or a test can print)."""
    return json.dumps(
        {
            "seconds": report.seconds,
            "step_seconds": report.step_seconds,
            "samples": report.samples,
            "notes": list(report.notes),
            "results": [
                {
                    "code": str(r.code),
                    "passed": r.passed,
                    "skipped": r.skipped,
                    "seconds": r.seconds,
                    "measures": {k: _json_number(v) for k, v in r.measures.items()},
                    "curves": {k: [_json_number(v) for v in vs] for k, vs in r.curves.items()},
                    "note": r.note,
                }
                for r in report.results
            ],
        },
        indent=2,
    )


def write_report(report: PreflightReport, target: Any, *, split: str = "train") -> None:
    """Write a report as summaries beside `DiagnosisCallback`'s, flushed before this returns.

    ``target`` is either a log dir (the one given to the callback and to
    ``keras.callbacks.TensorBoard``: the summaries go to its ``<split>/``
    folder, in a file of their own written without TensorFlow) or an open
    ``tf.summary`` writer (written with ``tf.summary.scalar``/``text`` and
    flushed; the caller keeps it open).
    """
    if isinstance(target, str | os.PathLike):
        _write_event_file(report, os.path.join(os.fspath(target), split))
    else:
        _write_tf_summary(report, target)


def _write_event_file(report: PreflightReport, folder: str) -> None:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.plugins.text.summary_v2 import text_pb
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(folder, filename_suffix=".tb_recipe")
    try:
        now = time.time()
        for tag, step, value in report_points(report):
            summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
            writer.add_event(event_pb2.Event(step=step, wall_time=now, summary=summary))
        text = text_pb(PREFLIGHT_SUMMARY, report_text(report))
        writer.add_event(event_pb2.Event(step=0, wall_time=now, summary=text))
        writer.flush()
    finally:
        writer.close()


def _write_tf_summary(report: PreflightReport, writer: Any) -> None:
    import tensorflow as tf

    with writer.as_default():
        for tag, step, value in report_points(report):
            tf.summary.scalar(tag, value, step=step)
        tf.summary.text(PREFLIGHT_SUMMARY, report_text(report), step=0)
    writer.flush()


def _number(value: float) -> str:
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def _json_number(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)
