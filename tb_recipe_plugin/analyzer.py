"""Series in, findings out: the analyzer entry point (work in progress)."""

from __future__ import annotations

from collections.abc import Mapping

from tb_recipe_plugin.report import RunReport
from tb_recipe_plugin.series import RunData


def analyze_run(run: RunData, role_overrides: Mapping[str, str] | None = None) -> RunReport:
    status = "no_data" if not run.series else "ok"
    return RunReport(run=run.name, status=status, errors=list(run.errors), num_series=len(run.series))
