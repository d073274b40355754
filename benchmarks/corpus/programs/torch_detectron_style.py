"""torch_detectron_style: a two-head CNN detecting the one shape in synthetic grey images, a plain PyTorch loop
that logs the way Detectron2's ``TensorboardXWriter`` does.

Why it exists: Detectron2's TensorBoard layout is unlike any other program's. Training is
counted in iterations (``SOLVER.MAX_ITER``), never epochs: the data loader is an endless
stream (``TrainingSampler``: a fresh permutation of the training set every pass, batches cut
across pass boundaries), and nothing in the event file says where a pass ends. Every tag is
written by one writer straight into the run folder (the ``EventStorage`` holds them all):
every ``log_period`` (20) iterations ``total_loss``, ``loss_cls``, ``loss_box_reg``,
``fast_rcnn/cls_accuracy`` (training batch accuracy), ``time`` and ``data_time``, each the
*median over the last* ``window_size`` (20) *iterations* (the storage's smoothing hint), and
``lr`` and ``eta_seconds`` (latest values); every ``eval_period`` iterations (default: one
pass) and at the end the COCO evaluator's ``bbox/AP``, ``bbox/AP50``, ``bbox/AP75`` and
``bbox/AP-<class>``, **in percent (0-100)**, plus ``validation_loss`` (the total loss on the
validation set, as the much-copied ``LossEvalHook`` adds it). The step is Detectron2's
0-based index of the iteration just run: the writer fires when ``(iter + 1) % period == 0``
and at ``max_iter - 1``, so the steps are 19, 39, ..., 1799. The total loss starts at ln 3 +
the anchor's box loss (~1.7); the metric is AP, higher is better, chance ~0.01-0.16.

Data: 24x24 grey images, one object each: a filled square, disc or upward triangle (3
classes) of ``min_size``-``max_size`` (5-12) pixels at a random position, 0.5-1.0 brighter
than a random background, plus Gaussian pixel noise (``noise`` 0.35). The box is the shape's
tight box (x0, y0, x1, y1) / 24. The run's seed draws the images. Model: three 3x3
convolutions (``width``, 2x, 2x channels; two 2x2 max-pools), a fully connected layer of
``hidden`` units (optional dropout) and two heads: class logits (cross-entropy,
``loss_cls``) and box offsets from a fixed centre anchor (0.3, 0.3, 0.7, 0.7) (smooth-L1,
beta ``smooth_l1_beta``, summed over the 4 coordinates, mean over images,
``loss_box_reg``), initialised like Detectron2's box predictor (std 0.01 / 0.001, zero
bias): the first prediction is the anchor with a uniform class. SGD, momentum 0.9, weight
decay 1e-4, base LR 0.02 at 16 images per batch (Detectron2's defaults), the LR set every
iteration by Detectron2's schedulers: ``WarmupMultiStepLR`` (linear warm-up from
``warmup_factor`` x over ``warmup_iters``, then x ``gamma`` at each of ``steps``, absolute
iterations), ``WarmupCosineLR`` (the same warm-up times a cosine from 1 to 0 over
``max_iter``) or ``constant`` (no warm-up). Gradient clipping (``CLIP_GRADIENTS``, type
"norm") is off unless ``clip_gradients`` > 0. Augmentation: ``flip`` (Detectron2's default
horizontal RandomFlip), ``heavy`` (flips both ways, brightness x0.7-1.3 and +-0.15, extra
pixel noise 0.3 and a background-level cutout over about two thirds of the object's width
on every image; training only) or ``none``.

Evaluation (COCO-like, cheap): one detection per (image, class) whose softmax score is
>= 0.05 (Detectron2's ``SCORE_THRESH_TEST``), all with the image's predicted box. Per class
and IoU threshold (0.50:0.05:0.95) the detections are sorted by score, a true positive when
the image's object is of that class and IoU >= threshold (one object per image: one match
at most), precision made monotone and read at COCO's 101 recall points; AP is the mean
over classes and thresholds, AP50 / AP75 at 0.5 / 0.75, all x100. ``chance_metric`` is the
AP (x100) of the image-centre box of the mean validation box size with a uniformly random
class and score (mean of 20 draws on the validation set). ``fast_rcnn/cls_accuracy`` is
logged but not named in the facts as the ``train_metric``: it is a 0-1 accuracy whose chance
is 1/3, not this AP chance, and the facts carry one chance for the metric role.

Real Detectron2 raises ``FloatingPointError`` at the first non-finite loss (its trainer
checks before it stores the losses); this loop has no such check, like many hand-written
loops modelled on ``tools/plain_train_net.py`` without its assert, so a NaN reaches the
event file.

Runs (intent: how it is produced; numbers from the seeds below):

================================  ========================  ======================================================
run                               intent                    how
================================  ========================  ======================================================
healthy_multistep_1x              healthy                   WarmupMultiStepLR 0.02, warm-up 100, x0.1 at 1200 and
                                                            1600 of 1800 (the "1x" shape): total 1.7 -> 0.17, AP 35
healthy_warmup_cosine             healthy                   WarmupCosineLR, base LR 0.03: AP 41
healthy_heavy_aug                 healthy                   heavy augmentation, 1920 images: validation loss ~8%
                                                            below training at every evaluation
healthy_small_val                 healthy                   24 validation images: AP moves in big steps
overfit_few_images                overfitting               128 images, no augmentation, hidden 256, no weight
                                                            decay, constant LR, 2400 iterations: validation loss
                                                            best (1.28) at iteration 119, 2.4 at the end
val_plateau_cosine_small_train    val_plateau               480 images, dropout 0.4, weight decay 1e-3,
                                                            WarmupCosineLR, 2400 iterations: validation flat at
                                                            ~0.52 over the last third while training falls 40%
plateau_noisy_weight_decay        plateau                   pixel noise 0.5, 3840 images, weight decay 3e-3,
                                                            constant LR: both flat (within 1%) over the last third
still_learning_short              still_learning            450 iterations, no decay: validation still -11% over
                                                            the last third
underfit_tiny_cnn                 underfitting              width 1, hidden 4, 1920 images, constant LR: levels
                                                            off at ~1.18 by iteration ~500, validation alike
lr_small_finetune                 lr_too_small              starts from a checkpoint (400 unlogged iterations on
                                                            another draw, as with MODEL.WEIGHTS), base LR 4e-4:
                                                            an even crawl 0.93 -> 0.63
lr_high_multistep_clipped         lr_too_high               base LR 0.15 (clipping at norm 1 keeps the ReLUs
                                                            alive), x0.1 at 1000 and 1400: stalls at ~1.4-1.5
                                                            until the first drop, then falls to 1.0
lr_decay_too_early                lr_decay_too_early        steps at 90 and 180 (5% and 10%) of 1800, warm-up 20:
                                                            flat at ~1.16 from iteration ~200
diverge_gamma_10_no_warmup        divergence                no warm-up, SOLVER.GAMMA 10 (meant 0.1) at 500 and
                                                            1000: LR 0.2 then 2.0, no clipping; falls to 0.83,
                                                            then blows up to ~9.6, finite (an LR far too high
                                                            from the first iteration only kills the ReLUs here)
nonfinite_log_wh_box_loss         nonfinite                 box loss + smooth-L1 of log(predicted width, height),
                                                            warm-up 800: a width <= 0 once the LR is high, NaN
                                                            from iteration ~950 on
no_learning_shuffled_annotations  no_learning               training annotations joined to the images in another
                                                            order: total 1.71 -> 1.67, AP at chance
spikes_shifted_annotations        loss_spikes               at 1240, 1440 and 1640, 12 iterations each (12 of
                                                            one 20-iteration median window) carry their batch
                                                            neighbour's class and box: three one-point 8-15x
                                                            jumps (boxes in pixels instead killed the network)
noisy_batch2_raw_values           noisy                     2 images per batch, base LR 0.005, 4000 iterations,
                                                            ``window_size`` 1 (raw values logged): point noise
                                                            ~50% of the level
unshuffled_class_sorted           unshuffled                training images sorted by class, the same order every
                                                            pass, ``log_period`` 5, base LR 0.005 (0.02 collapses
                                                            the network): the loss waves with the pass
data_problem_val_inverted         data_problem              validation images with inverted intensities:
                                                            validation loss 1.7 -> 17.7 from the first evaluation,
                                                            AP at chance while training fits
mismatch_val_label_noise          best_checkpoint_mismatch  25% of validation labels wrong, no weight decay:
                                                            validation loss best at iteration ~1000 (+33% at the
                                                            end), AP best at the end
val_better_dropout_aug            val_better_than_train     heavy augmentation and dropout 0.5, 1920 images:
                                                            validation loss ~10% below training
================================  ========================  ======================================================

Every run's ``params`` may be overridden (e.g. ``max_iter``) to scale it down for a test.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._torch import seed_everything
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "torch_detectron_style"
CLASSES = ("square", "disc", "triangle")
IOU_THRESHOLDS = tuple(0.5 + 0.05 * i for i in range(10))
SCORE_THRESH = 0.05
ANCHOR = (0.3, 0.3, 0.7, 0.7)  # the box the regression head starts from (offsets are predicted)

DEFAULTS: dict[str, Any] = {
    # data
    "image_size": 24,
    "min_size": 5,
    "max_size": 12,
    "noise": 0.35,  # pixel noise sd (objects are 0.5-1.0 brighter than the background)
    "n_train": 960,
    "n_val": 240,
    "augment": "flip",  # flip (horizontal, Detectron2's default) | heavy | none
    "val_domain": "same",  # same | inverted (validation images exported with inverted intensities)
    "val_label_noise": 0.0,  # share of validation labels replaced by another class
    # model
    "width": 12,
    "hidden": 96,
    "dropout": 0.0,
    "pretrain_iters": 0,  # MODEL.WEIGHTS stand-in: this many unlogged iterations on another draw of the data first
    "smooth_l1_beta": 0.05,
    "box_loss": "smooth_l1",  # smooth_l1 | log_wh (+ smooth-L1 of log w, log h of the predicted x1 - x0, y1 - y0)
    # solver (Detectron2's SOLVER.* names, lower case)
    "base_lr": 0.02,
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "ims_per_batch": 16,
    "max_iter": 1800,
    "lr_scheduler_name": "WarmupMultiStepLR",  # WarmupMultiStepLR | WarmupCosineLR | constant
    "steps": [1200, 1600],  # absolute iterations, x gamma at each
    "gamma": 0.1,
    "warmup_iters": 100,
    "warmup_factor": 0.001,
    "clip_gradients": 0.0,  # CLIP_GRADIENTS with CLIP_TYPE "norm": the max gradient norm, 0 = off (the default)
    "log_period": 20,
    "window_size": 20,  # the writer's smoothing window (median of the last N iterations)
    "eval_period": 0,  # 0 = one pass over the training set (rounded)
    # injected faults
    "order": "shuffle",  # shuffle | class_sorted (same order every pass)
    "shuffle_annotations": False,  # training (class, box) pairs joined to the images in another order
    "corrupt_iters": [],  # iterations (0-based) whose batch has its annotations shifted by one image
}


def _r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
    return RunSpec(program=NAME, name=name, intent=intent, params=params, seed=seed)


def runs() -> list[RunSpec]:
    spikes = [i for start in (1240, 1440, 1640) for i in range(start, start + 12)]  # 12 of one 20-iteration window
    return [
        _r("healthy_multistep_1x", "healthy", 1),
        _r("healthy_warmup_cosine", "healthy", 2, lr_scheduler_name="WarmupCosineLR", base_lr=0.03),
        _r("healthy_heavy_aug", "healthy", 3, augment="heavy", n_train=1920),
        _r("healthy_small_val", "healthy", 4, n_val=24),
        _r("overfit_few_images", "overfitting", 5, n_train=128, augment="none", hidden=256, weight_decay=0.0,
           lr_scheduler_name="constant", max_iter=2400, eval_period=40),
        _r("val_plateau_cosine_small_train", "val_plateau", 6, n_train=480, n_val=480, dropout=0.4,
           weight_decay=1e-3, lr_scheduler_name="WarmupCosineLR", max_iter=2400, eval_period=60),
        _r("plateau_noisy_weight_decay", "plateau", 7, noise=0.5, n_train=3840, weight_decay=3e-3,
           lr_scheduler_name="constant", max_iter=2400),
        _r("still_learning_short", "still_learning", 8, max_iter=450, steps=[], eval_period=30),
        _r("underfit_tiny_cnn", "underfitting", 9, width=1, hidden=4, n_train=1920, lr_scheduler_name="constant"),
        _r("lr_small_finetune", "lr_too_small", 10, pretrain_iters=400, base_lr=0.0004, steps=[]),
        _r("lr_high_multistep_clipped", "lr_too_high", 11, base_lr=0.15, clip_gradients=1.0, steps=[1000, 1400]),
        _r("lr_decay_too_early", "lr_decay_too_early", 12, steps=[90, 180], warmup_iters=20),
        _r("diverge_gamma_10_no_warmup", "divergence", 13, warmup_iters=0, gamma=10.0, steps=[500, 1000],
           max_iter=1500),
        _r("nonfinite_log_wh_box_loss", "nonfinite", 14, box_loss="log_wh", warmup_iters=800),
        _r("no_learning_shuffled_annotations", "no_learning", 15, shuffle_annotations=True),
        _r("spikes_shifted_annotations", "loss_spikes", 16, corrupt_iters=spikes),
        _r("noisy_batch2_raw_values", "noisy", 17, ims_per_batch=2, base_lr=0.005, window_size=1, max_iter=4000,
           steps=[]),
        _r("unshuffled_class_sorted", "unshuffled", 18, order="class_sorted", base_lr=0.005, log_period=5),
        _r("data_problem_val_inverted", "data_problem", 19, val_domain="inverted"),
        _r("mismatch_val_label_noise", "best_checkpoint_mismatch", 20, val_label_noise=0.25, weight_decay=0.0),
        _r("val_better_dropout_aug", "val_better_than_train", 21, augment="heavy", dropout=0.5, n_train=1920),
    ]


# --------------------------------------------------------------------------- data


def _shapes(cfg: dict[str, Any], n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n images (n, S, S) float32 in ~[0, 1] + noise, their classes (n,) and tight boxes (n, 4) / S."""
    size = cfg["image_size"]
    labels = rng.integers(0, len(CLASSES), n)
    s = rng.integers(cfg["min_size"], cfg["max_size"] + 1, n)
    x0 = (rng.random(n) * (size - s + 1)).astype(int)
    y0 = (rng.random(n) * (size - s + 1)).astype(int)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5  # pixel centres
    u = (xx[None] - x0[:, None, None]) / s[:, None, None]  # position within the box, 0..1
    v = (yy[None] - y0[:, None, None]) / s[:, None, None]
    inside = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    disc = (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    triangle = np.abs(u - 0.5) <= v / 2  # apex at the top centre, base at the bottom
    mask = np.where(labels[:, None, None] == 0, inside, np.where(labels[:, None, None] == 1, disc, triangle))
    mask &= inside
    background = rng.uniform(0.0, 0.3, n)[:, None, None]
    contrast = rng.uniform(0.5, 1.0, n)[:, None, None]
    images = background + contrast * mask + rng.normal(0.0, cfg["noise"], (n, size, size))
    boxes = np.stack([x0, y0, x0 + s, y0 + s], axis=1) / size
    return images.astype(np.float32), labels.astype(np.int64), boxes.astype(np.float32)


def _data(cfg: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Training and validation sets; the validation faults (inverted images, wrong labels) applied."""
    x, y, b = _shapes(cfg, cfg["n_train"], rng)
    vx, vy, vb = _shapes(cfg, cfg["n_val"], rng)
    if cfg["shuffle_annotations"]:
        perm = rng.permutation(len(y))  # the bug: annotations joined to the images in another order
        y, b = y[perm], b[perm]
    if cfg["val_domain"] == "inverted":
        vx = (1.0 - vx).astype(np.float32)
    if cfg["val_label_noise"]:
        bad = rng.random(len(vy)) < cfg["val_label_noise"]
        vy = vy.copy()
        vy[bad] = (vy[bad] + rng.integers(1, len(CLASSES), int(bad.sum()))) % len(CLASSES)
    return {"x": x, "y": y, "b": b, "vx": vx, "vy": vy, "vb": vb}


def _stream(cfg: dict[str, Any], d: dict[str, Any], rng: np.random.Generator) -> Any:
    """Detectron2's TrainingSampler: an endless stream of indices, a fresh permutation every pass."""
    n = cfg["n_train"]
    sorted_order = np.argsort(d["y"], kind="stable")  # by class, the same every pass
    while True:
        yield from (sorted_order if cfg["order"] == "class_sorted" else rng.permutation(n))


def _augment(cfg: dict[str, Any], x: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> tuple[Any, Any]:
    """Training-time augmentation of a batch (images (n, S, S), boxes (n, 4)); copies, never in place."""
    x, b = x.copy(), b.copy()
    kind = cfg["augment"]
    if kind == "none":
        return x, b
    n, size = len(x), x.shape[-1]
    flip = rng.random(n) < 0.5
    x[flip] = x[flip, :, ::-1]
    b[flip, 0], b[flip, 2] = 1.0 - b[flip, 2], 1.0 - b[flip, 0]
    if kind == "heavy":
        vflip = rng.random(n) < 0.5
        x[vflip] = x[vflip, ::-1, :]
        b[vflip, 1], b[vflip, 3] = 1.0 - b[vflip, 3], 1.0 - b[vflip, 1]
        x = x * rng.uniform(0.7, 1.3, (n, 1, 1)) + rng.uniform(-0.15, 0.15, (n, 1, 1))
        x = x + rng.normal(0.0, 0.3, x.shape)
        for i in range(n):  # cutout: a background-level patch over part of the object
            bx = (b[i] * size).astype(int)
            cx = rng.integers(bx[0], max(bx[0] + 1, bx[2]))
            cy = rng.integers(bx[1], max(bx[1] + 1, bx[3]))
            half = max(1, (bx[2] - bx[0]) // 3)
            x[i, max(0, cy - half) : cy + half, max(0, cx - half) : cx + half] = float(np.median(x[i]))
    return x.astype(np.float32), b


# --------------------------------------------------------------------------- model, losses


def _model(cfg: dict[str, Any]) -> Any:
    import torch
    import torch.nn as nn

    w, size = cfg["width"], cfg["image_size"]

    class Detector(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = nn.Sequential(
                nn.Conv2d(1, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(), nn.Flatten(),
            )
            self.fc = nn.Sequential(nn.Linear(2 * w * (size // 4) ** 2, cfg["hidden"]), nn.ReLU(),
                                    nn.Dropout(cfg["dropout"]))
            self.cls_score = nn.Linear(cfg["hidden"], len(CLASSES))
            self.bbox_pred = nn.Linear(cfg["hidden"], 4)
            nn.init.normal_(self.cls_score.weight, std=0.01)  # Detectron2's FastRCNNOutputLayers init
            nn.init.normal_(self.bbox_pred.weight, std=0.001)
            nn.init.zeros_(self.cls_score.bias)
            nn.init.zeros_(self.bbox_pred.bias)
            self.register_buffer("anchor", torch.tensor(ANCHOR))

        def forward(self, x: Any) -> tuple[Any, Any]:
            h = self.fc(self.backbone(x[:, None] - 0.5))
            return self.cls_score(h), self.anchor + self.bbox_pred(h)

    return Detector()


def _losses(cfg: dict[str, Any], logits: Any, boxes: Any, y: Any, b: Any) -> tuple[Any, Any]:
    """(loss_cls, loss_box_reg) of a batch: cross-entropy, and smooth-L1 summed over coordinates / images."""
    import torch
    import torch.nn.functional as F

    loss_cls = F.cross_entropy(logits, y)
    loss_box = F.smooth_l1_loss(boxes, b, beta=cfg["smooth_l1_beta"], reduction="sum") / len(y)
    if cfg["box_loss"] == "log_wh":  # the bug: log of a predicted width/height that nothing keeps positive
        wh, wh_t = boxes[:, 2:] - boxes[:, :2], b[:, 2:] - b[:, :2]
        loss_box = loss_box + F.smooth_l1_loss(torch.log(wh), torch.log(wh_t), beta=0.1, reduction="sum") / len(y)
    return loss_cls, loss_box


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of (n, 4) boxes (x0, y0, x1, y1); 0 for degenerate or non-finite predictions."""
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    area = lambda z: np.clip(z[:, 2] - z[:, 0], 0, None) * np.clip(z[:, 3] - z[:, 1], 0, None)  # noqa: E731
    union = area(a) + area(b) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return np.nan_to_num(iou, nan=0.0)


def coco_ap(scores: np.ndarray, boxes: np.ndarray, gt_cls: np.ndarray, gt_box: np.ndarray) -> dict[str, float]:
    """COCO-style AP x100 of per-(image, class) detections, one ground-truth object per image.

    ``scores`` (n, C): a detection of class c in image i when scores[i, c] >= 0.05, with box
    ``boxes[i]``. Per class and IoU threshold: detections by descending score, true positive
    when the image's object is of that class with IoU >= threshold; precision made monotone,
    read at 101 recall points. Non-finite scores count as no detection.
    """
    iou = box_iou(boxes, gt_box)
    out: dict[str, float] = {}
    per_t: dict[float, list[float]] = {t: [] for t in IOU_THRESHOLDS}
    per_c: dict[int, list[float]] = {}
    for c in range(scores.shape[1]):
        npos = int((gt_cls == c).sum())
        if npos == 0:
            continue
        s = scores[:, c]
        keep = np.flatnonzero(np.isfinite(s) & (s >= SCORE_THRESH))
        keep = keep[np.argsort(-s[keep], kind="stable")]
        for t in IOU_THRESHOLDS:
            tp = (gt_cls[keep] == c) & (iou[keep] >= t)
            ctp = np.cumsum(tp)
            recall = ctp / npos
            precision = ctp / np.arange(1, len(keep) + 1)
            precision = np.maximum.accumulate(precision[::-1])[::-1] if len(keep) else precision
            ap = 0.0
            for r in np.linspace(0, 1, 101):
                i = int(np.searchsorted(recall, r, side="left"))
                ap += float(precision[i]) if i < len(precision) else 0.0
            per_t[t].append(ap / 101)
            per_c.setdefault(c, []).append(ap / 101)
    out["AP"] = 100 * float(np.mean([v for vs in per_t.values() for v in vs]))
    out["AP50"] = 100 * float(np.mean(per_t[IOU_THRESHOLDS[0]]))
    out["AP75"] = 100 * float(np.mean(per_t[IOU_THRESHOLDS[5]]))
    for c, vs in per_c.items():
        out[f"AP-{CLASSES[c]}"] = 100 * float(np.mean(vs))
    return out


def chance_ap(d: dict[str, Any], draws: int = 20) -> float:
    """AP of the image-centre box of the mean validation box size with a uniformly random class and score."""
    rng = np.random.default_rng(12345)
    vb, vy = d["vb"], d["vy"]
    w, h = float(np.mean(vb[:, 2] - vb[:, 0])), float(np.mean(vb[:, 3] - vb[:, 1]))
    centre = np.tile([0.5 - w / 2, 0.5 - h / 2, 0.5 + w / 2, 0.5 + h / 2], (len(vy), 1))
    aps = []
    for _ in range(draws):
        scores = np.zeros((len(vy), len(CLASSES)))
        scores[np.arange(len(vy)), rng.integers(0, len(CLASSES), len(vy))] = rng.uniform(0.1, 1.0, len(vy))
        aps.append(coco_ap(scores, centre, vy, vb)["AP"])
    return float(np.mean(aps))


# --------------------------------------------------------------------------- schedule


def lr_at(cfg: dict[str, Any], it: int) -> float:
    """Detectron2's LR for iteration ``it`` (0-based): warm-up multiplier x the main schedule."""
    base, kind, warm = cfg["base_lr"], cfg["lr_scheduler_name"], cfg["warmup_iters"]
    if kind == "constant":
        return base
    factor = 1.0
    if it < warm:
        alpha = it / warm
        factor = cfg["warmup_factor"] * (1 - alpha) + alpha
    if kind == "WarmupMultiStepLR":
        return base * factor * cfg["gamma"] ** sum(it >= s for s in cfg["steps"])
    if kind == "WarmupCosineLR":
        return base * factor * 0.5 * (1 + math.cos(math.pi * it / cfg["max_iter"]))
    raise ValueError(f"unknown lr_scheduler_name {kind!r}")


def _spe(cfg: dict[str, Any]) -> int:
    """Iterations per pass over the training set (rounded; the stream never says where a pass ends)."""
    return max(1, round(cfg["n_train"] / cfg["ims_per_batch"]))


# --------------------------------------------------------------------------- training


def _evaluate(cfg: dict[str, Any], model: Any, d: dict[str, Any]) -> dict[str, float]:
    """COCO AP x100 on the validation set and the validation loss (mean over images, like training)."""
    import torch

    model.eval()
    with torch.no_grad():
        vx, vy, vb = (torch.from_numpy(d[k]) for k in ("vx", "vy", "vb"))
        logits, boxes = model(vx)
        loss_cls, loss_box = _losses(cfg, logits, boxes, vy, vb)
        scores = torch.softmax(logits, -1).numpy()
    model.train()
    res = {f"bbox/{k}": v for k, v in coco_ap(scores, boxes.numpy(), d["vy"], d["vb"]).items()}
    res["validation_loss"] = float(loss_cls + loss_box)
    return res


def _pretrain(cfg: dict[str, Any], model: Any, rng: np.random.Generator) -> None:
    """MODEL.WEIGHTS stand-in: ``pretrain_iters`` unlogged iterations (SGD 0.02, momentum 0.9) on another draw."""
    import torch

    pre = _data({**cfg, "shuffle_annotations": False, "val_domain": "same", "val_label_noise": 0.0}, rng)
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=1e-4)
    for _ in range(cfg["pretrain_iters"]):
        idx = rng.integers(0, len(pre["y"]), cfg["ims_per_batch"])
        logits, boxes = model(torch.from_numpy(pre["x"][idx]))
        loss_cls, loss_box = _losses(cfg, logits, boxes, torch.from_numpy(pre["y"][idx]),
                                     torch.from_numpy(pre["b"][idx]))
        opt.zero_grad()
        (loss_cls + loss_box).backward()
        opt.step()


def train(spec: RunSpec, run_dir: Path) -> Facts:
    import torch
    from torch.utils.tensorboard import SummaryWriter

    t0 = time.time()
    cfg = run_params(spec, DEFAULTS)
    seed_everything(spec.seed)
    rng = np.random.default_rng(spec.seed)
    d = _data(cfg, rng)
    model = _model(cfg)
    if cfg["pretrain_iters"]:
        _pretrain(cfg, model, np.random.default_rng(10_000 + spec.seed))
    opt = torch.optim.SGD(model.parameters(), lr=cfg["base_lr"], momentum=cfg["momentum"],
                          weight_decay=cfg["weight_decay"])
    max_iter, bs, window = cfg["max_iter"], cfg["ims_per_batch"], cfg["window_size"]
    eval_period = cfg["eval_period"] or _spe(cfg)
    stream = _stream(cfg, d, rng)
    corrupt = set(cfg["corrupt_iters"])
    history: dict[str, list[float]] = {k: [] for k in ("total_loss", "loss_cls", "loss_box_reg",
                                                       "fast_rcnn/cls_accuracy", "time", "data_time")}
    writer = SummaryWriter(log_dir=str(run_dir))
    for it in range(max_iter):
        start = time.perf_counter()
        idx = np.fromiter((next(stream) for _ in range(bs)), np.int64, bs)
        xb, bb = _augment(cfg, d["x"][idx], d["b"][idx], rng)
        yb = d["y"][idx]
        if it in corrupt:  # a corrupted shard: every image carries its neighbour's annotation (class and box)
            yb, bb = np.roll(yb, 1), np.roll(bb, 1, axis=0)
        x, y, b = torch.from_numpy(xb), torch.from_numpy(yb), torch.from_numpy(bb)
        data_time = time.perf_counter() - start
        lr = lr_at(cfg, it)
        for group in opt.param_groups:
            group["lr"] = lr
        logits, boxes = model(x)
        loss_cls, loss_box = _losses(cfg, logits, boxes, y, b)
        total = loss_cls + loss_box
        opt.zero_grad()
        total.backward()
        if cfg["clip_gradients"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip_gradients"])
        opt.step()
        for key, value in (("total_loss", total.item()), ("loss_cls", loss_cls.item()),
                           ("loss_box_reg", loss_box.item()),
                           ("fast_rcnn/cls_accuracy", float((logits.argmax(-1) == y).float().mean())),
                           ("time", time.perf_counter() - start), ("data_time", data_time)):
            history[key].append(value)
        last = it == max_iter - 1
        if (it + 1) % eval_period == 0 or last:  # EvalHook (the final one in after_train), then the writer
            for key, value in _evaluate(cfg, model, d).items():
                writer.add_scalar(key, value, it)
        if (it + 1) % cfg["log_period"] == 0 or last:
            for key, values in history.items():
                writer.add_scalar(key, float(np.median(values[-window:])), it)
            writer.add_scalar("lr", lr, it)
            eta = float(np.median(history["time"][-1000:])) * (max_iter - it - 1)
            writer.add_scalar("eta_seconds", eta, it)
            writer.flush()
    writer.close()
    return _facts(cfg, d, t0)


def _lr_peak(cfg: dict[str, Any]) -> float:
    return max(lr_at(cfg, it) for it in range(cfg["max_iter"]))


def _schedule_name(cfg: dict[str, Any]) -> str:
    kind = cfg["lr_scheduler_name"]
    if kind == "constant":
        return "constant"
    warm = "warmup_" if cfg["warmup_iters"] > 0 else ""
    if kind == "WarmupCosineLR":
        return f"{warm}cosine"
    if not any(s < cfg["max_iter"] for s in cfg["steps"]):
        return f"{warm}constant" if warm else "constant"
    return warm + ("step_decay" if cfg["gamma"] < 1 else "step_growth")


def _facts(cfg: dict[str, Any], d: dict[str, Any], t0: float) -> Facts:
    injected: dict[str, Any] = {k: cfg[k] for k in ("val_label_noise", "shuffle_annotations", "dropout",
                                                    "clip_gradients", "pretrain_iters") if cfg[k]}
    if cfg["order"] != "shuffle":
        injected["order"] = "training images sorted by class, the same order every pass, never shuffled"
    if cfg["val_domain"] != "same":
        injected["val_domain"] = "validation images with inverted intensities (dark objects on a light background)"
    if cfg["box_loss"] != "smooth_l1":
        injected["box_loss"] = "smooth-L1 + smooth-L1 of log(predicted x1 - x0, y1 - y0), which nothing keeps > 0"
    if cfg["corrupt_iters"]:
        injected["corrupt_iters"] = ("annotations shifted by one image within the batch at iterations "
                                     f"{cfg['corrupt_iters']}")
    if cfg["lr_scheduler_name"] == "WarmupMultiStepLR":
        injected["steps"] = cfg["steps"]
    for key in ("n_train", "n_val", "augment", "width", "hidden", "ims_per_batch", "weight_decay", "noise", "gamma",
                "warmup_iters", "window_size"):
        if cfg[key] != DEFAULTS[key]:
            injected[key] = cfg[key]
    spe = _spe(cfg)
    return Facts(
        tags={"train_loss": "total_loss", "batch_loss": "total_loss", "val_loss": "validation_loss",
              "val_metric": "bbox/AP", "lr": "lr"},
        steps={"train_loss": "step", "batch_loss": "step", "val_loss": "step", "val_metric": "step", "lr": "step"},
        task="detection",
        metric="AP",
        metric_direction="max",
        num_classes=len(CLASSES),
        chance_metric=chance_ap(d),
        epochs=max(1, round(cfg["max_iter"] / spe)),
        steps_per_epoch=spe,
        batch_size=cfg["ims_per_batch"],
        lr_peak=_lr_peak(cfg),
        schedule=_schedule_name(cfg),
        log_every_steps=cfg["log_period"],
        eval_every_steps=cfg["eval_period"] or spe,
        shuffled=cfg["order"] == "shuffle",
        injected=injected,
        seconds=round(time.time() - t0, 2),
    )


PROGRAM = Program(
    name=NAME,
    family="cnn",
    data="synthetic one-object detection (squares, discs, triangles in 24x24 grey images)",
    script="torch_loop",
    writer="torch_summarywriter",
    framework="torch",
    version=1,
    runs=runs,
    train=train,
)
