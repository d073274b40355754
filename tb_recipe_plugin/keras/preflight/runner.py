"""`run`: the pre-flight checks in order, each timed, skippable and unable to break the others.

The data checks run first: the rows they find at fault (NaN/Inf, class
labels the output cannot take) are left out of the checks that train, so
each fault is reported once, by its own check. The training checks share one
clone (`Sandbox`) and a budget of training steps (`plan_steps`). A check that
raises is reported as not applicable with the error, never raised: the
callback calls this at the start of ``fit``, which must go on.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np

from tb_recipe_plugin.internal_tags import Check
from tb_recipe_plugin.keras.preflight import data_checks, lr_range, training_checks
from tb_recipe_plugin.keras.preflight.samples import (
    MAX_DATA_ROWS,
    Samples,
    first_rows,
    is_dataset,
    nonfinite,
    read,
    rows,
    to_tensors,
)
from tb_recipe_plugin.keras.preflight.sandbox import NotCompiledError, Sandbox, current_learning_rate
from tb_recipe_plugin.keras.preflight.task import read_task
from tb_recipe_plugin.preflight import CheckResult, PreflightReport

FORWARD_STEPS = 20
"""Steps of the budget kept for what is not a training step: forward passes (the initial loss, the held-out
losses), the input gradients of the batch-mixing check. With the default budget of 200 the training checks get
their default steps (2 x 40 + 100); the range test's 100 come with its own addition to the budget."""
TRAINING_CHECKS = (Check.INITIAL_LOSS_OFF, Check.INPUTS_IGNORED, Check.BATCH_MIXING, Check.CANNOT_OVERFIT_BATCH)


def plan_steps(budget_steps: int, inputs_ignored: bool, overfit: bool, lr_range_test: bool) -> dict[Check, int]:
    """Training steps per check: their defaults, all scaled down alike when they exceed the budget.

    ``inputs_ignored`` trains twice (real and zeroed inputs) with the steps given here.
    """
    wanted = {
        Check.INPUTS_IGNORED: training_checks.INPUTS_IGNORED_STEPS if inputs_ignored else 0,
        Check.CANNOT_OVERFIT_BATCH: training_checks.OVERFIT_MAX_STEPS if overfit else 0,
        Check.LR_RANGE_TEST: lr_range.LR_RANGE_STEPS if lr_range_test else 0,
    }
    total = 2 * wanted[Check.INPUTS_IGNORED] + wanted[Check.CANNOT_OVERFIT_BATCH] + wanted[Check.LR_RANGE_TEST]
    scale = min(1.0, max(budget_steps - FORWARD_STEPS, 0) / total) if total else 1.0
    return {check: max(3, round(steps * scale)) if steps else 0 for check, steps in wanted.items()}


def run(
    model: Any,
    x: Any,
    y: Any,
    *,
    sample_weight: Any,
    validation_data: Any,
    skip: frozenset[Check],
    lr_range_test: bool,
    budget_steps: int,
    batch_size: int,
    max_samples: int,
    seed: int,
) -> PreflightReport:
    start = time.perf_counter()
    with _kept_random_state():
        whole, samples = read(x, y, sample_weight, max_samples, seed)
        checks = _Checks(skip)
        if not lr_range_test:
            checks.skip(Check.LR_RANGE_TEST, "not requested (lr_range_test=False)")
        notes: list[str] = []
        sandbox, why_not = None, ""
        if not all(checks.done(c) for c in (*TRAINING_CHECKS, Check.LR_RANGE_TEST)):
            sandbox, why_not = _open_sandbox(model, samples, batch_size)
        try:
            task = read_task(model)
            if sandbox is not None:
                notes.extend(sandbox.notes)
                if task.units is None:  # a subclassed or not yet built model: the clone's output says
                    task = replace(task, units=sandbox.output_units(to_tensors(samples.take(slice(0, 2)).x)))

            checks.run(Check.NONFINITE_INPUTS, lambda: data_checks.nonfinite_inputs(whole.x))
            checks.run(Check.NONFINITE_LABELS, lambda: data_checks.nonfinite_labels(whole.y))
            checks.run(Check.LABELS_OUT_OF_RANGE, lambda: data_checks.labels_out_of_range(whole.y, task))
            checks.run(Check.TRAIN_VAL_OVERLAP, lambda: _overlap(whole, validation_data))

            keep = _usable_rows(samples, task)
            usable = samples.take(np.flatnonzero(keep))
            if not is_dataset(x) and len(whole) < rows(x):
                notes.append(f"the data checks read the first {len(whole)} rows")
            if not keep.all():
                left_out = int((~keep).sum())
                notes.append(f"{left_out} rows with NaN/Inf or out-of-range labels left out of the training checks")

            step_seconds = None
            if sandbox is not None:
                step_seconds = _training_checks(sandbox, model, usable, task, checks, budget_steps, batch_size, seed)
            for code in (*TRAINING_CHECKS, Check.LR_RANGE_TEST):
                checks.not_applicable(code, why_not)
        finally:
            if sandbox is not None:
                sandbox.close()
    return PreflightReport(
        results=checks.ordered(),
        seconds=time.perf_counter() - start,
        step_seconds=step_seconds,
        samples=len(samples),
        notes=tuple(notes),
    )


def _open_sandbox(model: Any, samples: Samples, batch_size: int) -> tuple[Sandbox | None, str]:
    """The clone, or None and why the checks that train cannot run."""
    try:
        return Sandbox(model, to_tensors(samples.take(slice(0, min(batch_size, len(samples)))).x)), ""
    except NotCompiledError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a model clone_model cannot copy (a subclass without get_config)
        return None, f"the model could not be cloned: {type(exc).__name__}: {exc}"


def _training_checks(
    sandbox: Sandbox,
    model: Any,
    samples: Samples,
    task: Any,
    checks: _Checks,
    budget_steps: int,
    batch_size: int,
    seed: int,
) -> float | None:
    """Run the checks that need the clone; returns the median time of one of its training steps."""
    todo = [c for c in (*TRAINING_CHECKS, Check.LR_RANGE_TEST) if not checks.done(c)]
    if samples.y is None:
        for check in todo:
            checks.not_applicable(check, "no labels given")
        return None
    size = min(batch_size, len(samples))
    if size < 2:
        for check in todo:
            checks.not_applicable(check, f"needs at least 2 usable rows, has {len(samples)}")
        return None
    plan = plan_steps(
        budget_steps,
        Check.INPUTS_IGNORED in todo,
        Check.CANNOT_OVERFIT_BATCH in todo,
        Check.LR_RANGE_TEST in todo,
    )
    n = len(samples)
    if n >= 4 * size:  # hold out a quarter (whole batches) for the zero-input baseline to compare on
        held = max(size * training_checks.MIN_HELD_OUT_BATCHES, (n // 4) // size * size)
        train, held_out = samples.take(slice(0, n - held)), samples.take(slice(n - held, n))
    else:
        train, held_out = samples, samples.take(slice(0, 0))
    first = samples.take(slice(0, size))
    batch = (to_tensors(first.x), to_tensors(first.y), to_tensors(first.sample_weight))
    compiled_lr = current_learning_rate(model.optimizer)
    box, checked = sandbox, training_checks
    checks.run(Check.INITIAL_LOSS_OFF, lambda: checked.initial_loss_off(box, samples, task, size))
    checks.run(
        Check.INPUTS_IGNORED, lambda: checked.inputs_ignored(box, train, held_out, plan[Check.INPUTS_IGNORED], size)
    )
    checks.run(Check.BATCH_MIXING, lambda: checked.batch_mixing(box, samples, seed))
    checks.run(
        Check.CANNOT_OVERFIT_BATCH,
        lambda: checked.cannot_overfit_batch(box, batch, size, plan[Check.CANNOT_OVERFIT_BATCH]),
    )
    checks.run(
        Check.LR_RANGE_TEST,
        lambda: lr_range.lr_range_test(box, train.batches(size), plan[Check.LR_RANGE_TEST], compiled_lr),
    )
    return statistics.median(sandbox.step_times) if sandbox.step_times else None


def _overlap(train: Samples, validation_data: Any) -> CheckResult:
    if validation_data is None:
        return data_checks.train_val_overlap(None, None)
    return data_checks.train_val_overlap(train.x, first_rows(validation_data, MAX_DATA_ROWS).x)


def _usable_rows(samples: Samples, task: Any) -> np.ndarray:
    """Rows the training checks can use: no NaN/Inf in them, a class label the output has."""
    bad = nonfinite(samples.x)[1] | (nonfinite(samples.y)[1] if samples.y is not None else False)
    if samples.y is not None:
        _, bad_labels = data_checks.labels_out_of_range(samples.y, task)
        if bad_labels is not None:
            bad = bad | bad_labels
    return ~bad


class _Checks:
    """Results by check, each run timed and guarded; skipped checks recorded as such."""

    def __init__(self, skip: frozenset[Check]) -> None:
        self._results: dict[Check, CheckResult] = {}
        for code in skip:
            self.skip(code, "skipped")

    def run(self, code: Check, fn: Callable[[], CheckResult | tuple[CheckResult, Any]]) -> Any:
        """Run and time one check; returns the second item when it returns two (the rows it found at fault)."""
        if code in self._results:  # skipped, or found not applicable already
            return None
        start = time.perf_counter()
        try:
            found = fn()
            result, extra = found if isinstance(found, tuple) else (found, None)
        except Exception as exc:  # noqa: BLE001 - one failing check must not stop the others (nor a fit)
            result, extra = CheckResult(code, None, note=f"could not run: {type(exc).__name__}: {exc}"), None
        self._results[code] = replace(result, seconds=time.perf_counter() - start)
        return extra

    def skip(self, code: Check, note: str) -> None:
        self._results.setdefault(code, CheckResult(code, None, note=note, skipped=True))

    def not_applicable(self, code: Check, note: str) -> None:
        self._results.setdefault(code, CheckResult(code, None, note=note))

    def done(self, code: Check) -> bool:
        return code in self._results

    def ordered(self) -> tuple[CheckResult, ...]:
        return tuple(self._results[c] for c in Check if c in self._results)


@contextmanager
def _kept_random_state() -> Iterator[None]:
    """Cloning draws seeds for the clone's layers from Python's and NumPy's global generators: put them back,
    so a seeded script trains the same with or without the checks."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
