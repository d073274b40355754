"""keras_legacy_single_folder: a dense MLP x sklearn's 8x8 digits x Keras ``model.fit`` x the legacy Keras 2 /
TF 1.x ``TensorBoard`` callback layout, written with tensorboardX.

Why it exists: many older public repositories were trained with Keras 2 (or
``tf.keras`` on TF 1.x), whose ``TensorBoard`` callback wrote ONE event file
straight into the run folder (no ``train/`` / ``validation/`` sub-folders),
as ``simple_value`` scalars named after the ``logs`` keys of that time:
``loss``, ``acc``, ``val_loss``, ``val_acc`` and ``lr`` (when a scheduler put it
in the logs) at step = epoch index (0-based), and, with ``update_freq='batch'``,
``batch_loss`` and ``batch_acc`` at step = global batch index (0-based), raw
per-batch values, not running means. Here a small Keras callback
(`LegacyTensorBoard`) writes that layout with tensorboardX from a Keras 3
``fit``: it undoes Keras 3's within-epoch running means to log each batch's own
loss and accuracy, renames ``accuracy`` to ``acc`` and always writes the
optimizer's LR as ``lr``.

Data: 1,797 digits, pixels scaled to [0, 1]; a fixed permutation gives 1,280
training images (40 steps of 32) and 517 validation images (40 in the
tiny-validation runs). Batches come from a ``keras.utils.PyDataset`` that
reshuffles every epoch (or serves class-sorted data in order), which also
injects the data faults. Chance accuracy 0.1.

Runs (intent: how it is made):

=============================  ===========================  =======================================================
run                            intent                       how
=============================  ===========================  =======================================================
healthy_adam                   healthy                      128-64 MLP, Adam 1e-3, 40 epochs
healthy_dropout                healthy                      256-128 MLP, dropout 0.5, 60 epochs: val loss below
                                                            the training loss (dropout is off at evaluation)
healthy_reduce_lr_plateau      healthy                      SGD 0.05 + momentum 0.9, ``ReduceLROnPlateau`` (x0.3,
                                                            patience 3 on val_loss), 50 epochs
healthy_batch_logging          healthy                      Adam 1e-3, 30 epochs, every batch logged
healthy_tiny_val               healthy                      a 40-image validation set: a jagged validation curve
overfitting                    overfitting                  320 images, 15% random labels, 512-512 MLP, 150 epochs
val_plateau                    val_plateau                  320 images, dropout 0.2 + L2 1e-4, 150 epochs
plateau                        plateau                      SGD+momentum, LR x0.1 every 10 epochs, 80 epochs
still_learning                 still_learning               SGD 0.01 stopped after 6 epochs
underfitting                   underfitting                 a 2-unit bottleneck, Adam 1e-2, 60 epochs
lr_too_small                   lr_too_small                 plain SGD at 1e-3, 40 epochs: an almost straight crawl
lr_too_high_warmup_peak        lr_too_high                  5-epoch warm-up to Adam 0.1 then cosine to 0 over 40
                                                            epochs: the loss stalls high around the peak and falls
                                                            only when the LR anneals
lr_decay_too_early             lr_decay_too_early           ``LearningRateScheduler(lambda e: 0.05 * 0.1 ** e)``
divergence                     divergence                   an LR range test left in: SGD LR x1.35 per epoch from
                                                            0.01, 26 epochs: the loss blows up, finite
nonfinite                      nonfinite                    tanh MLP; from epoch 12 one training image carries a
                                                            NaN pixel: NaN loss from then on
no_learning_shuffled_labels    no_learning                  training labels permuted once, a 32-unit MLP, 20 epochs
loss_spikes                    loss_spikes                  one batch with every label off by one in epochs 15,
                                                            28 and 41, every batch logged
noisy                          noisy                        batches of 4 with SGD 0.02, 12 epochs, a 40-image
                                                            validation set, every batch logged
unshuffled                     unshuffled                   class-sorted data, ``shuffle=False``, SGD 0.05, 20
                                                            epochs, every batch logged
data_problem                   data_problem                 validation images flattened column-major (transposed)
best_checkpoint_mismatch       best_checkpoint_mismatch     25% of validation labels wrong, Adam 5e-4, 60 epochs:
                                                            val loss best early (confident misses on the wrong
                                                            labels), val accuracy best late
val_better_than_train          val_better_than_train        30% random training labels (validation clean) and
                                                            dropout 0.4: train loss above val loss throughout
=============================  ===========================  =======================================================

``Facts.injected`` gives the 0-based global batch step (the step of the
``batch_*`` summaries) where a data fault enters (``nan_from_step``,
``bad_batch_steps``). Every run's ``params`` may be overridden (e.g. ``epochs``)
to scale it down for a test.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._tf import keras_session
from benchmarks.corpus.programs.keras_mlp_digits import NAN_BATCH, digits_batches
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "keras_legacy_single_folder"
VERSION = 1

N_TRAIN = 1280
TINY_VAL = 40

DEFAULTS: dict[str, Any] = {
    "epochs": 40,
    "batch_size": 32,
    "n_train": N_TRAIN,
    "n_val": None,  # None: every image not used for training
    "hidden": [128, 64],
    "dropout": 0.0,
    "l2": 0.0,
    "activation": "relu",
    "optimizer": "adam",
    "lr": 1e-3,
    "momentum": 0.0,
    "schedule": "constant",  # constant | step | ramp | warmup_cosine | plateau (ReduceLROnPlateau)
    "schedule_every": 10,  # step: epochs between drops; warmup_cosine: warm-up epochs; plateau: patience
    "schedule_factor": 0.1,  # step / plateau: drop factor; ramp: growth per epoch
    "batch_logging": False,  # Keras 2's update_freq='batch': raw batch_loss / batch_acc every batch
    "label_noise": 0.0,  # share of training labels replaced by random classes
    "shuffle_labels": False,  # training labels permuted once (no signal left)
    "sort_by_class": False,  # served in class order, never reshuffled (fit(shuffle=False))
    "nan_from_epoch": None,
    "spike_epochs": [],  # epochs in which one batch arrives with every label off by one
    "val_transposed": False,
    "val_label_noise": 0.0,  # share of validation labels replaced by other classes
}

RUNS: list[tuple[str, str, dict[str, Any]]] = [
    ("healthy_adam", "healthy", {}),
    ("healthy_dropout", "healthy", {"hidden": [256, 128], "dropout": 0.5, "epochs": 60}),
    (
        "healthy_reduce_lr_plateau",
        "healthy",
        {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "schedule": "plateau", "schedule_every": 3,
         "schedule_factor": 0.3, "epochs": 50},
    ),
    ("healthy_batch_logging", "healthy", {"epochs": 30, "batch_logging": True}),
    ("healthy_tiny_val", "healthy", {"n_val": TINY_VAL}),
    ("overfitting", "overfitting", {"n_train": 320, "hidden": [512, 512], "label_noise": 0.15, "epochs": 150}),
    ("val_plateau", "val_plateau", {"n_train": 320, "hidden": [256], "dropout": 0.2, "l2": 1e-4, "epochs": 150}),
    (
        "plateau",
        "plateau",
        {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "schedule": "step", "epochs": 80},
    ),
    ("still_learning", "still_learning", {"optimizer": "sgd", "lr": 0.01, "epochs": 6}),
    ("underfitting", "underfitting", {"hidden": [2], "lr": 1e-2, "epochs": 60}),
    ("lr_too_small", "lr_too_small", {"optimizer": "sgd", "lr": 1e-3}),
    ("lr_too_high_warmup_peak", "lr_too_high", {"lr": 0.1, "schedule": "warmup_cosine", "schedule_every": 5}),
    (
        "lr_decay_too_early",
        "lr_decay_too_early",
        {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "schedule": "step", "schedule_every": 1},
    ),
    (
        "divergence",
        "divergence",
        {"optimizer": "sgd", "lr": 0.01, "schedule": "ramp", "schedule_factor": 1.35, "epochs": 26},
    ),
    ("nonfinite", "nonfinite", {"activation": "tanh", "nan_from_epoch": 12, "epochs": 25}),
    ("no_learning_shuffled_labels", "no_learning", {"shuffle_labels": True, "hidden": [32], "epochs": 20}),
    ("loss_spikes", "loss_spikes", {"spike_epochs": [15, 28, 41], "epochs": 50, "batch_logging": True}),
    (
        "noisy",
        "noisy",
        {"batch_size": 4, "optimizer": "sgd", "lr": 0.02, "n_val": TINY_VAL, "epochs": 12, "batch_logging": True},
    ),
    (
        "unshuffled",
        "unshuffled",
        {"sort_by_class": True, "optimizer": "sgd", "lr": 0.05, "epochs": 20, "batch_logging": True},
    ),
    ("data_problem", "data_problem", {"val_transposed": True}),
    (
        "best_checkpoint_mismatch",
        "best_checkpoint_mismatch",
        {"val_label_noise": 0.25, "lr": 5e-4, "epochs": 60},
    ),
    ("val_better_than_train", "val_better_than_train", {"label_noise": 0.3, "dropout": 0.4, "epochs": 50}),
]


def runs() -> list[RunSpec]:
    return [RunSpec(NAME, name, intent, params, seed=100 + i) for i, (name, intent, params) in enumerate(RUNS)]


def _digits(p: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A fixed split of the bundled digits (the same images in every run; only the model seed varies)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(2024).permutation(len(y))
    x, y = x[order].astype("float32"), y[order].astype("int32")
    x_val, y_val = x[N_TRAIN:], y[N_TRAIN:]
    if p["n_val"] is not None:
        x_val, y_val = x_val[: p["n_val"]], y_val[: p["n_val"]]
    if p["val_transposed"]:
        x_val = x_val.reshape(-1, 8, 8).transpose(0, 2, 1).reshape(-1, 64)
    if p["val_label_noise"]:
        rng = np.random.default_rng(7)
        wrong = rng.random(len(y_val)) < p["val_label_noise"]
        y_val = np.where(wrong, (y_val + rng.integers(1, 10, len(y_val))) % 10, y_val).astype("int32")
    n_train = int(p["n_train"])
    return x[:n_train] / 16.0, y[:n_train], x_val / 16.0, y_val


def _mislabel(xb: np.ndarray, yb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A mislabelled shard: every label of one batch off by one."""
    return xb, (yb + 1) % 10


def _legacy_tensorboard(keras: Any, run_dir: Path, batch_logging: bool, p_batch: int) -> Any:
    """Keras 2's TensorBoard callback layout: one folder, ``simple_value`` scalars, Keras 2 tag names."""
    from tensorboardX import SummaryWriter

    rename = {"accuracy": "acc", "val_accuracy": "val_acc", "learning_rate": "lr"}

    class LegacyTensorBoard(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.writer = SummaryWriter(logdir=str(run_dir))
            self.seen = 0  # global batch index
            self.prev: dict[str, float] = {}

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.prev = {}

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if batch_logging:
                k = batch + 1
                for key in ("loss", "accuracy"):
                    mean = float(logs[key])
                    raw = mean if k == 1 else k * mean - (k - 1) * self.prev[key]  # undo the running mean
                    if key == "accuracy":  # a share of the batch: drop the float error of the inversion
                        raw = round(raw * p_batch) / p_batch
                    elif math.isfinite(raw):
                        raw = max(raw, 0.0)
                    self.prev[key] = mean
                    self.writer.add_scalar(f"batch_{rename.get(key, key)}", raw, self.seen)
            self.seen += 1

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                self.writer.add_scalar(rename[key] if key in rename else key, float(logs[key]), epoch)
            lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            self.writer.add_scalar("lr", lr, epoch)
            self.writer.flush()

        def on_train_end(self, logs: Any = None) -> None:
            self.writer.close()

    return LegacyTensorBoard()


def _model(keras: Any, p: dict[str, Any]) -> Any:
    dense: dict[str, Any] = {"activation": p["activation"]}
    if p["l2"]:
        dense["kernel_regularizer"] = keras.regularizers.L2(p["l2"])
    layers: list[Any] = [keras.Input((64,))]
    for width in p["hidden"]:
        layers.append(keras.layers.Dense(width, **dense))
        if p["dropout"]:
            layers.append(keras.layers.Dropout(p["dropout"]))
    layers.append(keras.layers.Dense(10))  # logits: the loss applies the softmax
    return keras.Sequential(layers)


def _lr_at(p: dict[str, Any], epoch: int) -> float:
    """The per-epoch LR of the run's schedule (set by ``LearningRateScheduler`` at each epoch start)."""
    if p["schedule"] == "step":
        return p["lr"] * p["schedule_factor"] ** (epoch // p["schedule_every"])
    if p["schedule"] == "ramp":
        return p["lr"] * p["schedule_factor"] ** epoch
    if p["schedule"] == "warmup_cosine":
        warm = p["schedule_every"]
        if epoch < warm:
            return p["lr"] * (epoch + 1) / warm
        t = (epoch - warm) / max(1, p["epochs"] - warm)
        return p["lr"] * 0.5 * (1 + math.cos(math.pi * t))
    return p["lr"]


def _injected(p: dict[str, Any], y_train: np.ndarray, flipped: int, steps: int) -> dict[str, Any]:
    """What was done, with the 0-based global batch steps (as ``batch_*`` is logged) where a data fault enters."""
    inj: dict[str, Any] = {}
    if p["nan_from_epoch"] is not None:
        inj["nan_input"] = f"one pixel of one training image is NaN from epoch {p['nan_from_epoch']} on"
        inj["nan_from_step"] = p["nan_from_epoch"] * steps + NAN_BATCH
        inj["activation"] = p["activation"]
    if p["spike_epochs"]:
        inj["bad_batches"] = f"one batch with every label off by one in epochs {p['spike_epochs']}"
        inj["bad_batch_steps"] = [e * steps + steps // 2 for e in p["spike_epochs"]]
    if p["sort_by_class"]:
        inj["class_sorted"] = "training data served in class order, never shuffled"
    if p["val_label_noise"]:
        inj["val_label_noise"] = f"{p['val_label_noise']:.0%} of validation labels replaced by other classes"
    if p["val_transposed"]:
        inj["val_preprocessing"] = "validation images flattened column-major (transposed), training row-major"
    if flipped:
        inj["label_noise"] = f"{flipped} of {len(y_train)} training labels replaced by random classes"
    if p["shuffle_labels"]:
        inj["shuffled_labels"] = "training labels permuted once, independently of the images"
    if p["schedule"] == "ramp":
        inj["lr_ramp"] = f"LR x{p['schedule_factor']} per epoch from {p['lr']} (LR range test left in)"
    if p["schedule"] == "warmup_cosine":
        inj["lr_peak"] = f"warm-up over {p['schedule_every']} epochs to {p['lr']}, then cosine to 0"
    return inj


def train(spec: RunSpec, run_dir: Path) -> Facts:
    p = run_params(spec, DEFAULTS)
    keras, _ = keras_session(spec.seed)
    x, y, x_val, y_val = _digits(p)
    rng = np.random.default_rng(spec.seed + 1000)
    noisy = rng.random(len(y)) < p["label_noise"]
    y = np.where(noisy, rng.integers(0, 10, len(y)), y).astype("int32")
    if p["shuffle_labels"]:
        y = rng.permutation(y).astype("int32")
    data = digits_batches(keras, x, y, p, spec.seed, corrupt=_mislabel)
    steps = len(data)
    if p["optimizer"] == "sgd":
        opt = keras.optimizers.SGD(learning_rate=p["lr"], momentum=p["momentum"])
    else:
        opt = keras.optimizers.Adam(learning_rate=p["lr"])
    model = _model(keras, p)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])
    callbacks: list[Any] = []
    if p["schedule"] == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=p["schedule_factor"], patience=p["schedule_every"], min_lr=1e-5))
    elif p["schedule"] != "constant":
        callbacks.append(keras.callbacks.LearningRateScheduler(lambda epoch: _lr_at(p, epoch)))
    # last: sees the LR the schedulers set for the epoch
    callbacks.append(_legacy_tensorboard(keras, run_dir, p["batch_logging"], p["batch_size"]))
    model.fit(
        data,
        validation_data=(x_val, y_val),
        validation_batch_size=256,
        epochs=p["epochs"],
        callbacks=callbacks,
        shuffle=False,
        verbose=0,
    )
    tags = {"train_loss": "loss", "val_loss": "val_loss", "train_metric": "acc", "val_metric": "val_acc", "lr": "lr"}
    if p["batch_logging"]:
        tags["batch_loss"] = "batch_loss"
    peak = p["lr"] if p["schedule"] == "plateau" else max(_lr_at(p, e) for e in range(p["epochs"]))
    return Facts(
        tags=tags,
        steps={role: "step" if role == "batch_loss" else "epoch" for role in tags},
        task="classification",
        metric="accuracy",
        metric_direction="max",
        num_classes=10,
        chance_metric=0.1,
        epochs=p["epochs"],
        steps_per_epoch=steps,
        batch_size=p["batch_size"],
        lr_peak=peak,
        schedule={"constant": "constant", "step": "step_decay", "ramp": "exponential_ramp",
                  "warmup_cosine": "warmup_cosine", "plateau": "reduce_on_plateau"}[p["schedule"]],
        log_every_steps=1 if p["batch_logging"] else None,
        eval_every_steps=steps,
        shuffled=not p["sort_by_class"],
        injected=_injected(p, y, int(noisy.sum()), steps),
    )


PROGRAM = Program(
    name=NAME,
    family="mlp",
    data="sklearn digits (8x8, 10 classes)",
    script="keras_fit",
    writer="tensorboardx",
    framework="tensorflow",
    version=VERSION,
    runs=runs,
    train=train,
)
