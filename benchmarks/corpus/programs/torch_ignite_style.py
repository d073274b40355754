"""torch_ignite_style: a small 1-D ConvNet classifying synthetic 3-axis accelerometer windows into 6 activities, a
plain PyTorch loop that logs the way PyTorch Ignite's ``TensorboardLogger`` does with its usual handlers.

Why it exists: Ignite's TensorBoard logs put an iteration axis and an epoch axis side by
side in one event file, under tag prefixes that do not say which is which. The trainer's
``OutputHandler`` writes the raw batch loss (``engine.state.output``) at step = the trainer's
1-based iteration; the evaluators' ``OutputHandler`` with
``global_step_transform=global_step_from_engine(trainer)`` writes the metrics at step = the
trainer's **epoch**; ``OptimizerParamsHandler`` writes ``lr/group_0`` at step = iteration.
The training-set evaluator uses the same ``training`` prefix as the per-iteration loss, so
``training/batchloss`` (iterations) sits beside ``training/loss`` (epochs), and when a
script names both ``loss`` the two handlers write into one tag on two axes.

What was verified in Ignite's source (github.com/pytorch/ignite, HEAD de08e79 of
2026-08-17):

- ``ignite/handlers/tensorboard_logger.py`` (``ignite/contrib/handlers/tensorboard_logger.py``
  only re-exports it, with a deprecation warning): ``TensorboardLogger`` opens one
  ``SummaryWriter(*args, **kwargs)`` (``log_dir``), **tensorboardX's when it is importable**,
  else ``torch.utils.tensorboard``'s: one event file directly in the log dir.
  ``OutputHandler.__call__`` calls ``writer.add_scalar(key, value, global_step)`` for every
  ``<tag>/<name>`` of the metrics / output dict; ``OptimizerParamsHandler`` writes
  ``[<tag>/]lr/group_<i>`` = ``float(param_group["lr"])`` at
  ``engine.state.get_event_attrib_value(event_name)``. The class docstring's recipe: the
  trainer's loss at ``ITERATION_COMPLETED`` as ``training/loss`` (``output_transform=lambda
  loss: {"loss": loss}``), the train evaluator's ``nll`` and ``accuracy`` as ``training/...``
  and the validation evaluator's as ``validation/...`` at ``EPOCH_COMPLETED`` with
  ``global_step_from_engine(trainer)``, the LR at ``ITERATION_STARTED``. ``OutputHandler``'s
  docstring also shows evaluation every 500 iterations with a ``global_step_transform``
  returning ``trainer.state.iteration``: the validation tags then count iterations.
- ``ignite/handlers/base_logger.py``: without ``global_step_transform`` the step is
  ``engine.state.get_event_attrib_value(event_name)`` of the engine the handler is attached
  to (an evaluator's own epoch: always 1); ``_flatten_dict`` builds the ``<tag>/<key>`` names;
  ``attach`` registers the handler on the engine, so it runs in registration order with the
  engine's other handlers of the event.
- ``ignite/handlers/utils.py`` ``global_step_from_engine(engine, custom_event_name=None)``:
  returns ``engine.state.get_event_attrib_value(event_name)`` of the *trainer* for the
  evaluator's event; ``ignite/engine/events.py`` ``State.event_to_attr`` maps
  ``EPOCH_COMPLETED`` and ``COMPLETED`` to ``epoch``, ``ITERATION_STARTED`` /
  ``ITERATION_COMPLETED`` to ``iteration``; both counters are 1-based. So the evaluators'
  metrics land at step = trainer epoch (1 after the first epoch), not at an iteration.
  ``Events.ITERATION_COMPLETED(every=N)`` fires when ``iteration % N == 0``
  (``every_event_filter``); ``ignite/engine/engine.py`` increments ``state.iteration`` right
  before ``ITERATION_STARTED``.
- ``examples/mnist/mnist_with_tensorboard_logger.py``: ``create_supervised_trainer`` (output
  ``loss.item()``), ``training/batchloss`` every 100 iterations, two evaluators with
  ``Accuracy`` and ``Loss`` run at the trainer's ``EPOCH_COMPLETED`` (the train evaluator on
  the training loader first), logged as ``training/loss``, ``training/accuracy``,
  ``validation/loss``, ``validation/accuracy`` at the trainer's epoch, ``lr/group_0`` at
  ``ITERATION_COMPLETED(every=100)``; weight / gradient norms and histograms every 100
  iterations (not reproduced); ``ModelCheckpoint`` files in the log dir (not reproduced).
- ``examples/cifar10/main.py`` with ``ignite/contrib/engines/common.py`` and
  ``ignite/handlers/logger_utils.py`` (``common.setup_tb_logging``): the trainer outputs
  ``{"batch loss": loss.item()}``, ``setup_common_training_handlers`` attaches
  ``TerminateOnNan`` (``stop_on_nan=True``) and a ``RunningAverage`` (``alpha=0.98``,
  ``RunningBatchWise``: never reset between epochs; ``ignite/metrics/running_average.py``:
  ``v = v * alpha + (1 - alpha) * x``, the first value as is) named ``batch loss``, which
  ``setup_tb_logging`` writes as ``training/batch loss`` every ``log_every_iters`` (15)
  iterations; ``lr/group_0`` at ``ITERATION_STARTED(every=15)`` after the ``PiecewiseLinear``
  scheduler (0 -> peak over the warm-up epochs -> 0; ``ignite/handlers/param_scheduler.py``:
  the first iteration runs at the first milestone's value, 0); the evaluators' metrics
  (``metric_names="all"``: ``Accuracy``, ``Loss``) at the evaluator's ``COMPLETED`` with
  ``global_step_from_engine(trainer)`` as ``training/...`` and ``test/...``;
  validation on ``EPOCH_COMPLETED(every=validate_every) | COMPLETED``, so the last epoch is
  evaluated twice when ``validate_every`` divides it, and after a ``TerminateOnNan`` stop
  (``engine.terminate()``: the remaining ``ITERATION_COMPLETED`` handlers still run,
  ``EPOCH_COMPLETED`` is skipped, ``COMPLETED`` fires) the NaN model is evaluated once more
  at the unfinished epoch's number; the train loader (``drop_last=True``, random
  augmentation) is also the train evaluator's.
- No official example writes the per-iteration loss and the train evaluator's loss into
  one tag (they use ``batchloss`` / ``batch loss`` beside ``loss`` / ``Loss``, or ``loss``
  beside ``nll``), but combining the class docstring's trainer handler with the MNIST
  example's metric names does: style ``collide`` below. TensorBoard's reader keeps the last
  value written for a step, so the epoch points 1..E sit at the start of the iteration
  curve, where they overwrite the batch losses of iterations N, 2N, ... <= E.
- tensorboardX 2.6 (``tensorboardX/summary.py`` ``_clean_tag``) replaces every character
  outside ``[-/\\w.]`` with ``_``: the cifar10 example's ``training/batch loss`` shows as
  ``training/batch_loss``; ``torch.utils.tensorboard`` keeps the space.

Not reproduced: the weight / gradient norm and histogram handlers, ``ModelCheckpoint`` /
``Checkpoint`` files, ``GpuInfo`` (CUDA only) and progress bars.

Logging styles (``style``; N = ``log_every``, every handler in one writer):

=========  =====================================  =====================================  ===========================
style      trainer, step = iteration (every N)    evaluators, step = trainer epoch       lr/group_0 (every N)
=========  =====================================  =====================================  ===========================
mnist      ``training/batchloss``, raw            ``training/{loss,accuracy}``,          at ITERATION_COMPLETED
                                                  ``validation/{loss,accuracy}``
docstring  ``training/loss``, raw                 ``training/{nll,accuracy}``,           at ITERATION_STARTED
                                                  ``validation/{nll,accuracy}``
common     ``training/batch loss`` (shown as      ``training/{Accuracy,Loss}``,          at ITERATION_STARTED
           ``training/batch_loss``), EMA 0.98;    ``test/{Accuracy,Loss}``, every
           TerminateOnNan                         ``validate_every`` epochs + COMPLETED
collide    ``training/loss``, raw                 ``training/{loss,accuracy}`` (the      at ITERATION_STARTED
                                                  trainer's tag), ``validation/...``
=========  =====================================  =====================================  ===========================

``val_step="iteration"`` evaluates every ``eval_every_iters`` iterations with the
``global_step_transform`` of ``OutputHandler``'s docstring (``trainer.state.iteration``):
the evaluator tags then count iterations. ``train_eval=False`` drops the training-set
evaluator (then the only training loss is the per-iteration one).

Data: 6 activities, each a fixed set of per-axis frequencies (1.5-6 cycles per window),
amplitudes, second-harmonic shares and offsets (gravity), drawn once from a fixed seed; a
window (3 axes x 64 samples) is its activity's pattern with a random phase, a +-10% tempo
jitter, a 0.7-1.3 amplitude scale and Gaussian noise (``noise`` 2.0). The run's seed draws
the windows. Model: two 5-tap ``Conv1d`` (``width``, 2x ``width`` channels, ReLU, max-pool
2), a global average pool, a ``hidden``-unit ReLU layer with dropout and a linear head;
``nn.CrossEntropyLoss`` (``create_supervised_trainer``'s update: ``model.train()``,
``zero_grad``, loss, backward, step; ``loss.item()`` as the output). Ignite's ``Loss``
averages the criterion over samples, ``Accuracy`` is a fraction in [0, 1] (chance 1/6).
Defaults: 2000 training windows in batches of 32 (63 iterations per epoch), 500 validation
windows, SGD 0.02 with momentum 0.9 and weight decay 1e-4, 20 epochs: the loss goes ln 6 ->
~0.25, validation accuracy ~87%.
LR schedulers are applied at ``ITERATION_STARTED`` (Ignite's ``ParamScheduler`` /
``LRScheduler`` convention), in closed form per iteration; ``ReduceLROnPlateau`` steps on
the validation loss after each validation (``ReduceLROnPlateauScheduler`` on the
evaluator's ``COMPLETED``).

Runs (intent: how it is produced):

=====================================  ========================  ==================================================
run                                    intent                    how
=====================================  ========================  ==================================================
healthy_mnist_step_decay               healthy                   the defaults (style mnist, SGD 0.02 momentum 0.9),
                                                                 x0.1 after epochs 12 and 16 of 20: accuracy 87%
healthy_docstring_cosine               healthy                   style docstring (raw loss every iteration, LR at
                                                                 ITERATION_STARTED), CosineAnnealingScheduler to 0,
                                                                 torch's SummaryWriter
healthy_cifar10_warmup_piecewise       healthy                   style common: EMA batch loss every 15 iterations,
                                                                 PiecewiseLinear 0 -> 0.1 over 4 epochs -> 0 at 24,
                                                                 validation every 3 epochs and at COMPLETED
healthy_dropout_no_train_eval          healthy                   dropout 0.5, no train evaluator: the validation
                                                                 loss sits below the raw batch loss
healthy_tiny_val                       healthy                   40 validation windows: accuracy in 2.5-point steps
healthy_plateau_scheduler_collide      healthy                   style collide (training/loss on both axes),
                                                                 ReduceLROnPlateau(x0.5, patience 2), 30 epochs
overfit_noisy_train_collide            overfitting               style collide, 300 windows with 30% wrong labels,
                                                                 width 32, hidden 128, Adam 3e-3, no weight decay,
                                                                 60 epochs: validation loss best at epoch ~33, +18%
                                                                 at the end; 10 iterations per epoch, so the 60
                                                                 epoch points fill the first 6 epochs of the
                                                                 training/loss curve
lr_high_step                           lr_too_high               SGD 0.1 (5x), x0.1 after epochs 10 and 15: the
                                                                 loss bounces around 0.7-0.8 while the LR is high,
                                                                 falls to 0.27 once it is lowered
diverge_exponential_gamma              divergence                ExponentialLR gamma 1.4 per epoch (meant 1 / 1.4)
                                                                 from SGD 0.01: falls to ~0.58 by epoch 5, climbs
                                                                 back from epoch 7 (LR ~0.08) to ln 6 and on to
                                                                 ~2.4 (finite) as the LR reaches 6; accuracy chance
nonfinite_manual_log_softmax_terminate nonfinite                 style common (TerminateOnNan), hand-written
                                                                 log(softmax) cross-entropy, cleaner windows (noise
                                                                 1.0), Adam 1e-2: NaN at iteration 638 (epoch 11 of
                                                                 24), the run stops and only COMPLETED's validation
                                                                 writes NaN (training/Loss, test/Loss at step 11)
lr_small_adam_iteration_eval           lr_too_small              Adam 1e-4, evaluators every 100 iterations at step
                                                                 = trainer iteration: an even crawl 1.77 -> 0.95
no_learning_shuffled_labels            no_learning               training labels joined to the windows in another
                                                                 order, weight decay 5e-3, 10 epochs: ln 6 throughout
plateau_converged_small_model          plateau                   width 4, hidden 8, weight decay 1e-3, constant LR,
                                                                 40 epochs: training creeps from ~0.55 to ~0.43
                                                                 over the second half, validation flat at ~0.6
val_plateau_small_train_dropout        val_plateau               300 windows, dropout 0.3, 60 epochs: validation
                                                                 flat at ~0.65 while training keeps falling
lr_decay_too_early                     lr_decay_too_early        x0.1 after epochs 2 and 4 of 20: stuck at ~0.73
underfit_tiny_model                    underfitting              width 2, hidden 4, noise 2.5, SGD 0.01, 30 epochs:
                                                                 levels off at ~51% with validation alongside
still_learning_short                   still_learning            6 epochs, SGD 0.005, evaluators every 50 iterations
unshuffled_class_sorted                unshuffled                windows sorted by class, shuffle=False, plain SGD
                                                                 0.01, raw loss every iteration: one-class batches
                                                                 make the loss wave with the epoch
spikes_shifted_label_batches           loss_spikes               iterations 700, 900 and 1100 train on labels
                                                                 shifted by one class, raw loss every iteration
                                                                 (torch's SummaryWriter): ~25x one-point spikes
noisy_batch2                           noisy                     2 windows per batch, SGD 0.005, 3 epochs, the raw
                                                                 batch loss every 10 iterations
data_problem_val_class_map             data_problem              validation labels written with another class order
                                                                 (a derangement): validation accuracy below chance,
                                                                 its loss climbing to ~9 as training learns
val_better_augmented_train_eval        val_better_than_train     style common, the train loader's augmentation
                                                                 (noise sd 1.0 and a random roll) also feeds the
                                                                 train evaluator, dropout 0.3: training/Loss above
                                                                 test/Loss at every evaluation
mismatch_noisy_val_labels              best_checkpoint_mismatch  10% of validation labels wrong, SGD 0.01, 40
                                                                 epochs: validation loss best at epoch ~21, accuracy
                                                                 best at 39
=====================================  ========================  ==================================================

Every run's ``params`` may be overridden (e.g. ``epochs``) to scale it down for a test.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._torch import seed_everything
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "torch_ignite_style"
PATTERN_SEED = 1515  # the activity patterns: one task for every run

DEFAULTS: dict[str, Any] = {
    # data
    "num_classes": 6,
    "channels": 3,
    "length": 64,
    "noise": 2.0,  # Gaussian noise sd on every sample (patterns have amplitudes 0.5-1.5)
    "n_train": 2000,
    "n_val": 500,
    "train_label_noise": 0.0,  # share of training labels replaced by another class
    "shuffle_labels": False,  # the training labels joined to the windows in another order
    "val_label_noise": 0.0,  # share of validation labels replaced by another class (a sloppy annotation pass)
    "val_class_map": False,  # validation labels exported with another class index order (a fixed derangement)
    "order": "shuffle",  # shuffle (DataLoader shuffle=True) | class_sorted (sorted by class, shuffle=False)
    "train_aug": 0.0,  # the train loader's augmentation: extra noise sd (plus a random roll); 0 = none
    "corrupt_iters": [],  # 1-based iterations whose batch trains on labels shifted by one class
    # model
    "width": 16,
    "hidden": 32,
    "dropout": 0.0,
    "loss": "ce",  # ce (nn.CrossEntropyLoss) | manual (log(softmax) written by hand: NaN once a probability is 0)
    # optimiser and schedule
    "optimizer": "sgd",  # sgd | adam
    "lr": 0.02,  # the peak LR for piecewise / cosine, the start LR otherwise
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "batch_size": 32,
    "epochs": 20,
    "schedule": "constant",  # constant | step | cosine | piecewise | exponential | plateau
    "milestones": [],  # step: LR x gamma once this many epochs are done (MultiStepLR)
    "gamma": 0.1,  # step / exponential (per epoch)
    "warmup_epochs": 0,  # piecewise: 0 -> lr over these epochs, then linearly to 0 at the end
    "eta_min": 0.0,  # cosine
    "plateau_factor": 0.5,
    "plateau_patience": 2,
    # logging
    "style": "mnist",  # mnist | docstring | common | collide (see the table above)
    "log_every": 10,  # ITERATION_COMPLETED(every=N) / ITERATION_STARTED(every=N)
    "train_eval": True,  # the training-set evaluator
    "val_step": "epoch",  # epoch (global_step_from_engine(trainer)) | iteration (trainer.state.iteration)
    "validate_every": 1,  # epochs between evaluations (val_step "epoch")
    "eval_every_iters": 100,  # iterations between evaluations (val_step "iteration")
    "writer": "tensorboardX",  # tensorboardX (TensorboardLogger's first choice) | torch (its fallback)
    "eval_batch_size": 500,
}

STYLES: dict[str, dict[str, Any]] = {
    "mnist": {"batch": "batchloss", "metrics": ("loss", "accuracy"), "val": "validation", "lr_event": "completed"},
    "docstring": {"batch": "loss", "metrics": ("nll", "accuracy"), "val": "validation", "lr_event": "started"},
    "common": {"batch": "batch loss", "metrics": ("Accuracy", "Loss"), "val": "test", "lr_event": "started"},
    "collide": {"batch": "loss", "metrics": ("loss", "accuracy"), "val": "validation", "lr_event": "started"},
}
"""Each style's names: the trainer's output key, the evaluators' metric names in the order their OutputHandler
writes them (``metric_names=[...]``, or the metrics dict's order for ``"all"``), the validation evaluator's tag, and
the event the OptimizerParamsHandler is attached to."""


def _metric_names(style: dict[str, Any]) -> tuple[str, str]:
    """(loss name, accuracy name) of a style's evaluators."""
    loss = next(m for m in style["metrics"] if m.lower() in ("loss", "nll"))
    return loss, next(m for m in style["metrics"] if m != loss)


def _r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
    return RunSpec(program=NAME, name=name, intent=intent, params=params, seed=seed)


def runs() -> list[RunSpec]:
    cifar10 = {"style": "common", "log_every": 15, "schedule": "piecewise", "warmup_epochs": 4, "validate_every": 3,
               "epochs": 24}
    return [
        _r("healthy_mnist_step_decay", "healthy", 1, schedule="step", milestones=[12, 16]),
        _r("healthy_docstring_cosine", "healthy", 2, style="docstring", log_every=1, schedule="cosine",
           writer="torch"),
        _r("healthy_cifar10_warmup_piecewise", "healthy", 3, lr=0.1, **cifar10),
        _r("healthy_dropout_no_train_eval", "healthy", 4, dropout=0.5, train_eval=False),
        _r("healthy_tiny_val", "healthy", 5, n_val=40),
        _r("healthy_plateau_scheduler_collide", "healthy", 6, style="collide", schedule="plateau", epochs=30),
        _r("overfit_noisy_train_collide", "overfitting", 7, style="collide", n_train=300, train_label_noise=0.3,
           width=32, hidden=128, optimizer="adam", lr=3e-3, weight_decay=0.0, epochs=60),
        _r("lr_high_step", "lr_too_high", 8, lr=0.1, schedule="step", milestones=[10, 15]),
        _r("diverge_exponential_gamma", "divergence", 9, lr=0.01, schedule="exponential", gamma=1.4),
        _r("nonfinite_manual_log_softmax_terminate", "nonfinite", 10, loss="manual", noise=1.0, optimizer="adam",
           lr=1e-2, weight_decay=0.0, **{**cifar10, "schedule": "constant"}),
        _r("lr_small_adam_iteration_eval", "lr_too_small", 11, optimizer="adam", lr=1e-4, val_step="iteration",
           eval_every_iters=100),
        _r("no_learning_shuffled_labels", "no_learning", 12, shuffle_labels=True, weight_decay=5e-3, epochs=10),
        _r("plateau_converged_small_model", "plateau", 13, width=4, hidden=8, weight_decay=1e-3, epochs=40),
        _r("val_plateau_small_train_dropout", "val_plateau", 14, n_train=300, dropout=0.3, epochs=60),
        _r("lr_decay_too_early", "lr_decay_too_early", 15, schedule="step", milestones=[2, 4]),
        _r("underfit_tiny_model", "underfitting", 16, width=2, hidden=4, noise=2.5, lr=0.01, epochs=30),
        _r("still_learning_short", "still_learning", 17, lr=0.005, epochs=6, val_step="iteration",
           eval_every_iters=50),
        _r("unshuffled_class_sorted", "unshuffled", 18, style="docstring", log_every=1, order="class_sorted",
           lr=0.01, momentum=0.0),
        _r("spikes_shifted_label_batches", "loss_spikes", 19, style="docstring", log_every=1,
           corrupt_iters=[700, 900, 1100], writer="torch"),
        _r("noisy_batch2", "noisy", 20, batch_size=2, lr=0.005, log_every=10, epochs=3),
        _r("data_problem_val_class_map", "data_problem", 21, val_class_map=True),
        _r("val_better_augmented_train_eval", "val_better_than_train", 22, train_aug=1.0, dropout=0.3, **cifar10),
        _r("mismatch_noisy_val_labels", "best_checkpoint_mismatch", 23, val_label_noise=0.1, lr=0.01, epochs=40),
    ]


# --------------------------------------------------------------------------- data


def activity_patterns(cfg: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per activity and axis: frequency (cycles per window), amplitude, second-harmonic share, phase lag, offset."""
    rng = np.random.default_rng(PATTERN_SEED)
    shape = (cfg["num_classes"], cfg["channels"])
    return {
        "freq": rng.uniform(1.5, 6.0, shape),
        "amp": rng.uniform(0.5, 1.5, shape),
        "harm": rng.uniform(0.0, 0.5, shape),
        "lag": rng.uniform(0.0, 2 * math.pi, shape),
        "offset": rng.normal(0.0, 0.5, shape),
    }


def _draw(cfg: dict[str, Any], pat: dict[str, np.ndarray], n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    y = rng.integers(0, cfg["num_classes"], n)
    t = np.arange(cfg["length"]) / cfg["length"]
    phase = rng.uniform(0, 2 * math.pi, (n, 1, 1))
    tempo = rng.uniform(0.9, 1.1, (n, 1, 1))
    scale = rng.uniform(0.7, 1.3, (n, 1, 1))
    w = 2 * math.pi * pat["freq"][y][:, :, None] * tempo * t + phase + pat["lag"][y][:, :, None]
    x = scale * pat["amp"][y][:, :, None] * (np.sin(w) + pat["harm"][y][:, :, None] * np.sin(2 * w))
    x = x + pat["offset"][y][:, :, None] + rng.normal(0.0, cfg["noise"], x.shape)
    return x.astype(np.float32), y.astype(np.int64)


def derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation of range(n) that moves every index (another class order for every class)."""
    while True:
        p = rng.permutation(n)
        if not np.any(p == np.arange(n)):
            return p


def _data(cfg: dict[str, Any], rng: np.random.Generator) -> dict[str, np.ndarray]:
    pat = activity_patterns(cfg)
    x, y = _draw(cfg, pat, cfg["n_train"], rng)
    vx, vy = _draw(cfg, pat, cfg["n_val"], rng)
    c = cfg["num_classes"]
    if cfg["train_label_noise"]:
        bad = rng.random(len(y)) < cfg["train_label_noise"]
        y[bad] = (y[bad] + rng.integers(1, c, int(bad.sum()))) % c  # another class, uniformly
    if cfg["shuffle_labels"]:
        y = y[rng.permutation(len(y))]  # the bug: labels joined to the windows in another order
    if cfg["val_label_noise"]:
        bad = rng.random(len(vy)) < cfg["val_label_noise"]
        vy[bad] = (vy[bad] + rng.integers(1, c, int(bad.sum()))) % c
    if cfg["val_class_map"]:
        vy = derangement(c, rng)[vy]
    if cfg["order"] == "class_sorted":
        keep = np.argsort(y, kind="stable")
        x, y = x[keep], y[keep]
    return {"x": x, "y": y, "vx": vx, "vy": vy}


def _augment(cfg: dict[str, Any], x: Any, rng: np.random.Generator) -> Any:
    """The train loader's transforms: a random roll of up to 8 samples and extra Gaussian noise."""
    import torch

    if not cfg["train_aug"]:
        return x
    shift = int(rng.integers(-8, 9))
    noise = torch.from_numpy(rng.normal(0.0, cfg["train_aug"], tuple(x.shape)).astype(np.float32))
    return torch.roll(x, shift, dims=-1) + noise


# --------------------------------------------------------------------------- model, loss, metrics


def _model(cfg: dict[str, Any]) -> Any:
    import torch.nn as nn

    w, h = cfg["width"], cfg["hidden"]
    return nn.Sequential(
        nn.Conv1d(cfg["channels"], w, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(w, 2 * w, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
        nn.Linear(2 * w, h), nn.ReLU(), nn.Dropout(cfg["dropout"]), nn.Linear(h, cfg["num_classes"]),
    )


def _criterion(cfg: dict[str, Any]) -> Any:
    """nn.CrossEntropyLoss, or a hand-written one: log(softmax(x)) times the one-hot target, where 0 x log(0) is NaN
    once a wrong class's probability underflows (a logit gap of ~100 in float32)."""
    import torch
    import torch.nn.functional as F

    if cfg["loss"] == "manual":
        def manual(logits: Any, y: Any) -> Any:
            logp = torch.log(torch.softmax(logits, -1))
            return -(F.one_hot(y, cfg["num_classes"]).float() * logp).sum(-1).mean()

        return manual
    return torch.nn.CrossEntropyLoss()


def _evaluate(cfg: dict[str, Any], model: Any, criterion: Any, x: Any, y: Any, aug_rng: Any = None) -> dict[str, float]:
    """An evaluator with Accuracy() and Loss(criterion): the loss averaged over samples, accuracy in [0, 1]."""
    import torch

    model.eval()
    bs, total, correct, n = cfg["eval_batch_size"], 0.0, 0, len(y)
    with torch.no_grad():
        for b in range(0, n, bs):
            xb, yb = x[b : b + bs], y[b : b + bs]
            if aug_rng is not None:  # the train loader's transforms
                xb = _augment(cfg, xb, aug_rng)
            out = model(xb)
            total += float(criterion(out, yb)) * len(yb)
            correct += int((out.argmax(-1) == yb).sum())
    model.train()
    return {"loss": total / n, "accuracy": correct / n}


# --------------------------------------------------------------------------- schedule


def steps_per_epoch(cfg: dict[str, Any]) -> int:
    if cfg["style"] == "common":  # the cifar10 example's train loader: drop_last=True
        return cfg["n_train"] // cfg["batch_size"]
    return -(-cfg["n_train"] // cfg["batch_size"])


def lr_at(cfg: dict[str, Any], it: int, spe: int) -> float:
    """The LR of 0-based iteration ``it`` (the scheduler's event index at ITERATION_STARTED), in closed form."""
    base, kind, epoch = cfg["lr"], cfg["schedule"], it // spe
    if kind in ("constant", "plateau"):
        return base
    if kind == "step":
        return base * cfg["gamma"] ** sum(epoch >= m for m in cfg["milestones"])
    if kind == "exponential":
        return base * cfg["gamma"] ** epoch
    total = cfg["epochs"] * spe
    if kind == "cosine":  # CosineAnnealingScheduler(start_value=lr, end_value=eta_min, cycle_size=total)
        return base + (cfg["eta_min"] - base) / 2 * (1 - math.cos(math.pi * it / total))
    if kind == "piecewise":  # PiecewiseLinear([(0, 0.0), (warmup, lr), (total, 0.0)])
        warm = cfg["warmup_epochs"] * spe
        return base * it / warm if it < warm else base * (total - it) / (total - warm)
    raise ValueError(f"unknown schedule {kind!r}")


# --------------------------------------------------------------------------- training


class _TensorboardLogger:
    """TensorboardLogger: one SummaryWriter on the log dir, tensorboardX's when importable (else torch's)."""

    def __init__(self, log_dir: Path, writer: str) -> None:
        if writer == "tensorboardX":
            from tensorboardX import SummaryWriter
        else:
            from torch.utils.tensorboard import SummaryWriter
        self.writer = SummaryWriter(log_dir=str(log_dir))

    def output(self, tag: str, values: dict[str, float], global_step: int) -> None:
        """OutputHandler: ``<tag>/<key>`` for every key, at the step its global_step_transform gives."""
        for key, value in values.items():
            self.writer.add_scalar(f"{tag}/{key}", value, global_step)

    def opt_params(self, optimizer: Any, global_step: int) -> None:
        """OptimizerParamsHandler(optimizer, "lr"): ``lr/group_<i>`` at the trainer's iteration."""
        for i, group in enumerate(optimizer.param_groups):
            self.writer.add_scalar(f"lr/group_{i}", float(group["lr"]), global_step)

    def close(self) -> None:
        self.writer.close()


def train(spec: RunSpec, run_dir: Path) -> Facts:
    import torch

    t0 = time.time()
    cfg = run_params(spec, DEFAULTS)
    style = STYLES[cfg["style"]]
    seed_everything(spec.seed)
    rng = np.random.default_rng(spec.seed)
    aug_rng = np.random.default_rng(20_000 + spec.seed)
    d = _data(cfg, rng)
    model = _model(cfg)
    criterion = _criterion(cfg)
    if cfg["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                              weight_decay=cfg["weight_decay"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    plateau = None
    if cfg["schedule"] == "plateau":
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=cfg["plateau_factor"],
                                                             patience=cfg["plateau_patience"])
    tb = _TensorboardLogger(run_dir, cfg["writer"])
    x_all, y_all = torch.from_numpy(d["x"]), torch.from_numpy(d["y"])
    vx, vy = torch.from_numpy(d["vx"]), torch.from_numpy(d["vy"])
    spe, bs, every = steps_per_epoch(cfg), cfg["batch_size"], cfg["log_every"]
    common = cfg["style"] == "common"
    corrupt = set(cfg["corrupt_iters"])

    def run_evaluators(global_step: int) -> None:
        """The train evaluator (on the train loader, augmentation included), then the validation one; each one's
        OutputHandler writes at the step its global_step_transform gives; ReduceLROnPlateau steps on the validation
        loss."""
        loss_name, _ = _metric_names(style)
        evaluators = [("training", x_all, y_all, aug_rng)] if cfg["train_eval"] else []
        for tag, x, y, aug in [*evaluators, (style["val"], vx, vy, None)]:
            m = _evaluate(cfg, model, criterion, x, y, aug)
            tb.output(tag, {k: m["loss" if k == loss_name else "accuracy"] for k in style["metrics"]}, global_step)
        if plateau is not None and math.isfinite(m["loss"]):
            plateau.step(m["loss"])

    it, epoch, ema, terminated = 0, 0, None, False
    for epoch in range(1, cfg["epochs"] + 1):
        order = np.arange(len(d["y"])) if cfg["order"] == "class_sorted" else rng.permutation(len(d["y"]))
        for b in range(spe):
            it += 1
            # ITERATION_STARTED: the LR scheduler (registered first), then the OptimizerParamsHandler
            if plateau is None:
                for group in opt.param_groups:
                    group["lr"] = lr_at(cfg, it - 1, spe)
            if style["lr_event"] == "started" and it % every == 0:
                tb.opt_params(opt, it)
            # create_supervised_trainer's update function
            idx = torch.from_numpy(order[b * bs : (b + 1) * bs])
            xb, yb = _augment(cfg, x_all[idx], aug_rng), y_all[idx]
            if it in corrupt:  # a shard whose labels are off by one class
                yb = (yb + 1) % cfg["num_classes"]
            model.train()
            opt.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            opt.step()
            output = loss.item()
            # ITERATION_COMPLETED, in registration order
            if common:
                terminated = terminated or not math.isfinite(output)  # TerminateOnNan: stops after this event
                ema = output if ema is None else ema * 0.98 + 0.02 * output  # RunningAverage(alpha=0.98)
            if it % every == 0:
                tb.output("training", {style["batch"]: ema if common else output}, it)
                if style["lr_event"] == "completed":
                    tb.opt_params(opt, it)
            if cfg["val_step"] == "iteration" and it % cfg["eval_every_iters"] == 0:
                run_evaluators(it)
            if terminated:
                break
        if terminated:
            break
        # EPOCH_COMPLETED
        if cfg["val_step"] == "epoch" and epoch % cfg["validate_every"] == 0:
            run_evaluators(epoch)
    if common:  # COMPLETED: run_validation is attached to EPOCH_COMPLETED(every=k) | COMPLETED
        run_evaluators(epoch)
    tb.close()
    return _facts(cfg, spe, it if terminated else 0, t0)


def _lr_peak(cfg: dict[str, Any], spe: int) -> float:
    return max(lr_at(cfg, it, spe) for it in range(cfg["epochs"] * spe))


def _schedule_name(cfg: dict[str, Any]) -> str:
    kind = cfg["schedule"]
    if kind == "step":
        return "step_decay" if cfg["milestones"] else "constant"
    if kind == "exponential":
        return "exponential_growth" if cfg["gamma"] > 1 else "exponential_decay"
    return {"constant": "constant", "cosine": "cosine", "piecewise": "warmup_linear", "plateau": "reduce_on_plateau"}[
        kind]


def display_tag(cfg: dict[str, Any], tag: str) -> str:
    """The tag as TensorBoard shows it: tensorboardX's ``_clean_tag`` turns every character outside ``[-/\\w.]``
    into ``_`` (``training/batch loss`` -> ``training/batch_loss``); torch's SummaryWriter keeps it."""
    return re.sub(r"[^-/\w.]", "_", tag).lstrip("/") if cfg["writer"] == "tensorboardX" else tag


def _facts(cfg: dict[str, Any], spe: int, stopped: int, t0: float) -> Facts:
    style = STYLES[cfg["style"]]
    loss_name, acc_name = _metric_names(style)
    injected: dict[str, Any] = {k: cfg[k] for k in ("train_label_noise", "val_label_noise", "shuffle_labels",
                                                    "dropout", "train_aug") if cfg[k]}
    if cfg["order"] != "shuffle":
        injected["order"] = "training windows sorted by class, DataLoader shuffle=False: the same order every epoch"
    if cfg["val_class_map"]:
        injected["val_class_map"] = "validation labels written with another class index order (a derangement)"
    if cfg["loss"] == "manual":
        injected["loss"] = "hand-written cross-entropy log(softmax(x)): 0 x -inf once a probability underflows"
    if stopped:
        injected["terminate_on_nan"] = (f"TerminateOnNan stopped the run at iteration {stopped} (epoch "
                                        f"{-(-stopped // spe)}); COMPLETED's validation ran on the NaN model")
    if cfg["corrupt_iters"]:
        injected["corrupt_iters"] = f"labels shifted by one class at iterations {cfg['corrupt_iters']}"
    if cfg["style"] == "collide" and cfg["train_eval"]:
        injected["tag_collision"] = ("the train evaluator's loss is written into training/loss at steps 1..epochs "
                                     "(trainer epochs), the per-iteration loss's tag (steps = iterations)")
    for key in ("n_train", "n_val", "noise", "width", "hidden", "batch_size", "optimizer", "lr", "momentum",
                "weight_decay", "milestones", "gamma", "log_every", "style", "val_step", "validate_every",
                "train_eval", "writer"):
        if cfg[key] != DEFAULTS[key]:
            injected[key] = cfg[key]
    val_axis = "step" if cfg["val_step"] == "iteration" else "epoch"
    batch_tag = f"training/{style['batch']}"
    tags = {"batch_loss": batch_tag, "val_loss": f"{style['val']}/{loss_name}",
            "val_metric": f"{style['val']}/{acc_name}", "lr": "lr/group_0"}
    steps = {"batch_loss": "step", "val_loss": val_axis, "val_metric": val_axis, "lr": "step"}
    if cfg["train_eval"] and cfg["style"] != "collide":
        tags |= {"train_loss": f"training/{loss_name}", "train_metric": f"training/{acc_name}"}
        steps |= {"train_loss": val_axis, "train_metric": val_axis}
    else:  # no train evaluator, or its loss shares the per-iteration tag: the training loss is that curve
        tags["train_loss"] = batch_tag
        steps["train_loss"] = "step"
        if cfg["train_eval"]:
            tags["train_metric"] = f"training/{acc_name}"
            steps["train_metric"] = val_axis
    tags = {role: display_tag(cfg, tag) for role, tag in tags.items()}
    eval_every = cfg["eval_every_iters"] if cfg["val_step"] == "iteration" else spe * cfg["validate_every"]
    return Facts(
        tags=tags,
        steps=steps,
        task="classification",
        metric="accuracy",
        metric_direction="max",
        num_classes=cfg["num_classes"],
        chance_metric=1.0 / cfg["num_classes"],
        epochs=cfg["epochs"],
        steps_per_epoch=spe,
        batch_size=cfg["batch_size"],
        lr_peak=_lr_peak(cfg, spe),
        schedule=_schedule_name(cfg),
        log_every_steps=cfg["log_every"],
        eval_every_steps=eval_every,
        shuffled=cfg["order"] == "shuffle",
        injected=injected,
        seconds=round(time.time() - t0, 2),
    )


PROGRAM = Program(
    name=NAME,
    family="cnn",
    data="synthetic 3-axis accelerometer windows, 6 activities",
    script="ignite_style",
    writer="tensorboardx",
    framework="torch",
    version=1,
    runs=runs,
    train=train,
)
