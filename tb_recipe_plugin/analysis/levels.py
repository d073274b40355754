"""Batch or epoch level from the data, and Keras' running means turned back into per-batch losses.

Tag names say little about how often a series was logged: Lightning's
``train_loss`` and Hugging Face's ``loss`` are written every few optimizer
steps while ``val_loss`` / ``eval/loss`` come once per epoch or every
``eval_steps``. Spikes and epoch-periodic batch loss only show at the
per-step level, so a training loss logged much more densely than the
evaluation is treated as the batch-level curve too.

Keras' ``keras.callbacks.TensorBoard(update_freq=N)`` writes ``batch_loss``
as the running mean of the loss since the start of the epoch (the loss
tracker is reset every epoch), at global batch ``s = e * P + k`` for batch
``k`` of epoch ``e`` (1-based ``k``, ``P`` batches per epoch). The sums
``k * mean_k`` difference back to the loss of each logged window exactly, so
the analysis sees what the model saw batch by batch. ``P`` is found by the
one fact Keras guarantees: the running mean at the last batch of an epoch is
that epoch's ``epoch_loss``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tb_recipe_plugin.analysis.report import Role
from tb_recipe_plugin.analysis.series import Series
from tb_recipe_plugin.analysis.tag_words import TRAIN_WORDS, VAL_WORDS, tokens
from tb_recipe_plugin.internal_tags import PREFIX

DENSE_RATIO = 4.0
"""A training loss logged at 4x the evaluation's rate (points per step) is a batch-level curve,"""
DENSE_MIN_POINTS = 50
"""...when it has at least 50 points (fewer cannot show spikes or periodicity anyway)."""
EPOCH_MATCH_RTOL = 1e-4
"""The running mean at an epoch's last batch equals epoch_loss to float32 precision; allow 1e-4 relative."""
EPOCH_MATCH_SHARE = 0.8
"""...for at least 80% of the epochs whose last batch was logged (TensorBoard may drop points)."""
MAX_PERIOD_CANDIDATES = 64


@dataclass(frozen=True)
class Prepared:
    """Roles after level inference, and series the analysis derived from the logged ones."""

    roles: dict[str, Role]
    derived: dict[str, Series]  # role -> series to analyse instead of the logged tag
    running_mean: bool  # batch_loss is a running mean that could not be undone
    steps_per_epoch: int | None = None  # when the logs prove it (Keras' running means, an epoch-index axis)


def is_keras_running_mean(tag: str) -> bool:
    """Keras' own ``batch_*`` summaries since TF 2 (not the tb-recipe callback's raw per-batch loss).

    Those are written in the run's ``train/`` split folder and hold running means within the epoch. Keras 2 and
    TF 1.x wrote ``batch_loss`` into the run folder itself, with each batch's own value: a ``batch_*`` tag without
    the split folder is raw, and analysed as it is.
    """
    if PREFIX in tag:
        return False
    head, _, last = tag.rpartition("/")
    return last.startswith("batch_") and head.rsplit("/", 1)[-1] == "train"


def prepare(series: Mapping[str, Series], roles: Mapping[str, Role], overridden: frozenset[str]) -> Prepared:
    """Infer batch level from step density and undo Keras running means; never raises on odd data."""
    out = dict(roles)
    derived: dict[str, Series] = {}
    running_mean = False
    steps_per_epoch: int | None = None
    batch = out.get("batch_loss")
    if batch is not None and "batch_loss" not in overridden and is_keras_running_mean(batch.tag):
        epoch = out.get("train_loss")
        period = keras_epoch_period(series[batch.tag], series[epoch.tag]) if epoch is not None else None
        undone = undo_running_mean(series[batch.tag], series[epoch.tag], period) if period is not None else None
        steps_per_epoch = period
        if undone is None:
            running_mean = True
        else:
            derived["batch_loss"] = undone
            out["batch_loss"] = Role(batch.tag, "batch", batch.direction, source="per_batch_from_running_mean")
    train = out.get("train_loss")
    if train is not None:
        anchor, convert = _step_axis_anchor(series, out, derived)
        evidence = EpochEvidence(series)
        for role in convert:
            info = out.get(role)
            if info is None or role in overridden or role in derived:
                continue
            period = epoch_index_period(series[info.tag], anchor, evidence)
            if period is not None:
                steps_per_epoch = steps_per_epoch or period
                derived[role] = _on_step_axis(series[info.tag], period, anchor)
                out[role] = Role(info.tag, info.level, info.direction, source="epoch_index_on_step_axis")
    dense = train is not None and train.level == "epoch" and "train_loss" not in overridden
    if train is not None and dense and _denser(series, out, derived):
        out["train_loss"] = Role(train.tag, "batch", train.direction, source=train.source)
        if "batch_loss" not in out:
            out["batch_loss"] = Role(train.tag, "batch", train.direction, source="dense_train_loss")
    return Prepared(out, derived, running_mean, steps_per_epoch)


EPOCH_AXIS_ROLES = ("val_loss", "val_metric", "train_metric", "lr")
EPOCH_AXIS_MIN_RATIO = 4
"""A series counted 0, 1, 2... is an epoch index beside a training loss whose steps reach 4x further,"""
EPOCH_AXIS_AGREEMENT = 0.1
"""...when the run confirms that epoch length independently, within 10%: a Lightning ``epoch`` series, an
epoch-level training series on the step axis, or a training-side series (LR, a train metric) counted on the same
0, 1, 2... axis. Without such evidence a 0, 1, 2... axis may be a test-batch index (Lightning's ``test_loss_step``)."""


def _step_axis_anchor(
    series: Mapping[str, Series], roles: Mapping[str, Role], derived: Mapping[str, Series]
) -> tuple[Series, tuple[str, ...]]:
    """The series whose step axis the others are put on, and the roles that may need moving onto it.

    The training loss, normally. When it is itself counted by epoch (1, 2, 3...) beside a per-step batch loss
    logged on the optimizer's step axis (Ignite: ``training/batchloss`` every 100 iterations, ``training/loss``
    from an evaluator at the trainer's epoch), the batch loss is the axis, and the training loss moves too.
    """
    train, batch = series[roles["train_loss"].tag], roles.get("batch_loss")
    if batch is None or batch.tag == train.tag or "batch_loss" in derived or not counts_up(train):
        return train, EPOCH_AXIS_ROLES
    steps = series[batch.tag].steps
    if len(steps) < 2 or steps[-1] < EPOCH_AXIS_MIN_RATIO * train.steps[-1]:
        return train, EPOCH_AXIS_ROLES
    return series[batch.tag], ("train_loss", *EPOCH_AXIS_ROLES)


def epoch_index_period(s: Series, anchor: Series, others: Mapping[str, Series] | EpochEvidence) -> int | None:
    """Steps per epoch when `s` is logged by epoch index (0, 1, 2... or 1, 2, 3...) and `anchor` by global step.

    Hand-written loops (tensorboardX, plain PyTorch) often call
    ``add_scalar("val/loss", v, epoch)`` but ``add_scalar("train/loss", l, global_step)``:
    TensorBoard then draws validation squeezed into the first few dozen steps.
    The two are put on one axis by ending epoch ``i`` at step ``(i + 1) * P - 1``.
    Callers asking about many tags of one run pass one `EpochEvidence` for all.
    """
    # Steps are sorted and unique, so they are 0, 1, 2... (or 1, 2, 3...) exactly when the span is len - 1:
    # an O(1) test, as this runs for every candidate tag of a run with a million tags.
    if not counts_up(s) or len(anchor) < 2:
        return None
    epochs = int(s.steps[-1] - s.steps[0] + 1)
    last = int(anchor.steps[-1])
    if last < EPOCH_AXIS_MIN_RATIO * int(s.steps[-1]):
        return None
    period = (last + 1) / epochs
    evidence = others if isinstance(others, EpochEvidence) else EpochEvidence(others)
    if period < 2 or not evidence.confirms(period, s, anchor):
        return None
    return round(period)


def counts_up(s: Series) -> bool:
    """Logged at 0, 1, 2... (or 1, 2, 3...), one point per step: an epoch index, when the run says so."""
    return len(s) >= 2 and s.steps[0] in (0, 1) and s.steps[-1] - s.steps[0] == len(s) - 1


_TRAIN_SIDE_WORDS = TRAIN_WORDS | {"lr", "learningrate", "epoch"}
_KEEP = 3
"""Tags kept per axis: enough to find one that is neither the series asked about nor the anchor."""


def _train_side(tag: str) -> bool:
    words = set(tokens(tag))
    return bool(words & _TRAIN_SIDE_WORDS) and not words & VAL_WORDS


class EpochEvidence:
    """What a run says about its epoch length, read from all its series once, on the first question.

    Two kinds of evidence: series counted 0, 1, 2... on the same axis as the
    one asked about, one of them training-side (LR, a train metric); and
    epoch lengths on the step axis, from a Lightning ``epoch`` series or an
    epoch-level training series. Asking about every candidate tag of a run
    would otherwise read every tag once per candidate.
    """

    def __init__(self, series: Mapping[str, Series]) -> None:
        self._series = series
        self._axes: dict[tuple[int, int], tuple[list[str], list[str]]] | None = None
        self._gaps: list[tuple[str, float]] = []

    def _build(self) -> dict[tuple[int, int], tuple[list[str], list[str]]]:
        axes: dict[tuple[int, int], tuple[list[str], list[str]]] = {}
        for tag, other in self._series.items():
            if len(other) < 2:
                continue
            if counts_up(other):
                every, train_side = axes.setdefault((int(other.steps[0]), len(other)), ([], []))
                if len(every) < _KEEP:
                    every.append(tag)
                if len(train_side) < _KEEP and _train_side(tag):
                    train_side.append(tag)
            words = set(tokens(tag))
            if words & VAL_WORDS:
                continue
            if tag.rsplit("/", 1)[-1] == "epoch":
                gap = epoch_counter_gap(other)
            elif "epoch" in words and "train" in words or tag.endswith("_epoch"):
                gap = float(np.median(np.diff(other.steps)))
            else:
                continue
            if gap:
                self._gaps.append((tag, gap))
        return axes

    def confirms(self, period: float, s: Series, anchor: Series) -> bool:
        if self._axes is None:
            self._axes = self._build()
        skip = {s.tag, anchor.tag}
        every, train_side = self._axes.get((int(s.steps[0]), len(s)), ([], []))
        if any(t not in skip for t in (every if _train_side(s.tag) else train_side)):
            return True
        if any(t not in skip and abs(gap - period) <= EPOCH_AXIS_AGREEMENT * period for t, gap in self._gaps):
            return True
        clock = wall_clock_period(s, anchor)
        return clock is not None and abs(clock - period) <= EPOCH_AXIS_AGREEMENT * period


def wall_clock_period(s: Series, anchor: Series) -> float | None:
    """Steps per point of `s` read off the wall clock: each point placed at the anchor's step written at the same
    moment, and the slope of those steps over the point index.

    An evaluation written at the trainer's epoch (Ignite's evaluators, hand-written loops with no other epoch-counted
    series) was written while training ran, once per epoch: its points land evenly along the anchor's steps. A
    test-batch index is written after training, all at its last step. None when either side has no usable clock
    (missing or going backwards, as after a restart) or the points do not spread over most of training.
    """
    if s.wall_times is None or anchor.wall_times is None or len(s) < 3 or len(anchor) < 2:
        return None
    if np.any(np.diff(anchor.wall_times) < 0):
        return None
    placed = np.interp(s.wall_times, anchor.wall_times, anchor.steps.astype(np.float64))
    if placed[-1] - placed[0] < 0.5 * float(anchor.steps[-1] - anchor.steps[0]):
        return None
    slope = float(np.polyfit(np.arange(len(s), dtype=np.float64), placed, 1)[0])
    return slope if slope > 0 else None


def epoch_counter_gap(s: Series) -> float | None:
    """Steps per epoch from an ``epoch`` counter logged on the step axis, or None when it shows fewer than 2 epochs.

    Lightning logs the integer epoch; Hugging Face's Trainer logs ``train/epoch`` as a fraction that grows at every
    logging step (0.02, 0.04...), so an epoch starts where the whole part of the counter goes up, not at every
    increase.
    """
    whole = np.floor(s.values + 1e-9)
    changes = np.flatnonzero(np.diff(whole) > 0)
    return float(np.median(np.diff(s.steps[changes + 1]))) if changes.size >= 2 else None


def _on_step_axis(s: Series, period: int, anchor: Series) -> Series:
    index = s.steps - s.steps[0]
    return Series(s.tag, (index + 1) * period - 1 + int(anchor.steps[0]), s.values, s.wall_times)


def _points_per_step(s: Series) -> float | None:
    span = float(s.steps[-1] - s.steps[0]) if len(s) > 1 else 0.0
    return (len(s) - 1) / span if span > 0 else None


def _denser(series: Mapping[str, Series], roles: Mapping[str, Role], derived: Mapping[str, Series]) -> bool:
    """Is the training loss logged at least DENSE_RATIO times as often as the validation curves?"""
    train = series[roles["train_loss"].tag]
    if len(train) < DENSE_MIN_POINTS:
        return False
    mine = _points_per_step(train)
    for role in ("val_loss", "val_metric"):
        if role in roles:
            theirs = _points_per_step(derived.get(role, series[roles[role].tag]))
            if mine is not None and theirs is not None:
                return mine >= DENSE_RATIO * theirs
    return False


def keras_epoch_period(batch: Series, epoch: Series) -> int | None:
    """Batches per epoch of a Keras running-mean ``batch_*`` series, or None when it is not one."""
    if len(batch) < 4 or len(epoch) < 1 or batch.steps[0] < 1:
        return None
    return _epoch_period(batch.steps, batch.values, epoch)


def undo_running_mean(batch: Series, epoch: Series, period: int | None = None) -> Series | None:
    """Per-window mean losses from Keras' within-epoch running mean, or None when the layout is not Keras'.

    ``batch`` holds running means at global batch steps (1-based), ``epoch``
    the epoch losses at steps 0, 1, ... . Each logged point ``k`` of an epoch
    becomes the mean loss of the batches since the previous logged point of
    that epoch (the batch itself when every batch is logged).
    """
    steps, values = batch.steps, batch.values
    period = period or keras_epoch_period(batch, epoch)
    if period is None:
        return None
    e = (steps - 1) // period
    k = (steps - e * period).astype(np.float64)
    sums = k * values
    first = np.r_[True, e[1:] != e[:-1]]
    prev_k = np.where(first, 0.0, np.r_[0.0, k[:-1]])
    prev_sum = np.where(first, 0.0, np.r_[0.0, sums[:-1]])
    with np.errstate(all="ignore"):
        per_window = (sums - prev_sum) / (k - prev_k)
    return Series(batch.tag, steps, per_window, batch.wall_times)


def _epoch_period(steps: np.ndarray, values: np.ndarray, epoch: Series) -> int | None:
    """Batches per epoch: the P for which the running mean at every logged step e*P equals epoch_loss[e-1]."""
    epochs = epoch.steps
    if epochs[0] < 0 or np.any(np.diff(epochs) != 1):
        return None  # not Keras' epoch index axis
    last = int(steps[-1])
    n_epochs = int(epochs[-1]) + 1
    lo = max(1, math.ceil(last / (n_epochs + 1)))
    hi = max(lo, last // max(n_epochs - 1, 1))
    interval = int(np.gcd.reduce(steps)) if steps.size else 1
    likely = last / n_epochs  # training ran to the end of its last epoch: the usual case, tried first
    candidates = sorted((p for p in range(lo, hi + 1) if p % interval == 0), key=lambda p: abs(p - likely))
    candidates = candidates[:MAX_PERIOD_CANDIDATES]
    step_index = {int(s): i for i, s in enumerate(steps.tolist())} if candidates else {}
    by_epoch = dict(zip(epochs.tolist(), epoch.values.tolist(), strict=True))
    for p in candidates:
        matched = checked = 0
        for ep, target in by_epoch.items():
            i = step_index.get((int(ep) + 1) * p)
            if i is None or not (math.isfinite(target) and math.isfinite(values[i])):
                continue
            checked += 1
            matched += abs(values[i] - target) <= EPOCH_MATCH_RTOL * max(abs(target), 1e-12)
        if checked >= 2 and matched >= EPOCH_MATCH_SHARE * checked:
            return p
    return None
