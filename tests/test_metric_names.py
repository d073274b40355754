"""Metric names beyond accuracy: a ranking, retrieval or image-quality run gets its validation metric recognised.

Without a validation metric role, best_checkpoint_mismatch, underfitting's accuracy path and the metric vetoes of
no_learning cannot see the run's metric at all.
"""

from __future__ import annotations

import numpy as np
import pytest

from tb_recipe_plugin.analysis.analyzer import analyze_run
from tests.curves import codes, decay, noisy, run, run_xy


@pytest.mark.parametrize(
    ("tag", "direction"),
    [
        ("valid__ndcg@10", "max"),
        ("val_mrr", "max"),
        ("eval__hit_rate", "max"),
        ("val_auprc", "max"),
        ("val__psnr", "max"),
        ("val__ssim", "max"),
        ("val_spearman", "max"),
        ("val_smape", "min"),
        ("val_brier", "min"),
    ],
)
def test_the_validation_metric_is_recognised_with_its_direction(tag: str, direction: str) -> None:
    n = 20
    rep = analyze_run(run(train_loss=decay(n), val_loss=decay(n, 2.1, 0.3), **{tag: np.linspace(0.2, 0.6, n)}))
    role = rep.roles["val_metric"]
    assert role.tag == tag.replace("__", "/") and role.direction == direction


def test_a_ranking_run_whose_loss_and_ndcg_disagree_on_the_best_checkpoint() -> None:
    """Pairwise loss best at evaluation 8 and rising after; NDCG@10 still climbing to the last evaluation."""
    n = 30
    val = np.r_[np.linspace(1.0, 0.6, 9), np.linspace(0.6, 0.8, n - 9)]
    ndcg = np.r_[np.linspace(0.5, 0.70, 9), np.linspace(0.70, 0.78, n - 9)]
    rep = analyze_run(run(train_loss=decay(n, 1.0, 0.2, 4), valid__loss=val, valid__ndcg=ndcg))
    assert "best_checkpoint_mismatch" in codes(rep)


def test_a_rank_statistic_named_after_an_accuracy_is_lower_is_better_and_not_the_headline() -> None:
    """SimCLR logs `val_acc_mean_pos` (mean position of the positive pair, falling as it learns) beside
    `val_acc_top1`: the top-1 accuracy is the validation metric, the mean position is read as lower-is-better."""
    n = 20
    series = {"val_acc_mean_pos": np.linspace(27.0, 1.5, n), "val_acc_top1": np.linspace(0.4, 0.93, n)}
    rep = analyze_run(run(train_loss=decay(n), val_loss=decay(n, 2.1, 0.3), **series))
    assert rep.roles["val_metric"].tag == "val_acc_top1"
    alone = analyze_run(
        run(train_loss=decay(n), val_loss=decay(n, 2.1, 0.3), val_acc_mean_pos=series["val_acc_mean_pos"])
    )
    assert alone.roles["val_metric"].direction == "min"
    assert "best_checkpoint_mismatch" not in codes(alone)  # its best is the last evaluation, as the loss's


def test_an_unsplit_metric_logged_with_the_training_loss_is_a_training_metric() -> None:
    """An RBM logs `loss` and `quant_error` at the same 60 steps and validates nothing: quant_error levelling off
    while the loss still falls is not "validation plateaus". Beside a validation loss (YOLO's `metrics/mAP_0.5`
    next to `val/box_loss`), an unsplit metric stays the validation metric."""
    n, steps = 60, np.arange(50, 3050, 50)
    quant = np.r_[np.linspace(0.7, 0.3, 20), np.full(n - 20, 0.3)]
    rep = analyze_run(run(steps=steps, loss=decay(n, 30.0, 4.0, 3.0), quant_error=quant))
    assert rep.roles["train_metric"].tag == "quant_error" and "val_metric" not in rep.roles
    assert "val_plateau" not in codes(rep)
    yolo = analyze_run(run(train__box_loss=decay(30), val__box_loss=decay(30, 2.1), metrics__mAP50=quant[:30]))
    assert yolo.roles["val_metric"].tag == "metrics/mAP50"


@pytest.mark.parametrize("name", ["bce", "ce", "logloss", "hinge", "kl", "bpr", "infonce"])
def test_a_loss_named_by_its_function_is_a_loss(name: str) -> None:
    """`train/bce` and `val/bce` (a recommender's script) are its losses: without them no rule has a curve."""
    n = 30
    val = np.r_[np.linspace(1.0, 0.5, 10), np.linspace(0.5, 0.9, n - 10)]
    rep = analyze_run(run(**{f"train__{name}": decay(n, 1.0, 0.05, 4), f"val__{name}": val}))
    assert rep.roles["train_loss"].tag == f"train/{name}" and rep.roles["val_loss"].tag == f"val/{name}"
    assert "overfitting" in codes(rep)


def test_the_denser_of_two_training_losses_is_the_per_batch_one() -> None:
    """fairseq's `train_inner/loss` (every 10 updates) beside `train/loss` (per epoch): no word says "batch", the
    density does; spikes in the per-update curve are then seen."""
    inner_steps, epoch_steps = np.arange(10, 2010, 10), np.arange(200, 2001, 200)
    inner = noisy(np.linspace(5.0, 2.0, inner_steps.size), 0.02, 4)
    inner[120] *= 5  # one corrupted batch
    rd = run_xy(
        train_inner__loss=(inner_steps, inner),
        train__loss=(epoch_steps, np.linspace(4.5, 2.0, epoch_steps.size)),
        valid__loss=(epoch_steps, np.linspace(4.6, 2.2, epoch_steps.size)),
    )
    rep = analyze_run(rd)
    assert rep.roles["train_loss"].tag == "train/loss"
    assert rep.roles["batch_loss"].tag == "train_inner/loss" and rep.roles["batch_loss"].level == "batch"
    assert "loss_spikes" in codes(rep)


def test_detectron2_names_its_validation_metric_ap_and_logs_a_training_accuracy() -> None:
    """Detectron2 writes `total_loss` and `fast_rcnn/cls_accuracy` every 20 iterations, `validation_loss` and
    `bbox/AP` (percent) every pass: the accuracy logged with the training loss is the training metric, `bbox/AP`
    the validation one."""
    it, ev = np.arange(19, 1800, 20), np.arange(59, 1800, 60)
    rd = run_xy(
        total_loss=(it, decay(it.size, 1.7, 0.2, 4)),
        **{"fast_rcnn/cls_accuracy": (it, np.linspace(0.4, 0.95, it.size))},
        validation_loss=(ev, decay(ev.size, 1.7, 0.4, 4)),
        **{"bbox/AP": (ev, np.linspace(0.2, 30.0, ev.size)), "bbox/AP50": (ev, np.linspace(1.0, 60.0, ev.size))},
    )
    rep = analyze_run(rd)
    assert rep.roles["val_metric"].tag == "bbox/AP" and rep.roles["val_metric"].direction == "max"


def test_an_estimators_unsplit_accuracy_is_the_training_twin_of_its_eval_accuracy() -> None:
    """tf.estimator writes `loss` and `accuracy` into the model dir every 100 steps and `eval/loss`,
    `eval/accuracy` at each evaluated checkpoint: the unsplit accuracy is the training metric."""
    it, ev = np.arange(1, 5000, 100), np.arange(500, 5001, 500)
    rd = run_xy(
        loss=(it, decay(it.size, 1.6, 0.9, 4)),
        accuracy=(it, np.linspace(0.3, 0.66, it.size)),
        eval__loss=(ev, decay(ev.size, 1.1, 0.95, 4)),
        eval__accuracy=(ev, np.linspace(0.6, 0.68, ev.size)),
    )
    rep = analyze_run(rd)
    assert rep.roles["val_metric"].tag == "eval/accuracy"
    assert rep.roles["train_metric"].tag == "accuracy"


@pytest.mark.parametrize(
    ("tag", "words"),
    [("training/batchloss", ["training", "batch", "loss"]), ("valloss", ["val", "loss"]), ("classloss", ["classloss"])],
)
def test_a_loss_written_run_together_with_its_kind_is_split(tag: str, words: list[str]) -> None:
    from tb_recipe_plugin.analysis.tag_words import tokens

    assert tokens(tag) == words


def test_the_lr_of_the_weights_is_chosen_over_ultralytics_bias_group() -> None:
    """Ultralytics warms its bias group (lr/pg0) down from 0.1 while the weight groups (pg1, pg2) warm up from 0;
    all three then decay together. The bias group's warm-up must not read as the schedule."""
    ep = np.arange(1, 41)
    decay_part = 0.01 * (1 - 0.9 * (ep - 1) / 39)
    warm = np.minimum(1.0, ep / 5)
    weights = np.where(ep <= 5, 0.01 * warm, decay_part)
    bias = np.where(ep <= 5, 0.1 - (0.1 - 0.01) * warm, decay_part)
    loss = decay(ep.size, 7.0, 3.0, 8)
    rep = analyze_run(
        run(
            **{"train/box_loss": loss, "val/box_loss": loss * 0.8, "lr/pg0": bias, "lr/pg1": weights, "lr/pg2": weights}
        )
    )
    assert rep.roles["lr"].tag in ("lr/pg1", "lr/pg2")
    assert "lr_decay_too_early" not in codes(rep)
    two = analyze_run(run(**{"train/box_loss": loss, "lr/pg0": bias, "lr/pg1": weights}))
    assert two.roles["lr"].tag == "lr/pg0"  # with two groups neither is the majority: the first stays
