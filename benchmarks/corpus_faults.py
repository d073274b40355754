"""Fault recipes for the accuracy corpus: which small training run to make, and how to break it.

Each recipe is plain data (a `Recipe` holding nested dicts) so that it can be
fingerprinted: `make_corpus` re-trains a run only when its recipe changed.
`build_job` turns a recipe into a compiled Keras model, arrays and callbacks.

The set-ups are deliberately unlike the demo runs in ``demo_logs/`` (other
data sets, models, optimisers and seeds), and every fault family is injected
in several different ways, so that no single threshold tuned on one run
explains the whole family. TensorFlow/Keras are imported lazily: reading the
recipe list (e.g. to rebuild ``labels.json``) must not pay TensorFlow's start-up.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# Bump when the meaning of a recipe field changes, to force regeneration.
RECIPE_VERSION = 3

# The finding code that a fault family is meant to produce (None: healthy).
FAMILY_CODE: dict[str, str | None] = {
    "healthy": None,
    "overfitting": "overfitting",
    "nonfinite": "nonfinite_loss",
    "divergence": "divergence",
    "no_learning": "no_learning",
    "lr_too_small": "lr_too_small",
    "plateau": "plateau",
    "val_plateau": "val_plateau",
    "noisy": "noisy_loss",
    "lr_decay_too_early": "lr_decay_too_early",
    "underfitting": "underfitting",
    "still_learning": "still_learning",
    "val_better_than_train": "val_better_than_train",
    "data_problem": "data_problem",
}

# Codes a human reading the family's curves might also reasonably name.
FAMILY_ACCEPTABLE: dict[str, tuple[str, ...]] = {
    "healthy": ("plateau", "still_learning"),
    "overfitting": ("val_plateau", "best_checkpoint_mismatch", "plateau"),
    "nonfinite": ("divergence", "loss_spikes"),
    "divergence": ("loss_spikes", "noisy_loss"),
    "no_learning": ("plateau", "underfitting"),
    "lr_too_small": ("still_learning", "underfitting"),
    "plateau": ("val_plateau",),
    "val_plateau": ("overfitting", "plateau", "best_checkpoint_mismatch"),
    "noisy": ("plateau", "val_plateau", "loss_spikes", "best_checkpoint_mismatch"),
    "lr_decay_too_early": ("plateau", "underfitting"),
    "underfitting": ("plateau",),
    "still_learning": ("lr_too_small",),
    "val_better_than_train": ("plateau", "still_learning"),
    "data_problem": ("overfitting", "val_plateau", "best_checkpoint_mismatch"),
}


@dataclass(frozen=True)
class Recipe:
    """One run of the corpus: data, model, optimiser, fit settings and the injected fault.

    `family` is the fault the recipe intends to show; the labels written to
    labels.json are decided later from the curves actually observed.
    """

    name: str  # run folder below the corpus root: "<family>/<variant>"
    family: str
    injected: str  # one sentence for the notes: what was done to the run
    data: dict[str, Any]
    model: dict[str, Any]
    opt: dict[str, Any]
    fit: dict[str, Any]
    acceptable: tuple[str, ...] = ()  # recipe-specific extra acceptable codes
    faults: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """Hash of what changes the training; wording and labels can change without retraining."""
        d = asdict(self)
        for key in ("injected", "acceptable", "family"):
            d.pop(key)
        blob = json.dumps({"v": RECIPE_VERSION, **d}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- data


@dataclass
class Data:
    """Arrays plus the facts the labeller needs (chance level, target variance)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    task: str  # "multiclass" | "binary" | "regression"
    n_classes: int = 0
    y_var: float = 0.0  # variance of the regression targets, in the logged loss units

    @property
    def chance_acc(self) -> float | None:
        return None if self.task == "regression" else 1.0 / max(self.n_classes, 2)


def _standardize(x_train: np.ndarray, x_val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu = x_train.mean(axis=0, keepdims=True)
    sd = x_train.std(axis=0, keepdims=True) + 1e-6
    return (x_train - mu) / sd, (x_val - mu) / sd


def make_data(spec: dict[str, Any], seed: int) -> Data:
    """Build the arrays of one recipe; every generator is seeded so reruns match."""
    from sklearn import datasets

    kind = spec["kind"]
    n_train, n_val = spec["n_train"], spec["n_val"]
    rng = np.random.default_rng(seed)
    n = n_train + n_val
    task = "multiclass"
    n_classes = 0
    if kind in ("digits", "digits_img"):
        x, y = datasets.load_digits(return_X_y=True)
        perm = rng.permutation(len(x))
        x, y = x[perm][:n] / 16.0, y[perm][:n]
        n_classes = 10
        if kind == "digits_img":
            x = x.reshape(-1, 8, 8, 1)
    elif kind == "clf":
        n_classes = spec["n_classes"]
        x, y = datasets.make_classification(
            n_samples=n,
            n_features=spec.get("n_features", 20),
            n_informative=spec.get("n_informative", 8),
            n_redundant=spec.get("n_redundant", 2),
            n_classes=n_classes,
            n_clusters_per_class=spec.get("clusters", 2),
            class_sep=spec.get("class_sep", 1.0),
            flip_y=spec.get("flip_y", 0.01),
            random_state=seed,
        )
    elif kind == "moons":
        n_classes = 2
        x, y = datasets.make_moons(n_samples=n, noise=spec.get("noise", 0.2), random_state=seed)
    elif kind == "seq":
        # Class = quantile bin of a weighted running sum: easy for a GRU, not for a bag of features.
        n_classes = spec["n_classes"]
        t, d = spec.get("length", 12), spec.get("dim", 4)
        x = rng.standard_normal((n, t, d))
        w = np.linspace(0.5, 1.5, t)
        score = (x[:, :, 0] * w).sum(axis=1) - 0.5 * x[:, -3:, 1].sum(axis=1)
        edges = np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1])
        y = np.digitize(score, edges)
        flip = spec.get("flip_y", 0.0)
        if flip:
            m = rng.random(n) < flip
            y[m] = rng.integers(0, n_classes, m.sum())
    elif kind in ("friedman", "linreg"):
        task = "regression"
        if kind == "friedman":
            x, y = datasets.make_friedman1(n_samples=n, n_features=10, noise=spec.get("noise", 1.0), random_state=seed)
        else:
            x, y = datasets.make_regression(
                n_samples=n, n_features=spec.get("n_features", 8), noise=spec.get("noise", 10.0), random_state=seed
            )
        y = (y - y[:n_train].mean()) / y[:n_train].std()
    else:
        raise ValueError(f"unknown data kind {kind!r}")

    x = np.asarray(x, dtype="float32")
    x_tr, x_va = x[:n_train], x[n_train:]
    y_tr, y_va = np.asarray(y)[:n_train], np.asarray(y)[n_train:]
    if kind not in ("digits", "digits_img", "seq"):
        x_tr, x_va = _standardize(x_tr, x_va)
    if task == "regression":
        scale = float(spec.get("y_scale", 1.0))
        y_tr, y_va = (y_tr * scale).astype("float32"), (y_va * scale).astype("float32")
    else:
        task = "binary" if n_classes == 2 else "multiclass"
        y_tr, y_va = y_tr.astype("int64"), y_va.astype("int64")
    data = Data(x_tr.astype("float32"), y_tr, x_va.astype("float32"), y_va, task, n_classes)
    if task == "regression":
        data.y_var = float(np.var(y_tr))
    return data


def apply_data_faults(data: Data, faults: dict[str, Any], seed: int) -> None:
    """Corrupt the arrays in place: the data-side injections (labels, shift, NaN/Inf)."""
    rng = np.random.default_rng(seed + 1000)
    if faults.get("shuffle_train_labels"):
        data.y_train = rng.permutation(data.y_train)
    if "flip_train_labels" in faults:  # label noise in the training set only
        y = data.y_train.copy()
        m = rng.random(len(y)) < faults["flip_train_labels"]
        y[m] = rng.integers(0, data.n_classes, int(m.sum()))
        data.y_train = y
    if faults.get("shuffle_val_labels"):
        data.y_val = rng.permutation(data.y_val)
    if "val_scale" in faults:
        data.x_val = (data.x_val * faults["val_scale"]).astype("float32")
    if "val_shift" in faults:
        data.x_val = (data.x_val + faults["val_shift"]).astype("float32")
    if "nan_input_frac" in faults:
        m = rng.random(len(data.x_train)) < faults["nan_input_frac"]
        xf = data.x_train.reshape(len(data.x_train), -1)
        xf[m, 0] = np.nan
    if "inf_target_frac" in faults:
        m = rng.random(len(data.y_train)) < faults["inf_target_frac"]
        data.y_train = data.y_train.copy()
        data.y_train[m] = np.inf


# --------------------------------------------------------------------------- model


def make_model(spec: dict[str, Any], data: Data):  # -> keras.Model
    """Tiny models only: the machine is two shared cores."""
    import keras
    from keras import layers, regularizers

    kind = spec["kind"]
    reg = regularizers.l2(spec["l2"]) if spec.get("l2") else None
    bias_init = keras.initializers.Constant(spec["bias_init"]) if "bias_init" in spec else "zeros"
    inp = keras.Input(shape=data.x_train.shape[1:])
    h = inp
    if spec.get("input_noise"):
        h = layers.GaussianNoise(spec["input_noise"])(h)
    if kind == "cnn":
        for f in spec.get("filters", (8, 16)):
            h = layers.Conv2D(f, 3, padding="same", activation="relu", kernel_regularizer=reg)(h)
            if spec.get("pool", True) and h.shape[1] > 2:
                h = layers.MaxPooling2D(2)(h)
        h = layers.Flatten()(h)
    elif kind == "gru":
        h = layers.GRU(spec.get("units", 16), kernel_regularizer=reg)(h)
    for units in spec.get("hidden", ()):
        h = layers.Dense(
            units, activation=spec.get("activation", "relu"), kernel_regularizer=reg, bias_initializer=bias_init
        )(h)
        if spec.get("dropout"):
            h = layers.Dropout(spec["dropout"])(h)
    if data.task == "regression":
        out = layers.Dense(1, kernel_regularizer=reg)(h)
        if spec.get("rescale_out"):
            # The net works in unit scale; the logged loss is in the targets' (scaled) units.
            out = layers.Rescaling(spec["rescale_out"])(out)
    elif data.task == "binary":
        out = layers.Dense(1, activation="sigmoid", kernel_regularizer=reg)(h)
    else:
        out = layers.Dense(data.n_classes, activation="softmax", kernel_regularizer=reg)(h)
    return keras.Model(inp, out)


def make_optimizer(spec: dict[str, Any], steps_per_epoch: int):
    """Optimizer with an optional keras schedule (decays are given in epochs, converted to steps)."""
    import keras

    lr: Any = spec["lr"]
    sched = spec.get("schedule")
    if sched and sched[0] == "exp":
        _, every_epochs, rate = sched
        lr = keras.optimizers.schedules.ExponentialDecay(
            spec["lr"], decay_steps=max(1, int(every_epochs * steps_per_epoch)), decay_rate=rate
        )
    elif sched and sched[0] == "piecewise":
        _, epochs, values = sched
        lr = keras.optimizers.schedules.PiecewiseConstantDecay([int(e * steps_per_epoch) for e in epochs], list(values))
    name = spec["name"]
    if name == "sgd":
        return keras.optimizers.SGD(lr, momentum=spec.get("momentum", 0.0))
    if name == "adam":
        return keras.optimizers.Adam(lr)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(lr)
    if name == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=spec.get("weight_decay", 0.004))
    raise ValueError(f"unknown optimizer {name!r}")


def make_callbacks(opt: dict[str, Any], faults: dict[str, Any]) -> list:
    """Epoch-wise LR schedules (logged as epoch_learning_rate) and the mid-run NaN injection."""
    import keras

    cbs: list = []
    sched = opt.get("schedule")
    if sched and sched[0] == "ramp":  # multiply LR by a factor every epoch: a warm-up that never stops
        base, factor = opt["lr"], sched[1]
        cbs.append(keras.callbacks.LearningRateScheduler(lambda e, _lr: float(base * factor**e)))
    elif sched and sched[0] == "step":  # one step decay at a given epoch
        base, at, factor = opt["lr"], sched[1], sched[2]
        cbs.append(keras.callbacks.LearningRateScheduler(lambda e, _lr: float(base * (factor if e >= at else 1.0))))
    if "nan_weights_at_epoch" in faults:
        cbs.append(_CorruptWeights(faults["nan_weights_at_epoch"]))
    return cbs


def _CorruptWeights(epoch: int):  # noqa: N802 - factory that looks like the class it returns
    """A callback that puts one NaN into the first kernel: what one corrupt batch does to a model."""
    import keras

    class CorruptWeights(keras.callbacks.Callback):
        def on_epoch_begin(self, e: int, logs: dict | None = None) -> None:
            if e != epoch:
                return
            for layer in self.model.layers:
                if layer.weights:
                    w = layer.weights[0]
                    v = np.array(w.numpy())
                    v.flat[0] = np.nan
                    w.assign(v)
                    return

    return CorruptWeights()


@dataclass
class Job:
    model: Any
    data: Data
    callbacks: list
    epochs: int
    batch_size: int
    update_freq: str | int


def build_job(r: Recipe) -> Job:
    """Everything `model.fit` needs for one recipe, seeded by the recipe's seed."""
    import keras

    seed = r.fit["seed"]
    keras.utils.set_random_seed(seed)
    data = make_data(r.data, seed)
    apply_data_faults(data, r.faults, seed)
    model = make_model(r.model, data)
    bs = r.fit["batch_size"]
    steps = int(np.ceil(len(data.x_train) / bs))
    optimizer = make_optimizer(r.opt, steps)
    if data.task == "regression":
        loss: Any = "mse"
        metrics = ["mae"]
    elif data.task == "binary":
        loss, metrics = "binary_crossentropy", ["accuracy"]
    else:
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return Job(
        model=model,
        data=data,
        callbacks=make_callbacks(r.opt, r.faults),
        epochs=r.fit["epochs"],
        batch_size=bs,
        update_freq=r.fit.get("update_freq", "epoch"),
    )


# --------------------------------------------------------------------------- recipes


def _r(name: str, family: str, injected: str, data: dict, model: dict, opt: dict, fit: dict, **kw: Any) -> Recipe:
    return Recipe(f"{family}/{name}", family, injected, data, model, opt, fit, **kw)


DIGITS = {"kind": "digits", "n_train": 1200, "n_val": 597}
DIGITS_IMG = {"kind": "digits_img", "n_train": 1200, "n_val": 597}
SEQ5 = {"kind": "seq", "n_classes": 5, "n_train": 1600, "n_val": 400}
REG1000 = {"kind": "friedman", "n_train": 1600, "n_val": 400, "noise": 0.5, "y_scale": 1000.0}

# One recipe per line group reads as a table; the formatter would spread each over nine lines.
# fmt: off
RECIPES: list[Recipe] = [
    # ---------------------------------------------------------------- healthy
    _r("digits_mlp_adam", "healthy", "none: MLP 128 + L2 1e-4 on digits, Adam 1e-3, batch 32",
       DIGITS, {"kind": "mlp", "hidden": [128], "l2": 1e-4},
       {"name": "adam", "lr": 1e-3}, {"epochs": 25, "batch_size": 32, "seed": 101}),
    _r("digits_cnn", "healthy", "none: 2-layer CNN on 8x8 digit images, Adam 2e-3",
       DIGITS_IMG, {"kind": "cnn", "filters": [16, 32], "hidden": [64]},
       {"name": "adam", "lr": 2e-3}, {"epochs": 15, "batch_size": 64, "seed": 102}),
    _r("clf3_sgd_momentum", "healthy", "none: 3-class synthetic, MLP 32x32 + L2 1e-3, SGD 0.02 momentum 0.9",
       {"kind": "clf", "n_classes": 3, "n_train": 3000, "n_val": 1000, "class_sep": 1.5},
       {"kind": "mlp", "hidden": [32, 32], "l2": 1e-3},
       {"name": "sgd", "lr": 0.02, "momentum": 0.9}, {"epochs": 20, "batch_size": 64, "seed": 103}),
    _r("regression_x1000", "healthy", "none: Friedman-1 regression with targets x1000 (MSE ~1e6 scale), MLP 64x64",
       REG1000, {"kind": "mlp", "hidden": [32, 32], "rescale_out": 1000.0},
       {"name": "adam", "lr": 2e-3}, {"epochs": 35, "batch_size": 64, "seed": 104}),
    _r("gru_seq5", "healthy", "none: GRU(16) on synthetic sequences, 5 classes, Adam 3e-3",
       SEQ5, {"kind": "gru", "units": 16}, {"name": "adam", "lr": 3e-3}, {"epochs": 25, "batch_size": 64, "seed": 105}),
    _r("binary_rmsprop_batchlog", "healthy",
       "none: binary synthetic, MLP 64, RMSprop 1e-3, batch-level logging every 8 of 32 steps",
       {"kind": "clf", "n_classes": 2, "n_train": 1600, "n_val": 600, "class_sep": 1.2},
       {"kind": "mlp", "hidden": [64]},
       {"name": "rmsprop", "lr": 1e-3}, {"epochs": 25, "batch_size": 50, "seed": 106, "update_freq": 8}),
    _r("clf10_still_improving", "healthy",
       "none: 10-class synthetic, MLP 128x64, AdamW 5e-4, stopped at 20 epochs",
       {"kind": "clf", "n_classes": 10, "n_train": 4000, "n_val": 1000, "n_informative": 12, "class_sep": 1.5},
       {"kind": "mlp", "hidden": [128, 64]},
       {"name": "adamw", "lr": 5e-4}, {"epochs": 20, "batch_size": 128, "seed": 107}),
    # ---------------------------------------------------------------- overfitting
    _r("digits_120_samples_big_mlp", "overfitting", "120 training samples, MLP 512x512, no regularisation, 80 epochs",
       {"kind": "digits", "n_train": 120, "n_val": 600}, {"kind": "mlp", "hidden": [512, 512]},
       {"name": "adam", "lr": 1e-3}, {"epochs": 80, "batch_size": 16, "seed": 201}),
    _r("clf5_noisy_labels", "overfitting", "5-class synthetic with 20% label noise, 300 samples, MLP 256x256",
       {"kind": "clf", "n_classes": 5, "n_train": 300, "n_val": 1000, "flip_y": 0.2, "class_sep": 1.5},
       {"kind": "mlp", "hidden": [256, 256]},
       {"name": "adam", "lr": 3e-3}, {"epochs": 60, "batch_size": 32, "seed": 202}),
    _r("cnn_200_samples_label_noise", "overfitting",
       "CNN 32/64 filters + dense 128 on 200 digit images, 25% of the training labels replaced at random",
       {"kind": "digits_img", "n_train": 200, "n_val": 600},
       {"kind": "cnn", "filters": [32, 64], "hidden": [128]},
       {"name": "adam", "lr": 2e-3}, {"epochs": 45, "batch_size": 16, "seed": 203},
       faults={"flip_train_labels": 0.25}),
    _r("regression_small_train", "overfitting", "Friedman-1 (noise 3, targets x1000), 60 samples, MLP 128x128",
       {"kind": "friedman", "n_train": 60, "n_val": 400, "noise": 3.0, "y_scale": 1000.0},
       {"kind": "mlp", "hidden": [128, 128], "rescale_out": 1000.0},
       {"name": "adam", "lr": 1e-3}, {"epochs": 70, "batch_size": 8, "seed": 204}),
    _r("gru_noisy_labels", "overfitting", "GRU(64) on 250 sequences with 25% label noise, 3 classes",
       {"kind": "seq", "n_classes": 3, "n_train": 250, "n_val": 500, "flip_y": 0.25},
       {"kind": "gru", "units": 64}, {"name": "adam", "lr": 5e-3}, {"epochs": 60, "batch_size": 25, "seed": 205}),
    # ---------------------------------------------------------------- non-finite loss
    _r("regression_sgd_x1000", "nonfinite", "SGD lr 0.05 on raw x1000 targets (no output rescaling): gradients ~1e6",
       REG1000, {"kind": "mlp", "hidden": [32]}, {"name": "sgd", "lr": 0.05},
       {"epochs": 12, "batch_size": 32, "seed": 301}),
    _r("digits_nan_inputs", "nonfinite", "NaN written into 2% of the training inputs",
       DIGITS, {"kind": "mlp", "hidden": [64]}, {"name": "adam", "lr": 1e-3},
       {"epochs": 10, "batch_size": 32, "seed": 302}, faults={"nan_input_frac": 0.02}),
    _r("clf3_lr_ramp_sgd", "nonfinite", "SGD whose LR doubles every epoch from 1e-3 (runaway warm-up)",
       {"kind": "clf", "n_classes": 3, "n_train": 1500, "n_val": 500},
       {"kind": "mlp", "hidden": [64, 64]},
       {"name": "sgd", "lr": 1e-3, "schedule": ["ramp", 2.0]}, {"epochs": 30, "batch_size": 32, "seed": 303}),
    _r("gru_nan_mid_run", "nonfinite", "a NaN put into the first kernel at epoch 12 (one corrupt update)",
       SEQ5, {"kind": "gru", "units": 16}, {"name": "adam", "lr": 3e-3},
       {"epochs": 25, "batch_size": 64, "seed": 304}, faults={"nan_weights_at_epoch": 12}),
    _r("regression_inf_targets", "nonfinite", "+Inf in 1% of the regression targets",
       {"kind": "linreg", "n_train": 1000, "n_val": 300, "y_scale": 10.0},
       {"kind": "mlp", "hidden": [32], "rescale_out": 10.0}, {"name": "adam", "lr": 1e-3},
       {"epochs": 8, "batch_size": 32, "seed": 305}, faults={"inf_target_frac": 0.01}),
    # ---------------------------------------------------------------- divergence (finite)
    _r("digits_adam_lr_ramp", "divergence", "Adam with LR x1.4 every epoch from 1e-3 (reaches ~8 at the end)",
       DIGITS, {"kind": "mlp", "hidden": [64]}, {"name": "adam", "lr": 1e-3, "schedule": ["ramp", 1.4]},
       {"epochs": 28, "batch_size": 32, "seed": 401}),
    _r("clf5_adam_lr_ramp", "divergence", "Adam with LR x1.25 every epoch from 3e-4, 40 epochs",
       {"kind": "clf", "n_classes": 5, "n_train": 2000, "n_val": 600, "class_sep": 1.5},
       {"kind": "mlp", "hidden": [64, 64]}, {"name": "adam", "lr": 3e-4, "schedule": ["ramp", 1.25]},
       {"epochs": 40, "batch_size": 64, "seed": 402}),
    _r("regression_rmsprop_lr_ramp", "divergence", "RMSprop LR x1.3 every epoch from 1e-3 on x1000 regression",
       REG1000, {"kind": "mlp", "hidden": [64], "rescale_out": 1000.0},
       {"name": "rmsprop", "lr": 1e-3, "schedule": ["ramp", 1.3]}, {"epochs": 30, "batch_size": 64, "seed": 403}),
    _r("binary_adam_lr_0p5", "divergence", "Adam at constant LR 0.5 after a 3-epoch warm-up at 1e-3",
       {"kind": "clf", "n_classes": 2, "n_train": 1500, "n_val": 500},
       {"kind": "mlp", "hidden": [64, 64]},
       {"name": "adam", "lr": 1e-3, "schedule": ["step", 3, 500.0]}, {"epochs": 20, "batch_size": 32, "seed": 404}),
    # ---------------------------------------------------------------- no learning
    _r("digits_shuffled_labels", "no_learning", "training labels randomly permuted; small MLP 32",
       DIGITS, {"kind": "mlp", "hidden": [32]}, {"name": "adam", "lr": 1e-3},
       {"epochs": 20, "batch_size": 64, "seed": 501}, faults={"shuffle_train_labels": True}),
    _r("clf3_lr_1e-8", "no_learning", "Adam LR 1e-8",
       {"kind": "clf", "n_classes": 3, "n_train": 1500, "n_val": 500},
       {"kind": "mlp", "hidden": [64]}, {"name": "adam", "lr": 1e-8}, {"epochs": 30, "batch_size": 32, "seed": 502}),
    _r("binary_dead_relu", "no_learning", "hidden biases initialised to -20: every ReLU dead from the start",
       {"kind": "clf", "n_classes": 2, "n_train": 1500, "n_val": 500},
       {"kind": "mlp", "hidden": [32, 32], "bias_init": -20.0}, {"name": "adam", "lr": 1e-3},
       {"epochs": 25, "batch_size": 32, "seed": 503}),
    _r("regression_sgd_1e-12", "no_learning", "SGD LR 1e-12 on x1000 regression (loss ~1e6 stays put)",
       REG1000, {"kind": "mlp", "hidden": [32], "rescale_out": 1000.0}, {"name": "sgd", "lr": 1e-12},
       {"epochs": 15, "batch_size": 64, "seed": 504}),
    _r("gru_shuffled_labels", "no_learning", "GRU(8) with training labels permuted, 5 classes",
       SEQ5, {"kind": "gru", "units": 8}, {"name": "adam", "lr": 1e-3},
       {"epochs": 15, "batch_size": 64, "seed": 505}, faults={"shuffle_train_labels": True}),
    # ---------------------------------------------------------------- LR too small
    _r("digits_sgd_3e-3", "lr_too_small", "plain SGD LR 3e-3 on digits",
       DIGITS, {"kind": "mlp", "hidden": [64]}, {"name": "sgd", "lr": 3e-3},
       {"epochs": 40, "batch_size": 64, "seed": 601}),
    _r("clf5_sgd_3e-4", "lr_too_small", "plain SGD LR 3e-4 on 5-class synthetic, 60 epochs",
       {"kind": "clf", "n_classes": 5, "n_train": 2000, "n_val": 500},
       {"kind": "mlp", "hidden": [32, 32]}, {"name": "sgd", "lr": 3e-4},
       {"epochs": 60, "batch_size": 64, "seed": 611}),
    _r("regression_adam_1e-5", "lr_too_small", "Adam LR 1e-5 on x1000 regression",
       REG1000, {"kind": "mlp", "hidden": [32], "rescale_out": 1000.0}, {"name": "adam", "lr": 1e-5},
       {"epochs": 40, "batch_size": 64, "seed": 603}),
    # ---------------------------------------------------------------- plateau
    _r("binary_label_noise_small_mlp", "plateau", "20% label noise, MLP 8 + L2: converges in a few epochs, 60 run",
       {"kind": "clf", "n_classes": 2, "n_train": 2000, "n_val": 1000, "flip_y": 0.2, "class_sep": 2.0},
       {"kind": "mlp", "hidden": [8], "l2": 1e-3}, {"name": "adam", "lr": 1e-2},
       {"epochs": 60, "batch_size": 64, "seed": 701}),
    _r("linreg_noise_floor", "plateau", "linear model on linear data + noise (x100 targets): reaches the noise floor",
       {"kind": "linreg", "n_train": 1500, "n_val": 500, "noise": 30.0, "y_scale": 100.0},
       {"kind": "mlp", "hidden": [], "rescale_out": 100.0}, {"name": "adam", "lr": 5e-2},
       {"epochs": 50, "batch_size": 64, "seed": 702}),
    _r("digits_logreg_l2", "plateau", "softmax regression + L2 1e-2 on digits, Adam 1e-2, 45 epochs",
       DIGITS, {"kind": "mlp", "hidden": [], "l2": 1e-2}, {"name": "adam", "lr": 1e-2},
       {"epochs": 45, "batch_size": 64, "seed": 703}),
    # ---------------------------------------------------------------- val plateau
    _r("regression_noise_memorised", "val_plateau",
       "Friedman-1 with noise 2 (unit-scale targets), 600 samples, MLP 128x128, Adam 3e-4: train MSE keeps falling",
       {"kind": "friedman", "n_train": 600, "n_val": 500, "noise": 2.0, "y_scale": 1.0},
       {"kind": "mlp", "hidden": [128, 128]},
       {"name": "adam", "lr": 3e-4}, {"epochs": 50, "batch_size": 16, "seed": 811}),
    _r("clf10_l2", "val_plateau", "10-class synthetic, 1500 samples, MLP 256x256 + L2 1e-3",
       {"kind": "clf", "n_classes": 10, "n_train": 1500, "n_val": 1000, "n_informative": 10, "class_sep": 1.2},
       {"kind": "mlp", "hidden": [256, 256], "l2": 1e-3}, {"name": "adam", "lr": 1e-3},
       {"epochs": 50, "batch_size": 32, "seed": 802}),
    _r("gru_label_noise_l2", "val_plateau", "GRU(32) + L2 1e-3 on 800 sequences with 15% label noise, 3 classes",
       {"kind": "seq", "n_classes": 3, "n_train": 800, "n_val": 500, "flip_y": 0.15},
       {"kind": "gru", "units": 32, "l2": 1e-3},
       {"name": "adam", "lr": 2e-3}, {"epochs": 30, "batch_size": 32, "seed": 818}),
    # ---------------------------------------------------------------- noisy
    _r("digits_bs16_adam_0p03", "noisy", "batch 16, Adam LR 0.03 (far too high), validation set of 40 samples",
       {"kind": "digits", "n_train": 600, "n_val": 40}, {"kind": "mlp", "hidden": [64]},
       {"name": "adam", "lr": 3e-2}, {"epochs": 25, "batch_size": 16, "seed": 911}),
    _r("clf3_bs4_sgd_0p3", "noisy", "batch 4, SGD LR 0.3, 10% label noise, validation set of 30 samples",
       {"kind": "clf", "n_classes": 3, "n_train": 400, "n_val": 30, "flip_y": 0.1},
       {"kind": "mlp", "hidden": [32]}, {"name": "sgd", "lr": 0.3},
       {"epochs": 25, "batch_size": 4, "seed": 912}),
    _r("regression_bs8_batchlog", "noisy", "batch 8, SGD 0.05 momentum 0.9, 40 val samples, batch logging",
       {"kind": "friedman", "n_train": 480, "n_val": 40, "noise": 1.0, "y_scale": 1.0},
       {"kind": "mlp", "hidden": [64]}, {"name": "sgd", "lr": 0.05, "momentum": 0.9},
       {"epochs": 30, "batch_size": 8, "seed": 903, "update_freq": 5}),
    # ---------------------------------------------------------------- LR decayed too early
    _r("digits_expdecay", "lr_decay_too_early", "ExponentialDecay x0.4 per epoch from Adam 2e-3 (5e-5 by epoch 4)",
       DIGITS, {"kind": "mlp", "hidden": [64]}, {"name": "adam", "lr": 2e-3, "schedule": ["exp", 1, 0.4]},
       {"epochs": 40, "batch_size": 64, "seed": 1001}),
    _r("clf5_step_decay", "lr_decay_too_early", "SGD momentum 0.9 at 0.01, LR x0.001 at epoch 3",
       {"kind": "clf", "n_classes": 5, "n_train": 2000, "n_val": 600, "class_sep": 1.5},
       {"kind": "mlp", "hidden": [64, 64]}, {"name": "sgd", "lr": 0.01, "momentum": 0.9, "schedule": ["step", 3, 1e-3]},
       {"epochs": 40, "batch_size": 64, "seed": 1002}),
    _r("gru_piecewise", "lr_decay_too_early", "GRU, Adam 3e-3 piecewise to 3e-5 after 2 epochs, 1e-6 after 4",
       SEQ5, {"kind": "gru", "units": 16},
       {"name": "adam", "lr": 3e-3, "schedule": ["piecewise", [2, 4], [3e-3, 3e-5, 1e-6]]},
       {"epochs": 30, "batch_size": 64, "seed": 1003}),
    # ---------------------------------------------------------------- underfitting
    _r("moons_linear", "underfitting", "logistic regression (no hidden layer) on two moons",
       {"kind": "moons", "n_train": 1500, "n_val": 500, "noise": 0.15}, {"kind": "mlp", "hidden": []},
       {"name": "adam", "lr": 1e-2}, {"epochs": 40, "batch_size": 32, "seed": 1101}),
    _r("digits_heavy_l2", "underfitting", "MLP 64 with L2 0.05 on every kernel",
       DIGITS, {"kind": "mlp", "hidden": [64], "l2": 0.05}, {"name": "adam", "lr": 3e-3},
       {"epochs": 40, "batch_size": 32, "seed": 1102}),
    _r("clf10_bottleneck", "underfitting", "10-class synthetic through a 2-unit hidden layer",
       {"kind": "clf", "n_classes": 10, "n_train": 3000, "n_val": 1000, "n_informative": 10, "class_sep": 2.0},
       {"kind": "mlp", "hidden": [2]}, {"name": "adam", "lr": 1e-2}, {"epochs": 40, "batch_size": 64, "seed": 1103}),
    _r("friedman_linear_x1000", "underfitting", "linear model on non-linear Friedman-1, targets x1000",
       REG1000, {"kind": "mlp", "hidden": [], "rescale_out": 1000.0}, {"name": "adam", "lr": 3e-2},
       {"epochs": 40, "batch_size": 64, "seed": 1104}),
    # ---------------------------------------------------------------- still learning
    _r("cnn_6_epochs", "still_learning", "CNN on digit images stopped after 6 epochs, Adam 5e-4",
       DIGITS_IMG, {"kind": "cnn", "filters": [8, 16], "hidden": [32]}, {"name": "adam", "lr": 5e-4},
       {"epochs": 6, "batch_size": 32, "seed": 1201}),
    _r("gru_8_epochs", "still_learning", "GRU(24) stopped after 8 epochs, Adam 1e-3",
       SEQ5, {"kind": "gru", "units": 24}, {"name": "adam", "lr": 1e-3}, {"epochs": 8, "batch_size": 64, "seed": 1202}),
    _r("regression_10_epochs", "still_learning", "MLP 64x64 on x1000 Friedman-1 stopped after 10 epochs",
       REG1000, {"kind": "mlp", "hidden": [64, 64], "rescale_out": 1000.0}, {"name": "adam", "lr": 5e-4},
       {"epochs": 10, "batch_size": 64, "seed": 1203}),
    # ---------------------------------------------------------------- val better than train
    _r("digits_dropout_0p7", "val_better_than_train", "MLP 128 with dropout 0.7 (train loss measured with dropout on)",
       DIGITS, {"kind": "mlp", "hidden": [128], "dropout": 0.7}, {"name": "adam", "lr": 1e-3},
       {"epochs": 20, "batch_size": 32, "seed": 1301}),
    _r("clf3_gaussian_noise", "val_better_than_train", "GaussianNoise(1.0) on the inputs, active in training only",
       {"kind": "clf", "n_classes": 3, "n_train": 2000, "n_val": 600, "class_sep": 1.5},
       {"kind": "mlp", "hidden": [64, 64], "input_noise": 1.0}, {"name": "adam", "lr": 1e-3},
       {"epochs": 35, "batch_size": 32, "seed": 1302}),
    _r("cnn_dropout_0p5", "val_better_than_train", "CNN with dropout 0.5 after the conv stack and dense layers",
       DIGITS_IMG, {"kind": "cnn", "filters": [16, 32], "hidden": [128, 64], "dropout": 0.5},
       {"name": "adam", "lr": 1e-3}, {"epochs": 25, "batch_size": 32, "seed": 1303}),
    # ---------------------------------------------------------------- data problem
    _r("digits_val_labels_permuted", "data_problem", "validation labels randomly permuted",
       DIGITS, {"kind": "mlp", "hidden": [64]}, {"name": "adam", "lr": 1e-3},
       {"epochs": 25, "batch_size": 32, "seed": 1401}, faults={"shuffle_val_labels": True}),
    _r("clf5_val_shifted", "data_problem", "validation features shifted by +2.5 standard deviations",
       {"kind": "clf", "n_classes": 5, "n_train": 2000, "n_val": 600, "class_sep": 1.5},
       {"kind": "mlp", "hidden": [64, 64]}, {"name": "adam", "lr": 1e-3},
       {"epochs": 30, "batch_size": 32, "seed": 1402}, faults={"val_shift": 2.5}),
    _r("binary_val_unscaled", "data_problem", "validation features x8 + 1.5 (left unstandardised)",
       {"kind": "clf", "n_classes": 2, "n_train": 1500, "n_val": 500, "class_sep": 1.0},
       {"kind": "mlp", "hidden": [64]}, {"name": "rmsprop", "lr": 1e-3},
       {"epochs": 30, "batch_size": 32, "seed": 1403}, faults={"val_scale": 8.0, "val_shift": 1.5}),
]
# fmt: on
