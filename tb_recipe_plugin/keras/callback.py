"""`DiagnosisCallback`: the training-side signals that curves alone cannot show.

Add it to ``model.fit(..., callbacks=[DiagnosisCallback("logs")])`` next to (or
instead of) ``keras.callbacks.TensorBoard("logs")``. It writes, under the
``train/`` folder of the same log dir and the ``tb_recipe/`` tag prefix (the
names are declared in `tb_recipe_plugin.internal_tags`): the raw per-batch
loss, the global and per-layer gradient norms of the real training batches,
non-finite gradient counts, steps skipped by the loss scaler, weight norms,
update/weight ratios, activation statistics of a probe batch and the learning
rate. At the end of ``fit`` it prints the diagnosis of the run.

Why it is cheap on an accelerator: the gradient statistics are reduced inside
the compiled train step (one squared norm per variable, summed per layer) into
device-side accumulators and ring buffers; the host reads them once every
``update_freq`` steps and at each epoch end, in one call. Nothing on the hot
path waits for the host.

How it gets at the gradients: for the duration of ``fit`` it wraps the
optimizer's ``apply`` (the call every Keras train step makes with the
gradients, before clipping and, for a ``LossScaleOptimizer``, still scaled:
the callback divides by the current scale) and forces Keras to re-trace the
train function. Under a multi-replica ``tf.distribute`` strategy the
statistics are taken from the all-reduced gradients instead (Keras clips
per-replica gradients before that reduction when ``clipnorm``/``clipvalue``
is set, so there the norms are after clipping). Every use of Keras internals
is in `tb_recipe_plugin.keras.adapter`, with the Keras versions it is tested
on; on any other version the callback touches nothing and diagnoses the
curves only.

Leaving the model as found: ``on_train_end`` restores the optimizer, drops
the traced train function that holds the statistics and closes the writer.
Keras does not call ``on_train_end`` when ``fit`` raises (another callback
failing, Ctrl-C), so the callback also detaches at the next ``fit`` or
``train_on_batch`` of the model (before its train function is fetched, so
the stale one never runs), at the next ``on_train_begin`` of any
DiagnosisCallback on that model, on `close`, and at interpreter exit; what
was recorded up to the interrupt is read and written then. The callback's own
variables are not tracked by the model, so checkpoints and ``model.save`` are
unaffected.

This module is the only one that imports TensorFlow; the analyzer, the CLI and
the TensorBoard plugin never import it.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import sys
import time
import warnings
import weakref
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.text.summary_v2 import text_pb
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from tb_recipe_plugin import internal_tags as tags
from tb_recipe_plugin.internal_tags import LayerStat, Meta, Window
from tb_recipe_plugin.keras import adapter
from tb_recipe_plugin.present.catalogue import LANGS, render_suggestion
from tb_recipe_plugin.present.catalogue.labels import CALLBACK

DEFAULT_UPDATE_FREQ = 100
PREFLIGHT_BATCHES = 4
"""Batches of the fit the pre-flight checks see: the zero-input baseline compares held-out rows, which one
batch cannot give."""
PREFLIGHT_OPTIONS = frozenset({"skip", "lr_range_test", "budget_steps", "validation_data", "max_samples", "seed"})
DEFAULT_PROBE_SIZE = 128
# A sigmoid/tanh output this close to its asymptote passes almost no gradient
# (sigmoid' < 0.01 below 0.01 or above 0.99; tanh' < 0.02 beyond |0.99|).
SATURATION_MARGIN = 0.01

_WRITER_STEPS = {"write", "flush", "close"}
_RELU_NAMES = {"relu", "relu6"}
_SIGMOID_NAMES = {"sigmoid", "hard_sigmoid"}
_TANH_NAMES = {"tanh"}
_CATEGORICAL_LOSSES = {"sparse_categorical_crossentropy", "categorical_crossentropy"}
_BINARY_LOSSES = {"binary_crossentropy"}
_ACTIVATION_STATS = (
    LayerStat.ACT_MEAN,
    LayerStat.ACT_STD,
    LayerStat.DEAD_FRACTION,
    LayerStat.SATURATED_FRACTION,
    LayerStat.ACT_NONFINITE,
)


class _Mode(Enum):
    OFF = "off"  # not in a fit, or another DiagnosisCallback records this one
    CURVES = "curves"  # internals unavailable: epoch logs only, for the end-of-fit diagnosis
    FULL = "full"  # attached: statistics recorded inside the train step


_LIVE: weakref.WeakSet[DiagnosisCallback] = weakref.WeakSet()
"""Callbacks attached to a model right now; an interrupted fit leaves them here until something detaches them.

Weak: a model the user dropped after an interrupted fit (and its callback) can still be freed.
"""


@atexit.register
def _detach_at_exit() -> None:
    """A script stopped by Ctrl-C ends here: write what was recorded up to the interrupt and close the files."""
    for callback in list(_LIVE):
        callback._detach(act=False)


class DiagnosisCallback(keras.callbacks.Callback):
    """Record gradient, weight, update and activation statistics for tb-recipe.

    Args:
        log_dir: the same directory you give ``keras.callbacks.TensorBoard``;
            the callback writes into its ``train/`` sub-folder.
        update_freq: steps between host reads of the device-side statistics
            (also read at every epoch end). Per-step values (loss, gradient
            norm) keep full resolution whatever this is.
        probe_data: inputs for the activation statistics: an array or tensor,
            an ``(x, y)`` tuple or a ``tf.data.Dataset`` (its first batch).
            Without it, the first validation batch of ``fit`` is used once
            validation has run.
        probe_size: at most this many probe samples are used.
        activations: record activation statistics of the probe batch.
        update_ratios: record update/weight ratios (keeps one copy of the
            trainable weights on the device).
        terminate_on_nonfinite: stop training at the next read when the loss
            or the gradients became NaN/Inf, saying what happened and what to
            change (a more talkative ``keras.callbacks.TerminateOnNaN``).
        print_diagnosis: print tb-recipe's diagnosis of the run when ``fit`` ends.
        preflight: run the pre-flight checks (`tb_recipe_plugin.preflight`) on
            a clone of the model before the first training step, on the first
            `PREFLIGHT_BATCHES` batches of ``fit`` (which the fit then trains
            on as usual). The results are written beside the other summaries
            and flushed before that step, so a fit that then fails still leaves
            them; their cost is printed. On one replica only.
        preflight_options: keyword arguments for ``run_preflight`` (``skip``,
            ``lr_range_test``, ``budget_steps``, ``validation_data``: a
            callback never sees ``fit``'s validation data, so pass it here to
            check the train/validation overlap).
        lang: ``"en"`` or ``"zh"``, for everything the callback prints.
    """

    def __init__(
        self,
        log_dir: str = "logs",
        update_freq: int = DEFAULT_UPDATE_FREQ,
        probe_data: Any = None,
        probe_size: int = DEFAULT_PROBE_SIZE,
        activations: bool = True,
        update_ratios: bool = True,
        terminate_on_nonfinite: bool = False,
        print_diagnosis: bool = True,
        lang: str = "en",
        preflight: bool = False,
        preflight_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if int(update_freq) < 1:
            raise ValueError(f"update_freq must be a positive number of steps, got {update_freq!r}")
        if lang not in LANGS:
            raise ValueError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
        self.lang = lang
        self.log_dir = os.fspath(log_dir)
        self.update_freq = int(update_freq)
        self.probe_data = probe_data
        self.probe_size = int(probe_size)
        self.activations = activations
        self.update_ratios = update_ratios
        self.terminate_on_nonfinite = terminate_on_nonfinite
        self.print_diagnosis = print_diagnosis
        self.preflight = bool(preflight)
        self.preflight_options = dict(preflight_options or {})
        unknown = set(self.preflight_options) - PREFLIGHT_OPTIONS
        if unknown:
            raise ValueError(f"preflight_options: unknown {sorted(unknown)}; known: {sorted(PREFLIGHT_OPTIONS)}")
        self._warned: set[str] = set()
        self._mode = _Mode.OFF
        self._attached = False
        self._patches: list[adapter.Patch] = []
        self._writer: EventFileWriter | None = None
        self._stats: _DeviceStats | None = None
        self._steps_since_read = 0
        self._first_batches: adapter.Patch | None = None

    # ------------------------------------------------------------------ fit hooks

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._unwind_stale()
        self._start_fit()
        reason = adapter.unsupported_reason()
        if reason is not None:
            self._mode = _Mode.CURVES
            self._warn(
                "unsupported",
                self._say("unsupported", reason=reason),
            )
            return
        peer = self._peer()
        if peer is not None:
            self._warn(
                "peer",
                self._say("peer", log_dir=repr(peer.log_dir)),
            )
            return
        self._mode = _Mode.FULL
        try:
            self._install()
        except Exception as exc:  # noqa: BLE001 - the callback must never break training
            self._detach(act=False, read=False)
            self._mode = _Mode.CURVES
            self._warn(
                "install",
                self._say("install", error=f"{type(exc).__name__}: {exc}"),
            )

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        # Reads happen between two train-function calls. The begin hook adds no
        # work per step: Keras only converts logs for the *end* hooks (which the
        # TensorFlow backend does after every call anyway, one host sync per
        # `steps_per_execution` steps, with or without this callback).
        if not self._attached:
            return
        if self._stats is not None:
            if self._pending_update and self._steps_since_read:  # a step has run since the snapshot
                self._guard("update ratios", self._read_update_ratios)
            if self._steps_since_read >= self.update_freq:
                self._guard("read", self._read)
        self._steps_since_read += self._steps_per_call

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._mode is _Mode.OFF:
            return
        if self._attached and self._steps_since_read and self._stats is not None:
            self._guard("read", self._read)
        values = {}
        for key, value in (logs or {}).items():
            try:
                values[key] = float(value)
            except (TypeError, ValueError):
                continue
        self._epoch_logs.append((epoch, values))

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._mode is _Mode.OFF:
            return
        self._mode = _Mode.OFF
        self._detach(act=True)
        if self.print_diagnosis and self._chief:
            self._guard("diagnosis", self._print_diagnosis)

    def close(self) -> None:
        """Detach from the model now, as the end of ``fit`` does, and close the log file.

        Only needed after an interrupted ``fit`` when the file must be complete
        at once; otherwise the callback detaches by itself at the model's next
        ``fit`` or at interpreter exit.
        """
        self._mode = _Mode.OFF
        self._detach(act=False)

    # ------------------------------------------------------------------ attach / detach

    def _start_fit(self) -> None:
        self._mode = _Mode.OFF
        self._history: dict[str, tuple[list[int], list[float]]] = {}
        self._epoch_logs: list[tuple[int, dict[str, float]]] = []
        self._meta_written = False
        self._probe: Any = None
        self._probe_function: Callable | None = None
        self._pending_update = 0
        self._steps_since_read = 0
        self._stopped_for: str | None = None
        self._stats = None
        try:
            self._chief = _is_chief(self.model.distribute_strategy)
        except Exception:  # noqa: BLE001 - a strategy we cannot inspect: behave as a single worker
            self._chief = True

    def _same_fit(self, other: object) -> bool:
        """Keras hands every callback of one fit the same ``params`` dict (`CallbackList.set_params`)."""
        return self.params is not None and getattr(other, "params", None) is self.params

    def _peer(self) -> DiagnosisCallback | None:
        """Another DiagnosisCallback already attached in this same fit."""
        for owner in adapter.owners(self.model):
            if owner is not self and self._same_fit(owner) and getattr(owner, "_attached", False):
                return owner  # type: ignore[return-value]
        return None

    def _unwind_stale(self) -> None:
        """Detach what an earlier fit left on this model: a fit that raised never called its on_train_end."""
        for owner in adapter.owners(self.model):
            if owner is not self and self._same_fit(owner):
                continue  # attached by this fit's earlier callback: see `_peer`
            detach = getattr(owner, "_detach", None)
            if detach is not None:
                detach(act=False)

    def _install(self) -> None:
        model = self.model
        optimizer = model.optimizer
        if optimizer is None:
            raise ValueError("the model is not compiled with an optimizer")
        self._strategy = model.distribute_strategy
        self._replicas = int(self._strategy.num_replicas_in_sync)
        self._loss_scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        self._steps_per_call = max(1, int(getattr(model, "steps_per_execution", 1) or 1))
        self._loss_accumulators = adapter.loss_accumulators(model)
        self._layers: list[str] = []
        self._probe_layers: list[tuple[str, keras.layers.Layer]] = []
        if model.trainable_variables:
            self._create_stats()
        # else: a model built lazily (subclassed, or Sequential without an Input) gets its
        # variables in the first trace of the train step; the statistics are created there.
        self._patches.append(adapter.hook_apply(optimizer, self._wrap_apply, self))
        if self._replicas > 1:
            self._patches.append(adapter.hook_all_reduce(optimizer, self._wrap_all_reduce, self))
        self._attached = True
        _LIVE.add(self)
        # Keras traced (or cached) the train function before on_train_begin:
        # make the next step trace it again, with the wrapped optimizer.
        adapter.retrace_train_function(model)
        self._patches.append(adapter.hook_fit_start(model, self._on_next_fit, self))
        if self._chief:
            self._guard("write", self._open_writer)
        if self.preflight and self._chief:
            if self._replicas > 1:
                self._warn("preflight_replicas", self._say("preflight_replicas", replicas=self._replicas))
            else:
                self._first_batches = adapter.hook_first_batches(
                    model, self._on_first_batches, self, count=PREFLIGHT_BATCHES
                )

    def _on_first_batches(self, batches: list[Any]) -> None:
        """The pre-flight checks, before the first step trains on these batches; never raises."""
        self._guard("preflight", lambda: self._run_preflight(batches))

    def _run_preflight(self, batches: list[Any]) -> None:
        from tb_recipe_plugin.preflight import report_points, report_text, run_preflight

        data = tf.nest.map_structure(lambda *parts: tf.concat(parts, axis=0), *batches)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        rows = int(tf.nest.flatten(x)[0].shape[0] or 0)
        options = {"batch_size": max(1, rows // len(batches)), **self.preflight_options}
        report = run_preflight(self.model, x, y, sample_weight=sample_weight, **options)
        for tag, step, value in report_points(report):
            self._add(tag, step, value)
        self._emit(text_pb(tags.PREFLIGHT_SUMMARY, report_text(report, self.lang)), 0)
        self._flush()  # on disk before the first step: a fit that then crashes still leaves them
        failed = [r.code for r in report.results if r.passed is False]
        cost = report.cost_in_steps
        print(
            self._say(
                "preflight",
                passed=sum(r.passed is True for r in report.results),
                failed=len(failed),
                names=f" ({', '.join(failed)})" if failed else "",
                seconds=f"{report.seconds:.1f}",
                steps=f"{cost:.0f}" if cost is not None else "?",
            ),
            file=sys.stderr,
        )

    def _on_next_fit(self) -> None:
        """The model fetches its train function while we are attached: the fit we joined was aborted.

        (Or user code called ``make_train_function`` inside our fit: then we
        stop recording, and ``on_train_end`` still prints the diagnosis.)
        """
        self._detach(act=False)

    def _detach(self, act: bool, read: bool = True) -> None:
        """Undo everything `_install` did, writing what was recorded since the last read first.

        Safe on every exit path and more than once. ``act``: whether a final
        read may warn about or stop on non-finite values (not when detaching
        at the start of another fit or at exit).
        """
        if self._attached and read and self._stats is not None and self._steps_since_read:
            self._guard("read", lambda: self._read(act=act))
        self._attached = False  # from here on our wrappers (if any survive) pass straight through
        first, self._first_batches = self._first_batches, None
        if first is not None:
            first.undo()  # still there only when the fit ended before its first step; then it was never called
        patches, self._patches = self._patches, []
        for patch in reversed(patches):
            try:
                restored = patch.undo()
            except Exception:  # noqa: BLE001 - restoring the rest matters more
                restored = False
            if not restored:
                self._warn("restore", self._say("restore", name=patch.name))
        if patches:
            self._guard("restore", lambda: adapter.reset_train_function(self.model))
        writer, self._writer = self._writer, None
        if writer is not None:
            self._guard("close", writer.close)
        _LIVE.discard(self)

    def _create_stats(self) -> None:
        model = self.model
        self._layers, self._var_layer = _group_variables(model)
        # Keras hands the all-reduce step the backend's tf.Variables, not its own wrappers.
        self._var_layer.update({_key(v.value): self._var_layer[_key(v)] for v in model.trainable_variables})
        self._probe_layers = _probe_layers(model) if self.activations else []
        weights = model.trainable_variables
        with self._strategy.scope():
            self._stats = _DeviceStats(
                num_layers=len(self._layers),
                capacity=self.update_freq + self._steps_per_call,
                start_step=int(model.optimizer.iterations.numpy()),
                weights=weights,
                weight_layers=[self._var_layer[_key(v)] for v in weights],
                snapshots=self.update_ratios,
            )
        if self.update_ratios:
            self._stats.snapshot()

    def _open_writer(self) -> None:
        self._writer = EventFileWriter(os.path.join(self.log_dir, "train"), filename_suffix=".tb_recipe")

    # ------------------------------------------------------------------ in the train step

    def _wrap_apply(self, original: Callable) -> Callable:
        callback = self

        def apply(grads, trainable_variables=None):  # noqa: ANN001 - Keras' signature
            if not callback._attached:  # a stale wrapper someone else's patch kept alive: plain Keras
                return original(grads, trainable_variables)
            recorded = False
            try:
                callback._record_step(list(grads), trainable_variables)
                recorded = True
            except Exception as exc:  # noqa: BLE001 - tracing our ops must not break the step
                callback._warn("trace", callback._say("trace", error=f"{type(exc).__name__}: {exc}"))
            result = original(grads, trainable_variables)
            if recorded:
                callback._stats.end_step()
            return result

        return apply

    def _wrap_all_reduce(self, original: Callable) -> Callable:
        callback = self

        def all_reduce(grads_and_vars):  # noqa: ANN001
            reduced = original(grads_and_vars)
            if not callback._attached:
                return reduced
            try:
                pairs = list(reduced)
                callback._record_gradients([g for g, _ in pairs], [v for _, v in pairs], scale=None)
            except Exception as exc:  # noqa: BLE001
                callback._warn("trace", callback._say("trace", error=f"{type(exc).__name__}: {exc}"))
            return reduced

        return all_reduce

    def _record_step(self, grads: list, variables: Any) -> None:
        """Loss of this batch and, on one replica, its gradient statistics."""
        optimizer = self.model.optimizer
        if variables is None:
            variables = self.model.trainable_variables  # what the optimizer was built with in fit
        if self._loss_scaled and not optimizer.built:
            with tf.init_scope():
                optimizer.build(list(variables))  # what LossScaleOptimizer.apply does first
        if self._stats is None:
            # First trace of a lazily built model: its variables exist now.
            with tf.init_scope():
                self._create_stats()
        if self._loss_accumulators is not None:
            self._stats.record_loss(*self._loss_accumulators, replicas=self._replicas)
        if self._replicas > 1:
            # Statistics come from the all-reduced gradients (`_wrap_all_reduce`);
            # here only the loss scaler's verdict, on the local gradients.
            if self._loss_scaled:
                self._stats.record_skip(grads)
            return
        scale = adapter.loss_scale(optimizer) if self._loss_scaled else None
        self._record_gradients(grads, list(variables), scale=scale)

    def _record_gradients(self, grads: list, variables: list, scale: Any) -> None:
        segments, squares = [], []
        for g, v in zip(grads, variables, strict=False):
            layer = self._var_layer.get(_key(v))
            if g is None or layer is None:
                continue
            if isinstance(g, tf.IndexedSlices):
                g = g.values  # rows of a sparse (embedding) gradient; repeated rows counted apart
            squares.append(_squared_norm(g))
            segments.append(layer)
        if not squares:
            return
        self._stats.record_gradients(tf.stack(squares), segments, scale, skip_nonfinite=self._loss_scaled)

    # ------------------------------------------------------------------ host side

    def _read(self, act: bool = True) -> None:
        self._steps_since_read = 0
        probe = self._probe_batch() if self._probe_layers else None
        data = self._stats.read(self.model.optimizer, probe, self._probe_fn() if probe is not None else None)
        if self.update_ratios:
            self._stats.snapshot()
            self._pending_update = int(data["step"])
        self._write_window(data)
        if act:
            self._check_fatal(data)

    def _read_update_ratios(self) -> None:
        start, self._pending_update = self._pending_update, 0
        ratios, step = self._stats.update_ratios()
        if step <= start:
            return
        steps = step - start
        for i, name in enumerate(self._layers):
            self._add(tags.layer_tag(LayerStat.UPDATE_RATIO, name), step, float(ratios[i]) / steps)
        self._flush()  # the file stays complete if this fit is interrupted before the next read

    def _write_window(self, d: dict[str, np.ndarray]) -> None:
        end = int(d["step"])
        n = int(min(d["pos"], d["loss"].size))
        steps = np.arange(end - n + 1, end + 1)
        if not self._meta_written:
            self._write_meta(d)
        losses, norms = d["loss"][:n], d["grad_norm"][:n]
        for i in range(n):
            self._add(tags.BATCH_LOSS, int(steps[i]), float(losses[i]))
            # Under a loss scaler a skipped step has no gradient to report.
            if not (self._loss_scaled and np.isnan(norms[i])):
                self._add(tags.GRAD_NORM, int(steps[i]), float(norms[i]))
        finite_norms = norms[np.isfinite(norms)]
        window = {
            Window.STEPS: n,
            Window.GRAD_NORM_MAX: float(finite_norms.max()) if finite_norms.size else float("nan"),
            Window.LOSS_MAX: float(np.max(losses)) if n else float("nan"),
            Window.NONFINITE_LOSS_STEPS: int(np.sum(~np.isfinite(losses))),
            Window.NONFINITE_GRAD_STEPS: int(d["nonfinite_steps"]),
            Window.SKIPPED_STEPS: int(d["skipped"]),
        }
        for name, value in window.items():
            self._add(tags.window_tag(name), end, float(value))
        self._add(tags.LEARNING_RATE, end, float(d["learning_rate"]))
        first_tag = tags.meta_tag(Meta.FIRST_NONFINITE_GRAD_STEP)
        if d["first_nonfinite_step"] >= 0 and first_tag not in self._history:
            self._add(first_tag, end, float(d["first_nonfinite_step"]))
        counts = np.maximum(d["layer_finite"], 1)
        for i, name in enumerate(self._layers):
            if d["layer_finite"][i] > 0:
                self._add(tags.layer_tag(LayerStat.GRAD_NORM, name), end, float(d["layer_norm_sum"][i] / counts[i]))
            self._add(tags.layer_tag(LayerStat.NONFINITE_GRAD_STEPS, name), end, float(d["layer_nonfinite"][i]))
            self._add(tags.layer_tag(LayerStat.WEIGHT_NORM, name), end, float(d["weight_norm"][i]))
        for stat, values in d.get("activations", {}).items():
            for (name, _), value in zip(self._probe_layers, values, strict=True):
                if np.isfinite(value) or stat == LayerStat.ACT_NONFINITE:
                    self._add(tags.layer_tag(LayerStat(stat), name), end, float(value))
        self._flush()

    def _write_meta(self, d: dict[str, np.ndarray]) -> None:
        self._meta_written = True
        meta = {
            Meta.SCHEMA_VERSION: float(tags.SCHEMA_VERSION),
            Meta.NUM_PARAMS: float(sum(int(np.prod(v.shape)) for v in self.model.trainable_variables)),
            Meta.LOSS_SCALED: 1.0 if self._loss_scaled else 0.0,
        }
        if d["batch_size"] > 0:
            meta[Meta.BATCH_SIZE] = float(d["batch_size"]) * self._replicas
        classes = _num_classes(self.model)
        if classes:
            meta[Meta.NUM_CLASSES] = float(classes)
            meta[Meta.EXPECTED_INITIAL_LOSS] = math.log(classes)
        for name, value in meta.items():
            self._add(tags.meta_tag(name), 0, value)
        # Model order, input side first: probe layers come in layer order, weighted ones in variable order.
        order = dict.fromkeys([name for name, _ in self._probe_layers] + self._layers)
        for i, name in enumerate(order):
            self._add(tags.layer_index_tag(name), 0, float(i))
        self._write_config(meta)

    def _write_config(self, meta: dict[Meta, float]) -> None:
        """The set-up as a text summary (TensorBoard's Text tab) for the person reading the run later."""
        model, optimizer = self.model, self.model.optimizer
        inner = optimizer.inner_optimizer if self._loss_scaled else optimizer
        loss = getattr(model, "loss", None)
        config = {
            "optimizer": type(inner).__name__,
            "learning_rate": _learning_rate(optimizer),
            "loss": loss if isinstance(loss, str) else type(loss).__name__,
            "num_classes": int(meta[Meta.NUM_CLASSES]) if Meta.NUM_CLASSES in meta else None,
            "batch_size": int(meta[Meta.BATCH_SIZE]) if Meta.BATCH_SIZE in meta else None,
            "trainable_parameters": int(meta[Meta.NUM_PARAMS]),
            "loss_scale_optimizer": self._loss_scaled,
            "dtype_policy": keras.config.dtype_policy().name,
            "jit_compile": bool(getattr(model, "jit_compile", False)),
            "steps_per_execution": self._steps_per_call,
            "replicas": self._replicas,
            "layers": list(self._layers),
            "update_freq": self.update_freq,
            "keras_version": adapter.keras_version(),
        }
        if self._writer is not None:
            text = "```json\n" + json.dumps(config, indent=2) + "\n```"
            self._emit(text_pb(tags.CONFIG, text), 0)

    def _add(self, tag: str, step: int, value: float) -> None:
        steps, values = self._history.setdefault(tag, ([], []))
        steps.append(step)
        values.append(value)
        self._emit(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)]), step)

    def _emit(self, summary: summary_pb2.Summary, step: int) -> None:
        if self._writer is None:
            return
        try:
            self._writer.add_event(event_pb2.Event(step=step, wall_time=time.time(), summary=summary))
        except Exception as exc:  # noqa: BLE001
            self._writer = None
            self._warn(
                "write",
                self._say("write", log_dir=self.log_dir, error=f"{type(exc).__name__}: {exc}"),
            )

    def _flush(self) -> None:
        if self._writer is not None:
            self._guard("flush", self._writer.flush)

    def _check_fatal(self, d: dict[str, np.ndarray]) -> None:
        n = int(min(d["pos"], d["loss"].size))
        bad_loss = int(np.sum(~np.isfinite(d["loss"][:n])))
        bad_grad = int(d["nonfinite_steps"])
        if not (bad_loss or bad_grad) or self._stopped_for:
            return
        first = int(d["first_nonfinite_step"])
        layers = [self._layers[i] for i in np.flatnonzero(d["layer_nonfinite"])]
        message = _nonfinite_message(self.lang, first if bad_grad else None, layers, bad_loss)
        self._stopped_for = message
        if self.terminate_on_nonfinite:
            self.model.stop_training = True
            print(message + CALLBACK[self.lang]["stopped"], file=sys.stderr)
        else:
            self._warn("nonfinite", message)

    def _print_diagnosis(self) -> None:
        from rich.console import Console

        from tb_recipe_plugin.analysis.analyzer import analyze_run
        from tb_recipe_plugin.present.text import print_report

        report = analyze_run(self._run_data())
        print_report([report], self.log_dir, self.lang, Console(file=sys.stdout, highlight=False))

    def _run_data(self):  # noqa: ANN202 - RunData, imported lazily
        from tb_recipe_plugin.analysis.series import RunData, Series

        run = RunData(name=os.path.basename(os.path.normpath(self.log_dir)) or self.log_dir)
        columns: dict[str, tuple[list[int], list[float]]] = {}
        for epoch, values in self._epoch_logs:
            for key, value in values.items():
                split, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
                tag = f"{split}/epoch_{name}"
                steps, vals = columns.setdefault(tag, ([], []))
                steps.append(epoch)
                vals.append(value)
        for tag, (steps, vals) in list(columns.items()) + [(f"train/{t}", sv) for t, sv in self._history.items()]:
            order = np.argsort(np.asarray(steps), kind="stable")
            s, v = np.asarray(steps)[order], np.asarray(vals)[order]
            keep = np.r_[s[1:] != s[:-1], True]  # a step written twice: the later value wins
            run.series[tag] = Series(tag, s[keep], v[keep])
        return run

    # ------------------------------------------------------------------ probe batch

    def _probe_batch(self) -> Any:
        if self._probe is None:
            source = self.probe_data
            if source is None:
                source = adapter.validation_dataset(self.model)
                if source is None:
                    return None
            self._probe = _first_inputs(source, self.probe_size)
        return self._probe

    def _probe_fn(self) -> Callable:
        if self._probe_function is None:
            self._probe_function = _make_probe_function(self.model, self._probe_layers)
        return self._probe_function

    # ------------------------------------------------------------------ failures

    def _guard(self, what: str, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - never break training
            key = what
            if what in _WRITER_STEPS:
                key, self._writer = "write", None  # stop writing; the console diagnosis still works from memory
            self._warn(key, self._say("failed", what=what, error=f"{type(exc).__name__}: {exc}"))

    def _say(self, key: str, **values: object) -> str:
        """A message of the callback in its language, from the catalogue (`present/catalogue/labels.py`)."""
        return CALLBACK[getattr(self, "lang", "en")][key].format(**values)

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, RuntimeWarning, stacklevel=2)


class _DeviceStats:
    """Accumulators that live on the device and are filled inside the train step."""

    def __init__(
        self,
        num_layers: int,
        capacity: int,
        start_step: int,
        weights: list,
        weight_layers: list[int],
        snapshots: bool,
    ) -> None:
        def var(value: Any, dtype: tf.DType = tf.float32) -> tf.Variable:
            return tf.Variable(
                tf.constant(value, dtype=dtype),
                trainable=False,
                synchronization=tf.VariableSynchronization.ON_WRITE,
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )

        self.capacity = capacity
        self.num_layers = max(num_layers, 1)
        self.step = var(start_step, tf.int64)
        self.pos = var(0, tf.int32)
        self.loss = var(np.full(capacity, np.nan, np.float32))
        self.grad_norm = var(np.full(capacity, np.nan, np.float32))
        self.layer_norm_sum = var(np.zeros(self.num_layers, np.float32))
        self.layer_finite = var(np.zeros(self.num_layers, np.float32))
        self.layer_nonfinite = var(np.zeros(self.num_layers, np.float32))
        self.nonfinite_steps = var(0, tf.int32)
        self.skipped = var(0, tf.int32)
        self.first_nonfinite = var(-1, tf.int64)
        self.prev_total = var(0.0)
        self.prev_count = var(0.0)
        self.batch_size = var(0.0)
        self.weights = weights
        self.layer_of_weight = tf.constant(weight_layers, tf.int32)
        self.snapshots = [tf.Variable(tf.identity(w.value), trainable=False) for w in weights] if snapshots else []
        self._read_fn: Callable | None = None
        self._update_fn: Callable | None = None

    def _slot(self) -> tf.Tensor:
        return tf.equal(tf.range(self.capacity), tf.minimum(self.pos, self.capacity - 1))

    def record_loss(self, total: Any, count: Any, replicas: int) -> None:
        """This batch's loss, from the change of Keras' running-mean loss tracker (``total``/``count``)."""
        total = tf.cast(tf.convert_to_tensor(total), tf.float32)
        count = tf.cast(tf.convert_to_tensor(count), tf.float32)
        reset = count <= self.prev_count  # the tracker restarts every epoch
        d_total = tf.where(reset, total, total - self.prev_total)
        d_count = tf.where(reset, count, count - self.prev_count)
        loss = d_total / tf.maximum(d_count, 1e-12)
        if replicas > 1:
            loss = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.MEAN, loss)
        self.prev_total.assign(total)
        self.prev_count.assign(count)
        self.batch_size.assign(tf.where(self.batch_size > 0, self.batch_size, d_count))
        self.loss.assign(tf.where(self._slot(), loss, self.loss))

    def record_skip(self, grads: list) -> None:
        """A step the loss scaler will skip (non-finite scaled gradients), counted apart from model faults."""
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads if g is not None])
        self.skipped.assign_add(tf.cast(tf.logical_not(finite), tf.int32))

    def record_gradients(self, squares: tf.Tensor, segments: list[int], scale: Any, skip_nonfinite: bool) -> None:
        layer_sq = tf.math.unsorted_segment_sum(squares, tf.constant(segments, tf.int32), self.num_layers)
        if scale is not None:
            s = tf.cast(tf.convert_to_tensor(scale), tf.float32)
            layer_sq = layer_sq / (s * s)
        # Which layers had a gradient is known when tracing: a constant, not more ops per step.
        with_grad = set(segments)
        present = tf.constant([i in with_grad for i in range(self.num_layers)])
        layer_ok = tf.logical_or(tf.math.is_finite(layer_sq), tf.logical_not(present))
        step_ok = tf.reduce_all(layer_ok)
        norms = tf.sqrt(layer_sq)
        self.layer_norm_sum.assign_add(tf.where(layer_ok & present, norms, 0.0))
        self.layer_finite.assign_add(tf.cast(layer_ok & present, tf.float32))
        total = tf.sqrt(tf.reduce_sum(layer_sq))
        if skip_nonfinite:
            # The loss scaler skips this step and lowers its scale: not a model fault.
            self.skipped.assign_add(tf.cast(tf.logical_not(step_ok), tf.int32))
            total = tf.where(step_ok, total, float("nan"))
        else:
            self.layer_nonfinite.assign_add(tf.cast(tf.logical_not(layer_ok), tf.float32))
            self.nonfinite_steps.assign_add(tf.cast(tf.logical_not(step_ok), tf.int32))
            first = tf.logical_and(tf.logical_not(step_ok), self.first_nonfinite < 0)
            self.first_nonfinite.assign(tf.where(first, self.step + 1, self.first_nonfinite))
        self.grad_norm.assign(tf.where(self._slot(), total, self.grad_norm))

    def end_step(self) -> None:
        self.step.assign_add(1)
        self.pos.assign_add(1)

    def read(self, optimizer: Any, probe: Any, probe_fn: Callable | None) -> dict[str, np.ndarray]:
        """Everything accumulated since the last read, in one device-to-host transfer; then reset."""
        if self._read_fn is None:
            self._read_fn = tf.function(self._read_and_reset)
        out = self._read_fn()
        out["learning_rate"] = _learning_rate(optimizer)
        if probe is not None and probe_fn is not None:
            out["activations"] = probe_fn(probe)
        return tf.nest.map_structure(lambda t: np.asarray(t), out)

    def _read_and_reset(self) -> dict[str, tf.Tensor]:
        out = {
            name: tf.identity(getattr(self, name))
            for name in (
                "step",
                "pos",
                "loss",
                "grad_norm",
                "layer_norm_sum",
                "layer_finite",
                "layer_nonfinite",
                "nonfinite_steps",
                "skipped",
                "batch_size",
            )
        }
        out["first_nonfinite_step"] = tf.identity(self.first_nonfinite)
        out["weight_norm"] = self._weight_norms(lambda i, w: w)
        with tf.control_dependencies(list(out.values())):
            self.pos.assign(0)
            self.loss.assign(tf.fill([self.capacity], np.float32("nan")))
            self.grad_norm.assign(tf.fill([self.capacity], np.float32("nan")))
            for v in (self.layer_norm_sum, self.layer_finite, self.layer_nonfinite):
                v.assign(tf.zeros_like(v))
            self.nonfinite_steps.assign(0)
            self.skipped.assign(0)
        return out

    def _weight_norms(self, fn: Callable[[int, tf.Tensor], tf.Tensor]) -> tf.Tensor:
        if not self.weights:
            return tf.zeros([self.num_layers])
        squares = [_squared_norm(fn(i, w.value)) for i, w in enumerate(self.weights)]
        return tf.sqrt(tf.math.unsorted_segment_sum(tf.stack(squares), self.layer_of_weight, self.num_layers))

    def snapshot(self) -> None:
        for snap, w in zip(self.snapshots, self.weights, strict=True):
            snap.assign(w.value)

    def update_ratios(self) -> tuple[np.ndarray, int]:
        """Norm of the change since the last snapshot over the weight norm, per layer."""
        if self._update_fn is None:

            @tf.function
            def fn() -> tuple[tf.Tensor, tf.Tensor]:
                change = self._weight_norms(lambda i, w: w - self.snapshots[i].value())
                norm = self._weight_norms(lambda i, w: w)
                return change / tf.maximum(norm, 1e-12), tf.identity(self.step)

            self._update_fn = fn
        ratios, step = self._update_fn()
        return ratios.numpy(), int(step.numpy())


# ---------------------------------------------------------------------- model inspection


def _squared_norm(x: tf.Tensor) -> tf.Tensor:
    """Sum of squares in one kernel (`l2_loss` is half of it), in float32 whatever the dtype."""
    return 2.0 * tf.nn.l2_loss(tf.cast(x, tf.float32))


def _key(variable: Any) -> str | int:
    """Keras variables by path; the tf.Variable behind one (seen in the all-reduce step) by identity."""
    path = getattr(variable, "path", None)
    return path if isinstance(path, str) else id(variable)


def _group_variables(model: keras.Model) -> tuple[list[str], dict[str | int, int]]:
    """Trainable variables grouped by the layer that owns them, input side first."""
    layers: list[str] = []
    index: dict[str, int] = {}
    var_layer: dict[str | int, int] = {}
    prefix = model.name + "/"
    for v in model.trainable_variables:
        path = v.path
        owner = path.rsplit("/", 1)[0] if "/" in path else path
        name = owner[len(prefix) :] if owner.startswith(prefix) else owner
        name = name or model.name
        if name not in index:
            index[name] = len(layers)
            layers.append(name)
        var_layer[path] = index[name]
    return layers, var_layer


def _activation_kind(layer: keras.layers.Layer) -> str:
    if isinstance(layer, keras.layers.ReLU):
        return "relu"
    act = getattr(layer, "activation", None)
    name = getattr(act, "__name__", "") if act is not None else ""
    if name in _RELU_NAMES:
        return "relu"
    if name in _SIGMOID_NAMES:
        return "sigmoid"
    if name in _TANH_NAMES:
        return "tanh"
    return "other"


def _probe_layers(model: keras.Model) -> list[tuple[str, keras.layers.Layer]]:
    """Leaf layers whose outputs are worth describing: those with weights or an activation."""
    out = []
    prefix = model.name + "/"
    for layer in adapter.leaf_layers(model):
        if not layer.weights and _activation_kind(layer) == "other":
            continue
        path = getattr(layer, "path", layer.name) or layer.name
        name = path[len(prefix) :] if path.startswith(prefix) else path
        out.append((name, layer))
    return out


def _make_probe_function(model: keras.Model, layers: list[tuple[str, keras.layers.Layer]]) -> Callable:
    """A compiled forward pass that returns per-layer statistics of the probe batch (by `LayerStat`)."""
    last = layers[-1][1] if layers else None

    @tf.function
    def probe(x: Any) -> dict[LayerStat, tf.Tensor]:
        captured: dict[int, tf.Tensor] = {}
        with adapter.capturing_outputs([layer for _, layer in layers], captured):
            model(x, training=False)
        nan = tf.constant(float("nan"))
        stats: dict[LayerStat, list[tf.Tensor]] = {k: [] for k in _ACTIVATION_STATS}
        for i, (_, layer) in enumerate(layers):
            out = captured.get(i)
            if out is None or not out.dtype.is_floating:
                for k in stats:
                    stats[k].append(nan)
                continue
            o = tf.cast(out, tf.float32)
            finite = tf.math.is_finite(o)
            clean = tf.where(finite, o, 0.0)
            stats[LayerStat.ACT_MEAN].append(tf.reduce_mean(clean))
            stats[LayerStat.ACT_STD].append(tf.math.reduce_std(clean))
            stats[LayerStat.ACT_NONFINITE].append(tf.reduce_sum(tf.cast(tf.logical_not(finite), tf.float32)))
            kind = _activation_kind(layer)
            if kind == "relu" and o.shape.rank and o.shape.rank >= 2:
                # A unit (last axis: a neuron or a channel) is dead when it is 0 for every probe sample and position.
                dead = tf.reduce_all(o <= 0.0, axis=list(range(o.shape.rank - 1)))
                stats[LayerStat.DEAD_FRACTION].append(tf.reduce_mean(tf.cast(dead, tf.float32)))
            else:
                stats[LayerStat.DEAD_FRACTION].append(nan)
            if kind == "sigmoid" and layer is not last:
                sat = (o < SATURATION_MARGIN) | (o > 1.0 - SATURATION_MARGIN)
                stats[LayerStat.SATURATED_FRACTION].append(tf.reduce_mean(tf.cast(sat, tf.float32)))
            elif kind == "tanh" and layer is not last:
                sat = tf.abs(o) > 1.0 - SATURATION_MARGIN
                stats[LayerStat.SATURATED_FRACTION].append(tf.reduce_mean(tf.cast(sat, tf.float32)))
            else:
                stats[LayerStat.SATURATED_FRACTION].append(nan)
        return {k: tf.stack(v) if v else tf.zeros([0]) for k, v in stats.items()}

    return probe


def _num_classes(model: keras.Model) -> int | None:
    """Number of classes when the loss is a cross-entropy over one output, else None."""
    loss = getattr(model, "loss", None)
    if isinstance(loss, str):
        name = loss
    elif loss is not None:
        name = getattr(loss, "name", None) or getattr(loss, "__name__", "")
        if not isinstance(name, str):
            return None
    else:
        return None
    name = name.lower()
    if name in _BINARY_LOSSES:
        return 2
    if name not in _CATEGORICAL_LOSSES:
        return None
    outputs = getattr(model, "outputs", None)
    shape = None
    if outputs and len(outputs) == 1:
        shape = outputs[0].shape
    if shape is None or shape[-1] is None:
        return None
    return int(shape[-1]) if int(shape[-1]) >= 2 else None


def _learning_rate(optimizer: Any) -> float:
    try:
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except Exception:  # noqa: BLE001 - a custom schedule we cannot evaluate
        return float("nan")


def _first_inputs(source: Any, limit: int) -> Any:
    if isinstance(source, tf.data.Dataset):
        source = next(iter(source))
    if isinstance(source, tuple | list) and len(source) in (2, 3) and not isinstance(source[0], int | float):
        source = source[0]
    return tf.nest.map_structure(lambda a: tf.convert_to_tensor(a)[:limit], source)


def _is_chief(strategy: Any) -> bool:
    """Multi-worker training: only the chief (or worker 0 without a chief) writes."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return True
    spec = resolver.cluster_spec().as_dict()
    if not spec:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in spec


NONFINITE_ACTIONS = ("check_inputs_nan", "lower_lr", "clip_gradients", "safe_loss_ops")
"""What the NaN warning during fit says to try: the catalogue's advice for non-finite losses and gradients, in the
order the end-of-fit diagnosis ranks it when nothing else is known."""


def _nonfinite_message(lang: str, grad_step: int | None, layers: list[str], bad_loss: int) -> str:
    """The warning printed the moment the device statistics show NaN/Inf, worded from the catalogue."""
    words = CALLBACK[lang]
    what = []
    if grad_step is not None:
        where = ", ".join(layers[:3]) + (" ..." if len(layers) > 3 else "")
        what.append(words["nonfinite_grads"].format(step=grad_step, layers=where))
    if bad_loss:
        what.append(words["nonfinite_loss"].format(count=bad_loss))
    actions = " ".join(render_suggestion(sid, lang, {})["action"] for sid in NONFINITE_ACTIONS)
    return words["nonfinite"].format(what=words["and"].join(what), actions=actions)
