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
from tb_recipe_plugin.present.actions import run_numbers
from tb_recipe_plugin.present.catalogue import render_finding
from tb_recipe_plugin.present.catalogue.labels import PREFLIGHT, SEVERITY, TEXT
from tb_recipe_plugin.present.catalogue.render import best_basis, place, where_text
from tb_recipe_plugin.present.preflight import render_preflight
from tb_recipe_plugin.present.safe_text import visible
from tb_recipe_plugin.present.verdict import render_diagnosis, story_order

STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan", "ok": "green", "no_data": "dim"}
CHECK_STYLE = {"passed": "green", "failed": "bold red", "not_applicable": "dim"}


def sort_key(report: RunReport) -> tuple[int, str]:
    return (-STATUS_ORDER.index(report.status) if report.status in STATUS_ORDER else 0, report.run)


def render_text(
    reports: Sequence[RunReport], logdir: str, lang: str, stream: TextIO, color: bool, all_actions: bool = False
) -> None:
    """The registered `text` format: rich markup, coloured only when `color` is true."""
    print_report(reports, logdir, lang, make_console(stream, color), all_actions)


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


def print_report(
    reports: Sequence[RunReport], logdir: str, lang: str, console: Console, all_actions: bool = False
) -> None:
    words = TEXT[lang]
    runs = words["one_run"] if len(reports) == 1 else f"{len(reports)} {words['runs']}"
    console.print(f"[bold]tb-recipe {__version__}[/] · {safe(logdir)} · {runs}")
    for report in sorted(reports, key=sort_key):
        console.print()
        _run_block(report, lang, console, all_actions)
    counts = Counter(r.status for r in reports)
    parts = [f"[{STYLE[s]}]{counts[s]} {SEVERITY[lang][s]}[/]" for s in reversed(STATUS_ORDER)]
    console.print()
    console.print(f"{runs}: " + ", ".join(parts))


def _run_block(report: RunReport, lang: str, console: Console, all_actions: bool) -> None:
    """Verdict, evidence chain and actions first; then the tags used and every finding, each suggestion once."""
    words = TEXT[lang]
    status = report.status
    best = words["best_none"]
    if report.best_step is not None:
        at = place(report.best_step, report.best_step_unit, lang)
        basis = best_basis(report.best_step_kind, report.best_step_tag, report.best_step_basis, lang)
        best = f"{words['best']} {at} ({safe(basis)})"
    shown_status = SEVERITY[lang].get(status, status).upper()
    console.print(f"[bold]{safe(report.run)}[/]  [{STYLE.get(status, 'bold')}]{shown_status}[/]  {best}")
    d = render_diagnosis(report, lang, all_actions)
    shown: set[str] = set()
    if d is not None:
        console.print(f"  [bold]{safe(d['verdict'])}[/]")
        if len(d["chain"]) > 1:
            console.print(f"  [dim]{words['why']}:[/] " + " → ".join(safe(c["text"]) for c in d["chain"]))
    _checklist(render_preflight(report.preflight, lang), lang, console)
    if d is not None:
        if d["actions"]:
            console.print(f"  [bold]{words['actions']}:[/]")
        for i, a in enumerate(d["actions"], 1):
            console.print(f"    {i}. {safe(a['action'])} [dim]— {safe(a['why'])}[/]")
            shown.add(a["id"])
        hidden = d["actions_total"] - len(d["actions"])
        if hidden > 0:
            console.print(f"    [dim]({words['more_actions'].format(n=hidden)})[/]")
    if report.roles:
        roles = " · ".join(f"{name}={safe(role.tag)}" for name, role in report.roles.items())
        console.print(f"  [dim]{words['roles']}: {roles}[/]")
    if not report.findings and status in ("ok", "info"):
        console.print(f"  [green]{words['none']}[/]")
    numbers = run_numbers(report.diagnosis, report.findings) if report.diagnosis is not None else {}
    for finding in story_order(report):
        f = render_finding(finding, lang, numbers)
        span = where_text(f, lang, numbers.get("steps_per_epoch"))
        console.print(
            f"  [{STYLE[f['severity']]}]{SEVERITY[lang][f['severity']]}[/] [bold]{safe(f['title'])}[/] "
            f"[dim]({f['code']}, {span}, {words['confidence']} {f['confidence']:.2f})[/]"
        )
        console.print(f"    {safe(f['message'])}")
        rest = [x for x in f["suggestions"] if x["id"] not in shown]
        for x in rest if all_actions else rest[:1]:
            console.print(f"    → {safe(x['action'])} [dim]— {safe(x['why'])}[/]")
            shown.add(x["id"])
    for error in report.errors:
        console.print(f"  [red]{words['errors']}:[/] {safe(error)}")
    for error in report.analysis_errors:
        console.print(f"  [bold red]{words['analysis_errors']}:[/] {safe(error)}")


def _checklist(preflight: dict | None, lang: str, console: Console) -> None:
    """The pre-flight checklist under the verdict: the counts and what they cost, then one line per check."""
    if preflight is None:
        return
    console.print(f"  [bold]{safe(preflight['headline'])}[/]")
    status_words: dict[str, str] = PREFLIGHT[lang]["status"]  # type: ignore[assignment]
    width = max(len(w) for w in status_words.values())
    for c in preflight["checks"]:
        shown = c["status_text"].ljust(width)
        numbers = f": {safe(c['text'])}" if c["text"] else ""
        code = f" [dim]({c['code']})[/]" if c["status"] == "failed" else ""  # the name of its finding below
        console.print(f"    [{CHECK_STYLE[c['status']]}]{shown}[/]  {safe(c['title'])}{numbers}{code}")
