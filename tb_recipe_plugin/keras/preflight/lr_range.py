"""The learning-rate range test: train the clone while the learning rate grows exponentially, read the curve.

Seed 003: tune the learning rate first, at 10x intervals. Smith's range test
does it in one short run: from a learning rate far too small to one far too
large, the loss first stays flat, then falls, then blows up; the learning
rate where it falls fastest (the steepest descent of the smoothed curve) is
a good one, the one at its minimum is about the largest that still trains.
The test runs on its own optimizer (the same class and config, with a
constant learning rate the test sets at every step), from the model's
initial weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tb_recipe_plugin.internal_tags import Check
from tb_recipe_plugin.keras.preflight.sandbox import Sandbox, fresh_optimizer
from tb_recipe_plugin.preflight import CheckResult

LR_RANGE_STEPS = 100
"""Steps of the test (fewer under a small budget): about 11 per decade from `LR_MIN` to `LR_MAX`."""
LR_MIN = 1e-7
LR_MAX = 10.0
"""The range swept: from far below any learning rate that trains to far beyond any that does not diverge."""
SMOOTHING_WINDOW = 9
"""Steps averaged (centred) to smooth the loss curve: single steps are too noisy to differentiate, and a centred
average, unlike the usual exponential one, does not shift the curve towards larger learning rates (an exponential
average over ~10 steps would lag by almost a decade at 12 steps per decade)."""
DIVERGED = 4.0
"""The test stops once the recent loss is 4x the smoothed minimum so far: past the useful range, the rest is NaN."""
TOO_LOW_FACTOR = 100.0
"""A compiled learning rate more than 100x below the suggested one fails: two decades below, training crawls.

Not 10x: a range test of a hundred steps credits the largest rates with the
progress made at all the smaller ones before them, so it suggests high (on
the digits data set, Adam's steepest descent is at 0.02-0.03 and SGD with
momentum's at 0.17-0.35, while Keras' default 1e-3 and the usual 0.01 train
it well); the 10x grid of seed 003 is for comparing full runs.
A compiled rate above the one at the loss's minimum fails too: there the
range test's loss was already rising.
"""


@dataclass(frozen=True)
class Suggestion:
    suggested: float
    steepest: float | None
    min_loss: float


def lr_range_test(sandbox: Sandbox, batches: list, steps: int, compiled_lr: float) -> CheckResult:
    code = Check.LR_RANGE_TEST
    if not batches:
        return CheckResult(code, None, note="no full batch to train on")
    optimizer = fresh_optimizer(sandbox.optimizer, learning_rate=LR_MIN)
    sandbox.add_optimizer(optimizer)
    sandbox.reset(optimizer)
    rates = LR_MIN * (LR_MAX / LR_MIN) ** (np.arange(steps) / max(steps - 1, 1))
    losses: list[float] = []
    for k, rate in enumerate(rates):
        optimizer.learning_rate = float(rate)
        losses.append(sandbox.train(batches[k % len(batches)], optimizer))
        if not math.isfinite(losses[-1]) or _diverged(losses):
            break
    lrs = [float(r) for r in rates[: len(losses)]]
    curves = {"lr": tuple(lrs), "curve_loss": tuple(losses)}
    measures = {"steps": float(len(losses))}
    if math.isfinite(compiled_lr):
        measures["compiled_lr"] = compiled_lr
    found = suggest(lrs, losses)
    if found is None:
        return CheckResult(code, None, measures, note="the loss never fell: no learning rate to suggest", curves=curves)
    measures.update(suggested_lr=found.suggested, min_loss_lr=found.min_loss)
    if found.steepest is not None:
        measures["steepest_lr"] = found.steepest
    if math.isfinite(compiled_lr) and compiled_lr > 0:
        measures["ratio"] = compiled_lr / found.suggested
    passed = lr_verdict(compiled_lr, found.suggested, found.min_loss)
    how = "steepest descent" if found.steepest is not None else "the loss's minimum / 10"
    note = f"suggested learning rate {found.suggested:.3g} ({how}), compiled with {compiled_lr:.3g}"
    return CheckResult(code, passed, measures, note=note, curves=curves)


def lr_verdict(compiled: float, suggested: float, min_loss_lr: float) -> bool | None:
    if not (math.isfinite(compiled) and compiled > 0 and suggested > 0):
        return None
    return suggested / TOO_LOW_FACTOR <= compiled <= max(min_loss_lr, suggested)


def smooth(losses: list[float]) -> np.ndarray:
    """Centred moving average over `SMOOTHING_WINDOW` steps (fewer at the ends)."""
    values = np.asarray(losses, dtype=np.float64)
    half = SMOOTHING_WINDOW // 2
    sums = np.concatenate([[0.0], np.cumsum(values)])
    index = np.arange(len(values))
    low, high = np.maximum(index - half, 0), np.minimum(index + half + 1, len(values))
    return (sums[high] - sums[low]) / (high - low)


def _diverged(losses: list[float]) -> bool:
    if len(losses) < SMOOTHING_WINDOW:
        return False
    recent = float(np.mean(losses[-(SMOOTHING_WINDOW // 2 + 1) :]))
    return recent > DIVERGED * float(smooth(losses).min())


def suggest(lrs: list[float], losses: list[float]) -> Suggestion | None:
    """Steepest descent of the smoothed loss against log(lr) before its minimum; else the minimum's lr / 10.

    None when the smoothed loss never fell below its start.
    """
    end = next((i for i, v in enumerate(losses) if not math.isfinite(v)), len(losses))  # the curve up to a NaN
    if end < 3:
        return None
    smoothed = smooth(losses[:end])
    lowest = int(np.argmin(smoothed))
    if lowest == 0 or smoothed[lowest] >= smoothed[0]:
        return None
    min_loss_lr = lrs[lowest]
    steepest = None
    if lowest >= 2:
        slope = np.gradient(smoothed[: lowest + 1], np.log(lrs[: lowest + 1]))
        steepest = lrs[int(np.argmin(slope))]
    return Suggestion(steepest if steepest is not None else min_loss_lr / 10, steepest, min_loss_lr)
