"""Series in, findings out: the one analysis behind the CLI and the TensorBoard tab.

`analyze_run` is pure (no I/O): loaders fill a `RunData`, presenters render
the `RunReport`. A rule that raises on some odd curve must not take the whole
run down, so each rule runs guarded; its failure is reported as an analysis
error of that run (our bug, not the user's data), which the CLI turns into
exit code 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from tb_recipe_plugin.analysis.curves import make_curve
from tb_recipe_plugin.analysis.diagnosis import diagnose
from tb_recipe_plugin.analysis.levels import prepare
from tb_recipe_plugin.analysis.phases import phases
from tb_recipe_plugin.analysis.preflight import checklist, find_preflight, is_preflight_tag
from tb_recipe_plugin.analysis.report import STATUS_ORDER, RunReport
from tb_recipe_plugin.analysis.roles import assign_roles
from tb_recipe_plugin.analysis.rules import RULES, SEVERITIES, Context, Rule
from tb_recipe_plugin.analysis.series import RunData, Series
from tb_recipe_plugin.analysis.units import finding_unit, raw_unit
from tb_recipe_plugin.internal_tags import SCHEMA_VERSION, Internals, find_internals


def analyze_run(run: RunData, role_overrides: Mapping[str, str] | None = None) -> RunReport:
    """Diagnose one run. Raises KeyError only for a bad `role_overrides` entry."""
    # Overflow on 1e308-sized garbage is expected; the rules' own checks handle the results.
    with np.errstate(all="ignore"):
        report, ctx = _analyze(run, role_overrides)
        try:
            report.diagnosis = diagnose(report.findings, ctx, bool(report.analysis_errors))
        except Exception as exc:  # noqa: BLE001 - the findings stand without their story
            report.analysis_errors.append(f"diagnosis failed: {type(exc).__name__}: {exc}")
            report.status = "error"
        return report


def _analyze(run: RunData, role_overrides: Mapping[str, str] | None) -> tuple[RunReport, Context | None]:
    report = RunReport(run=run.name, status="no_data", errors=list(run.errors), num_series=len(run.series))
    if not run.series:
        report.errors.append("no scalar series in this run")
        return report, None
    run = _in_step_order(run)
    prepared = prepare(run.series, assign_roles(run.series, role_overrides), frozenset(role_overrides or ()))
    roles = prepared.roles
    report.roles = roles
    ctx = Context(
        run=run,
        roles=roles,
        internals=find_internals(run.series),
        preflight=find_preflight(run.series),
        batch_running_mean=prepared.running_mean,
        steps_per_epoch=prepared.steps_per_epoch,
    )
    report.preflight = checklist(ctx.preflight)
    version = ctx.internals.schema_version()
    if version is not None and version > SCHEMA_VERSION:
        report.errors.append(
            f"the tb-recipe callback that wrote this run uses tag schema {version:g}, newer than this analyzer "
            f"understands ({SCHEMA_VERSION}); upgrade tb-recipe to read its gradient and activation signals"
        )
        ctx.internals = Internals()
    for role, info in roles.items():
        series = prepared.derived.get(role, run.series[info.tag])
        curve = make_curve(series, direction=info.direction or "min", level=info.level)
        if curve is not None:
            ctx.curves[role] = curve
    if not any(r in roles for r in ("train_loss", "val_loss", "batch_loss", "val_metric", "train_metric")):
        return _without_curves(report, ctx)
    _run_rules(RULES, ctx, report)
    for curve in ctx.curves.values():
        report.phases[curve.tag] = phases(curve)
    report.best_step, report.best_step_kind, best_tag = _best_step(ctx)
    if best_tag is not None:
        report.best_step_tag = best_tag
        report.best_step_unit = raw_unit(ctx, best_tag)
        report.best_step_basis = BEST_BASIS_EN[report.best_step_kind or "best"].format(tag=best_tag)
    report.status = _status(report)
    return report, ctx


def _run_rules(rules: Iterable[Rule], ctx: Context, report: RunReport) -> None:
    """Each rule guarded; the findings, worst first, become the report's."""
    for rule in rules:
        try:
            finding = rule(ctx)
        except Exception as exc:  # noqa: BLE001 - one bad rule must not hide the others
            report.analysis_errors.append(f"rule {rule.code} failed: {type(exc).__name__}: {exc}")
            continue
        if finding is not None:
            finding.unit = finding_unit(ctx, finding, rule.callback)
            ctx.findings.append(finding)
    ctx.findings.sort(key=lambda f: (-SEVERITIES.index(f.severity), f.start_step or 0))
    report.findings = ctx.findings


def _without_curves(report: RunReport, ctx: Context) -> tuple[RunReport, Context | None]:
    """A run with no loss or metric curve: nothing to diagnose, unless it holds the pre-flight checks' results.

    A fit that crashed on its first step (an out-of-range label stops a
    TensorFlow step on the CPU) leaves only what the checks wrote before it:
    the rules that read them run, so the failed check is the diagnosis. The
    missing curves stay an error of the run; with no failed check the run
    has no data to call healthy (no context is returned, so the diagnosis is
    ``no_data``), and its checklist still shows what passed.
    """
    series = ctx.run.series
    if ctx.preflight and all(is_preflight_tag(tag) for tag in series):
        report.errors.append(f"no loss or metric series: only the pre-flight checks' results ({len(series)} tags)")
    else:
        report.errors.append(
            f"no loss or metric series recognised among {len(series)} tag(s); name one with --role train_loss=TAG"
        )
    if not ctx.preflight:
        return report, None
    _run_rules([r for r in RULES if r.preflight], ctx, report)
    if report.findings or report.analysis_errors:
        report.status = _status(report)
    return report, ctx if report.findings else None


def _in_step_order(run: RunData) -> RunData:
    """The run with every series' steps strictly increasing, as the rules assume.

    The CLI's reader, the plugin and the callback already sort and deduplicate,
    but `analyze_run` is public and a hand-built `RunData` may not: steps out of
    order or repeated would otherwise make rules index past the end or take a
    later point for an earlier one. Later points win for a repeated step, as in
    the reader. The caller's `RunData` is left untouched; when every series is
    in order (one O(n) check each) the same object is returned.
    """
    fixed = {tag: _sorted_unique(run.series[tag]) for tag in _out_of_order(run.series)}
    if not fixed:
        return run
    return RunData(run.name, {tag: fixed.get(tag, s) for tag, s in run.series.items()}, run.errors)


_SHORT = 1024


def _out_of_order(series: Mapping[str, Series]) -> list[str]:
    """Tags whose steps are not strictly increasing.

    Long series are checked one by one; short ones all at once in one
    concatenated array, since a run can have a million tags of a few points
    and a numpy call per tag would cost seconds.
    """
    tags = list(series)
    axes = [s.steps for s in series.values()]
    sizes = np.fromiter((a.size for a in axes), np.int64, len(axes))
    bad = [tags[i] for i in np.flatnonzero(sizes > _SHORT) if not _increasing(axes[i])]
    short = np.flatnonzero((sizes > 1) & (sizes <= _SHORT))
    if short.size:
        steps = np.concatenate([axes[i] for i in short])
        ends = np.cumsum(sizes[short])
        rises = steps[1:] > steps[:-1]
        rises[ends[:-1] - 1] = True  # the step from one series to the next is no comparison
        where = np.searchsorted(ends, np.flatnonzero(~rises), side="right")
        bad += [tags[short[i]] for i in np.unique(where)]
    return bad


def _increasing(steps: np.ndarray) -> bool:
    return bool(np.all(steps[1:] > steps[:-1]))


def _sorted_unique(s: Series) -> Series:
    order = np.argsort(s.steps, kind="stable")
    steps = s.steps[order]
    keep = np.r_[steps[1:] != steps[:-1], True]
    walls = s.wall_times[order][keep] if s.wall_times is not None and s.wall_times.shape == steps.shape else None
    return Series(s.tag, steps[keep], s.values[order][keep], walls)


BEST_BASIS_EN = {
    "lowest": "lowest {tag}",
    "best": "best {tag}",
    "lowest_before_nonfinite": "lowest {tag} before it became non-finite",
}
"""`RunReport.best_step_basis`, kept in English for scripts; presenters word `best_step_kind` in their language."""


def _best_step(ctx: Context) -> tuple[int | None, str | None, str | None]:
    """The checkpoint to keep (step, kind, tag): lowest validation loss, else best validation metric."""
    for role, kind in (("val_loss", "lowest"), ("val_metric", "best")):
        c = ctx.curves.get(role)
        if c is not None:
            if ctx.roles[role].source == "epoch_index_on_step_axis":
                # told on the axis the run logged it on (the epoch, as its chart shows), not the one rules used
                c = make_curve(ctx.run.series[c.tag], direction=c.direction) or c
            return c.best_step(), kind, c.tag
    t = ctx.curves.get("train_loss")
    if t is not None and not np.all(np.isfinite(t.series.values)):
        return t.best_step(), "lowest_before_nonfinite", t.tag
    return None, None, None


def _status(report: RunReport) -> str:
    worst = "error" if report.analysis_errors else "ok"
    for f in report.findings:
        if STATUS_ORDER.index(f.severity) > STATUS_ORDER.index(worst):
            worst = f.severity
    return worst
