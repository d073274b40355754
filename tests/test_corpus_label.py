"""The corpus labeller (`benchmarks/corpus/label.py`) on event files written here, with known shapes.

Each clear case is a curve a practitioner would name at a glance (and a clear
negative next to it), written with tensorboardX into tmp_path and read back
through the labeller's own TensorBoard-based reader, so the tests exercise the
whole path a generated run takes. No training.
"""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.corpus import label as lab
from benchmarks.corpus.label import CALLBACK_CODES, CODES, label_run
from benchmarks.corpus.spec import Facts, RunSpec

tensorboardX = pytest.importorskip("tensorboardX")

REPO = Path(__file__).resolve().parent.parent
REALLOGS = REPO.parent / "shared" / "reallogs"
HEALTH = ("nonfinite_loss", "divergence", "no_learning")
EPOCHS = 40
SPE = 50


# --------------------------------------------------------------------------- writing runs


def write(run_dir: Path, series: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    """Event files in run_dir; a tag 'train/x' or 'validation/x' goes to that sub-folder, as Keras writes it."""
    by_folder: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for tag, sv in series.items():
        head, _, rest = tag.partition("/")
        folder, name = (head, rest) if head in ("train", "validation") and rest else ("", tag)
        by_folder.setdefault(folder, {})[name] = sv
    for folder, tags in by_folder.items():
        w = tensorboardX.SummaryWriter(str(run_dir / folder) if folder else str(run_dir))
        for name, (steps, values) in tags.items():
            for s, v in zip(np.asarray(steps).tolist(), np.asarray(values, dtype=float).tolist(), strict=True):
                w.add_scalar(name, v, int(s))
        w.close()
    return run_dir


def epochs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(len(values)), np.asarray(values, dtype=float)


def facts(roles: dict[str, str], **kw) -> Facts:
    """Facts whose tags are the role names (or the mapping given); axes 'epoch' unless said otherwise."""
    axes = kw.pop("axes", {})
    base = dict(
        task="classification",
        metric="accuracy",
        metric_direction="max",
        num_classes=10,
        chance_metric=0.1,
        epochs=EPOCHS,
        steps_per_epoch=SPE,
        batch_size=32,
    )
    base.update(kw)
    return Facts(tags=dict(roles), steps={r: axes.get(r, "epoch") for r in roles}, **base)


def spec(intent: str = "healthy") -> RunSpec:
    return RunSpec("synthetic", "run", intent)


def t01(n: int = EPOCHS) -> np.ndarray:
    return np.linspace(0, 1, n)


def decay(start: float, floor: float, rate: float, n: int = EPOCHS) -> np.ndarray:
    return floor + (start - floor) * np.exp(-rate * t01(n))


def jitter(y: np.ndarray, rel: float, seed: int = 0) -> np.ndarray:
    return y * (1 + rel * np.random.default_rng(seed).standard_normal(y.size))


def acc_from(loss: np.ndarray, c: int = 10) -> np.ndarray:
    """An accuracy that follows a cross-entropy from ln(C) (chance) towards 0 (perfect)."""
    return 1 / c + (1 - 1 / c) * np.clip(1 - loss / math.log(c), 0, 1)


def label_of(tmp_path: Path, series: dict, f: Facts, intent: str = "healthy", name: str = "run") -> dict:
    run_dir = write(tmp_path / name, series)
    out = label_run(run_dir, spec(intent), f)
    assert_partition(out)
    return out


def assert_partition(out: dict) -> None:
    groups = [out["expected"], out["forbidden"], out["acceptable"]]
    flat = [c for g in groups for c in g]
    assert sorted(flat) == sorted(CODES), "every code exactly once"
    json.dumps(out)  # the label is written as JSON
    assert isinstance(out["notes"], str) and out["notes"]


def standard(train: np.ndarray, val: np.ndarray | None = None, **extra: np.ndarray) -> tuple[dict, dict]:
    series = {"train_loss": epochs(train)}
    roles = {"train_loss": "train_loss"}
    if val is not None:
        series["val_loss"] = epochs(val)
        roles["val_loss"] = "val_loss"
    for role, values in extra.items():
        series[role] = epochs(values)
        roles[role] = role
    return series, roles


# --------------------------------------------------------------------------- the code list and independence


def test_codes_are_the_catalogue():
    from tb_recipe_plugin.present.catalogue import FINDINGS  # only for this comparison

    assert sorted(CODES) == sorted(FINDINGS)
    assert len(set(CODES)) == len(CODES)
    assert set(lab.JUDGES) == set(CODES)


def test_label_module_does_not_import_the_plugin():
    tree = ast.parse((REPO / "benchmarks" / "corpus" / "label.py").read_text())
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules.append(node.module or "")
    assert modules, "the walk found the imports"
    assert not [m for m in modules if m.split(".")[0] == "tb_recipe_plugin"]


# --------------------------------------------------------------------------- healthy runs and the health codes


def test_healthy_run_forbids_health_errors_and_unseen_faults(tmp_path):
    train = jitter(decay(2.3, 0.2, 5), 0.01, 1)
    val = jitter(decay(2.2, 0.35, 5), 0.015, 2)
    series, roles = standard(train, val, train_metric=acc_from(train), val_metric=acc_from(val))
    out = label_of(tmp_path, series, facts(roles), intent="overfitting")
    for code in (*HEALTH, "overfitting", "loss_spikes", "noisy_loss", "data_problem", "val_better_than_train"):
        assert code in out["forbidden"], code
    for code in ("periodic_loss", "lr_too_high", "lr_decay_too_early", *CALLBACK_CODES):
        assert code in out["forbidden"], f"{code} cannot be seen in this run"
    assert "does not clearly show" in out["notes"]  # the intended fault did not show: labelled by what shows


def test_nonfinite_loss(tmp_path):
    train = decay(2.3, 0.2, 4)
    train[25:] = np.nan
    series, roles = standard(train, decay(2.2, 0.3, 4))
    out = label_of(tmp_path, series, facts(roles), intent="nonfinite")
    assert "nonfinite_loss" in out["expected"]
    assert out["observed"]["nonfinite_loss"]["nonfinite_points"] == 15


def test_a_run_that_ends_in_nan_does_not_end_overfitting(tmp_path):
    t = t01()
    val = 0.6 + 1.7 * np.exp(-12 * t) + 1.2 * np.clip(t - 0.25, 0, None)
    train = decay(2.3, 0.01, 6)
    train[32:] = val[32:] = np.nan
    series, roles = standard(train, val)
    out = label_of(tmp_path, series, facts(roles))
    assert "nonfinite_loss" in out["expected"]
    assert "overfitting" in out["acceptable"]  # visible before the NaN, but not how the run ends


def test_divergence_and_its_negative(tmp_path):
    train = np.concatenate([decay(2.3, 0.5, 5, 20), 0.5 * np.exp(np.linspace(0.1, 2.5, 20))])
    series, roles = standard(train)
    out = label_of(tmp_path, series, facts(roles), name="div")
    assert "divergence" in out["expected"]
    assert "still_learning" in out["forbidden"] and "plateau" in out["forbidden"]
    # a warm restart: the loss rises 30% for a few epochs and recovers
    bump = decay(2.3, 0.3, 5)
    bump[20:24] *= [1.3, 1.25, 1.1, 1.02]
    series, roles = standard(bump)
    assert "divergence" in label_of(tmp_path, series, facts(roles), name="restart")["forbidden"]


def test_no_learning_at_ln_c_and_the_metric_veto(tmp_path):
    flat = jitter(np.full(EPOCHS, math.log(10)), 0.002, 3)
    series, roles = standard(flat, jitter(flat, 0.002, 4), val_metric=jitter(np.full(EPOCHS, 0.1), 0.02, 5))
    out = label_of(tmp_path, series, facts(roles), name="flat")
    assert "no_learning" in out["expected"]
    assert out["observed"]["no_learning"]["end_over_lnC"] == pytest.approx(1.0, abs=0.02)
    for code in ("plateau", "overfitting", "still_learning", "data_problem", "best_checkpoint_mismatch"):
        assert code in out["forbidden"], code
    # same flat loss, but the accuracy climbs far above chance: learning happened (a loss scale artefact)
    series, roles = standard(flat, val_metric=np.linspace(0.1, 0.9, EPOCHS))
    assert "no_learning" in label_of(tmp_path, series, facts(roles), name="veto")["forbidden"]


# --------------------------------------------------------------------------- validation shapes


def test_overfitting(tmp_path):
    train = decay(2.3, 0.01, 6)
    t = t01()
    val = 0.6 + 1.7 * np.exp(-12 * t) + 1.2 * np.clip(t - 0.25, 0, None)
    series, roles = standard(train, jitter(val, 0.01, 6), val_metric=acc_from(val))
    out = label_of(tmp_path, series, facts(roles), name="overfit")
    assert "overfitting" in out["expected"]
    assert {"still_learning", "val_plateau", "no_learning", "divergence"} <= set(out["forbidden"])
    assert 0.2 < out["observed"]["overfitting"]["best_epoch"] / EPOCHS < 0.35


def test_late_regression_cut_short_by_early_stopping(tmp_path):
    """Best at epoch 30, the last 6 evaluations 40% worse while training still falls: overfitting."""
    train = decay(2.3, 0.05, 4, 36)
    val = np.concatenate([decay(2.2, 0.3, 6, 30), [0.33, 0.36, 0.39, 0.41, 0.42, 0.42]])
    series, roles = standard(train, jitter(val, 0.005, 7))
    assert "overfitting" in label_of(tmp_path, series, facts(roles))["expected"]


def test_val_plateau_versus_plateau_versus_still_learning(tmp_path):
    train = decay(2.3, 0.0, 5)
    val = jitter(decay(2.2, 0.5, 15), 0.01, 8)
    series, roles = standard(train, val)
    out = label_of(tmp_path, series, facts(roles), name="vp")
    assert "val_plateau" in out["expected"]
    assert {"plateau", "still_learning", "overfitting"} <= set(out["forbidden"])

    series, roles = standard(jitter(decay(2.3, 0.4, 15), 0.005, 9), jitter(decay(2.2, 0.5, 15), 0.01, 10))
    out = label_of(tmp_path, series, facts(roles), name="plateau")
    assert "plateau" in out["expected"]
    assert {"val_plateau", "still_learning", "no_learning"} <= set(out["forbidden"])

    series, roles = standard(decay(2.3, 0.0, 2), decay(2.2, 0.1, 2))
    out = label_of(tmp_path, series, facts(roles), name="still")
    assert "still_learning" in out["expected"]
    assert {"plateau", "val_plateau"} <= set(out["forbidden"])


def test_without_a_validation_loss_the_validation_metric_decides(tmp_path):
    """MMEngine logs only a top-1 accuracy in percent for validation: flat at 94% while training keeps falling is a
    validation plateau, still climbing is still learning; neither reads the training loss."""
    train = decay(2.3, 0.0, 5)
    flat_top1 = jitter(94.0 - 60.0 * np.exp(-15 * t01()), 0.001, 3)
    series, roles = standard(train, val_metric=flat_top1)
    f = facts(roles, chance_metric=10.0)
    out = label_of(tmp_path, series, f, name="flat")
    assert "val_plateau" in out["expected"] and "still_learning" in out["forbidden"]
    climbing = 94.0 - 60.0 * np.exp(-2 * t01())
    series, roles = standard(train, val_metric=climbing)
    out = label_of(tmp_path, series, f, name="climbing")
    assert "still_learning" in out["expected"] and "val_plateau" in out["forbidden"]


def test_percent_scores_reach_perfect_at_100(tmp_path):
    top1 = np.linspace(10.0, 55.0, EPOCHS)
    c = lab.Curve("top1", np.arange(EPOCHS), np.arange(EPOCHS, dtype=float), top1, 1.0)
    f = facts({"val_metric": "top1"}, chance_metric=10.0)
    assert lab.metric_advance(c, f) == pytest.approx(0.5, abs=1e-9)
    assert lab.metric_perfect(c, facts({"val_metric": "top1"}, chance_metric=0.1)) is None  # 55 is no fraction


def test_noisy_validation_set_and_a_jagged_but_clear_curve(tmp_path):
    train = decay(2.3, 0.6, 4)
    noisy_val = jitter(decay(1.0, 0.8, 3), 0.3, 11)
    series, roles = standard(train, noisy_val)
    assert "noisy_loss" in label_of(tmp_path, series, facts(roles), name="noisy")["expected"]
    # 30 epochs of a real-looking jagged validation curve: 3% jitter on a clear descent is not "noisy"
    series, roles = standard(decay(2.3, 0.3, 4, 30), jitter(decay(2.0, 0.4, 4, 30), 0.03, 12))
    assert "noisy_loss" in label_of(tmp_path, series, facts(roles), name="jagged")["forbidden"]


def test_val_better_than_train(tmp_path):
    train = jitter(decay(2.3, 0.5, 4), 0.01, 13)
    series, roles = standard(train, 0.8 * decay(2.3, 0.5, 4))
    assert "val_better_than_train" in label_of(tmp_path, series, facts(roles), name="dropout")["expected"]
    series, roles = standard(train, 1.2 * decay(2.3, 0.5, 4))
    assert "val_better_than_train" in label_of(tmp_path, series, facts(roles), name="usual")["forbidden"]


def test_data_problem_validation_at_chance(tmp_path):
    train = decay(2.3, 0.1, 5)
    val = jitter(np.full(EPOCHS, 2.4), 0.01, 14)
    series, roles = standard(train, val, train_metric=acc_from(train), val_metric=jitter(np.full(EPOCHS, 0.1), 0.05))
    out = label_of(tmp_path, series, facts(roles))
    assert "data_problem" in out["expected"]
    assert {"no_learning", "val_plateau"} <= set(out["forbidden"])  # validation never improved: not a plateau


def test_data_problem_without_a_train_metric(tmp_path):
    """Hugging Face style: no training accuracy, but the evaluation accuracy never leaves chance while the training
    loss falls: a data problem (shifted evaluation labels), and not "no learning"."""
    train = decay(2.3, 0.1, 5)
    val = np.linspace(2.5, 6.0, EPOCHS)
    series, roles = standard(train, val, val_metric=jitter(np.full(EPOCHS, 0.05), 0.1, 25))
    out = label_of(tmp_path, series, facts(roles))
    assert "data_problem" in out["expected"]
    assert {"no_learning", "val_plateau"} <= set(out["forbidden"])


def test_best_checkpoint_mismatch(tmp_path):
    t = t01()
    val = 0.5 + 1.7 * np.exp(-15 * t) + 0.5 * np.clip(t - 0.2, 0, None)  # best loss at ~epoch 8-10
    metric = 0.1 + 0.8 * (1 - np.exp(-3 * t))  # accuracy still climbing to the end
    series, roles = standard(decay(2.3, 0.05, 5), val, val_metric=metric)
    out = label_of(tmp_path, series, facts(roles), name="mismatch")
    assert "best_checkpoint_mismatch" in out["expected"]
    series, roles = standard(decay(2.3, 0.05, 5), decay(2.2, 0.4, 5), val_metric=acc_from(decay(2.2, 0.4, 5)))
    assert "best_checkpoint_mismatch" in label_of(tmp_path, series, facts(roles), name="agree")["forbidden"]


# --------------------------------------------------------------------------- training-side shapes


def test_lr_too_small_straight_line_and_a_bending_curve(tmp_path):
    series, roles = standard(np.linspace(2.3, 1.5, EPOCHS))
    out = label_of(tmp_path, series, facts(roles), name="line")
    assert "lr_too_small" in out["expected"]
    assert "no_learning" in out["forbidden"]
    series, roles = standard(decay(2.3, 0.3, 6))
    assert "lr_too_small" in label_of(tmp_path, series, facts(roles), name="bend")["forbidden"]


def test_underfitting_accuracy_levels_far_below_perfect(tmp_path):
    loss = decay(2.3, 1.1, 10)
    acc = 0.1 + 0.52 * (1 - np.exp(-10 * t01()))  # levels at ~0.62 of 10 classes
    series, roles = standard(loss, loss * 1.02, train_metric=acc, val_metric=acc - 0.02)
    out = label_of(tmp_path, series, facts(roles), name="under")
    assert "underfitting" in out["expected"]
    assert {"overfitting", "no_learning"} <= set(out["forbidden"])
    good = 0.1 + 0.88 * (1 - np.exp(-10 * t01()))
    series, roles = standard(decay(2.3, 0.1, 10), train_metric=good, val_metric=good - 0.03)
    assert "underfitting" in label_of(tmp_path, series, facts(roles), name="fits")["forbidden"]


def test_lr_decay_too_early(tmp_path):
    t = t01()
    lr = np.where(t < 0.25, 1e-3, 1e-5)
    train = np.where(t < 0.25, 2.3 - 4 * t, 1.3)  # falling steadily, then frozen once the LR is cut
    series, roles = standard(train, lr=lr)
    out = label_of(tmp_path, series, facts(roles), name="early")
    assert "lr_decay_too_early" in out["expected"]
    cosine = 1e-3 * 0.5 * (1 + np.cos(np.pi * t))
    series, roles = standard(decay(2.3, 0.3, 4), lr=cosine)
    assert "lr_decay_too_early" in label_of(tmp_path, series, facts(roles), name="cosine")["forbidden"]


def test_lr_too_high_onecycle_peak_and_a_healthy_warmup_cosine(tmp_path):
    t = t01(50)
    lr = np.where(t < 0.3, 0.1 * t / 0.3, 0.1 * 0.5 * (1 + np.cos(np.pi * (t - 0.3) / 0.7)))
    # the loss drops during warm-up, stalls at 1.2 while the LR is near its peak, falls only as it anneals
    loss = np.where(t < 0.15, 2.3 - 7 * t, 1.25 - 0.1 * (t - 0.15))
    annealing = np.clip((0.1 - lr) / 0.1, 0, 1) * (t > 0.3)
    loss = loss - 0.7 * annealing**2
    series, roles = standard(jitter(loss, 0.01, 15), lr=lr)
    out = label_of(tmp_path, series, facts(roles, epochs=50), name="too_high", intent="lr_too_high")
    assert "lr_too_high" in out["expected"]
    assert "lr_too_high" not in out["notes"].split("Intent")[-1]  # the intent showed: no "does not show" remark
    warm = np.where(t < 0.1, 1e-3 * t / 0.1, 1e-3 * 0.5 * (1 + np.cos(np.pi * (t - 0.1) / 0.9)))
    series, roles = standard(jitter(decay(2.3, 0.3, 6, 50), 0.01, 16), lr=warm)
    assert "lr_too_high" in label_of(tmp_path, series, facts(roles, epochs=50), name="healthy")["forbidden"]


def test_lr_too_high_needs_a_schedule(tmp_path):
    t = t01()
    series, roles = standard(np.where(t < 0.5, 1.2, 0.6), lr=np.full(EPOCHS, 0.1))
    assert "lr_too_high" in label_of(tmp_path, series, facts(roles))["forbidden"]


# --------------------------------------------------------------------------- batch-level curves


def batch_series(values: np.ndarray, first_step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(first_step, first_step + values.size), values


def batch_facts(**kw) -> Facts:
    return facts({"train_loss": "train_loss", "batch_loss": "batch_loss"}, axes={"batch_loss": "step"}, **kw)


def raw_batches(pattern: float, epochs_n: int = 12, seed: int = 17) -> np.ndarray:
    """Per-batch cross-entropy: a decaying trend, 10% batch noise and (pattern > 0) an epoch-periodic wave."""
    n = epochs_n * SPE
    pos = np.arange(n) % SPE
    trend = 0.3 + 2.0 * np.exp(-np.arange(n) / (3 * SPE))
    wave = 1 + pattern * np.sin(2 * np.pi * pos / SPE)
    return trend * wave * np.exp(0.1 * np.random.default_rng(seed).standard_normal(n))


def epoch_means(batches: np.ndarray) -> np.ndarray:
    return batches.reshape(-1, SPE).mean(axis=1)


def keras_running_mean(batches: np.ndarray) -> np.ndarray:
    per_epoch = batches.reshape(-1, SPE)
    return (np.cumsum(per_epoch, axis=1) / np.arange(1, SPE + 1)).ravel()


def test_periodic_loss_from_unshuffled_data(tmp_path):
    for name, pattern, verdict in (("sorted", 0.5, "expected"), ("shuffled", 0.0, "forbidden")):
        b = raw_batches(pattern)
        series = {"train_loss": epochs(epoch_means(b)), "batch_loss": batch_series(b)}
        out = label_of(tmp_path, series, batch_facts(epochs=12), name=name)
        assert "periodic_loss" in out[verdict], name


def test_keras_running_mean_is_inverted_before_judging(tmp_path):
    """A running mean within each epoch is a sawtooth with the epoch's period even for shuffled data."""
    for name, pattern, verdict in (("shuffled", 0.0, "forbidden"), ("sorted", 0.5, "expected")):
        b = raw_batches(pattern, seed=18)
        series = {"train_loss": epochs(epoch_means(b)), "batch_loss": batch_series(keras_running_mean(b))}
        out = label_of(tmp_path, series, batch_facts(epochs=12), name=f"rm_{name}")
        assert out["observed"]["_run"]["running_mean_inverted"] is True
        assert "periodic_loss" in out[verdict], name


def test_running_mean_inversion_is_exact():
    b = raw_batches(0.0, epochs_n=4)
    steps = np.arange(1, b.size + 1)
    c = lab.Curve("batch_loss", steps, steps / SPE, keras_running_mean(b), float(SPE))
    offset, share = lab.running_mean_offset(c, SPE)
    assert (offset, share) == (1, 1.0)
    np.testing.assert_allclose(lab.invert_running_mean(c, SPE, offset).y, b, rtol=1e-9)
    raw = lab.Curve("batch_loss", steps, steps / SPE, b, float(SPE))
    offset, share = lab.running_mean_offset(raw, SPE)
    assert offset is None and share < 0.9
    two_a_epoch = lab.Curve("batch_loss", steps[24::25], steps[24::25] / SPE, b[24::25], 2.0)
    assert lab.running_mean_offset(two_a_epoch, SPE)[0] is None  # too few points to tell


def test_a_barely_moving_raw_loss_is_not_taken_for_a_running_mean(tmp_path):
    """At lr 1e-6 a raw per-step loss never drops by 1/position, so the numbers fit both readings; only Keras'
    ``batch_`` tags are inverted (a raw loss inverted turns its noise into swings 30x larger and fakes learning)."""
    n = 12 * SPE
    flat = 0.8 * np.exp(0.003 * np.random.default_rng(3).standard_normal(n))
    steps = np.arange(1, n + 1)
    c = lab.Curve("train/loss", steps, steps / SPE, flat, float(SPE))
    assert lab.running_mean_offset(c, SPE)[0] is not None  # the numeric test alone cannot tell
    for tag, inverted in (("train/loss", False), ("batch_loss", True)):
        f = facts({"train_loss": tag, "batch_loss": tag}, axes={"train_loss": "step", "batch_loss": "step"})
        out = label_of(tmp_path, {tag: (steps, flat)}, f, name=tag.replace("/", "_"))
        assert out["observed"]["_run"]["running_mean_inverted"] is inverted, tag
        if not inverted:
            assert "no_learning" in out["expected"]  # read as it is: a loss that never moved


def test_loss_spikes_versus_noise(tmp_path):
    b = raw_batches(0.0, seed=19)
    spiky = b.copy()
    for i in (130, 270, 410):
        spiky[i] *= 20  # a bad batch that recovers at once
    series = {"train_loss": epochs(epoch_means(spiky)), "batch_loss": batch_series(spiky)}
    out = label_of(tmp_path, series, batch_facts(epochs=12), name="spiky")
    assert "loss_spikes" in out["expected"]
    series = {"train_loss": epochs(epoch_means(b)), "batch_loss": batch_series(b)}
    assert "loss_spikes" in label_of(tmp_path, series, batch_facts(epochs=12), name="calm")["forbidden"]
    # tiny batches: a heavy-tailed band, many 3x batches, and no event among them
    heavy = raw_batches(0.0, seed=20) * np.exp(0.6 * np.random.default_rng(21).standard_normal(12 * SPE))
    series = {"train_loss": epochs(epoch_means(heavy)), "batch_loss": batch_series(heavy)}
    assert "loss_spikes" in label_of(tmp_path, series, batch_facts(epochs=12), name="heavy")["forbidden"]


def test_a_spike_visible_only_on_a_log_axis_is_grey(tmp_path):
    """3x over the local level, but near the end of a curve that fell 50-fold: a blip on TensorBoard's axis."""
    train = jitter(decay(2.3, 0.02, 8), 0.005, 26)
    train[30] *= 3
    series, roles = standard(train)
    out = label_of(tmp_path, series, facts(roles))
    assert "loss_spikes" in out["acceptable"]


def test_a_thousandfold_epoch_level_spike_that_recovers(tmp_path):
    train = jitter(decay(2.3, 0.3, 4), 0.01, 22)
    train[20] *= 1000
    series, roles = standard(train, jitter(decay(2.2, 0.4, 4), 0.01, 23))
    out = label_of(tmp_path, series, facts(roles))
    assert "loss_spikes" in out["expected"]
    assert "divergence" in out["forbidden"]


# --------------------------------------------------------------------------- callback series


def callback_series(
    grad: np.ndarray | None = None,
    dead: float = 0.1,
    saturated: float = 0.05,
    ratio: float = 1e-3,
    first_loss: float = 2.3,
    input_grad: float = 0.5,
) -> dict:
    """What DiagnosisCallback writes under train/tb_recipe/, with one read every 10 steps."""
    steps = np.arange(1, 401)
    reads = steps[9::10]
    grad = np.full(steps.size, 1.0) if grad is None else grad
    loss = decay(first_loss, 0.3, 4, steps.size)
    p = "train/tb_recipe/"
    out = {
        p + "batch_loss": (steps, loss),
        p + "grad_norm": (steps, grad),
        p + "window/nonfinite_grad_steps": (reads, np.zeros(reads.size)),
        p + "window/grad_norm_max": (reads, grad.reshape(-1, 10).max(axis=1)),
        p + "meta/expected_initial_loss": (np.array([0]), np.array([math.log(10)])),
    }
    for i, layer in enumerate(("dense", "dense_1", "dense_2")):
        out[p + f"meta/layer_index/{layer}"] = (np.array([0]), np.array([float(i)]))
        g = input_grad if i == 0 else 1.0
        out[p + f"layer/grad_norm/{layer}"] = (reads, np.full(reads.size, g))
        out[p + f"layer/update_ratio/{layer}"] = (reads, np.full(reads.size, ratio))
    out[p + "layer/dead_fraction/dense"] = (reads, np.full(reads.size, dead))
    out[p + "layer/saturated_fraction/dense_1"] = (reads, np.full(reads.size, saturated))
    return out


def with_callback(tmp_path: Path, name: str, **kw) -> dict:
    train = decay(2.3, 0.3, 4, 8)
    series = {"train/epoch_loss": epochs(train), **callback_series(**kw)}
    return label_of(tmp_path, series, facts({"train_loss": "train/epoch_loss"}, epochs=8), name=name)


def test_healthy_callback_series_forbid_every_callback_code(tmp_path):
    out = with_callback(tmp_path, "healthy")
    assert out["observed"]["_run"]["callback"] is True
    assert set(CALLBACK_CODES) <= set(out["forbidden"])


@pytest.mark.parametrize(
    "code, kw",
    [
        ("exploding_gradients", {"grad": np.geomspace(1, 1e4, 400)}),
        ("nonfinite_gradients", {"grad": np.where(np.arange(400) == 200, np.nan, 1.0)}),
        ("vanishing_gradients", {"input_grad": 1e-6}),
        ("dying_relu", {"dead": 0.85}),
        ("saturated_activations", {"saturated": 0.8}),
        ("update_ratio_high", {"ratio": 0.2}),
        ("update_ratio_low", {"ratio": 1e-7}),
        ("initial_loss_off", {"first_loss": 25.0}),
    ],
)
def test_each_callback_code(tmp_path, code, kw):
    out = with_callback(tmp_path, code, **kw)
    assert code in out["expected"]


@pytest.mark.parametrize(
    "kw, code, verdict",
    [
        ({"dead": 0.59}, "dying_relu", "acceptable"),
        ({"dead": 0.61}, "dying_relu", "expected"),
        ({"dead": 0.29}, "dying_relu", "forbidden"),
        ({"first_loss": 2.9 * math.log(10)}, "initial_loss_off", "acceptable"),
        ({"first_loss": 3.1 * math.log(10)}, "initial_loss_off", "expected"),
        ({"first_loss": 1.45 * math.log(10)}, "initial_loss_off", "forbidden"),
        ({"ratio": 0.045}, "update_ratio_high", "acceptable"),
        ({"ratio": 0.055}, "update_ratio_high", "expected"),
        ({"ratio": 0.019}, "update_ratio_high", "forbidden"),
    ],
)
def test_callback_levels_at_their_edges(tmp_path, kw, code, verdict):
    out = with_callback(tmp_path, f"{code}_{verdict}", **kw)
    assert code in out[verdict]


def test_divergence_levels_at_their_edges():
    """End at 2.9x / 3.1x the minimum, giving back more than half the drop: grey / yes; 1.45x: no."""
    for end, verdict in ((2.9, lab.GREY), (3.1, lab.YES), (1.45, lab.NO)):
        y = np.concatenate([np.linspace(4.0, 1.0, 10), np.full(4, 1.0), np.full(6, end)])
        c = lab.Curve("t", np.arange(y.size), np.arange(y.size, dtype=float), y, 1.0)
        run = lab.Run(facts({"train_loss": "t"}), {"train_loss": c}, {})
        assert lab.divergence(run).verdict == verdict, end


def _judge(code: str, **role_values: np.ndarray) -> str:
    """One criterion on noise-free curves (epoch axis), without event files: for the levels' edges."""
    curves = {}
    for role, y in role_values.items():
        c = lab.Curve(role, np.arange(y.size), np.arange(y.size, dtype=float), np.asarray(y, float), 1.0)
        c.evaluation = role.startswith("val_")
        curves[role] = c
    return lab.JUDGES[code](lab.Run(facts(dict.fromkeys(role_values, "x")), curves, {})).verdict


def quarters(drops: list[float], start: float = 10.0, n: int = 41) -> np.ndarray:
    """A piecewise-linear loss whose four quarter medians fall by `drops` from one quarter to the next."""
    mids = np.array([1, 3, 5, 7]) / 8
    meds = start - np.concatenate([[0.0], np.cumsum(drops)])
    t = np.linspace(0, 1, n)
    y = np.interp(t, mids, meds)
    first, last = (meds[1] - meds[0]) / 0.25, (meds[3] - meds[2]) / 0.25
    return np.where(
        t < mids[0], meds[0] + first * (t - mids[0]), np.where(t > mids[3], meds[3] + last * (t - mids[3]), y)
    )


@pytest.mark.parametrize("last, verdict", [(0.36, lab.YES), (0.30, lab.GREY), (0.09, lab.NO)])
def test_lr_too_small_evenness_edges(last, verdict):
    assert _judge("lr_too_small", train_loss=quarters([1.0, 1.0, last])) == verdict


@pytest.mark.parametrize("end, verdict", [(1.16, lab.YES), (1.14, lab.GREY), (1.04, lab.NO)])
def test_overfitting_rise_edges(end, verdict):
    val = np.concatenate([np.linspace(2.0, 1.0, 15), np.full(6, 1.0), np.linspace(1.0, end, 8)[1:], [end] * 3])
    train = np.linspace(2.0, 0.2, val.size)
    assert _judge("overfitting", train_loss=train, val_loss=val) == verdict


@pytest.mark.parametrize("train_tail, verdict", [(-0.06, lab.YES), (-0.03, lab.GREY), (-0.01, lab.NO)])
def test_val_plateau_needs_training_to_keep_falling(train_tail, verdict):
    """Validation flat over the last third; training changes by `train_tail` of its level over that third."""
    k = train_tail / (train_tail / 2 - 1)  # the fall that gives this change relative to the tail's median level
    x = np.arange(30.0)
    train = np.where(x <= 20, 3.0 - 2.0 * x / 20, 1.0 - k * (x - 20) / 9)
    val = np.where(x <= 10, 2.0 - 0.15 * x, 0.5)
    assert _judge("val_plateau", train_loss=train, val_loss=val) == verdict


# --------------------------------------------------------------------------- bad input


def test_empty_run_folder_labels_without_error(tmp_path):
    out = label_run(tmp_path, spec(), facts({"train_loss": "train/epoch_loss", "val_loss": "validation/epoch_loss"}))
    assert_partition(out)
    assert out["expected"] == [] and set(HEALTH) <= set(out["forbidden"])
    assert "absent" in out["notes"]


def test_all_nan_and_negative_losses_label_without_error(tmp_path):
    series, roles = standard(np.full(EPOCHS, np.nan), decay(2.2, 0.3, 4), val_metric=np.full(EPOCHS, np.nan))
    out = label_of(tmp_path, series, facts(roles), name="nan")
    assert "nonfinite_loss" in out["expected"]
    # a negative log-likelihood that falls below zero, with per-batch values: healthy
    b = (
        -2.0
        + 3.0 * np.exp(-np.arange(12 * SPE) / (3 * SPE))
        + 0.05 * np.random.default_rng(24).standard_normal(12 * SPE)
    )
    series = {"train_loss": epochs(epoch_means(b)), "batch_loss": batch_series(b)}
    out = label_of(tmp_path, series, batch_facts(epochs=12, task="regression", metric=None), name="nll")
    assert set(HEALTH) <= set(out["forbidden"])
    assert "periodic_loss" in out["forbidden"] and "loss_spikes" in out["forbidden"]


def test_too_short_curves_are_not_judged(tmp_path):
    series, roles = standard(np.array([2.3, 1.0]), np.array([2.2, 1.5]))
    out = label_of(tmp_path, series, facts(roles))
    assert out["expected"] == []


# --------------------------------------------------------------------------- real runs from public repositories


def _mqtt(spe: int) -> dict:
    roles = {"train_loss": "Training loss", "val_loss": "Test loss (avg on test)", "val_metric": "IoU (avg on test)"}
    return dict(
        roles=roles,
        axes=dict.fromkeys(roles, "step"),
        task="segmentation",
        metric="iou",
        chance_metric=None,
        num_classes=None,
        steps_per_epoch=spe,
    )


def _yolo() -> dict:
    roles = {"train_loss": "train/box_loss", "val_loss": "val/box_loss", "val_metric": "metrics/mAP_0.5", "lr": "x/lr0"}
    return dict(roles=roles, task="detection", metric="map50", chance_metric=0.0, num_classes=None)


def _hf(spe: int) -> dict:
    roles = {
        "train_loss": "train/loss",
        "val_loss": "eval/loss",
        "val_metric": "eval/accuracy",
        "lr": "train/learning_rate",
    }
    return dict(roles=roles, axes=dict.fromkeys(roles, "step"), num_classes=4, chance_metric=0.25, steps_per_epoch=spe)


def _keras() -> dict:
    roles = {
        "train_loss": "train/epoch_loss",
        "val_loss": "validation/epoch_loss",
        "train_metric": "train/epoch_accuracy",
        "val_metric": "validation/epoch_accuracy",
        "lr": "train/epoch_learning_rate",
    }
    return dict(roles=roles, num_classes=None, chance_metric=None)


_MQ = "Mqtth3w__pixel-level-segmentation-in-pets-unipr/"
REAL_FACTS = {
    # What INDEX.md says each tag is; steps_per_epoch from the step spacing of the per-epoch tags.
    _MQ + "unet/runs/UNet_wd_1e_4": _mqtt(115),
    _MQ + "unet/runs/UNet_lr2e_3": _mqtt(115),
    _MQ + "unet/runs/UNet_wd_1e_5": _mqtt(115),
    _MQ + "unet/runs/UNet_dr015_bs32_lr3e_4": _mqtt(115),
    _MQ + "unet/runs/UNet_RSMprop_combo": _mqtt(230),
    _MQ + "deeplabv3_resnet101/runs/DeepLabV3ResNet_lr2e_4": _mqtt(115),
    _MQ + "deeplabv3_resnet101/runs/DeepLabV3ResNet_lr7e_5": _mqtt(115),
    "prithsha__erav2-session13/logs/lightning_logs/version_0": dict(
        roles={
            "train_loss": "train_loss_epoch",
            "train_metric": "train_acc_epoch",
            "lr": "lr-Adam",
            "batch_loss": "train_loss_step",
        },
        axes=dict.fromkeys(("train_loss", "train_metric", "lr", "batch_loss"), "step"),
        steps_per_epoch=98,
    ),
    "Abdul-AA__Text-Generation-With-LSTM/lightning_logs/version_0": dict(
        roles={"train_loss": "train_loss", "val_loss": "val_loss"},
        axes={"train_loss": "step", "val_loss": "step"},
        metric=None,
        metric_direction=None,
        num_classes=None,
        chance_metric=None,
        steps_per_epoch=13262,
    ),
    "AmelNozieres__Mushrooms_YOLOv5/runs/train/exp": _yolo(),
    "AmelNozieres__Mushrooms_YOLOv5/runs/train/exp2": _yolo(),
    "AguLeon__LoRA_RoBERTa_AGNews/runs/run0": _hf(6750),
    "AguLeon__LoRA_RoBERTa_AGNews/runs/run4": _hf(3730),
    "TeoKets__Emotion_Recognition_model_Project/logs/20251112-143203": _keras(),
    "TeoKets__Emotion_Recognition_model_Project/logs/20251112-171506": _keras(),
    "TeoKets__Emotion_Recognition_model_Project/logs/20251114-231944": _keras(),
}


def real_facts(run: str) -> Facts:
    kw = dict(REAL_FACTS[run])
    return facts(kw.pop("roles"), **kw)


@pytest.mark.skipif(not (REALLOGS / "manifest.json").is_file(), reason="../shared/reallogs is not on this machine")
def test_real_runs_label_cleanly_and_agree_on_health():
    """Other people's runs: every code classified once, and no health error expected where the manifest forbids it.

    Agreement per code with the manifest is reported by the labeller's author, not asserted: the labels must not
    be tuned to it.
    """
    manifest = {m["run"]: m for m in json.loads((REALLOGS / "manifest.json").read_text())}
    assert set(REAL_FACTS) == set(manifest)
    for run, m in manifest.items():
        out = label_run(REALLOGS / run, RunSpec("real", run, "healthy"), real_facts(run))
        assert_partition(out)
        clash = set(out["expected"]) & set(m["forbidden"]) & set(HEALTH)
        assert not clash, (run, clash)
