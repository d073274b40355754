"""What the model is asked to do, read from its compiled loss and its output layer.

The checks about labels and about the initial loss mean different things
for a C-class softmax, sigmoid units and a regression; the compiled loss
says which (a string, a ``keras.losses.Loss`` or a loss function: its name
is the same in all three forms). Models with several outputs or another
loss get the generic checks only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import keras


class Kind(StrEnum):
    SPARSE = "sparse"  # integer class labels, C-unit softmax output
    CATEGORICAL = "categorical"  # one-hot (or soft) labels, C-unit softmax output
    BINARY = "binary"  # 0/1 labels, sigmoid units
    MSE = "mse"
    MAE = "mae"
    OTHER = "other"  # a loss the checks know nothing about, or several outputs
    NONE = "none"  # not compiled with a loss


_LOSS_NAMES = {
    "sparse_categorical_crossentropy": Kind.SPARSE,
    "categorical_crossentropy": Kind.CATEGORICAL,
    "binary_crossentropy": Kind.BINARY,
    "mean_squared_error": Kind.MSE,
    "mse": Kind.MSE,
    "mean_absolute_error": Kind.MAE,
    "mae": Kind.MAE,
}
CLASSIFICATION = frozenset({Kind.SPARSE, Kind.CATEGORICAL, Kind.BINARY})
REGRESSION = frozenset({Kind.MSE, Kind.MAE})

ACTIVATION_RANGES: dict[str, tuple[float, float]] = {
    "sigmoid": (0.0, 1.0),
    "hard_sigmoid": (0.0, 1.0),
    "softmax": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "hard_tanh": (-1.0, 1.0),
    "softsign": (-1.0, 1.0),
    "relu": (0.0, math.inf),
    "relu6": (0.0, 6.0),
    "softplus": (0.0, math.inf),
    "exponential": (0.0, math.inf),
    "elu": (-1.0, math.inf),
}
"""Values an output activation can produce: a target outside its range cannot be reached at any weights."""


@dataclass(frozen=True)
class Task:
    kind: Kind
    loss_name: str | None
    units: int | None  # the single output's last dimension
    activation: str | None  # the output layer's activation, when it has a named one

    @property
    def output_range(self) -> tuple[float, float] | None:
        return ACTIVATION_RANGES.get(self.activation) if self.activation else None


def read_task(model: keras.Model) -> Task:
    loss = getattr(model, "loss", None)
    name = _loss_name(loss)
    outputs = getattr(model, "outputs", None) or []
    single = len(outputs) == 1 if outputs else not isinstance(loss, list | tuple | dict)
    if loss is None:
        kind = Kind.NONE
    elif not single or name is None:
        kind = Kind.OTHER
    else:
        kind = _LOSS_NAMES.get(name, Kind.OTHER)
    units = None
    if len(outputs) == 1 and outputs[0].shape and outputs[0].shape[-1] is not None:
        units = int(outputs[0].shape[-1])
    return Task(kind, name, units, _output_activation(model) if single else None)


def _loss_name(loss: Any) -> str | None:
    if loss is None or isinstance(loss, list | tuple | dict):
        return None
    if isinstance(loss, str):
        return loss.lower()
    name = getattr(loss, "name", None) if isinstance(loss, keras.losses.Loss) else getattr(loss, "__name__", None)
    return name.lower() if isinstance(name, str) else None


def _output_activation(model: keras.Model) -> str | None:
    """Name of the last layer's activation (a Dense with ``activation=``, an ``Activation`` or ``Softmax`` layer)."""
    layers = getattr(model, "layers", None)
    if not layers:
        return None
    last = layers[-1]
    if isinstance(last, keras.Model):
        return _output_activation(last)
    if isinstance(last, keras.layers.Softmax):
        return "softmax"
    activation = getattr(last, "activation", None)
    name = getattr(activation, "__name__", None)
    return name if isinstance(name, str) else None
