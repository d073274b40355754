"""lightning_style_gru: a GRU on synthetic sequence classification, a loop that logs like PyTorch Lightning.

Why it exists: Lightning is how many PyTorch users get TensorBoard logs, and its logs
have a shape of their own, reproduced here without installing Lightning
(`LightningStyle` below, also used by ``lightning_style_transformer``):

- layout ``run_dir/lightning_logs/version_0/`` (``TensorBoardLogger`` defaults) holding the
  event file, ``hparams.yaml`` and ``checkpoints/epoch=E-step=S.ckpt``; ``hp_metric`` = -1
  at step 0 plus an hparams summary (``default_hp_metric=True``);
- ``self.log("train_loss", on_step=True, on_epoch=True)`` gives ``train_loss_step`` when
  ``(batches_that_stepped + 1) % log_every_n_steps == 0`` (steps 49, 99, ... by default) and
  ``train_loss_epoch`` (batch-size-weighted epoch mean) at the epoch's last step;
  ``train_acc`` is ``on_epoch`` only; ``val_loss`` / ``val_acc`` at the step of the batch
  after which validation ran; every ``self.log`` write adds ``epoch`` (current epoch);
- ``Trainer(val_check_interval=...)`` (parameter ``val_check_interval``, default 1.0: once per
  epoch, after its last batch): a float f < 1 gives ``val_check_batch = max(1, int(batches x f))``
  and validation after every batch with ``(batch_idx + 1) % val_check_batch == 0``, logged at that
  batch's global step; with 63 batches, 0.5 validates after batch indices 30 and 61 (steps
  63e + 30 and 63e + 61), 0.25 after 14, 29, 44 and 59, and the epoch's last batch (62) triggers
  none, as in Lightning. An int is a batch count. ``eval_every_steps`` in the facts is
  ``val_check_batch``. EarlyStopping acts on every validation, as in Lightning; so does the
  loop's ReduceLROnPlateau (Lightning steps an epoch-interval one once per epoch: the same at
  the default interval);
- ``LearningRateMonitor`` writes ``lr-Adam`` without ``epoch``: for a step-interval scheduler
  at batch start of the logged steps, for an epoch-interval one at epoch start (step =
  epoch x steps per epoch);
- ``schedule="warmup_cosine"``: the usual ``configure_optimizers`` recipe, a ``LambdaLR`` with
  ``interval="step"`` using ``transformers.get_cosine_schedule_with_warmup``'s factor: 0 at the first
  step, linear to the peak ``lr`` over ``warmup_steps`` optimizer steps (default: one epoch), then
  half a cosine to 0 at the last step of ``epochs``; ``warmup_steps`` joins hparams.yaml;
- ``EarlyStopping(monitor="val_loss", check_finite=True)`` stops a run on a NaN val_loss.

Data: sequences of 30 steps x 6 channels, 4 classes told apart by the frequency of a
sinusoid (random phase) buried in Gaussian noise; 2000 training / 500 validation sequences.

Runs (intent: how it is produced):

=================================  ===========================  ==================================================
run                                intent                       how
=================================  ===========================  ==================================================
healthy_adam_constant              healthy                      Adam 2e-3, 20 epochs, default log_every_n_steps 50
healthy_reduce_on_plateau          healthy                      ReduceLROnPlateau(val_loss, patience 2, x0.5), 30 epochs
healthy_dropout                    healthy                      2-layer GRU dropout 0.5 + head dropout 0.7: val < train
healthy_cosine_restarts            healthy                      CosineAnnealingWarmRestarts per step, T_0 = 8 epochs
healthy_small_val                  healthy                      48 validation sequences: val curves jump
overfit_small_train                overfitting                  150 training sequences, hidden 128, 80 epochs
lr_high_sgd_step_decay             lr_too_high                  SGD momentum 0.9 lr 0.3, StepLR x0.1 every 10 epochs
diverge_sgd_no_clip                divergence                   SGD momentum 0.9 lr 2.0, no gradient clipping
nonfinite_channel_dropout          nonfinite                    channel-dropout augmentation, then per-sequence
                                                                standardisation without epsilon: 0/0; EarlyStopping
                                                                (check_finite) ends the run
lr_small                           lr_too_small                 Adam 1e-5
no_learning_batch_first_bug        no_learning                  nn.GRU without batch_first fed (B, T, C): the head
                                                                sees only each sequence's last time step
plateau_label_noise_wd             plateau                      25% labels wrong everywhere, weight decay 3e-3, 30
                                                                epochs: converges to the noise floor early
val_plateau_label_noise            val_plateau                  20% labels wrong everywhere, weight decay 1e-3, 30
                                                                epochs: train keeps falling, val flat
underfit_hidden2                   underfitting                 hidden size 2
still_learning_sgd                 still_learning               SGD lr 0.05, 6 epochs
unshuffled_sorted                  unshuffled                   class-sorted data, shuffle=False, log_every_n_steps 5,
                                                                12 epochs
spikes_lr_kicks                    loss_spikes                  LambdaLR x100 for 3 single steps, log_every_n_steps 10
data_problem_val_rate              data_problem                 validation recorded at 1.6x the sampling rate
                                                                (every class's frequency shifted)
lr_high_sgd_late_step              lr_too_high                  SGD momentum 0.9 lr 0.4, StepLR x0.1 at epoch 12
noisy_label_noise_small_val        noisy                        30% wrong labels, batches of 8, 48 validation
                                                                sequences, log_every_n_steps 5
data_problem_val_rate_2_5          data_problem                 validation recorded at 2.5x the sampling rate
healthy_val_half_epoch             healthy                      Adam 2e-3 as healthy_adam_constant, val_check_interval
                                                                0.5: 2 validations per epoch
healthy_warmup_cosine_quarter_val  healthy                      warmup_cosine to Adam 4e-3 (1 epoch = 63 steps of
                                                                warm-up), val_check_interval 0.25: 4 per epoch
overfit_val_half_epoch             overfitting                  256 training sequences, hidden 128, 60 epochs,
                                                                val_check_interval 0.5
lr_high_warmup_cosine              lr_too_high                  warmup_cosine to SGD momentum 0.9 lr 0.15: the loss
                                                                bounces back up at the peak and settles only as the
                                                                cosine lowers the LR; val_check_interval 0.5
=================================  ===========================  ==================================================

Every run's ``params`` may be overridden (e.g. ``epochs``) to scale it down for a test.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._torch import seed_everything
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "lightning_style_gru"


# --------------------------------------------------------------------------- Lightning's logging, emulated


def _yaml_scalar(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def hparams_yaml(hparams: dict[str, Any]) -> str:
    """What ``save_hparams_to_yaml`` writes for flat hparams (yaml.dump: sorted keys, block lists)."""
    lines = []
    for key in sorted(hparams):
        value = hparams[key]
        if isinstance(value, list | tuple):
            lines.append(f"{key}:")
            lines += [f"- {_yaml_scalar(v)}" for v in value]
        else:
            lines.append(f"{key}: {_yaml_scalar(value)}")
    return "\n".join(lines) + "\n"


class LightningStyle:
    """TensorBoardLogger + the logger connector's step/epoch rules + LearningRateMonitor, for one run."""

    def __init__(self, run_dir: Path, hparams: dict[str, Any], optimizer_name: str, log_every_n_steps: int) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        self.dir = run_dir / "lightning_logs" / "version_0"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.writer = SummaryWriter(log_dir=str(self.dir))
        self.n = log_every_n_steps
        self.lr_tag = f"lr-{optimizer_name}"
        flat = {k: (str(v) if isinstance(v, list | tuple | type(None)) else v) for k, v in hparams.items()}
        exp, ssi, sei = hparams_summary(flat, {"hp_metric": -1})
        self.writer.add_scalar("hp_metric", -1, 0)
        for summary in (exp, ssi, sei):
            self.writer.file_writer.add_summary(summary)
        (self.dir / "hparams.yaml").write_text(hparams_yaml(hparams))

    def should_update_logs(self, batches_that_stepped: int) -> bool:
        return (batches_that_stepped + 1) % self.n == 0

    def log(self, metrics: dict[str, float], step: int, epoch: int | None) -> None:
        """LoggerConnector.log_metrics: ``self.log`` values get ``epoch`` added; callbacks' values do not."""
        if epoch is not None:
            metrics = {**metrics, "epoch": epoch}
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)

    def save_checkpoint(self, model: Any, epoch: int, global_step: int) -> None:
        import torch

        ckpt = self.dir / "checkpoints" / f"epoch={epoch}-step={global_step}.ckpt"
        ckpt.parent.mkdir(exist_ok=True)
        torch.save({"epoch": epoch, "global_step": global_step, "state_dict": model.state_dict()}, ckpt)

    def close(self) -> None:
        self.writer.close()

    def prefix(self, run_dir: Path) -> str:
        return self.dir.relative_to(run_dir).as_posix() + "/"


@dataclass
class FitConfig:
    max_epochs: int
    steps_per_epoch: int
    log_every_n_steps: int = 50
    val_check_batches: int | None = None  # validate every N batches of an epoch; None: at each epoch's end
    gradient_clip_val: float | None = None
    sched_interval: str = "epoch"  # "step" | "epoch"
    plateau: bool = False  # ReduceLROnPlateau on val_loss
    early_stop_patience: int | None = None  # EarlyStopping(val_loss, check_finite=True) when set


Batch = tuple[Any, Any]


def fit(model: Any, opt: Any, sched: Any, logger: LightningStyle, cfg: FitConfig,
        epoch_batches: Callable[[int], Iterable[Batch]], step_fn: Callable[[Batch], tuple[Any, int, int]],
        validate: Callable[[], tuple[float, float]]) -> dict[str, Any]:
    """Lightning's fit loop, reduced to what decides what is logged at which step.

    ``step_fn(batch)`` returns (mean loss tensor, batch size, correct predictions); ``validate()``
    returns (val_loss, val_acc), already reduced over the validation set.
    """
    import torch

    bts = 0  # fit_loop.epoch_loop._batches_that_stepped
    best, bad_checks, stopped_epoch = math.inf, 0, None
    lr = lambda: opt.param_groups[0]["lr"]  # noqa: E731
    for epoch in range(cfg.max_epochs):
        if cfg.sched_interval == "epoch":
            logger.log({logger.lr_tag: lr()}, bts, None)  # LearningRateMonitor.on_train_epoch_start
        loss_sum, acc_sum, seen = 0.0, 0, 0
        should_stop = False
        for batch_idx, batch in enumerate(epoch_batches(epoch)):
            if cfg.sched_interval == "step" and logger.should_update_logs(bts):
                logger.log({logger.lr_tag: lr()}, bts, None)  # LearningRateMonitor.on_train_batch_start
            model.train()
            loss, n, correct = step_fn(batch)
            opt.zero_grad()
            loss.backward()
            if cfg.gradient_clip_val:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.gradient_clip_val)
            opt.step()
            if sched is not None and cfg.sched_interval == "step" and not cfg.plateau:
                sched.step()
            value = float(loss.detach())
            loss_sum, acc_sum, seen = loss_sum + value * n, acc_sum + correct, seen + n
            if logger.should_update_logs(bts):
                logger.log({"train_loss_step": value}, bts, epoch)
            last = batch_idx + 1 == cfg.steps_per_epoch
            due = (batch_idx + 1) % cfg.val_check_batches == 0 if cfg.val_check_batches else last
            if sched is not None and cfg.sched_interval == "epoch" and not cfg.plateau and last:
                sched.step()  # epoch-interval schedulers step with the epoch's last batch, before validation
            if due:
                model.eval()
                with torch.no_grad():
                    val_loss, val_acc = validate()
                logger.log({"val_loss": val_loss, "val_acc": val_acc}, bts, epoch)
                if cfg.plateau and sched is not None:
                    sched.step(val_loss)
                if cfg.early_stop_patience is not None:  # EarlyStopping(monitor="val_loss", check_finite=True)
                    best, bad_checks = (val_loss, 0) if val_loss < best else (best, bad_checks + 1)
                    should_stop = not math.isfinite(val_loss) or bad_checks >= cfg.early_stop_patience
            bts += 1
            if should_stop:
                stopped_epoch = epoch
                break
        # fit_loop.on_advance_end: epoch metrics at the last batch's step (_batches_that_stepped - 1)
        logger.log({"train_loss_epoch": loss_sum / max(seen, 1), "train_acc": acc_sum / max(seen, 1)}, bts - 1, epoch)
        if stopped_epoch is not None:
            break
    last_epoch = stopped_epoch if stopped_epoch is not None else cfg.max_epochs - 1
    logger.save_checkpoint(model, last_epoch, bts)
    return {"stopped_epoch": stopped_epoch, "global_steps": bts}


# --------------------------------------------------------------------------- the program

DEFAULTS: dict[str, Any] = {
    "n_train": 2000,
    "n_val": 500,
    "seq_len": 30,
    "channels": 6,
    "noise": 1.0,
    "hidden": 32,
    "layers": 1,
    "gru_dropout": 0.0,
    "head_dropout": 0.0,
    "optimizer": "adam",
    "lr": 2e-3,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "batch_size": 32,
    "epochs": 20,
    "schedule": "constant",  # constant | plateau | cosine_restarts | step | kicks | warmup_cosine
    "restart_epochs": 8,
    "step_size": 15,
    "gamma": 0.05,
    "kick_steps": [],
    "kick_factor": 30.0,
    "log_every_n_steps": 50,
    "gradient_clip_val": None,
    "early_stop_patience": None,
    "label_noise": 0.0,  # in training and validation labels
    "train_label_noise": 0.0,  # in training labels only
    "batch_first_bug": False,
    "channel_dropout": 0.0,  # per sequence and channel; then per-sequence standardisation without epsilon
    "sorted": False,
    "val_rate": 1.0,  # validation sampling-rate factor
    "val_check_interval": 1.0,  # Trainer(val_check_interval): float = share of an epoch, int = batches
    "warmup_steps": None,  # schedule "warmup_cosine": linear warm-up steps; None = one epoch of steps
}

FREQS = np.array([1.0, 2.0, 3.0, 4.5])  # cycles per sequence, one per class


def _r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
    return RunSpec(program=NAME, name=name, intent=intent, params=params, seed=seed)


def runs() -> list[RunSpec]:
    return [
        _r("healthy_adam_constant", "healthy", 1),
        _r("healthy_reduce_on_plateau", "healthy", 2, schedule="plateau", epochs=30, lr=3e-3),
        _r("healthy_dropout", "healthy", 3, layers=2, gru_dropout=0.5, head_dropout=0.7, epochs=20),
        _r("healthy_cosine_restarts", "healthy", 4, schedule="cosine_restarts", restart_epochs=8, epochs=24,
           lr=4e-3, log_every_n_steps=10),
        _r("healthy_small_val", "healthy", 5, n_val=48, log_every_n_steps=20),
        _r("overfit_small_train", "overfitting", 6, n_train=150, hidden=128, epochs=80, log_every_n_steps=5),
        _r("lr_high_sgd_step_decay", "lr_too_high", 7, optimizer="sgd", lr=0.3, schedule="step", step_size=10,
           gamma=0.1, epochs=20),
        _r("diverge_sgd_no_clip", "divergence", 8, optimizer="sgd", lr=2.0, epochs=15, log_every_n_steps=10),
        _r("nonfinite_channel_dropout", "nonfinite", 9, channel_dropout=1.5e-5, epochs=30, early_stop_patience=10),
        _r("lr_small", "lr_too_small", 10, lr=1e-5),
        _r("no_learning_batch_first_bug", "no_learning", 11, batch_first_bug=True, epochs=15),
        _r("plateau_label_noise_wd", "plateau", 12, label_noise=0.25, weight_decay=3e-3, epochs=30),
        _r("val_plateau_label_noise", "val_plateau", 13, label_noise=0.2, weight_decay=1e-3, epochs=30),
        _r("underfit_hidden2", "underfitting", 14, hidden=2, epochs=30),
        _r("still_learning_sgd", "still_learning", 15, optimizer="sgd", lr=0.05, epochs=6, log_every_n_steps=10),
        _r("unshuffled_sorted", "unshuffled", 16, sorted=True, log_every_n_steps=5, epochs=12),
        _r("spikes_lr_kicks", "loss_spikes", 17, schedule="kicks", kick_steps=[500, 800, 1100], kick_factor=100.0,
           epochs=20, log_every_n_steps=10),
        _r("data_problem_val_rate", "data_problem", 18, val_rate=1.6, epochs=15),
        # added for the dev set's rarer codes
        _r("lr_high_sgd_late_step", "lr_too_high", 21, optimizer="sgd", lr=0.4, schedule="step", step_size=12,
           gamma=0.1, epochs=20),
        _r("noisy_label_noise_small_val", "noisy", 23, label_noise=0.3, n_val=48, batch_size=8, lr=3e-3, epochs=10,
           log_every_n_steps=5),
        _r("data_problem_val_rate_2_5", "data_problem", 24, val_rate=2.5, epochs=15),
        # Lightning conventions real runs use: mid-epoch validation, per-step warm-up + cosine
        _r("healthy_val_half_epoch", "healthy", 25, val_check_interval=0.5, epochs=20),
        _r("healthy_warmup_cosine_quarter_val", "healthy", 26, schedule="warmup_cosine", lr=4e-3,
           val_check_interval=0.25, epochs=20, log_every_n_steps=10),
        _r("overfit_val_half_epoch", "overfitting", 27, n_train=256, hidden=128, epochs=60, log_every_n_steps=5,
           val_check_interval=0.5),
        _r("lr_high_warmup_cosine", "lr_too_high", 28, optimizer="sgd", lr=0.15, schedule="warmup_cosine",
           val_check_interval=0.5, epochs=20, log_every_n_steps=10),
    ]


def _sequences(n: int, cfg: dict[str, Any], rng: np.random.Generator, rate: float = 1.0) -> tuple[np.ndarray, ...]:
    """Class k: a sinusoid of FREQS[k] cycles per sequence (x rate) along a fixed channel mix, plus noise."""
    T, C = cfg["seq_len"], cfg["channels"]
    mix = np.random.default_rng(1234).normal(size=C)
    mix /= np.linalg.norm(mix)
    y = rng.integers(0, len(FREQS), n)
    t = np.arange(T)
    phase = rng.uniform(0, 2 * np.pi, n)
    wave = np.sin(2 * np.pi * (FREQS[y] * rate)[:, None] * t / T + phase[:, None])
    x = 1.5 * wave[:, :, None] * mix + cfg["noise"] * rng.normal(size=(n, T, C))
    return x.astype(np.float32), y


def _noisy(y: np.ndarray, frac: float, rng: np.random.Generator) -> np.ndarray:
    y = y.copy()
    flip = rng.random(len(y)) < frac
    y[flip] = (y[flip] + rng.integers(1, len(FREQS), int(flip.sum()))) % len(FREQS)
    return y


class _Net:
    """Built lazily so that importing this module does not import torch."""

    @staticmethod
    def build(cfg: dict[str, Any]) -> Any:
        import torch.nn as nn

        class GRUClassifier(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.gru = nn.GRU(cfg["channels"], cfg["hidden"], num_layers=cfg["layers"],
                                  dropout=cfg["gru_dropout"], batch_first=not cfg["batch_first_bug"])
                self.head = nn.Sequential(nn.Dropout(cfg["head_dropout"]), nn.Linear(cfg["hidden"], len(FREQS)))

            def forward(self, x: Any) -> Any:
                out, _ = self.gru(x)  # with the bug, (B, T, C) is read as (time=B, batch=T, C)
                return self.head(out[:, -1])

        return GRUClassifier()


def _warmup_steps(cfg: dict[str, Any], steps_per_epoch: int) -> int:
    return steps_per_epoch if cfg["warmup_steps"] is None else int(cfg["warmup_steps"])


def warmup_cosine(warmup: int, total: int) -> Callable[[int], float]:
    """The LR factor of ``transformers.get_cosine_schedule_with_warmup``, the usual Lightning recipe for it.

    Written out (transformers is not a dependency): 0 at step 0, linear to 1 at ``warmup``, then half a
    cosine to 0 at ``total``. Used as a ``LambdaLR`` with ``interval="step"``.
    """

    def factor(step: int) -> float:
        if step < warmup:
            return step / max(1, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))

    return factor


def val_check_batches(val_check_interval: float | int, steps_per_epoch: int) -> int:
    """Lightning's ``trainer.val_check_batch``: an int is a batch count, a float a share of the epoch.

    A float becomes ``max(1, int(batches x interval))`` and validation runs after every batch with
    ``(batch_idx + 1) % val_check_batch == 0``, so with 63 batches and 0.5 it runs after batches 31 and 62
    (1-based), not after the epoch's 63rd: Lightning's own behaviour, kept.
    """
    if isinstance(val_check_interval, bool) or not isinstance(val_check_interval, int | float):
        raise ValueError(f"val_check_interval must be an int or a float, not {val_check_interval!r}")
    if isinstance(val_check_interval, int):
        if not 1 <= val_check_interval <= steps_per_epoch:  # Lightning raises the same for an int too large
            raise ValueError(f"val_check_interval {val_check_interval} must be in [1, {steps_per_epoch}] batches")
        return val_check_interval
    if not 0.0 < val_check_interval <= 1.0:
        raise ValueError(f"a float val_check_interval must be in (0, 1], not {val_check_interval}")
    return max(1, int(steps_per_epoch * val_check_interval))


def _scheduler(cfg: dict[str, Any], opt: Any, steps_per_epoch: int) -> tuple[Any, str, bool]:
    """(scheduler, Lightning interval, is ReduceLROnPlateau)."""
    from torch.optim import lr_scheduler

    kind = cfg["schedule"]
    if kind == "plateau":
        return lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2), "epoch", True
    if kind == "cosine_restarts":
        return lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=cfg["restart_epochs"] * steps_per_epoch), "step", False
    if kind == "step":
        return lr_scheduler.StepLR(opt, step_size=cfg["step_size"], gamma=cfg["gamma"]), "epoch", False
    if kind == "kicks":
        kicks = set(cfg["kick_steps"])
        return lr_scheduler.LambdaLR(opt, lambda s: cfg["kick_factor"] if s in kicks else 1.0), "step", False
    if kind == "warmup_cosine":
        warmup = _warmup_steps(cfg, steps_per_epoch)
        return lr_scheduler.LambdaLR(opt, warmup_cosine(warmup, cfg["epochs"] * steps_per_epoch)), "step", False
    return lr_scheduler.LambdaLR(opt, lambda e: 1.0), "epoch", False


def train(spec: RunSpec, run_dir: Path) -> Facts:
    import torch
    import torch.nn.functional as F

    t0 = time.time()
    cfg = run_params(spec, DEFAULTS)
    seed_everything(spec.seed)
    rng = np.random.default_rng(spec.seed)
    x_tr, y_tr = _sequences(cfg["n_train"], cfg, rng)
    x_va, y_va = _sequences(cfg["n_val"], cfg, rng, rate=cfg["val_rate"])
    if cfg["label_noise"]:
        y_tr, y_va = _noisy(y_tr, cfg["label_noise"], rng), _noisy(y_va, cfg["label_noise"], rng)
    if cfg["train_label_noise"]:
        y_tr = _noisy(y_tr, cfg["train_label_noise"], rng)
    if cfg["sorted"]:
        order = np.argsort(y_tr, kind="stable")
        x_tr, y_tr = x_tr[order], y_tr[order]
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr).long()
    xv, yv = torch.from_numpy(x_va), torch.from_numpy(y_va).long()
    model = _Net.build(cfg)
    if cfg["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                              weight_decay=cfg["weight_decay"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    bs = cfg["batch_size"]
    spe = math.ceil(len(yt) / bs)
    sched, interval, plateau = _scheduler(cfg, opt, spe)
    gen = torch.Generator().manual_seed(spec.seed)
    hparams = {k: cfg[k] for k in ("hidden", "layers", "gru_dropout", "head_dropout", "optimizer", "lr",
                                   "weight_decay", "batch_size", "schedule")}
    if cfg["schedule"] == "warmup_cosine":  # a module hparam only where configure_optimizers reads it
        hparams["warmup_steps"] = _warmup_steps(cfg, spe)
    logger = LightningStyle(run_dir, hparams, type(opt).__name__, cfg["log_every_n_steps"])

    def epoch_batches(epoch: int) -> Iterable[Batch]:
        order = torch.arange(len(yt)) if cfg["sorted"] else torch.randperm(len(yt), generator=gen)
        for b in range(spe):
            idx = order[b * bs : (b + 1) * bs]
            xb = xt[idx]
            if cfg["channel_dropout"]:
                keep = torch.rand(xb.shape[0], 1, xb.shape[2], generator=gen) >= cfg["channel_dropout"]
                xb = xb * keep
                # per-sequence standardisation as written in the data module: no epsilon
                xb = (xb - xb.mean(1, keepdim=True)) / xb.std(1, keepdim=True)
            yield xb, yt[idx]

    def step_fn(batch: Batch) -> tuple[Any, int, int]:
        xb, yb = batch
        logits = model(xb)
        return F.cross_entropy(logits, yb), len(yb), int((logits.argmax(1) == yb).sum())

    def validate() -> tuple[float, float]:
        xin = xv
        if cfg["channel_dropout"]:
            xin = (xv - xv.mean(1, keepdim=True)) / xv.std(1, keepdim=True)
        logits = model(xin)
        return float(F.cross_entropy(logits, yv)), float((logits.argmax(1) == yv).float().mean())

    every = val_check_batches(cfg["val_check_interval"], spe)
    fit_cfg = FitConfig(max_epochs=cfg["epochs"], steps_per_epoch=spe, log_every_n_steps=cfg["log_every_n_steps"],
                        val_check_batches=every, gradient_clip_val=cfg["gradient_clip_val"], sched_interval=interval,
                        plateau=plateau, early_stop_patience=cfg["early_stop_patience"])
    result = fit(model, opt, sched, logger, fit_cfg, epoch_batches, step_fn, validate)
    logger.close()
    prefix = logger.prefix(run_dir)
    injected = {k: cfg[k] for k in ("label_noise", "train_label_noise", "batch_first_bug", "channel_dropout",
                                    "sorted", "kick_steps") if cfg[k]}
    if cfg["val_rate"] != 1.0:
        injected["val_sampling_rate_factor"] = cfg["val_rate"]
    if cfg["n_val"] != DEFAULTS["n_val"]:
        injected["n_val"] = cfg["n_val"]
    if result["stopped_epoch"] is not None:
        injected["early_stopped_at_epoch"] = result["stopped_epoch"]
    return Facts(
        tags={"train_loss": prefix + "train_loss_epoch", "batch_loss": prefix + "train_loss_step",
              "train_metric": prefix + "train_acc", "val_loss": prefix + "val_loss", "val_metric": prefix + "val_acc",
              "lr": prefix + logger.lr_tag},
        steps={"train_loss": "step", "batch_loss": "step", "train_metric": "step", "val_loss": "step",
               "val_metric": "step", "lr": "step"},
        task="classification",
        metric="accuracy",
        metric_direction="max",
        num_classes=len(FREQS),
        chance_metric=float(np.bincount(y_va, minlength=len(FREQS)).max() / len(y_va)),
        epochs=cfg["epochs"],
        steps_per_epoch=spe,
        batch_size=bs,
        lr_peak=cfg["lr"],
        schedule={"constant": "constant", "plateau": "reduce_on_plateau", "cosine_restarts": "cosine_restarts",
                  "step": "step_decay", "kicks": "constant_with_kicks",
                  "warmup_cosine": "warmup_cosine"}[cfg["schedule"]],
        log_every_steps=cfg["log_every_n_steps"],
        eval_every_steps=every,
        shuffled=not cfg["sorted"],
        injected=injected,
        seconds=round(time.time() - t0, 2),
    )


PROGRAM = Program(
    name=NAME,
    family="rnn",
    data="synthetic sinusoid-frequency sequences",
    script="lightning_style",
    writer="torch_summarywriter",
    framework="torch",
    version=1,
    runs=runs,
    train=train,
)
