"""The Keras-internals adapter: version range, the fail-soft path, and no private Keras access elsewhere."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import require_tensorflow

tf = require_tensorflow()

import keras  # noqa: E402

from tb_recipe_plugin.keras import DiagnosisCallback, adapter  # noqa: E402
from tests.keras_runs import blobs, compiled, mlp  # noqa: E402

KERAS_DIR = Path(adapter.__file__).resolve().parent


def test_the_running_keras_is_in_the_supported_range():
    """CI runs every Keras test on the oldest supported Keras and on the newest the install resolves to.

    A Keras newer than `adapter.SUPPORTED` fails here on purpose: run the
    Keras tests on it, then extend the range.
    """
    assert adapter.unsupported_reason() is None, adapter.unsupported_reason()


@pytest.mark.parametrize("version", ["3.11.3", "3.16.0", "3.99.0.dev2031", "4.0.0", "2.15.0", "nightly"])
def test_versions_outside_the_range_are_refused(version, monkeypatch):
    monkeypatch.setattr(keras, "__version__", version)
    reason = adapter.unsupported_reason()
    assert reason is not None and version in reason and adapter.supported_range() in reason


@pytest.mark.parametrize("version", ["3.12.0", "3.13.2", "3.15.1", "3.15.9rc1"])
def test_versions_inside_the_range_are_accepted(version, monkeypatch):
    monkeypatch.setattr(keras, "__version__", version)
    assert adapter.unsupported_reason() is None


def _fit(model: keras.Model, x: np.ndarray, y: np.ndarray, callbacks: list) -> keras.callbacks.History:
    return model.fit(
        x, y, batch_size=32, epochs=3, validation_split=0.25, shuffle=False, verbose=0, callbacks=callbacks
    )


def test_unknown_keras_version_warns_once_touches_nothing_and_still_diagnoses(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(keras, "__version__", "3.99.0")
    keras.utils.set_random_seed(11)
    x, y = blobs(n=800)
    model = compiled(mlp(), keras.optimizers.Adam(1e-3))
    twin = compiled(mlp(), keras.optimizers.Adam(1e-3))
    twin.set_weights(model.get_weights())
    callback = DiagnosisCallback(str(tmp_path / "logs"), update_freq=5)
    train_functions = []

    class Spy(keras.callbacks.Callback):
        """Sees the train function the step runs with, after every other on_train_begin."""

        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            if batch == 0:
                train_functions.append(self.model.train_function)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = _fit(model, x, y, [callback, Spy()])
        _fit(model, x, y, [callback])  # a second fit with the same callback: still one warning
    reference = _fit(twin, x, y, [])
    _fit(twin, x, y, [])

    ours = [str(w.message) for w in caught if "tb-recipe" in str(w.message)]
    assert len(ours) == 1, ours
    assert "3.99.0" in ours[0] and "not touched" in ours[0] and "curves only" in ours[0]
    # Nothing patched, nothing re-traced: the same attributes as the twin's after the same fits, and the
    # train function Keras made before on_train_begin ran the steps.
    assert set(vars(model)) == set(vars(twin)) and "make_train_function" not in vars(model)
    assert set(vars(model.optimizer)) == set(vars(twin.optimizer)) and "apply" not in vars(model.optimizer)
    assert train_functions and train_functions[0] is model.train_function
    # Training unaffected: the very numbers of the twin that never saw the callback.
    np.testing.assert_array_equal(history.history["loss"], reference.history["loss"])
    for a, b in zip(model.weights + model.optimizer.variables, twin.weights + twin.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not (tmp_path / "logs").exists()  # nothing written
    printed = capsys.readouterr().out
    assert "1 run:" in printed and "logs" in printed  # the curves-only diagnosis, at each fit's end


# ---------------------------------------------------------------------- private access only in the adapter


def _own_private_names(tree: ast.Module) -> set[str]:
    """Private names the module defines itself: its functions, classes, methods and ``self._x`` attributes."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name.startswith("_"):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and node.attr.startswith("_"):
            names.add(node.attr)
    return names


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


@pytest.mark.parametrize("module", sorted(p.name for p in KERAS_DIR.glob("*.py") if p.name != "adapter.py"))
def test_keras_internals_are_touched_only_in_the_adapter(module):
    """Outside adapter.py: no ``keras.src`` import and no private attribute except the module's own."""
    tree = ast.parse((KERAS_DIR / module).read_text())
    own = _own_private_names(tree)
    offenders = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras.src"):
            offenders.append(f"line {node.lineno}: from {node.module} import")
        elif isinstance(node, ast.Import) and any(a.name.startswith("keras.src") for a in node.names):
            offenders.append(f"line {node.lineno}: import keras.src")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not _is_dunder(node.attr):
            if node.attr not in own:
                offenders.append(f"line {node.lineno}: .{node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "hasattr", "setattr", "delattr"}
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and node.args[1].value.startswith("_")
            and not _is_dunder(node.args[1].value)
            and node.args[1].value not in own
        ):
            offenders.append(f"line {node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
    assert offenders == [], f"{module} reaches into Keras internals; move it to adapter.py: {offenders}"


@pytest.mark.parametrize(
    ("steps_per_execution", "count", "n"),
    [(1, 1, 320), (3, 1, 320), (1, 4, 320), (3, 4, 320), (1, 4, 64), (3, 4, 64)],  # n=64: 2 batches an epoch
)
def test_the_first_batches_hook_sees_them_first_and_changes_nothing(steps_per_execution, count, n):
    """`hook_first_batches` hands the first batches of a real fit to its callback before any step; the fit then
    trains on the same batches in the same order: its losses and weights equal an unhooked twin's, whether the
    held batches take one call of the train function or several, and when the epoch has fewer than asked."""
    x, y = blobs(n=n)
    keras.utils.set_random_seed(3)
    model = compiled(mlp(), keras.optimizers.SGD(0.05))
    twin = compiled(mlp(), keras.optimizers.SGD(0.05))
    twin.set_weights(model.get_weights())
    for m in (model, twin):
        m.compile(optimizer=m.optimizer, loss=m.loss, steps_per_execution=steps_per_execution)
    seen: list[list] = []
    owner = object()

    class Hook(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            adapter.hook_first_batches(self.model, seen.append, owner, count=count)

    history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0, callbacks=[Hook()])
    reference = twin.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    (batches,) = seen
    assert len(batches) == min(count, n // 32)
    for i, (bx, by) in enumerate(batches):
        np.testing.assert_array_equal(np.asarray(bx), x[32 * i : 32 * (i + 1)])
        np.testing.assert_array_equal(np.asarray(by), y[32 * i : 32 * (i + 1)])
    assert history.history["loss"] == reference.history["loss"]
    for a, b in zip(model.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert adapter.owner_of(model, "train_function") is None  # undone once the held batches were trained on
