"""A sweep read as a whole: which hyperparameter matters, which runs failed and what they share, what to try next.

Input: each run's `RunReport` (the per-run diagnosis) and its `HParams`. No I/O.

- Sweeps: runs with hyperparameters that share a parent folder form one sweep
  (``lr=0.1/``, ``lr=0.01/`` under ``sweep1/``); runs that differ only by
  ``seed`` form one configuration. The sweep's hyperparameters are those whose
  value differs between its runs (a Trainer's arguments or a YOLO ``args.yaml``
  record a hundred settings, most never searched), less text values that are
  different on every run (output folders, run names: `_identifier`).
- Score: the best value of the sweep's metric at each run's recommended
  checkpoint, the validation curve `analyze` chose it from (its lowest
  validation loss, else its best validation metric), or `--metric TAG`.
- Importance: the share of the variance of the scores that each
  hyperparameter explains on its own, a reader can check by hand: between-group
  variance over total (eta squared) for a hyperparameter with few values, R²
  of a quadratic fit for one with many; rates spanning 10x or more are read on
  a log scale.
- Findings, each naming its runs and hyperparameter: a value range where
  runs failed (NaN or divergence), one where runs were still improving, the
  best value at the edge of the searched range, a ranking within the spread
  between seeds of one configuration, hyperparameters with no measurable effect.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tb_recipe_plugin.analysis.report import RunReport
from tb_recipe_plugin.analysis.rules.context import sig2
from tb_recipe_plugin.analysis.series import RunData
from tb_recipe_plugin.sweep.hparams import HParams, HParamValue

MIN_SWEEP_RUNS = 3
"""Runs with hyperparameters in one folder before they are read as a sweep (two runs are a comparison)."""
LOG_SPAN = 10.0
"""A positive numeric hyperparameter whose values span 10x or more is read on a log scale (learning rates, decays)."""
FEW_VALUES = 6
"""Up to 6 distinct values: a grid, compared group by group (eta squared); more: a curve fitted (quadratic R²)."""
MIN_RESIDUAL_DF = 2
"""An effect is measured only when at least 2 runs are left over after one per group of values (or per fitted
coefficient): with fewer, a hyperparameter with a value per run explains every score, whatever its effect."""
NO_EFFECT = 0.05
"""Explaining under 5% of the variance of the scores is no measurable effect."""
RANGE_SHARE = 0.75
"""A value range is named when at least 75% of the runs in it share the outcome (failed, still improving),"""
RANGE_MIN_RUNS = 2
"""...and at least 2 runs do."""
FAILED_CODES = frozenset({"nonfinite_loss", "divergence"})
SEED_NAMES = frozenset({"seed", "random_seed", "rng_seed"})


@dataclass
class SweepRun:
    run: str
    hparams: dict[str, HParamValue]
    hparams_source: str
    status: str
    best_step: int | None
    best_value: float | None
    codes: list[str]
    failed: bool
    still_learning: bool
    primary: str | None = None  # the code of the run's own diagnosis (`RunReport.diagnosis`), None when healthy
    report: RunReport | None = field(default=None, repr=False, compare=False)  # for presenters: the run's verdict


@dataclass
class SweepFinding:
    code: str  # failed_range | still_learning_range | best_at_edge | ranking_is_noise | no_effect | too_few_runs
    severity: str
    hparam: str | None
    runs: list[str]
    evidence: dict[str, float | int | str] = field(default_factory=dict)


@dataclass
class Sweep:
    name: str
    metric_tag: str | None
    direction: str
    hparams: list[str]
    runs: list[SweepRun]
    ranking: list[str]
    importance: list[tuple[str, float]]
    findings: list[SweepFinding]
    advice: list[tuple[str, dict[str, float | int | str]]]


def analyze_sweeps(
    reports: Sequence[RunReport],
    data: Mapping[str, RunData],
    hparams: Mapping[str, HParams],
    metric: str | None = None,
) -> list[Sweep]:
    """Every sweep among the runs: runs with hyperparameters grouped by parent folder, 3 or more per sweep."""
    groups: dict[str, list[RunReport]] = {}
    for report in reports:
        if report.run in hparams and hparams[report.run].values:
            groups.setdefault(report.run.rpartition("/")[0] or ".", []).append(report)
    return [
        _sweep(name, members, data, hparams, metric)
        for name, members in sorted(groups.items())
        if len(members) >= MIN_SWEEP_RUNS
    ]


def _sweep(
    name: str, reports: list[RunReport], data: Mapping[str, RunData], hparams: Mapping[str, HParams], metric: str | None
) -> Sweep:
    tag = metric or _common_metric(reports)
    direction = _direction(tag, reports)
    runs = [_run(r, data.get(r.run), hparams[r.run], tag, direction) for r in reports]
    names = sorted({k for r in runs for k in r.hparams})
    varied = [h for h in names if len({_key(r.hparams.get(h)) for r in runs}) > 1 and not _identifier(h, runs)]
    scored = [r for r in runs if r.best_value is not None and not r.failed]
    sign = 1.0 if direction == "min" else -1.0
    ranking = [r.run for r in sorted(scored, key=lambda r: sign * float(r.best_value))]  # type: ignore[arg-type]
    tuned = [h for h in varied if h not in SEED_NAMES]
    shares = {h: _importance(h, scored) for h in tuned}
    importance = sorted(((h, s) for h, s in shares.items() if s is not None), key=lambda x: -x[1])
    findings = _findings(runs, scored, tuned, ranking, importance, direction)
    unmeasured = [h for h, s in shares.items() if s is None]
    if unmeasured and len(scored) >= 2:
        findings.append(SweepFinding("too_few_runs", "info", None, [],
                                     {"hparams": ", ".join(unmeasured), "runs": len(scored)}))  # fmt: skip
    advice = _advice(runs, scored, tuned, ranking, importance)
    return Sweep(name, tag, direction, varied, runs, ranking, importance, findings, advice)


def _identifier(h: str, runs: Sequence[SweepRun]) -> bool:
    """A text that differs on every run and is a path or names the run (an output folder, a logging folder,
    ``run_name`` in a Trainer's arguments, ``name: exp2`` in a YOLO ``args.yaml``) identifies the run; it is not
    a setting that was searched, and as a "category" of one run each it would explain every score. A text per
    run that is neither (``optimizer: adam / sgd / rmsprop``) stays a hyperparameter."""
    texts = [(r.run.rpartition("/")[2], v) for r in runs if isinstance((v := r.hparams.get(h)), str)]
    if len(texts) < len(runs) or len({v for _, v in texts}) < len(runs):
        return False
    return all("/" in v or "\\" in v or (leaf and leaf in v) for leaf, v in texts)


def _common_metric(reports: list[RunReport]) -> str | None:
    """The tag most runs chose their checkpoint by (as `analyze` does: lowest validation loss, else best metric)."""
    tags = [r.best_step_tag for r in reports if r.best_step_tag]
    return max(set(tags), key=tags.count) if tags else None


def _direction(tag: str | None, reports: list[RunReport]) -> str:
    for r in reports:
        for role in r.roles.values():
            if role.tag == tag:
                return role.direction or "min"
    return "min" if tag is None or "loss" in tag.lower() or "err" in tag.lower() else "max"


def _run(report: RunReport, data: RunData | None, hp: HParams, tag: str | None, direction: str) -> SweepRun:
    codes = [f.code for f in report.findings]
    step, value = None, None
    s = data.series.get(tag) if data is not None and tag else None
    if s is not None and len(s):
        finite = np.isfinite(s.values)
        if finite.any():
            values = np.where(finite, s.values, np.inf if direction == "min" else -np.inf)
            i = int(np.argmin(values) if direction == "min" else np.argmax(values))
            step, value = int(s.steps[i]), float(s.values[i])
    return SweepRun(
        run=report.run,
        hparams=dict(hp.values),
        hparams_source=hp.source,
        status=report.status,
        best_step=step,
        best_value=value,
        codes=codes,
        failed=bool(FAILED_CODES.intersection(codes)),
        still_learning="still_learning" in codes,
        primary=report.diagnosis.primary if report.diagnosis is not None else None,
        report=report,
    )


def _key(value: HParamValue | None) -> str:
    return repr(value)


def _number(v: object) -> float | None:
    """A hyperparameter value as a finite number, else None: booleans are categories, and NaN/inf (a failed
    conversion in the writer) has no place on a range or an axis."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def _numbers(h: str, runs: Sequence[SweepRun]) -> dict[str, float]:
    """Run name -> the finite numeric value of `h`, for the runs that have one."""
    return {r.run: x for r in runs if (x := _number(r.hparams.get(h))) is not None}


def _floats(h: str, runs: Sequence[SweepRun]) -> np.ndarray | None:
    """The hyperparameter's values when every run has a finite number for it, else None."""
    values = _numbers(h, runs)
    if not runs or len(values) < len(runs):
        return None
    return np.asarray([values[r.run] for r in runs], dtype=np.float64)


def _log_scale(x: np.ndarray) -> bool:
    with np.errstate(all="ignore"):
        return bool(x.size >= 2 and np.all(x > 0) and x.max() / x.min() >= LOG_SPAN)


def is_log_scale(h: str, runs: Sequence[SweepRun]) -> bool:
    """Positive values spanning `LOG_SPAN` or more: a rate, read (and searched) on a log scale. Judged on the runs
    that set `h` (a run named ``UNet_wd_1e_4`` beside ``UNet_lr2e_3`` sets weight decay, the other does not)."""
    return _log_scale(np.asarray(list(_numbers(h, runs).values()), dtype=np.float64))


def hparam_scale(h: str, runs: Sequence[SweepRun]) -> str:
    """How `h` is read and drawn: ``log`` (`is_log_scale`), ``linear`` when every value it takes is a finite
    number, else ``category`` (strings, booleans, NaN: values to group by, not to place on an axis)."""
    values = [r.hparams[h] for r in runs if h in r.hparams]
    if any(_number(v) is None for v in values):
        return "category"
    return "log" if is_log_scale(h, runs) else "linear"


def _numeric(h: str, runs: Sequence[SweepRun]) -> np.ndarray | None:
    """The hyperparameter's values as numbers (log10 for a rate, `is_log_scale`), or None."""
    x = _floats(h, runs)
    if x is None:
        return None
    return np.log10(x) if _log_scale(x) else x


def _importance(h: str, scored: Sequence[SweepRun]) -> float | None:
    """Share of the variance of the scores explained by `h` alone (0-1), or None when the runs cannot measure it
    (`MIN_RESIDUAL_DF`). 0 when every score is the same."""
    with np.errstate(all="ignore"):
        try:
            share = _explained(h, scored)
        except (np.linalg.LinAlgError, ValueError):  # a fit on degenerate values
            return None
    return share if share is None or math.isfinite(share) else None


def _explained(h: str, scored: Sequence[SweepRun]) -> float | None:
    """Adjusted for the number of runs, so a hyperparameter with one value per run does not explain everything by
    construction: epsilon squared, (SS_between - (k-1) MS_within) / SS_total, for k groups; adjusted R² of the
    quadratic fit, 1 - (SS_resid / (n-3)) / (SS_total / (n-1)). Clipped to 0-1."""
    if len(scored) < MIN_SWEEP_RUNS:
        return None
    y = np.asarray([float(r.best_value) for r in scored])  # type: ignore[arg-type]
    n = y.size
    total = float(np.sum((y - y.mean()) ** 2))
    if not math.isfinite(total):
        return None
    keys = [_key(r.hparams.get(h)) for r in scored]
    if total <= 0:
        return 0.0 if len(set(keys)) > 1 else None
    x = _numeric(h, scored)
    if x is not None and not np.all(np.isfinite(x)):
        x = None  # NaN/inf values: compared as groups, not fitted
    groups = set(keys)
    if x is None or len(groups) <= FEW_VALUES:
        if len(groups) < 2 or n - len(groups) < MIN_RESIDUAL_DF:
            return None
        between = sum(
            (g := y[[i for i, kk in enumerate(keys) if kk == k]]).size * (float(g.mean()) - float(y.mean())) ** 2
            for k in groups
        )
        within = (total - between) / (n - len(groups))
        return max(0.0, min(1.0, (between - (len(groups) - 1) * within) / total))
    if n - 3 < MIN_RESIDUAL_DF:
        return None
    coef = np.polyfit(x, y, 2)
    resid = float(np.sum((y - np.polyval(coef, x)) ** 2))
    return max(0.0, min(1.0, 1.0 - (resid / (n - 3)) / (total / (n - 1))))


def _findings(
    runs: list[SweepRun],
    scored: list[SweepRun],
    tuned: list[str],
    ranking: list[str],
    importance: list[tuple[str, float]],
    direction: str,
) -> list[SweepFinding]:
    out: list[SweepFinding] = []
    outcomes = (("failed_range", "error", "failed"), ("still_learning_range", "info", "still_learning"))
    for code, severity, flag in outcomes:
        hits = [r for r in runs if getattr(r, flag)]
        if len(hits) >= RANGE_MIN_RUNS:
            out += _ranges(code, severity, runs, hits, tuned)
    by_run = {r.run: r for r in scored}
    if ranking:
        best = by_run[ranking[0]]
        for h in tuned:
            values = sorted(set(_numbers(h, runs).values()))
            b = _number(best.hparams.get(h))
            if len(values) >= 3 and b is not None and b in (values[0], values[-1]):
                out.append(SweepFinding("best_at_edge", "warning", h, [best.run],
                                        {"value": b, "low": values[0], "high": values[-1],
                                         "side": "low" if b == values[0] else "high"}))  # fmt: skip
    noise = _seed_noise(scored, ranking, direction)
    if noise is not None:
        out.append(noise)
    for h, score in importance:
        if score < NO_EFFECT and len(scored) >= MIN_SWEEP_RUNS:
            out.append(SweepFinding("no_effect", "info", h, [], {"share_pct": round(100 * score, 1)}))
    return out


def _ranges(
    code: str, severity: str, runs: list[SweepRun], hits: list[SweepRun], tuned: list[str]
) -> list[SweepFinding]:
    """The numeric hyperparameter range that best separates `hits` from the other runs: hp >= t or hp <= t."""
    best: SweepFinding | None = None
    best_key = (-1.0, 0)
    hit_names = {r.run for r in hits}  # a set: a sweep of 2,000 runs would compare whole records 2,000² times
    for h in tuned:
        values = _numbers(h, runs)
        hit_values = [values[r.run] for r in hits if r.run in values]
        if len(values) < len(runs) or len(hit_values) < RANGE_MIN_RUNS:
            continue
        for side, t in (("at_least", min(hit_values)), ("at_most", max(hit_values))):
            inside = [r for r in runs if (values[r.run] >= t if side == "at_least" else values[r.run] <= t)]
            k = sum(1 for r in inside if r.run in hit_names)
            share = k / len(inside)
            covers = k / len(hits)
            if share >= RANGE_SHARE and k >= RANGE_MIN_RUNS and (share * covers, k) > best_key:
                best_key = (share * covers, k)
                best = SweepFinding(code, severity, h, [r.run for r in inside if r.run in hit_names],
                                    {"side": side, "threshold": t, "hits": k, "of": len(inside),
                                     "total_hits": len(hits)})  # fmt: skip
    return [best] if best is not None else []


def _config(r: SweepRun) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, _key(v)) for k, v in r.hparams.items() if k not in SEED_NAMES))


def _seed_noise(scored: list[SweepRun], ranking: list[str], direction: str) -> SweepFinding | None:
    """When the best configuration has several seeds: is its lead over the next configuration larger than the spread
    between its own seeds? If not, the ranking is noise."""
    if len(ranking) < 2:
        return None
    by_run = {r.run: r for r in scored}
    best_cfg = _config(by_run[ranking[0]])
    seeds = [float(r.best_value) for r in scored if _config(r) == best_cfg]  # type: ignore[arg-type]
    others = [by_run[n] for n in ranking if _config(by_run[n]) != best_cfg]
    if len(seeds) < 2 or not others:
        return None
    mean_best = sum(seeds) / len(seeds)
    runner = others[0]
    runner_seeds = [float(r.best_value) for r in scored if _config(r) == _config(runner)]  # type: ignore[arg-type]
    mean_runner = sum(runner_seeds) / len(runner_seeds)
    lead = abs(mean_runner - mean_best)
    spread = max(seeds) - min(seeds)
    if lead > spread:
        return None
    runs = [r.run for r in scored if _config(r) in (best_cfg, _config(runner))]
    evidence = {"lead": lead, "spread": spread, "seeds": len(seeds), "best": ranking[0], "next": runner.run}
    return SweepFinding("ranking_is_noise", "warning", None, runs, evidence)


def _advice(
    runs: list[SweepRun],
    scored: list[SweepRun],
    tuned: list[str],
    ranking: list[str],
    importance: list[tuple[str, float]],
) -> list[tuple[str, dict[str, float | int | str]]]:
    """What to search next: a range around the best value of each hyperparameter that matters (log-uniform for
    rates, 10x past the edge when the best sits on it), random search beyond two hyperparameters, more epochs
    when most runs were still improving."""
    out: list[tuple[str, dict[str, float | int | str]]] = []
    if ranking:
        best = next(r for r in scored if r.run == ranking[0])
        for h, score in importance:
            b = _number(best.hparams.get(h))
            if score < NO_EFFECT or b is None:
                continue
            values = sorted(set(_numbers(h, runs).values()))
            log = is_log_scale(h, runs)
            half = (values[-1] - values[0]) / 4
            lo, hi = (b / 3, b * 3) if log else (b - half, b + half)
            if len(values) >= 3 and b == values[0]:
                lo = b / 10 if log else b - (values[-1] - values[0])
            if len(values) >= 3 and b == values[-1]:
                hi = b * 10 if log else b + (values[-1] - values[0])
            out.append(("search_range", {"hparam": h, "low": sig2(lo), "high": sig2(hi), "best": b,
                                         "scale": "log" if log else "linear"}))  # fmt: skip
    if len([h for h, s in importance if s >= NO_EFFECT]) > 2 or len(tuned) > 2:
        out.append(("random_search", {"count": len(tuned)}))
    learning = sum(r.still_learning for r in runs)
    if learning * 2 > len(runs):
        out.append(("train_longer", {"runs": learning, "of": len(runs)}))
    return out

