"""The one catalogue of every string a user reads, in every language.

Findings (`findings.py`), suggestions (`suggestions.py`), the diagnosis's
verdicts and relations (`verdicts.py`) and the presenters' labels
(`labels.py`) are data; `render.py` fills them. Every presenter (CLI text,
JSON, Markdown, the TensorBoard tab, the Keras callback's end-of-fit print)
renders through here, so a wording or a translation is changed in one place.
"""

from tb_recipe_plugin.present.catalogue.findings import FINDINGS, LANGS, FindingSpec
from tb_recipe_plugin.present.catalogue.render import format_number, render_finding, render_suggestion
from tb_recipe_plugin.present.catalogue.suggestions import SUGGESTIONS

__all__ = ["FINDINGS", "LANGS", "SUGGESTIONS", "FindingSpec", "format_number", "render_finding", "render_suggestion"]
