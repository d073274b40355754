"""JSON presenter: the report as strict JSON for scripts, and the object the tab's routes return.

One run's dict is the same in the CLI's ``--format json`` ``runs`` list and in
the plugin's ``/diagnosis`` route, so a script written against one reads the
other. NaN/Inf never reach the output (JSON has no such numbers).

``preflight`` is the run's pre-flight checklist (`present/preflight.py`:
``summary``, ``cost``, ``headline``, the counts ``passed`` / ``failed`` /
``not_applicable``, ``seconds`` / ``step_seconds`` / ``cost_steps``, and per
check ``code``, ``passed`` true/false/null, ``status``, ``title``,
``status_text``, ``text``, ``numbers``, ``curves``, ``series``), or null for a
run that wrote no pre-flight results. Each finding's ``stage`` says when its
evidence was measured: ``training`` (the curves and the callback's signals) or
``preflight`` (a failed pre-flight check, at step 0, before any step). Both are
new keys: the schema number (`analysis.report.SCHEMA`) changes only on an
incompatible change, and a reader of ``report/2`` that ignores unknown keys
reads these reports unchanged.

Names are data here, not display: a control character in a run name stays in
the string (the encoder writes it as ``\\u001b``), so a script gets the name
back. Two exceptions, both to keep the document valid and harmless: a byte
that was not UTF-8 (a lone surrogate in Python) becomes the text ``\\xff`` as in
every other format, and characters that a terminal acts on or that hide text
(C1 controls, bidi overrides, zero-width characters) are written as JSON
``\\uXXXX`` escapes rather than raw, so ``cat report.json`` is safe and
``json.loads`` still returns them unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from tb_recipe_plugin import __version__
from tb_recipe_plugin.analysis.report import SCHEMA, RunReport
from tb_recipe_plugin.present.actions import run_numbers
from tb_recipe_plugin.present.catalogue import render_finding
from tb_recipe_plugin.present.preflight import render_preflight
from tb_recipe_plugin.present.safe_text import is_hidden, well_formed
from tb_recipe_plugin.present.verdict import render_diagnosis, story_order


def run_to_dict(report: RunReport, lang: str = "en", all_actions: bool = False) -> dict[str, Any]:
    """One run: its diagnosis first (verdict, chain, ranked actions), then the findings in the diagnosis' order."""
    numbers = run_numbers(report.diagnosis, report.findings) if report.diagnosis is not None else {}
    return well_formed_tree(
        {
            "run": report.run,
            "status": report.status,
            "diagnosis": render_diagnosis(report, lang, all_actions),
            "preflight": render_preflight(report.preflight, lang),
            "best_step": report.best_step,
            "best_step_unit": report.best_step_unit,
            "best_step_basis": report.best_step_basis,
            "best_step_tag": report.best_step_tag,
            "roles": {
                name: {k: v for k, v in vars(role).items() if v is not None} for name, role in report.roles.items()
            },
            "findings": [render_finding(f, lang, numbers) for f in story_order(report)],
            "phases": {tag: [vars(p) for p in phases] for tag, phases in report.phases.items()},
            "errors": list(report.errors),
            "analysis_errors": list(report.analysis_errors),
        }
    )


def reports_to_dict(
    reports: Sequence[RunReport], logdir: str, lang: str = "en", all_actions: bool = False
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "tool": {"name": "tb-recipe", "version": __version__},
        "logdir": well_formed(logdir),
        "lang": lang,
        "runs": [run_to_dict(r, lang, all_actions) for r in reports],
    }


def render_json(
    reports: Sequence[RunReport], logdir: str, lang: str, stream: TextIO, color: bool, all_actions: bool = False
) -> None:
    """Write the whole report as one JSON document (`color` is ignored: JSON has none).

    Non-ASCII text is written as itself when `stream` can encode it, else as ``\\uXXXX`` escapes
    (e.g. ``--lang zh`` to an ASCII-only stdout): the same document either way.
    """
    del color
    doc = reports_to_dict(reports, logdir, lang, all_actions)
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)
    if encodable(text, stream):
        text = escape_hidden(text)
    else:
        text = json.dumps(doc, indent=2, ensure_ascii=True, allow_nan=False)
    stream.write(text + "\n")


def well_formed_tree(value: Any) -> Any:
    """Every string (keys included) of a JSON-ready tree with its lone surrogates escaped."""
    if isinstance(value, str):
        return well_formed(value)
    if isinstance(value, dict):
        return {well_formed_tree(k): well_formed_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [well_formed_tree(v) for v in value]
    return value


def encodable(text: str, stream: TextIO) -> bool:
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return True
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def escape_hidden(text: str) -> str:
    """Hidden characters of a serialised document as JSON escapes.

    Safe on the serialised text because such characters can only occur inside strings (the structure is ASCII
    and the encoder already escaped C0 controls); checked line by line so clean lines cost one C-level call.
    """
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.isprintable():
            lines[i] = "".join(_json_escape(ch) if is_hidden(ch) else ch for ch in line)
    return "\n".join(lines)


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    high, low = divmod(code - 0x10000, 0x400)  # JSON spells a character beyond the BMP as a surrogate pair
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"
