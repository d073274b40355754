"""Untrusted text (run names, tags, file names, messages quoting them) made safe to show.

Run folders and tags are named by whoever wrote the logs. A name can hold an
escape sequence (``ESC[2J`` clears a terminal, ``ESC]0;...BEL`` retitles the
window), a newline that splits a report line, a right-to-left override
(U+202E) that shows text reversed, or bytes that are not UTF-8 at all (Python
keeps them as lone surrogates, which no UTF-8 stream can encode). Every
presenter passes such text through `visible` before showing it, so these
characters appear as the escapes a Python user would type (``\\x1b``,
``\\u202e``, ``\\xff`` for an undecodable byte) and the output is valid UTF-8
with nothing hidden.

Which characters: every one whose Unicode category is a control (Cc: C0, DEL,
C1), a format character (Cf: bidi embeddings/overrides/isolates/marks,
zero-width joiners and spaces, soft hyphen, BOM, invisible tag characters), a
surrogate (Cs) or a line/paragraph separator (Zl, Zp). The category comes from
the running Python's Unicode database, so newly assigned format characters are
covered without a hand-kept list. A zero-width joiner inside an emoji sequence
is escaped too: showing it is the price of never hiding one.

A backslash itself is not escaped: a folder literally named ``a\\xff`` shows
like one holding the byte 0xFF. Names stay readable; the ambiguity is only in
display, never a way to hide or inject characters.
"""

from __future__ import annotations

import re
import unicodedata

HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SURROGATE = re.compile("[\ud800-\udfff]")


def is_hidden(ch: str) -> bool:
    """Whether one character would act on a terminal or hide/reorder text instead of showing as itself."""
    return unicodedata.category(ch) in HIDDEN_CATEGORIES


def escape_char(ch: str) -> str:
    r"""One character as Python writes it in a string literal; an undecodable byte as ``\xNN``."""
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by the surrogateescape error handler
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: object) -> str:
    """`text` with control, format (bidi, invisible), separator and undecodable characters shown as escapes."""
    s = str(text)
    if s.isprintable():  # C-speed check; no hidden category is printable, so most text returns here
        return s
    return "".join(escape_char(ch) if is_hidden(ch) else ch for ch in s)


def well_formed(text: str) -> str:
    """`text` with only its lone surrogates escaped (as `visible` does): the data kept, but encodable as UTF-8.

    For JSON, whose consumers want the name itself (a control character is JSON-escaped by the encoder and
    comes back intact), yet cannot receive a lone surrogate in valid UTF-8.
    """
    return _SURROGATE.sub(lambda m: escape_char(m.group()), text)


def has_unsafe(text: str) -> bool:
    """Whether `visible` would change `text` (for tests and for deciding to show a raw form too)."""
    return not text.isprintable() and any(is_hidden(ch) for ch in text)
