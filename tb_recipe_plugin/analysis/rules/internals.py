"""Rules on the training-side signals of the Keras callback (`internal_tags`).

Curves say *that* something is wrong; gradients, updates and activations say
*why*. Each rule is silent on runs without the callback's series. Thresholds
come from published practice and detectors: first/last layer gradient ratio
below 1e-3 (vanishing) or above 70 (exploding), 70% dead ReLU units, an
update/weight ratio around 1e-3 per step, the initial loss of a uniform guess
ln(C).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

import numpy as np

from tb_recipe_plugin.analysis.report import Finding
from tb_recipe_plugin.analysis.rules.context import Context, pct
from tb_recipe_plugin.analysis.rules.preflight import preflight_initial_loss
from tb_recipe_plugin.analysis.rules.registry import rule
from tb_recipe_plugin.analysis.series import Series
from tb_recipe_plugin.internal_tags import Internals, LayerStat, Meta, Window


def _finite(s: Series) -> tuple[np.ndarray, np.ndarray]:
    """Steps and values of the finite points (the series' own arrays when all are: no copy of a long series)."""
    ok = np.isfinite(s.values)
    if ok.all():
        return s.steps, s.values
    return s.steps[ok], s.values[ok]


def _late(s: Series) -> np.ndarray:
    """Finite values of the second half of the run: past the first transients."""
    steps, values = _finite(s)
    if steps.size == 0:
        return values
    return values[steps >= steps[0] + (steps[-1] - steps[0]) / 2]


@rule("error", callback=True)
def nonfinite_gradients(ctx: Context) -> Finding | None:
    """NaN/Inf gradients (not loss-scaler overflow): the first step and the layers hit first.

    A non-finite gradient poisons every weight it touches on the next update,
    so the first step where it appears is what to debug; the loss usually turns
    NaN one step later. Steps skipped by a mixed-precision loss scaler are not
    counted: skipping and lowering the scale is its normal way of working.
    """
    it = ctx.internals
    window = it.window(Window.NONFINITE_GRAD_STEPS)
    if window is None:
        return None
    starts, ends, counts = window_spans(window, it.window(Window.STEPS), first_window_step(it))
    bad = counts > 0
    if not bad.any():
        return None
    first_window = int(np.argmax(bad))
    window_start, window_end = int(starts[first_window]), int(ends[first_window])
    first_step = _recorded_first_step(it, window_start, window_end)
    layers = []
    per_layer = it.per_layer(LayerStat.NONFINITE_GRAD_STEPS)
    for name, s in per_layer.items():
        at = s.values[s.steps == window_end]
        if at.size and np.isfinite(at[0]) and at[0] > 0:
            layers.append(name)
    names = ", ".join(layers[:4]) + (", ..." if len(layers) > 4 else "")
    return Finding(
        "nonfinite_gradients",
        first_step,
        int(ends[-1]),
        {
            "first_step": first_step,
            "steps": int(counts.sum()),
            # Without per-layer counts (none written, or none at that window) the message names no layers.
            "layers": names or None,
            "num_layers_hit": len(layers),
            "num_layers": len(per_layer),
        },
        1.0,
        (window.tag,),
    )


def _recorded_first_step(it: Internals, window_start: int, window_end: int) -> int:
    """The exact first bad step the callback recorded, when it is one the counts allow; else the window's start.

    It cannot lie after the first window whose count is positive; it may lie
    before that window's start when TensorBoard's sampling dropped the window
    where it happened. A NaN, infinite or out-of-range value (a damaged or
    hand-written run) is not a step.
    """
    recorded = it.meta(Meta.FIRST_NONFINITE_GRAD_STEP)
    lowest = min(0, window_start)
    if recorded is not None and lowest <= recorded <= window_end:
        return int(recorded)
    return window_start


def window_spans(counts: Series, sizes: Series | None, first_step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First step, last step and count of each window of a ``window/*`` count series that holds a usable count.

    A count says how many steps of the window ending at its step were bad, so
    it is a number between 0 and the window's length. NaN, infinite and
    negative counts (a damaged or hand-written series) are dropped, and a count
    is capped at the window's length, so that garbage such as 1e300 never turns
    into "1e300 steps" in a report. A window starts after the previous one
    ended (the first at `first_step`); the callback's ``window/steps`` says
    where when TensorBoard's sampling dropped the previous window's point.
    """
    ends = counts.steps
    previous_end = np.r_[np.int64(first_step) - 1, ends[:-1]]
    length = np.maximum(ends - previous_end, 1).astype(np.float64)
    if sizes is not None and len(sizes) and ends.size:
        at = np.minimum(np.searchsorted(sizes.steps, ends), len(sizes) - 1)
        size = np.where(sizes.steps[at] == ends, sizes.values[at], np.nan)
        usable = np.isfinite(size) & (size >= 1)
        length = np.where(usable, np.minimum(np.floor(np.where(usable, size, 1.0)), length), length)
    starts = ends - length.astype(np.int64) + 1
    values = counts.values
    ok = np.isfinite(values) & (values >= 0)
    return starts[ok], ends[ok], np.minimum(values[ok], length[ok])


def first_window_step(it: Internals) -> int:
    """Where the callback's first window begins: its first per-step point (0 when none was loaded)."""
    for s in (it.batch_loss, it.grad_norm):
        if s is not None and len(s):
            return int(s.steps[0])
    return 0


EXPLODE_GROWTH = 50.0
EXPLODE_LAYER_RATIO = 70.0
EARLY_FRACTION = 0.1
MIN_GRAD_POINTS = 8  # a blow-up can take only a handful of steps before everything is NaN
MIN_LAYERS = 3  # a first/last layer comparison needs a middle


@rule(
    "warning",
    callback=True,
    thresholds=("EXPLODE_GROWTH", "EXPLODE_LAYER_RATIO", "EARLY_FRACTION", "MIN_GRAD_POINTS", "MIN_LAYERS"),
)
def exploding_gradients(ctx: Context) -> Finding | None:
    """Gradient norm grows by 50x over its early level, or input-side layers get 70x the output side's.

    Exploding gradients make each update overshoot, which feeds larger
    gradients: the loss spikes, then turns NaN. The window maxima (not only the
    sampled per-step points) are used so that one huge step is not missed.
    """
    it = ctx.internals
    if it.grad_norm is None:
        return None
    steps, norms = _finite(it.grad_norm)
    if norms.size < MIN_GRAD_POINTS:
        return None
    n_early = max(3, int(norms.size * EARLY_FRACTION))
    early = float(np.median(norms[:n_early]))
    peak = _peak_after(steps, norms, n_early, it.window(Window.GRAD_NORM_MAX))
    if peak is not None and early > 0:
        value, step, before = peak
        growth = value / early
        if growth >= EXPLODE_GROWTH:
            return Finding(
                "exploding_gradients",
                before,
                step,
                {"peak": value, "peak_step": step, "early": early, "ratio": growth},
                min(1.0, 0.6 + 0.1 * math.log10(growth / EXPLODE_GROWTH + 1)),
                (it.grad_norm.tag,),
            )
    ratio = _first_last_ratio(it)
    if ratio is not None and ratio[0] >= EXPLODE_LAYER_RATIO:
        value, first, last, tag = ratio
        s = it.per_layer(LayerStat.GRAD_NORM)[first]
        return Finding(
            "exploding_gradients",
            int(s.steps[0]),
            int(s.steps[-1]),
            {"layer_ratio": value, "first_layer": first, "last_layer": last},
            0.7,
            (tag,),
        )
    return None


def _peak_after(
    steps: np.ndarray, norms: np.ndarray, n_early: int, maxima: Series | None
) -> tuple[float, int, int] | None:
    """The largest gradient norm after the first `n_early` steps: (value, step, step of the point logged before it).

    Per-step norms and the window maxima (which TensorBoard's sampling cannot
    drop) count alike, as if merged in step order: on a tie the earlier step
    wins, and at a shared step the per-step point. Read from the two sorted
    series directly, since merging them costs several full-length arrays on a
    long run.
    """
    w_steps, w_values = _finite(maxima) if maxima is not None else (np.zeros(0, np.int64), np.zeros(0))
    best: tuple[float, int, bool, int] | None = None  # value, step, from the window maxima, index
    if norms.size > n_early:
        j = n_early + int(np.argmax(norms[n_early:]))
        best = (float(norms[j]), int(steps[j]), False, j)
    first = int(np.searchsorted(w_steps, steps[n_early - 1], side="right"))
    if first < w_steps.size:
        k = first + int(np.argmax(w_values[first:]))
        value, step = float(w_values[k]), int(w_steps[k])
        if best is None or value > best[0] or (value == best[0] and step < best[1]):
            best = (value, step, True, k)
    if best is None:
        return None
    value, step, windowed, index = best
    if windowed:
        before = [int(steps[np.searchsorted(steps, step, side="right") - 1])]
        before += [int(w_steps[index - 1])] if index > 0 else []
    else:
        before = [int(steps[index - 1])]
        w = int(np.searchsorted(w_steps, step, side="left"))
        before += [int(w_steps[w - 1])] if w > 0 else []
    return value, step, max(before)


VANISH_LAYER_RATIO = 1e-3


def _first_last_ratio(it: Internals) -> tuple[float, str, str, str] | None:
    """Median (second half of the run) of input-side over output-side layer gradient norm."""
    layers = it.per_layer(LayerStat.GRAD_NORM)
    if len(layers) < MIN_LAYERS:
        return None
    names = list(layers)
    first, last = names[0], names[-1]
    a, b = _late(layers[first]), _late(layers[last])
    n = min(a.size, b.size)
    if n == 0:
        return None
    a_med, b_med = float(np.median(a[-n:])), float(np.median(b[-n:]))
    if a_med <= 0 or b_med <= 0:
        return None  # a layer with no gradient at all is dead or unused, not vanishing
    return a_med / b_med, first, last, layers[first].tag


@rule(
    "warning",
    unless=("dying_relu", "nonfinite_gradients"),
    callback=True,
    thresholds=("VANISH_LAYER_RATIO", "MIN_LAYERS"),
)
def vanishing_gradients(ctx: Context) -> Finding | None:
    """Input-side layers get under 1/1000 of the output side's gradient: they barely learn.

    Typical of deep stacks of sigmoid/tanh layers without normalisation or
    skip connections: each layer multiplies the backward signal by a factor
    below one. Dead ReLUs also starve layers of gradient but are reported
    under their own name.
    """
    it = ctx.internals
    ratio = _first_last_ratio(it)
    if ratio is None or ratio[0] >= VANISH_LAYER_RATIO:
        return None
    value, first, last, tag = ratio
    layers = it.per_layer(LayerStat.GRAD_NORM)
    s = layers[first]
    return Finding(
        "vanishing_gradients",
        int(s.steps[0]),
        int(s.steps[-1]),
        {
            "ratio": value,
            "first_layer": first,
            "last_layer": last,
            "first_norm": float(np.median(_late(layers[first]))),
            "last_norm": float(np.median(_late(layers[last]))),
            "num_layers": len(layers),
        },
        min(1.0, 0.7 + 0.1 * math.log10(VANISH_LAYER_RATIO / max(value, 1e-30))),
        (tag, layers[last].tag),
    )


DEAD_FRACTION = 0.7
RECENT_POINTS = 3


def _fractions(s: Series) -> tuple[np.ndarray, np.ndarray]:
    """Steps and values of a per-layer fraction series that are fractions at all (finite, in [0, 1])."""
    ok = np.isfinite(s.values) & (s.values >= 0) & (s.values <= 1)
    return s.steps[ok], s.values[ok]


@rule("warning", callback=True, thresholds=("DEAD_FRACTION", "RECENT_POINTS"))
def dying_relu(ctx: Context) -> Finding | None:
    """A ReLU layer with 70%+ of its units at zero for the whole probe batch.

    A unit that outputs 0 for every input gets no gradient and never recovers;
    too high a learning rate, a large negative bias or a bad initialisation
    pushes units there. The last probes are used, so a layer that recovers
    is not reported.
    """
    return _activation_finding(ctx, "dying_relu", LayerStat.DEAD_FRACTION, DEAD_FRACTION)


SATURATED_FRACTION = 0.5


@rule("warning", callback=True, thresholds=("SATURATED_FRACTION", "RECENT_POINTS"))
def saturated_activations(ctx: Context) -> Finding | None:
    """Half or more of a sigmoid/tanh hidden layer's outputs sit at the asymptotes.

    There the activation's derivative is nearly 0, so the layer passes almost
    no gradient back: learning slows or stalls (weights or inputs too large).
    The output layer is not judged: a confident classifier saturates it on
    purpose.
    """
    return _activation_finding(ctx, "saturated_activations", LayerStat.SATURATED_FRACTION, SATURATED_FRACTION)


def _activation_finding(ctx: Context, code: str, stat: LayerStat, threshold: float) -> Finding | None:
    layers = ctx.internals.per_layer(stat)
    hit = []
    for name, s in layers.items():
        found = _recent_stretch(s, threshold)
        if found is not None:
            value, start, end = found
            hit.append((value, name, start, end, s.tag))
    if not hit:
        return None
    worst = max(hit)
    return Finding(
        code,
        min(h[2] for h in hit),
        max(h[3] for h in hit),
        {
            "layer": worst[1],
            "fraction_pct": pct(worst[0]),
            "layers": ", ".join(h[1] for h in hit[:4]) + (", ..." if len(hit) > 4 else ""),
            "num_layers_hit": len(hit),
            "num_layers": len(layers),
        },
        min(1.0, 0.6 + 0.4 * (worst[0] - threshold) / max(1 - threshold, 1e-9)),
        tuple(h[4] for h in hit[:4]),
    )


def _recent_stretch(s: Series, threshold: float) -> tuple[float, int, int] | None:
    """(recent level, first step, last step) of a layer whose last probes sit at or above `threshold`.

    The level is the median of the last `RECENT_POINTS` probes, so one good
    probe does not clear a dead layer and one bad probe does not condemn a
    healthy one. The range is the last stretch of probes at or above the
    threshold; probes after it that dipped below (outvoted by the median) do
    not end it.
    """
    tail = s.values[-RECENT_POINTS:].tolist()
    if tail and all(0 <= v <= 1 for v in tail) and statistics.median(tail) < threshold:
        return None  # the usual healthy layer, decided without numpy (a model can have 100k layers)
    steps, values = _fractions(s)
    if values.size == 0:
        return None
    level = statistics.median(values[-RECENT_POINTS:].tolist())
    if level < threshold:
        return None
    over = np.flatnonzero(values >= threshold)  # not empty: the median of the recent probes is among them
    last = int(over[-1])
    below = np.flatnonzero(values[:last] < threshold)
    start = int(steps[below[-1] + 1]) if below.size else int(steps[0])
    return level, start, int(steps[-1])


UPDATE_RATIO_HIGH = 1e-2
UPDATE_RATIO_LOW = 1e-5
MIN_RATIO_POINTS = 3


def _update_ratio(ctx: Context) -> tuple[float, int, int, str] | None:
    """Median over the run of the per-read median over layers of the per-step update ratio.

    Layers need not be read at the same steps (TensorBoard samples each series
    on its own, layers can be added later), so the per-read medians are taken
    over whichever layers have a finite value at that step: one sort of all
    points, no layers x steps table (which 100k layers read at unaligned steps
    would make enormous).
    """
    layers = ctx.internals.per_layer(LayerStat.UPDATE_RATIO)
    if not layers:
        return None
    steps = np.concatenate([s.steps for s in layers.values()])
    values = np.concatenate([s.values for s in layers.values()])
    ok = np.isfinite(values)
    steps, values = steps[ok], values[ok]
    order = np.lexsort((values, steps))
    steps, values = steps[order], values[order]
    first = np.flatnonzero(np.r_[True, steps[1:] != steps[:-1]]) if steps.size else np.zeros(0, np.int64)
    if first.size < MIN_RATIO_POINTS:
        return None
    end = np.r_[first[1:], steps.size]
    lo, hi = (first + end - 1) // 2, (first + end) // 2
    per_read = np.where(lo == hi, values[lo], (values[lo] + values[hi]) / 2)
    return float(np.median(per_read)), int(steps[first[0]]), int(steps[first[-1]]), next(iter(layers.values())).tag


@rule(
    "warning",
    unless=("nonfinite_gradients", "exploding_gradients"),
    callback=True,
    thresholds=("UPDATE_RATIO_HIGH", "MIN_RATIO_POINTS"),
)
def update_ratio_high(ctx: Context) -> Finding | None:
    """Each step changes the weights by more than 1% of their norm (healthy: about 0.1%).

    Updates that large mean the learning rate is too high for this model: the
    weights jump around rather than descend, often with a noisy or stuck loss
    and dying ReLUs.
    """
    return _update_ratio_finding(ctx, "update_ratio_high", lambda ratio: ratio / UPDATE_RATIO_HIGH)


@rule(
    "warning",
    unless=("vanishing_gradients", "dying_relu", "nonfinite_gradients"),
    callback=True,
    thresholds=("UPDATE_RATIO_LOW", "MIN_RATIO_POINTS"),
)
def update_ratio_low(ctx: Context) -> Finding | None:
    """Each step changes the weights by less than 0.001% of their norm: the model barely moves.

    Usually the learning rate is far too small (or the gradients vanish or the
    units are dead, which are reported under their own names instead).
    """
    return _update_ratio_finding(ctx, "update_ratio_low", lambda ratio: UPDATE_RATIO_LOW / max(ratio, 1e-30))


def _update_ratio_finding(ctx: Context, code: str, excess: Callable[[float], float]) -> Finding | None:
    """A finding when the run's update ratio is `excess` >= 1 times beyond its threshold."""
    found = _update_ratio(ctx)
    if found is None or excess(found[0]) < 1.0:
        return None
    value, start, end, tag = found
    confidence = min(1.0, 0.6 + 0.2 * math.log10(excess(value) + 1))
    return Finding(code, start, end, {"ratio": value, "healthy": 1e-3}, confidence, (tag,))


INITIAL_LOSS_FACTOR = 2.0


@rule("warning", callback=True, preflight=True, thresholds=("INITIAL_LOSS_FACTOR",))
def initial_loss_off(ctx: Context) -> Finding | None:
    """The loss at initialisation is more than 2x away from ln(C), a uniform guess over C classes.

    A freshly initialised classifier should be unsure of everything. A first
    loss far above ln(C) means confident wrong predictions from the start:
    unnormalised inputs, too large an initialisation, a softmax applied twice
    or ``from_logits`` set wrongly. Far below means the labels or the loss are
    not what they seem.

    Two measurements say it; one finding reports it, from the better one. The
    pre-flight check (before any step, on a clone; regression against the
    targets' variance too) is used whenever it judged the initial loss, with
    its verdict and the output bias it suggests (`preflight_initial_loss`).
    Otherwise the callback's first training batch is compared with ln(C) here
    (the check's `INITIAL_LOSS_FACTOR` is the same 2x).
    """
    preflight = preflight_initial_loss(ctx)
    if preflight is not True:
        return preflight or None
    it = ctx.internals
    classes = class_count(it)
    expected = it.meta(Meta.EXPECTED_INITIAL_LOSS)
    if expected is None or not 0 < expected < math.inf:
        expected = math.log(classes) if classes is not None else None
    if it.batch_loss is None or expected is None or classes is None:
        return None
    loss = it.batch_loss
    if not len(loss) or loss.steps[0] > 1 or not np.isfinite(loss.values[0]):
        return None  # resumed training, or a non-finite first loss (reported elsewhere)
    first = float(loss.values[0])
    if first < 0:
        return None  # not a cross-entropy (which is never negative): ln(C) says nothing about this loss
    ratio = first / expected
    if 1 / INITIAL_LOSS_FACTOR <= ratio <= INITIAL_LOSS_FACTOR:
        return None
    off = abs(math.log(ratio)) if ratio > 0 else math.inf  # a zero first loss is as far below as it gets
    return Finding(
        "initial_loss_off",
        int(loss.steps[0]),
        int(loss.steps[0]),
        {"source": "first_batch", "first_loss": first, "expected": expected, "num_classes": classes, "ratio": ratio},
        min(1.0, 0.6 + 0.2 * off / math.log(INITIAL_LOSS_FACTOR) / 2),
        (loss.tag,),
    )


def class_count(it: Internals) -> int | None:
    """The number of classes the callback recorded, when it is one: a whole number of at least 2.

    NaN, infinite, fractional or smaller values come from a damaged or
    hand-written run and say nothing about the uniform-guess loss ln(C).
    """
    value = it.meta(Meta.NUM_CLASSES)
    if value is None or not 2 <= value < math.inf or value != math.floor(value):
        return None
    return int(value)
