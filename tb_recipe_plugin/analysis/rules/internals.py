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
from collections.abc import Callable

import numpy as np

from tb_recipe_plugin.analysis.report import Finding
from tb_recipe_plugin.analysis.rules.context import Context, pct
from tb_recipe_plugin.analysis.rules.registry import rule
from tb_recipe_plugin.analysis.series import Series
from tb_recipe_plugin.internal_tags import Internals, LayerStat, Meta, Window


def _finite(s: Series) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(s.values)
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
    steps, counts = _finite(window)
    bad = counts > 0
    if not bad.any():
        return None
    first_window = int(np.argmax(bad))
    window_start = int(steps[first_window - 1]) + 1 if first_window > 0 else _first_step(it)
    recorded = it.meta(Meta.FIRST_NONFINITE_GRAD_STEP)
    first_step = int(recorded) if recorded is not None else window_start
    layers = []
    per_layer = it.per_layer(LayerStat.NONFINITE_GRAD_STEPS)
    for name, s in per_layer.items():
        at = s.values[s.steps == steps[first_window]]
        if at.size and np.isfinite(at[0]) and at[0] > 0:
            layers.append(name)
    names = ", ".join(layers[:4]) + (", ..." if len(layers) > 4 else "")
    return Finding(
        "nonfinite_gradients",
        first_step,
        int(steps[-1]),
        {
            "first_step": first_step,
            "steps": int(counts.sum()),
            "layers": names or "?",
            "num_layers_hit": len(layers),
            "num_layers": len(per_layer),
        },
        1.0,
        (window.tag,),
    )


def _first_step(it: Internals) -> int:
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
    # Per-step points plus the window maxima (which TensorBoard's sampling cannot drop), in step order.
    p_steps, p_values = steps, norms
    peak_series = it.window(Window.GRAD_NORM_MAX)
    if peak_series is not None:
        w_steps, w_values = _finite(peak_series)
        order = np.argsort(np.concatenate([steps, w_steps]), kind="stable")
        p_steps = np.concatenate([steps, w_steps])[order]
        p_values = np.concatenate([norms, w_values])[order]
    after = p_steps > steps[n_early - 1]
    if after.any() and early > 0:
        i = int(np.argmax(np.where(after, p_values, -np.inf)))
        growth = float(p_values[i]) / early
        if growth >= EXPLODE_GROWTH:
            start = int(steps[n_early - 1]) if i == 0 else int(p_steps[i - 1])
            return Finding(
                "exploding_gradients",
                start,
                int(p_steps[i]),
                {"peak": float(p_values[i]), "peak_step": int(p_steps[i]), "early": early, "ratio": growth},
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


def _recent(s: Series) -> float | None:
    _, values = _finite(s)
    return float(np.median(values[-RECENT_POINTS:])) if values.size else None


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
        value = _recent(s)
        if value is not None and value >= threshold:
            steps, values = _finite(s)
            over = values >= threshold
            # Start of the last stretch at or above the threshold.
            below = np.flatnonzero(~over)
            start = int(steps[below[-1] + 1]) if below.size else int(steps[0])
            hit.append((value, name, start, int(steps[-1]), s.tag))
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


UPDATE_RATIO_HIGH = 1e-2
UPDATE_RATIO_LOW = 1e-5
MIN_RATIO_POINTS = 3


def _update_ratio(ctx: Context) -> tuple[float, int, int, str] | None:
    """Median over the run of the per-read median over layers of the per-step update ratio."""
    layers = ctx.internals.per_layer(LayerStat.UPDATE_RATIO)
    if not layers:
        return None
    steps = np.unique(np.concatenate([s.steps for s in layers.values()]))
    table = np.full((len(layers), steps.size), np.nan)
    for row, s in enumerate(layers.values()):
        table[row, np.searchsorted(steps, s.steps)] = s.values
    table[~np.isfinite(table)] = np.nan
    per_read = np.nanmedian(table, axis=0) if np.isfinite(table).any() else np.array([])
    ok = np.isfinite(per_read)
    if ok.sum() < MIN_RATIO_POINTS:
        return None
    return float(np.median(per_read[ok])), int(steps[ok][0]), int(steps[ok][-1]), next(iter(layers.values())).tag


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


@rule("warning", callback=True, thresholds=("INITIAL_LOSS_FACTOR",))
def initial_loss_off(ctx: Context) -> Finding | None:
    """The loss of the very first batch is more than 2x away from ln(C), a uniform guess over C classes.

    A freshly initialised classifier should be unsure of everything. A first
    loss far above ln(C) means confident wrong predictions from the start:
    unnormalised inputs, too large an initialisation, a softmax applied twice
    or ``from_logits`` set wrongly. Far below means the labels or the loss are
    not what they seem.
    """
    it = ctx.internals
    expected = it.meta(Meta.EXPECTED_INITIAL_LOSS)
    if it.batch_loss is None or expected is None or not expected > 0:
        return None
    steps, values = _finite(it.batch_loss)
    if steps.size == 0 or steps[0] > 1 or it.batch_loss.steps[0] != steps[0]:
        return None  # resumed training, or a non-finite first loss (reported elsewhere)
    first = float(values[0])
    ratio = first / expected
    if 1 / INITIAL_LOSS_FACTOR <= ratio <= INITIAL_LOSS_FACTOR:
        return None
    return Finding(
        "initial_loss_off",
        int(steps[0]),
        int(steps[0]),
        {
            "first_loss": first,
            "expected": expected,
            "num_classes": int(it.meta(Meta.NUM_CLASSES) or 0) or "?",
            "ratio": ratio,
        },
        min(1.0, 0.6 + 0.2 * abs(math.log(ratio)) / math.log(INITIAL_LOSS_FACTOR) / 2),
        (it.batch_loss.tag,),
    )
