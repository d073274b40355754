"""The runmedic adapter on real event files: the peer must see the same curves tb-recipe sees.

runmedic is a [dev] dependency used only by benchmarks/accuracy.py; these tests
skip when it is not installed. What they pin is the adapter, not runmedic's
judgement: the Keras split folders reach runmedic as one run with a validation
series (without the merge runmedic takes `validation/epoch_loss` for a training
loss and cannot see overfitting), and a run runmedic cannot read is a listed
failure that predicts nothing instead of a crash of the benchmark.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.accuracy import locate

DEMO = Path(__file__).resolve().parent.parent / "demo_logs"


@pytest.fixture(scope="module")
def peer():
    pytest.importorskip("runmedic")
    from benchmarks import peer_runmedic

    return peer_runmedic


def test_keras_split_folders_reach_runmedic_as_one_run(peer) -> None:
    sources, _ = locate(DEMO, ["keras_overfitting"])
    files = sources["keras_overfitting"].files
    assert {split for split, _ in files} == {"train", "validation"}
    result = peer.diagnose_files("keras_overfitting", files)
    assert result["roles"]["train_loss"] == ["train/epoch_loss"]
    assert result["roles"]["val_loss"] == ["validation/epoch_loss"]
    assert "overfitting" in peer.map_result(result)[0]


def test_run_peer_maps_codes_and_times_the_runs(peer) -> None:
    names = ["keras_nan_divergence", "torch_loss_spikes"]
    sources, _ = locate(DEMO, names)
    out = peer.run_peer({name: sources[name].files for name in names})
    assert out.failures == {} and out.no_train_loss == []
    assert "nonfinite_loss" in out.predicted["keras_nan_divergence"]
    assert set(out.predicted) == set(names)
    assert all(set(codes) <= peer.EXPRESSIBLE for codes in out.predicted.values())
    assert out.timing.wall > 0 and out.timing.cpu > 0


def test_a_run_runmedic_cannot_read_is_a_listed_failure(peer, tmp_path) -> None:
    gone = tmp_path / "events.out.tfevents.1.gone"  # never created: runmedic's reader raises
    sources, _ = locate(DEMO, ["torch_restart"])
    out = peer.run_peer({"broken": [(None, str(gone))], "torch_restart": sources["torch_restart"].files})
    assert out.predicted["broken"] == []
    assert "FileNotFoundError" in out.failures["broken"]
    assert "torch_restart" not in out.failures
