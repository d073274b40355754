"""Rules for runs that are broken: non-finite values, divergence, no learning."""

from __future__ import annotations

import math

import numpy as np

from tb_recipe_plugin.analysis.curves import Curve
from tb_recipe_plugin.analysis.report import Finding
from tb_recipe_plugin.analysis.rules.context import Context, as_fraction, pct, rel
from tb_recipe_plugin.analysis.rules.internals import class_count, first_window_step, window_spans
from tb_recipe_plugin.analysis.rules.registry import rule
from tb_recipe_plugin.analysis.units import raw_unit
from tb_recipe_plugin.internal_tags import Window

NONFINITE_ROLES = ("train_loss", "val_loss", "batch_loss", "train_metric", "val_metric")


@rule("error")
def nonfinite_loss(ctx: Context) -> Finding | None:
    """NaN/Inf in a loss or metric: the earliest one, since later ones are consequences.

    TensorBoard's charts silently drop NaN points, so a run can look merely
    "stopped" when it in fact blew up; the first bad step is what to debug.
    """
    first: tuple[int, str, float, int] | None = None
    tags = []
    for role in NONFINITE_ROLES:
        role_info = ctx.roles.get(role)
        if role_info is None:
            continue
        s = ctx.run.series[role_info.tag]
        bad = ~np.isfinite(s.values)
        if not bad.any():
            continue
        tags.append(s.tag)
        i = int(np.argmax(bad))
        if first is None or s.steps[i] < first[0]:
            first = (int(s.steps[i]), s.tag, float(s.values[i]), int(bad.sum()))
    if first is None:
        return _nonfinite_in_windows(ctx)
    step, tag, value, count = first
    s = ctx.run.series[tag]
    before = np.isfinite(s.values) & (s.steps < step)
    last_finite = float(s.values[before][-1]) if before.any() else None
    last_finite_step = int(s.steps[before][-1]) if before.any() else None
    return Finding(
        "nonfinite_loss",
        step,
        int(s.steps[-1]),
        {
            "tag": tag,
            "first_step": step,
            "first_value": value,
            "count": count,
            "last_finite": last_finite,
            "last_finite_step": last_finite_step,
            "tags_affected": ", ".join(tags),
        },
        1.0,
        (tag, *(t for t in tags if t != tag)),
        unit=raw_unit(ctx, tag),  # read from the logged series, not from a curve moved onto the step axis
    )


def _nonfinite_in_windows(ctx: Context) -> Finding | None:
    """NaN/Inf losses that the Keras callback counted on every step but the loaded points do not show.

    TensorBoard serves ~1000 sampled points per series, so one NaN step in a
    long run can be sampled away; the callback's per-window counts cannot be.
    """
    it = ctx.internals
    counts = it.window(Window.NONFINITE_LOSS_STEPS)
    if counts is None:
        return None
    starts, ends, found = window_spans(counts, it.window(Window.STEPS), first_window_step(it))
    bad = found > 0
    if not bad.any():
        return None
    i = int(np.argmax(bad))
    loss = it.batch_loss
    return Finding(
        "nonfinite_loss",
        int(starts[i]),
        int(ends[bad][-1]),
        {
            "tag": loss.tag if loss is not None else counts.tag,
            "first_value": "NaN/Inf",
            "window_start": int(starts[i]),
            "window_end": int(ends[i]),
            "count": int(found[bad].sum()),
        },
        1.0,
        (counts.tag,),
    )


DIV_RISE_OF_DROP = 0.5
"""The loss must climb back at least half of the way it had come down..."""
DIV_MIN_RATIO = 1.3
"""...and end at least 30% above its minimum (positive losses),"""
DIV_TAIL = 0.2
"""...and stay up over the last 20% of the run (no recovery)."""
DIV_EXPLODE_RATIO = 10.0
"""A loss that reaches 10x its starting value has exploded, whatever happened before."""


@rule(
    "error",
    after=("no_learning",),
    thresholds=("DIV_RISE_OF_DROP", "DIV_MIN_RATIO", "DIV_TAIL", "DIV_EXPLODE_RATIO"),
)
def divergence(ctx: Context) -> Finding | None:
    """Training loss that turns upward (or explodes) and does not come back.

    Only the training loss counts: a rising validation loss with a falling
    training loss is overfitting. A training loss that rises is almost always an
    optimisation problem (learning rate too high) or a pipeline bug. In a run
    whose accuracy never left chance (`no_learning`'s accuracy path) a fall and
    a rise of the loss are its scatter, not a turn: only an explosion counts there.
    """
    c = ctx.train_curve()
    if c is None or c.n < 4:
        return None
    y = c.smooth
    i_min = int(np.argmin(y))
    first, low, last = float(y[0]), float(y[i_min]), float(y[-1])
    raw_max = float(np.max(c.values))
    exploded = first > 0 and raw_max > DIV_EXPLODE_RATIO * first and c.values[-1] > DIV_EXPLODE_RATIO * first
    tail = c.bsteps >= c.bsteps[-1] - DIV_TAIL * (c.bsteps[-1] - c.bsteps[0])
    rise = last - low
    drop = first - low
    ratio_ok = last > DIV_MIN_RATIO * low if low > 0 else rise > 0.3 * abs(first)
    # Stays up: every tail point at least halfway from the minimum to the end level, or to the starting level when
    # the climb went past it (an accelerating blow-up is still low early in the tail compared with its last point).
    sustained = bool(np.all(y[tail] > low + 0.5 * min(rise, max(drop, 0.0)))) and i_min < c.n - max(2, int(tail.sum()))
    rising = rise > DIV_RISE_OF_DROP * drop and ratio_ok and sustained and rise > 0 and not _never_learned(ctx)
    if not (rising or exploded):
        return None
    min_step = int(c.bsteps[i_min])
    return Finding(
        "divergence",
        min_step,
        int(c.steps[-1]),
        {
            "tag": c.tag,
            "min_value": low,
            "min_step": min_step,
            "last_value": float(c.values[-1]),
            "ratio": round(last / low, 2) if low > 0 else None,
            "first_value": first,
        },
        0.9 if exploded else min(0.95, 0.6 + 0.3 * min(1.0, rise / max(drop, 1e-12))),
        (c.tag,),
    )


def _never_learned(ctx: Context) -> bool:
    """Did `no_learning` find every accuracy of the run at chance from the first evaluation to the last?"""
    return any(f.code == "no_learning" and "metric_median" in f.evidence for f in ctx.findings)


NO_LEARN_MAX_IMPROVEMENT = 0.05
"""Less than 5% below the starting loss over the whole run counts as not learning."""
NO_LEARN_TRAIN_BESIDE_FLAT_VAL = 0.2
"""...or by at most 20% while the validation loss improves by less than NO_LEARN_MAX_IMPROVEMENT (30% with a flat
validation loss is `data_problem`'s ground)."""
NO_LEARN_MIN_POINTS = 5
CHANCE_TOLERANCE = 0.03
"""A loss within 3% of ln(C) for an integer C is the loss of a uniform guess."""
METRIC_MIN_GAIN = 0.05
"""...unless a validation metric improved by more than this (absolute, for 0-1 metrics),"""
METRIC_ABOVE_CHANCE = 0.1
"""...or, when the loss says C classes, an accuracy got 10 points above chance (1/C)."""
CHANCE_METRIC_BAND = 0.05
"""An accuracy whose median over the whole run lies within 5% of the way from chance (1/C; C from the callback, or the
nearest of 2-12 classes) to perfect, and whose smoothed curve stays within CHANCE_METRIC_SPREAD of chance from the
first evaluation to the last, has learned nothing, however noisy the loss beside it: a loss that scatters (an LR of 5
with SGD) hides ln(C), the accuracy does not. A curve that climbs (a language model's token accuracy rising to 0.3)
leaves the band on the way, and one that levels off a little above chance is underfitting, not this."""
CHANCE_METRIC_SPREAD = 0.15
"""...(15% of the way from chance to perfect, either side, for every smoothed point)."""
CHANCE_TRAIN_LEARNS = 0.3
"""Without a training accuracy, a training loss that improved by 30% or more has learned the training set, and a
validation accuracy at chance beside it is `data_problem`'s ground (its own 30%), not a model that learns nothing."""
CHANCE_METRIC_CLASSES = range(2, 13)
"""Class counts an accuracy alone may name: above ~12, chance (1/C < 8%) is too close to "learned a little"."""
NO_LEARN_COLLAPSE_TAIL = 0.2
"""A model that learned and then collapsed: the training loss at ln(C) at every point of the last 20% of the run
(and an accuracy, if logged, back at chance) learns nothing any more, whatever it reached before."""


GUESSABLE_CLASSES = (*range(2, 13), 100, 1000)
"""Class counts a loss alone may name: a few classes, and the round counts of common benchmarks (CIFAR-100,
ImageNet). Above ~12 classes ln(C) and ln(C + 1) lie closer together than CHANCE_TOLERANCE, so every loss between
2.5 and 12 is "at ln(C)" for some C: a regression loss of 4.0 would read as a uniform guess over 55 classes. A class
count the callback recorded is used whatever its size."""


def uniform_guess_classes(loss: float) -> int | None:
    """C such that loss ~= ln(C), i.e. the model predicts 1/C for every class (C among GUESSABLE_CLASSES)."""
    if not (0.5 < loss < 12):
        return None
    c = min(GUESSABLE_CLASSES, key=lambda k: abs(loss - math.log(k)))
    if abs(loss - math.log(c)) <= CHANCE_TOLERANCE * math.log(c):
        return c
    return None


def _chance_classes(ctx: Context, typical: float) -> int | None:
    """C when the loss sits at ln(C); the Keras callback's recorded class count beats guessing C."""
    known = class_count(ctx.internals)
    if known is not None:
        ln_c = math.log(known)
        return known if abs(typical - ln_c) <= CHANCE_TOLERANCE * ln_c else None
    return uniform_guess_classes(typical)


@rule(
    "error",
    unless=("nonfinite_loss",),
    thresholds=(
        "NO_LEARN_MAX_IMPROVEMENT",
        "NO_LEARN_TRAIN_BESIDE_FLAT_VAL",
        "NO_LEARN_MIN_POINTS",
        "CHANCE_TOLERANCE",
        "METRIC_MIN_GAIN",
        "METRIC_ABOVE_CHANCE",
        "NO_LEARN_COLLAPSE_TAIL",
        "CHANCE_METRIC_BAND",
        "CHANCE_METRIC_SPREAD",
        "CHANCE_TRAIN_LEARNS",
    ),
)
def no_learning(ctx: Context) -> Finding | None:
    """The loss never meaningfully decreases: typically stuck at ln(num_classes).

    A flat loss from the first point on means the weights are not moving in a
    useful direction (LR far too small, dead units, NaN gradients, labels that
    do not match the inputs). A metric that still improves vetoes the finding.
    """
    c = ctx.curves.get("train_loss") or ctx.curves.get("val_loss") or ctx.curves.get("batch_loss")
    if c is None or c.steps.size < NO_LEARN_MIN_POINTS:
        return None
    first = float(c.values[0])
    best = float(np.min(c.smooth))
    improvement = rel(first - best, first)
    if first <= 0:
        return None
    chance = _accuracy_at_chance(ctx)
    if chance is not None and ("train_metric" in ctx.curves or improvement < CHANCE_TRAIN_LEARNS):
        evidence = _progress_evidence(c, first, best, improvement)
        evidence.update(chance)
        typical, ln_c = float(np.median(c.values)), math.log(int(chance["classes"]))
        if abs(typical - ln_c) <= CHANCE_TOLERANCE * ln_c:  # the loss says it too
            evidence.update(typical_value=typical, ln_classes=ln_c)
        tags = (c.tag, str(chance["metric_tag"]))
        return Finding("no_learning", int(c.steps[0]), int(c.steps[-1]), evidence, 0.9, tags)
    vl = ctx.curves.get("val_loss")
    val_gain = None
    if vl is not None and vl is not c and vl.n >= 3:
        v0 = float(np.median(vl.values[: max(1, min(3, vl.values.size // 5))]))
        val_gain = rel(v0 - float(np.min(vl.smooth)), v0)
    if improvement > NO_LEARN_MAX_IMPROVEMENT:
        # A noisy training loss that moves a little beside a validation loss that does not move at all has learned
        # nothing: its "improvement" is the first point's noise or memorised batches.
        flat_val = val_gain is not None and val_gain < NO_LEARN_MAX_IMPROVEMENT
        if not (flat_val and improvement <= NO_LEARN_TRAIN_BESIDE_FLAT_VAL):
            return _collapsed(ctx, c, first, best, improvement)
    if val_gain is not None and val_gain > 4 * NO_LEARN_MAX_IMPROVEMENT:
        return None  # validation learns: a data problem, not a dead model
    classes = _chance_classes(ctx, float(np.median(c.values)))
    vm = ctx.curves.get("val_metric") or ctx.curves.get("train_metric")
    if vm is not None and vm.n >= 3:
        o = vm.oriented()
        gain = float(o[0] - np.min(o))
        fraction = as_fraction(vm)
        percent = fraction is not None and float(np.max(vm.values)) > 1.0
        # the gain as a share of perfect for a bounded score (points / 100 for a percentage), relative otherwise
        scale = 100.0 if percent else 1.0 if np.all(np.abs(vm.values) <= 1.0) else max(abs(float(vm.values[0])), 1e-12)
        if classes is not None and fraction is not None:
            # Accuracy creeping up to chance level is not learning.
            if float(np.max(fraction)) > 1.0 / classes + METRIC_ABOVE_CHANCE:
                return None
        elif gain / scale > METRIC_MIN_GAIN:
            return None
    evidence = _progress_evidence(c, first, best, improvement)
    if classes is not None:
        evidence.update(classes=classes, typical_value=float(np.median(c.values)), ln_classes=math.log(classes))
    return Finding(
        "no_learning",
        int(c.steps[0]),
        int(c.steps[-1]),
        evidence,
        0.95 if classes is not None else 0.8,
        (c.tag,),
    )


def _accuracy_at_chance(ctx: Context) -> dict | None:
    """Evidence when every logged accuracy (train and validation) sat at chance level for the whole run."""
    curves = [c for c in (ctx.curves.get("val_metric"), ctx.curves.get("train_metric")) if c is not None]
    accs = [(c, as_fraction(c)) for c in curves if "acc" in c.tag.lower() and c.n >= NO_LEARN_MIN_POINTS]
    accs = [(c, f) for c, f in accs if f is not None]
    if not accs or len(accs) < len(curves):
        return None  # a metric that is not an accuracy may show learning the accuracy test cannot read
    head, head_values = accs[0]
    median = float(np.median(head_values))
    known = class_count(ctx.internals)
    classes = known if known is not None else min(CHANCE_METRIC_CLASSES, key=lambda k: abs(median - 1.0 / k))
    level = 1.0 / classes
    room = 1.0 - level  # from chance to perfect
    peaks = []
    for c, values in accs:
        # the smoothed curve as a fraction too (a percentage is divided by 100 as `as_fraction` did)
        smooth = c.smooth * (float(values[0]) / float(c.values[0]) if c.values[0] else 1.0)
        peaks.append(float(np.max(smooth)))
        if abs(float(np.median(values)) - level) > CHANCE_METRIC_BAND * room:
            return None
        if float(np.max(np.abs(smooth - level))) > CHANCE_METRIC_SPREAD * room:
            return None
    return {"metric_tag": head.tag, "metric_median": median, "metric_max": peaks[0], "classes": classes,
            "chance": round(level, 4)}  # fmt: skip


def _collapsed(ctx: Context, c: Curve, first: float, best: float, improvement: float) -> Finding | None:
    """no_learning for a run that learned, then fell back to a uniform guess (ln C) and stayed there.

    Typical after a divergence that did not produce NaN: dead ReLUs or a
    saturated softmax leave a constant prediction, so the loss sits exactly
    at ln(C) and the accuracy at 1/C however good the model was before.
    """
    # The smoothed curve: a collapsed model's per-batch loss still scatters around ln(C) with each batch's label
    # mix (2.30 +- 0.08 for 10 classes); staying there is what the smoothed tail shows.
    tail = c.smooth[c.bsteps >= c.bsteps[-1] - NO_LEARN_COLLAPSE_TAIL * (c.bsteps[-1] - c.bsteps[0])]
    end = float(np.median(tail))
    classes = _chance_classes(ctx, end)
    if classes is None or tail.size < 2:
        return None
    ln_c = math.log(classes)
    if np.any(np.abs(tail - ln_c) > CHANCE_TOLERANCE * ln_c) or best >= ln_c * (1 - CHANCE_TOLERANCE):
        return None  # not at ln(C) all along the tail, or never below it (that is the other path)
    vm = ctx.curves.get("val_metric") or ctx.curves.get("train_metric")
    fraction = as_fraction(vm)
    if vm is not None and fraction is not None:
        recent = fraction[vm.steps >= vm.steps[-1] - NO_LEARN_COLLAPSE_TAIL * (vm.steps[-1] - vm.steps[0])]
        if float(np.median(recent)) > 1.0 / classes + METRIC_ABOVE_CHANCE:
            return None
    # Where it got there: the first of the raw points at ln(C) that end the curve; when the raw last point scatters
    # off it (a per-batch loss), the same on the smoothed curve the test above read, which ends at ln(C).
    tol = CHANCE_TOLERANCE * ln_c
    since = _start_of_final_run(np.abs(c.values - ln_c) <= tol, c.steps)
    if since is None:
        since = _start_of_final_run(np.abs(c.smooth - ln_c) <= tol, c.bsteps)
    since = int(c.steps[0]) if since is None else since
    evidence = _progress_evidence(c, first, best, improvement)
    evidence.update(collapsed_step=since, classes=classes, typical_value=end, ln_classes=ln_c)
    return Finding("no_learning", since, int(c.steps[-1]), evidence, 0.9, (c.tag,))


def _start_of_final_run(mask: np.ndarray, steps: np.ndarray) -> int | None:
    """Step of the first point of the run of True that ends `mask`; None when its last point is False."""
    if not mask.size or not mask[-1]:
        return None
    return int(steps[mask.size - int(np.argmin(mask[::-1]))]) if not mask.all() else int(steps[0])


def _progress_evidence(c: Curve, first: float, best: float, improvement: float) -> dict:
    """What both no_learning paths say about the loss: where it started, ended, and its best.

    The rule decides on the smoothed best (`best`); the message quotes logged values, so its "best" is the lowest
    logged point, never above the last one it also quotes."""
    del best
    return {
        "tag": c.tag,
        "first_value": first,
        "last_value": float(c.values[-1]),
        "best_value": float(np.min(c.values)),
        "improvement_pct": pct(improvement),
    }
