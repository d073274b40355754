"""Pre-flight checks on real TensorFlow training: each fails on a model built to have its fault, none on a healthy
one, and the real model, its weights and its optimizer come out untouched.

The fault runs are made once per module (`reports`) and shared: by the
fault tests, the summary round trip and the tag contract (every tag written
parses, every declared measure is written by some run).
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import require_tensorflow

tf = require_tensorflow()

import keras  # noqa: E402
from keras import ops  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader  # noqa: E402

from tb_recipe_plugin import internal_tags as tags  # noqa: E402
from tb_recipe_plugin.internal_tags import MEASURES, Check, Measure  # noqa: E402
from tb_recipe_plugin.io.loader import discover_runs, load_run  # noqa: E402
from tb_recipe_plugin.keras.preflight import data_checks, lr_range, runner, training_checks  # noqa: E402
from tb_recipe_plugin.preflight import (  # noqa: E402
    PreflightReport,
    report_json,
    report_points,
    report_text,
    run_preflight,
    write_report,
)

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------- data and models


@dataclass
class Digits:
    x: np.ndarray
    y: np.ndarray


@pytest.fixture(scope="module")
def digits() -> Digits:
    data = load_digits()  # bundled with scikit-learn: no download
    return Digits((data.data / 16.0).astype("float32"), data.target.astype("int32"))


class BatchCentering(keras.layers.Layer):
    """Subtracts the batch mean: every sample's output depends on the whole batch (the batch_mixing fault)."""

    def call(self, x: Any) -> Any:
        return x - ops.mean(x, axis=0, keepdims=True)


def mlp(
    *,
    hidden_bias: float = 0.0,
    extra: keras.layers.Layer | None = None,
    units: int = 10,
    activation: str = "softmax",
    loss: str = "sparse_categorical_crossentropy",
    lr: float = 1e-3,
) -> keras.Model:
    """The digits MLP (64-64-10), compiled with Keras' default Adam."""
    layers = [keras.Input((64,))] + ([extra] if extra is not None else [])
    layers += [
        keras.layers.Dense(64, activation="relu", bias_initializer=keras.initializers.Constant(hidden_bias)),
        keras.layers.Dense(units, activation=activation),
    ]
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss)
    return model


def with_output_bias(model: keras.Model, unit: int, value: float) -> keras.Model:
    kernel, bias = model.layers[-1].get_weights()
    bias[unit] = value
    model.layers[-1].set_weights([kernel, bias])
    return model


def trained_once(model: keras.Model, d: Digits) -> keras.Model:
    """One real step, so that the optimizer is built and holds state the checks must not touch."""
    model.fit(d.x[:32], d.y[:32], batch_size=32, epochs=1, verbose=0)
    return model


# ---------------------------------------------------------------------- "nothing changed"


def state(model: keras.Model) -> dict[str, Any]:
    optimizer = model.optimizer
    return {
        "weights": [np.array(w) for w in model.get_weights()],
        "weight_paths": [w.path for w in model.weights],
        "optimizer": optimizer,
        "optimizer_built": getattr(optimizer, "built", None),
        "optimizer_variables": [np.array(v.numpy()) for v in optimizer.variables] if optimizer is not None else [],
        "iterations": int(optimizer.iterations.numpy()) if optimizer is not None else None,
        "learning_rate": float(optimizer.learning_rate.numpy()) if optimizer is not None else None,
        "loss": getattr(model, "loss", None),
        "compiled": model.compiled,
        "train_function": model.train_function,
        "stop_training": model.stop_training,
        "layers": list(model.layers),
    }


def random_state() -> tuple[Any, np.ndarray]:
    return random.getstate(), np.random.get_state()[1].copy()


def assert_unchanged(before: dict[str, Any], model: keras.Model) -> None:
    after = state(model)
    assert after["optimizer"] is before["optimizer"], "model.optimizer was replaced"
    assert after["loss"] is before["loss"]
    for key in ("weight_paths", "optimizer_built", "iterations", "learning_rate", "compiled", "stop_training"):
        assert after[key] == before[key], key
    assert after["train_function"] is before["train_function"]
    assert all(a is b for a, b in zip(after["layers"], before["layers"], strict=True))
    assert len(after["weights"]) == len(before["weights"])
    for a, b in zip(after["weights"], before["weights"], strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(after["optimizer_variables"]) == len(before["optimizer_variables"])
    for a, b in zip(after["optimizer_variables"], before["optimizer_variables"], strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- the runs


def _cases(d: Digits) -> dict[str, tuple[keras.Model, dict[str, Any]]]:
    rng = np.random.default_rng(0)
    order = rng.permutation(len(d.x))
    train, val = order[:1400], order[1400:]
    nan_x = d.x.copy()
    nan_x[::90, 3] = np.nan  # 20 rows
    labels_0_to_10 = np.where(rng.random(len(d.y)) < 0.1, 10, d.y).astype("int32")
    pixels = (rng.random((len(d.x), 1)) * 255).astype("float32")
    return {
        "healthy": (
            trained_once(mlp(), d),
            dict(x=d.x[train], y=d.y[train], validation_data=(d.x[val], d.y[val]), lr_range_test=True),
        ),
        "permuted_labels": (mlp(), dict(x=d.x, y=rng.permutation(d.y))),
        "batch_mean": (mlp(extra=BatchCentering()), dict(x=d.x, y=d.y)),
        "batch_mean_lambda": (  # a Python lambda does not deserialise in safe mode: cloned around the same function
            mlp(extra=keras.layers.Lambda(lambda t: t - ops.mean(t, axis=0, keepdims=True))),
            dict(x=d.x, y=d.y),
        ),
        "dead_relu": (mlp(hidden_bias=-100.0), dict(x=d.x, y=d.y)),
        "nan_input": (mlp(), dict(x=nan_x, y=d.y)),
        "label_10_of_10_units": (mlp(), dict(x=d.x, y=labels_0_to_10)),
        "val_from_train": (mlp(), dict(x=d.x, y=d.y, validation_data=(d.x[train[:300]], d.y[train[:300]]))),
        "sigmoid_0_255": (mlp(units=1, activation="sigmoid", loss="mse"), dict(x=d.x, y=pixels)),
        "output_bias_10": (with_output_bias(mlp(), 3, 10.0), dict(x=d.x, y=d.y)),
        "one_hot_too_narrow": (
            mlp(loss="categorical_crossentropy"),
            dict(x=d.x, y=keras.utils.to_categorical(np.minimum(d.y, 8), 9)),
        ),
    }


FAULTS = {
    "permuted_labels": Check.INPUTS_IGNORED,
    "batch_mean": Check.BATCH_MIXING,
    "batch_mean_lambda": Check.BATCH_MIXING,
    "dead_relu": Check.CANNOT_OVERFIT_BATCH,
    "nan_input": Check.NONFINITE_INPUTS,
    "label_10_of_10_units": Check.LABELS_OUT_OF_RANGE,
    "val_from_train": Check.TRAIN_VAL_OVERLAP,
    "sigmoid_0_255": Check.LABELS_OUT_OF_RANGE,
    "output_bias_10": Check.INITIAL_LOSS_OFF,
    "one_hot_too_narrow": Check.LABELS_OUT_OF_RANGE,
}


@dataclass
class Run:
    report: PreflightReport
    before: dict[str, Any]
    model: keras.Model
    random_kept: bool  # Python's and NumPy's global generators are where they were


@pytest.fixture(scope="module")
def reports(digits: Digits) -> dict[str, Run]:
    keras.utils.set_random_seed(0)
    runs = {}
    for name, (model, kwargs) in _cases(digits).items():
        before, generators = state(model), random_state()
        x, y = kwargs.pop("x"), kwargs.pop("y")
        report = run_preflight(model, x, y, **kwargs)
        after = random_state()
        kept = after[0] == generators[0] and np.array_equal(after[1], generators[1])
        runs[name] = Run(report, before, model, kept)
    return runs


# ---------------------------------------------------------------------- checks


def test_healthy_digits_mlp_passes_every_check(reports):
    report = reports["healthy"].report
    assert {r.code: r.passed for r in report} == {code: True for code in Check}, report_text(report)
    assert report.seconds > 0 and report.step_seconds and report.step_seconds > 0
    assert report.samples == 512
    as_json = json.loads(report_json(report))
    assert [r["code"] for r in as_json["results"]] == [str(c) for c in Check]


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_each_fault_fails_its_check(reports, name):
    report = reports[name].report
    result = report[FAULTS[name]]
    assert result.passed is False, report_text(report)
    assert result.note


@pytest.mark.parametrize("name", sorted(FAULTS) + ["healthy"])
def test_the_real_model_and_optimizer_are_untouched(reports, name):
    run = reports[name]
    assert_unchanged(run.before, run.model)
    assert run.random_kept


def test_fault_measures(reports):
    """The numbers each failure reports, against what the fault implies."""
    mixing = reports["batch_mean"].report[Check.BATCH_MIXING].measures
    assert mixing["leak"] > 0.1  # 8 rows: about 0.38
    assert reports["healthy"].report[Check.BATCH_MIXING].measures["leak"] == 0.0

    ignored = reports["permuted_labels"].report[Check.INPUTS_IGNORED].measures
    assert ignored["loss"] >= ignored["zero_input_loss"] * (1 - training_checks.INPUTS_IGNORED_GAIN)

    dead = reports["dead_relu"].report[Check.CANNOT_OVERFIT_BATCH].measures
    assert dead["steps"] == training_checks.OVERFIT_MAX_STEPS and dead["batch_size"] == 32
    assert dead["final_loss"] > 0.8 * dead["start_loss"]

    nan = reports["nan_input"].report
    assert nan[Check.NONFINITE_INPUTS].measures == {"count": 20.0, "rows": 20.0, "seen": 1797.0}
    assert any("left out of the training checks" in note for note in nan.notes), nan.notes
    for code in runner.TRAINING_CHECKS:  # the NaN rows are left out: every loss stays finite
        assert nan[code].passed is True, report_text(nan)

    labels = reports["label_10_of_10_units"].report[Check.LABELS_OUT_OF_RANGE].measures
    assert labels["label_max"] == 10 and labels["num_units"] == 10 and labels["count"] > 0

    scale = reports["sigmoid_0_255"].report[Check.LABELS_OUT_OF_RANGE].measures
    assert (scale["range_low"], scale["range_high"]) == (0.0, 1.0) and scale["fraction"] > 0.9

    narrow = reports["one_hot_too_narrow"].report[Check.LABELS_OUT_OF_RANGE].measures
    assert (narrow["label_width"], narrow["num_units"]) == (9, 10)

    overlap = reports["val_from_train"].report[Check.TRAIN_VAL_OVERLAP].measures
    assert overlap["fraction"] == 1.0 and overlap["seen"] == 300
    assert reports["healthy"].report[Check.TRAIN_VAL_OVERLAP].measures["count"] == 0


def test_initial_loss_and_the_bias_that_fixes_it(reports, digits):
    off = reports["output_bias_10"].report[Check.INITIAL_LOSS_OFF]
    assert off.measures["loss"] > 2 * math.log(10) and off.measures["expected_loss"] == pytest.approx(math.log(10))
    priors = np.bincount(digits.y, minlength=10) / len(digits.y)
    bias = np.asarray(off.curves["suggested_bias"])
    assert len(bias) == 10
    # log priors (add-one smoothed, over the 512 rows read): the softmax of the bias is the label distribution
    np.testing.assert_allclose(np.exp(bias) / np.exp(bias).sum(), priors, atol=0.02)
    healthy = reports["healthy"].report[Check.INITIAL_LOSS_OFF].measures
    assert healthy["ratio"] == pytest.approx(1.0, abs=0.2) and healthy["num_classes"] == 10

    regression = reports["sigmoid_0_255"].report[Check.INITIAL_LOSS_OFF]
    assert regression.measures["expected_loss"] > 1000  # the variance of 0-255 targets: ~5400
    assert 100 < regression.curves["suggested_bias"][0] < 155  # their mean


def test_lr_range_test_curve_and_suggestion(reports):
    result = reports["healthy"].report[Check.LR_RANGE_TEST]
    lrs, losses = result.curves["lr"], result.curves["curve_loss"]
    assert len(lrs) == len(losses) == result.measures["steps"] > 20
    assert lrs[0] == pytest.approx(lr_range.LR_MIN) and all(b > a for a, b in zip(lrs, lrs[1:], strict=False))
    m = result.measures
    assert m["compiled_lr"] == pytest.approx(1e-3)
    assert lrs[0] < m["suggested_lr"] <= m["min_loss_lr"] < lrs[-1]


def test_skip_and_not_requested(digits):
    model = mlp()
    report = run_preflight(model, digits.x, digits.y, skip=("batch_mixing", Check.INPUTS_IGNORED, "initial_loss_off"))
    for code in (Check.BATCH_MIXING, Check.INPUTS_IGNORED, Check.INITIAL_LOSS_OFF, Check.LR_RANGE_TEST):
        assert report[code].skipped and report[code].passed is None
    assert report[Check.CANNOT_OVERFIT_BATCH].passed is True
    written = {tag for tag, _, _ in report_points(report)}
    assert not any(f"/{Check.BATCH_MIXING}/" in tag for tag in written)
    with pytest.raises(ValueError):
        run_preflight(model, digits.x, digits.y, skip=("no_such_check",))


def test_uncompiled_model_runs_the_data_checks_only(digits):
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])
    before = [w.copy() for w in model.get_weights()]
    report = run_preflight(model, digits.x, digits.y)
    assert report[Check.NONFINITE_INPUTS].passed is True
    assert report[Check.LABELS_OUT_OF_RANGE].passed is None  # no loss: nothing says what the labels are
    for code in runner.TRAINING_CHECKS:
        assert report[code].passed is None and "not compiled" in report[code].note
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_one_batch_from_a_dataset_as_the_callback_has_it(digits):
    """What `DiagnosisCallback` can pass at the start of fit: its first batch (here with sample weights)."""
    model = mlp()
    weights = np.ones(32, dtype="float32")
    dataset = tf.data.Dataset.from_tensor_slices((digits.x[:32], digits.y[:32], weights)).batch(32)
    before = state(model)
    report = run_preflight(model, dataset, validation_data=dataset)
    assert report.samples == 32
    assert report[Check.INPUTS_IGNORED].passed is None  # needs a held-out part: 4 batches
    assert report[Check.TRAIN_VAL_OVERLAP].passed is False  # the same batch
    for code in (Check.INITIAL_LOSS_OFF, Check.BATCH_MIXING, Check.CANNOT_OVERFIT_BATCH, Check.NONFINITE_LABELS):
        assert report[code].passed is True, report_text(report)
    assert_unchanged(before, model)


class Subclassed(keras.Model):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(64, activation="relu")
        self.out = keras.layers.Dense(10, activation="softmax")

    def call(self, x: Any) -> Any:
        return self.out(self.hidden(x))


def _mixed_precision_with_schedule() -> keras.Model:
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.BatchNormalization(),
                keras.layers.Dropout(0.2),
                keras.layers.Dense(10),
                keras.layers.Activation("softmax", dtype="float32"),
            ]
        )
        schedule = keras.optimizers.schedules.ExponentialDecay(0.05, 100, 0.9)
        model.compile(keras.optimizers.SGD(schedule, momentum=0.9), "sparse_categorical_crossentropy")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    return model


def _subclassed() -> keras.Model:
    model = Subclassed()
    model.compile("adam", "sparse_categorical_crossentropy")
    model(np.zeros((1, 64), "float32"))
    return model


def _dict_inputs() -> keras.Model:
    a, b = keras.Input((32,), name="a"), keras.Input((32,), name="b")
    hidden = keras.layers.Dense(64, activation="relu")(keras.layers.Concatenate()([a, b]))
    model = keras.Model({"a": a, "b": b}, keras.layers.Dense(10, activation="softmax")(hidden))
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("build", [_mixed_precision_with_schedule, _subclassed, _dict_inputs])
def test_other_set_ups_run_every_check_untouched(build, digits):
    """A loss-scale optimizer over a schedule, batch norm and dropout; a subclassed model; several inputs."""
    model = build()
    x = {"a": digits.x[:, :32], "b": digits.x[:, 32:]} if build is _dict_inputs else digits.x
    before = state(model)
    report = run_preflight(model, x, digits.y, lr_range_test=build is _mixed_precision_with_schedule)
    assert not [r for r in report if "could not run" in r.note], report_text(report)
    for code in (Check.INITIAL_LOSS_OFF, Check.BATCH_MIXING, Check.LABELS_OUT_OF_RANGE, Check.CANNOT_OVERFIT_BATCH):
        assert report[code].passed is True, report_text(report)
    assert report[Check.LABELS_OUT_OF_RANGE].measures["num_units"] == 10  # from the clone when the model has none
    assert_unchanged(before, model)


def test_budget_scales_the_training_steps():
    assert runner.plan_steps(200, True, True, False) == {
        Check.INPUTS_IGNORED: training_checks.INPUTS_IGNORED_STEPS,
        Check.CANNOT_OVERFIT_BATCH: training_checks.OVERFIT_MAX_STEPS,
        Check.LR_RANGE_TEST: 0,
    }
    assert runner.plan_steps(300, True, True, True)[Check.LR_RANGE_TEST] == lr_range.LR_RANGE_STEPS
    small = runner.plan_steps(65, True, True, False)
    assert 2 * small[Check.INPUTS_IGNORED] + small[Check.CANNOT_OVERFIT_BATCH] <= 45 + 1


def test_cost_is_bounded_by_the_budget(digits):
    report = run_preflight(mlp(), digits.x, digits.y, budget_steps=60)
    assert report[Check.CANNOT_OVERFIT_BATCH].measures["steps"] <= 23
    assert report[Check.INPUTS_IGNORED].measures["steps"] <= 9


# ---------------------------------------------------------------------- thresholds at their edges


def test_thresholds_at_their_edges():
    f = training_checks.INITIAL_LOSS_FACTOR
    assert training_checks.initial_loss_verdict(f * 2.0, 2.0, classification=True) is True
    assert training_checks.initial_loss_verdict(f * 2.0 * 1.001, 2.0, classification=True) is False
    assert training_checks.initial_loss_verdict(2.0 / f * 0.999, 2.0, classification=True) is False
    r = training_checks.REGRESSION_LOSS_FACTOR
    assert training_checks.initial_loss_verdict(r, 1.0, classification=False) is True
    assert training_checks.initial_loss_verdict(r * 1.001, 1.0, classification=False) is False
    assert training_checks.initial_loss_verdict(1.0, 0.0, classification=False) is None  # constant targets

    gain = training_checks.INPUTS_MIN_GAIN
    assert training_checks.inputs_ignored_verdict(1.0 - gain, 1.0) is True
    assert training_checks.inputs_ignored_verdict(1.0 - gain * 0.99, 1.0) is None
    assert training_checks.inputs_ignored_verdict(1.0 - training_checks.INPUTS_IGNORED_GAIN * 0.99, 1.0) is False
    assert training_checks.inputs_ignored_verdict(1.1, 1.0) is False

    leak = training_checks.BATCH_MIXING_LEAK
    assert training_checks.batch_mixing_verdict(leak) is True
    assert training_checks.batch_mixing_verdict(leak * 1.01) is False

    half = training_checks.OVERFIT_FRACTION
    assert training_checks.overfit_verdict(2.0, 2.0 * half) is True
    assert training_checks.overfit_verdict(2.0, 2.0 * half * 1.01) is False
    assert training_checks.overfit_verdict(2.0, math.nan) is False
    assert training_checks.overfit_verdict(0.0, 0.0) is None

    assert data_checks.overlap_verdict(data_checks.OVERLAP_LIMIT) is True
    assert data_checks.overlap_verdict(data_checks.OVERLAP_LIMIT * 1.01) is False
    assert data_checks.target_range_verdict(data_checks.TARGET_OUT_OF_RANGE_FRACTION) is True
    assert data_checks.target_range_verdict(data_checks.TARGET_OUT_OF_RANGE_FRACTION * 1.01) is False

    low = lr_range.TOO_LOW_FACTOR
    assert lr_range.lr_verdict(1e-3, 1e-3 * low, 1.0) is True
    assert lr_range.lr_verdict(1e-3, 1e-3 * low * 1.01, 1.0) is False
    assert lr_range.lr_verdict(0.2, 0.05, 0.1) is False  # beyond the loss's minimum
    assert lr_range.lr_verdict(math.nan, 0.05, 0.1) is None


def test_lr_suggestion_on_a_synthetic_curve():
    lrs = list(np.geomspace(1e-6, 1.0, 60))
    # flat, a steep fall centred at 1e-3, a minimum at ~0.03, then a blow-up
    losses = [2.0 - 1.5 / (1 + math.exp(-4 * (math.log10(lr) + 3))) + max(0.0, math.log10(lr) + 1.5) ** 2 for lr in lrs]
    found = lr_range.suggest(lrs, losses)
    assert found is not None and 3e-4 < found.suggested < 3e-3
    assert found.suggested <= found.min_loss
    assert lr_range.suggest(lrs, [2.0 + 0.01 * i for i in range(60)]) is None  # never falls


def test_train_val_overlap_is_exact_and_dtype_blind():
    rng = np.random.default_rng(0)
    train = rng.standard_normal((500, 300)).astype("float32")
    val = np.concatenate([train[:10].astype("float64"), rng.standard_normal((90, 300))])
    near = val.copy()
    near[:10, 1] += 1e-3  # not a key column: same keys, told apart by the full comparison
    assert data_checks.train_val_overlap(train, val).measures["count"] == 10
    assert data_checks.train_val_overlap(train, near).measures["count"] == 0
    assert data_checks.train_val_overlap(train, val[:0]).passed is None


# ---------------------------------------------------------------------- summaries


def _read_back(logdir: Path) -> dict[str, Any]:
    (source,) = discover_runs(str(logdir))
    return load_run(source).series


def test_summaries_parse_back_with_their_values(reports, tmp_path):
    report = reports["healthy"].report
    write_report(report, tmp_path)
    series = _read_back(tmp_path)
    ours = {tag: s for tag, s in series.items() if tags.PREFIX in tag}
    assert all(tag.startswith("train/") for tag in ours)
    for tag, s in ours.items():
        parsed = tags.parse_tag(tag)
        assert parsed is not None, tag
        name, measure = parsed
        if isinstance(name, Check):
            result = report[name]
            if measure == Measure.PASSED:
                assert s.values.tolist() == [1.0]
            elif measure in tags.INDEXED:
                assert s.steps.tolist() == list(range(len(result.curves[measure])))
                np.testing.assert_allclose(s.values, result.curves[measure], rtol=1e-6)
            elif measure == Measure.SECONDS:
                assert s.values[0] == pytest.approx(result.seconds, rel=1e-6)
            else:
                assert s.steps.tolist() == [0]
                assert s.values[0] == pytest.approx(result.measures[measure], rel=1e-6)
        else:
            assert name in tags.PREFLIGHT_TOTALS
    assert series[f"train/{tags.PREFLIGHT_SECONDS}"].values[0] == pytest.approx(report.seconds, rel=1e-6)
    passed = {tags.parse_tag(t)[0] for t in ours if tags.parse_tag(t)[1] == Measure.PASSED}
    assert passed == set(Check)
    # The text summary, for the Text tab.
    (path,) = (tmp_path / "train").glob("events.out.tfevents.*")
    texts = [
        v.tensor.string_val[0].decode()
        for e in EventFileLoader(str(path)).Load()
        for v in e.summary.value
        if v.tag == tags.PREFLIGHT_SUMMARY
    ]
    assert len(texts) == 1 and "- **passed** Initial loss: loss " in texts[0]  # the checklist, in words
    # The analyzer's reader ignores the new names (they are no curve, no callback signal).
    assert not tags.find_internals(series)


def test_summaries_through_a_tf_summary_writer(reports, tmp_path):
    report = reports["dead_relu"].report
    writer = tf.summary.create_file_writer(str(tmp_path / "train"))
    write_report(report, writer)
    series = _read_back(tmp_path)
    tag = f"train/{tags.preflight_tag(Check.CANNOT_OVERFIT_BATCH, Measure.PASSED)}"
    assert series[tag].values.tolist() == [0.0]
    final = series[f"train/{tags.preflight_tag(Check.CANNOT_OVERFIT_BATCH, Measure.FINAL_LOSS)}"]
    assert final.values[0] == pytest.approx(report[Check.CANNOT_OVERFIT_BATCH].measures["final_loss"], rel=1e-6)
    # a check that did not apply writes no `passed`
    assert f"train/{tags.preflight_tag(Check.BATCH_MIXING, Measure.PASSED)}" not in series


def test_tag_contract(reports):
    """Every tag any run writes parses; every declared measure is written by some run; each is RULES or DISPLAY."""
    written: set[tuple[Any, Any]] = set()
    for run in reports.values():
        for tag, _, _ in report_points(run.report):
            parsed = tags.parse_tag(tag)
            assert parsed is not None, tag
            written.add(parsed)
    declared = {(check, measure) for check, table in MEASURES.items() for measure in table}
    assert declared - written == set(), "declared but never written"
    assert {name for name, _ in written if not isinstance(name, Check)} == {
        tags.PREFLIGHT_SECONDS,
        tags.PREFLIGHT_STEP_SECONDS,
    }
    assert set(MEASURES) == set(Check)
    assert all(use in (tags.Use.RULES, tags.Use.DISPLAY) for table in MEASURES.values() for use in table.values())
    assert all(table[Measure.PASSED] is tags.Use.RULES for table in MEASURES.values())
    assert tags.parse_tag("train/tb_recipe/preflight/batch_mixing/no_such_measure") is None
    assert tags.parse_tag("tb_recipe/preflight/batch_mixing/loss") is None  # a measure of another check
    assert tags.parse_tag("tb_recipe/preflight/summary") == (tags.PREFLIGHT_SUMMARY, None)
    with pytest.raises(ValueError):
        tags.preflight_tag(Check.BATCH_MIXING, Measure.LOSS)


def test_importing_the_entry_point_does_not_import_tensorflow():
    code = (
        "import sys, tb_recipe_plugin.preflight as p; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'; "
        "p.report_text(p.PreflightReport(results=(), seconds=0.0))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
