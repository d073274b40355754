"""keras_cnn_shapes: a small CNN x synthetic 16x16 shape images x Keras ``model.fit`` x ``keras.callbacks.TensorBoard``.

Why it exists: the image-classification shape of a Keras script (conv/pool
stack, a ``tf.data`` pipeline that reshuffles every epoch, augmentation layers
inside the model, LR schedules given to the optimizer as schedule objects),
with tb-recipe's own ``DiagnosisCallback(print_diagnosis=False)`` as a second
writer into ``train/`` in some runs, as real users run it.

Data: four classes (disk, square, triangle, plus) drawn at a random position
and size (radius 2.5-5.5 px) with a random intensity on a noisy background
(noise sd 0.2): the 16-32 filter CNN reaches ~0.93 validation accuracy in 20
epochs. 4,096 training images (64 steps of 64) and 512 validation images, the
same in every run. Chance accuracy 0.25.

Runs (intent: how it is made; [D] = with DiagnosisCallback):

- healthy_adam [D]: Adam 1e-3, 20 epochs, epoch logging.
- healthy_augment: random flips/translations in the model and dropout 0.3: validation loss below training loss.
- healthy_cosine_restarts: SGDR (``CosineDecayRestarts``, a restart every 6 epochs), logged every 8 batches: the
  loss rises briefly at each restart.
- healthy_onecycle [D]: SGD+momentum with a one-cycle schedule peaking at 0.05, logged every 16 batches.
- overfitting: 256 training images, a 32-64 filter CNN with a 128-unit dense layer, 80 epochs.
- lr_too_high: the same one-cycle schedule peaking at 0.3: the loss climbs back to chance while the LR is near
  its peak and only falls in the annealing tail.
- divergence: ``CosineDecayRestarts(m_mul=3.0)`` (meant 0.3): every restart triples the LR; the loss falls in the
  first cycle, jumps at each restart and ends at chance.
- nonfinite [D]: a hand-written one-vs-all binary cross-entropy on softmax outputs, no clipping, and 2% wrong
  labels: once an image gets probability 1.0 (float32) for a class it is not labelled with, log(1 - p) = log(0).
- lr_too_small: Adam at 1e-5.
- no_learning [D]: first conv bias initialised to -10: every ReLU of the first layer is dead from the start.
- plateau: Adam 3e-3 with L2 5e-3 on every kernel, 40 epochs: converged early, flat after.
- lr_decay_too_early: ``ExponentialDecay(0.05, decay_steps=16, decay_rate=0.1)`` (meant 16 epochs): the LR is
  ~1e-6 after one epoch and the loss freezes high.
- underfitting: L2 0.03 on every kernel and dropout 0.5: training accuracy levels well below the task's ~0.95.
- unshuffled: the images are stored smallest shape first and served in that order every epoch (no shuffle),
  every batch logged: the batch loss falls within each epoch and jumps back at every epoch start.
- loss_spikes [D]: the LR is multiplied by 40 for the update of one batch at 35% and 70% of the run (a
  scheduler bug); every batch logged.
- noisy: 2,048 images in batches of 8, a 32-image validation set, logged every 32 batches.
- data_problem: validation images with inverted polarity (light background), training images dark background.
- val_better_than_train: heavy augmentation (flips, rotations, zoom, Gaussian noise 0.3) and dropout 0.5.
- still_learning: SGD at 0.01 stopped after 4 epochs.
- lr_too_high_moderate_peak: the one-cycle schedule peaking at 0.22 (just below lr_too_high's collapse): the loss
  stalls and jitters while the LR is near its peak and falls fast once it anneals.

``Facts.injected`` gives the 1-based batch steps (Keras' numbering) of the LR
kicks (``lr_kick_steps``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._tf import keras_session
from benchmarks.corpus.programs.keras_mlp_digits import keras_fit_facts, tensorboard_callback
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "keras_cnn_shapes"
VERSION = 1
SIZE = 16
CLASSES = 4
N_TRAIN = 4096
N_VAL = 512

DEFAULTS: dict[str, Any] = {
    "epochs": 20,
    "batch_size": 64,
    "n_train": N_TRAIN,
    "n_val": N_VAL,
    "noise": 0.2,
    "filters": [16, 32],
    "dense": 32,
    "dropout": 0.0,
    "l2": 0.0,
    "augment": "none",  # none | light | heavy
    "first_bias": 0.0,
    "optimizer": "adam",
    "lr": 1e-3,
    "momentum": 0.9,
    "schedule": "constant",  # constant | onecycle | restarts | exp_decay
    "restart_epochs": 6,
    "m_mul": 1.0,
    "decay_steps": 0,
    "kicks": [],  # fractions of the run at which the LR is x40 for one step
    "update_freq": "epoch",
    "sorted_by_size": False,  # served smallest shape first, never shuffled
    "custom_loss": False,
    "label_noise": 0.0,
    "val_inverted": False,
    "diagnosis": False,
}

RUNS: list[tuple[str, str, dict[str, Any]]] = [
    ("healthy_adam", "healthy", {"diagnosis": True}),
    ("healthy_augment", "healthy", {"augment": "light", "dropout": 0.3, "epochs": 30, "update_freq": 16}),
    (
        "healthy_cosine_restarts",
        "healthy",
        {"optimizer": "sgd", "lr": 0.05, "schedule": "restarts", "epochs": 24, "update_freq": 8},
    ),
    (
        "healthy_onecycle",
        "healthy",
        {"optimizer": "sgd", "lr": 0.05, "schedule": "onecycle", "update_freq": 16, "diagnosis": True},
    ),
    ("overfitting", "overfitting", {"n_train": 256, "filters": [32, 64], "dense": 128, "epochs": 150}),
    ("lr_too_high", "lr_too_high", {"optimizer": "sgd", "lr": 0.25, "schedule": "onecycle", "update_freq": 8}),
    ("divergence", "divergence", {"optimizer": "sgd", "lr": 0.03, "schedule": "restarts", "m_mul": 3.0, "epochs": 24}),
    ("nonfinite", "nonfinite", {"custom_loss": True, "label_noise": 0.02, "lr": 3e-3, "diagnosis": True}),
    ("lr_too_small", "lr_too_small", {"lr": 1e-5, "epochs": 15, "update_freq": 32}),
    ("no_learning", "no_learning", {"first_bias": -10.0, "epochs": 10, "diagnosis": True}),
    ("plateau", "plateau", {"noise": 0.05, "epochs": 40}),
    (
        "lr_decay_too_early",
        "lr_decay_too_early",
        {"optimizer": "sgd", "lr": 0.05, "schedule": "exp_decay", "decay_steps": 16, "epochs": 15, "update_freq": 16},
    ),
    ("underfitting", "underfitting", {"l2": 0.03, "dropout": 0.5, "epochs": 25}),
    ("unshuffled", "unshuffled", {"sorted_by_size": True, "update_freq": 1, "epochs": 15}),
    ("loss_spikes", "loss_spikes", {"kicks": [0.37, 0.71], "update_freq": 1, "diagnosis": True}),
    (
        "noisy",
        "noisy",
        {"n_train": 2048, "batch_size": 8, "n_val": 32, "epochs": 10, "update_freq": 32},
    ),
    ("data_problem", "data_problem", {"val_inverted": True, "epochs": 15, "update_freq": 8}),
    (
        "val_better_than_train",
        "val_better_than_train",
        {"augment": "heavy", "dropout": 0.5, "epochs": 30, "update_freq": 32},
    ),
    ("still_learning", "still_learning", {"optimizer": "sgd", "lr": 0.01, "epochs": 4, "update_freq": 4}),
    # added for the dev set's rarer codes (seed 119)
    (
        "lr_too_high_moderate_peak",
        "lr_too_high",
        {"optimizer": "sgd", "lr": 0.22, "schedule": "onecycle", "update_freq": 8},
    ),
]


def runs() -> list[RunSpec]:
    return [RunSpec(NAME, name, intent, params, seed=100 + i) for i, (name, intent, params) in enumerate(RUNS)]


def shapes(n: int, seed: int, noise: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` images (n, 16, 16, 1) in [0, ~1] of a random shape each (balanced classes), their labels and sizes."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % CLASSES
    rng.shuffle(y)
    r = rng.uniform(2.5, 5.5, n)[:, None, None]
    cx = rng.uniform(r[:, 0, 0] + 0.5, SIZE - 1.5 - r[:, 0, 0])[:, None, None]
    cy = rng.uniform(r[:, 0, 0] + 0.5, SIZE - 1.5 - r[:, 0, 0])[:, None, None]
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype("float64")
    dx, dy = xx[None] - cx, yy[None] - cy
    disk = dx**2 + dy**2 <= r**2
    square = (np.abs(dx) <= 0.8 * r) & (np.abs(dy) <= 0.8 * r)
    triangle = (np.abs(dy) <= r) & (np.abs(dx) <= (dy + r) / 2)
    plus = ((np.abs(dx) <= 1) & (np.abs(dy) <= r)) | ((np.abs(dy) <= 1) & (np.abs(dx) <= r))
    masks = np.stack([disk, square, triangle, plus])[y, np.arange(n)]
    intensity = rng.uniform(0.5, 1.0, n)[:, None, None]
    x = masks * intensity + rng.normal(0.0, noise, (n, SIZE, SIZE))
    return x[..., None].astype("float32"), y.astype("int32"), r[:, 0, 0]


def _dataset(tf: Any, x: np.ndarray, y: np.ndarray, p: dict[str, Any], seed: int) -> Any:
    """Reshuffled every epoch over the whole set; the unshuffled run serves its size-sorted files in order."""
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if not p["sorted_by_size"]:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(p["batch_size"], drop_remainder=True)


def _one_cycle(keras: Any, peak: float, total_steps: int, pct_start: float = 0.3) -> Any:
    """PyTorch's OneCycleLR shape (cosine up from peak/25, cosine down to peak/1e4) as a Keras schedule."""
    ops = keras.ops

    class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step: Any) -> Any:
            step = ops.cast(step, "float32")
            up = max(1.0, pct_start * total_steps)
            down = max(1.0, total_steps - up)
            start, end = peak / 25.0, peak / 1e4
            t_up = ops.minimum(step / up, 1.0)
            t_down = ops.clip((step - up) / down, 0.0, 1.0)
            rising = start + (peak - start) * (1 - ops.cos(math.pi * t_up)) / 2
            falling = end + (peak - end) * (1 + ops.cos(math.pi * t_down)) / 2
            return ops.where(step < up, rising, falling)

        def get_config(self) -> dict[str, Any]:
            return {"peak": peak, "total_steps": total_steps, "pct_start": pct_start}

    return OneCycle()


def _with_kicks(keras: Any, base: Any, kick_steps: list[int], factor: float = 40.0) -> Any:
    """``base`` LR, multiplied by ``factor`` for exactly one step at each of ``kick_steps``."""
    ops = keras.ops

    class Kicked(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step: Any) -> Any:
            lr = base(step) if callable(base) else ops.convert_to_tensor(base, "float32")
            hit = ops.any(ops.equal(ops.cast(step, "int32"), ops.convert_to_tensor(kick_steps, "int32")))
            return ops.where(hit, lr * factor, lr)

        def get_config(self) -> dict[str, Any]:
            return {"kick_steps": kick_steps, "factor": factor}

    return Kicked()


def _learning_rate(keras: Any, p: dict[str, Any], steps: int) -> tuple[Any, str, float]:
    """The optimizer's LR (a float or schedule), the schedule's name for Facts and its peak value."""
    total = steps * p["epochs"]
    schedules = keras.optimizers.schedules
    lr: Any = p["lr"]
    name = "constant"
    if p["schedule"] == "onecycle":
        lr, name = _one_cycle(keras, p["lr"], total), "onecycle"
    elif p["schedule"] == "restarts":
        period = steps * p["restart_epochs"]
        lr = schedules.CosineDecayRestarts(p["lr"], period, t_mul=1.0, m_mul=p["m_mul"], alpha=0.01)
        name = "cosine_restarts"
    elif p["schedule"] == "exp_decay":
        lr, name = schedules.ExponentialDecay(p["lr"], p["decay_steps"], 0.1), "exponential_decay"
    peak = p["lr"]
    if name == "cosine_restarts":
        peak = p["lr"] * max(1.0, p["m_mul"] ** (p["epochs"] // p["restart_epochs"]))
    if p["kicks"]:
        lr = _with_kicks(keras, lr, [int(f * total) for f in p["kicks"]])
        peak *= 40.0
    return lr, name, float(peak)


def _augmentation(keras: Any, kind: str) -> list[Any]:
    if kind == "light":
        return [keras.layers.RandomFlip("horizontal"), keras.layers.RandomTranslation(0.1, 0.1)]
    if kind == "heavy":
        return [
            keras.layers.RandomFlip("horizontal_and_vertical"),
            keras.layers.RandomRotation(0.1),
            keras.layers.RandomZoom(0.15),
            keras.layers.GaussianNoise(0.15),
        ]
    return []


def _model(keras: Any, p: dict[str, Any]) -> Any:
    reg = keras.regularizers.L2(p["l2"]) if p["l2"] else None
    layers: list[Any] = [keras.Input((SIZE, SIZE, 1)), *_augmentation(keras, p["augment"])]
    for i, filters in enumerate(p["filters"]):
        bias = keras.initializers.Constant(p["first_bias"]) if i == 0 else "zeros"
        layers.append(
            keras.layers.Conv2D(
                filters, 3, padding="same", activation="relu", kernel_regularizer=reg, bias_initializer=bias
            )
        )
        layers.append(keras.layers.MaxPooling2D())
    layers += [keras.layers.Flatten(), keras.layers.Dense(p["dense"], activation="relu", kernel_regularizer=reg)]
    if p["dropout"]:
        layers.append(keras.layers.Dropout(p["dropout"]))
    layers.append(keras.layers.Dense(CLASSES, activation="softmax" if p["custom_loss"] else None))
    return keras.Sequential(layers)


def _one_vs_all_bce(keras: Any) -> Any:
    """A hand-written binary cross-entropy over softmax outputs, without the clipping Keras' own losses apply."""
    ops = keras.ops

    def loss(y_true: Any, y_pred: Any) -> Any:
        onehot = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), CLASSES)
        terms = onehot * ops.log(y_pred) + (1.0 - onehot) * ops.log(1.0 - y_pred)
        return -ops.sum(terms, axis=-1)

    return loss


def _injected(p: dict[str, Any], flipped: int, total_steps: int) -> dict[str, Any]:
    inj: dict[str, Any] = {}
    if p["custom_loss"]:
        inj["custom_loss"] = "one-vs-all BCE on softmax outputs with log(p), log(1-p) unclipped"
    if flipped:
        inj["label_noise"] = f"{flipped} training labels replaced by another class"
    if p["first_bias"]:
        inj["dead_relu"] = f"first conv bias initialised to {p['first_bias']}"
    if p["m_mul"] > 1:
        inj["restart_lr_growth"] = f"CosineDecayRestarts m_mul={p['m_mul']}: each restart multiplies the LR"
    if p["schedule"] == "exp_decay":
        inj["early_decay"] = f"ExponentialDecay x0.1 every {p['decay_steps']} steps (meant epochs)"
    if p["kicks"]:
        inj["lr_kicks"] = "LR x40 for the update of one batch"
        inj["lr_kick_steps"] = [int(f * total_steps) + 1 for f in p["kicks"]]  # 1-based, as Keras logs batches
    if p["sorted_by_size"]:
        inj["size_sorted"] = "training images stored smallest shape first, served in that order every epoch"
    if p["val_inverted"]:
        inj["val_distribution"] = "validation images inverted (light background)"
    return inj


def train(spec: RunSpec, run_dir: Path) -> Facts:
    p = run_params(spec, DEFAULTS)
    keras, tf = keras_session(spec.seed)
    x, y, size = shapes(p["n_train"], seed=1, noise=p["noise"])
    x_val, y_val, _ = shapes(p["n_val"], seed=2, noise=p["noise"])
    if p["val_inverted"]:
        x_val = 1.0 - x_val
    rng = np.random.default_rng(spec.seed)
    flip = rng.random(len(y)) < p["label_noise"]
    y = np.where(flip, (y + rng.integers(1, CLASSES, len(y))) % CLASSES, y).astype("int32")
    if p["sorted_by_size"]:
        order = np.argsort(size, kind="stable")
        x, y = x[order], y[order]
    steps = len(y) // p["batch_size"]
    lr, schedule, peak = _learning_rate(keras, p, steps)
    if p["optimizer"] == "sgd":
        opt = keras.optimizers.SGD(learning_rate=lr, momentum=p["momentum"])
    else:
        opt = keras.optimizers.Adam(learning_rate=lr)
    loss = (
        _one_vs_all_bce(keras) if p["custom_loss"] else keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model = _model(keras, p)
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])
    callbacks = [tensorboard_callback(keras, run_dir, p["update_freq"], steps)]
    if p["diagnosis"]:
        from tb_recipe_plugin.keras import DiagnosisCallback

        callbacks.append(DiagnosisCallback(str(run_dir), print_diagnosis=False))
    model.fit(
        _dataset(tf, x, y, p, spec.seed),
        validation_data=(x_val, y_val),
        validation_batch_size=256,
        epochs=p["epochs"],
        callbacks=callbacks,
        shuffle=False,  # the tf.data pipeline shuffles
        verbose=0,
    )
    return keras_fit_facts(
        update_freq=p["update_freq"],
        metric="accuracy",
        direction="max",
        task="classification",
        steps_per_epoch=steps,
        num_classes=CLASSES,
        chance_metric=1.0 / CLASSES,
        epochs=p["epochs"],
        batch_size=p["batch_size"],
        lr_peak=peak,
        schedule=schedule,
        shuffled=not p["sorted_by_size"],
        injected=_injected(p, int(flip.sum()), steps * p["epochs"]),
    )


PROGRAM = Program(
    name=NAME,
    family="cnn",
    data="synthetic 16x16 shapes (4 classes)",
    script="keras_fit",
    writer="keras_tensorboard",
    framework="tensorflow",
    version=VERSION,
    runs=runs,
    train=train,
)
