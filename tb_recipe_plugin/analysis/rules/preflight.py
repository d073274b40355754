"""Rules on the pre-flight checks: one finding per check that failed, with the numbers it measured.

The checks ran on a clone of the model before the first training step
(`tb_recipe_plugin.preflight`) and wrote their own verdict (``passed``) next
to their numbers. The verdict is theirs: its thresholds sit beside the
measurement they judge (`tb_recipe_plugin.keras.preflight`), tested at their
edges on real models, so these rules trust ``passed`` and turn a failure
into a finding that cites the numbers, rather than judging them again with
constants of their own (which could only drift apart from the checks'). A
check that passed, did not apply or was not run gives no finding; the run's
checklist (`RunReport.preflight`) lists it.

``initial_loss_off`` is not here: the callback's first training batch
measures it too, and one rule (`rules/internals.py`) reports it once,
preferring the measurement before any step (`preflight_initial_loss`).

Findings are at step 0 with ``stage`` "preflight": they describe the model
and data before training, not a stretch of a curve. Confidence says how
direct the measurement is: counted in the data (1.0), measured on the
clone's gradients (0.9), inferred from a few dozen training steps (0.8), a
range test's suggestion (0.6).
"""

from __future__ import annotations

import math

from tb_recipe_plugin.analysis.preflight import PreflightReadings, shares
from tb_recipe_plugin.analysis.report import Finding
from tb_recipe_plugin.analysis.rules.context import Context, sig2
from tb_recipe_plugin.analysis.rules.registry import rule
from tb_recipe_plugin.internal_tags import Check, Measure

M = Measure

BIAS_SHOWN = 10
"""Output units whose suggested bias a message quotes; the rest are in the ``suggested_bias`` series."""


def _finding(ctx: Context, code: Check, evidence: dict[str, object], confidence: float, *cited: Measure) -> Finding:
    return Finding(
        str(code),
        0,
        0,
        evidence,  # type: ignore[arg-type] - the registry turns every value into a number or a string
        confidence,
        ctx.preflight.tags(code, *cited),
        unit="step",
        stage="preflight",
    )


def _values(pf: PreflightReadings, code: Check, *measures: Measure) -> dict[str, float | None]:
    return {str(m): pf.value(code, m) for m in measures}


def _fraction_pct(value: float | None) -> float | None:
    return shares({"fraction": value}).get("fraction_pct")


def _rows_finding(ctx: Context, code: Check) -> Finding | None:
    pf = ctx.preflight
    if pf.passed(code) is not False:
        return None
    ev = _values(pf, code, M.COUNT, M.ROWS, M.SEEN)
    ev.update(shares(ev))
    return _finding(ctx, code, ev, 1.0, M.COUNT, M.ROWS, M.SEEN)


@rule("error", preflight=True)
def nonfinite_inputs(ctx: Context) -> Finding | None:
    """The pre-flight check found NaN/Inf in the inputs it read.

    One NaN input makes its loss NaN, and the first update that includes it
    turns every weight it touches into NaN; from then on nothing trains. The
    check counts them before any step, so the fix is in the data, not in the
    optimizer settings a NaN loss usually sends people to.
    """
    return _rows_finding(ctx, Check.NONFINITE_INPUTS)


@rule("error", preflight=True)
def nonfinite_labels(ctx: Context) -> Finding | None:
    """The pre-flight check found NaN/Inf in the labels (targets) it read.

    A NaN target makes that sample's loss NaN and poisons the weights at the
    first update, exactly as a NaN input does; missing values coded as NaN in
    a regression target are the usual source.
    """
    return _rows_finding(ctx, Check.NONFINITE_LABELS)


@rule("error", preflight=True)
def labels_out_of_range(ctx: Context) -> Finding | None:
    """Labels the output cannot produce: class ids beyond its units, a one-hot width that differs, targets outside
    the output activation's range.

    An out-of-range class id stops a TensorFlow step on the CPU and gives a
    NaN or silently wrong loss on a GPU; a one-hot width that differs from
    the units fails or misaligns classes; a target the activation cannot
    reach (0-255 pixels for a sigmoid) keeps pushing the output into
    saturation, so the loss cannot fall to what the data allows. Which case
    it is follows from the numbers the check wrote.
    """
    code = Check.LABELS_OUT_OF_RANGE
    pf = ctx.preflight
    if pf.passed(code) is not False:
        return None
    ev = _values(pf, code, M.COUNT, M.LABEL_MIN, M.LABEL_MAX)
    ev["fraction_pct"] = _fraction_pct(pf.value(code, M.FRACTION))
    units, width = pf.value(code, M.NUM_UNITS), pf.value(code, M.LABEL_WIDTH)
    low, high = pf.value(code, M.RANGE_LOW), pf.value(code, M.RANGE_HIGH)
    if width is not None and units is not None and width != units:
        ev.update(label_width=width, num_units=units)  # one-hot labels of another width
    elif width is not None:
        ev["onehot_width"] = width  # one-hot (or soft) labels with values outside [0, 1]
    elif low is not None:
        ev.update(range_low=low, range_high=high)  # binary labels or regression targets beyond the activation
    elif units is not None:
        ev["num_units"] = units  # integer class ids
        ev["max_class"] = units - 1
        label_max = ev["label_max"]
        if label_max is not None and math.isfinite(label_max) and label_max >= units:
            ev["units_needed"] = math.floor(label_max) + 1
    cited = (M.COUNT, M.FRACTION, M.LABEL_MIN, M.LABEL_MAX, M.NUM_UNITS, M.LABEL_WIDTH, M.RANGE_LOW, M.RANGE_HIGH)
    return _finding(ctx, code, ev, 1.0, *cited)


@rule("warning", preflight=True)
def train_val_overlap(ctx: Context) -> Finding | None:
    """Validation rows found verbatim among the training rows the pre-flight check compared them with.

    A validation set that shares samples with the training set measures
    memory, not generalisation: its loss follows the training loss down and
    hides overfitting, so early stopping and checkpoint choice trust a number
    that is too good.
    """
    code = Check.TRAIN_VAL_OVERLAP
    pf = ctx.preflight
    if pf.passed(code) is not False:
        return None
    ev = _values(pf, code, M.COUNT, M.SEEN)
    ev["fraction_pct"] = _fraction_pct(pf.value(code, M.FRACTION))
    ev["train_seen"] = pf.value(code, M.TRAIN_SEEN)
    return _finding(ctx, code, ev, 1.0, M.COUNT, M.SEEN, M.FRACTION)


@rule("error", preflight=True)
def inputs_ignored(ctx: Context) -> Finding | None:
    """Trained for a few dozen steps on zeroed inputs, the model reaches the held-out loss it reaches on the real
    ones: it does not use its inputs.

    Labels shuffled apart from their inputs, a pipeline that drops the input
    or reads the wrong key, or a model whose input does not reach the output
    all look like this, and no amount of training or tuning helps. The
    zero-input twin learns only the label priors, so real inputs that carry
    information must do clearly better on rows neither run trained on.
    """
    code = Check.INPUTS_IGNORED
    pf = ctx.preflight
    if pf.passed(code) is not False:
        return None
    ev = _values(pf, code, M.LOSS, M.ZERO_INPUT_LOSS, M.STEPS)
    ev.update(shares(ev))
    return _finding(ctx, code, ev, 0.8, M.LOSS, M.ZERO_INPUT_LOSS, M.STEPS)


@rule("error", preflight=True)
def batch_mixing(ctx: Context) -> Finding | None:
    """In inference mode, one sample's output has a gradient with respect to other samples' inputs.

    Every standard layer treats the samples of a batch independently at
    inference (batch normalisation uses its moving statistics then), so any
    dependence comes from an operation across the batch axis: a reshape or
    transpose that moves it, a reduction over it. Predictions then change
    with what else is in the batch, and training can exploit it.
    """
    code = Check.BATCH_MIXING
    pf = ctx.preflight
    if pf.passed(code) is not False:
        return None
    ev = _values(pf, code, M.LEAK, M.BATCH_SIZE)
    size = ev["batch_size"]
    if size is not None and math.isfinite(size) and size >= 2:
        ev["others"] = size - 1
    return _finding(ctx, code, ev, 0.9, M.LEAK, M.BATCH_SIZE)


@rule("warning", preflight=True)
def cannot_overfit_batch(ctx: Context) -> Finding | None:
    """The model could not fit one small fixed batch: its loss did not even halve within the check's steps.

    A model that cannot memorise a few dozen samples will not learn the data
    set: dead units, frozen layers, a loss that cannot fall (a wrong
    ``from_logits``, a wrong reduction) or a learning rate far too small stop
    it, whatever the amount of data or regularisation (seed 002, "overfit one
    batch").
    """
    code = Check.CANNOT_OVERFIT_BATCH
    pf = ctx.preflight
    if pf.passed(code) is not False:
        return None
    ev = _values(pf, code, M.START_LOSS, M.FINAL_LOSS, M.STEPS, M.BATCH_SIZE)
    ev.update(shares(ev))
    return _finding(ctx, code, ev, 0.8, M.START_LOSS, M.FINAL_LOSS, M.STEPS, M.BATCH_SIZE)


@rule("info", preflight=True)
def lr_range_test(ctx: Context) -> Finding | None:
    """The learning rate the model was compiled with is far from what the learning-rate range test suggests.

    The range test trains a clone while the learning rate grows
    exponentially; where the loss falls fastest is a good rate, where it
    bottoms out about the largest that still trains (seed 003: tune the
    learning rate first). A note rather than a problem: the test is short
    and suggests high, so the rate deserves a comparison, not a verdict.
    """
    code = Check.LR_RANGE_TEST
    pf = ctx.preflight
    if pf.passed(code) is not False:
        return None
    ev = _values(pf, code, M.SUGGESTED_LR, M.COMPILED_LR, M.MIN_LOSS_LR, M.STEEPEST_LR)
    suggested, compiled = ev["suggested_lr"], ev["compiled_lr"]
    if suggested is not None and compiled is not None and suggested > 0 and compiled > 0:
        if compiled < suggested:
            ev["factor_below"] = sig2(suggested / compiled)
        else:
            ev["factor_above"] = sig2(compiled / suggested)
    return _finding(ctx, code, ev, 0.6, M.SUGGESTED_LR, M.COMPILED_LR, M.MIN_LOSS_LR)


def preflight_initial_loss(ctx: Context) -> Finding | None | bool:
    """The pre-flight reading of ``initial_loss_off``: a finding when the check failed, False when it passed,
    True when there is none to use (not run, skipped, not applicable), so the caller falls back to the loss of the
    first training batch.

    The pre-flight loss is measured on the clone before any step, on rows
    whose NaN inputs and out-of-range labels were left out, and for
    regression too (against the targets' variance); the first batch's loss
    is the fit's own but is already one update in for some loops. The check's
    verdict stands; its numbers are cited with the output bias it suggests
    (log class priors, or the targets' mean), which is what fixes it.
    """
    code = Check.INITIAL_LOSS_OFF
    pf = ctx.preflight
    passed = pf.passed(code)
    if passed is None:
        return True
    if passed:
        return False
    loss = pf.value(code, M.LOSS)
    expected = pf.value(code, M.EXPECTED_LOSS)
    ratio = pf.value(code, M.RATIO)
    classes = pf.value(code, M.NUM_CLASSES)
    ev: dict[str, object] = {"source": "preflight", "loss": loss}
    if ratio is not None and math.isfinite(ratio):
        ev["ratio"] = ratio
    if classes is not None:
        ev.update(expected=expected, num_classes=classes)
    else:
        ev["target_spread"] = expected
    ev["prior_loss"] = pf.value(code, M.PRIOR_LOSS)
    bias = pf.curve(code, M.SUGGESTED_BIAS)
    if bias is not None and len(bias):
        ev["class_bias" if classes is not None else "target_bias"] = bias_text(bias.values.tolist())
        ev["bias_units"] = len(bias)
    off = abs(math.log(ratio)) if ratio is not None and math.isfinite(ratio) and ratio > 0 else math.inf
    confidence = min(1.0, 0.7 + 0.1 * off)
    cited = (M.LOSS, M.EXPECTED_LOSS, M.RATIO, M.NUM_CLASSES, M.SUGGESTED_BIAS)
    return _finding(ctx, code, ev, confidence, *cited)


def bias_text(values: list[float]) -> str:
    """The suggested output bias as a message quotes it: the first `BIAS_SHOWN` values, then how many in all."""
    shown = ", ".join(_short(v) for v in values[:BIAS_SHOWN])
    return shown + (f", … ({len(values)})" if len(values) > BIAS_SHOWN else "")


def _short(value: float) -> str:
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return f"{value:.3g}"
