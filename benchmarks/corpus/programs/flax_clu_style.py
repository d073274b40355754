"""flax_clu_style: a tiny Transformer encoder classifying synthetic token sequences, trained with PyTorch but
logged exactly the way the Flax examples log through Google's CLU ``metric_writers``.

Why it exists: the Flax examples (and most JAX code built on them) write TensorBoard files
through ``clu.metric_writers``, a layout unlike any other program's. What was verified, in
the sources (google/CommonLoopUtils at 04ad2f9, google/flax at 18f8f31):

- ``clu/metric_writers/__init__.py`` exports ``create_default_writer`` (from
  ``clu/metric_writers/utils.py``): a ``LoggingWriter`` plus, when a logdir is given, one
  ``SummaryWriter(logdir)`` (``clu/metric_writers/summary_writer.py`` re-exports
  ``clu/metric_writers/tf/summary_writer.py``), wrapped in an ``AsyncMultiWriter``. That
  ``SummaryWriter`` is ``tf.summary.create_file_writer(logdir)``; ``write_scalars(step,
  {...})`` calls ``tf.summary.scalar(key, value, step=step)`` for each key (TF2 tensor
  summaries, not ``simple_value``), ``write_hparams`` the HParams plugin's
  ``hparams_api.hparams`` on the flattened dict. So: ONE event file
  (``events.out.tfevents.*.v2``) directly in the workdir, training and evaluation tags
  side by side, no ``train/`` / ``eval/`` sub-folders; the split lives in the tag prefix.
- ``examples/imagenet/train.py``: ``writer = create_default_writer(logdir=workdir)``; every
  step's metrics (``compute_metrics``: ``loss`` = the cross-entropy, *without* the L2
  weight penalty that the optimised loss carries, ``accuracy`` = the batch accuracy, and
  ``metrics['learning_rate'] = lr``) are appended to a list; when ``(step + 1) %
  log_every_steps == 0`` their MEAN over those ``log_every_steps`` steps is written at
  step ``step + 1`` as ``train_loss``, ``train_accuracy``, ``train_learning_rate`` (the
  ``train_`` prefix is added to every key, the LR included), plus ``steps_per_second``.
  Evaluation runs when ``(step + 1) % steps_per_epoch == 0`` and writes the means of the
  per-batch ``loss`` / ``accuracy`` at ``step + 1`` as ``eval_loss`` / ``eval_accuracy``
  (``{f'eval_{key}': val}``), to the SAME writer, then ``writer.flush()``. The schedule is
  ``optax.linear_schedule(0 -> base LR over warmup_epochs * steps_per_epoch)`` joined to
  ``optax.cosine_decay_schedule`` (to 0 at the run's end); SGD, momentum 0.9, Nesterov; no
  ``write_hparams``, no ``ReportProgress`` (only a ``Profile`` hook).
- ``examples/wmt/train.py`` and ``examples/lm1b/train.py``: ``writer.write_hparams(dict(config))``
  at the start; training metrics are collected every step but written only with the
  evaluation, when ``step % eval_every_steps == 0 or is_last_step`` (0-based ``step``, so
  the first point, at step 0, summarises ONE batch), at step ``step``:
  ``train_loss`` / ``train_accuracy`` = token-weighted means (sums / ``denominator``),
  ``train_learning_rate`` = the mean LR, then ``eval_loss`` / ``eval_accuracy`` at the same
  step (``{"eval_" + k: v}``), plus ``bleu`` (wmt) or ``train_perplexity`` (lm1b). The LR is
  a linear warm-up from 0 over ``warmup_steps`` joined to ``rsqrt_schedule`` (``lr *
  sqrt(warmup / step)``); ``optax.adamw`` with b2 0.98, eps 1e-9. A
  ``periodic_actions.ReportProgress(num_train_steps=..., writer=writer)`` hook, called
  ``h(step)`` after every step, writes ``steps_per_sec`` (not ``steps_per_second``) and
  ``uptime`` when it triggers (``clu/periodic_actions.py``: every 60 s by default, never on
  its first call, and at ``num_train_steps``, which a 0-based ``h(step)`` never reaches).
- ``examples/ogbg_molpcba/train.py`` (the other example with ``log_every_steps`` and
  ``eval_every_steps``) uses 1-based steps and ``step % log_every_steps == 0``, the same
  step values as imagenet's ``step + 1``; its training means are ``clu.metrics.Average``
  (``clu/metrics.py``: total / count over every example since the last write).

This program reproduces the imagenet loop (``loop`` "imagenet", the default) with an
``eval_every_steps`` option (0 = once per epoch, imagenet's choice; otherwise ``(step + 1)
% eval_every_steps == 0``) and ``write_hparams`` as the other examples do, and the wmt/lm1b
loop (``loop`` "wmt"). A minimal ``SummaryWriter`` with CLU's ``write_scalars`` /
``write_hparams`` / ``flush`` is re-implemented here (CLU itself imports JAX, which is not
installed). CLU's ``LoggingWriter`` and the asynchronous wrapper change nothing in the file
and are left out. ``ReportProgress`` is re-implemented too, but triggered every
``progress_every_steps`` steps instead of every 60 s so that a run is reproducible (0 =
no hook, as in imagenet). A reader sees the tags by name alone (``train_loss``,
``eval_loss``, ``eval_accuracy``, ``train_learning_rate``...), every one on the step axis
(the number of optimizer steps done; the wmt loop's 0-based ``step``). The loss is the
natural-log cross-entropy (``optax.softmax_cross_entropy``): ln 4 = 1.39 at the start.

Data: sequences of ``seq_len`` (16) tokens over a vocabulary of ``vocab_size`` (16); tokens
0-3 are class markers, the rest filler. Each position is a marker with probability
``marker_rate`` (0.4). In the first half the markers are uniform (distractors); in the
second half the sequence's class marker is drawn with probability ``marker_bias`` (0.33),
each other one with (1 - 0.33) / 3. The label is the marker most frequent in the second
half (ties redrawn), so a bag-of-tokens model is misled by the first half and the network
has to learn where a token sits; then ``label_noise`` (10%) of the labels, training and
evaluation alike, are redrawn uniformly (annotator noise: the best accuracy is ~0.93, the
best loss ~0.35). 4096 training and 512 evaluation sequences; the training set is
reshuffled every epoch (the ``tf.data`` shuffle) and cut into batches of ``batch_size``
(64) with the remainder dropped, so steps_per_epoch = n_train // batch_size. Model (the
wmt example's ``Encoder1DBlock``, pre-LayerNorm): token embedding (``emb_dim`` 32,
normal(1) as Flax's ``Embed``) + learned position embedding (normal(0.02)), dropout,
``num_layers`` (1) blocks of LayerNorm -> multi-head self-attention (``num_heads`` 2,
``attention_dropout_rate``) -> dropout -> residual, LayerNorm -> MLP (``mlp_dim`` 64,
GELU, dropout) -> residual; a final LayerNorm, mean pooling and a dense layer to the 4
classes. Optimizers as optax's: ``adamw`` (b1 0.9, b2 0.98, eps 1e-9, decoupled
``weight_decay`` x LR) or ``sgd`` (momentum 0.9, Nesterov; ``weight_decay`` is imagenet's
L2 penalty 0.5 x wd x |w|^2 over every parameter with ndim > 1, added to the optimised loss,
not to the logged one), after ``optax.clip_by_global_norm(clip_norm)`` when set. The
LR comes from the schedule at the 0-based step before each update: ``warmup_cosine``
(imagenet: linear from 0 over ``warmup_steps``, then cosine to 0 over ``decay_steps``, 0 =
the rest of the run), ``inverse_sqrt`` (wmt's rsqrt), ``cosine_restarts``
(``optax.sgdr_schedule``: cycles of ``restart_every`` steps, each a warm-up of
``warmup_steps`` and a cosine to 0) or ``constant``.

Runs (intent: how it is produced):

==================================  ========================  =====================================================
run                                 intent                    how
==================================  ========================  =====================================================
healthy_warmup_cosine_adamw         healthy                   AdamW 1e-3, linear warm-up 100 steps, cosine to 0, 12
                                                              epochs: eval loss 1.22 -> 0.338, accuracy 0.93 (the
                                                              noise ceiling) from epoch ~5
healthy_imagenet_sgd_nesterov       healthy                   the imagenet recipe: SGD 0.1, Nesterov momentum 0.9, L2
                                                              1e-4 in the loss, warm-up 2 epochs, cosine; no hparams
healthy_wmt_rsqrt_loop              healthy                   the wmt/lm1b loop: train and eval written together
                                                              every 40 steps (0, 40, ..., 760, 767), rsqrt decay
                                                              after 200 warm-up steps, dropout 0.1, ReportProgress
                                                              every 100 steps (``steps_per_sec``, ``uptime``)
healthy_cosine_restarts             healthy                   ``sgdr_schedule``: three 256-step cosine cycles from
                                                              2e-2 without warm-up: the training loss jumps ~30%
                                                              for a few windows after each restart
healthy_dropout_eval_below_train    healthy                   dropout 0.3 (attention 0.1): eval loss at or below
                                                              the training mean
healthy_tiny_eval_set               healthy                   48 evaluation sequences: accuracy in steps of 1/48,
                                                              eval loss 0.18 against training's 0.3-0.4
overfit_small_train_big_model       overfitting               1024 sequences, 2 blocks of width 64, constant 1e-3,
                                                              40 epochs: eval loss best 0.372 at epoch 21, +20% at
                                                              the end while training falls to 0.15
lr_high_warmup_cosine               lr_too_high               AdamW peak 0.2 (weight decay 0.1) after 250 warm-up
                                                              steps: the loss reaches ~0.5 early in the warm-up,
                                                              climbs back to ~0.95 around the peak, falls to 0.5
                                                              only as the cosine brings the LR down
diverge_warmup_longer_than_run      divergence                imagenet's SGD with ``clip_by_global_norm(1.0)``,
                                                              800 warm-up steps to 3.0 in a 768-step run (the LR
                                                              only grows): 0.64 at step ~136, ~9 at the end, finite
nonfinite_half_naive_xent           nonfinite                 clean labels, constant 5e-3, a hand-written
                                                              cross-entropy on float16 logits: once a logit gap
                                                              passes ~17, 0 x log(0) = NaN, from step 584 on
lr_small_constant                   lr_too_small              constant AdamW 2e-5: an even crawl 1.38 -> 1.27
no_learning_shuffled_labels         no_learning               training labels joined back in another order: ln 4
                                                              throughout, accuracy at chance
plateau_constant_big_train          plateau                   6144 sequences (96 steps per epoch), constant 3e-3, 8
                                                              epochs: eval at 0.38-0.40 from epoch ~3, both within
                                                              3% over the last third
val_plateau_wide_mlp                val_plateau               2048 sequences, width 64, MLP 256, 3e-3 cosine, 24
                                                              epochs: eval flat (+0.8%) over the last third while
                                                              training falls 6%
lr_decay_too_early                  lr_decay_too_early        ``decay_steps`` 200 (meant: the rest of the run): LR
                                                              0 from step 300 of 768, the loss frozen at ~0.45
underfit_tiny_model                 underfitting              width 3, no encoder block, constant 3e-2, 20 epochs:
                                                              accuracy levels at ~0.70, eval alike
still_learning_short                still_learning            rsqrt from 5e-4, 6 epochs: eval loss -18% over the
                                                              last third
unshuffled_class_sorted             unshuffled                training sequences sorted by label, the same order
                                                              every epoch, ``log_every_steps`` 4: the loss waves
                                                              with the position in the epoch
spikes_shifted_label_shard          loss_spikes               three whole logging windows (8 steps each, at steps
                                                              400, 544, 680) with labels shifted by one class:
                                                              ~9x jumps of ``train_loss`` (a single bad batch is
                                                              diluted 8x by the window mean)
noisy_batch2                        noisy                     2 sequences per batch, 1024 sequences, AdamW 2e-4,
                                                              ``log_every_steps`` 2: point noise ~30% of the level
data_problem_eval_label_map         data_problem              evaluation labels exported through a fixed class
                                                              permutation: eval accuracy 0.03, eval loss 1.5 ->
                                                              3.9 while training reaches 0.93
val_better_token_dropout            val_better_than_train     training-only augmentation (25% of tokens replaced by
                                                              filler) and dropout 0.2: eval loss ~half the
                                                              training loss
mismatch_eval_label_noise           best_checkpoint_mismatch  30% of evaluation labels replaced by another class,
                                                              1024 sequences, width 64: eval loss best at epoch 4,
                                                              accuracy best at ~22
==================================  ========================  =====================================================

Every run's ``params`` may be overridden (e.g. ``num_epochs``) to scale it down for a test.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._tf import tf_single_thread
from benchmarks.corpus.programs._torch import seed_everything
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "flax_clu_style"
NUM_CLASSES = 4

DEFAULTS: dict[str, Any] = {
    # data
    "seq_len": 16,
    "vocab_size": 16,  # tokens 0..3 are the class markers, the rest filler
    "marker_rate": 0.4,  # share of positions holding a marker
    "marker_bias": 0.33,  # probability of the class's own marker among the second half's markers
    "n_train": 4096,
    "n_eval": 512,
    "label_noise": 0.1,  # share of all labels (train and eval) redrawn uniformly
    "eval_label_noise": 0.0,  # extra share of evaluation labels replaced by another class
    "eval_label_map": False,  # evaluation labels exported through a fixed permutation of the classes
    "shuffle_labels": False,  # training labels joined back to the sequences in another order
    "order": "shuffle",  # shuffle (every epoch) | class_sorted (sorted by label, the same order every epoch)
    "token_dropout": 0.0,  # training-only augmentation: share of tokens replaced by random filler
    "corrupt_steps": [],  # 0-based steps whose batch carries labels shifted by one class
    # model (the wmt example's encoder block)
    "emb_dim": 32,
    "num_heads": 2,
    "mlp_dim": 64,
    "num_layers": 1,
    "dropout_rate": 0.0,
    "attention_dropout_rate": 0.0,
    "loss": "optax",  # optax (softmax_cross_entropy) | naive_half (-sum(onehot * log(softmax(float16 logits))))
    # optimisation (Flax config names)
    "optimizer": "adamw",  # adamw (b1 0.9, b2 0.98, eps 1e-9) | sgd (momentum, Nesterov)
    "learning_rate": 1e-3,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "clip_norm": 0.0,  # optax.clip_by_global_norm before the optimizer; 0 = off (the examples' default)
    "schedule": "warmup_cosine",  # warmup_cosine | inverse_sqrt | cosine_restarts | constant
    "warmup_steps": 100,
    "decay_steps": 0,  # warmup_cosine: length of the cosine after the warm-up (0 = the rest of the run)
    "restart_every": 0,  # cosine_restarts: cycle length in steps
    "batch_size": 64,
    "num_epochs": 12,
    # logging
    "loop": "imagenet",  # imagenet (step + 1, train every log_every_steps) | wmt (step, train with each eval)
    "log_every_steps": 8,
    "eval_every_steps": 0,  # 0 = once per epoch (steps_per_epoch)
    "progress_every_steps": 0,  # ReportProgress (steps_per_sec, uptime) every N steps; 0 = no hook
    "write_hparams": True,
}


def _r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
    return RunSpec(program=NAME, name=name, intent=intent, params=params, seed=seed)


def runs() -> list[RunSpec]:
    shard = [s for start in (400, 544, 680) for s in range(start, start + 8)]  # three whole logging windows
    return [
        _r("healthy_warmup_cosine_adamw", "healthy", 1),
        _r("healthy_imagenet_sgd_nesterov", "healthy", 2, optimizer="sgd", learning_rate=0.1, weight_decay=1e-4,
           warmup_steps=128, write_hparams=False),
        _r("healthy_wmt_rsqrt_loop", "healthy", 3, loop="wmt", schedule="inverse_sqrt", warmup_steps=200,
           dropout_rate=0.1, attention_dropout_rate=0.1, eval_every_steps=40, progress_every_steps=100),
        _r("healthy_cosine_restarts", "healthy", 4, schedule="cosine_restarts", restart_every=256, warmup_steps=0,
           learning_rate=2e-2),
        _r("healthy_dropout_eval_below_train", "healthy", 5, dropout_rate=0.3, attention_dropout_rate=0.1),
        _r("healthy_tiny_eval_set", "healthy", 6, n_eval=48),
        _r("overfit_small_train_big_model", "overfitting", 7, n_train=1024, emb_dim=64, num_layers=2, num_heads=4,
           mlp_dim=128, schedule="constant", num_epochs=40, log_every_steps=4, eval_every_steps=16),
        _r("lr_high_warmup_cosine", "lr_too_high", 8, learning_rate=0.2, warmup_steps=250, weight_decay=0.1),
        _r("diverge_warmup_longer_than_run", "divergence", 9, optimizer="sgd", learning_rate=3.0, clip_norm=1.0,
           warmup_steps=800),
        _r("nonfinite_half_naive_xent", "nonfinite", 10, loss="naive_half", label_noise=0.0, schedule="constant",
           learning_rate=5e-3),
        _r("lr_small_constant", "lr_too_small", 11, schedule="constant", learning_rate=2e-5),
        _r("no_learning_shuffled_labels", "no_learning", 12, shuffle_labels=True),
        _r("plateau_constant_big_train", "plateau", 13, n_train=6144, schedule="constant", learning_rate=3e-3,
           num_epochs=8, log_every_steps=16, eval_every_steps=48),
        _r("val_plateau_wide_mlp", "val_plateau", 14, n_train=2048, emb_dim=64, num_heads=4, mlp_dim=256,
           learning_rate=3e-3, num_epochs=24, eval_every_steps=32),
        _r("lr_decay_too_early", "lr_decay_too_early", 15, decay_steps=200),
        _r("underfit_tiny_model", "underfitting", 16, emb_dim=3, num_layers=0, schedule="constant",
           learning_rate=3e-2, num_epochs=20),
        _r("still_learning_short", "still_learning", 17, schedule="inverse_sqrt", learning_rate=5e-4, num_epochs=6,
           eval_every_steps=32),
        _r("unshuffled_class_sorted", "unshuffled", 18, order="class_sorted", log_every_steps=4),
        _r("spikes_shifted_label_shard", "loss_spikes", 19, corrupt_steps=shard),
        _r("noisy_batch2", "noisy", 20, batch_size=2, n_train=1024, num_epochs=4, log_every_steps=2,
           eval_every_steps=128, learning_rate=2e-4),
        _r("data_problem_eval_label_map", "data_problem", 21, eval_label_map=True),
        _r("val_better_token_dropout", "val_better_than_train", 22, token_dropout=0.25, dropout_rate=0.2),
        _r("mismatch_eval_label_noise", "best_checkpoint_mismatch", 23, eval_label_noise=0.3, n_train=1024,
           emb_dim=64, num_epochs=60, log_every_steps=4, eval_every_steps=32),
    ]


# --------------------------------------------------------------------------- data


def _sequences(cfg: dict[str, Any], n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(n, seq_len) token ids and the clean labels: the marker most frequent in the second half."""
    L, V, C = cfg["seq_len"], cfg["vocab_size"], NUM_CLASSES
    half = L // 2
    x = np.empty((n, L), np.int64)
    y = np.empty(n, np.int64)
    i = 0
    while i < n:
        c = int(rng.integers(C))
        p = np.full(C, (1 - cfg["marker_bias"]) / (C - 1))
        p[c] = cfg["marker_bias"]
        toks = rng.integers(C, V, L)
        marker = rng.random(L) < cfg["marker_rate"]
        first, second = marker[:half], marker[half:]
        toks[:half][first] = rng.integers(0, C, int(first.sum()))  # distractors: uniform markers
        toks[half:][second] = rng.choice(C, int(second.sum()), p=p)
        counts = np.bincount(toks[half:][toks[half:] < C], minlength=C)
        if (counts == counts.max()).sum() > 1:
            continue  # a tie has no label
        x[i], y[i] = toks, int(counts.argmax())
        i += 1
    return x, y


def _noisy(y: np.ndarray, share: float, rng: np.random.Generator, other: bool = False) -> np.ndarray:
    """Labels with `share` of them redrawn uniformly (`other`: replaced by a different class)."""
    y = y.copy()
    hit = rng.random(y.size) < share
    if other:
        y[hit] = (y[hit] + rng.integers(1, NUM_CLASSES, int(hit.sum()))) % NUM_CLASSES
    else:
        y[hit] = rng.integers(0, NUM_CLASSES, int(hit.sum()))
    return y


def _data(cfg: dict[str, Any], rng: np.random.Generator) -> dict[str, np.ndarray]:
    xt, yt = _sequences(cfg, cfg["n_train"], rng)
    xe, ye = _sequences(cfg, cfg["n_eval"], rng)
    yt, ye = _noisy(yt, cfg["label_noise"], rng), _noisy(ye, cfg["label_noise"], rng)
    if cfg["eval_label_noise"]:
        ye = _noisy(ye, cfg["eval_label_noise"], rng, other=True)
    if cfg["eval_label_map"]:
        ye = np.array([1, 3, 0, 2])[ye]  # the evaluation export's class ids: a fixed permutation, no fixed point
    if cfg["shuffle_labels"]:
        yt = yt[rng.permutation(yt.size)]  # the bug: labels joined back to the sequences in another order
    if cfg["order"] == "class_sorted":
        order = np.argsort(yt, kind="stable")
        xt, yt = xt[order], yt[order]
    return {"xt": xt, "yt": yt, "xe": xe, "ye": ye}


def _batches(cfg: dict[str, Any], d: dict[str, np.ndarray], rng: np.random.Generator) -> Iterator[tuple[Any, Any]]:
    """Endless training batches: a fresh permutation every epoch (or the sorted order), remainder dropped."""
    n, bs = d["yt"].size, cfg["batch_size"]
    while True:
        order = np.arange(n) if cfg["order"] == "class_sorted" else rng.permutation(n)
        for b in range(n // bs):
            idx = order[b * bs : (b + 1) * bs]
            x = d["xt"][idx]
            if cfg["token_dropout"]:
                hit = rng.random(x.shape) < cfg["token_dropout"]
                x = np.where(hit, rng.integers(NUM_CLASSES, cfg["vocab_size"], x.shape), x)
            yield x, d["yt"][idx]


# --------------------------------------------------------------------------- model, schedule


def _model(cfg: dict[str, Any]) -> Any:
    import torch
    import torch.nn as nn

    d_model = cfg["emb_dim"]

    class MlpBlock(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dense1 = nn.Linear(d_model, cfg["mlp_dim"])
            self.dense2 = nn.Linear(cfg["mlp_dim"], d_model)
            self.drop = nn.Dropout(cfg["dropout_rate"])

        def forward(self, x: Any) -> Any:
            return self.drop(self.dense2(self.drop(nn.functional.gelu(self.dense1(x)))))

    class Encoder1DBlock(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1 = nn.LayerNorm(d_model)
            self.attention = nn.MultiheadAttention(d_model, cfg["num_heads"], dropout=cfg["attention_dropout_rate"],
                                                   batch_first=True)
            self.ln2 = nn.LayerNorm(d_model)
            self.mlp = MlpBlock()
            self.drop = nn.Dropout(cfg["dropout_rate"])

        def forward(self, inputs: Any) -> Any:
            h = self.ln1(inputs)
            x = inputs + self.drop(self.attention(h, h, h, need_weights=False)[0])
            return x + self.mlp(self.ln2(x))

    class Classifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(cfg["vocab_size"], d_model)
            nn.init.normal_(self.embed.weight, 0.0, 1.0)  # Flax Embed in the wmt example: normal(stddev=1.0)
            self.pos = nn.Parameter(torch.randn(cfg["seq_len"], d_model) * 0.02)
            self.drop = nn.Dropout(cfg["dropout_rate"])
            self.blocks = nn.ModuleList([Encoder1DBlock() for _ in range(cfg["num_layers"])])
            self.encoder_norm = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, NUM_CLASSES)

        def forward(self, tokens: Any) -> Any:
            x = self.drop(self.embed(tokens) + self.pos)
            for block in self.blocks:
                x = block(x)
            return self.head(self.encoder_norm(x).mean(1))

    return Classifier()


def lr_at(cfg: dict[str, Any], step: int, total: int) -> float:
    """The optax schedule's value at 0-based `step` (the LR of the update made at that step)."""
    lr, warm, kind = cfg["learning_rate"], cfg["warmup_steps"], cfg["schedule"]
    if kind == "constant":
        return lr
    if kind == "cosine_restarts":  # optax.sgdr_schedule of warmup_cosine_decay_schedule cycles
        period = cfg["restart_every"]
        s = step % period
        if s < warm:
            return lr * s / warm
        return lr * 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, period - warm)))
    if step < warm:  # optax.linear_schedule(init_value=0, end_value=lr, transition_steps=warm)
        return lr * step / warm
    if kind == "inverse_sqrt":  # rsqrt_schedule(init_value=lr, shift=warm), joined at warm
        return lr * math.sqrt(warm / step) if warm else lr
    decay = cfg["decay_steps"] or max(1, total - warm)  # optax.cosine_decay_schedule(lr, decay_steps)
    return lr * 0.5 * (1 + math.cos(math.pi * min(step - warm, decay) / decay))


def _loss(cfg: dict[str, Any], logits: Any, y: Any) -> Any:
    import torch
    import torch.nn.functional as F

    if cfg["loss"] == "naive_half":  # float16 logits, hand-written cross-entropy: 0 * log(0) = NaN
        half = logits.half()
        onehot = F.one_hot(y, NUM_CLASSES).to(half.dtype)
        return -(onehot * torch.log(torch.softmax(half, -1))).sum(-1).float().mean()
    return F.cross_entropy(logits, y)


# --------------------------------------------------------------------------- CLU's writer and progress hook


class CluSummaryWriter:
    """clu.metric_writers.SummaryWriter (``clu/metric_writers/tf/summary_writer.py``): tf.summary in one folder."""

    def __init__(self, logdir: str) -> None:
        import tensorflow as tf

        self._tf = tf
        self._summary_writer = tf.summary.create_file_writer(logdir)

    def write_scalars(self, step: int, scalars: dict[str, float]) -> None:
        with self._summary_writer.as_default():
            for key, value in scalars.items():
                self._tf.summary.scalar(key, np.float32(value), step=step)

    def write_hparams(self, hparams: dict[str, Any]) -> None:
        from tensorboard.plugins.hparams import api as hparams_api

        with self._summary_writer.as_default():
            hparams_api.hparams(hparams)

    def flush(self) -> None:
        self._summary_writer.flush()

    def close(self) -> None:
        self._summary_writer.close()


class ReportProgress:
    """clu.periodic_actions.ReportProgress, triggered by steps (every_steps) instead of every 60 s.

    Never on its first call; at ``num_train_steps``; writes ``steps_per_sec`` (since the last
    trigger) and ``uptime`` (since the hook was made).
    """

    def __init__(self, num_train_steps: int, writer: CluSummaryWriter, every_steps: int) -> None:
        self._on_steps, self._writer, self._every_steps = {num_train_steps}, writer, every_steps
        self._previous_step: int | None = None
        self._previous_time = 0.0
        self._t0 = time.monotonic()

    def __call__(self, step: int) -> None:
        t = time.monotonic()
        if self._previous_step is None:
            self._previous_step, self._previous_time = step, t
            return
        if step != self._previous_step and (step % self._every_steps == 0 or step in self._on_steps):
            steps_per_sec = (step - self._previous_step) / max(t - self._previous_time, 1e-9)
            self._writer.write_scalars(step, {"steps_per_sec": steps_per_sec})
            self._writer.write_scalars(step, {"uptime": time.monotonic() - self._t0})
            self._previous_step, self._previous_time = step, t


# --------------------------------------------------------------------------- training


def _evaluate(cfg: dict[str, Any], model: Any, d: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean loss and accuracy over every evaluation example (dropout off), as eval_step + mean."""
    import torch

    model.eval()
    with torch.no_grad():
        x, y = torch.from_numpy(d["xe"]), torch.from_numpy(d["ye"])
        logits = model(x)
        out = {"loss": float(_loss(cfg, logits, y)), "accuracy": float((logits.argmax(-1) == y).float().mean())}
    model.train()
    return out


def train(spec: RunSpec, run_dir: Path) -> Facts:
    import torch

    t0 = time.time()
    cfg = run_params(spec, DEFAULTS)
    tf_single_thread()
    seed_everything(spec.seed)
    rng = np.random.default_rng(spec.seed)
    d = _data(cfg, rng)
    spe = cfg["n_train"] // cfg["batch_size"]
    num_steps = spe * cfg["num_epochs"]
    eval_every = cfg["eval_every_steps"] or spe
    model = _model(cfg)
    params = list(model.parameters())
    if cfg["optimizer"] == "sgd":
        opt = torch.optim.SGD(params, lr=0.0, momentum=cfg["momentum"], nesterov=True)
        kernels = [p for p in params if p.ndim > 1]  # imagenet: every parameter with ndim > 1
    else:
        opt = torch.optim.AdamW(params, lr=0.0, betas=(0.9, 0.98), eps=1e-9, weight_decay=cfg["weight_decay"])
        kernels = []
    writer = CluSummaryWriter(str(run_dir))
    if cfg["write_hparams"]:
        writer.write_hparams({k: v for k, v in cfg.items() if isinstance(v, bool | int | float | str)})
    hooks = []
    if cfg["progress_every_steps"]:
        hooks.append(ReportProgress(num_steps, writer, cfg["progress_every_steps"]))
    corrupt = set(cfg["corrupt_steps"])
    batches = _batches(cfg, d, rng)
    train_metrics: list[dict[str, float]] = []
    last_t = time.time()
    for step in range(num_steps):
        xb, yb = next(batches)
        if step in corrupt:  # a corrupted shard: every label shifted to the next class
            yb = (yb + 1) % NUM_CLASSES
        x, y = torch.from_numpy(xb), torch.from_numpy(yb)
        lr = lr_at(cfg, step, num_steps)
        for group in opt.param_groups:
            group["lr"] = lr
        logits = model(x)
        loss = _loss(cfg, logits, y)
        objective = loss + 0.5 * cfg["weight_decay"] * sum((k**2).sum() for k in kernels) if kernels else loss
        opt.zero_grad()
        objective.backward()
        if cfg["clip_norm"]:
            torch.nn.utils.clip_grad_norm_(params, cfg["clip_norm"])
        opt.step()
        train_metrics.append({"loss": loss.item(), "accuracy": float((logits.argmax(-1) == y).float().mean()),
                              "learning_rate": lr})
        for h in hooks:
            h(step)
        if cfg["loop"] == "wmt":
            if step % eval_every == 0 or step == num_steps - 1:
                summary = {f"train_{k}": float(np.mean([m[k] for m in train_metrics]))
                           for k in ("loss", "accuracy", "learning_rate")}
                writer.write_scalars(step, summary)
                train_metrics = []
                writer.write_scalars(step, {f"eval_{k}": v for k, v in _evaluate(cfg, model, d).items()})
            continue
        if (step + 1) % cfg["log_every_steps"] == 0:
            summary = {f"train_{k}": float(np.mean([m[k] for m in train_metrics]))
                       for k in ("loss", "accuracy", "learning_rate")}
            summary["steps_per_second"] = cfg["log_every_steps"] / max(time.time() - last_t, 1e-9)
            writer.write_scalars(step + 1, summary)
            train_metrics = []
            last_t = time.time()
        if (step + 1) % eval_every == 0:
            writer.write_scalars(step + 1, {f"eval_{k}": v for k, v in _evaluate(cfg, model, d).items()})
            writer.flush()
    writer.close()
    return _facts(cfg, d, spe, num_steps, t0)


def _schedule_name(cfg: dict[str, Any], total: int) -> str:
    if cfg["schedule"] == "warmup_cosine" and cfg["warmup_steps"] >= total:
        return "linear_warmup"  # the warm-up never ends within the run: the LR only grows
    return cfg["schedule"]


def _lr_peak(cfg: dict[str, Any], total: int) -> float:
    return max(lr_at(cfg, s, total) for s in range(total))


def _facts(cfg: dict[str, Any], d: dict[str, np.ndarray], spe: int, total: int, t0: float) -> Facts:
    injected: dict[str, Any] = {k: cfg[k] for k in ("eval_label_noise", "eval_label_map", "shuffle_labels",
                                                    "token_dropout", "dropout_rate") if cfg[k]}
    if cfg["order"] != "shuffle":
        injected["order"] = "training sequences sorted by label, the same order every epoch, never shuffled"
    if cfg["corrupt_steps"]:
        injected["corrupt_steps"] = f"labels shifted by one class at steps {cfg['corrupt_steps']}"
    if cfg["loss"] == "naive_half":
        injected["loss"] = ("hand-written -sum(onehot * log(softmax(logits))) on float16 logits: 0 * log(0) = NaN "
                            "once a probability underflows (a logit gap above ~17)")
    if cfg["schedule"] == "warmup_cosine" and cfg["decay_steps"]:
        injected["decay_steps"] = f"cosine to 0 over {cfg['decay_steps']} steps after the warm-up, of {total}"
    if cfg["schedule"] == "warmup_cosine" and cfg["warmup_steps"] >= total:
        injected["warmup_steps"] = f"{cfg['warmup_steps']} warm-up steps in a {total}-step run: the LR only grows"
    for key in ("n_train", "n_eval", "label_noise", "emb_dim", "num_layers", "optimizer", "learning_rate",
                "weight_decay", "clip_norm", "batch_size", "loop"):
        if cfg[key] != DEFAULTS[key]:
            injected[key] = cfg[key]
    chance = float(np.bincount(d["ye"], minlength=NUM_CLASSES).max() / d["ye"].size)
    roles = ("train_loss", "batch_loss", "train_metric", "val_loss", "val_metric", "lr")
    return Facts(
        tags=dict(zip(roles, ("train_loss", "train_loss", "train_accuracy", "eval_loss", "eval_accuracy",
                              "train_learning_rate"), strict=True)),
        steps=dict.fromkeys(roles, "step"),
        task="classification",
        metric="accuracy",
        metric_direction="max",
        num_classes=NUM_CLASSES,
        chance_metric=chance,
        epochs=cfg["num_epochs"],
        steps_per_epoch=spe,
        batch_size=cfg["batch_size"],
        lr_peak=_lr_peak(cfg, total),
        schedule=_schedule_name(cfg, total),
        log_every_steps=(cfg["eval_every_steps"] or spe) if cfg["loop"] == "wmt" else cfg["log_every_steps"],
        eval_every_steps=cfg["eval_every_steps"] or spe,
        shuffled=cfg["order"] == "shuffle",
        injected=injected,
        seconds=round(time.time() - t0, 2),
    )


PROGRAM = Program(
    name=NAME,
    family="transformer",
    data="synthetic token sequences (which class marker is most frequent in the second half)",
    script="flax_style",
    writer="tf_summary",
    framework="torch",
    version=1,
    runs=runs,
    train=train,
)
