"""JSON presenter: the report as strict JSON for scripts, and the object the tab's routes return.

One run's dict is the same in the CLI's ``--format json`` ``runs`` list and in
the plugin's ``/diagnosis`` route, so a script written against one reads the
other. NaN/Inf never reach the output (JSON has no such numbers); run and tag
names that are not valid UTF-8 arrive here already escaped by the loader.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from tb_recipe_plugin import __version__
from tb_recipe_plugin.analysis.report import SCHEMA, RunReport
from tb_recipe_plugin.present.catalogue import render_finding


def run_to_dict(report: RunReport, lang: str = "en") -> dict[str, Any]:
    return {
        "run": report.run,
        "status": report.status,
        "best_step": report.best_step,
        "best_step_basis": report.best_step_basis,
        "roles": {name: {k: v for k, v in vars(role).items() if v is not None} for name, role in report.roles.items()},
        "findings": [render_finding(f, lang) for f in report.findings],
        "phases": {tag: [vars(p) for p in phases] for tag, phases in report.phases.items()},
        "errors": list(report.errors),
        "analysis_errors": list(report.analysis_errors),
    }


def reports_to_dict(reports: Sequence[RunReport], logdir: str, lang: str = "en") -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "tool": {"name": "tb-recipe", "version": __version__},
        "logdir": logdir,
        "lang": lang,
        "runs": [run_to_dict(r, lang) for r in reports],
    }


def render_json(reports: Sequence[RunReport], logdir: str, lang: str, stream: TextIO, color: bool) -> None:
    """Write the whole report as one JSON document (`color` is ignored: JSON has none)."""
    del color
    json.dump(reports_to_dict(reports, logdir, lang), stream, indent=2, ensure_ascii=False, allow_nan=False)
    stream.write("\n")
