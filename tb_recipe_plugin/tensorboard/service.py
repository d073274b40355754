"""Route logic of the Diagnosis tab as plain functions over TensorBoard's data provider.

Kept free of HTTP so it can be tested directly; `plugin.py` wraps it. Runs are
grouped the way the CLI's loader groups folders (Keras' `train/` and
`validation/` sub-runs form one run), the series come from
`data_provider.read_scalars` (so the Rust data server, `--load_fast=false` and
remote logdirs all work), and each run's report is cached until that run's
data changes.

Hyperparameters come from TensorBoard's HParams plugin data, read as
TensorBoard's own HParams plugin reads it (`list_tensors` with plugin
``hparams``, each time series' `plugin_content`): the bytes the CLI's
`sweep.hparams.run_hparams` parses. The child folder PyTorch's and
tensorboardX's `add_hparams` write (``<run>/<timestamp>/``) is folded into its
run by the CLI's rule (`hparams_child.hparams_parent`): listed by no route, its
hyperparameters the run's.

Run names and tags are written by whoever wrote the logs and may hold escape
sequences, newlines or bidi overrides. They are returned raw where they are
identifiers (`run`, which the tab sends back in `?run=`; tags, which key the
series), and next to them as `display`: the same text through
`present.safe_text.visible`, which is what the tab shows. Text that quotes them
(finding messages, errors) is repeated in display form for the tab as well.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np
from tensorboard.data import provider as tb_provider

from tb_recipe_plugin.analysis.analyzer import analyze_run
from tb_recipe_plugin.analysis.preflight import is_preflight_tag
from tb_recipe_plugin.analysis.report import SCHEMA, STATUS_ORDER, RunReport, json_number
from tb_recipe_plugin.analysis.rules.context import Context
from tb_recipe_plugin.analysis.series import RunData, Series
from tb_recipe_plugin.analysis.units import raw_unit
from tb_recipe_plugin.hparams_child import hparams_parent
from tb_recipe_plugin.internal_tags import GRAD_NORM, internal_part
from tb_recipe_plugin.io.event_reader import CONFIG_TEXT_KEY, CONFIG_TEXT_MAX, CONFIG_TEXT_TAGS
from tb_recipe_plugin.io.loader import CONFIG_FILE_KEY, CONFIG_FILES, is_url, read_config, run_of_folder
from tb_recipe_plugin.present.catalogue import LANGS
from tb_recipe_plugin.present.catalogue.labels import TAB, UNITS
from tb_recipe_plugin.present.catalogue.sweeps import SWEEP_WORDS
from tb_recipe_plugin.present.json_report import run_to_dict
from tb_recipe_plugin.present.safe_text import visible, well_formed
from tb_recipe_plugin.present.sweep_report import sweeps_to_dict
from tb_recipe_plugin.present.verdict import verdict
from tb_recipe_plugin.sweep.analysis import analyze_sweeps
from tb_recipe_plugin.sweep.hparams import HParams, run_hparams

SCALARS = "scalars"
HPARAMS = "hparams"
TEXT = "text"
DISPLAYED = ("run", "best_step_basis", "diagnosis", "preflight", "roles", "findings", "errors", "analysis_errors")
"""The fields of a /diagnosis answer that the tab shows, repeated in its `display` object."""


class BadRequest(ValueError):
    """Missing or malformed query arguments (HTTP 400)."""


class UnknownRun(LookupError):
    """No run of that name in this experiment (HTTP 404)."""


Fingerprint = tuple[tuple[str, str, int, float], ...]
Groups = dict[str, dict[str | None, str]]  # run -> split (None: the run's own folder) -> TensorBoard's run
Contents = dict[str, dict[str, bytes]]  # run -> HParams tag -> plugin content


class DiagnosisService:
    def __init__(self, provider: tb_provider.DataProvider, samples: int, logdir: str = "") -> None:
        self._provider = provider
        self._samples = samples
        self._logdir = logdir  # named in the /sweeps document, as the CLI names it
        self._cache: dict[tuple[str, str], tuple[Fingerprint, RunReport, RunData]] = {}
        self._longest: dict[tuple[str, str], tuple[Fingerprint, int]] = {}
        self._sweeps: dict[tuple[str, str], tuple[tuple, dict[str, Any]]] = {}
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

    def sweeps(self, ctx, eid: str, run: str | None = None, lang: str | None = None) -> dict[str, Any]:
        """The sweeps among the runs: the document of `tb-recipe sweep --format json` (schema
        ``tb-recipe.sweep/1``), so the tab and the CLI say the same thing; plus each run's own diagnosis in
        one sentence (`verdict`) and each sweep's shown strings again in `display`. No sweep: an empty list."""
        del run
        lang = _lang(lang)
        groups, listing, contents = self._experiment(ctx, eid)
        for name, records in self._config_records(ctx, eid, groups).items():
            for key_, content in records.items():
                contents.setdefault(name, {}).setdefault(key_, content)
        self._refresh(ctx, eid, [n for n in groups if self._stale(eid, n, groups, listing)], groups, listing)
        # What changes the answer: any run's data, any hyperparameter record.
        key = (
            tuple((n, self._fingerprint(groups[n], listing)) for n in sorted(groups)),
            tuple(sorted((n, tag, c) for n, tags in contents.items() if n in groups for tag, c in tags.items())),
        )
        with self._lock:
            cached = self._sweeps.get((eid, lang))
        if cached is not None and cached[0] == key:
            return cached[1]
        reports: dict[str, RunReport] = {}
        data: dict[str, RunData] = {}
        hparams: dict[str, HParams] = {}
        for name in sorted(groups):
            reports[name], data[name] = self._analysed(ctx, eid, name, groups, listing)
            hp = _hparams(name, contents.get(name, {}))
            if hp is not None and hp.values:
                hparams[name] = hp
        body = sweeps_to_dict(analyze_sweeps(list(reports.values()), data, hparams), self._logdir, lang)
        for sweep in body["sweeps"]:
            for row in sweep["runs"]:
                report = reports.get(row["run"])
                row.setdefault("verdict", well_formed(verdict(report, lang)) if report is not None else "")
            sweep["display"] = _visible_tree(dict(sweep))
        body["samples_per_series"] = self._samples
        with self._lock:
            self._sweeps[(eid, lang)] = (key, body)
        return body

    def strings(self, ctx, eid: str, run: str | None = None, lang: str | None = None) -> dict[str, Any]:
        """Every word the tab shows, in every language, from the one catalogue (the tab keeps none of its own):
        its labels, the units of steps, and the sweep report's words."""
        del ctx, eid, run, lang
        return {code: {**TAB[code], "units": UNITS[code], "sweep": SWEEP_WORDS[code]} for code in LANGS}

    def series(self, ctx, eid: str, run: str | None = None, lang: str | None = None) -> dict[str, Any]:
        """The curves the tab draws: every role's series, with NaN/Inf steps listed apart
        (JSON has no NaN, and a chart must show them rather than drop them)."""
        _lang(lang)
        report, data = self._analysed(ctx, eid, _run(run), *self._groups(ctx, eid))
        out: dict[str, Any] = {}
        wanted = {info.tag: [r for r, i in report.roles.items() if i.tag == info.tag] for info in report.roles.values()}
        # The Keras callback's signals: its global gradient norm, and whatever series its findings cite (not the
        # pre-flight checks' numbers, written once before training: the checklist shows them).
        signals = [tag for tag in data.series if internal_part(tag) == GRAD_NORM]
        signals += [
            tag
            for f in report.findings
            for tag in f.tags
            if internal_part(tag) is not None and not is_preflight_tag(tag)
        ]
        for tag in signals:
            wanted.setdefault(tag, ["signal"])
        # The pre-flight checks' curves over an index (the learning-rate range test's `lr` and `curve_loss`, the
        # suggested output bias), each under the role `preflight_<check>_<measure>`.
        for check in report.preflight.checks if report.preflight is not None else ():
            for measure, tag in check.series.items():
                wanted.setdefault(tag, [f"preflight_{check.code}_{measure}"])
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

    def _groups(self, ctx, eid: str) -> tuple[Groups, dict]:
        groups, listing, _ = self._experiment(ctx, eid)
        return groups, listing

    def _experiment(self, ctx, eid: str) -> tuple[Groups, dict, Contents]:
        """The runs (TensorBoard's runs grouped as the CLI's loader groups folders), the scalar listing, and each
        run's HParams records; `add_hparams` children folded into their runs."""
        listing = self._provider.list_scalars(ctx, experiment_id=eid, plugin_name=SCALARS)
        groups: Groups = {}
        for tb_run in listing:
            name, split = run_of_folder(tb_run)
            groups.setdefault(_sendable(name), {})[split] = tb_run
        contents: Contents = {}
        records = self._hparams_listing(ctx, eid)
        # A run's own folder first (Keras' `hp.KerasCallback` writes beside `train/` and `validation/`).
        for tb_run in sorted(records, key=lambda r: (run_of_folder(r)[1] is not None, r)):
            tags = contents.setdefault(_sendable(run_of_folder(tb_run)[0]), {})
            for tag, series in records[tb_run].items():
                tags.setdefault(tag, series.plugin_content)
        self._fold_hparams_children(ctx, eid, groups, listing, contents)
        return groups, listing, contents

    def _config_records(self, ctx, eid: str, groups: Groups) -> Contents:
        """The other hyperparameter sources the CLI reads, keyed as its loader keys them: a Trainer's ``args``
        text (TensorBoard's text plugin data, `CONFIG_TEXT_TAGS`) and the configuration files beside a run's
        event files (`CONFIG_FILES`; a local logdir only, read like the loader reads them)."""
        out: Contents = {}
        by_tb_run = {tb_run: name for name, parts in groups.items() for tb_run in parts.values()}
        try:
            texts = self._config_texts(ctx, eid, set(by_tb_run))
        except Exception:  # noqa: BLE001 - an extra source: a provider without text data still gives the rest
            texts = {}
        for tb_run, records in texts.items():
            for key, content in records.items():
                out.setdefault(by_tb_run[tb_run], {}).setdefault(key, content)
        if self._logdir and not is_url(self._logdir) and os.path.isdir(self._logdir):
            for tb_run, name in sorted(by_tb_run.items()):
                folder = os.path.join(self._logdir, *([] if tb_run == "." else tb_run.split("/")))
                for file in CONFIG_FILES:
                    path = os.path.join(folder, file)
                    content = read_config(path)[0] if os.path.isfile(path) else None
                    if content is not None:
                        out.setdefault(name, {}).setdefault(CONFIG_FILE_KEY + file, content)
        return out

    def _config_texts(self, ctx, eid: str, tb_runs: set[str]) -> Contents:
        """TensorBoard run -> `CONFIG_TEXT_KEY` + tag -> the first text of each `CONFIG_TEXT_TAGS` series."""
        listing = self._provider.list_tensors(ctx, experiment_id=eid, plugin_name=TEXT)
        runs = sorted(r for r, tags in listing.items() if r in tb_runs and CONFIG_TEXT_TAGS.intersection(tags))
        if not runs:
            return {}
        wanted = tb_provider.RunTagFilter(runs=runs, tags=sorted(CONFIG_TEXT_TAGS))
        read = self._provider.read_tensors(
            ctx, experiment_id=eid, plugin_name=TEXT, downsample=1, run_tag_filter=wanted
        )
        out: Contents = {}
        for tb_run, tags in read.items():
            for tag, datums in tags.items():
                text = _first_text(datums)
                if tb_run in tb_runs and tag in CONFIG_TEXT_TAGS and text is not None:
                    out.setdefault(tb_run, {})[CONFIG_TEXT_KEY + tag] = text
        return out

    def _hparams_listing(self, ctx, eid: str) -> dict:
        """run -> tag -> time series of the HParams plugin, as TensorBoard's HParams plugin lists them."""
        try:
            return self._provider.list_tensors(ctx, experiment_id=eid, plugin_name=HPARAMS)
        except Exception:  # noqa: BLE001 - hyperparameters are extra: a provider without tensors still diagnoses
            return {}

    def _fold_hparams_children(self, ctx, eid: str, groups: Groups, listing, contents: Contents) -> None:
        """Drop each `add_hparams` child from `groups` and give its records to its run (the run's own first).

        Decided on the child's own records, longest child first, as the CLI's loader does. Only children with
        HParams session data and a parent are read (two points per series tell a curve from a value)."""
        own = {name: set(tags) for name, tags in contents.items()}
        candidates = [n for n in sorted(own, key=len, reverse=True) if hparams_parent(n, groups, own[n], 0)]
        longest = self._longest_curves(ctx, eid, [n for n in candidates if n in groups], groups, listing)
        for name in candidates:
            parent = hparams_parent(name, groups, own[name], longest.get(name, 0))
            if parent is None:
                continue
            groups.pop(name, None)
            for tag, content in contents.pop(name).items():
                contents.setdefault(parent, {}).setdefault(tag, content)

    def _longest_curves(self, ctx, eid: str, names: list[str], groups: Groups, listing) -> dict[str, int]:
        """Run -> the most distinct steps of any of its scalar series (up to 2), cached until its data changes."""
        out: dict[str, int] = {}
        stale: dict[str, Fingerprint] = {}
        for name in names:
            fingerprint = self._fingerprint(groups[name], listing)
            with self._lock:
                cached = self._longest.get((eid, name))
            if cached is not None and cached[0] == fingerprint:
                out[name] = cached[1]
            else:
                stale[name] = fingerprint
        if not stale:
            return out
        result = self._provider.read_scalars(
            ctx,
            experiment_id=eid,
            plugin_name=SCALARS,
            downsample=2,
            run_tag_filter=tb_provider.RunTagFilter(runs=[r for n in stale for r in groups[n].values()]),
        )
        for name, fingerprint in stale.items():
            series = [datums for tb_run in groups[name].values() for datums in result.get(tb_run, {}).values()]
            out[name] = max((len({d.step for d in datums}) for datums in series), default=0)
            with self._lock:
                self._longest[(eid, name)] = (fingerprint, out[name])
        return out

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


def _first_text(datums) -> bytes | None:  # noqa: ANN001 - TensorBoard's TensorDatum list
    """The first text value of a text series (a string tensor: numpy bytes objects), as the reader keeps it."""
    for datum in datums:
        value = np.asarray(datum.numpy)
        if value.size and isinstance(value.flat[0], bytes) and len(value.flat[0]) <= CONFIG_TEXT_MAX:
            return value.flat[0]
    return None


def _hparams(name: str, contents: dict[str, bytes]) -> HParams | None:
    """The run's hyperparameters (HParams data, else its name); None when it has none or they cannot be read,
    so one run's odd records leave it out of its sweep instead of failing the route."""
    try:
        return run_hparams(name, contents)
    except Exception:  # noqa: BLE001 - records written by any tool; the rest of the sweep must still be shown
        return None


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
