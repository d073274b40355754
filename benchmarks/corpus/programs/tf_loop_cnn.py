"""tf_loop_cnn (heldout): small CNN x synthetic gratings x step-counted custom TF loop x ``tf.summary`` train/eval dirs.

Why: the step-counted TF loop of research code bases (no epochs in the logs):
training scalars every ``log_every`` steps (mean over the window; some runs
every step), evaluation every ``eval_every`` steps, not per epoch, and two
writers, ``run_dir/train`` and ``run_dir/eval``, holding the *same* tag names
("loss", "accuracy"; the LR only under train), so TensorBoard shows
"train/loss" next to "eval/loss". Schedules are the step-based ones such code
uses: linear warm-up + cosine, OneCycle, cosine with warm restarts (SGDR).

Data: 16x16 grayscale sinusoidal gratings, 8 classes = 4 orientations x 2
spatial frequencies, with orientation/frequency jitter, random phase and
contrast, and Gaussian pixel noise (the noise level sets how hard it is).

Runs (name: how it is made; the intent is the name's first word(s)):

- healthy_warmup_cosine: Adam, 200-step linear warm-up then cosine to 0 over 3000 steps; log every 10, eval every 100.
- healthy_onecycle_per_step: SGD+momentum OneCycle (peak 0.05 at 30%), training logged every step, eval every 50.
- healthy_cosine_restarts: SGDR with periods 500/1000/2000 steps: the loss rises briefly after each LR restart.
- healthy_warmup_bump: 300-step warm-up to Adam 0.03 (dropout 0.2): the loss stalls while the LR is at its peak,
  then falls under the cosine decay.
- val_better_than_train_heavy_aug: random shifts + Gaussian noise augmentation and dropout 0.3 in training only.
- overfitting_label_noise: 15% of 2000 training labels flipped, flatten+dense head, 4000 constant-LR steps.
- best_checkpoint_mismatch_small_train: 240 training images: eval loss bottoms early and then creeps up while eval
  accuracy keeps creeping up for another ~1000 steps.
- lr_too_high_onecycle: OneCycle with a peak of 0.35 for SGD+momentum: the loss climbs back up while the LR is near
  its peak and only falls in the annealing phase.
- divergence_l2_sign_bug: weight decay added with the wrong sign (``loss - 1e-2 * sum(w^2)``): the loss falls, then
  climbs for the rest of the run as the weights grow.
- nonfinite_log_softmax: hand-written cross-entropy ``-sum(onehot * log(softmax(10 * z)))``: once one probability
  underflows to 0, ``0 * log(0)`` is NaN (about 40% into the run).
- no_learning_label_shuffle: a loader bug permutes images and labels with different permutations every epoch.
- lr_too_small: SGD+momentum at 1e-3, constant: the loss barely moves for 1500 steps.
- plateau_easy: noiseless gratings, constant LR: solved within ~5% of the run, then flat.
- underfitting_tiny_cnn: one 2-filter conv layer + global average pooling: accuracy levels near 58%, train = eval.
- still_learning_short: SGD+momentum, constant LR, stopped after 400 steps while the loss falls steeply.
- unshuffled_class_sorted: images sorted by class and never shuffled (SGD, every-step logging): the batch loss
  saw-tooths with each class streak, the pattern repeats every epoch, eval stays near chance.
- loss_spikes_lr_kicks: at three steps the LR is multiplied by 80 for a single step (a scheduler glitch).
- noisy_tiny_eval: batch 4, eval on 24 images every 25 steps, every-step logging.
- data_problem_transposed_eval: the eval loader transposes the images (H and W swapped): 0 and 90 degree classes swap.
- lr_decay_too_early: cosine decay to 0 over the first 300 of 3000 steps; nothing moves afterwards.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._tf import tf_setup
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "tf_loop_cnn"
NUM_CLASSES = 8
SIZE = 16

DEFAULTS: dict[str, Any] = {
    "n_train": 4000,
    "n_eval": 800,
    "noise": 1.2,  # pixel noise relative to the grating amplitude
    "label_noise": 0.0,  # fraction of training labels replaced by another class
    "filters": [16, 32],
    "pool": "gap",  # gap | flatten
    "dense": 32,
    "dropout": 0.0,
    "augment": False,
    "optimizer": "adam",  # adam | sgd
    "momentum": 0.9,
    "lr": 2e-3,
    "schedule": "constant",  # constant | warmup_cosine | onecycle | sgdr | warmup_constant
    "warmup": 0,
    "decay_steps": None,  # warmup_cosine: cosine length (default: the rest of the run)
    "pct_start": 0.3,  # onecycle
    "restart_period": 500,  # sgdr first period, doubled after each restart
    "steps": 3000,
    "batch": 64,
    "log_every": 10,
    "eval_every": 100,
    "order": "shuffle",  # shuffle | class_sorted | label_shuffle (the no-learning loader bug)
    "loss": "stable",  # stable | naive_log_softmax
    "logit_scale": 1.0,
    "l2_sign_bug": 0.0,  # weight decay added with the wrong sign: loss - c * sum(w^2)
    "kick_steps": [],  # steps whose LR is multiplied by kick_factor
    "kick_factor": 80.0,
    "eval_transposed": False,
}


def _runs() -> list[RunSpec]:
    def r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
        return RunSpec(NAME, name, intent, params, seed)

    return [
        r("healthy_warmup_cosine", "healthy", 101, schedule="warmup_cosine", warmup=200, lr=3e-3),
        r("healthy_onecycle_per_step", "healthy", 102, optimizer="sgd", schedule="onecycle", lr=0.05, steps=2000,
          log_every=1, eval_every=50),
        r("healthy_cosine_restarts", "healthy", 103, optimizer="sgd", schedule="sgdr", lr=0.05, restart_period=500,
          steps=3500, log_every=10, eval_every=100),
        r("healthy_warmup_bump", "healthy", 105, schedule="warmup_cosine", warmup=300, lr=0.03, dropout=0.2,
          steps=2500, log_every=5, eval_every=50),
        r("val_better_than_train_heavy_aug", "val_better_than_train", 104, augment=True, dropout=0.3,
          schedule="warmup_cosine", warmup=100, lr=3e-3, steps=3000, log_every=20, eval_every=150),
        r("overfitting_label_noise", "overfitting", 106, n_train=2000, label_noise=0.15, pool="flatten", dense=64,
          lr=1e-3, steps=4000, log_every=20, eval_every=100),
        r("best_checkpoint_mismatch_small_train", "best_checkpoint_mismatch", 107, n_train=240, pool="flatten",
          dense=128, lr=2e-3, steps=4000, log_every=20, eval_every=100),
        r("lr_too_high_onecycle", "lr_too_high", 108, optimizer="sgd", schedule="onecycle", lr=0.35, pct_start=0.4,
          steps=3000, log_every=10, eval_every=100),
        r("divergence_l2_sign_bug", "divergence", 109, l2_sign_bug=1e-2, lr=2e-3, steps=3000, log_every=10,
          eval_every=100),
        r("nonfinite_log_softmax", "nonfinite", 110, loss="naive_log_softmax", logit_scale=10.0, pool="flatten",
          dense=64, lr=3e-3, steps=3000, log_every=10, eval_every=100),
        r("no_learning_label_shuffle", "no_learning", 111, order="label_shuffle", lr=2e-3, steps=2000,
          log_every=10, eval_every=100),
        r("lr_too_small", "lr_too_small", 112, optimizer="sgd", lr=1e-3, steps=3000, log_every=10,
          eval_every=100),
        r("plateau_easy", "plateau", 113, noise=0.0, lr=2e-3, steps=3000, log_every=10, eval_every=100),
        r("underfitting_tiny_cnn", "underfitting", 114, filters=[2], pool="gap", dense=0, noise=0.8, lr=1e-2,
          steps=3000, log_every=10, eval_every=100),
        r("still_learning_short", "still_learning", 115, optimizer="sgd", lr=0.01, steps=400, log_every=5,
          eval_every=25),
        r("unshuffled_class_sorted", "unshuffled", 116, order="class_sorted", optimizer="sgd", lr=0.01, steps=1250,
          log_every=1, eval_every=125),
        r("loss_spikes_lr_kicks", "loss_spikes", 117, lr=2e-3, kick_steps=[899, 1699, 2399], steps=3000,
          log_every=2, eval_every=100),
        r("noisy_tiny_eval", "noisy", 118, batch=4, n_eval=24, lr=1e-3, steps=3000, log_every=1, eval_every=25),
        r("data_problem_transposed_eval", "data_problem", 119, eval_transposed=True, lr=2e-3, steps=2000,
          log_every=10, eval_every=100),
        r("lr_decay_too_early", "lr_decay_too_early", 120, schedule="warmup_cosine", warmup=0, decay_steps=300,
          lr=2e-3, steps=3000, log_every=10, eval_every=100),
    ]


# --------------------------------------------------------------------------- data


def gratings(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n images (n, 16, 16, 1) and labels: orientation (4) x spatial frequency (2), jittered, noisy."""
    y = rng.integers(0, NUM_CLASSES, n)
    theta = (y % 4) * (np.pi / 4) + rng.normal(0, np.deg2rad(8), n)
    freq = np.where(y < 4, 1.5, 3.5) / SIZE * 2 * np.pi * rng.uniform(0.85, 1.15, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    contrast = rng.uniform(0.5, 1.0, n)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    proj = np.cos(theta)[:, None, None] * xx + np.sin(theta)[:, None, None] * yy
    img = contrast[:, None, None] * np.sin(freq[:, None, None] * proj + phase[:, None, None])
    img += rng.normal(0, noise, img.shape) if noise else 0.0
    return img[..., None].astype(np.float32), y.astype(np.int32)


def _data(p: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xt, yt = gratings(p["n_train"], p["noise"], rng)
    xe, ye = gratings(p["n_eval"], p["noise"], rng)
    if p["label_noise"]:
        flip = rng.random(len(yt)) < p["label_noise"]
        yt = np.where(flip, (yt + rng.integers(1, NUM_CLASSES, len(yt))) % NUM_CLASSES, yt).astype(np.int32)
    mu, sd = xt.mean(), xt.std()
    xt, xe = (xt - mu) / sd, (xe - mu) / sd
    if p["eval_transposed"]:  # the data_problem fault: the eval loader swaps H and W
        xe = xe.transpose(0, 2, 1, 3).copy()
    if p["order"] == "class_sorted":
        idx = np.argsort(yt, kind="stable")
        xt, yt = xt[idx], yt[idx]
    return xt, yt, xe, ye


class _Batches:
    """Endless minibatches in the run's order; counts epochs so the loader bugs can act per epoch."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch: int, order: str, seed: int) -> None:
        self.x, self.y, self.batch, self.order = x, y, batch, order
        self.rng = np.random.default_rng(seed + 1)
        self.per_epoch = math.ceil(len(x) / batch)
        self._new_epoch()

    def _new_epoch(self) -> None:
        n = len(self.x)
        if self.order == "class_sorted":
            self.xi = self.yi = np.arange(n)
        elif self.order == "label_shuffle":  # images and labels permuted independently: the pairing is lost
            self.xi, self.yi = self.rng.permutation(n), self.rng.permutation(n)
        else:
            self.xi = self.yi = self.rng.permutation(n)
        self.pos = 0

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        if self.pos >= self.per_epoch:
            self._new_epoch()
        sl = slice(self.pos * self.batch, (self.pos + 1) * self.batch)
        self.pos += 1
        return self.x[self.xi[sl]], self.y[self.yi[sl]]


# --------------------------------------------------------------------------- schedule


def lr_at(p: dict[str, Any], step: int) -> float:
    """The LR of a step (0-based) for the run's schedule, including the one-step kicks of loss_spikes runs."""
    peak, total, warm = float(p["lr"]), p["steps"], p["warmup"]
    kind = p["schedule"]
    if kind == "warmup_cosine":
        if step < warm:
            lr = peak * (step + 1) / warm
        else:
            length = p["decay_steps"] or (total - warm)
            t = min(1.0, (step - warm) / length)
            lr = 0.5 * peak * (1 + math.cos(math.pi * t))
    elif kind == "warmup_constant":
        lr = peak * min(1.0, (step + 1) / warm)
    elif kind == "onecycle":
        up = int(p["pct_start"] * total)
        if step < up:
            lr = peak / 25 + (peak - peak / 25) * step / up
        else:
            t = (step - up) / max(1, total - up)
            lr = peak / 1e4 + 0.5 * (peak - peak / 1e4) * (1 + math.cos(math.pi * t))
    elif kind == "sgdr":
        period, start = p["restart_period"], 0
        while step >= start + period:
            start, period = start + period, period * 2
        lr = 0.5 * peak * (1 + math.cos(math.pi * (step - start) / period))
    else:
        lr = peak
    return lr * p["kick_factor"] if step in p["kick_steps"] else lr


# --------------------------------------------------------------------------- training


def _model(p: dict[str, Any]) -> Any:
    import keras

    layers: list[Any] = [keras.Input((SIZE, SIZE, 1))]
    if p["augment"]:
        layers += [keras.layers.RandomTranslation(0.15, 0.15, fill_mode="wrap"), keras.layers.GaussianNoise(0.5)]
    for i, f in enumerate(p["filters"]):
        layers.append(keras.layers.Conv2D(f, 3, padding="same", activation="relu"))
        if p["pool"] == "flatten" or i < len(p["filters"]) - 1:
            layers.append(keras.layers.MaxPooling2D())
    layers.append(keras.layers.GlobalAveragePooling2D() if p["pool"] == "gap" else keras.layers.Flatten())
    if p["dropout"]:
        layers.append(keras.layers.Dropout(p["dropout"]))
    if p["dense"]:
        layers.append(keras.layers.Dense(p["dense"], activation="relu"))
    layers.append(keras.layers.Dense(NUM_CLASSES))
    return keras.Sequential(layers)


def _loss_fn(p: dict[str, Any]) -> Any:
    """Sparse softmax cross-entropy, stable or the hand-written one that is NaN once a probability underflows."""
    import tensorflow as tf

    scale = float(p["logit_scale"])
    if p["loss"] == "naive_log_softmax":

        def naive(y: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
            onehot = tf.one_hot(y, NUM_CLASSES)
            return -tf.reduce_mean(tf.reduce_sum(onehot * tf.math.log(tf.nn.softmax(scale * logits)), axis=1))

        return naive

    def stable(y: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=scale * logits))

    return stable


def train(spec: RunSpec, run_dir: Path) -> Facts:
    """Train one run for ``steps`` optimizer steps; write run_dir/train and run_dir/eval tf.summary scalars."""
    p = run_params(spec, DEFAULTS)
    tf_setup(spec.seed)
    import keras
    import tensorflow as tf

    xt, yt, xe, ye = _data(p, spec.seed)
    model = _model(p)
    opt = (
        keras.optimizers.SGD(learning_rate=p["lr"], momentum=p["momentum"])
        if p["optimizer"] == "sgd"
        else keras.optimizers.Adam(learning_rate=p["lr"])
    )
    loss_fn = _loss_fn(p)
    decay = float(p["l2_sign_bug"])
    kernels = [w for w in model.trainable_variables if "kernel" in w.path]
    sig = [tf.TensorSpec([None, SIZE, SIZE, 1], tf.float32), tf.TensorSpec([None], tf.int32)]

    @tf.function(input_signature=sig)
    def train_step(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = loss_fn(y, logits)
            objective = loss - decay * tf.add_n([tf.reduce_sum(tf.square(w)) for w in kernels]) if decay else loss
        grads = tape.gradient(objective, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss, _accuracy(y, logits)

    @tf.function(input_signature=sig)
    def eval_step(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        logits = model(x, training=False)
        return loss_fn(y, logits), _accuracy(y, logits)

    batches = _Batches(xt, yt, p["batch"], p["order"], spec.seed)
    train_writer = tf.summary.create_file_writer(str(run_dir / "train"))
    eval_writer = tf.summary.create_file_writer(str(run_dir / "eval"))
    losses: list[float] = []
    accs: list[float] = []
    for step in range(p["steps"]):
        lr = lr_at(p, step)
        opt.learning_rate.assign(lr)
        x, y = batches.next()
        loss, acc = train_step(tf.constant(x), tf.constant(y))
        losses.append(float(loss))
        accs.append(float(acc))
        done = step + 1
        if done % p["log_every"] == 0:
            with train_writer.as_default(step=done):
                tf.summary.scalar("loss", float(np.mean(losses)))
                tf.summary.scalar("accuracy", float(np.mean(accs)))
                tf.summary.scalar("learning_rate", lr)
            losses, accs = [], []
        if done % p["eval_every"] == 0 or done == p["steps"]:
            e_loss, e_acc = eval_step(tf.constant(xe), tf.constant(ye))
            with eval_writer.as_default(step=done):
                tf.summary.scalar("loss", e_loss)
                tf.summary.scalar("accuracy", e_acc)
    train_writer.close()
    eval_writer.close()
    return _facts(p, spec, batches.per_epoch)


def _accuracy(y: Any, logits: Any) -> Any:
    import tensorflow as tf

    return tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, axis=1, output_type=tf.int32), y), tf.float32))


def _facts(p: dict[str, Any], spec: RunSpec, steps_per_epoch: int) -> Facts:
    tags = {
        "train_loss": "train/loss",
        "val_loss": "eval/loss",
        "train_metric": "train/accuracy",
        "val_metric": "eval/accuracy",
        "lr": "train/learning_rate",
    }
    if p["log_every"] == 1:  # logged every step: the training loss is the per-batch loss
        tags["batch_loss"] = "train/loss"
    changed = {k: p[k] for k in DEFAULTS if p[k] != DEFAULTS[k]}
    return Facts(
        tags=tags,
        steps={role: "step" for role in tags},
        task="classification",
        metric="accuracy",
        metric_direction="max",
        num_classes=NUM_CLASSES,
        chance_metric=1.0 / NUM_CLASSES,
        epochs=math.ceil(p["steps"] / steps_per_epoch),
        steps_per_epoch=steps_per_epoch,
        batch_size=p["batch"],
        lr_peak=float(p["lr"]),
        schedule={"warmup_constant": "warmup"}.get(p["schedule"], p["schedule"]),
        log_every_steps=p["log_every"],
        eval_every_steps=p["eval_every"],
        shuffled=p["order"] != "class_sorted",
        injected={"intent": spec.intent, **changed},
    )


PROGRAM = Program(
    name=NAME,
    family="cnn",
    data="synthetic 16x16 gratings, 8 classes (orientation x frequency)",
    script="tf_loop",
    writer="tf_summary",
    framework="tensorflow",
    version=1,
    runs=_runs,
    train=train,
)
