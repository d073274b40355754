"""torch_mmengine_style: a small ConvNet classifying synthetic 8x8 grey "images" of 10 classes, a plain PyTorch loop
that logs the way OpenMMLab's MMEngine (MMPretrain / MMDetection 3.x) does with ``LoggerHook``, ``LogProcessor``
and ``TensorboardVisBackend``.

Why it exists: MMEngine's TensorBoard layout is unlike any other program's. The event file
is not in the work dir but in ``<work_dir>/<timestamp>/vis_data/`` (beside LocalVisBackend's
``scalars.json``, ``<timestamp>.json`` and ``config.py``), one writer for everything, every
tag without a prefix. Training scalars are written every ``interval`` (10) iterations *of the
epoch* at step = global iteration (1-based), each loss and time the *mean over the last*
``window_size`` (10) *iterations*, while ``lr`` is the current value; validation metrics are
written after each validation epoch at step = **epoch number**, in the same file, on a
completely different step axis; the accuracy is in **percent** (0-100); there is no
validation loss; and the validation pass also writes ``time`` and ``data_time``, at its
epoch step, into the same tags as the training ones.

What was verified in MMEngine's source (github.com/open-mmlab/mmengine, HEAD 2543429 of
2025-10-27) and MMPretrain's (github.com/open-mmlab/mmpretrain):

- ``mmengine/runner/runner.py``: ``_log_dir = work_dir/<timestamp>`` (``%Y%m%d_%H%M%S``), the
  visualizer gets ``save_dir=_log_dir`` and ``add_config(cfg)`` is called at build time;
  ``mmengine/visualization/visualizer.py`` appends ``vis_data`` to ``save_dir``;
  ``mmengine/visualization/vis_backend.py``: ``TensorboardVisBackend`` opens one
  ``torch.utils.tensorboard.SummaryWriter(save_dir)``, ``add_scalars`` calls
  ``add_scalar(key, value, step)`` for every key of the dict, ``add_config`` writes the
  config as text ``config``; ``LocalVisBackend`` dumps each dict plus ``step`` as a JSON line
  to ``scalars.json`` and to the ``<timestamp>.json`` the LoggerHook names.
- ``mmengine/hooks/logger_hook.py``: ``interval`` 10, ``ignore_last`` True,
  ``log_metric_by_epoch`` True. ``after_train_iter`` logs when ``(batch_idx + 1) % interval
  == 0`` (``Hook.every_n_inner_iters``, ``mmengine/hooks/hook.py``: the index *within the
  epoch*), or at the epoch's last batch only when ``ignore_last`` is off or the epoch has <=
  ``interval`` batches, with ``step=runner.iter + 1``: with 63 batches per epoch the steps are
  10..60, 73..123, ... and the last 3 batches of every epoch are never logged.
  ``after_val_epoch`` writes the validation tag at ``step=runner.epoch`` (already incremented:
  1 after the first epoch) when ``log_metric_by_epoch``, else at ``runner.iter``.
- ``mmengine/runner/log_processor.py``: ``LogProcessor(window_size=10, by_epoch=True,
  mean_pattern=r'.*(loss|time|data_time|grad_norm).*')``; ``get_log_after_iter`` takes every
  ``train/*`` scalar of the message hub, the mean of the last ``window_size`` values for keys
  matching ``mean_pattern`` (``HistoryBuffer.mean``: one buffer for the whole run, so a
  window straddles epochs) and ``current()`` (the latest) for the others, so ``lr`` is **not**
  smoothed; it adds ``epoch`` (runner.epoch + 1) and ``iter`` (runner.iter + 1) to the tag,
  and ``memory`` (max CUDA memory, MB) only when CUDA is available. ``get_log_after_epoch``
  for ``val`` takes the ``val/*`` scalars (the metrics) plus ``time`` and ``data_time``
  averaged over the validation epoch (window ``batch_idx + 1`` = batches + 1), prefixes
  removed, so they land in the training ``time`` / ``data_time`` tags at step = epoch.
- ``mmengine/hooks/runtime_info_hook.py``: ``before_train_iter`` records ``train/lr`` (the
  optimizer's ``get_lr()``: ``lr`` of the first param group; ``base_lr`` only with paramwise
  base settings) *before* the iteration, i.e. the LR the iteration uses; ``after_train_iter``
  records every ``log_vars`` entry; ``after_val_epoch`` records the metrics as ``val/<key>``.
  ``mmengine/hooks/iter_timer_hook.py``: ``data_time`` = time from the previous iteration's
  end (or the epoch's start) to the batch, ``time`` = the whole iteration.
  ``mmengine/optim/optimizer/optimizer_wrapper.py``: ``grad_norm`` (the pre-clip total norm)
  is recorded only when ``clip_grad`` is configured; ``mmengine/optim/optimizer/base.py``
  ``get_lr``.
- ``mmengine/runner/loops.py``: ``EpochBasedTrainLoop(val_begin=1, val_interval=1)`` runs
  ``ValLoop`` when ``epoch >= val_begin`` and ``epoch % val_interval == 0`` or at the last
  epoch; ``ValLoop`` adds a validation loss only when the model's ``val_step`` returns one
  (``_update_losses``; MMPretrain's classifiers do not), so none by default.
  ``mmengine/model/base_model/base_model.py`` ``parse_losses``: ``loss`` = the sum of the
  ``*loss*`` entries; MMPretrain's ``ClsHead`` (``mmpretrain/models/heads/cls_head.py``)
  returns a single ``loss`` (and ``accuracy_top-k`` only with ``cal_acc``, off by default),
  so the training tags are ``lr, data_time, [grad_norm], loss, time, epoch, iter, [memory]``.
- ``mmengine/optim/scheduler/param_scheduler.py`` and ``Runner.build_param_scheduler``:
  ``LinearLR`` (``total_iters = end - begin - 1``: the factor reaches 1 at the last warm-up
  iteration; ``convert_to_iter_based`` multiplies begin/end by the epoch length),
  ``MultiStepLR``, ``CosineAnnealingLR`` (``T_max = end - begin``, ``end`` defaulting to
  ``max_epochs``) and ``ExponentialLR``, by-epoch ones stepped after each epoch,
  iteration-based ones after each iteration, chained multiplicatively; here computed in
  closed form per iteration.
- MMPretrain: ``mmpretrain/evaluation/metrics/single_label.py`` ``Accuracy(topk=(1, 5))``
  with default prefix ``accuracy``: keys ``accuracy/top1``, ``accuracy/top5``, computed as
  ``correct * 100 / num`` (percent); ``configs/_base_/default_runtime.py`` (LoggerHook
  interval 100, LocalVisBackend; a TensorBoard user adds ``TensorboardVisBackend``; here the
  LoggerHook default 10 is kept so that small runs have curves);
  ``configs/_base_/schedules/`` (SGD + MultiStepLR by epoch; LinearLR warm-up by iteration +
  CosineAnnealingLR by epoch for AdamW recipes). MMDetection 3.x logs with LoggerHook
  interval 50 and LogProcessor window 50 (seen in configs derived from its default runtime;
  its own repository was too large to fetch here).

Not reproduced: the text log (``<timestamp>.log``) and checkpoints; ``memory`` is written as
on a CUDA machine (this one has none), as a fixed stand-in for ``max_memory_allocated`` in MB
(``cuda_memory`` False drops it, as on a CPU-only machine). ``load_from`` (a checkpoint whose
training left no logs) is stood in for by unlogged iterations on another draw of the data.
Faithful quirks kept: the validation ``time`` / ``data_time`` points (steps 1..max_epochs)
share the training tags, and where an epoch number equals a logged training step (10, 20)
two points share the step, the validation one written last; ``epoch`` and ``iter`` are
scalar tags of their own.

Data: 10 class patterns, smooth random 8x8 fields (Gaussian blur of white noise, unit
variance) sharing half their variance with one common field (``class_similarity`` 0.5),
drawn once from a fixed seed; an image is its class pattern rolled by up to ``shift`` (1)
pixels each way, scaled by 0.7-1.3, plus Gaussian pixel noise (``noise`` 1.0). The run's
seed draws the images. Model (``ImageClassifier``-like): two 3x3 convolutions (``width``,
2x ``width`` channels, ReLU), a 2x2 max-pool, a flatten neck and a
``StackedLinearClsHead``-like head (``hidden`` units, ReLU, dropout), cross-entropy
(``CrossEntropyLoss``; soft cross-entropy under Mixup / CutMix batch augments). Default
optimiser: SGD 0.02, momentum 0.9, weight decay 1e-4, MultiStepLR x0.1 at epochs 16 and 22
of 26, 32 images per batch, 63 batches per epoch (2000 images, the last batch 16:
``drop_last`` False), a fresh permutation every epoch (``DefaultSampler``, shuffle on): the
loss goes 2.3 -> ~0.001 (the training set is memorised), top-1 ~91%. Validation: 500
images, batches of 100, top-1 and top-5 accuracy in percent (chance 10 and 50).

Runs (intent: how it is produced; numbers from the seeds below):

================================  ========================  ======================================================
run                               intent                    how
================================  ========================  ======================================================
healthy_multistep                 healthy                   the defaults: SGD 0.02, x0.1 at epochs 16 and 22 of
                                                            26; top-1 51 -> 91
healthy_warmup_cosine_adamw       healthy                   AdamW 2e-3, weight decay 0.05, LinearLR from 1e-3 over
                                                            2 epochs by iteration, then CosineAnnealingLR to 1e-5
                                                            by epoch; validation every 2 epochs: top-1 92
healthy_warmup_cosine_sgd         healthy                   SGD 0.05 after a 1-epoch LinearLR warm-up, cosine by
                                                            epoch: the loss wobbles at the top LR, top-1 94
healthy_mixup_cutmix              healthy                   Mixup (alpha 0.8) / CutMix (alpha 1) batch augments,
                                                            AdamW + warm-up cosine: the training loss stays at
                                                            ~1.1 (soft targets) while top-1 climbs to 94
healthy_tiny_val                  healthy                   30 validation images: top-1 moves in 3.3-point steps
healthy_interval50_window50       healthy                   MMDetection's logging (LoggerHook interval 50,
                                                            LogProcessor window 50), 4000 images: 2 points per
                                                            125-iteration epoch (steps 50, 100, 175, ...)
healthy_long_warmup               healthy                   a 3-epoch LinearLR warm-up from 1e-3: the loss sits
                                                            at ln 10 for the first ~60 iterations
overfit_noisy_labels              overfitting               400 images with 40% of the labels wrong, width 16,
                                                            hidden 256, AdamW 2e-3, no weight decay: top-1 peaks
                                                            at 64 (epoch 7), ends at 55 as the noise is memorised
lr_high_warmup_cosine             lr_too_high               SGD peak 0.3 (15x) after a 1-epoch warm-up, cosine by
                                                            epoch, clip_grad max_norm 1 (grad_norm logged): the
                                                            loss stalls at ~1.2-1.4 while the LR is high and
                                                            falls to 0.28 only as it anneals
diverge_exponential_lr_gamma      divergence                ExponentialLR gamma 1.3 per epoch (meant 1 / 1.3),
                                                            AdamW from 1e-3: falls to 0.14, then climbs back to
                                                            ~2.4 (finite) as the LR grows, top-1 to chance
nonfinite_manual_log_softmax      nonfinite                 hand-written cross-entropy sum(t * log(softmax(x))),
                                                            AdamW 1e-2, no weight decay: 0 x -inf once a wrong
                                                            class's probability underflows, NaN from epoch ~12
lr_small_sgd_finetune             lr_too_small              load_from a 90-iteration checkpoint, plain SGD 1e-3
                                                            without momentum: an even crawl 1.8 -> 0.93
no_learning_shuffled_labels       no_learning               the training annotations joined to the images in
                                                            another order, 4000 images, weight decay 5e-3, 10
                                                            epochs: the loss stays at ln 10, top-1 at chance
plateau_converged_long            plateau                   noise 1.6, 4000 images, width 4, hidden 16, weight
                                                            decay 1e-3, constant LR, 30 epochs: ~0.8 and flat
val_plateau_small_train_dropout   val_plateau               300 images, dropout 0.3, SGD 0.01 constant, 60
                                                            epochs: top-1 ~82 over the last third while training
                                                            keeps falling (no validation loss to judge it on)
lr_decay_too_early                lr_decay_too_early        MultiStepLR milestones 2 and 4 of 26: the loss stops
                                                            at ~0.2 from epoch 3
underfit_tiny_model               underfitting              width 1, hidden 4, noise 2.0, constant LR: levels off
                                                            at ~1.8, top-1 ~33
still_learning_short              still_learning            6 epochs, SGD 0.01 constant
unshuffled_class_sorted           unshuffled                images sorted by class, sampler shuffle off (the same
                                                            order every epoch), plain SGD 0.01, LoggerHook
                                                            interval 5 and window 5: the loss waves with the epoch
spikes_shifted_labels             loss_spikes               iterations 901-904, 1201-1204 and 1501-1504 (4 of one
                                                            10-iteration window each) train on labels shifted by
                                                            one class; clip_grad 0.5 keeps the damage small: three
                                                            one-point jumps of ~100x
noisy_batch2                      noisy                     2 images per batch, SGD 0.01, LogProcessor window 2
data_problem_val_class_map        data_problem              validation annotations written with another class
                                                            index order (a fixed derangement): top-1 falls from
                                                            10 to ~1 (below chance) as training learns
================================  ========================  ======================================================

Every run's ``params`` may be overridden (e.g. ``max_epochs``) to scale it down for a test.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._torch import seed_everything
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "torch_mmengine_style"
PATTERN_SEED = 2024  # the class patterns: one task for every run

DEFAULTS: dict[str, Any] = {
    # data (the dataset and its annotation files)
    "num_classes": 10,
    "image_size": 8,
    "class_similarity": 0.5,  # share of each class pattern's variance common to all classes
    "shift": 1,  # pattern rolled by up to this many pixels each way
    "noise": 1.0,  # pixel noise sd (patterns have unit sd)
    "n_train": 2000,
    "n_val": 500,
    "train_label_noise": 0.0,  # share of training labels replaced by another class
    "shuffle_labels": False,  # the training annotations joined to the images in another order
    "val_class_map": False,  # validation labels written with another class index order (a fixed derangement)
    "order": "shuffle",  # shuffle (DefaultSampler, a new permutation every epoch) | class_sorted (shuffle off)
    "corrupt_iters": [],  # 1-based global iterations whose batch trains on labels shifted by one class
    # model
    "width": 8,
    "hidden": 64,
    "dropout": 0.0,
    "load_from_iters": 0,  # load_from stand-in: this many unlogged SGD iterations on another draw of the data first
    "loss": "ce",  # ce (CrossEntropyLoss) | manual (sum(t * log(softmax(x))) written by hand)
    "batch_augments": "none",  # none | mixup_cutmix (ClsDataPreprocessor batch_augments)
    # optim_wrapper
    "optimizer": "SGD",  # SGD | AdamW
    "lr": 0.02,
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "clip_grad": 0.0,  # optim_wrapper clip_grad max_norm; 0 = off (then no grad_norm tag)
    "batch_size": 32,
    # param_scheduler
    "warmup_epochs": 0,  # LinearLR(start_factor, by_epoch=True, end=warmup_epochs, convert_to_iter_based=True)
    "warmup_start_factor": 1e-3,
    "scheduler": "multistep",  # multistep | cosine | exponential | constant (all by epoch)
    "milestones": [16, 22],
    "gamma": 0.1,  # MultiStepLR / ExponentialLR
    "eta_min": 1e-5,  # CosineAnnealingLR
    # train_cfg, val_dataloader
    "max_epochs": 26,
    "val_interval": 1,
    "val_batch_size": 100,
    # default_hooks.logger, log_processor, environment
    "interval": 10,  # LoggerHook
    "ignore_last": True,  # LoggerHook
    "window_size": 10,  # LogProcessor
    "cuda_memory": True,  # write LogProcessor's ``memory`` tag, as on a CUDA machine
}


def _r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
    return RunSpec(program=NAME, name=name, intent=intent, params=params, seed=seed)


def runs() -> list[RunSpec]:
    adamw_cosine = {"optimizer": "AdamW", "lr": 2e-3, "weight_decay": 0.05, "warmup_epochs": 2, "scheduler": "cosine"}
    spikes = [start + i for start in (901, 1201, 1501) for i in range(4)]  # 4 of one 10-iteration window each
    return [
        _r("healthy_multistep", "healthy", 1),
        _r("healthy_warmup_cosine_adamw", "healthy", 2, val_interval=2, **adamw_cosine),
        _r("healthy_warmup_cosine_sgd", "healthy", 3, lr=0.05, warmup_epochs=1, scheduler="cosine"),
        _r("healthy_mixup_cutmix", "healthy", 4, batch_augments="mixup_cutmix", **adamw_cosine),
        _r("healthy_tiny_val", "healthy", 5, n_val=30),
        _r("healthy_interval50_window50", "healthy", 6, interval=50, window_size=50, n_train=4000, max_epochs=16,
           milestones=[10, 14]),
        _r("healthy_long_warmup", "healthy", 22, warmup_epochs=3),
        _r("overfit_noisy_labels", "overfitting", 7, n_train=400, train_label_noise=0.4, width=16, hidden=256,
           optimizer="AdamW", lr=2e-3, weight_decay=0.0, scheduler="constant", max_epochs=40),
        _r("lr_high_warmup_cosine", "lr_too_high", 8, lr=0.3, warmup_epochs=1, scheduler="cosine", eta_min=0.0,
           clip_grad=1.0),
        _r("diverge_exponential_lr_gamma", "divergence", 9, optimizer="AdamW", lr=1e-3, weight_decay=0.0,
           scheduler="exponential", gamma=1.3),
        _r("nonfinite_manual_log_softmax", "nonfinite", 10, loss="manual", optimizer="AdamW", lr=1e-2,
           weight_decay=0.0, scheduler="constant"),
        _r("lr_small_sgd_finetune", "lr_too_small", 11, load_from_iters=90, lr=1e-3, momentum=0.0,
           scheduler="constant"),
        _r("no_learning_shuffled_labels", "no_learning", 12, shuffle_labels=True, n_train=4000, weight_decay=5e-3,
           max_epochs=10),
        _r("plateau_converged_long", "plateau", 13, noise=1.6, n_train=4000, width=4, hidden=16, weight_decay=1e-3,
           scheduler="constant", max_epochs=30),
        _r("val_plateau_small_train_dropout", "val_plateau", 14, n_train=300, dropout=0.3, lr=0.01,
           scheduler="constant", max_epochs=60),
        _r("lr_decay_too_early", "lr_decay_too_early", 15, milestones=[2, 4]),
        _r("underfit_tiny_model", "underfitting", 16, width=1, hidden=4, noise=2.0, scheduler="constant"),
        _r("still_learning_short", "still_learning", 17, lr=0.01, scheduler="constant", max_epochs=6),
        _r("unshuffled_class_sorted", "unshuffled", 18, order="class_sorted", lr=0.01, momentum=0.0,
           scheduler="constant", interval=5, window_size=5),
        _r("spikes_shifted_labels", "loss_spikes", 19, corrupt_iters=spikes, clip_grad=0.5, scheduler="constant"),
        _r("noisy_batch2", "noisy", 20, batch_size=2, window_size=2, lr=0.01, scheduler="constant", n_train=1000,
           max_epochs=3),
        _r("data_problem_val_class_map", "data_problem", 21, val_class_map=True),
    ]


# --------------------------------------------------------------------------- data


def class_patterns(cfg: dict[str, Any]) -> np.ndarray:
    """(C, size, size) unit-variance smooth fields, a share ``class_similarity`` of their variance in common."""
    from scipy import ndimage

    rng = np.random.default_rng(PATTERN_SEED)
    size, rho = cfg["image_size"], cfg["class_similarity"]

    def field() -> np.ndarray:
        f = ndimage.gaussian_filter(rng.normal(size=(size, size)), 1.0, mode="wrap")
        return (f - f.mean()) / f.std()

    common = field()
    return np.stack([math.sqrt(1 - rho) * field() + math.sqrt(rho) * common for _ in range(cfg["num_classes"])])


def _draw(cfg: dict[str, Any], patterns: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    y = rng.integers(0, len(patterns), n)
    dy, dx = rng.integers(-cfg["shift"], cfg["shift"] + 1, (2, n))
    x = np.stack([np.roll(patterns[c], (a, b), (0, 1)) for c, a, b in zip(y, dy, dx, strict=True)])
    x = x * rng.uniform(0.7, 1.3, (n, 1, 1)) + rng.normal(0.0, cfg["noise"], x.shape)
    return x.astype(np.float32), y.astype(np.int64)


def derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation of range(n) that moves every index (another class order for every class)."""
    while True:
        p = rng.permutation(n)
        if not np.any(p == np.arange(n)):
            return p


def _data(cfg: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    patterns = class_patterns(cfg)
    x, y = _draw(cfg, patterns, cfg["n_train"], rng)
    vx, vy = _draw(cfg, patterns, cfg["n_val"], rng)
    c = cfg["num_classes"]
    if cfg["train_label_noise"]:
        bad = rng.random(len(y)) < cfg["train_label_noise"]
        y[bad] = (y[bad] + rng.integers(1, c, int(bad.sum()))) % c  # another class, uniformly
    if cfg["shuffle_labels"]:
        y = y[rng.permutation(len(y))]  # the bug: annotations joined to the images in another order
    if cfg["val_class_map"]:
        vy = derangement(c, rng)[vy]
    if cfg["order"] == "class_sorted":
        keep = np.argsort(y, kind="stable")
        x, y = x[keep], y[keep]
    return {"x": x, "y": y, "vx": vx, "vy": vy}


def _mixup_cutmix(x: Any, target: Any, rng: np.random.Generator) -> tuple[Any, Any]:
    """MMPretrain's RandomBatchAugment of Mixup(alpha=0.8) and CutMix(alpha=1.0): one of the two per batch."""
    import torch

    n, size = x.shape[0], x.shape[-1]
    perm = torch.from_numpy(rng.permutation(n))
    if rng.random() < 0.5:
        lam = float(rng.beta(0.8, 0.8))
        return lam * x + (1 - lam) * x[perm], lam * target + (1 - lam) * target[perm]
    lam = float(rng.beta(1.0, 1.0))
    cut = int(size * math.sqrt(1 - lam))
    cy, cx = rng.integers(0, size, 2)
    y0, y1 = max(cy - cut // 2, 0), min(cy + cut - cut // 2, size)
    x0, x1 = max(cx - cut // 2, 0), min(cx + cut - cut // 2, size)
    x = x.clone()
    x[:, y0:y1, x0:x1] = x[perm, y0:y1, x0:x1]
    lam = 1 - (y1 - y0) * (x1 - x0) / size**2
    return x, lam * target + (1 - lam) * target[perm]


# --------------------------------------------------------------------------- model, loss


def _model(cfg: dict[str, Any]) -> Any:
    import torch.nn as nn

    w, size = cfg["width"], cfg["image_size"]

    class ImageClassifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = nn.Sequential(nn.Conv2d(1, w, 3, padding=1), nn.ReLU(),
                                          nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
            self.neck = nn.Flatten()
            self.head = nn.Sequential(nn.Linear(2 * w * (size // 2) ** 2, cfg["hidden"]), nn.ReLU(),
                                      nn.Dropout(cfg["dropout"]), nn.Linear(cfg["hidden"], cfg["num_classes"]))

        def forward(self, x: Any) -> Any:
            return self.head(self.neck(self.backbone(x[:, None])))

    return ImageClassifier()


def _loss(cfg: dict[str, Any], logits: Any, target: Any) -> Any:
    """Cross-entropy against (soft) one-hot targets: stable, or hand-written with log(softmax) (0 x -inf = NaN)."""
    import torch

    if cfg["loss"] == "manual":
        return -(target * torch.log(torch.softmax(logits, -1))).sum(-1).mean()
    return -(target * torch.log_softmax(logits, -1)).sum(-1).mean()


def topk_accuracy(logits: Any, y: Any, ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """MMPretrain's Accuracy: share of samples whose label is among the top-k scores, x100, as a float32 item."""
    top = logits.topk(max(ks), dim=-1).indices
    hit = top == y[:, None]
    return {f"accuracy/top{k}": float(hit[:, :k].any(-1).float().sum().mul_(100.0 / len(y)).item()) for k in ks}


# --------------------------------------------------------------------------- schedule


def _spe(cfg: dict[str, Any]) -> int:
    return -(-cfg["n_train"] // cfg["batch_size"])  # drop_last False


def lr_at(cfg: dict[str, Any], it: int, spe: int) -> float:
    """The LR of 0-based global iteration ``it``: MMEngine's schedulers chained, in closed form."""
    base, kind, epoch = cfg["lr"], cfg["scheduler"], it // spe
    warm_iters = cfg["warmup_epochs"] * spe
    factor = 1.0
    if warm_iters > 1:  # LinearLR, by iteration: total_iters = end - begin - 1
        start = cfg["warmup_start_factor"]
        factor = start + (1 - start) * min(it, warm_iters - 1) / (warm_iters - 1)
    if kind == "constant":
        return base * factor
    if kind == "multistep":
        return base * factor * cfg["gamma"] ** sum(epoch >= m for m in cfg["milestones"])
    if kind == "exponential":
        return base * factor * cfg["gamma"] ** epoch
    if kind == "cosine":  # begin = end of the warm-up, T_max = max_epochs - begin
        begin, eta_min = cfg["warmup_epochs"], cfg["eta_min"]
        if epoch < begin:
            return base * factor
        t_max = cfg["max_epochs"] - begin
        return eta_min + (base - eta_min) * (1 + math.cos(math.pi * (epoch - begin) / t_max)) / 2
    raise ValueError(f"unknown scheduler {kind!r}")


# --------------------------------------------------------------------------- training


def _timestamp(seed: int) -> str:
    """A fixed stand-in for the runner's start time (``%Y%m%d_%H%M%S``), so that the tags are the same every time."""
    day, rest = divmod(seed * 7919, 28)
    return f"202503{day % 28 + 1:02d}_{9 + rest % 10:02d}{(seed * 13) % 60:02d}{(seed * 29) % 60:02d}"


def _config_text(cfg: dict[str, Any]) -> str:
    sched: list[str] = []
    if cfg["warmup_epochs"]:
        sched.append(f"dict(type='LinearLR', start_factor={cfg['warmup_start_factor']}, by_epoch=True, begin=0, "
                     f"end={cfg['warmup_epochs']}, convert_to_iter_based=True)")
    kind = cfg["scheduler"]
    if kind == "multistep":
        sched.append(f"dict(type='MultiStepLR', by_epoch=True, milestones={cfg['milestones']}, gamma={cfg['gamma']})")
    elif kind == "exponential":
        sched.append(f"dict(type='ExponentialLR', by_epoch=True, gamma={cfg['gamma']})")
    elif kind == "cosine":
        sched.append(f"dict(type='CosineAnnealingLR', eta_min={cfg['eta_min']}, by_epoch=True, "
                     f"begin={cfg['warmup_epochs']})")
    opt = f"dict(type='{cfg['optimizer']}', lr={cfg['lr']}, weight_decay={cfg['weight_decay']}"
    opt += f", momentum={cfg['momentum']})" if cfg["optimizer"] == "SGD" else ")"
    clip = f", clip_grad=dict(max_norm={cfg['clip_grad']})" if cfg["clip_grad"] else ""
    return "\n".join([
        "default_scope = 'mmpretrain'",
        f"model = dict(type='ImageClassifier', backbone=dict(type='TinyConvNet', width={cfg['width']}), "
        f"head=dict(type='StackedLinearClsHead', num_classes={cfg['num_classes']}, mid_channels=[{cfg['hidden']}], "
        f"dropout_rate={cfg['dropout']}, loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))",
        f"train_dataloader = dict(batch_size={cfg['batch_size']}, "
        f"sampler=dict(type='DefaultSampler', shuffle={cfg['order'] == 'shuffle'}))",
        f"val_dataloader = dict(batch_size={cfg['val_batch_size']}, "
        "sampler=dict(type='DefaultSampler', shuffle=False))",
        "val_evaluator = dict(type='Accuracy', topk=(1, 5))",
        f"optim_wrapper = dict(optimizer={opt}{clip})",
        f"param_scheduler = [{', '.join(sched)}]",
        f"train_cfg = dict(by_epoch=True, max_epochs={cfg['max_epochs']}, val_interval={cfg['val_interval']})",
        f"default_hooks = dict(logger=dict(type='LoggerHook', interval={cfg['interval']}))",
        f"log_processor = dict(window_size={cfg['window_size']}, by_epoch=True)",
        "vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]",
        "visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)",
    ]) + "\n"


class _Visualizer:
    """The runner's visualizer with LocalVisBackend and TensorboardVisBackend, both in ``<log_dir>/vis_data``."""

    def __init__(self, save_dir: Path, timestamp: str, config: str) -> None:
        from torch.utils.tensorboard import SummaryWriter

        save_dir.mkdir(parents=True)
        self.tb = SummaryWriter(str(save_dir))
        self.tb.add_text("config", config)
        (save_dir / "config.py").write_text(config)
        self.files = [save_dir / "scalars.json", save_dir / f"{timestamp}.json"]

    def add_scalars(self, tag: dict[str, float | int], step: int) -> None:
        for key, value in tag.items():
            self.tb.add_scalar(key, value, step)
        line = json.dumps({**tag, "step": step}) + "\n"
        for f in self.files:
            with f.open("a") as fh:
                fh.write(line)

    def close(self) -> None:
        self.tb.close()


def _memory_mb(cfg: dict[str, Any], model: Any) -> int:
    """Stand-in for ``torch.cuda.max_memory_allocated`` in MB: weights, gradients and optimiser state, plus a batch."""
    params = sum(p.numel() for p in model.parameters())
    acts = cfg["batch_size"] * 4 * cfg["width"] * cfg["image_size"] ** 2
    return max(1, math.ceil(4 * (4 * params + 4 * acts) / 2**20))


def _validate(cfg: dict[str, Any], model: Any, d: dict[str, Any], val_hist: dict[str, list[float]]) -> dict[str, Any]:
    """ValLoop + Accuracy(topk=(1, 5)); the tag LogProcessor.get_log_after_epoch builds from it."""
    import torch

    model.eval()
    bs = cfg["val_batch_size"]
    batches = -(-len(d["vy"]) // bs)
    t = time.time()  # IterTimerHook: before_val_epoch
    outs = []
    with torch.no_grad():
        for b in range(batches):
            xb = torch.from_numpy(d["vx"][b * bs : (b + 1) * bs])
            val_hist["data_time"].append(time.time() - t)
            outs.append(model(xb))
            val_hist["time"].append(time.time() - t)
            t = time.time()
    model.train()
    tag: dict[str, Any] = topk_accuracy(torch.cat(outs), torch.from_numpy(d["vy"]))
    window = batches + 1  # window_size 'epoch' = batch_idx + 1 with batch_idx = len(val_dataloader)
    tag["data_time"] = float(np.mean(val_hist["data_time"][-window:]))
    tag["time"] = float(np.mean(val_hist["time"][-window:]))
    return tag


def _load_from(cfg: dict[str, Any], model: Any, rng: np.random.Generator) -> None:
    """``load_from`` stand-in: ``load_from_iters`` unlogged iterations on another draw of the data (SGD, momentum
    0.9, the LR falling linearly from 0.02 to 0: a finished short schedule, not a snapshot taken mid-step)."""
    import torch
    import torch.nn.functional as F

    plain = {**cfg, "train_label_noise": 0.0, "shuffle_labels": False, "val_class_map": False, "order": "shuffle"}
    pre = _data(plain, rng)
    x, y = torch.from_numpy(pre["x"]), torch.from_numpy(pre["y"])
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=1e-4)
    total, bs = cfg["load_from_iters"], cfg["batch_size"]
    for it in range(total):
        idx = torch.from_numpy(rng.integers(0, len(y), bs))
        opt.param_groups[0]["lr"] = 0.02 * (1 - it / total)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()


def train(spec: RunSpec, run_dir: Path) -> Facts:
    import torch
    import torch.nn.functional as F

    t0 = time.time()
    cfg = run_params(spec, DEFAULTS)
    seed_everything(spec.seed)
    rng = np.random.default_rng(spec.seed)
    d = _data(cfg, rng)
    model = _model(cfg)
    if cfg["load_from_iters"]:
        _load_from(cfg, model, np.random.default_rng(10_000 + spec.seed))
    if cfg["optimizer"] == "SGD":
        opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                              weight_decay=cfg["weight_decay"])
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    timestamp = _timestamp(spec.seed)
    vis = _Visualizer(run_dir / timestamp / "vis_data", timestamp, _config_text(cfg))
    spe, bs, c = _spe(cfg), cfg["batch_size"], cfg["num_classes"]
    interval, window = cfg["interval"], cfg["window_size"]
    memory = _memory_mb(cfg, model)
    corrupt = set(cfg["corrupt_iters"])
    hist: dict[str, list[float]] = {"data_time": [], "grad_norm": [], "loss": [], "time": []}
    val_hist: dict[str, list[float]] = {"data_time": [], "time": []}
    x_all, y_all = torch.from_numpy(d["x"]), torch.from_numpy(d["y"])
    it = 0
    for epoch in range(cfg["max_epochs"]):
        order = np.arange(len(d["y"])) if cfg["order"] == "class_sorted" else rng.permutation(len(d["y"]))
        t = time.time()  # IterTimerHook: before_train_epoch
        for b in range(spe):
            idx = torch.from_numpy(order[b * bs : (b + 1) * bs])
            xb, yb = x_all[idx], y_all[idx]
            if it + 1 in corrupt:  # a shard whose annotations are off by one class
                yb = (yb + 1) % c
            target = F.one_hot(yb, c).float()
            if cfg["batch_augments"] == "mixup_cutmix":
                xb, target = _mixup_cutmix(xb, target, rng)
            lr = lr_at(cfg, it, spe)  # RuntimeInfoHook.before_train_iter records it
            for group in opt.param_groups:
                group["lr"] = lr
            hist["data_time"].append(time.time() - t)
            loss = _loss(cfg, model(xb), target)
            opt.zero_grad()
            loss.backward()
            if cfg["clip_grad"]:
                hist["grad_norm"].append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip_grad"])))
            opt.step()
            hist["loss"].append(loss.item())
            hist["time"].append(time.time() - t)
            t = time.time()
            last = b + 1 == spe
            if (b + 1) % interval == 0 or (last and (not cfg["ignore_last"] or spe <= interval)):
                tag: dict[str, Any] = {"lr": lr}
                for key in ("data_time", "grad_norm", "loss", "time"):
                    if hist[key]:
                        tag[key] = float(np.mean(hist[key][-window:]))  # HistoryBuffer.mean(window_size)
                tag |= {"epoch": epoch + 1, "iter": it + 1}
                if cfg["cuda_memory"]:
                    tag["memory"] = memory
                vis.add_scalars(tag, step=it + 1)
            it += 1
        done = epoch + 1  # runner.epoch after the epoch
        if done % cfg["val_interval"] == 0 or done == cfg["max_epochs"]:
            vis.add_scalars(_validate(cfg, model, d, val_hist), step=done)
    vis.close()
    return _facts(cfg, spe, timestamp, t0)


def _lr_peak(cfg: dict[str, Any], spe: int) -> float:
    return max(lr_at(cfg, it, spe) for it in range(cfg["max_epochs"] * spe))


def _schedule_name(cfg: dict[str, Any]) -> str:
    warm = "warmup_" if cfg["warmup_epochs"] else ""
    kind = cfg["scheduler"]
    if kind == "multistep":
        kind = "step_decay" if any(m < cfg["max_epochs"] for m in cfg["milestones"]) else "constant"
    if kind == "exponential":
        kind = "exponential_growth" if cfg["gamma"] > 1 else "exponential_decay"
    return warm + kind


def _facts(cfg: dict[str, Any], spe: int, timestamp: str, t0: float) -> Facts:
    injected: dict[str, Any] = {k: cfg[k] for k in ("train_label_noise", "shuffle_labels", "dropout", "clip_grad",
                                                    "load_from_iters") if cfg[k]}
    if cfg["order"] != "shuffle":
        injected["order"] = "training images sorted by class, sampler shuffle off: the same order every epoch"
    if cfg["val_class_map"]:
        injected["val_class_map"] = "validation labels written with another class index order (a derangement)"
    if cfg["loss"] == "manual":
        injected["loss"] = "hand-written cross-entropy sum(t * log(softmax(x))): 0 x -inf once a probability underflows"
    if cfg["corrupt_iters"]:
        injected["corrupt_iters"] = f"labels shifted by one class at iterations {cfg['corrupt_iters']}"
    if cfg["batch_augments"] != "none":
        injected["batch_augments"] = "Mixup(alpha=0.8) / CutMix(alpha=1.0), soft targets"
    for key in ("n_train", "n_val", "noise", "width", "hidden", "batch_size", "optimizer", "lr", "momentum",
                "weight_decay", "milestones", "gamma", "interval", "window_size", "val_interval"):
        if cfg[key] != DEFAULTS[key]:
            injected[key] = cfg[key]
    vis = f"{timestamp}/vis_data/"
    return Facts(
        tags={"train_loss": vis + "loss", "batch_loss": vis + "loss", "val_metric": vis + "accuracy/top1",
              "lr": vis + "lr"},
        steps={"train_loss": "step", "batch_loss": "step", "val_metric": "epoch", "lr": "step"},
        task="classification",
        metric="accuracy",
        metric_direction="max",
        num_classes=cfg["num_classes"],
        chance_metric=100.0 / cfg["num_classes"],  # percent, like the metric
        epochs=cfg["max_epochs"],
        steps_per_epoch=spe,
        batch_size=cfg["batch_size"],
        lr_peak=_lr_peak(cfg, spe),
        schedule=_schedule_name(cfg),
        log_every_steps=cfg["interval"],
        eval_every_steps=spe * cfg["val_interval"],
        shuffled=cfg["order"] == "shuffle",
        injected=injected,
        seconds=round(time.time() - t0, 2),
    )


PROGRAM = Program(
    name=NAME,
    family="cnn",
    data="synthetic 8x8 grey pattern images, 10 classes",
    script="mmengine_style",
    writer="torch_summarywriter",
    framework="torch",
    version=2,
    runs=runs,
    train=train,
)
