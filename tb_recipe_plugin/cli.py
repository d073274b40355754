"""`tb-recipe analyze LOGDIR`: diagnose existing TensorBoard logs from a terminal or CI.

Exit codes follow the linters CI users know: 0 nothing at or above
``--fail-on``, 1 findings at or above it, 2 usage or I/O error. Heavy modules
(numpy, protobuf, the analyzer) are imported only once a command runs, so
``tb-recipe --help`` stays instant.

The report is rendered into memory and written by `_write_stdout` in one
place: a reader that leaves early (``| head``) ends the output quietly with
the analysis' own exit code, a real write error (a full disk, a closed
stdout) is one line on stderr and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import io
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from tb_recipe_plugin import __version__
from tb_recipe_plugin.present import FORMATS
from tb_recipe_plugin.present.safe_text import visible

if TYPE_CHECKING:
    from tb_recipe_plugin.analysis.report import RunReport
    from tb_recipe_plugin.io.loader import RunSource
    from tb_recipe_plugin.runner import Result
    from tb_recipe_plugin.sweep.analysis import Sweep

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
    analyze.add_argument(
        "--all",
        dest="all_actions",
        action="store_true",
        help="show every suggested action and every suggestion of each finding (default: the top 3 actions)",
    )
    analyze.add_argument(
        "--jobs",
        "-j",
        type=_positive_int,
        metavar="N",
        help="worker processes that read and analyse runs (default: the number of cores; 1: this process only)",
    )
    sweep = sub.add_parser(
        "sweep",
        help="read the runs of a hyperparameter sweep together",
        description="Find the sweeps under LOGDIR (3+ runs with hyperparameters in one folder) and say which "
        "hyperparameter matters, which runs failed and why, and what to search next.",
    )
    sweep.add_argument("logdir", metavar="LOGDIR")
    sweep.add_argument("--metric", metavar="TAG", help="rank runs by this tag (default: as analyze chooses)")
    sweep.add_argument("--format", choices=("text", "json", "markdown"), default="text", help="output format")
    sweep.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the report")
    sweep.add_argument("--run", metavar="GLOB", help="only runs whose name matches this glob")
    sweep.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    sweep.add_argument("--no-color", action="store_true", help="never colour the text output")
    sweep.add_argument(
        "--jobs",
        "-j",
        type=_positive_int,
        metavar="N",
        help="worker processes that read and analyse runs (default: the number of cores; 1: this process only)",
    )
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of processes, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 process, got {value}")
    return value


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


def analyze_logdir(
    logdir: str,
    run_glob: str | None,
    roles: dict[str, str],
    progress: bool,
    jobs: int | None = None,
) -> list[RunReport]:
    """Load and analyse every run (one at a time per process, `jobs` processes), reports in run order."""
    return [r.report for r in _analysed(logdir, run_glob, roles, progress, jobs)]


def _sources(logdir: str, run_glob: str | None) -> list[RunSource]:
    from tb_recipe_plugin.io.loader import LogdirError, discover_runs, select_runs

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
    return sources


def _analysed(
    logdir: str,
    run_glob: str | None,
    roles: dict[str, str],
    progress: bool,
    jobs: int | None,
    sweep: bool = False,
    metric: str | None = None,
) -> list[Result]:
    from tb_recipe_plugin.runner import analyze_sources

    sources = _sources(logdir, run_glob)
    track = _progress(len(sources)) if progress and len(sources) >= PROGRESS_MIN_RUNS else None
    try:
        return list(analyze_sources(sources, roles, jobs, sweep, metric, track))
    finally:
        if track is not None:
            track(done=True)


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


def render_bytes(
    reports: Sequence[RunReport],
    logdir: str,
    fmt: str,
    lang: str,
    color: bool,
    encoding: str = "utf-8",
    all_actions: bool = False,
) -> bytes:
    """The whole report as the bytes to write, in `encoding`.

    Rendered into memory first so that the CLI, not rich or the json module, does the one write and sees its
    errors. A character `encoding` cannot hold (Chinese on an ASCII stdout) becomes a backslash escape instead of
    a crash; the JSON presenter switches to ``\\uXXXX`` escapes itself so its document stays valid.
    """
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding, errors="backslashreplace")
    FORMATS[fmt].renderer()(reports, logdir, lang, stream, color, all_actions)
    stream.flush()
    return raw.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    stdout_closed = sys.stdout is None
    _hold_closed_std_fds()
    try:
        return _run(build_parser().parse_args(argv), stdout_closed)
    finally:
        # Python flushes stdout at exit and prints "Exception ignored ... BrokenPipeError" if that fails
        # (argparse's --help into a closed pipe, say): flush now, while a failure can still be silenced.
        for stream in (sys.stdout, sys.stderr):
            _flush_or_silence(stream)


def _run(args: argparse.Namespace, stdout_closed: bool) -> int:
    if args.command == "sweep":
        return _run_sweep(args, stdout_closed)
    try:
        roles = parse_roles(args.role)
        if args.output is None and stdout_closed:
            raise CliError("stdout is closed: write the report to a file with -o FILE")
        allow_color = not args.no_color and not os.environ.get("NO_COLOR")  # also no progress bar's codes
        color = allow_color and args.output is None and _isatty(sys.stdout)
        reports = analyze_logdir(
            args.logdir, args.run, roles, progress=allow_color and _isatty(sys.stderr), jobs=args.jobs
        )
        code = exit_code(reports, args.fail_on)
        if args.output:
            data = render_bytes(reports, args.logdir, args.format, args.lang, False, all_actions=args.all_actions)
            try:
                with open(args.output, "wb") as out:
                    out.write(data)
            except OSError as exc:
                raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from exc
        else:
            encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
            _write_stdout(
                render_bytes(reports, args.logdir, args.format, args.lang, color, encoding, args.all_actions)
            )
    except CliError as exc:
        _say(f"tb-recipe: error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    return code


def sweep_logdir(
    logdir: str, run_glob: str | None, metric: str | None, progress: bool, jobs: int | None = None
) -> list[Sweep]:
    """Every sweep under `logdir`. Each run is analysed as `analyze` does and kept only as its report, its
    hyperparameters and the few curves a sweep ranks by, so memory stays bounded by the largest run."""
    from tb_recipe_plugin.sweep.analysis import analyze_sweeps

    results = _analysed(logdir, run_glob, {}, progress, jobs, sweep=True, metric=metric)
    kept = [r for r in results if r.hparams is not None and r.curves is not None]
    return analyze_sweeps(
        [r.report for r in results],
        {r.report.run: r.curves for r in kept},
        {r.report.run: r.hparams for r in kept},
        metric,
    )


def _run_sweep(args: argparse.Namespace, stdout_closed: bool) -> int:
    from tb_recipe_plugin.present.sweep_report import SWEEP_FORMATS

    try:
        if args.output is None and stdout_closed:
            raise CliError("stdout is closed: write the report to a file with -o FILE")
        allow_color = not args.no_color and not os.environ.get("NO_COLOR")
        color = allow_color and args.output is None and _isatty(sys.stdout)
        sweeps = sweep_logdir(
            args.logdir, args.run, args.metric, progress=allow_color and _isatty(sys.stderr), jobs=args.jobs
        )
        encoding = "utf-8" if args.output else getattr(sys.stdout, "encoding", None) or "utf-8"
        raw = io.BytesIO()
        stream = io.TextIOWrapper(raw, encoding=encoding, errors="backslashreplace")
        SWEEP_FORMATS[args.format](sweeps, args.logdir, args.lang, stream, color)
        stream.flush()
        if args.output:
            try:
                with open(args.output, "wb") as out:
                    out.write(raw.getvalue())
            except OSError as exc:
                raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from exc
        else:
            _write_stdout(raw.getvalue())
    except CliError as exc:
        _say(f"tb-recipe: error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    return EXIT_OK


def _write_stdout(data: bytes) -> None:
    """Write the report; a reader that went away (``| head``) ends the output quietly, as Unix tools do.

    Any other write error (ENOSPC on /dev/full, EIO) is a CliError: one line, exit 2. Either way stdout is
    pointed at /dev/null afterwards, so the interpreter's own flush at exit cannot fail a second time.
    """
    stream = sys.stdout
    try:
        stream.flush()
        buffer = getattr(stream, "buffer", None)
        if buffer is None:  # a text-only replacement (tests, embedding): hand it text
            stream.write(data.decode(stream.encoding or "utf-8"))
            stream.flush()
        else:
            buffer.write(data)
            buffer.flush()
    except BrokenPipeError:
        _silence(stream)
    except OSError as exc:
        _silence(stream)
        if exc.errno == errno.EBADF:
            raise CliError("stdout is closed: write the report to a file with -o FILE") from exc
        raise CliError(f"cannot write the report to stdout: {exc.strerror or exc}") from exc


def _say(line: str) -> None:
    """One line on stderr, with untrusted parts (paths, names) made visible; nothing if stderr is gone."""
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(visible(line) + "\n")
        stream.flush()
    except (OSError, ValueError):
        _silence(stream)


def _isatty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):  # closed, or a replacement without a descriptor
        return False


def _hold_closed_std_fds() -> None:
    """Put /dev/null on fd 1 and 2 when the process started with them closed (``>&-``, ``2>&-``).

    Otherwise the next file opened (an event file, the ``-o`` report) takes the lowest free descriptor, and
    anything written to "stdout" or "stderr" below Python (a C library's warning) would land in that file.
    Python left ``sys.stdout``/``sys.stderr`` as None in that case; they stay None, so the report still
    refuses a closed stdout instead of writing into /dev/null.
    """
    for fd, stream in ((1, sys.stdout), (2, sys.stderr)):
        if stream is not None:
            continue
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def _flush_or_silence(stream: TextIO | None) -> None:
    if stream is None:
        return
    try:
        stream.flush()
    except (OSError, ValueError):
        _silence(stream)


def _silence(stream: TextIO) -> None:
    """Point the descriptor under `stream` at /dev/null, so data still buffered there is dropped, not retried."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):  # no descriptor (a test's capture object) or already closed
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


if __name__ == "__main__":
    sys.exit(main())
