"""keras_transformer_text: a one-block transformer encoder x synthetic token sequences x Keras ``fit`` x TensorBoard.

Why it exists: the sequence-model shape of a Keras script (token and position
embeddings, ``MultiHeadAttention`` with a padding mask, masked mean pooling,
AdamW with a linear warm-up and cosine decay given as ``CosineDecay(...,
warmup_target=...)``) with many steps per epoch (128), so batch-level logging
every N steps gives long curves while epoch curves stay short (10 points).

Data: sequences of 12-24 tokens (vocabulary 32, id 0 = padding) holding one
``A`` and one ``B`` at random places, 1-4 ``C`` and a different number of
``D``; four classes = (A before B) x (more C than D), chance 0.25. The count
half is easy (bag of tokens); the order half needs positions and is learnt
suddenly after a 1-3 epoch stall at loss ~log 2 (alarming, and healthy).
4,096 training sequences (128 steps of 32), 1,024 validation sequences, the
same in every run. The training order is one pre-drawn permutation per epoch
(equivalent to ``shuffle(reshuffle_each_iteration=True)``) so that faults can
be placed at exact steps.

Runs (intent: how it is made):

- healthy_warmup_cosine: AdamW peak 3e-3, one-epoch warm-up, cosine to 0 over 10 epochs, logged every 32 steps.
- healthy_warmup_bump: peak 6e-3 reached in 30 steps, logged every 16 steps.
- healthy_dropout: dropout 0.1 in the block and 0.3 before the head, 14 epochs: validation loss below training.
- healthy_small_val: 48 validation sequences (jagged validation curves), epoch logging.
- overfitting: 512 training sequences with 10% wrong labels, a 64-wide model, 80 epochs, epoch logging.
- best_checkpoint_mismatch: 10% of the validation labels are wrong: as the model grows confident, validation loss
  (dominated by the wrong labels) turns up while validation accuracy keeps rising.
- lr_too_high: the same warm-up/cosine with peak 3e-2: the loss rises back towards chance while the LR is near its
  peak and only creeps down as the cosine lowers it.
- divergence: ``warmup_steps`` set to the whole run (meant one epoch) with ``warmup_target=0.1``: the LR keeps
  growing, the loss falls for two epochs, then climbs back to chance and stays.
- nonfinite: from step 701 one sequence per batch tokenized to nothing (all padding); masked mean pooling
  divides 0 by 0.
- lr_too_small: peak 1e-5.
- no_learning: token embeddings frozen at zeros ("pretrained embeddings" that never loaded): the model sees
  positions only and stays at chance.
- underfitting: no position embedding: the order half of the label is invisible, accuracy levels near 0.5.
- lr_decay_too_early: ``decay_steps`` set to one epoch of steps (meant the whole run): LR 0 after epoch 2.
- still_learning: the 10-epoch warm-up/cosine schedule, stopped after 3 epochs.
- loss_spikes: three batches whose labels are all wrong (a shard with a broken label column), every step logged.
- noisy: 2,048 sequences in batches of 4 (512 steps per epoch), 48 validation sequences.
- data_problem: validation sequences tokenized with an off-by-one vocabulary (every id + 1).
- lr_too_high_moderate_peak: peak 2e-2 over 12 epochs: the loss stalls high while the LR is near its peak and
  falls once the cosine has lowered it (lr_too_high's 3e-2 never recovers).
- mismatch_val_label_noise: 15% wrong validation labels, 12 epochs: validation loss turns up after epoch ~2 while
  validation accuracy keeps rising.
- mismatch_wide_val_label_noise: the same with 10% wrong validation labels and a 64-wide model.

``Facts.injected`` gives the 1-based batch steps (Keras' numbering) of the
step faults (``empty_from_step``, ``scrambled_steps``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._tf import keras_session
from benchmarks.corpus.programs.keras_mlp_digits import keras_fit_facts, tensorboard_callback
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "keras_transformer_text"
VERSION = 1
VOCAB = 32
MAX_LEN = 24
CLASSES = 4
A, B, C, D = 1, 2, 3, 4
N_TRAIN = 4096
N_VAL = 1024

DEFAULTS: dict[str, Any] = {
    "epochs": 10,
    "batch_size": 32,
    "n_train": N_TRAIN,
    "n_val": N_VAL,
    "d_model": 32,
    "heads": 2,
    "ffn": 64,
    "dropout": 0.0,
    "head_dropout": 0.0,
    "position": True,
    "frozen_zero_embeddings": False,
    "lr": 3e-3,
    "warmup_steps": None,  # None: one epoch
    "decay_steps": None,  # None: the rest of the run
    "schedule_epochs": None,  # None: `epochs`; more than `epochs` = stopped before the schedule ends
    "label_noise": 0.0,
    "val_label_noise": 0.0,
    "empty_from_step": None,
    "scrambled_batches": [],  # fractions of the run at which one batch has scrambled labels
    "val_shift": 0,
    "update_freq": 32,
}

RUNS: list[tuple[str, str, dict[str, Any]]] = [
    ("healthy_warmup_cosine", "healthy", {}),
    ("healthy_warmup_bump", "healthy", {"lr": 6e-3, "warmup_steps": 30, "update_freq": 16}),
    ("healthy_dropout", "healthy", {"dropout": 0.1, "head_dropout": 0.3, "epochs": 14, "update_freq": 64}),
    ("healthy_small_val", "healthy", {"n_val": 48, "update_freq": "epoch"}),
    (
        "overfitting",
        "overfitting",
        {"n_train": 512, "d_model": 64, "ffn": 128, "label_noise": 0.1, "epochs": 80, "update_freq": "epoch"},
    ),
    ("best_checkpoint_mismatch", "best_checkpoint_mismatch", {"val_label_noise": 0.1, "epochs": 14}),
    ("lr_too_high", "lr_too_high", {"lr": 3e-2}),
    ("divergence", "divergence", {"lr": 0.1, "warmup_steps": 1280, "update_freq": 16}),
    ("nonfinite", "nonfinite", {"empty_from_step": 700, "epochs": 8}),
    ("lr_too_small", "lr_too_small", {"lr": 1e-5, "epochs": 8, "update_freq": 64}),
    ("no_learning", "no_learning", {"frozen_zero_embeddings": True, "epochs": 6, "update_freq": "epoch"}),
    ("underfitting", "underfitting", {"position": False}),
    ("lr_decay_too_early", "lr_decay_too_early", {"decay_steps": 128, "update_freq": 64}),
    ("still_learning", "still_learning", {"epochs": 3, "schedule_epochs": 10}),
    ("loss_spikes", "loss_spikes", {"scrambled_batches": [0.3, 0.55, 0.8], "epochs": 10, "update_freq": 1}),
    ("noisy", "noisy", {"n_train": 2048, "batch_size": 4, "n_val": 48, "epochs": 6, "update_freq": 16}),
    ("data_problem", "data_problem", {"val_shift": 1, "epochs": 8}),
    # added for the dev set's rarer codes (seeds 317-319)
    ("lr_too_high_moderate_peak", "lr_too_high", {"lr": 2e-2, "epochs": 12}),
    (
        "mismatch_val_label_noise",
        "best_checkpoint_mismatch",
        {"val_label_noise": 0.15, "epochs": 12, "update_freq": 64},
    ),
    (
        "mismatch_wide_val_label_noise",
        "best_checkpoint_mismatch",
        {"val_label_noise": 0.1, "d_model": 64, "ffn": 128, "epochs": 12, "update_freq": 64},
    ),
]


def runs() -> list[RunSpec]:
    return [RunSpec(NAME, name, intent, params, seed=300 + i) for i, (name, intent, params) in enumerate(RUNS)]


def sequences(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` padded sequences (n, 24) and labels: 2 * (A before B) + (more C than D), balanced."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % CLASSES
    rng.shuffle(y)
    x = np.zeros((n, MAX_LEN), dtype="int32")
    for i in range(n):
        length = int(rng.integers(12, MAX_LEN + 1))
        few, many = sorted(rng.choice(np.arange(1, 5), 2, replace=False))
        n_c, n_d = (many, few) if y[i] % 2 else (few, many)
        first, second = (A, B) if y[i] >= 2 else (B, A)
        tokens = rng.integers(5, VOCAB, length)
        slots = rng.choice(length, 2 + n_c + n_d, replace=False)
        ab = np.sort(slots[:2])
        tokens[ab[0]], tokens[ab[1]] = first, second
        tokens[slots[2 : 2 + n_c]] = C
        tokens[slots[2 + n_c :]] = D
        x[i, :length] = tokens
    return x, y.astype("int32")


def _order(n: int, p: dict[str, Any], seed: int) -> tuple[np.ndarray, int]:
    """Indices of every training sample in the order the run sees them (one permutation per epoch), and steps/epoch.

    Index ``n`` is an extra all-padding sequence, placed once per batch from ``empty_from_step`` on.
    """
    rng = np.random.default_rng(seed)
    steps = n // p["batch_size"]
    per_epoch = [rng.permutation(n)[: steps * p["batch_size"]] for _ in range(p["epochs"])]
    order = np.concatenate(per_epoch).reshape(-1, p["batch_size"])
    if p["empty_from_step"] is not None:
        order[p["empty_from_step"] :, 0] = n
    return order.reshape(-1), steps


def _scramble(y: np.ndarray, order: np.ndarray, p: dict[str, Any], seed: int) -> tuple[np.ndarray, list[int]]:
    """Labels in stream order, with whole batches relabelled at random at the run's scrambled-batch fractions."""
    y_stream = y[order].copy()
    batches = len(order) // p["batch_size"]
    hit = [int(f * batches) for f in p["scrambled_batches"]]
    rng = np.random.default_rng(seed + 7)
    for b in hit:
        sl = slice(b * p["batch_size"], (b + 1) * p["batch_size"])
        y_stream[sl] = (y_stream[sl] + rng.integers(1, CLASSES, p["batch_size"])) % CLASSES
    return y_stream, [b + 1 for b in hit]


def _model(keras: Any, p: dict[str, Any]) -> Any:
    layers, ops = keras.layers, keras.ops

    class PositionEmbedding(layers.Layer):
        """Adds a learned embedding of each position; passes the padding mask on."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.supports_masking = True

        def build(self, input_shape: Any) -> None:
            self.table = self.add_weight(shape=(MAX_LEN, p["d_model"]), initializer="glorot_uniform", name="table")

        def call(self, x: Any) -> Any:
            return x + ops.expand_dims(self.table[: ops.shape(x)[1]], 0)

    tokens = keras.Input((MAX_LEN,), dtype="int32")
    h = layers.Embedding(
        VOCAB,
        p["d_model"],
        mask_zero=True,
        embeddings_initializer="zeros" if p["frozen_zero_embeddings"] else "uniform",
        trainable=not p["frozen_zero_embeddings"],
    )(tokens)
    if p["position"]:
        h = PositionEmbedding()(h)
    attn = layers.MultiHeadAttention(p["heads"], p["d_model"] // p["heads"], dropout=p["dropout"])(h, h)
    h = layers.Add()([h, attn])
    h = layers.LayerNormalization()(h)
    ffn = layers.Dense(p["ffn"], activation="gelu")(h)
    ffn = layers.Dense(p["d_model"])(layers.Dropout(p["dropout"])(ffn) if p["dropout"] else ffn)
    h = layers.Add()([h, ffn])
    h = layers.LayerNormalization()(h)
    h = layers.GlobalAveragePooling1D()(h)  # masked mean: padding excluded
    if p["head_dropout"]:
        h = layers.Dropout(p["head_dropout"])(h)
    return keras.Model(tokens, layers.Dense(CLASSES)(h))


def _schedule(keras: Any, p: dict[str, Any], steps: int) -> tuple[Any, float]:
    """Linear warm-up from 0 to the peak, then cosine to 0 (Keras' ``CosineDecay`` with ``warmup_target``)."""
    warmup = steps if p["warmup_steps"] is None else p["warmup_steps"]
    total = steps * (p["schedule_epochs"] or p["epochs"])
    decay = max(1, total - warmup) if p["decay_steps"] is None else p["decay_steps"]
    return keras.optimizers.schedules.CosineDecay(0.0, decay, warmup_target=p["lr"], warmup_steps=warmup), p["lr"]


def _injected(p: dict[str, Any], flips: tuple[int, int], scrambled_steps: list[int], steps: int) -> dict[str, Any]:
    inj: dict[str, Any] = {}
    if flips[0]:
        inj["label_noise"] = f"{flips[0]} training labels replaced by another class"
    if flips[1]:
        inj["val_label_noise"] = f"{flips[1]} validation labels replaced by another class"
    if p["empty_from_step"] is not None:
        inj["empty_sequences"] = "one all-padding sequence per batch (0/0 in masked mean pooling)"
        inj["empty_from_step"] = p["empty_from_step"] + 1  # 1-based, as Keras logs batches
    if scrambled_steps:
        inj["scrambled_batches"] = "every label of one batch replaced by another class"
        inj["scrambled_steps"] = scrambled_steps
    if p["frozen_zero_embeddings"]:
        inj["frozen_zero_embeddings"] = "token embeddings zero and not trainable"
    if not p["position"]:
        inj["no_position_embedding"] = "order-dependent labels, no position information"
    if p["warmup_steps"] is not None and p["warmup_steps"] >= steps * p["epochs"]:
        inj["warmup_whole_run"] = f"linear warm-up to {p['lr']} over the whole run (meant one epoch)"
    elif p["decay_steps"] is not None:
        inj["decay_steps"] = f"cosine decay_steps={p['decay_steps']} (one epoch, meant the whole run)"
    if p["schedule_epochs"]:
        inj["stopped_early"] = f"schedule for {p['schedule_epochs']} epochs, stopped after {p['epochs']}"
    if p["val_shift"]:
        inj["val_tokenizer"] = f"validation token ids shifted by {p['val_shift']}"
    return inj


def train(spec: RunSpec, run_dir: Path) -> Facts:
    p = run_params(spec, DEFAULTS)
    keras, tf = keras_session(spec.seed)
    x, y = sequences(p["n_train"], seed=21)
    x_val, y_val = sequences(p["n_val"], seed=22)
    x_val = np.where(x_val > 0, np.minimum(x_val + p["val_shift"], VOCAB - 1), 0).astype("int32")
    rng = np.random.default_rng(spec.seed)
    flip = rng.random(len(y)) < p["label_noise"]
    y = np.where(flip, (y + rng.integers(1, CLASSES, len(y))) % CLASSES, y).astype("int32")
    val_flip = rng.random(len(y_val)) < p["val_label_noise"]
    y_val = np.where(val_flip, (y_val + rng.integers(1, CLASSES, len(y_val))) % CLASSES, y_val).astype("int32")
    x_all = np.concatenate([x, np.zeros((1, MAX_LEN), "int32")])  # row n: the empty sequence
    y_all = np.concatenate([y, [0]]).astype("int32")
    order, steps = _order(len(y), p, spec.seed)
    y_stream, scrambled = _scramble(y_all, order, p, spec.seed)
    data = tf.data.Dataset.from_tensor_slices((x_all[order], y_stream)).batch(p["batch_size"])
    lr, peak = _schedule(keras, p, steps)
    opt = keras.optimizers.AdamW(learning_rate=lr, weight_decay=0.01)
    model = _model(keras, p)
    model.compile(
        optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    model.fit(
        data,
        validation_data=(x_val, y_val),
        validation_batch_size=256,
        epochs=p["epochs"],
        steps_per_epoch=steps,
        callbacks=[tensorboard_callback(keras, run_dir, p["update_freq"], steps)],
        shuffle=False,  # the stream is already in per-epoch shuffled order
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
        schedule="warmup_cosine",
        shuffled=True,
        injected=_injected(p, (int(flip.sum()), int(val_flip.sum())), scrambled, steps),
    )


PROGRAM = Program(
    name=NAME,
    family="transformer",
    data="synthetic token sequences (order x count rule, 4 classes)",
    script="keras_fit",
    writer="keras_tensorboard",
    framework="tensorflow",
    version=VERSION,
    runs=runs,
    train=train,
)
