"""What the analyzer hands to every presenter (CLI text/JSON/Markdown, plugin).

Findings are language-neutral: a code, its severity, a step range and the
evidence numbers. The run's pre-flight checklist (`PreflightSummary`) is kept
apart from them: every check that ran is on it, passed or not, while only a
failed one is also a finding. Titles, messages and suggestions are rendered from the one
catalogue (`present/catalogue.py`) at presentation time, so the CLI's
``--lang`` and the tab's language switch read the same analysis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tb_recipe_plugin.analysis.diagnosis import Diagnosis

SCHEMA = "tb-recipe.report/2"

STATUS_ORDER = ("no_data", "ok", "info", "warning", "error")
SEVERITIES = ("info", "warning", "error")

Evidence = dict[str, float | int | str | None]


@dataclass
class Finding:
    code: str
    start_step: int | None
    end_step: int | None
    evidence: Evidence
    confidence: float
    tags: tuple[str, ...] = ()
    severity: str = "unset"  # stamped from the rule's declaration when the rule runs (rules/registry.py)
    # What start/end_step and the evidence's *_step keys count: "step" (optimizer or logging steps) or "epoch"
    # (a curve Keras or a hand-written loop logged at the epoch index). Set by the analyzer (`units.py`).
    unit: str = ""
    # When the evidence was measured: "training" (on the run's curves and signals) or "preflight" (by a pre-flight
    # check on a clone of the model before the first step; its steps are 0 and say nothing, presenters say so).
    stage: str = "training"


@dataclass
class Phase:
    start_step: int
    end_step: int
    label: str  # falling | flat | rising | noisy


@dataclass
class Role:
    tag: str
    level: str  # epoch | batch
    direction: str | None = None  # for metrics: "max" or "min"
    # How the analysed series was obtained: "logged" as is, "dense_train_loss" (the training loss, logged densely
    # enough to serve as the batch-level curve), "per_batch_from_running_mean" (Keras' running mean undone).
    source: str = "logged"


@dataclass
class PreflightCheck:
    """One pre-flight check of a run's checklist: its written verdict and every number it wrote.

    ``passed`` is None when the check ran and did not apply (it wrote numbers
    but no verdict). ``numbers`` are its step-0 measures by `Measure` name
    (``seconds`` included), ``curves`` its indexed ones (the suggested output
    bias per unit, the range test's ``lr`` and ``curve_loss`` per step), and
    ``series`` the run's tag of each curve (what `/series` serves).
    """

    code: str
    passed: bool | None
    numbers: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    series: dict[str, str] = field(default_factory=dict)


@dataclass
class PreflightSummary:
    """The pre-flight checks a run wrote (`analysis/preflight.py`), passed or not, and what they cost."""

    checks: list[PreflightCheck] = field(default_factory=list)
    seconds: float | None = None
    step_seconds: float | None = None

    def count(self, passed: bool | None) -> int:
        return sum(c.passed is passed for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [c.code for c in self.checks if c.passed is False]


@dataclass
class RunReport:
    run: str
    status: str
    best_step: int | None = None
    best_step_basis: str | None = None
    best_step_unit: str = "step"
    best_step_kind: str | None = None  # lowest | best | lowest_before_nonfinite (presenters word it per language)
    best_step_tag: str | None = None
    roles: dict[str, Role] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    phases: dict[str, list[Phase]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # reading problems: corrupt records, missing tags...
    analysis_errors: list[str] = field(default_factory=list)  # a rule or the analysis itself failed: our bug
    num_series: int = 0
    diagnosis: Diagnosis | None = None  # the run's one story: primary problem, related findings, facts
    preflight: PreflightSummary | None = None  # the run's pre-flight checklist; None when it wrote none


def json_number(value: Any) -> Any:
    """JSON has no NaN/Inf; scripts reading our output must not choke on them."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return float(f"{value:.6g}")
    return value
