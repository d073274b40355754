"""The analyzer must never raise, whatever the curves look like.

Logs come from every writer and every kind of broken run: a single point,
constant series, NaN/Inf anywhere, huge or tiny magnitudes, negative losses,
steps with big gaps. Hypothesis generates such runs; any exception is a bug.
"""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tb_recipe_plugin.analysis.analyzer import analyze_run
from tb_recipe_plugin.analysis.series import RunData, Series
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

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=-1e6, max_value=1e6),
    st.floats(min_value=0, max_value=10),
)


@st.composite
def series(draw, tag):
    n = draw(st.integers(min_value=0, max_value=120))
    steps = sorted(draw(st.sets(st.integers(min_value=0, max_value=10**9), min_size=n, max_size=n)))
    kind = draw(st.sampled_from(["random", "constant", "decay"]))
    if kind == "random":
        vals = draw(st.lists(values, min_size=n, max_size=n))
    elif kind == "constant":
        vals = [draw(values)] * n
    else:
        vals = list(2 * np.exp(-np.linspace(0, 5, n)) + draw(st.floats(-1, 1)))
    return Series(tag, np.array(steps, dtype=np.int64), np.array(vals, dtype=np.float64))


@st.composite
def runs(draw):
    tags = draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=6))
    rd = RunData("prop")
    for tag in tags:
        rd.series[tag] = draw(series(tag))
    return rd


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_analyzer_never_raises_and_output_is_json(rd):
    report = analyze_run(rd)
    assert not report.analysis_errors, report.analysis_errors
    assert report.status in ("no_data", "ok", "info", "warning", "error")
    for lang in ("en", "zh"):
        text = json.dumps(reports_to_dict([report], "logdir", lang), allow_nan=False, ensure_ascii=False)
        assert "?" not in "".join(f["message"] for f in json.loads(text)["runs"][0]["findings"])


@settings(max_examples=5, deadline=None)
@given(st.integers(min_value=100_000, max_value=150_000), st.integers(0, 2**32 - 1))
def test_long_batch_series(n, seed):
    rng = np.random.default_rng(seed)
    y = 2 * np.exp(-np.linspace(0, 4, n)) + 0.3 + 0.1 * rng.standard_normal(n)
    rd = RunData("long", {"train/loss_step": Series("train/loss_step", np.arange(n), y)})
    analyze_run(rd)
