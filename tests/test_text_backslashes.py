"""Run names ending in backslashes show as themselves in the text report, before plain text and before markup.

rich's `escape` doubles a trailing backslash, which rich undoes only right
before a tag: `present/text.safe` must give the same text in both contexts.
"""

from __future__ import annotations

import pytest
from rich.console import Console

from tb_recipe_plugin.present.text import safe


@pytest.mark.parametrize("name", ["\\", "\\\\", "a\\b\\", "x[y]\\", "x[bold]\\\\\\", "[/]\\", "plain"])
def test_trailing_backslashes_are_shown_once(name: str) -> None:
    console = Console(no_color=True, width=500, record=True)
    console.print(f"[bold]{safe(name)}[/] · {safe(name)} end", end="")
    assert console.export_text() == f"{name} · {name} end"
