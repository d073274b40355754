"""One diagnosis per run: the root cause, how the other findings relate to it, and what to change first.

A run with a NaN loss typically also has non-finite and exploding gradients,
and each of those findings carries the same handful of suggestions. A
practitioner would not read them as three problems: the gradients exploded,
so the gradients and then the loss went NaN, and the learning-rate schedule
that had grown 400x by then is why. This module turns the findings into
that one story, language-neutral like the findings themselves:

- ``primary``: the root of the most severe chain of findings. A finding is
  explained by another when `CAUSES` says the other is a usual cause of it
  and both fired (a link is only drawn between findings the run shows).
- ``related``: every other finding, as a ``consequence`` of the primary (or
  of another finding in its chain), a ``separate`` problem, or ``context``
  (info-level notes that change no verdict).
- ``cause``: evidence outside the findings that explains the primary, when
  the run logged it: a learning rate that had risen 10x or more from its
  first value by the time the run broke.
- ``facts``: the run's own numbers that actions quote (its LR, batch size,
  parameter count, epochs), so a message says "from 4 to 0.4-1.3" instead of
  a generic "e.g. 1e-3 -> 1e-4" whenever the run logged the quantity.

Wording, and which changes answer which finding, live in the catalogue
(`present/`), which also ranks the actions (`present/actions.py`); this
module only decides what the run's story is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tb_recipe_plugin.analysis.report import SEVERITIES, Finding
from tb_recipe_plugin.analysis.rules.context import Context
from tb_recipe_plugin.analysis.units import counts_epochs
from tb_recipe_plugin.internal_tags import Meta

CAUSES: dict[str, tuple[str, ...]] = {
    "nonfinite_loss": (
        "nonfinite_inputs",
        "nonfinite_labels",
        "labels_out_of_range",
        "nonfinite_gradients",
        "exploding_gradients",
        "divergence",
        "lr_too_high",
        "update_ratio_high",
        "loss_spikes",
        "initial_loss_off",
    ),
    "nonfinite_gradients": (
        "nonfinite_inputs",
        "nonfinite_labels",
        "labels_out_of_range",
        "exploding_gradients",
        "lr_too_high",
        "update_ratio_high",
        "initial_loss_off",
    ),
    "exploding_gradients": ("lr_too_high", "update_ratio_high", "initial_loss_off"),
    "divergence": ("exploding_gradients", "lr_too_high", "update_ratio_high", "loss_spikes"),
    "loss_spikes": ("lr_too_high", "update_ratio_high"),
    "noisy_loss": ("lr_too_high", "periodic_loss"),
    "no_learning": (
        "inputs_ignored",
        "labels_out_of_range",
        "dying_relu",
        "vanishing_gradients",
        "saturated_activations",
        "cannot_overfit_batch",
        "initial_loss_off",
        "lr_too_small",
        "update_ratio_low",
        "periodic_loss",
        "data_problem",
        "lr_range_test",
    ),
    "underfitting": (
        "cannot_overfit_batch",
        "dying_relu",
        "vanishing_gradients",
        "saturated_activations",
        "lr_too_small",
        "update_ratio_low",
    ),
    "update_ratio_low": ("dying_relu", "vanishing_gradients", "lr_too_small", "lr_range_test"),
    "update_ratio_high": ("lr_range_test",),
    "lr_too_small": ("lr_range_test",),
    "lr_too_high": ("lr_range_test",),
    "plateau": ("lr_decay_too_early", "lr_too_high", "lr_too_small", "overfitting"),
    "still_learning": ("lr_too_small",),
    "val_plateau": ("overfitting",),
    "saturated_activations": ("initial_loss_off",),
    "dying_relu": ("cannot_overfit_batch",),
    "vanishing_gradients": ("cannot_overfit_batch",),
    "val_better_than_train": ("train_val_overlap",),
    "data_problem": ("batch_mixing",),
    "initial_loss_off": ("nonfinite_inputs", "nonfinite_labels", "labels_out_of_range"),
    "cannot_overfit_batch": ("nonfinite_labels", "labels_out_of_range"),
    "inputs_ignored": ("labels_out_of_range",),
}
"""effect -> the findings that usually cause it, most specific first. A link needs both findings in the run.

A failed pre-flight check (``nonfinite_inputs``, ``labels_out_of_range``,
``inputs_ignored``, ``cannot_overfit_batch``, ``train_val_overlap``,
``batch_mixing``, ``lr_range_test``...) is listed as a cause of the curve
findings it explains: it was measured before the first step, on the data and
the model as they were, so when both fired the fault the checks found is the
root and the curve shows its consequence (labels beyond the output units, then
a NaN loss; inputs the model ignores, then no learning; a model that cannot
fit one batch, whose ReLUs are then found dead)."""

ORDER = (
    "nonfinite_inputs",
    "nonfinite_labels",
    "labels_out_of_range",
    "inputs_ignored",
    "batch_mixing",
    "nonfinite_loss",
    "nonfinite_gradients",
    "exploding_gradients",
    "divergence",
    "no_learning",
    "cannot_overfit_batch",
    "initial_loss_off",
    "dying_relu",
    "vanishing_gradients",
    "saturated_activations",
    "data_problem",
    "train_val_overlap",
    "lr_too_high",
    "update_ratio_high",
    "loss_spikes",
    "overfitting",
    "lr_too_small",
    "update_ratio_low",
    "lr_decay_too_early",
    "underfitting",
    "periodic_loss",
    "noisy_loss",
    "val_plateau",
    "plateau",
    "still_learning",
    "best_checkpoint_mismatch",
    "val_better_than_train",
    "lr_range_test",
)
"""Among equally severe roots, which names the run's problem best (a NaN before anything else it caused)."""

CLIP_MIN_POINTS = 20
"""Gradient norms the callback logged, at least, before their 90th percentile over the first half of the run is
quoted as a clipping threshold (a run that blows up does so late; its first half shows the norms of healthy steps)."""
FAILURE_CODES = frozenset({"nonfinite_loss", "nonfinite_gradients", "exploding_gradients", "divergence", "loss_spikes"})
"""Findings that an LR schedule climbing to a damaging value explains."""
LR_RISE_FACTOR = 10.0
"""A learning rate at 10x or more of its first value when the run broke is named as the cause (a warm-up from ~1%
of the target reaches 100x, and is then the suspect as much as the target itself)."""
_FAIL_STEP_KEY = {
    "nonfinite_loss": "first_step",
    "nonfinite_gradients": "first_step",
    "exploding_gradients": "peak_step",
    "divergence": "min_step",
    "loss_spikes": "max_step",
}

@dataclass(frozen=True)
class Related:
    code: str
    relation: str  # consequence | separate | context
    of: str | None = None  # the finding it is a consequence of


@dataclass
class Diagnosis:
    kind: str  # problem | healthy | no_data | failed
    primary: str | None = None
    related: list[Related] = field(default_factory=list)
    cause: str | None = None  # evidence outside the findings: "lr_rise"
    facts: dict[str, float | int | str] = field(default_factory=dict)


def diagnose(findings: list[Finding], ctx: Context | None, analysis_failed: bool = False) -> Diagnosis:
    """The diagnosis of one run from its findings. `ctx` gives the run's own numbers; without it (nothing was read,
    or a report built by hand) there are no facts, and no findings means no data."""
    facts = run_facts(ctx) if ctx is not None else {}
    if not findings:
        if analysis_failed:
            return Diagnosis("failed", facts=facts)
        return Diagnosis("healthy" if ctx is not None else "no_data", facts=facts)
    by_code = {f.code: f for f in findings}
    parent = _parents(by_code)
    roots = [c for c in by_code if c not in parent]
    primary = min(roots, key=lambda c: _root_rank(c, by_code, parent))
    problem = any(f.severity in ("warning", "error") for f in findings)
    related = [_relation(c, primary, by_code, parent) for c in sorted(by_code, key=_order) if c != primary]
    cause = _lr_cause(primary, by_code, parent, ctx, facts) if ctx is not None else None
    if not problem:
        # info only: the run is healthy; the notes stay as context and the primary names the one to act on
        related = [Related(r.code, "context") for r in related]
    return Diagnosis("problem" if problem else "healthy", primary, related, cause, facts)


def _order(code: str) -> int:
    return ORDER.index(code) if code in ORDER else len(ORDER)


def _parents(by_code: dict[str, Finding]) -> dict[str, str]:
    """For each finding another one explains, the finding that explains it (its most specific present cause)."""
    parent: dict[str, str] = {}
    for code in by_code:
        for cause in CAUSES.get(code, ()):
            if cause in by_code and not _reaches(cause, code, parent):
                parent[code] = cause
                break
    return parent


def _reaches(start: str, target: str, parent: dict[str, str]) -> bool:
    """Would linking `target` under `start` close a loop (is `target` already an ancestor of `start`)?"""
    seen = set()
    node: str | None = start
    while node is not None and node not in seen:
        if node == target:
            return True
        seen.add(node)
        node = parent.get(node)
    return False


def _chain(code: str, parent: dict[str, str]) -> list[str]:
    """`code` and every finding it explains, directly or through others."""
    out = [code]
    for child, p in parent.items():
        if p == code:
            out += _chain(child, parent)
    return out


def _root_rank(code: str, by_code: dict[str, Finding], parent: dict[str, str]) -> tuple[int, int, int, float]:
    chain = _chain(code, parent)
    worst = max(SEVERITIES.index(by_code[c].severity) for c in chain)
    own = SEVERITIES.index(by_code[code].severity)
    return (-worst, -own, _order(code), -by_code[code].confidence)


def _relation(code: str, primary: str, by_code: dict[str, Finding], parent: dict[str, str]) -> Related:
    top = code
    while top in parent:
        top = parent[top]
    if top == primary:
        return Related(code, "consequence", parent.get(code))
    if by_code[code].severity == "info" and code not in parent:
        return Related(code, "context")
    if code in parent:
        return Related(code, "consequence", parent[code])
    return Related(code, "separate")


def _lr_cause(
    primary: str, by_code: dict[str, Finding], parent: dict[str, str], ctx: Context, facts: dict
) -> str | None:
    """"lr_rise" when the run's LR had risen `LR_RISE_FACTOR`x or more from its first value by the time the primary
    chain's failure happened (compared at the same share of the run: the failing tag and the LR tag may count
    steps differently, e.g. Keras epochs against optimizer steps). Fills the facts the message quotes."""
    failures = [c for c in _chain(primary, parent) if c in FAILURE_CODES]
    lr = ctx.curves.get("lr")
    if not failures or lr is None or "lr_first" not in facts or facts["lr_first"] <= 0:
        return None
    first = min(failures, key=lambda c: _fail_share(by_code[c], ctx))
    share = _fail_share(by_code[first], ctx)
    if share is None:
        return None
    span = float(lr.steps[-1] - lr.steps[0])
    at = float(lr.steps[0]) + share * span
    upto = lr.values[lr.steps <= at] if span > 0 else lr.values[:1]
    reached = float(np.max(upto)) if upto.size else float(lr.values[0])
    factor = reached / float(facts["lr_first"])
    if not (math.isfinite(factor) and factor >= LR_RISE_FACTOR):
        return None
    facts["lr_reached"] = reached
    facts["lr_rise"] = round(factor, 1) if factor < 100 else round(factor)
    facts["failure"] = first
    return "lr_rise"


def _fail_share(f: Finding, ctx: Context) -> float:
    """Where a failure happened, as a share of its own tag's span (inf when it cannot be placed)."""
    step = f.evidence.get(_FAIL_STEP_KEY.get(f.code, ""), f.start_step)
    series = ctx.run.series.get(f.tags[0]) if f.tags else None
    if series is None or not isinstance(step, int | float) or len(series) < 2:
        return math.inf
    lo, hi = float(series.steps[0]), float(series.steps[-1])
    return min(1.0, max(0.0, (float(step) - lo) / (hi - lo))) if hi > lo else math.inf


def run_facts(ctx: Context) -> dict[str, float | int | str]:
    """The run's own numbers that messages quote: learning rate, batch size, parameters, epochs and steps."""
    facts: dict[str, float | int | str] = {}
    lr = ctx.curves.get("lr")
    if lr is not None and lr.values.size:
        v = lr.values
        positive = v[v > 0]
        if positive.size:
            facts["lr_tag"] = lr.tag
            facts["lr_first"] = float(positive[0])
            facts["lr_peak"] = float(np.max(positive))
            facts["lr_last"] = float(positive[-1])
            facts["lr_constant"] = int(float(np.max(positive)) <= 1.01 * float(np.min(positive)))
    for name, key in ((Meta.BATCH_SIZE, "batch_size"), (Meta.NUM_PARAMS, "num_params"), (Meta.NUM_CLASSES, "classes")):
        value = ctx.internals.meta(name)
        if value is not None and math.isfinite(value) and value > 0:
            facts[key] = int(value)
    if ctx.steps_per_epoch:
        facts["steps_per_epoch"] = int(ctx.steps_per_epoch)
    g = ctx.internals.grad_norm
    if g is not None and len(g) >= CLIP_MIN_POINTS:
        early = g.values[g.steps <= g.steps[0] + 0.5 * (g.steps[-1] - g.steps[0])]
        early = early[np.isfinite(early) & (early > 0)]
        if early.size >= CLIP_MIN_POINTS // 2:
            facts["grad_norm_p90"] = float(np.percentile(early, 90))
    epochs = _epochs(ctx)
    if epochs:
        facts["epochs"] = epochs
    batch = ctx.curves.get("batch_loss")
    if batch is not None and batch.series.steps.size >= 2 and batch.series.steps[-1] > 0:
        # a per-batch curve counts optimizer (or logging) steps; its last one, NaN points included
        facts["total_steps"] = int(batch.series.steps[-1])
    return facts


def _epochs(ctx: Context) -> int | None:
    """Epochs the run trained for, when its logs show it: an epoch-level series counted 0, 1, 2... (Keras writes the
    epoch index as the step), or the last optimizer step over a proven epoch length."""
    for role in ("val_loss", "train_loss", "val_metric", "train_metric"):
        info = ctx.roles.get(role)
        if info is None or info.level != "epoch":
            continue
        if counts_epochs(ctx, info.tag, info.level):
            return int(len(ctx.run.series[info.tag]))
    if ctx.steps_per_epoch:
        c = ctx.train_curve()
        if c is not None and c.steps.size:
            return max(1, round(float(c.steps[-1] + 1) / ctx.steps_per_epoch))
    return None
