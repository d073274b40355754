"""Tag names of the training-side signals, shared by the Keras callback and the analyzer.

The callback writes them (under the ``train/`` split folder, like Keras' own
TensorBoard callback); the analyzer finds them again in any `RunData`. Keeping
both sides on these names is the whole contract, so both import the names
from here and nowhere writes a literal tag; this module imports nothing heavy
because the analyzer and the TensorBoard plugin must work without TensorFlow.

Layout, all under ``PREFIX``:

- ``batch_loss``, ``grad_norm``: one point per training step (raw per-batch
  loss, global gradient norm before clipping, unscaled under mixed precision).
- ``learning_rate``: at every logging window.
- ``window/<Window>``: aggregates over each logging window, so that
  TensorBoard's sampling of ~1000 points per series cannot hide a spike or a
  NaN.
- ``layer/<LayerStat>/<layer>``: per-layer values at each window.
- ``meta/<Meta>``: written once (``layer_index/<layer>`` once per layer).
- ``config``: a text summary of the set-up, for the Text tab.
- ``preflight/<Check>/<Measure>``: the pre-flight checks run on a clone of
  the model before training (`tb_recipe_plugin.preflight`), written once at
  step 0: ``passed`` (1.0 or 0.0; absent when the check was skipped or does
  not apply) and the numbers it measured (`MEASURES` says which a check
  writes). A few measures are curves whose step is an index rather than a
  training step (`INDEXED`): the learning-rate range test's ``lr`` and
  ``curve_loss``, the suggested output bias per output unit. ``preflight/seconds``
  is what all checks took, ``preflight/step_seconds`` one training step of
  the clone (their ratio is the cost in training steps), ``preflight/summary``
  a text summary for the Text tab.

``SCHEMA_VERSION`` is written as ``meta/schema_version``. It changes when a
name or a meaning changes; the analyzer reads runs written with any version up
to its own and says so when a run is newer than it understands.

Each name is either read by the analyzer's rules (`Use.RULES`) or written for
the person looking at the run in TensorBoard (`Use.DISPLAY`): a test trains a
real model and checks that every tag the callback writes is declared here and
that every `Use.RULES` name is read by some rule. The pre-flight names carry
their `Use` in `MEASURES` rather than `USE` (a check and a measure together
make one name).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from tb_recipe_plugin.analysis.series import Series

PREFIX = "tb_recipe"
SCHEMA_VERSION = 1

BATCH_LOSS = f"{PREFIX}/batch_loss"
GRAD_NORM = f"{PREFIX}/grad_norm"
LEARNING_RATE = f"{PREFIX}/learning_rate"
CONFIG = f"{PREFIX}/config"  # a text summary: optimizer, loss, dtype policy... for people, not rules
PREFLIGHT = f"{PREFIX}/preflight"
PREFLIGHT_SECONDS = f"{PREFLIGHT}/seconds"  # wall time of all pre-flight checks together
PREFLIGHT_STEP_SECONDS = f"{PREFLIGHT}/step_seconds"  # one training step of the clone: the unit of their cost
PREFLIGHT_SUMMARY = f"{PREFLIGHT}/summary"  # a text summary of the checks, for the Text tab


class Use(StrEnum):
    RULES = "rules"  # some rule reads it
    DISPLAY = "display"  # for the person reading the run (Scalars tab, the tab's signal chart, the set-up text)


class Window(StrEnum):
    """``window/<name>``: one value per read window (every ``update_freq`` steps and at each epoch end)."""

    STEPS = "steps"
    GRAD_NORM_MAX = "grad_norm_max"
    LOSS_MAX = "loss_max"
    NONFINITE_LOSS_STEPS = "nonfinite_loss_steps"
    NONFINITE_GRAD_STEPS = "nonfinite_grad_steps"
    SKIPPED_STEPS = "skipped_steps"


class LayerStat(StrEnum):
    """``layer/<stat>/<layer>``: one value per layer and read window."""

    GRAD_NORM = "grad_norm"  # mean over the window's finite steps
    NONFINITE_GRAD_STEPS = "nonfinite_grad_steps"
    WEIGHT_NORM = "weight_norm"
    UPDATE_RATIO = "update_ratio"  # norm of one step's change over the weight norm
    ACT_MEAN = "act_mean"  # activation statistics of the probe batch
    ACT_STD = "act_std"
    DEAD_FRACTION = "dead_fraction"  # ReLU units at 0 for every probe sample
    SATURATED_FRACTION = "saturated_fraction"  # sigmoid/tanh outputs within 0.01 of their limits
    ACT_NONFINITE = "act_nonfinite"


class Meta(StrEnum):
    """``meta/<name>``: written once per fit."""

    SCHEMA_VERSION = "schema_version"
    NUM_CLASSES = "num_classes"
    EXPECTED_INITIAL_LOSS = "expected_initial_loss"  # ln(num_classes)
    BATCH_SIZE = "batch_size"  # global batch (all replicas)
    NUM_PARAMS = "num_params"  # trainable parameters
    LOSS_SCALED = "loss_scaled"  # 1 under a loss-scale optimizer
    FIRST_NONFINITE_GRAD_STEP = "first_nonfinite_grad_step"  # written when it happens
    LAYER_INDEX = "layer_index"  # layer_index/<layer>: position in the model, input side first


class Check(StrEnum):
    """``preflight/<check>/...``: one pre-flight check, named by the fault it finds when it fails."""

    INITIAL_LOSS_OFF = "initial_loss_off"
    INPUTS_IGNORED = "inputs_ignored"
    BATCH_MIXING = "batch_mixing"
    CANNOT_OVERFIT_BATCH = "cannot_overfit_batch"
    NONFINITE_INPUTS = "nonfinite_inputs"
    NONFINITE_LABELS = "nonfinite_labels"
    LABELS_OUT_OF_RANGE = "labels_out_of_range"
    TRAIN_VAL_OVERLAP = "train_val_overlap"
    LR_RANGE_TEST = "lr_range_test"


class Measure(StrEnum):
    """``preflight/<check>/<measure>``: what a check measured (`MEASURES` says which check writes which)."""

    PASSED = "passed"  # 1.0 passed, 0.0 failed
    SECONDS = "seconds"  # what the check took
    LOSS = "loss"  # initial loss; held-out loss after training on the real inputs
    EXPECTED_LOSS = "expected_loss"  # ln(C), ln 2, or the targets' variance / mean absolute deviation
    RATIO = "ratio"  # loss / expected_loss; compiled_lr / suggested_lr
    NUM_CLASSES = "num_classes"
    PRIOR_LOSS = "prior_loss"  # the loss with the suggested output bias (entropy of the label priors)
    SUGGESTED_BIAS = "suggested_bias"  # indexed by output unit
    ZERO_INPUT_LOSS = "zero_input_loss"  # held-out loss after the same training on zeroed inputs
    GAIN = "gain"  # (zero_input_loss - loss) / zero_input_loss
    STEPS = "steps"  # training steps taken
    LEAK = "leak"  # gradient norm reaching other samples / the sample's own
    START_LOSS = "start_loss"
    FINAL_LOSS = "final_loss"
    BATCH_SIZE = "batch_size"
    COUNT = "count"  # offending values (or rows, for overlap)
    ROWS = "rows"  # offending rows (samples)
    SEEN = "seen"  # rows checked
    FRACTION = "fraction"  # offending share of what was checked
    LABEL_MIN = "label_min"
    LABEL_MAX = "label_max"
    NUM_UNITS = "num_units"  # the output's last dimension
    LABEL_WIDTH = "label_width"  # the labels' last dimension (one-hot width)
    RANGE_LOW = "range_low"  # the output activation's range
    RANGE_HIGH = "range_high"
    TRAIN_SEEN = "train_seen"  # training rows the validation rows were compared with
    SUGGESTED_LR = "suggested_lr"
    STEEPEST_LR = "steepest_lr"
    MIN_LOSS_LR = "min_loss_lr"
    COMPILED_LR = "compiled_lr"
    LR = "lr"  # indexed: the range test's learning rate at each of its steps
    CURVE_LOSS = "curve_loss"  # indexed: the range test's loss at each of its steps


def _uses(rules: tuple[Measure, ...], display: tuple[Measure, ...]) -> dict[Measure, Use]:
    return {**dict.fromkeys(rules, Use.RULES), **dict.fromkeys(display, Use.DISPLAY)}


_M = Measure
MEASURES: dict[Check, dict[Measure, Use]] = {
    Check.INITIAL_LOSS_OFF: _uses(
        rules=(_M.PASSED, _M.LOSS, _M.EXPECTED_LOSS, _M.RATIO, _M.NUM_CLASSES, _M.SUGGESTED_BIAS),
        display=(_M.SECONDS, _M.PRIOR_LOSS),
    ),
    Check.INPUTS_IGNORED: _uses(
        rules=(_M.PASSED, _M.LOSS, _M.ZERO_INPUT_LOSS, _M.STEPS),
        display=(_M.SECONDS, _M.GAIN),
    ),
    Check.BATCH_MIXING: _uses(rules=(_M.PASSED, _M.LEAK), display=(_M.SECONDS, _M.BATCH_SIZE)),
    Check.CANNOT_OVERFIT_BATCH: _uses(
        rules=(_M.PASSED, _M.START_LOSS, _M.FINAL_LOSS, _M.STEPS, _M.BATCH_SIZE),
        display=(_M.SECONDS,),
    ),
    Check.NONFINITE_INPUTS: _uses(rules=(_M.PASSED, _M.COUNT, _M.ROWS, _M.SEEN), display=(_M.SECONDS,)),
    Check.NONFINITE_LABELS: _uses(rules=(_M.PASSED, _M.COUNT, _M.ROWS, _M.SEEN), display=(_M.SECONDS,)),
    Check.LABELS_OUT_OF_RANGE: _uses(
        rules=(
            _M.PASSED,
            _M.COUNT,
            _M.FRACTION,
            _M.LABEL_MIN,
            _M.LABEL_MAX,
            _M.NUM_UNITS,
            _M.LABEL_WIDTH,
            _M.RANGE_LOW,
            _M.RANGE_HIGH,
        ),
        display=(_M.SECONDS, _M.SEEN),
    ),
    Check.TRAIN_VAL_OVERLAP: _uses(
        rules=(_M.PASSED, _M.COUNT, _M.SEEN, _M.FRACTION),
        display=(_M.SECONDS, _M.TRAIN_SEEN),
    ),
    Check.LR_RANGE_TEST: _uses(
        rules=(_M.PASSED, _M.SUGGESTED_LR, _M.COMPILED_LR),
        display=(_M.SECONDS, _M.RATIO, _M.STEEPEST_LR, _M.MIN_LOSS_LR, _M.STEPS, _M.LR, _M.CURVE_LOSS),
    ),
}
"""Which measures each check writes, and who reads each: a rule cites ``passed`` and the numbers of its message."""

INDEXED = frozenset({Measure.SUGGESTED_BIAS, Measure.LR, Measure.CURVE_LOSS})
"""Measures written as a curve whose step is an index (output unit, range-test step), not a training step."""

PREFLIGHT_TOTALS: dict[str, Use] = {
    PREFLIGHT_SECONDS: Use.DISPLAY,
    PREFLIGHT_STEP_SECONDS: Use.DISPLAY,
    PREFLIGHT_SUMMARY: Use.DISPLAY,
}
"""The pre-flight names outside any check."""


USE: dict[StrEnum, Use] = {
    Window.STEPS: Use.RULES,
    Window.GRAD_NORM_MAX: Use.RULES,
    Window.LOSS_MAX: Use.DISPLAY,
    Window.NONFINITE_LOSS_STEPS: Use.RULES,
    Window.NONFINITE_GRAD_STEPS: Use.RULES,
    Window.SKIPPED_STEPS: Use.DISPLAY,  # loss-scaler skips are normal; shown so a user can see how many
    LayerStat.GRAD_NORM: Use.RULES,
    LayerStat.NONFINITE_GRAD_STEPS: Use.RULES,
    LayerStat.WEIGHT_NORM: Use.DISPLAY,
    LayerStat.UPDATE_RATIO: Use.RULES,
    LayerStat.ACT_MEAN: Use.DISPLAY,
    LayerStat.ACT_STD: Use.DISPLAY,
    LayerStat.DEAD_FRACTION: Use.RULES,
    LayerStat.SATURATED_FRACTION: Use.RULES,
    LayerStat.ACT_NONFINITE: Use.DISPLAY,
    Meta.SCHEMA_VERSION: Use.RULES,
    Meta.NUM_CLASSES: Use.RULES,
    Meta.EXPECTED_INITIAL_LOSS: Use.RULES,
    Meta.BATCH_SIZE: Use.DISPLAY,
    Meta.NUM_PARAMS: Use.DISPLAY,
    Meta.LOSS_SCALED: Use.DISPLAY,
    Meta.FIRST_NONFINITE_GRAD_STEP: Use.RULES,
    Meta.LAYER_INDEX: Use.RULES,
}
"""Who consumes each name; every member of `Window`, `LayerStat` and `Meta` has an entry."""


def window_tag(name: Window) -> str:
    return f"{PREFIX}/window/{name}"


def layer_tag(stat: LayerStat, layer: str) -> str:
    return f"{PREFIX}/layer/{stat}/{layer}"


def meta_tag(name: Meta) -> str:
    return f"{PREFIX}/meta/{name}"


def layer_index_tag(layer: str) -> str:
    return f"{PREFIX}/meta/{Meta.LAYER_INDEX}/{layer}"


def preflight_tag(check: Check, measure: Measure) -> str:
    if measure not in MEASURES[check]:
        raise ValueError(f"{check} does not declare the measure {measure!r}")
    return f"{PREFLIGHT}/{check}/{measure}"


def internal_part(tag: str) -> str | None:
    """``tb_recipe/...`` part of a display tag (which may carry a split prefix), else None."""
    parts = tag.split("/")
    try:
        i = parts.index(PREFIX)
    except ValueError:
        return None
    return "/".join(parts[i:])


def parse_tag(tag: str) -> tuple[StrEnum | str, str | None] | None:
    """(declared name, layer or measure or None) of a written tag, or None when it is not one of ours.

    The name is a `Window`/`LayerStat`/`Meta` member, one of the per-step
    tags or pre-flight totals, or a `Check` (then the second item is its
    `Measure`). The callback-side half of the contract test: every tag a real
    fit writes must parse.
    """
    part = internal_part(tag)
    if part is None:
        return None
    if part in (BATCH_LOSS, GRAD_NORM, LEARNING_RATE, CONFIG) or part in PREFLIGHT_TOTALS:
        return part, None
    kind, _, rest = part[len(PREFIX) + 1 :].partition("/")
    head, _, layer = rest.partition("/")
    if kind == "preflight":
        check = _CHECKS.get(head)
        measure = _MEASURE.get(layer)
        if check is None or measure is None or measure not in MEASURES[check]:
            return None
        return check, measure
    if kind == "window" and rest in _WINDOW:
        return Window(rest), None
    if kind == "layer" and head in _LAYER_STAT and layer:
        return LayerStat(head), layer
    if kind == "meta" and rest in _META and rest != Meta.LAYER_INDEX:
        return Meta(rest), None
    if kind == "meta" and head == Meta.LAYER_INDEX and layer:
        return Meta.LAYER_INDEX, layer
    return None


_WINDOW = frozenset(Window)
_LAYER_STAT = frozenset(LayerStat)
_META = frozenset(Meta)
_CHECKS = {str(c): c for c in Check}
_MEASURE = {str(m): m for m in Measure}


@dataclass
class Internals:
    """The callback's series of one run, by meaning rather than by tag.

    Rules read through `window`, `per_layer` and `meta`, which remember what
    was asked for in `reads`: the analyzer-side half of the contract test
    checks that every `Use.RULES` name is read by some rule.

    ``layers`` is the model's layer order (input side first), recovered from
    the ``meta/layer_index/<layer>`` values the callback writes; rules compare
    the input-side and output-side layers.
    """

    batch_loss: Series | None = None
    grad_norm: Series | None = None
    learning_rate: Series | None = None
    windows: dict[Window, Series] = field(default_factory=dict)
    layer: dict[LayerStat, dict[str, Series]] = field(default_factory=dict)  # stat -> layer -> series
    metas: dict[Meta, float] = field(default_factory=dict)
    layers: list[str] = field(default_factory=list)
    reads: set[StrEnum] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.batch_loss or self.grad_norm or self.windows or self.layer or self.metas)

    def window(self, name: Window) -> Series | None:
        self.reads.add(name)
        return self.windows.get(name)

    def meta(self, name: Meta) -> float | None:
        self.reads.add(name)
        return self.metas.get(name)

    def per_layer(self, stat: LayerStat) -> dict[str, Series]:
        self.reads.add(stat)
        found = self.layer.get(stat, {})
        ordered = [name for name in self.layers if name in found]
        return {name: found[name] for name in ordered + sorted(set(found) - set(ordered))}

    def schema_version(self) -> float | None:
        """The callback's tag schema of this run, a whole number or +Inf ("newer than any").

        None when it is not recorded (a run written before versions were) or is
        NaN (a damaged value says nothing, so the run is read as a current one).
        """
        value = self.meta(Meta.SCHEMA_VERSION)
        if value is None or math.isnan(value):
            return None
        return float(int(value)) if math.isfinite(value) else value


def find_internals(series: Mapping[str, Series]) -> Internals:
    """Collect the callback's series from a run's display tags; unknown names are ignored."""
    out = Internals()
    layer_index: dict[str, float] = {}
    for tag, s in series.items():
        if PREFIX not in tag:  # most tags of a big run: skip the parse (a third of the time on 1M tags)
            continue
        parsed = parse_tag(tag)
        if parsed is None:
            continue
        name, layer = parsed
        if name == BATCH_LOSS:
            out.batch_loss = s
        elif name == GRAD_NORM:
            out.grad_norm = s
        elif name == LEARNING_RATE:
            out.learning_rate = s
        elif isinstance(name, Window):
            out.windows[name] = s
        elif isinstance(name, LayerStat) and layer:
            out.layer.setdefault(name, {})[layer] = s
        elif isinstance(name, Meta) and len(s) and s.values.size:
            if name == Meta.LAYER_INDEX and layer:
                layer_index[layer] = float(s.values[0])
            elif name != Meta.LAYER_INDEX:
                out.metas[name] = float(s.values[0])
    out.layers = _layer_order(out, layer_index)
    return out


def _layer_order(found: Internals, index: Mapping[str, float]) -> list[str]:
    """Layers input side first, from the ``meta/layer_index/<layer>`` values the callback writes."""
    found.reads.add(Meta.LAYER_INDEX)
    names = set().union(*(d.keys() for d in found.layer.values())) if found.layer else set()
    return sorted(names, key=lambda n: (index.get(n, float("inf")), n))
