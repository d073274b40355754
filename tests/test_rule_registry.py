"""Rule declarations: one per catalogue code, a sound dependency order, and the runner's contract.

The declarations (`analysis/rules/registry.py`) replace an ordered list, a
severity in the translation catalogue and ``ctx.has`` checks in rule bodies;
these tests keep the three things they replaced from drifting apart again.
"""

from __future__ import annotations

import numpy as np
import pytest

from tb_recipe_plugin.analysis import analyzer
from tb_recipe_plugin.analysis.analyzer import analyze_run
from tb_recipe_plugin.analysis.report import Finding
from tb_recipe_plugin.analysis.rules import BY_CODE, RULES, SEVERITIES
from tb_recipe_plugin.analysis.rules.registry import Rule, ordered
from tb_recipe_plugin.cli import EXIT_FINDINGS, exit_code
from tb_recipe_plugin.present.catalogue import FINDINGS
from tests.curves import codes, decay, run


def test_every_catalogue_code_has_exactly_one_rule():
    assert sorted(BY_CODE) == sorted(FINDINGS)
    assert len(RULES) == len(BY_CODE)


def test_declarations_are_complete():
    for r in RULES:
        assert r.severity in SEVERITIES
        assert len(r.doc) > 40, f"{r.code}: the docstring should say what it detects and why"
        for name, value in r.thresholds.items():
            assert name.isupper() and isinstance(value, int | float), (r.code, name)


def test_order_respects_every_dependency():
    position = {r.code: i for i, r in enumerate(RULES)}
    for r in RULES:
        for code in r.needs:
            assert position[code] < position[r.code], f"{r.code} runs before {code}, which it depends on"


def _rule(code: str, *, unless=(), after=(), thresholds=()) -> Rule:
    def fn(ctx):
        return None

    return Rule(code, "info", fn, tuple(unless), tuple(after), tuple(thresholds), False)


def test_ordered_sorts_dependencies_first_and_keeps_declaration_order_otherwise():
    a, b, c = _rule("a", after=("c",)), _rule("b"), _rule("c")
    assert [r.code for r in ordered([a, b, c])] == ["b", "c", "a"]


@pytest.mark.parametrize(
    "rules, message",
    [
        ([_rule("a", unless=("b",)), _rule("b", after=("a",))], "cycle"),
        ([_rule("a", unless=("nope",))], "undeclared"),
        ([_rule("a", thresholds=("NOT_A_CONSTANT",))], "not numeric"),
    ],
)
def test_ordered_rejects_broken_declarations(rules, message):
    with pytest.raises(ValueError, match=message):
        ordered(rules)


def test_runner_stamps_the_declared_severity():
    rep = analyze_run(run(train_loss=np.r_[decay(10), [np.nan] * 3]))
    (f,) = [f for f in rep.findings if f.code == "nonfinite_loss"]
    assert f.severity == BY_CODE["nonfinite_loss"].severity == "error"
    assert all(f.severity == BY_CODE[f.code].severity for f in rep.findings)


def test_a_finding_under_another_code_is_refused():
    wrong = Rule("a", "info", lambda ctx: Finding("b", 0, 1, {}, 0.5), (), (), (), False)
    with pytest.raises(ValueError, match="code 'b'"):
        wrong(None)


def test_unless_silences_the_rule():
    """A diverging run: `divergence` fires, and every rule declared `unless` divergence stays silent."""
    n = 60
    loss = np.r_[decay(30, 2.0, 0.5, rate=5), np.linspace(0.55, 3.0, n - 30)]
    rep = analyze_run(run(Loss__train=loss, Loss__val=loss * 1.1))
    assert "divergence" in codes(rep)
    silenced = {r.code for r in RULES if "divergence" in r.unless}
    assert silenced and not codes(rep) & silenced


def test_a_rule_that_raises_is_an_analysis_error_and_fails_the_cli(monkeypatch):
    def boom(ctx):
        """Always fails: stands in for a rule bug."""
        raise IndexError("index 5 is out of bounds")

    broken = Rule("noisy_loss", "warning", boom, (), (), (), False)
    monkeypatch.setattr(analyzer, "RULES", tuple(broken if r.code == "noisy_loss" else r for r in RULES))
    rep = analyze_run(run(train_loss=decay(20)))
    assert rep.analysis_errors == ["rule noisy_loss failed: IndexError: index 5 is out of bounds"]
    assert not rep.errors  # not a read error: the data was fine
    assert rep.status == "error"
    assert exit_code([rep], "never") == EXIT_FINDINGS
