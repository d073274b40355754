"""Terminal presenter: one block per run, worst news first, readable at 80 columns.

Run names, tags and messages come from log files, so everything that is not
our own markup goes through `safe` first: `safe_text.visible` (control, bidi
and undecodable characters shown as escapes, so a name cannot clear the
screen, split a line or read backwards), then `rich.markup.escape` (a name
like ``[bold]`` stays text).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from rich.console import Console
from rich.markup import escape

from tb_recipe_plugin import __version__
from tb_recipe_plugin.analysis.report import STATUS_ORDER, RunReport
from tb_recipe_plugin.present.catalogue import render_finding
from tb_recipe_plugin.present.safe_text import visible

TOP_SUGGESTIONS = 3
STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan", "ok": "green", "no_data": "dim"}
LABEL = {
    "en": {
        "best": "best step",
        "roles": "tags used",
        "errors": "read errors",
        "analysis_errors": "analysis failed (a tb-recipe bug; please report it)",
        "steps": "steps",
        "confidence": "confidence",
        "runs": "runs",
        "no_data": "no data",
        "none": "no findings",
        "best_none": "no validation curve",
    },
    "zh": {
        "best": "最佳步数",
        "roles": "使用的标签",
        "errors": "读取错误",
        "analysis_errors": "分析失败（tb-recipe 的缺陷，请报告）",
        "steps": "步",
        "confidence": "置信度",
        "runs": "个运行",
        "no_data": "无数据",
        "none": "没有发现问题",
        "best_none": "没有验证曲线",
    },
}


def sort_key(report: RunReport) -> tuple[int, str]:
    return (-STATUS_ORDER.index(report.status) if report.status in STATUS_ORDER else 0, report.run)


def render_text(reports: Sequence[RunReport], logdir: str, lang: str, stream: TextIO, color: bool) -> None:
    """The registered `text` format: rich markup, coloured only when `color` is true."""
    print_report(reports, logdir, lang, make_console(stream, color))


def make_console(stream: TextIO, color: bool) -> Console:
    """A console that styles only when `color` is true, whatever `stream` is.

    Without colour rich must not style at all: ``no_color`` alone still writes bold/dim/reset codes to a
    terminal, so the colour system is switched off instead. With colour the terminal is forced, because the
    CLI renders into a buffer and writes the bytes itself. Emoji codes (``:smile:``) are not expanded: a name
    is shown as it is.
    """
    if color:
        return Console(file=stream, force_terminal=True, highlight=False, soft_wrap=True, emoji=False)
    return Console(
        file=stream,
        force_terminal=False,
        color_system=None,
        no_color=True,
        highlight=False,
        soft_wrap=True,
        emoji=False,
    )


def safe(text: object) -> str:
    """Untrusted text ready for rich markup: hidden characters shown as escapes, brackets escaped.

    `escape` doubles a trailing backslash so that it cannot escape the markup
    that follows, but rich undoes the doubling only right before a tag: in
    front of plain text the name would show two backslashes. Closing it with a
    tag of its own (the default colour, which changes nothing) makes the
    context the same everywhere.
    """
    shown = visible(text)
    body = shown.rstrip("\\")
    trailing = len(shown) - len(body)
    if not trailing:
        return escape(shown)
    # Backslashes right before a tag come in pairs, one shown per pair: double them and close with a tag.
    return "[default]" + escape(body) + "\\" * (2 * trailing) + "[/default]"


def print_report(reports: Sequence[RunReport], logdir: str, lang: str, console: Console) -> None:
    words = LABEL[lang]
    runs = f"{len(reports)} {words['runs']}"
    if lang == "en" and len(reports) == 1:
        runs = "1 run"
    console.print(f"[bold]tb-recipe {__version__}[/] · {safe(logdir)} · {runs}")
    for report in sorted(reports, key=sort_key):
        console.print()
        _run_block(report, lang, console)
    counts = Counter(r.status for r in reports)
    parts = [f"[{STYLE[s]}]{counts[s]} {words['no_data'] if s == 'no_data' else s}[/]" for s in reversed(STATUS_ORDER)]
    console.print()
    console.print(f"{runs}: " + ", ".join(parts))


def _run_block(report: RunReport, lang: str, console: Console) -> None:
    words = LABEL[lang]
    status = report.status
    best = (
        f"{words['best']} {report.best_step} ({safe(report.best_step_basis or '')})"
        if report.best_step is not None
        else f"{words['best']}: {words['best_none']}"
    )
    console.print(f"[bold]{safe(report.run)}[/]  [{STYLE.get(status, 'bold')}]{status.upper()}[/]  {best}")
    if report.roles:
        roles = " · ".join(f"{name}={safe(role.tag)}" for name, role in report.roles.items())
        console.print(f"  [dim]{words['roles']}: {roles}[/]")
    if not report.findings and status in ("ok", "info"):
        console.print(f"  [green]{words['none']}[/]")
    for finding in report.findings:
        f = render_finding(finding, lang)
        span = f"{words['steps']} {f['start_step']}–{f['end_step']}"
        console.print(
            f"  [{STYLE[f['severity']]}]{f['severity']}[/] [bold]{safe(f['title'])}[/] "
            f"[dim]({f['code']}, {span}, {words['confidence']} {f['confidence']:.2f})[/]"
        )
        console.print(f"    {safe(f['message'])}")
        for s in f["suggestions"][:TOP_SUGGESTIONS]:
            console.print(f"    → {safe(s['action'])} [dim]— {safe(s['why'])}[/]")
    for error in report.errors:
        console.print(f"  [red]{words['errors']}:[/] {safe(error)}")
    for error in report.analysis_errors:
        console.print(f"  [bold red]{words['analysis_errors']}:[/] {safe(error)}")
