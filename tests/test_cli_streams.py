"""The CLI as a process: hostile names under every locale, write errors, closed and broken streams, terminals.

Everything here runs the real console script (or ``python -m tb_recipe_plugin``)
in a subprocess with real pipes, /dev/full, closed descriptors and a pty,
because these defects live in how the process meets its file descriptors,
which an in-process call with captured output never exercises.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pty
import re
import shutil
import subprocess
import sys
import tty
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.test_cli import healthy, write_run

EXE = shutil.which("tb-recipe") or str(Path(sys.executable).parent / "tb-recipe")
LAUNCHERS = {"script": [EXE], "module": [sys.executable, "-m", "tb_recipe_plugin"]}
SGR = re.compile(rb"\x1b\[[0-9;]*m")

# Folder names as bytes: what a user (or an attacker) can name a run on Linux.
HOSTILE_RUNS = {
    b"bad\xffname": "bad\\xffname",  # not UTF-8
    b"esc\x1b[2Jclear": "esc\\x1b[2Jclear",  # clears the screen
    b"title\x1b]0;owned\x07": "title\\x1b]0;owned\\x07",  # sets the window title
    b"new\nline": "new\\x0aline",  # splits a report line
    "rtl\u202etxt.exe".encode(): "rtl\\u202etxt.exe",  # shows reversed
    "c1\u009bcsi".encode(): "c1\\x9bcsi",  # C1 CSI, valid UTF-8
}
HOSTILE_TAG = "Loss/train\x1b[2J\u202e"
BAD_FILE = b"events.out.tfevents.1.\xff\x1b[2J"  # a corrupt file: its name shows up in a read error
LOGDIR = b"logs\xff\x1b[31m"  # the logdir itself is hostile too


def _rename_into(src: Path, dest: bytes) -> None:
    """Event writers want str paths; undecodable names are made by renaming a finished run."""
    os.rename(bytes(src), dest)


@pytest.fixture(scope="module")
def hostile_logdir(tmp_path_factory) -> bytes:
    root = tmp_path_factory.mktemp("hostile")
    logdir = os.path.join(bytes(root), LOGDIR)
    os.mkdir(logdir)
    for name in HOSTILE_RUNS:
        write_run(root / "staging", **{"Loss/train": healthy(), "Loss/val": [v * 1.05 for v in healthy()]})
        _rename_into(root / "staging", os.path.join(logdir, name))
    nan = healthy()
    nan[20:] = [float("nan")] * 10
    write_run(root / "staging", **{HOSTILE_TAG: nan})  # a finding whose message quotes the tag
    with open(os.path.join(bytes(root / "staging"), BAD_FILE), "wb") as f:
        f.write(b"not an event file at all")
    _rename_into(root / "staging", os.path.join(logdir, b"tagged"))
    return logdir


@pytest.fixture(scope="module")
def clean_logdir(tmp_path_factory) -> str:
    """Runs without findings at or above the default --fail-on: exit code 0, a report over 4 KiB, a progress bar."""
    root = tmp_path_factory.mktemp("clean")
    for i in range(10):
        write_run(root / f"ok{i}", **{"Loss/train": list(0.3 + 2 * np.exp(-np.linspace(0, 6, 30)))})
    return str(root)


def _env(**extra: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHONIOENCODING", "NO_COLOR"))}
    env.pop("LANG", None)
    for key, value in extra.items():
        if value is not None:
            env[key] = value
    return env


def _hidden(text: str) -> list[str]:
    return [ch for ch in text if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")]


def _check_output(fmt: str, data: bytes, encoding: str) -> None:
    """Valid in the stream's encoding and in UTF-8, inert, with every hostile name shown as its escape."""
    text = data.decode(encoding)
    data.decode("utf-8")
    assert not _hidden(text), _hidden(text)
    if fmt == "json":
        doc = json.loads(text)
        names = {r["run"] for r in doc["runs"]}
        assert {os.fsdecode(n).replace("\udcff", "\\xff") for n in HOSTILE_RUNS} <= names  # data kept, bytes escaped
        assert doc["logdir"].endswith("logs\\xff\x1b[31m")
        errors = [e for r in doc["runs"] for e in r["errors"]]
        assert any("events.out.tfevents.1.\\xff\x1b[2J" in e for e in errors), errors
        tagged = next(r for r in doc["runs"] if r["run"] == "tagged")
        assert HOSTILE_TAG in tagged["findings"][0]["message"]
        return
    shown = list(HOSTILE_RUNS.values()) + ["logs\\xff\\x1b[31m", "Loss/train\\x1b[2J\\u202e", "1.\\xff\\x1b[2J"]
    if fmt == "markdown":
        shown = [s.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace(".", "\\.") for s in shown]
    missing = [s for s in shown if s not in text]
    assert not missing, missing


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
@pytest.mark.parametrize("ioencoding", [None, "ascii"])
@pytest.mark.parametrize("locale", ["C.UTF-8", "C", "POSIX"])
def test_hostile_names_to_stdout_under_every_locale(hostile_logdir, fmt, ioencoding, locale):
    lang = "zh" if ioencoding == "ascii" else "en"  # Chinese into an ASCII stdout must not crash either
    proc = subprocess.run(
        [EXE, "analyze", hostile_logdir, "--format", fmt, "--lang", lang],
        capture_output=True,
        env=_env(LC_ALL=locale, PYTHONIOENCODING=ioencoding),
    )
    assert proc.returncode == 1, proc.stderr  # the NaN run is an error-level finding
    assert b"Traceback" not in proc.stderr
    _check_output(fmt, proc.stdout, "ascii" if ioencoding else "utf-8")
    if fmt == "json" and ioencoding:
        assert json.loads(proc.stdout)["runs"][0]["findings"][0]["title"]  # Chinese escaped, still the text


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_hostile_names_to_a_file(hostile_logdir, fmt, tmp_path):
    dest = tmp_path / f"report.{fmt}"
    proc = subprocess.run(
        [EXE, "analyze", hostile_logdir, "--format", fmt, "-o", str(dest)],
        capture_output=True,
        env=_env(LC_ALL="C", PYTHONIOENCODING="ascii"),
    )
    assert proc.returncode == 1 and proc.stdout == b"" and b"Traceback" not in proc.stderr, proc.stderr
    _check_output(fmt, dest.read_bytes(), "utf-8")  # a file is UTF-8 whatever the terminal's encoding


def _broken_pipe() -> int:
    """The write end of a pipe whose reader has gone, like ``| head`` after it read enough."""
    read, write = os.pipe()
    os.close(read)
    return write


def _run(launcher: str, args: list[str], stdout, stderr=subprocess.PIPE, **kw) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([*LAUNCHERS[launcher], *args], stdout=stdout, stderr=stderr, env=_env(), **kw)
    finally:
        for f in (stdout, stderr):
            if isinstance(f, int) and f > 2:
                os.close(f)


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_closed_pipe_is_quiet_and_keeps_the_analysis_exit_code(launcher, clean_logdir, hostile_logdir):
    clean = _run(launcher, ["analyze", clean_logdir], stdout=_broken_pipe())
    assert (clean.returncode, clean.stderr) == (0, b"")  # `| head -1` on a run without findings: 0, not 1
    found = _run(launcher, ["analyze", hostile_logdir, "--format", "json"], stdout=_broken_pipe())
    assert (found.returncode, found.stderr) == (1, b"")  # the analysis' own code, no "Exception ignored"
    helped = _run(launcher, ["--help"], stdout=_broken_pipe())
    assert (helped.returncode, helped.stderr) == (0, b"")


@pytest.mark.skipif(not hasattr(fcntl, "F_SETPIPE_SZ"), reason="needs Linux pipe resizing")
@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_reader_leaving_mid_report_like_head(launcher, clean_logdir):
    """``| head -c 10``: the reader takes a few bytes and leaves while the report is still being written.

    The pipe is shrunk to one page so the writer is certainly blocked mid-report when the reader leaves.
    """
    read, write = os.pipe()
    fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, 4096)
    proc = subprocess.Popen(
        [*LAUNCHERS[launcher], "analyze", clean_logdir], stdout=write, stderr=subprocess.PIPE, env=_env()
    )
    os.close(write)
    assert len(os.read(read, 10)) == 10
    os.close(read)
    assert (proc.wait(), proc.stderr.read()) == (0, b"")
    proc.stderr.close()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_full_device_is_one_line_and_exit_2(launcher, clean_logdir):
    with open("/dev/full", "wb") as full:
        proc = _run(launcher, ["analyze", clean_logdir], stdout=full)
    assert proc.returncode == 2
    assert proc.stderr.decode() == "tb-recipe: error: cannot write the report to stdout: No space left on device\n"
    to_file = _run(launcher, ["analyze", clean_logdir, "-o", "/dev/full"], stdout=subprocess.PIPE)
    assert to_file.returncode == 2 and to_file.stderr.count(b"\n") == 1 and b"/dev/full" in to_file.stderr


def _close_fd(fd: int):
    return lambda: os.close(fd)


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_closed_stdout_says_use_o(launcher, clean_logdir, tmp_path):
    proc = _run(launcher, ["analyze", clean_logdir], stdout=None, preexec_fn=_close_fd(1))
    assert proc.returncode == 2
    assert proc.stderr.decode().count("\n") == 1 and "-o FILE" in proc.stderr.decode(), proc.stderr
    dest = tmp_path / "report.txt"
    written = _run(launcher, ["analyze", clean_logdir, "-o", str(dest)], stdout=None, preexec_fn=_close_fd(1))
    assert (written.returncode, written.stderr) == (0, b"")
    assert dest.read_text(encoding="utf-8").startswith("tb-recipe ")


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_closed_or_broken_stderr(launcher, clean_logdir, tmp_path):
    gone = _run(launcher, ["analyze", str(tmp_path / "missing")], stdout=subprocess.PIPE, stderr=None,
                preexec_fn=_close_fd(2))  # fmt: skip
    assert (gone.returncode, gone.stdout) == (2, b"")  # the error line must not land in stdout
    broken = _run(launcher, ["analyze", str(tmp_path / "missing")], stdout=subprocess.PIPE, stderr=_broken_pipe())
    assert (broken.returncode, broken.stdout) == (2, b"")
    fine = _run(launcher, ["analyze", clean_logdir], stdout=subprocess.PIPE, stderr=None, preexec_fn=_close_fd(2))
    assert fine.returncode == 0 and fine.stdout.startswith(b"tb-recipe ")


def _on_a_terminal(args: list[str], stderr_too: bool = False, **env: str | None) -> bytes:
    """What the CLI writes to a real terminal (a pty in raw mode, so no newline translation)."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    stderr = slave if stderr_too else subprocess.DEVNULL
    proc = subprocess.Popen([EXE, *args], stdout=slave, stderr=stderr, env=_env(**env))
    os.close(slave)
    chunks = list(_drain(master))
    proc.wait()
    os.close(master)
    return b"".join(chunks)


def _drain(fd: int) -> Iterator[bytes]:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError as exc:  # EIO once the child closed the slave
            if exc.errno == errno.EIO:
                return
            raise
        if not chunk:
            return
        yield chunk


def test_no_escape_codes_without_colour(hostile_logdir, clean_logdir):
    term = {"TERM": "xterm-256color"}
    coloured = _on_a_terminal(["analyze", hostile_logdir], **term)
    assert SGR.search(coloured)  # a terminal gets colour, so the checks below can fail
    leftover = SGR.sub(b"", coloured).decode()
    assert not _hidden(leftover), _hidden(leftover)  # hostile names add no escape of their own
    for args, env in [
        (["--no-color"], term),
        ([], {**term, "NO_COLOR": "1"}),
        (["--format", "markdown"], term),
        (["--format", "json"], term),
    ]:
        data = _on_a_terminal(["analyze", hostile_logdir, *args], **env)
        assert data.startswith((b"tb-recipe", b"# tb-recipe", b"{")), data[:80]
        assert not _hidden(data.decode()), (args, env, _hidden(data.decode()))
    # Ten runs on a terminal stderr would get a progress bar: none without colour, it is escape codes too.
    bar = _on_a_terminal(["analyze", clean_logdir], stderr_too=True, **term)
    assert b"\x1b[?25l" in bar  # rich's bar hides the cursor
    for args, env in [(["--no-color"], term), ([], {**term, "NO_COLOR": "1"})]:
        data = _on_a_terminal(["analyze", clean_logdir, *args], stderr_too=True, **env)
        assert data.startswith(b"tb-recipe") and b"\x1b" not in data, data[:200]
