"""Defect 7: a fit that raises leaves no trace of the callback on the model, whatever comes next.

Keras does not call ``on_train_end`` when ``fit`` raises. Each test aborts a
real fit the way it happens (another callback failing, Ctrl-C) and checks
what the model is afterwards: its optimizer's ``apply`` is the class's own
again, no stale traced function runs the statistics, the log file holds
everything up to the interrupt and is closed, and training afterwards gives
the very weights of a twin model that never saw the callback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import require_tensorflow

tf = require_tensorflow()

import keras  # noqa: E402

from tb_recipe_plugin import internal_tags as tags  # noqa: E402
from tb_recipe_plugin.io.loader import iter_runs  # noqa: E402
from tb_recipe_plugin.keras import DiagnosisCallback, adapter  # noqa: E402
from tests.keras_runs import blobs, compiled, mlp  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BATCH = 64
SAMPLES = 640  # 10 steps an epoch
ABORT_STEP = 13  # in the second epoch


class FailAtEpochEnd(keras.callbacks.Callback):
    """Another callback raising in ``on_epoch_end`` (say, a checkpoint to a full disk)."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        raise RuntimeError("disk full")


class FailAtBatchEnd(keras.callbacks.Callback):
    """Another callback raising in ``on_train_batch_end`` at a given global step."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step, self.seen = step, 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.seen += 1
        if self.seen == self.step:
            raise RuntimeError("bad batch")


class CtrlC(FailAtBatchEnd):
    """Ctrl-C: SIGINT through Python's own handler, which raises KeyboardInterrupt inside fit."""

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.seen += 1
        if self.seen == self.step:
            signal.raise_signal(signal.SIGINT)


ABORTS = {
    "epoch_end": (lambda: FailAtEpochEnd(), RuntimeError, SAMPLES // BATCH),  # (make, raises, steps run)
    "batch_end": (lambda: FailAtBatchEnd(ABORT_STEP), RuntimeError, ABORT_STEP),
    "ctrl_c": (lambda: CtrlC(ABORT_STEP), KeyboardInterrupt, ABORT_STEP),
}


def twins(seed: int) -> tuple[keras.Model, keras.Model, np.ndarray, np.ndarray]:
    """Two identical compiled models (same weights, same optimizer) and their data."""
    keras.utils.set_random_seed(seed)
    x, y = blobs(n=SAMPLES, seed=seed)
    model = compiled(mlp(depth=2, width=32), keras.optimizers.Adam(1e-3))
    twin = compiled(mlp(depth=2, width=32), keras.optimizers.Adam(1e-3))
    twin.set_weights(model.get_weights())
    return model, twin, x, y


def fit(model: keras.Model, x: np.ndarray, y: np.ndarray, callbacks: list, epochs: int = 3) -> None:
    model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks)


def aborted_fit(model: keras.Model, x: np.ndarray, y: np.ndarray, abort: str, callbacks: list) -> None:
    make, error, _ = ABORTS[abort]
    with pytest.raises(error):
        fit(model, x, y, [*callbacks, make()])


def quiet(log_dir: Path, **kwargs: object) -> DiagnosisCallback:
    kwargs.setdefault("print_diagnosis", False)
    kwargs.setdefault("update_freq", 1000)  # no read before the abort: everything recorded is in flight
    return DiagnosisCallback(str(log_dir), **kwargs)


def assert_untouched(model: keras.Model) -> None:
    """Nothing of ours left on the model or its optimizer: the class methods show through again."""
    assert "apply" not in vars(model.optimizer)
    assert "make_train_function" not in vars(model)
    assert model.optimizer.apply.__func__ is type(model.optimizer).apply
    assert model.make_train_function.__func__ is type(model).make_train_function


def assert_same_training(model: keras.Model, twin: keras.Model) -> None:
    for a, b in zip(model.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert len(model.optimizer.variables) == len(twin.optimizer.variables)
    for a, b in zip(model.optimizer.variables, twin.optimizer.variables, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


def recorded_steps(log_dir: Path) -> list[int]:
    runs = list(iter_runs(str(log_dir)))
    assert len(runs) == 1, [r.name for r in runs]
    tag = f"train/{tags.BATCH_LOSS}"
    assert tag in runs[0].series, (sorted(runs[0].series), runs[0].errors, sorted(os.listdir(log_dir / "train")))
    return runs[0].series[tag].steps.tolist()


def assert_closed_and_complete(callback: DiagnosisCallback, log_dir: Path, steps: int) -> None:
    """Writer closed; its file holds every step up to the interrupt, read back from disk."""
    assert callback._writer is None
    assert recorded_steps(log_dir) == list(range(1, steps + 1))


@pytest.mark.parametrize("abort", list(ABORTS))
def test_plain_fit_after_an_aborted_fit_is_as_if_the_callback_never_was(abort, tmp_path):
    model, twin, x, y = twins(seed=1)
    callback = quiet(tmp_path / "logs")
    aborted_fit(model, x, y, abort, [callback])
    aborted_fit(twin, x, y, abort, [])
    stats_step = int(callback._stats.step.numpy())
    assert stats_step == ABORTS[abort][2]

    fit(model, x, y, [])  # no DiagnosisCallback at all
    fit(twin, x, y, [])

    assert_untouched(model)
    # The stale traced step (with the statistics ops) did not run: our step counter did not move.
    assert int(callback._stats.step.numpy()) == stats_step
    assert_same_training(model, twin)
    assert_closed_and_complete(callback, tmp_path / "logs", stats_step)


def test_train_on_batch_after_an_aborted_fit(tmp_path):
    """``train_on_batch`` fetches the train function like ``fit`` does: the stale step must not run there either."""
    model, twin, x, y = twins(seed=7)
    callback = quiet(tmp_path / "logs")
    aborted_fit(model, x, y, "ctrl_c", [callback])
    aborted_fit(twin, x, y, "ctrl_c", [])
    for m in (model, twin):
        m.train_on_batch(x[:BATCH], y[:BATCH])
    assert_untouched(model)
    assert int(callback._stats.step.numpy()) == ABORT_STEP
    assert_same_training(model, twin)
    assert_closed_and_complete(callback, tmp_path / "logs", ABORT_STEP)


@pytest.mark.parametrize("same_instance", [False, True], ids=["new_callback", "same_callback"])
def test_fit_with_a_callback_after_an_aborted_fit(same_instance, tmp_path):
    model, twin, x, y = twins(seed=2)
    first = quiet(tmp_path / "first")
    aborted_fit(model, x, y, "batch_end", [first])
    aborted_fit(twin, x, y, "batch_end", [])

    second = first if same_instance else quiet(tmp_path / "second")
    if same_instance:
        second.log_dir = str(tmp_path / "second")
    fit(model, x, y, [second], epochs=2)
    fit(twin, x, y, [], epochs=2)

    assert_untouched(model)
    assert_same_training(model, twin)
    assert recorded_steps(tmp_path / "first") == list(range(1, ABORT_STEP + 1))
    # The second fit's statistics carry on from the optimizer's step count.
    assert recorded_steps(tmp_path / "second") == list(range(ABORT_STEP + 1, ABORT_STEP + 21))
    assert first._writer is None and second._writer is None


def test_two_callbacks_in_one_fit_record_once_and_leave_nothing(tmp_path):
    model, twin, x, y = twins(seed=3)
    a, b = quiet(tmp_path / "a", update_freq=4), quiet(tmp_path / "b", update_freq=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(model, x, y, [a, b], epochs=2)
    fit(twin, x, y, [], epochs=2)
    assert_untouched(model)
    assert_same_training(model, twin)
    ours = [str(w.message) for w in caught if "tb-recipe" in str(w.message)]
    assert len(ours) == 1 and "already records this fit" in ours[0]
    assert recorded_steps(tmp_path / "a") == list(range(1, 21))
    assert not (tmp_path / "b").exists()


def test_two_callbacks_in_an_aborted_fit_then_a_plain_fit(tmp_path):
    model, twin, x, y = twins(seed=4)
    a, b = quiet(tmp_path / "a"), quiet(tmp_path / "b")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        aborted_fit(model, x, y, "ctrl_c", [a, b])
    aborted_fit(twin, x, y, "ctrl_c", [])
    fit(model, x, y, [])
    fit(twin, x, y, [])
    assert_untouched(model)
    assert_same_training(model, twin)
    assert_closed_and_complete(a, tmp_path / "a", ABORT_STEP)


def test_on_train_begin_unwinds_a_stale_callback_itself(tmp_path):
    """The next DiagnosisCallback detaches a stale one even when nothing else did (the fit-start hook bypassed)."""
    model, twin, x, y = twins(seed=5)
    stale = quiet(tmp_path / "stale")
    aborted_fit(model, x, y, "epoch_end", [stale])
    aborted_fit(twin, x, y, "epoch_end", [])
    # What Keras does at the start of a fit, minus make_train_function.
    fresh = quiet(tmp_path / "fresh")
    fresh.set_model(model)
    fresh.set_params({"epochs": 1, "steps": 10, "verbose": 0})
    fresh.on_train_begin()
    assert stale._writer is None and not stale._attached
    assert adapter.owner_of(model.optimizer, "apply") is fresh
    fresh.on_train_end()
    assert_untouched(model)
    assert_closed_and_complete(stale, tmp_path / "stale", SAMPLES // BATCH)
    fit(model, x, y, [])
    fit(twin, x, y, [])
    assert_same_training(model, twin)


def test_close_detaches_at_once(tmp_path):
    model, _, x, y = twins(seed=6)
    callback = quiet(tmp_path / "logs")
    aborted_fit(model, x, y, "ctrl_c", [callback])
    callback.close()
    assert_untouched(model)
    assert model.train_function is None  # the next fit traces a clean step
    assert_closed_and_complete(callback, tmp_path / "logs", ABORT_STEP)


EXIT_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import keras
    from tb_recipe_plugin.keras import DiagnosisCallback
    from tests.keras_runs import blobs, compiled, mlp

    class CtrlC(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 6:
                signal.raise_signal(signal.SIGINT)

    keras.utils.set_random_seed(0)
    x, y = blobs(n=640)
    model = compiled(mlp(depth=2, width=16), keras.optimizers.Adam(1e-3))
    cb = DiagnosisCallback(sys.argv[1], update_freq=1000, print_diagnosis=False)
    model.fit(x, y, batch_size=64, epochs=2, verbose=0, callbacks=[cb, CtrlC()])
    """
)


def test_interrupted_script_writes_what_it_recorded_at_exit(tmp_path):
    """Ctrl-C ends a script with the KeyboardInterrupt: at exit the callback reads, writes and closes."""
    out = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, str(tmp_path / "logs")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))},
    )
    assert "KeyboardInterrupt" in out.stderr, out.stderr[-3000:]
    assert recorded_steps(tmp_path / "logs") == list(range(1, 8))
    (run,) = iter_runs(str(tmp_path / "logs"))
    assert run.series[f"train/{tags.GRAD_NORM}"].steps.tolist() == list(range(1, 8))
