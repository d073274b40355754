"""The pre-flight checks of a run, read back from its summaries (``tb_recipe/preflight/<check>/<measure>``).

`tb_recipe_plugin.preflight.write_report` (and ``DiagnosisCallback(preflight=True)``)
write each check's verdict as ``passed`` (1.0 or 0.0, absent when the check
did not apply) and its numbers at step 0, a few measures as curves over an
index (`internal_tags.INDEXED`). This module turns a run's series back into
one `CheckReading` per check, by `internal_tags.parse_tag`, so the names
stay declared in one place and the analyzer never spells a tag.

The verdict is the one the checks wrote: their thresholds live beside the
measurements (`tb_recipe_plugin.keras.preflight`), and the rules that report
a failed check (`rules/preflight.py`) trust ``passed`` and cite the numbers
rather than judge them again with constants of their own. A check with no
series at all was skipped (or never run) and is not listed; one with numbers
but no ``passed`` ran and did not apply.

Rules read through `PreflightReadings.value` and `PreflightReadings.passed`,
which remember what was asked for in `reads`, so a test can check that every
measure declared `Use.RULES` is read by some rule, as `Internals` does for the
callback's other signals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from tb_recipe_plugin.analysis.report import PreflightCheck, PreflightSummary
from tb_recipe_plugin.analysis.series import Series
from tb_recipe_plugin.internal_tags import (
    INDEXED,
    PREFIX,
    PREFLIGHT,
    PREFLIGHT_SECONDS,
    PREFLIGHT_STEP_SECONDS,
    PREFLIGHT_TOTALS,
    Check,
    Measure,
    parse_tag,
)

_MARKER = PREFLIGHT[len(PREFIX) :]  # "/preflight": a cheap substring test before parsing a tag


@dataclass
class CheckReading:
    """One check as written: its verdict, its step-0 numbers and its indexed curves, with the tags they came from."""

    code: Check
    passed: bool | None = None
    values: dict[Measure, float] = field(default_factory=dict)
    curves: dict[Measure, Series] = field(default_factory=dict)
    tags: dict[Measure, str] = field(default_factory=dict)


@dataclass
class PreflightReadings:
    """Every pre-flight check of a run, in the order `Check` declares them, and what they cost."""

    checks: dict[Check, CheckReading] = field(default_factory=dict)
    seconds: float | None = None
    step_seconds: float | None = None
    reads: set[tuple[Check, Measure]] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.checks)

    def passed(self, code: Check) -> bool | None:
        """The written verdict of `code` (None: not run, skipped or not applicable)."""
        self.reads.add((code, Measure.PASSED))
        reading = self.checks.get(code)
        return reading.passed if reading is not None else None

    def value(self, code: Check, measure: Measure) -> float | None:
        """A step-0 number of `code`, as written (NaN and Inf included: a non-finite loss is a finding's number)."""
        self.reads.add((code, measure))
        reading = self.checks.get(code)
        return reading.values.get(measure) if reading is not None else None

    def curve(self, code: Check, measure: Measure) -> Series | None:
        self.reads.add((code, measure))
        reading = self.checks.get(code)
        return reading.curves.get(measure) if reading is not None else None

    def tags(self, code: Check, *measures: Measure) -> tuple[str, ...]:
        """The written tags of `measures` of `code` that exist, ``passed`` first: what a finding cites."""
        reading = self.checks.get(code)
        if reading is None:
            return ()
        wanted = (Measure.PASSED, *(m for m in measures if m != Measure.PASSED))
        return tuple(reading.tags[m] for m in wanted if m in reading.tags)


def find_preflight(series: Mapping[str, Series]) -> PreflightReadings:
    """Collect a run's pre-flight series (in any split folder); tags that are not ours are ignored.

    A value is the point at the smallest step (the checks write at step 0);
    a fit that ran the checks twice into one log dir wrote step 0 twice, and
    the readers keep the later point. ``passed`` other than 1 or 0 (a damaged
    or hand-written run) counts as no verdict.
    """
    out = PreflightReadings()
    found: dict[Check, CheckReading] = {}
    for tag, s in series.items():
        if _MARKER not in tag or not len(s):
            continue
        parsed = parse_tag(tag)
        if parsed is None:
            continue
        name, measure = parsed
        if name == PREFLIGHT_SECONDS:
            out.seconds = float(s.values[0])
        elif name == PREFLIGHT_STEP_SECONDS:
            out.step_seconds = float(s.values[0])
        elif isinstance(name, Check) and measure is not None:
            reading = found.setdefault(name, CheckReading(name))
            m = Measure(measure)
            if m in reading.tags:
                continue  # the same check in two split folders: the first one read stands
            reading.tags[m] = tag
            if m in INDEXED:
                reading.curves[m] = s
            elif m == Measure.PASSED:
                value = float(s.values[0])
                reading.passed = True if value == 1.0 else False if value == 0.0 else None
            else:
                reading.values[m] = float(s.values[0])
    out.checks = {code: found[code] for code in Check if code in found}
    return out


def is_preflight_tag(tag: str) -> bool:
    """Is `tag` (in any split folder) one the pre-flight checks write: a check's measure or one of the totals?"""
    if _MARKER not in tag:
        return False
    parsed = parse_tag(tag)
    return parsed is not None and (isinstance(parsed[0], Check) or parsed[0] in PREFLIGHT_TOTALS)


def checklist(readings: PreflightReadings) -> PreflightSummary | None:
    """The run's checklist for the report: every check that ran, passed or not, with all it wrote; None without.

    Read from the readings directly (not through `PreflightReadings.value`):
    the checklist shows every number, while `reads` records what rules use.
    """
    if not readings:
        return None
    checks = [
        PreflightCheck(
            code=str(code),
            passed=r.passed,
            numbers={str(m): v for m, v in r.values.items()},
            curves={str(m): [float(v) for v in s.values] for m, s in r.curves.items()},
            series={str(m): r.tags[m] for m in r.curves},
        )
        for code, r in readings.checks.items()
    ]
    return PreflightSummary(checks, readings.seconds, readings.step_seconds)


def shares(numbers: Mapping[str, float | None]) -> dict[str, float]:
    """The percentages the pre-flight messages quote, from the measures a check wrote (finite ones only), for the
    rules' findings and the checklist alike: ``fraction_pct`` of ``fraction``; ``gain_pct`` of ``gain``, else of
    the two held-out losses; ``kept_pct``, the final loss over the start loss; ``rows_pct``, rows over seen."""
    from tb_recipe_plugin.analysis.rules.context import pct  # the rules' package imports this module

    def number(key: str) -> float | None:
        value = numbers.get(key)
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else None

    out: dict[str, float] = {}
    fraction, gain = number("fraction"), number("gain")
    loss, zero = number("loss"), number("zero_input_loss")
    start, final = number("start_loss"), number("final_loss")
    rows, seen = number("rows"), number("seen")
    if fraction is not None:
        out["fraction_pct"] = pct(fraction)
    if gain is None and loss is not None and zero is not None and zero > 0:
        gain = (zero - loss) / zero
    if gain is not None:
        out["gain_pct"] = pct(gain)
    if start is not None and final is not None and start > 0:
        out["kept_pct"] = pct(final / start)
    if rows is not None and seen:
        out["rows_pct"] = pct(rows / seen)
    return out
