"""torch_lm_fairseq_style: a next-token GRU language model on synthetic order-2 Markov text, a plain PyTorch
loop that logs the way fairseq's ``--tensorboard-logdir`` does.

Why it exists: fairseq's TensorBoard layout is unlike any other program's. One
``SummaryWriter`` per split, each in its own sub-folder of the run folder, each with the
same short tag names: ``train_inner/`` (every ``log_interval`` updates, the means over
those updates: ``loss``, ``ppl``, ``wps``, ``ups``, ``wpb``, ``bsz``, ``lr``, ``gnorm``,
``train_wall``, ``wall``, and ``clip`` / ``loss_scale`` when clipping / fp16 are on),
``train/`` (the same tags averaged over the epoch, at the epoch's end) and ``valid/``
(``loss``, ``ppl``, ``accuracy``, ``wps``, ``wpb``, ``bsz``, ``best_loss``, ``wall``, at
the end of every epoch and every ``validate_interval_updates`` updates when set). The step
is always the number of updates so far; each writer first writes the command line as the
text ``sys.argv``. Losses are in base 2 (cross-entropy / ln 2, bits per token) and ``ppl``
is ``2 ** loss``, so the loss starts near log2(V) = 5.3, 1.44x ln(V). The display tags a
reader sees are ``train_inner/loss``, ``train/loss``, ``valid/loss``, ``valid/accuracy``...
(sub-folder / tag).

Data: a fixed random order-2 Markov chain over ``vocab`` = 40 tokens, next-token logits
``chain_scale * (A[t-2] + B[t-1])`` with Gaussian A, B (``chain_scale`` 3): about 1.45
bits per token are achievable (an order-1 model gets ~2.6, the unigram ~4.9, log2 40 =
5.3), Bayes accuracy ~0.67, the most frequent token ~9-11% of the targets. One long stream
per shard, cut into blocks of ``tokens_per_sample`` + 1 (input = block[:-1], target =
block[1:]), like fairseq's LM datasets; with ``shards`` > 1 each epoch reads the next shard
(fresh text, as with fairseq's ``data-bin/shard0:shard1:...``). Batches of ``batch_size``
blocks, reshuffled every epoch unless ``order`` says otherwise. Adam with betas (0.9, 0.98)
as in the fairseq LM recipes; fairseq's LR schedulers re-implemented (``inverse_sqrt``
with linear warm-up from ``warmup_init_lr``, ``cosine`` with warm-up, ``tri_stage``,
``fixed`` with per-epoch LRs), the LR set before every update; no clipping unless
``clip_norm`` > 0 (``gnorm``, the norm before clipping, is logged either way). ``fp16``
simulates mixed precision: the gradients of loss x scale are cast to half (inf on
overflow) and unscaled; with the overflow check on, an overflowing update is skipped and
the scale halved (fairseq's dynamic loss scaler), and the scale doubles after every
``fp16_scale_window`` clean updates.

Runs (intent: how it is produced):

==================================  ========================  =====================================================
run                                 intent                    how
==================================  ========================  =====================================================
healthy_inverse_sqrt                healthy                   inverse_sqrt, warm-up 100 updates to 5e-3, 12 epochs
healthy_cosine_validate_interval    healthy                   cosine with warm-up to 5e-3 (ends at 0), validation
                                                              every 25 updates and at epoch ends
healthy_dropout                     healthy                   dropout 0.3, hidden 96: valid loss below train
healthy_small_valid                 healthy                   8 validation blocks (256 tokens): accuracy moves in
                                                              steps of 1/256
healthy_fp16_clip_norm              healthy                   fp16 with the overflow check (13 skipped updates,
                                                              ``loss_scale`` saw-tooth), clip_norm 0.3 (``clip``
                                                              40-90%), 15 epochs
overfit_big_gru_few_blocks          overfitting               2x96 GRU (~100k parameters), 48 training blocks, 80
                                                              epochs: valid loss best at epoch ~25, +50% at the end
val_plateau_dropout_small_data      val_plateau               hidden 96, dropout 0.4, 200 blocks, 60 epochs: valid
                                                              flat from ~epoch 30 while train keeps falling
plateau_fresh_shards_long           plateau                   fixed Adam 1e-2, a fresh shard every epoch, 40
                                                              epochs: both within ~2% of their end from ~12
still_learning_few_epochs           still_learning            fixed Adam 5e-4, 5 epochs
underfit_tiny_hidden                underfitting              embedding 2, hidden 2, fixed Adam 2e-2, 30 epochs:
                                                              levels off at ~3.8 bits, valid close
lr_small_adam                       lr_too_small              fixed Adam 2e-5, 40 epochs: an even crawl
lr_high_tri_stage                   lr_too_high               tri_stage to 0.2, held to 55% of the run, then
                                                              exponential decay to 1%: the loss climbs back from
                                                              ~3.1 to ~4.9 at the peak, stalls ~3.3, falls to ~2.0
                                                              only as the LR comes down
lr_decay_too_early_epoch_lrs        lr_decay_too_early        fixed, ``--lr 4e-3,4e-3,4e-5``: x0.01 from epoch 3
                                                              of 25
diverge_warmup_longer_than_run      divergence                inverse_sqrt, ``--lr 1.0`` with 1000 warm-up updates
                                                              in a 950-update run: the LR grows every update to
                                                              0.95, no clipping; the loss climbs from ~2.2 to
                                                              ~11 bits, finite
nonfinite_fp16_no_overflow_check    nonfinite                 fp16 without the overflow check, scale doubled every
                                                              30 updates: inf gradients reach Adam at ~60% of the
                                                              run, NaN from there on
no_learning_shuffled_targets        no_learning               target blocks drawn by a second, independently
                                                              shuffled sampler: the unigram loss, chance accuracy
spikes_random_token_batches         loss_spikes               ``log_interval`` 5; 3 one-off groups of 5 updates
                                                              (one logging window each) on uniformly random token
                                                              ids: ~5x jumps in ``train_inner/loss``
noisy_bsz1_log_every_update         noisy                     batch size 1 of 8-token blocks, SGD 0.5,
                                                              ``log_interval`` 1
unshuffled_sorted_by_difficulty     unshuffled                blocks sorted by their true bits per token, the same
                                                              order every epoch, ``log_interval`` 5
data_problem_valid_other_chain      data_problem              validation text from another Markov chain: valid
                                                              loss rises, accuracy below chance
mismatch_valid_noise_overconfident  best_checkpoint_mismatch  30% of validation targets uniformly random, a fresh
                                                              shard every epoch, 30 epochs: valid loss best at
                                                              epoch 4 and rising as the model grows confident,
                                                              accuracy best at the end
val_better_heavy_dropout            val_better_than_train     dropout 0.5 on embeddings and GRU outputs, hidden 96
==================================  ========================  =====================================================

Every run's ``params`` may be overridden (e.g. ``max_epoch``) to scale it down for a test.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._torch import seed_everything
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "torch_lm_fairseq_style"
LN2 = math.log(2.0)

DEFAULTS: dict[str, Any] = {
    # data
    "vocab": 40,
    "chain_scale": 3.0,  # sharpness of the order-2 chain's next-token logits
    "data_seed": 0,  # the chain (the "corpus"); the run's seed draws the text
    "tokens_per_sample": 32,
    "n_train": 600,  # training blocks (per shard)
    "shards": 1,  # training shards, one per epoch in turn (fairseq's data-bin/shard0:shard1:...)
    "n_valid": 100,  # validation blocks
    "valid_chain_seed": None,  # validation text from another chain (a different corpus exported as "valid")
    "valid_noise": 0.0,  # share of validation targets replaced by uniformly random tokens
    # model
    "embed_dim": 32,
    "hidden": 64,
    "layers": 1,
    "dropout": 0.0,  # on the embeddings and the GRU outputs (training only)
    # optimisation
    "optimizer": "adam",  # adam (betas 0.9, 0.98) | sgd
    "lr": 5e-3,  # the peak LR (fairseq's --lr)
    "lr_epochs": [],  # scheduler "fixed": per-epoch LRs, the last one repeated (fairseq's --lr a,b,c)
    "weight_decay": 0.0,
    "clip_norm": 0.0,  # 0 = no clipping (gnorm still logged)
    "batch_size": 16,  # blocks per update
    "max_epoch": 12,
    "lr_scheduler": "inverse_sqrt",  # inverse_sqrt | cosine | tri_stage | fixed
    "warmup_updates": 100,
    "warmup_init_lr": 1e-7,
    "min_lr": 0.0,  # cosine's floor
    "phase_ratio": [0.1, 0.45, 0.45],  # tri_stage: warm-up, hold, decay shares of the run
    "final_lr_scale": 0.01,  # tri_stage: the LR at the end, x peak
    "log_interval": 10,
    "validate_interval_updates": 0,  # also validate every N updates (0 = only at epoch ends)
    # injected faults
    "order": "shuffle",  # shuffle | difficulty (blocks sorted by their true bits per token, never shuffled)
    "shuffle_targets": False,  # targets drawn by a second, independent sampler
    "corrupt_updates": [],  # updates (1-based) whose batch is uniformly random token ids
    "fp16": False,  # simulated fp16 gradients with a dynamic loss scale
    "fp16_init_scale": 128.0,
    "fp16_scale_window": 100,  # updates without overflow before the scale doubles
    "overflow_check": True,  # False: inf gradients reach the optimizer (the bug)
}


def _r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
    return RunSpec(program=NAME, name=name, intent=intent, params=params, seed=seed)


def runs() -> list[RunSpec]:
    spikes = [u for start in (256, 446, 636) for u in range(start, start + 5)]  # each fills one 5-update window
    return [
        _r("healthy_inverse_sqrt", "healthy", 1),
        _r("healthy_cosine_validate_interval", "healthy", 2, lr_scheduler="cosine", validate_interval_updates=25),
        _r("healthy_dropout", "healthy", 3, dropout=0.3, hidden=96),
        _r("healthy_small_valid", "healthy", 4, n_valid=8),
        _r("healthy_fp16_clip_norm", "healthy", 22, fp16=True, fp16_scale_window=20, clip_norm=0.3, max_epoch=15),
        _r("overfit_big_gru_few_blocks", "overfitting", 5, hidden=96, layers=2, n_train=48, max_epoch=80,
           warmup_updates=30),
        _r("val_plateau_dropout_small_data", "val_plateau", 6, hidden=96, dropout=0.4, n_train=200, max_epoch=60),
        _r("plateau_fresh_shards_long", "plateau", 7, lr_scheduler="fixed", lr=1e-2, shards=40, max_epoch=40),
        _r("still_learning_few_epochs", "still_learning", 8, lr_scheduler="fixed", lr=5e-4, max_epoch=5),
        _r("underfit_tiny_hidden", "underfitting", 9, embed_dim=2, hidden=2, lr_scheduler="fixed", lr=0.02,
           max_epoch=30),
        _r("lr_small_adam", "lr_too_small", 10, lr_scheduler="fixed", lr=2e-5, max_epoch=40),
        _r("lr_high_tri_stage", "lr_too_high", 11, lr_scheduler="tri_stage", lr=0.2, max_epoch=20),
        _r("lr_decay_too_early_epoch_lrs", "lr_decay_too_early", 12, lr_scheduler="fixed",
           lr_epochs=[4e-3, 4e-3, 4e-5], max_epoch=25),
        _r("diverge_warmup_longer_than_run", "divergence", 13, lr=1.0, warmup_updates=1000, max_epoch=25),
        _r("nonfinite_fp16_no_overflow_check", "nonfinite", 14, fp16=True, overflow_check=False,
           fp16_scale_window=30, max_epoch=20),
        _r("no_learning_shuffled_targets", "no_learning", 31, shuffle_targets=True, max_epoch=15),
        _r("spikes_random_token_batches", "loss_spikes", 16, log_interval=5, corrupt_updates=spikes, max_epoch=20),
        _r("noisy_bsz1_log_every_update", "noisy", 17, batch_size=1, tokens_per_sample=8, optimizer="sgd", lr=0.5,
           lr_scheduler="fixed", n_train=500, max_epoch=5, log_interval=1),
        _r("unshuffled_sorted_by_difficulty", "unshuffled", 18, order="difficulty", log_interval=5, max_epoch=15),
        _r("data_problem_valid_other_chain", "data_problem", 19, valid_chain_seed=1),
        _r("mismatch_valid_noise_overconfident", "best_checkpoint_mismatch", 20, valid_noise=0.3, shards=30,
           max_epoch=30),
        _r("val_better_heavy_dropout", "val_better_than_train", 21, dropout=0.5, hidden=96, max_epoch=20),
    ]


# --------------------------------------------------------------------------- data


def markov_chain(vocab: int, scale: float, seed: int) -> np.ndarray:
    """p[a, b, c] = P(next = c | two back = a, previous = b), from additive Gaussian logits."""
    rng = np.random.default_rng(10_000 + seed)
    a, b = rng.normal(size=(vocab, vocab)), rng.normal(size=(vocab, vocab))
    logits = scale * (a[:, None, :] + b[None, :, :])
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True)


def sample_stream(p: np.ndarray, n: int, rng: np.random.Generator, burn_in: int = 200) -> np.ndarray:
    """n tokens of the chain, after a burn-in from a random start (so the stream starts near stationarity)."""
    vocab = p.shape[0]
    cum = p.cumsum(-1)
    u = rng.random(n + burn_in)
    a, b = (int(t) for t in rng.integers(0, vocab, 2))
    out = np.empty(n + burn_in, np.int64)
    for i in range(n + burn_in):
        c = min(int(np.searchsorted(cum[a, b], u[i], side="right")), vocab - 1)
        out[i] = c
        a, b = b, c
    return out[burn_in:]


def _blocks(p: np.ndarray, n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """n blocks of length + 1 consecutive tokens of one stream (inputs [:-1], targets [1:])."""
    return sample_stream(p, n * (length + 1), rng).reshape(n, length + 1)


def block_bits(p: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """Each block's true bits per token under the chain (targets from the 3rd on: the first two lack context)."""
    a, b, c = blocks[:, :-2], blocks[:, 1:-1], blocks[:, 2:]
    return -np.log2(p[a, b, c]).mean(1)


def _data(cfg: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Training shards (blocks, one stream each), validation blocks and each training block's true difficulty."""
    vocab, length = cfg["vocab"], cfg["tokens_per_sample"]
    chain = markov_chain(vocab, cfg["chain_scale"], cfg["data_seed"])
    train = np.stack([_blocks(chain, cfg["n_train"], length, rng) for _ in range(cfg["shards"])])
    vchain = chain if cfg["valid_chain_seed"] is None else markov_chain(vocab, cfg["chain_scale"],
                                                                       cfg["valid_chain_seed"])
    valid = _blocks(vchain, cfg["n_valid"], length, rng)
    valid_in, valid_out = valid[:, :-1].copy(), valid[:, 1:].copy()
    if cfg["valid_noise"]:
        noise = rng.random(valid_out.shape) < cfg["valid_noise"]
        valid_out[noise] = rng.integers(0, vocab, int(noise.sum()))
    return {"chain": chain, "train": train, "valid_in": valid_in, "valid_out": valid_out,
            "difficulty": np.stack([block_bits(chain, shard) for shard in train])}


def chance_accuracy(targets: np.ndarray, vocab: int) -> float:
    """Next-token accuracy of always predicting the most frequent token of the validation targets."""
    return float(np.bincount(targets.ravel(), minlength=vocab).max() / targets.size)


# --------------------------------------------------------------------------- model, schedule


def _model(cfg: dict[str, Any]) -> Any:
    import torch.nn as nn

    class GRULM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(cfg["vocab"], cfg["embed_dim"])
            self.gru = nn.GRU(cfg["embed_dim"], cfg["hidden"], num_layers=cfg["layers"], batch_first=True)
            self.drop = nn.Dropout(cfg["dropout"])
            self.out = nn.Linear(cfg["hidden"], cfg["vocab"])

        def forward(self, x: Any) -> Any:
            h, _ = self.gru(self.drop(self.embed(x)))
            return self.out(self.drop(h))

    return GRULM()


def lr_at(cfg: dict[str, Any], update: int, epoch: int, total: int) -> float:
    """fairseq's LR for the given number of updates done (0-based) in the given epoch (1-based)."""
    kind, peak, warm, init = cfg["lr_scheduler"], cfg["lr"], cfg["warmup_updates"], cfg["warmup_init_lr"]
    if kind == "fixed":
        lrs = cfg["lr_epochs"] or [peak]
        return float(lrs[min(epoch - 1, len(lrs) - 1)])
    if kind == "inverse_sqrt":
        if update < warm:
            return init + update * (peak - init) / warm
        return peak * math.sqrt(warm) / math.sqrt(max(update, 1))
    if kind == "cosine":
        if update < warm:
            return init + update * (peak - init) / warm
        t = min(1.0, (update - warm) / max(1, total - warm))
        return cfg["min_lr"] + 0.5 * (peak - cfg["min_lr"]) * (1 + math.cos(math.pi * t))
    if kind == "tri_stage":
        w, h = (int(r * total) for r in cfg["phase_ratio"][:2])
        d = max(1, total - w - h)
        start = peak * cfg["final_lr_scale"]  # fairseq's init_lr_scale, taken equal to the final one
        if update < w:
            return start + update * (peak - start) / max(1, w)
        if update < w + h:
            return peak
        return peak * math.exp(math.log(cfg["final_lr_scale"]) * min(1.0, (update - w - h) / d))
    raise ValueError(f"unknown lr_scheduler {kind!r}")


def _lr_peak(cfg: dict[str, Any], spe: int) -> float:
    total = spe * cfg["max_epoch"]
    return max(lr_at(cfg, u, 1 + u // spe, total) for u in range(total))


# --------------------------------------------------------------------------- training


def ppl(loss_bits: float) -> float:
    """fairseq's perplexity, 2 ** loss; inf beyond float range, NaN stays NaN."""
    if math.isnan(loss_bits):
        return loss_bits
    return 2.0 ** loss_bits if loss_bits < 1000 else math.inf


class _Meters:
    """Sums over a logging window (train_inner) or an epoch (train), reduced the way fairseq's meters are."""

    def __init__(self) -> None:
        self.loss = 0.0  # summed token cross-entropy, nats
        self.tokens = 0
        self.sentences = 0
        self.updates = 0
        self.gnorm = 0.0
        self.clip = 0.0
        self.seconds = 0.0
        self.t0 = time.perf_counter()

    def add(self, loss_sum: float, tokens: int, sentences: int, gnorm: float, clipped: bool, seconds: float) -> None:
        self.loss += loss_sum
        self.tokens += tokens
        self.sentences += sentences
        self.updates += 1
        self.gnorm += gnorm
        self.clip += 100.0 if clipped else 0.0
        self.seconds += seconds

    def stats(self, lr: float, wall: float, clip_norm: float, loss_scale: float | None) -> dict[str, float]:
        elapsed = max(time.perf_counter() - self.t0, 1e-9)
        loss = self.loss / max(self.tokens, 1) / LN2
        out = {
            "loss": loss,
            "ppl": ppl(loss),
            "wps": self.tokens / elapsed,
            "ups": self.updates / elapsed,
            "wpb": self.tokens / max(self.updates, 1),
            "bsz": self.sentences / max(self.updates, 1),
            "lr": lr,
            "gnorm": self.gnorm / max(self.updates, 1),
            "train_wall": self.seconds,
            "wall": wall,
        }
        if clip_norm > 0:
            out["clip"] = self.clip / max(self.updates, 1)
        if loss_scale is not None:
            out["loss_scale"] = loss_scale
        return out


def _log(writer: Any, stats: dict[str, float], step: int) -> None:
    for key, value in stats.items():
        writer.add_scalar(key, value, step)
    writer.flush()


def _batches(cfg: dict[str, Any], d: dict[str, Any], shard: int,
             rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """This epoch's (input rows, target rows) of its shard, fairseq-style: shuffled blocks cut into batches."""
    n, bs = cfg["n_train"], cfg["batch_size"]
    if cfg["order"] == "difficulty":
        order = np.argsort(d["difficulty"][shard], kind="stable")  # easiest first, every epoch the same
    else:
        order = rng.permutation(n)
    targets = rng.permutation(n) if cfg["shuffle_targets"] else order  # the bug: a second sampler for targets
    return [(order[i : i + bs], targets[i : i + bs]) for i in range(0, n, bs)]


def _validate(model: Any, d: dict[str, Any]) -> tuple[float, int, int]:
    """Summed cross-entropy (nats), right predictions and tokens over the validation blocks, 64 blocks a batch."""
    import torch
    import torch.nn.functional as F

    model.eval()
    total, right, tokens = 0.0, 0, 0
    with torch.no_grad():
        for i in range(0, len(d["valid_in"]), 64):
            x = torch.from_numpy(d["valid_in"][i : i + 64])
            y = torch.from_numpy(d["valid_out"][i : i + 64])
            logits = model(x)
            total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"))
            right += int((logits.argmax(-1) == y).sum())
            tokens += y.numel()
    model.train()
    return total, right, tokens


def _command_line(spec: RunSpec) -> str:
    """The command line each fairseq writer records first (text ``sys.argv``), for a reader who opens it."""
    args = [f"--{k.replace('_', '-')} {v}" for k, v in sorted(spec.params.items())]
    return " ".join(["fairseq-train", "data-bin/markov40", "--task language_modeling", "--arch gru_lm",
                     f"--seed {spec.seed}", *args])


def train(spec: RunSpec, run_dir: Path) -> Facts:
    import torch
    import torch.nn.functional as F
    from torch.utils.tensorboard import SummaryWriter

    t_start = time.time()
    cfg = run_params(spec, DEFAULTS)
    seed_everything(spec.seed)
    rng = np.random.default_rng(spec.seed)
    d = _data(cfg, rng)
    model = _model(cfg)
    if cfg["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], betas=(0.9, 0.98), eps=1e-8,
                               weight_decay=cfg["weight_decay"])
    params = list(model.parameters())
    spe = -(-cfg["n_train"] // cfg["batch_size"])
    total = spe * cfg["max_epoch"]
    train_blocks = torch.from_numpy(d["train"])
    corrupt = set(cfg["corrupt_updates"])
    clip_norm = cfg["clip_norm"]
    scale = cfg["fp16_init_scale"] if cfg["fp16"] else None
    since_overflow = 0
    writers: dict[str, Any] = {}
    for split in ("train_inner", "train", "valid"):
        writers[split] = SummaryWriter(log_dir=str(run_dir / split))
        writers[split].add_text("sys.argv", _command_line(spec))
    best_loss = math.inf
    updates = skipped = 0
    valid_batches = -(-len(d["valid_in"]) // 64)

    def validate() -> None:
        nonlocal best_loss
        t0 = time.perf_counter()
        loss_sum, right, tokens = _validate(model, d)
        loss = loss_sum / tokens / LN2
        best_loss = min(best_loss, loss)  # fairseq: min(previous best, this one); a NaN never becomes the best
        stats = {"loss": loss, "ppl": ppl(loss), "accuracy": right / tokens,
                 "wps": tokens / max(time.perf_counter() - t0, 1e-9), "wpb": tokens / valid_batches,
                 "bsz": len(d["valid_in"]) / valid_batches, "best_loss": best_loss, "wall": time.time() - t_start}
        _log(writers["valid"], stats, updates)

    model.train()
    inner = _Meters()  # fairseq's "train_inner" meters run across epoch ends; the "train" ones are per epoch
    for epoch in range(1, cfg["max_epoch"] + 1):
        whole = _Meters()
        shard = train_blocks[(epoch - 1) % cfg["shards"]]
        for rows, target_rows in _batches(cfg, d, (epoch - 1) % cfg["shards"], rng):
            t0 = time.perf_counter()
            lr = lr_at(cfg, updates, epoch, total)
            for group in opt.param_groups:
                group["lr"] = lr
            x = shard[torch.from_numpy(rows), :-1]
            y = shard[torch.from_numpy(target_rows), 1:]
            if updates + 1 in corrupt:  # corrupted data: uniformly random token ids, this update only
                bad = torch.from_numpy(rng.integers(0, cfg["vocab"], (len(rows), cfg["tokens_per_sample"] + 1)))
                x, y = bad[:, :-1], bad[:, 1:]
            logits = model(x)
            loss_sum = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum")
            tokens = y.numel()
            opt.zero_grad()
            (loss_sum / tokens * (scale if scale is not None else 1.0)).backward()
            if scale is not None:
                for p in params:  # the fp16 gradients: cast to half (overflow -> inf), then unscaled in fp32
                    if p.grad is not None:
                        p.grad = p.grad.half().float() / scale
            gnorm = float(torch.nn.utils.clip_grad_norm_(params, clip_norm if clip_norm > 0 else math.inf))
            overflow = not math.isfinite(gnorm)
            if scale is not None and overflow and cfg["overflow_check"]:
                scale /= 2.0  # fairseq: skip the update, halve the scale
                since_overflow = 0
                skipped += 1
                continue
            opt.step()
            updates += 1
            if scale is not None:
                since_overflow += 1
                if since_overflow % cfg["fp16_scale_window"] == 0:
                    scale *= 2.0
            seconds = time.perf_counter() - t0
            clipped = clip_norm > 0 and gnorm > clip_norm
            for m in (inner, whole):
                m.add(loss_sum.item(), tokens, len(rows), gnorm, clipped, seconds)
            if updates % cfg["log_interval"] == 0:
                next_lr = lr_at(cfg, updates, epoch, total)
                _log(writers["train_inner"], inner.stats(next_lr, time.time() - t_start, clip_norm, scale), updates)
                inner = _Meters()
            if cfg["validate_interval_updates"] and updates % cfg["validate_interval_updates"] == 0:
                validate()
        _log(writers["train"], whole.stats(lr_at(cfg, updates, epoch, total), time.time() - t_start, clip_norm,
                                           scale), updates)
        validate()
    for w in writers.values():
        w.close()
    # skipped fp16 updates make epochs shorter than their batches: the step axis counts updates
    return _facts(cfg, d, spe if not skipped else round(updates / cfg["max_epoch"]), skipped, t_start)


def _facts(cfg: dict[str, Any], d: dict[str, Any], spe: int, skipped: int, t0: float) -> Facts:
    injected: dict[str, Any] = {k: cfg[k] for k in ("valid_chain_seed", "valid_noise", "shuffle_targets",
                                                    "corrupt_updates", "dropout") if cfg[k]}
    if cfg["order"] != "shuffle":
        injected["order"] = "training blocks sorted by their true bits per token every epoch, never shuffled"
    if cfg["fp16"]:
        injected["fp16"] = (f"gradients of loss x scale cast to half, scale from {cfg['fp16_init_scale']} doubled "
                            f"every {cfg['fp16_scale_window']} updates, overflow check "
                            f"{'on' if cfg['overflow_check'] else 'off'}")
    if skipped:
        injected["skipped_overflow_updates"] = skipped
    if cfg["lr_epochs"]:
        injected["lr_epochs"] = cfg["lr_epochs"]
    unbounded = cfg["lr_scheduler"] == "inverse_sqrt" and cfg["warmup_updates"] >= spe * cfg["max_epoch"]
    if unbounded:
        injected["warmup_never_ends"] = f"{cfg['warmup_updates']} warm-up updates, {spe * cfg['max_epoch']} in the run"
    for key in ("n_train", "shards", "n_valid", "hidden", "layers", "embed_dim", "batch_size", "tokens_per_sample",
                "optimizer"):
        if cfg[key] != DEFAULTS[key]:
            injected[key] = cfg[key]
    schedule = {"inverse_sqrt": "inverse_sqrt", "cosine": "warmup_cosine", "tri_stage": "tri_stage",
                "fixed": "step_decay" if len(set(cfg["lr_epochs"])) > 1 else "constant"}[cfg["lr_scheduler"]]
    if unbounded:
        schedule = "warmup_linear_unbounded"
    return Facts(
        tags={"train_loss": "train/loss", "batch_loss": "train_inner/loss", "val_loss": "valid/loss",
              "val_metric": "valid/accuracy", "lr": "train_inner/lr"},
        steps={"train_loss": "step", "batch_loss": "step", "val_loss": "step", "val_metric": "step", "lr": "step"},
        task="classification",
        metric="accuracy",
        metric_direction="max",
        num_classes=cfg["vocab"],
        chance_metric=chance_accuracy(d["valid_out"], cfg["vocab"]),
        epochs=cfg["max_epoch"],
        steps_per_epoch=spe,
        batch_size=cfg["batch_size"],
        lr_peak=_lr_peak(cfg, spe),
        schedule=schedule,
        log_every_steps=cfg["log_interval"],
        eval_every_steps=cfg["validate_interval_updates"] or spe,
        shuffled=cfg["order"] == "shuffle",
        injected=injected,
        seconds=round(time.time() - t0, 2),
    )


PROGRAM = Program(
    name=NAME,
    family="rnn",
    data="synthetic order-2 Markov text (40 tokens)",
    script="torch_loop",
    writer="torch_summarywriter",
    framework="torch",
    version=1,
    runs=runs,
    train=train,
)
