"""Every use of Keras internals by `DiagnosisCallback`, in one place, with the Keras versions it is tested on.

Keras has no public API for what the callback needs, so it relies on how
Keras 3's TensorFlow trainer works inside (read in
``keras/src/backend/tensorflow/trainer.py`` and ``optimizers/``):

- the gradients of each real training batch: ``train_step`` hands them to
  ``optimizer.apply_gradients``, which calls ``self.apply(grads, variables)``;
  wrapping ``apply`` on the optimizer *instance* puts the statistics into the
  traced step. Under a multi-replica strategy the all-reduced gradients pass
  through the optimizer's private ``_all_reduce_sum_gradients``;
- the start of every ``fit`` and ``train_on_batch``: both call
  ``model.make_train_function()`` before anything else (before
  ``on_train_begin``), and reuse the traced function it cached. A ``fit`` that
  raises (another callback, Ctrl-C) never calls ``on_train_end``, so this call
  is where a callback left attached by an aborted fit is detached, before the
  stale traced function could run again;
- the loss of each batch: the running mean Keras keeps in its loss tracker
  (the metric named ``"loss"`` in ``model.metrics``, a ``Mean`` whose
  ``total``/``count`` variables are updated inside the train step);
- the first training batch of a ``fit``: a callback gets no handle on the
  data (``fit`` builds its epoch iterator locally) and the first thing it
  hands the data to is ``model.train_function(iterator)``, right after
  ``on_train_batch_begin``. That function takes a ``tf.data`` iterator or any
  Python iterable of batches (the path ``train_on_batch`` uses), so a wrapper
  can take the first batches out, look at them, and hand the function the
  same batches followed by the rest (`hook_first_batches`);
- the leaf layers of a model (private ``_flatten_layers``: there is no public
  walk through layers that are not models), the validation dataset ``fit``
  built (private ``_eval_epoch_iterator``), and wrapping a layer's ``call``
  while the probe function is traced.

Outside `SUPPORTED` (or on another backend) `unsupported_reason` says why and
the callback touches nothing (see the callback's fail-soft path). CI runs the
Keras tests on both ends of the range.

Patching protocol: every replacement carries its owner (`owner_of`), so a
callback can find wrappers left by another one, and `Patch.undo` restores
exactly what was there before (an instance attribute, or nothing, so that the
class's method shows through again).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import keras

SUPPORTED = ((3, 12), (3, 15))
"""Keras minor versions (inclusive) the callback's use of internals is tested on."""

_OWNER_ATTR = "__tb_recipe_owner__"
_ABSENT = object()


def keras_version() -> str:
    return str(getattr(keras, "__version__", "unknown"))


def supported_range() -> str:
    (lo_major, lo_minor), (hi_major, hi_minor) = SUPPORTED
    return f"{lo_major}.{lo_minor} to {hi_major}.{hi_minor}.x"


def unsupported_reason() -> str | None:
    """Why the callback cannot instrument this Keras, or None when it can.

    Read at each ``on_train_begin`` (not at import) so that what is checked is
    the Keras actually running the fit.
    """
    version = keras_version()
    match = re.match(r"(\d+)\.(\d+)", version)
    parsed = (int(match[1]), int(match[2])) if match else None
    if parsed is None or not SUPPORTED[0] <= parsed <= SUPPORTED[1]:
        return f"Keras {version} is not a version its callback is tested with ({supported_range()})"
    backend = keras.backend.backend()
    if backend != "tensorflow":
        return f"the callback works on Keras' TensorFlow backend only, not {backend!r}"
    return None


# ---------------------------------------------------------------------- patching


@dataclass
class Patch:
    """One instance attribute replaced by a wrapper; `undo` puts back what was there."""

    obj: Any
    name: str
    replacement: Callable
    previous: Any

    def undo(self) -> bool:
        """Restore the previous state; False (and nothing touched) when someone replaced our wrapper since."""
        if vars(self.obj).get(self.name, _ABSENT) is not self.replacement:
            return False
        if self.previous is _ABSENT:
            object.__delattr__(self.obj, self.name)
        else:
            object.__setattr__(self.obj, self.name, self.previous)
        return True


def _patch(obj: Any, name: str, replacement: Callable, owner: object) -> Patch:
    setattr(replacement, _OWNER_ATTR, owner)
    patch = Patch(obj, name, replacement, vars(obj).get(name, _ABSENT))
    # object.__setattr__: Keras' own __setattr__ would try to track the function.
    object.__setattr__(obj, name, replacement)
    return patch


def owner_of(obj: Any, name: str) -> object | None:
    """The owner of our wrapper at ``obj.name``, or None when the attribute is not one of ours."""
    try:
        current = vars(obj).get(name)
    except TypeError:  # no __dict__
        return None
    return getattr(current, _OWNER_ATTR, None)


def owners(model: keras.Model) -> list[object]:
    """Owners of every wrapper of ours on the model and its optimizer (stale ones included)."""
    found = [owner_of(model, "make_train_function")]
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        found.append(owner_of(optimizer, "apply"))
        found.append(owner_of(_inner(optimizer), "_all_reduce_sum_gradients"))
    return list(dict.fromkeys(o for o in found if o is not None))


def _inner(optimizer: Any) -> Any:
    return optimizer.inner_optimizer if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) else optimizer


def hook_apply(optimizer: Any, wrap: Callable[[Callable], Callable], owner: object) -> Patch:
    """Wrap ``optimizer.apply(grads, trainable_variables)``, called by every train step with its gradients."""
    return _patch(optimizer, "apply", wrap(optimizer.apply), owner)


def hook_all_reduce(optimizer: Any, wrap: Callable[[Callable], Callable], owner: object) -> Patch:
    """Wrap the all-reduce of a multi-replica step: ``(grads_and_vars) -> reduced grads_and_vars``."""
    inner = _inner(optimizer)
    return _patch(inner, "_all_reduce_sum_gradients", wrap(inner._all_reduce_sum_gradients), owner)


def hook_fit_start(model: keras.Model, on_start: Callable[[], None], owner: object) -> Patch:
    """Call ``on_start`` when the next ``fit``/``train_on_batch`` begins, before its train function is fetched.

    ``on_start`` is expected to undo this patch and `reset_train_function`;
    the original ``make_train_function`` then builds a fresh one.
    """
    original = model.make_train_function

    def make_train_function(force: bool = False) -> Any:
        on_start()
        return original(force=force)

    return _patch(model, "make_train_function", make_train_function, owner)


def hook_first_batches(
    model: keras.Model, on_first: Callable[[list[Any]], None], owner: object, count: int = 1
) -> Patch:
    """Call ``on_first(batches)`` with the first `count` batches the next call of ``model.train_function``
    receives (fewer when the epoch has fewer), before any step runs on them; the steps then train on exactly those
    batches and the ones after them, in order. Install after the train function is built (``fit`` fetches it
    from the model on each call, so the wrapper is what the next step calls).

    The batches taken out are handed back through the function's iterable path, `steps_per_execution` per call,
    for as many calls as it takes; then the wrapper undoes itself and every later call is Keras' own function
    on Keras' own iterator."""
    import collections

    import tensorflow as tf

    original = model.train_function
    held: collections.deque = collections.deque()
    started = False
    patch: Patch

    def train_function(iterator: Any) -> Any:
        nonlocal started
        source = iterator if isinstance(iterator, tf.data.Iterator | tf.distribute.DistributedIterator) else None
        source = source if source is not None else iter(iterator)
        if not started:
            started = True
            try:
                while len(held) < count:
                    held.append(next(source))
            except (StopIteration, tf.errors.OutOfRangeError):
                if not held:  # an empty epoch: Keras' own function says so, as it would have
                    patch.undo()
                    return original(iterator)
            on_first(list(held))

        def batches() -> Iterator[Any]:
            while held:
                yield held.popleft()
            yield from source

        try:
            return original(batches())  # at least one held batch: a step runs on it
        finally:
            if not held:
                patch.undo()

    patch = _patch(model, "train_function", train_function, owner)
    return patch


def retrace_train_function(model: keras.Model) -> None:
    """Make the next step trace the train function again (Keras built and cached it before on_train_begin)."""
    model.make_train_function(force=True)


def reset_train_function(model: keras.Model) -> None:
    """Drop the cached train function (it may hold our wrappers): the next fit traces a clean one."""
    model.train_function = None


# ---------------------------------------------------------------------- reading state


def loss_accumulators(model: keras.Model) -> tuple[Any, Any] | None:
    """The (total, count) variables of the loss tracker's running mean, or None without one."""
    for metric in model.metrics:
        if metric.name == "loss":
            total, count = getattr(metric, "total", None), getattr(metric, "count", None)
            if total is not None and count is not None:
                return total, count
    return None


def loss_scale(optimizer: Any) -> Any:
    """The current scale of a ``LossScaleOptimizer`` (its gradients are still multiplied by it in ``apply``)."""
    return optimizer.dynamic_scale


def leaf_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer without sub-layers, nested models and custom container layers included, in model order."""
    out = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if not any(True for _ in layer._flatten_layers(include_self=False, recursive=False)):
            out.append(layer)
    return out


def validation_dataset(model: keras.Model) -> Any:
    """The dataset of fit's validation iterator, once Keras has created it (after the first validation)."""
    iterator = getattr(model, "_eval_epoch_iterator", None)
    data_adapter = getattr(iterator, "data_adapter", None)
    if data_adapter is None:
        return None
    return data_adapter.get_tf_dataset()


@contextmanager
def capturing_outputs(layers: list[keras.layers.Layer], captured: dict[int, Any]) -> Iterator[None]:
    """While tracing a forward pass, store each layer's output in ``captured[i]`` (i: its index in ``layers``).

    Works for Sequential, functional and subclassed models alike because
    ``Layer.__call__`` looks ``call`` up on the instance. The wrappers are
    gone when the block ends, before the traced function first runs.
    """
    patches = []
    try:
        for i, layer in enumerate(layers):
            original = layer.call

            def call(*args: Any, _original: Callable = original, _i: int = i, **kwargs: Any) -> Any:
                out = _original(*args, **kwargs)
                if hasattr(out, "dtype"):
                    captured[_i] = out
                return out

            patches.append(_patch(layer, "call", call, captured))
        yield
    finally:
        for patch in reversed(patches):
            patch.undo()
