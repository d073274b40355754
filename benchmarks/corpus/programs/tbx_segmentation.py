"""tbx_segmentation: a small fully convolutional net segmenting synthetic shapes, a PyTorch loop, tensorboardX.

Why it exists: segmentation scripts log differently from classifiers: a per-step
``train/loss`` (step = global step) next to per-epoch ``val/loss``, ``val/iou`` and
``val/dice`` (step = epoch index, so two step axes live in one run), metrics where
higher is better and chance is not 1/num_classes, plus ``add_image`` previews
(non-scalar data in the event file). Written with tensorboardX's ``SummaryWriter``
straight into the run folder, as many older repositories do.

Data: 24x24 grey images holding 0-3 discs/rectangles (10% empty by default) over a
smooth background gradient plus Gaussian noise; the mask is the union of the shapes.
512 training / 128 validation images. Loss: BCE-with-logits (optionally + soft Dice).

Runs (intent: how it is produced):

==============================  ===========================  ==================================================
run                             intent                       how
==============================  ===========================  ==================================================
healthy_adam_bce                healthy                      Adam 1e-3, BCE, 30 epochs
healthy_bce_dice_cosine         healthy                      BCE + soft Dice, cosine annealing, 40 epochs
healthy_aug_dropout             healthy                      flips/rot90 + pixel noise + Dropout2d: val loss
                                                             below train loss
healthy_small_val               healthy                      8 validation images: val curves jump
healthy_sgd_step_decay          healthy                      SGD momentum 0.9, StepLR x0.2 every 15 epochs
overfit_small_train             overfitting                  24 training images, 32-channel net, 150 epochs
lr_high_adam                    lr_too_high                  Adam 0.05, StepLR x0.02 at epoch 20
diverge_sgd_momentum            divergence                   SGD momentum 0.99, lr 0.3
nonfinite_batch_pos_weight      nonfinite                    class-balance pos_weight = negatives/positives of
                                                             the batch: inf on an all-background batch -> NaN
lr_small                        lr_too_small                 Adam 1e-6
no_learning_mask_mismatch       no_learning                  masks paired with the wrong images (file lists
                                                             sorted differently)
underfit_pointwise              underfitting                 1x1 convolutions only: per-pixel thresholding
still_learning_sgd              still_learning               SGD lr 0.02 without momentum, 8 epochs
data_problem_val_inverted       data_problem                 validation images with inverted contrast
val_better_heavy_noise          val_better_than_train        pixel noise sd 1.0 added to training images only
mismatch_small_train_bce        best_checkpoint_mismatch     64 training images, 80 epochs: val BCE turns up
                                                             while IoU still rises
spikes_inverted_masks           loss_spikes                  4 one-off batches with inverted masks
noisy_batch2                    noisy                        batch size 2, SGD lr 0.05, per-step loss
mismatch_bottleneck_96          best_checkpoint_mismatch     dense bottleneck, 96 training images, 60 epochs
noisy_batch2_noisy_images       noisy                        pixel noise 1.2, batch size 2, SGD lr 0.1,
                                                             16 validation images
mismatch_bottleneck_64          best_checkpoint_mismatch     dense bottleneck, 64 training images, batch size 8,
                                                             50 epochs
mismatch_bottleneck_128_wide    best_checkpoint_mismatch     dense bottleneck of 512, 128 training images, Adam
                                                             5e-4, 60 epochs
==============================  ===========================  ==================================================

Every run's ``params`` may be overridden (e.g. ``epochs``) to scale it down for a test.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._torch import seed_everything
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "tbx_segmentation"
SIZE = 24

DEFAULTS: dict[str, Any] = {
    "n_train": 512,
    "n_val": 128,
    "noise": 0.6,
    "p_empty": 0.1,
    "width": 16,
    "arch": "fcn",  # fcn | pointwise (1x1 convolutions only) | bottleneck (dense layer in the middle)
    "bottleneck": 256,
    "dropout2d": 0.0,
    "optimizer": "adam",
    "lr": 1e-3,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "batch_size": 16,
    "epochs": 30,
    "schedule": "constant",  # constant | cosine | step
    "step_size": 15,
    "gamma": 0.2,
    "dice": False,
    "augment": False,  # flips / rot90
    "train_noise": 0.0,  # extra pixel noise on training images
    "batch_pos_weight": False,
    "mask_mismatch": False,
    "val_inverted": False,
    "invert_steps": [],
    "image_every": 10,
}


def _r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
    return RunSpec(program=NAME, name=name, intent=intent, params=params, seed=seed)


def runs() -> list[RunSpec]:
    return [
        _r("healthy_adam_bce", "healthy", 1),
        _r("healthy_bce_dice_cosine", "healthy", 2, dice=True, schedule="cosine", epochs=40, lr=2e-3),
        _r("healthy_aug_dropout", "healthy", 3, augment=True, train_noise=0.4, dropout2d=0.2, epochs=40),
        _r("healthy_small_val", "healthy", 4, n_val=8),
        _r("healthy_sgd_step_decay", "healthy", 5, optimizer="sgd", lr=0.05, schedule="step", step_size=15,
           epochs=45),
        _r("overfit_small_train", "overfitting", 6, arch="bottleneck", n_train=24, epochs=150, batch_size=8),
        _r("plateau_narrow_noisy", "plateau", 7, width=8, noise=1.0, lr=3e-3, epochs=50),
        _r("diverge_sgd_momentum", "divergence", 8, optimizer="sgd", lr=0.3, momentum=0.99, epochs=20),
        _r("nonfinite_batch_pos_weight", "nonfinite", 20, batch_pos_weight=True, p_empty=0.35, batch_size=8,
           epochs=40),
        _r("lr_small", "lr_too_small", 10, lr=1e-6, epochs=20),
        _r("no_learning_mask_mismatch", "no_learning", 11, mask_mismatch=True, epochs=25),
        _r("underfit_pointwise", "underfitting", 12, arch="pointwise", epochs=30),
        _r("still_learning_sgd", "still_learning", 13, optimizer="sgd", lr=0.01, epochs=6),
        _r("data_problem_val_inverted", "data_problem", 14, val_inverted=True, epochs=25),
        _r("val_better_heavy_noise", "val_better_than_train", 15, train_noise=1.0, epochs=30),
        _r("mismatch_bottleneck_bce", "best_checkpoint_mismatch", 16, arch="bottleneck", n_train=128, epochs=60),
        _r("spikes_inverted_masks", "loss_spikes", 17, invert_steps=[250, 555, 780, 1010], epochs=40),
        _r("noisy_batch2", "noisy", 18, optimizer="sgd", lr=0.05, batch_size=2, n_train=256, epochs=10),
        # added for the dev set's rarer codes
        _r("mismatch_bottleneck_96", "best_checkpoint_mismatch", 31, arch="bottleneck", n_train=96, epochs=60),
        _r("noisy_batch2_noisy_images", "noisy", 36, noise=1.2, optimizer="sgd", lr=0.1, batch_size=2, n_train=256,
           n_val=16, epochs=10),
        _r("mismatch_bottleneck_64", "best_checkpoint_mismatch", 37, arch="bottleneck", n_train=64, batch_size=8,
           epochs=50),
        _r("mismatch_bottleneck_128_wide", "best_checkpoint_mismatch", 38, arch="bottleneck", n_train=128,
           bottleneck=512, lr=5e-4, epochs=60),
    ]


def _images(n: int, cfg: dict[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shapes of intensity ~1 over a smooth gradient, plus noise; mask = union of the shapes."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    imgs = np.zeros((n, 1, SIZE, SIZE), np.float32)
    masks = np.zeros((n, 1, SIZE, SIZE), np.float32)
    for i in range(n):
        m = np.zeros((SIZE, SIZE), bool)
        k = 0 if rng.random() < cfg["p_empty"] else int(rng.integers(1, 4))
        for _ in range(k):
            cy, cx = rng.uniform(3, SIZE - 3, 2)
            if rng.random() < 0.5:
                r = rng.uniform(2.0, 5.0)
                m |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            else:
                h, w = rng.uniform(2.0, 5.0, 2)
                m |= (np.abs(yy - cy) <= h) & (np.abs(xx - cx) <= w)
        gy, gx = rng.normal(0, 0.02, 2)
        background = gy * (yy - SIZE / 2) + gx * (xx - SIZE / 2)
        imgs[i, 0] = background + m * rng.uniform(0.8, 1.2) + cfg["noise"] * rng.normal(size=(SIZE, SIZE))
        masks[i, 0] = m
    return imgs, masks


def _model(cfg: dict[str, Any]) -> Any:
    import torch.nn as nn

    w = cfg["width"]
    if cfg["arch"] == "pointwise":
        return nn.Sequential(nn.Conv2d(1, w, 1), nn.ReLU(), nn.Conv2d(w, w, 1), nn.ReLU(), nn.Conv2d(w, 1, 1))
    if cfg["arch"] == "bottleneck":
        # an encoder-decoder whose middle is a dense layer: sees the whole image, can memorise a small set
        q = SIZE // 4
        return nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(w * q * q, cfg["bottleneck"]), nn.ReLU(),
            nn.Linear(cfg["bottleneck"], w * q * q), nn.ReLU(), nn.Unflatten(1, (w, q, q)),
            nn.Upsample(scale_factor=4, mode="nearest"),
            nn.Conv2d(w, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, 1, 1),
        )
    return nn.Sequential(
        nn.Conv2d(1, w // 2, 3, padding=1), nn.ReLU(),
        nn.Conv2d(w // 2, w, 3, padding=1), nn.ReLU(),
        nn.Dropout2d(cfg["dropout2d"]),
        nn.Conv2d(w, w, 3, padding=2, dilation=2), nn.ReLU(),
        nn.Conv2d(w, 1, 1),
    )


def _loss(cfg: dict[str, Any], logits: Any, target: Any) -> Any:
    import torch
    import torch.nn.functional as F

    if cfg["batch_pos_weight"]:
        # class balance from the batch: negatives / positives (no guard for a batch without foreground)
        pos = target.sum()
        pos_weight = (target.numel() - pos) / pos
        loss = F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)
    else:
        loss = F.binary_cross_entropy_with_logits(logits, target)
    if cfg["dice"]:
        p = torch.sigmoid(logits)
        inter = (p * target).sum((1, 2, 3))
        dice = (2 * inter + 1.0) / (p.sum((1, 2, 3)) + target.sum((1, 2, 3)) + 1.0)
        loss = loss + (1 - dice).mean()
    return loss


def _augment(xb: Any, yb: Any, gen: Any) -> tuple[Any, Any]:
    import torch

    k = int(torch.randint(0, 4, (1,), generator=gen))
    xb, yb = torch.rot90(xb, k, (2, 3)), torch.rot90(yb, k, (2, 3))
    if bool(torch.randint(0, 2, (1,), generator=gen)):
        xb, yb = torch.flip(xb, (3,)), torch.flip(yb, (3,))
    return xb, yb


def _validate(cfg: dict[str, Any], model: Any, xv: Any, yv: Any) -> tuple[float, float, float, Any]:
    """Val loss (the training loss without any injected weighting), IoU and Dice over the whole set at 0.5."""
    import torch

    model.eval()
    with torch.no_grad():
        logits = model(xv)
        loss = float(_loss({**cfg, "batch_pos_weight": False}, logits, yv))
        pred = (logits > 0).float()
    model.train()
    inter = float((pred * yv).sum())
    union = float(((pred + yv) > 0).float().sum())
    total = float(pred.sum() + yv.sum())
    iou = inter / union if union else 1.0
    dice = 2 * inter / total if total else 1.0
    return loss, iou, dice, torch.sigmoid(logits[:4])


def _scheduler(cfg: dict[str, Any], opt: Any) -> Any:
    from torch.optim import lr_scheduler

    if cfg["schedule"] == "cosine":
        return lr_scheduler.CosineAnnealingLR(opt, T_max=cfg["epochs"])
    if cfg["schedule"] == "step":
        return lr_scheduler.StepLR(opt, step_size=cfg["step_size"], gamma=cfg["gamma"])
    return None


def train(spec: RunSpec, run_dir: Path) -> Facts:
    import logging

    import torch
    from tensorboardX import SummaryWriter

    logging.getLogger("tensorboardX.x2num").setLevel(logging.ERROR)  # one warning per NaN scalar otherwise
    t0 = time.time()
    cfg = run_params(spec, DEFAULTS)
    seed_everything(spec.seed)
    rng = np.random.default_rng(spec.seed)
    x_tr, m_tr = _images(cfg["n_train"], cfg, rng)
    x_va, m_va = _images(cfg["n_val"], cfg, rng)
    if cfg["mask_mismatch"]:
        m_tr, m_va = m_tr[rng.permutation(len(m_tr))], m_va[rng.permutation(len(m_va))]
    if cfg["val_inverted"]:
        x_va = 1.0 - x_va
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(m_tr)
    xv, yv = torch.from_numpy(x_va), torch.from_numpy(m_va)
    model = _model(cfg)
    if cfg["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                              weight_decay=cfg["weight_decay"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    sched = _scheduler(cfg, opt)
    gen = torch.Generator().manual_seed(spec.seed)
    bs = cfg["batch_size"]
    spe = -(-len(yt) // bs)
    inverts = set(cfg["invert_steps"])
    writer = SummaryWriter(logdir=str(run_dir))
    step = 0
    for epoch in range(cfg["epochs"]):
        writer.add_scalar("train/lr", opt.param_groups[0]["lr"], epoch)
        order = torch.randperm(len(yt), generator=gen)
        for b in range(spe):
            idx = order[b * bs : (b + 1) * bs]
            xb, yb = xt[idx], yt[idx]
            if cfg["augment"]:
                xb, yb = _augment(xb, yb, gen)
            if cfg["train_noise"]:
                xb = xb + cfg["train_noise"] * torch.randn(xb.shape, generator=gen)
            if step in inverts:
                yb = 1.0 - yb  # a batch from an export with inverted masks, this step only
            loss = _loss(cfg, model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            writer.add_scalar("train/loss", loss.item(), step)
            step += 1
        val_loss, iou, dice, preview = _validate(cfg, model, xv, yv)
        writer.add_scalar("val/loss", val_loss, epoch)
        writer.add_scalar("val/iou", iou, epoch)
        writer.add_scalar("val/dice", dice, epoch)
        if cfg["image_every"] and (epoch + 1) % cfg["image_every"] == 0:
            writer.add_image("val/prediction", torch.cat(list(preview), dim=2).numpy(), epoch)
        if sched is not None:
            sched.step()
    writer.close()
    return _facts(cfg, m_va, spe, t0)


def _facts(cfg: dict[str, Any], m_va: np.ndarray, spe: int, t0: float) -> Facts:
    injected: dict[str, Any] = {k: cfg[k] for k in ("batch_pos_weight", "mask_mismatch", "val_inverted",
                                                    "invert_steps", "train_noise") if cfg[k]}
    for key in ("n_train", "n_val", "p_empty", "arch"):
        if cfg[key] != DEFAULTS[key]:
            injected[key] = cfg[key]
    return Facts(
        tags={"train_loss": "train/loss", "batch_loss": "train/loss", "val_loss": "val/loss",
              "val_metric": "val/iou", "lr": "train/lr"},
        steps={"train_loss": "step", "batch_loss": "step", "val_loss": "epoch", "val_metric": "epoch",
               "lr": "epoch"},
        task="segmentation",
        metric="iou",
        metric_direction="max",
        num_classes=2,
        chance_metric=float(m_va.mean()),  # IoU of predicting foreground everywhere
        epochs=cfg["epochs"],
        steps_per_epoch=spe,
        batch_size=cfg["batch_size"],
        lr_peak=cfg["lr"],
        schedule={"constant": "constant", "cosine": "cosine", "step": "step_decay"}[cfg["schedule"]],
        log_every_steps=1,
        eval_every_steps=spe,
        shuffled=True,
        injected=injected,
        seconds=round(time.time() - t0, 2),
    )


PROGRAM = Program(
    name=NAME,
    family="cnn",
    data="synthetic shapes 24x24 with masks",
    script="torch_loop",
    writer="tensorboardx",
    framework="torch",
    version=1,
    runs=runs,
    train=train,
)
