"""torch_ultralytics_style: a tiny anchor-free detector (a YOLOv8-like head: DFL box distributions and class logits
on an 8x8 grid) on synthetic one-shape images, trained by a loop that copies Ultralytics' ``BaseTrainer`` (YOLOv8 /
YOLO11, ``ultralytics`` 8.1-8.3) and logs the way its TensorBoard callback does.

Why it exists: an Ultralytics run is the most common detector run a user brings, and its TensorBoard layout is its
own. Everything is per *epoch*, at step = epoch + 1 (1-based), in one event file written by
``torch.utils.tensorboard.SummaryWriter(save_dir)`` directly in the run folder (``runs/detect/train/``):
``train/box_loss``, ``train/cls_loss``, ``train/dfl_loss`` (each the mean of the epoch's batch loss items, rounded
to 5 decimals) and ``lr/pg0``, ``lr/pg1``, ``lr/pg2`` (the three parameter groups' LR after the epoch's last batch)
at the end of the training epoch; then ``metrics/precision(B)``, ``metrics/recall(B)``, ``metrics/mAP50(B)``,
``metrics/mAP50-95(B)`` (fractions 0-1) and ``val/box_loss``, ``val/cls_loss``, ``val/dfl_loss`` after validation;
and once more, at the *same* step as the last epoch, the four ``metrics/...(B)`` of ``best.pt`` re-validated by
``final_eval`` (no validation losses: that validator is not in training mode). TensorBoard (and this corpus'
reader) shows the last value written at a step, so the last point of every mAP curve is the best checkpoint's, not
the last epoch's. The loss items carry Ultralytics' gains (box 7.5 x (1 - CIoU), cls 0.5 x BCE, dfl 1.5 x DFL),
so a from-scratch box_loss starts near 7.3 (the head's initial uniform DFL bins decode to huge boxes) whatever the
data, and a healthy one ends near 1-2. The LR groups differ only during warm-up: pg0 (biases) falls from
``warmup_bias_lr`` 0.1 while pg1 (weights with decay) and pg2 (norm weights) rise from 0, over
max(3 epochs, 100 iterations) -- five epochs here (20 batches an epoch) -- then all three follow
``lr0 * lf(epoch)``, linear to ``lrf`` = 0.01 (or cosine with ``cos_lr``). Mosaic augmentation is on until
``close_mosaic`` (10) epochs before the end: the training losses step down then (fewer, larger, uncut objects),
an alarming-looking but healthy change, and validation losses sit below training ones all along (validation images
are single, unaugmented objects).

Verified in Ultralytics' source (``ultralytics/ultralytics``, read from the code index; the 8.1/8.2 files at commit
06cba21, the current ones, and 8.3-era copies of ``trainer.py``):

- ``ultralytics/utils/callbacks/tensorboard.py``: ``on_pretrain_routine_start`` makes
  ``SummaryWriter(str(trainer.save_dir))``; ``on_train_epoch_end`` writes
  ``trainer.label_loss_items(trainer.tloss, prefix="train")`` and ``trainer.lr`` at ``trainer.epoch + 1``;
  ``on_fit_epoch_end`` writes ``trainer.metrics`` at ``trainer.epoch + 1``. The LR is written at the end of the
  training epoch, with the training losses, not with the metrics. (``on_train_start`` also adds the model graph:
  not reproduced, no scalars. The 8.0.x callback wrote the running training losses at every batch, all at step
  epoch + 1: not modelled.)
- ``ultralytics/engine/trainer.py``: ``self.lr = {f"lr/pg{ir}": x["lr"] ...}`` after the batch loop;
  ``tloss = (tloss * i + loss_items) / (i + 1)``; warm-up ``nw = max(round(warmup_epochs * nb), 100)`` iterations,
  ``if ni <= nw``: ``np.interp(ni, [0, nw], [warmup_bias_lr if j == 0 else 0.0, initial_lr * lf(epoch)])`` per
  group, momentum 0.8 -> 0.937, ``accumulate`` 1 -> nbs / batch; ``accumulate = max(round(nbs / batch), 1)``,
  weight decay scaled by batch * accumulate / nbs; ``optimizer_step`` clips the gradient norm at 10 and updates the
  EMA; ``_setup_scheduler``: ``LambdaLR`` with ``max(1 - x / epochs, 0) * (1 - lrf) + lrf`` or ``one_cycle(1, lrf,
  epochs)``, stepped at the start of each epoch from ``last_epoch = start_epoch - 1`` (8.3; 8.1 stepped after the
  epoch); ``build_optimizer``: biases first (``optim.SGD(g[2], nesterov=True)``), then weights with decay, then norm
  weights, so pg0 is the bias group in v8 / YOLO11 (the newest trainer orders them weight, bn, bias); ``optimizer=
  auto`` takes AdamW at ``round(0.002 * 5 / (4 + nc), 6)`` with ``warmup_bias_lr = 0`` when ``ceil(n / max(batch,
  nbs)) * epochs <= 10000`` (every small data set); validation every epoch (``args.val``), then ``save_metrics``,
  ``self.stop |= self.stopper(epoch + 1, self.fitness) or final_epoch``, ``save_model`` (best.pt when
  ``best_fitness == fitness``), ``on_fit_epoch_end``; close mosaic ``if epoch == (self.epochs -
  self.args.close_mosaic)`` (so never when early stopping comes first or epochs < close_mosaic); ``final_eval``
  validates best.pt with ``self.validator(model=f)``, pops ``fitness`` and runs ``on_fit_epoch_end`` again without
  changing ``self.epoch`` (the newest trainer adds ``self.epoch += 1`` to log it at epochs + 1: not modelled);
  ``_handle_nan_recovery`` (reload last.pt up to 3 times) arrived in 8.3.213 (PR #22352, Oct 2025): not modelled, a
  NaN goes through as in the YOLO11 releases before it.
- ``ultralytics/models/yolo/detect/train.py``: ``loss_names = "box_loss", "cls_loss", "dfl_loss"``;
  ``label_loss_items`` rounds to 5 decimals. ``ultralytics/engine/validator.py``: in training, results are the
  metrics plus ``label_loss_items(self.loss / len(self.dataloader), prefix="val")`` (the mean of the validation
  batches' loss items, batch 2 x batch, on the EMA), rounded to 5 decimals; otherwise the metrics only.
- ``ultralytics/utils/metrics.py``: ``DetMetrics.keys`` = ``metrics/precision(B)``, ``metrics/recall(B)``,
  ``metrics/mAP50(B)``, ``metrics/mAP50-95(B)``; ``Metric.fitness`` weights [0, 0, 0.1, 0.9]; ``ap_per_class``
  (P and R at the confidence of the best smoothed mean F1, 101-point interpolated AP). ``ultralytics/utils/
  torch_utils.py``: ``EarlyStopping`` (``fitness >= best_fitness`` resets, stop after ``patience`` epochs without),
  ``ModelEMA`` (decay 0.9999 (1 - exp(-updates / 2000))). ``ultralytics/utils/loss.py``: ``v8DetectionLoss`` items
  x box / cls / dfl gains, normalised by the target-score sum, ``return loss.sum() * batch_size, loss.detach()``.
- ``ultralytics/cfg/default.yaml``: epochs 100, patience 100, batch 16, lr0 0.01, lrf 0.01, momentum 0.937,
  weight_decay 5e-4, warmup_epochs 3.0, warmup_momentum 0.8, warmup_bias_lr 0.1, box 7.5, cls 0.5, dfl 1.5, nbs 64,
  close_mosaic 10, mosaic 1.0, scale 0.5, translate 0.1, fliplr 0.5, hsv_v 0.4, cos_lr False.

Simplified here: a 3-conv backbone (Conv-BN-SiLU, stride 4) and a two-branch Detect head (16 DFL bins, Ultralytics'
bias init); one positive anchor per object (its centre cell) with a one-hot target score instead of the
TaskAlignedAssigner; Mosaic as 4 images around a random centre of a 2x canvas, then RandomPerspective with scale and
translate only, the value gain of RandomHSV and the left-right flip; "NMS" as the best anchor per image and class
(one-object images); no AMP (CPU). best.pt is kept in half precision, as saved.

Data: 32x32 grey images, one object each: a filled square, disc or upward triangle (3 classes) of 6-14 pixels, 0.5-1.0
brighter than a background of 0-0.3, pixel noise 0.25; 320 training and 160 validation images (the run's seed draws
them). ``chance_metric`` is the mAP50-95 of the image-centre box of the mean validation box size with uniformly
random class scores. Facts name ``train/box_loss`` and ``val/box_loss`` as the losses (the localisation loss is what
a YOLO user reads first, and cls_loss's normalisation by the object count jumps when mosaic closes),
``metrics/mAP50-95(B)`` (the fitness' main term) as the metric and ``lr/pg1`` (the weights' group, the one that
follows lr0; pg0 is the bias group) as the LR, all on the epoch axis.

Runs (intent: how it is produced; numbers from the seeds below):

=================================  ========================  =====================================================
run                                intent                    how
=================================  ========================  =====================================================
healthy_sgd_linear_close_mosaic    healthy                   default.yaml: SGD lr0 0.01 linear to lrf 0.01 over 40
                                                             epochs, warm-up 100 iterations (5 epochs), mosaic off
                                                             for the last 10: train box 6.9 -> 1.6 with a step down
                                                             at epoch 31, val box 3.9 -> 1.1 below it throughout,
                                                             mAP50-95 0.67
healthy_auto_adamw                 healthy                   optimizer=auto: AdamW at 0.001429, warmup_bias_lr 0
                                                             (the three lr/pg* alike); box ~7.3 for 6 epochs, mAP
                                                             0.25
healthy_cos_lr                     healthy                   cos_lr, 50 epochs: mAP 0.71
healthy_tiny_val                   healthy                   24 validation images: mAP moves in steps
healthy_early_stop_patience        healthy                   epochs 150, patience 5: EarlyStopping after 47, the LR
                                                             still at 0.7 lr0, mosaic never closed
healthy_finetune_pretrained        healthy                   starts from a checkpoint (15 unlogged epochs on another
                                                             draw, as from yolov8n.pt), 30 epochs: box 2.3 -> 1.5,
                                                             mAP 0.47 -> 0.68
overfit_32_images_no_aug           overfitting               32 images, width 32, pixel noise 0.35, no augmentation
                                                             or weight decay, constant LR, no warm-up, 100 epochs:
                                                             val box best 2.70 at epoch 32, 3.37 at the end, train
                                                             0.8 (4 batches of 8, accumulate 8: the optimizer steps
                                                             every other epoch, values come in pairs)
lr_high_sgd_lr0_0p3                lr_too_high               lr0 0.3: train box stalls at ~4.2-4.5 while the LR is
                                                             high and falls as it decays; mAP 0.21
diverge_lrf_300_cos_ramp           divergence                lr0 0.005, lrf 300 with cos_lr (lrf read as a factor up:
                                                             LR 1.5 at the end), no mosaic: train box 2.7 at epoch 7
                                                             climbs back to 4.6-5.5 (1 - CIoU saturates), mAP falls
                                                             to 0, the final point jumps back to best.pt's 0.25
nonfinite_log_ltrb_raw_head        nonfinite                 a hand-edited head (reg_max 1: raw ltrb distances, no
                                                             DFL, dfl_loss 0) and a box loss + squared log(predicted
                                                             / target distance), targets clamped at 0.65, no bias
                                                             warm-up: a predicted distance <= 0 in epoch 4, NaN from
                                                             there (mAP 0; final point best.pt's 0.13)
lr_small_sgd_lr0_1e-4              lr_too_small              lr0 1e-4, no warm-up: the box loss sits at its huge-box
                                                             start (7.39) for 15 epochs and ends at 6.5, mAP 0.01
no_learning_shuffled_labels        no_learning               training annotations (class and box) joined to the
                                                             images in another order: train box 6.2 -> 3.4 (the box
                                                             prior), val box ~3 throughout, mAP 0.07
plateau_width4_constant_lr         plateau                   width 4, lrf 1 (constant after warm-up), mosaic kept
                                                             (close_mosaic 0), 60 epochs: flat from ~epoch 40
val_plateau_64_images_no_aug       val_plateau               64 images, no augmentation or weight decay, constant
                                                             LR, 80 epochs: val box ~2.1 over the last 40 epochs
                                                             while train falls to 0.6
lr_decay_too_early_sched_6_epochs  lr_decay_too_early        a hand-edited _setup_scheduler decaying over 6 epochs,
                                                             not 40: lr0 x lrf from epoch 7, train box flat at ~2.7
                                                             until mosaic closes
underfit_width1                    underfitting              width 1, mosaic kept: train box levels at ~3.7, mAP
                                                             0.12
still_learning_10_epochs           still_learning            10 epochs: 10 - close_mosaic = 0, so mosaic is closed
                                                             from epoch 0; val box still -6% over the last third
spikes_corrupt_shard_epoch34       loss_spikes               epoch 34 (0-based) reads every image with another
                                                             image's annotations (a shard with a wrong index): train
                                                             box 1.66 -> 5.04 -> 1.83
noisy_batch2_val6_finetune         noisy                     from a checkpoint, batch 2 (accumulate 32), 96 images,
                                                             6 validation images, mosaic kept: jagged curves
data_problem_val_label_order       data_problem              validation label files matched to the images in another
                                                             order (a fixed permutation): val box best 3.45 at epoch
                                                             2, ~5 after; mAP 0.017 while training fits
val_better_extra_aug               val_better_than_train     heavier training augmentation (pixel noise 0.25, a
                                                             cutout on each object): val box ~25% below train
mismatch_40_images_no_aug          best_checkpoint_mismatch  40 images, width 32, pixel noise 0.35, no augmentation
                                                             or weight decay, no warm-up, 80 epochs: val box best at
                                                             epoch 50, mAP best at 55, both nearly flat after 30
=================================  ========================  =====================================================

Every run's ``params`` may be overridden (e.g. ``epochs``) to scale it down for a test.
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._torch import seed_everything
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "torch_ultralytics_style"
CLASSES = ("square", "disc", "triangle")
STRIDE = 4
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
CONF = 0.001  # the validator's default conf for val
LOSS_NAMES = ("box_loss", "cls_loss", "dfl_loss")  # DetectionTrainer.loss_names
METRIC_KEYS = ("metrics/precision(B)", "metrics/recall(B)", "metrics/mAP50(B)", "metrics/mAP50-95(B)")

DEFAULTS: dict[str, Any] = {
    # data (synthetic: one object per image, 3 classes)
    "imgsz": 32,
    "min_size": 6,
    "max_size": 14,
    "noise": 0.25,  # pixel noise sd (objects are 0.5-1.0 brighter than the background)
    "n_train": 320,
    "n_val": 160,
    # augmentation (Ultralytics' hyperparameter names)
    "mosaic": 1.0,  # probability of a 2x2 mosaic (four images at half size, four objects)
    "close_mosaic": 10,  # mosaic off from epoch (epochs - close_mosaic), 0-based: the last N epochs
    "fliplr": 0.5,
    "hsv_v": 0.4,  # brightness gain 1 +- hsv_v
    "scale": 0.5,  # RandomPerspective gain 1 +- scale
    "translate": 0.1,
    "extra_aug": False,  # heavier training augmentation: pixel noise 0.25 and a background-level cutout per object
    # model
    "width": 8,
    "reg_max": 16,  # DFL bins; 1 = raw ltrb distances, no DFL (dfl_loss logged as 0)
    "pretrained_epochs": 0,  # pretrained=<weights>.pt stand-in: this many unlogged epochs on another draw first
    # default.yaml hyperparameters
    "epochs": 40,
    "patience": 100,
    "batch": 16,
    "optimizer": "SGD",  # SGD | AdamW | auto (AdamW at lr 0.002 * 5 / (4 + nc), warmup_bias_lr 0, if few iterations)
    "lr0": 0.01,
    "lrf": 0.01,
    "momentum": 0.937,
    "weight_decay": 5e-4,
    "warmup_epochs": 3.0,
    "warmup_momentum": 0.8,
    "warmup_bias_lr": 0.1,
    "box": 7.5,
    "cls": 0.5,
    "dfl": 1.5,
    "nbs": 64,
    "cos_lr": False,
    # injected faults
    "sched_epochs": None,  # a hand-edited _setup_scheduler whose lambda decays over this many epochs, not `epochs`
    "box_loss": "ciou",  # ciou | log_ltrb (+ smooth-L1 of log predicted vs log target ltrb distances, by hand)
    "log_floor": 0.65,  # box_loss log_ltrb: target distances clamped to this (stride units) before the log
    "box_jitter": 0.0,  # sloppy training annotations: each box coordinate moved by up to this many pixels
    "shuffle_labels": False,  # training annotations (class and box) joined to the images in another order
    "val_label_perm": False,  # validation label files joined to the images in another order (a fixed permutation)
    "corrupt_epochs": [],  # epochs (0-based) read from a corrupted shard: every image carries another's annotation
}


def _r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
    return RunSpec(program=NAME, name=name, intent=intent, params=params, seed=seed)


def runs() -> list[RunSpec]:
    no_aug = {"mosaic": 0.0, "scale": 0.0, "translate": 0.0, "fliplr": 0.0, "hsv_v": 0.0, "weight_decay": 0.0}
    return [
        _r("healthy_sgd_linear_close_mosaic", "healthy", 1),
        _r("healthy_auto_adamw", "healthy", 2, optimizer="auto"),
        _r("healthy_cos_lr", "healthy", 3, cos_lr=True, epochs=50),
        _r("healthy_tiny_val", "healthy", 4, n_val=24),
        _r("healthy_early_stop_patience", "healthy", 5, epochs=150, patience=5),
        _r("healthy_finetune_pretrained", "healthy", 24, pretrained_epochs=15, epochs=30),
        _r("overfit_32_images_no_aug", "overfitting", 6, n_train=32, width=32, batch=8, noise=0.35, epochs=100,
           lrf=1.0, warmup_epochs=0.0, **no_aug),
        _r("lr_high_sgd_lr0_0p3", "lr_too_high", 7, lr0=0.3),
        _r("diverge_lrf_300_cos_ramp", "divergence", 8, lr0=0.005, lrf=300.0, cos_lr=True, mosaic=0.0),
        _r("nonfinite_log_ltrb_raw_head", "nonfinite", 9, reg_max=1, box_loss="log_ltrb", log_floor=0.65,
           warmup_bias_lr=0.0),
        _r("lr_small_sgd_lr0_1e-4", "lr_too_small", 10, lr0=0.0001, warmup_bias_lr=0.0, warmup_epochs=0.0),
        _r("no_learning_shuffled_labels", "no_learning", 11, shuffle_labels=True),
        _r("plateau_width4_constant_lr", "plateau", 12, width=4, epochs=60, close_mosaic=0, lrf=1.0),
        _r("val_plateau_64_images_no_aug", "val_plateau", 20, n_train=64, width=16, epochs=80, lrf=1.0, **no_aug),
        _r("lr_decay_too_early_sched_6_epochs", "lr_decay_too_early", 13, sched_epochs=6),
        _r("underfit_width1", "underfitting", 14, width=1, close_mosaic=0),
        _r("still_learning_10_epochs", "still_learning", 15, epochs=10),
        _r("spikes_corrupt_shard_epoch34", "loss_spikes", 16, corrupt_epochs=[34]),
        _r("noisy_batch2_val6_finetune", "noisy", 17, batch=2, n_train=96, n_val=6, epochs=30, pretrained_epochs=15,
           close_mosaic=0),
        _r("data_problem_val_label_order", "data_problem", 18, val_label_perm=True),
        _r("val_better_extra_aug", "val_better_than_train", 19, extra_aug=True),
        _r("mismatch_40_images_no_aug", "best_checkpoint_mismatch", 20, n_train=40, width=32, batch=8, noise=0.35,
           epochs=80, warmup_epochs=0.0, **no_aug),
    ]


# --------------------------------------------------------------------------- data


def _render(rng: np.random.Generator, n: int, cfg: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n grey images with one shape each: (images, classes, boxes x0 y0 x1 y1 in pixels)."""
    size = cfg["imgsz"]
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    x = np.empty((n, size, size), np.float32)
    y = rng.integers(0, len(CLASSES), n)
    b = np.empty((n, 4), np.float32)
    for i in range(n):
        s = int(rng.integers(cfg["min_size"], cfg["max_size"] + 1))
        x0, y0 = (int(v) for v in rng.integers(0, size - s + 1, 2))
        u, v = (xx - x0) / s, (yy - y0) / s  # 0..1 inside the shape's box
        inside = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
        if y[i] == 1:
            mask = (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
        elif y[i] == 2:
            mask = inside & (np.abs(u - 0.5) <= 0.5 * v)
        else:
            mask = inside
        bg = rng.uniform(0.0, 0.3)
        img = bg + rng.uniform(0.5, 1.0) * mask + rng.normal(0.0, cfg["noise"], (size, size))
        x[i] = img
        b[i] = (x0, y0, x0 + s, y0 + s)
    return x, y, b


def _data(cfg: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    x, y, b = _render(rng, cfg["n_train"], cfg)
    vx, vy, vb = _render(rng, cfg["n_val"], cfg)
    if cfg["box_jitter"]:  # sloppy annotations, drawn once (the same wrong box every epoch)
        j = rng.uniform(-cfg["box_jitter"], cfg["box_jitter"], b.shape).astype(np.float32)
        b = b + j
        b = np.stack([np.minimum(b[:, 0], b[:, 2] - 2), np.minimum(b[:, 1], b[:, 3] - 2), b[:, 2], b[:, 3]], 1)
        b = np.clip(b, 0, cfg["imgsz"])
    if cfg["shuffle_labels"]:  # the bug: annotations joined to the images in another order
        perm = rng.permutation(len(y))
        y, b = y[perm], b[perm]
    if cfg["val_label_perm"]:  # the validation label files matched to the images in another order
        perm = np.random.default_rng(4242).permutation(len(vy))
        vy, vb = vy[perm], vb[perm]
    return {"x": x, "y": y, "b": b, "vx": vx, "vy": vy, "vb": vb}


FILL = 114 / 255  # the letterbox / mosaic border value


def _mosaic(d: dict[str, Any], i: int, rng: np.random.Generator, lab: tuple[np.ndarray, np.ndarray],
            canvas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ultralytics' Mosaic: the image and 3 random others around a random centre of a 2x canvas (FILL elsewhere)."""
    size = d["x"].shape[-1]
    four = [int(i), *(int(j) for j in rng.integers(0, len(d["x"]), 3))]
    xc, yc = (int(v) for v in rng.integers(size // 2, 3 * size // 2, 2))
    boxes = []
    for q, j in enumerate(four):
        x0, y0 = xc - size * (1 - q % 2), yc - size * (1 - q // 2)  # top-left, top-right, bottom-left, bottom-right
        cx0, cy0 = max(x0, 0), max(y0, 0)
        cx1, cy1 = min(x0 + size, 2 * size), min(y0 + size, 2 * size)
        canvas[cy0:cy1, cx0:cx1] = d["x"][j][cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
        boxes.append(lab[1][j] + np.array([x0, y0, x0, y0], np.float32))
    return lab[0][four], np.clip(np.stack(boxes), 0, 2 * size)


def _batch(cfg: dict[str, Any], d: dict[str, Any], idx: np.ndarray, rng: np.random.Generator, mosaic: bool,
           lab: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """A training batch: (images, per-image (classes, boxes)), augmented like v8_transforms (simplified): Mosaic
    (while on) or the image alone on a 2x canvas; RandomPerspective with scale and translate only (an imgsz window
    around the canvas centre, scaled by a gain in 1 +- scale, shifted by +- translate, nearest-neighbour, FILL
    outside; boxes clipped and dropped by box_candidates: under 2 px, or under 10% of their scaled area);
    RandomHSV's value gain; RandomFlip left-right."""
    size, n = d["x"].shape[-1], len(idx)
    canvas = np.full((n, 2 * size, 2 * size), FILL, np.float32)
    objs = []
    for k, i in enumerate(idx):
        if mosaic and rng.random() < cfg["mosaic"]:
            objs.append(_mosaic(d, int(i), rng, lab, canvas[k]))
        else:
            h = size // 2
            canvas[k, h : h + size, h : h + size] = d["x"][i]
            objs.append((lab[0][i : i + 1], lab[1][i : i + 1] + h))
    s = rng.uniform(1 - cfg["scale"], 1 + cfg["scale"], (n, 1))
    t = rng.uniform(-cfg["translate"], cfg["translate"], (n, 2)) * size
    u = np.arange(size) + 0.5
    sx = np.floor((u[None] - size / 2 - t[:, :1]) / s + size).astype(int)
    sy = np.floor((u[None] - size / 2 - t[:, 1:]) / s + size).astype(int)
    inside = ((sy >= 0) & (sy < 2 * size))[:, :, None] & ((sx >= 0) & (sx < 2 * size))[:, None, :]
    x = canvas[np.arange(n)[:, None, None], np.clip(sy, 0, 2 * size - 1)[:, :, None],
               np.clip(sx, 0, 2 * size - 1)[:, None, :]]
    x = np.where(inside, x, FILL).astype(np.float32)
    if cfg["hsv_v"]:
        x *= rng.uniform(1 - cfg["hsv_v"], 1 + cfg["hsv_v"], (n, 1, 1)).astype(np.float32)
    flip = rng.random(n) < cfg["fliplr"]
    x[flip] = x[flip, :, ::-1]
    out = []
    for k, (c, b) in enumerate(objs):
        full = (b - size) * s[k, 0] + size / 2 + np.tile(t[k], 2)
        nb = np.clip(full, 0, size)
        bw, bh = nb[:, 2] - nb[:, 0], nb[:, 3] - nb[:, 1]
        keep = (bw > 2) & (bh > 2) & (bw * bh > 0.1 * (full[:, 2] - full[:, 0]) * (full[:, 3] - full[:, 1]))
        c, nb = c[keep], nb[keep]
        if flip[k]:
            nb = np.stack([size - nb[:, 2], nb[:, 1], size - nb[:, 0], nb[:, 3]], 1)
        if cfg["extra_aug"]:
            x[k] += rng.normal(0.0, 0.25, x[k].shape).astype(np.float32)
            for bx in nb:  # cutout: a background-level patch over part of each object
                x0, y0, x1, y1 = (int(v) for v in bx)
                cx, cy = int(rng.integers(x0, max(x0 + 1, x1))), int(rng.integers(y0, max(y0 + 1, y1)))
                h = max(1, (x1 - x0) // 3)
                x[k, max(0, cy - h) : cy + h, max(0, cx - h) : cx + h] = float(np.median(x[k]))
        out.append((c, nb.astype(np.float32)))
    return x, out


def _targets(objs: list[tuple[np.ndarray, np.ndarray]], grid: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense targets: each object assigned to the grid cell holding its centre (class -1 = background)."""
    n = len(objs)
    cls = np.full((n, grid * grid), -1, np.int64)
    box = np.zeros((n, grid * grid, 4), np.float32)
    for k, (c, b) in enumerate(objs):
        cx = np.clip(((b[:, 0] + b[:, 2]) / 2 / STRIDE).astype(int), 0, grid - 1)
        cy = np.clip(((b[:, 1] + b[:, 3]) / 2 / STRIDE).astype(int), 0, grid - 1)
        a = cy * grid + cx
        cls[k, a] = c
        box[k, a] = b
    return cls, box


# --------------------------------------------------------------------------- model, loss


def _model(cfg: dict[str, Any]) -> Any:
    import torch.nn as nn

    w, nc, reg = cfg["width"], len(CLASSES), cfg["reg_max"]

    class Conv(nn.Module):  # ultralytics.nn.modules.Conv: conv (no bias) + BN + SiLU
        def __init__(self, c1: int, c2: int, k: int = 3, s: int = 1) -> None:
            super().__init__()
            self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
            self.bn = nn.BatchNorm2d(c2)
            self.act = nn.SiLU()

        def forward(self, x: Any) -> Any:
            return self.act(self.bn(self.conv(x)))

    class Detector(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = nn.Sequential(Conv(1, w, 3, 2), Conv(w, 2 * w, 3, 2), Conv(2 * w, 2 * w, 3, 1))
            self.cv2 = nn.Sequential(Conv(2 * w, 2 * w), nn.Conv2d(2 * w, 4 * reg, 1))  # box branch
            self.cv3 = nn.Sequential(Conv(2 * w, 2 * w), nn.Conv2d(2 * w, nc, 1))  # class branch
            # Detect.bias_init: box 1.0, cls log(5 / nc / (640 / s) ** 2) with this image size
            nn.init.constant_(self.cv2[-1].bias, 1.0)
            if reg == 1:  # a hand-edited raw-ltrb head: initialised small, so every box starts at 1 stride a side
                nn.init.normal_(self.cv2[-1].weight, std=0.01)
            nn.init.constant_(self.cv3[-1].bias, math.log(5 / nc / (cfg["imgsz"] / STRIDE) ** 2))

        def forward(self, x: Any) -> tuple[Any, Any]:
            f = self.backbone(x[:, None] - 0.5)
            box = self.cv2(f).flatten(2).transpose(1, 2)  # (n, anchors, 4 * reg_max)
            cls = self.cv3(f).flatten(2).transpose(1, 2)  # (n, anchors, nc)
            return box, cls

    return Detector()


def _anchors(grid: int) -> Any:
    import torch

    ys, xs = torch.meshgrid(torch.arange(grid) + 0.5, torch.arange(grid) + 0.5, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], -1)  # (anchors, 2), in stride units


def _decode(cfg: dict[str, Any], pred_dist: Any, anchors: Any) -> tuple[Any, Any]:
    """ltrb distances (stride units) and xyxy boxes (stride units): DFL expectation, or raw with reg_max 1."""
    import torch

    reg = cfg["reg_max"]
    if reg > 1:
        n, a, _ = pred_dist.shape
        proj = torch.arange(reg, dtype=pred_dist.dtype)
        ltrb = pred_dist.view(n, a, 4, reg).softmax(-1) @ proj
    else:
        ltrb = pred_dist
    boxes = torch.cat([anchors - ltrb[..., :2], anchors + ltrb[..., 2:]], -1)
    return ltrb, boxes


def bbox_ciou(b1: Any, b2: Any, eps: float = 1e-7) -> Any:
    """ultralytics.utils.metrics.bbox_iou(xywh=False, CIoU=True) for (n, 4) xyxy boxes."""
    import torch

    b1_x1, b1_y1, b1_x2, b1_y2 = b1.unbind(-1)
    b2_x1, b2_y1, b2_x2, b2_y2 = b2.unbind(-1)
    w1, h1 = b1_x2 - b1_x1, b1_y2 - b1_y1 + eps
    w2, h2 = b2_x2 - b2_x1, b2_y2 - b2_y1 + eps
    inter = (torch.min(b1_x2, b2_x2) - torch.max(b1_x1, b2_x1)).clamp(0) * (
        torch.min(b1_y2, b2_y2) - torch.max(b1_y1, b2_y1)
    ).clamp(0)
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    cw = torch.max(b1_x2, b2_x2) - torch.min(b1_x1, b2_x1)
    ch = torch.max(b1_y2, b2_y2) - torch.min(b1_y1, b2_y1)
    c2 = cw**2 + ch**2 + eps
    rho2 = ((b2_x1 + b2_x2 - b1_x1 - b1_x2) ** 2 + (b2_y1 + b2_y2 - b1_y1 - b1_y2) ** 2) / 4
    v = (4 / math.pi**2) * (torch.atan(w2 / h2) - torch.atan(w1 / h1)).pow(2)
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (rho2 / c2 + v * alpha)


def _loss(cfg: dict[str, Any], preds: tuple[Any, Any], cls_t: Any, box_t: Any, anchors: Any) -> tuple[Any, Any]:
    """v8DetectionLoss: (box, cls, dfl) gains 7.5 / 0.5 / 1.5, each normalised by the target-score sum.

    Simplified assignment: one positive anchor per object (its centre cell), a one-hot target score (the
    TaskAlignedAssigner would give several anchors IoU-aligned scores). Returns (loss.sum() * batch, items).
    """
    import torch
    import torch.nn.functional as F

    pred_dist, pred_cls = preds
    n, _, nc = pred_cls.shape
    pos = cls_t >= 0
    target_scores = F.one_hot(cls_t.clamp(min=0), nc).to(pred_cls.dtype) * pos[..., None]
    tss = max(float(target_scores.sum()), 1.0)
    loss_cls = F.binary_cross_entropy_with_logits(pred_cls, target_scores, reduction="sum") / tss
    ltrb, boxes = _decode(cfg, pred_dist, anchors)
    loss_box, loss_dfl = torch.zeros(()), torch.zeros(())
    if pos.any():
        tb = box_t[pos] / STRIDE
        a = anchors.expand(n, -1, -1)[pos]
        loss_box = (1.0 - bbox_ciou(boxes[pos], tb)).sum() / tss
        reg = cfg["reg_max"]
        target_ltrb = torch.cat([a - tb[:, :2], tb[:, 2:] - a], -1)
        if reg > 1:  # DFLoss: cross-entropy to the two bins around the target distance
            t = target_ltrb.clamp(0, reg - 1 - 0.01)
            tl = t.long()
            wl = tl + 1 - t
            d = pred_dist[pos].view(-1, reg)
            ce_l = F.cross_entropy(d, tl.view(-1), reduction="none").view(tl.shape)
            ce_r = F.cross_entropy(d, (tl + 1).view(-1), reduction="none").view(tl.shape)
            loss_dfl = (ce_l * wl + ce_r * (1 - wl)).mean(-1).sum() / tss
        if cfg["box_loss"] == "log_ltrb":  # the bug: log of predicted distances that nothing keeps positive
            log_t = torch.log(target_ltrb.clamp(min=cfg["log_floor"]))
            loss_box = loss_box + ((torch.log(ltrb[pos]) - log_t) ** 2).sum() / tss
    items = torch.stack([loss_box * cfg["box"], loss_cls * cfg["cls"], loss_dfl * cfg["dfl"]])
    return items.sum() * n, items.detach()


# --------------------------------------------------------------------------- metrics (ultralytics.utils.metrics)


def _box_iou_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    area = lambda z: np.clip(z[:, 2] - z[:, 0], 0, None) * np.clip(z[:, 3] - z[:, 1], 0, None)  # noqa: E731
    union = area(a) + area(b) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(np.where(union > 0, inter / union, 0.0), nan=0.0)


def _smooth(y: np.ndarray, f: float = 0.05) -> np.ndarray:
    nf = round(len(y) * f * 2) // 2 + 1
    p = np.ones(nf // 2)
    yp = np.concatenate((p * y[0], y, p * y[-1]), 0)
    return np.convolve(yp, np.ones(nf) / nf, mode="valid")


def _compute_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([1.0], precision, [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    x = np.linspace(0, 1, 101)
    return float(np.trapezoid(np.interp(x, mrec, mpre), x))


def ap_per_class(tp: np.ndarray, conf: np.ndarray, pred_cls: np.ndarray, target_cls: np.ndarray) -> dict[str, float]:
    """Ultralytics' ap_per_class reduced to DetMetrics' results: P and R at the confidence of the best mean F1
    (smoothed), mAP50 and mAP50-95 (101-point interpolated AP per class and IoU threshold, mean over classes)."""
    eps = 1e-16
    order = np.argsort(-conf, kind="stable")
    tp, conf, pred_cls = tp[order], conf[order], pred_cls[order]
    classes = np.unique(target_cls)
    px = np.linspace(0, 1, 1000)
    ap = np.zeros((len(classes), tp.shape[1]))
    p_curve, r_curve = np.zeros((len(classes), 1000)), np.zeros((len(classes), 1000))
    for ci, c in enumerate(classes):
        i = pred_cls == c
        n_l, n_p = int((target_cls == c).sum()), int(i.sum())
        if n_p == 0 or n_l == 0:
            continue
        fpc, tpc = (1 - tp[i]).cumsum(0), tp[i].cumsum(0)
        recall = tpc / (n_l + eps)
        precision = tpc / (tpc + fpc)
        r_curve[ci] = np.interp(-px, -conf[i], recall[:, 0], left=0)
        p_curve[ci] = np.interp(-px, -conf[i], precision[:, 0], left=1)
        for j in range(tp.shape[1]):
            ap[ci, j] = _compute_ap(recall[:, j], precision[:, j])
    f1 = 2 * p_curve * r_curve / (p_curve + r_curve + eps)
    k = int(_smooth(f1.mean(0), 0.1).argmax())
    return {
        METRIC_KEYS[0]: float(p_curve[:, k].mean()),
        METRIC_KEYS[1]: float(r_curve[:, k].mean()),
        METRIC_KEYS[2]: float(ap[:, 0].mean()),
        METRIC_KEYS[3]: float(ap.mean()),
    }


def det_metrics(scores: np.ndarray, boxes: np.ndarray, gt_cls: np.ndarray, gt_box: np.ndarray) -> dict[str, float]:
    """DetMetrics of per-image detections: for each image and class the best-scoring anchor's box (class-wise NMS
    reduced to one detection per class on one-object images), kept when its score >= conf 0.001."""
    n, _, nc = scores.shape
    best = scores.argmax(1)  # (n, nc) anchor per image and class
    conf = np.take_along_axis(scores, best[:, None, :], 1)[:, 0, :]  # (n, nc): class c's score at its anchor
    det_box = boxes[np.arange(n)[:, None], best]  # (n, nc, 4)
    img = np.repeat(np.arange(n), nc)
    cls = np.tile(np.arange(nc), n)
    conf, det_box = conf.reshape(-1), det_box.reshape(-1, 4)
    keep = np.isfinite(conf) & (conf >= CONF)
    img, cls, conf, det_box = img[keep], cls[keep], conf[keep], det_box[keep]
    iou = _box_iou_np(det_box, gt_box[img])
    tp = (cls == gt_cls[img])[:, None] & (iou[:, None] >= IOU_THRESHOLDS[None])
    if not len(conf):
        return dict.fromkeys(METRIC_KEYS, 0.0)
    return ap_per_class(tp.astype(float), conf, cls, gt_cls)


def fitness(m: dict[str, float]) -> float:
    """Metric.fitness: weights [0, 0, 0.1, 0.9] for [P, R, mAP50, mAP50-95]."""
    return 0.1 * m[METRIC_KEYS[2]] + 0.9 * m[METRIC_KEYS[3]]


def chance_map(d: dict[str, Any], draws: int = 20) -> float:
    """mAP50-95 of the image-centre box of the mean validation box size, uniformly random class scores."""
    rng = np.random.default_rng(12345)
    vb, vy = d["vb"], d["vy"]
    size = d["vx"].shape[-1]
    w, h = float(np.mean(vb[:, 2] - vb[:, 0])), float(np.mean(vb[:, 3] - vb[:, 1]))
    centre = np.array([size / 2 - w / 2, size / 2 - h / 2, size / 2 + w / 2, size / 2 + h / 2])
    boxes = np.tile(centre, (len(vy), 1, 1))
    out = []
    for _ in range(draws):
        scores = rng.uniform(0.0, 1.0, (len(vy), 1, len(CLASSES)))
        out.append(det_metrics(scores, boxes, vy, vb)[METRIC_KEYS[3]])
    return float(np.mean(out))


# --------------------------------------------------------------------------- the trainer


def _lf(cfg: dict[str, Any]) -> Any:
    """BaseTrainer._setup_scheduler's lambda: linear 1 -> lrf over `epochs`, or one_cycle (cosine) with cos_lr."""
    epochs = cfg["sched_epochs"] or cfg["epochs"]
    lrf = cfg["lrf"]
    if cfg["cos_lr"]:
        return lambda x: max((1 - math.cos(x * math.pi / epochs)) / 2, 0) * (lrf - 1) + 1
    return lambda x: max(1 - x / epochs, 0) * (1.0 - lrf) + lrf


def _optimizer_settings(cfg: dict[str, Any]) -> tuple[str, float, float, float]:
    """build_optimizer's choice: (name, lr, momentum, warmup_bias_lr); 'auto' picks by the iteration count."""
    name, lr, momentum, wb = cfg["optimizer"], cfg["lr0"], cfg["momentum"], cfg["warmup_bias_lr"]
    if name == "auto":
        iterations = math.ceil(cfg["n_train"] / max(cfg["batch"], cfg["nbs"])) * cfg["epochs"]
        lr_fit = round(0.002 * 5 / (4 + len(CLASSES)), 6)
        name, lr, momentum = ("SGD", 0.01, 0.9) if iterations > 10000 else ("AdamW", lr_fit, 0.9)
        wb = 0.0  # "no higher than 0.01 for Adam"
    return name, lr, momentum, wb


def _build_optimizer(cfg: dict[str, Any], model: Any, decay: float) -> Any:
    """Three groups in v8 / YOLO11's order: pg0 biases (no decay), pg1 weights (decay), pg2 norm weights (no decay)."""
    import torch
    import torch.nn as nn

    name, lr, momentum, _ = _optimizer_settings(cfg)
    g: tuple[list, list, list] = ([], [], [])
    for module_name, module in model.named_modules():
        for param_name, param in module.named_parameters(recurse=False):
            fullname = f"{module_name}.{param_name}" if module_name else param_name
            if "bias" in fullname:
                g[2].append(param)
            elif isinstance(module, nn.BatchNorm2d):
                g[1].append(param)
            else:
                g[0].append(param)
    if name == "AdamW":
        opt = torch.optim.AdamW(g[2], lr=lr, betas=(momentum, 0.999), weight_decay=0.0)
    else:
        opt = torch.optim.SGD(g[2], lr=lr, momentum=momentum, nesterov=True)
    opt.add_param_group({"params": g[0], "weight_decay": decay})
    opt.add_param_group({"params": g[1], "weight_decay": 0.0})
    return opt


class _EMA:
    """ModelEMA: decay 0.9999 * (1 - exp(-updates / 2000)), over every floating state tensor (BN stats included)."""

    def __init__(self, model: Any) -> None:
        self.ema = copy.deepcopy(model).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.updates = 0

    def update(self, model: Any) -> None:
        import torch

        self.updates += 1
        d = 0.9999 * (1 - math.exp(-self.updates / 2000))
        msd = model.state_dict()
        with torch.no_grad():
            for k, v in self.ema.state_dict().items():
                if v.dtype.is_floating_point:
                    v *= d
                    v += (1 - d) * msd[k].detach()


def _validate(cfg: dict[str, Any], model: Any, d: dict[str, Any], anchors: Any, grid: int,
              with_loss: bool) -> dict[str, float]:
    """BaseValidator.__call__: metrics (and, during training, the mean of the val batches' loss items)."""
    import torch

    bs = 2 * cfg["batch"]
    cls_t, box_t = _targets([(d["vy"][i : i + 1], d["vb"][i : i + 1]) for i in range(len(d["vy"]))], grid)
    loss = torch.zeros(3)
    scores, boxes = [], []
    model.eval()
    with torch.no_grad():
        nbatches = 0
        for s in range(0, len(d["vy"]), bs):
            x = torch.from_numpy(d["vx"][s : s + bs])
            preds = model(x)
            if with_loss:
                loss += _loss(cfg, preds, torch.from_numpy(cls_t[s : s + bs]), torch.from_numpy(box_t[s : s + bs]),
                              anchors)[1]
            _, bx = _decode(cfg, preds[0], anchors)
            scores.append(torch.sigmoid(preds[1]).numpy())
            boxes.append((bx * STRIDE).clamp(0, cfg["imgsz"]).numpy())
            nbatches += 1
    m = det_metrics(np.concatenate(scores), np.concatenate(boxes), d["vy"], d["vb"])
    out = dict(m)
    out["fitness"] = fitness(m)
    if with_loss:
        out |= {f"val/{k}": float(v) for k, v in zip(LOSS_NAMES, loss / nbatches, strict=True)}
    return {k: round(float(v), 5) for k, v in out.items()}


def _pretrain(cfg: dict[str, Any], model: Any, anchors: Any, grid: int, seed: int) -> None:
    """The checkpoint a run starts from: ``pretrained_epochs`` unlogged epochs (SGD 0.01, momentum 0.9, mosaic,
    default augmentation) on another draw of the same task, like a COCO-pretrained yolov8n.pt."""
    import torch

    rng = np.random.default_rng(10_000 + seed)
    pcfg = {**DEFAULTS, "imgsz": cfg["imgsz"], "reg_max": cfg["reg_max"], "width": cfg["width"]}
    x, y, b = _render(rng, DEFAULTS["n_train"], pcfg)
    d = {"x": x, "y": y, "b": b}
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    bs = DEFAULTS["batch"]
    model.train()
    for _ in range(cfg["pretrained_epochs"]):
        order = rng.permutation(len(y))
        for i in range(0, len(y), bs):
            xb, objs = _batch(pcfg, d, order[i : i + bs], rng, True, (y, b))
            cls_t, box_t = _targets(objs, grid)
            loss, _ = _loss(pcfg, model(torch.from_numpy(xb)), torch.from_numpy(cls_t), torch.from_numpy(box_t),
                            anchors)
            opt.zero_grad()
            (loss / bs).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
            opt.step()


def train(spec: RunSpec, run_dir: Path) -> Facts:
    import warnings

    import torch
    from torch.utils.tensorboard import SummaryWriter

    t0 = time.time()
    cfg = run_params(spec, DEFAULTS)
    seed_everything(spec.seed)
    rng = np.random.default_rng(spec.seed)
    d = _data(cfg, rng)
    grid = cfg["imgsz"] // STRIDE
    anchors = _anchors(grid)
    model = _model(cfg)
    if cfg["pretrained_epochs"]:
        _pretrain(cfg, model, anchors, grid, spec.seed)
    bs, nbs, epochs = cfg["batch"], cfg["nbs"], cfg["epochs"]
    accumulate = max(round(nbs / bs), 1)
    decay = cfg["weight_decay"] * bs * accumulate / nbs
    opt = _build_optimizer(cfg, model, decay)
    _, _, momentum, warmup_bias_lr = _optimizer_settings(cfg)
    lf = _lf(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=lf)
    scheduler.last_epoch = -1  # start_epoch - 1, "do not move"
    ema = _EMA(model)
    n = len(d["y"])
    nb = math.ceil(n / bs)
    nw = max(round(cfg["warmup_epochs"] * nb), 100) if cfg["warmup_epochs"] > 0 else -1
    writer = SummaryWriter(str(run_dir))  # on_pretrain_routine_start: SummaryWriter(trainer.save_dir)
    best_fitness: float | None = None
    best_state: dict[str, Any] | None = None
    stop_best, stop_epoch = 0.0, 0  # EarlyStopping
    patience = cfg["patience"] or math.inf
    mosaic = True
    last_opt_step = -1
    labels = (d["y"], d["b"])
    opt.zero_grad()
    epoch = 0
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 'Detected lr_scheduler.step() before optimizer.step()'
            scheduler.step()
        model.train()
        if epoch == epochs - cfg["close_mosaic"]:
            mosaic = False  # _close_dataloader_mosaic
        lab = labels
        if epoch in cfg["corrupt_epochs"]:  # a shard read with a wrong index: annotations of other images
            perm = np.random.default_rng(1000 + epoch).permutation(n)
            lab = (labels[0][perm], labels[1][perm])
        order = rng.permutation(n)
        tloss = None
        for i in range(nb):
            ni = i + nb * epoch
            if ni <= nw:  # warm-up: bias LR falls from warmup_bias_lr, the others rise from 0; momentum rises
                xi = [0, nw]
                accumulate = max(1, int(np.interp(ni, xi, [1, nbs / bs]).round()))
                for j, group in enumerate(opt.param_groups):
                    group["lr"] = float(np.interp(ni, xi, [warmup_bias_lr if j == 0 else 0.0,
                                                           group["initial_lr"] * lf(epoch)]))
                    if "momentum" in group:
                        group["momentum"] = float(np.interp(ni, xi, [cfg["warmup_momentum"], momentum]))
            idx = order[i * bs : (i + 1) * bs]
            xb, objs = _batch(cfg, d, idx, rng, mosaic, lab)
            cls_t, box_t = _targets(objs, grid)
            preds = model(torch.from_numpy(xb))
            loss, items = _loss(cfg, preds, torch.from_numpy(cls_t), torch.from_numpy(box_t), anchors)
            tloss = items if tloss is None else (tloss * i + items) / (i + 1)
            loss.backward()
            if ni - last_opt_step >= accumulate:  # optimizer_step: clip at norm 10, step, EMA
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
                opt.step()
                opt.zero_grad()
                ema.update(model)
                last_opt_step = ni
        lrs = {f"lr/pg{ir}": g["lr"] for ir, g in enumerate(opt.param_groups)}
        # on_train_epoch_end: label_loss_items(tloss, prefix="train") and trainer.lr, at step epoch + 1
        assert tloss is not None
        for k, v in zip(LOSS_NAMES, tloss, strict=True):
            writer.add_scalar(f"train/{k}", round(float(v), 5), epoch + 1)
        for k, v in lrs.items():
            writer.add_scalar(k, v, epoch + 1)
        final_epoch = epoch + 1 >= epochs
        metrics = _validate(cfg, ema.ema, d, anchors, grid, with_loss=True)  # args.val: every epoch
        fit = metrics.pop("fitness")
        if best_fitness is None or best_fitness < fit:
            best_fitness = fit
        if fit >= stop_best:  # EarlyStopping.__call__(epoch + 1, fitness)
            stop_best, stop_epoch = fit, epoch + 1
        stop = (epoch + 1 - stop_epoch) >= patience or final_epoch
        if best_fitness == fit:  # save_model: best.pt (the EMA, saved in half precision)
            best_state = {k: v.detach().clone().half() if v.dtype.is_floating_point else v.clone()
                          for k, v in ema.ema.state_dict().items()}
        for k, v in metrics.items():  # on_fit_epoch_end: trainer.metrics at step epoch + 1
            writer.add_scalar(k, v, epoch + 1)
        writer.flush()
        if stop:
            break
        epoch += 1
    # final_eval: validate best.pt (not training: metrics only, no losses) and run on_fit_epoch_end again,
    # at the same step as the last epoch
    if best_state is not None:
        final = copy.deepcopy(ema.ema)
        final.load_state_dict({k: v.float() if v.dtype.is_floating_point else v for k, v in best_state.items()})
        metrics = _validate(cfg, final, d, anchors, grid, with_loss=False)
        metrics.pop("fitness")
        for k, v in metrics.items():
            writer.add_scalar(k, v, epoch + 1)
    writer.close()
    return _facts(cfg, d, nb, epoch + 1, t0)


def _schedule_name(cfg: dict[str, Any]) -> str:
    warm = "warmup_" if cfg["warmup_epochs"] > 0 else ""
    if cfg["lrf"] == 1.0:
        return f"{warm}constant"
    shape = "cosine" if cfg["cos_lr"] else "linear"
    return f"{warm}{shape}_{'decay' if cfg['lrf'] < 1 else 'growth'}"


def _facts(cfg: dict[str, Any], d: dict[str, Any], nb: int, epochs_run: int, t0: float) -> Facts:
    name, lr, _, _ = _optimizer_settings(cfg)
    injected: dict[str, Any] = {"optimizer": f"{name} lr0 {lr:g}" + (" (optimizer=auto)" if cfg["optimizer"] ==
                                                                      "auto" else "")}
    for key in ("shuffle_labels", "val_label_perm", "pretrained_epochs", "extra_aug", "sched_epochs"):
        if cfg[key]:
            injected[key] = cfg[key]
    if cfg["box_loss"] != "ciou":
        injected["box_loss"] = (f"CIoU + squared log(predicted / target ltrb distance), targets clamped at "
                                f"{cfg['log_floor']}, on distances nothing keeps > 0 (reg_max {cfg['reg_max']})")
    if cfg["corrupt_epochs"]:
        injected["corrupt_epochs"] = f"epochs {cfg['corrupt_epochs']} (0-based) read every image with another's labels"
    for key in ("n_train", "n_val", "mosaic", "close_mosaic", "fliplr", "hsv_v", "width", "reg_max", "epochs",
                "patience", "batch", "lrf", "weight_decay", "warmup_epochs", "warmup_bias_lr", "cos_lr", "noise"):
        if cfg[key] != DEFAULTS[key]:
            injected[key] = cfg[key]
    if epochs_run < cfg["epochs"]:
        injected["stopped_early"] = f"EarlyStopping after {epochs_run} of {cfg['epochs']} epochs"
    return Facts(
        tags={"train_loss": "train/box_loss", "val_loss": "val/box_loss", "val_metric": METRIC_KEYS[3],
              "lr": "lr/pg1"},
        steps={"train_loss": "epoch", "val_loss": "epoch", "val_metric": "epoch", "lr": "epoch"},
        task="detection",
        metric="mAP50-95",
        metric_direction="max",
        num_classes=len(CLASSES),
        chance_metric=chance_map(d),
        epochs=epochs_run,
        steps_per_epoch=nb,
        batch_size=cfg["batch"],
        lr_peak=lr * max(_lf(cfg)(e) for e in range(cfg["epochs"])),
        schedule=_schedule_name(cfg),
        log_every_steps=nb,
        eval_every_steps=nb,
        shuffled=True,
        injected=injected,
        seconds=round(time.time() - t0, 2),
    )


PROGRAM = Program(
    name=NAME,
    family="cnn",
    data="synthetic one-object detection (squares, discs, triangles in 32x32 grey images), 2x2 mosaics",
    script="torch_loop",
    writer="torch_summarywriter",
    framework="torch",
    version=2,
    runs=runs,
    train=train,
)
