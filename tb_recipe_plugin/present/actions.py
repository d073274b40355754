"""What to change first: the findings' suggestions merged into one ranked list, with this run's numbers.

Each finding lists its suggestions most effective first (the catalogue). A
run's actions are all of them, deduplicated, scored by the weight of every
finding that asks for one divided by its place in that finding's list
(1, 1/2, 1/3...), so the primary problem's first change leads, and a change
several findings ask for rises above one only a side note asks for.
`run_numbers` turns the diagnosis' facts into the values the suggestions'
``run_action`` wordings quote ("from 4 to 0.4-1.3").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tb_recipe_plugin.analysis.diagnosis import Diagnosis
from tb_recipe_plugin.analysis.report import Finding
from tb_recipe_plugin.analysis.rules.context import sig2
from tb_recipe_plugin.present.catalogue.findings import FINDINGS

WEIGHT = {"primary": 3.0, "cause": 3.0, "consequence": 1.0, "context": 0.3}
"""How much a finding's suggestions count by its place in the diagnosis. A consequence's own advice is mostly
about its symptom (a NaN loss: check the inputs), so it counts a third of the cause's."""
SEPARATE_WEIGHT = {"error": 2.0, "warning": 1.5, "info": 0.5}
"""A separate problem counts by its severity."""
CAUSE_SUGGESTIONS = {"lr_rise": ("lower_lr", "lr_warmup", "clip_gradients")}
"""What a cause outside the findings asks for, most effective first."""
CAUSE_SOURCE = {"lr_rise": "lr_schedule"}
"""The name an action's ``from`` gives such a cause."""
TOP_ACTIONS = 3
"""Actions a presenter shows by default (``--all``: every one)."""


@dataclass(frozen=True)
class RankedAction:
    id: str
    sources: tuple[str, ...]  # finding codes, and a cause's name ("lr_schedule"), that ask for it
    score: float


def rank_actions(diagnosis: Diagnosis, findings: list[Finding]) -> list[RankedAction]:
    """Every suggestion of the run once, best first."""
    if diagnosis.primary is None:
        return []
    by_code = {f.code: f for f in findings}
    asks: list[tuple[str, float, tuple[str, ...]]] = [
        (diagnosis.primary, WEIGHT["primary"], FINDINGS[diagnosis.primary].suggestions)
    ]
    if diagnosis.cause in CAUSE_SUGGESTIONS:
        asks.append((CAUSE_SOURCE[diagnosis.cause], WEIGHT["cause"], CAUSE_SUGGESTIONS[diagnosis.cause]))
    for r in diagnosis.related:
        weight = SEPARATE_WEIGHT[by_code[r.code].severity] if r.relation == "separate" else WEIGHT[r.relation]
        asks.append((r.code, weight, FINDINGS[r.code].suggestions))
    score: dict[str, float] = {}
    sources: dict[str, list[str]] = {}
    for source, weight, ids in asks:
        for place, sid in enumerate(ids):
            score[sid] = score.get(sid, 0.0) + weight / (1 + place)
            sources.setdefault(sid, []).append(source)
    order = list(score)  # first asked first, among equal scores
    ranked = sorted(order, key=lambda s: (-score[s], order.index(s)))
    return [RankedAction(s, tuple(sources[s]), round(score[s], 3)) for s in ranked]


def run_numbers(diagnosis: Diagnosis, findings: list[Finding]) -> dict[str, Any]:
    """The values `run_action` wordings quote, from what the run logged; a key is absent when the run did not log
    what it needs."""
    facts = diagnosis.facts
    out: dict[str, Any] = {}
    by_code = {f.code: f for f in findings}
    lr_now = _lr_now(diagnosis, by_code)
    if lr_now is not None:
        out["lr_now"] = lr_now
        out["lr_low"], out["lr_high"] = sig2(lr_now / 10), sig2(lr_now / 3)
        out["lr_up_low"], out["lr_up_high"] = sig2(lr_now * 3), sig2(lr_now * 10)
        out["lr_schedule"] = not facts.get("lr_constant", 1)
    batch = facts.get("batch_size")
    if isinstance(batch, int) and batch > 0:
        out["batch_size"] = batch
        out["batch_up_low"], out["batch_up_high"] = 4 * batch, 10 * batch
        out["batch_down_low"], out["batch_down_high"] = max(1, batch // 4), max(1, batch // 2)
    epochs = facts.get("epochs")
    if isinstance(epochs, int) and epochs > 0:
        out["epochs"], out["epochs_target"] = epochs, 2 * epochs
    total = facts.get("total_steps")
    if isinstance(total, int) and total >= 100:
        out["total_steps"] = total
        out["warmup_low"], out["warmup_high"] = max(1, round(0.01 * total)), max(2, round(0.05 * total))
    p90 = facts.get("grad_norm_p90")
    if isinstance(p90, float) and p90 > 0:
        out["clip_norm"] = sig2(p90)
    per_epoch = facts.get("steps_per_epoch")
    if isinstance(per_epoch, int) and per_epoch > 1:
        out["steps_per_epoch"] = per_epoch  # steps quoted on the optimizer's axis also say their epoch
    params = facts.get("num_params")
    if isinstance(params, int) and params > 0:
        out["num_params"] = f"{params:,}"
    return out


def _lr_now(diagnosis: Diagnosis, by_code: dict[str, Finding]) -> float | None:
    """The learning rate to change: the value it had risen to when the run broke, the peak a too-high-LR finding
    measured, else the schedule's peak (or the constant value)."""
    facts = diagnosis.facts
    if diagnosis.cause == "lr_rise" and isinstance(facts.get("lr_reached"), float):
        return float(facts["lr_reached"])
    high = by_code.get("lr_too_high")
    if high is not None and isinstance(high.evidence.get("lr_peak"), float):
        return float(high.evidence["lr_peak"])  # type: ignore[arg-type]
    peak = facts.get("lr_peak")
    return float(peak) if isinstance(peak, float) else None
