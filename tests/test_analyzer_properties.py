"""The analyzer must never raise nor warn, whatever the curves look like.

Logs come from every writer and every kind of broken run: a single point,
constant series, NaN/Inf anywhere, huge or tiny magnitudes, negative losses,
steps with big gaps, out of order or repeated. Hypothesis generates such runs,
both with ordinary tag names and laid out as the Keras callback writes them
(per-step series, ``window/*`` counts, per-layer statistics, ``meta/*`` values
such as a NaN or fractional class count), each series on its own steps.

A rule that raises is turned into ``RunReport.analysis_errors`` by the runner,
so that is what the tests check, not only that `analyze_run` returns; and every
warning is an error here, since a warning from numpy (``All-NaN slice``, ``Mean
of empty slice``) goes to the user's terminal and usually means a rule computed
on an empty or all-NaN array.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tb_recipe_plugin import internal_tags as it
from tb_recipe_plugin.analysis.analyzer import analyze_run
from tb_recipe_plugin.analysis.curves import MAX_POINTS
from tb_recipe_plugin.analysis.series import RunData, Series
from tb_recipe_plugin.present.catalogue import LANGS, render_finding
from tb_recipe_plugin.present.json_report import reports_to_dict

TAGS = [
    "train/epoch_loss",
    "validation/epoch_loss",
    "validation/epoch_accuracy",
    "train/epoch_learning_rate",
    "train/batch_loss",
    "Loss/train",
    "Loss/val",
    "lr-Adam",
    "train_loss_step",
    "val_acc",
    "epoch",
    "weird tag ✓",
]

SPECIAL = [0.0, -0.0, -1.0, math.nan, math.inf, -math.inf, 1e300, -1e300, 1e-300, 0.5, 1.0, 2.5, 10.0, math.log(10)]
"""Values a damaged or hand-written run can hold anywhere: zero, negative, NaN, Inf, huge, tiny, fractional."""

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=-1e6, max_value=1e6),
    st.floats(min_value=0, max_value=10),
    st.sampled_from(SPECIAL),
)
fractions = st.one_of(st.floats(min_value=0, max_value=1), st.sampled_from(SPECIAL))
counts = st.one_of(st.integers(min_value=0, max_value=1000).map(float), st.sampled_from(SPECIAL))


@st.composite
def step_axis(draw, n: int, low: int = 0, high: int = 10**9) -> np.ndarray:
    """n steps: usually sorted and unique; sometimes out of order or repeated, as a hand-built RunData may be."""
    if draw(st.integers(0, 9)) == 0:
        return np.array(draw(st.lists(st.integers(low, high), min_size=n, max_size=n)), dtype=np.int64)
    return np.array(sorted(draw(st.sets(st.integers(low, high), min_size=n, max_size=n))), dtype=np.int64)


@st.composite
def long_step_axis(draw, n: int, low: int = 0, high: int = 10**9) -> np.ndarray:
    """n sorted steps from `low`, evenly spaced, uneven, or with one big gap (a run resumed much later)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    gaps = {
        "even": np.ones(n, np.int64),
        "uneven": rng.integers(1, 50, n),
        "gap": np.where(np.arange(n) == draw(st.integers(0, max(n - 1, 0))), max(1, (high - low) // 2), 1),
    }[draw(st.sampled_from(["even", "uneven", "gap"]))]
    return np.minimum(low + np.cumsum(gaps) - gaps[0], high).astype(np.int64)


@st.composite
def series(draw, tag: str, max_len: int = 120, elements=values, low: int = 0, high: int = 10**9) -> Series:
    """A series of 0..max_len points; sometimes a long one (past `MAX_POINTS`, so curves get downsampled)."""
    if high - low > 2 * LONG[1] and draw(st.integers(0, 9)) == 0:
        n = draw(st.integers(*LONG))
        return Series(tag, draw(long_step_axis(n, low, high)), draw(curve(n)))
    n = draw(st.integers(min_value=0, max_value=min(max_len, high - low + 1)))
    steps = draw(step_axis(n, low, high))
    kind = draw(st.sampled_from(["random", "constant", "curve"]))
    if kind == "random":
        vals = np.array(draw(st.lists(elements, min_size=n, max_size=n)), dtype=np.float64)
    elif kind == "constant":
        vals = np.full(n, draw(elements), dtype=np.float64)
    else:
        vals = draw(curve(n))
    return Series(tag, steps, vals)


LONG = (MAX_POINTS + 1, 3 * MAX_POINTS)


SHAPES = ["decay", "rise", "decay_then_rise", "periodic", "linear"]


@st.composite
def curve(draw, n: int) -> np.ndarray:
    """A training-curve shape at any scale and sign, with optional noise, spikes and non-finite points.

    Random values rarely look like a curve, so the rules' deeper branches
    (turns, plateaus, spikes, periods) need shapes; the scale ranges from tiny
    to huge and may be negative, where ratios and logarithms break.
    """
    with np.errstate(all="ignore"):  # huge scales overflow to Inf on purpose
        return _shaped(draw, n)


def _shaped(draw, n: int) -> np.ndarray:
    t = np.linspace(0, 1, n)
    shape = draw(st.sampled_from(SHAPES))
    y = {
        "decay": np.exp(-5 * t),
        "rise": np.exp(3 * t),
        "decay_then_rise": np.exp(-5 * t) + 2 * np.maximum(t - 0.5, 0),
        "periodic": np.exp(-2 * t) + 0.3 * (np.arange(n) % draw(st.integers(2, 20)) == 0),
        "linear": 1 - 0.9 * t,
    }[shape]
    scale = draw(st.sampled_from([1.0, 1e-300, 1e-6, 1e6, 1e300, -1.0, 0.0]))
    y = y * scale + draw(st.sampled_from([0.0, 0.3, -2.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y = y * (1 + draw(st.sampled_from([0.0, 0.01, 0.3, 2.0])) * rng.standard_normal(n))
    for _ in range(draw(st.integers(0, 3)) if n else 0):
        y[draw(st.integers(0, n - 1))] = draw(values)
    return y


@st.composite
def runs(draw):
    tags = draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=6))
    rd = RunData("prop")
    for tag in tags:
        rd.series[tag] = draw(series(tag))
    return rd


PER_STEP = [it.BATCH_LOSS, it.GRAD_NORM, it.LEARNING_RATE]
FRACTION_STATS = {it.LayerStat.DEAD_FRACTION, it.LayerStat.SATURATED_FRACTION}
COUNT_STATS = {it.LayerStat.NONFINITE_GRAD_STEPS, it.LayerStat.ACT_NONFINITE}


@st.composite
def callback_runs(draw):
    """A run as `DiagnosisCallback` writes it, every series optional, on its own steps, with odd values.

    Steps stay within a few hundred so that per-step, window and per-layer
    series overlap, share some steps and miss others, as TensorBoard's
    per-series sampling leaves them.
    """
    rd = RunData("callback")
    split = draw(st.sampled_from(["train/", ""]))

    def add(tag: str, s: Series) -> None:
        rd.series[split + tag] = Series(split + tag, s.steps, s.values)

    span = draw(st.sampled_from([30, 300]))
    for tag in PER_STEP:
        if draw(st.booleans()):
            add(tag, draw(series(tag, max_len=span, low=0, high=span)))
    for name in it.Window:
        if draw(st.booleans()):
            add(it.window_tag(name), draw(series(name, max_len=20, elements=counts, low=0, high=span)))
    layers = [f"dense_{i}" for i in range(draw(st.integers(0, 5)))]
    for layer in layers:
        if draw(st.booleans()):
            add(it.layer_index_tag(layer), Series(layer, np.array([0]), np.array([draw(values)])))
        for stat in draw(st.sets(st.sampled_from(list(it.LayerStat)))):
            elements = fractions if stat in FRACTION_STATS else counts if stat in COUNT_STATS else values
            add(it.layer_tag(stat, layer), draw(series(layer, max_len=20, elements=elements, low=0, high=span)))
    for name in it.Meta:
        if name != it.Meta.LAYER_INDEX and draw(st.booleans()):
            value = draw(
                st.sampled_from([1.0, math.nan, math.inf, 0.0, -1.0, 1e300, 2.5])
                if name == "schema_version"
                else values
            )
            add(it.meta_tag(name), Series(name, np.array([draw(st.integers(0, span))]), np.array([value])))
    for tag in draw(st.lists(st.sampled_from(TAGS[:4]), unique=True, max_size=3)):
        rd.series[tag] = draw(series(tag, max_len=40, low=0, high=span))
    return rd


def check(report) -> None:
    """No rule failed, and every format renders: JSON without NaN, messages with every placeholder filled."""
    assert not report.analysis_errors, report.analysis_errors
    assert report.status in ("no_data", "ok", "info", "warning", "error")
    for lang in LANGS:
        text = json.dumps(reports_to_dict([report], "logdir", lang), allow_nan=False, ensure_ascii=False)
        assert json.loads(text)["runs"][0]["run"] == report.run
        for finding in report.findings:
            message = render_finding(finding, lang)["message"]
            # "?" is what an unfilled placeholder renders as; some evidence is "?" on purpose ("layers": unknown).
            if "?" not in {str(v) for v in finding.evidence.values()}:
                assert "?" not in message, (finding.code, message)


@pytest.mark.filterwarnings("error")
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_analyzer_never_raises_nor_warns_and_output_is_json(rd):
    check(analyze_run(rd))


@pytest.mark.filterwarnings("error")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(callback_runs())
def test_callback_runs_never_make_a_rule_raise_nor_warn(rd):
    check(analyze_run(rd))


@pytest.mark.filterwarnings("error")
@settings(max_examples=5, deadline=None)
@given(st.integers(min_value=100_000, max_value=150_000), st.integers(0, 2**32 - 1))
def test_long_batch_series(n, seed):
    rng = np.random.default_rng(seed)
    y = 2 * np.exp(-np.linspace(0, 4, n)) + 0.3 + 0.1 * rng.standard_normal(n)
    rd = RunData("long", {"train/loss_step": Series("train/loss_step", np.arange(n), y)})
    check(analyze_run(rd))
