"""tf_loop_regression (dev): MLP x sklearn regression data x ``tf.GradientTape`` loop x ``tf.summary`` (one folder).

Why: a hand-written TF2 loop is the other half of TensorFlow users. It writes
TF2 *tensor* scalars (not ``simple_value``), all into the run's own folder,
with slash-grouped tags ("loss/train", "loss/val", "mae/val",
"learning_rate"), training values every ``log_every`` steps (mean over that
window) and validation once per epoch at the global step of the epoch end, so
every curve's step axis counts optimizer steps. The task is regression: the
metric (MAE) is lower-is-better and there is no chance level in nats, and the
targets are used raw (loss ~1e3-1e4), normalised (~1) or shrunk (~1e-4).

Runs (name: how it is made; the intent is the name's first word(s)):

- healthy_diabetes_stepdecay: diabetes (133 validation rows), 16-unit MLP with dropout 0.2 and L2, step decay;
  validation sits below the dropout-noisy training loss.
- healthy_friedman_exp: make_friedman1, exponential decay per step, log every 10 steps.
- healthy_raw_targets: make_regression with raw targets (loss 3e4 -> 1e2), constant LR.
- healthy_dropout_val_below_train: friedman, dropout 0.2: validation (no dropout) at or below the training loss.
- healthy_small_loss: near-noiseless linear data, normalised: the loss ends near 3e-5.
- overfitting_diabetes_wide: 120 diabetes rows, 256x256 MLP, no regularisation, 300 epochs at constant LR.
- overfitting_friedman_noisy: 120 noisy friedman rows (noise 3), 256x256 MLP, 300 epochs.
- divergence_growing_lr: a schedule bug (exponential "decay" rate 1.5 per 100 steps) grows the LR of SGD+momentum;
  global-norm clipping keeps the loss finite while it climbs by four orders of magnitude.
- nonfinite_lr_jump: a second stage at epoch 30 multiplies the LR by 100 (typo): the loss overflows to inf, then NaN.
- lr_too_small: SGD at 1e-5 on normalised friedman.
- no_learning_bias_only: a bug hands only the output bias to the optimizer; the net predicts the mean.
- plateau_linear_model: a linear model on linear data converges in ~40 of 160 epochs, then flat.
- val_plateau_wide_mlp: 256x256 MLP on friedman: validation levels off early while training keeps falling.
- lr_decay_too_early: step decay x0.1 at epochs 2 and 4 of 80 (LR 1e-5 from then on).
- underfitting_linear_model: no hidden layer on friedman1 (a non-linear target).
- still_learning: SGD+momentum, 12 epochs, loss still falling steeply at the end.
- loss_spikes_bad_batches: three batches whose targets are multiplied by 40 (a corrupt shard), per-step logging.
- unshuffled_sorted_by_target: rows sorted by target and never shuffled, per-step logging.
- noisy_tiny_batches: batch size 2 (per-step logging) and a 24-row validation set.
- data_problem_split_by_feature: validation = the 30% of rows with the largest x2 (friedman's quadratic term) instead
  of a random split: validation asks the net to extrapolate.
- noisy_friedman_batch2: 1,500 friedman rows with noise 3, batch size 2 (per-step logging), a 24-row validation set.
- noisy_diabetes_sgd_small_val: diabetes, plain SGD 0.02 in batches of 4, logged every 25 steps, 30 validation rows.
- mismatch_val_unit_glitch_sgd: ``val_glitch`` 0.03: 3% of the validation rows were recorded in other units (raw
  features x ``glitch_factor`` 3, targets right). The net extrapolates there, further as its weights grow, so their
  squared errors make the validation MSE (the loss) turn up after epoch ~2 while the MAE keeps falling to epoch 40.
  SGD+momentum 3e-4 on friedman.
- mismatch_val_unit_glitch_adam: the same with 2% glitched rows and Adam 1e-4: MSE best at epoch ~4, MAE at 40.
- mismatch_diabetes_val_glitch: diabetes, 3% of the validation rows with raw features x 1.5, Adam 3e-4, 60 epochs:
  MSE best at epoch ~9, MAE still improving at the end.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._tf import tf_setup
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "tf_loop_regression"

DEFAULTS: dict[str, Any] = {
    "data": "friedman1",  # diabetes | friedman1 | linear
    "n": 3000,  # rows generated (friedman1, linear)
    "noise": 1.0,  # generator noise
    "n_train": None,  # keep only this many training rows
    "val_frac": 0.3,
    "n_val": None,  # keep only this many validation rows
    "target": "norm",  # norm | raw
    "hidden": [64, 64],
    "dropout": 0.0,
    "l2": 0.0,
    "optimizer": "adam",  # adam | sgd
    "momentum": 0.0,
    "clipnorm": None,
    "lr": 1e-3,
    "schedule": "constant",  # constant | step | exp
    "milestones": None,  # step schedule: epochs where the LR is multiplied by gamma
    "step_every": 30,  # step schedule without milestones: every this many epochs
    "gamma": 0.5,
    "exp_rate": 0.96,  # exp schedule: lr * exp_rate ** (step / exp_steps)
    "exp_steps": 100,
    "epochs": 60,
    "batch": 32,
    "log_every": 5,
    "order": "shuffle",  # shuffle | sorted (by target, never shuffled)
    "trainable": "all",  # all | output_bias
    "spike_steps": [],  # global steps whose batch targets are multiplied by spike_factor
    "spike_factor": 40.0,
    "val_by_feature": None,  # validation = the rows with the largest values of this feature (not a random split)
    "val_glitch": 0.0,  # fraction of validation rows whose raw features are multiplied by glitch_factor
    "glitch_factor": 3.0,
}


def _runs() -> list[RunSpec]:
    def r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
        return RunSpec(NAME, name, intent, params, seed)

    return [
        r("healthy_diabetes_stepdecay", "healthy", 1, data="diabetes", hidden=[16], dropout=0.2, l2=1e-3, lr=1e-3,
          schedule="step", step_every=30, gamma=0.5, epochs=80, batch=32, log_every=5),
        r("healthy_friedman_exp", "healthy", 2, data="friedman1", n=4000, hidden=[64, 64], lr=3e-3, schedule="exp",
          exp_rate=0.9, exp_steps=200, epochs=40, batch=64, log_every=10),
        r("healthy_raw_targets", "healthy", 3, data="linear", n=2500, noise=10.0, target="raw", hidden=[64],
          lr=1e-2, epochs=40, batch=32, log_every=10),
        r("healthy_dropout_val_below_train", "healthy", 4, data="friedman1", n=4000, hidden=[128, 128],
          dropout=0.2, lr=2e-3, schedule="step", step_every=25, gamma=0.5, epochs=60, batch=64, log_every=10),
        r("healthy_small_loss", "healthy", 5, data="linear", n=3000, noise=1.0, hidden=[16], lr=3e-3,
          schedule="exp", exp_rate=0.95, exp_steps=100, epochs=100, batch=64, log_every=20),
        r("overfitting_diabetes_wide", "overfitting", 6, data="diabetes", n_train=120, hidden=[256, 256], lr=3e-3,
          epochs=300, batch=16, log_every=8),
        r("overfitting_friedman_noisy", "overfitting", 7, data="friedman1", n=800, noise=3.0, n_train=120,
          hidden=[256, 256], lr=5e-4, epochs=300, batch=16, log_every=10),
        r("divergence_growing_lr", "divergence", 8, data="linear", n=2000, noise=10.0, target="raw", hidden=[32],
          optimizer="sgd", momentum=0.9, clipnorm=100.0, lr=1e-4, schedule="exp", exp_rate=1.5, exp_steps=100,
          epochs=40, batch=32, log_every=5),
        r("nonfinite_lr_jump", "nonfinite", 9, data="friedman1", hidden=[64, 64], optimizer="sgd", momentum=0.9,
          lr=0.01, schedule="step", milestones=[30], gamma=100.0, epochs=60, batch=32, log_every=5),
        r("lr_too_small", "lr_too_small", 10, data="friedman1", hidden=[64, 64], optimizer="sgd", lr=1e-5,
          epochs=60, batch=32, log_every=10),
        r("no_learning_bias_only", "no_learning", 11, data="friedman1", hidden=[64, 64], trainable="output_bias",
          lr=1e-2, epochs=40, batch=32, log_every=10),
        r("plateau_linear_model", "plateau", 12, data="linear", n=2000, noise=5.0, hidden=[], lr=3e-3,
          epochs=160, batch=64, log_every=10),
        r("val_plateau_wide_mlp", "val_plateau", 13, data="friedman1", n=2500, noise=1.5, hidden=[256, 256],
          l2=1e-4, lr=1e-3, epochs=60, batch=32, log_every=10),
        r("lr_decay_too_early", "lr_decay_too_early", 14, data="friedman1", hidden=[64, 64], lr=1e-3,
          schedule="step", milestones=[2, 4], gamma=0.1, epochs=80, batch=64, log_every=10),
        r("underfitting_linear_model", "underfitting", 15, data="friedman1", hidden=[], lr=1e-2, epochs=60,
          batch=32, log_every=10),
        r("still_learning", "still_learning", 16, data="friedman1", n=4000, hidden=[64, 64], optimizer="sgd",
          momentum=0.9, lr=1e-3, epochs=12, batch=64, log_every=5),
        r("loss_spikes_bad_batches", "loss_spikes", 17, data="friedman1", hidden=[64, 64], lr=1e-3, epochs=40,
          batch=32, log_every=1, spike_steps=[600, 1250, 1900]),
        r("unshuffled_sorted_by_target", "unshuffled", 18, data="friedman1", n=2000, hidden=[64, 64], lr=5e-3,
          epochs=25, batch=50, log_every=1, order="sorted"),
        r("noisy_tiny_batches", "noisy", 19, data="diabetes", n_val=24, hidden=[32, 32], lr=1e-3, epochs=25,
          batch=2, log_every=1),
        r("data_problem_split_by_feature", "data_problem", 20, data="friedman1", hidden=[64, 64], lr=2e-3,
          epochs=40, batch=32, log_every=10, val_by_feature=2),
        # added for the dev set's rarer codes
        r("noisy_friedman_batch2", "noisy", 23, data="friedman1", n=1500, noise=3.0, n_val=24, hidden=[32, 32],
          lr=1e-3, epochs=8, batch=2, log_every=1),
        r("noisy_diabetes_sgd_small_val", "noisy", 24, data="diabetes", n_val=30, hidden=[32], optimizer="sgd",
          lr=0.02, epochs=60, batch=4, log_every=25),
        # best_checkpoint_mismatch on a regression task (MSE loss vs MAE metric)
        r("mismatch_val_unit_glitch_sgd", "best_checkpoint_mismatch", 25, data="friedman1", hidden=[64, 64],
          optimizer="sgd", momentum=0.9, lr=3e-4, epochs=40, batch=32, log_every=10, val_glitch=0.03),
        r("mismatch_val_unit_glitch_adam", "best_checkpoint_mismatch", 32, data="friedman1", hidden=[64, 64],
          lr=1e-4, epochs=40, batch=32, log_every=10, val_glitch=0.02),
        r("mismatch_diabetes_val_glitch", "best_checkpoint_mismatch", 28, data="diabetes", hidden=[32, 32],
          lr=3e-4, epochs=60, batch=16, log_every=5, val_glitch=0.03, glitch_factor=1.5),
    ]


# --------------------------------------------------------------------------- data


def _load(p: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features and raw targets; features are NOT scaled here (scaling is the script's job, and a fault)."""
    from sklearn import datasets

    if p["data"] == "diabetes":
        x, y = datasets.load_diabetes(return_X_y=True, scaled=False)
    elif p["data"] == "friedman1":
        x, y = datasets.make_friedman1(n_samples=p["n"], n_features=8, noise=p["noise"], random_state=seed)
    elif p["data"] == "linear":
        x, y = datasets.make_regression(
            n_samples=p["n"], n_features=20, n_informative=10, noise=p["noise"], bias=50.0, random_state=seed
        )
    else:
        raise ValueError(f"unknown data {p['data']!r}")
    return x.astype(np.float32), y.astype(np.float32)


def _split(p: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train/val split, standardised with the training statistics (targets too, unless raw)."""
    from sklearn.model_selection import train_test_split

    x, y = _load(p, seed)
    if p["val_by_feature"] is not None:  # the data_problem fault: a split along one feature, so validation extrapolates
        order = np.argsort(x[:, p["val_by_feature"]], kind="stable")
        cut = int(len(x) * (1 - p["val_frac"]))
        xt, yt = x[order[:cut]], y[order[:cut]]
        xv, yv = x[order[cut:]], y[order[cut:]]
        perm = np.random.default_rng(seed).permutation(len(xt))
        xt, yt = xt[perm], yt[perm]
    else:
        xt, xv, yt, yv = train_test_split(x, y, test_size=p["val_frac"], random_state=seed)
    if p["n_train"]:
        xt, yt = xt[: p["n_train"]], yt[: p["n_train"]]
    if p["n_val"]:
        xv, yv = xv[: p["n_val"]], yv[: p["n_val"]]
    if p["val_glitch"]:
        xv = _glitch(xv, p["val_glitch"], p["glitch_factor"], seed)
    mu, sd = xt.mean(0), xt.std(0) + 1e-8
    xt, xv = (xt - mu) / sd, (xv - mu) / sd
    if p["target"] != "raw":
        ym, ys = yt.mean(), yt.std()
        yt, yv = (yt - ym) / ys, (yv - ym) / ys
    if p["order"] == "sorted":
        idx = np.argsort(yt, kind="stable")
        xt, yt = xt[idx], yt[idx]
    return xt, yt.reshape(-1, 1), xv, yv.reshape(-1, 1)


def _glitch(xv: np.ndarray, fraction: float, factor: float, seed: int) -> np.ndarray:
    """A few validation rows recorded in other units (raw features x ``factor``), their targets left right.

    They sit outside every training input, so the net extrapolates there, and ever
    further as its weights grow: their squared errors dominate the validation MSE
    and make it turn up early, while the MAE of the other rows keeps improving.
    """
    rows = np.random.default_rng(seed + 1).choice(len(xv), max(1, round(fraction * len(xv))), replace=False)
    out = xv.copy()
    out[rows] *= factor
    return out


# --------------------------------------------------------------------------- training


def lr_at(p: dict[str, Any], epoch: int, step: int) -> float:
    """The script's schedule: constant, step decay (per epoch; milestones or every N epochs) or exponential per step."""
    lr = float(p["lr"])
    if p["schedule"] == "exp":
        return lr * p["exp_rate"] ** (step / p["exp_steps"])
    if p["schedule"] != "step":
        return lr
    if p["milestones"]:
        drops = sum(epoch >= m for m in p["milestones"])
    else:
        drops = epoch // p["step_every"]
    return lr * p["gamma"] ** drops


def _model(p: dict[str, Any], n_features: int) -> Any:
    import keras

    reg = keras.regularizers.L2(p["l2"]) if p["l2"] else None
    layers: list[Any] = [keras.Input((n_features,))]
    for units in p["hidden"]:
        layers.append(keras.layers.Dense(units, activation="relu", kernel_regularizer=reg))
        if p["dropout"]:
            layers.append(keras.layers.Dropout(p["dropout"]))
    layers.append(keras.layers.Dense(1))
    return keras.Sequential(layers)


def _optimizer(p: dict[str, Any]) -> Any:
    import keras

    clip = {"global_clipnorm": p["clipnorm"]} if p["clipnorm"] else {}
    if p["optimizer"] == "sgd":
        return keras.optimizers.SGD(learning_rate=p["lr"], momentum=p["momentum"], **clip)
    return keras.optimizers.Adam(learning_rate=p["lr"], **clip)


class _Window:
    """Mean of the training loss and MAE over the last ``log_every`` steps (what such loops usually log)."""

    def __init__(self) -> None:
        self.loss: list[float] = []
        self.mae: list[float] = []

    def add(self, loss: float, mae: float) -> None:
        self.loss.append(loss)
        self.mae.append(mae)

    def flush(self) -> tuple[float, float]:
        out = float(np.mean(self.loss)), float(np.mean(self.mae))
        self.loss, self.mae = [], []
        return out


def train(spec: RunSpec, run_dir: Path) -> Facts:
    """Train one run with a GradientTape loop and write its tf.summary scalars into ``run_dir``."""
    p = run_params(spec, DEFAULTS)
    tf_setup(spec.seed)
    import tensorflow as tf

    xt, yt, xv, yv = _split(p, spec.seed)
    model = _model(p, xt.shape[1])
    opt = _optimizer(p)
    variables = model.trainable_variables[-1:] if p["trainable"] == "output_bias" else model.trainable_variables
    sig = [tf.TensorSpec([None, xt.shape[1]], tf.float32), tf.TensorSpec([None, 1], tf.float32)]

    @tf.function(input_signature=sig)
    def train_step(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            loss = tf.reduce_mean(tf.square(pred - y))
            total = loss + tf.add_n(model.losses) if model.losses else loss
        opt.apply_gradients(zip(tape.gradient(total, variables), variables, strict=True))
        return loss, tf.reduce_mean(tf.abs(pred - y))

    @tf.function(input_signature=sig)
    def eval_step(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        pred = model(x, training=False)
        err = pred - y
        mse = tf.reduce_mean(tf.square(err))
        return mse, tf.reduce_mean(tf.abs(err)), tf.sqrt(mse)

    rng = np.random.default_rng(spec.seed)
    steps_per_epoch = math.ceil(len(xt) / p["batch"])
    spikes = set(p["spike_steps"])
    writer = tf.summary.create_file_writer(str(run_dir))
    window = _Window()
    step = 0
    with writer.as_default():
        for epoch in range(p["epochs"]):
            order = np.arange(len(xt)) if p["order"] == "sorted" else rng.permutation(len(xt))
            for b in range(steps_per_epoch):
                idx = order[b * p["batch"] : (b + 1) * p["batch"]]
                lr = lr_at(p, epoch, step)
                opt.learning_rate.assign(lr)
                y_batch = yt[idx] * p["spike_factor"] if step in spikes else yt[idx]
                loss, mae = train_step(tf.constant(xt[idx]), tf.constant(y_batch))
                window.add(float(loss), float(mae))
                step += 1
                if step % p["log_every"] == 0:
                    w_loss, w_mae = window.flush()
                    tf.summary.scalar("loss/train", w_loss, step=step)
                    tf.summary.scalar("mae/train", w_mae, step=step)
                    tf.summary.scalar("learning_rate", lr, step=step)
            v_loss, v_mae, v_rmse = eval_step(tf.constant(xv), tf.constant(yv))
            tf.summary.scalar("loss/val", v_loss, step=step)
            tf.summary.scalar("mae/val", v_mae, step=step)
            tf.summary.scalar("rmse/val", v_rmse, step=step)
    writer.close()
    return _facts(p, spec, steps_per_epoch, xt, yt, yv)


def _facts(p: dict[str, Any], spec: RunSpec, steps_per_epoch: int, xt: np.ndarray, yt: np.ndarray,
           yv: np.ndarray) -> Facts:
    tags = {
        "train_loss": "loss/train",
        "val_loss": "loss/val",
        "train_metric": "mae/train",
        "val_metric": "mae/val",
        "lr": "learning_rate",
    }
    if p["log_every"] == 1:  # logged every step: the training loss is the per-batch loss
        tags["batch_loss"] = "loss/train"
    injected = {k: p[k] for k in DEFAULTS if p[k] != DEFAULTS[k] and k in _FAULT_KEYS}
    return Facts(
        tags=tags,
        steps={role: "step" for role in tags},
        task="regression",
        metric="mae",
        metric_direction="min",
        chance_metric=float(np.mean(np.abs(yv - yt.mean()))),  # MAE of predicting the training mean
        epochs=p["epochs"],
        steps_per_epoch=steps_per_epoch,
        batch_size=p["batch"],
        lr_peak=float(p["lr"]),
        schedule={"step": "step_decay", "exp": "exponential"}.get(p["schedule"], "constant"),
        log_every_steps=p["log_every"],
        eval_every_steps=steps_per_epoch,
        shuffled=p["order"] != "sorted",
        injected={"intent": spec.intent, "train_rows": len(xt), "val_rows": len(yv), **injected},
    )


_FAULT_KEYS = (
    "n_train", "n_val", "target", "hidden", "dropout", "l2", "optimizer", "momentum", "clipnorm", "lr", "schedule",
    "milestones", "gamma", "epochs", "batch", "order", "trainable", "spike_steps",
    "spike_factor", "val_by_feature", "noise", "val_glitch", "glitch_factor",
)

PROGRAM = Program(
    name=NAME,
    family="mlp",
    data="sklearn diabetes / make_friedman1 / make_regression",
    script="tf_loop",
    writer="tf_summary",
    framework="tensorflow",
    version=1,
    runs=_runs,
    train=train,
)
