"""The pre-flight checks of a real fit, as the end-of-fit print and `tb-recipe analyze` show them (TensorFlow).

`DiagnosisCallback(preflight=True)` writes the results beside its other summaries and keeps them for its end-of-fit
diagnosis (the CLI's text report): the checklist is printed under the verdict, a failed check is a finding, and a
fit that crashes on its first step still leaves a run that `analyze_run` diagnoses from the checks alone.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tests.conftest import require_tensorflow

tf = require_tensorflow()

import keras  # noqa: E402

from tb_recipe_plugin.analysis.analyzer import analyze_run  # noqa: E402
from tb_recipe_plugin.io.loader import iter_runs  # noqa: E402
from tb_recipe_plugin.keras import DiagnosisCallback  # noqa: E402
from tb_recipe_plugin.keras.callback import PREFLIGHT_BATCHES  # noqa: E402
from tb_recipe_plugin.present.json_report import run_to_dict  # noqa: E402
from tests.invariants import violations  # noqa: E402
from tests.keras_runs import blobs, compiled, mlp  # noqa: E402


def test_the_end_of_fit_print_shows_the_checklist_under_the_verdict(tmp_path, capsys):
    x, y = blobs(n=640)
    y = np.random.default_rng(3).permutation(y)  # labels shuffled apart from their inputs
    keras.utils.set_random_seed(7)
    model = compiled(mlp(), keras.optimizers.Adam(1e-3))
    callback = DiagnosisCallback(str(tmp_path / "logs"), update_freq=10, preflight=True)
    model.fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=[callback])
    out = " ".join(capsys.readouterr().out.split())  # the print wraps at the terminal's width
    verdict = out.index("The model ignores its inputs: after 40 steps the held-out loss is")
    checklist = out.index("Pre-flight: 6 passed, 1 failed (inputs_ignored), 1 not applicable (")
    assert verdict < checklist < out.index("try next:")
    assert "FAILED Inputs used: held-out loss" in out and "on zeroed inputs after 40 steps" in out
    assert f"passed Finite inputs: 0 of {PREFLIGHT_BATCHES * 32} rows hold NaN/Inf (0 values)" in out
    assert "(inputs_ignored, before training, confidence 0.80)" in out
    # The same from the files on disk, as `tb-recipe analyze` reads them.
    (run,) = list(iter_runs(str(tmp_path / "logs")))
    report = analyze_run(run)
    assert "inputs_ignored" in {f.code for f in report.findings}
    checks = {c.code: c.passed for c in report.preflight.checks}
    assert checks["inputs_ignored"] is False and checks["nonfinite_inputs"] is True
    for lang in ("en", "zh"):
        assert not violations(report, lang)


def test_a_fit_that_crashes_on_its_first_step_is_diagnosed_from_the_checks(tmp_path):
    x, y = blobs(n=400)
    y = y.copy()
    y[::7] = 10  # 10 output units: labels 0..10
    keras.utils.set_random_seed(6)
    model = compiled(mlp(), keras.optimizers.Adam(1e-3))
    callback = DiagnosisCallback(str(tmp_path / "logs"), print_diagnosis=False, preflight=True)
    with warnings.catch_warnings(), pytest.raises(Exception):  # noqa: B017, PT011 - TensorFlow's own error
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[callback])
    callback.close()
    (run,) = list(iter_runs(str(tmp_path / "logs")))
    report = analyze_run(run)
    assert report.status == "error" and report.diagnosis.primary == "labels_out_of_range"
    doc = run_to_dict(report)
    assert doc["diagnosis"]["verdict"].startswith("The class labels run from 0 to 10 but the output has 10 units")
    assert doc["diagnosis"]["actions"][0]["action"].startswith("Give the output layer 11 units (`Dense(11)`)")
    assert doc["preflight"]["failed"] == 1
    for lang in ("en", "zh"):
        assert not violations(report, lang)
