"""Score the analyzer against labelled runs: the generated corpus and real public logs.

    python benchmarks/accuracy.py                      # corpus (generated if missing) + ../shared/reallogs
    python benchmarks/accuracy.py --corpus DIR --reallogs DIR
    python benchmarks/accuracy.py --only reallogs --json

Why two sets, scored separately: the corpus has many runs per fault with known
causes, but all written by one Keras writer; the real runs are few but come
from other people's frameworks and habits. A rule tuned until the corpus is
green can still fail on the real logs, and the other way round.

Scoring (per run, P = the set of codes the analyzer reported):
  TP(c) if c in P and c in expected;  FN(c) if c in expected and not in P;
  FP(c) if c in P and not in expected or acceptable.
Acceptable codes are neither rewarded nor penalised: they name patterns that
are visible but too borderline to demand. Macro-F1 averages over the codes
that have support or false positives, so a code nobody expects and nobody
reports does not inflate the score. "Healthy" runs (nothing expected and the
three error codes forbidden) are also checked for any error-severity finding,
since a false alarm there is what makes a user stop trusting the tool.

Labels files (`labels.json` in the corpus, `manifest.json` in the real logs)
are lists of {"run", "expected", "acceptable", "forbidden", "notes"}. Always
exits 0 once it could run, so it can sit in CI as a report, not a gate.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_CORPUS = HERE / "_data" / "corpus"
DEFAULT_REALLOGS = REPO.parent / "shared" / "reallogs"
HEALTH_CODES = ("nonfinite_loss", "divergence", "no_learning")


# --------------------------------------------------------------------------- pure scoring


@dataclass
class CodeStats:
    code: str
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.support if self.support else None

    @property
    def f1(self) -> float:
        """2TP / (2TP + FP + FN): defined (as 0) even when precision or recall is not."""
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "support": self.support,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


@dataclass
class RunResult:
    run: str
    predicted: list[str]
    expected: list[str]
    missing: list[str]  # expected, not predicted (FN)
    forbidden_predicted: list[str]  # predicted and explicitly forbidden (FP)
    unlisted_predicted: list[str]  # predicted, neither expected, acceptable nor forbidden (FP)
    healthy: bool
    error_findings: list[str]  # error-severity codes predicted on a healthy run

    @property
    def ok(self) -> bool:
        return not (self.missing or self.forbidden_predicted or self.unlisted_predicted)


@dataclass
class Scores:
    codes: dict[str, CodeStats] = field(default_factory=dict)
    runs: list[RunResult] = field(default_factory=list)
    not_analysed: list[str] = field(default_factory=list)  # labelled, but no prediction given

    @property
    def scored_codes(self) -> list[CodeStats]:
        """Codes that count for macro-F1: some support or some false positive."""
        return [c for c in self.codes.values() if c.support or c.fp]

    @property
    def macro_f1(self) -> float | None:
        scored = self.scored_codes
        return sum(c.f1 for c in scored) / len(scored) if scored else None

    @property
    def healthy_runs(self) -> int:
        return sum(r.healthy for r in self.runs)

    @property
    def healthy_error_findings(self) -> int:
        return sum(len(r.error_findings) for r in self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "macro_f1": self.macro_f1,
            "scored_codes": len(self.scored_codes),
            "runs": len(self.runs),
            "runs_fully_correct": sum(r.ok for r in self.runs),
            "healthy_runs": self.healthy_runs,
            "healthy_error_findings": self.healthy_error_findings,
            "codes": {c: s.to_dict() for c, s in sorted(self.codes.items())},
            "mismatches": [asdict(r) for r in self.runs if not r.ok or r.error_findings],
            "not_analysed": list(self.not_analysed),
        }


def is_healthy(label: Mapping[str, Any]) -> bool:
    """Healthy-labelled: nothing expected and every error-severity health code forbidden."""
    return not label.get("expected") and all(c in label.get("forbidden", ()) for c in HEALTH_CODES)


def score(
    predicted: Mapping[str, Iterable[str]],
    labels: Sequence[Mapping[str, Any]],
    severity: Mapping[str, str] | None = None,
) -> Scores:
    """Per-code TP/FP/FN over labelled runs, plus a per-run mismatch list.

    `predicted` maps run name -> reported codes; a labelled run missing from it
    is listed in `not_analysed` and scored as if nothing was reported (a run
    the loader could not find is a failure, not a skip). `severity` maps code ->
    "info" | "warning" | "error" for the healthy-run error count.
    """
    severity = severity or {}
    out = Scores()

    def stats(code: str) -> CodeStats:
        return out.codes.setdefault(code, CodeStats(code))

    for lab in labels:
        name = lab["run"]
        expected = set(lab.get("expected", ()))
        acceptable = set(lab.get("acceptable", ()))
        forbidden = set(lab.get("forbidden", ()))
        for c in expected | acceptable | forbidden:
            stats(c)  # list every labelled code, even at zero
        if name not in predicted:
            out.not_analysed.append(name)
        pred = set(predicted.get(name, ()))
        for c in pred & expected:
            stats(c).tp += 1
        for c in expected - pred:
            stats(c).fn += 1
        false_pos = pred - expected - acceptable
        for c in false_pos:
            stats(c).fp += 1
        healthy = is_healthy(lab)
        out.runs.append(
            RunResult(
                run=name,
                predicted=sorted(pred),
                expected=sorted(expected),
                missing=sorted(expected - pred),
                forbidden_predicted=sorted(false_pos & forbidden),
                unlisted_predicted=sorted(false_pos - forbidden),
                healthy=healthy,
                error_findings=sorted(c for c in pred if healthy and severity.get(c) == "error"),
            )
        )
    return out


# --------------------------------------------------------------------------- running the analyzer


def _norm(name: str) -> str:
    return name.replace("\\", "/").strip("/").removeprefix("./")


def predict(logdir: Path, runs: Sequence[str]) -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
    """Analyze the labelled runs found under `logdir`.

    Returns ({run: codes}, {run: analyzer/loader errors}, runs the loader found
    that have no label): a long unlabelled list usually means the loader names
    runs differently from the labels file.
    """
    from tb_recipe_plugin.analysis.analyzer import analyze_run
    from tb_recipe_plugin.io.loader import iter_runs

    wanted = {_norm(r): r for r in runs}
    predicted: dict[str, list[str]] = {}
    errors: dict[str, list[str]] = {}
    unlabelled: list[str] = []

    def take(label_name: str, run: Any) -> None:
        report = analyze_run(run)
        predicted[label_name] = [f.code for f in report.findings]
        if report.errors:
            errors[label_name] = list(report.errors)

    for run in iter_runs(str(logdir)):
        label_name = wanted.get(_norm(run.name))
        if label_name is None:
            unlabelled.append(run.name)
        elif label_name not in predicted:
            take(label_name, run)
    # A labelled folder the walk named differently: load it as a logdir of its own.
    for key, label_name in wanted.items():
        if label_name in predicted or not (logdir / key).is_dir():
            continue
        found = list(iter_runs(str(logdir / key)))
        top = [r for r in found if _norm(r.name) in ("", ".")] or (found if len(found) == 1 else [])
        if top:
            take(label_name, top[0])
    return predicted, errors, unlabelled


def load_labels(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):  # tolerate {"runs": [...]}
        data = data.get("runs", [])
    return [d for d in data if isinstance(d, dict) and "run" in d]


def evaluate(logdir: Path, labels_file: Path) -> dict[str, Any]:
    """Score one labelled set; everything the printed and JSON reports need."""
    from tb_recipe_plugin.analysis.rules import RULES
    from tb_recipe_plugin.present.catalogue import FINDINGS

    labels = load_labels(labels_file)
    predicted, errors, unlabelled = predict(logdir, [lab["run"] for lab in labels])
    severity = {r.code: r.severity for r in RULES}
    scores = score(predicted, labels, severity)
    result = scores.to_dict()
    result.update(
        {
            "logdir": str(logdir),
            "labels": str(labels_file),
            "analysed": len(predicted),
            "run_errors": errors,
            "unlabelled_runs": unlabelled,
            "unknown_codes": sorted(c for c in scores.codes if c not in FINDINGS),
        }
    )
    return result


# --------------------------------------------------------------------------- presentation


def _f(x: float | None) -> str:
    return "    -" if x is None else f"{x:5.2f}"


def format_result(title: str, r: dict[str, Any]) -> str:
    lines = [
        f"== {title}: {r['logdir']}",
        f"   {r['runs']} labelled runs, {r['analysed']} analysed, {r['runs_fully_correct']} without any mismatch",
    ]
    lines.append(f"   {'code':26s} {'TP':>3s} {'FP':>3s} {'FN':>3s} {'supp':>4s} {'prec':>5s} {'rec':>5s} {'F1':>5s}")
    for c in r["codes"].values():
        counted = c["support"] or c["fp"]
        lines.append(
            f"   {c['code']:26s} {c['tp']:3d} {c['fp']:3d} {c['fn']:3d} {c['support']:4d} "
            f"{_f(c['precision'])} {_f(c['recall'])} {_f(c['f1']) if counted else '    -'}"
        )
    mf = r["macro_f1"]
    lines.append(
        f"   macro-F1 over {r['scored_codes']} codes with support or false positives: "
        + ("-" if mf is None else f"{mf:.3f}")
    )
    lines.append(
        f"   error-severity findings on {r['healthy_runs']} healthy-labelled runs: {r['healthy_error_findings']}"
    )
    if r["unknown_codes"]:
        lines.append(f"   labels use codes the catalogue does not know: {', '.join(r['unknown_codes'])}")
    if r["not_analysed"]:
        lines.append(
            f"   labelled runs not found by the loader ({len(r['not_analysed'])}): " + ", ".join(r["not_analysed"])
        )
    if r["unlabelled_runs"]:
        lines.append(f"   runs found without a label (not scored): {len(r['unlabelled_runs'])}")
    if r["mismatches"]:
        lines.append("   mismatches (missing = expected but not reported; forbidden/unlisted = false positives):")
        width = min(60, max(len(m["run"]) for m in r["mismatches"]))
        for m in r["mismatches"]:
            parts = []
            if m["missing"]:
                parts.append("missing " + ",".join(m["missing"]))
            if m["forbidden_predicted"]:
                parts.append("FORBIDDEN " + ",".join(m["forbidden_predicted"]))
            if m["unlisted_predicted"]:
                parts.append("unlisted " + ",".join(m["unlisted_predicted"]))
            if m["error_findings"]:
                parts.append("error on healthy " + ",".join(m["error_findings"]))
            run = m["run"] if len(m["run"]) <= width else "…" + m["run"][-(width - 1) :]
            lines.append(f"   {run:{width}s}  {'; '.join(parts)}")
    for run, errs in r["run_errors"].items():
        lines.append(f"   analyzer errors in {run}: {'; '.join(errs)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Score tb-recipe's findings against labelled runs.")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="generated corpus (default: %(default)s)")
    ap.add_argument("--reallogs", type=Path, default=DEFAULT_REALLOGS, help="real runs (default: %(default)s)")
    ap.add_argument("--only", choices=("corpus", "reallogs"), help="score one set only")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    args = ap.parse_args(argv)

    results: dict[str, Any] = {}
    notes: list[str] = []
    try:
        if args.only in (None, "corpus"):
            labels_file = args.corpus / "labels.json"
            if not labels_file.is_file():
                from benchmarks.make_corpus import generate

                print(f"no {labels_file}: generating the corpus first", file=sys.stderr)
                generate(args.corpus)
            results["corpus"] = evaluate(args.corpus, labels_file)
        if args.only in (None, "reallogs"):
            manifest = args.reallogs / "manifest.json"
            if manifest.is_file():
                results["reallogs"] = evaluate(args.reallogs, manifest)
            else:
                notes.append(f"no real logs scored: {manifest} not found")
    except ImportError as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2

    if args.json:
        print(json.dumps({**results, "notes": notes}, indent=1))
    else:
        for key, r in results.items():
            print(format_result(key, r))
            print()
        for n in notes:
            print(n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
