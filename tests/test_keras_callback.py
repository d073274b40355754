"""The Keras callback on real TensorFlow training: exact values, faults, set-ups, and never breaking training."""

from __future__ import annotations

import json
import os
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
from tb_recipe_plugin.analysis.analyzer import analyze_run  # noqa: E402
from tb_recipe_plugin.analysis.rules import CALLBACK_CODES, RULES  # noqa: E402
from tb_recipe_plugin.analysis.series import RunData  # noqa: E402
from tb_recipe_plugin.internal_tags import LayerStat, Window  # noqa: E402
from tb_recipe_plugin.io.loader import iter_runs  # noqa: E402
from tb_recipe_plugin.keras import DiagnosisCallback  # noqa: E402
from tb_recipe_plugin.present.catalogue import FINDINGS, SUGGESTIONS  # noqa: E402
from tests.keras_runs import blobs, compiled, fault_run, mlp, trained_logdir  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
INTERNAL_CODES = CALLBACK_CODES


def test_internal_codes_are_rules_in_the_catalogue():
    assert len(INTERNAL_CODES) == 8
    assert INTERNAL_CODES <= set(FINDINGS) and INTERNAL_CODES <= {rule.code for rule in RULES}


def one_run(logdir: Path) -> RunData:
    runs = list(iter_runs(str(logdir)))
    assert len(runs) == 1, [r.name for r in runs]
    return runs[0]


def values(run: RunData, internal_tag: str) -> tuple[np.ndarray, np.ndarray]:
    s = run.series[f"train/{internal_tag}"]
    return s.steps, s.values


def quiet(log_dir: Path, **kwargs: object) -> DiagnosisCallback:
    kwargs.setdefault("print_diagnosis", False)
    return DiagnosisCallback(str(log_dir), **kwargs)


# ---------------------------------------------------------------------- exact values


def test_gradient_norms_and_batch_losses_equal_gradient_tape(tmp_path):
    keras.utils.set_random_seed(0)
    x, y = blobs(n=256)
    model = compiled(mlp(depth=2, width=16), keras.optimizers.SGD(0.1))
    initial = model.get_weights()
    model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0, callbacks=[quiet(tmp_path, update_freq=3)])

    replay = compiled(mlp(depth=2, width=16), keras.optimizers.SGD(0.1))
    replay.set_weights(initial)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    global_norms, layer_norms, losses = [], [], []
    for i in range(4):
        xb, yb = x[i * 64 : (i + 1) * 64], y[i * 64 : (i + 1) * 64]
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, replay(xb, training=True))
        grads = tape.gradient(loss, replay.trainable_variables)
        losses.append(float(loss))
        global_norms.append(float(tf.linalg.global_norm(grads)))
        layer_norms.append([float(tf.linalg.global_norm(grads[j : j + 2])) for j in range(0, len(grads), 2)])
        replay.optimizer.apply(grads, replay.trainable_variables)

    run = one_run(tmp_path)
    steps, recorded = values(run, tags.GRAD_NORM)
    assert steps.tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(recorded, global_norms, rtol=1e-4)
    np.testing.assert_allclose(values(run, tags.BATCH_LOSS)[1], losses, rtol=1e-5)
    per_layer = tags.find_internals(run.series).per_layer(LayerStat.GRAD_NORM)
    assert len(per_layer) == 3
    # Per-layer values are window means: reads after steps 3 and 4 (update_freq=3, then the epoch end).
    for j, series in enumerate(per_layer.values()):
        expected = [np.mean([layer_norms[i][j] for i in range(3)]), layer_norms[3][j]]
        np.testing.assert_allclose(series.values, expected, rtol=1e-4)
    # The weights it trained to are the replay's: the callback did not change the step.
    for a, b in zip(model.get_weights(), replay.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_model_and_optimizer_are_restored_exactly(tmp_path):
    keras.utils.set_random_seed(3)
    x, y = blobs(n=512)
    with_cb = compiled(mlp(), keras.optimizers.Adam(1e-3))
    without = compiled(mlp(), keras.optimizers.Adam(1e-3))
    without.set_weights(with_cb.get_weights())
    with_cb.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0, callbacks=[quiet(tmp_path, update_freq=7)])
    without.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)

    for a, b in zip(with_cb.get_weights(), without.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for a, b in zip(with_cb.optimizer.variables, without.optimizer.variables, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    assert "apply" not in vars(with_cb.optimizer) and "make_train_function" not in vars(with_cb)
    assert len(with_cb.variables) == len(without.variables)
    assert len(with_cb.optimizer.variables) == len(without.optimizer.variables)
    assert with_cb.train_function is None  # re-traced without the wrapper on the next fit
    before = [w.copy() for w in with_cb.get_weights()]
    with_cb.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, with_cb.get_weights(), strict=True))
    with_cb.save(tmp_path / "model.keras")  # nothing of ours is tracked by the model


# ---------------------------------------------------------------------- faults

FAULT_CASES = [
    ("vanishing", "vanishing_gradients"),
    ("exploding", "exploding_gradients"),
    ("nan_input", "nonfinite_gradients"),
    ("dead_relu", "dying_relu"),
    ("saturated", "saturated_activations"),
    ("update_high", "update_ratio_high"),
    ("update_low", "update_ratio_low"),
    ("unnormalized", "initial_loss_off"),
]
_reports: dict[str, set[str]] = {}


def fault_codes(name: str, tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    if name not in _reports:
        _reports[name] = {f.code for f in analyze_run(one_run(trained_logdir(name, tmp_path_factory))).findings}
    return _reports[name]


@pytest.mark.parametrize(("fault", "code"), FAULT_CASES, ids=[f"{f}-{c}" for f, c in FAULT_CASES])
def test_internal_rule_fires_on_its_fault(fault, code, tmp_path_factory):
    assert code in fault_codes(fault, tmp_path_factory)


def test_no_internal_finding_on_a_healthy_run(tmp_path_factory):
    assert fault_codes("healthy", tmp_path_factory) & INTERNAL_CODES == set()


def test_every_internal_code_has_a_fault_case():
    assert {code for _, code in FAULT_CASES} == INTERNAL_CODES


# ---------------------------------------------------------------------- set-ups


def test_mixed_precision_unscales_and_counts_loss_scaler_skips(tmp_path):
    keras.utils.set_random_seed(5)
    x, y = blobs(n=1024)
    reference = compiled(mlp(), keras.optimizers.Adam(1e-3))
    initial = reference.get_weights()
    reference.fit(x, y, batch_size=64, epochs=2, shuffle=False, verbose=0, callbacks=[quiet(tmp_path / "fp32")])
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = mlp()
        # A scale of 2^40 overflows float16 at once: the scaler skips steps and halves it until it fits.
        optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-3), initial_scale=2.0**40)
        compiled(model, optimizer)
        model.set_weights(initial)
        model.fit(x, y, batch_size=64, epochs=2, shuffle=False, verbose=0, callbacks=[quiet(tmp_path / "mixed")])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    mixed, fp32 = one_run(tmp_path / "mixed"), one_run(tmp_path / "fp32")
    skipped = int(values(mixed, tags.window_tag(Window.SKIPPED_STEPS))[1].sum())
    assert 20 <= skipped <= 30  # 2^40 down to 2^15..2^11
    assert values(mixed, tags.window_tag(Window.NONFINITE_GRAD_STEPS))[1].sum() == 0
    norms = values(mixed, tags.GRAD_NORM)[1]
    assert norms.size == 32 - skipped and np.all(np.isfinite(norms))
    ratio = np.median(norms) / np.median(values(fp32, tags.GRAD_NORM)[1])
    assert 0.7 < ratio < 1.4, ratio  # unscaled: the float32 run's magnitude, not 2^15 times it
    codes = {f.code for f in analyze_run(mixed).findings}
    assert "nonfinite_gradients" not in codes and "nonfinite_loss" not in codes


def test_xla_and_steps_per_execution_keep_every_step(tmp_path):
    keras.utils.set_random_seed(6)
    x, y = blobs(n=1216)  # 19 batches of 64: not a multiple of steps_per_execution
    model = compiled(mlp(), keras.optimizers.Adam(1e-3), jit_compile=True, steps_per_execution=4)
    model.fit(x, y, batch_size=64, epochs=2, verbose=0, callbacks=[quiet(tmp_path, update_freq=10)])
    run = one_run(tmp_path)
    for tag in (tags.BATCH_LOSS, tags.GRAD_NORM):
        steps, vals = values(run, tag)
        assert steps.tolist() == list(range(1, 39)) and np.all(np.isfinite(vals))
    loss = values(run, tags.BATCH_LOSS)[1]
    assert loss[-5:].mean() < loss[:5].mean()
    # Update ratios are measured over the call after each read, epoch-end reads included.
    ratios = tags.find_internals(run.series).per_layer(LayerStat.UPDATE_RATIO)
    assert len(ratios) == 4 and all(np.all(s.values > 1e-5) and len(s) >= 3 for s in ratios.values())


MIRRORED = textwrap.dedent(
    """
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from tb_recipe_plugin.keras import DiagnosisCallback
    from tb_recipe_plugin import internal_tags as tags
    from tb_recipe_plugin.io.loader import iter_runs
    from tests.keras_runs import blobs, compiled, mlp
    keras.utils.set_random_seed(0)
    x, y = blobs(n=256)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = compiled(mlp(depth=2, width=16), keras.optimizers.SGD(0.1))
    initial = model.get_weights()
    cb = DiagnosisCallback(sys.argv[1], update_freq=2, print_diagnosis=False)
    model.fit(x, y, batch_size=64, epochs=2, shuffle=False, verbose=0, callbacks=[cb])
    replay = compiled(mlp(depth=2, width=16), keras.optimizers.SGD(0.1))
    replay.set_weights(initial)
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy()(y[:64], replay(x[:64], training=True))
    grads = tape.gradient(loss, replay.trainable_variables)
    (run,) = list(iter_runs(sys.argv[1]))
    s = run.series[f"train/{tags.GRAD_NORM}"]
    b = run.series[f"train/{tags.BATCH_LOSS}"]
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "steps": s.steps.tolist(),
        "norm": s.values.tolist(),
        "loss": b.values.tolist(),
        "tape_norm": float(tf.linalg.global_norm(grads)),
        "tape_loss": float(loss),
        "restored": "apply" not in vars(model.optimizer),
    }))
    """
)


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(tmp_path / "logs")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2 and result["restored"]
    assert result["steps"] == list(range(1, 9))
    # The statistics come from the all-reduced gradient: the whole global batch's gradient.
    np.testing.assert_allclose(result["norm"][0], result["tape_norm"], rtol=1e-4)
    np.testing.assert_allclose(result["loss"][0], result["tape_loss"], rtol=1e-4)


def test_subclassed_model_gets_activation_statistics(tmp_path):
    class Net(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.hidden = keras.layers.Dense(32, activation="relu")
            self.out = keras.layers.Dense(10, activation="softmax")

        def call(self, x):  # noqa: ANN001, ANN201
            return self.out(self.hidden(x))

    keras.utils.set_random_seed(7)
    x, y = blobs(n=512)
    model = compiled(Net(), keras.optimizers.Adam(1e-3))
    model.fit(x, y, batch_size=64, epochs=2, verbose=0, callbacks=[quiet(tmp_path, probe_data=(x[:64], y[:64]))])
    found = tags.find_internals(one_run(tmp_path).series)
    hidden, out = model.hidden.name, model.out.name
    dead = found.per_layer(LayerStat.DEAD_FRACTION)
    assert list(dead) == [hidden] and 0.0 <= dead[hidden].values[-1] < 0.5
    assert list(found.per_layer(LayerStat.ACT_STD)) == [hidden, out]
    assert list(found.per_layer(LayerStat.GRAD_NORM)) == [hidden, out]


def test_keras_tensorboard_and_callback_make_one_run(tmp_path, capsys):
    keras.utils.set_random_seed(8)
    x, y = blobs(n=1024)
    model = compiled(mlp(), keras.optimizers.Adam(1e-3))
    model.fit(
        x,
        y,
        batch_size=64,
        epochs=3,
        validation_split=0.25,
        verbose=0,
        callbacks=[keras.callbacks.TensorBoard(str(tmp_path)), DiagnosisCallback(str(tmp_path))],
    )
    run = one_run(tmp_path)
    assert {"train/epoch_loss", "validation/epoch_loss", f"train/{tags.GRAD_NORM}"} <= set(run.series)
    report = analyze_run(run)
    assert report.roles["batch_loss"].tag == f"train/{tags.BATCH_LOSS}"  # raw, not Keras' running mean
    assert report.roles["val_loss"].tag == "validation/epoch_loss"
    printed = capsys.readouterr().out
    assert "1 run:" in printed and tmp_path.name in printed  # the diagnosis printed when fit ends
    assert run.series[f"train/{tags.GRAD_NORM}"].wall_times.min() > 1.6e9
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "train"), size_guidance={"tensors": 0})
    acc.Reload()
    config = acc.Tensors(tags.CONFIG)[0].tensor_proto.string_val[0].decode()
    assert '"optimizer": "Adam"' in config and '"num_classes": 10' in config and '"batch_size": 64' in config


@pytest.mark.parametrize(
    ("cluster", "task_type", "task_id", "chief"),
    [
        ({}, None, None, True),
        ({"chief": ["a:1"], "worker": ["b:1", "c:1"]}, "chief", 0, True),
        ({"chief": ["a:1"], "worker": ["b:1", "c:1"]}, "worker", 0, False),
        ({"worker": ["b:1", "c:1"]}, "worker", 0, True),
        ({"worker": ["b:1", "c:1"]}, "worker", 1, False),
    ],
)
def test_only_the_chief_writes_in_multi_worker_training(cluster, task_type, task_id, chief):
    from tb_recipe_plugin.keras.callback import _is_chief

    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id
    )
    strategy = type("Strategy", (), {"cluster_resolver": resolver})()
    assert _is_chief(strategy) is chief
    assert _is_chief(tf.distribute.get_strategy()) is True


# ---------------------------------------------------------------------- never break training


def test_unwritable_log_dir_warns_once_and_training_goes_on(tmp_path, capsys):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the log dir should be")
    keras.utils.set_random_seed(9)
    x, y = blobs(n=512)
    model = compiled(mlp(), keras.optimizers.Adam(1e-3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(
            x, y, batch_size=32, epochs=3, verbose=0, callbacks=[DiagnosisCallback(str(blocker), update_freq=5)]
        )
    ours = [w for w in caught if "tb-recipe" in str(w.message)]
    assert len(ours) == 1 and "write" in str(ours[0].message)
    assert len(history.epoch) == 3
    assert "1 run:" in capsys.readouterr().out  # the console diagnosis still works from memory


def test_writer_failing_mid_training_warns_once(tmp_path, monkeypatch):
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    calls = {"n": 0}
    original = EventFileWriter.add_event

    def flaky(self, event):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] > 50:
            raise OSError("disk full")
        return original(self, event)

    monkeypatch.setattr(EventFileWriter, "add_event", flaky)
    keras.utils.set_random_seed(10)
    x, y = blobs(n=512)
    model = compiled(mlp(), keras.optimizers.Adam(1e-3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=[quiet(tmp_path, update_freq=4)])
    ours = [w for w in caught if "tb-recipe" in str(w.message)]
    assert len(ours) == 1 and "disk full" in str(ours[0].message)
    assert len(history.epoch) == 3


def test_terminate_on_nonfinite_stops_with_a_message(tmp_path, capsys):
    model, x, y = fault_run("nan_input")
    cb = quiet(tmp_path, update_freq=5, terminate_on_nonfinite=True)
    history = model.fit(x, y, batch_size=64, epochs=8, verbose=0, callbacks=[cb])
    assert len(history.epoch) < 8
    err = capsys.readouterr().err
    assert "non-finite gradients from step" in err and "Training stopped" in err
    # the catalogue's advice, word for word (issue 9: not a second, different wording in the callback)
    assert SUGGESTIONS["clip_gradients"]["en"]["action"] in err and SUGGESTIONS["lower_lr"]["en"]["action"] in err


def test_the_callback_speaks_the_language_it_is_given(tmp_path, capsys):
    """The NaN warning and the end-of-fit diagnosis in Chinese, from the same catalogue as the CLI."""
    model, x, y = fault_run("nan_input")
    cb = DiagnosisCallback(str(tmp_path), update_freq=5, terminate_on_nonfinite=True, lang="zh")
    model.fit(x, y, batch_size=64, epochs=8, verbose=0, callbacks=[cb])
    captured = capsys.readouterr()
    assert "梯度出现非有限值" in captured.err and SUGGESTIONS["clip_gradients"]["zh"]["action"] in captured.err
    assert "下一步" in captured.out and "错误" in captured.out  # the printed report: actions heading, severity
    assert "Try next" not in captured.out and "try next" not in captured.out


def test_bad_lang_is_rejected():
    with pytest.raises(ValueError, match="lang"):
        DiagnosisCallback("logs", lang="fr")


def test_bad_update_freq_is_rejected():
    with pytest.raises(ValueError, match="update_freq"):
        DiagnosisCallback("logs", update_freq=0)
