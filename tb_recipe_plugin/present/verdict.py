"""A run's diagnosis in words: the verdict, the evidence chain, the related findings and the ranked actions.

The same dict is the ``diagnosis`` of a run in the CLI's JSON, the plugin's
``/diagnosis`` route and the source of the text and Markdown presenters, so
every surface says the same thing first.
"""

from __future__ import annotations

from typing import Any

from tb_recipe_plugin.analysis.diagnosis import Diagnosis
from tb_recipe_plugin.analysis.report import Finding, RunReport, json_number
from tb_recipe_plugin.present.actions import CAUSE_SOURCE, TOP_ACTIONS, rank_actions, run_numbers
from tb_recipe_plugin.present.catalogue.findings import FINDINGS
from tb_recipe_plugin.present.catalogue.render import (
    TemplateValues,
    best_basis,
    fill,
    fill_first,
    finding_values,
    place,
    render_suggestion,
)
from tb_recipe_plugin.present.catalogue.verdicts import CAUSE_TITLES, CLAUSES, FRAMES, HEADLINES, NOUNS, RELATIONS


def render_diagnosis(report: RunReport, lang: str = "en", all_actions: bool = False) -> dict[str, Any] | None:
    """The ``diagnosis`` object of a run (None for a report made without one)."""
    d = report.diagnosis
    if d is None:
        return None
    by_code = {f.code: f for f in report.findings}
    numbers = run_numbers(d, report.findings)
    ranked = rank_actions(d, report.findings)
    shown = ranked if all_actions else ranked[:TOP_ACTIONS]
    actions = []
    for a in shown:
        source = by_code.get(a.sources[0])
        values = finding_values(source, numbers, lang) if source is not None else TemplateValues(numbers)
        for code in a.sources[1:]:  # a number only a later source has (the dead layers' names)
            if code in by_code:
                for key, value in by_code[code].evidence.items():
                    values.setdefault(key, value)
        if report.best_step is not None and dict.get(values, "best_step") is None:
            dict.__setitem__(values, "best_step", report.best_step)
            dict.__setitem__(values, "best_step_at", place(report.best_step, report.best_step_unit, lang))
        rendered = render_suggestion(a.id, lang, values, bool(numbers.get("lr_schedule")))
        actions.append({**rendered, "from": list(a.sources)})
    best_text = None
    if report.best_step is not None:
        at, basis = _best(report, lang)
        best_text = f"{at} ({basis})"
    return {
        "kind": d.kind,
        "verdict": verdict(report, lang, numbers),
        "best": best_text,
        "primary": d.primary,
        "cause": _cause(d, lang),
        "chain": chain(report, lang, numbers),
        "related": [
            {
                "code": r.code,
                "relation": r.relation,
                "of": r.of,
                "title": FINDINGS[r.code].title[lang],
                "why": _relation_text(r.relation, r.of, d.primary, lang),
            }
            for r in d.related
        ],
        "actions": actions,
        "actions_total": len(ranked),
        "facts": {k: json_number(v) for k, v in d.facts.items()},
    }


def story_order(report: RunReport) -> list[Finding]:
    """The findings in the order the diagnosis tells them: the primary, what it led to, separate problems, context."""
    d = report.diagnosis
    if d is None or d.primary is None:
        return list(report.findings)
    rank = {code: i for i, code in enumerate([d.primary, *_descendants(d.primary, d)])}
    kinds = {"consequence": 1, "separate": 2, "context": 3}
    relation = {r.code: kinds.get(r.relation, 3) for r in d.related}
    return sorted(report.findings, key=lambda f: (f.code not in rank, rank.get(f.code, 0), relation.get(f.code, 0)))


def headline(finding: Finding, lang: str, numbers: dict[str, Any] | None = None) -> str:
    return fill_first(HEADLINES[finding.code][lang], finding_values(finding, numbers, lang))


def verdict(report: RunReport, lang: str, numbers: dict[str, Any] | None = None) -> str:
    """One sentence: what is wrong, what it led to, and why; or that the run is healthy and what to do next.
    `numbers`: the run's (`run_numbers`), when the caller has them already."""
    d = report.diagnosis
    if d is None:
        return ""
    by_code = {f.code: f for f in report.findings}
    if d.kind == "no_data":
        error = report.errors[0] if report.errors else "no data"
        return fill(FRAMES["no_data"][lang], {"error": error})
    if d.kind == "failed":
        return FRAMES["failed"][lang]
    if d.primary is None:
        best = ""
        if report.best_step is not None:
            at, basis = _best(report, lang)
            best = fill(CLAUSES["best"][lang], {"best_step_at": at, "best_basis": basis})
        return fill(FRAMES["healthy"][lang], {"best": best})
    numbers = run_numbers(d, report.findings) if numbers is None else numbers
    head = headline(by_code[d.primary], lang, numbers)
    if d.kind == "healthy":
        if d.primary == "still_learning":
            longer = fill(CLAUSES["longer"][lang], TemplateValues(numbers)) if "epochs" in numbers else ""
            return fill(FRAMES["healthy_still_learning"][lang], {"headline": head, "longer": longer})
        return fill(FRAMES["healthy_note"][lang], {"headline": head})
    led = _descendants(d.primary, d)
    led_to = ""
    if led:
        items = CLAUSES["list_sep"][lang].join(NOUNS[c][lang] for c in led)
        led_to = fill(CLAUSES["led_to"][lang], {"items": items})
    cause = fill(CLAUSES["lr_rise"][lang], TemplateValues(d.facts)) if d.cause == "lr_rise" else ""
    return fill(FRAMES["problem"][lang], {"headline": _upper(head, lang), "led_to": led_to, "cause": cause})


def chain(report: RunReport, lang: str, numbers: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """The evidence chain, cause first: the cause the logs show, the primary finding, then what it led to."""
    d = report.diagnosis
    if d is None or d.primary is None or d.kind != "problem":
        return []
    by_code = {f.code: f for f in report.findings}
    cause = _cause(d, lang)
    out = [cause] if cause is not None else []
    numbers = run_numbers(d, report.findings) if numbers is None else numbers
    for code in [d.primary, *_descendants(d.primary, d)]:
        out.append({"code": code, "text": _upper(headline(by_code[code], lang, numbers), lang)})
    return out


def _descendants(code: str, d: Diagnosis) -> list[str]:
    """What `code` led to, in causal order (depth first: gradients went NaN, then the loss)."""
    out = []
    for r in d.related:
        if r.relation == "consequence" and r.of == code and r.code not in out:
            out += [r.code, *_descendants(r.code, d)]
    return out


def _best(report: RunReport, lang: str) -> tuple[str, str]:
    """The recommended checkpoint as shown: its place on its axis, and why it was chosen."""
    basis = best_basis(report.best_step_kind, report.best_step_tag, report.best_step_basis, lang)
    return place(report.best_step, report.best_step_unit, lang), basis


def _cause(d: Diagnosis, lang: str) -> dict[str, Any] | None:
    if d.cause not in CAUSE_SOURCE:
        return None
    source = CAUSE_SOURCE[d.cause]
    return {"code": source, "text": fill(CAUSE_TITLES[source][lang], TemplateValues(d.facts))}


def _relation_text(relation: str, of: str | None, primary: str | None, lang: str) -> str:
    if relation == "consequence":
        if of is None or of == primary:
            return RELATIONS["consequence_primary"][lang]
        return fill(RELATIONS["consequence"][lang], {"of": NOUNS[of][lang]})
    return RELATIONS[relation][lang]


def _upper(text: str, lang: str) -> str:
    return text[:1].upper() + text[1:] if lang == "en" else text
