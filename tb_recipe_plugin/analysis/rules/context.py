"""What every rule sees: the run's curves by role, prepared once."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tb_recipe_plugin.analysis.curves import Curve
from tb_recipe_plugin.analysis.report import Finding, Role
from tb_recipe_plugin.analysis.series import RunData
from tb_recipe_plugin.internal_tags import Internals


@dataclass
class Context:
    run: RunData
    roles: dict[str, Role]
    curves: dict[str, Curve] = field(default_factory=dict)
    internals: Internals = field(default_factory=Internals)  # the Keras callback's signals, if any
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
