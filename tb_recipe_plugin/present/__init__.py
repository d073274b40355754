"""Presenters: the finding catalogue (every language) and the output formats built on it.

Output formats are registered here by name; the CLI offers exactly these
names and calls the one chosen, so adding a format means adding one entry,
not a branch in the CLI. Entries name their module instead of importing it:
``tb-recipe --help`` must not pay for rich or the analyzer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from tb_recipe_plugin.analysis.report import RunReport

Renderer = Callable[["Sequence[RunReport]", str, str, TextIO, bool, bool], None]
"""render(reports, logdir, lang, stream, color, all_actions): write the whole report to `stream`."""


@dataclass(frozen=True)
class Format:
    name: str
    target: str  # "module:function"
    help: str

    def renderer(self) -> Renderer:
        module, _, function = self.target.partition(":")
        return getattr(importlib.import_module(module), function)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("text", "tb_recipe_plugin.present.text:render_text", "for a terminal (colour when it is one)"),
        Format("json", "tb_recipe_plugin.present.json_report:render_json", "for scripts (schema in the README)"),
        Format("markdown", "tb_recipe_plugin.present.markdown:render_markdown", "for CI job summaries and PRs"),
    )
}
