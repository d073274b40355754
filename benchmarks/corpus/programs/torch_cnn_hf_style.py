"""torch_cnn_hf_style: a small CNN on sklearn digits (8x8 images), a loop that behaves like the Hugging Face Trainer.

Why it exists: many PyTorch users never write a SummaryWriter call; they get HF
Trainer's ``TensorBoardCallback``. Its logs have their own shape, reproduced here
without installing transformers:

- layout ``run_dir/runs/<%b%d_%H-%M-%S>_<host>/`` (``TrainingArguments.logging_dir``'s
  default), one ``torch.utils.tensorboard`` writer, an ``args`` text summary;
- ``train/loss`` every ``logging_steps`` optimizer steps: the mean of the step losses
  since the last log, rounded to 4 decimals, with ``logging_nan_inf_filter`` on (a NaN/Inf
  step loss is replaced by the window's running mean, so a NaN shows as a flat or 0.0
  loss, never as NaN); ``train/grad_norm`` (pre-clipping norm, ``max_grad_norm`` 1.0),
  ``train/learning_rate`` (after the scheduler step), ``train/epoch`` (fractional);
- ``eval/loss``, ``eval/accuracy``, ``eval/runtime``, ``eval/samples_per_second``,
  ``eval/steps_per_second`` every ``eval_steps`` (or at epoch ends); step = global step;
- at the end ``train/train_runtime``, ``train/train_samples_per_second``,
  ``train/train_steps_per_second``, ``train/total_flos``, ``train/train_loss``;
- AdamW, linear decay with warm-up (``get_linear_schedule_with_warmup``: the first step
  runs at LR 0), or ``cosine`` / ``constant_with_warmup``.

Runs (intent: how it is produced):

==============================  ===========================  ==================================================
run                             intent                       how
==============================  ===========================  ==================================================
healthy_linear_warmup           healthy                      AdamW 1e-3, warmup_ratio 0.1, 12 epochs
healthy_warmup_bump             healthy                      AdamW 1e-2, 30 warm-up steps: the loss bumps at the peak
healthy_small_eval              healthy                      eval set of 40 images: eval curves jump
healthy_dropout_aug             healthy                      dropout 0.5 + pixel noise: eval loss below train loss
healthy_cosine_epoch_eval       healthy                      cosine schedule, eval_strategy "epoch"
overfit_small_train             overfitting                  120 training images, 80 epochs, no regularisation
lr_high_adamw                   lr_too_high                  AdamW 2e-2, linear decay: stalls until the LR has decayed
diverge_adamw_no_clip           divergence                   AdamW 0.3, max_grad_norm 0, no warm-up
nonfinite_sgd_blowup            nonfinite                    optim sgd lr 3.0, max_grad_norm 0: weights overflow
lr_small                        lr_too_small                 AdamW 1e-6
still_learning_default_lr       still_learning               HF's default learning_rate 5e-5, 3 epochs
unshuffled_sorted_sequential    unshuffled                   class-sorted data, SequentialSampler, logging_steps 1
spikes_corrupt_batches          loss_spikes                  3 one-off batches with pixels x50 (decode error)
noisy_batch2                    noisy                        per_device_train_batch_size 2, logging_steps 1
data_problem_label_map          data_problem                 eval labels from another label2id order ((y+1) % 10)
plateau_converged_constant      plateau                      constant_with_warmup 3e-3 for 40 epochs
mismatch_small_train            best_checkpoint_mismatch     300 images, 60 epochs: eval loss turns up while
                                                             eval accuracy still rises
val_better_heavy_aug            val_better_than_train        noise sd 0.6 + 4x4 erasing + dropout 0.5 on training
lr_high_adamw_cosine            lr_too_high                  AdamW 0.05, cosine after a one-epoch warm-up, 8 epochs
lr_high_sgd_cosine              lr_too_high                  SGD momentum 0.9 lr 0.8, cosine, 8 epochs
==============================  ===========================  ==================================================

Every run's ``params`` may be overridden (e.g. ``num_train_epochs``) to scale it down for a test.
"""

from __future__ import annotations

import json
import math
import socket
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._torch import seed_everything
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "torch_cnn_hf_style"

# TrainingArguments-like defaults (HF's where they matter: lr 5e-5, max_grad_norm 1.0, nan filter on).
DEFAULTS: dict[str, Any] = {
    "learning_rate": 5e-5,
    "num_train_epochs": 3,
    "per_device_train_batch_size": 32,
    "per_device_eval_batch_size": 64,
    "logging_steps": 10,
    "eval_strategy": "steps",  # steps | epoch
    "eval_steps": 50,
    "warmup_ratio": 0.0,
    "warmup_steps": 0,
    "lr_scheduler_type": "linear",  # linear | cosine | constant_with_warmup
    "weight_decay": 0.0,
    "max_grad_norm": 1.0,
    "optim": "adamw_torch",  # adamw_torch | sgd
    "sgd_momentum": 0.0,  # optim_args for sgd
    "logging_nan_inf_filter": True,
    "loss": "ce",  # ce | focal (a compute_loss override: focal loss with a fractional gamma)
    "focal_gamma": 0.5,
    # data / model / injections (not TrainingArguments)
    "eval_size": 360,
    "n_train": None,
    "label_noise": 0.0,
    "dropout": 0.0,
    "pixel_noise": 0.0,
    "erase": 0,  # side of a random square erased in each training image
    "sorted_sequential": False,
    "corrupt_steps": [],
    "corrupt_scale": 4.0,
    "eval_label_shift": 0,
}


def _r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
    return RunSpec(program=NAME, name=name, intent=intent, params=params, seed=seed)


def runs() -> list[RunSpec]:
    return [
        _r("healthy_linear_warmup", "healthy", 1, learning_rate=1e-3, num_train_epochs=12, warmup_ratio=0.1),
        _r("healthy_warmup_bump", "healthy", 2, learning_rate=2e-2, num_train_epochs=10, warmup_steps=60,
           logging_steps=5, eval_steps=45),
        _r("healthy_small_eval", "healthy", 3, learning_rate=1e-3, num_train_epochs=10, eval_size=40,
           logging_steps=5, eval_steps=25, warmup_ratio=0.05),
        _r("healthy_dropout_aug", "healthy", 4, learning_rate=2e-3, num_train_epochs=15, dropout=0.5,
           pixel_noise=0.3, warmup_ratio=0.1, weight_decay=0.01),
        _r("healthy_cosine_epoch_eval", "healthy", 5, learning_rate=2e-3, num_train_epochs=20,
           lr_scheduler_type="cosine", warmup_ratio=0.05, eval_strategy="epoch", logging_steps=20),
        _r("overfit_small_train", "overfitting", 6, learning_rate=3e-3, n_train=60, num_train_epochs=150,
           eval_strategy="epoch", logging_steps=2),
        _r("lr_high_adamw_warmup", "lr_too_high", 7, learning_rate=0.1, warmup_steps=150, num_train_epochs=6,
           logging_steps=5, eval_steps=25),
        _r("diverge_adamw_collapse", "divergence", 8, learning_rate=0.3, lr_scheduler_type="constant_with_warmup",
           warmup_steps=150, num_train_epochs=6, logging_steps=5, eval_steps=25),
        _r("nonfinite_focal_gamma", "nonfinite", 9, loss="focal", focal_gamma=0.5, learning_rate=3e-3,
           num_train_epochs=15, eval_steps=45),
        _r("lr_small", "lr_too_small", 10, learning_rate=1e-6, num_train_epochs=10),
        _r("still_learning_short", "still_learning", 11, learning_rate=3e-4, num_train_epochs=4, logging_steps=5,
           eval_steps=15),
        _r("unshuffled_sorted_sequential", "unshuffled", 12, learning_rate=3e-4, num_train_epochs=10,
           sorted_sequential=True, logging_steps=1, eval_steps=45),
        _r("spikes_corrupt_batches", "loss_spikes", 13, learning_rate=1e-3, num_train_epochs=12,
           corrupt_steps=[140, 301, 433], logging_steps=1, eval_steps=45, warmup_ratio=0.05),
        _r("noisy_batch2", "noisy", 14, learning_rate=5e-4, per_device_train_batch_size=2, num_train_epochs=2,
           logging_steps=1, eval_steps=250),
        _r("data_problem_label_map", "data_problem", 15, learning_rate=1e-3, num_train_epochs=8,
           eval_label_shift=1, warmup_ratio=0.1),
        _r("plateau_converged_constant", "plateau", 16, learning_rate=3e-3, lr_scheduler_type="constant_with_warmup",
           warmup_steps=20, num_train_epochs=25, logging_steps=15, eval_steps=90, dropout=0.2, weight_decay=0.05),
        _r("val_plateau_small_train", "val_plateau", 17, learning_rate=3e-3, lr_scheduler_type="constant",
           n_train=300, num_train_epochs=80, eval_strategy="epoch", logging_steps=10),
        _r("val_better_heavy_aug", "val_better_than_train", 18, learning_rate=2e-3, num_train_epochs=15,
           pixel_noise=0.6, erase=4, dropout=0.5, warmup_ratio=0.1),
        # added for the dev set's rarer codes
        _r("lr_high_adamw_cosine", "lr_too_high", 24, learning_rate=0.05, lr_scheduler_type="cosine",
           warmup_steps=45, num_train_epochs=8, logging_steps=5, eval_steps=15),
        _r("lr_high_sgd_cosine", "lr_too_high", 27, optim="sgd", sgd_momentum=0.9, learning_rate=0.8,
           lr_scheduler_type="cosine", warmup_steps=30, num_train_epochs=8, logging_steps=5, eval_steps=20),
    ]


def _data(cfg: dict[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    order = rng.permutation(len(y))
    ev, tr = order[: cfg["eval_size"]], order[360:]  # the training rows do not depend on the eval size
    if cfg["n_train"]:
        tr = tr[: cfg["n_train"]]
    y_tr = y[tr].copy()
    if cfg["label_noise"]:
        flip = rng.random(len(y_tr)) < cfg["label_noise"]
        y_tr[flip] = (y_tr[flip] + rng.integers(1, 10, int(flip.sum()))) % 10
    y_ev = (y[ev] + cfg["eval_label_shift"]) % 10
    return x[tr], y_tr, x[ev], y_ev


def _model(cfg: dict[str, Any]) -> Any:
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Dropout(cfg["dropout"]),
        nn.Linear(32 * 4 * 4, 64), nn.ReLU(),
        nn.Linear(64, 10),
    )


def _lr_lambda(kind: str, warmup: int, total: int) -> Any:
    """transformers.get_{linear,cosine,constant}_schedule_with_warmup, as LambdaLR factors."""
    def f(step: int) -> float:
        if step < warmup:
            return step / max(1, warmup)
        if kind == "constant_with_warmup":
            return 1.0
        progress = (step - warmup) / max(1, total - warmup)
        if kind == "cosine":
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))
        return max(0.0, (total - step) / max(1, total - warmup))

    return f


def _augment(cfg: dict[str, Any], xb: Any, gen: Any) -> Any:
    import torch

    if cfg["pixel_noise"]:
        xb = xb + cfg["pixel_noise"] * torch.randn(xb.shape, generator=gen)
    k = cfg["erase"]
    if k:
        xb = xb.clone()
        pos = torch.randint(0, 8 - k + 1, (len(xb), 2), generator=gen)
        for i, (r, c) in enumerate(pos.tolist()):
            xb[i, :, r : r + k, c : c + k] = 0.0
    return xb


def _loss(cfg: dict[str, Any], logits: Any, y: Any) -> Any:
    """Cross-entropy, or the focal loss of a ``compute_loss`` override: -(1 - p_t)^gamma * log p_t.

    With a fractional gamma the gradient of (1 - p_t)^gamma is infinite where p_t rounds
    to exactly 1.0 in float32; times the zero gradient of log p_t there it is NaN, and one
    such sample poisons every weight at the next step.
    """
    import torch.nn.functional as F

    if cfg["loss"] != "focal":
        return F.cross_entropy(logits, y)
    logp = F.log_softmax(logits, dim=1).gather(1, y[:, None])[:, 0]
    return (-((1 - logp.exp()) ** cfg["focal_gamma"]) * logp).mean()


def _evaluate(model: Any, x: Any, y: Any, bs: int) -> dict[str, float]:
    """Trainer.evaluate: per-sample mean loss, accuracy from compute_metrics, speed metrics."""
    import torch
    import torch.nn.functional as F

    start = time.time()
    model.eval()
    losses, right, n_batches = [], 0, 0
    with torch.no_grad():
        for i in range(0, len(y), bs):
            out = model(x[i : i + bs])
            losses.append(F.cross_entropy(out, y[i : i + bs], reduction="none"))
            right += int((out.argmax(1) == y[i : i + bs]).sum())
            n_batches += 1
    model.train()
    runtime = time.time() - start
    return {
        "eval_loss": float(torch.cat(losses).mean()),
        "eval_accuracy": right / len(y),
        "eval_runtime": round(runtime, 4),
        "eval_samples_per_second": round(len(y) / runtime, 3),
        "eval_steps_per_second": round(n_batches / runtime, 3),
    }


def _log_dir(run_dir: Path) -> Path:
    """TrainingArguments.logging_dir's default: output_dir/runs/<%b%d_%H-%M-%S>_<hostname>."""
    return run_dir / "runs" / f"{datetime.now().strftime('%b%d_%H-%M-%S')}_{socket.gethostname()}"


def _rewrite(logs: dict[str, float]) -> dict[str, float]:
    """transformers.integrations.rewrite_logs: eval_* -> eval/*, everything else -> train/*."""
    return {(f"eval/{k[5:]}" if k.startswith("eval_") else f"train/{k}"): v for k, v in logs.items()}


def train(spec: RunSpec, run_dir: Path) -> Facts:
    import torch
    from torch.utils.tensorboard import SummaryWriter

    t0 = time.time()
    cfg = run_params(spec, DEFAULTS)
    seed_everything(spec.seed)
    rng = np.random.default_rng(spec.seed)
    gen = torch.Generator().manual_seed(spec.seed)
    x_tr, y_tr, x_ev, y_ev = _data(cfg, rng)
    if cfg["sorted_sequential"]:
        by_class = np.argsort(y_tr, kind="stable")
        x_tr, y_tr = x_tr[by_class], y_tr[by_class]
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr).long()
    xe, ye = torch.from_numpy(x_ev), torch.from_numpy(y_ev).long()
    model = _model(cfg)
    if cfg["optim"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg["learning_rate"], momentum=cfg["sgd_momentum"],
                              weight_decay=cfg["weight_decay"])
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=cfg["learning_rate"], weight_decay=cfg["weight_decay"])
    bs = cfg["per_device_train_batch_size"]
    steps_in_epoch = math.ceil(len(yt) / bs)
    max_steps = steps_in_epoch * cfg["num_train_epochs"]
    warmup = cfg["warmup_steps"] or math.ceil(cfg["warmup_ratio"] * max_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg["lr_scheduler_type"], warmup, max_steps))
    log_dir = _log_dir(run_dir)
    writer = SummaryWriter(log_dir=str(log_dir))
    writer.add_text("args", json.dumps({k: v for k, v in cfg.items() if k in DEFAULTS}, indent=2))

    def log(logs: dict[str, float], step: int, epoch: float) -> None:
        for tag, value in _rewrite({**logs, "epoch": epoch}).items():
            writer.add_scalar(tag, value, step)
        writer.flush()

    corrupt = set(cfg["corrupt_steps"])
    tr_loss = torch.tensor(0.0)
    total_loss, last_logged, global_step, epoch_f = 0.0, 0, 0, 0.0
    model.train()
    start = time.time()
    for epoch in range(cfg["num_train_epochs"]):
        order = torch.arange(len(yt)) if cfg["sorted_sequential"] else torch.randperm(len(yt), generator=gen)
        for step in range(steps_in_epoch):
            idx = order[step * bs : (step + 1) * bs]
            xb = _augment(cfg, xt[idx], gen)
            if global_step in corrupt:
                # a batch that failed to decode (noise at the wrong scale), this step only
                xb = cfg["corrupt_scale"] * torch.rand(xb.shape, generator=gen)
            loss = _loss(cfg, model(xb), yt[idx])
            loss.backward()
            step_loss = loss.detach()
            if cfg["logging_nan_inf_filter"] and not torch.isfinite(step_loss):
                tr_loss = tr_loss + tr_loss / (1 + global_step - last_logged)
            else:
                tr_loss = tr_loss + step_loss
            grad_norm = None
            if cfg["max_grad_norm"] and cfg["max_grad_norm"] > 0:
                grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["max_grad_norm"]))
            opt.step()
            sched.step()
            opt.zero_grad()
            global_step += 1
            epoch_f = epoch + (step + 1) / steps_in_epoch
            if global_step % cfg["logging_steps"] == 0:
                scalar = float(tr_loss)
                tr_loss = tr_loss - tr_loss
                logs = {"loss": round(scalar / (global_step - last_logged), 4)}
                if grad_norm is not None:
                    logs["grad_norm"] = grad_norm
                logs["learning_rate"] = sched.get_last_lr()[0]
                total_loss += scalar
                last_logged = global_step
                log(logs, global_step, epoch_f)
            if cfg["eval_strategy"] == "steps" and global_step % cfg["eval_steps"] == 0:
                log(_evaluate(model, xe, ye, cfg["per_device_eval_batch_size"]), global_step, epoch_f)
        if cfg["eval_strategy"] == "epoch":
            log(_evaluate(model, xe, ye, cfg["per_device_eval_batch_size"]), global_step, epoch_f)
    total_loss += float(tr_loss)
    runtime = time.time() - start
    log({"train_runtime": round(runtime, 4),
         "train_samples_per_second": round(len(yt) * cfg["num_train_epochs"] / runtime, 3),
         "train_steps_per_second": round(max_steps / runtime, 3),
         "total_flos": 0.0,
         "train_loss": total_loss / max_steps}, global_step, epoch_f)
    writer.close()
    return _facts(cfg, run_dir, log_dir, y_ev, steps_in_epoch, warmup, t0)


def _facts(cfg: dict[str, Any], run_dir: Path, log_dir: Path, y_ev: np.ndarray, steps_in_epoch: int, warmup: int,
           t0: float) -> Facts:
    prefix = log_dir.relative_to(run_dir).as_posix() + "/"
    keys = ("n_train", "label_noise", "pixel_noise", "erase", "sorted_sequential", "corrupt_steps", "eval_label_shift")
    injected: dict[str, Any] = {k: cfg[k] for k in keys if cfg[k]}
    if cfg["eval_size"] != DEFAULTS["eval_size"]:
        injected["eval_size"] = cfg["eval_size"]
    if not cfg["max_grad_norm"]:
        injected["max_grad_norm"] = 0.0
    schedule = cfg["lr_scheduler_type"] + ("_with_warmup" if warmup and "warmup" not in cfg["lr_scheduler_type"]
                                           else "")
    eval_every = cfg["eval_steps"] if cfg["eval_strategy"] == "steps" else steps_in_epoch
    return Facts(
        tags={"train_loss": prefix + "train/loss", "batch_loss": prefix + "train/loss",
              "val_loss": prefix + "eval/loss", "val_metric": prefix + "eval/accuracy",
              "lr": prefix + "train/learning_rate"},
        steps={"train_loss": "step", "batch_loss": "step", "val_loss": "step", "val_metric": "step", "lr": "step"},
        task="classification",
        metric="accuracy",
        metric_direction="max",
        num_classes=10,
        chance_metric=float(np.bincount(y_ev, minlength=10).max() / len(y_ev)),
        epochs=cfg["num_train_epochs"],
        steps_per_epoch=steps_in_epoch,
        batch_size=cfg["per_device_train_batch_size"],
        lr_peak=cfg["learning_rate"],
        schedule=schedule,
        log_every_steps=cfg["logging_steps"],
        eval_every_steps=eval_every,
        shuffled=not cfg["sorted_sequential"],
        injected=injected,
        seconds=round(time.time() - t0, 2),
    )


PROGRAM = Program(
    name=NAME,
    family="cnn",
    data="sklearn digits 8x8",
    script="hf_style",
    writer="torch_summarywriter",
    framework="torch",
    version=1,
    runs=runs,
    train=train,
)
