"""How a rule is declared: one decorator holds its code, severity, dependencies and thresholds.

Declaring these next to the function (rather than in an ordered list here, a
severity in the translation catalogue and ``ctx.has(...)`` checks inside the
body) keeps each rule readable on its own and lets the run order, the docs
and the tests be derived from the declarations:

- ``unless``: codes that explain the curve better when they fire; the rule is
  skipped then, so each pattern is reported once, under its most useful name
  (no "plateau" on a run that diverged).
- ``after``: codes whose findings the rule looks at without being silenced
  by them (loss spikes that are really the periodic pattern).
- ``thresholds``: names of the module-level constants the rule compares
  against. They stay ordinary constants with a docstring each (a rule may
  share one with a related rule); the declaration names them so the docs and
  the tests can list them and check each one matters.

The run order is a topological sort of ``unless``/``after``, ties broken by
declaration order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tb_recipe_plugin.analysis.report import Finding
from tb_recipe_plugin.analysis.rules.context import Context

Severity = Literal["info", "warning", "error"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error")
RuleFn = Callable[[Context], Finding | None]


@dataclass(frozen=True)
class Rule:
    """One declared rule. Calling it runs the function and stamps the declared severity on its finding."""

    code: str
    severity: Severity
    fn: RuleFn
    unless: tuple[str, ...]
    after: tuple[str, ...]
    threshold_names: tuple[str, ...]
    callback: bool  # needs the Keras callback's signals
    preflight: bool = False  # reads the pre-flight checks' results: runs on a run that wrote only those

    @property
    def thresholds(self) -> Mapping[str, float]:
        """Current values of the named constants (looked up now, so a test can vary one)."""
        return {name: self.fn.__globals__[name] for name in self.threshold_names}

    @property
    def doc(self) -> str:
        return (self.fn.__doc__ or "").strip()

    @property
    def needs(self) -> tuple[str, ...]:
        """Every code that must have been evaluated before this rule."""
        return self.unless + tuple(c for c in self.after if c not in self.unless)

    def __call__(self, ctx: Context) -> Finding | None:
        if any(ctx.has(code) for code in self.unless):
            return None
        finding = self.fn(ctx)
        if finding is None:
            return None
        if finding.code != self.code:
            raise ValueError(f"rule {self.code} returned a finding with code {finding.code!r}")
        finding.severity = self.severity
        finding.evidence = evidence_values(finding.evidence)
        return finding


def evidence_values(evidence: Mapping[str, object]) -> dict:
    """Evidence as documented: numbers (int or float) and strings only. A flag becomes 0/1, a numpy scalar a
    Python number, and a value the rule did not have (None) is left out, so no message or JSON says "None"."""
    out: dict = {}
    for key, value in evidence.items():
        if value is None:
            continue
        if isinstance(value, bool | np.bool_):
            value = int(value)
        elif isinstance(value, np.integer):
            value = int(value)
        elif isinstance(value, np.floating):
            value = float(value)
        elif not isinstance(value, int | float | str):
            value = str(value)
        out[key] = value
    return out


_DECLARED: dict[str, Rule] = {}


def rule(
    severity: Severity,
    *,
    unless: Iterable[str] = (),
    after: Iterable[str] = (),
    thresholds: Iterable[str] = (),
    callback: bool = False,
    preflight: bool = False,
) -> Callable[[RuleFn], Rule]:
    """Declare the decorated function as the rule whose finding code is its name.

    ``preflight``: the rule reads the pre-flight checks (`Context.preflight`),
    so it also runs on a run that has nothing else yet (a fit that crashed on
    its first step after the checks were written).
    """
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")

    def declare(fn: RuleFn) -> Rule:
        code = fn.__name__
        if code in _DECLARED:
            raise ValueError(f"rule {code} declared twice")
        if not (fn.__doc__ or "").strip():
            raise ValueError(f"rule {code} needs a docstring saying what it detects and why")
        declared = Rule(
            code=code,
            severity=severity,
            fn=fn,
            unless=tuple(unless),
            after=tuple(after),
            threshold_names=tuple(thresholds),
            callback=callback,
            preflight=preflight,
        )
        _DECLARED[code] = declared
        return declared

    return declare


def ordered(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    """Rules in an order where each runs after every code it `needs`.

    Raises on a cycle, an unknown code or a threshold name that is not a
    numeric constant of the rule's module (checked here, once every module is
    imported, because a constant may be defined below the rule using it).
    """
    pending = list(rules)
    for r in pending:
        missing = [n for n in r.threshold_names if not isinstance(r.fn.__globals__.get(n), int | float)]
        if missing:
            raise ValueError(f"rule {r.code}: thresholds {missing} are not numeric module constants")
    codes = {r.code for r in pending}
    unknown = sorted({c for r in pending for c in r.needs} - codes)
    if unknown:
        raise ValueError(f"rules depend on undeclared codes: {unknown}")
    done: list[Rule] = []
    seen: set[str] = set()
    while pending:
        ready = next((r for r in pending if set(r.needs) <= seen), None)
        if ready is None:
            raise ValueError(f"dependency cycle among rules: {sorted(r.code for r in pending)}")
        pending.remove(ready)
        done.append(ready)
        seen.add(ready.code)
    return tuple(done)
