"""The analysis of a long run or of a run with very many tags: bounded memory, same answers (issue 7, defect 6).

Each memory- or speed-minded rewrite is checked against the plain whole-array
definition it replaced (kept here as the oracle), with its block size shrunk
so that block boundaries are crossed many times, on curves with ties, plateaus,
spikes, zeros and negative values. Memory is measured with `tracemalloc` (numpy
reports its buffers there), which is deterministic; speed is measured in
``benchmarks/scale.py``, not here.
"""

from __future__ import annotations

import re
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tb_recipe_plugin import internal_tags as t
from tb_recipe_plugin.analysis import analyzer, roles, tag_words
from tb_recipe_plugin.analysis.analyzer import analyze_run
from tb_recipe_plugin.analysis.curves import make_curve
from tb_recipe_plugin.analysis.rules import internals, noise, spikes
from tb_recipe_plugin.analysis.rules.context import Context
from tb_recipe_plugin.analysis.series import RunData, Series
from tests.curves import decay, noisy


def spiky(n: int, seed: int) -> np.ndarray:
    """A noisy decay with spikes, a plateau of equal values, zeros and a negative stretch."""
    rng = np.random.default_rng(seed)
    y = noisy(decay(n, 2.0, 0.3), 0.1, seed=seed)
    y[rng.choice(n, size=max(1, n // 200), replace=False)] *= rng.uniform(2, 20)  # rare: SPIKE_MAX_SHARE
    y[n // 3 : n // 3 + n // 10] = 0.7
    y[n // 2 : n // 2 + 5] = 0.0
    y[-n // 10 :] -= 1.0
    return np.round(y, 2) if seed % 2 else y


# -- loss_spikes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 18])
@pytest.mark.parametrize(("n", "k"), [(12, 1), (100, 3), (999, 7), (5000, 50)])
def test_bin_medians_block_by_block_are_the_bin_medians(monkeypatch, block, n, k):
    monkeypatch.setattr(spikes, "_BLOCK", block)
    y = spiky(n, n)
    got = spikes._bin_medians(lambda lo, hi: y[lo:hi], n, k)
    want = [np.median(y[i : i + k]) for i in range(0, n, k)]
    np.testing.assert_array_equal(got, want)


def planted(n: int, at: list[int], seed: int = 0) -> np.ndarray:
    """A noisy decay (5% multiplicative noise) with 20x spikes at `at`."""
    rng = np.random.default_rng(seed)
    y = decay(n, 2.0, 0.3) * np.exp(rng.normal(0, 0.05, n))
    y[at] *= 20
    return y


@pytest.mark.parametrize("n", [400, 5_000, 60_000, 300_000])
def test_planted_spikes_are_found_at_their_steps_on_short_and_binned_curves(n):
    """Above `_GRID` points the trend and the band come from bin medians: the same spikes must come out."""
    assert (n > spikes._GRID) == (n >= 60_000)
    at = [int(n * f) for f in (0.2, 0.45, 0.7, 0.9)]
    report = analyze_run(RunData("s", {"train_loss_step": Series("train_loss_step", np.arange(n) * 3, planted(n, at))}))
    (f,) = [f for f in report.findings if f.code == "loss_spikes"]
    assert f.evidence["spike_steps"] == ", ".join(str(3 * i) for i in at)
    assert 15 < f.evidence["max_ratio"] < 27


@pytest.mark.parametrize("n", [400, 60_000])
def test_multiplicative_noise_alone_has_no_spikes(n):
    y = planted(n, [], seed=1) * np.exp(np.random.default_rng(2).normal(0, 0.3, n))
    report = analyze_run(RunData("s", {"train_loss_step": Series("train_loss_step", np.arange(n), y)}))
    assert "loss_spikes" not in {f.code for f in report.findings}


# -- periodic_loss's even grid -------------------------------------------------------------------


def reference_uniform(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, float]:
    steps = steps.astype(np.float64)
    dstep = max(float(np.median(np.diff(steps))) if steps.size > 1 else 1.0, 1.0)
    n = int((steps[-1] - steps[0]) / dstep) + 1
    if n > 4 * steps.size:
        steps = steps[0] + dstep * np.arange(steps.size)
        n = steps.size
    y = np.interp(steps[0] + dstep * np.arange(n), steps, values)
    if n > noise.PERIODIC_MAX_POINTS:
        k = int(np.ceil(n / noise.PERIODIC_MAX_POINTS))
        m = n // k
        y = y[: m * k].reshape(m, k).mean(axis=1)
        dstep *= k
    return y, dstep


def step_axes(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "even": np.arange(n) * 5 + 100,
        "uneven": np.cumsum(rng.integers(1, 4, n)),
        "gap": np.r_[np.arange(n // 2), 10**7 + np.arange(n - n // 2)],
        "single": np.array([7]) if n == 1 else np.arange(n),
    }


@pytest.mark.parametrize("block", [3, 1000, 1 << 20])
@pytest.mark.parametrize("n", [1, 2, 50, 4000, 4001, 30_000])
def test_even_grid_built_by_blocks_is_the_whole_grid(monkeypatch, block, n):
    monkeypatch.setattr(noise, "_GRID_BLOCK", block)
    for name, steps in step_axes(n, n).items():
        values = spiky(max(n, 12), n)[:n]
        curve = make_curve(Series("x", steps, values))
        y, dstep = noise._uniform(curve)
        y_ref, dstep_ref = reference_uniform(steps, values)
        assert dstep == dstep_ref, name
        np.testing.assert_array_equal(y, y_ref, err_msg=name)


# -- callback signals ------------------------------------------------------------------------------


def reference_update_ratio(layers: dict[str, Series]) -> tuple[float, int, int] | None:
    """Median over reads of the per-read median over layers, from a dense layers x steps table."""
    steps = np.unique(np.concatenate([s.steps for s in layers.values()]))
    table = np.full((len(layers), steps.size), np.nan)
    for row, s in enumerate(layers.values()):
        table[row, np.searchsorted(steps, s.steps)] = s.values
    table[~np.isfinite(table)] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the all-NaN columns the rewrite avoids
        per_read = np.nanmedian(table, axis=0)
    ok = np.isfinite(per_read)
    if ok.sum() < internals.MIN_RATIO_POINTS:
        return None
    return float(np.median(per_read[ok])), int(steps[ok][0]), int(steps[ok][-1])


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_update_ratio_without_a_table_is_the_table_median(num_layers, seed):
    rng = np.random.default_rng(seed)
    layers = {}
    for i in range(num_layers):
        steps = np.unique(rng.integers(0, 40, rng.integers(0, 12)))
        values = rng.choice([1e-3, 2e-3, 5e-2, np.nan, np.inf, 1e-7], steps.size)
        layers[f"l{i}"] = Series(t.layer_tag(t.LayerStat.UPDATE_RATIO, f"l{i}"), steps, values)
    it = t.Internals(layer={t.LayerStat.UPDATE_RATIO: layers}, layers=list(layers))
    got = internals._update_ratio(Context(run=RunData("r"), roles={}, internals=it))
    expected = reference_update_ratio(layers)
    assert (got[:3] if got else None) == expected


def reference_peak(steps, norms, n_early, w_steps, w_values) -> tuple[float, int, int] | None:
    """Merge the per-step norms and the window maxima in step order, take the first maximum after the early part."""
    order = np.argsort(np.concatenate([steps, w_steps]), kind="stable")
    p_steps = np.concatenate([steps, w_steps])[order]
    p_values = np.concatenate([norms, w_values])[order]
    after = p_steps > steps[n_early - 1]
    if not after.any():
        return None
    i = int(np.argmax(np.where(after, p_values, -np.inf)))
    return float(p_values[i]), int(p_steps[i]), int(steps[n_early - 1]) if i == 0 else int(p_steps[i - 1])


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_gradient_peak_without_merging_is_the_merged_peak(seed, with_maxima):
    """Small integer values so that ties (same value, same step) happen often."""
    rng = np.random.default_rng(seed)
    steps = np.unique(rng.integers(0, 60, rng.integers(3, 40)))
    if steps.size < 3:
        return
    norms = rng.integers(0, 5, steps.size).astype(float)
    w_steps = np.unique(rng.integers(0, 70, rng.integers(0, 10))) if with_maxima else np.zeros(0, np.int64)
    w_values = rng.integers(0, 6, w_steps.size).astype(float)
    n_early = int(rng.integers(3, steps.size + 1))
    maxima = Series("m", w_steps, w_values) if with_maxima else None
    expected = reference_peak(steps, norms, n_early, w_steps, w_values)
    assert internals._peak_after(steps, norms, n_early, maxima) == expected


# -- many tags -----------------------------------------------------------------------------------


def reference_tokens(tag: str) -> list[str]:
    spaced = tag_words._CAMEL.sub("_", tag).lower()
    spaced = spaced.replace("learning_rate", "learningrate").replace("learning rate", "learningrate")
    spaced = spaced.replace("cross_entropy", "crossentropy").replace("map_0.5", "map50")
    words = [w for w in re.split(r"[^a-z0-9]+", spaced) if w]
    return [re.sub(r"^(lr)\d+$", r"\1", w) for w in words]


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="lr0123_/ -LearningRateAbcKK\u212a\u0130")))
def test_tokens_are_the_regex_split_of_the_tag(tag):
    assert tag_words.tokens(tag) == reference_tokens(tag)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([0.0, -0.0, 1.0, 2.5, np.nan, np.inf, -np.inf, 1e300]), max_size=100))
def test_constant_check_in_python_is_the_numpy_one(values):
    v = np.array(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    assert roles._is_constant(v) == (finite.size > 0 and float(np.ptp(finite)) == 0.0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 6), max_size=6), max_size=8), st.integers(1, 2000))
def test_out_of_order_tags_found_in_one_pass(step_lists, long_len):
    series = {f"s{i}": Series(f"s{i}", np.array(s, dtype=np.int64), np.zeros(len(s))) for i, s in enumerate(step_lists)}
    series["long"] = Series("long", np.r_[np.arange(long_len), 0], np.zeros(long_len + 1))
    expected = {tag for tag, s in series.items() if s.steps.size > 1 and not np.all(np.diff(s.steps) > 0)}
    assert set(analyzer._out_of_order(series)) == expected


# -- memory ------------------------------------------------------------------------------------


def peak_traced(rd: RunData) -> int:
    tracemalloc.start()
    try:
        analyze_run(rd)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def long_run(name: str, n: int) -> RunData:
    rng = np.random.default_rng(0)
    y = noisy(decay(n, 2.0, 0.3), 0.1)
    if name == "even steps":
        return RunData("a", {"train_loss_step": Series("train_loss_step", np.arange(n), y)})
    if name == "uneven steps":
        steps = np.cumsum(rng.integers(1, 4, n))
        return RunData("b", {"train_loss_step": Series("train_loss_step", steps, y)})
    per_step = np.arange(1, n // 2 + 1)
    reads = per_step[999::1000]
    grad = noisy(np.full(per_step.size, 1.5), 0.1)
    series = {
        t.BATCH_LOSS: (per_step, y[: per_step.size]),
        t.GRAD_NORM: (per_step, grad),
        t.window_tag(t.Window.GRAD_NORM_MAX): (reads, grad[999::1000] * 2),
    }
    return RunData("c", {f"train/{tag}": Series(f"train/{tag}", *sv) for tag, sv in series.items()})


@pytest.mark.parametrize(("name", "bound"), [("even steps", 3.0), ("uneven steps", 3.0), ("callback", 3.0)])
def test_a_million_point_run_is_analysed_in_a_fraction_of_its_own_size(name, bound):
    """Before: loss_spikes' trailing-window arrays took ~850 bytes a point (53x the data); merging the callback's
    per-step and window gradient norms took 1.5x the data."""
    rd = long_run(name, 1_000_000)
    data = sum(s.steps.nbytes + s.values.nbytes for s in rd.series.values())
    assert peak_traced(rd) < bound * data
