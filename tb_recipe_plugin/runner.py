"""Analyse many runs, one at a time per process, in parallel worker processes when there are many.

A sweep is hundreds or thousands of small runs; reading and analysing each is
independent, so `--jobs N` spreads them over N processes (default: the
machine's cores). Each worker holds one run at a time and sends back only its
report (and, for a sweep, the run's hyperparameters and the few curves a
sweep ranks by), so peak memory follows the largest run, not the number of
runs. Results come back in run order whatever the worker count, so the output
does not depend on `--jobs`.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tb_recipe_plugin.analysis.report import RunReport
from tb_recipe_plugin.analysis.series import RunData
from tb_recipe_plugin.io.loader import RunSource

if TYPE_CHECKING:
    from tb_recipe_plugin.sweep.hparams import HParams

PARALLEL_MIN_RUNS = 40
"""Below 40 runs one process is faster than starting workers (each start costs more than analysing a few runs)."""
CHUNK = 16
"""Runs handed to a worker at a time: few round trips, and the order of results stays the run order."""


@dataclass
class Result:
    report: RunReport
    hparams: HParams | None = None  # when asked for (a sweep) and the run has any
    curves: RunData | None = None  # the curves a sweep ranks by, when asked for


def analyze_source(source: RunSource, roles: dict[str, str], sweep: bool = False, metric: str | None = None) -> Result:
    """Load and analyse one run; never raises (a failure is the report's analysis error)."""
    from tb_recipe_plugin.analysis.analyzer import analyze_run
    from tb_recipe_plugin.io.loader import load_run

    try:
        run = load_run(source)
        override = {r: t for r, t in roles.items() if t in run.series}
        missing = [f"--role {r}={t}: no such tag in this run" for r, t in roles.items() if r not in override]
        report = analyze_run(run, override)
        report.errors.extend(missing)
    except Exception as exc:  # noqa: BLE001 - one broken run must not stop the others
        report = RunReport(
            run=source.name, status="error", analysis_errors=[f"analysis failed: {type(exc).__name__}: {exc}"]
        )
        return Result(report)
    if not sweep:
        return Result(report)
    from tb_recipe_plugin.sweep.hparams import run_hparams

    hp = run_hparams(run.name, run.hparams)
    if hp is None or not hp.values:
        return Result(report)
    wanted = {t for t in (metric, report.best_step_tag) if t} | {r.tag for r in report.roles.values()}
    return Result(report, hp, RunData(run.name, {t: s for t, s in run.series.items() if t in wanted}))


def _one(args: tuple[RunSource, dict[str, str], bool, str | None]) -> Result:
    return analyze_source(*args)


def analyze_sources(
    sources: Sequence[RunSource],
    roles: dict[str, str],
    jobs: int | None = None,
    sweep: bool = False,
    metric: str | None = None,
    advance: Callable[[], None] | None = None,
) -> Iterator[Result]:
    """Results in the order of `sources`; `jobs` worker processes (None: the cores; 1 or few runs: this process)."""
    jobs = jobs or os.cpu_count() or 1
    work = [(s, roles, sweep, metric) for s in sources]
    if jobs <= 1 or len(work) < PARALLEL_MIN_RUNS:
        for item in work:
            yield _one(item)
            if advance is not None:
                advance()
        return
    # fork: workers start with the analyzer already imported (the CLI runs no threads that fork would copy)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context(method)) as pool:
        for result in pool.map(_one, work, chunksize=CHUNK):
            yield result
            if advance is not None:
                advance()
