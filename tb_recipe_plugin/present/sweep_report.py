"""`tb-recipe sweep`: the sweep report as JSON (schema ``tb-recipe.sweep/1``), terminal text or Markdown.

Every sentence comes from the catalogue (`catalogue/sweeps.py`); run names and
hyperparameter names are untrusted and go through the same escaping as the
run report (`text.safe`, `markdown.md_escape`, JSON's own escapes).

The JSON document is also the Diagnosis tab's ``/sweeps`` answer
(`sweeps_to_dict`), so a script and the tab read the same fields. Per sweep:
``name`` (the runs' parent folder), ``metric`` (``tag``, ``direction``),
``hparams`` (the hyperparameters whose value differs between its runs),
``scale`` (hyperparameter -> ``log``, ``linear`` or ``category``: how the
analysis reads it, so how a chart's axis should show it; ``log`` for positive
numbers spanning 10x or more), ``runs`` (each with ``hparams``,
``hparams_source``, ``status``, ``best_step``, ``best_value``, ``codes``,
``failed``: NaN or divergence, which leaves the run out of ``ranking``,
``primary``: the code its own diagnosis names first, and ``verdict``: that
diagnosis in one sentence, as `tb-recipe analyze` gives it),
``ranking`` (best first), ``importance``, ``findings`` and ``advice`` (each
with its localized ``message``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from tb_recipe_plugin import __version__
from tb_recipe_plugin.analysis.report import json_number
from tb_recipe_plugin.present.catalogue.render import TemplateValues, fill
from tb_recipe_plugin.present.catalogue.sweeps import SWEEP_ADVICE, SWEEP_FINDINGS, SWEEP_WORDS
from tb_recipe_plugin.present.json_report import encodable, escape_hidden, well_formed_tree
from tb_recipe_plugin.present.verdict import verdict
from tb_recipe_plugin.sweep.analysis import Sweep, SweepFinding, hparam_scale

SCHEMA = "tb-recipe.sweep/1"


def finding_message(f: SweepFinding, lang: str) -> str:
    words = SWEEP_WORDS[lang]
    values = TemplateValues(f.evidence)
    dict.__setitem__(values, "hparam", f.hparam or "")
    if "side" in f.evidence:
        dict.__setitem__(values, "relation", words.get(str(f.evidence["side"]), ""))
        dict.__setitem__(values, "side_word", words.get(str(f.evidence["side"]), ""))
    return fill(SWEEP_FINDINGS[f.code][lang], values)


def advice_message(kind: str, evidence: dict[str, Any], lang: str) -> str:
    values = TemplateValues(evidence)
    if "scale" in evidence:
        dict.__setitem__(values, "scale_word", SWEEP_WORDS[lang][str(evidence["scale"])])
    return fill(SWEEP_ADVICE[kind][lang], values)


def sweep_to_dict(sweep: Sweep, lang: str) -> dict[str, Any]:
    return {
        "name": sweep.name,
        "metric": {"tag": sweep.metric_tag, "direction": sweep.direction},
        "hparams": list(sweep.hparams),  # the ones whose value differs between runs (and seeds)
        "scale": {h: hparam_scale(h, sweep.runs) for h in sweep.hparams},
        "runs": [
            {
                "run": r.run,
                "hparams": {k: json_number(r.hparams[k]) for k in sweep.hparams if k in r.hparams},
                "hparams_source": r.hparams_source,
                "status": r.status,
                "best_step": r.best_step,
                "best_value": json_number(r.best_value),
                "codes": list(r.codes),
                "primary": r.primary,
                "verdict": verdict(r.report, lang) if r.report is not None else None,
                "failed": r.failed,
            }
            for r in sweep.runs
        ],
        "ranking": list(sweep.ranking),
        "importance": [{"hparam": h, "score": round(score, 4)} for h, score in sweep.importance],
        "findings": [
            {
                "code": f.code,
                "severity": f.severity,
                "message": finding_message(f, lang),
                "hparam": f.hparam,
                "runs": list(f.runs),
                "evidence": {k: json_number(v) for k, v in f.evidence.items()},
            }
            for f in sweep.findings
        ],
        "advice": [
            {"id": kind, "message": advice_message(kind, ev, lang), **{k: json_number(v) for k, v in ev.items()}}
            for kind, ev in sweep.advice
        ],
    }


def sweeps_to_dict(sweeps: Sequence[Sweep], logdir: str, lang: str) -> dict[str, Any]:
    """The whole document: what `--format json` prints and what the tab's ``/sweeps`` route answers."""
    return well_formed_tree(
        {
            "schema": SCHEMA,
            "tool": {"name": "tb-recipe", "version": __version__},
            "logdir": logdir,
            "lang": lang,
            "sweeps": [sweep_to_dict(s, lang) for s in sweeps],
        }
    )


def render_sweep_json(sweeps: Sequence[Sweep], logdir: str, lang: str, stream: TextIO, color: bool) -> None:
    del color
    doc = sweeps_to_dict(sweeps, logdir, lang)
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)
    text = escape_hidden(text) if encodable(text, stream) else json.dumps(doc, indent=2, allow_nan=False)
    stream.write(text + "\n")


def render_sweep_text(sweeps: Sequence[Sweep], logdir: str, lang: str, stream: TextIO, color: bool) -> None:
    from tb_recipe_plugin.present.text import STYLE, make_console, safe

    words = SWEEP_WORDS[lang]
    console = make_console(stream, color)
    console.print(f"[bold]tb-recipe {__version__}[/] · {safe(logdir)}")
    if not sweeps:
        console.print(words["none"])
    for sweep in sweeps:
        console.print()
        console.print(
            f"[bold]{words['sweep']} {safe(sweep.name)}[/] · {len(sweep.runs)} {words['runs']} · "
            f"{words['metric']} {safe(sweep.metric_tag or '?')} ({sweep.direction})"
        )
        shown = ", ".join(source_words(s, lang) for s in sorted({r.hparams_source for r in sweep.runs}))
        console.print(f"  {words['hparams']}: {safe(', '.join(sweep.hparams))} [dim]({shown})[/]")
        if sweep.importance:
            parts = ", ".join(f"{safe(h)} {100 * s:.0f}%" for h, s in sweep.importance)
            console.print(f"  {words['importance']}: {parts}")
        for f in sweep.findings:
            console.print(f"  [{STYLE.get(f.severity, 'bold')}]{f.severity}[/] {safe(finding_message(f, lang))}")
        for kind, ev in sweep.advice:
            console.print(f"  → {safe(advice_message(kind, ev, lang))}")
        by_run = {r.run: r for r in sweep.runs}
        console.print(f"  {words['ranking']}:")
        for i, name in enumerate(sweep.ranking, 1):
            r = by_run[name]
            hp = _hparams_text(r.hparams, sweep.hparams)
            said = r.primary or r.status
            console.print(f"    {i:>3}. {safe(name)}  {_short(r.best_value)}  [dim]{safe(hp)} · {said}[/]")
        # Then the runs the ranking leaves out: failed (NaN or diverged), then those with no value of the metric.
        for r in sorted((r for r in sweep.runs if r.run not in sweep.ranking), key=lambda r: not r.failed):
            hp = _hparams_text(r.hparams, sweep.hparams)
            label, said = (
                ("[red]" + words["failed"], ", ".join(r.codes))
                if r.failed
                else ("[dim]" + words["unranked"], r.primary or r.status)
            )
            console.print(f"      {label}[/] {safe(r.run)}  [dim]{safe(hp)} · {said}[/]")


def render_sweep_markdown(sweeps: Sequence[Sweep], logdir: str, lang: str, stream: TextIO, color: bool) -> None:
    from tb_recipe_plugin.present.markdown import md_escape, md_text

    del color
    words = SWEEP_WORDS[lang]
    out = [f"# tb-recipe sweep report: {md_escape(logdir)}", ""]
    if not sweeps:
        out.append(md_escape(words["none"]))
    for sweep in sweeps:
        out += ["", f"## {md_escape(words['sweep'])} {md_escape(sweep.name)}", ""]
        out += [f"- {md_text(finding_message(f, lang))}" for f in sweep.findings]
        out += [f"- → {md_text(advice_message(kind, ev, lang))}" for kind, ev in sweep.advice]
        names = sweep.hparams
        out += ["", "| # | run | " + " | ".join(md_escape(h) for h in names) + " | best | status | diagnosis |",
                "|---|---|" + "---|" * len(names) + "---|---|---|"]  # fmt: skip
        by_run = {r.run: r for r in sweep.runs}
        order = list(sweep.ranking) + [r.run for r in sweep.runs if r.run not in sweep.ranking]
        for i, name in enumerate(order, 1):
            r = by_run[name]
            cells = " | ".join(md_escape(_short(r.hparams.get(h))) for h in names)
            said = md_escape(verdict(r.report, lang)) if r.report is not None else ""  # in a table: no code spans
            best = md_escape(_short(r.best_value))
            out.append(f"| {i} | {md_escape(name)} | {cells} | {best} | {r.status} | {said} |")
    stream.write("\n".join(out).rstrip() + "\n")


def source_words(source: str, lang: str) -> str:
    """Where a run's hyperparameters came from, in words (`HParams.source`)."""
    words = SWEEP_WORDS[lang]
    if source.startswith("file:"):
        return fill(words["source_file"], TemplateValues({"files": source.replace("file:", "").replace("+", ", ")}))
    key = {"run_name": "source_name", "hparams_plugin": "source_plugin", "trainer_args": "source_trainer"}
    return words[key[source]] if source in key else source


def _hparams_text(values: dict[str, object], names: Sequence[str]) -> str:
    """The sweep's hyperparameters of one run, ``lr=0.01, bs=32``; the settings no run changed are left out."""
    return ", ".join(f"{k}={_short(values[k])}" for k in names if k in values)


def _short(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


SWEEP_FORMATS = {"text": render_sweep_text, "json": render_sweep_json, "markdown": render_sweep_markdown}
