"""The Keras ``fit`` corpus programs: keras_mlp_digits, keras_cnn_shapes, keras_autoencoder, keras_transformer_text,
keras_legacy_single_folder.

Listing runs must stay cheap (no TensorFlow import); every run list must be a
usable slice of the corpus; every run's ``update_freq`` must divide its steps
per epoch (Keras 3 drops an epoch's ``epoch_*`` summaries otherwise); and a
tiny real training of the two programs that place faults at exact steps must
put the fault where Facts say it is, in event files holding the tags Facts name.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.corpus.programs import load
from tests.conftest import require_tensorflow

REPO = Path(__file__).resolve().parent.parent
PROGRAMS = (
    "keras_mlp_digits", "keras_cnn_shapes", "keras_autoencoder", "keras_transformer_text", "keras_legacy_single_folder",
)


def _module(name: str) -> Any:
    return sys.modules[load(name).runs.__module__]






@pytest.mark.parametrize("name", PROGRAMS)
def test_every_run_keeps_its_epoch_summaries(name: str) -> None:
    """Params name only known settings, and ``update_freq`` divides the steps per epoch of every run.

    Keras 3 writes ``epoch_*`` inside the ``record_if(step % update_freq == 0)``
    context of the epoch's last batch: a non-dividing N silently loses whole
    epochs of train and validation curves.
    """
    module = _module(name)
    for spec in load(name).runs():
        p = module.run_params(spec, module.DEFAULTS)
        steps = p["n_train"] // p["batch_size"]
        assert steps >= 4, spec.name
        update_freq = p.get("update_freq", "epoch")  # the legacy layout logs every batch or none
        if update_freq != "epoch":
            assert steps % update_freq == 0, (spec.name, steps, update_freq)


def test_unknown_params_are_refused() -> None:
    module = _module("keras_cnn_shapes")
    spec = dataclasses.replace(load("keras_cnn_shapes").runs()[0], params={"epochz": 3})
    with pytest.raises(ValueError, match="epochz"):
        module.run_params(spec, module.DEFAULTS)


def test_tensorboard_callback_refuses_a_non_dividing_update_freq() -> None:
    keras = pytest.importorskip("keras")
    from benchmarks.corpus.programs.keras_mlp_digits import tensorboard_callback

    with pytest.raises(ValueError, match="does not divide"):
        tensorboard_callback(keras, Path("unused"), 3, 8)


def _per_batch(steps: np.ndarray, running: np.ndarray, steps_per_epoch: int) -> np.ndarray:
    """Undo Keras' within-epoch running mean of ``batch_loss`` logged at every step."""
    k = (steps - 1) % steps_per_epoch + 1
    previous = np.concatenate([[0.0], running[:-1]])
    return np.where(k == 1, running, k * running - (k - 1) * previous)


def _train_tiny(name: str, run: str, overrides: dict[str, Any], out: Path) -> tuple[dict[str, Any], dict]:
    require_tensorflow()
    from benchmarks.corpus.scalars import read_run

    program = load(name)
    spec = next(r for r in program.runs() if r.name == run)
    spec = dataclasses.replace(spec, params={**spec.params, **overrides})
    facts = program.train(spec, out)
    curves = read_run(out)
    missing = set(facts.tags.values()) - set(curves)
    assert not missing, (missing, sorted(curves))
    assert facts.steps == {role: "step" if role == "batch_loss" else "epoch" for role in facts.tags}
    epochs = overrides["epochs"]
    for role, tag in facts.tags.items():
        steps, _ = curves[tag]
        expected = epochs * facts.steps_per_epoch if role == "batch_loss" else epochs
        assert len(steps) == expected, (role, len(steps), expected)
    return facts.to_json(), curves


def test_digits_bad_batch_lands_in_the_epoch_it_is_declared_for(tmp_path: Path) -> None:
    """The x40 batch must show in the declared epoch (Keras calls PyDataset.on_epoch_end once before training)."""
    facts, curves = _train_tiny(
        "keras_mlp_digits",
        "loss_spikes",
        {"epochs": 5, "n_train": 256, "n_val": 64, "lr": 0.01, "spike_epochs": [3]},
        tmp_path,
    )
    steps, running = curves[facts["tags"]["batch_loss"]]
    per_batch = _per_batch(steps, running, facts["steps_per_epoch"])
    worst = int(steps[np.argmax(per_batch)])
    assert [worst] == facts["injected"]["bad_batch_steps"], str(per_batch.round(3).tolist())
    assert (worst - 1) // facts["steps_per_epoch"] == 3
    assert per_batch.max() > 5 * np.median(per_batch)


def test_autoencoder_glitch_lands_at_the_declared_step(tmp_path: Path) -> None:
    facts, curves = _train_tiny(
        "keras_autoencoder",
        "loss_spikes",
        {"epochs": 3, "n_train": 512, "n_val": 64, "glitches": [0.5]},
        tmp_path,
    )
    steps, running = curves[facts["tags"]["batch_loss"]]
    per_batch = _per_batch(steps, running, facts["steps_per_epoch"])
    assert [int(steps[np.argmax(per_batch)])] == facts["injected"]["glitch_steps"]
    assert per_batch.max() > 5 * np.median(per_batch)
    assert facts["metric"] == "mae" and facts["tags"]["val_metric"] == "validation/epoch_mae"


def test_legacy_single_folder_writes_keras2_tags_and_raw_batch_values(tmp_path: Path) -> None:
    """One folder, Keras 2 tag names, raw per-batch losses: the mislabelled batch is the worst at its declared step."""
    facts, curves = _train_tiny(
        "keras_legacy_single_folder",
        "loss_spikes",
        {"epochs": 4, "n_train": 256, "n_val": 64, "lr": 0.01, "spike_epochs": [3]},
        tmp_path,
    )
    assert {"loss", "acc", "val_loss", "val_acc", "lr", "batch_loss", "batch_acc"} <= set(curves)
    steps, per_batch = curves[facts["tags"]["batch_loss"]]
    assert steps[0] == 0 and curves["loss"][0][0] == 0
    assert [int(steps[np.argmax(per_batch)])] == facts["injected"]["bad_batch_steps"], per_batch.round(3).tolist()
    assert per_batch.max() > 5 * np.median(per_batch)
