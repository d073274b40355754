"""Checks that run the clone: the initial loss, the zero-input baseline, batch mixing, overfitting one batch.

Each starts from the same snapshot of the clone (the model's initial weights,
a freshly built optimizer), so its numbers are those of the model as it
would start training. Each verdict is a small pure function of the measured
numbers (``*_verdict``), next to the threshold it applies.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tb_recipe_plugin.internal_tags import Check
from tb_recipe_plugin.keras.preflight.samples import Samples, leaves, to_tensors
from tb_recipe_plugin.keras.preflight.sandbox import Sandbox
from tb_recipe_plugin.keras.preflight.task import CLASSIFICATION, Kind, Task
from tb_recipe_plugin.preflight import CheckResult

INITIAL_LOSS_FACTOR = 2.0
"""A classifier's loss at initialisation more than 2x away from ln(C) (ln 2 per sigmoid unit) fails the check.

The same factor as the analyzer's rule on the first training batch
(`analysis.rules.internals.INITIAL_LOSS_FACTOR`): a freshly initialised
classifier is unsure of everything; far above means confident wrong
predictions (inputs not normalised, a large initialisation, a wrong output
bias), far below means the labels or the loss are not what they seem.
"""
REGRESSION_LOSS_FACTOR = 4.0
"""A regression's MSE (MAE) at initialisation above 4x the targets' variance (mean absolute deviation) fails it.

Predicting the targets' mean gives exactly their variance. An output that
starts independent of the targets, centred on zero with a spread like
theirs, gives about twice it, so up to 4x is an ordinary start; beyond, the
targets' mean is far from zero (fix: the output bias at their mean) or the
outputs start on a much larger scale than the targets.
"""
INPUTS_IGNORED_STEPS = 40
"""Training steps of each of the two runs (real inputs, zeroed inputs): "a few dozen"."""
INPUTS_MIN_GAIN = 0.05
"""Trained on the real inputs, a held-out loss at least 5% below the zero-input baseline's passes.

The baseline can learn the label priors only. Losses are taken on rows held
out of the training, so a model that memorises labels not aligned with its
inputs gains nothing there (on the digits data set with permuted labels: 2%
worse than the baseline), while a few dozen steps on a learnable task at a
usual learning rate gain far more (digits, Adam at 1e-3: 17-22%).
"""
INPUTS_IGNORED_GAIN = 0.005
"""A gain below 0.5% (or a loss above the baseline's) fails: the inputs make no difference.

Between the two thresholds the check cannot tell (passed is None): training
that slow (digits with plain SGD at 0.01: 1-3%) does not show yet whether
the inputs help; `cannot_overfit_batch` and the range test speak to it.
"""
MIN_HELD_OUT_BATCHES = 1
"""The zero-input baseline holds out at least one batch (and a quarter of the rows) to compare the two runs on."""
MIXING_BATCH = 8
"""Rows in the batch whose input gradients are taken: enough to tell one sample from the others, cheap."""
MIXING_PROBES = 2
"""Samples whose outputs are differentiated (the first and the middle one of the batch)."""
BATCH_MIXING_LEAK = 1e-3
"""The gradient of one sample's output reaching other samples' inputs, relative to its own, above which
the model mixes samples.

A model that treats samples independently gives exactly zero (every op is
per row). Reductions or reshapes over the batch axis give about 1/sqrt(B)
or more (a layer subtracting the batch mean over 8 rows: about 0.4), so
1e-3 only has to stay clear of rounding.
"""
OVERFIT_MAX_STEPS = 100
"""Steps the model gets to fit one fixed batch."""
FITTED_FRACTION = 0.1
"""The batch counts as fitted, and the check stops early, once its loss is a tenth of its start ("near zero"
must be relative: losses do not share a scale, and weight regularisation keeps a floor above zero)."""
OVERFIT_FRACTION = 0.5
"""The check passes when the batch's loss has at least halved within its steps.

Fitting to near zero takes longer than the budget allows at usual learning
rates (32 digits rows, Adam at Keras' default 1e-3: about 140 steps to a
tenth, a third of the start after 100), while the faults this check is for
leave the loss near its start: dead units or frozen layers (a bias-only
model reaches the label priors' entropy, about 90% of ln(C)), a loss that
cannot fall, a learning rate far too small.
"""


# ---------------------------------------------------------------------- initial loss


def initial_loss_off(sandbox: Sandbox, samples: Samples, task: Task, batch_size: int) -> CheckResult:
    """Loss at initialisation, before any step, against what a correctly initialised output layer gives."""
    code = Check.INITIAL_LOSS_OFF
    batches = samples.batches(batch_size)
    sandbox.reset()
    measured = [sandbox.loss(b) for b in batches]
    loss = float(np.mean([total - regularisation for total, regularisation in measured]))
    measures: dict[str, float] = {"loss": loss}
    if task.kind not in CLASSIFICATION and task.kind not in (Kind.MSE, Kind.MAE):
        return CheckResult(code, None, measures, note=f"no expected initial loss for the loss {task.loss_name!r}")
    expectation = expected_loss(task, np.asarray(samples.y))
    if expectation is None:
        return CheckResult(code, None, measures, note="the labels do not fit the output (see labels_out_of_range)")
    expected, prior_loss, bias = expectation
    measures["expected_loss"] = expected
    if task.kind in CLASSIFICATION:
        measures["num_classes"] = float(task.units if task.kind is not Kind.BINARY else 2)
    measures["prior_loss"] = prior_loss
    if expected > 0:
        measures["ratio"] = loss / expected
    passed = initial_loss_verdict(loss, expected, task.kind in CLASSIFICATION)
    curves = {"suggested_bias": tuple(float(b) for b in bias)}
    note = ""
    if passed is False:
        note = f"initial loss {loss:.4g} vs expected {expected:.4g}; "
        note += f"an output bias at the {_BIAS[task.kind]} gives {prior_loss:.4g}"
    elif passed is None:
        note = "the targets are constant" if expected <= 0 else ""
    return CheckResult(code, passed, measures, note=note, curves=curves)


_BIAS = {
    Kind.SPARSE: "log class priors",
    Kind.CATEGORICAL: "log class priors",
    Kind.BINARY: "log-odds of the labels",
    Kind.MSE: "targets' mean",
    Kind.MAE: "targets' median",
}


def initial_loss_verdict(loss: float, expected: float, classification: bool) -> bool | None:
    if not math.isfinite(loss):
        return False
    if not expected > 0 or not math.isfinite(expected):
        return None
    ratio = loss / expected
    if classification:
        return 1 / INITIAL_LOSS_FACTOR <= ratio <= INITIAL_LOSS_FACTOR
    return ratio <= REGRESSION_LOSS_FACTOR


def expected_loss(task: Task, y: np.ndarray) -> tuple[float, float, np.ndarray] | None:
    """(expected initial loss, loss of the best constant output, the output bias giving it) for these labels.

    Classification: ln(C) (a uniform guess), the entropy of the label priors,
    their logarithm (add-one smoothed, so that a class not seen gets a finite
    bias). Binary: ln 2 per unit, the mean binary entropy, the log-odds.
    MSE: the targets' variance, itself, their mean. MAE: the mean absolute
    deviation from the median, itself, the median (the constant that
    minimises an absolute error).
    """
    units = task.units
    n = len(y)
    if n == 0:
        return None
    if task.kind is Kind.SPARSE:
        if units is None:
            return None
        counts = np.bincount(y.reshape(-1).astype(np.int64), minlength=units)[:units].astype(np.float64)
        return _categorical(counts, units)
    if task.kind is Kind.CATEGORICAL:
        if units is None or y.ndim < 2 or y.shape[-1] != units:
            return None
        counts = y.reshape(-1, units).astype(np.float64).sum(axis=0)
        return _categorical(counts, units)
    columns = y.reshape(-1, units) if units and y.size % units == 0 and y.size // units >= 1 else y.reshape(-1, 1)
    columns = columns.astype(np.float64)
    if task.kind is Kind.BINARY:
        ones, total = columns.sum(axis=0), len(columns)
        q = ones / total
        entropy = -(_xlogx(q) + _xlogx(1 - q))
        return math.log(2), float(entropy.mean()), np.log((ones + 1) / (total - ones + 1))
    if task.kind is Kind.MSE:
        return float(columns.var(axis=0).mean()), float(columns.var(axis=0).mean()), columns.mean(axis=0)
    if task.kind is Kind.MAE:
        median = np.median(columns, axis=0)
        deviation = float(np.abs(columns - median).mean())
        return deviation, deviation, median
    return None


def _categorical(counts: np.ndarray, units: int) -> tuple[float, float, np.ndarray]:
    total = counts.sum()
    p = counts / max(total, 1e-12)
    entropy = float(-_xlogx(p).sum())
    return math.log(units), entropy, np.log((counts + 1) / (total + units))


def _xlogx(p: np.ndarray) -> np.ndarray:
    return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)


# ---------------------------------------------------------------------- zero-input baseline


def inputs_ignored(sandbox: Sandbox, train: Samples, held_out: Samples, steps: int, batch_size: int) -> CheckResult:
    """Train on the real inputs and, from the same start with the same batches, on zeroed ones; compare held out."""
    code = Check.INPUTS_IGNORED
    train_batches, held_batches = train.batches(batch_size), held_out.batches(batch_size)
    if not train_batches or len(held_batches) < MIN_HELD_OUT_BATCHES:
        return CheckResult(code, None, note=f"needs at least {4 * batch_size} usable rows")
    zero_train = train.with_zero_inputs().batches(batch_size)
    zero_held = held_out.with_zero_inputs().batches(batch_size)
    real = _train_then_evaluate(sandbox, train_batches, held_batches, steps)
    zero = _train_then_evaluate(sandbox, zero_train, zero_held, steps)
    measures = {"loss": real, "zero_input_loss": zero, "steps": float(steps)}
    if zero > 0 and math.isfinite(zero) and math.isfinite(real):
        measures["gain"] = (zero - real) / zero
    passed = inputs_ignored_verdict(real, zero)
    note = ""
    if passed is False:
        note = (
            f"after {steps} steps the held-out loss is {real:.4g} on the real inputs and {zero:.4g} on zeroed "
            "inputs: the labels may not belong to the inputs, or the input does not reach the model"
        )
    elif passed is None and "gain" in measures:
        note = (
            f"the real inputs gained {measures['gain']:.1%} over zeroed inputs in {steps} steps: "
            "too little training to tell (a small learning rate?)"
        )
    elif passed is None:
        note = "a non-finite or non-positive loss: nothing to compare"
    return CheckResult(code, passed, measures, note=note)


def inputs_ignored_verdict(real: float, zero: float) -> bool | None:
    if not (math.isfinite(real) and math.isfinite(zero)) or zero <= 0:
        return None
    gain = (zero - real) / zero
    if gain >= INPUTS_MIN_GAIN:
        return True
    return False if gain < INPUTS_IGNORED_GAIN else None


def _train_then_evaluate(sandbox: Sandbox, train: list, held: list, steps: int) -> float:
    sandbox.reset()
    for k in range(steps):
        sandbox.train(train[k % len(train)])
    return float(np.mean([sandbox.loss(b)[0] for b in held]))


# ---------------------------------------------------------------------- batch mixing


def batch_mixing(sandbox: Sandbox, samples: Samples, seed: int) -> CheckResult:
    """Does sample i's output depend on the inputs of the other samples of its batch (in inference mode)?"""
    code = Check.BATCH_MIXING
    size = min(len(samples), MIXING_BATCH)
    if size < 2:
        return CheckResult(code, None, note="needs at least 2 rows")
    x = to_tensors(samples.take(slice(0, size)).x)
    if not any(np.issubdtype(v.dtype, np.floating) for v in leaves(samples.x)):
        return CheckResult(code, None, note="no floating-point inputs to take gradients with respect to")
    probes = sorted({0, size // 2})[:MIXING_PROBES]
    sandbox.reset()
    squares = sandbox.input_gradient_norms(x, probes, seed)
    leaks = []
    for row, i in zip(squares, probes, strict=True):
        own, others = float(row[i]), float(row.sum() - row[i])
        if own > 0:
            leaks.append(math.sqrt(max(others, 0.0) / own))
        elif others > 0:
            leaks.append(math.inf)
    measures = {"batch_size": float(size)}
    if not leaks:
        note = "at the initial weights the outputs do not depend on the inputs at all (see cannot_overfit_batch)"
        return CheckResult(code, None, measures, note=note)
    leak = max(leaks)
    measures["leak"] = leak
    passed = batch_mixing_verdict(leak)
    note = (
        ""
        if passed
        else (
            f"one sample's output has gradients on the other samples' inputs ({leak:.3g} of its own): "
            "an operation mixes the batch (a reshape or transpose over the batch axis, a reduction over it)"
        )
    )
    return CheckResult(code, passed, measures, note=note)


def batch_mixing_verdict(leak: float) -> bool:
    return leak <= BATCH_MIXING_LEAK


# ---------------------------------------------------------------------- overfitting one batch


def cannot_overfit_batch(sandbox: Sandbox, batch: tuple[Any, Any, Any], size: int, max_steps: int) -> CheckResult:
    """Train on one fixed batch until its loss falls to `FITTED_FRACTION` of the start, or for `max_steps`;
    passed when it fell to `OVERFIT_FRACTION` of it."""
    code = Check.CANNOT_OVERFIT_BATCH
    sandbox.reset()
    start = loss = sandbox.train(batch)  # the loss before the first update
    steps = 0
    while steps < max_steps and math.isfinite(loss) and loss > FITTED_FRACTION * start:
        loss = sandbox.train(batch)  # the loss after `steps + 1` updates
        steps += 1
    measures = {"start_loss": start, "final_loss": loss, "steps": float(steps), "batch_size": float(size)}
    passed = overfit_verdict(start, loss)
    note = ""
    if passed is False:
        note = (
            f"the loss of one batch of {size} went from {start:.4g} to {loss:.4g} in {steps} steps: "
            "not halved; look for dead units, frozen layers, a wrong loss or too small a learning rate"
        )
    elif passed is None:
        note = "the loss at the start is not positive and finite: nothing to compare with"
    return CheckResult(code, passed, measures, note=note)


def overfit_verdict(start: float, final: float) -> bool | None:
    if not math.isfinite(start) or start <= 0:
        return None
    if not math.isfinite(final):
        return False
    return final <= OVERFIT_FRACTION * start
