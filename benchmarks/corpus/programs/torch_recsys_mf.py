"""torch_recsys_mf: a matrix-factorisation recommender (user and item embeddings, dot product + biases) trained
on synthetic implicit feedback with sampled negatives, a plain PyTorch loop, ``torch.utils.tensorboard``.

Why it exists: recommender scripts log like neither classifiers nor learning-to-rank
ones. The training loss is a per-step BCE on (user, item, 0/1) pairs whose negatives are
re-sampled every epoch, so its level depends on the negative ratio (the prior of the
labels, not ln 2 or ln C); the metrics are leave-out ranking metrics over the whole
catalogue (hit@10 and recall@20, higher is better, chance = 10 / candidate items, a few
per cent); and the tags have their own names: ``train/bce`` (the batch loss of every
``log_every``-th optimizer step, step = global optimizer step), ``train/lr`` (the LR of
that step), ``val/bce``, ``val/hit@10`` and ``val/recall@20`` (once per epoch, at the
global step of the epoch's end). Event file directly in the run folder.

Data: users and items drawn from a random low-rank latent model (rank ``true_rank``)
plus an item popularity term; a user's positives are the top ``pos_per_user`` items of
a noisy affinity. Validation users keep ``val_pos`` of their positives back; validation
BCE scores those against ``val_neg`` fixed sampled negatives each, hit@10 and recall@20
rank them against every item the user has not interacted with in training. Training pairs
are the remaining positives plus ``neg_ratio`` negatives each, drawn anew every epoch
among the user's non-interacted items. The global bias starts at the logit of the label
prior, so training starts near the prior's BCE (~0.5 for 4 negatives per positive).

Runs (intent: how it is produced):

================================  ===========================  ==================================================
run                               intent                       how
================================  ===========================  ==================================================
healthy_adam_constant             healthy                      Adam 3e-3, weight decay 3e-5, 30 epochs
healthy_warmup_cosine             healthy                      linear warm-up (150 steps) + cosine to 0, peak
                                                               Adam 1e-2, weight decay 1e-4
healthy_emb_dropout               healthy                      dropout 0.5 on both embeddings, Adam 1e-2: val BCE
                                                               below train BCE
healthy_tiny_val                  healthy                      20 validation users (40 held-back items): hit@10
                                                               moves in steps of 0.025
overfit_rank64_sparse             overfitting                  dim 64, 6 training positives per user, Adam 1e-2,
                                                               no weight decay, 60 epochs
mismatch_val_false_negatives      best_checkpoint_mismatch     30% of validation negatives are training positives
                                                               of the user (negatives sampled without the
                                                               interaction filter): val BCE best at epoch ~4,
                                                               hit@10 at ~52 of 60
lr_high_onecycle_peak             lr_too_high                  Adam, OneCycle max_lr 0.15: the loss climbs back
                                                               from ~0.19 to ~0.37 around the peak and falls only
                                                               in the annealing phase
diverge_sgd_lr_ramp               divergence                   SGD momentum 0.9, LR 1.0 x1.0016 per step (30 at
                                                               the end): the loss climbs to ~50, finite
nonfinite_manual_log_sigmoid      nonfinite                    hand-written BCE log(sigmoid(z)), dim 64, Adam
                                                               3e-2: log(0) once a negative scores > 17, NaN from
                                                               epoch ~7
lr_small_adam                     lr_too_small                 Adam 1e-4 (the healthy runs use 3e-3), batch 1024,
                                                               80 epochs: an even crawl
no_learning_shuffled_labels       no_learning                  0/1 labels permuted independently of the (user,
                                                               item) pairs every epoch
plateau_converged_long            plateau                      Adam 1e-2, weight decay 1e-4, batch 2048, 200
                                                               epochs: converged by ~40
val_plateau_rank64_dropout        val_plateau                  dim 64, dropout 0.4, weight decay 1e-5, batch
                                                               1024, 60 epochs: train keeps falling, val flat
underfit_rank1_weight_decay       underfitting                 dim 1, weight decay 3e-4, 60 epochs: hit@10 levels
                                                               off near 0.28
still_learning_plain_sgd          still_learning               plain SGD lr 15, 10 epochs
noisy_batch2_sgd                  noisy                        300 users x 200 items, 8 positives per user, 1
                                                               negative per positive, batch size 2, SGD lr 0.5
data_problem_val_item_ids         data_problem                 validation items exported with another item id
                                                               mapping (a fixed permutation)
spikes_flipped_batches            loss_spikes                  labels flipped in 3 one-off batches (steps 700,
                                                               1200, 1650)
unshuffled_sorted_by_popularity   unshuffled                   training pairs sorted by item popularity every
                                                               epoch, never shuffled
lr_decay_too_early_step           lr_decay_too_early           Adam 1e-2, step decay x0.1 at epochs 2 and 4 of 30
val_better_popularity_negatives   val_better_than_train        training negatives drawn by popularity^0.75
                                                               (harder), validation negatives uniform; dropout
                                                               0.3
mismatch_false_negatives_rank32   best_checkpoint_mismatch     15% false validation negatives, dim 32, Adam 1e-3,
                                                               60 epochs: val BCE best at ~23, hit@10 at the end
================================  ===========================  ==================================================

Every run's ``params`` may be overridden (e.g. ``epochs``) to scale it down for a test.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._torch import seed_everything
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "torch_recsys_mf"

DEFAULTS: dict[str, Any] = {
    # data
    "n_users": 400,
    "n_items": 300,
    "true_rank": 6,
    "pop_std": 0.5,  # item popularity term of the latent affinity
    "noise": 0.15,  # noise on the affinity that picks a user's positives
    "pos_per_user": 20,
    "val_pos": 2,  # positives held back per validation user
    "val_users": None,  # validate on only this many users (tiny validation sets); None = every user
    "val_neg": 4,  # fixed sampled negatives per held-back positive (validation BCE only)
    "val_false_neg": 0.0,  # share of validation negatives drawn from the user's training positives (mislabelled)
    "val_item_map": False,  # validation item ids exported with another id mapping (a fixed permutation)
    "neg_ratio": 4,
    "neg_sampling": "uniform",  # uniform | popularity (training negatives ~ count^0.75)
    # model
    "dim": 16,
    "init_std": 0.1,
    "dropout": 0.0,  # on the user and item embeddings (training only)
    # optimisation
    "optimizer": "adam",  # adam | sgd
    "lr": 3e-3,  # peak LR for onecycle / warmup_cosine, start LR for ramp
    "momentum": 0.0,
    "weight_decay": 0.0,
    "batch_size": 512,
    "epochs": 30,
    "schedule": "constant",  # constant | warmup_cosine | onecycle | ramp | step
    "warmup_steps": 200,
    "ramp": 1.0,  # LR multiplier per optimizer step for schedule "ramp"
    "decay_epochs": [],  # schedule "step": LR x gamma from the first step of each listed epoch
    "gamma": 0.1,
    "loss": "bce",  # bce | manual (log(sigmoid) written by hand, no clamping)
    "log_every": 10,
    # injected faults
    "order": "shuffle",  # shuffle | popularity (pairs sorted by item popularity every epoch, never shuffled)
    "shuffle_labels": False,  # the 0/1 labels permuted independently of the (user, item) pairs
    "flip_steps": [],  # optimizer steps (1-based) whose batch gets its labels flipped
}


def _r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
    return RunSpec(program=NAME, name=name, intent=intent, params=params, seed=seed)


def runs() -> list[RunSpec]:
    return [
        _r("healthy_adam_constant", "healthy", 1, weight_decay=3e-5),
        _r("healthy_warmup_cosine", "healthy", 2, schedule="warmup_cosine", lr=1e-2, warmup_steps=150,
           weight_decay=1e-4),
        _r("healthy_emb_dropout", "healthy", 3, dropout=0.5, lr=1e-2),
        _r("healthy_tiny_val", "healthy", 4, val_users=20, weight_decay=3e-5),
        _r("overfit_rank64_sparse", "overfitting", 5, dim=64, pos_per_user=8, lr=1e-2, epochs=60),
        _r("mismatch_val_false_negatives", "best_checkpoint_mismatch", 6, val_false_neg=0.3, weight_decay=3e-5,
           epochs=60),
        _r("lr_high_onecycle_peak", "lr_too_high", 7, schedule="onecycle", lr=0.15, weight_decay=5e-5),
        _r("diverge_sgd_lr_ramp", "divergence", 8, optimizer="sgd", lr=1.0, momentum=0.9, schedule="ramp",
           ramp=1.0016),
        _r("nonfinite_manual_log_sigmoid", "nonfinite", 9, loss="manual", dim=64, lr=3e-2, epochs=40),
        _r("lr_small_adam", "lr_too_small", 10, lr=1e-4, batch_size=1024, log_every=5, epochs=80),
        _r("no_learning_shuffled_labels", "no_learning", 11, shuffle_labels=True, epochs=20),
        _r("plateau_converged_long", "plateau", 12, lr=1e-2, weight_decay=1e-4, batch_size=2048, epochs=200),
        _r("val_plateau_rank64_dropout", "val_plateau", 13, dim=64, dropout=0.4, weight_decay=1e-5,
           batch_size=1024, log_every=5, epochs=60),
        _r("underfit_rank1_weight_decay", "underfitting", 14, dim=1, weight_decay=3e-4, epochs=60),
        _r("still_learning_plain_sgd", "still_learning", 15, optimizer="sgd", lr=15.0, epochs=10),
        _r("noisy_batch2_sgd", "noisy", 16, n_users=300, n_items=200, pos_per_user=8, neg_ratio=1, batch_size=2,
           optimizer="sgd", lr=0.5, epochs=5),
        _r("data_problem_val_item_ids", "data_problem", 17, val_item_map=True),
        _r("spikes_flipped_batches", "loss_spikes", 18, flip_steps=[700, 1200, 1650]),
        _r("unshuffled_sorted_by_popularity", "unshuffled", 19, order="popularity", log_every=5, weight_decay=3e-5),
        _r("lr_decay_too_early_step", "lr_decay_too_early", 20, lr=1e-2, schedule="step", decay_epochs=[2, 4]),
        _r("val_better_popularity_negatives", "val_better_than_train", 21, neg_sampling="popularity", dropout=0.3,
           epochs=40),
        _r("mismatch_false_negatives_rank32", "best_checkpoint_mismatch", 23, val_false_neg=0.15, dim=32, lr=1e-3,
           weight_decay=1e-5, epochs=60),
    ]


# --------------------------------------------------------------------------- data


def _data(cfg: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Positives per user from a low-rank latent model; training positives and the held-back validation ones."""
    nu, ni, k = cfg["n_users"], cfg["n_items"], cfg["true_rank"]
    users = rng.normal(size=(nu, k))
    items = rng.normal(size=(ni, k))
    affinity = users @ items.T / math.sqrt(k) + rng.normal(0, cfg["pop_std"], ni)
    noisy = affinity + rng.normal(0, cfg["noise"], (nu, ni))
    positives = np.argsort(-noisy, axis=1)[:, : cfg["pos_per_user"]]
    n_val = nu if cfg["val_users"] is None else cfg["val_users"]
    val_users = np.sort(rng.choice(nu, n_val, replace=False))
    is_val = np.zeros(nu, bool)
    is_val[val_users] = True
    train_mask = np.zeros((nu, ni), bool)  # the interactions training knows about
    held: list[np.ndarray] = []
    for u in range(nu):
        pos = positives[u]
        if is_val[u]:
            pick = rng.permutation(len(pos))
            held.append(pos[pick[: cfg["val_pos"]]])
            pos = pos[pick[cfg["val_pos"] :]]
        train_mask[u, pos] = True
    tr_u, tr_i = np.nonzero(train_mask)
    held_items = np.stack(held)  # (n_val, val_pos)
    # validation negatives: items the user never interacted with (or, mislabelled, training positives)
    all_mask = train_mask.copy()
    all_mask[val_users[:, None], held_items] = True
    n_neg = cfg["val_pos"] * cfg["val_neg"]
    val_neg = np.stack([rng.choice(np.flatnonzero(~all_mask[u]), n_neg, replace=False) for u in val_users])
    if cfg["val_false_neg"]:
        bad = rng.random(val_neg.shape) < cfg["val_false_neg"]
        for r, u in enumerate(val_users):
            val_neg[r, bad[r]] = rng.choice(np.flatnonzero(train_mask[u]), int(bad[r].sum()), replace=False)
    if cfg["val_item_map"]:
        remap = rng.permutation(ni)  # the validation export's item ids
        held_items, val_neg = remap[held_items], remap[val_neg]
    return {"tr_u": tr_u, "tr_i": tr_i, "train_mask": train_mask, "val_users": val_users, "held": held_items,
            "val_neg": val_neg, "count": train_mask.sum(0)}


def _epoch_pairs(cfg: dict[str, Any], d: dict[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """This epoch's (user, item, label) arrays: every training positive and ``neg_ratio`` fresh negatives each."""
    ni, ratio = cfg["n_items"], cfg["neg_ratio"]
    neg_u = np.repeat(d["tr_u"], ratio)
    if cfg["neg_sampling"] == "popularity":
        p = d["count"].astype(float) ** 0.75
        p /= p.sum()
        draw = lambda n: rng.choice(ni, n, p=p)  # noqa: E731
    else:
        draw = lambda n: rng.integers(0, ni, n)  # noqa: E731
    neg_i = draw(len(neg_u))
    for _ in range(50):  # redraw the ones that hit a known interaction
        bad = np.flatnonzero(d["train_mask"][neg_u, neg_i])
        if not len(bad):
            break
        neg_i[bad] = draw(len(bad))
    u = np.concatenate([d["tr_u"], neg_u])
    i = np.concatenate([d["tr_i"], neg_i])
    y = np.concatenate([np.ones(len(d["tr_u"])), np.zeros(len(neg_u))]).astype(np.float32)
    if cfg["shuffle_labels"]:
        y = y[rng.permutation(len(y))]  # the bug: labels joined back in another row order
    if cfg["order"] == "popularity":
        order = np.lexsort((u, -d["count"][i]))  # most-interacted items first, ties by user
    else:
        order = rng.permutation(len(y))
    return u[order], i[order], y[order]


# --------------------------------------------------------------------------- model, loss, metrics


def _model(cfg: dict[str, Any], prior: float) -> Any:
    import torch
    import torch.nn as nn

    class MF(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.user = nn.Embedding(cfg["n_users"], cfg["dim"])
            self.item = nn.Embedding(cfg["n_items"], cfg["dim"])
            self.user_bias = nn.Embedding(cfg["n_users"], 1)
            self.item_bias = nn.Embedding(cfg["n_items"], 1)
            self.bias = nn.Parameter(torch.tensor(math.log(prior / (1 - prior))))
            self.drop = nn.Dropout(cfg["dropout"])
            for emb in (self.user, self.item):
                nn.init.normal_(emb.weight, 0.0, cfg["init_std"])
            for emb in (self.user_bias, self.item_bias):
                nn.init.zeros_(emb.weight)

        def forward(self, u: Any, i: Any) -> Any:
            dot = (self.drop(self.user(u)) * self.drop(self.item(i))).sum(-1)
            return dot + self.user_bias(u)[:, 0] + self.item_bias(i)[:, 0] + self.bias

        def score_all(self, u: Any) -> Any:
            return self.user(u) @ self.item.weight.T + self.user_bias(u) + self.item_bias.weight.T + self.bias

    return MF()


def _loss(cfg: dict[str, Any], logits: Any, y: Any) -> Any:
    import torch
    import torch.nn.functional as F

    if cfg["loss"] == "manual":
        p = torch.sigmoid(logits)
        return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
    return F.binary_cross_entropy_with_logits(logits, y)


def ranking_metrics(scores: np.ndarray, train_mask: np.ndarray, held: np.ndarray) -> tuple[float, float]:
    """hit@10 (share of held-back positives ranked in the top 10) and recall@20 (per user, averaged).

    Candidates are every item the user has not interacted with in training; a held-back
    item's rank is the number of candidates scored strictly higher (every candidate when its
    id is a training item: masked like one). NaN when a score is not finite.
    """
    if not np.isfinite(scores).all():
        return float("nan"), float("nan")
    s = np.where(train_mask, -np.inf, scores)  # a held-back id that names a training item ranks last
    own = s[np.arange(len(s))[:, None], held]
    rank = (s[:, None, :] > own[:, :, None]).sum(-1)  # (users, held)
    return float((rank < 10).mean()), float((rank < 20).mean(1).mean())


def _chance(train_mask: np.ndarray) -> float:
    """hit@10 of a random ranking: 10 / candidate items, averaged over the validation users."""
    candidates = (~train_mask).sum(1)
    return float(np.mean(np.minimum(1.0, 10.0 / candidates)))


# --------------------------------------------------------------------------- training


def _scheduler(cfg: dict[str, Any], opt: Any, total: int, spe: int) -> Any:
    import torch

    kind, warm = cfg["schedule"], cfg["warmup_steps"]
    if kind == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg["lr"], total_steps=total)
    if kind == "warmup_cosine":
        def f(s: int) -> float:
            return (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, total - warm)))

        return torch.optim.lr_scheduler.LambdaLR(opt, f)
    if kind == "ramp":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cfg["ramp"] ** s)
    if kind == "step":
        milestones = sorted(cfg["decay_epochs"])
        return torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: cfg["gamma"] ** sum(s >= m * spe for m in milestones))
    return None


def train(spec: RunSpec, run_dir: Path) -> Facts:
    import torch
    from torch.utils.tensorboard import SummaryWriter

    t0 = time.time()
    cfg = run_params(spec, DEFAULTS)
    seed_everything(spec.seed)
    rng = np.random.default_rng(spec.seed)
    d = _data(cfg, rng)
    model = _model(cfg, 1.0 / (1 + cfg["neg_ratio"]))
    if cfg["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                              weight_decay=cfg["weight_decay"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    n_pairs = len(d["tr_u"]) * (1 + cfg["neg_ratio"])
    bs = cfg["batch_size"]
    spe = -(-n_pairs // bs)
    sched = _scheduler(cfg, opt, spe * cfg["epochs"], spe)
    vu = torch.from_numpy(d["val_users"])
    held, val_neg = d["held"], d["val_neg"]
    v_u = torch.from_numpy(np.concatenate([np.repeat(d["val_users"], held.shape[1]),
                                           np.repeat(d["val_users"], val_neg.shape[1])]))
    v_i = torch.from_numpy(np.concatenate([held.ravel(), val_neg.ravel()]))
    v_y = torch.cat([torch.ones(held.size), torch.zeros(val_neg.size)])
    val_train_mask = d["train_mask"][d["val_users"]]
    flips = set(cfg["flip_steps"])
    writer = SummaryWriter(log_dir=str(run_dir))
    step = 0
    for _ in range(cfg["epochs"]):
        model.train()
        u, i, y = (torch.from_numpy(a) for a in _epoch_pairs(cfg, d, rng))
        for b in range(spe):
            ub, ib, yb = u[b * bs : (b + 1) * bs], i[b * bs : (b + 1) * bs], y[b * bs : (b + 1) * bs]
            if step + 1 in flips:
                yb = 1 - yb  # one batch exported with inverted feedback, this step only
            loss = _loss(cfg, model(ub, ib), yb)
            lr = opt.param_groups[0]["lr"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            step += 1
            if step % cfg["log_every"] == 0:
                writer.add_scalar("train/bce", loss.item(), step)
                writer.add_scalar("train/lr", lr, step)
        model.eval()
        with torch.no_grad():
            val_loss = float(_loss(cfg, model(v_u, v_i), v_y))
            scores = model.score_all(vu).numpy().astype(np.float64)
        hit, recall = ranking_metrics(scores, val_train_mask, held)
        writer.add_scalar("val/bce", val_loss, step)
        writer.add_scalar("val/hit@10", hit, step)
        writer.add_scalar("val/recall@20", recall, step)
    writer.close()
    return _facts(cfg, d, spe, t0)


def _lr_peak(cfg: dict[str, Any], total: int) -> float:
    if cfg["schedule"] == "ramp":
        return cfg["lr"] * cfg["ramp"] ** max(0, total - 1)
    return cfg["lr"]


def _facts(cfg: dict[str, Any], d: dict[str, Any], spe: int, t0: float) -> Facts:
    injected: dict[str, Any] = {k: cfg[k] for k in ("val_users", "val_false_neg", "val_item_map", "shuffle_labels",
                                                    "flip_steps", "dropout") if cfg[k]}
    if cfg["order"] != "shuffle":
        injected["order"] = f"training pairs sorted by {cfg['order']} every epoch, never shuffled"
    if cfg["neg_sampling"] != "uniform":
        injected["neg_sampling"] = "training negatives drawn by popularity^0.75, validation negatives uniform"
    if cfg["loss"] == "manual":
        injected["loss"] = "hand-written BCE: log(sigmoid) without clamping"
    if cfg["schedule"] == "ramp":
        injected["lr_ramp_per_step"] = cfg["ramp"]
    if cfg["schedule"] == "step":
        injected["lr_decay"] = f"x{cfg['gamma']} at epochs {cfg['decay_epochs']}"
    for key in ("n_users", "n_items", "pos_per_user", "dim", "weight_decay"):
        if cfg[key] != DEFAULTS[key]:
            injected[key] = cfg[key]
    return Facts(
        tags={"train_loss": "train/bce", "batch_loss": "train/bce", "val_loss": "val/bce",
              "val_metric": "val/hit@10", "lr": "train/lr"},
        steps={"train_loss": "step", "batch_loss": "step", "val_loss": "step", "val_metric": "step", "lr": "step"},
        task="ranking",
        metric="hit@10",
        metric_direction="max",
        num_classes=None,
        chance_metric=_chance(d["train_mask"][d["val_users"]]),
        epochs=cfg["epochs"],
        steps_per_epoch=spe,
        batch_size=cfg["batch_size"],
        lr_peak=_lr_peak(cfg, spe * cfg["epochs"]),
        schedule={"constant": "constant", "warmup_cosine": "warmup_cosine", "onecycle": "onecycle",
                  "ramp": "exponential_growth", "step": "step_decay"}[cfg["schedule"]],
        log_every_steps=cfg["log_every"],
        eval_every_steps=spe,
        shuffled=cfg["order"] == "shuffle",
        injected=injected,
        seconds=round(time.time() - t0, 2),
    )


PROGRAM = Program(
    name=NAME,
    family="mf",
    data="synthetic implicit feedback (low-rank users x items)",
    script="torch_loop",
    writer="torch_summarywriter",
    framework="torch",
    version=1,
    runs=runs,
    train=train,
)
