"""The rule set: every rule module's declarations, in an order that respects their dependencies.

Each rule is declared where it is written (`registry.rule`); this package only
collects them. A rule may stay silent when an earlier, more specific finding
already explains the curve (no "plateau" on a run that diverged), so each
pattern is reported once under its most useful name.
"""

from __future__ import annotations

from tb_recipe_plugin.analysis.rules import fit, health, internals, noise, preflight, progress, spikes
from tb_recipe_plugin.analysis.rules.context import Context
from tb_recipe_plugin.analysis.rules.registry import SEVERITIES, Rule, Severity, ordered

_MODULES = (health, preflight, internals, fit, progress, noise, spikes)

RULES: tuple[Rule, ...] = ordered(
    value for module in _MODULES for value in vars(module).values() if isinstance(value, Rule)
)
"""Every declared rule, each after the codes it depends on."""

BY_CODE: dict[str, Rule] = {r.code: r for r in RULES}
CALLBACK_CODES = frozenset(r.code for r in RULES if r.callback)
"""The finding codes that need the Keras callback's series."""
PREFLIGHT_CODES = frozenset(r.code for r in RULES if r.preflight)
"""The finding codes that read the pre-flight checks (`rules/preflight.py`, and ``initial_loss_off``)."""

__all__ = ["BY_CODE", "CALLBACK_CODES", "PREFLIGHT_CODES", "RULES", "SEVERITIES", "Context", "Rule", "Severity"]
