"""keras_lstm_forecast (heldout): LSTM/GRU x synthetic seasonal series x Keras ``fit`` x ``callbacks.TensorBoard``.

Why: one-step-ahead forecasting is the most common recurrent regression
users train with Keras: MSE loss, MAE metric (both lower is better), an
epoch-level Keras layout (``train/epoch_loss``, ``validation/epoch_loss``,
``train/epoch_mae``, ``train/epoch_learning_rate``; ``train/batch_loss`` as
a within-epoch running mean in runs with ``update_freq=N``), and the
callbacks such scripts use: ``LearningRateScheduler`` step decay,
``ReduceLROnPlateau``, and ``EarlyStopping(restore_best_weights=True)``, so
several runs end before their planned epoch count. Targets are used
normalised (loss ~1e-2..1) or raw (loss ~1e2..1e4). A few runs also write
through tb-recipe's ``DiagnosisCallback`` (print_diagnosis=False), as users do.

Data: a sum of two sinusoids (periods 24 and ~60 steps) plus a trend and
AR(1) noise; windows of ``lookback`` values predict the next one; the split
is chronological (the last 25% of the series validates). Shuffled runs
reshuffle every epoch through ``tf.data`` (``fit(shuffle=True)`` repeats one
order after ``set_random_seed``).

Runs (name: how it is made; the intent is the name's first word(s)):

- healthy_lstm_stepdecay: LSTM(32), Adam, LearningRateScheduler x0.5 every 10 epochs, 40 epochs.
- healthy_gru_reduce_on_plateau: GRU(32), ReduceLROnPlateau(factor 0.3, patience 3): LR steps, small loss bumps.
- healthy_raw_targets: targets not normalised (loss ~2e3 -> ~10), Adam 1e-2 with step decay.
- healthy_dropout_noise: GaussianNoise on the inputs and Dropout 0.3: validation below training.
- healthy_earlystop_small_val: 40 validation windows (noisy), EarlyStopping(patience 6, restore_best_weights).
- overfitting_earlystop: 200 training windows of a noisy series, LSTM(64)+Dense(64); EarlyStopping(patience 15)
  ends the run once validation has risen for 15 epochs.
- overfitting_long: the same kind of set-up without early stopping, 120 epochs.
- divergence_adam_high_lr: GRU with Adam at 0.05, no clipping: the loss falls, then climbs as the recurrent
  weights grow.
- nonfinite_nan_in_new_data: after 15 epochs the script continues ``fit`` on the series extended by newly arrived data
  that holds a missing reading (NaN): the loss is NaN from then on.
- lr_too_small: Adam at 1e-5.
- plateau_clean_sine: an almost noiseless two-sine series: solved within a few epochs of 50, then flat.
- underfitting_gru2_short_lookback: GRU(2) seeing 3 steps of a series with 24/60-step seasonality.
- still_learning_raw_offset: raw targets around 100 (loss ~1e4), 15 epochs: the output bias is still climbing.
- lr_too_high_stepdecay: Adam at 0.03 for 15 epochs (loss stuck high, jumping), then x0.05: the loss drops.
- noisy_small_batches: batch 8 and 24 validation windows.
- data_problem_val_other_regime: validation from a series with another period and twice the amplitude.
- loss_spikes_lr_kicks: the LearningRateScheduler function returns 60x the LR at epochs 12 and 24 (a bug), batch-level
  logging every 5 steps.
- unshuffled_time_order: windows fed in time order (no shuffle) of a series with a level shift, batch_loss every step.
- val_plateau_lookback_overfit: long lookback (96) and LSTM(64) on a noisy series: validation levels off early while
  training keeps falling.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._tf import tf_setup
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "keras_lstm_forecast"

DEFAULTS: dict[str, Any] = {
    "length": 1600,  # series length
    "period": 24.0,
    "amp": 1.0,
    "level": 0.0,
    "trend": 0.3,  # total drift over the series, in amplitude units
    "noise": 0.2,  # AR(1) innovation std, in amplitude units
    "shift": 0.0,  # level shift (amplitude units) in the second half of the training part
    "val_regime": None,  # {"period": ..., "amp": ...}: validation from another series
    "lookback": 24,
    "horizon": 1,  # predict the value this many steps after the window
    "n_train": None,  # keep only the last this many training windows
    "n_val": None,  # keep only the first this many validation windows
    "scale": 40.0,  # raw series amplitude (targets are this scale when target="raw")
    "target": "norm",  # norm | raw
    "cell": "lstm",  # lstm | gru
    "units": 32,
    "dense": 0,
    "dropout": 0.0,
    "input_noise": 0.0,
    "optimizer": "adam",  # adam | sgd
    "lr": 3e-3,
    "schedule": "constant",  # constant | step | plateau
    "step_every": 10,
    "gamma": 0.5,
    "kick_epochs": [],  # LearningRateScheduler bug: these epochs get lr * kick_factor
    "kick_factor": 60.0,
    "plateau_factor": 0.3,
    "plateau_patience": 3,
    "early_stop": None,  # patience of EarlyStopping(restore_best_weights=True)
    "epochs": 40,
    "batch": 32,
    "update_freq": "epoch",  # "epoch" or a number of steps (batch_loss is then written)
    "shuffle": True,
    "nan_phase": None,  # epoch from which fit continues on data holding a NaN reading
    "diagnosis_callback": False,
}


def _runs() -> list[RunSpec]:
    def r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
        return RunSpec(NAME, name, intent, params, seed)

    return [
        r("healthy_lstm_stepdecay", "healthy", 201, schedule="step", step_every=10, gamma=0.5, lr=3e-3, epochs=40),
        r("healthy_gru_reduce_on_plateau", "healthy", 202, cell="gru", schedule="plateau", lr=5e-3, epochs=45,
          diagnosis_callback=True),
        r("healthy_raw_targets", "healthy", 203, target="raw", lr=1e-2, schedule="step", step_every=12, gamma=0.3,
          epochs=36),
        r("healthy_dropout_noise", "healthy", 204, input_noise=0.3, dropout=0.3, dense=32, lr=3e-3,
          schedule="step", step_every=12, epochs=36),
        r("healthy_earlystop_small_val", "healthy", 205, cell="gru", n_val=40, lr=3e-3, early_stop=6, epochs=60,
          update_freq=4),
        r("overfitting_earlystop", "overfitting", 206, n_train=200, noise=0.6, units=64, dense=64, lr=3e-3,
          early_stop=15, epochs=150, batch=16),
        r("overfitting_long", "overfitting", 207, cell="gru", n_train=240, noise=0.6, units=64, dense=64,
          lr=2e-3, epochs=120, batch=16, diagnosis_callback=True),
        r("divergence_adam_high_lr", "divergence", 208, lr=0.3, epochs=30),
        r("nonfinite_nan_in_new_data", "nonfinite", 209, nan_phase=15, epochs=30),
        r("lr_too_small", "lr_too_small", 210, lr=1e-5, epochs=30),
        r("plateau_clean_sine", "plateau", 211, noise=0.01, trend=0.0, lr=5e-3, epochs=50),
        r("underfitting_gru2_short_lookback", "underfitting", 212, cell="gru", units=2, lookback=4, horizon=8,
          lr=1e-2, epochs=40),
        r("still_learning_raw_offset", "still_learning", 213, target="raw", level=2.5, lr=1e-3, epochs=15),
        r("lr_too_high_stepdecay", "lr_too_high", 214, lr=0.03, schedule="step", step_every=15, gamma=0.05,
          epochs=30),
        r("noisy_small_batches", "noisy", 215, batch=8, n_val=24, noise=0.5, lr=1e-3, epochs=25),
        r("data_problem_val_other_regime", "data_problem", 216, val_regime={"period": 11.0, "amp": 2.0}, lr=3e-3,
          epochs=30),
        r("loss_spikes_lr_kicks", "loss_spikes", 217, schedule="step", step_every=100, kick_epochs=[12, 24],
          lr=2e-3, epochs=36, update_freq=1, diagnosis_callback=True),
        r("unshuffled_time_order", "unshuffled", 218, shuffle=False, shift=3.0, lr=5e-3, epochs=25,
          update_freq=1),
        r("val_plateau_lookback_overfit", "val_plateau", 219, lookback=48, units=64, dense=32, noise=0.6,
          n_train=500, lr=2e-3, epochs=40),
    ]


# --------------------------------------------------------------------------- data


def make_series(p: dict[str, Any], rng: np.random.Generator, length: int, period: float, amp: float) -> np.ndarray:
    """Two sinusoids + linear trend + level shift + AR(1) noise, in units of the amplitude."""
    t = np.arange(length, dtype=np.float64)
    phase = rng.uniform(0, 2 * np.pi, 2)
    s = amp * np.sin(2 * np.pi * t / period + phase[0]) + 0.5 * amp * np.sin(2 * np.pi * t / (period * 2.5) + phase[1])
    s += p["trend"] * t / length + p["level"]
    shift_at = int(0.75 * length * 0.5)
    s[shift_at:] += p["shift"]
    eps = rng.normal(0, p["noise"], length)
    ar = np.zeros(length)
    for i in range(1, length):
        ar[i] = 0.6 * ar[i - 1] + eps[i]
    return s + ar


def windows(s: np.ndarray, lookback: int, horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (n, lookback, 1) and the value ``horizon`` steps after each window."""
    n = len(s) - lookback - horizon + 1
    idx = np.arange(n)[:, None] + np.arange(lookback)[None, :]
    return s[idx][..., None].astype(np.float32), s[lookback + horizon - 1 :][:n].astype(np.float32)


def _data(p: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    """Chronological split; inputs standardised with training statistics; targets normalised or raw (x scale)."""
    rng = np.random.default_rng(seed)
    s = make_series(p, rng, p["length"], p["period"], p["amp"]) * p["scale"]
    cut = int(0.75 * len(s))
    train_s, val_s = s[:cut], s[cut - p["lookback"] - p["horizon"] + 1 :]
    if p["val_regime"]:
        val_s = make_series(p, rng, len(val_s), p["val_regime"]["period"], p["val_regime"]["amp"]) * p["scale"]
    mu, sd = float(train_s.mean()), float(train_s.std())
    xt, yt = windows(train_s, p["lookback"], p["horizon"])
    xv, yv = windows(val_s, p["lookback"], p["horizon"])
    if p["n_train"]:
        xt, yt = xt[-p["n_train"] :], yt[-p["n_train"] :]
    if p["n_val"]:
        xv, yv = xv[: p["n_val"]], yv[: p["n_val"]]
    xt, xv = (xt - mu) / sd, (xv - mu) / sd
    if p["target"] == "norm":
        yt, yv = (yt - mu) / sd, (yv - mu) / sd
    data = {"xt": xt, "yt": yt, "xv": xv, "yv": yv}
    if p["nan_phase"] is not None:  # newly arrived data: 300 more steps, one reading missing
        more = make_series(p, rng, 300, p["period"], p["amp"]) * p["scale"] + s[-1] - s[0]
        more[137] = np.nan
        xn, yn = windows(np.concatenate([train_s[-p["lookback"] :], more]), p["lookback"], p["horizon"])
        data["xt2"] = np.concatenate([xt, (xn - mu) / sd])
        data["yt2"] = np.concatenate([yt, (yn - mu) / sd if p["target"] == "norm" else yn])
    return {k: v.astype(np.float32) for k, v in data.items()}


# --------------------------------------------------------------------------- training


def _model(p: dict[str, Any]) -> Any:
    import keras

    layers: list[Any] = [keras.Input((p["lookback"], 1))]
    if p["input_noise"]:
        layers.append(keras.layers.GaussianNoise(p["input_noise"]))
    cell = keras.layers.GRU if p["cell"] == "gru" else keras.layers.LSTM
    layers.append(cell(p["units"]))
    if p["dropout"]:
        layers.append(keras.layers.Dropout(p["dropout"]))
    if p["dense"]:
        layers.append(keras.layers.Dense(p["dense"], activation="relu"))
    layers.append(keras.layers.Dense(1))
    model = keras.Sequential(layers)
    opt = (
        keras.optimizers.SGD(learning_rate=p["lr"], momentum=0.9)
        if p["optimizer"] == "sgd"
        else keras.optimizers.Adam(learning_rate=p["lr"])
    )
    model.compile(optimizer=opt, loss="mse", metrics=["mae"])
    return model


def step_lr(p: dict[str, Any], epoch: int) -> float:
    """The LearningRateScheduler function: step decay, with the kick bug of loss_spikes runs."""
    lr = p["lr"] * p["gamma"] ** (epoch // p["step_every"])
    return lr * p["kick_factor"] if epoch in p["kick_epochs"] else lr


def _callbacks(p: dict[str, Any], run_dir: Path) -> list[Any]:
    """TensorBoard first, so it logs the LR each epoch was trained with, before a scheduler changes it."""
    import keras

    cbs: list[Any] = [
        keras.callbacks.TensorBoard(log_dir=str(run_dir), update_freq=p["update_freq"], write_graph=False)
    ]
    if p["diagnosis_callback"]:
        from tb_recipe_plugin.keras import DiagnosisCallback

        cbs.append(DiagnosisCallback(log_dir=str(run_dir), print_diagnosis=False))
    if p["schedule"] == "step":
        cbs.append(keras.callbacks.LearningRateScheduler(lambda epoch, lr: step_lr(p, epoch)))
    elif p["schedule"] == "plateau":
        cbs.append(
            keras.callbacks.ReduceLROnPlateau(factor=p["plateau_factor"], patience=p["plateau_patience"], min_lr=1e-5)
        )
    if p["early_stop"]:
        cbs.append(keras.callbacks.EarlyStopping(patience=p["early_stop"], restore_best_weights=True))
    return cbs


def _dataset(x: np.ndarray, y: np.ndarray, batch: int, shuffle: bool, seed: int) -> Any:
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:  # a new order every epoch
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch)


def train(spec: RunSpec, run_dir: Path) -> Facts:
    """Train with model.fit and the run's callbacks; TensorBoard writes run_dir/train and run_dir/validation."""
    p = run_params(spec, DEFAULTS)
    tf_setup(spec.seed)
    d = _data(p, spec.seed)
    model = _model(p)
    cbs = _callbacks(p, run_dir)
    val = (d["xv"], d["yv"])
    first = p["epochs"] if p["nan_phase"] is None else p["nan_phase"]
    hist = model.fit(
        _dataset(d["xt"], d["yt"], p["batch"], p["shuffle"], spec.seed),
        validation_data=val,
        epochs=first,
        callbacks=cbs,
        shuffle=False,  # the tf.data pipeline reshuffles itself
        verbose=0,
    )
    epochs_run = len(hist.epoch)
    if p["nan_phase"] is not None:  # continue training on the data that arrived since, one reading missing
        hist = model.fit(
            _dataset(d["xt2"], d["yt2"], p["batch"], p["shuffle"], spec.seed + 1),
            validation_data=val,
            initial_epoch=first,
            epochs=p["epochs"],
            callbacks=cbs,
            shuffle=False,
            verbose=0,
        )
        epochs_run += len(hist.epoch)
    return _facts(p, spec, d, epochs_run)


def _facts(p: dict[str, Any], spec: RunSpec, d: dict[str, np.ndarray], epochs_run: int) -> Facts:
    tags = {
        "train_loss": "train/epoch_loss",
        "val_loss": "validation/epoch_loss",
        "train_metric": "train/epoch_mae",
        "val_metric": "validation/epoch_mae",
        "lr": "train/epoch_learning_rate",
    }
    steps = {role: "epoch" for role in tags}
    if p["update_freq"] != "epoch":
        tags["batch_loss"] = "train/batch_loss"  # Keras: running mean within the epoch, every update_freq steps
        steps["batch_loss"] = "step"
    changed = {k: p[k] for k in DEFAULTS if p[k] != DEFAULTS[k]}
    schedule = {"step": "step_decay", "plateau": "reduce_on_plateau"}.get(p["schedule"], "constant")
    return Facts(
        tags=tags,
        steps=steps,
        task="regression",
        metric="mae",
        metric_direction="min",
        chance_metric=float(np.mean(np.abs(d["yv"] - d["yt"].mean()))),  # MAE of predicting the training mean
        epochs=epochs_run,
        steps_per_epoch=math.ceil(len(d["xt"]) / p["batch"]),
        batch_size=p["batch"],
        lr_peak=float(p["lr"]),
        schedule=schedule,
        log_every_steps=None if p["update_freq"] == "epoch" else int(p["update_freq"]),
        eval_every_steps=None,
        shuffled=bool(p["shuffle"]),
        injected={
            "intent": spec.intent,
            "epochs_planned": p["epochs"],
            "epochs_run": epochs_run,
            "train_windows": len(d["xt"]),
            "val_windows": len(d["xv"]),
            **changed,
        },
    )


PROGRAM = Program(
    name=NAME,
    family="rnn",
    data="synthetic seasonal series (two sinusoids + trend + AR(1) noise), one-step-ahead windows",
    script="keras_fit",
    writer="keras_tensorboard",
    framework="tensorflow",
    version=1,
    runs=_runs,
    train=train,
)
