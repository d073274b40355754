"""The rule set, in evaluation order.

Order matters: a rule may stay silent when an earlier, more specific finding
already explains the curve (no "plateau" on a run that diverged), so each
finding is reported once under its most useful name.
"""

from __future__ import annotations

from collections.abc import Callable

from tb_recipe_plugin.analysis.report import Finding
from tb_recipe_plugin.analysis.rules.context import Context
from tb_recipe_plugin.analysis.rules.fit import (
    best_checkpoint_mismatch,
    data_problem,
    overfitting,
    underfitting,
    val_better_than_train,
    val_plateau,
)
from tb_recipe_plugin.analysis.rules.health import divergence, no_learning, nonfinite_loss
from tb_recipe_plugin.analysis.rules.internals import (
    dying_relu,
    exploding_gradients,
    initial_loss_off,
    nonfinite_gradients,
    saturated_activations,
    update_ratio_high,
    update_ratio_low,
    vanishing_gradients,
)
from tb_recipe_plugin.analysis.rules.noise import loss_spikes, noisy_loss, periodic_loss
from tb_recipe_plugin.analysis.rules.progress import lr_decay_too_early, lr_too_small, plateau, still_learning

Rule = Callable[[Context], Finding | None]

RULES: tuple[Rule, ...] = (
    nonfinite_loss,
    nonfinite_gradients,
    divergence,
    no_learning,
    exploding_gradients,
    dying_relu,
    saturated_activations,
    vanishing_gradients,
    update_ratio_high,
    update_ratio_low,
    initial_loss_off,
    data_problem,
    overfitting,
    val_plateau,
    lr_decay_too_early,
    underfitting,
    plateau,
    still_learning,
    lr_too_small,
    noisy_loss,
    periodic_loss,
    loss_spikes,
    val_better_than_train,
    best_checkpoint_mismatch,
)

__all__ = ["RULES", "Context", "Rule"]
