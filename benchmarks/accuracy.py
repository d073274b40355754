"""Score the analyzer against labelled runs, side by side with the peer tool runmedic.

    python benchmarks/accuracy.py                       # corpus + real logs + runmedic + targets
    python benchmarks/accuracy.py --corpus benchmarks/_data/corpus2 --only corpus
    python benchmarks/accuracy.py --reallogs ../shared/reallogs benchmarks/_data/reallogs_public --only reallogs
    python benchmarks/accuracy.py --freeze             # once, before any rule change: record the held-out hash
    python benchmarks/accuracy.py --json

Why two kinds of set, scored separately: the corpus has many runs per fault
with known causes; the real runs are few but come from other people's
frameworks and habits. A rule tuned until the corpus is green can still fail on
the real logs, and the other way round.

Dev / held-out. A labels entry may carry "program" (the training script and
writer it came from) and "split" ("dev" or "heldout"). Rules may be tuned on
dev; held-out programs are only ever measured, so the held-out figures are the
headline and the dev figures are printed apart (a gap between them is the
overfitting of the rules to the programs they were tuned on). Labels without
"split" are one set, as before. The held-out labels are frozen by a hash
(`--freeze` writes benchmarks/heldout.sha256 once; every run recomputes it and
says loudly when the held-out set has changed since).

Scoring (per run, P = the set of codes the analyzer reported):
  TP(c) if c in P and c in expected;  FN(c) if c in expected and not in P;
  FP(c) if c in P and not in expected or acceptable.
Acceptable codes are neither rewarded nor penalised: they name patterns that
are visible but too borderline to demand. Macro-F1 averages over the codes
that have support or false positives, so a code nobody expects and nobody
reports does not inflate the score. "Healthy" runs (nothing expected and the
three error codes forbidden) are also checked for any error-severity finding,
since a false alarm there is what makes a user stop trusting the tool.

Reliability: each finding's confidence is binned (0.5-0.6 ... 0.9-1.0) and the
share of its findings that are right (TP) rather than wrong (FP) is compared
with the bin's lower edge; findings on acceptable codes are counted but not
judged, as in the scorer.

runmedic (benchmarks/peer_runmedic.py) is scored by the same function on the
codes its checks can express; each tool's time covers reading and analysing
the same event files.

Labels files (`labels.json` in the corpus, `manifest.json` in each real-log
folder) are lists of {"run", "expected", "acceptable", "forbidden", "notes",
optionally "program", "split"}. Always exits 0 once it could run, so it can
sit in CI as a report, not a gate; the targets line says PASS/FAIL.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import peer_runmedic  # noqa: E402 - needs the repository on sys.path first

CORPUS = HERE / "_data" / "corpus2"
DEFAULT_REALLOGS = (REPO.parent / "shared" / "reallogs", HERE / "_data" / "reallogs_public")
"""The shared real runs, and the public runs labelled in benchmarks/reallogs_public/ once their event files are
fetched next to a copy of its manifest (see that folder's README; the event files are not committed)."""
DEFAULT_FROZEN = HERE / "heldout.sha256"
HEALTH_CODES = ("nonfinite_loss", "divergence", "no_learning")

HELDOUT, DEV = "heldout", "dev"
SPLITS = (HELDOUT, DEV)
ALL = "all"  # the one group when no label carries a split
UNSPLIT = "unsplit"  # labels without a split next to labels with one
NO_PROGRAM = "(no program)"

TARGET_MACRO_F1 = 0.90
TARGET_MIN_CODE_F1 = 0.75
TARGET_REAL_F1 = 0.90
TARGET_HEALTHY_ERRORS = 0
TARGET_CORPUS_SECONDS = 5.0


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


@dataclass
class VerdictAgreement:
    """How the one verdict per run (issue 9) agrees with the labels.

    Runs labelled with a warning- or error-level code should get a problem verdict naming one of them as its primary
    problem; runs labelled with info-level codes only (still learning, validation below training) a healthy verdict
    with one of them as its note; runs labelled with nothing a healthy verdict, or at worst a problem the label
    accepts (a plateau on a converged run).
    """

    problem_runs: int = 0
    primary_expected: int = 0  # told as a problem whose primary code is expected
    primary_allowed: int = 0  # ...whose primary code is expected or acceptable
    told_healthy: int = 0  # a missed problem
    info_runs: int = 0
    info_named: int = 0  # told healthy, with an expected code as its note
    healthy_runs: int = 0
    healthy_told_healthy: int = 0
    healthy_primary_allowed: int = 0  # ...or told as a problem whose primary code the label accepts


def verdict_agreement(
    verdicts: Mapping[str, tuple[str, str | None]],
    labels: Sequence[Mapping[str, Any]],
    severity: Mapping[str, str],
) -> VerdictAgreement:
    out = VerdictAgreement()
    for lab in labels:
        kind, primary = verdicts.get(lab["run"], ("no_data", None))
        expected, acceptable = set(lab.get("expected", ())), set(lab.get("acceptable", ()))
        if any(severity.get(c) in ("warning", "error") for c in expected):
            out.problem_runs += 1
            if kind == "problem":
                out.primary_expected += primary in expected
                out.primary_allowed += primary in expected | acceptable
            else:
                out.told_healthy += kind == "healthy"
        elif expected:
            out.info_runs += 1
            out.info_named += kind == "healthy" and primary in expected
        else:
            out.healthy_runs += 1
            out.healthy_told_healthy += kind == "healthy"
            out.healthy_primary_allowed += kind == "healthy" or (kind == "problem" and primary in acceptable)
    return out


def format_verdicts(name: str, v: VerdictAgreement) -> list[str]:
    def share(k: int, n: int) -> str:
        return f"{k}/{n} ({100 * k / n:.0f}%)" if n else "-"

    return [
        f"-- verdicts ({name}): one diagnosis per run against the labels",
        f"   labelled with a warning/error: primary code expected {share(v.primary_expected, v.problem_runs)}, "
        f"expected or acceptable {share(v.primary_allowed, v.problem_runs)}, told healthy "
        f"{share(v.told_healthy, v.problem_runs)}",
        f"   labelled with info codes only: told healthy with one of them as the note "
        f"{share(v.info_named, v.info_runs)}",
        f"   labelled healthy: told healthy {share(v.healthy_told_healthy, v.healthy_runs)}, healthy or a problem the "
        f"label accepts {share(v.healthy_primary_allowed, v.healthy_runs)}",
    ]


# --------------------------------------------------------------------------- splits and the frozen held-out set


def split_of(label: Mapping[str, Any]) -> str | None:
    split = label.get("split")
    return str(split) if split not in (None, "") else None


def group_by_split(labels: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Labels per split, held-out first: {"all": labels} when no label has a split (the old format).

    Labels without a split next to split ones are kept as "unsplit" rather than
    folded into dev or held-out, so a half-migrated labels file shows itself.
    """
    if not any(split_of(lab) for lab in labels):
        return {ALL: list(labels)} if labels else {}
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for lab in labels:
        groups.setdefault(split_of(lab) or UNSPLIT, []).append(lab)
    order = {name: i for i, name in enumerate((*SPLITS, UNSPLIT))}
    return dict(sorted(groups.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def headline_group(groups: Mapping[str, Any]) -> str | None:
    """The group whose figures lead: held-out when there is one, else the whole (unsplit) set."""
    for name in (HELDOUT, ALL):
        if name in groups:
            return name
    return None


def unknown_splits(labels: Sequence[Mapping[str, Any]]) -> list[str]:
    """Messages for split values other than dev/heldout: a typo would silently drop runs from the headline."""
    return [f"{lab['run']}: split {split_of(lab)!r}" for lab in labels if split_of(lab) not in (None, *SPLITS)]


def group_by_program(labels: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for lab in labels:
        groups.setdefault(str(lab.get("program") or NO_PROGRAM), []).append(lab)
    return dict(sorted(groups.items()))


FROZEN_FIELDS = ("run", "program", "expected", "forbidden", "acceptable")
"""What the held-out hash covers: which runs, from which program, and what is demanded of them (not the notes)."""


def canonical_heldout(labels: Sequence[Mapping[str, Any]]) -> str:
    """Canonical JSON of the held-out entries: the same set in any order, with lists in any order, gives one text."""
    entries = []
    for lab in labels:
        if split_of(lab) != HELDOUT:
            continue
        entry: dict[str, Any] = {}
        for key in FROZEN_FIELDS:
            value = lab.get(key)
            entry[key] = sorted(str(v) for v in value) if isinstance(value, list | tuple | set) else value
        entries.append(entry)
    texts = sorted(json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False) for e in entries)
    return "[" + ",".join(texts) + "]"


def heldout_digest(labels: Sequence[Mapping[str, Any]]) -> str | None:
    """sha256 of `canonical_heldout`, or None when the labels have no held-out entry."""
    if not any(split_of(lab) == HELDOUT for lab in labels):
        return None
    return hashlib.sha256(canonical_heldout(labels).encode("utf-8")).hexdigest()


def frozen_line(digest: str, description: str) -> str:
    """One line of benchmarks/heldout.sha256: '<sha256>  <description>'."""
    return f"{digest}  {' '.join(description.split())}\n"


def parse_frozen(text: str) -> tuple[str, str]:
    """(sha256, description) from the frozen file; ValueError with the reason when it is not in that format."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise ValueError("empty")
    digest, _, description = lines[0].partition(" ")
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest.lower()):
        raise ValueError(f"first line does not start with a sha256 hex digest: {lines[0][:80]!r}")
    return digest.lower(), description.strip()


@dataclass
class FrozenCheck:
    status: str  # match | MISMATCH | not frozen | no held-out | unreadable
    digest: str | None
    frozen: str | None = None
    description: str = ""
    message: str = ""

    @property
    def ok(self) -> bool | None:
        return {"match": True, "MISMATCH": False}.get(self.status)


def compare_frozen(digest: str | None, frozen_text: str | None, where: str = "heldout.sha256") -> FrozenCheck:
    """Whether the held-out labels are the ones frozen in `frozen_text` (None: no such file)."""
    if digest is None:
        message = "the labels have no held-out entries: nothing to check"
        if frozen_text is not None:
            message += f" ({where} exists but belongs to another labels file)"
        return FrozenCheck("no held-out", None, message=message)
    if frozen_text is None:
        message = f"{where} does not exist: run --freeze once, before any rule change"
        return FrozenCheck("not frozen", digest, message=message)
    try:
        frozen, description = parse_frozen(frozen_text)
    except ValueError as exc:
        return FrozenCheck("unreadable", digest, message=f"{where} cannot be read: {exc}")
    if frozen == digest:
        return FrozenCheck("match", digest, frozen, description, f"held-out labels match {where} ({description})")
    return FrozenCheck(
        "MISMATCH",
        digest,
        frozen,
        description,
        f"THE HELD-OUT SET CHANGED since it was frozen in {where} ({description}): "
        f"frozen {frozen[:12]}..., now {digest[:12]}...; held-out figures are not comparable with earlier ones",
    )


# --------------------------------------------------------------------------- reliability of confidences


BIN_LOWER_EDGES = (0.5, 0.6, 0.7, 0.8, 0.9)
"""Lower edges of the confidence bins; findings below 0.5 get a bin of their own that has no bound to meet."""


@dataclass
class ReliabilityBin:
    lo: float
    hi: float
    correct: int = 0  # the code was expected: TP
    wrong: int = 0  # neither expected nor acceptable: FP
    acceptable: int = 0  # acceptable: shown, but not judged (as in the scorer)

    @property
    def count(self) -> int:
        return self.correct + self.wrong + self.acceptable

    @property
    def judged(self) -> int:
        return self.correct + self.wrong

    @property
    def fraction_correct(self) -> float | None:
        return self.correct / self.judged if self.judged else None

    @property
    def bound(self) -> float | None:
        """The share of right findings this bin promises: its lower edge (none below the first edge)."""
        return self.lo if self.lo >= BIN_LOWER_EDGES[0] else None

    @property
    def meets(self) -> bool | None:
        """None when nothing in the bin could be judged or the bin promises nothing."""
        frac, bound = self.fraction_correct, self.bound
        if frac is None or bound is None:
            return None
        return frac >= bound - 1e-12

    def to_dict(self) -> dict[str, Any]:
        return {
            "bin": f"{self.lo:.1f}-{self.hi:.1f}",
            "count": self.count,
            "correct": self.correct,
            "wrong": self.wrong,
            "acceptable": self.acceptable,
            "fraction_correct": self.fraction_correct,
            "bound": self.bound,
            "meets": self.meets,
        }


def bin_index(confidence: float) -> int:
    """0 for confidence < 0.5, then 1..5 for [0.5, 0.6) ... [0.9, 1.0]; 1.0 and above fall in the top bin.

    Rounding before the floor keeps 0.7 (stored as 0.69999...) in the 0.7-0.8 bin.
    """
    if not math.isfinite(confidence):
        return 0
    tenth = math.floor(round(confidence * 10, 6))
    first = round(BIN_LOWER_EDGES[0] * 10)
    return max(0, min(len(BIN_LOWER_EDGES), tenth - first + 1))


def empty_bins() -> list[ReliabilityBin]:
    edges = (0.0, *BIN_LOWER_EDGES, 1.0)
    return [ReliabilityBin(lo, hi) for lo, hi in zip(edges, edges[1:], strict=False)]


def reliability(
    findings: Mapping[str, Iterable[tuple[str, float]]], labels: Sequence[Mapping[str, Any]]
) -> list[ReliabilityBin]:
    """Findings of the labelled runs by confidence bin, each judged right or wrong by its run's label.

    `findings` maps run -> (code, confidence) pairs; runs without a label are
    not counted (they cannot be judged).
    """
    bins = empty_bins()
    for lab in labels:
        expected = set(lab.get("expected", ()))
        acceptable = set(lab.get("acceptable", ()))
        for code, confidence in findings.get(lab["run"], ()):
            b = bins[bin_index(confidence)]
            if code in expected:
                b.correct += 1
            elif code in acceptable:
                b.acceptable += 1
            else:
                b.wrong += 1
    return bins


def pooled(bins: Sequence[ReliabilityBin], lo: float) -> ReliabilityBin:
    """All bins from `lo` up as one: "findings with confidence 0.8-1.0 are right at least 80% of the time"."""
    out = ReliabilityBin(lo, 1.0)
    for b in bins:
        if b.lo >= lo - 1e-12:
            out.correct += b.correct
            out.wrong += b.wrong
            out.acceptable += b.acceptable
    return out


# --------------------------------------------------------------------------- the peer, side by side


@dataclass
class PeerRow:
    code: str
    ours: CodeStats
    peer: CodeStats

    @property
    def compared(self) -> bool:
        """Something to compare: support, or a false positive by either tool."""
        return bool(self.ours.support or self.ours.fp or self.peer.fp)

    @property
    def at_least_peer(self) -> bool:
        """Our F1 >= the peer's; with no support (both F1 0) we must not raise more false alarms."""
        if self.ours.support:
            return self.ours.f1 >= self.peer.f1 - 1e-12
        return self.ours.fp <= self.peer.fp

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "tb_recipe": self.ours.to_dict(), "runmedic": self.peer.to_dict()}


def peer_rows(ours: Scores, peer: Scores, codes: Iterable[str]) -> list[PeerRow]:
    """One row per code the peer can express, both tools scored against the same labels."""
    return [
        PeerRow(code, ours.codes.get(code, CodeStats(code)), peer.codes.get(code, CodeStats(code)))
        for code in sorted(codes)
    ]


def macro_over(rows: Sequence[PeerRow], side: str) -> float | None:
    """Macro-F1 of one tool ("ours" | "peer") over the compared rows, for a like-for-like summary."""
    used = [getattr(r, side).f1 for r in rows if r.compared]
    return sum(used) / len(used) if used else None


# --------------------------------------------------------------------------- targets


@dataclass
class Target:
    name: str
    value: str
    passed: bool | None  # None: not measured in this invocation

    def line(self) -> str:
        verdict = {True: "PASS", False: "FAIL", None: "n/a "}[self.passed]
        return f"   [{verdict}] {self.name}: {self.value}"


def _lowest(scores: Scores) -> CodeStats | None:
    scored = scores.scored_codes
    return min(scored, key=lambda c: (c.f1, c.code)) if scored else None


def targets(
    *,
    headline: Scores | None,
    headline_name: str = HELDOUT,
    real: Scores | None = None,
    healthy_errors: int | None = None,
    healthy_runs: int = 0,
    behind_peer: Sequence[str] | None = None,
    peer_compared: int = 0,
    corpus_seconds: float | None = None,
    corpus_runs: int = 0,
) -> list[Target]:
    """The issue-8 targets, each with its measured value; pure so that the verdicts are tested.

    `behind_peer` lists "set:code (ours < peer)" for each code where we are
    behind runmedic; None means runmedic did not run.
    """
    out: list[Target] = []
    name = f"{'held-out' if headline_name == HELDOUT else 'corpus (no split)'} macro-F1 >= {TARGET_MACRO_F1:.2f}, "
    name += f"no code below {TARGET_MIN_CODE_F1:.2f}"
    if headline is None or headline.macro_f1 is None:
        out.append(Target(name, "not measured", None))
    else:
        low = _lowest(headline)
        assert low is not None  # macro_f1 is not None only when some code is scored
        ok = headline.macro_f1 >= TARGET_MACRO_F1 and low.f1 >= TARGET_MIN_CODE_F1
        out.append(Target(name, f"{headline.macro_f1:.3f}, lowest {low.code} {low.f1:.2f}", ok))
    name = f"real runs macro-F1 >= {TARGET_REAL_F1:.2f}"
    if real is None or real.macro_f1 is None:
        out.append(Target(name, "not measured", None))
    else:
        out.append(Target(name, f"{real.macro_f1:.3f} over {len(real.runs)} runs", real.macro_f1 >= TARGET_REAL_F1))
    name = "zero error-level findings on healthy runs"
    if healthy_errors is None:
        out.append(Target(name, "not measured", None))
    else:
        value = f"{healthy_errors} on {healthy_runs} healthy runs"
        out.append(Target(name, value, healthy_errors <= TARGET_HEALTHY_ERRORS))
    name = "per-code F1 >= runmedic's on every code it reports"
    if behind_peer is None:
        out.append(Target(name, "runmedic not run", None))
    elif behind_peer:
        out.append(Target(name, "behind on " + "; ".join(behind_peer), False))
    else:
        out.append(Target(name, f"at least equal on all {peer_compared} compared code rows", True))
    name = f"analysis of the whole corpus under {TARGET_CORPUS_SECONDS:g} s"
    if corpus_seconds is None:
        out.append(Target(name, "not measured", None))
    else:
        value = f"{corpus_seconds:.2f} s for {corpus_runs} runs"
        out.append(Target(name, value, corpus_seconds < TARGET_CORPUS_SECONDS))
    return out


# --------------------------------------------------------------------------- running both tools


def _norm(name: str) -> str:
    return name.replace("\\", "/").strip("/").removeprefix("./")


def locate(logdir: Path, runs: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """The loader's RunSource of each labelled run under `logdir`, and the runs found without a label.

    A long unlabelled list usually means the loader names runs differently from
    the labels file. A labelled folder the walk named differently (e.g. one the
    loader folded as a split folder) is discovered as a logdir of its own.
    Raises loader.LogdirError when `logdir` itself cannot be used.
    """
    from tb_recipe_plugin.io.loader import discover_runs

    wanted = {_norm(r): r for r in runs}
    found: dict[str, Any] = {}
    unlabelled: list[str] = []
    for source in discover_runs(str(logdir)):
        label_name = wanted.get(_norm(source.name))
        if label_name is None:
            unlabelled.append(source.name)
        elif label_name not in found:
            found[label_name] = source
    for key, label_name in wanted.items():
        if label_name in found or not (logdir / key).is_dir():
            continue
        inner = discover_runs(str(logdir / key))
        top = [s for s in inner if _norm(s.name) in ("", ".")] or (inner if len(inner) == 1 else [])
        if top:
            found[label_name] = top[0]
    return found, unlabelled


@dataclass
class ToolRun:
    """tb-recipe over a set of runs: codes, (code, confidence) pairs, messages, and time to read + analyse."""

    predicted: dict[str, list[str]] = field(default_factory=dict)
    findings: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    verdicts: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # (diagnosis kind, primary code)
    errors: dict[str, list[str]] = field(default_factory=dict)
    timing: peer_runmedic.Timing = field(default_factory=peer_runmedic.Timing)


def run_tb_recipe(sources: Mapping[str, Any]) -> ToolRun:
    """Load and analyse each run; the clock covers reading and analysis, as for the peer."""
    from tb_recipe_plugin.analysis.analyzer import analyze_run
    from tb_recipe_plugin.io.loader import load_run

    out = ToolRun()
    for name, source in sources.items():
        with out.timing.measure():
            report = analyze_run(load_run(source))
        out.predicted[name] = [f.code for f in report.findings]
        out.findings[name] = [(f.code, float(f.confidence)) for f in report.findings]
        if report.diagnosis is not None:
            out.verdicts[name] = (report.diagnosis.kind, report.diagnosis.primary)
        messages = list(report.errors) + [f"analysis error: {e}" for e in report.analysis_errors]
        if messages:
            out.errors[name] = messages
    return out


def _warm(sources: Mapping[str, Any]) -> None:
    """Read every event file once, untimed, so neither tool is charged for a cold page cache."""
    for source in sources.values():
        for _, path in source.files:
            try:
                Path(path).read_bytes()
            except OSError:
                pass  # the tools report it themselves


def load_labels(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):  # tolerate {"runs": [...]}
        data = data.get("runs", [])
    return [d for d in data if isinstance(d, dict) and "run" in d]


# --------------------------------------------------------------------------- one labelled set


@dataclass
class SetResult:
    """Everything printed about one labelled set (the corpus, or all real-log folders together)."""

    title: str
    labels: list[dict[str, Any]]
    parts: list[dict[str, Any]]  # per folder: logdir, labels file, counts, problems
    ours: ToolRun
    severity: dict[str, str]
    peer: peer_runmedic.PeerRun | None = None
    peer_note: str = ""
    notes: list[str] = field(default_factory=list)
    frozen: FrozenCheck | None = None

    def __post_init__(self) -> None:
        self.split_labels = group_by_split(self.labels)
        self.groups = {k: score(self.ours.predicted, v, self.severity) for k, v in self.split_labels.items()}
        self.total = score(self.ours.predicted, self.labels, self.severity)
        self.headline = headline_group(self.groups)
        self.programs: dict[str, Scores] = {}
        self.dev_programs: dict[str, Scores] = {}
        if self.headline == HELDOUT and any(lab.get("program") for lab in self.split_labels[HELDOUT]):
            self.programs = self._by_program(HELDOUT)
            # dev's too: a new probe program's first contact is read there
            self.dev_programs = self._by_program(DEV)
        head_labels = self.split_labels.get(self.headline, []) if self.headline else []
        self.reliability = reliability(self.ours.findings, head_labels)
        # dev's own table: confidences are set on dev, so that is where a miscalibrated rule may be looked at
        self.dev_reliability = (
            reliability(self.ours.findings, self.split_labels[DEV])
            if self.headline == HELDOUT and self.split_labels.get(DEV)
            else []
        )
        self.peer_groups: dict[str, Scores] = {}
        if self.peer is not None:
            self.peer_groups = {k: score(self.peer.predicted, v) for k, v in self.split_labels.items()}
        self.part_scores: dict[str, Scores] = {}
        if len(self.parts) > 1:
            for part in self.parts:
                labs = [lab for lab in self.labels if lab["run"].startswith(part["prefix"])]
                self.part_scores[part["logdir"]] = score(self.ours.predicted, labs, self.severity)

    def peer_table(self, group: str) -> list[PeerRow]:
        return peer_rows(self.groups[group], self.peer_groups[group], peer_runmedic.EXPRESSIBLE)

    @property
    def healthy_runs(self) -> int:
        return self.total.healthy_runs

    @property
    def healthy_errors(self) -> int:
        return self.total.healthy_error_findings

    def behind_peer(self, group: str | None = None) -> list[str]:
        """'set/group code (ours < peer)' for every compared code where the peer does better."""
        group = group or self.headline
        if self.peer is None or group is None:
            return []
        return [
            f"{self.title}/{group} {r.code} ({r.ours.f1:.2f} < {r.peer.f1:.2f})"
            if r.ours.support
            else f"{self.title}/{group} {r.code} (FP {r.ours.fp} > {r.peer.fp})"
            for r in self.peer_table(group)
            if r.compared and not r.at_least_peer
        ]

    def _by_program(self, split: str) -> dict[str, Scores]:
        by_program = group_by_program(self.split_labels.get(split, []))
        return {p: score(self.ours.predicted, labs, self.severity) for p, labs in by_program.items()}

    def to_dict(self) -> dict[str, Any]:
        from tb_recipe_plugin.present.catalogue import FINDINGS

        out: dict[str, Any] = {
            "parts": self.parts,
            "headline": self.headline,
            "groups": {k: s.to_dict() for k, s in self.groups.items()},
            "programs": {k: s.to_dict() for k, s in self.programs.items()},
            "dev_programs": {k: s.to_dict() for k, s in self.dev_programs.items()},
            "reliability": [b.to_dict() for b in self.reliability],
            "total": {"macro_f1": self.total.macro_f1, "runs": len(self.total.runs)},
            "run_errors": self.ours.errors,
            "unknown_codes": sorted(c for c in self.total.codes if c not in FINDINGS),
            "notes": self.notes,
            "seconds": {"tb_recipe": asdict(self.ours.timing)},
            "frozen": asdict(self.frozen) if self.frozen else None,
        }
        if len(self.parts) > 1:
            out["per_folder"] = {k: {"macro_f1": s.macro_f1, "runs": len(s.runs)} for k, s in self.part_scores.items()}
        if self.peer is None:
            out["runmedic"] = {"not_run": self.peer_note}
        else:
            out["runmedic"] = {
                "version": peer_runmedic.available(),
                "groups": {g: [r.to_dict() for r in self.peer_table(g)] for g in self.groups},
                "failures": self.peer.failures,
                "no_train_loss": self.peer.no_train_loss,
                "unmapped_checks": self.peer.unmapped,
            }
            out["seconds"]["runmedic"] = asdict(self.peer.timing)
        return out


def _folder_prefixes(logdirs: Sequence[Path]) -> list[str]:
    """Run-name prefixes that keep runs of several folders apart ('' for a single folder)."""
    if len(logdirs) <= 1:
        return [""]
    names: list[str] = []
    for i, d in enumerate(logdirs):
        name = d.name or f"set{i}"
        names.append(f"{name}#{i}/" if name in {n.rstrip("/") for n in names} else f"{name}/")
    return names


def evaluate(title: str, parts: Sequence[tuple[Path, Path]], with_peer: bool = True) -> SetResult:
    """Score tb-recipe (and runmedic) on the labelled runs of one or more (logdir, labels file) folders."""
    from tb_recipe_plugin.analysis.rules import RULES
    from tb_recipe_plugin.io.loader import LogdirError

    labels: list[dict[str, Any]] = []
    sources: dict[str, Any] = {}
    part_info: list[dict[str, Any]] = []
    notes: list[str] = []
    for (logdir, labels_file), prefix in zip(parts, _folder_prefixes([p[0] for p in parts]), strict=True):
        info: dict[str, Any] = {"logdir": str(logdir), "labels": str(labels_file), "prefix": prefix}
        part_info.append(info)
        try:
            own = load_labels(labels_file)
        except (OSError, ValueError) as exc:
            info["error"] = f"cannot read labels: {exc}"
            continue
        try:
            found, unlabelled = locate(logdir, [lab["run"] for lab in own])
        except LogdirError as exc:
            found, unlabelled = {}, []
            info["error"] = str(exc)
        labels.extend({**lab, "run": prefix + lab["run"]} for lab in own)
        sources.update({prefix + name: src for name, src in found.items()})
        info.update({"runs": len(own), "found": len(found), "unlabelled_runs": unlabelled})
    bad = unknown_splits(labels)
    if bad:
        notes.append("labels with a split other than dev/heldout (reported apart): " + "; ".join(bad))

    _warm(sources)
    ours = run_tb_recipe(sources)
    peer, peer_note = None, ""
    if not with_peer:
        peer_note = "skipped (--no-peer)"
    elif peer_runmedic.available() is None:
        peer_note = "runmedic is not installed (pip install 'runmedic>=0.1.1,<0.2')"
    else:
        peer = peer_runmedic.run_peer({name: src.files for name, src in sources.items()})
    severity = {r.code: r.severity for r in RULES}
    return SetResult(title, labels, part_info, ours, severity, peer, peer_note, notes)


# --------------------------------------------------------------------------- presentation


def _f(x: float | None) -> str:
    return "    -" if x is None else f"{x:5.2f}"


def _code_table(scores: Scores) -> list[str]:
    lines = [f"   {'code':26s} {'TP':>3s} {'FP':>3s} {'FN':>3s} {'supp':>4s} {'prec':>5s} {'rec':>5s} {'F1':>5s}"]
    for c in sorted(scores.codes.values(), key=lambda c: c.code):
        counted = c.support or c.fp
        lines.append(
            f"   {c.code:26s} {c.tp:3d} {c.fp:3d} {c.fn:3d} {c.support:4d} "
            f"{_f(c.precision)} {_f(c.recall)} {_f(c.f1) if counted else '    -'}"
        )
    return lines


def _mismatch_lines(scores: Scores) -> list[str]:
    bad = [r for r in scores.runs if not r.ok or r.error_findings]
    if not bad:
        return []
    lines = ["   mismatches (missing = expected but not reported; forbidden/unlisted = false positives):"]
    width = min(60, max(len(r.run) for r in bad))
    for r in bad:
        parts = []
        if r.missing:
            parts.append("missing " + ",".join(r.missing))
        if r.forbidden_predicted:
            parts.append("FORBIDDEN " + ",".join(r.forbidden_predicted))
        if r.unlisted_predicted:
            parts.append("unlisted " + ",".join(r.unlisted_predicted))
        if r.error_findings:
            parts.append("error on healthy " + ",".join(r.error_findings))
        run = r.run if len(r.run) <= width else "…" + r.run[-(width - 1) :]
        lines.append(f"   {run:{width}s}  {'; '.join(parts)}")
    return lines


def _macro(scores: Scores) -> str:
    mf = scores.macro_f1
    return "-" if mf is None else f"{mf:.3f}"


GROUP_TITLES = {
    HELDOUT: "held-out (headline: programs no rule was tuned on)",
    DEV: "dev (programs the rules may be tuned on)",
    ALL: "all runs (no dev/held-out split in the labels)",
    UNSPLIT: "runs without a split",
}


def format_group(name: str, scores: Scores, runs: bool = True) -> list[str]:
    """A split's code table and totals; its per-run mismatch list unless `runs` is False."""
    fully = sum(r.ok for r in scores.runs)
    lines = [f"-- {GROUP_TITLES.get(name, f'split {name!r}')}: {len(scores.runs)} runs, {fully} without any mismatch"]
    lines += _code_table(scores)
    lines.append(f"   macro-F1 over {len(scores.scored_codes)} codes with support or false positives: {_macro(scores)}")
    healthy = f"{scores.healthy_error_findings}"
    lines.append(f"   error-severity findings on {scores.healthy_runs} healthy-labelled runs: {healthy}")
    if scores.not_analysed:
        missing = ", ".join(scores.not_analysed)
        lines.append(f"   labelled runs not found by the loader ({len(scores.not_analysed)}): {missing}")
    if not runs:
        hidden = sum(not r.ok or bool(r.error_findings) for r in scores.runs)
        return lines + [
            f"   per-run mismatches hidden ({hidden} runs): read while changing rules, they would steer the rules "
            "toward the held-out runs (--show-heldout-runs prints them)"
        ]
    return lines + _mismatch_lines(scores)


def format_programs(programs: Mapping[str, Scores], group: str = HELDOUT) -> list[str]:
    width = max(26, *(len(p) for p in programs))
    lines = [
        f"-- {'held-out' if group == HELDOUT else group} per program",
        f"   {'program':{width}s} {'runs':>4s} {'clean':>5s} {'macro-F1':>8s} {'healthy errs':>12s}",
    ]
    for program, s in programs.items():
        lines.append(
            f"   {program:{width}s} {len(s.runs):4d} {sum(r.ok for r in s.runs):5d} {_macro(s):>8s} "
            f"{s.healthy_error_findings:>12d}"
        )
    return lines


def format_reliability(bins: Sequence[ReliabilityBin], group: str) -> list[str]:
    lines = [
        f"-- reliability of confidences ({ {HELDOUT: 'held-out', DEV: 'dev'}.get(group, 'all runs') }): "
        "share of judged findings that are right, against the bin's lower edge",
        f"   {'confidence':14s} {'findings':>8s} {'right':>5s} {'wrong':>5s} {'accept':>6s} {'right%':>6s}  verdict",
    ]
    top = pooled(bins, 0.8)
    for b in [*bins, top]:
        label = f"{b.lo:.1f}-{b.hi:.1f}" + (" pooled" if b is top else "")
        frac = "     -" if b.fraction_correct is None else f"{100 * b.fraction_correct:5.1f}%"
        if b.bound is None:
            verdict = "(no bound)"
        elif b.meets is None:
            verdict = "nothing to judge"
        else:
            verdict = f"{'meets' if b.meets else 'BELOW'} {100 * b.bound:.0f}%"
        lines.append(f"   {label:14s} {b.count:8d} {b.correct:5d} {b.wrong:5d} {b.acceptable:6d} {frac}  {verdict}")
    return lines


def format_peer(result: SetResult) -> list[str]:
    if result.peer is None:
        return [f"-- runmedic: not run: {result.peer_note}"]
    peer = result.peer
    lines: list[str] = []
    for group in result.groups:
        rows = result.peer_table(group)
        cols = "TP FP FN  prec   rec    F1"
        head = f"   {'code':22s} {'supp':>4s} | tb-recipe {cols} | runmedic {cols}"
        lines += [
            f"-- runmedic {peer_runmedic.available()} side by side, {GROUP_TITLES.get(group, group).split(' (')[0]}"
            f" ({len(result.groups[group].runs)} runs), on the codes runmedic can report",
            head,
        ]
        for r in rows:
            sides = []
            for c in (r.ours, r.peer):
                f1 = _f(c.f1) if r.compared else "    -"
                sides.append(f"{c.tp:3d} {c.fp:2d} {c.fn:2d} {_f(c.precision)} {_f(c.recall)} {f1}")
            mark = "" if not r.compared or r.at_least_peer else "   <- behind"
            lines.append(f"   {r.code:22s} {r.ours.support:4d} |          {sides[0]} |         {sides[1]}{mark}")
        ours_m, peer_m = macro_over(rows, "ours"), macro_over(rows, "peer")
        n = sum(r.compared for r in rows)
        lines.append(
            f"   macro-F1 over these {n} compared codes: tb-recipe {_f(ours_m).strip()}, runmedic {_f(peer_m).strip()}"
        )
    if peer.failures:
        lines.append(f"   runmedic failed on {len(peer.failures)} run(s), scored as predicting nothing:")
        lines += [f"     {run}: {why}" for run, why in peer.failures.items()]
    if peer.no_train_loss:
        lines.append(
            f"   runmedic recognised no training loss in {len(peer.no_train_loss)} run(s): "
            + ", ".join(peer.no_train_loss[:8])
            + (" ..." if len(peer.no_train_loss) > 8 else "")
        )
    return lines


def format_timing(result: SetResult) -> str:
    n = len(result.ours.predicted)
    ours = result.ours.timing
    line = f"   time to read and analyse the {n} runs: tb-recipe {ours.wall:.2f} s ({ours.cpu:.2f} s CPU)"
    if result.peer is not None:
        peer = result.peer.timing
        ratio = peer.cpu / ours.cpu if ours.cpu else float("nan")
        line += f", runmedic {peer.wall:.2f} s ({peer.cpu:.2f} s CPU); runmedic/tb-recipe CPU time = {ratio:.2f}x"
    return line


def format_set(result: SetResult, show_heldout_runs: bool = False) -> str:
    from tb_recipe_plugin.present.catalogue import FINDINGS

    lines = [f"== {result.title}"]
    for part in result.parts:
        lines.append(f"   {part['logdir']} (labels: {Path(part['labels']).name})")
        if "error" in part:
            lines.append(f"   !! {part['error']}")
        elif part["runs"] and not part["found"]:
            lines.append(f"   !! none of its {part['runs']} labelled runs has event files there (labels only?)")
        elif part["unlabelled_runs"]:
            lines.append(f"   runs found without a label (not scored): {len(part['unlabelled_runs'])}")
    splits = ", ".join(f"{k} {len(v)}" for k, v in result.split_labels.items())
    programs = {lab.get("program") for lab in result.labels if lab.get("program")}
    lines.append(
        f"   {len(result.labels)} labelled runs ({splits}), {len(result.ours.predicted)} found and analysed"
        + (f", {len(programs)} programs" if programs else "")
    )
    if result.frozen is not None:
        if result.frozen.ok is False:
            bar = "!" * 100
            lines += [f"   {bar}", f"   !!! {result.frozen.message}", f"   {bar}"]
        else:
            lines.append(f"   held-out freeze check: {result.frozen.status.upper()}: {result.frozen.message}")
    lines += [f"   note: {n}" for n in result.notes]
    for key, s in result.part_scores.items():
        lines.append(f"   {key}: {len(s.runs)} runs, macro-F1 {_macro(s)}")
    if len(result.groups) > 1 or len(result.parts) > 1:
        lines.append(f"   whole set: macro-F1 {_macro(result.total)} over {len(result.total.runs)} runs")
    for name, scores in result.groups.items():
        lines += format_group(name, scores, runs=show_heldout_runs or name != HELDOUT)
        agreement = verdict_agreement(result.ours.verdicts, result.split_labels[name], result.severity)
        lines += format_verdicts(name, agreement)
        if name == result.headline:
            if result.programs:
                lines += format_programs(result.programs)
            lines += format_reliability(result.reliability, name)
        elif name == DEV:
            if result.dev_programs:
                lines += format_programs(result.dev_programs, DEV)
            if result.dev_reliability:
                lines += format_reliability(result.dev_reliability, name)
    unknown = sorted(c for c in result.total.codes if c not in FINDINGS)
    if unknown:
        lines.append(f"   labels use codes the catalogue does not know: {', '.join(unknown)}")
    for run, errs in result.ours.errors.items():
        lines.append(f"   tb-recipe messages for {run}: {'; '.join(errs)}")
    lines += format_peer(result)
    lines.append(format_timing(result))
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def freeze(labels_file: Path, frozen_file: Path) -> int:
    """Write the held-out hash once; refuse to replace a different one (that must be a deliberate deletion)."""
    try:
        labels = load_labels(labels_file)
    except (OSError, ValueError) as exc:
        print(f"cannot freeze: cannot read {labels_file}: {exc}", file=sys.stderr)
        return 2
    digest = heldout_digest(labels)
    if digest is None:
        print(f'cannot freeze: {labels_file} has no entry with "split": "heldout"', file=sys.stderr)
        return 2
    if frozen_file.is_file():
        check = compare_frozen(digest, frozen_file.read_text(encoding="utf-8"), frozen_file.name)
        if check.ok:
            print(f"already frozen, unchanged: {check.message}")
            return 0
        print(
            f"refusing to overwrite {frozen_file}: {check.message}. Delete it by hand if the held-out set "
            "really must change, and say why in the commit.",
            file=sys.stderr,
        )
        return 2
    held = [lab for lab in labels if split_of(lab) == HELDOUT]
    programs = sorted({str(lab.get("program") or NO_PROGRAM) for lab in held})
    try:
        where = labels_file.resolve().relative_to(REPO)
    except ValueError:
        where = labels_file
    description = (
        f"held-out labels of {where}: {len(held)} runs from {len(programs)} programs ({', '.join(programs)}); "
        f"frozen {time.strftime('%Y-%m-%d')}"
    )
    frozen_file.write_text(frozen_line(digest, description), encoding="utf-8")
    print(f"wrote {frozen_file}: {digest}  {description}")
    return 0


def _corpus_labels(corpus: Path, notes: list[str]) -> Path | None:
    labels_file = corpus / "labels.json"
    if labels_file.is_file():
        return labels_file
    if corpus.resolve() != CORPUS.resolve():
        notes.append(f"no corpus scored: {labels_file} not found")
        return None
    print(f"no {labels_file}: generating the corpus first (python -m benchmarks.corpus)", file=sys.stderr)
    from benchmarks.corpus.generate import main as generate

    generate(["--out", str(corpus)])
    return labels_file if labels_file.is_file() else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Score tb-recipe's findings against labelled runs, beside runmedic.")
    ap.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help=f"labelled corpus (default: {CORPUS}, generated by `python -m benchmarks.corpus` when missing)",
    )
    ap.add_argument(
        "--reallogs",
        type=Path,
        nargs="+",
        default=list(DEFAULT_REALLOGS),
        help="folders of real runs, each with a manifest.json (default: %(default)s)",
    )
    ap.add_argument("--only", choices=("corpus", "reallogs"), help="score one kind of set only")
    ap.add_argument("--frozen", type=Path, default=DEFAULT_FROZEN, help="held-out hash file (default: %(default)s)")
    ap.add_argument("--freeze", action="store_true", help="write the held-out hash of the corpus labels and exit")
    ap.add_argument("--no-peer", action="store_true", help="do not run runmedic")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument(
        "--show-heldout-runs",
        action="store_true",
        help="also list the held-out runs each code got wrong (hidden by default: rule work must not read them)",
    )
    args = ap.parse_args(argv)
    corpus = args.corpus or CORPUS
    if args.freeze:
        return freeze(corpus / "labels.json", args.frozen)

    results: dict[str, SetResult] = {}
    notes: list[str] = []
    try:
        if args.only in (None, "corpus"):
            labels_file = _corpus_labels(corpus, notes)
            if labels_file is not None:
                results["corpus"] = evaluate("corpus", [(corpus, labels_file)], not args.no_peer)
                frozen_text = args.frozen.read_text(encoding="utf-8") if args.frozen.is_file() else None
                digest = heldout_digest(results["corpus"].labels)
                results["corpus"].frozen = compare_frozen(digest, frozen_text, str(args.frozen))
        if args.only in (None, "reallogs"):
            parts = []
            for folder in args.reallogs:
                if (folder / "manifest.json").is_file():
                    parts.append((folder, folder / "manifest.json"))
                else:
                    notes.append(f"real logs not scored: {folder / 'manifest.json'} not found")
            if parts:
                results["real runs"] = evaluate("real runs", parts, not args.no_peer)
    except ImportError as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2

    goals = targets_of(results)
    if args.json:
        payload = {k: r.to_dict() for k, r in results.items()}
        payload["targets"] = [asdict(t) for t in goals]
        print(json.dumps({**payload, "notes": notes}, indent=1))
        return 0
    for r in results.values():
        print(format_set(r, args.show_heldout_runs))
        print()
    for n in notes:
        print(n)
    print("== targets (issue 8)")
    corpus = results.get("corpus")
    if corpus is not None and corpus.frozen is not None and corpus.frozen.status != "no held-out":
        print(f"   held-out set since freezing: {corpus.frozen.status}" + ("" if corpus.frozen.ok else " (see above)"))
    for t in goals:
        print(t.line())
    return 0


def targets_of(results: Mapping[str, SetResult]) -> list[Target]:
    """The target inputs taken from whatever sets were scored in this invocation."""
    corpus, real = results.get("corpus"), results.get("real runs")
    scored = [r for r in (corpus, real) if r is not None]
    ran_peer = [r for r in scored if r.peer is not None]
    behind: list[str] | None = None
    compared = 0
    if ran_peer:
        behind = []
        for r in ran_peer:
            behind += r.behind_peer()
            if r.headline:
                compared += sum(row.compared for row in r.peer_table(r.headline))
    return targets(
        headline=corpus.groups.get(corpus.headline) if corpus and corpus.headline else None,
        headline_name=corpus.headline if corpus and corpus.headline else HELDOUT,
        real=real.total if real else None,
        healthy_errors=sum(r.healthy_errors for r in scored) if scored else None,
        healthy_runs=sum(r.healthy_runs for r in scored),
        behind_peer=behind,
        peer_compared=compared,
        corpus_seconds=corpus.ours.timing.wall if corpus else None,
        corpus_runs=len(corpus.ours.predicted) if corpus else 0,
    )


if __name__ == "__main__":
    raise SystemExit(main())
