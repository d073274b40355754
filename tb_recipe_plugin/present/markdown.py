"""Markdown presenter for CI job summaries and pull-request comments.

Run and tag names are untrusted: characters that Markdown or HTML would
interpret are backslash-escaped or turned into entities, so a run called
``<img src=x onerror=alert(1)>`` or ``a|b`` cannot break the table or the page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TextIO

from tb_recipe_plugin import __version__
from tb_recipe_plugin.analysis.report import RunReport
from tb_recipe_plugin.present.catalogue import render_finding
from tb_recipe_plugin.present.text import sort_key

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
ICON = {"error": "🔴", "warning": "🟠", "info": "🔵", "ok": "🟢", "no_data": "⚪"}
HEAD = {
    "en": (
        "Run",
        "Status",
        "Best step",
        "Findings",
        "Suggestions",
        "Read errors",
        "No findings.",
        "Analysis failed (a tb-recipe bug; please report it)",
    ),
    "zh": (
        "运行",
        "状态",
        "最佳步数",
        "发现",
        "建议",
        "读取错误",
        "没有发现问题。",
        "分析失败（tb-recipe 的缺陷，请报告）",
    ),
}


def md_escape(text: object) -> str:
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _SPECIAL.sub(r"\\\1", s)
    return s.replace("\n", " ").replace("\r", " ")


def render_markdown(reports: Sequence[RunReport], logdir: str, lang: str, stream: TextIO, color: bool) -> None:
    """The registered `markdown` format (`color` is ignored)."""
    del color
    stream.write(markdown_report(reports, logdir, lang))


def markdown_report(reports: Sequence[RunReport], logdir: str, lang: str) -> str:
    h = HEAD[lang]
    ordered = sorted(reports, key=sort_key)
    out = [f"# tb-recipe report: {md_escape(logdir)}", "", f"_tb-recipe {__version__}_", ""]
    out += [f"| {h[0]} | {h[1]} | {h[2]} | {h[3]} |", "|---|---|---|---|"]
    for r in ordered:
        codes = ", ".join(f"`{f.code}`" for f in r.findings) or "–"
        best = "–" if r.best_step is None else str(r.best_step)
        out.append(f"| {md_escape(r.run)} | {ICON.get(r.status, '')} {r.status} | {best} | {codes} |")
    for r in ordered:
        out += ["", f"## {ICON.get(r.status, '')} {md_escape(r.run)}", ""]
        if r.best_step is not None:
            out.append(f"{h[2]}: **{r.best_step}** ({md_escape(r.best_step_basis)})")
            out.append("")
        if not r.findings and r.status in ("ok", "info"):
            out.append(h[6])
        for finding in r.findings:
            f = render_finding(finding, lang)
            out.append(
                f"### {f['severity']}: {md_escape(f['title'])} "
                f"(`{f['code']}`, steps {f['start_step']}–{f['end_step']}, confidence {f['confidence']:.2f})"
            )
            out += ["", md_escape(f["message"]), "", f"**{h[4]}**", ""]
            out += [f"{i}. {md_escape(s['action'])} _{md_escape(s['why'])}_" for i, s in enumerate(f["suggestions"], 1)]
            out.append("")
        if r.errors:
            out += ["", f"**{h[5]}**", ""] + [f"- {md_escape(e)}" for e in r.errors]
        if r.analysis_errors:
            out += ["", f"**{h[7]}**", ""] + [f"- {md_escape(e)}" for e in r.analysis_errors]
    return "\n".join(out).rstrip() + "\n"
