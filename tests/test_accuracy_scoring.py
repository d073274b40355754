"""The benchmark's scoring arithmetic, on hand-made predictions and labels.

A wrong TP/FP/FN rule would silently make every accuracy number meaningless,
so the rules of benchmarks/accuracy.py are pinned here without any analyzer,
TensorFlow or event file involved.
"""

from __future__ import annotations

import pytest

from benchmarks.accuracy import CodeStats, is_healthy, score

HEALTHY = {
    "run": "h",
    "expected": [],
    "acceptable": ["plateau"],
    "forbidden": ["nonfinite_loss", "divergence", "no_learning"],
}
SEVERITY = {
    "nonfinite_loss": "error",
    "divergence": "error",
    "no_learning": "error",
    "plateau": "warning",
    "overfitting": "warning",
    "still_learning": "info",
}


def test_tp_fp_fn_counted_per_code() -> None:
    labels = [
        {"run": "a", "expected": ["overfitting"], "acceptable": [], "forbidden": []},
        {"run": "b", "expected": ["overfitting", "plateau"], "acceptable": [], "forbidden": []},
    ]
    s = score({"a": ["overfitting", "noisy_loss"], "b": ["plateau"]}, labels)
    assert (s.codes["overfitting"].tp, s.codes["overfitting"].fn, s.codes["overfitting"].fp) == (1, 1, 0)
    assert (s.codes["plateau"].tp, s.codes["plateau"].fn, s.codes["plateau"].fp) == (1, 0, 0)
    assert (s.codes["noisy_loss"].tp, s.codes["noisy_loss"].fn, s.codes["noisy_loss"].fp) == (0, 0, 1)
    assert s.codes["overfitting"].support == 2


def test_acceptable_is_neither_rewarded_nor_penalised() -> None:
    labels = [{"run": "a", "expected": [], "acceptable": ["plateau"], "forbidden": []}]
    with_it = score({"a": ["plateau"]}, labels)
    without = score({"a": []}, labels)
    for s in (with_it, without):
        p = s.codes["plateau"]
        assert (p.tp, p.fp, p.fn) == (0, 0, 0)
        assert s.scored_codes == []
        assert s.macro_f1 is None
        assert s.runs[0].ok


def test_forbidden_and_unlisted_false_positives_are_told_apart() -> None:
    labels = [{"run": "a", "expected": ["plateau"], "acceptable": [], "forbidden": ["divergence"]}]
    r = score({"a": ["divergence", "noisy_loss"]}, labels).runs[0]
    assert r.missing == ["plateau"]
    assert r.forbidden_predicted == ["divergence"]
    assert r.unlisted_predicted == ["noisy_loss"]
    assert not r.ok


def test_precision_recall_f1_values() -> None:
    c = CodeStats("x", tp=3, fp=1, fn=2)
    assert c.precision == pytest.approx(0.75)
    assert c.recall == pytest.approx(0.6)
    assert c.f1 == pytest.approx(2 * 0.75 * 0.6 / (0.75 + 0.6))
    empty = CodeStats("y")
    assert empty.precision is None and empty.recall is None and empty.f1 == 0.0
    only_fp = CodeStats("z", fp=2)
    assert only_fp.precision == 0.0 and only_fp.recall is None and only_fp.f1 == 0.0


def test_macro_f1_averages_codes_with_support_or_false_positives() -> None:
    labels = [
        {"run": "a", "expected": ["overfitting"], "acceptable": ["still_learning"], "forbidden": []},
        {"run": "b", "expected": ["plateau"], "acceptable": [], "forbidden": ["no_learning"]},
    ]
    # overfitting: TP -> F1 1; plateau: FN -> F1 0; noisy_loss: FP only -> F1 0;
    # still_learning (acceptable) and no_learning (never predicted) do not count.
    s = score({"a": ["overfitting", "still_learning"], "b": ["noisy_loss"]}, labels)
    assert sorted(c.code for c in s.scored_codes) == ["noisy_loss", "overfitting", "plateau"]
    assert s.macro_f1 == pytest.approx(1 / 3)


def test_missing_run_scores_as_nothing_reported() -> None:
    labels = [{"run": "gone", "expected": ["plateau"], "acceptable": [], "forbidden": []}]
    s = score({}, labels)
    assert s.not_analysed == ["gone"]
    assert s.codes["plateau"].fn == 1


def test_error_findings_on_healthy_runs() -> None:
    assert is_healthy(HEALTHY)
    assert not is_healthy({**HEALTHY, "expected": ["plateau"]})
    assert not is_healthy({**HEALTHY, "forbidden": ["divergence"]})
    sick = {"run": "s", "expected": ["nonfinite_loss"], "acceptable": [], "forbidden": []}
    s = score(
        {"h": ["divergence", "plateau", "still_learning"], "s": ["nonfinite_loss", "divergence"]},
        [HEALTHY, sick],
        SEVERITY,
    )
    assert s.healthy_runs == 1
    assert s.healthy_error_findings == 1
    assert s.runs[0].error_findings == ["divergence"]
    assert s.runs[1].error_findings == []


def test_to_dict_is_json_ready() -> None:
    import json

    s = score({"a": ["plateau"]}, [{"run": "a", "expected": ["plateau"], "acceptable": [], "forbidden": []}])
    d = json.loads(json.dumps(s.to_dict()))
    assert d["macro_f1"] == 1.0
    assert d["codes"]["plateau"]["tp"] == 1
    assert d["mismatches"] == []


# --------------------------------------------------------------------------- corpus labeller
# The corpus labels are the yardstick for every score above, so their core
# rules are pinned too: labels follow the curves, and the three lists never overlap.


def _curves(train: list[float], val: list[float]) -> dict:
    import numpy as np

    steps = np.arange(len(train))
    return {"train/epoch_loss": (steps, np.array(train)), "validation/epoch_loss": (steps, np.array(val))}


def _recipe(family: str):
    from benchmarks.corpus_faults import RECIPES

    return next(r for r in RECIPES if r.family == family)


def test_labeller_nan_is_expected_whatever_was_injected() -> None:
    from benchmarks.make_corpus import label, observe

    nan = float("nan")
    obs = observe(_curves([2.0, 1.5, 1.2, nan, nan, nan], [2.0, 1.6, 1.3, nan, nan, nan]), {"task": "multiclass"})
    lab = label(_recipe("plateau"), obs)
    assert "nonfinite_loss" in lab["expected"]
    assert "plateau" not in lab["expected"]
    assert "Relabelled" in lab["notes"]


def test_labeller_healthy_run_showing_a_u_shape_is_relabelled() -> None:
    from benchmarks.make_corpus import label, observe

    train = [2.0 * 0.8**i for i in range(30)]
    val = [1.0 - 0.1 * i for i in range(6)] + [0.5 + 0.03 * i for i in range(24)]
    lab = label(_recipe("healthy"), observe(_curves(train, val), {"task": "multiclass"}))
    assert lab["expected"] == ["overfitting"]
    assert "overfitting" not in lab["forbidden"]
    for a, b in (("expected", "acceptable"), ("expected", "forbidden"), ("acceptable", "forbidden")):
        assert not set(lab[a]) & set(lab[b])


def test_labeller_smooth_healthy_curves_stay_healthy() -> None:
    from benchmarks.make_corpus import label, observe

    train = [0.2 + 2.0 * 0.85**i for i in range(25)]
    val = [0.25 + 1.8 * 0.85**i for i in range(25)]
    lab = label(_recipe("healthy"), observe(_curves(train, val), {"task": "multiclass"}))
    assert lab["expected"] == []
    assert is_healthy(lab)
