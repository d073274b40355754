"""What no report may say, whatever the run: the invariants of issue 9's "messages that can be trusted".

`violations(report, lang)` renders a run as the JSON presenter does and lists
every broken invariant as a sentence naming the run and the finding, so a
test over many runs prints all of them at once:

- no text (the pre-flight checklist's included) quotes a missing number
  ("?"), ``None`` or ``null``, and every evidence value is a number or a
  string (JSON has no NaN: "nan"/"inf");
- "best" is never worse than "last" (by the direction of the tag's role), a
  finding's range is ordered, "still improving" has a positive change and a
  plateau improved before it;
- the diagnosis names a primary that is a finding of the run (or none for a
  run without problems), shows at most `TOP_ACTIONS` actions once each, and
  every action answers findings of the run;
- a learning rate, batch size or epoch count the run logged is the one the
  actions quote (a generic "e.g. 1e-3 -> 1e-4" only when it logged none),
  and the LRs it proposes lie on the side of the logged value it promises.
"""

from __future__ import annotations

import math
import re
from typing import Any

from tb_recipe_plugin.analysis.report import RunReport
from tb_recipe_plugin.present.actions import TOP_ACTIONS
from tb_recipe_plugin.present.json_report import run_to_dict

_MISSING = re.compile(r"(?<![\w`'\"(])\?(?![\w`])")
_NONE = re.compile(r"\b(None|null)\b")
PAIRS = (("best_value", "last_value"), ("val_best", "val_last"))
"""Evidence pairs of a best and a last value of one curve."""
LR_ACTIONS = {"lower_lr": ("lr_low", "lr_high", "below"), "raise_lr": ("lr_up_low", "lr_up_high", "above")}
RUN_NUMBER_ACTIONS = {
    "train_longer": ("epochs", "epochs"),
    "larger_batch": ("batch_size", "batch_size"),
    "smaller_batch": ("batch_size", "batch_size"),
    "clip_gradients": ("grad_norm_p90", "clip_norm"),
}
"""Actions that must quote a number the run logged: (the facts key that says it did, the number the action quotes)."""


def violations(report: RunReport, lang: str = "en") -> list[str]:
    doc = run_to_dict(report, lang)
    out: list[str] = []
    name = report.run
    tags = {t for f in report.findings for t in f.tags} | {r.tag for r in report.roles.values()}
    texts = _texts(doc)
    for where, text in texts:
        shown = text
        for tag in sorted(tags, key=len, reverse=True):
            shown = shown.replace(tag, "")
        if _MISSING.search(shown):
            out.append(f"{name}: {where} quotes a missing value: {text!r}")
        if _NONE.search(shown):
            out.append(f"{name}: {where} says None/null: {text!r}")
    directions = {r.tag: r.direction or "min" for r in report.roles.values()}
    for f in doc["findings"]:
        code = f["code"]
        for key, value in f["evidence"].items():
            if not isinstance(value, int | float | str) or isinstance(value, bool):
                out.append(f"{name}: {code} evidence {key} is {type(value).__name__}, not a number or string")
        if f["start_step"] is not None and f["end_step"] is not None and f["start_step"] > f["end_step"]:
            out.append(f"{name}: {code} range {f['start_step']}-{f['end_step']} is reversed")
        if f["unit"] not in ("step", "epoch"):
            out.append(f"{name}: {code} unit {f['unit']!r}")
        out += _best_vs_last(name, f, directions)
        ev = f["evidence"]
        if code == "still_learning" and not _num(ev.get("tail_change_pct"), lambda v: v > 0):
            out.append(f"{name}: still_learning with a change of {ev.get('tail_change_pct')}%")
        if code == "plateau" and not _num(ev.get("early_improvement_pct"), lambda v: v > 0):
            out.append(f"{name}: plateau that never improved before ({ev.get('early_improvement_pct')}%)")
    out += _diagnosis(name, doc, report)
    return out


def _texts(doc: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    d = doc.get("diagnosis") or {}
    if d:
        out.append(("verdict", d["verdict"]))
        out += [("chain", c["text"]) for c in d["chain"]]
        out += [(f"action {a['id']}", a["action"]) for a in d["actions"]]
        out += [(f"related {r['code']}", r["why"]) for r in d["related"]]
    for f in doc["findings"]:
        out += [(f"{f['code']} title", f["title"]), (f"{f['code']} message", f["message"])]
        out += [(f"{f['code']} suggestion {s['id']}", s["action"]) for s in f["suggestions"]]
    checklist = doc.get("preflight") or {}
    if checklist:
        out.append(("pre-flight summary", checklist["headline"]))
        out += [(f"pre-flight {c['code']}", f"{c['title']}: {c['text']}") for c in checklist["checks"]]
    return out


def _num(value: Any, ok) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and ok(value)


def _best_vs_last(name: str, f: dict[str, Any], directions: dict[str, str]) -> list[str]:
    ev, out = f["evidence"], []
    tag = ev.get("val_tag") or ev.get("tag") or (f["series"][0] if f["series"] else None)
    direction = directions.get(tag, "min")
    for best_key, last_key in PAIRS:
        best, last = ev.get(best_key), ev.get(last_key)
        if not (_num(best, lambda v: True) and _num(last, lambda v: True)):
            continue
        worse = best > last if direction == "min" else best < last
        if worse and not math.isclose(best, last, rel_tol=1e-6, abs_tol=1e-12):
            out.append(f"{name}: {f['code']} says best {best} but last {last} is better ({tag}, {direction})")
    return out


def _diagnosis(name: str, doc: dict[str, Any], report: RunReport) -> list[str]:
    d = doc.get("diagnosis")
    if d is None:
        return [f"{name}: no diagnosis"]
    out = []
    codes = {f.code for f in report.findings}
    if not d["verdict"].strip():
        out.append(f"{name}: empty verdict")
    if d["primary"] is not None and d["primary"] not in codes:
        out.append(f"{name}: primary {d['primary']} is not a finding of the run")
    problems = any(f.severity in ("warning", "error") for f in report.findings)
    if problems != (d["kind"] == "problem"):
        out.append(f"{name}: kind {d['kind']} with problems={problems}")
    ids = [a["id"] for a in d["actions"]]
    if len(ids) > TOP_ACTIONS or len(set(ids)) != len(ids):
        out.append(f"{name}: actions {ids} (at most {TOP_ACTIONS}, each once)")
    if {r["code"] for r in d["related"]} | ({d["primary"]} if d["primary"] else set()) != codes:
        out.append(f"{name}: the diagnosis does not account for every finding once")
    facts = d["facts"]
    for a in d["actions"]:
        if not set(a["from"]) <= codes | {"lr_schedule"}:
            out.append(f"{name}: action {a['id']} answers {a['from']}, not findings of the run")
        numbers = a.get("numbers", {})
        if a["id"] in LR_ACTIONS and "lr_peak" in facts:
            lo, hi, side = LR_ACTIONS[a["id"]]
            now = numbers.get("lr_now")
            if now is None:
                out.append(f"{name}: {a['id']} is generic although the run logged its LR ({facts['lr_peak']})")
            elif side == "below" and not numbers[lo] <= numbers[hi] < now:
                out.append(f"{name}: lower_lr proposes {numbers[lo]}-{numbers[hi]} from {now}")
            elif side == "above" and not now < numbers[lo] <= numbers[hi]:
                out.append(f"{name}: raise_lr proposes {numbers[lo]}-{numbers[hi]} from {now}")
        fact, quoted = RUN_NUMBER_ACTIONS.get(a["id"], (None, None))
        if fact is not None and fact in facts and quoted not in numbers:
            out.append(f"{name}: {a['id']} is generic although the run logged {fact} ({facts[fact]})")
    return out
