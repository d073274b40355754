"""`tb-recipe analyze LOGDIR`: diagnose existing TensorBoard logs from a terminal or CI.

Exit codes follow the linters CI users know: 0 nothing at or above
``--fail-on``, 1 findings at or above it, 2 usage or I/O error. Heavy modules
(numpy, protobuf, the analyzer) are imported only once a command runs, so
``tb-recipe --help`` stays instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tb_recipe_plugin import __version__
from tb_recipe_plugin.present import FORMATS

if TYPE_CHECKING:
    from tb_recipe_plugin.analysis.report import RunReport

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
ROLE_HELP = "train_loss, val_loss, train_metric, val_metric, lr, batch_loss"
PROGRESS_MIN_RUNS = 10


class CliError(Exception):
    """A problem worth one clear line on stderr and exit code 2, not a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tb-recipe",
        description="Diagnose TensorBoard training curves and suggest what to change.",
    )
    parser.add_argument("--version", action="version", version=f"tb-recipe {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    analyze = sub.add_parser(
        "analyze",
        help="diagnose every run under a logdir",
        description="Diagnose every run under LOGDIR (local path or fsspec URL such as gs://bucket/logs).",
    )
    analyze.add_argument("logdir", metavar="LOGDIR")
    analyze.add_argument(
        "--format",
        choices=list(FORMATS),
        default="text",
        help="output format: " + "; ".join(f"{f.name} {f.help}" for f in FORMATS.values()) + " (default: text)",
    )
    analyze.add_argument("--lang", choices=("en", "zh"), default="en", help="language of titles and suggestions")
    analyze.add_argument(
        "--fail-on",
        choices=("error", "warning", "never"),
        default="error",
        help="exit 1 when a finding has this severity or worse (default: error)",
    )
    analyze.add_argument("--run", metavar="GLOB", help="only runs whose name matches this glob, e.g. 'exp*/lr_*'")
    analyze.add_argument(
        "--role",
        metavar="ROLE=TAG",
        action="append",
        default=[],
        help=f"use TAG for ROLE in every run ({ROLE_HELP}); repeatable",
    )
    analyze.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    analyze.add_argument("--no-color", action="store_true", help="never colour the text output")
    return parser


def parse_roles(items: Sequence[str]) -> dict[str, str]:
    from tb_recipe_plugin.analysis.roles import ROLE_NAMES

    roles: dict[str, str] = {}
    for item in items:
        role, sep, tag = item.partition("=")
        if not sep or not tag:
            raise CliError(f"--role expects ROLE=TAG, got {item!r}")
        if role not in ROLE_NAMES:
            raise CliError(f"unknown role {role!r} in --role (choose from {ROLE_HELP})")
        roles[role] = tag
    return roles


def analyze_logdir(logdir: str, run_glob: str | None, roles: dict[str, str], progress: bool) -> list[RunReport]:
    """Load and analyse one run at a time so memory follows the largest run, not the logdir."""
    from tb_recipe_plugin.analysis.analyzer import analyze_run
    from tb_recipe_plugin.analysis.report import RunReport
    from tb_recipe_plugin.io.loader import LogdirError, discover_runs, load_run, select_runs

    try:
        sources = discover_runs(logdir)
    except LogdirError as exc:
        raise CliError(str(exc)) from exc
    if not sources:
        raise CliError(
            f"no event files found under {logdir}: point LOGDIR at the folder given to "
            "keras.callbacks.TensorBoard(log_dir=...) or SummaryWriter(log_dir=...)"
        )
    if run_glob:
        sources = select_runs(sources, run_glob)
        if not sources:
            raise CliError(f"no run under {logdir} matches --run {run_glob!r}")
    reports: list[RunReport] = []
    track = _progress(len(sources)) if progress else None
    for source in sources:
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
        reports.append(report)
        if track is not None:
            track()
    if track is not None:
        track(done=True)
    return reports


def _progress(total: int):
    """A rich progress bar on stderr; returns a callable to advance or finish it."""
    from rich.progress import Progress

    from tb_recipe_plugin.present.text import make_console

    bar = Progress(transient=True, console=make_console(sys.stderr, color=True))
    task = bar.add_task("analysing runs", total=total)
    bar.start()

    def advance(done: bool = False) -> None:
        if done:
            bar.stop()
        else:
            bar.advance(task)

    return advance


def exit_code(reports: Sequence[RunReport], fail_on: str) -> int:
    """1 when a finding reaches `fail_on`, or when the analysis of a run failed (whatever `fail_on`)."""
    if any(r.analysis_errors for r in reports):
        return EXIT_FINDINGS
    if fail_on == "never":
        return EXIT_OK
    levels = {"warning": ("warning", "error"), "error": ("error",)}[fail_on]
    failing = any(f.severity in levels for r in reports for f in r.findings)
    return EXIT_FINDINGS if failing else EXIT_OK


def render(reports: Sequence[RunReport], logdir: str, fmt: str, lang: str, color: bool, stream) -> None:
    FORMATS[fmt].renderer()(reports, logdir, lang, stream, color)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        roles = parse_roles(args.role)
        stream_is_tty = args.output is None and sys.stdout.isatty()
        color = stream_is_tty and not args.no_color and "NO_COLOR" not in os.environ
        progress = sys.stderr.isatty()
        reports = analyze_logdir(args.logdir, args.run, roles, progress)
        if args.output:
            try:
                with open(args.output, "w", encoding="utf-8") as out:
                    render(reports, args.logdir, args.format, args.lang, False, out)
            except OSError as exc:
                raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from exc
        else:
            render(reports, args.logdir, args.format, args.lang, color, sys.stdout)
    except CliError as exc:
        print(f"tb-recipe: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    return exit_code(reports, args.fail_on)


if __name__ == "__main__":
    sys.exit(main())
