"""Steps or epochs: what a finding's positions count, so every message can say which.

Keras' ``epoch_*`` summaries and many hand-written loops write a per-epoch
curve at the epoch index (0, 1, 2...), while the training loop's own series
and the tb-recipe callback's count optimizer steps. A message that says "step
11" for Keras' eleventh epoch misleads; one that says "epoch 11" is checkable
against the chart's x axis, which TensorBoard labels with the same numbers.
"""

from __future__ import annotations

from tb_recipe_plugin.analysis.levels import counts_up
from tb_recipe_plugin.analysis.report import Finding
from tb_recipe_plugin.analysis.rules.context import Context
from tb_recipe_plugin.analysis.tag_words import tokens

EPOCH_AXIS_REACH = 4
"""Another series of the run whose steps reach 4x further than a 0, 1, 2... series counts optimizer steps, so the
0, 1, 2... one counts epochs (the same ratio `levels.py` uses to put such a series on the step axis)."""


def counts_epochs(ctx: Context, tag: str, level: str | None) -> bool:
    """An epoch-level series counted 0, 1, 2... whose numbers the run shows to be epochs: its name says so (Keras'
    ``epoch_loss``, Lightning's ``*_epoch``), the run proved an epoch length, or another series counts steps far
    beyond it. A lone 0, 1, 2... series may count epochs or iterations, and is left as steps, as TensorBoard labels
    it."""
    s = ctx.run.series.get(tag)
    if level != "epoch" or s is None or not counts_up(s):
        return False
    if "epoch" in tokens(tag) or ctx.steps_per_epoch:
        return True
    reach = EPOCH_AXIS_REACH * float(s.steps[-1])
    return any(len(o) and float(o.steps[-1]) >= reach for o in ctx.run.series.values())


def raw_unit(ctx: Context, tag: str) -> str:
    """The unit of a tag's logged steps."""
    level = next((info.level for info in ctx.roles.values() if info.tag == tag), None)
    return "epoch" if counts_epochs(ctx, tag, level) else "step"


def curve_unit(ctx: Context, tag: str) -> str:
    """The unit of the curve the rules analysed for a tag: a per-epoch curve moved onto the optimizer's step axis
    (`levels.py`) counts steps, whatever its logged steps were."""
    for info in ctx.roles.values():
        if info.tag == tag and info.source == "epoch_index_on_step_axis":
            return "step"
    return raw_unit(ctx, tag)


def finding_unit(ctx: Context, finding: Finding, callback: bool) -> str:
    """A finding's unit unless its rule set one: the callback's signals count optimizer steps; otherwise that of
    the curve of its first tag."""
    if finding.unit:
        return finding.unit
    if callback or not finding.tags:
        return "step"
    return curve_unit(ctx, finding.tags[0])
