"""Wall-time cost of `DiagnosisCallback` next to no callback and Keras' own TensorBoard callback.

    python benchmarks/callback_overhead.py                 # 6 rounds x 2 epochs per configuration (~5 min)
    python benchmarks/callback_overhead.py --rounds 3      # quicker, noisier (about 3 minutes)
    python benchmarks/callback_overhead.py --quick         # smoke run: tiny data, one round

The same CNN (> 1M parameters, 32x32x3 synthetic images, 10 classes, Adam,
sparse categorical cross-entropy, validation data so that the probe batch and
Keras' histograms do their normal work) is trained under each configuration:

  - none:      no callback;
  - tb-recipe: ``DiagnosisCallback(logdir, print_diagnosis=False)``, every
               other argument at its default (``update_freq=100``: with the
               default 200 steps an epoch, two host reads per epoch; probe
               activations and update ratios on);
  - keras-tb:  ``keras.callbacks.TensorBoard(logdir, histogram_freq=1,
               update_freq="batch")``, the peer that records as often;
  - both:      ``keras.callbacks.TensorBoard(logdir)`` at its defaults plus
               tb-recipe, the recommended combination.

Fairness: every configuration has its own model, built from the same initial
weights (reset before every fit) and warmed up by one short untimed fit, so
TensorFlow's first tracing of the train/test functions is not counted for
anyone. Then each round fits every configuration once with fresh callbacks,
the order rotating from round to round, so slow phases of a shared 2-core
machine hit all configurations alike; the numbers are medians over rounds.

The callback has a fixed cost per ``fit`` (it re-traces the train function
with its statistics inside and traces its read, probe and update-ratio
functions) and a running cost (in-graph gradient statistics every step, a
host read every ``update_freq`` steps), so per configuration:
  - fit: ``time.perf_counter`` around ``model.fit``, everything included;
  - steady epoch: from one epoch end to the next, for the epochs after the
    first of each fit (clock callbacks first and last in the list, so every
    callback's work is inside; a wait for the data iterator at the epoch start,
    if any, is left out); also its CPU time;
  - step: the median train step in those epochs (first callback's batch
    begin to last callback's batch end). A median ignores the few steps with a
    host read and short bursts of noise: for tb-recipe it is the in-graph cost;
  - 1st step: the first step of a fit, where the train function is traced;
  - fixed: fit minus its epochs at the steady rate (and any iterator waits).
The target is on the steady epoch: at most 5% for tb-recipe's defaults. A last
untimed fit times tb-recipe's hooks, to split its cost into in-graph (median
step) and host (hooks) parts. Even with no other process running, this VM's
speed drifts by up to ~10% over minutes: in an A/A run (three identical
'none' configurations, default sizes) they came out up to 5% apart with 3
rounds, 1-2% with 6. Near the target, read the verdict from --rounds 6 or more.

Input: the arrays go in as ``tf.data`` datasets (batched, not shuffled: the
data are noise anyway) with tf.data autotuning off. Given as arrays, or as
plain datasets, Keras 3.15 / TF 2.21 (Keras adds ``prefetch(AUTOTUNE)``)
often stall on this VM for seconds with the CPU idle when an epoch's data
iterator is dropped: at the next epoch's start, and at the end of ``fit``
until ~20.5 s after its start. That hits any configuration, and is noise 10x
the 5% we want to see.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tb_recipe_plugin.keras import DiagnosisCallback  # noqa: E402

# Every fit builds new callbacks whose tf.functions trace once (a cost the table counts): TensorFlow's
# "N out of the last M calls triggered retracing" warnings about them would only clutter the output.
logging.getLogger("tensorflow").setLevel(logging.ERROR)

CONFIGS = ("none", "tb-recipe", "keras-tb", "both")
TARGET = 0.05
IMAGE = (32, 32, 3)
CLASSES = 10
# tb-recipe methods timed by the breakdown fit, those it defines (inclusive: a batch hook contains _read).
HOOKS = (
    "on_train_begin",
    "_install",
    "on_train_batch_begin",
    "on_train_batch_end",
    "_read",
    "_read_update_ratios",
    "on_epoch_end",
    "on_train_end",
)
IN_EPOCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_epoch_end")


# --------------------------------------------------------------------------- model and data


def make_data(samples: int, val_samples: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Gaussian images; labels from a fixed random linear map of the pixels, so there is something to learn."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples + val_samples, *IMAGE), dtype=np.float32)
    w = rng.standard_normal((int(np.prod(IMAGE)), CLASSES), dtype=np.float32)
    y = np.argmax(x.reshape(len(x), -1) @ w, axis=1).astype(np.int32)
    return x[:samples], y[:samples], x[samples:], y[samples:]


def build_model() -> keras.Model:
    """A small VGG-style CNN: 1.1M parameters, most of them in the first dense layer."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(IMAGE),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dense(CLASSES),
        ],
        name="bench_cnn",
    )


def compile_model(model: keras.Model) -> keras.Model:
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def make_callbacks(config: str, logdir: str) -> list[keras.callbacks.Callback]:
    if config == "none":
        return []
    if config == "tb-recipe":
        return [DiagnosisCallback(logdir, print_diagnosis=False)]
    if config == "keras-tb":
        return [keras.callbacks.TensorBoard(logdir, histogram_freq=1, update_freq="batch")]
    if config == "both":
        return [keras.callbacks.TensorBoard(logdir), DiagnosisCallback(logdir, print_diagnosis=False)]
    raise ValueError(config)


class Clock(keras.callbacks.Callback):
    """Epoch ends (wall and CPU), train steps and the input pipeline's waits between epochs.

    Placed last in the list; its `lead` is placed first. A step runs from the lead's batch
    begin to this batch end: every callback's batch hooks and the train function. The wait
    runs from this epoch begin (after every callback's) to the lead's first batch begin: only
    Keras re-creating the data iterator; it is left out of the steady epochs.

    The batch hooks do not change how Keras runs the others: with the TensorFlow backend
    (not thread-safe for Keras) callbacks are always called synchronously, and the logs are
    converted to Python numbers for the History callback whatever the list holds.
    """

    def __init__(self) -> None:
        super().__init__()
        self.lead = _Lead(self)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.ends: list[tuple[float, float]] = []
        self.waits: list[tuple[float, float]] = []
        self.steps: list[tuple[int, float]] = []  # (epoch, seconds)
        self.epoch = 0
        self.epoch_begin = self.step_start = (0.0, 0.0)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch
        self.epoch_begin = _now()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.steps.append((self.epoch, time.perf_counter() - self.step_start[0]))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.ends.append(_now())

    def steady(self) -> tuple[list[float], list[float], list[float]]:
        """Wall and CPU time of the epochs after the first (first step, tracing) without the wait, and their steps."""
        wall, cpu = [], []
        for e in range(1, min(len(self.ends), len(self.waits))):
            wall.append(self.ends[e][0] - self.ends[e - 1][0] - self.waits[e][0])
            cpu.append(self.ends[e][1] - self.ends[e - 1][1] - self.waits[e][1])
        return wall, cpu, [seconds for epoch, seconds in self.steps if epoch > 0]

    def waited(self) -> float:
        return sum(w for w, _ in self.waits)

    def first_step(self) -> float:
        """The fit's first train step: it (re-)traces the train function when that is not cached."""
        return self.steps[0][1] if self.steps else float("nan")


class _Lead(keras.callbacks.Callback):
    """The first callback of the list: where a train step, and an epoch's work, begin."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        now = self.clock.step_start = _now()
        if batch == 0:
            begin = self.clock.epoch_begin
            self.clock.waits.append((now[0] - begin[0], now[1] - begin[1]))


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _busy_cpu_seconds() -> float:
    """CPU seconds used by the whole machine since boot (Linux), NaN elsewhere."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timings:
    """The timed fits of one configuration."""

    fit: list[float] = field(default_factory=list)
    wait: list[float] = field(default_factory=list)  # per fit: the input pipeline's waits between epochs
    others: list[float] = field(default_factory=list)  # per fit: CPUs used by other processes meanwhile
    first_step: list[float] = field(default_factory=list)  # per fit
    epoch: list[float] = field(default_factory=list)
    epoch_cpu: list[float] = field(default_factory=list)
    step: list[float] = field(default_factory=list)

    def extend(self, other: Timings) -> None:
        for name in ("fit", "wait", "others", "first_step", "epoch", "epoch_cpu", "step"):
            getattr(self, name).extend(getattr(other, name))


# --------------------------------------------------------------------------- measurement


class Bench:
    def __init__(self, args: argparse.Namespace, configs: list[str], root: str) -> None:
        self.args = args
        self.configs = configs
        self.root = root
        self.x, self.y, vx, vy = make_data(args.samples, args.val_samples)
        # Datasets without tf.data autotuning, not the arrays: see "Input" in the module docstring.
        options = tf.data.Options()
        options.autotune.enabled = False
        self.steps = max(1, args.samples // args.batch_size)
        self.train = (
            tf.data.Dataset.from_tensor_slices((self.x, self.y))
            .batch(args.batch_size, drop_remainder=True)
            .with_options(options)
        )
        self.validation = tf.data.Dataset.from_tensor_slices((vx, vy)).batch(args.batch_size).with_options(options)
        keras.utils.set_random_seed(0)
        first = compile_model(build_model())
        self.initial = first.get_weights()
        self.params = int(sum(int(np.prod(v.shape)) for v in first.trainable_variables))
        self.models: dict[str, keras.Model] = {}
        for config in configs:
            model = compile_model(build_model())
            model.set_weights(self.initial)
            self.models[config] = model
        self.fits = 0

    def fit(
        self, config: str, epochs: int, steps: int | None = None, callbacks: list | None = None
    ) -> tuple[Timings, Clock]:
        """One fit of this configuration's model from the initial weights, with fresh callbacks."""
        model = self.models[config]
        model.set_weights(self.initial)
        self.fits += 1
        if callbacks is None:
            callbacks = make_callbacks(config, os.path.join(self.root, f"{config}-{self.fits:03d}"))
        clock = Clock()
        busy, cpu, start = _busy_cpu_seconds(), time.process_time(), time.perf_counter()
        model.fit(
            self.train if steps is None else self.train.take(steps),
            epochs=epochs,
            validation_data=self.validation,
            callbacks=[clock.lead, *callbacks, clock],
            shuffle=False,
            verbose=0,
        )
        seconds = time.perf_counter() - start
        others = (_busy_cpu_seconds() - busy - (time.process_time() - cpu)) / seconds
        timings = Timings(
            [seconds],
            [clock.waited()],
            [max(0.0, others) if math.isfinite(others) else others],
            [clock.first_step()],
            *clock.steady(),
        )
        return timings, clock

    def warm_up(self) -> None:
        for config in self.configs:
            self.fit(config, epochs=1, steps=8)

    def rounds(self) -> dict[str, Timings]:
        results = {c: Timings() for c in self.configs}
        for r in range(self.args.rounds):
            k = r % len(self.configs)
            order = self.configs[k:] + self.configs[:k]
            for config in order:
                results[config].extend(self.fit(config, self.args.epochs)[0])
            done = ", ".join(f"{c} {results[c].fit[-1]:.1f}s" for c in order)
            others = statistics.mean(results[c].others[-1] for c in order)
            print(f"round {r + 1}/{self.args.rounds}: {done}; other processes {others:.2f} CPUs", flush=True)
        return results


def timed_hooks(callback: DiagnosisCallback) -> dict[str, list[tuple[float, float]]]:
    """Wrap the callback's hooks on the instance; each call appends (start, seconds) to the returned lists."""
    spent: dict[str, list[tuple[float, float]]] = {name: [] for name in HOOKS}

    def wrap(name: str, method: Callable) -> Callable:
        def timed(*a: Any, **kw: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*a, **kw)
            finally:
                spent[name].append((start, time.perf_counter() - start))

        return timed

    for name in HOOKS:
        method = getattr(type(callback), name, None)
        if method is not None and method is not getattr(keras.callbacks.Callback, name, None):
            setattr(callback, name, wrap(name, getattr(callback, name)))
    return spent


def breakdown(bench: Bench) -> float | None:
    """One more, untimed, tb-recipe fit with its hooks timed; returns their seconds per steady epoch."""
    callback = DiagnosisCallback(os.path.join(bench.root, "breakdown"), print_diagnosis=False)
    spent = timed_hooks(callback)
    timings, clock = bench.fit("tb-recipe", bench.args.epochs, callbacks=[callback])
    steps = bench.steps * bench.args.epochs
    print(
        f"\ntb-recipe host time by hook in one more fit ({steps} steps, {timings.fit[0]:.1f}s; "
        "a hook's time includes the calls below it):"
    )
    print(f"{'hook':<22}{'calls':>7}{'total ms':>10}{'ms/call':>9}{'max ms':>9}{'per steady epoch':>20}")
    first_end = clock.ends[0][0] if clock.ends else float("inf")
    steady_epochs = len(clock.ends) - 1
    for name in HOOKS:
        calls = spent[name]
        if not calls:
            continue
        times = [t for _, t in calls]
        per_epoch = sum(t for s, t in calls if s > first_end) / max(1, steady_epochs)
        print(
            f"{name:<22}{len(times):>7}{1000 * sum(times):>10.1f}{1000 * sum(times) / len(times):>9.2f}"
            f"{1000 * max(times):>9.1f}{1000 * per_epoch:>14.1f} ms/ep"
        )
    reads = [t for _, t in spent["_read"]]
    if reads:
        print(
            f"_read: first {1000 * reads[0]:.0f} ms (traces the read function; the probe function traces at the "
            f"first read after a validation), median {1000 * statistics.median(reads):.0f} ms"
        )
    if steady_epochs < 1:
        return None
    return sum(t for h in IN_EPOCH_HOOKS for s, t in spent[h] if s > first_end) / steady_epochs


# --------------------------------------------------------------------------- report


def _fixed(t: Timings, epochs: int) -> float:
    """What a fit costs beyond its epochs at the steady rate (tracing, set-up, tear-down), without input waits."""
    return statistics.median(f - w for f, w in zip(t.fit, t.wait, strict=True)) - epochs * statistics.median(t.epoch)


def report(configs: list[str], results: dict[str, Timings], epochs: int) -> None:
    med = statistics.median
    base = results["none"]
    print(
        f"\n{'config':<11}{'fit s':>8}{'x none':>8}{'steady epoch s':>16}{'x none':>8}"
        f"{'CPU x none':>12}{'step ms':>9}{'x none':>8}{'1st step s':>12}{'fixed s/fit':>13}{'- none':>8}"
    )
    for c in configs:
        t = results[c]
        print(
            f"{c:<11}{med(t.fit):>8.2f}{med(t.fit) / med(base.fit):>8.3f}"
            f"{med(t.epoch):>16.3f}{med(t.epoch) / med(base.epoch):>8.3f}"
            f"{med(t.epoch_cpu) / med(base.epoch_cpu):>12.3f}"
            f"{1000 * med(t.step):>9.2f}{med(t.step) / med(base.step):>8.3f}{med(t.first_step):>12.2f}"
            f"{_fixed(t, epochs):>13.2f}{_fixed(t, epochs) - _fixed(base, epochs):>+8.2f}"
        )
    others = med(o for t in results.values() for o in t.others)
    print(
        f"medians over {len(base.fit)} fits of {epochs} epochs ({len(base.epoch)} steady epochs, {len(base.step)} "
        f"steps) per configuration; CPU: this process, all threads; other processes used {others:.2f} CPUs"
    )
    waits = [w for t in results.values() for w in t.wait]
    if max(waits) > 0.1:
        print(
            f"note: the input pipeline held up epoch starts in {sum(w > 0.1 for w in waits)} of {len(waits)} fits, "
            f"{max(waits):.1f}s at most (left out of the steady epochs and the fixed costs)"
        )
    spread = max(base.epoch) / min(base.epoch) - 1
    if spread > TARGET:
        print(
            f"note: the steady epochs of 'none' alone varied by {spread:.0%}: the wall-time ratios hold that "
            "much noise: near the target, use more --rounds (6: about 5 minutes)"
        )
    print()
    for c, label in (("keras-tb", "keras TensorBoard(histogram_freq=1, update_freq='batch')"), ("both", "both")):
        if c in results:
            t = results[c]
            print(
                f"{label}: {med(t.epoch) / med(base.epoch) - 1:+.1%} per steady epoch "
                f"(CPU {med(t.epoch_cpu) / med(base.epoch_cpu) - 1:+.1%}, step {med(t.step) / med(base.step) - 1:+.1%})"
            )


def summary(results: dict[str, Timings], epochs: int, hooks_per_epoch: float | None) -> None:
    med = statistics.median
    base, t = results["none"], results["tb-recipe"]
    print(
        f"tb-recipe per-fit fixed cost: {_fixed(t, epochs) - _fixed(base, epochs):+.2f}s, of which the first step "
        f"(train function re-trace) {med(t.first_step) - med(base.first_step):+.2f}s; whole fit "
        f"{med(t.fit) / med(base.fit) - 1:+.1%} on this {epochs}-epoch fit"
    )
    step = med(t.step) / med(base.step) - 1
    if hooks_per_epoch is not None:
        hooks = hooks_per_epoch / med(base.epoch)
        print(
            f"tb-recipe from its parts: median step {step:+.1%} (in-graph statistics) + host hooks {hooks:+.1%} "
            f"({1000 * hooks_per_epoch:.0f} ms per steady epoch, mostly reads) = {step + hooks:+.1%}"
        )
    wall = med(t.epoch) / med(base.epoch) - 1
    cpu = med(t.epoch_cpu) / med(base.epoch_cpu) - 1
    verdict = "ok" if wall <= TARGET else "OVER TARGET"
    print(
        f"tb-recipe default overhead: {wall:+.1%} (steady-state per epoch), target <= {TARGET:.0%}: {verdict} "
        f"(CPU time {cpu:+.1%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="timed fits per configuration (3 is noisier)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed fit (>= 2: the first is not steady)")
    parser.add_argument("--samples", type=int, default=12800, help="training samples (200 steps at batch 64)")
    parser.add_argument("--val-samples", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS), help="'none' is always in")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the fit that times tb-recipe's hooks")
    parser.add_argument("--quick", action="store_true", help="smoke run: 640 samples, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.samples, args.val_samples, args.rounds = 640, 128, 1
    args.epochs = max(2, args.epochs)
    args.rounds = max(1, args.rounds)
    configs = [c for c in CONFIGS if c == "none" or c in args.configs]

    started = time.perf_counter()
    root = tempfile.mkdtemp(prefix="tb_recipe_callback_overhead_")
    try:
        bench = Bench(args, configs, root)
        steps = -(-args.samples // args.batch_size)
        print(
            f"CNN with {bench.params:,} trainable parameters; {args.samples} samples ({steps} steps of "
            f"{args.batch_size}) + {args.val_samples} validation; {args.rounds} rounds x {args.epochs} epochs "
            f"x {len(configs)} configurations; {os.cpu_count()} CPUs",
            flush=True,
        )
        if args.quick:
            print("--quick: a smoke run, too few steps for the ratios to mean anything", flush=True)
        bench.warm_up()
        results = bench.rounds()
        report(configs, results, args.epochs)
        if "tb-recipe" in configs:
            hooks = None if args.no_breakdown else breakdown(bench)
            print()
            summary(results, args.epochs, hooks)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\ntotal wall time {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
