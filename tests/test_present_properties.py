"""Every output format on hostile names: valid UTF-8, nothing a terminal acts on, one line per line.

Run names come from folder names (any bytes: undecodable ones arrive as lone
surrogates), tags and messages from event files, file labels from file names.
These tests build reports with arbitrary such strings and check the bytes the
CLI would write, through `cli.render_bytes`, for every registered format.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from tb_recipe_plugin.analysis.diagnosis import diagnose
from tb_recipe_plugin.analysis.report import SEVERITIES, STATUS_ORDER, Finding, Phase, Role, RunReport
from tb_recipe_plugin.cli import render_bytes
from tb_recipe_plugin.present import FORMATS
from tb_recipe_plugin.present.catalogue import FINDINGS
from tb_recipe_plugin.present.markdown import code_span, md_text
from tb_recipe_plugin.present.safe_text import visible, well_formed
from tb_recipe_plugin.present.text import sort_key

NASTY = [
    "\x1b[2J",  # clear screen
    "\x1b]0;owned\x07",  # set window title
    "\x9b31m",  # C1 CSI
    "\n",
    "\r",
    "\x85",  # NEL: a line break for str.splitlines
    "\u2028",
    "\u202e",  # right-to-left override
    "\u2066",
    "\u200d",
    "\ufeff",
    "\U000e0041",  # invisible tag character
    "\udcff",  # byte 0xFF of a folder name, as os.scandir returns it
    "\ud800",
    "\t",
    "\x00",
    "\x7f",
    "`",
    "``",
    "[bold]",
    "[/]",
    "\\",
    "|",
    "<img src=x onerror=alert(1)>",
    ":smile:",
    "损失",
    "🔴",
]
ANY_CHAR = st.characters(exclude_categories=())  # surrogates and controls included
TEXT = st.lists(st.one_of(st.sampled_from(NASTY), st.text(ANY_CHAR, max_size=4)), max_size=4).map("".join)
SGR = re.compile(r"\x1b\[[0-9;]*m")
MARKDOWN = MarkdownIt("commonmark").enable("table")  # GitHub's flavour: CommonMark plus tables


def _template_fields(code: str) -> list[str]:
    spec = FINDINGS[code]
    templates = [spec.message["en"]] + [t["en"] for _name, _key, t in spec.fragments]
    keys = {key for _name, key, _t in spec.fragments}
    fields = {name for t in templates for _lit, name, _spec, _conv in string.Formatter().parse(t) if name}
    return sorted(fields | keys)


@st.composite
def report_pairs(draw) -> tuple[list[RunReport], list[RunReport], str]:
    """Reports full of hostile strings, and the same reports with every string replaced by "x"."""
    texts: list[str] = []

    def text() -> str:
        texts.append(draw(TEXT))
        return texts[-1]

    shapes = []
    for _ in range(draw(st.integers(1, 3))):
        codes = draw(st.lists(st.sampled_from(sorted(FINDINGS)), max_size=2))
        shapes.append(
            {
                "status": draw(st.sampled_from(STATUS_ORDER)),
                "best": draw(st.one_of(st.none(), st.integers(0, 10**6))),
                "roles": draw(st.lists(st.sampled_from(["train_loss", "val_loss", "lr"]), unique=True, max_size=2)),
                "findings": [(c, draw(st.sampled_from(SEVERITIES)), _template_fields(c)) for c in codes],
                "phases": draw(st.integers(0, 2)),
                "errors": draw(st.integers(0, 2)),
                "analysis_errors": draw(st.integers(0, 1)),
            }
        )
    logdir = text()
    hostile = [_build(shape, text) for shape in shapes]
    plain = [_build(shape, lambda: "x") for shape in shapes]
    # Keep the order: runs are sorted by name, and the last block's trailing blank lines are trimmed.
    for rank, i in enumerate(sorted(range(len(hostile)), key=lambda i: sort_key(hostile[i]))):
        plain[i].run = f"r{rank:02d}"
    return hostile, plain, logdir


def _build(shape: dict, text) -> RunReport:
    findings = [
        Finding(code, 1, 9, {name: text() for name in fields}, 0.5, tags=(text(),), severity=severity)
        for code, severity, fields in shape["findings"]
    ]
    report = RunReport(
        run=text(),
        status=shape["status"],
        best_step=shape["best"],
        best_step_basis=text() if shape["best"] is not None else None,
        roles={name: Role(tag=text(), level="epoch") for name in shape["roles"]},
        findings=findings,
        phases={text(): [Phase(0, 5, "falling")] for _ in range(shape["phases"])},
        errors=[text() for _ in range(shape["errors"])],
        analysis_errors=[text() for _ in range(shape["analysis_errors"])],
    )
    report.diagnosis = diagnose(findings, None, bool(report.analysis_errors))  # its verdict quotes the hostile text
    return report


def _hidden_chars(text: str) -> list[str]:
    """Characters a terminal would act on, or that hide or reorder text (a newline is the report's own)."""
    return [ch for ch in text if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=report_pairs(), lang=st.sampled_from(["en", "zh"]), encoding=st.sampled_from(["utf-8", "ascii"]))
def test_every_format_is_valid_and_inert_on_hostile_strings(pair, lang, encoding):
    hostile, plain, logdir = pair
    for fmt in FORMATS:
        data = render_bytes(hostile, logdir, fmt, lang, False, encoding)
        text = data.decode(encoding)  # strict: raises on a byte that is not valid in the stream's encoding
        data.decode("utf-8")
        assert not _hidden_chars(text), (fmt, _hidden_chars(text))
        if fmt == "json":
            doc = json.loads(text)
            assert doc["logdir"] == well_formed(logdir)
            assert [r["run"] for r in doc["runs"]] == [well_formed(r.run) for r in hostile]
            assert [r["errors"] for r in doc["runs"]] == [[well_formed(e) for e in r.errors] for r in hostile]
            continue
        if fmt == "markdown" and encoding == "utf-8":
            _check_markdown_structure(text, hostile)
        plain_text = render_bytes(plain, "x", fmt, lang, False, encoding).decode(encoding)
        assert text.count("\n") == plain_text.count("\n"), fmt  # a name cannot add or remove a line
        if fmt == "text" and encoding == "utf-8":
            assert all(visible(r.run) in text for r in hostile)  # shown as itself, escapes and all
            coloured = render_bytes(hostile, logdir, fmt, lang, True, encoding).decode(encoding)
            assert not _hidden_chars(SGR.sub("", coloured))  # only our own styling codes in colour mode


def _check_markdown_structure(text: str, reports: list[RunReport]) -> None:
    """As a Markdown renderer sees it: no HTML, one table row per run, each name in its cell as `visible` shows it."""
    tokens = list(_walk(MARKDOWN.parse(text)))
    assert not [t for t in tokens if t.type.startswith("html")]
    rows, cells = [], None
    for i, token in enumerate(tokens):
        if token.type == "tr_open":
            cells = []
            rows.append(cells)
        elif token.type in ("td_open", "th_open"):
            cells.append("".join(c.content for c in tokens[i + 1].children))
    assert all(len(row) == 3 for row in rows), rows  # run, status, verdict
    assert sorted(row[0] for row in rows[1:]) == sorted(visible(r.run).strip() for r in reports)


def _walk(tokens):
    for token in tokens:
        yield token
        yield from _walk(token.children or [])


@pytest.mark.parametrize(
    "raw,shown",
    [
        ("bad\udcffname", "bad\\xffname"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("t\x1b]0;x\x07", "t\\x1b]0;x\\x07"),
        ("two\nlines\r", "two\\x0alines\\x0d"),
        ("abc\u202etxt.exe", "abc\\u202etxt.exe"),
        ("\x9b\x85\u2028", "\\x9b\\x85\\u2028"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("损失 🔴 a\u00a0b", "损失 🔴 a\u00a0b"),  # printable text, a no-break space included, is left alone
    ],
)
def test_visible_escapes_like_python(raw, shown):
    assert visible(raw) == shown


def test_well_formed_escapes_only_undecodable_bytes():
    assert well_formed("a\udcff\x1b\u202e") == "a\\xff\x1b\u202e"
    well_formed("\ud800x\udfff").encode("utf-8")


def test_markdown_keeps_code_spans_as_code():
    message = "Use `EarlyStopping(monitor='val_loss')` then *rerun* <b>."
    assert md_text(message) == "Use `EarlyStopping(monitor='val_loss')` then \\*rerun\\* &lt;b&gt;\\."
    assert code_span("a`b") == "``a`b``"
    assert code_span("`x") == "`` `x ``"
    assert md_text("unpaired ` tick") == "unpaired \\` tick"
