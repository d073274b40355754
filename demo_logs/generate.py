"""Regenerate the demo TensorBoard runs in this folder.

Every run is a small, real training run on scikit-learn's bundled `digits`
data set (1,797 8x8 images, 10 classes; no download), written by the real
writers: Keras 3's `keras.callbacks.TensorBoard` or PyTorch's
`torch.utils.tensorboard.SummaryWriter`. Each run is set up so that one
training-curve pattern is unmistakable (see README.md and expected.json).
Two entries are sweeps, folders of runs with their hyperparameters in
TensorBoard's HParams format: `sweep_keras` (a learning rate x batch size grid,
two seeds, `hp.hparams_config` + `hp.KerasCallback`) and `sweep_torch` (PyTorch
runs that call `add_hparams`).

    python demo_logs/generate.py                 # all runs
    python demo_logs/generate.py keras_healthy   # only some runs
    python demo_logs/generate.py sweep_keras     # a sweep: rewrites demo_logs/sweep_keras/
    python demo_logs/generate.py --summary       # print the written curves, train nothing

Requires `pip install -e '.[tensorflow]'`, `pip install torch==2.13.0 scikit-learn`.
Runs are seeded, so reruns give similar (not bit-identical) curves. Each run
deletes and rewrites only its own folder `demo_logs/<run>/`.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

NUM_CLASSES = 10
N_TRAIN = 1440  # 45 batches of 32
BATCH = 32
STEPS_PER_EPOCH = N_TRAIN // BATCH


# --------------------------------------------------------------------------- data


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same shuffled train/validation split of sklearn digits for every run."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    y = y.astype("int64")
    perm = np.random.default_rng(0).permutation(len(x))
    x, y = x[perm], y[perm]
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]


def fresh_dir(run: str) -> Path:
    d = HERE / run
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    return d


# --------------------------------------------------------------------------- keras

_KERAS_READY = False


def keras_setup(seed: int):
    global _KERAS_READY
    import keras

    if not _KERAS_READY:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(2)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        _KERAS_READY = True
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    return keras


def tb_callback(keras, log_dir: Path, update_freq: str | int = "epoch"):
    return keras.callbacks.TensorBoard(
        log_dir=str(log_dir),
        histogram_freq=0,
        write_graph=False,
        write_images=False,
        update_freq=update_freq,
        profile_batch=0,
    )


def mlp(keras, inputs: int, hidden: tuple[int, ...], dropout: float = 0.0, logits: bool = False, **dense_kw):
    layers = [keras.Input((inputs,))]
    for h in hidden:
        layers.append(keras.layers.Dense(h, activation="relu", **dense_kw))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(NUM_CLASSES, activation=None if logits else "softmax", **dense_kw))
    return keras.Sequential(layers)


def compile_fit(
    keras, model, optimizer, log_dir, x, y, xv, yv, epochs, batch_size=BATCH, logits=False, diagnose=False, **fit_kw
):
    """Compile and fit with Keras' TensorBoard callback and, with `diagnose`, tb-recipe's own."""
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=logits),
        metrics=["accuracy"],
    )
    cb = [tb_callback(keras, log_dir, fit_kw.pop("update_freq", "epoch"))]
    if diagnose:
        from tb_recipe_plugin.keras import DiagnosisCallback

        cb.append(DiagnosisCallback(str(log_dir), print_diagnosis=False))
    model.fit(
        x,
        y,
        validation_data=(xv, yv),
        epochs=epochs,
        batch_size=batch_size,
        callbacks=cb + fit_kw.pop("callbacks", []),
        verbose=0,
        **fit_kw,
    )


def keras_healthy(run: str) -> None:
    """MLP 64-128-10 on digits, Adam 1e-3, batch 32, 20 epochs, data reshuffled every epoch: the textbook curve.

    Reshuffled through tf.data: after `keras.utils.set_random_seed`, `fit(shuffle=True)` replays one order every
    epoch, which the callback's per-batch loss shows as an epoch-periodic pattern."""
    keras = keras_setup(1)
    import tensorflow as tf

    d = fresh_dir(run)
    x, y, xv, yv = digits()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=1, reshuffle_each_iteration=True).batch(BATCH)
    model = mlp(keras, 64, (128,))
    compile_fit(
        keras, model, keras.optimizers.Adam(1e-3), d, ds, None, xv, yv, epochs=20, batch_size=None, diagnose=True
    )


def keras_overfitting(run: str) -> None:
    """200 training images of which 20% carry a wrong label, a 512-512 MLP with no
    regularization, Adam, 60 epochs: the model first learns the digits, then
    memorizes the wrong labels."""
    keras = keras_setup(2)
    d = fresh_dir(run)
    x, y, xv, yv = digits()
    n = 200
    x, y = x[:n], y[:n].copy()
    rng = np.random.default_rng(2)
    wrong = rng.choice(n, n // 5, replace=False)
    y[wrong] = (y[wrong] + rng.integers(1, NUM_CLASSES, wrong.size)) % NUM_CLASSES
    model = mlp(keras, 64, (512, 512))
    compile_fit(keras, model, keras.optimizers.Adam(1e-3), d, x, y, xv, yv, epochs=60, batch_size=20)


def keras_nan_divergence(run: str) -> None:
    """SGD (momentum 0.9) with a linear warm-up towards a peak LR of 0.5 over 20
    epochs, far above what this LeakyReLU MLP tolerates: the loss falls while the
    LR is small, climbs once the LR passes the stable range, then overflows to
    NaN. Keras keeps training (no TerminateOnNaN), so the NaN epochs are logged."""
    keras = keras_setup(3)
    d = fresh_dir(run)
    x, y, xv, yv = digits()
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(128, activation="leaky_relu"),
            keras.layers.Dense(128, activation="leaky_relu"),
            keras.layers.Dense(NUM_CLASSES),
        ]
    )
    sched = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.001,
        decay_steps=30 * STEPS_PER_EPOCH,
        warmup_target=0.5,
        warmup_steps=20 * STEPS_PER_EPOCH,
    )
    compile_fit(
        keras, model, keras.optimizers.SGD(sched, momentum=0.9), d, x, y, xv, yv, epochs=16, logits=True, diagnose=True
    )


def keras_no_learning(run: str) -> None:
    """Labels randomly permuted against the images (a broken data pipeline that
    shuffles images and labels separately): there is nothing generalizable to
    learn, the loss stays at about ln(10) = 2.303 and accuracy at chance."""
    keras = keras_setup(4)
    d = fresh_dir(run)
    x, y, xv, yv = digits()
    y_bad = np.random.default_rng(4).permutation(y)
    yv_bad = np.random.default_rng(5).permutation(yv)
    model = mlp(keras, 64, (32,))
    compile_fit(keras, model, keras.optimizers.Adam(3e-4), d, x, y_bad, xv, yv_bad, epochs=20)


def keras_lr_too_small(run: str) -> None:
    """Plain SGD with LR 1e-3: the loss goes down in an almost straight line."""
    keras = keras_setup(5)
    d = fresh_dir(run)
    x, y, xv, yv = digits()
    model = mlp(keras, 64, (128,))
    compile_fit(keras, model, keras.optimizers.SGD(1e-3), d, x, y, xv, yv, epochs=30)


def keras_plateau(run: str) -> None:
    """Softmax regression on the first 5 principal components of the images, Adam
    0.05: a model this small converges within ~5 epochs to the best it can do
    (~86% validation accuracy), then both losses stay flat for the remaining
    ~35 epochs."""
    from sklearn.decomposition import PCA

    keras = keras_setup(6)
    d = fresh_dir(run)
    x, y, xv, yv = digits()
    pca = PCA(5, random_state=0).fit(x)
    p, pv = pca.transform(x), pca.transform(xv)
    scale = p.std(axis=0)
    p, pv = (p / scale).astype("float32"), (pv / scale).astype("float32")
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(NUM_CLASSES, activation="softmax")])
    compile_fit(keras, model, keras.optimizers.Adam(0.05), d, p, y, pv, yv, epochs=40)


def keras_noisy(run: str) -> None:
    """Batch size 4, SGD LR 0.3 with momentum 0.5, validated on only 40 images: the
    epoch curves jump around their trend."""
    keras = keras_setup(7)
    d = fresh_dir(run)
    x, y, xv, yv = digits()
    model = mlp(keras, 64, (64,))
    compile_fit(
        keras, model, keras.optimizers.SGD(0.3, momentum=0.5), d, x, y, xv[:40], yv[:40], epochs=30, batch_size=4
    )


def keras_lr_decay_too_early(run: str) -> None:
    """Plain SGD 0.05 with a step schedule that cuts the LR 100x after 6 epochs
    (PiecewiseConstantDecay, boundary 270 optimizer steps) while the loss is still
    falling ~15% per epoch; afterwards the loss barely moves. With a constant LR
    the same set-up reaches a loss of ~0.1."""
    keras = keras_setup(8)
    d = fresh_dir(run)
    x, y, xv, yv = digits()
    model = mlp(keras, 64, (128,))
    sched = keras.optimizers.schedules.PiecewiseConstantDecay([6 * STEPS_PER_EPOCH], [0.05, 0.0005])
    compile_fit(keras, model, keras.optimizers.SGD(sched), d, x, y, xv, yv, epochs=30)


def keras_batch_logging(run: str) -> None:
    """Healthy set-up, logged with update_freq=5 (divides the 45 steps per epoch),
    data reshuffled every epoch through tf.data. Keras' batch_* values are running
    means within the epoch, so batch_loss saw-tooths with the epoch although
    nothing is wrong."""
    keras = keras_setup(9)
    import tensorflow as tf

    d = fresh_dir(run)
    x, y, xv, yv = digits()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(N_TRAIN, seed=9, reshuffle_each_iteration=True).batch(BATCH)
    model = mlp(keras, 64, (128,))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(ds, validation_data=(xv, yv), epochs=15, callbacks=[tb_callback(keras, d, 5)], shuffle=False, verbose=0)


def keras_val_better_than_train(run: str) -> None:
    """Heavy dropout (0.5 after each layer): the train loss is measured with
    dropout on, the validation loss without, so validation sits below train."""
    keras = keras_setup(10)
    d = fresh_dir(run)
    x, y, xv, yv = digits()
    model = mlp(keras, 64, (256, 256), dropout=0.5)
    compile_fit(keras, model, keras.optimizers.Adam(1e-3), d, x, y, xv, yv, epochs=25)


# The next runs carry tb-recipe's DiagnosisCallback signals: faults that the
# loss curve alone shows only as "slow" or "stuck", explained by gradients,
# activations or the first loss.


def keras_vanishing_sigmoid(run: str) -> None:
    """Eight sigmoid hidden layers of 64 units, plain SGD 0.05, no normalisation:
    the sigmoid's derivative (at most 0.25) shrinks the gradient at every layer,
    so the first layers get about a millionth of the last one's and the loss
    hardly moves from ln(10)."""
    keras = keras_setup(11)
    d = fresh_dir(run)
    x, y, xv, yv = digits()
    layers = [keras.Input((64,))] + [keras.layers.Dense(64, activation="sigmoid") for _ in range(8)]
    model = keras.Sequential([*layers, keras.layers.Dense(NUM_CLASSES, activation="softmax")])
    compile_fit(keras, model, keras.optimizers.SGD(0.05), d, x, y, xv, yv, epochs=15, diagnose=True)


def keras_dead_relu(run: str) -> None:
    """A 128-128 ReLU MLP whose biases start at -3 (a bad initializer): most
    hidden units output 0 for every input from the first step, get no gradient
    and stay dead; only a few units learn."""
    keras = keras_setup(12)
    d = fresh_dir(run)
    x, y, xv, yv = digits()
    model = mlp(keras, 64, (128, 128), bias_initializer=keras.initializers.Constant(-3.0))
    compile_fit(keras, model, keras.optimizers.Adam(1e-3), d, x, y, xv, yv, epochs=15, diagnose=True)


def keras_unnormalized_inputs(run: str) -> None:
    """The images fed as 0-255 bytes instead of 0-1: the first logits are huge, so
    the first batch's loss is many times ln(10) and training starts with large,
    erratic gradients."""
    keras = keras_setup(13)
    d = fresh_dir(run)
    x, y, xv, yv = digits()
    model = mlp(keras, 64, (128,))
    compile_fit(keras, model, keras.optimizers.Adam(1e-3), d, x * 255, y, xv * 255, yv, epochs=15, diagnose=True)


def keras_saturated_tanh(run: str) -> None:
    """Three tanh layers initialised with weights of standard deviation 1 (instead
    of Glorot's ~0.1): most hidden outputs sit at +-1 where tanh passes almost no
    gradient, and learning crawls."""
    keras = keras_setup(14)
    d = fresh_dir(run)
    x, y, xv, yv = digits()
    init = keras.initializers.RandomNormal(stddev=1.0)
    layers = [keras.Input((64,))] + [
        keras.layers.Dense(64, activation="tanh", kernel_initializer=init) for _ in range(3)
    ]
    model = keras.Sequential([*layers, keras.layers.Dense(NUM_CLASSES, activation="softmax")])
    compile_fit(keras, model, keras.optimizers.SGD(0.01), d, x, y, xv, yv, epochs=15, diagnose=True)


# --------------------------------------------------------------------------- torch


def torch_setup(seed: int):
    import torch

    torch.set_num_threads(2)
    torch.manual_seed(seed)
    return torch


def torch_mlp(torch, hidden: int = 64):
    nn = torch.nn
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, NUM_CLASSES))


def torch_evaluate(torch, model, xv, yv) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        out = model(xv)
        loss = torch.nn.functional.cross_entropy(out, yv).item()
        acc = (out.argmax(1) == yv).float().mean().item()
    model.train()
    return loss, acc


def torch_train_epoch(torch, model, opt, loader, writer, step: int, log_every: int = 1, corrupt=frozenset()):
    """One epoch of plain cross-entropy training that logs the raw per-batch loss
    as `Loss/train_batch` every `log_every` global steps (never with 0). Batches whose global
    step is in `corrupt` get their labels shifted by one class. Returns the
    new global step and the epoch's mean training loss."""
    total, n = 0.0, 0
    for xb, yb in loader:
        step += 1
        if step in corrupt:
            yb = (yb + 1) % NUM_CLASSES
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log_every and step % log_every == 0:
            writer.add_scalar("Loss/train_batch", loss.item(), step)
        total += loss.item() * len(yb)
        n += len(yb)
    return step, total / n


def torch_log_epoch(torch, model, writer, xv, yv, train_loss: float, at: int) -> None:
    """Epoch-level `Loss/train`, `Loss/val` and `Accuracy/val` at step `at`."""
    vl, va = torch_evaluate(torch, model, xv, yv)
    writer.add_scalar("Loss/train", train_loss, at)
    writer.add_scalar("Loss/val", vl, at)
    writer.add_scalar("Accuracy/val", va, at)


def torch_unshuffled(run: str) -> None:
    """Training data sorted by class and `DataLoader(shuffle=False)`: every epoch
    walks through all 0s, then all 1s, ... The per-batch loss repeats with the
    epoch (45 steps); epoch-level values are logged at the global step."""
    torch = torch_setup(11)
    from torch.utils.data import DataLoader, TensorDataset
    from torch.utils.tensorboard import SummaryWriter

    d = fresh_dir(run)
    x, y, xv, yv = digits()
    order = np.argsort(y, kind="stable")
    ds = TensorDataset(torch.from_numpy(x[order]), torch.from_numpy(y[order]))
    loader = DataLoader(ds, batch_size=BATCH, shuffle=False)
    xv_t, yv_t = torch.from_numpy(xv), torch.from_numpy(yv)
    model = torch_mlp(torch)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    writer = SummaryWriter(log_dir=str(d))
    step = 0
    for _epoch in range(20):
        step, train_loss = torch_train_epoch(torch, model, opt, loader, writer, step)
        torch_log_epoch(torch, model, writer, xv_t, yv_t, train_loss, at=step)
    writer.close()


def torch_loss_spikes(run: str) -> None:
    """Healthy shuffled Adam run, except that 4 batches are corrupt (their labels are
    shifted by one class, as if a shard of the data was mislabeled): isolated
    spikes in the per-batch loss that the model recovers from within a few steps. Epoch-level
    values are logged at the epoch index (the other common PyTorch convention)."""
    torch = torch_setup(12)
    from torch.utils.data import DataLoader, TensorDataset
    from torch.utils.tensorboard import SummaryWriter

    d = fresh_dir(run)
    x, y, xv, yv = digits()
    gen = torch.Generator().manual_seed(12)
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), BATCH, shuffle=True, generator=gen)
    xv_t, yv_t = torch.from_numpy(xv), torch.from_numpy(yv)
    model = torch_mlp(torch, 128)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    bad_steps = {130, 290, 470, 610}
    writer = SummaryWriter(log_dir=str(d))
    step = 0
    for epoch in range(16):
        step, train_loss = torch_train_epoch(torch, model, opt, loader, writer, step, corrupt=bad_steps)
        torch_log_epoch(torch, model, writer, xv_t, yv_t, train_loss, at=epoch)
    writer.close()


def torch_restart(run: str) -> None:
    """Two launches appended to one log dir. Launch 1 trains epochs 0-11 and dies;
    launch 2 resumes from the epoch-7 checkpoint and trains epochs 8-19, so epochs
    8-11 (and their batch steps) are logged twice, in two event files, with
    slightly different values."""
    torch = torch_setup(13)
    from torch.utils.data import DataLoader, TensorDataset
    from torch.utils.tensorboard import SummaryWriter

    d = fresh_dir(run)
    x, y, xv, yv = digits()
    ds = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    xv_t, yv_t = torch.from_numpy(xv), torch.from_numpy(yv)

    def launch(first_epoch: int, last_epoch: int, state: dict | None, seed: int, ckpt_epoch: int | None):
        torch.manual_seed(seed)
        model = torch_mlp(torch, 64)
        opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
        if state is not None:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
        loader = DataLoader(ds, BATCH, shuffle=True, generator=torch.Generator().manual_seed(seed))
        writer = SummaryWriter(log_dir=str(d))
        ckpt = None
        step = first_epoch * STEPS_PER_EPOCH
        for epoch in range(first_epoch, last_epoch + 1):
            step, train_loss = torch_train_epoch(torch, model, opt, loader, writer, step, log_every=5)
            torch_log_epoch(torch, model, writer, xv_t, yv_t, train_loss, at=epoch)
            if epoch == ckpt_epoch:
                ckpt = {"model": copy.deepcopy(model.state_dict()), "opt": copy.deepcopy(opt.state_dict())}
        writer.close()
        return ckpt

    ckpt = launch(0, 11, None, seed=13, ckpt_epoch=7)
    time.sleep(1.1)  # a later launch: its event file sorts after the first one
    launch(8, 19, ckpt, seed=14, ckpt_epoch=None)


# --------------------------------------------------------------------------- sweeps
# A sweep "run" writes a folder of runs, one per trial, each with its hyperparameters in TensorBoard's HParams
# format. `tb-recipe sweep demo_logs` reads each folder as one sweep.

KERAS_SWEEP_LRS = (0.003, 0.03, 0.3, 3.0)
KERAS_SWEEP_BATCHES = (32, 128)
KERAS_SWEEP_SEEDS = (0, 1)
KERAS_SWEEP_EPOCHS = 12


def keras_sweep_trials() -> list[tuple[str, dict[str, float | int]]]:
    """(run folder, hyperparameters) of the Keras sweep: every learning rate x batch size x seed. The folder names
    spell the same values (`bs` is tb-recipe's short name for `batch_size`)."""
    return [
        (f"lr={lr:g},bs={bs},seed={seed}", {"lr": lr, "batch_size": bs, "seed": seed})
        for lr in KERAS_SWEEP_LRS
        for bs in KERAS_SWEEP_BATCHES
        for seed in KERAS_SWEEP_SEEDS
    ]


def sweep_keras(run: str) -> None:
    """A learning-rate x batch-size grid, two seeds each: MLP 64-128-10 with LeakyReLU (logits), SGD with momentum
    0.9, 12 epochs. Each trial is its own run `sweep_keras/lr=...,bs=...,seed=...` written by Keras' `TensorBoard`
    callback (`train/`, `validation/`), and by TensorBoard's HParams API in the run folder itself: the experiment
    (`hp.hparams_config`: the hyperparameters with their grid values and the validation metrics) and the trial's
    values (`hp.KerasCallback`, which also records the session's end). LR 3 overflows to NaN by epoch 4 at both
    batch sizes (LeakyReLU keeps every unit alive, so nothing caps the logits); LR 0.003 is still falling at every
    epoch after 12 epochs."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    sweep = fresh_dir(run)
    x, y, xv, yv = digits()
    domains = {
        "lr": hp.HParam("lr", hp.Discrete(list(KERAS_SWEEP_LRS)), description="SGD learning rate (momentum 0.9)"),
        "batch_size": hp.HParam("batch_size", hp.Discrete(list(KERAS_SWEEP_BATCHES))),
        "seed": hp.HParam("seed", hp.Discrete(list(KERAS_SWEEP_SEEDS)), description="keras.utils.set_random_seed"),
    }
    metrics = [
        hp.Metric("epoch_loss", group="validation", display_name="validation loss"),
        hp.Metric("epoch_accuracy", group="validation", display_name="validation accuracy"),
    ]
    for name, values in keras_sweep_trials():
        keras = keras_setup(int(values["seed"]))
        d = sweep / name
        writer = tf.summary.create_file_writer(str(d))
        with writer.as_default():
            hp.hparams_config(hparams=list(domains.values()), metrics=metrics)
        model = keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(128, activation="leaky_relu"),
                keras.layers.Dense(NUM_CLASSES),
            ]
        )
        trial = hp.KerasCallback(writer, {domains[k]: v for k, v in values.items()}, trial_id=name)
        optimizer = keras.optimizers.SGD(values["lr"], momentum=0.9)
        compile_fit(
            keras,
            model,
            optimizer,
            d,
            x,
            y,
            xv,
            yv,
            epochs=KERAS_SWEEP_EPOCHS,
            batch_size=int(values["batch_size"]),
            logits=True,
            callbacks=[trial],
        )
        writer.close()


TORCH_SWEEP = [{"lr": lr, "dropout": dropout} for lr in (1e-4, 1e-3, 1e-2) for dropout in (0.0, 0.5)]
TORCH_SWEEP_EPOCHS = 15


def sweep_torch(run: str) -> None:
    """Six PyTorch runs `sweep_torch/run_0` ... `run_5` (names that spell nothing): MLP 64-128-128-10 with Dropout
    after each hidden layer, Adam, batch 32, shuffled, 15 epochs; LR 1e-4, 1e-3, 1e-2 x dropout 0, 0.5. Epoch tags
    at the epoch index, no per-batch loss. At the end each run calls `writer.add_hparams(hparams, metrics)`, which
    writes the hyperparameters and the two final metrics into a child folder `run_<i>/<timestamp>/`."""
    torch = torch_setup(20)
    from torch.utils.data import DataLoader, TensorDataset
    from torch.utils.tensorboard import SummaryWriter

    sweep = fresh_dir(run)
    x, y, xv, yv = digits()
    ds = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    xv_t, yv_t = torch.from_numpy(xv), torch.from_numpy(yv)
    nn = torch.nn
    for i, hparams in enumerate(TORCH_SWEEP):
        torch.manual_seed(20 + i)
        dropout = hparams["dropout"]
        model = nn.Sequential(
            nn.Linear(64, 128), nn.ReLU(), nn.Dropout(dropout), nn.Linear(128, 128), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(128, NUM_CLASSES),
        )  # fmt: skip
        opt = torch.optim.Adam(model.parameters(), lr=hparams["lr"])
        loader = DataLoader(ds, BATCH, shuffle=True, generator=torch.Generator().manual_seed(20 + i))
        writer = SummaryWriter(log_dir=str(sweep / f"run_{i}"))
        step, best = 0, math.inf
        for epoch in range(TORCH_SWEEP_EPOCHS):
            step, train_loss = torch_train_epoch(torch, model, opt, loader, writer, step, log_every=0)
            torch_log_epoch(torch, model, writer, xv_t, yv_t, train_loss, at=epoch)
            best = min(best, torch_evaluate(torch, model, xv_t, yv_t)[0])
        _, accuracy = torch_evaluate(torch, model, xv_t, yv_t)
        writer.add_hparams(hparams, {"hparam/best_val_loss": best, "hparam/val_accuracy": accuracy})
        writer.close()


SWEEPS = ("sweep_keras", "sweep_torch")


def sweep_trials(sweep: str) -> list[tuple[str, dict[str, float | int]]]:
    """(run, hyperparameters) of each trial of a sweep; the run is named `<sweep>/<trial folder>`."""
    if sweep == "sweep_keras":
        return [(f"{sweep}/{name}", values) for name, values in keras_sweep_trials()]
    return [(f"{sweep}/run_{i}", hparams) for i, hparams in enumerate(TORCH_SWEEP)]


def read_hparams(run_dir: Path) -> dict[str, float | str | bool]:
    """The hyperparameter values a run's event files record (`_hparams_/session_start_info`, in the run folder or
    the child folder `add_hparams` writes), read with TensorBoard's own accumulator and protos."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    out: dict[str, float | str | bool] = {}
    for sub in sorted({p.parent for p in run_dir.rglob("events.out.tfevents.*")}):
        acc = EventAccumulator(str(sub))
        acc.Reload()
        try:
            raw = acc.PluginTagToContent("hparams").get("_hparams_/session_start_info")
        except KeyError:  # no HParams data in this folder
            continue
        if raw is None:
            continue
        start = plugin_data_pb2.HParamsPluginData.FromString(raw).session_start_info
        for k, v in start.hparams.items():
            out[k] = getattr(v, v.WhichOneof("kind"))
    return out


# --------------------------------------------------------------------------- summary


def read_run(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """All scalar series of a run (Keras tensor summaries and simple_value alike),
    with `<subdir>/` prefixes, every event kept (no purging of repeated steps)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    out: dict[str, list[tuple[int, float]]] = {}
    dirs = sorted({p.parent for p in run_dir.rglob("events.out.tfevents.*")})
    for sub in dirs:
        prefix = "" if sub == run_dir else str(sub.relative_to(run_dir)) + "/"
        acc = EventAccumulator(str(sub), size_guidance={"scalars": 0, "tensors": 0}, purge_orphaned_data=False)
        acc.Reload()
        tags = acc.Tags()
        for tag in tags.get("scalars", []):
            out[prefix + tag] = [(e.step, float(e.value)) for e in acc.Scalars(tag)]
        for tag in tags.get("tensors", []):
            if acc.SummaryMetadata(tag).plugin_data.plugin_name in ("text", "hparams"):
                continue  # DiagnosisCallback's set-up summary, the HParams API's records
            out[prefix + tag] = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]
    return out


def fmt(v: float) -> str:
    return "nan" if math.isnan(v) else ("inf" if math.isinf(v) else f"{v:.4g}")


def summarize(run: str, full: bool = True) -> None:
    run_dir = HERE / run
    size = sum(p.stat().st_size for p in run_dir.rglob("*") if p.is_file())
    print(f"== {run}  ({size / 1024:.1f} KiB)")
    for tag, pts in sorted(read_run(run_dir).items()):
        vals = np.array([v for _, v in pts])
        fin = vals[np.isfinite(vals)]
        head = f"  {tag}: {len(pts)} pts, steps {pts[0][0]}..{pts[-1][0]}"
        if fin.size:
            i = int(np.nanargmin(np.where(np.isfinite(vals), vals, np.inf)))
            head += f", min {fmt(fin.min())} at step {pts[i][0]}, max {fmt(fin.max())}, last {fmt(vals[-1])}"
        if fin.size < vals.size:
            head += f", {vals.size - fin.size} non-finite"
        print(head)
        if full:
            if len(pts) <= 80:
                print("    " + " ".join(f"{s}:{fmt(v)}" for s, v in pts))
            else:
                stride = max(1, len(pts) // 60)
                print(f"    (every {stride}) " + " ".join(f"{s}:{fmt(v)}" for s, v in pts[::stride]))


# --------------------------------------------------------------------------- pattern checks
# Each check reads the written event files back and tests that the run's pattern
# is as unmistakable as README.md says; a rerun on another machine that drifts
# fails loudly instead of silently shipping a demo that no longer shows its pattern.


def _v(series: dict, tag: str) -> np.ndarray:
    return np.array([v for _, v in series[tag]], dtype=float)


def _sign_changes(v: np.ndarray) -> int:
    d = np.sign(np.diff(v))
    return int(np.sum(d[1:] * d[:-1] < 0))


def _r2(v: np.ndarray) -> float:
    x = np.arange(v.size)
    fit = np.polyval(np.polyfit(x, v, 1), x)
    return 1 - float(np.sum((v - fit) ** 2) / np.sum((v - v.mean()) ** 2))


def _check(run: str, s: dict) -> list[str]:
    """Conditions (name, ok) that must hold for `run`; returns the failed names."""
    k_tl, k_vl, k_va, k_lr = "train/epoch_loss", "validation/epoch_loss", "validation/epoch_accuracy", None
    cb = "train/tb_recipe/"  # DiagnosisCallback's series
    c: list[tuple[str, bool]] = []
    if run.startswith("keras_"):
        tl, vl, va = _v(s, k_tl), _v(s, k_vl), _v(s, k_va)
        k_lr = "train/epoch_learning_rate"
    else:
        tl, vl, va = _v(s, "Loss/train"), _v(s, "Loss/val"), _v(s, "Accuracy/val")
    if run == "keras_healthy":
        c += [("val loss < 0.15", vl[-1] < 0.15), ("val loss best in last 3", vl.argmin() >= vl.size - 3)]
        c += [("callback signals written", f"{cb}grad_norm" in s and f"{cb}layer/dead_fraction/dense" in s)]
        c += [("val acc > 0.95", va[-1] > 0.95), ("train falls", tl[-1] < 0.1 * tl[0])]
    elif run == "keras_overfitting":
        b = int(vl.argmin())
        c += [("val min early", b <= 20), ("val rises >= 30%", vl[-1] >= 1.3 * vl[b])]
        c += [
            ("train keeps falling", tl[-1] < 0.1 * tl[b]),
            ("val rises steadily", vl[-10:].min() > vl[b : b + 10].max()),
        ]
    elif run == "keras_nan_divergence":
        fin = np.isfinite(tl)
        first_nan = int(np.argmin(fin))
        c += [
            ("NaN mid-run", not fin.all() and 5 <= first_nan <= tl.size - 3),
            ("NaN stays", not fin[first_nan:].any()),
        ]
        c += [("loss rises before NaN", tl[first_nan - 1] > 2 * np.nanmin(tl[:first_nan]))]
        c += [("LR logged and rising", _v(s, k_lr)[-1] > 10 * _v(s, k_lr)[0])]
        c += [("NaN gradients recorded", _v(s, f"{cb}window/nonfinite_grad_steps").sum() > 0)]
    elif run == "keras_no_learning":
        c += [
            ("train loss ~ ln 10", np.all(np.abs(tl - math.log(10)) < 0.1)),
            ("val ~ ln 10", np.all(np.abs(vl - 2.34) < 0.1)),
        ]
        c += [("val acc at chance", va.max() < 0.15)]
    elif run == "keras_lr_too_small":
        h = tl.size // 2
        ratio = np.polyfit(np.arange(h), tl[h : 2 * h], 1)[0] / np.polyfit(np.arange(h), tl[:h], 1)[0]
        c += [("straight line", _r2(tl) > 0.99 and _r2(vl) > 0.99), ("no saturation", ratio > 0.7)]
        c += [("falls > 0.2", tl[0] - tl[-1] > 0.2)]
    elif run == "keras_plateau":
        c += [("early fall", tl[0] - tl[5] > 0.5), ("flat tail", (tl[12] - tl[-1]) / tl[-1] < 0.03)]
        c += [("val flat tail", (vl[12] - vl[-1]) / vl[-1] < 0.05), ("val no rise", vl[-1] <= vl.min() * 1.01)]
    elif run == "keras_noisy":
        c += [
            ("val zig-zags", _sign_changes(vl) >= 0.4 * vl.size),
            ("train zig-zags", _sign_changes(tl[1:]) >= 0.3 * tl.size),
        ]
        x = np.arange(vl.size)
        fit = np.polyval(np.polyfit(x, vl, 1), x)
        c += [("val scatter > 30% of trend", np.std(vl - fit) > 0.3 * abs(fit[-1] - fit[0]))]
        c += [("val jumps 3x between epochs", np.max(vl[1:] / vl[:-1]) > 3)]
    elif run == "keras_lr_decay_too_early":
        lr = _v(s, k_lr)
        d = int(np.argmax(lr < 0.05 * lr[0]))
        c += [("LR < 5% by epoch 6-8", 6 <= d <= 8), ("falling fast before", tl[d - 2] / tl[d - 1] > 1.15)]
        c += [("flat after", (tl[d + 1] - tl[-1]) / tl[d + 1] < 0.06), ("not converged", tl[-1] > 0.3)]
    elif run == "keras_batch_logging":
        bl = _v(s, "train/batch_loss")
        c += [("9 batch points per epoch", bl.size == 9 * tl.size), ("healthy", vl[-1] < 0.15 and va[-1] > 0.95)]
    elif run == "keras_val_better_than_train":
        c += [("val below train everywhere", bool(np.all(vl < tl))), ("val acc > 0.98", va[-1] > 0.98)]
    elif run == "keras_vanishing_sigmoid":
        first, last = _v(s, f"{cb}layer/grad_norm/dense"), _v(s, f"{cb}layer/grad_norm/dense_8")
        c += [("first/last layer gradient < 1e-4", np.median(first / last) < 1e-4), ("stuck", va[-1] < 0.5)]
    elif run == "keras_dead_relu":
        dead = max(_v(s, f"{cb}layer/dead_fraction/{name}")[-1] for name in ("dense", "dense_1"))
        c += [("a layer >= 80% dead", dead >= 0.8)]
    elif run == "keras_unnormalized_inputs":
        c += [("first loss > 5 ln(10)", _v(s, f"{cb}batch_loss")[0] > 5 * math.log(10))]
    elif run == "keras_saturated_tanh":
        sat = max(_v(s, f"{cb}layer/saturated_fraction/{name}")[-1] for name in ("dense", "dense_1", "dense_2"))
        c += [("a hidden layer >= 60% saturated", sat >= 0.6)]
    elif run == "torch_unshuffled":
        bl = _v(s, "Loss/train_batch")
        tail = bl[bl.size // 2 :]
        resid = tail - np.convolve(tail, np.ones(STEPS_PER_EPOCH) / STEPS_PER_EPOCH, "same")
        resid = resid[STEPS_PER_EPOCH:-STEPS_PER_EPOCH]
        ac = float(np.corrcoef(resid[:-STEPS_PER_EPOCH], resid[STEPS_PER_EPOCH:])[0, 1])
        c += [("batch loss repeats every epoch", ac > 0.8), ("still learns", va[-1] > 0.6 and tl[-1] < 0.5)]
    elif run == "torch_loss_spikes":
        bl = _v(s, "Loss/train_batch")
        med = np.array([np.median(np.delete(bl[max(0, i - 10) : i + 11], min(i, 10))) for i in range(bl.size)])
        spikes = set((np.nonzero(bl > 5 * med)[0] + 1).tolist())
        c += [("exactly the 4 corrupt batches spike", spikes == {130, 290, 470, 610}), ("healthy", va[-1] > 0.95)]
    elif run == "torch_restart":
        steps = [st for st, _ in s["Loss/train"]]
        files = list((HERE / run).glob("events.out.tfevents.*"))
        c += [
            ("two event files", len(files) == 2),
            ("epochs 8-11 twice", steps == list(range(12)) + list(range(8, 20))),
        ]
        c += [("healthy", va[-1] > 0.95 and np.isfinite(tl).all())]
    return [name for name, ok in c if not ok]


def _eta_squared(y: np.ndarray, keys: list[float]) -> float:
    """Share of the variance of `y` that grouping by `keys` explains: between-group over total sum of squares."""
    total = float(np.sum((y - y.mean()) ** 2))
    between = 0.0
    for k in set(keys):
        group = y[[key == k for key in keys]]
        between += group.size * (float(group.mean()) - float(y.mean())) ** 2
    return between / total if total > 0 else 0.0


def _check_sweep(sweep: str) -> list[str]:
    """Conditions that must hold for a sweep's runs together; returns the failed names."""
    trials = sweep_trials(sweep)
    written = dict(trials)
    runs = list(written)
    folders = {f"{sweep}/{p.name}" for p in (HERE / sweep).iterdir() if p.is_dir()}
    c: list[tuple[str, bool]] = [("one folder per trial, no other", folders == set(runs))]
    recorded = {r: read_hparams(HERE / r) for r in runs}
    c += [("HParams data = the trial's values", all(recorded[r] == written[r] for r in runs))]
    keras = sweep == "sweep_keras"
    series = {r: read_run(HERE / r) for r in runs}
    vl = {r: _v(series[r], "validation/epoch_loss" if keras else "Loss/val") for r in runs}
    tl = {r: _v(series[r], "train/epoch_loss" if keras else "Loss/train") for r in runs}
    lrs = sorted({v["lr"] for v in written.values()})
    low = [r for r in runs if written[r]["lr"] == lrs[0]]
    finite = [r for r in runs if np.isfinite(tl[r]).all() and np.isfinite(vl[r]).all()]
    best = {r: float(vl[r].min()) for r in finite}
    winner = min(finite, key=lambda r: best[r])
    quarter = max(2, vl[low[0]].size // 4)
    c += [
        ("lowest LR: val loss falls at every epoch", all(bool(np.all(np.diff(vl[r]) < 0)) for r in low)),
        ("lowest LR: val loss -10% over the last quarter", all(vl[r][-1] < 0.9 * vl[r][-quarter] for r in low)),
    ]
    if keras:
        top = [r for r in runs if written[r]["lr"] == lrs[-1]]
        nan_from = {r: int(np.argmin(np.isfinite(tl[r]))) for r in top}
        c += [
            ("top LR NaN in every run, for good", all(not np.isfinite(tl[r][i:]).any() for r, i in nan_from.items())),
            ("top LR NaN by epoch 4", all(i <= 4 for i in nan_from.values())),
            ("every other run finite", len(finite) == len(runs) - len(top)),
            ("a middle LR wins", lrs[0] < written[winner]["lr"] < lrs[-1]),
        ]
        y = np.log([best[r] for r in finite])
        by_lr = _eta_squared(y, [written[r]["lr"] for r in finite])
        by_bs = _eta_squared(y, [written[r]["batch_size"] for r in finite])
        c += [("LR explains 2x more than batch size", by_lr > 2 * by_bs)]
    else:
        children = {r: [p for p in (HERE / r).iterdir() if p.is_dir()] for r in runs}
        c += [("one add_hparams child folder per run", all(len(v) == 1 for v in children.values()))]
        c += [("every run finite", len(finite) == len(runs)), ("the top LR wins", written[winner]["lr"] == lrs[-1])]
    return [name for name, ok in c if not ok]


RUNS: dict[str, Callable[[str], None]] = {
    "keras_healthy": keras_healthy,
    "keras_overfitting": keras_overfitting,
    "keras_nan_divergence": keras_nan_divergence,
    "keras_no_learning": keras_no_learning,
    "keras_lr_too_small": keras_lr_too_small,
    "keras_plateau": keras_plateau,
    "keras_noisy": keras_noisy,
    "keras_lr_decay_too_early": keras_lr_decay_too_early,
    "keras_batch_logging": keras_batch_logging,
    "keras_val_better_than_train": keras_val_better_than_train,
    "keras_vanishing_sigmoid": keras_vanishing_sigmoid,
    "keras_dead_relu": keras_dead_relu,
    "keras_unnormalized_inputs": keras_unnormalized_inputs,
    "keras_saturated_tanh": keras_saturated_tanh,
    "torch_unshuffled": torch_unshuffled,
    "torch_loss_spikes": torch_loss_spikes,
    "torch_restart": torch_restart,
    "sweep_keras": sweep_keras,
    "sweep_torch": sweep_torch,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="*", help=f"runs to (re)generate; default all: {', '.join(RUNS)}")
    p.add_argument("--summary", action="store_true", help="only print the curves already written")
    p.add_argument("--brief", action="store_true", help="with the summary, print one line per tag")
    args = p.parse_args(argv)
    unknown = [r for r in args.runs if r not in RUNS]
    if unknown:
        p.error(f"unknown run(s): {', '.join(unknown)}")
    runs = args.runs or list(RUNS)
    t_all = time.time()
    failures = 0
    for run in runs:
        if not args.summary:
            t0 = time.time()
            RUNS[run](run)
            print(f"[{run}] generated in {time.time() - t0:.1f}s", flush=True)
        if run in SWEEPS:
            for sub, _ in sweep_trials(run):
                summarize(sub, full=not args.brief)
            failed = _check_sweep(run)
        else:
            summarize(run, full=not args.brief)
            failed = _check(run, read_run(HERE / run))
        print(f"  pattern check: {'OK' if not failed else 'FAILED: ' + '; '.join(failed)}")
        failures += bool(failed)
    if not args.summary:
        print(f"total {time.time() - t_all:.1f}s")
    if failures:
        print(f"{failures} run(s) no longer show their pattern clearly", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
