"""keras_autoencoder: a dense autoencoder x synthetic small-valued sensor traces x Keras ``model.fit`` x TensorBoard.

Why it exists: a reconstruction task whose loss lives around 1e-4..1e-5 (MSE
of traces of amplitude ~0.02), so that anything judged on absolute loss levels
("the loss is tiny, so it converged", "a change of 1e-4 is nothing") is
tested, plus two runs with a summed loss (~1e0), and Keras'
``ReduceLROnPlateau`` (whose default ``min_delta=1e-4`` is absolute) used the
way people use it. Some runs log epochs only, others every N batches (running
means within the epoch).

Data: 64-sample traces, each three sines (amplitude 0.004-0.02, 1-6 cycles)
plus two Gaussian bumps (amplitude up to +-0.03) plus sensor noise (sd 0.002);
4,096 training traces (64 steps of 64) and 1,024 validation traces, the same
in every run. Model: 64-32-8-32-64 dense (ReLU, linear code and output), MSE
loss, MAE metric (direction min; ``chance_metric`` is the MAE of predicting
the training mean trace; predicting it gives an MSE of ~3.05e-4). The training
order is one pre-drawn permutation per epoch (equivalent to
``shuffle(reshuffle_each_iteration=True)``) so that glitches land in chosen
batches.

Runs (intent: how it is made):

- healthy_adam: Adam 3e-4, 20 epochs, epoch logging: 3e-4 down to ~8.5e-5.
- healthy_reduce_lr: a 64-16-64 model, Adam 2e-3 with ``ReduceLROnPlateau(factor=0.5, patience=2,
  min_delta=1e-7)``, logged every 16 batches: the LR halves every few epochs while the loss creeps down to ~4.5e-6.
- healthy_denoising: ``GaussianNoise(0.01)`` on the input and dropout 0.1 on the code: validation loss below
  training loss.
- healthy_small_val: 16 validation traces; logged every 64 batches.
- healthy_long: 512 traces in batches of 32, 200 epochs with a cosine decay to 1% of 1e-3.
- healthy_summed_loss: squared error summed over features and batch (a ~1e0 loss), SGD+momentum at 0.003.
- overfitting: 128 traces in batches of 32, a 256-128-8-128-256 model, 400 epochs: validation loss +40% from its best.
- lr_too_high: the summed loss with SGD+momentum at 0.01 and ``ReduceLROnPlateau(factor=0.3, patience=3)``: the
  loss stalls and jumps while the LR is high and drops at the callback's cuts.
- divergence: a step schedule that multiplies the LR by 10 every 6 epochs (meant 0.1): Adam from 1e-3; the loss
  jumps at each step and ends 1000x above its best.
- nonfinite: the summed loss with SGD+momentum and a linear warm-up over 10 epochs to 0.05: the loss blows up
  around epoch 3 and is NaN from epoch 4.
- lr_too_small: plain SGD at 0.05: on a 1e-4 loss the gradients are ~1e-4 and the weights barely move.
- no_learning: targets paired with other traces (inputs and targets shuffled separately): nothing to learn beyond
  the mean trace, the loss stays at ~3.05e-4.
- plateau: Adam 3e-3, 100 epochs: converged by epoch ~5, flat for 95 more.
- lr_decay_too_early: ``ReduceLROnPlateau(factor=0.2, patience=1)`` with the default absolute ``min_delta=1e-4``:
  on this loss no epoch counts as an improvement, the LR is cut every other epoch and the loss freezes at ~5e-5.
- underfitting: a 2-unit code: the loss levels far above what an 8-unit code reaches.
- loss_spikes: at 20/35/50/65/80% of the run one trace of the batch has a segment saturated at 1.0 (a sensor
  glitch, a different trace each time); every batch logged: 10-30x spikes that recover at the next batch.
- noisy: 1,024 traces in batches of 4, 16 validation traces.
- data_problem: validation traces from a sensor with 8x the gain (another distribution).
- still_learning: Adam 1e-4 stopped after 10 epochs.

``Facts.injected`` gives the 1-based batch steps (Keras' numbering) of the
glitches (``glitch_steps``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._tf import keras_session
from benchmarks.corpus.programs.keras_mlp_digits import keras_fit_facts, tensorboard_callback
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "keras_autoencoder"
VERSION = 1
LENGTH = 64
N_TRAIN = 4096
N_VAL = 1024

DEFAULTS: dict[str, Any] = {
    "epochs": 30,
    "batch_size": 64,
    "n_train": N_TRAIN,
    "n_val": N_VAL,
    "hidden": [32],
    "code": 8,
    "l2": 0.0,
    "input_noise": 0.0,
    "code_dropout": 0.0,
    "optimizer": "adam",
    "lr": 1e-3,
    "momentum": 0.0,
    "schedule": "constant",  # constant | cosine | times10 | warmup
    "schedule_every": 6,  # times10: epochs between x10 steps; warmup: epochs of linear warm-up
    "plateau_cb": None,  # ReduceLROnPlateau kwargs, or None
    "summed_loss": False,
    "shuffled_targets": False,
    "glitches": [],  # fractions of the run at which one trace of the batch has a segment saturated at 1.0
    "val_gain": 1.0,
    "update_freq": "epoch",
}

RUNS: list[tuple[str, str, dict[str, Any]]] = [
    ("healthy_adam", "healthy", {"lr": 3e-4, "epochs": 20}),
    (
        "healthy_reduce_lr",
        "healthy",
        {"code": 16, "hidden": [64], "lr": 2e-3, "plateau_cb": {"factor": 0.5, "patience": 2, "min_delta": 1e-7},
         "epochs": 40, "update_freq": 16},
    ),
    ("healthy_denoising", "healthy", {"input_noise": 0.01, "code_dropout": 0.1, "epochs": 40, "update_freq": 32}),
    ("healthy_small_val", "healthy", {"n_val": 16, "update_freq": 64}),
    ("healthy_long", "healthy", {"n_train": 512, "batch_size": 32, "schedule": "cosine", "epochs": 200}),
    (
        "healthy_summed_loss",
        "healthy",
        {"summed_loss": True, "optimizer": "sgd", "lr": 0.003, "momentum": 0.9, "epochs": 40},
    ),
    ("overfitting", "overfitting", {"n_train": 128, "batch_size": 32, "hidden": [256, 128], "epochs": 400}),
    ("val_plateau", "val_plateau", {"n_train": 256, "batch_size": 32, "code": 16, "hidden": [64], "epochs": 150}),
    ("divergence", "divergence", {"schedule": "times10", "update_freq": 8}),
    (
        "nonfinite",
        "nonfinite",
        {"summed_loss": True, "optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "schedule": "warmup",
         "schedule_every": 10, "update_freq": 16},
    ),
    ("lr_too_small", "lr_too_small", {"optimizer": "sgd", "lr": 0.05, "update_freq": 32}),
    ("no_learning", "no_learning", {"shuffled_targets": True, "epochs": 20}),
    ("plateau", "plateau", {"lr": 3e-3, "epochs": 100}),
    ("lr_decay_too_early", "lr_decay_too_early", {"plateau_cb": {"factor": 0.2, "patience": 1}, "update_freq": 16}),
    ("underfitting", "underfitting", {"code": 2, "epochs": 40}),
    ("loss_spikes", "loss_spikes", {"glitches": [0.2, 0.35, 0.5, 0.65, 0.8], "epochs": 40, "update_freq": 1}),
    ("noisy", "noisy", {"n_train": 1024, "batch_size": 4, "n_val": 16, "epochs": 10, "update_freq": 16}),
    ("data_problem", "data_problem", {"val_gain": 8.0, "update_freq": 32}),
    ("still_learning", "still_learning", {"lr": 1e-4, "epochs": 10, "update_freq": 8}),
]


def runs() -> list[RunSpec]:
    return [RunSpec(NAME, name, intent, params, seed=200 + i) for i, (name, intent, params) in enumerate(RUNS)]


def traces(n: int, seed: int) -> np.ndarray:
    """``n`` sensor traces (n, 64): three sines + two Gaussian bumps + noise, values within about +-0.08."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, LENGTH)[None, :]
    x = rng.normal(0.0, 0.002, (n, LENGTH))
    for _ in range(3):
        amp, freq = rng.uniform(0.004, 0.02, (n, 1)), rng.uniform(1.0, 6.0, (n, 1))
        x += amp * np.sin(2 * np.pi * freq * t + rng.uniform(0.0, 2 * np.pi, (n, 1)))
    for _ in range(2):
        centre, width = rng.uniform(0.1, 0.9, (n, 1)), rng.uniform(0.02, 0.08, (n, 1))
        x += rng.uniform(-0.03, 0.03, (n, 1)) * np.exp(-((t - centre) ** 2) / (2 * width**2))
    return x.astype("float32")


def _stream(tf: Any, x: np.ndarray, target: np.ndarray, p: dict[str, Any], seed: int) -> tuple[Any, list[int]]:
    """Batches of (input, target) in one fresh permutation per epoch, with the run's glitches at exact steps.

    Equivalent to ``shuffle(reshuffle_each_iteration=True)``, but a glitch
    lands in a chosen batch (a saturated segment in a different trace each
    time, so the model cannot learn it away), not in a sample seen every epoch.
    """
    rng = np.random.default_rng(seed)
    bs = p["batch_size"]
    steps = len(x) // bs
    order = np.concatenate([rng.permutation(len(x))[: steps * bs] for _ in range(p["epochs"])])
    glitch = np.zeros(len(order), "float32")
    glitch_steps = [int(f * steps * p["epochs"]) for f in p["glitches"]]
    glitch[[s * bs + int(rng.integers(bs)) for s in glitch_steps]] = 1.0
    segment = np.zeros(LENGTH, "float32")
    segment[20:36] = 1.0
    x_t, target_t, segment_t = tf.constant(x), tf.constant(target), tf.constant(segment)

    @tf.autograph.experimental.do_not_convert
    def batch(idx: Any, hit: Any) -> tuple[Any, Any]:
        mask = hit[:, None] * segment_t[None, :]  # saturate at 1.0 where hit
        xb = tf.gather(x_t, idx) * (1.0 - mask) + mask
        yb = tf.gather(target_t, idx) * (1.0 - mask) + mask
        return xb, yb

    ds = tf.data.Dataset.from_tensor_slices((order, glitch)).batch(bs).map(batch)
    return ds, [s + 1 for s in glitch_steps]  # + 1: Keras' batch summaries count steps from 1


def _model(keras: Any, p: dict[str, Any]) -> Any:
    reg = keras.regularizers.L2(p["l2"]) if p["l2"] else None
    layers: list[Any] = [keras.Input((LENGTH,))]
    if p["input_noise"]:
        layers.append(keras.layers.GaussianNoise(p["input_noise"]))
    for width in p["hidden"]:
        layers.append(keras.layers.Dense(width, activation="relu", kernel_regularizer=reg))
    layers.append(keras.layers.Dense(p["code"], kernel_regularizer=reg))
    if p["code_dropout"]:
        layers.append(keras.layers.Dropout(p["code_dropout"]))
    for width in reversed(p["hidden"]):
        layers.append(keras.layers.Dense(width, activation="relu", kernel_regularizer=reg))
    layers.append(keras.layers.Dense(LENGTH, kernel_regularizer=reg))
    return keras.Sequential(layers)


def _summed_squared_error(keras: Any) -> Any:
    """Squared error summed over features; with ``reduction="sum"`` also over the batch (a ~1e0 loss)."""

    class SummedSquaredError(keras.losses.Loss):
        def call(self, y_true: Any, y_pred: Any) -> Any:
            return keras.ops.sum(keras.ops.square(y_true - y_pred), axis=-1)

    return SummedSquaredError(reduction="sum", name="summed_squared_error")


def _callbacks(keras: Any, p: dict[str, Any], steps: int) -> list[Any]:
    out = []
    if p["plateau_cb"] is not None:
        out.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", verbose=0, **p["plateau_cb"]))
    if p["schedule"] == "times10":
        every = p["schedule_every"]
        out.append(keras.callbacks.LearningRateScheduler(lambda epoch: p["lr"] * 10.0 ** (epoch // every)))
    return out


def _learning_rate(keras: Any, p: dict[str, Any], steps: int) -> Any:
    schedules = keras.optimizers.schedules
    if p["schedule"] == "cosine":
        return schedules.CosineDecay(p["lr"], steps * p["epochs"], alpha=0.01)
    if p["schedule"] == "warmup":  # linear warm-up to the peak, then constant
        warmup = steps * p["schedule_every"]
        return schedules.CosineDecay(0.0, 1, alpha=1.0, warmup_target=p["lr"], warmup_steps=warmup)
    return p["lr"]


def _injected(p: dict[str, Any], glitch_steps: list[int]) -> dict[str, Any]:
    inj: dict[str, Any] = {}
    if p["summed_loss"]:
        inj["summed_loss"] = "squared error summed over features and batch, SGD+momentum"
    if p["schedule"] == "warmup":
        inj["lr_warmup_too_high"] = f"linear warm-up over {p['schedule_every']} epochs to {p['lr']} on the summed loss"
    if p["glitches"]:
        inj["glitches"] = "one trace of the batch with samples 20-35 saturated at 1.0"
        inj["glitch_steps"] = glitch_steps
    if p["schedule"] == "times10":
        inj["lr_times10"] = f"LR x10 every {p['schedule_every']} epochs (meant x0.1)"
    if p["optimizer"] == "sgd" and not p["summed_loss"]:
        inj["sgd_on_tiny_loss"] = f"plain SGD lr={p['lr']} on a ~1e-4 loss"
    if p["shuffled_targets"]:
        inj["shuffled_targets"] = "each input paired with another trace as target"
    if p["plateau_cb"] is not None and "min_delta" not in p["plateau_cb"]:
        inj["reduce_lr_min_delta"] = "ReduceLROnPlateau default min_delta=1e-4 on a ~1e-4 loss"
    if p["val_gain"] != 1.0:
        inj["val_distribution"] = f"validation traces x{p['val_gain']} (another sensor gain)"
    return inj


def train(spec: RunSpec, run_dir: Path) -> Facts:
    p = run_params(spec, DEFAULTS)
    keras, tf = keras_session(spec.seed)
    x = traces(p["n_train"], seed=11)
    x_val = traces(p["n_val"], seed=12) * p["val_gain"]
    target = x[np.random.default_rng(spec.seed).permutation(len(x))] if p["shuffled_targets"] else x
    steps = len(x) // p["batch_size"]
    lr = _learning_rate(keras, p, steps)
    if p["optimizer"] == "sgd":
        opt = keras.optimizers.SGD(learning_rate=lr, momentum=p["momentum"])
    else:
        opt = keras.optimizers.Adam(learning_rate=lr)
    model = _model(keras, p)
    model.compile(optimizer=opt, loss=_summed_squared_error(keras) if p["summed_loss"] else "mse", metrics=["mae"])
    data, glitch_steps = _stream(tf, x, target, p, spec.seed)
    callbacks = [tensorboard_callback(keras, run_dir, p["update_freq"], steps), *_callbacks(keras, p, steps)]
    model.fit(
        data,
        validation_data=(x_val, x_val),
        # A summed loss grows with the batch: evaluate in training-size batches so both curves share a scale.
        validation_batch_size=p["batch_size"] if p["summed_loss"] else 256,
        epochs=p["epochs"],
        steps_per_epoch=steps,
        callbacks=callbacks,
        shuffle=False,  # the stream is already in per-epoch shuffled order
        verbose=0,
    )
    chance = float(np.mean(np.abs(x_val - x.mean(axis=0))))
    peak = p["lr"] * 10.0 ** ((p["epochs"] - 1) // p["schedule_every"]) if p["schedule"] == "times10" else p["lr"]
    schedules = {"cosine": "cosine", "times10": "step_growth", "warmup": "warmup_constant"}
    schedule = schedules.get(p["schedule"], "constant")
    if p["plateau_cb"] is not None:
        schedule = "reduce_on_plateau"
    return keras_fit_facts(
        update_freq=p["update_freq"],
        metric="mae",
        direction="min",
        task="reconstruction",
        steps_per_epoch=steps,
        chance_metric=chance,
        epochs=p["epochs"],
        batch_size=p["batch_size"],
        lr_peak=float(peak),
        schedule=schedule,
        shuffled=True,
        injected=_injected(p, glitch_steps),
    )


PROGRAM = Program(
    name=NAME,
    family="autoencoder",
    data="synthetic sensor traces (64 samples, amplitude ~0.03)",
    script="keras_fit",
    writer="keras_tensorboard",
    framework="tensorflow",
    version=VERSION,
    runs=runs,
    train=train,
)
