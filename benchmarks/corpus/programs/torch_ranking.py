"""torch_ranking: a scoring MLP trained with pairwise (RankNet) or listwise (ListNet) losses on synthetic
query-document data, a plain PyTorch loop with ``torch.utils.tensorboard`` (held-out program).

Why it exists: learning-to-rank scripts break classification habits. The loss is
SUMMED over all ordered document pairs of a batch of queries (RankNet: ~1e3 at the
start, a scale no classifier shows), the metric is NDCG@10 (higher is better, chance
far above 0), and OneCycle is the usual schedule. Tags: ``train/loss`` (every step, or
the mean of the last ``log_every`` steps), ``lr`` (every step), ``valid/loss`` (summed
loss per batch of queries, averaged over the validation batches, as ``val_loss +=
loss.item()`` loops compute it) and ``valid/ndcg@10``, both at the global step of each
epoch's end. Event file directly in the run folder.

Data: queries with 15-40 documents of 16 features; relevance grade 0-4 from a fixed
nonlinear function of the features plus noise; 300 training / 100 validation queries,
8 queries per batch.

Runs (intent: how it is produced):

==============================  ===========================  ==================================================
run                             intent                       how
==============================  ===========================  ==================================================
healthy_pairwise_onecycle       healthy                      RankNet, Adam, OneCycle max_lr 3e-3, 30 epochs
healthy_listnet_onecycle        healthy                      ListNet, OneCycle max_lr 5e-3, 30 epochs
healthy_small_valid             healthy                      12 validation queries: NDCG jumps
healthy_dropout                 healthy                      dropout 0.3: valid loss below train loss
healthy_constant_log10          healthy                      constant Adam 1e-3, train/loss = mean of 10 steps
overfit_few_queries             overfitting                  30 training queries, 2x256 MLP, 80 epochs
lr_high_onecycle_peak           lr_too_high                  OneCycle max_lr 0.1: stalls around the peak, falls
                                                             in the annealing phase
diverge_sgd_summed_loss         divergence                   SGD lr 0.01 (a mean-loss LR) on the summed loss
nonfinite_naive_softmax         nonfinite                    ListNet with exp(s/T)/sum exp(s/T), T = 0.05, no
                                                             max-subtraction: overflows to inf/inf
lr_small                        lr_too_small                 OneCycle max_lr 3e-6
no_learning_label_join          no_learning                  training grades joined to the wrong documents
                                                             (shuffled within each query)
plateau_constant_long           plateau                      constant Adam 3e-3, 60 epochs, converged by ~10
underfit_linear                 underfitting                 a linear scorer on a nonlinear relevance function
still_learning_short            still_learning               constant Adam 1e-4, 4 epochs
unshuffled_by_domain            unshuffled                   queries from 5 domains (different sizes and
                                                             relevance rules) sorted by domain, no shuffling
spikes_reversed_grades          loss_spikes                  3 one-off batches with the grade scale reversed
data_problem_valid_judging      data_problem                 validation grades from another judging rule
mismatch_loss_vs_ndcg           best_checkpoint_mismatch     60 training queries, 2x128 MLP, 60 epochs: the
                                                             summed pair loss turns up while NDCG@10 still rises
val_better_heavy_dropout        val_better_than_train        dropout 0.6 + feature noise sd 0.8 in training
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

NAME = "torch_ranking"
FEATURES = 16
MAX_DOCS = 40

DEFAULTS: dict[str, Any] = {
    "n_train": 296,  # 37 full batches: a partial last batch would dip the summed loss every epoch
    "n_val": 100,
    "queries_per_batch": 8,
    "hidden": [64, 32],
    "dropout": 0.0,
    "feature_noise": 0.0,
    "loss": "ranknet",  # ranknet | listnet
    "optimizer": "adam",
    "lr": 3e-3,  # max_lr for OneCycle
    "schedule": "onecycle",  # onecycle | constant
    "epochs": 30,
    "log_every": 1,
    "shuffle_grades": False,
    "domains": False,
    "reverse_steps": [],
    "valid_other_judging": False,
    "late_shard_epoch": None,  # a second shard of training queries joins the training set from this epoch
    "late_shard_queries": 40,
    "late_shard_nan": False,  # ... with one missing (NaN) feature value in one document
}


def _r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
    return RunSpec(program=NAME, name=name, intent=intent, params=params, seed=seed)


def runs() -> list[RunSpec]:
    return [
        _r("healthy_pairwise_onecycle", "healthy", 1),
        _r("healthy_listnet_onecycle", "healthy", 2, loss="listnet", lr=5e-3),
        _r("healthy_small_valid", "healthy", 3, n_val=12),
        _r("healthy_dropout", "healthy", 4, dropout=0.3, hidden=[128, 64]),
        _r("healthy_constant_log10", "healthy", 5, schedule="constant", lr=1e-3, log_every=10, epochs=25),
        _r("overfit_few_queries", "overfitting", 6, n_train=30, hidden=[256, 256], epochs=80, schedule="constant",
           lr=1e-3),
        _r("lr_high_onecycle_peak", "lr_too_high", 7, lr=0.2, epochs=30),
        _r("diverge_onecycle_peak", "divergence", 8, lr=0.3, epochs=30),
        _r("nonfinite_late_shard_nan", "nonfinite", 9, late_shard_epoch=12, late_shard_nan=True, epochs=30),
        _r("lr_small", "lr_too_small", 10, lr=3e-6),
        _r("no_learning_label_join", "no_learning", 11, shuffle_grades=True, epochs=20),
        _r("plateau_constant_long", "plateau", 12, schedule="constant", lr=3e-3, epochs=60, log_every=5),
        _r("underfit_linear", "underfitting", 13, hidden=[], epochs=30),
        _r("still_learning_short", "still_learning", 14, schedule="constant", lr=1e-4, epochs=4),
        _r("unshuffled_by_domain", "unshuffled", 15, domains=True, schedule="constant", lr=1e-3, epochs=15),
        _r("spikes_reversed_grades", "loss_spikes", 16, reverse_steps=[300, 610, 880], epochs=30),
        _r("data_problem_valid_judging", "data_problem", 17, valid_other_judging=True, epochs=20),
        _r("mismatch_loss_vs_ndcg", "best_checkpoint_mismatch", 18, n_train=60, hidden=[128, 128], epochs=60,
           schedule="constant", lr=1e-3),
        _r("val_better_heavy_dropout", "val_better_than_train", 19, dropout=0.6, feature_noise=0.8,
           hidden=[128, 64]),
        _r("noisy_one_query_batches", "noisy", 20, queries_per_batch=1, schedule="constant", lr=3e-4, epochs=6),
    ]


# --------------------------------------------------------------------------- data


def _relevance(x: np.ndarray, other: bool = False) -> np.ndarray:
    """The hidden judging rule: a fixed nonlinear function of the features (another one for ``other``)."""
    w = np.random.default_rng(7 if not other else 8).normal(size=FEATURES)
    if other:
        return x @ w + np.cos(2 * x[..., 3]) - x[..., 4] * x[..., 5]
    return 0.6 * (x @ w) / np.sqrt(FEATURES) + np.sin(2 * x[..., 0]) + x[..., 1] * x[..., 2] + 0.5 * x[..., 6] ** 2


def _queries(n: int, cfg: dict[str, Any], rng: np.random.Generator, other: bool = False) -> dict[str, np.ndarray]:
    """Padded arrays: features (n, MAX_DOCS, F), grades (n, MAX_DOCS) in 0..4, valid mask, domain per query."""
    x = np.zeros((n, MAX_DOCS, FEATURES), np.float32)
    g = np.zeros((n, MAX_DOCS), np.float32)
    mask = np.zeros((n, MAX_DOCS), bool)
    domain = rng.integers(0, 5, n) if cfg["domains"] else np.zeros(n, int)
    for q in range(n):
        d = domain[q]
        k = int(rng.integers(15, 41)) if not cfg["domains"] else int(rng.integers(10 + 6 * d, 16 + 6 * d))
        feats = rng.normal(size=(k, FEATURES)) + rng.normal(0, 0.5, FEATURES)  # a query-specific shift
        if cfg["domains"]:
            feats[:, d] += 1.5  # each domain lives in its own corner of feature space
        latent = _relevance(feats, other) + rng.normal(0, 0.5, k)
        grades = np.digitize(latent, np.quantile(latent, [0.5, 0.75, 0.9, 0.97]))
        x[q, :k], g[q, :k], mask[q, :k] = feats, grades, True
    if cfg["domains"]:
        order = np.argsort(domain, kind="stable")
        x, g, mask, domain = x[order], g[order], mask[order], domain[order]
    return {"x": x, "g": g, "mask": mask, "domain": domain}


def _late_shard(cfg: dict[str, Any], rng: np.random.Generator) -> dict[str, np.ndarray] | None:
    """Queries collected later (a fresh log shard); with ``late_shard_nan`` one document lacks a feature value."""
    if cfg["late_shard_epoch"] is None:
        return None
    shard = _queries(cfg["late_shard_queries"], cfg, rng)
    if cfg["late_shard_nan"]:
        shard["x"][int(rng.integers(0, len(shard["x"]))), 0, 5] = np.nan
    return shard


# --------------------------------------------------------------------------- losses and metric


def _loss(cfg: dict[str, Any], s: Any, g: Any, mask: Any) -> Any:
    """Summed over pairs (RankNet) or over queries (ListNet) of the batch; never averaged."""
    import torch
    import torch.nn.functional as F

    if cfg["loss"] == "ranknet":
        diff = s[:, :, None] - s[:, None, :]
        pairs = (g[:, :, None] > g[:, None, :]) & mask[:, :, None] & mask[:, None, :]
        return F.softplus(-diff)[pairs].sum()
    neg = torch.finfo(s.dtype).min
    target = torch.softmax(torch.where(mask, g, torch.full_like(g, neg)), dim=1)
    log_p = torch.log_softmax(torch.where(mask, s, torch.full_like(s, neg)), dim=1)
    return -(target * torch.where(mask, log_p, torch.zeros_like(log_p))).sum()


def ndcg_at_10(scores: np.ndarray, grades: np.ndarray, mask: np.ndarray) -> float:
    """Mean NDCG@10 (gain 2^g - 1, log2 discount) over queries that have a relevant document."""
    vals = []
    disc = 1.0 / np.log2(np.arange(2, 12))
    for s, g, m in zip(scores, grades, mask, strict=True):
        s, g = s[m], g[m]
        ideal = np.sort(g)[::-1][:10]
        idcg = ((2.0**ideal - 1) * disc[: len(ideal)]).sum()
        if idcg <= 0:
            continue
        s = np.where(np.isfinite(s), s, -np.inf)
        top = g[np.argsort(-s, kind="stable")][:10]
        vals.append(((2.0**top - 1) * disc[: len(top)]).sum() / idcg)
    return float(np.mean(vals)) if vals else 0.0


def _chance(data: dict[str, np.ndarray], rng: np.random.Generator) -> float:
    return float(np.mean([ndcg_at_10(rng.random(data["g"].shape), data["g"], data["mask"]) for _ in range(20)]))


# --------------------------------------------------------------------------- training


def _model(cfg: dict[str, Any]) -> Any:
    import torch.nn as nn

    layers: list[nn.Module] = []
    width = FEATURES
    for h in cfg["hidden"]:
        layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(cfg["dropout"])]
        width = h
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def train(spec: RunSpec, run_dir: Path) -> Facts:
    import torch
    from torch.utils.tensorboard import SummaryWriter

    t0 = time.time()
    cfg = run_params(spec, DEFAULTS)
    seed_everything(spec.seed)
    rng = np.random.default_rng(spec.seed)
    tr = _queries(cfg["n_train"], cfg, rng)
    va = _queries(cfg["n_val"], {**cfg, "domains": False}, rng, other=cfg["valid_other_judging"])
    if cfg["shuffle_grades"]:
        for q in range(len(tr["g"])):
            k = int(tr["mask"][q].sum())
            tr["g"][q, :k] = tr["g"][q, rng.permutation(k)]
    xv, gv, mv = (torch.from_numpy(va[k]) for k in ("x", "g", "mask"))
    shard = _late_shard(cfg, rng)
    n_base = len(tr["g"])
    if shard is not None:
        tr = {k: np.concatenate([tr[k], shard[k]]) for k in ("x", "g", "mask")}
    xt, gt, mt = (torch.from_numpy(tr[k]) for k in ("x", "g", "mask"))
    model = _model(cfg)
    if cfg["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    bq = cfg["queries_per_batch"]
    late = cfg["late_shard_epoch"]
    n_queries = [len(gt) if late is not None and e >= late else n_base for e in range(cfg["epochs"])]
    spe = -(-n_base // bq)
    sched = None
    if cfg["schedule"] == "onecycle":
        total = sum(-(-n // bq) for n in n_queries)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg["lr"], total_steps=total)
    gen = torch.Generator().manual_seed(spec.seed)
    reverse = set(cfg["reverse_steps"])
    writer = SummaryWriter(log_dir=str(run_dir))
    step, window = 0, []
    for epoch in range(cfg["epochs"]):
        model.train()
        n = n_queries[epoch]
        order = torch.arange(n) if cfg["domains"] else torch.randperm(n, generator=gen)
        for b in range(-(-n // bq)):
            idx = order[b * bq : (b + 1) * bq]
            xb, gb, mb = xt[idx], gt[idx], mt[idx]
            if cfg["feature_noise"]:
                xb = xb + cfg["feature_noise"] * torch.randn(xb.shape, generator=gen)
            if step in reverse:
                gb = (4 - gb) * mb  # a shard exported with the grade scale reversed, this step only
            loss = _loss(cfg, model(xb)[..., 0], gb, mb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            writer.add_scalar("lr", opt.param_groups[0]["lr"], step)
            if sched is not None:
                sched.step()
            window.append(loss.item())
            step += 1
            if step % cfg["log_every"] == 0:
                writer.add_scalar("train/loss", float(np.mean(window)), step)
                window = []
        model.eval()
        with torch.no_grad():
            sv = model(xv)[..., 0]
            losses = [float(_loss(cfg, sv[i : i + bq], gv[i : i + bq], mv[i : i + bq])) for i in range(0, len(gv), bq)]
        writer.add_scalar("valid/loss", float(np.mean(losses)), step)
        writer.add_scalar("valid/ndcg@10", ndcg_at_10(sv.numpy(), va["g"], va["mask"]), step)
    writer.close()
    return _facts(cfg, va, spe, rng, t0)


def _facts(cfg: dict[str, Any], va: dict[str, np.ndarray], spe: int, rng: np.random.Generator, t0: float) -> Facts:
    injected: dict[str, Any] = {k: cfg[k] for k in ("shuffle_grades", "domains", "reverse_steps",
                                                    "valid_other_judging", "feature_noise", "late_shard_nan") if cfg[k]}
    if cfg["late_shard_epoch"] is not None:
        injected["late_shard"] = f"{cfg['late_shard_queries']} queries join at epoch {cfg['late_shard_epoch']}"
    for key in ("n_train", "n_val"):
        if cfg[key] != DEFAULTS[key]:
            injected[key] = cfg[key]
    if cfg["optimizer"] == "sgd":
        injected["optimizer"] = "sgd on a summed loss"
    return Facts(
        tags={"train_loss": "train/loss", "batch_loss": "train/loss", "val_loss": "valid/loss",
              "val_metric": "valid/ndcg@10", "lr": "lr"},
        steps={"train_loss": "step", "batch_loss": "step", "val_loss": "step", "val_metric": "step", "lr": "step"},
        task="ranking",
        metric="ndcg@10",
        metric_direction="max",
        num_classes=None,
        chance_metric=_chance(va, rng),
        epochs=cfg["epochs"],
        steps_per_epoch=spe,
        batch_size=cfg["queries_per_batch"],
        lr_peak=cfg["lr"],
        schedule=cfg["schedule"],
        log_every_steps=cfg["log_every"],
        eval_every_steps=spe,
        shuffled=not cfg["domains"],
        injected=injected,
        seconds=round(time.time() - t0, 2),
    )


PROGRAM = Program(
    name=NAME,
    family="mlp",
    data="synthetic query-document relevance",
    script="torch_loop",
    writer="torch_summarywriter",
    framework="torch",
    version=1,
    runs=runs,
    train=train,
)
