"""Markdown presenter for CI job summaries and pull-request comments.

Run and tag names are untrusted: control, bidi and undecodable characters are
shown as escapes (`safe_text.visible`), then characters that Markdown or HTML
would interpret are backslash-escaped or turned into entities, so a run called
``<img src=x onerror=alert(1)>``, ``a|b`` or ``x<ESC>[2J`` cannot break the
table, the page or the terminal showing the raw file.

Messages and suggestions quote code in backticks (``EarlyStopping(...)``);
`md_text` keeps those spans as code (fenced so that no backtick inside can end
them early) and escapes the prose between them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TextIO

from tb_recipe_plugin import __version__
from tb_recipe_plugin.analysis.report import RunReport
from tb_recipe_plugin.present.actions import run_numbers
from tb_recipe_plugin.present.catalogue import render_finding
from tb_recipe_plugin.present.catalogue.labels import MARKDOWN, SEVERITY
from tb_recipe_plugin.present.catalogue.render import best_basis, place, where_text
from tb_recipe_plugin.present.preflight import render_preflight
from tb_recipe_plugin.present.safe_text import visible
from tb_recipe_plugin.present.text import sort_key
from tb_recipe_plugin.present.verdict import render_diagnosis, story_order

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_BACKTICKS = re.compile(r"`+")
ICON = {"error": "🔴", "warning": "🟠", "info": "🔵", "ok": "🟢", "no_data": "⚪"}
CHECK_ICON = {"passed": "🟢", "failed": "🔴", "not_applicable": "⚪"}
def md_escape(text: object) -> str:
    """Untrusted text as literal Markdown: hidden characters shown as escapes, markup and HTML escaped."""
    s = visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", s)


def md_text(text: object) -> str:
    """Prose that may quote code in backticks: the spans stay code, everything else is `md_escape`d."""
    s = visible(text)
    out: list[str] = []
    pos = 0
    for match in _CODE_SPAN.finditer(s):
        out += [md_escape(s[pos : match.start()]), code_span(match.group(2))]
        pos = match.end()
    out.append(md_escape(s[pos:]))
    return "".join(out)


def code_span(text: str) -> str:
    """`text` as one inline code span whatever backticks it holds (CommonMark: a longer fence, padded)."""
    s = visible(text)
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def render_markdown(
    reports: Sequence[RunReport], logdir: str, lang: str, stream: TextIO, color: bool, all_actions: bool = False
) -> None:
    """The registered `markdown` format (`color` is ignored)."""
    del color
    stream.write(markdown_report(reports, logdir, lang, all_actions))


def markdown_report(reports: Sequence[RunReport], logdir: str, lang: str, all_actions: bool = False) -> str:
    """A summary table (one verdict per run), then per run: the verdict, why, what to try next, the findings."""
    h = MARKDOWN[lang]
    ordered = sorted(reports, key=sort_key)
    diagnoses = {id(r): render_diagnosis(r, lang, all_actions) for r in ordered}
    out = [f"# tb-recipe report: {md_escape(logdir)}", "", f"_tb-recipe {__version__}_", ""]
    out += [f"| {h['run']} | {h['status']} | {h['verdict']} |", "|---|---|---|"]
    for r in ordered:
        d = diagnoses[id(r)]
        verdict = md_text(d["verdict"]) if d else "–"
        status = SEVERITY[lang].get(r.status, r.status)
        out.append(f"| {md_escape(r.run)} | {ICON.get(r.status, '')} {status} | {verdict} |")
    for r in ordered:
        d = diagnoses[id(r)]
        out += ["", f"## {ICON.get(r.status, '')} {md_escape(r.run)}", ""]
        shown: set[str] = set()
        if d is not None:
            out += [f"**{md_text(d['verdict'])}**", ""]
            if len(d["chain"]) > 1:
                out += [f"{h['why']}: " + " → ".join(md_text(c["text"]) for c in d["chain"]), ""]
        out += checklist(render_preflight(r.preflight, lang), lang)
        if d is not None:
            if d["actions"]:
                out += [f"**{h['actions']}**", ""]
                out += [f"{i}. {md_text(a['action'])} _{md_text(a['why'])}_" for i, a in enumerate(d["actions"], 1)]
                out.append("")
                shown = {a["id"] for a in d["actions"]}
        if r.best_step is not None:
            best = place(r.best_step, r.best_step_unit, lang)
            basis = best_basis(r.best_step_kind, r.best_step_tag, r.best_step_basis, lang)
            out += [f"{h['best']}: **{md_escape(best)}** ({md_escape(basis)})", ""]
        if not r.findings and r.status in ("ok", "info"):
            out.append(h["none"])
        numbers = run_numbers(r.diagnosis, r.findings) if r.diagnosis is not None else {}
        for finding in story_order(r):
            f = render_finding(finding, lang, numbers)
            span = where_text(f, lang, numbers.get("steps_per_epoch"))
            out.append(
                f"### {SEVERITY[lang][f['severity']]}: {md_escape(f['title'])} "
                f"(`{f['code']}`, {md_escape(span)}, {h['confidence']} {f['confidence']:.2f})"
            )
            out += ["", md_text(f["message"]), ""]
            rest = [s for s in f["suggestions"] if s["id"] not in shown]
            if rest:
                out += [f"**{h['suggestions']}**", ""]
                out += [f"- {md_text(s['action'])} _{md_text(s['why'])}_" for s in rest]
                out.append("")
                shown |= {s["id"] for s in rest}
        if r.errors:
            out += ["", f"**{h['errors']}**", ""] + [f"- {md_escape(e)}" for e in r.errors]
        if r.analysis_errors:
            out += ["", f"**{h['analysis_errors']}**", ""] + [f"- {md_escape(e)}" for e in r.analysis_errors]
    return "\n".join(out).rstrip() + "\n"


def checklist(preflight: dict | None, lang: str) -> list[str]:
    """The pre-flight checklist under the verdict: its counts and cost, then a table of every check that ran."""
    if preflight is None:
        return []
    h = MARKDOWN[lang]
    out = [f"**{md_escape(preflight['headline'])}**", ""]
    out += [f"| {h['check']} | {h['result']} | {h['measured']} |", "|---|---|---|"]
    for c in preflight["checks"]:
        status = f"{CHECK_ICON[c['status']]} {md_escape(c['status_text'])}"
        out.append(f"| {md_escape(c['title'])} (`{c['code']}`) | {status} | {md_escape(c['text']) or '–'} |")
    return [*out, ""]
