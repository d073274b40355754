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
from tb_recipe_plugin.present.catalogue import render_finding
from tb_recipe_plugin.present.safe_text import visible
from tb_recipe_plugin.present.text import sort_key

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_BACKTICKS = re.compile(r"`+")
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
            out += ["", md_text(f["message"]), "", f"**{h[4]}**", ""]
            out += [f"{i}. {md_text(s['action'])} _{md_text(s['why'])}_" for i, s in enumerate(f["suggestions"], 1)]
            out.append("")
        if r.errors:
            out += ["", f"**{h[5]}**", ""] + [f"- {md_escape(e)}" for e in r.errors]
        if r.analysis_errors:
            out += ["", f"**{h[7]}**", ""] + [f"- {md_escape(e)}" for e in r.analysis_errors]
    return "\n".join(out).rstrip() + "\n"
