"""The pre-flight checklist in words: the ``preflight`` object of a run in the JSON, the text and Markdown reports,
and the tab.

Every check that ran is listed, passed ones too (a passed check is news: the
data and the model were sound where it looked), each with its status, name
and the numbers it wrote, worded by the catalogue (`catalogue/labels.py`,
``PREFLIGHT``). A failed check is also a finding with a full message and
suggestions (`analysis/rules/preflight.py`); the checklist is the overview.
"""

from __future__ import annotations

import math
from typing import Any

from tb_recipe_plugin.analysis.preflight import shares
from tb_recipe_plugin.analysis.report import PreflightCheck, PreflightSummary, json_number
from tb_recipe_plugin.present.catalogue.labels import PREFLIGHT
from tb_recipe_plugin.present.catalogue.render import TemplateValues, fields, fill

STATUS = {True: "passed", False: "failed", None: "not_applicable"}


def render_preflight(summary: PreflightSummary | None, lang: str) -> dict[str, Any] | None:
    """The ``preflight`` object of a run (None when the run wrote no pre-flight results).

    ``summary`` is the one-line count ("Pre-flight: 7 passed, 1 failed
    (inputs_ignored), 1 not applicable"), ``cost`` what the checks took (None
    when not written), ``headline`` the two together; ``passed``, ``failed``
    and ``not_applicable`` the counts; ``seconds``, ``step_seconds`` and
    ``cost_steps`` the cost as numbers (null when not written); per check: ``code``, ``passed`` (true/false/null),
    ``status``, ``title``, ``text`` (its numbers in words), ``numbers`` (every
    step-0 measure it wrote, by name), ``curves`` (its indexed measures, by
    name) and ``series`` (the run's tag of each curve, a key of ``/series``).
    """
    if summary is None:
        return None
    words = PREFLIGHT[lang]
    counts = {status: sum(STATUS[c.passed] == status for c in summary.checks) for status in STATUS.values()}
    line, cost = summary_line(summary, lang), cost_text(summary, lang)
    return {
        "summary": line,
        "cost": cost,
        "headline": fill(str(words["with_cost"]), {"summary": line, "cost": cost}) if cost else line,
        **counts,
        "seconds": _number(summary.seconds),
        "step_seconds": _number(summary.step_seconds),
        "cost_steps": _number(cost_steps(summary)),
        "checks": [
            {
                "code": c.code,
                "passed": c.passed,
                "status": STATUS[c.passed],
                "title": _check_words(words, c.code)[0],
                "status_text": words["status"][STATUS[c.passed]],  # type: ignore[index]
                "text": check_text(c, lang),
                "numbers": {k: json_number(v) for k, v in c.numbers.items()},
                "curves": {k: [json_number(v) for v in values] for k, values in c.curves.items()},
                "series": dict(c.series),
            }
            for c in summary.checks
        ],
    }


def summary_line(summary: PreflightSummary, lang: str) -> str:
    """ "Pre-flight: 7 passed, 1 failed (inputs_ignored), 1 not applicable": the counts that are not zero."""
    words = PREFLIGHT[lang]
    parts = []
    for status in STATUS.values():
        n = sum(STATUS[c.passed] == status for c in summary.checks)
        if n:
            codes = ", ".join(c.code for c in summary.checks if STATUS[c.passed] == status)
            parts.append(fill(str(words[status]), {"n": n, "codes": codes}))
    return fill(str(words["summary"]), {"parts": str(words["sep"]).join(parts)})


def cost_steps(summary: PreflightSummary) -> float | None:
    """What the checks took in training steps of the model (their seconds over one step's), when both were written."""
    if summary.seconds is None or not summary.step_seconds or summary.step_seconds <= 0:
        return None
    steps = summary.seconds / summary.step_seconds
    return steps if math.isfinite(steps) else None


def cost_text(summary: PreflightSummary, lang: str) -> str | None:
    """ "4.1 s, about 137 training steps" (the seconds alone without a step time; None without either)."""
    words = PREFLIGHT[lang]
    if summary.seconds is None or not math.isfinite(summary.seconds):
        return None
    seconds = f"{summary.seconds:.1f}"
    steps = cost_steps(summary)
    if steps is None:
        return fill(str(words["cost_seconds"]), {"seconds": seconds})
    return fill(str(words["cost"]), {"seconds": seconds, "steps": f"{steps:.0f}"})


def check_text(check: PreflightCheck, lang: str) -> str:
    """A check's numbers in words: the first of its wordings whose every number it wrote, else nothing."""
    numbers = {**check.numbers, **shares(check.numbers)}
    values = TemplateValues(numbers)
    for template in _check_words(PREFLIGHT[lang], check.code)[1]:
        if all(name in numbers for name in fields(template)):
            return fill(template, values)
    return ""


def _check_words(words: dict[str, Any], code: str) -> tuple[str, tuple[str, ...]]:
    """(name, number wordings) of a check; an unknown code (a newer writer) is shown by its code, without numbers."""
    return words["checks"].get(code, (code, ()))


def _number(value: float | None) -> Any:
    return json_number(float(value)) if value is not None else None
