"""The PyTorch corpus programs: cheap to list, and each one trains for real and writes what its Facts name.

(a) runs the listing in a fresh interpreter, so "listing imports no framework" is checked
    for real even when this test process already holds torch or TensorFlow;
(b) trains one scaled-down run of every program and reads it back with TensorBoard's own
    reader (benchmarks.corpus.scalars), plus a few writer conventions and injections that
    the labeller and the analyzer rely on.
"""

from __future__ import annotations

import importlib
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from benchmarks.corpus.spec import ROLES, Facts, RunSpec

REPO = Path(__file__).resolve().parent.parent

PROGRAMS = {
    "torch_mlp_tabular": "dev",
    "torch_cnn_hf_style": "dev",
    "lightning_style_gru": "dev",
    "tbx_segmentation": "dev",
    "torch_recsys_mf": "dev",
    "torch_lm_fairseq_style": "dev",
    "torch_detectron_style": "dev",
    "torch_mmengine_style": "dev",
    "flax_clu_style": "dev",
    "torch_ignite_style": "dev",
    "torch_ultralytics_style": "dev",
    "torch_ranking": "heldout",
    "lightning_style_transformer": "heldout",
}

NO_VAL_LOSS = {"torch_mmengine_style"}  # MMEngine's ValLoop logs no validation loss unless the model returns one


# One scaled-down run per program: (run name, params override). Small data and few steps, same code paths.
TINY = {
    "torch_mlp_tabular": ("healthy_bc_adam", {"epochs": 3}),
    "torch_cnn_hf_style": ("healthy_linear_warmup", {"n_train": 96, "eval_size": 40, "num_train_epochs": 2,
                                                     "logging_steps": 2, "eval_steps": 3}),
    "lightning_style_gru": ("healthy_adam_constant", {"n_train": 96, "n_val": 32, "epochs": 2,
                                                      "log_every_n_steps": 2}),
    "tbx_segmentation": ("healthy_adam_bce", {"n_train": 32, "n_val": 8, "epochs": 2, "image_every": 1}),
    "torch_recsys_mf": ("healthy_adam_constant", {"n_users": 60, "n_items": 50, "pos_per_user": 6, "epochs": 2,
                                                  "batch_size": 64, "log_every": 2}),
    "torch_lm_fairseq_style": ("healthy_inverse_sqrt", {"n_train": 64, "n_valid": 16, "max_epoch": 2,
                                                        "log_interval": 2, "warmup_updates": 4}),
    "torch_detectron_style": ("healthy_multistep_1x", {"n_train": 64, "n_val": 16, "max_iter": 40, "log_period": 5,
                                                       "eval_period": 10, "steps": [30], "warmup_iters": 5}),
    "torch_mmengine_style": ("healthy_multistep", {"n_train": 800, "n_val": 50, "val_batch_size": 20, "max_epochs": 2,
                                                   "milestones": [1]}),
    "flax_clu_style": ("healthy_warmup_cosine_adamw", {"n_train": 128, "n_eval": 32, "batch_size": 16,
                                                       "num_epochs": 2, "log_every_steps": 4, "warmup_steps": 4}),
    "torch_ignite_style": ("healthy_mnist_step_decay", {"n_train": 200, "n_val": 50, "epochs": 2, "log_every": 2,
                                                         "milestones": [1]}),
    "torch_ultralytics_style": ("healthy_sgd_linear_close_mosaic", {"n_train": 32, "n_val": 16, "epochs": 3,
                                                                     "close_mosaic": 1}),
    "torch_ranking": ("healthy_pairwise_onecycle", {"n_train": 16, "n_val": 8, "epochs": 2}),
    "lightning_style_transformer": ("healthy_cosine_warmup", {"n_train": 96, "n_val": 32, "epochs": 2,
                                                              "val_check_interval": 2, "log_every_n_steps": 2,
                                                              "warmup_steps": 3}),
}



# --------------------------------------------------------------------------- (b) real training, scaled down


def _train(name: str, tmp_path: Path, run: str | None = None, **override: object) -> tuple[Path, Facts, dict]:
    from benchmarks.corpus.programs import load
    from benchmarks.corpus.scalars import read_run

    program = load(name)
    base_run, base_params = TINY[name]
    spec = next(s for s in program.runs() if s.name == (run or base_run))
    spec = replace(spec, params={**spec.params, **base_params, **override})
    run_dir = tmp_path / name / spec.name
    run_dir.mkdir(parents=True)
    facts = program.train(spec, run_dir)
    return run_dir, facts, read_run(run_dir)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_tiny_run_writes_the_tags_its_facts_name(tmp_path: Path, name: str) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("tensorboardX")
    pytest.importorskip("sklearn")
    run_dir, facts, curves = _train(name, tmp_path)
    json.dumps(facts.to_json())  # facts.json must be writable
    assert set(facts.tags) <= set(ROLES)
    assert set(facts.steps) == set(facts.tags)
    assert set(facts.steps.values()) <= {"epoch", "step"}
    for role in ("train_loss", "val_metric") if name in NO_VAL_LOSS else ("train_loss", "val_loss", "val_metric"):
        assert role in facts.tags
    for role, tag in facts.tags.items():
        assert tag in curves, f"{role}: {tag} not in {sorted(curves)}"
        steps, values = curves[tag]
        assert len(steps) >= 2 and np.isfinite(values).all(), (role, tag)
    assert facts.metric_direction == "max" and facts.steps_per_epoch > 0 and facts.lr_peak > 0
    assert not (set(p.name for p in run_dir.rglob("*")) & {"facts.json", "label.json"})  # the driver writes those


def test_tabular_auc_option_logs_roc_auc_and_says_so_in_the_facts(tmp_path: Path) -> None:
    """val_metric="auc" swaps the accuracy tags for ROC-AUC ones; the facts must name them, "max" and chance 0.5.

    The best_checkpoint_mismatch runs on AUC rely on this: a labeller reading facts that
    still said accuracy (chance = majority share) would judge the AUC curve on the wrong scale.
    """
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    _, facts, curves = _train("torch_mlp_tabular", tmp_path, val_metric="auc", val_label_noise=0.1)
    assert {"AUC/train", "AUC/val"} <= set(curves) and not {"Accuracy/train", "Accuracy/val"} & set(curves)
    assert facts.tags["val_metric"] == "AUC/val" and facts.tags["train_metric"] == "AUC/train"
    assert (facts.metric, facts.metric_direction, facts.chance_metric) == ("auc", "max", 0.5)
    assert facts.injected["val_label_noise"] == 0.1
    steps, values = curves["AUC/val"]
    assert steps.tolist() == [0, 1, 2]
    assert np.all((values >= 0.0) & (values <= 1.0)) and len(set(values.tolist())) > 1  # a real AUC, not a constant
    assert values[-1] > 0.7  # breast cancer ranks well even with 10% of validation labels flipped


def test_tabular_auc_refuses_multiclass_and_val_label_noise_touches_only_validation(tmp_path: Path) -> None:
    """AUC here is binary: wine (3 classes) is refused, not silently logged; validation noise leaves training rows."""
    pytest.importorskip("torch")
    from benchmarks.corpus.programs import torch_mlp_tabular as tab

    with pytest.raises(ValueError, match="binary"):
        tab.train(RunSpec(program=tab.NAME, name="x", intent="healthy", params={"data": "wine", "val_metric": "auc"},
                          seed=1), tmp_path)
    assert not list(tmp_path.iterdir())  # refused before the writer opens an event file
    plain = {**tab.DEFAULTS}
    noisy = {**plain, "val_label_noise": 0.1}
    xt, yt, xv, yv = tab._load(plain, np.random.default_rng(5))
    nxt, nyt, nxv, nyv = tab._load(noisy, np.random.default_rng(5))
    assert np.array_equal(xt, nxt) and np.array_equal(yt, nyt) and np.array_equal(xv, nxv)
    flipped = int((yv != nyv).sum())
    assert 0.05 * len(yv) < flipped < 0.15 * len(yv)


def test_hf_layout_and_tags(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    run_dir, facts, curves = _train("torch_cnn_hf_style", tmp_path)
    (log_dir,) = (run_dir / "runs").iterdir()
    assert log_dir.name.count("_") >= 2  # <%b%d_%H-%M-%S>_<host>
    prefix = f"runs/{log_dir.name}/"
    for tag in ("train/loss", "train/grad_norm", "train/learning_rate", "train/epoch", "eval/loss", "eval/accuracy",
                "eval/runtime", "train/train_loss"):
        assert prefix + tag in curves, tag
    steps, lr = curves[prefix + "train/learning_rate"]
    assert steps.tolist() == [2, 4, 6]  # every logging_steps, step = global step
    assert lr[-1] == 0.0 and np.all(np.diff(lr) < 0)  # linear decay to 0 at max_steps
    assert curves[prefix + "eval/loss"][0].tolist() == [3, 6]  # every eval_steps


def test_lightning_step_conventions(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    run_dir, facts, curves = _train("lightning_style_gru", tmp_path)
    version = run_dir / "lightning_logs" / "version_0"
    assert (version / "hparams.yaml").read_text().startswith("batch_size: ")
    assert list((version / "checkpoints").glob("epoch=1-step=*.ckpt"))
    spe = facts.steps_per_epoch
    p = "lightning_logs/version_0/"
    assert curves[p + "hp_metric"][1].tolist() == [-1.0]
    assert curves[p + "train_loss_step"][0].tolist() == list(range(1, 2 * spe, 2))  # (step + 1) % 2 == 0
    assert curves[p + "val_loss"][0].tolist() == [spe - 1, 2 * spe - 1]  # the step of the epoch's last batch
    assert curves[p + "train_loss_epoch"][0].tolist() == [spe - 1, 2 * spe - 1]
    assert curves[p + "lr-Adam"][0].tolist() == [0, spe]  # epoch-interval scheduler: at epoch start


def test_lightning_mid_epoch_validation(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    _, facts, curves = _train("lightning_style_transformer", tmp_path)
    spe = facts.steps_per_epoch
    val_steps = curves["lightning_logs/version_0/val_loss"][0].tolist()
    expected = [e * spe + b for e in range(2) for b in range(spe) if (b + 1) % 2 == 0]
    assert val_steps == expected
    assert facts.eval_every_steps == 2 < spe


def test_lightning_val_check_interval_float_is_a_share_of_the_epoch() -> None:
    """Lightning's val_check_batch: int(batches x f), at least 1; an int is a batch count; nonsense is refused."""
    from benchmarks.corpus.programs.lightning_style_gru import val_check_batches

    assert [val_check_batches(f, 63) for f in (1.0, 0.5, 0.25, 0.01)] == [63, 31, 15, 1]
    assert val_check_batches(7, 63) == 7
    for bad in (0.0, 1.5, 64, True, "0.5"):
        with pytest.raises(ValueError):
            val_check_batches(bad, 63)  # type: ignore[arg-type]


def test_lightning_half_epoch_validation_and_warmup_cosine(tmp_path: Path) -> None:
    """val_check_interval 0.5 validates twice per epoch at Lightning's steps; the warm-up LR rises, then decays."""
    pytest.importorskip("torch")
    _, facts, curves = _train("lightning_style_gru", tmp_path, run="healthy_warmup_cosine_quarter_val",
                              n_train=224, val_check_interval=0.5, warmup_steps=4, log_every_n_steps=1)
    p = "lightning_logs/version_0/"
    spe = facts.steps_per_epoch
    assert spe == 7 and facts.eval_every_steps == 3 and facts.schedule == "warmup_cosine"
    # val_check_batch = int(7 x 0.5) = 3: after batch indices 2 and 5, never the epoch's last (6)
    assert curves[p + "val_loss"][0].tolist() == [2, 5, 9, 12]
    assert curves[p + "val_acc"][0].tolist() == [2, 5, 9, 12]
    assert curves[p + "train_loss_epoch"][0].tolist() == [6, 13]
    steps, lr = curves[p + "lr-Adam"]
    assert steps.tolist() == list(range(2 * spe))  # step-interval scheduler, logged at every logged batch start
    peak = int(np.argmax(lr))
    assert lr[0] == 0.0 and peak == 4 and lr[peak] == pytest.approx(facts.lr_peak)
    assert np.all(np.diff(lr[: peak + 1]) > 0) and np.all(np.diff(lr[peak:]) < 0)
    assert lr[-1] < 0.05 * facts.lr_peak  # the cosine ends near 0 at the run's last step


def test_fairseq_layout_steps_and_base_2_losses(tmp_path: Path) -> None:
    """One writer per split in train_inner/, train/ and valid/, step = updates, losses in bits with ppl = 2 ** loss."""
    pytest.importorskip("torch")
    run_dir, facts, curves = _train("torch_lm_fairseq_style", tmp_path, validate_interval_updates=3)
    assert sorted(p.name for p in run_dir.iterdir()) == ["train", "train_inner", "valid"]
    spe = facts.steps_per_epoch
    assert spe == 4 and facts.log_every_steps == 2 and facts.eval_every_steps == 3
    for tag in ("loss", "ppl", "lr", "gnorm", "wps", "ups", "wpb", "bsz", "train_wall", "wall"):
        assert curves[f"train_inner/{tag}"][0].tolist() == [2, 4, 6, 8], tag
        assert curves[f"train/{tag}"][0].tolist() == [spe, 2 * spe], tag
    assert "train_inner/clip" not in curves and "train_inner/loss_scale" not in curves  # clipping and fp16 are off
    assert curves["valid/loss"][0].tolist() == [3, 4, 6, 8]  # every 3 updates and at each epoch's end
    for split in ("train_inner", "train", "valid"):
        loss, ppl = curves[f"{split}/loss"][1], curves[f"{split}/ppl"][1]
        assert np.allclose(ppl, 2.0**loss, rtol=1e-5)
    assert abs(curves["train_inner/loss"][1][0] - math.log2(40)) < 0.3  # bits: a uniform guess is log2(V)
    assert np.all(curves["train_inner/bsz"][1] == 16) and np.all(curves["train_inner/wpb"][1] == 16 * 32)
    acc = curves["valid/accuracy"][1]
    assert np.all((acc >= 0) & (acc <= 1))
    assert 0 < facts.chance_metric < 0.3 and facts.num_classes == 40
    best = curves["valid/best_loss"][1]
    assert np.allclose(best, np.minimum.accumulate(curves["valid/loss"][1]))


def test_fairseq_fp16_without_overflow_check_turns_nan(tmp_path: Path) -> None:
    """The nonfinite injection must show: a loss scale that keeps doubling overflows the half-precision gradients."""
    pytest.importorskip("torch")
    _, facts, curves = _train("torch_lm_fairseq_style", tmp_path, run="nonfinite_fp16_no_overflow_check",
                              max_epoch=12, fp16_scale_window=2)
    loss = curves["train_inner/loss"][1]
    assert math.isfinite(loss[0]) and np.isnan(loss[-1])
    scale = curves["train_inner/loss_scale"][1]
    assert scale[0] == 128.0 * 2 and np.all(np.diff(scale) > 0)  # never halved: no overflow check
    assert "overflow check off" in facts.injected["fp16"]


def test_detectron_layout_iteration_steps_and_percent_ap(tmp_path: Path) -> None:
    """One event file in the run folder; steps are 0-based iterations (19, 39, ...); AP is in percent, COCO-like."""
    pytest.importorskip("torch")
    from benchmarks.corpus.programs.torch_detectron_style import CLASSES, coco_ap

    run_dir, facts, curves = _train("torch_detectron_style", tmp_path)
    assert [p.name for p in run_dir.iterdir() if p.is_dir()] == [] and len(list(run_dir.glob("*tfevents*"))) == 1
    assert facts.steps_per_epoch == 4 and facts.epochs == 10 and facts.log_every_steps == 5
    assert facts.eval_every_steps == 10 and facts.schedule == "warmup_step_decay" and facts.task == "detection"
    for tag in ("total_loss", "loss_cls", "loss_box_reg", "fast_rcnn/cls_accuracy", "lr", "time", "data_time",
                "eta_seconds"):
        assert curves[tag][0].tolist() == list(range(4, 40, 5)), tag  # (iter + 1) % log_period == 0, step = iter
    for tag in ("bbox/AP", "bbox/AP50", "bbox/AP75", "validation_loss", *(f"bbox/AP-{c}" for c in CLASSES)):
        assert curves[tag][0].tolist() == [9, 19, 29, 39], tag
    assert abs(curves["loss_cls"][1][0] - math.log(3)) < 0.05  # Detectron2's head init: a uniform class first
    lr = curves["lr"][1]
    assert lr[0] < lr[1] == pytest.approx(0.02) and lr[-1] == pytest.approx(0.002)  # warm-up, then x0.1 at 30
    assert curves["eta_seconds"][1][-1] == 0.0
    ap, ap50, ap75 = (curves[f"bbox/{k}"][1] for k in ("AP", "AP50", "AP75"))
    assert np.all((ap >= 0) & (ap <= 100)) and np.all(ap50 >= ap75)
    assert 0 < facts.chance_metric < 5 and facts.metric == "AP" and facts.num_classes == 3
    gt_cls = np.array([0, 1, 2, 0])
    gt_box = np.array([[0.1, 0.1, 0.4, 0.4], [0.5, 0.5, 0.9, 0.9], [0.2, 0.3, 0.6, 0.7], [0.0, 0.0, 0.3, 0.3]])
    perfect = coco_ap(np.eye(3)[gt_cls], gt_box, gt_cls, gt_box)
    assert perfect["AP"] == pytest.approx(100.0) and perfect["AP75"] == pytest.approx(100.0)
    shifted = coco_ap(np.eye(3)[gt_cls], gt_box + 0.05, gt_cls, gt_box)  # IoU ~0.5-0.6: AP50 only
    assert shifted["AP50"] == pytest.approx(100.0) and shifted["AP75"] == 0.0 and 0 < shifted["AP"] < 30


def test_mmengine_layout_inner_interval_steps_and_epoch_axis_metrics(tmp_path: Path) -> None:
    """One event file in <run>/<timestamp>/vis_data/ beside LocalVisBackend's JSON; training tags every `interval`
    batches *of the epoch* at step = global iteration (1-based, the epoch's last 5 batches never logged), the loss a
    window mean, lr its current value; validation metrics in percent at step = epoch, their time in the training tags.
    """
    pytest.importorskip("torch")
    run_dir, facts, curves = _train("torch_mmengine_style", tmp_path)
    (log_dir,) = run_dir.iterdir()
    assert len(log_dir.name) == 15 and log_dir.name[8] == "_"  # %Y%m%d_%H%M%S
    vis = log_dir / "vis_data"
    assert [p.parent for p in run_dir.rglob("*tfevents*")] == [vis]
    assert {p.name for p in vis.iterdir() if "tfevents" not in p.name} == {"config.py", "scalars.json",
                                                                           f"{log_dir.name}.json"}
    p = f"{log_dir.name}/vis_data/"
    assert facts.steps_per_epoch == 25 and facts.log_every_steps == 10 and facts.epochs == 2
    assert facts.tags["val_metric"] == p + "accuracy/top1" and facts.steps["val_metric"] == "epoch"
    assert "val_loss" not in facts.tags and facts.chance_metric == 10.0
    train_steps = [10, 20, 35, 45]  # (batch_idx + 1) % 10 == 0 within each 25-batch epoch, ignore_last
    for tag in ("loss", "lr", "iter", "epoch", "memory"):
        assert curves[p + tag][0].tolist() == train_steps, tag
    assert curves[p + "iter"][1].tolist() == train_steps and curves[p + "epoch"][1].tolist() == [1, 1, 2, 2]
    assert np.allclose(curves[p + "lr"][1], [0.02, 0.02, 0.002, 0.002])  # current LR, x0.1 at epoch 1
    assert abs(curves[p + "loss"][1][0] - math.log(10)) < 0.1  # the mean of the first 10 iterations: ~ln 10
    for tag in ("accuracy/top1", "accuracy/top5"):
        assert curves[p + tag][0].tolist() == [1, 2], tag  # step = epoch, not iteration
    top1, top5 = curves[p + "accuracy/top1"][1], curves[p + "accuracy/top5"][1]
    assert np.all(top5 >= top1) and np.all((top1 >= 0) & (top1 <= 100))
    assert np.allclose(top1 * 50 / 100, np.round(top1 * 50 / 100), atol=1e-4)  # percent of 50 images
    for tag in ("time", "data_time"):
        assert curves[p + tag][0].tolist() == [1, 2, *train_steps], tag  # validation's time at its epoch steps
    lines = [json.loads(x) for x in (vis / "scalars.json").read_text().splitlines()]
    assert [x["step"] for x in lines] == [10, 20, 1, 35, 45, 2]
    assert list(lines[0]) == ["lr", "data_time", "loss", "time", "epoch", "iter", "memory", "step"]
    assert list(lines[2]) == ["accuracy/top1", "accuracy/top5", "data_time", "time", "step"]
    assert "config" in _text_tags(vis)


def _text_tags(folder: Path) -> list[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return [t.split("/")[0] for t in acc.Tags().get("tensors", [])]


def test_mmengine_schedules_in_closed_form() -> None:
    """LinearLR by iteration reaches the base LR at its last warm-up iteration (total_iters = end - begin - 1); the
    epoch-based cosine starts where the warm-up ends; ExponentialLR multiplies once per epoch."""
    from benchmarks.corpus.programs.torch_mmengine_style import DEFAULTS, lr_at

    cfg = {**DEFAULTS, "lr": 1.0, "warmup_epochs": 2, "scheduler": "cosine", "eta_min": 0.0, "max_epochs": 6}
    spe = 5
    assert lr_at(cfg, 0, spe) == pytest.approx(1e-3) and lr_at(cfg, 9, spe) == pytest.approx(1.0)
    assert all(lr_at(cfg, i, spe) < lr_at(cfg, i + 1, spe) for i in range(9))
    assert lr_at(cfg, 10, spe) == pytest.approx(1.0)  # cosine epoch 0 (begin = 2)
    assert lr_at(cfg, 15, spe) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    exp = {**DEFAULTS, "lr": 1.0, "scheduler": "exponential", "gamma": 1.3}
    assert [lr_at(exp, i, spe) for i in (0, 4, 5, 10)] == pytest.approx([1.0, 1.0, 1.3, 1.69])


def test_flax_clu_layout_steps_and_tensor_summaries(tmp_path: Path) -> None:
    """CLU's SummaryWriter: one v2 event file in the run folder, TF2 tensor summaries, imagenet's (step + 1) steps.

    Training means over each log_every_steps window, the LR included (``train_learning_rate``), plus
    ``steps_per_second``; ``eval_*`` once per epoch at the same step axis, in the same file.
    """
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from benchmarks.corpus.programs.flax_clu_style import DEFAULTS, lr_at

    run_dir, facts, curves = _train("flax_clu_style", tmp_path)
    assert [p for p in run_dir.iterdir() if p.is_dir()] == []
    (events,) = run_dir.glob("events.out.tfevents.*")
    assert events.name.endswith(".v2")
    acc = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    acc.Reload()
    assert acc.Tags()["scalars"] == [] and "train_loss" in acc.Tags()["tensors"]  # tf.summary.scalar: tensors
    assert facts.steps_per_epoch == 8 and facts.log_every_steps == 4 and facts.eval_every_steps == 8
    for tag in ("train_loss", "train_accuracy", "train_learning_rate", "steps_per_second"):
        assert curves[tag][0].tolist() == [4, 8, 12, 16], tag
    for tag in ("eval_loss", "eval_accuracy"):
        assert curves[tag][0].tolist() == [8, 16], tag
    assert "steps_per_sec" not in curves and "uptime" not in curves  # imagenet has no ReportProgress hook
    cfg = {**DEFAULTS, **TINY["flax_clu_style"][1]}
    window = np.mean([lr_at(cfg, s, 16) for s in range(4)])
    assert curves["train_learning_rate"][1][0] == pytest.approx(window, rel=1e-5)  # the window's mean LR
    assert lr_at(cfg, 0, 16) == 0.0  # optax.linear_schedule from 0
    assert abs(curves["train_loss"][1][0] - math.log(4)) < 0.3
    assert facts.tags["lr"] == "train_learning_rate" and facts.tags["val_loss"] == "eval_loss"


def test_flax_clu_wmt_loop_writes_train_with_eval_at_zero_based_steps(tmp_path: Path) -> None:
    """wmt/lm1b: training means written only with the evaluation, at step % eval_every == 0 or the last step."""
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    _, facts, curves = _train("flax_clu_style", tmp_path, run="healthy_wmt_rsqrt_loop", eval_every_steps=5,
                              progress_every_steps=6)
    for tag in ("train_loss", "train_accuracy", "train_learning_rate", "eval_loss", "eval_accuracy"):
        assert curves[tag][0].tolist() == [0, 5, 10, 15], tag  # 16 steps: 0, 5, 10 and the last (15)
    assert curves["steps_per_sec"][0].tolist() == [6, 12] and curves["uptime"][0].tolist() == [6, 12]
    assert "steps_per_second" not in curves
    assert facts.log_every_steps == facts.eval_every_steps == 5 and facts.schedule == "inverse_sqrt"


def test_flax_clu_half_precision_naive_loss_turns_nan_once_a_probability_underflows() -> None:
    """The nonfinite injection: float16 softmax underflows at a logit gap of ~17, and 0 * log(0) is NaN."""
    pytest.importorskip("torch")
    import torch

    from benchmarks.corpus.programs.flax_clu_style import DEFAULTS, _loss

    cfg = {**DEFAULTS, "loss": "naive_half"}
    y = torch.tensor([0, 1])
    mild = torch.tensor([[5.0, 0.0, 0.0, 0.0], [0.0, 5.0, 0.0, 0.0]])
    assert math.isfinite(float(_loss(cfg, mild, y)))
    assert math.isnan(float(_loss(cfg, mild * 4, y)))  # a gap of 20
    assert math.isfinite(float(_loss(DEFAULTS, mild * 4, y)))  # optax-style cross-entropy stays finite


def test_ignite_iteration_and_epoch_axes_in_one_event_file(tmp_path: Path) -> None:
    """Ignite's TensorboardLogger: one event file in the log dir; the trainer's OutputHandler at the 1-based
    iteration (every N), the evaluators' at the trainer's *epoch* (global_step_from_engine), lr/group_0 at the
    iteration, the LR a scheduler set at ITERATION_STARTED."""
    pytest.importorskip("torch")
    pytest.importorskip("tensorboardX")
    run_dir, facts, curves = _train("torch_ignite_style", tmp_path)
    assert [p.name.startswith("events.out.tfevents.") for p in run_dir.iterdir()] == [True]
    assert set(curves) == {"training/batchloss", "training/loss", "training/accuracy", "validation/loss",
                           "validation/accuracy", "lr/group_0"}
    assert facts.steps_per_epoch == 7 and facts.log_every_steps == 2 and facts.eval_every_steps == 7
    assert curves["training/batchloss"][0].tolist() == [2, 4, 6, 8, 10, 12, 14]  # iteration % 2 == 0
    assert abs(curves["training/batchloss"][1][0] - math.log(6)) < 0.15  # a raw batch loss near ln 6
    for tag in ("training/loss", "training/accuracy", "validation/loss", "validation/accuracy"):
        assert curves[tag][0].tolist() == [1, 2], tag  # the trainer's epoch, not its iteration
    steps, lr = curves["lr/group_0"]
    assert steps.tolist() == [2, 4, 6, 8, 10, 12, 14] and np.allclose(lr, [0.02] * 3 + [0.002] * 4)
    assert facts.steps == {"batch_loss": "step", "train_loss": "epoch", "train_metric": "epoch", "val_loss": "epoch",
                           "val_metric": "epoch", "lr": "step"}


def test_ignite_common_setup_running_average_and_completed_validation(tmp_path: Path) -> None:
    """cifar10's setup_tb_logging: tensorboardX cleans "training/batch loss" to training/batch_loss (an EMA, alpha
    0.98); PiecewiseLinear starts at LR 0; validation on EPOCH_COMPLETED(every=3) | COMPLETED writes epoch 3 twice."""
    pytest.importorskip("torch")
    pytest.importorskip("tensorboardX")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir, facts, curves = _train("torch_ignite_style", tmp_path, run="healthy_cifar10_warmup_piecewise",
                                    n_train=200, n_val=50, epochs=3, log_every=2, warmup_epochs=1)
    assert facts.steps_per_epoch == 6  # drop_last=True
    assert facts.tags["batch_loss"] == "training/batch_loss" and "training/batch loss" not in curves
    assert set(curves) == {"training/batch_loss", "training/Loss", "training/Accuracy", "test/Loss", "test/Accuracy",
                           "lr/group_0"}
    steps, lr = curves["lr/group_0"]
    assert steps.tolist() == list(range(2, 19, 2)) and lr[0] == pytest.approx(0.1 / 6)  # event index 1 of 6
    ema = curves["training/batch_loss"][1]
    assert np.all(np.abs(np.diff(ema)) < 0.05)  # 2% of each new batch loss: a smooth curve
    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    assert [e.step for e in acc.Scalars("test/Loss")] == [3, 3]  # epoch 3 and COMPLETED
    assert curves["test/Loss"][0].tolist() == [3]


def test_ignite_collide_and_iteration_validation_steps(tmp_path: Path) -> None:
    """The docstring's trainer handler with the MNIST metric names: training/loss holds iteration and epoch steps;
    a global_step_transform returning trainer.state.iteration puts the evaluators on the iteration axis."""
    pytest.importorskip("torch")
    pytest.importorskip("tensorboardX")
    _, facts, curves = _train("torch_ignite_style", tmp_path / "a", run="healthy_plateau_scheduler_collide",
                              n_train=200, n_val=50, epochs=3, log_every=2)
    assert curves["training/loss"][0].tolist() == [1, 2, 3, *range(4, 22, 2)]  # epochs 1..3 among iterations
    assert curves["training/accuracy"][0].tolist() == [1, 2, 3]
    assert facts.tags["train_loss"] == facts.tags["batch_loss"] == "training/loss"
    assert "tag_collision" in facts.injected
    _, facts, curves = _train("torch_ignite_style", tmp_path / "b", run="lr_small_adam_iteration_eval",
                              n_train=200, n_val=50, epochs=2, log_every=2, eval_every_iters=5)
    for tag in ("training/loss", "validation/loss", "validation/accuracy"):
        assert curves[tag][0].tolist() == [5, 10], tag
    assert facts.steps["val_loss"] == facts.steps["train_loss"] == "step" and facts.eval_every_steps == 5


def test_ultralytics_epoch_steps_lr_groups_and_final_eval(tmp_path: Path) -> None:
    """Ultralytics' TensorBoard callback: one event file in the run folder, every tag at step epoch + 1; during the
    (>= 100-iteration) warm-up lr/pg0 (the bias group) falls from warmup_bias_lr while pg1 and pg2 rise from 0;
    final_eval writes best.pt's metrics a second time at the last epoch's step, without validation losses; losses
    rounded to 5 decimals like label_loss_items."""
    pytest.importorskip("torch")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from benchmarks.corpus.programs.torch_ultralytics_style import METRIC_KEYS, det_metrics

    run_dir, facts, curves = _train("torch_ultralytics_style", tmp_path)
    assert [p for p in run_dir.iterdir() if p.is_dir()] == [] and len(list(run_dir.glob("*tfevents*"))) == 1
    losses = [f"{split}/{k}" for split in ("train", "val") for k in ("box_loss", "cls_loss", "dfl_loss")]
    for tag in (*losses, "lr/pg0", "lr/pg1", "lr/pg2", *METRIC_KEYS):
        assert curves[tag][0].tolist() == [1, 2, 3], tag
    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    assert [e.step for e in acc.Scalars("metrics/mAP50-95(B)")] == [1, 2, 3, 3]  # + final_eval of best.pt
    assert [e.step for e in acc.Scalars("val/box_loss")] == [1, 2, 3]
    pg0, pg1, pg2 = (curves[f"lr/pg{i}"][1] for i in range(3))
    lf = [(1 - e / 3) * 0.99 + 0.01 for e in range(3)]  # linear to lrf 0.01 over 3 epochs
    ni = [2 * e + 1 for e in range(3)]  # 2 batches an epoch; the last batch's LR is logged; nw = 100
    assert pg0 == pytest.approx([0.1 + (0.01 * f - 0.1) * n / 100 for f, n in zip(lf, ni, strict=True)])
    assert pg1 == pytest.approx([0.01 * f * n / 100 for f, n in zip(lf, ni, strict=True)]) and np.allclose(pg1, pg2)
    box = curves["train/box_loss"][1]
    assert np.allclose(box, np.round(box, 5)) and 5 < box[0] < 8  # uniform DFL bins decode to huge boxes
    assert np.all((curves["metrics/mAP50-95(B)"][1] >= 0) & (curves["metrics/mAP50(B)"][1] <= 1))
    assert facts.tags == {"train_loss": "train/box_loss", "val_loss": "val/box_loss",
                          "val_metric": "metrics/mAP50-95(B)", "lr": "lr/pg1"}
    assert set(facts.steps.values()) == {"epoch"} and facts.steps_per_epoch == 2 and facts.epochs == 3
    assert 0 <= facts.chance_metric < 0.05 and facts.schedule == "warmup_linear_decay"
    gt_cls = np.array([0, 1, 2, 0])
    gt_box = np.array([[1, 1, 9, 9], [10, 10, 20, 20], [4, 6, 12, 16], [20, 2, 30, 12]], np.float32)
    perfect = det_metrics(np.eye(3)[gt_cls][:, None], gt_box[:, None], gt_cls, gt_box)
    # Ultralytics' 101-point interpolation ends on (recall 1, precision 0): a perfect mAP reads 0.995
    assert perfect == pytest.approx(dict(zip(METRIC_KEYS, (1.0, 1.0, 0.995, 0.995), strict=True)))
    shifted = det_metrics(np.eye(3)[gt_cls][:, None], gt_box[:, None] + 1.0, gt_cls, gt_box)  # IoU 0.6-0.7
    assert shifted["metrics/mAP50(B)"] == pytest.approx(0.995) and 0 < shifted["metrics/mAP50-95(B)"] < 0.7


def test_ultralytics_optimizer_auto_and_early_stopping(tmp_path: Path) -> None:
    """optimizer=auto on a small data set is AdamW at 0.002 * 5 / (4 + nc) with warmup_bias_lr 0 (all groups alike);
    EarlyStopping ends the run `patience` epochs after the best fitness, and the facts say so."""
    pytest.importorskip("torch")
    from benchmarks.corpus.programs.torch_ultralytics_style import DEFAULTS, _optimizer_settings

    assert _optimizer_settings({**DEFAULTS, "optimizer": "auto"}) == ("AdamW", 0.001429, 0.9, 0.0)
    assert _optimizer_settings(DEFAULTS) == ("SGD", 0.01, 0.937, 0.1)
    _, facts, curves = _train("torch_ultralytics_style", tmp_path, run="healthy_auto_adamw", epochs=2)
    assert np.allclose(curves["lr/pg0"][1], curves["lr/pg1"][1]) and facts.injected["optimizer"].startswith("AdamW")
    _, facts, curves = _train("torch_ultralytics_style", tmp_path / "b", run="healthy_early_stop_patience",
                              epochs=40, patience=2)
    assert facts.epochs < 40 and "stopped_early" in facts.injected
    assert curves["train/box_loss"][0].tolist() == list(range(1, facts.epochs + 1))


def test_training_is_deterministic(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    _, _, first = _train("torch_ranking", tmp_path / "a")
    _, _, second = _train("torch_ranking", tmp_path / "b")
    assert first.keys() == second.keys()
    for tag in first:
        assert np.array_equal(first[tag][1], second[tag][1]), tag


def test_ranking_late_shard_nan_reaches_the_curves(tmp_path: Path) -> None:
    """The nonfinite injection must show: finite before the shard joins, NaN after."""
    pytest.importorskip("torch")
    _, facts, curves = _train("torch_ranking", tmp_path, run="nonfinite_late_shard_nan", late_shard_epoch=1,
                              late_shard_queries=8, n_train=16, epochs=3)
    values = curves["valid/loss"][1]
    assert math.isfinite(values[0]) and np.isnan(values[-1])
    assert facts.injected["late_shard_nan"] is True


def test_runspec_roundtrip_stays_plain_data() -> None:
    """Specs are fingerprinted as JSON: params must stay JSON-serialisable (no tuples, numpy types or callables)."""
    for name in PROGRAMS:
        for spec in importlib.import_module(f"benchmarks.corpus.programs.{name}").PROGRAM.runs():
            assert isinstance(spec, RunSpec)
            assert json.loads(json.dumps(spec.params)) == spec.params, spec.run_id
