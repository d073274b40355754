"""What every rule sees: the run's curves by role, prepared once."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tb_recipe_plugin.analysis.curves import Curve
from tb_recipe_plugin.analysis.preflight import PreflightReadings
from tb_recipe_plugin.analysis.report import Finding, Role
from tb_recipe_plugin.analysis.series import RunData
from tb_recipe_plugin.analysis.tag_words import tokens
from tb_recipe_plugin.internal_tags import Internals


@dataclass
class Context:
    run: RunData
    roles: dict[str, Role]
    curves: dict[str, Curve] = field(default_factory=dict)
    internals: Internals = field(default_factory=Internals)  # the Keras callback's signals, if any
    preflight: PreflightReadings = field(default_factory=PreflightReadings)  # the pre-flight checks it wrote, if any
    findings: list[Finding] = field(default_factory=list)
    # batch_loss is Keras' within-epoch running mean that could not be turned back into per-batch values
    # (analysis/levels.py): smooth and periodic by construction, so spike and periodicity rules skip it.
    batch_running_mean: bool = False
    # Optimizer steps per epoch when the logs prove it (analysis/levels.py), else None.
    steps_per_epoch: int | None = None

    def has(self, code: str) -> bool:
        return any(f.code == code for f in self.findings)

    def tags_of(self, code: str) -> set[str]:
        """The tags that findings of `code` so far are about (a batch loss already explained as periodic...)."""
        return {t for f in self.findings if f.code == code for t in f.tags}

    def primary_loss(self) -> Curve | None:
        """The curve that best says how training is going: validation if logged."""
        return self.curves.get("val_loss") or self.curves.get("train_loss")

    def train_curve(self) -> Curve | None:
        return self.curves.get("train_loss") or self.curves.get("batch_loss")


def interp_to(curve: Curve, steps: np.ndarray) -> np.ndarray:
    """Smoothed values of `curve` at other steps (train and val are logged at different steps)."""
    return np.interp(steps, curve.bsteps, curve.smooth)


def rel(change: float, reference: float) -> float:
    """Relative change that never divides by ~0."""
    return change / max(abs(reference), 1e-12)


def pct(x: float) -> float:
    return round(100.0 * x, 1)


def sig2(x: float) -> float:
    """Two significant digits: a value to try (a learning rate, a range, a factor), not a measurement."""
    return float(f"{x:.2g}")


PERCENT_WORDS = frozenset({
    "acc", "accuracy", "top1", "top5", "ap", "ap50", "ap75", "map", "map50", "iou", "miou", "dice", "f1",
    "precision", "recall", "auc",
})  # fmt: skip
"""Names of scores that writers log in percent as often as in fractions (MMEngine's ``accuracy/top1``, Detectron2's
``bbox/AP``, YOLO's mAP in some forks)."""


def as_fraction(c: Curve | None) -> np.ndarray | None:
    """A higher-is-better bounded score as a fraction of perfect: its values when all lie in [0, 1], the values / 100
    for a percentage (all in [0, 100], some above 1, named like an accuracy or an overlap score); else None.

    Rules that compare a score with chance (1/C) or with a share of perfect read it through this, so 54.8 (% top-1)
    and 0.548 mean the same; messages keep the run's own numbers.
    """
    if c is None or c.direction != "max" or not c.values.size:
        return None
    lo, hi = float(np.min(c.values)), float(np.max(c.values))
    if lo >= 0 and hi <= 1:
        return c.values
    if lo >= 0 and hi <= 100 and PERCENT_WORDS.intersection(tokens(c.tag)):
        return c.values / 100.0
    return None
