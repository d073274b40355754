"""torch_mlp_tabular: an MLP on sklearn's breast_cancer / wine tables, a plain PyTorch loop,
``torch.utils.tensorboard``.

Why it exists: the most common PyTorch script there is (the TensorBoard tutorial's
``SummaryWriter`` with ``Loss/train``, ``Loss/val``, ``Accuracy/val`` written once per
epoch, step = epoch index, event file directly in the run folder), on tiny tabular data
where 20-300 epochs cost seconds. Curves are per-epoch only: no per-step loss, no LR tag.

``val_metric="auc"`` (binary breast_cancer only) logs ``AUC/train`` and ``AUC/val``
(sklearn's ``roc_auc_score`` of the class-1 probability) in place of the accuracy tags: the
binary-classification script that selects checkpoints by ROC-AUC, where the epoch of the
lowest validation loss need not be the epoch of the best AUC.

Runs (intent: how it is produced):

==============================  ===========================  ==================================================
run                             intent                       how
==============================  ===========================  ==================================================
healthy_bc_adam                 healthy                      Adam 1e-3, dropout 0.2, 60 epochs
healthy_wine_dropout            healthy                      dropout 0.5 -> val loss below train loss
healthy_wine_tiny_val           healthy                      validation of 12 rows: accuracy jumps by 1/12
healthy_bc_plateau_sched        healthy                      SGD + ReduceLROnPlateau(val loss), 150 epochs
healthy_bc_stepdecay            healthy                      6 columns, SGD momentum, StepLR x0.1 every 30 epochs
overfit_bc_small_train          overfitting                  60 training rows, 2x512 MLP, no regularisation
overfit_wine_label_noise        overfitting                  25% of training labels flipped, wide MLP
lr_high_bc_sgd                  lr_too_high                  SGD momentum 0.9 lr 3.0, StepLR x0.01 at epoch 70
diverge_bc_lr_ramp              divergence                   "warm-up" LambdaLR that never stops growing (x1.15/epoch)
nonfinite_bc_manual_bce         nonfinite                    hand-written BCE log(sigmoid): log(0) once saturated
lr_small_wine                   lr_too_small                 Adam 3e-6 for 150 epochs
no_learning_zero_grad_bug       no_learning                  optimizer.zero_grad() between backward() and step()
plateau_bc_converged            plateau                      Adam 1e-2 + weight decay: converged by ~epoch 20 of 250
underfit_wine_bottleneck        underfitting                 width-1 tanh bottleneck, dropout 0.3, weight decay
still_learning_bc_sgd           still_learning               plain SGD lr 2e-3 for 25 epochs
val_better_bc_noise_aug         val_better_than_train        Gaussian input noise (sd 1.2) + dropout 0.5 (train only)
data_problem_val_unscaled       data_problem                 validation rows not standardised (scaler on train only)
spikes_bc_glitch_batches        loss_spikes                  4 one-off batches with features x40 (sensor glitch)
noisy_bc_batch2                 noisy                        4 columns, batch size 2, SGD lr 0.03, validation of 16 rows
val_plateau_bc_5cols            val_plateau                  5 columns, 40% validation, 2x256 MLP, Adam 3e-4
noisy_bc_label_noise_batch2     noisy                        4 columns, 20% labels flipped, batch size 2, SGD
                                                             lr 0.1, validation of 12 rows
data_problem_wine_val_unscaled  data_problem                 wine, validation rows not standardised
val_plateau_wine_dropout        val_plateau                  wine, 8 columns, 2x128 MLP, dropout 0.5, Adam 5e-4,
                                                             120 epochs
mismatch_bc_auc_val_label_noise best_checkpoint_mismatch     val ROC-AUC, 10% of validation labels flipped, Adam
                                                             3e-4, 200 epochs: val loss best at ~10, AUC at 199
mismatch_bc_auc_3cols           best_checkpoint_mismatch     val ROC-AUC, 3 columns, 10% of validation labels
                                                             flipped, Adam 1e-3, 200 epochs
mismatch_bc_auc_small_train     best_checkpoint_mismatch     val ROC-AUC, 120 training rows, 10% of validation
                                                             labels flipped, Adam 1e-3, 200 epochs
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

NAME = "torch_mlp_tabular"

DEFAULTS: dict[str, Any] = {
    "data": "breast_cancer",  # or "wine"
    "val_frac": 0.25,
    "val_rows": None,  # an absolute validation size (tiny validation sets)
    "n_train": None,  # subsample the training rows
    "features": None,  # use only the first N columns (a harder task: accuracy well below 100%)
    "hidden": [64, 32],
    "act": "relu",
    "dropout": 0.0,
    "optimizer": "adam",
    "lr": 1e-3,
    "momentum": 0.0,
    "weight_decay": 0.0,
    "batch_size": 32,
    "epochs": 60,
    "schedule": "constant",  # constant | step | plateau | ramp
    "step_size": 40,
    "gamma": 0.1,
    "ramp": 1.0,  # LR multiplier per epoch for schedule "ramp"
    "loss": "ce",  # ce | manual_bce (one sigmoid output, log written by hand)
    "label_noise": 0.0,
    "val_label_noise": 0.0,  # share of validation labels flipped (annotation errors in the held-back rows)
    "input_noise": 0.0,
    "zero_grad_bug": False,
    "val_unscaled": False,
    "glitch_epochs": [],  # one batch of each listed epoch gets features x glitch_scale
    "glitch_scale": 40.0,
    "val_metric": "accuracy",  # or "auc": ROC-AUC of the positive class (binary data only), tags AUC/train, AUC/val
}


def _r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
    return RunSpec(program=NAME, name=name, intent=intent, params=params, seed=seed)


def runs() -> list[RunSpec]:
    wine = {"data": "wine"}
    return [
        _r("healthy_bc_adam", "healthy", 1, lr=3e-4, weight_decay=1e-3, dropout=0.3, epochs=40),
        _r("healthy_wine_dropout", "healthy", 2, **wine, hidden=[32], dropout=0.6, weight_decay=1e-3, epochs=80,
           batch_size=16),
        _r("healthy_wine_tiny_val", "healthy", 3, **wine, features=5, val_rows=14, optimizer="sgd", lr=0.05,
           momentum=0.9, batch_size=8, epochs=80),
        _r("healthy_bc_plateau_sched", "healthy", 4, features=6, optimizer="sgd", lr=0.01, momentum=0.9,
           schedule="plateau", dropout=0.1, weight_decay=1e-3, epochs=70),
        _r("healthy_bc_stepdecay", "healthy", 5, features=6, optimizer="sgd", lr=0.02, momentum=0.9,
           schedule="step", step_size=30, dropout=0.2, epochs=90),
        _r("overfit_bc_small_train", "overfitting", 6, n_train=30, hidden=[512, 512], epochs=300, batch_size=16),
        _r("overfit_wine_label_noise", "overfitting", 7, **wine, label_noise=0.25, hidden=[256, 256], lr=2e-3,
           epochs=300, batch_size=16),
        _r("lr_high_bc_sgd", "lr_too_high", 8, act="tanh", optimizer="sgd", lr=3.0, momentum=0.9, schedule="step",
           step_size=60, gamma=0.01, epochs=100),
        _r("diverge_bc_lr_ramp", "divergence", 9, optimizer="sgd", lr=0.01, momentum=0.9, schedule="ramp",
           ramp=1.15, epochs=80, batch_size=16),
        _r("nonfinite_bc_manual_bce", "nonfinite", 10, loss="manual_bce", lr=3e-4, hidden=[64, 32], epochs=120),
        _r("lr_small_wine", "lr_too_small", 11, **wine, lr=3e-6, epochs=150, batch_size=16),
        _r("no_learning_zero_grad_bug", "no_learning", 12, **wine, zero_grad_bug=True, epochs=40, batch_size=16),
        _r("plateau_bc_converged", "plateau", 13, lr=1e-2, weight_decay=1e-2, epochs=250, batch_size=64),
        _r("underfit_wine_bottleneck", "underfitting", 14, **wine, hidden=[1], act="tanh", dropout=0.3,
           weight_decay=1e-2, lr=3e-3, epochs=150, batch_size=16),
        _r("still_learning_bc_sgd", "still_learning", 15, optimizer="sgd", lr=2e-3, epochs=25),
        _r("val_better_bc_noise_aug", "val_better_than_train", 16, input_noise=1.2, dropout=0.5, epochs=100),
        _r("data_problem_val_unscaled", "data_problem", 17, val_unscaled=True, epochs=60),
        _r("spikes_bc_glitch_batches", "loss_spikes", 18, glitch_epochs=[22, 47, 75, 110], epochs=140,
           dropout=0.1),
        _r("noisy_bc_batch2", "noisy", 19, features=4, optimizer="sgd", lr=0.03, batch_size=2, val_rows=16,
           epochs=60),
        _r("val_plateau_bc_5cols", "val_plateau", 20, features=5, val_frac=0.4, lr=3e-4, hidden=[256, 256],
           epochs=110),
        # added for the dev set's rarer codes
        _r("noisy_bc_label_noise_batch2", "noisy", 24, features=4, optimizer="sgd", lr=0.1, batch_size=2,
           val_rows=12, epochs=40, label_noise=0.2),
        _r("data_problem_wine_val_unscaled", "data_problem", 26, **wine, val_unscaled=True, epochs=60,
           batch_size=16),
        _r("val_plateau_wine_dropout", "val_plateau", 27, **wine, features=8, dropout=0.5, hidden=[128, 128],
           lr=5e-4, epochs=120, batch_size=16),
        # validation ROC-AUC instead of accuracy: a few mislabelled validation rows grow confidently wrong, so the
        # log-loss turns up within ~10 epochs while the ranking of the rest keeps improving to the last epoch
        _r("mismatch_bc_auc_val_label_noise", "best_checkpoint_mismatch", 108, val_metric="auc", val_label_noise=0.1,
           lr=3e-4, epochs=200),
        _r("mismatch_bc_auc_3cols", "best_checkpoint_mismatch", 62, val_metric="auc", val_label_noise=0.1, features=3,
           epochs=200),
        _r("mismatch_bc_auc_small_train", "best_checkpoint_mismatch", 111, val_metric="auc", val_label_noise=0.1,
           n_train=120, epochs=200),
    ]


def _load(cfg: dict[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split, subsample and standardise (with training statistics; the validation rows too unless the bug is on)."""
    from sklearn import datasets

    loader = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}[cfg["data"]]
    x, y = loader(return_X_y=True)
    if cfg["features"]:
        x = x[:, : cfg["features"]]
    order = rng.permutation(len(y))
    n_val = cfg["val_rows"] or int(round(cfg["val_frac"] * len(y)))
    val, train = order[:n_val], order[n_val:]
    if cfg["n_train"]:
        train = train[: cfg["n_train"]]
    x_tr, y_tr, x_va, y_va = x[train], y[train].copy(), x[val], y[val]
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-8
    x_tr = (x_tr - mean) / std
    if not cfg["val_unscaled"]:
        x_va = (x_va - mean) / std
    if cfg["label_noise"]:
        flip = rng.random(len(y_tr)) < cfg["label_noise"]
        k = int(y.max()) + 1
        y_tr[flip] = (y_tr[flip] + rng.integers(1, k, flip.sum())) % k
    if cfg["val_label_noise"]:  # drawn last: the runs without it keep their random stream
        y_va = y_va.copy()
        flip = rng.random(len(y_va)) < cfg["val_label_noise"]
        k = int(y.max()) + 1
        y_va[flip] = (y_va[flip] + rng.integers(1, k, flip.sum())) % k
    return x_tr.astype(np.float32), y_tr, x_va.astype(np.float32), y_va


def _model(cfg: dict[str, Any], n_in: int, n_out: int) -> Any:
    import torch.nn as nn

    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[cfg["act"]]
    layers: list[nn.Module] = []
    width = n_in
    for h in cfg["hidden"]:
        layers += [nn.Linear(width, h), act()]
        if cfg["dropout"]:
            layers.append(nn.Dropout(cfg["dropout"]))
        width = h
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


def _loss_and_correct(cfg: dict[str, Any], out: Any, y: Any) -> tuple[Any, int]:
    """Mean loss and number of right predictions; ``manual_bce`` takes log of a float32 sigmoid, as written by hand."""
    import torch
    import torch.nn.functional as F

    if cfg["loss"] == "manual_bce":
        p = torch.sigmoid(out[:, 0])
        t = y.float()
        loss = -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()
        correct = int(((p > 0.5).long() == y).sum())
        return loss, correct
    return F.cross_entropy(out, y), int((out.argmax(1) == y).sum())


def _positive_score(cfg: dict[str, Any], out: Any) -> np.ndarray:
    """The model's probability of class 1, the score ROC-AUC ranks (a softmax column, or the single sigmoid)."""
    import torch

    probs = torch.sigmoid(out[:, 0]) if cfg["loss"] == "manual_bce" else torch.softmax(out, dim=1)[:, 1]
    return probs.detach().numpy().astype(np.float64)


def _auc(y: np.ndarray, scores: list[np.ndarray]) -> float:
    """ROC-AUC of the epoch's scores; NaN when a non-finite score leaves nothing to rank (sklearn would raise)."""
    from sklearn.metrics import roc_auc_score

    s = np.concatenate(scores)
    return float(roc_auc_score(y, s)) if np.isfinite(s).all() else float("nan")


def _check_metric(cfg: dict[str, Any], n_classes: int) -> None:
    """ROC-AUC here is the binary one: refuse a multi-class table rather than log a silently different number."""
    if cfg["val_metric"] not in ("accuracy", "auc"):
        raise ValueError(f"val_metric must be 'accuracy' or 'auc', not {cfg['val_metric']!r}")
    if cfg["val_metric"] == "auc" and n_classes != 2:
        raise ValueError(f"val_metric='auc' needs binary data; {cfg['data']} has {n_classes} classes")


def _scheduler(cfg: dict[str, Any], opt: Any) -> Any:
    from torch.optim import lr_scheduler

    kind = cfg["schedule"]
    if kind == "step":
        return lr_scheduler.StepLR(opt, step_size=cfg["step_size"], gamma=cfg["gamma"])
    if kind == "plateau":
        return lr_scheduler.ReduceLROnPlateau(opt, factor=0.3, patience=8)
    if kind == "ramp":
        return lr_scheduler.LambdaLR(opt, lambda e: cfg["ramp"] ** e)
    return None


def train(spec: RunSpec, run_dir: Path) -> Facts:
    import torch
    from torch.utils.tensorboard import SummaryWriter

    t0 = time.time()
    cfg = run_params(spec, DEFAULTS)
    seed_everything(spec.seed)
    rng = np.random.default_rng(spec.seed)
    x_tr, y_tr, x_va, y_va = _load(cfg, rng)
    n_classes = int(max(y_tr.max(), y_va.max())) + 1
    _check_metric(cfg, n_classes)
    auc = cfg["val_metric"] == "auc"
    model = _model(cfg, x_tr.shape[1], 1 if cfg["loss"] == "manual_bce" else n_classes)
    if cfg["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                              weight_decay=cfg["weight_decay"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    sched = _scheduler(cfg, opt)
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr).long()
    xv, yv = torch.from_numpy(x_va), torch.from_numpy(y_va).long()
    bs = cfg["batch_size"]
    steps_per_epoch = -(-len(yt) // bs)
    glitches = set(cfg["glitch_epochs"])
    writer = SummaryWriter(log_dir=str(run_dir))
    for epoch in range(cfg["epochs"]):
        model.train()
        perm = torch.randperm(len(yt))
        total, correct = 0.0, 0
        train_scores: list[np.ndarray] = []
        for b in range(steps_per_epoch):
            idx = perm[b * bs : (b + 1) * bs]
            xb = xt[idx]
            if cfg["input_noise"]:
                xb = xb + cfg["input_noise"] * torch.randn_like(xb)
            if epoch in glitches and b == steps_per_epoch // 2:
                xb = cfg["glitch_scale"] * torch.randn_like(xb)  # one batch of sensor garbage, this epoch only
            out = model(xb)
            loss, right = _loss_and_correct(cfg, out, yt[idx])
            if auc:
                train_scores.append(_positive_score(cfg, out))
            if cfg["zero_grad_bug"]:
                loss.backward()
                opt.zero_grad()  # the bug: gradients wiped before the step
                opt.step()
            else:
                opt.zero_grad()
                loss.backward()
                opt.step()
            total += loss.item() * len(idx)
            correct += right
        model.eval()
        with torch.no_grad():
            val_out = model(xv)
            val_loss, val_right = _loss_and_correct(cfg, val_out, yv)
        val_loss = float(val_loss)
        writer.add_scalar("Loss/train", total / len(yt), epoch)
        if auc:
            writer.add_scalar("AUC/train", _auc(y_tr[perm.numpy()], train_scores), epoch)
        else:
            writer.add_scalar("Accuracy/train", correct / len(yt), epoch)
        writer.add_scalar("Loss/val", val_loss, epoch)
        if auc:
            writer.add_scalar("AUC/val", _auc(y_va, [_positive_score(cfg, val_out)]), epoch)
        else:
            writer.add_scalar("Accuracy/val", val_right / len(yv), epoch)
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            sched.step(val_loss)
        elif sched is not None:
            sched.step()
    writer.close()
    majority = float(np.bincount(y_va).max() / len(y_va))
    metric_tag = "AUC" if auc else "Accuracy"
    injected = {k: cfg[k] for k in ("label_noise", "val_label_noise", "input_noise", "zero_grad_bug", "val_unscaled",
                                    "glitch_epochs", "n_train", "val_rows") if cfg[k]}
    if cfg["loss"] == "manual_bce":
        injected["loss"] = "hand-written BCE: log(sigmoid) without clamping"
    if cfg["schedule"] == "ramp":
        injected["lr_ramp_per_epoch"] = cfg["ramp"]
    return Facts(
        tags={"train_loss": "Loss/train", "val_loss": "Loss/val", "train_metric": f"{metric_tag}/train",
              "val_metric": f"{metric_tag}/val"},
        steps={"train_loss": "epoch", "val_loss": "epoch", "train_metric": "epoch", "val_metric": "epoch"},
        task="classification",
        metric="auc" if auc else "accuracy",
        metric_direction="max",
        num_classes=n_classes,
        chance_metric=0.5 if auc else majority,  # a constant score ranks no better than a coin
        epochs=cfg["epochs"],
        steps_per_epoch=steps_per_epoch,
        batch_size=bs,
        lr_peak=cfg["lr"] * (cfg["ramp"] ** (cfg["epochs"] - 1) if cfg["schedule"] == "ramp" else 1.0),
        schedule={"constant": "constant", "step": "step_decay", "plateau": "reduce_on_plateau",
                  "ramp": "exponential_growth"}[cfg["schedule"]],
        log_every_steps=None,
        eval_every_steps=steps_per_epoch,
        shuffled=True,
        injected=injected,
        seconds=round(time.time() - t0, 2),
    )


PROGRAM = Program(
    name=NAME,
    family="mlp",
    data="sklearn breast_cancer / wine",
    script="torch_loop",
    writer="torch_summarywriter",
    framework="torch",
    version=1,
    runs=runs,
    train=train,
)
