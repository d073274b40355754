"""The benchmark's scoring arithmetic, on hand-made predictions and labels.

A wrong TP/FP/FN rule would silently make every accuracy number meaningless,
so the rules of benchmarks/accuracy.py are pinned here without any analyzer,
TensorFlow or event file involved.
"""

from __future__ import annotations

import pytest

from benchmarks.accuracy import CodeStats, is_healthy, score, verdict_agreement

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


# --------------------------------------------------------------------------- dev / held-out splits


def _lab(run: str, split: str | None = None, program: str | None = None, **codes: list[str]) -> dict:
    lab: dict = {"run": run, "expected": [], "acceptable": [], "forbidden": [], "notes": "", **codes}
    if split is not None:
        lab["split"] = split
    if program is not None:
        lab["program"] = program
    return lab


def test_labels_without_split_are_one_set() -> None:
    from benchmarks.accuracy import ALL, group_by_split, headline_group

    labels = [_lab("a"), _lab("b")]
    groups = group_by_split(labels)
    assert list(groups) == [ALL]
    assert [lab["run"] for lab in groups[ALL]] == ["a", "b"]
    assert headline_group(groups) == ALL


def test_split_groups_put_heldout_first_and_keep_unsplit_apart() -> None:
    from benchmarks.accuracy import DEV, HELDOUT, UNSPLIT, group_by_split, headline_group, unknown_splits

    labels = [_lab("d1", "dev"), _lab("u"), _lab("h1", "heldout"), _lab("x", "test"), _lab("h2", "heldout")]
    groups = group_by_split(labels)
    assert list(groups) == [HELDOUT, DEV, UNSPLIT, "test"]
    assert [lab["run"] for lab in groups[HELDOUT]] == ["h1", "h2"]
    assert headline_group(groups) == HELDOUT
    assert unknown_splits(labels) == ["x: split 'test'"]


def test_held_out_scores_are_separate_from_dev() -> None:
    from benchmarks.accuracy import group_by_program, group_by_split

    labels = [
        _lab("h1", "heldout", "p1", expected=["overfitting"]),
        _lab("h2", "heldout", "p2", expected=["plateau"]),
        _lab("d1", "dev", "p0", expected=["overfitting"]),
    ]
    predicted = {"h1": ["overfitting"], "h2": [], "d1": ["overfitting"]}
    groups = group_by_split(labels)
    held = score(predicted, groups["heldout"])
    dev = score(predicted, groups["dev"])
    assert held.macro_f1 == pytest.approx(0.5)  # overfitting 1, plateau 0
    assert dev.macro_f1 == pytest.approx(1.0)
    assert list(group_by_program(groups["heldout"])) == ["p1", "p2"]


# --------------------------------------------------------------------------- the frozen held-out hash


def _split_set() -> list[dict]:
    return [
        _lab("h1", "heldout", "p1", expected=["overfitting", "plateau"], forbidden=["divergence", "no_learning"]),
        _lab("h2", "heldout", "p2", acceptable=["still_learning", "noisy_loss"]),
        _lab("d1", "dev", "p0", expected=["divergence"]),
    ]


def test_heldout_hash_ignores_order_notes_and_dev() -> None:
    import copy
    import random

    from benchmarks.accuracy import heldout_digest

    base = heldout_digest(_split_set())
    assert base is not None and len(base) == 64
    shuffled = copy.deepcopy(_split_set())
    random.Random(3).shuffle(shuffled)
    for lab in shuffled:
        for key in ("expected", "acceptable", "forbidden"):
            lab[key].reverse()
        lab["notes"] = "reworded"
    shuffled[[lab["run"] for lab in shuffled].index("d1")]["expected"] = ["overfitting"]  # dev may change
    assert heldout_digest(shuffled) == base


@pytest.mark.parametrize(
    "change",
    [
        lambda labs: labs[0]["expected"].remove("plateau"),
        lambda labs: labs[1]["acceptable"].append("plateau"),
        lambda labs: labs[0]["forbidden"].append("overfitting"),
        lambda labs: labs[1].update(program="p9"),
        lambda labs: labs[1].update(run="h2b"),
        lambda labs: labs[2].update(split="heldout"),  # a dev run moved into the held-out set
        lambda labs: labs[1].update(split="dev"),  # a held-out run moved out
    ],
)
def test_heldout_hash_changes_with_what_is_demanded(change) -> None:
    from benchmarks.accuracy import heldout_digest

    labels = _split_set()
    before = heldout_digest(labels)
    change(labels)
    assert heldout_digest(labels) != before


def test_frozen_file_round_trip_and_verdicts() -> None:
    from benchmarks.accuracy import compare_frozen, frozen_line, heldout_digest, parse_frozen

    digest = heldout_digest(_split_set())
    assert digest is not None
    text = frozen_line(digest, "held-out labels\nof corpus2:  2 runs")
    assert text.count("\n") == 1
    assert parse_frozen(text) == (digest, "held-out labels of corpus2: 2 runs")
    assert compare_frozen(digest, text).status == "match"
    assert compare_frozen(digest, text).ok is True
    other = frozen_line("0" * 64, "older")
    mismatch = compare_frozen(digest, other)
    assert mismatch.status == "MISMATCH" and mismatch.ok is False
    assert "CHANGED" in mismatch.message
    assert compare_frozen(digest, None).status == "not frozen"
    assert compare_frozen(digest, "not a hash at all").status == "unreadable"
    assert compare_frozen(None, text).status == "no held-out"
    assert heldout_digest([_lab("a"), _lab("b", "dev")]) is None
    with pytest.raises(ValueError):
        parse_frozen("")


def test_freeze_writes_once_and_refuses_a_changed_set(tmp_path) -> None:
    import json

    from benchmarks.accuracy import compare_frozen, freeze, heldout_digest

    labels_file = tmp_path / "labels.json"
    frozen = tmp_path / "heldout.sha256"
    labels_file.write_text(json.dumps(_split_set()))
    assert freeze(labels_file, frozen) == 0
    written = frozen.read_text()
    assert compare_frozen(heldout_digest(_split_set()), written).ok
    assert "2 runs from 2 programs (p1, p2)" in written
    assert freeze(labels_file, frozen) == 0  # unchanged: fine
    changed = _split_set()
    changed[0]["expected"] = ["overfitting"]
    labels_file.write_text(json.dumps(changed))
    assert freeze(labels_file, frozen) == 2
    assert frozen.read_text() == written
    labels_file.write_text(json.dumps([_lab("a")]))
    assert freeze(labels_file, tmp_path / "other.sha256") == 2
    assert not (tmp_path / "other.sha256").exists()


# --------------------------------------------------------------------------- reliability of confidences


@pytest.mark.parametrize(
    ("confidence", "index"),
    [
        (0.0, 0),
        (0.4999, 0),
        (0.5, 1),
        (0.5999, 1),
        (0.6, 2),
        (0.7, 3),
        (0.1 * 7, 3),  # 0.7000000000000001
        (0.35 * 2, 3),  # 0.7 from another float path
        (0.6999999999, 3),  # float noise below 0.7 belongs to 0.7
        (0.699, 2),
        (0.8, 4),
        (0.9, 5),
        (1.0, 5),
        (1.3, 5),
        (float("nan"), 0),
    ],
)
def test_confidence_bins(confidence: float, index: int) -> None:
    from benchmarks.accuracy import bin_index

    assert bin_index(confidence) == index


def test_reliability_judges_findings_by_label() -> None:
    from benchmarks.accuracy import pooled, reliability

    labels = [
        _lab("a", expected=["overfitting"], acceptable=["plateau"]),
        _lab("b", expected=["plateau"]),
    ]
    findings = {
        "a": [("overfitting", 0.85), ("plateau", 0.82), ("noisy_loss", 0.81)],
        "b": [("plateau", 0.95), ("loss_spikes", 0.55)],
        "unlabelled": [("divergence", 0.99)],
    }
    bins = reliability(findings, labels)
    by = {f"{b.lo:.1f}": b for b in bins}
    assert (by["0.8"].correct, by["0.8"].wrong, by["0.8"].acceptable) == (1, 1, 1)
    assert by["0.8"].count == 3 and by["0.8"].fraction_correct == pytest.approx(0.5)
    assert by["0.8"].meets is False
    assert (by["0.9"].correct, by["0.9"].wrong, by["0.9"].meets) == (1, 0, True)
    assert (by["0.5"].correct, by["0.5"].wrong, by["0.5"].meets) == (0, 1, False)
    assert by["0.6"].count == 0 and by["0.6"].meets is None
    assert by["0.0"].bound is None
    top = pooled(bins, 0.8)
    assert (top.correct, top.wrong, top.acceptable) == (2, 1, 1)
    assert top.meets is False  # 2/3 < 0.8
    assert sum(b.count for b in bins) == 5


def test_reliability_bin_meets_its_edge_exactly() -> None:
    from benchmarks.accuracy import ReliabilityBin

    assert ReliabilityBin(0.8, 0.9, correct=4, wrong=1).meets is True  # exactly 80%
    assert ReliabilityBin(0.8, 0.9, correct=79, wrong=21).meets is False
    assert ReliabilityBin(0.8, 0.9, acceptable=3).meets is None


# --------------------------------------------------------------------------- runmedic, mapped and compared


def _fake_runmedic(*checks: tuple[str, str | None]) -> dict:
    """The shape of one element of `runmedic diagnose --json`."""
    return {
        "run": "r",
        "roles": {"train_loss": ["loss"], "val_loss": ["val_loss"], "grad_norm": ["grad_norm"]},
        "findings": [{"check": c, "severity": "warning", "metric": m, "evidence": []} for c, m in checks],
    }


def test_runmedic_checks_map_to_tb_recipe_codes() -> None:
    from benchmarks.peer_runmedic import EXPRESSIBLE, map_result

    result = _fake_runmedic(
        ("non_finite", "loss"),
        ("divergence", "loss"),
        ("loss_spikes", "loss"),
        ("overfitting", "val_loss"),
        ("val_below_train", "val_loss"),
        ("constant_lr_plateau", "loss"),
        ("grad_spikes", "grad_norm"),
        ("no_learning", "loss"),
        ("memory_growth", "gpu_mem"),
        ("log:cuda_oom", None),
    )
    codes, unmapped = map_result(result)
    assert codes == {
        "nonfinite_loss",
        "divergence",
        "loss_spikes",
        "overfitting",
        "val_better_than_train",
        "plateau",
        "exploding_gradients",
        "no_learning",
    }
    assert unmapped == ["memory_growth", "log:cuda_oom"]
    assert codes <= EXPRESSIBLE
    assert map_result(_fake_runmedic(("non_finite", "grad_norm")))[0] == {"nonfinite_gradients"}
    assert map_result({"findings": []}) == (set(), [])


def test_runmedic_scored_like_tb_recipe_side_by_side() -> None:
    from benchmarks.accuracy import macro_over, peer_rows
    from benchmarks.peer_runmedic import EXPRESSIBLE, map_result

    labels = [
        _lab("a", expected=["loss_spikes"], forbidden=["divergence"]),
        _lab("b", expected=["overfitting"], acceptable=["val_better_than_train"]),
        _lab("c", forbidden=["divergence"]),
    ]
    peer = {
        "a": sorted(map_result(_fake_runmedic(("loss_spikes", "loss")))[0]),
        "b": sorted(map_result(_fake_runmedic(("val_below_train", "val_loss")))[0]),
        "c": sorted(map_result(_fake_runmedic(("divergence", "loss")))[0]),
    }
    ours = {"a": [], "b": ["overfitting", "lr_too_small"], "c": []}
    rows = {r.code: r for r in peer_rows(score(ours, labels), score(peer, labels), EXPRESSIBLE)}
    assert "lr_too_small" not in rows  # not a code runmedic can express: no row
    assert (rows["loss_spikes"].ours.f1, rows["loss_spikes"].peer.f1) == (0.0, 1.0)
    assert not rows["loss_spikes"].at_least_peer
    assert rows["overfitting"].at_least_peer and rows["overfitting"].peer.fn == 1
    assert rows["divergence"].compared and rows["divergence"].at_least_peer  # no support: fewer false alarms
    assert not rows["plateau"].compared
    assert rows["val_better_than_train"].peer.fp == 0  # acceptable for b
    assert macro_over(list(rows.values()), "ours") == pytest.approx(1 / 3)  # spikes 0, overfitting 1, divergence 0
    assert macro_over(list(rows.values()), "peer") == pytest.approx(1 / 3)


def test_no_support_code_compares_false_alarms() -> None:
    from benchmarks.accuracy import PeerRow

    assert not PeerRow("x", CodeStats("x", fp=2), CodeStats("x", fp=1)).at_least_peer
    assert PeerRow("x", CodeStats("x", fp=1), CodeStats("x", fp=1)).at_least_peer
    assert PeerRow("x", CodeStats("x", tp=1, fn=1), CodeStats("x", tp=1, fn=1)).at_least_peer


# --------------------------------------------------------------------------- a whole set, without files


def _set_result(peer_predicted: dict | None = None):
    from benchmarks.accuracy import SetResult, ToolRun
    from benchmarks.peer_runmedic import PeerRun

    labels = [
        _lab(
            "h1", "heldout", "p1", expected=["overfitting"], forbidden=["nonfinite_loss", "divergence", "no_learning"]
        ),
        _lab("h2", "heldout", "p2", forbidden=["nonfinite_loss", "divergence", "no_learning"]),
        _lab("d1", "dev", "p0", expected=["loss_spikes"]),
    ]
    ours = ToolRun(
        predicted={"h1": ["overfitting"], "h2": ["divergence"], "d1": ["noisy_loss"]},
        findings={"h1": [("overfitting", 0.9)], "h2": [("divergence", 0.95)], "d1": [("noisy_loss", 0.85)]},
    )
    peer = None if peer_predicted is None else PeerRun(predicted=peer_predicted)
    return SetResult("corpus", labels, [], ours, SEVERITY, peer)


def test_set_result_headline_programs_and_reliability_use_held_out_only() -> None:
    r = _set_result()
    assert r.headline == "heldout"
    assert list(r.groups) == ["heldout", "dev"]
    assert list(r.programs) == ["p1", "p2"]
    assert r.programs["p2"].healthy_error_findings == 1
    assert r.groups["dev"].codes["loss_spikes"].fn == 1
    top = r.reliability[-1]
    assert (top.correct, top.wrong) == (1, 1)
    assert sum(b.count for b in r.reliability) == 2  # d1's finding is dev: not in the held-out reliability
    assert r.healthy_errors == 1 and r.healthy_runs == 1


def test_held_out_runs_are_named_only_on_request() -> None:
    """Rule work reads the dev mismatches; the held-out ones would steer rules toward the runs they are scored on."""
    from benchmarks.accuracy import format_set

    r = _set_result()
    hidden, shown = format_set(r), format_set(r, show_heldout_runs=True)
    assert " h2 " not in hidden and "per-run mismatches hidden (1 runs)" in hidden
    assert " d1 " in hidden  # dev runs are listed
    assert " h2 " in shown and "FORBIDDEN divergence" in shown


def test_behind_peer_is_judged_on_the_headline_group() -> None:
    ahead_on_dev_only = _set_result({"h1": [], "h2": [], "d1": ["loss_spikes"]})
    assert ahead_on_dev_only.behind_peer() == ["corpus/heldout divergence (FP 1 > 0)"]
    assert ahead_on_dev_only.behind_peer("dev") == ["corpus/dev loss_spikes (0.00 < 1.00)"]
    assert _set_result({"h1": [], "h2": ["divergence"], "d1": []}).behind_peer() == []


# --------------------------------------------------------------------------- targets


def _scores_with(f1_by_code: dict[str, tuple[int, int, int]]):
    labels, predicted = [], {}
    for code, (tp, fp, fn) in f1_by_code.items():
        for i in range(tp):
            labels.append(_lab(f"{code}-tp{i}", expected=[code]))
            predicted[f"{code}-tp{i}"] = [code]
        for i in range(fn):
            labels.append(_lab(f"{code}-fn{i}", expected=[code]))
            predicted[f"{code}-fn{i}"] = []
        for i in range(fp):
            labels.append(_lab(f"{code}-fp{i}"))
            predicted[f"{code}-fp{i}"] = [code]
    return score(predicted, labels)


def test_targets_pass_and_fail_on_their_thresholds() -> None:
    from benchmarks.accuracy import targets

    good = _scores_with({"overfitting": (9, 0, 0), "plateau": (3, 1, 0)})  # F1 1.0 and 6/7
    assert good.macro_f1 == pytest.approx((1 + 6 / 7) / 2)
    ok = targets(
        headline=good,
        real=good,
        healthy_errors=0,
        healthy_runs=4,
        behind_peer=[],
        peer_compared=3,
        corpus_seconds=4.99,
        corpus_runs=200,
    )
    assert [t.passed for t in ok] == [True] * 5
    assert "0.929" in ok[0].value and "plateau 0.86" in ok[0].value

    one_weak = _scores_with({**{f"c{i}": (10, 0, 0) for i in range(9)}, "weak": (3, 2, 2)})  # macro 0.96, weak 0.6
    assert one_weak.macro_f1 >= 0.9
    bad = targets(
        headline=one_weak,
        real=_scores_with({"overfitting": (8, 1, 1)}),  # F1 0.889
        healthy_errors=1,
        behind_peer=["corpus/heldout loss_spikes (0.50 < 0.67)"],
        corpus_seconds=5.0,
    )
    assert [t.passed for t in bad] == [False] * 5
    assert "weak 0.60" in bad[0].value and "loss_spikes" in bad[3].value

    unknown = targets(headline=None)
    assert [t.passed for t in unknown] == [None] * 5
    assert all("n/a" in t.line() for t in unknown)


def test_verdict_agreement_counts_each_kind_of_label_apart() -> None:
    """Issue 9's measure: the primary problem against the labels, per kind of label."""
    severity = {"overfitting": "warning", "plateau": "warning", "still_learning": "info", "nonfinite_loss": "error"}
    labels = [
        {"run": "a", "expected": ["overfitting"], "acceptable": ["plateau"]},
        {"run": "b", "expected": ["overfitting"], "acceptable": ["plateau"]},
        {"run": "c", "expected": ["nonfinite_loss"]},
        {"run": "d", "expected": ["still_learning"]},
        {"run": "e", "expected": [], "acceptable": ["plateau"]},
        {"run": "f", "expected": []},
    ]
    verdicts = {
        "a": ("problem", "overfitting"),
        "b": ("problem", "plateau"),
        "c": ("healthy", None),
        "d": ("healthy", "still_learning"),
        "e": ("problem", "plateau"),
        "f": ("problem", "plateau"),
    }
    v = verdict_agreement(verdicts, labels, severity)
    assert (v.problem_runs, v.primary_expected, v.primary_allowed, v.told_healthy) == (3, 1, 2, 1)
    assert (v.info_runs, v.info_named) == (1, 1)
    assert (v.healthy_runs, v.healthy_told_healthy, v.healthy_primary_allowed) == (2, 0, 1)
