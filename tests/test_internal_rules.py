"""The rules on the Keras callback's signals, on constructed series (no TensorFlow).

Series are laid out exactly as the callback writes them (``train/tb_recipe/...``),
with the number of layers, the gradient scale and the run length varied so that
a rule is checked on the ratios it claims to use, not on one recorded run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tb_recipe_plugin import internal_tags as t
from tb_recipe_plugin.analysis.analyzer import analyze_run
from tb_recipe_plugin.analysis.rules import CALLBACK_CODES as INTERNAL
from tb_recipe_plugin.analysis.series import RunData, Series
from tb_recipe_plugin.present.catalogue import LANGS, render_finding
from tests.curves import codes, decay, noisy

READ_EVERY = 25


def callback_run(
    steps: int = 400,
    layers: int = 4,
    grad: np.ndarray | None = None,
    layer_grad: list[np.ndarray] | None = None,
    meta: dict[str, float] | None = None,
    loss: np.ndarray | None = None,
    **layer_stats: list[np.ndarray],
) -> RunData:
    """A run as `DiagnosisCallback` writes it: per-step loss/grad norm, per-read layer stats, meta at step 0."""
    rd = RunData("cb")
    per_step = np.arange(1, steps + 1)
    reads = np.unique(np.r_[np.arange(READ_EVERY, steps + 1, READ_EVERY), steps])  # and at the end of training

    def add(tag: str, x: np.ndarray, y: np.ndarray) -> None:
        full = f"train/{tag}"
        rd.series[full] = Series(full, x, y)

    add(t.BATCH_LOSS, per_step, loss if loss is not None else noisy(decay(steps, 2.4, 0.3), 0.03))
    add(t.GRAD_NORM, per_step, grad if grad is not None else noisy(np.full(steps, 1.5), 0.1, seed=2))
    names = [f"dense_{i}" for i in range(layers)]
    for i, name in enumerate(names):
        add(t.meta_tag(f"layer_index/{name}"), np.array([0]), np.array([float(i)]))
        g = layer_grad[i] if layer_grad is not None else noisy(np.full(reads.size, 0.4), 0.1, seed=i)
        add(t.layer_tag("grad_norm", name), reads, g)
        add(t.layer_tag("nonfinite_grad_steps", name), reads, np.zeros(reads.size))
        for stat, per_layer in layer_stats.items():
            if per_layer[i] is not None:
                add(t.layer_tag(stat, name), reads, per_layer[i])
    gmax = np.array([np.max(rd.series[f"train/{t.GRAD_NORM}"].values[r - READ_EVERY : r]) for r in reads])
    add(t.window_tag("grad_norm_max"), reads, gmax)
    add(t.window_tag("nonfinite_grad_steps"), reads, np.zeros(reads.size))
    for name, value in {"num_classes": 10.0, "expected_initial_loss": math.log(10), **(meta or {})}.items():
        add(t.meta_tag(name), np.array([0]), np.array([value]))
    return rd


def reads(steps: int = 400) -> int:
    return -(-steps // READ_EVERY)


def constant(value: float, n: int, seed: int = 0) -> np.ndarray:
    return noisy(np.full(n, value), 0.05, seed=seed)


def finding(rd: RunData, code: str):
    report = analyze_run(rd)
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, sorted(codes(report))
    for lang in LANGS:
        text = render_finding(found[0], lang)["message"]
        assert "?" not in text, text
    return found[0]


@pytest.mark.parametrize("steps", [60, 400, 20000])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_healthy_callback_run_has_no_internal_finding(steps, scale):
    n = reads(steps)
    rd = callback_run(
        steps=steps,
        grad=noisy(np.full(steps, 1.5 * scale), 0.2, seed=3),
        layer_grad=[constant(0.4 * scale, n, seed=i) for i in range(4)],
        update_ratio=[constant(1e-3, n, seed=i) for i in range(4)],
        dead_fraction=[constant(0.1, n), constant(0.2, n), constant(0.05, n), None],
        saturated_fraction=[None, None, None, None],
    )
    assert codes(analyze_run(rd)) & INTERNAL == set()


# -- gradients ---------------------------------------------------------------------


@pytest.mark.parametrize("layers", [3, 6, 12])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_vanishing_gradients_from_the_first_to_last_layer_ratio(layers, scale):
    n = reads()
    # Each layer gets a constant fraction of the next one's gradient; the total ratio is 1e-4.
    factor = 1e-4 ** (1 / (layers - 1))
    layer_grad = [constant(scale * factor ** (layers - 1 - i), n, seed=i) for i in range(layers)]
    f = finding(callback_run(layers=layers, layer_grad=layer_grad), "vanishing_gradients")
    assert f.evidence["first_layer"] == "dense_0" and f.evidence["last_layer"] == f"dense_{layers - 1}"
    assert 5e-5 < f.evidence["ratio"] < 2e-4


def test_a_1_to_100_layer_ratio_is_not_vanishing():
    n = reads()
    layer_grad = [constant(v, n) for v in (0.01, 0.1, 0.5, 1.0)]
    assert "vanishing_gradients" not in codes(analyze_run(callback_run(layer_grad=layer_grad)))


def test_zero_gradient_layer_is_dead_not_vanishing():
    n = reads()
    rd = callback_run(
        layer_grad=[np.zeros(n), np.zeros(n), constant(0.3, n), constant(0.5, n)],
        dead_fraction=[constant(0.95, n), constant(0.9, n), constant(0.1, n), None],
    )
    found = codes(analyze_run(rd))
    assert "dying_relu" in found and "vanishing_gradients" not in found


@pytest.mark.parametrize("steps", [40, 400, 20000])
@pytest.mark.parametrize("scale", [1e-2, 1.0, 1e2])
def test_exploding_gradients_growth_over_the_early_level(steps, scale):
    grad = noisy(np.full(steps, scale), 0.1, seed=1)
    grad[int(steps * 0.6) :] *= np.geomspace(1, 1e4, steps - int(steps * 0.6))
    f = finding(callback_run(steps=steps, grad=grad), "exploding_gradients")
    assert f.evidence["ratio"] > 1000 and f.end_step > steps * 0.6


def test_ten_fold_growth_is_not_exploding():
    grad = np.concatenate([np.full(200, 1.0), np.full(200, 10.0)])
    assert "exploding_gradients" not in codes(analyze_run(callback_run(grad=grad)))


def test_exploding_spike_seen_only_in_the_window_maximum():
    """TensorBoard may sample away one huge step; the window maximum keeps it."""
    rd = callback_run(grad=noisy(np.full(400, 1.0), 0.1))
    s = rd.series[f"train/{t.window_tag('grad_norm_max')}"]
    s.values[8] = 500.0
    f = finding(rd, "exploding_gradients")
    assert f.evidence["peak"] == 500.0 and f.evidence["peak_step"] == int(s.steps[8])


def test_exploding_from_the_layer_ratio():
    n = reads()
    layer_grad = [constant(v, n, seed=i) for i, v in enumerate((200.0, 20.0, 2.0, 1.0))]
    f = finding(callback_run(layer_grad=layer_grad), "exploding_gradients")
    assert f.evidence["layer_ratio"] > 150


def test_nonfinite_gradients_first_step_and_layers():
    rd = callback_run()
    window = rd.series[f"train/{t.window_tag('nonfinite_grad_steps')}"]
    window.values[4:] = 25
    for name in ("dense_2", "dense_3"):
        rd.series[f"train/{t.layer_tag('nonfinite_grad_steps', name)}"].values[4:] = 25
    rd.series[f"train/{t.meta_tag('first_nonfinite_grad_step')}"] = Series("m", np.array([125]), np.array([107.0]))
    f = finding(rd, "nonfinite_gradients")
    assert f.start_step == 107 and f.evidence["layers"] == "dense_2, dense_3"
    assert f.evidence["num_layers_hit"] == 2 and f.evidence["steps"] == 25 * 12
    assert "vanishing_gradients" not in codes(analyze_run(rd))


def test_loss_scaler_skips_are_not_nonfinite_gradients():
    rd = callback_run()
    skipped = rd.series[f"train/{t.window_tag('nonfinite_grad_steps')}"]
    rd.series["train/tb_recipe/window/skipped_steps"] = Series("s", skipped.steps, np.full(skipped.steps.size, 3.0))
    assert "nonfinite_gradients" not in codes(analyze_run(rd))


# -- activations ---------------------------------------------------------------------


def test_dying_relu_reports_the_worst_layer():
    n = reads()
    rd = callback_run(dead_fraction=[constant(0.1, n), constant(0.75, n), constant(0.98, n), None])
    f = finding(rd, "dying_relu")
    assert f.evidence["layer"] == "dense_2" and f.evidence["num_layers_hit"] == 2 and f.evidence["num_layers"] == 3


def test_relu_layer_that_recovers_is_not_reported():
    n = reads()
    recovering = np.concatenate([np.full(n // 2, 0.9), np.full(n - n // 2, 0.2)])
    rd = callback_run(dead_fraction=[recovering, constant(0.5, n), None, None])
    assert "dying_relu" not in codes(analyze_run(rd))


def test_dead_layer_range_starts_where_it_died():
    n = reads()
    dying = np.concatenate([np.full(6, 0.1), np.full(n - 6, 0.9)])
    f = finding(callback_run(dead_fraction=[dying, None, None, None]), "dying_relu")
    assert f.start_step == 7 * READ_EVERY


def test_saturated_activations():
    n = reads()
    rd = callback_run(saturated_fraction=[constant(0.8, n), constant(0.3, n), None, None])
    f = finding(rd, "saturated_activations")
    assert f.evidence["layer"] == "dense_0" and f.evidence["num_layers_hit"] == 1
    rd = callback_run(saturated_fraction=[constant(0.3, n), constant(0.2, n), None, None])
    assert "saturated_activations" not in codes(analyze_run(rd))


# -- update ratios -------------------------------------------------------------------


@pytest.mark.parametrize(("ratio", "code"), [(5e-2, "update_ratio_high"), (1e-6, "update_ratio_low")])
def test_update_ratio_out_of_range(ratio, code):
    n = reads()
    f = finding(callback_run(update_ratio=[constant(ratio, n, seed=i) for i in range(4)]), code)
    assert f.evidence["ratio"] == pytest.approx(ratio, rel=0.1)


@pytest.mark.parametrize("ratio", [3e-3, 1e-3, 1e-4])
def test_update_ratio_in_the_healthy_band(ratio):
    n = reads()
    rd = callback_run(update_ratio=[constant(ratio, n, seed=i) for i in range(4)])
    assert codes(analyze_run(rd)) & {"update_ratio_high", "update_ratio_low"} == set()


def test_low_update_ratio_from_vanishing_gradients_is_reported_once():
    n = reads()
    rd = callback_run(
        layer_grad=[constant(v, n) for v in (1e-6, 1e-4, 1e-2, 1.0)],
        update_ratio=[constant(v, n) for v in (1e-9, 1e-8, 1e-6, 1e-3)],
    )
    found = codes(analyze_run(rd))
    assert "vanishing_gradients" in found and "update_ratio_low" not in found


# -- initial loss --------------------------------------------------------------------


@pytest.mark.parametrize(("classes", "first"), [(10, 50.0), (2, 9.0), (1000, 30.0), (10, 0.5)])
def test_initial_loss_far_from_ln_c(classes, first):
    loss = noisy(decay(400, 2.4, 0.3), 0.03)
    loss[0] = first
    meta = {"num_classes": float(classes), "expected_initial_loss": math.log(classes)}
    f = finding(callback_run(loss=loss, meta=meta), "initial_loss_off")
    assert f.start_step == 1 and f.evidence["ratio"] == pytest.approx(first / math.log(classes))


@pytest.mark.parametrize("first", [2.0, 2.3, 3.2])
def test_initial_loss_near_ln_c_is_fine(first):
    loss = noisy(decay(400, 2.4, 0.3), 0.03)
    loss[0] = first
    assert "initial_loss_off" not in codes(analyze_run(callback_run(loss=loss)))


def test_initial_loss_ignored_when_training_resumed_or_nan():
    rd = callback_run(loss=np.full(400, 40.0))
    s = rd.series[f"train/{t.BATCH_LOSS}"]
    rd.series[s.tag] = Series(s.tag, s.steps + 1000, s.values)
    assert "initial_loss_off" not in codes(analyze_run(rd))
    loss = np.full(400, 40.0)
    loss[0] = math.nan
    assert "initial_loss_off" not in codes(analyze_run(callback_run(loss=loss)))


def test_callback_batch_loss_is_the_batch_role_and_class_count_is_used():
    flat = noisy(np.full(400, math.log(10)), 0.002)
    report = analyze_run(callback_run(loss=flat))
    assert report.roles["batch_loss"].tag == "train/tb_recipe/batch_loss"
    assert not any(tag.startswith("train/tb_recipe/window") for tag in (r.tag for r in report.roles.values()))
    f = next(f for f in report.findings if f.code == "no_learning")
    assert f.evidence["classes"] == 10


# -- odd but plausible values (issue 7, defect 5): each of these raised inside a rule --------------


def _no_analysis_errors(rd: RunData):
    report = analyze_run(rd)
    assert not report.analysis_errors, report.analysis_errors
    return report


@pytest.mark.parametrize(
    ("stat", "code", "level"),
    [("dead_fraction", "dying_relu", 0.9), ("saturated_fraction", "saturated_activations", 0.8)],
)
def test_a_last_probe_below_the_threshold_does_not_end_a_dead_stretch(stat, code, level):
    """[0.9, 0.9, 0.9, 0.9, 0.5]: the recent median (0.9) says dead; the stretch began at the first probe."""
    rd = callback_run(**{stat: [np.r_[np.full(reads() - 1, level), 0.3], None, None, None]})
    _no_analysis_errors(rd)
    f = finding(rd, code)
    assert f.evidence["layer"] == "dense_0" and f.evidence["fraction_pct"] == pytest.approx(100 * level)
    assert f.start_step == READ_EVERY and f.end_step == 400


def test_a_dip_inside_a_dead_stretch_starts_it_after_the_dip():
    n = reads()
    dead = np.full(n, 0.9)
    dead[5] = 0.2
    dead[-1] = 0.4
    f = finding(callback_run(dead_fraction=[dead, None, None, None]), "dying_relu")
    assert f.start_step == 7 * READ_EVERY


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 2.0, -0.5])
def test_fraction_values_that_are_no_fraction_are_ignored(bad):
    n = reads()
    dead = constant(0.1, n)
    dead[3:] = bad
    dead[-1] = 0.1
    report = _no_analysis_errors(callback_run(dead_fraction=[dead, None, None, None]))
    assert "dying_relu" not in codes(report)


def _bad_gradients(rd: RunData, from_read: int, count: float) -> None:
    """Non-finite gradients from read `from_read` on, in the window and in two layers, as the callback counts them."""
    rd.series[f"train/{t.window_tag('nonfinite_grad_steps')}"].values[from_read:] = count
    for name in ("dense_2", "dense_3"):
        rd.series[f"train/{t.layer_tag('nonfinite_grad_steps', name)}"].values[from_read:] = 3


@pytest.mark.parametrize("recorded", [math.nan, math.inf, -math.inf, 1e300, -5.0, 10_000.0])
def test_nonfinite_gradients_ignores_a_recorded_first_step_that_cannot_be(recorded):
    """The recorded step must lie at or before the first window with a positive count; else the window's start."""
    rd = callback_run()
    _bad_gradients(rd, 4, 3)
    rd.series[f"train/{t.meta_tag('first_nonfinite_grad_step')}"] = Series("m", np.array([125]), np.array([recorded]))
    _no_analysis_errors(rd)
    f = finding(rd, "nonfinite_gradients")
    assert f.start_step == 101 and f.evidence["first_step"] == 101 and f.evidence["layers"] == "dense_2, dense_3"


@pytest.mark.parametrize("count", [math.nan, math.inf, -math.inf, -3.0])
def test_nonfinite_gradient_counts_that_are_no_count_are_ignored(count):
    rd = callback_run()
    _bad_gradients(rd, 2, count)
    report = _no_analysis_errors(rd)
    assert "nonfinite_gradients" not in codes(report)
    rd.series[f"train/{t.window_tag('nonfinite_grad_steps')}"].values[6] = 4.0
    f = finding(rd, "nonfinite_gradients")
    assert f.start_step == 6 * READ_EVERY + 1 and f.evidence["steps"] == 4


def test_a_huge_count_is_capped_at_the_window_length():
    rd = callback_run()
    _bad_gradients(rd, 4, 0)
    rd.series[f"train/{t.window_tag('nonfinite_grad_steps')}"].values[4] = 1e300
    f = finding(rd, "nonfinite_gradients")
    assert f.evidence["steps"] == READ_EVERY and f.start_step == 4 * READ_EVERY + 1


@pytest.mark.parametrize(("size", "start"), [(25.0, 226), (1e300, 51), (math.nan, 51), (-3.0, 51)])
def test_window_steps_place_the_window_when_points_were_sampled_away(size, start):
    """A window of `window/steps` steps ends at its step; a size it cannot have falls back to the previous end."""
    rd = callback_run()
    steps = np.array([50, 250, 400])
    rd.series[f"train/{t.window_tag('nonfinite_loss_steps')}"] = Series("c", steps, np.array([0.0, 2.0, 0.0]))
    rd.series[f"train/{t.window_tag('steps')}"] = Series("s", steps, np.array([25.0, size, 25.0]))
    f = finding(rd, "nonfinite_loss")
    assert (f.start_step, f.evidence["window_start"], f.evidence["window_end"]) == (start, start, 250)
    assert f.evidence["count"] == 2


@pytest.mark.parametrize("first", [0.0, -1.0, -1e300])
def test_initial_loss_of_zero_or_below(first):
    """0 is as far below ln(C) as a loss gets; a negative loss is no cross-entropy, so ln(C) does not apply."""
    loss = noisy(decay(400, 2.4, 0.3), 0.03)
    loss[0] = first
    report = _no_analysis_errors(callback_run(loss=loss))
    if first == 0:
        f = finding(callback_run(loss=loss), "initial_loss_off")
        assert f.evidence["ratio"] == 0 and f.confidence == 1.0 and f.evidence["num_classes"] == 10
    else:
        assert "initial_loss_off" not in codes(report)


@pytest.mark.parametrize("classes", [math.nan, math.inf, 2.5, 1.0, 0.0, -10.0])
def test_a_class_count_that_is_no_count_is_not_used(classes):
    """initial_loss_off needs C for its message; no_learning falls back to guessing C from the loss."""
    meta = {"num_classes": classes, "expected_initial_loss": math.log(10)}
    flat = noisy(np.full(400, math.log(10)), 0.002)
    f = next(f for f in _no_analysis_errors(callback_run(loss=flat, meta=meta)).findings if f.code == "no_learning")
    assert f.evidence["classes"] == 10
    off = noisy(decay(400, 2.4, 0.3), 0.03)
    off[0] = 50.0
    assert "initial_loss_off" not in codes(_no_analysis_errors(callback_run(loss=off, meta=meta)))


@pytest.mark.parametrize("expected", [math.nan, math.inf, 0.0, -1.0])
def test_expected_initial_loss_that_is_no_loss_falls_back_to_ln_c(expected):
    loss = noisy(decay(400, 2.4, 0.3), 0.03)
    loss[0] = 50.0
    f = finding(callback_run(loss=loss, meta={"expected_initial_loss": expected}), "initial_loss_off")
    assert f.evidence["expected"] == pytest.approx(math.log(10))


@pytest.mark.filterwarnings("error")
def test_update_ratio_of_layers_read_at_different_steps_warns_nothing():
    """A read where only NaN ratios were logged made an all-NaN column of a layers x steps table: a numpy
    "All-NaN slice" RuntimeWarning on the user's terminal (an error here, caught by the rule guard)."""
    rd = callback_run()
    for i in range(4):
        steps = np.arange(1, 17) * READ_EVERY + i  # each layer on its own steps
        ratios = np.full(16, 5e-2)
        ratios[::4] = np.nan  # NaN where this layer alone was read
        rd.series[f"train/{t.layer_tag('update_ratio', f'dense_{i}')}"] = Series("u", steps, ratios)
    report = _no_analysis_errors(rd)
    f = next(f for f in report.findings if f.code == "update_ratio_high")
    assert f.evidence["ratio"] == pytest.approx(5e-2) and f.start_step == 2 * READ_EVERY


@pytest.mark.parametrize("version", [math.nan, math.inf, 1e300, -1.0])
def test_a_schema_version_that_is_no_version_does_not_stop_the_analysis(version):
    rd = callback_run(dead_fraction=[constant(0.95, reads()), None, None, None])
    rd.series[f"train/{t.meta_tag('schema_version')}"] = Series("v", np.array([0]), np.array([version]))
    report = _no_analysis_errors(rd)
    newer = version > t.SCHEMA_VERSION
    assert ("dying_relu" in codes(report)) is not newer
    assert any("newer than this analyzer" in e for e in report.errors) is newer


def test_nonfinite_gradients_without_per_layer_counts_names_no_layers():
    """Window counts alone (per-layer series missing, e.g. trimmed logs): the message must not say '(?)'."""
    rd = callback_run()
    for tag in [tag for tag in rd.series if "/layer/nonfinite_grad_steps/" in tag]:
        del rd.series[tag]
    key = f"train/{t.window_tag('nonfinite_grad_steps')}"
    counts = rd.series[key].values.copy()
    counts[5:] = 3
    rd.series[key] = Series(key, rd.series[key].steps, counts)
    f = finding(rd, "nonfinite_gradients")
    assert "layers" not in render_finding(f, "en")["message"]
