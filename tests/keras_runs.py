"""Small real Keras trainings for the callback tests.

Each builder returns a compiled model and its data; the faults are the classic
ones each internal rule is meant to catch, built the way they happen in
practice (a deep sigmoid stack, a large negative bias, raw inputs...).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

NUM_CLASSES = 10
FEATURES = 32


def blobs(n: int = 3000, seed: int = 0, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Ten Gaussian clusters in 32 dimensions: learnable, but not in one step."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(NUM_CLASSES, FEATURES))
    y = rng.integers(0, NUM_CLASSES, n)
    x = (centers[y] + rng.normal(size=(n, FEATURES)) * 1.5).astype("float32") * scale
    return x, y.astype("int32")


def mlp(depth: int = 3, width: int = 64, activation: str = "relu", **dense_kwargs: object) -> keras.Model:
    layers: list = [keras.Input((FEATURES,))]
    for _ in range(depth):
        layers.append(keras.layers.Dense(width, activation=activation, **dense_kwargs))
    layers.append(keras.layers.Dense(NUM_CLASSES, activation="softmax"))
    return keras.Sequential(layers)


def compiled(model: keras.Model, optimizer: keras.optimizers.Optimizer, **kwargs: object) -> keras.Model:
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"], **kwargs)
    return model


FAULTS = {
    # name: (model builder, optimizer, input scale)
    "healthy": (lambda: mlp(), lambda: keras.optimizers.Adam(1e-3), 1.0),
    "vanishing": (lambda: mlp(depth=10, activation="sigmoid"), lambda: keras.optimizers.SGD(0.01), 1.0),
    "exploding": (lambda: mlp(depth=4), lambda: keras.optimizers.SGD(0.5, momentum=0.9), 1.0),
    "dead_relu": (
        lambda: mlp(bias_initializer=keras.initializers.Constant(-3.0)),
        lambda: keras.optimizers.Adam(1e-3),
        1.0,
    ),
    "saturated": (
        lambda: mlp(activation="tanh", kernel_initializer=keras.initializers.RandomNormal(stddev=1.0)),
        lambda: keras.optimizers.SGD(0.01),
        1.0,
    ),
    # One NaN feature in one sample: the classic source of a NaN gradient.
    "nan_input": (lambda: mlp(), lambda: keras.optimizers.Adam(1e-3), 1.0),
    "update_high": (lambda: mlp(depth=2, activation="tanh"), lambda: keras.optimizers.RMSprop(0.05), 1.0),
    "update_low": (lambda: mlp(), lambda: keras.optimizers.SGD(1e-5), 1.0),
    "unnormalized": (lambda: mlp(), lambda: keras.optimizers.Adam(1e-3), 50.0),
}


def fault_run(name: str, seed: int = 1) -> tuple[keras.Model, np.ndarray, np.ndarray]:
    build, optimizer, scale = FAULTS[name]
    keras.utils.set_random_seed(seed)
    x, y = blobs(scale=scale)
    if name == "nan_input":
        x[1234, 5] = np.nan
    return compiled(build(), optimizer()), x, y


_TRAINED: dict[str, Path] = {}


def trained_logdir(name: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Log dir of the fault run ``name`` trained once per test session with `DiagnosisCallback`.

    The fault tests and the tag-contract test read the same runs: training
    each once keeps the suite's time down.
    """
    if name not in _TRAINED:
        from tb_recipe_plugin.keras import DiagnosisCallback

        model, x, y = fault_run(name)
        logdir = tmp_path_factory.mktemp(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the NaN run warns, on purpose
            model.fit(
                x,
                y,
                batch_size=64,
                epochs=8,
                validation_split=0.2,
                verbose=0,
                callbacks=[DiagnosisCallback(str(logdir), update_freq=25, print_diagnosis=False)],
            )
        _TRAINED[name] = logdir
    return _TRAINED[name]
