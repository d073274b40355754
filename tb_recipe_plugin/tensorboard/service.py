"""Route logic of the Diagnosis tab as plain functions over TensorBoard's data provider.

Kept free of HTTP so it can be tested directly; `plugin.py` wraps it. Runs are
grouped the way the CLI's loader groups folders (Keras' `train/` and
`validation/` sub-runs form one run), the series come from
`data_provider.read_scalars` (so the Rust data server, `--load_fast=false` and
remote logdirs all work), and each run's report is cached until that run's
data changes.

Run names and tags are written by whoever wrote the logs and may hold escape
sequences, newlines or bidi overrides. They are returned raw where they are
identifiers (`run`, which the tab sends back in `?run=`; tags, which key the
series), and next to them as `display`: the same text through
`present.safe_text.visible`, which is what the tab shows. Text that quotes them
(finding messages, errors) is repeated in display form for the tab as well.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from tensorboard.data import provider as tb_provider

from tb_recipe_plugin.analysis.analyzer import analyze_run
from tb_recipe_plugin.analysis.report import SCHEMA, STATUS_ORDER, RunReport, json_number
from tb_recipe_plugin.analysis.rules.context import Context
from tb_recipe_plugin.analysis.series import RunData, Series
from tb_recipe_plugin.analysis.units import raw_unit
from tb_recipe_plugin.internal_tags import GRAD_NORM, internal_part
from tb_recipe_plugin.io.loader import run_of_folder
from tb_recipe_plugin.present.catalogue import LANGS
from tb_recipe_plugin.present.catalogue.labels import TAB, UNITS
from tb_recipe_plugin.present.json_report import run_to_dict
from tb_recipe_plugin.present.safe_text import visible

SCALARS = "scalars"
DISPLAYED = ("run", "best_step_basis", "diagnosis", "roles", "findings", "errors", "analysis_errors")
"""The fields of a /diagnosis answer that the tab shows, repeated in its `display` object."""


class BadRequest(ValueError):
    """Missing or malformed query arguments (HTTP 400)."""


class UnknownRun(LookupError):
    """No run of that name in this experiment (HTTP 404)."""


Fingerprint = tuple[tuple[str, str, int, float], ...]


class DiagnosisService:
    def __init__(self, provider: tb_provider.DataProvider, samples: int) -> None:
        self._provider = provider
        self._samples = samples
        self._cache: dict[tuple[str, str], tuple[Fingerprint, RunReport, RunData]] = {}
        self._lock = threading.Lock()

    # -- routes -----------------------------------------------------------------------

    def runs(self, ctx, eid: str, run: str | None = None, lang: str | None = None) -> dict[str, Any]:
        """Every run with its status, finding and error counts, errors first."""
        del run
        _lang(lang)
        groups, listing = self._groups(ctx, eid)
        self._refresh(ctx, eid, [n for n in groups if self._stale(eid, n, groups, listing)], groups, listing)
        rows = []
        for name in sorted(groups):
            report, _ = self._analysed(ctx, eid, name, groups, listing)
            counts = {sev: 0 for sev in ("error", "warning", "info")}
            for f in report.findings:
                counts[f.severity] += 1
            rows.append(
                {
                    "run": name,
                    "display": visible(name),
                    "status": report.status,
                    "counts": counts,
                    "best_step": report.best_step,
                    "codes": [f.code for f in report.findings],
                    "errors": len(report.errors),
                    "analysis_errors": len(report.analysis_errors),
                }
            )
        rows.sort(key=lambda r: (-STATUS_ORDER.index(r["status"]) if r["status"] in STATUS_ORDER else 0, r["run"]))
        return {"schema": SCHEMA, "samples_per_series": self._samples, "runs": rows}

    def diagnosis(self, ctx, eid: str, run: str | None = None, lang: str | None = None) -> dict[str, Any]:
        """One run's report, the same object as one entry of the CLI's JSON `runs`, plus
        `display`: its shown fields again with every string made visible."""
        lang = _lang(lang)
        report, _ = self._analysed(ctx, eid, _run(run), *self._groups(ctx, eid))
        body = run_to_dict(report, lang)
        return {"schema": SCHEMA, "lang": lang, **body, "display": {k: _visible_tree(body[k]) for k in DISPLAYED}}

    def strings(self, ctx, eid: str, run: str | None = None, lang: str | None = None) -> dict[str, Any]:
        """Every word the tab shows, in every language, from the one catalogue (the tab keeps none of its own)."""
        del ctx, eid, run, lang
        return {code: {**TAB[code], "units": UNITS[code]} for code in LANGS}

    def series(self, ctx, eid: str, run: str | None = None, lang: str | None = None) -> dict[str, Any]:
        """The curves the tab draws: every role's series, with NaN/Inf steps listed apart
        (JSON has no NaN, and a chart must show them rather than drop them)."""
        _lang(lang)
        report, data = self._analysed(ctx, eid, _run(run), *self._groups(ctx, eid))
        out: dict[str, Any] = {}
        wanted = {info.tag: [r for r, i in report.roles.items() if i.tag == info.tag] for info in report.roles.values()}
        # The Keras callback's signals: its global gradient norm, and whatever series its findings cite.
        signals = [tag for tag in data.series if internal_part(tag) == GRAD_NORM]
        signals += [tag for f in report.findings for tag in f.tags if internal_part(tag) is not None]
        for tag in signals:
            wanted.setdefault(tag, ["signal"])
        where = Context(run=data, roles=report.roles)
        for tag, roles in wanted.items():
            s = data.series.get(tag)
            if s is None:
                continue
            finite = np.isfinite(s.values)
            out[tag] = {
                "display": visible(tag),
                "roles": roles,
                "unit": raw_unit(where, tag),  # what its steps count: the chart's x axis says step or epoch
                "steps": s.steps[finite].tolist(),
                "values": [json_number(float(v)) for v in s.values[finite]],
                "nonfinite": [
                    {"step": int(st), "value": json_number(float(v))}
                    for st, v in zip(s.steps[~finite], s.values[~finite], strict=True)
                ],
            }
        return {"run": report.run, "display": visible(report.run), "samples_per_series": self._samples, "series": out}

    # -- data -------------------------------------------------------------------------

    def _groups(self, ctx, eid: str) -> tuple[dict[str, dict[str | None, str]], dict]:
        listing = self._provider.list_scalars(ctx, experiment_id=eid, plugin_name=SCALARS)
        groups: dict[str, dict[str | None, str]] = {}
        for tb_run in listing:
            name, split = run_of_folder(tb_run)
            groups.setdefault(_sendable(name), {})[split] = tb_run
        return groups, listing

    @staticmethod
    def _fingerprint(parts: dict[str | None, str], listing) -> Fingerprint:
        """What changes when a run gets new data: each tag's last step and write time."""
        return tuple(
            sorted(
                (tb_run, tag, int(meta.max_step), float(meta.max_wall_time))
                for tb_run in parts.values()
                for tag, meta in listing.get(tb_run, {}).items()
            )
        )

    def _stale(self, eid: str, name: str, groups, listing) -> bool:
        with self._lock:
            cached = self._cache.get((eid, name))
        return cached is None or cached[0] != self._fingerprint(groups[name], listing)

    def _analysed(self, ctx, eid, name, groups, listing) -> tuple[RunReport, RunData]:
        if name not in groups:
            raise UnknownRun(f"no run named '{visible(name)}'")
        if self._stale(eid, name, groups, listing):
            self._refresh(ctx, eid, [name], groups, listing)
        with self._lock:
            _, report, data = self._cache[(eid, name)]
        return report, data

    def _refresh(self, ctx, eid: str, names: list[str], groups, listing) -> None:
        """Read the stale runs in one data-provider call (one round trip to the
        data server instead of one per run) and analyse them."""
        if not names:
            return
        result = self._provider.read_scalars(
            ctx,
            experiment_id=eid,
            plugin_name=SCALARS,
            downsample=self._samples,
            run_tag_filter=tb_provider.RunTagFilter(runs=[r for n in names for r in groups[n].values()]),
        )
        for name in names:
            data = self._to_run_data(name, groups[name], result)
            try:
                report = analyze_run(data)
            except Exception as exc:  # noqa: BLE001 - a bad run shows an error, the tab stays up
                # Our bug, not the user's data: an analysis error, as when a single rule fails.
                failure = f"analysis failed: {type(exc).__name__}: {exc}"
                report = RunReport(run=name, status="error", analysis_errors=[failure])
            with self._lock:
                self._cache[(eid, name)] = (self._fingerprint(groups[name], listing), report, data)

    @staticmethod
    def _to_run_data(name: str, parts: dict[str | None, str], result) -> RunData:
        data = RunData(name)
        for split, tb_run in parts.items():
            for tag, datums in result.get(tb_run, {}).items():
                key = f"{split}/{tag}" if split else tag
                steps = np.array([d.step for d in datums], dtype=np.int64)
                values = np.array([d.value for d in datums], dtype=np.float64)
                walls = np.array([d.wall_time for d in datums], dtype=np.float64)
                order = np.argsort(steps, kind="stable")
                steps, values, walls = steps[order], values[order], walls[order]
                # Later points win for a repeated step, as in the CLI's reader.
                keep = np.r_[steps[1:] != steps[:-1], True] if steps.size else np.zeros(0, bool)
                data.series[key] = Series(key, steps[keep], values[keep], walls[keep])
        return data


def _lang(lang: str | None) -> str:
    if lang is None or lang == "":
        return "en"
    if lang not in LANGS:
        raise BadRequest(f"lang must be one of {', '.join(LANGS)}")
    return lang


def _run(run: str | None) -> str:
    if not run:
        raise BadRequest("missing required argument: run")
    return run


def _sendable(name: str) -> str:
    """`name` if it can travel as UTF-8 (JSON answer, `?run=` back), else its visible form.

    A data provider may keep a byte that is not UTF-8 as a lone surrogate (Python's
    surrogateescape). No UTF-8 answer can carry it and no browser can send it back,
    so such a run is named by its visible form (``\\xff``) instead. (TensorBoard's
    own data server already replaces such bytes by U+FFFD, which needs nothing; its
    Python loader, `--load_fast=false`, fails on such a folder before we see it.)
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return visible(name)
    return name


def _visible_tree(value: Any) -> Any:
    """`value` (a JSON-like tree) with every string, but not the dict keys, through `visible`."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {k: _visible_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_visible_tree(v) for v in value]
    return value
