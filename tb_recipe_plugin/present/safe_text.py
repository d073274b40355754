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
"""

from __future__ import annotations

import re

# C0 and C1 controls (tab and newline included: a name must stay on one line), DEL, the bidirectional
# embeddings/overrides/isolates and marks, zero-width and invisible joiners/separators, lone surrogates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by the surrogateescape error handler
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def visible(text: object) -> str:
    """`text` with control, bidi-override, invisible and undecodable characters shown as escapes."""
    s = str(text)
    return _UNSAFE.sub(_escape, s)


def has_unsafe(text: str) -> bool:
    """Whether `visible` would change `text` (for tests and for deciding to show a raw form too)."""
    return _UNSAFE.search(text) is not None
