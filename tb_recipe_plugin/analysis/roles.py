"""Map a run's tags to the roles the rules need (train/val loss, metrics, LR).

Every writer names things differently: Keras (`train/epoch_loss` in a split
folder), PyTorch (`Loss/train`), Lightning (`train_loss_epoch`, `lr-Adam`),
Hugging Face (`eval/loss`), YOLO (`train/box_loss`, `metrics/mAP_0.5`) and
hand-written loops (`Test loss (avg on test)`). Tags are split into lowercase
word tokens and scored; the best candidate per role wins and the report says
which tag was used, so a wrong guess is visible and `--role` can fix it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tb_recipe_plugin.analysis.levels import EpochEvidence, epoch_index_period, is_keras_running_mean
from tb_recipe_plugin.analysis.report import Role
from tb_recipe_plugin.analysis.series import Series
from tb_recipe_plugin.analysis.tag_words import TRAIN_WORDS, VAL_WORDS, tokens
from tb_recipe_plugin.internal_tags import BATCH_LOSS, LEARNING_RATE, PREFIX, internal_part

ROLE_NAMES = ("train_loss", "val_loss", "train_metric", "val_metric", "lr", "batch_loss")

# A loss is often named by its function alone (`train/bce`, `val/ce`, `kl`): those names are losses too. `mse` and
# `mae` are not here: Keras and most scripts log them as metrics beside a `loss`.
LOSS_WORDS = {
    "loss",
    "nll",
    "xent",
    "crossentropy",
    "cost",
    "objective",
    "elbo",
    "bce",
    "ce",
    "logloss",
    "hinge",
    "huber",
    "focal",
    "kl",
    "kld",
    "bpr",
    "triplet",
    "infonce",
    "ntxent",
}
BATCH_WORDS = {"batch", "step", "iter", "iteration", "iterations", "it"}
EPOCH_WORDS = {"epoch"}
LR_WORDS = {"lr", "learningrate"}
# Metric name -> direction; order is preference when several metrics exist.
METRICS: dict[str, str] = {
    "accuracy": "max",
    "acc": "max",
    "top1": "max",
    "iou": "max",
    "miou": "max",
    "map": "max",
    "map50": "max",
    "ap": "max",
    "ap50": "max",
    "ap75": "max",
    "f1": "max",
    "fscore": "max",
    "auc": "max",
    "auroc": "max",
    "auprc": "max",
    "ndcg": "max",
    "mrr": "max",
    "hit": "max",
    "dice": "max",
    "bleu": "max",
    "rouge": "max",
    "r2": "max",
    "precision": "max",
    "recall": "max",
    "top5": "max",
    "psnr": "max",
    "ssim": "max",
    "spearman": "max",
    "pearson": "max",
    "perplexity": "min",
    "ppl": "min",
    "mae": "min",
    "rmse": "min",
    "mse": "min",
    "mape": "min",
    "smape": "min",
    "brier": "min",
    "error": "min",
    "err": "min",
    "wer": "min",
    "cer": "min",
    "distance": "min",
}
METRIC_PRIORITY = list(METRICS)
# Words that turn a metric into a rank statistic, lower is better: SimCLR's `acc_mean_pos` (the mean position of
# the positive pair) is named after an accuracy but falls as the model learns. It is a secondary number beside
# the top-k accuracy logged with it, so it is also preferred last.
RANK_WORDS = {"pos", "position", "rank"}
# Tags that are bookkeeping, not training signals.
IGNORE_WORDS = {
    "time",
    "runtime",
    "seconds",
    "second",
    "sec",
    "samples",
    "throughput",
    "flos",
    "fps",
    "memory",
    "mem",
    "grad",
    "gradient",
    "norm",
    "hp",
    "hparams",
    "weight",
    "weights",
    "momentum",
    "lossscale",
    "scale",
    "gpu",
    "cpu",
    "speed",
    "tokens",
    "images",
    "epochs",
}
# Heads of multi-part detection losses: prefer the box loss as the primary.
PART_PREFERENCE = {"total": 2.0, "box": 1.0, "bbox": 1.0, "obj": 0.5, "cls": 0.2}


@dataclass
class _Candidate:
    role: str
    tag: str
    score: float
    level: str
    direction: str | None = None


def _level(words: set[str]) -> str:
    if words & EPOCH_WORDS:
        return "epoch"
    if words & BATCH_WORDS:
        return "batch"
    return "epoch"


def _classify(tag: str, series: Series) -> list[_Candidate]:
    internal = internal_part(tag) if PREFIX in tag else None  # the substring test first: 1M tags add up
    if internal is not None:
        return _classify_internal(tag, internal)
    words = tokens(tag)
    wset = set(words)
    if not words or wset & IGNORE_WORDS or (wset <= {"epoch", "step", "global"}):
        return []
    metric = None
    if not wset & LOSS_WORDS and not wset & LR_WORDS:
        metric = next((m for m in METRIC_PRIORITY if m in wset), None)
        if metric is None:
            return []  # neither a loss, a learning rate nor a metric: no need to look at the values
    is_val = bool(wset & VAL_WORDS)
    is_train = bool(wset & TRAIN_WORDS) and not is_val
    level = _level(wset)
    n = len(series)
    base = _length_score(n)
    if n < 3:
        base -= 5
    if _is_constant(series.values):
        base -= 3
    if "vs" in wset or "iterations" in wset:
        base -= 1
    if wset & LR_WORDS and not wset & LOSS_WORDS:
        return [_Candidate("lr", tag, base + (1 if level == "epoch" else 0), level)]
    out: list[_Candidate] = []
    if wset & LOSS_WORDS:
        part = max((PART_PREFERENCE.get(w, 0.0) for w in words), default=0.0)
        plain = 1.0 if len(wset - TRAIN_WORDS - VAL_WORDS - LOSS_WORDS - EPOCH_WORDS) == 0 else 0.0
        score = base + part + plain
        if is_val:
            out.append(_Candidate("val_loss", tag, score + (0.5 if level == "epoch" else -0.5), "epoch"))
        elif level == "batch":
            penalty = -1.0 if is_keras_running_mean(tag) else 0.0
            out.append(_Candidate("batch_loss", tag, score + penalty + (1.0 if is_train else 0.0), "batch"))
            out.append(_Candidate("train_loss", tag, score - 2.0, "batch"))
        else:
            bonus = (1.0 if is_train else 0.0) + (0.5 if "epoch" in wset else 0.0)
            out.append(_Candidate("train_loss", tag, score + bonus, "epoch"))
        return out
    if metric is not None:
        direction = METRICS[metric]
        score = base - METRIC_PRIORITY.index(metric) * 0.02 + (0.5 if level == "epoch" else 0.0)
        if wset & RANK_WORDS:
            direction, score = "min", score - 0.5
        role = "train_metric" if is_train else "val_metric"
        if not is_train and not is_val:
            score -= 0.5  # unsplit metrics (`metrics/mAP_0.5`) are usually held-out ones
        out.append(_Candidate(role, tag, score, level, direction))
    return out


@functools.lru_cache(maxsize=4096)
def _length_score(n: int) -> float:
    """Longer series are likelier the real curve (up to 1000 points); cached since most runs repeat a few lengths."""
    return float(min(np.log10(max(n, 1)), 3.0) * 0.1)


_SMALL = 64


def _is_constant(values: np.ndarray) -> bool:
    """All finite values equal (and at least one): a logged constant, not a curve.

    Short series are checked in plain Python: a run with a million tags of a
    few points each spends far longer in numpy's per-call overhead otherwise.
    """
    if values.size <= _SMALL:
        finite = [v for v in values.tolist() if math.isfinite(v)]
        return bool(finite) and max(finite) == min(finite)
    finite = values if np.isfinite(values).all() else values[np.isfinite(values)]
    return finite.size > 0 and float(np.ptp(finite)) == 0.0


def _classify_internal(tag: str, internal: str) -> list[_Candidate]:
    """The Keras callback's own series: its raw per-batch loss beats Keras' running mean.

    Everything else it writes (gradient norms, window maxima such as
    ``window/loss_max``) is a diagnostic signal, not a curve to judge.
    """
    if internal == BATCH_LOSS:
        return [_Candidate("batch_loss", tag, 10.0, "batch")]
    if internal == LEARNING_RATE:
        return [_Candidate("lr", tag, 0.5, "batch")]
    return []


def _overlaps(a: Series, b: Series) -> bool:
    """Do two series cover the same stretch of training? Rejects test-batch-index axes."""
    if not len(a) or not len(b):
        return False
    lo, hi = max(a.steps[0], b.steps[0]), min(a.steps[-1], b.steps[-1])
    span = max(a.steps[-1] - a.steps[0], b.steps[-1] - b.steps[0], 1)
    return (hi - lo) >= 0.3 * span


DENSER = 2
"""A second training loss with at least twice the points of the chosen one, over the same stretch, is its per-batch
companion (fairseq's `train_inner/loss` every N updates beside `train/loss` per epoch)."""


def _denser_training_loss(series: Mapping[str, Series], roles: dict[str, Role], cands: list[_Candidate]) -> None:
    """Batch level from the data when the names do not say it: the denser of two training losses (`cands` best
    first)."""
    chosen = roles.get("train_loss")
    if chosen is None:
        return
    anchor = series[chosen.tag]
    for c in cands:
        other = series[c.tag]
        if c.tag != chosen.tag and len(other) >= DENSER * len(anchor) and _overlaps(other, anchor):
            roles["batch_loss"] = Role(tag=c.tag, level="batch", direction=c.direction)
            return


def _training_side_metric(series: Mapping[str, Series], roles: dict[str, Role], ranked: list[_Candidate]) -> None:
    """An unsplit metric logged at exactly the training loss's steps, and not at the validation loss's, is computed
    in the training loop (an RBM's `quant_error` beside its `loss` every 50 steps; Detectron2's
    `fast_rcnn/cls_accuracy` beside `total_loss` every 20 iterations while `validation_loss` comes every pass): it
    becomes the training metric, not a validation curve. YOLO's `metrics/mAP` is logged per epoch like its
    `train/` losses but also like its `val/` losses, and stays the validation metric."""
    tl, vl = roles.get("train_loss"), roles.get("val_loss")
    if tl is None or "val_metric" not in roles:
        return

    def train_side(tag: str) -> bool:
        if set(tokens(tag)) & (VAL_WORDS | TRAIN_WORDS):
            return False
        a = series[tag].steps
        if a.size < 3 or not np.array_equal(a, series[tl.tag].steps):
            return False
        return vl is None or not np.array_equal(series[vl.tag].steps, a)

    if not train_side(roles["val_metric"].tag):
        # the validation metric is a validation curve; an unsplit one beside the training loss is its training twin
        # (an Estimator's `accuracy` in the model dir beside `eval/accuracy`)
        twin = next((c for c in ranked if c.tag != roles["val_metric"].tag and train_side(c.tag)), None)
        if twin is not None and "train_metric" not in roles:
            roles["train_metric"] = Role(tag=twin.tag, level=twin.level, direction=twin.direction)
        return
    moved = roles.pop("val_metric")
    roles.setdefault("train_metric", moved)
    # the next validation metric candidate that is one (Detectron2's `bbox/AP` after its training accuracy)
    nxt = next((c for c in ranked if c.tag != moved.tag and not train_side(c.tag)), None)
    if nxt is not None:
        roles["val_metric"] = Role(tag=nxt.tag, level=nxt.level, direction=nxt.direction)


def _typical_parameter_group(series: Mapping[str, Series], roles: dict[str, Role], ranked: list[_Candidate]) -> None:
    """Of an optimizer's parameter-group LRs logged side by side (YOLO's ``lr/pg0``-``pg2``, Lightning's
    ``lr-SGD/pg1``...), the one closest to the others: the schedule most of the weights follow. Ultralytics warms
    its bias group down from 0.1 while the weight groups warm up from 0; the bias group, logged first, read as a
    learning rate decayed in the first epochs."""
    chosen = series[roles["lr"].tag]
    group = [c for c in ranked if np.array_equal(series[c.tag].steps, chosen.steps)]
    if len(group) < 3:
        return  # with two groups neither is the majority
    # distance to the pointwise median schedule: linear in the number of groups (some runs log one LR per layer)
    logs = np.log(np.maximum(np.stack([series[c.tag].values for c in group]), 1e-30))
    spread = np.mean(np.abs(logs - np.median(logs, axis=0)), axis=1)
    best = group[int(np.argmin(spread))]
    if spread.min() < spread[[c.tag for c in group].index(chosen.tag)]:
        roles["lr"] = Role(tag=best.tag, level=best.level, direction=best.direction)


def assign_roles(series: Mapping[str, Series], overrides: Mapping[str, str] | None = None) -> dict[str, Role]:
    """Pick one tag per role. Overrides win; unknown override tags raise KeyError."""
    roles: dict[str, Role] = {}
    overrides = dict(overrides or {})
    for role, tag in overrides.items():
        if role not in ROLE_NAMES:
            raise KeyError(f"unknown role {role!r} (choose from {', '.join(ROLE_NAMES)})")
        if tag not in series:
            raise KeyError(f"role {role}: no series named {tag!r} in this run")
    evidence = EpochEvidence(series)  # read only if a candidate looks counted by epoch, then once for all of them
    candidates: dict[str, list[_Candidate]] = {r: [] for r in ROLE_NAMES}
    for tag, s in series.items():
        for cand in _classify(tag, s):
            candidates[cand.role].append(cand)
    for cands in candidates.values():
        cands.sort(key=lambda c: (-c.score, c.tag))  # best first
    ranked_by: dict[str, list[_Candidate]] = {}
    for role in ROLE_NAMES:
        if role in overrides:
            tag = overrides[role]
            cands = [c for c in candidates[role] if c.tag == tag]
            direction = cands[0].direction if cands else ("max" if role.endswith("metric") else None)
            level = "batch" if role == "batch_loss" else "epoch"
            roles[role] = Role(tag=tag, level=level, direction=direction)
            continue
        ranked = [c for c in candidates[role] if c.score > -2]
        if role in ("val_loss", "val_metric", "train_metric") and "train_loss" in roles:
            anchor = series[roles["train_loss"].tag]
            ranked = [
                c
                for c in ranked
                if _overlaps(series[c.tag], anchor) or epoch_index_period(series[c.tag], anchor, evidence) is not None
            ]
        ranked_by[role] = ranked
        best = next(iter(ranked), None)
        if best is not None:
            roles[role] = Role(tag=best.tag, level=best.level, direction=best.direction)
    if "batch_loss" not in roles and "batch_loss" not in overrides:
        _denser_training_loss(series, roles, candidates["train_loss"])
    if "val_metric" not in overrides and "train_metric" not in overrides:
        _training_side_metric(series, roles, ranked_by.get("val_metric", []))
    if "lr" in roles and "lr" not in overrides:
        _typical_parameter_group(series, roles, ranked_by.get("lr", []))
    # A metric role should measure the same thing on both splits when possible.
    if "val_metric" in roles and "train_metric" in roles:
        vm, tm = tokens(roles["val_metric"].tag), tokens(roles["train_metric"].tag)
        if not set(vm) & set(tm) & set(METRICS):
            del roles["train_metric"]
    return roles
