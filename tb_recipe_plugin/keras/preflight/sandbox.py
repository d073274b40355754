"""A clone of the model and of its optimizer, on which the pre-flight checks train.

The real model must come out of the checks exactly as it went in: its
weights, its optimizer (the same object, not built by us when it was not
yet), its compiled state, its traced functions. So the checks never call
it: `Sandbox` clones it (``keras.models.clone_model`` and a copy of its
weights), creates a fresh optimizer from the optimizer's config and compiles
the clone with the model's own loss. Each check starts from the same
snapshot (`reset`): the model's initial weights and the fresh optimizer's
state, so that runs compared with each other (real vs zeroed inputs) differ
only in what is compared.

The steps are small ``tf.function``s of our own rather than ``fit`` or
``train_on_batch``: they do what Keras' TensorFlow train step does
(forward in training mode, ``compute_loss`` with the regularisation losses,
``scale_loss`` for a loss-scale optimizer, ``apply_gradients``) without the
per-call data-adapter work and metrics, and each is traced once for all the
checks that use it. Only public Keras API is used here.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf


class NotCompiledError(ValueError):
    """The model has no loss or no optimizer: the checks that train cannot run."""


class Sandbox:
    """The clone, its optimizer and the functions the training checks call."""

    def __init__(self, model: keras.Model, example_x: Any) -> None:
        if getattr(model, "loss", None) is None or getattr(model, "optimizer", None) is None:
            raise NotCompiledError("the model is not compiled with a loss and an optimizer")
        self.notes: list[str] = []
        clone = clone_model(model)
        if not clone.built:
            clone(example_x)
        weights = model.get_weights()
        if weights:
            clone.set_weights(weights)
        else:
            self.notes.append("the model has no weights yet (not built): the clone starts from its own initialisation")
        self.optimizer = fresh_optimizer(model.optimizer)
        clone.compile(
            optimizer=self.optimizer,
            loss=model.loss,
            loss_weights=_loss_weights(model),
            auto_scale_loss=False,  # a loss-scale optimizer is already one in the model's config
            jit_compile=False,
        )
        self.model = clone
        self.optimizer.build(clone.trainable_variables)
        self._weights = clone.get_weights()
        self._states: dict[int, list[np.ndarray]] = {}
        self._steps: dict[int, Callable] = {}
        self._snapshot(self.optimizer)
        self._training_arg = "training" in inspect.signature(clone.compute_loss).parameters
        self.step_times: list[float] = []
        self._evaluate = tf.function(self._evaluate_fn)

    # ------------------------------------------------------------------ state

    def reset(self, optimizer: Any = None) -> None:
        """Back to the starting point: the model's initial weights and ``optimizer`` as freshly built."""
        optimizer = optimizer or self.optimizer
        self.model.set_weights(self._weights)
        for variable, value in zip(optimizer.variables, self._states[id(optimizer)], strict=True):
            variable.assign(value)

    def add_optimizer(self, optimizer: Any) -> None:
        """Build another optimizer on the clone's variables (the range test's, with a settable learning rate)."""
        optimizer.build(self.model.trainable_variables)
        self._snapshot(optimizer)

    def _snapshot(self, optimizer: Any) -> None:
        self._states[id(optimizer)] = [np.array(v.numpy()) for v in optimizer.variables]

    # ------------------------------------------------------------------ steps

    def train(self, batch: tuple[Any, Any, Any], optimizer: Any = None) -> float:
        """One training step on ``batch``; the loss before the update (the value Keras logs for the step)."""
        optimizer = optimizer or self.optimizer
        step = self._steps.get(id(optimizer))
        first = step is None
        if first:
            step = self._steps[id(optimizer)] = tf.function(self._make_step(optimizer))
        start = time.perf_counter()
        loss = float(step(*batch))
        if not first:  # the first call traces the step
            self.step_times.append(time.perf_counter() - start)
        return loss

    def loss(self, batch: tuple[Any, Any, Any]) -> tuple[float, float]:
        """(loss, regularisation part of it) of ``batch`` without an update.

        In training mode, like the loss of a training step: after a few dozen
        steps batch-normalisation statistics are far from settled, and at
        initialisation its inference mode does not normalise at all.
        """
        loss, regularisation = self._evaluate(*batch)
        return float(loss), float(regularisation)

    def _compute_loss(self, x: Any, y: Any, y_pred: Any, sample_weight: Any, training: bool) -> Any:
        kwargs = {"training": training} if self._training_arg else {}
        return self.model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, **kwargs)

    def _make_step(self, optimizer: Any) -> Callable:
        model = self.model

        def step(x: Any, y: Any, sample_weight: Any) -> Any:
            with tf.GradientTape() as tape:
                y_pred = model(x, training=True)
                loss = self._compute_loss(x, y, y_pred, sample_weight, True)
                scaled = optimizer.scale_loss(loss)
            variables = model.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables, strict=True))
            return loss

        return step

    def _evaluate_fn(self, x: Any, y: Any, sample_weight: Any) -> tuple[Any, Any]:
        y_pred = self.model(x, training=True)
        loss = self._compute_loss(x, y, y_pred, sample_weight, True)
        extra = [tf.cast(tf.reduce_sum(v), loss.dtype) for v in self.model.losses]
        return loss, tf.add_n(extra) if extra else tf.zeros((), loss.dtype)

    def output_units(self, x: Any) -> int | None:
        """The last dimension of the clone's output (a single output only), from an inference-mode call."""
        outputs = tf.nest.flatten(self.model(x, training=False))
        if len(outputs) != 1 or len(outputs[0].shape) < 2:
            return None
        return int(outputs[0].shape[-1])

    def input_gradient_norms(self, x: Any, probes: list[int], seed: int) -> np.ndarray:
        """Squared gradient norm reaching each sample's inputs from sample i's outputs, one row per i in ``probes``.

        Inference mode (``training=False``), so batch normalisation uses its
        moving statistics and does not mix samples. The scalar whose gradient
        is taken is a fixed random projection of sample i's outputs: it
        depends on the outputs like a loss does, without needing labels, and
        cannot cancel the way a softmax's outputs (which sum to one) would.
        """
        fn = tf.function(lambda x: self._input_gradients(x, probes, seed))
        return fn(x).numpy()

    def _input_gradients(self, x: Any, probes: list[int], seed: int) -> Any:
        inputs = [v for v in tf.nest.flatten(x) if v.dtype.is_floating]
        rows = []
        for i in probes:
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                outputs = tf.nest.flatten(self.model(x, training=False))
                total = tf.zeros((), tf.float32)
                for k, out in enumerate(outputs):
                    out = tf.cast(out, tf.float32)
                    direction = tf.random.stateless_normal(tf.shape(out)[1:], seed=[seed, k])
                    total += tf.reduce_sum(out[i] * direction)
            grads = tape.gradient(total, inputs)
            per_sample = tf.zeros([tf.shape(inputs[0])[0]], tf.float32)
            for g in grads:
                if g is not None:
                    g = tf.cast(g, tf.float32)
                    per_sample += tf.reduce_sum(tf.reshape(g * g, [tf.shape(g)[0], -1]), axis=1)
            rows.append(per_sample)
        return tf.stack(rows)

    def close(self) -> None:
        """Drop the clone and its traced functions (they hold its variables) so they can be freed."""
        self._steps.clear()
        self._states.clear()
        self._evaluate = None
        self.model = None
        self.optimizer = None


def clone_model(model: keras.Model) -> keras.Model:
    """``keras.models.clone_model``, also for the layers it cannot rebuild from their config.

    A ``Lambda`` layer wrapping a Python lambda does not deserialise in
    Keras' safe mode: it is rebuilt around the same function instead. Any
    other layer without variables that does not rebuild is shared between
    the clone and the model (calling it changes neither). A layer with
    variables that does not rebuild stops the cloning, and the training
    checks are reported as not applicable. Subclassed models are cloned
    through their own config (``clone_model`` takes no ``clone_function``
    for them).
    """

    def clone_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
        try:
            return layer.__class__.from_config(layer.get_config())
        except Exception:
            if isinstance(layer, keras.layers.Lambda):
                return keras.layers.Lambda(layer.function, mask=layer.mask, arguments=layer.arguments)
            if layer.variables:
                raise
            return layer

    try:
        return keras.models.clone_model(model, clone_function=clone_layer, recursive=True)
    except ValueError:
        if isinstance(model, keras.Sequential):
            raise
        return keras.models.clone_model(model)  # subclassed: clone_model takes no clone_function for it


def fresh_optimizer(optimizer: Any, learning_rate: float | None = None) -> Any:
    """A new optimizer of the same class and config; with ``learning_rate``, a constant one replacing any schedule."""
    config = optimizer.get_config()
    if learning_rate is not None:
        _set_learning_rate(config, learning_rate)
    return optimizer.__class__.from_config(config)


def _set_learning_rate(config: dict, learning_rate: float) -> None:
    inner = config.get("inner_optimizer")  # a LossScaleOptimizer's config holds its inner optimizer's
    if isinstance(inner, dict):
        _set_learning_rate(inner.get("config", inner), learning_rate)
    else:
        config["learning_rate"] = float(learning_rate)


def current_learning_rate(optimizer: Any) -> float:
    """The learning rate the optimizer would use at its next step (a schedule evaluated; NaN when unreadable)."""
    try:
        value = optimizer.learning_rate  # a variable, or a schedule's tensor at the optimizer's current step
        return float(value.numpy() if hasattr(value, "numpy") else value)
    except Exception:  # noqa: BLE001 - a custom schedule we cannot evaluate
        return float("nan")


def _loss_weights(model: keras.Model) -> Any:
    try:
        config = model.get_compile_config() or {}
    except Exception:  # noqa: BLE001 - a compile config that does not serialise: only multi-output models miss it
        return None
    return config.get("loss_weights")
