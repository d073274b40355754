"""tf_estimator_style (dev): an MLP x synthetic tabular classes x ``tf.GradientTape`` loop that logs the way a
TF Estimator run under ``tf.estimator.train_and_evaluate`` does.

Why it exists: TF1-era Estimator code (``tf.estimator.train_and_evaluate``, the canned
``DNNClassifier``, the TF guide's custom ``model_fn``, the TF1 Object Detection API's
``model_lib``) is still all over public repositories, and its TensorBoard layout is unlike
Keras': there are no epochs, only the global step; the training scalars go into ``model_dir``
itself (so a reader sees them as ``loss``, ``accuracy``, ... with no sub-folder), the
evaluation scalars into ``model_dir/eval`` under the *same* tag names (``eval/loss``,
``eval/accuracy``); and the training ``loss`` is the raw loss of the single batch of the
logged step, written every ``save_summary_steps`` (100) steps, never an average.

Convention, verified in the sources (tensorflow/estimator at 26a7dc2, TensorFlow 2.21's
``tensorflow/python/training``):

- ``RunConfig`` defaults ``save_summary_steps=100``, ``log_step_count_steps=100``,
  ``save_checkpoints_secs=600`` (``estimator/run_config.py``). ``Estimator._train_with_estimator_spec``
  (``estimator/estimator.py``) adds ``summary.scalar('loss', estimator_spec.loss)`` unless the
  model_fn made a summary named ``loss``, appends a ``NanTensorHook(loss)`` (default
  ``fail_on_nan_loss=True``) and trains in one ``MonitoredTrainingSession(checkpoint_dir=model_dir,
  save_summaries_steps=..., log_step_count_steps=...)``.
- ``MonitoredTrainingSession`` (``training/monitored_session.py``) puts the chief hooks
  (``CheckpointSaverHook``), then ``StepCounterHook`` and ``SummarySaverHook(output_dir=model_dir)``,
  *then* the Estimator's hooks (``NanTensorHook``) in the hook list. ``SummarySaverHook``
  (``training/basic_session_run_hooks.py``) runs the merged summary op *in the same
  ``session.run`` as the train op* on its first step and then whenever the next step is
  ``>= last + save_steps``, and writes at the global step read *after* the update: steps 1,
  101, 201, ... The loss value is that step's batch loss (computed before the update).
  ``StepCounterHook`` writes ``global_step/sec`` (``global_step`` op name + "/sec") at 101,
  201, ... (its first trigger at step 1 only starts the clock). ``NanTensorHook`` checks
  ``np.isnan(loss)`` (not Inf) and raises ``NanLossDuringTrainingError``: training stops at the
  first NaN loss. The summary hook's ``after_run`` comes first, so the NaN reaches the event
  file only if that step is a summary step; the run ends there with no final evaluation.
- ``train_and_evaluate`` run locally (``estimator/training.py``, ``_TrainingExecutor.run_local``)
  calls ``estimator.train`` *once* with a ``_NewCheckpointListenerForEvaluate``: every new
  checkpoint but the first (step 0) is evaluated unless ``EvalSpec.throttle_secs`` (600) has not
  passed, and the final checkpoint always is. So evaluation happens every
  ``save_checkpoints_steps`` steps (here ``throttle_secs=0``), not per epoch.
- ``Estimator._evaluate_run`` writes the evaluation dict with ``_write_dict_to_summary`` to
  ``eval_dir()`` = ``model_dir/eval`` (``eval_<name>`` for a named ``EvalSpec``) at the
  checkpoint's global step, as ``simple_value`` scalars; the ``global_step`` entry is *skipped*;
  a ``checkpoint_path`` string tensor is written beside them. The eval ``loss`` is
  ``tf.compat.v1.metrics.mean(loss)`` (``_verify_and_create_loss_metric``): the mean over
  evaluation *batches* of the batch loss.
- The custom ``model_fn`` of the TF guide ("Creating custom Estimators",
  ``samples/core/get_started/custom_estimator.py``, copied into many repositories) does
  ``accuracy = tf.metrics.accuracy(...)``, ``eval_metric_ops={'accuracy': accuracy}`` and
  ``tf.summary.scalar('accuracy', accuracy[1])``. ``accuracy[1]`` is the metric's update op
  (``ops/metrics_impl.py``: ``total``/``count`` local variables), so in TRAIN mode the training
  ``accuracy`` is a *running* accuracy over every batch since the training session started,
  i.e. since step 0 under ``train_and_evaluate``: it lags far behind the model. Many
  model_fns also summarise the LR, e.g. ``tf.compat.v1.summary.scalar('learning_rate',
  learning_rate)`` in ``official/r1/resnet/resnet_run_loop.py``; its value comes from the
  global step *before* the update (the schedule reads the step in the same run).
- The canned v1 ``tf.compat.v1.estimator.DNNClassifier`` (``canned/dnn.py``, ``canned/head.py``)
  defaults to ``loss_reduction=SUM`` and Adagrad at 0.05: the training ``loss`` is the *sum*
  over the batch, so ``average_loss`` (loss / batch size) is summarised too; the DNN adds
  ``dnn/hiddenlayer_<i>/fraction_of_zero_values`` and ``dnn/logits/fraction_of_zero_values``
  (and activation histograms, not written here). The head's eval metrics are ``average_loss``
  and ``accuracy``, beside the Estimator's ``loss`` (here the mean of per-batch *sums*). No
  training accuracy and no LR summary.
- Not used here, for the record: the TF2 Object Detection API (``research/object_detection/
  model_lib_v2.py``) writes ``Loss/classification_loss``, ``Loss/localization_loss``,
  ``Loss/regularization_loss``, ``Loss/total_loss`` and ``learning_rate`` to ``model_dir/train``
  every step (``record_if(global_step % num_steps_per_iteration == 0)``, 1 off TPU), and the
  evaluation's COCO metrics (``DetectionBoxes_Precision/mAP``, ...) plus the same ``Loss/*`` tags
  to ``model_dir/eval`` (``eval/<eval_input name>`` in newer versions).

This program writes with TF2 ``tf.summary`` file writers (one for ``run_dir``, one for
``run_dir/eval``), but as ``tf.summary.experimental.write_raw_pb`` of ``Summary`` protos with
``simple_value``, so the event files hold what the Estimator's ``FileWriter`` writes (the graph,
meta graph, ``SessionLog`` START events and histograms are left out, and the file names are the
TF2 writer's, ``...tfevents.<time>.<host>.<pid>.<n>.v2``). ``head="custom"`` runs are
the guide's model_fn with an LR schedule (training: ``loss``, ``accuracy`` (running),
``learning_rate``, ``global_step/sec``; eval: ``loss``, ``accuracy``); ``head="canned"`` runs
are a v1 ``DNNClassifier`` (training: ``loss`` (batch sum), ``average_loss``, the zero fractions,
``global_step/sec``; eval: ``loss``, ``average_loss``, ``accuracy``).

Data: ``sklearn.datasets.make_classification``, 4 balanced classes, 12 features (6 informative,
2 redundant), 2 Gaussian clusters per class (not linearly separable), ``flip_y`` 2% of the labels
random; 25,000 training rows, 1,000 evaluation rows, standardised with the training statistics
(a ``numeric_column`` ``normalizer_fn``). The input_fn is ``shuffle().repeat().batch(100)``: a
fresh permutation every pass, batches cut across pass boundaries; a pass is 250 steps, so the
default 5,000 steps are 20 passes with 2.5 training summaries and one evaluation (every 500
steps) per two passes. The evaluation input_fn batches like training and covers the whole
evaluation set (``EvalSpec(steps=None)``). Chance accuracy 0.25, ln 4 = 1.386. Model: ReLU MLP
(glorot-uniform kernels, zero biases), optional dropout (training only) and L2
(``weight_decay * sum(tf.nn.l2_loss(kernel))``, in the loss in both modes, as in
resnet_run_loop); ``wide=True`` adds the linear logit part of a ``DNNLinearCombinedClassifier``.

What the convention hides, found while building this program: a NaN *training* loss is almost
never in the event files, since ``NanTensorHook`` stops the run at the first one and only a
summary step (one step in ``save_summary_steps``) writes it; the curves simply end. And a NaN or
Inf *feature* does not even produce a NaN loss behind a ReLU layer: TensorFlow's fused
MatMul+BiasAdd+Relu (grappler's remapper, on by default; seen here in ``tf.function`` on CPU,
TF 2.21) maps a NaN pre-activation to 0, so the loss stays finite while the NaN gradient
silently turns the weights to NaN and the network into a constant. Only a path without a ReLU
(the linear part of wide & deep here) carries an Inf record to a NaN loss; the nonfinite run
does that on the evaluation side, where no ``NanTensorHook`` watches.

Runs (intent: how it is made; see `runs` for the numbers):

==================================  ========================  ====================================================
run                                 intent                    how (numbers from the seeds below)
==================================  ========================  ====================================================
healthy_adam                        healthy                   the guide's model_fn, 64-64 MLP, Adam 1e-3, 5,000
                                                              steps (20 passes): eval loss 0.46 -> 0.26, still
                                                              falling; eval accuracy 0.92
healthy_warmup_cosine               healthy                   momentum 0.05 with the OD API's
                                                              ``cosine_decay_with_warmup`` (500 warm-up steps from
                                                              0.005, cosine to 0 at step 5,000)
healthy_dropout_exp_decay           healthy                   128-128, dropout 0.3, momentum 0.03 x0.5 every 1,000
                                                              steps (``exponential_decay``, staircase): eval loss
                                                              below the training loss, flat over the last third
healthy_canned_tiny_eval            healthy                   canned DNNClassifier (64-32), 60 evaluation rows:
                                                              accuracy moves in 1/60 steps, and ``eval/loss`` is
                                                              the sum over one 60-row batch (train: 100 rows)
healthy_canned_dnn                  healthy                   canned DNNClassifier (64-32): training ``loss`` is
                                                              the batch sum (139 -> ~38), ``average_loss`` beside
overfitting_few_rows                overfitting               400 training rows, 256-256, Adam 2e-4, 4,000 steps,
                                                              evaluated every 100: eval loss best 0.67 at step
                                                              400, 1.48 at the end
overfitting_canned_few_rows         overfitting               the same rows with the canned DNNClassifier
                                                              (Adagrad 0.05): eval loss (batch sums) 103 -> 300
lr_too_high_warmup_peak             lr_too_high               Adam with a 500-step warm-up to 0.1, cosine to 0:
                                                              the loss stalls at ~0.62 while the LR is high and
                                                              falls to ~0.3 only as it anneals
divergence_growing_lr               divergence                ``exponential_decay`` with decay_rate 1.5 (a growth
                                                              by mistake), momentum from 0.01, global-norm clip 5:
                                                              the loss falls to 0.39, then climbs to ~20, finite
nonfinite_inf_eval_record           nonfinite                 wide & deep (a linear logit part beside the DNN);
                                                              one evaluation record holds an Inf feature (a ratio
                                                              with a zero denominator): ``eval/loss`` is NaN at
                                                              every evaluation, eval accuracy and training fine
lr_too_small                        lr_too_small              plain SGD at 1e-3, summaries every 20 steps: an even
                                                              crawl 1.48 -> 0.96
no_learning_shuffled_labels         no_learning               training labels joined to the rows in another order:
                                                              the loss stays at ln 4, eval accuracy at chance
plateau_label_noise                 plateau                   30% of all labels random, one 16-unit layer: both
                                                              losses flat at ~0.97 over the last third
val_plateau_mid_train               val_plateau               8,000 training rows, 128-128, L2 1e-4: eval loss
                                                              flat (+3%) over the last third while training falls
                                                              40%
lr_decay_too_early                  lr_decay_too_early        ``piecewise_constant`` 0.02 -> 0.002 -> 0.0002 at
                                                              steps 300 and 600 of 5,000 (momentum)
underfitting_linear                 underfitting              no hidden layer (softmax regression) on the
                                                              two-cluster classes: accuracy levels at ~0.53
still_learning_short                still_learning            momentum 0.002 stopped after 1,500 steps: eval loss
                                                              still -8% over the last third
unshuffled_class_sorted             unshuffled                2,560 rows sorted by class, no ``.shuffle()``, batch
                                                              32, plain SGD 0.02, summaries every 10 steps: the
                                                              loss saw-tooths with every pass
loss_spikes_corrupt_shard           loss_spikes               summaries every 20 steps; three corrupt shards (5
                                                              batches each, from steps 2201, 3301 and 4401) with
                                                              every label shifted by one class: ~14x spikes
noisy_batch2                        noisy                     batch 2 (each logged loss is one 2-row batch), 2,000
                                                              rows, 60 evaluation rows every 250 steps
data_problem_eval_label_map         data_problem              evaluation labels written with the class vocabulary
                                                              reversed (c -> 3 - c): eval accuracy 0.05-0.07
val_better_than_train_noisy_labels  val_better_than_train     30% of the training labels wrong (evaluation clean),
                                                              dropout 0.4: training loss ~1.2 over eval ~0.7
mismatch_eval_label_noise           best_checkpoint_mismatch  30% of the evaluation labels wrong, Adam 1e-4,
                                                              evaluated every 100 steps: eval loss best at step
                                                              500, eval accuracy best at step ~4,600 of 5,000
==================================  ========================  ====================================================

Every run's ``params`` may be overridden (e.g. ``max_steps``) to scale it down for a test.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._tf import tf_setup
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "tf_estimator_style"

DEFAULTS: dict[str, Any] = {
    "head": "custom",  # custom (the guide's model_fn + an LR summary) | canned (v1 DNNClassifier: SUM loss, Adagrad)
    # data
    "n_train": 25000,
    "n_eval": 1000,
    "n_classes": 4,
    "n_features": 12,
    "n_informative": 6,
    "clusters": 2,  # Gaussian clusters per class
    "class_sep": 1.0,
    "flip_y": 0.02,  # share of all labels drawn at random by the generator
    "train_label_noise": 0.0,  # share of training labels replaced by another class
    "eval_label_noise": 0.0,  # share of evaluation labels replaced by another class
    "eval_label_map": False,  # evaluation labels written with the class vocabulary reversed (a fixed permutation)
    "eval_inf_record": False,  # one evaluation record with an Inf feature (a ratio with a zero denominator)
    "shuffle_labels": False,  # training labels joined to the rows in another order
    "order": "shuffle",  # shuffle | class_sorted (rows sorted by class, no .shuffle() in the input_fn)
    "corrupt_steps": [],  # global steps whose batch has every label shifted by one class (a corrupt shard)
    # model
    "hidden": [64, 64],
    "dropout": 0.0,
    "l2": 0.0,
    "wide": False,  # add a linear logit part on the raw features (DNNLinearCombinedClassifier's "wide" model)
    # optimizer and schedule (TF1 names)
    "optimizer": "adam",  # adam | momentum | sgd (canned: always Adagrad 0.05)
    "momentum": 0.9,
    "lr": 1e-3,
    "clip_norm": 0.0,  # tf.clip_by_global_norm, 0 = off
    "schedule": "constant",  # constant | exponential_decay | piecewise_constant | cosine_decay_with_warmup
    "decay_steps": 1000,
    "decay_rate": 0.5,
    "staircase": True,
    "boundaries": [],  # piecewise_constant: values[i] while step <= boundaries[i]
    "values": [],
    "warmup_steps": 0,  # cosine_decay_with_warmup (the OD API's): linear from warmup_lr to lr, then cosine to 0
    "warmup_lr": 0.0,
    # RunConfig / TrainSpec
    "batch": 100,
    "max_steps": 5000,
    "save_summary_steps": 100,
    "log_step_count_steps": 100,
    "save_checkpoints_steps": 500,  # EvalSpec throttle_secs=0: every checkpoint is evaluated
}


def _r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
    return RunSpec(program=NAME, name=name, intent=intent, params=params, seed=seed)


def runs() -> list[RunSpec]:
    return [
        _r("healthy_adam", "healthy", 1),
        _r("healthy_warmup_cosine", "healthy", 2, optimizer="momentum", lr=0.05, schedule="cosine_decay_with_warmup",
           warmup_steps=500, warmup_lr=0.005),
        _r("healthy_dropout_exp_decay", "healthy", 3, hidden=[128, 128], dropout=0.3, optimizer="momentum", lr=0.03,
           schedule="exponential_decay", decay_steps=1000, decay_rate=0.5),
        _r("healthy_canned_tiny_eval", "healthy", 4, head="canned", hidden=[64, 32], n_eval=60,
           save_checkpoints_steps=250),
        _r("healthy_canned_dnn", "healthy", 5, head="canned", hidden=[64, 32]),
        _r("overfitting_few_rows", "overfitting", 6, n_train=400, hidden=[256, 256], lr=2e-4, max_steps=4000,
           save_checkpoints_steps=100),
        _r("overfitting_canned_few_rows", "overfitting", 7, head="canned", n_train=400, hidden=[256, 256],
           max_steps=3000, save_checkpoints_steps=50),
        _r("lr_too_high_warmup_peak", "lr_too_high", 8, lr=0.1, schedule="cosine_decay_with_warmup",
           warmup_steps=500, warmup_lr=0.001),
        _r("divergence_growing_lr", "divergence", 9, optimizer="momentum", lr=0.01, clip_norm=5.0,
           schedule="exponential_decay", decay_steps=250, decay_rate=1.5, staircase=False),
        _r("nonfinite_inf_eval_record", "nonfinite", 10, wide=True, eval_inf_record=True),
        _r("lr_too_small", "lr_too_small", 11, optimizer="sgd", lr=1e-3, save_summary_steps=20),
        _r("no_learning_shuffled_labels", "no_learning", 12, shuffle_labels=True),
        _r("plateau_label_noise", "plateau", 13, flip_y=0.3, hidden=[16], lr=3e-3, save_summary_steps=20),
        _r("val_plateau_mid_train", "val_plateau", 14, n_train=8000, hidden=[128, 128], l2=1e-4),
        _r("lr_decay_too_early", "lr_decay_too_early", 15, optimizer="momentum", schedule="piecewise_constant",
           boundaries=[300, 600], values=[0.02, 0.002, 0.0002]),
        _r("underfitting_linear", "underfitting", 16, hidden=[], lr=1e-2),
        _r("still_learning_short", "still_learning", 17, optimizer="momentum", lr=0.002, max_steps=1500,
           save_checkpoints_steps=100, save_summary_steps=20),
        _r("unshuffled_class_sorted", "unshuffled", 18, order="class_sorted", n_train=2560, batch=32,
           optimizer="sgd", lr=0.02, save_summary_steps=10, max_steps=2400),
        _r("loss_spikes_corrupt_shard", "loss_spikes", 19, save_summary_steps=20,
           corrupt_steps=[s for start in (2201, 3301, 4401) for s in range(start, start + 5)]),
        _r("noisy_batch2", "noisy", 20, n_train=2000, batch=2, n_eval=60, save_checkpoints_steps=250),
        _r("data_problem_eval_label_map", "data_problem", 21, eval_label_map=True),
        _r("val_better_than_train_noisy_labels", "val_better_than_train", 22, train_label_noise=0.3, dropout=0.4,
           hidden=[128, 128]),
        _r("mismatch_eval_label_noise", "best_checkpoint_mismatch", 23, eval_label_noise=0.3, lr=1e-4,
           save_checkpoints_steps=100),
    ]


# --------------------------------------------------------------------------- data


def _other_class(y: np.ndarray, share: float, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``y`` with ``share`` of its labels replaced by a different class."""
    y = y.copy()
    bad = rng.random(len(y)) < share
    y[bad] = (y[bad] + rng.integers(1, n_classes, int(bad.sum()))) % n_classes
    return y


def _data(p: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    """Training and evaluation rows (standardised with the training statistics), the data faults applied."""
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=p["n_train"] + p["n_eval"], n_features=p["n_features"], n_informative=p["n_informative"],
        n_redundant=2, n_classes=p["n_classes"], n_clusters_per_class=p["clusters"], class_sep=p["class_sep"],
        flip_y=p["flip_y"], random_state=seed,
    )
    rng = np.random.default_rng(seed)
    xt, yt = x[: p["n_train"]], y[: p["n_train"]]
    xv, yv = x[p["n_train"] :], y[p["n_train"] :]
    mu, sd = xt.mean(0), xt.std(0) + 1e-8
    xt, xv = (xt - mu) / sd, (xv - mu) / sd
    if p["train_label_noise"]:
        yt = _other_class(yt, p["train_label_noise"], p["n_classes"], rng)
    if p["shuffle_labels"]:  # the join bug: labels attached to other rows
        yt = yt[rng.permutation(len(yt))]
    if p["eval_label_noise"]:
        yv = _other_class(yv, p["eval_label_noise"], p["n_classes"], rng)
    if p["eval_label_map"]:  # eval file written with the class vocabulary in reverse order
        yv = p["n_classes"] - 1 - yv
    if p["eval_inf_record"]:
        xv[0, 0] = np.inf
    if p["order"] == "class_sorted":
        idx = np.argsort(yt, kind="stable")
        xt, yt = xt[idx], yt[idx]
    return {"x": xt.astype(np.float32), "y": yt.astype(np.int32), "vx": xv.astype(np.float32),
            "vy": yv.astype(np.int32)}


def _stream(p: dict[str, Any], n: int, rng: np.random.Generator) -> Any:
    """``dataset.shuffle(n).repeat()``: a fresh permutation every pass (or file order), batches cut across passes."""
    while True:
        yield from (np.arange(n) if p["order"] == "class_sorted" else rng.permutation(n))


# --------------------------------------------------------------------------- schedule


def lr_at(p: dict[str, Any], step: int) -> float:
    """The TF1 schedule's value at global step ``step`` (the step before the update that uses it)."""
    lr, kind = float(p["lr"]), p["schedule"]
    if kind == "constant":
        return lr
    if kind == "exponential_decay":
        e = step / p["decay_steps"]
        return lr * p["decay_rate"] ** (math.floor(e) if p["staircase"] else e)
    if kind == "piecewise_constant":
        return float(p["values"][sum(step > b for b in p["boundaries"])])
    if kind == "cosine_decay_with_warmup":
        total, warm = p["max_steps"], p["warmup_steps"]
        if step > total:
            return 0.0
        if step < warm:
            return p["warmup_lr"] + (lr - p["warmup_lr"]) / warm * step
        return 0.5 * lr * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))
    raise ValueError(f"unknown schedule {kind!r}")


def _lr_peak(p: dict[str, Any]) -> float:
    if p["head"] == "canned":
        return 0.05
    return max(lr_at(p, s) for s in range(p["max_steps"]))


# --------------------------------------------------------------------------- hooks and writers


class _Timer:
    """``SecondOrStepTimer`` by steps: fires on the first step seen, then at ``>= last + every``."""

    def __init__(self, every: int) -> None:
        self.every, self.last, self.last_time = every, None, 0.0

    def due(self, step: int) -> bool:
        return self.last is None or step >= self.last + self.every

    def fire(self, step: int) -> tuple[int, float] | None:
        now = time.perf_counter()
        elapsed = None if self.last is None else (step - self.last, now - self.last_time)
        self.last, self.last_time = step, now
        return elapsed


def _write(values: dict[str, float], step: int) -> None:
    """One ``Summary`` proto of ``simple_value`` scalars, as the Estimator's ``FileWriter`` writes them."""
    import tensorflow as tf
    from tensorflow.core.framework.summary_pb2 import Summary

    summary = Summary(value=[Summary.Value(tag=k, simple_value=float(v)) for k, v in values.items()])
    tf.summary.experimental.write_raw_pb(summary.SerializeToString(), step=step)


def _write_checkpoint_path(path: str, step: int) -> None:
    import tensorflow as tf
    from tensorflow.core.framework.summary_pb2 import Summary

    summary = Summary()
    summary.value.add(tag="checkpoint_path").tensor.CopyFrom(tf.make_tensor_proto(path, dtype=tf.string))
    tf.summary.experimental.write_raw_pb(summary.SerializeToString(), step=step)


# --------------------------------------------------------------------------- training


def train(spec: RunSpec, run_dir: Path) -> Facts:
    """Train one run and write its Estimator-layout summaries into ``run_dir`` and ``run_dir/eval``."""
    p = run_params(spec, DEFAULTS)
    tf_setup(spec.seed)
    import keras
    import tensorflow as tf

    canned = p["head"] == "canned"
    d = _data(p, spec.seed)
    n_features, n_classes = d["x"].shape[1], p["n_classes"]
    init = keras.initializers.GlorotUniform()  # seeded by tf_setup
    sizes = [n_features, *p["hidden"], n_classes]
    kernels = [tf.Variable(init((a, b))) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    biases = [tf.Variable(tf.zeros([b])) for b in sizes[1:]]
    variables = [v for pair in zip(kernels, biases, strict=True) for v in pair]
    if p["wide"]:  # the linear model's weights start at zero, as in DNNLinearCombinedClassifier
        wide = [tf.Variable(tf.zeros([n_features, n_classes])), tf.Variable(tf.zeros([n_classes]))]
        variables += wide
    if canned:
        opt = keras.optimizers.Adagrad(learning_rate=0.05, initial_accumulator_value=0.1)
    elif p["optimizer"] == "adam":
        opt = keras.optimizers.Adam(learning_rate=p["lr"])
    else:
        opt = keras.optimizers.SGD(learning_rate=p["lr"], momentum=p["momentum"] if p["optimizer"] == "momentum"
                                   else 0.0)
    dropout, l2, clip = float(p["dropout"]), float(p["l2"]), float(p["clip_norm"])
    dropout_rng = tf.random.Generator.from_seed(spec.seed)

    def forward(x: Any, training: bool) -> tuple[Any, list[Any]]:
        h, zero_fractions = x, []
        for w, b in zip(kernels[:-1], biases[:-1], strict=True):
            h = tf.nn.relu(h @ w + b)
            if training and dropout:
                keep = tf.cast(dropout_rng.uniform(tf.shape(h)) >= dropout, h.dtype)
                h = h * keep / (1.0 - dropout)
            zero_fractions.append(tf.math.zero_fraction(h))
        logits = h @ kernels[-1] + biases[-1]
        if p["wide"]:
            logits = logits + x @ wide[0] + wide[1]
        return logits, [*zero_fractions, tf.math.zero_fraction(logits)]

    def l2_loss() -> Any:
        return l2 * tf.add_n([tf.nn.l2_loss(w) for w in kernels]) if l2 else tf.constant(0.0)

    sig = [tf.TensorSpec([None, n_features], tf.float32), tf.TensorSpec([None], tf.int32)]

    @tf.function(input_signature=sig)
    def train_step(x: Any, y: Any) -> tuple[Any, Any, Any]:
        with tf.GradientTape() as tape:
            logits, zeros = forward(x, True)
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
            # canned v1: Reduction.SUM over the batch; custom: tf.losses' mean + weight decay
            loss = tf.reduce_sum(ce) if canned else tf.reduce_mean(ce) + l2_loss()
        grads = tape.gradient(loss, variables)
        if clip:
            grads, _ = tf.clip_by_global_norm(grads, clip)
        opt.apply_gradients(zip(grads, variables, strict=True))
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1, output_type=tf.int32), y), tf.float32))
        return loss, correct, tf.stack(zeros)

    @tf.function(input_signature=sig)
    def eval_step(x: Any, y: Any) -> tuple[Any, Any, Any]:
        logits, _ = forward(x, False)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
        correct = tf.cast(tf.equal(tf.argmax(logits, 1, output_type=tf.int32), y), tf.float32)
        return ce, correct, l2_loss()

    def evaluate() -> dict[str, float]:
        """The eval input_fn batches the eval set like training; ``loss`` = mean of the per-batch losses."""
        ce, correct, reg = (t.numpy() for t in eval_step(tf.constant(d["vx"]), tf.constant(d["vy"])))
        bs = p["batch"]
        chunks = [ce[i : i + bs] for i in range(0, len(ce), bs)]
        if canned:
            out = {"loss": float(np.mean([c.sum() for c in chunks])), "average_loss": float(ce.mean())}
        else:
            out = {"loss": float(np.mean([c.mean() for c in chunks]) + reg)}
        out["accuracy"] = float(correct.mean())
        return out

    rng = np.random.default_rng(spec.seed)
    stream = _stream(p, len(d["y"]), rng)
    corrupt = set(p["corrupt_steps"])
    summaries, counter = _Timer(p["save_summary_steps"]), _Timer(p["log_step_count_steps"])
    train_writer = tf.summary.create_file_writer(str(run_dir))
    eval_writer = tf.summary.create_file_writer(str(run_dir / "eval"))
    seen = correct_total = 0.0
    stopped_at = None
    for step in range(p["max_steps"]):  # ``step`` = global step before the update, as the schedule reads it
        gs = step + 1
        idx = np.fromiter((next(stream) for _ in range(p["batch"])), np.int64, p["batch"])
        xb, yb = d["x"][idx], d["y"][idx]
        if gs in corrupt:  # a corrupt shard: every label of the batch shifted by one class
            yb = (yb + 1) % n_classes
        lr = 0.05 if canned else lr_at(p, step)
        opt.learning_rate.assign(lr)
        loss_t, correct_t, zeros_t = train_step(tf.constant(xb), tf.constant(yb))
        loss = float(loss_t)
        seen += len(yb)
        correct_total += float(correct_t)
        # hooks in MonitoredTrainingSession's order: checkpoint (+ evaluation), step counter, summaries, NaN check
        if gs % p["save_checkpoints_steps"] == 0 or gs == p["max_steps"]:
            with eval_writer.as_default():
                _write(evaluate(), gs)
                _write_checkpoint_path(f"{run_dir}/model.ckpt-{gs}", gs)
        if counter.due(gs):
            elapsed = counter.fire(gs)
            if elapsed is not None:
                with train_writer.as_default():
                    _write({"global_step/sec": elapsed[0] / max(elapsed[1], 1e-9)}, gs)
        if summaries.due(gs):
            summaries.fire(gs)
            if canned:
                values = {"loss": loss, "average_loss": loss / len(yb)}
                names = [f"dnn/hiddenlayer_{i}" for i in range(len(p["hidden"]))] + ["dnn/logits"]
                values |= {f"{n}/fraction_of_zero_values": z for n, z in zip(names, zeros_t.numpy(), strict=True)}
            else:
                values = {"loss": loss, "accuracy": correct_total / seen, "learning_rate": lr}
            with train_writer.as_default():
                _write(values, gs)
        if math.isnan(loss):  # NanTensorHook: NanLossDuringTrainingError, no further checkpoint or evaluation
            stopped_at = gs
            break
    train_writer.close()
    eval_writer.close()
    return _facts(p, spec, len(d["y"]), stopped_at)


def _schedule_name(p: dict[str, Any]) -> str:
    kind = p["schedule"]
    if p["head"] == "canned" or kind == "constant":
        return "constant"
    if kind == "exponential_decay":
        return "exponential" if p["decay_rate"] < 1 else "exponential_growth"
    if kind == "piecewise_constant":
        v = p["values"]
        return "step_decay" if all(b <= a for a, b in zip(v[:-1], v[1:], strict=True)) else "piecewise"
    return "warmup_cosine"


def _facts(p: dict[str, Any], spec: RunSpec, n_train: int, stopped_at: int | None) -> Facts:
    tags = {"train_loss": "loss", "batch_loss": "loss", "val_loss": "eval/loss", "val_metric": "eval/accuracy"}
    if p["head"] != "canned":
        tags |= {"train_metric": "accuracy", "lr": "learning_rate"}
    spe = max(1, round(n_train / p["batch"]))
    injected: dict[str, Any] = {"intent": spec.intent}
    injected |= {k: v for k, v in spec.params.items() if k not in ("corrupt_steps",)}
    if p["head"] == "canned":
        injected["head"] = "canned v1 DNNClassifier: training loss summed over the batch, Adagrad 0.05"
    if p["corrupt_steps"]:
        injected["corrupt_steps"] = f"labels shifted by one class at global steps {p['corrupt_steps']}"
    if p["eval_label_map"]:
        injected["eval_label_map"] = "evaluation labels written with the class vocabulary reversed (c -> 3 - c)"
    if stopped_at is not None:
        injected["stopped_at"] = f"NaN loss at global step {stopped_at}: training stopped (NanTensorHook)"
    return Facts(
        tags=tags,
        steps={role: "step" for role in tags},
        task="classification",
        metric="accuracy",
        metric_direction="max",
        num_classes=p["n_classes"],
        chance_metric=1.0 / p["n_classes"],
        epochs=max(1, round(p["max_steps"] / spe)),
        steps_per_epoch=spe,
        batch_size=p["batch"],
        lr_peak=_lr_peak(p),
        schedule=_schedule_name(p),
        log_every_steps=p["save_summary_steps"],
        eval_every_steps=p["save_checkpoints_steps"],
        shuffled=p["order"] != "class_sorted",
        injected=injected,
    )


PROGRAM = Program(
    name=NAME,
    family="mlp",
    data="sklearn make_classification (4 classes, 12 features, 2 clusters per class)",
    script="tf_loop",
    writer="tf_summary",
    framework="tensorflow",
    version=1,
    runs=runs,
    train=train,
)
