"""Filling catalogue templates: numbers shown compactly, missing keys as "?", never format syntax from names."""

from __future__ import annotations

import math
import string
from typing import Any

from tb_recipe_plugin.analysis.report import Finding, json_number
from tb_recipe_plugin.present.catalogue.findings import FINDINGS
from tb_recipe_plugin.present.catalogue.labels import BEST_BASIS, STEP_IN_EPOCH, STEPS_IN_EPOCHS, TEXT, UNITS
from tb_recipe_plugin.present.catalogue.suggestions import SUGGESTIONS


class TemplateValues(dict):
    """format_map source: formats numbers compactly and tolerates missing keys."""

    def __missing__(self, key: str) -> str:
        return "?"

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key) if key in self else self.__missing__(key)
        return format_number(value)


def format_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, float):
        return value
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.4g}"


def fill(template: str, values: dict[str, Any]) -> str:
    # Field names only; a template never uses format specs, so user-provided
    # strings (tag names) cannot inject format syntax.
    out = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            out.append(str(values[name]))
    return "".join(out)


def fields(template: str) -> list[str]:
    """The field names a template quotes, once each, in the order it quotes them (a set would make the order of
    an action's `numbers` in the JSON depend on the interpreter's hash seed)."""
    names = [name for _lit, name, _spec, _conv in string.Formatter().parse(template) if name]
    return list(dict.fromkeys(names))


def fill_first(templates: tuple[str, ...] | list[str], values: dict[str, Any]) -> str:
    """The first template whose every field has a value, filled; the last one (with "?" for gaps) if none has."""
    for template in templates:
        if all(dict.get(values, name) is not None for name in fields(template)):
            return fill(template, values)
    return fill(templates[-1], values)


def render_suggestion(sid: str, lang: str, values: dict[str, Any], schedule: bool = False) -> dict[str, Any]:
    """One suggestion: with the run's own numbers (``run_action``) when all of them are known, else generic.

    A suggestion may word its numbers several ways (``run_action_*``, e.g. a label fix for class ids, one-hot
    width or a target range): the first, in catalogue order, whose every number is known is used. The
    ``run_action_schedule`` wording comes first for a run whose learning rate follows a schedule, and is not used
    otherwise.
    """
    texts = SUGGESTIONS[sid][lang]
    keys = [k for k in texts if k.startswith("run_action")]
    scheduled = [k for k in keys if k.endswith("_schedule")]
    variants = [texts[k] for k in (scheduled if schedule else []) + [k for k in keys if k not in scheduled]]
    chosen = next((t for t in variants if all(dict.get(values, f) is not None for f in fields(t))), None)
    numbers = {f: json_number(dict.get(values, f)) for f in fields(chosen)} if chosen else {}
    return {
        "id": sid,
        "action": fill(chosen or texts["action"], values),
        "why": fill(texts["why"], values),
        **({"numbers": numbers} if numbers else {}),
    }


SPANS = {"span": ("start_step", "end_step"), "window_span": ("window_start", "window_end"), "high_span": ("high_start", "high_end")}
"""Ranges on a finding's axis that templates quote as one phrase ("epochs 5–29", "第 5–29 步")."""


def is_step_key(key: str) -> bool:
    """Evidence keys that are positions on the run's axis (not values measured at one, like metric_at_loss_step)."""
    return key.endswith("_step") and not key.startswith("metric_at")


def place(value: Any, unit: str, lang: str, steps_per_epoch: Any = None) -> str:
    """`value` as a position with its unit word: "step 11", "epoch 11", "第 11 步"; a step with the epoch it falls in
    when the run proved its epoch length ("step 531 (epoch 11)": steps count from 1, epochs from 0)."""
    text = fill(UNITS[lang][unit if unit in UNITS[lang] else "step"][0], {"n": format_number(value)})
    if unit == "step" and isinstance(steps_per_epoch, int) and steps_per_epoch > 1 and isinstance(value, int | float):
        epoch = max(0, int((value - 1) // steps_per_epoch))
        text = fill(STEP_IN_EPOCH[lang], {"step": text, "epoch": epoch})
    return text


def span_text(lo: Any, hi: Any, unit: str, lang: str, steps_per_epoch: Any = None) -> str:
    """A range on a finding's axis: "epochs 5–29", "steps 720–900 (epochs 15–19)", "第 5–29 步"."""
    if lo == hi:
        return place(lo, unit, lang, steps_per_epoch)
    words = UNITS[lang][unit if unit in UNITS[lang] else "step"]
    text = fill(words[1], {"a": format_number(lo), "b": format_number(hi)})
    if unit == "step" and isinstance(steps_per_epoch, int) and steps_per_epoch > 1 and isinstance(lo, int | float):
        a, b = (max(0, int((v - 1) // steps_per_epoch)) for v in (lo, hi))
        text = fill(STEPS_IN_EPOCHS[lang], {"steps": text, "a": a, "b": b})
    return text


def where_text(finding: dict[str, Any], lang: str, steps_per_epoch: Any = None) -> str:
    """Where a rendered finding was seen: its range on the run's axis, or "before training" for a pre-flight
    check's (measured on a clone before the first step: its step 0 is no place on any curve)."""
    if finding.get("stage") == "preflight":
        return TEXT[lang]["before_training"]
    return span_text(finding["start_step"], finding["end_step"], finding["unit"], lang, steps_per_epoch)


def add_places(values: dict[str, Any], unit: str, lang: str) -> None:
    """Add ``<key>_at`` for every step in `values` and the `SPANS` ranges, in `unit` ("step" or "epoch")."""
    per_epoch = dict.get(values, "steps_per_epoch")
    for key in [k for k in values if is_step_key(k)]:
        if dict.get(values, key) is not None:
            dict.__setitem__(values, f"{key}_at", place(dict.get(values, key), unit, lang, per_epoch))
    for name, (a, b) in SPANS.items():
        lo, hi = dict.get(values, a), dict.get(values, b)
        if lo is not None and hi is not None:
            dict.__setitem__(values, name, span_text(lo, hi, unit, lang, per_epoch))


def finding_values(finding: Finding, numbers: dict[str, Any] | None = None, lang: str = "en") -> TemplateValues:
    """What a finding's templates are filled from: its evidence, its step range (with unit words), then the run's
    numbers."""
    values = TemplateValues(finding.evidence)
    values.setdefault("start_step", finding.start_step)
    values.setdefault("end_step", finding.end_step)
    for key, value in (numbers or {}).items():
        values.setdefault(key, value)
    add_places(values, finding.unit or "step", lang)
    return values


def render_finding(finding: Finding, lang: str = "en", numbers: dict[str, Any] | None = None) -> dict[str, Any]:
    """A finding in `lang`; `numbers` are the run's own (`present.actions.run_numbers`) for its suggestions."""
    spec = FINDINGS[finding.code]
    values = finding_values(finding, numbers, lang)
    for name, key, templates in spec.fragments:
        # Several fragments may fill one name (alternative wordings): the first whose key is present wins.
        if finding.evidence.get(key) is not None:
            if not dict.get(values, name):
                dict.__setitem__(values, name, fill(templates[lang], values))
        elif name not in finding.evidence and dict.get(values, name) is None:
            dict.__setitem__(values, name, "")
    return {
        "code": finding.code,
        "severity": finding.severity,
        "title": spec.title[lang],
        "message": fill(spec.message[lang], values),
        "start_step": finding.start_step,
        "end_step": finding.end_step,
        "unit": finding.unit or "step",
        "stage": finding.stage,
        "confidence": round(finding.confidence, 2),
        "series": list(finding.tags),
        "evidence": {k: json_number(v) for k, v in finding.evidence.items()},
        "suggestions": [
            render_suggestion(sid, lang, values, bool((numbers or {}).get("lr_schedule"))) for sid in spec.suggestions
        ],
    }


def best_basis(kind: str | None, tag: str | None, fallback: str | None, lang: str) -> str:
    """Why the best step was chosen, in `lang` (the English `fallback` for a report built without a kind)."""
    if kind in BEST_BASIS[lang] and tag is not None:
        return fill(BEST_BASIS[lang][kind], {"tag": tag})
    return fallback or ""
