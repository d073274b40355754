"""keras_mlp_digits: a dense MLP x sklearn's 8x8 digits x Keras ``model.fit`` x ``keras.callbacks.TensorBoard``.

Why it exists: the most common shape of a beginner's Keras script (a small
``Sequential`` MLP on logits, ``fit`` with a validation set, the stock
TensorBoard callback writing ``train/`` and ``validation/``), with the batches
served by a ``keras.utils.PyDataset`` that reshuffles itself every epoch
(Keras' own ``shuffle=True`` repeats one order every epoch once
``set_random_seed`` was called, which would make every healthy run look
unshuffled at batch level). Some runs log epochs only
(``update_freq="epoch"``), others every N batches; Keras' ``batch_*`` values
are running means within the epoch.

Data: 1,797 digits, pixels scaled to [0, 1]; a fixed permutation gives 1,280
training images (40 steps of 32) and 517 validation images (40 in the
tiny-validation runs). Chance accuracy 0.1.

Runs (intent: how it is made):

- healthy_adam: 128-64 MLP, Adam 1e-3, 40 epochs, epoch logging.
- healthy_dropout: 256-128 MLP with dropout 0.5: validation loss below training loss for the first ~10 epochs
  (dropout is off at evaluation); logged every 10 batches.
- healthy_tiny_val: validation set of 40 images: a jagged validation curve on a healthy run.
- healthy_step_decay: SGD+momentum, LR x0.3 every 15 epochs (``LearningRateScheduler``), logged every 5 batches.
- overfitting: 320 training images, 15% of them with a random label, 512-512 MLP, 150 epochs: the model
  memorises the wrong labels and validation loss climbs from epoch ~10.
- lr_too_high: Adam at 0.05 for 25 epochs (loss stalls high and jumps about), then 5e-4 for 15 (loss falls).
- divergence: an LR range test left in the script: SGD LR multiplied by 1.35 every epoch from 0.01.
- nonfinite: a tanh MLP; from epoch 12 one training image carries a NaN pixel (a corrupted file joining the
  data): NaN loss from then on.
- nonfinite_relu: the same NaN pixel in the default ReLU MLP. On TensorFlow's CPU kernels the NaN does not
  reach the loss: the first layer's weights for that pixel become NaN, every unit's pre-activation is NaN and
  the fused MatMul+ReLU outputs 0, so the loss jumps to log(10) and accuracy to chance, and no NaN is written.
- lr_too_small: plain SGD at 2e-4: a slow, almost straight descent.
- no_learning: hidden kernels and biases initialised to zero: ReLU units never open, accuracy stays at chance.
- plateau: SGD+momentum with LR x0.1 every 10 epochs for 80 epochs: converged by epoch ~15, flat after.
- val_plateau: 320 images, dropout 0.2 + L2: training keeps improving, validation barely moves after epoch ~60.
- lr_decay_too_early: ``LearningRateScheduler(lambda e: 0.05 * 0.1 ** e)`` (meant ``** (e // 10)``): the LR
  is 5e-5 after two epochs and the loss freezes at ~0.2.
- underfitting: a 3-unit bottleneck: training accuracy levels near 0.74 (the task allows ~1.0).
- unshuffled: class-sorted data served in order every epoch, every batch logged: the batch loss repeats with the
  epoch, validation accuracy starts at 0.08 (the last class seen).
- loss_spikes: at epochs 18 and 33 one batch arrives with pixels x40 (a preprocessing glitch), every batch logged.
- noisy: batches of 4 (320 steps per epoch) with SGD 0.02, logged every 4 batches, a 40-image validation set.
- data_problem: validation images flattened column-major (transposed) while training images are row-major.
- still_learning: SGD at 0.01 stopped after 6 epochs.
- lr_too_high_short_low_phase: Adam at 0.05 for 24 epochs, then 5e-4 for 6, logged every 10 batches.
- noisy_batch4_label_noise: batches of 4 with SGD 0.05 and 30% random training labels, 8 epochs, logged every
  4 batches, a 40-image validation set.

``Facts.injected`` gives the 1-based global batch step (Keras' numbering of
``batch_*`` summaries) where a data fault enters (``nan_from_step``,
``bad_batch_steps``).

The helpers above the digits code (`tensorboard_callback`, `keras_fit_facts`)
are shared by the other Keras ``fit`` programs (keras_cnn_shapes,
keras_autoencoder, keras_transformer_text); `keras_session` is in `_tf.py`,
`run_params` in `spec.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._tf import keras_session
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "keras_mlp_digits"
VERSION = 1

# --------------------------------------------------------------------------- shared by the Keras fit programs


def tensorboard_callback(keras: Any, run_dir: Path, update_freq: int | str, steps_per_epoch: int) -> Any:
    """The stock TensorBoard callback, refusing an ``update_freq`` that would lose epoch summaries.

    Keras 3 writes the epoch summaries inside the ``record_if(step % N == 0)``
    context of the last training batch, so with ``update_freq=N`` an epoch's
    ``epoch_*`` points (train and validation) are dropped unless N divides the
    global batch count at that epoch's end; N dividing the steps per epoch
    keeps them all.
    """
    if update_freq != "epoch" and steps_per_epoch % int(update_freq):
        raise ValueError(f"update_freq={update_freq} does not divide {steps_per_epoch} steps per epoch")
    return keras.callbacks.TensorBoard(log_dir=str(run_dir), update_freq=update_freq, write_graph=False)


def keras_fit_facts(
    *,
    update_freq: int | str,
    metric: str | None,
    direction: str | None,
    task: str,
    steps_per_epoch: int,
    validation_freq: int = 1,
    **fields: Any,
) -> Facts:
    """Facts for a Keras ``fit`` + TensorBoard run: its split folders, epoch-level tags and optional batch loss."""
    tags = {"train_loss": "train/epoch_loss", "val_loss": "validation/epoch_loss", "lr": "train/epoch_learning_rate"}
    if metric:
        tags["train_metric"] = f"train/epoch_{metric}"
        tags["val_metric"] = f"validation/epoch_{metric}"
    if update_freq != "epoch":
        tags["batch_loss"] = "train/batch_loss"
    return Facts(
        tags=tags,
        steps={role: "step" if role == "batch_loss" else "epoch" for role in tags},
        task=task,
        metric=metric,
        metric_direction=direction,  # type: ignore[arg-type]
        steps_per_epoch=steps_per_epoch,
        log_every_steps=None if update_freq == "epoch" else int(update_freq),
        eval_every_steps=steps_per_epoch * validation_freq,
        **fields,
    )


# --------------------------------------------------------------------------- the digits program

N_TRAIN = 1280
TINY_VAL = 40
NAN_BATCH = 3  # the batch of each epoch that carries the NaN pixel

DEFAULTS: dict[str, Any] = {
    "epochs": 40,
    "batch_size": 32,
    "n_train": N_TRAIN,
    "n_val": None,  # None: every image not used for training
    "hidden": [128, 64],
    "dropout": 0.0,
    "l2": 0.0,
    "zero_init": False,
    "activation": "relu",
    "optimizer": "adam",
    "lr": 1e-3,
    "momentum": 0.0,
    "schedule": "constant",  # constant | step | ramp | high_then_low
    "schedule_every": 15,  # step: epochs between drops; high_then_low: epochs at the high LR
    "schedule_factor": 0.3,  # step: drop factor; ramp: growth per epoch
    "lr_low": 5e-4,  # high_then_low: the LR after the high phase
    "update_freq": "epoch",
    "label_noise": 0.0,
    "sort_by_class": False,  # served in class order, never reshuffled
    "nan_from_epoch": None,
    "spike_epochs": [],  # epochs in which one batch arrives with pixels x40
    "val_transposed": False,
}

RUNS: list[tuple[str, str, dict[str, Any]]] = [
    ("healthy_adam", "healthy", {}),
    ("healthy_dropout", "healthy", {"hidden": [256, 128], "dropout": 0.5, "epochs": 60, "update_freq": 10}),
    ("healthy_tiny_val", "healthy", {"n_val": TINY_VAL, "update_freq": 20}),
    (
        "healthy_step_decay",
        "healthy",
        {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "schedule": "step", "epochs": 45, "update_freq": 5},
    ),
    ("overfitting", "overfitting", {"n_train": 320, "hidden": [512, 512], "label_noise": 0.15, "epochs": 150}),
    (
        "lr_too_high",
        "lr_too_high",
        {"lr": 0.05, "schedule": "high_then_low", "schedule_every": 25, "epochs": 40, "update_freq": 10},
    ),
    (
        "divergence",
        "divergence",
        {"optimizer": "sgd", "lr": 0.01, "schedule": "ramp", "schedule_factor": 1.35, "epochs": 30},
    ),
    ("nonfinite", "nonfinite", {"activation": "tanh", "nan_from_epoch": 12, "epochs": 25, "update_freq": 8}),
    ("nonfinite_relu", "nonfinite", {"nan_from_epoch": 12, "epochs": 25, "update_freq": 8}),
    ("lr_too_small", "lr_too_small", {"optimizer": "sgd", "lr": 2e-4}),
    ("no_learning", "no_learning", {"zero_init": True, "epochs": 25, "update_freq": 10}),
    (
        "plateau",
        "plateau",
        {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "schedule": "step", "schedule_every": 10,
         "schedule_factor": 0.1, "epochs": 80},
    ),
    ("val_plateau", "val_plateau", {"n_train": 320, "hidden": [256], "dropout": 0.2, "l2": 1e-4, "epochs": 150}),
    (
        "lr_decay_too_early",
        "lr_decay_too_early",
        {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "schedule": "step", "schedule_every": 1,
         "schedule_factor": 0.1},
    ),
    ("underfitting", "underfitting", {"hidden": [3], "lr": 1e-2, "epochs": 60}),
    (
        "unshuffled",
        "unshuffled",
        {"sort_by_class": True, "optimizer": "sgd", "lr": 0.05, "epochs": 20, "update_freq": 1},
    ),
    ("loss_spikes", "loss_spikes", {"spike_epochs": [18, 33], "epochs": 50, "update_freq": 1}),
    (
        "noisy",
        "noisy",
        {"batch_size": 4, "optimizer": "sgd", "lr": 0.02, "n_val": TINY_VAL, "epochs": 12, "update_freq": 4},
    ),
    ("data_problem", "data_problem", {"val_transposed": True, "update_freq": 20}),
    ("still_learning", "still_learning", {"optimizer": "sgd", "lr": 0.01, "epochs": 6, "update_freq": 4}),
    # added for the dev set's rarer codes (seeds 20-21)
    (
        "lr_too_high_short_low_phase",
        "lr_too_high",
        {"lr": 0.05, "schedule": "high_then_low", "schedule_every": 24, "epochs": 30, "update_freq": 10},
    ),
    (
        "noisy_batch4_label_noise",
        "noisy",
        {"batch_size": 4, "optimizer": "sgd", "lr": 0.05, "label_noise": 0.3, "n_val": TINY_VAL, "epochs": 8,
         "update_freq": 4},
    ),
]


def runs() -> list[RunSpec]:
    return [RunSpec(NAME, name, intent, params, seed=i) for i, (name, intent, params) in enumerate(RUNS)]


def _digits(p: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A fixed split of the bundled digits (the same images in every run; only the model seed varies)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(12345).permutation(len(y))
    x, y = x[order].astype("float32"), y[order].astype("int32")
    n_train = int(p["n_train"])
    x_val, y_val = x[N_TRAIN:], y[N_TRAIN:]
    if p["n_val"] is not None:
        x_val, y_val = x_val[: p["n_val"]], y_val[: p["n_val"]]
    if p["val_transposed"]:
        x_val = x_val.reshape(-1, 8, 8).transpose(0, 2, 1).reshape(-1, 64)
    return x[:n_train] / 16.0, y[:n_train], x_val / 16.0, y_val


def _scale_pixels(xb: np.ndarray, yb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A sensor glitch: one batch's pixels x40."""
    return xb * 40.0, yb


def digits_batches(
    keras: Any,
    x: np.ndarray,
    y: np.ndarray,
    p: dict[str, Any],
    seed: int,
    corrupt: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] = _scale_pixels,
) -> Any:
    """A PyDataset that reshuffles every epoch (unless class-sorted), and injects the run's data faults at the epochs
    they start: a NaN pixel in batch NAN_BATCH, and `corrupt` applied to the middle batch of each spike epoch."""

    class DigitsBatches(keras.utils.PyDataset):
        """Batch i of the current epoch; the epoch starts in ``on_epoch_begin``.

        Not ``on_epoch_end``: Keras calls that once before training, after
        reading two batches to infer the tensor specs. ``fit`` must get
        ``shuffle=False``, else it permutes the batch indices itself.
        """

        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.epoch = -1
            self.order = self._order()

        def _order(self) -> np.ndarray:
            if p["sort_by_class"]:
                return np.argsort(y, kind="stable")
            return self.rng.permutation(len(y))

        def __len__(self) -> int:
            return len(y) // p["batch_size"]

        def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
            idx = self.order[i * p["batch_size"] : (i + 1) * p["batch_size"]]
            xb, yb = x[idx].copy(), y[idx]
            if p["nan_from_epoch"] is not None and self.epoch >= p["nan_from_epoch"] and i == NAN_BATCH:
                xb[0, 27] = np.nan
            if self.epoch in p["spike_epochs"] and i == len(self) // 2:
                xb, yb = corrupt(xb, yb)
            return xb, yb

        def on_epoch_begin(self) -> None:
            self.epoch += 1
            if self.epoch > 0:
                self.order = self._order()

    return DigitsBatches()


def _model(keras: Any, p: dict[str, Any]) -> Any:
    dense: dict[str, Any] = {"activation": p["activation"]}
    if p["zero_init"]:
        dense.update(kernel_initializer="zeros", bias_initializer="zeros")
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
    if p["schedule"] == "high_then_low":
        return p["lr"] if epoch < p["schedule_every"] else p["lr_low"]
    return p["lr"]


def _peak_lr(p: dict[str, Any]) -> float:
    return max(_lr_at(p, e) for e in range(p["epochs"]))


def _injected(p: dict[str, Any], y_train: np.ndarray, flipped: int, steps: int) -> dict[str, Any]:
    """What was done, with the 1-based global batch steps (as Keras logs them) where a data fault enters."""
    inj: dict[str, Any] = {}
    if p["nan_from_epoch"] is not None:
        inj["nan_input"] = f"one pixel of one training image is NaN from epoch {p['nan_from_epoch']} on"
        inj["nan_from_step"] = p["nan_from_epoch"] * steps + NAN_BATCH + 1
        inj["activation"] = p["activation"]
    if p["spike_epochs"]:
        inj["bad_batches"] = f"one batch with pixels x40 in epochs {p['spike_epochs']}"
        inj["bad_batch_steps"] = [e * steps + steps // 2 + 1 for e in p["spike_epochs"]]
    if p["sort_by_class"]:
        inj["class_sorted"] = "training data served in class order, never shuffled"
    if p["val_transposed"]:
        inj["val_preprocessing"] = "validation images flattened column-major (transposed), training row-major"
    if flipped:
        inj["label_noise"] = f"{flipped} of {len(y_train)} training labels replaced by random classes"
    if p["zero_init"]:
        inj["zero_init"] = "hidden kernels and biases initialised to zero (ReLU)"
    if p["schedule"] == "ramp":
        inj["lr_ramp"] = f"LR x{p['schedule_factor']} per epoch from {p['lr']} (LR range test left in)"
    if p["schedule"] == "high_then_low":
        inj["lr_high"] = f"LR {p['lr']} for {p['schedule_every']} epochs, then {p['lr_low']}"
    return inj


def train(spec: RunSpec, run_dir: Path) -> Facts:
    p = run_params(spec, DEFAULTS)
    keras, _ = keras_session(spec.seed)
    x, y, x_val, y_val = _digits(p)
    rng = np.random.default_rng(spec.seed + 1000)
    noisy = rng.random(len(y)) < p["label_noise"]
    y = np.where(noisy, rng.integers(0, 10, len(y)), y).astype("int32")
    data = digits_batches(keras, x, y, p, spec.seed)
    steps = len(data)
    if p["optimizer"] == "sgd":
        opt = keras.optimizers.SGD(learning_rate=p["lr"], momentum=p["momentum"])
    else:
        opt = keras.optimizers.Adam(learning_rate=p["lr"])
    model = _model(keras, p)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])
    callbacks = [tensorboard_callback(keras, run_dir, p["update_freq"], steps)]
    if p["schedule"] != "constant":
        callbacks.append(keras.callbacks.LearningRateScheduler(lambda epoch: _lr_at(p, epoch)))
    model.fit(
        data,
        validation_data=(x_val, y_val),
        validation_batch_size=256,
        epochs=p["epochs"],
        callbacks=callbacks,
        shuffle=False,
        verbose=0,
    )
    return keras_fit_facts(
        update_freq=p["update_freq"],
        metric="accuracy",
        direction="max",
        task="classification",
        steps_per_epoch=steps,
        num_classes=10,
        chance_metric=0.1,
        epochs=p["epochs"],
        batch_size=p["batch_size"],
        lr_peak=_peak_lr(p),
        schedule={"constant": "constant", "step": "step_decay", "ramp": "exponential_ramp"}.get(
            p["schedule"], "piecewise_constant"
        ),
        shuffled=not p["sort_by_class"],
        injected=_injected(p, y, int(noisy.sum()), steps),
    )


PROGRAM = Program(
    name=NAME,
    family="mlp",
    data="sklearn digits (8x8, 10 classes)",
    script="keras_fit",
    writer="keras_tensorboard",
    framework="tensorflow",
    version=VERSION,
    runs=runs,
    train=train,
)
