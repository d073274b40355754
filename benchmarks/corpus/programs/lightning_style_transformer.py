"""lightning_style_transformer: a small transformer encoder on a synthetic token-order task, logged like
PyTorch Lightning with validation every N training batches (held-out program).

Why it exists: the same Lightning conventions as ``lightning_style_gru`` (its
`LightningStyle` / `fit` emulation is reused: ``lightning_logs/version_0/``,
``train_loss_step`` every ``log_every_n_steps``, ``train_loss_epoch``, ``val_loss``,
``val_acc``, ``epoch``, ``hp_metric``, ``hparams.yaml``, checkpoints), but with
``val_check_interval`` < 1 epoch, so validation points sit mid-epoch at the step
of the batch after which they ran, AdamW (``lr-AdamW``) with linear warm-up then
cosine decay stepped per batch, and some runs with ``log_every_n_steps=10``.

Data: sequences of 12-32 tokens over a 16-token vocabulary (0 = padding); every
sequence holds each of the four marker tokens 1-4 exactly once among filler tokens,
and the class is the marker that comes first, so the bag of tokens says nothing and
only order does. 2000 training / 500 validation sequences, batch 32 (63 steps/epoch).
Model: token + learned position embeddings, 2 pre-norm encoder layers (d=32, 4 heads),
masked mean pooling, linear head.

Runs (intent: how it is produced):

==============================  ===========================  ==================================================
run                             intent                       how
==============================  ===========================  ==================================================
healthy_cosine_warmup           healthy                      AdamW 1e-3, 200 warm-up steps, val every 21 batches
healthy_log10_half_epoch        healthy                      log_every_n_steps 10, val_check_interval 0.5
healthy_dropout                 healthy                      dropout 0.3: val loss below train loss
healthy_small_val               healthy                      64 validation sequences, log_every_n_steps 10
healthy_warmup_bump             healthy                      peak 4e-3 after 60 warm-up steps: a bump at the peak
overfit_small_train             overfitting                  300 training sequences, d=64, 80 epochs
lr_high_cosine_peak             lr_too_high                  peak 3e-2: stalls while the LR is high, learns as
                                                             the cosine lowers it
diverge_warmup_never_ends       divergence                   LambdaLR step/warmup without min(1, .): the LR keeps
                                                             growing linearly
nonfinite_empty_val_sequence    nonfinite                    one empty (all-padding) validation sequence: masked
                                                             mean pooling divides by 0 -> val_loss NaN
lr_small                        lr_too_small                 peak 1e-6
no_learning_no_positions        no_learning                  the position embedding is left out: an order task
                                                             seen as a bag of tokens
plateau_label_noise             plateau                      25% wrong labels everywhere, weight decay 0.1
underfit_tiny_model             underfitting                 d=4, 1 layer, 1 head
still_learning_two_epochs       still_learning               2 epochs, peak 5e-4
spikes_corrupt_label_batches    loss_spikes                  3 one-off batches with random labels, x-entropy on
                                                             them; log_every_n_steps 10
data_problem_val_tokenizer      data_problem                 validation token ids shifted by one (another
                                                             tokenizer version)
mismatch_small_train            best_checkpoint_mismatch     800 training sequences, 40 epochs, no dropout
==============================  ===========================  ==================================================

Every run's ``params`` may be overridden (e.g. ``epochs``) to scale it down for a test.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._torch import seed_everything
from benchmarks.corpus.programs.lightning_style_gru import FitConfig, LightningStyle, fit
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "lightning_style_transformer"
VOCAB = 16
MAX_LEN = 32
N_CLASSES = 4

DEFAULTS: dict[str, Any] = {
    "n_train": 2000,
    "n_val": 500,
    "d_model": 32,
    "heads": 4,
    "layers": 2,
    "dropout": 0.0,
    "positions": True,
    "lr": 1e-3,  # peak
    "weight_decay": 0.01,
    "warmup_steps": 200,
    "schedule": "cosine",  # cosine (warm-up then cosine to 0) | warmup_forever (the bug)
    "batch_size": 32,
    "epochs": 10,
    "log_every_n_steps": 50,
    "val_check_interval": 21,  # batches (int) or a fraction of an epoch (float)
    "label_noise": 0.0,
    "empty_val_sequence": False,
    "val_token_shift": 0,
    "corrupt_steps": [],
}


def _r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
    return RunSpec(program=NAME, name=name, intent=intent, params=params, seed=seed)


def runs() -> list[RunSpec]:
    return [
        _r("healthy_cosine_warmup", "healthy", 1),
        _r("healthy_log10_half_epoch", "healthy", 2, log_every_n_steps=10, val_check_interval=0.5),
        _r("healthy_dropout", "healthy", 3, dropout=0.3, epochs=15),
        _r("healthy_small_val", "healthy", 4, n_val=64, log_every_n_steps=10),
        _r("healthy_warmup_bump", "healthy", 5, lr=4e-3, warmup_steps=60),
        _r("overfit_small_train", "overfitting", 6, n_train=500, weight_decay=0.0, lr=2e-3, epochs=40,
           val_check_interval=0.5, warmup_steps=100),
        _r("lr_high_cosine_peak", "lr_too_high", 7, lr=7e-2),
        _r("diverge_warmup_never_ends", "divergence", 8, schedule="warmup_forever", lr=5e-3, warmup_steps=20),
        _r("nonfinite_empty_val_sequence", "nonfinite", 9, empty_val_sequence=True),
        _r("lr_small", "lr_too_small", 10, lr=1e-6),
        _r("no_learning_no_positions", "no_learning", 11, positions=False, epochs=8),
        _r("plateau_label_noise", "plateau", 12, label_noise=0.15, epochs=16),
        _r("underfit_heavy_regularisation", "underfitting", 13, dropout=0.5, weight_decay=0.3, epochs=12),
        _r("still_learning_short", "still_learning", 14, epochs=6, warmup_steps=100, log_every_n_steps=10,
           val_check_interval=10),
        _r("spikes_corrupt_label_batches", "loss_spikes", 15, corrupt_steps=[309, 419, 539], log_every_n_steps=10),
        _r("data_problem_val_tokenizer", "data_problem", 16, val_token_shift=1, epochs=10),
        _r("mismatch_small_train", "best_checkpoint_mismatch", 17, n_train=200, d_model=64, weight_decay=0.0,
           lr=3e-3, epochs=60, val_check_interval=7, log_every_n_steps=10, warmup_steps=50),
    ]


def _sequences(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tokens (n, MAX_LEN) with 0 padding, lengths, labels = the first of the four markers in the sequence."""
    lengths = rng.integers(12, MAX_LEN + 1, n)
    tokens = rng.integers(N_CLASSES + 1, VOCAB, (n, MAX_LEN))
    labels = np.zeros(n, np.int64)
    for i, length in enumerate(lengths):
        pos = rng.choice(length, N_CLASSES, replace=False)
        markers = rng.permutation(N_CLASSES) + 1
        tokens[i, pos] = markers
        labels[i] = markers[np.argmin(pos)] - 1
        tokens[i, length:] = 0
    return tokens, lengths, labels


def _build(cfg: dict[str, Any]) -> Any:
    import torch
    import torch.nn as nn

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            d = cfg["d_model"]
            self.tok = nn.Embedding(VOCAB, d, padding_idx=0)
            self.pos = nn.Embedding(MAX_LEN, d) if cfg["positions"] else None
            layer = nn.TransformerEncoderLayer(d, cfg["heads"], dim_feedforward=2 * d, dropout=cfg["dropout"],
                                               batch_first=True, norm_first=True)
            self.enc = nn.TransformerEncoder(layer, cfg["layers"], enable_nested_tensor=False)
            self.head = nn.Linear(d, N_CLASSES)

        def forward(self, tokens: Any) -> Any:
            pad = tokens == 0
            h = self.tok(tokens)
            if self.pos is not None:
                h = h + self.pos(torch.arange(tokens.shape[1]))
            h = self.enc(h, src_key_padding_mask=pad)
            keep = (~pad).unsqueeze(-1).float()
            pooled = (h * keep).sum(1) / keep.sum(1)  # masked mean: 0/0 for an all-padding sequence
            return self.head(pooled)

    return Encoder()


def _lr_lambda(cfg: dict[str, Any], total: int) -> Any:
    warmup = cfg["warmup_steps"]

    def cosine(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

    def warmup_forever(step: int) -> float:
        return (step + 1) / warmup  # the bug: min(1.0, ...) forgotten

    return warmup_forever if cfg["schedule"] == "warmup_forever" else cosine


def train(spec: RunSpec, run_dir: Path) -> Facts:
    import torch
    import torch.nn.functional as F

    t0 = time.time()
    cfg = run_params(spec, DEFAULTS)
    seed_everything(spec.seed)
    rng = np.random.default_rng(spec.seed)
    x_tr, _, y_tr = _sequences(cfg["n_train"], rng)
    x_va, _, y_va = _sequences(cfg["n_val"], rng)
    if cfg["label_noise"]:
        for y in (y_tr, y_va):
            flip = rng.random(len(y)) < cfg["label_noise"]
            y[flip] = (y[flip] + rng.integers(1, N_CLASSES, int(flip.sum()))) % N_CLASSES
    if cfg["val_token_shift"]:
        x_va = np.where(x_va > 0, (x_va - 1 + cfg["val_token_shift"]) % (VOCAB - 1) + 1, 0)
    if cfg["empty_val_sequence"]:
        x_va[int(rng.integers(0, len(x_va)))] = 0  # an empty text that tokenised to nothing
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    xv, yv = torch.from_numpy(x_va), torch.from_numpy(y_va)
    model = _build(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    bs = cfg["batch_size"]
    spe = math.ceil(len(yt) / bs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg, spe * cfg["epochs"]))
    vci = cfg["val_check_interval"]
    val_every = vci if isinstance(vci, int) else max(1, int(spe * vci))  # Lightning's val_check_batch
    gen = torch.Generator().manual_seed(spec.seed)
    hparams = {k: cfg[k] for k in ("d_model", "heads", "layers", "dropout", "lr", "weight_decay", "warmup_steps",
                                   "batch_size", "val_check_interval")}
    logger = LightningStyle(run_dir, hparams, type(opt).__name__, cfg["log_every_n_steps"])
    corrupt = set(cfg["corrupt_steps"])
    step_counter = [0]

    def epoch_batches(epoch: int) -> Iterable[tuple[Any, Any]]:
        order = torch.randperm(len(yt), generator=gen)
        for b in range(spe):
            idx = order[b * bs : (b + 1) * bs]
            yb = yt[idx]
            if step_counter[0] in corrupt:
                yb = torch.randint(0, N_CLASSES, yb.shape, generator=gen)  # a shard with scrambled labels
            step_counter[0] += 1
            yield xt[idx], yb

    def step_fn(batch: tuple[Any, Any]) -> tuple[Any, int, int]:
        xb, yb = batch
        logits = model(xb)
        return F.cross_entropy(logits, yb), len(yb), int((logits.argmax(1) == yb).sum())

    def validate() -> tuple[float, float]:
        logits = model(xv)
        return float(F.cross_entropy(logits, yv)), float((logits.argmax(1) == yv).float().mean())

    fit_cfg = FitConfig(max_epochs=cfg["epochs"], steps_per_epoch=spe, log_every_n_steps=cfg["log_every_n_steps"],
                        val_check_batches=val_every, sched_interval="step")
    fit(model, opt, sched, logger, fit_cfg, epoch_batches, step_fn, validate)
    logger.close()
    return _facts(cfg, logger.prefix(run_dir), y_va, spe, val_every, t0)


def _facts(cfg: dict[str, Any], prefix: str, y_va: np.ndarray, spe: int, val_every: int, t0: float) -> Facts:
    injected: dict[str, Any] = {k: cfg[k] for k in ("label_noise", "empty_val_sequence", "val_token_shift",
                                                    "corrupt_steps") if cfg[k]}
    if not cfg["positions"]:
        injected["positions"] = "position embedding left out"
    if cfg["schedule"] == "warmup_forever":
        injected["schedule"] = "linear warm-up never capped: LR grows every step"
    for key in ("n_train", "n_val", "d_model", "layers"):
        if cfg[key] != DEFAULTS[key]:
            injected[key] = cfg[key]
    total = spe * cfg["epochs"]
    lr_peak = cfg["lr"] * (total / cfg["warmup_steps"] if cfg["schedule"] == "warmup_forever" else 1.0)
    return Facts(
        tags={"train_loss": prefix + "train_loss_epoch", "batch_loss": prefix + "train_loss_step",
              "train_metric": prefix + "train_acc", "val_loss": prefix + "val_loss", "val_metric": prefix + "val_acc",
              "lr": prefix + "lr-AdamW"},
        steps={"train_loss": "step", "batch_loss": "step", "train_metric": "step", "val_loss": "step",
               "val_metric": "step", "lr": "step"},
        task="classification",
        metric="accuracy",
        metric_direction="max",
        num_classes=N_CLASSES,
        chance_metric=float(np.bincount(y_va, minlength=N_CLASSES).max() / len(y_va)),
        epochs=cfg["epochs"],
        steps_per_epoch=spe,
        batch_size=cfg["batch_size"],
        lr_peak=lr_peak,
        schedule="warmup_linear_unbounded" if cfg["schedule"] == "warmup_forever" else "cosine_with_warmup",
        log_every_steps=cfg["log_every_n_steps"],
        eval_every_steps=val_every,
        shuffled=True,
        injected=injected,
        seconds=round(time.time() - t0, 2),
    )


PROGRAM = Program(
    name=NAME,
    family="transformer",
    data="synthetic first-marker token sequences",
    script="lightning_style",
    writer="torch_summarywriter",
    framework="torch",
    version=1,
    runs=runs,
    train=train,
)
