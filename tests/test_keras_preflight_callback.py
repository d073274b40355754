"""`DiagnosisCallback(preflight=True)` in real fits: the pre-flight checks run on the fit's first batches before
the first step, are on disk before it, leave the training exactly as it would have been, and say what they cost."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.util import tensor_util

from tests.conftest import require_tensorflow

tf = require_tensorflow()

import keras  # noqa: E402

from tb_recipe_plugin import internal_tags as tags  # noqa: E402
from tb_recipe_plugin.internal_tags import Check, Measure  # noqa: E402
from tb_recipe_plugin.keras import DiagnosisCallback  # noqa: E402
from tb_recipe_plugin.keras.callback import PREFLIGHT_BATCHES  # noqa: E402
from tests.keras_runs import blobs, compiled, mlp  # noqa: E402


def written(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    """Tag -> (step, value) of the scalars in the callback's own event files."""
    out: dict[str, list[tuple[int, float]]] = {}
    for path in sorted((logdir / "train").glob("events.out.tfevents.*.tb_recipe")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                array = tensor_util.make_ndarray(value.tensor)  # the loader turns simple values into tensors
                number = float(array) if array.dtype.kind == "f" and array.size == 1 else float("nan")
                out.setdefault(value.tag, []).append((event.step, number))
    return out


LABEL_10 = r"label value of 10|10 is not in \[0, 10\)"
"""TensorFlow's words for a class id 10 among 10 units (the second under `enable_op_determinism`)."""


def passed(found: dict, check: Check) -> float | None:
    points = found.get(tags.preflight_tag(check, Measure.PASSED))
    return points[0][1] if points else None


def test_a_healthy_fit_with_preflight_trains_as_without_it(tmp_path, capsys):
    x, y = blobs(n=800)
    keras.utils.set_random_seed(5)
    model = compiled(mlp(), keras.optimizers.Adam(1e-3))
    twin = compiled(mlp(), keras.optimizers.Adam(1e-3))
    twin.set_weights(model.get_weights())
    callback = DiagnosisCallback(str(tmp_path / "logs"), update_freq=10, print_diagnosis=False, preflight=True)
    history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0, callbacks=[callback])
    reference = twin.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    assert history.history["loss"] == reference.history["loss"]  # same batches, same order, same weights
    for a, b in zip(model.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    found = written(tmp_path / "logs")
    assert all(tags.parse_tag(tag) is not None for tag in found)
    assert passed(found, Check.NONFINITE_INPUTS) == 1.0 and passed(found, Check.BATCH_MIXING) == 1.0
    assert passed(found, Check.INPUTS_IGNORED) is not None  # PREFLIGHT_BATCHES batches give it held-out rows
    assert tags.PREFLIGHT_SUMMARY in found and tags.PREFLIGHT_SECONDS in found
    err = capsys.readouterr().err
    assert "tb-recipe pre-flight checks:" in err and "training steps of this model" in err


def test_results_are_on_disk_before_a_fit_that_then_crashes(tmp_path):
    """Labels 0..10 for 10 output units: the first step fails inside TensorFlow; the checks said why first."""
    x, y = blobs(n=400)
    y = y.copy()
    y[::7] = 10
    keras.utils.set_random_seed(6)
    model = compiled(mlp(), keras.optimizers.Adam(1e-3))
    callback = DiagnosisCallback(str(tmp_path / "logs"), print_diagnosis=False, preflight=True)
    with warnings.catch_warnings(), pytest.raises(tf.errors.InvalidArgumentError, match=LABEL_10):
        warnings.simplefilter("ignore", RuntimeWarning)
        # unshuffled, so the first batch (row 0 among them) has a label 10 and the first step fails
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0, callbacks=[callback])
    callback.close()
    found = written(tmp_path / "logs")
    assert passed(found, Check.LABELS_OUT_OF_RANGE) == 0.0
    assert found[tags.preflight_tag(Check.LABELS_OUT_OF_RANGE, Measure.LABEL_MAX)][0][1] == 10.0
    # The real weights are not compared here: under `enable_op_determinism` (which other tests in this process
    # switch on) TensorFlow reports the bad index after the failing step's updates have run. That the checks
    # leave the model alone is `test_a_healthy_fit_with_preflight_trains_as_without_it` and test_preflight.py.


def test_preflight_sees_the_first_batches_only_once_per_fit(tmp_path):
    """A second fit of the same model with the same callback runs the checks again, on its own first batches."""
    x, y = blobs(n=320)
    model = compiled(mlp(), keras.optimizers.Adam(1e-3))
    only_nonfinite = {"skip": [c for c in Check if c != Check.NONFINITE_INPUTS]}
    callback = DiagnosisCallback(
        str(tmp_path / "logs"), print_diagnosis=False, preflight=True, preflight_options=only_nonfinite
    )
    x2 = x.copy()
    x2[0, 0] = np.nan  # only the second fit's first batch has a NaN
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[callback])
    first = passed(written(tmp_path / "logs"), Check.NONFINITE_INPUTS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(x2, y, batch_size=32, epochs=1, shuffle=False, verbose=0, callbacks=[callback])
    values = [v for _, v in written(tmp_path / "logs")[tags.preflight_tag(Check.NONFINITE_INPUTS, Measure.PASSED)]]
    assert first == 1.0 and values == [1.0, 0.0]
    rows = written(tmp_path / "logs")[tags.preflight_tag(Check.NONFINITE_INPUTS, Measure.SEEN)]
    assert rows[-1][1] == PREFLIGHT_BATCHES * 32


def test_unknown_preflight_options_are_refused():
    with pytest.raises(ValueError, match="preflight_options"):
        DiagnosisCallback(preflight=True, preflight_options={"lr_rangetest": True})
