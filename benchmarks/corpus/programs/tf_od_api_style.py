"""tf_od_api_style (dev): a one-object CNN "detector" x synthetic 16x16 shapes x ``tf.GradientTape`` loop that
logs the way the TensorFlow Object Detection API's TF2 trainer (``model_main_tf2.py``) does.

Why it exists: the TF2 Object Detection API is how a great many public detection models were
(and are) fine-tuned, and its TensorBoard layout is neither Keras' nor the Estimator's: there
are no epochs, only the global step; the training scalars go into ``model_dir/train`` and are
written once every 100 steps (the loss of the *single batch* of that step, never an average);
a separate evaluator process writes the COCO metrics and the *same* ``Loss/*`` tag names into
``model_dir/eval`` at each checkpoint's global step, starting with the checkpoint of step 0.

Convention, verified in the sources (tensorflow/models ``research/object_detection/model_lib_v2.py``
at 9400d73c, compared with the older ``model_lib_v2.py`` at 00c3ce73;
``research/object_detection/utils/learning_schedules.py`` at 1a84b373; the COCO metric names as
``metrics/coco_evaluation.py`` returns them, asserted in its tests):

- ``train_loop`` opens ``tf.summary.create_file_writer(os.path.join(model_dir, 'train'))`` and
  runs ``NUM_STEPS_PER_ITERATION = 100`` training steps inside one ``tf.function``
  (``_dist_train_step``) per loop iteration, all under ``tf.summary.record_if(lambda: global_step
  % num_steps_per_iteration == 0)``. After each iteration the Python loop writes
  ``steps_per_sec`` (100 / the iteration's wall time) and every entry of the last step's
  ``losses_dict`` plus ``learning_rate`` (``learning_rate_fn()``, i.e. the schedule at the new
  global step) at ``step=global_step``: so the training curves have one point every 100 steps,
  at 100, 200, ..., and each loss point is the loss of one batch (computed before that step's
  update). ``record_summaries`` only controls the model's own summaries (e.g. the
  ``train_input_images`` image summary, left out here), not the losses. (The older version at
  00c3ce73 wrote the losses inside ``eager_train_step`` at every step, and
  ``Loss/normalized_total_loss`` beside them; the current one writes neither.)
- ``losses_dict`` (``_compute_losses_and_predictions_dicts``) is the model's loss dict
  (``Loss/classification_loss``, ``Loss/localization_loss`` for the SSD / Faster R-CNN
  meta-architectures) plus ``Loss/regularization_loss`` (``add_n`` of the model's
  regularisation losses, when ``add_regularization_loss`` and there are any) and
  ``Loss/total_loss`` (``add_n`` of all of them); the gradient is taken of ``Loss/total_loss``,
  clipped by global norm when ``gradient_clipping_by_norm > 0``. There is *no* NaN check in the
  TF2 loop: a NaN loss is logged and training goes on.
- Checkpoints: ``manager.save()`` at global step 0, then after an iteration whenever
  ``global_step - checkpointed_step >= checkpoint_every_n`` (default 1000): since this is tested
  only every 100 steps, ``checkpoint_every_n=250`` checkpoints at 300, 600, ...
- ``eval_continuously`` (a separate ``model_main_tf2.py`` process with ``--checkpoint_dir``)
  iterates over new checkpoints (``tf.train.checkpoints_iterator``), restores each and calls
  ``eager_eval_loop`` under a writer on ``os.path.join(model_dir, 'eval', eval_input_config.name)``
  (``eval`` for the usual unnamed eval input; ``model_dir + '/eval' + name`` at 00c3ce73), at
  ``step=global_step`` of the checkpoint. ``eager_eval_loop`` writes every evaluator metric and,
  beside them, each ``Loss/*`` entry averaged over the evaluation *batches*
  (``tf.reduce_mean`` of the per-batch losses; ``eval_config.batch_size`` defaults to 1).
  The COCO evaluator's 12 metrics: ``DetectionBoxes_Precision/mAP``, ``.../mAP@.50IOU``,
  ``.../mAP@.75IOU``, ``.../mAP (small)``, ``(medium)``, ``(large)``,
  ``DetectionBoxes_Recall/AR@1``, ``AR@10``, ``AR@100``, ``AR@100 (small)``, ``(medium)``,
  ``(large)``. COCO's area ranges are absolute pixels (small < 32²), so on 16x16 images every box
  is small and the medium/large entries are COCO's -1 ("no ground truth in this range").
- ``cosine_decay_with_warmup(global_step, learning_rate_base, total_steps, warmup_learning_rate,
  warmup_steps, hold_base_rate_steps)``: linear from ``warmup_learning_rate`` to the base over
  ``warmup_steps``, then ``0.5 * base * (1 + cos(pi * (step - warmup) / (total - warmup)))``, 0
  after ``total_steps``. ``manual_stepping`` (``manual_step_learning_rate`` in the configs): rate
  ``rates[i]`` from ``boundaries[i-1]`` on. ``exponential_decay_learning_rate``: ``initial *
  decay_factor ** (step / decay_steps)`` (staircase by default). The optimizer reads the schedule
  at the global step before the update.

This program reproduces that with ``tf.summary.scalar`` (tensor summaries, as
``tf.compat.v2.summary.scalar`` writes them): 100 steps per ``tf.function`` call, the losses of
the iteration's last step and ``learning_rate`` at the new global step into ``run_dir/train``,
an evaluation of every checkpoint (step 0 included) into ``run_dir/eval``. Left out: image
summaries, the checkpoint files, and the evaluator's wait between checkpoints (a slow evaluator
skips checkpoints; this one never does).

Model and losses: one anchor (the whole image) and a ``FasterRcnnBoxCoder``-style encoding
without scale factors (``ty, tx`` = box centre - 0.5, ``th, tw`` = log of the box size), a
conv-conv-dense CNN with a class head (softmax cross-entropy; the configs' focal sigmoid loss is
left out) and a box head (smooth L1 summed over the 4 code entries, as
``WeightedSmoothL1LocalizationLoss``), ``Loss/regularization_loss`` = ``l2 * sum(kernel²)`` (the
configs' ``l2_regularizer weight: 0.00004``). The detector outputs, per image, the one box with
every class at its softmax score (multiclass NMS keeps one box per class and anchor), so the
evaluator sees 3 detections per image: AR@1 counts only the top-scoring one, AR@10/AR@100 all 3.
The metrics are COCO's: per class and IoU threshold (0.50:0.05:0.95) a score-ranked
precision/recall curve, 101-point interpolated AP, averaged.

Data: 16x16 grey images with Gaussian noise (sigma 0.3) and one object of 3 classes (filled
rectangle, hollow rectangle, filled ellipse), 4-10 px each side, anywhere in the image; 2,000
training and 200 evaluation images by default; batches of 32 from a fresh permutation every pass
(``shuffle().repeat()``). A zero-size box (``ymin == ymax``) gives ``log(0)`` in the box
encoding, the classic TF OD API NaN.

Runs (intent: how it is made; see `runs` for the numbers):

=================================  ========================  =====================================================
run                                intent                    how
=================================  ========================  =====================================================
healthy_momentum_warmup_cosine     healthy                   the SSD configs' recipe: momentum 0.9,
                                                             ``cosine_decay_with_warmup`` 0.04 (warm-up 240 steps
                                                             from 0.0133), 3,000 steps, evaluated every 300
healthy_adam_constant              healthy                   Adam 1e-3, constant
healthy_manual_step                healthy                   momentum, ``manual_step_learning_rate`` 0.02 ->
                                                             0.002 -> 0.0002 at steps 1,800 and 2,400
healthy_tiny_eval                  healthy                   16 evaluation images: mAP moves in coarse jumps
healthy_heavy_augmentation         healthy                   random flips, brightness, extra noise and black
                                                             patches on the training images only: the eval
                                                             loss sits below the training loss
overfitting_few_images             overfitting               64 training images, 256-unit dense layer, no L2,
                                                             Adam 2e-3, evaluated every 200 steps
lr_too_high_warmup_peak            lr_too_high               momentum with a warm-up to 0.6, cosine after
divergence_growing_lr              divergence                ``exponential_decay_learning_rate`` with
                                                             decay_factor 1.6 (a growth by mistake), clipped at
                                                             norm 10: the loss falls, then climbs, finite
nonfinite_zero_size_box            nonfinite                 one training record with a zero-height box read at
                                                             step 1,500: log(0) -> NaN weights, NaN losses and
                                                             zero mAP from then on (no NaN check in the loop)
lr_too_small                       lr_too_small              plain SGD at 2e-3
no_learning_shuffled_annotations   no_learning               training annotations (class and box) joined to other
                                                             images; one 8-filter conv, no dense layer
plateau_label_noise                plateau                   25% of the class labels random and 1 px box jitter
                                                             on all images, 4-filter model
val_plateau_few_images             val_plateau               1,000 training images, L2 1e-4, Adam 1e-3
lr_decay_too_early                 lr_decay_too_early        ``manual_step_learning_rate`` 0.02 -> 0.002 ->
                                                             0.0002 at steps 200 and 400 of 3,000
underfitting_tiny_model            underfitting              2 conv filters, no dense layer
still_learning_short               still_learning            momentum 0.9 at 0.003 stopped after 1,000 steps,
                                                             evaluated every 100
loss_spikes_corrupt_batches        loss_spikes               annotations shifted by one image within the batch
                                                             on the logged steps 1,200, 1,800 and 2,400
noisy_batch2                       noisy                     batch 2, Adam 3e-4, 32 evaluation images
data_problem_eval_label_map        data_problem              evaluation classes written with a shifted label map
                                                             (c -> c + 1 mod 3)
mismatch_eval_label_noise          best_checkpoint_mismatch  35% of the evaluation classes wrong, Adam 2e-3,
                                                             evaluated every 100 steps: the eval loss turns up
                                                             while the mAP keeps improving
=================================  ========================  =====================================================

Every run's ``params`` may be overridden (e.g. ``total_steps``) to scale it down for a test.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus.programs._tf import tf_setup
from benchmarks.corpus.spec import Facts, Program, RunSpec, run_params

NAME = "tf_od_api_style"
CLASSES = ("filled_rect", "hollow_rect", "ellipse")
SIZE = 16
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
STEPS_PER_ITERATION = 100  # model_lib_v2.NUM_STEPS_PER_ITERATION

DEFAULTS: dict[str, Any] = {
    # data
    "n_train": 2000,
    "n_eval": 200,
    "noise": 0.3,
    "augment": False,  # random flip, brightness, extra noise, black patches (training images only)
    "class_noise": 0.0,  # share of training and evaluation classes replaced at random
    "box_jitter": 0.0,  # px of Gaussian noise on every annotated box edge
    "eval_class_noise": 0.0,  # share of evaluation classes replaced by another class
    "eval_label_map": False,  # evaluation classes written with a shifted label map (c -> c + 1 mod 3)
    "shuffle_annotations": False,  # training annotations joined to other images
    "corrupt_steps": [],  # global steps (as logged) whose batch has its annotations shifted by one image
    "zero_box_step": 0,  # global step (as logged) whose batch holds a zero-height box; 0 = none
    # model
    "filters": [8, 16],
    "dense": 64,  # 0 = no dense layer
    "l2": 4e-5,
    # optimizer and schedule (the OD API's names)
    "optimizer": "momentum",  # momentum | sgd | adam
    "momentum": 0.9,
    "lr": 0.01,
    "schedule": "constant",  # constant | cosine_decay_with_warmup | manual_step | exponential_decay
    "warmup_lr": 0.0,
    "warmup_steps": 0,
    "boundaries": [],
    "rates": [],
    "decay_steps": 1000,
    "decay_factor": 0.95,
    "staircase": True,
    "clip_norm": 0.0,  # gradient_clipping_by_norm, 0 = off
    # train_loop / eval_continuously
    "batch": 32,
    "total_steps": 3000,
    "checkpoint_every_n": 300,
}


def _r(name: str, intent: str, seed: int, **params: Any) -> RunSpec:
    return RunSpec(program=NAME, name=name, intent=intent, params=params, seed=seed)


def runs() -> list[RunSpec]:
    return [
        _r("healthy_momentum_warmup_cosine", "healthy", 1, lr=0.04, schedule="cosine_decay_with_warmup",
           warmup_lr=0.0133, warmup_steps=240),
        _r("healthy_adam_constant", "healthy", 2, optimizer="adam", lr=1e-3),
        _r("healthy_manual_step", "healthy", 3, schedule="manual_step", boundaries=[1800, 2400],
           rates=[0.02, 0.002, 0.0002]),
        _r("healthy_tiny_eval", "healthy", 4, optimizer="adam", lr=1e-3, n_eval=16),
        _r("healthy_heavy_augmentation", "healthy", 5, augment=True, lr=0.02, schedule="cosine_decay_with_warmup",
           warmup_lr=0.005, warmup_steps=240),
        _r("overfitting_few_images", "overfitting", 6, n_train=64, dense=256, l2=0.0, optimizer="adam", lr=2e-3,
           checkpoint_every_n=200),
        _r("lr_too_high_warmup_peak", "lr_too_high", 7, lr=0.6, schedule="cosine_decay_with_warmup",
           warmup_lr=0.06, warmup_steps=240),
        _r("divergence_growing_lr", "divergence", 8, lr=0.004, schedule="exponential_decay", decay_steps=300,
           decay_factor=1.6, staircase=False, clip_norm=10.0),
        _r("nonfinite_zero_size_box", "nonfinite", 9, zero_box_step=1500),
        _r("lr_too_small", "lr_too_small", 10, optimizer="sgd", lr=2e-3),
        _r("no_learning_shuffled_annotations", "no_learning", 11, shuffle_annotations=True, filters=[8], dense=0),
        _r("plateau_label_noise", "plateau", 12, class_noise=0.25, box_jitter=1.0, filters=[4], dense=0),
        _r("val_plateau_few_images", "val_plateau", 13, n_train=1000, l2=1e-4, optimizer="adam", lr=1e-3),
        _r("lr_decay_too_early", "lr_decay_too_early", 14, schedule="manual_step", boundaries=[200, 400],
           rates=[0.02, 0.002, 0.0002]),
        _r("underfitting_tiny_model", "underfitting", 15, filters=[2], dense=0, optimizer="adam", lr=1e-3),
        _r("still_learning_short", "still_learning", 16, lr=0.003, total_steps=1000, checkpoint_every_n=100),
        _r("loss_spikes_corrupt_batches", "loss_spikes", 17, optimizer="adam", lr=1e-3,
           corrupt_steps=[1200, 1800, 2400]),
        _r("noisy_batch2", "noisy", 18, batch=2, optimizer="adam", lr=3e-4, n_eval=32),
        _r("data_problem_eval_label_map", "data_problem", 19, optimizer="adam", lr=1e-3, eval_label_map=True),
        _r("mismatch_eval_label_noise", "best_checkpoint_mismatch", 20, eval_class_noise=0.35, optimizer="adam",
           lr=2e-3, n_train=600, checkpoint_every_n=100),
    ]


# --------------------------------------------------------------------------- data


def shapes(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` noisy 16x16 images with one object each: (images, classes, boxes [ymin, xmin, ymax, xmax] in 0..1)."""
    x = rng.normal(0.0, noise, (n, SIZE, SIZE)).astype(np.float32)
    y = rng.integers(0, len(CLASSES), n)
    h, w = rng.integers(4, 11, n), rng.integers(4, 11, n)
    y0, x0 = rng.integers(0, SIZE - h + 1), rng.integers(0, SIZE - w + 1)
    rr, cc = np.mgrid[0:SIZE, 0:SIZE]
    for i in range(n):
        inside = (rr >= y0[i]) & (rr < y0[i] + h[i]) & (cc >= x0[i]) & (cc < x0[i] + w[i])
        if y[i] == 1:  # hollow: the 1-px border only
            inside &= ~((rr > y0[i]) & (rr < y0[i] + h[i] - 1) & (cc > x0[i]) & (cc < x0[i] + w[i] - 1))
        elif y[i] == 2:  # ellipse inscribed in the box
            cy, cx = y0[i] + (h[i] - 1) / 2, x0[i] + (w[i] - 1) / 2
            inside &= ((rr - cy) / (h[i] / 2)) ** 2 + ((cc - cx) / (w[i] / 2)) ** 2 <= 1.0
        x[i][inside] += 1.0
    boxes = np.stack([y0, x0, y0 + h, x0 + w], 1).astype(np.float32) / SIZE
    return x[..., None], y.astype(np.int32), boxes


def _other_class(y: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    y = y.copy()
    bad = rng.random(len(y)) < share
    y[bad] = (y[bad] + rng.integers(1, len(CLASSES), int(bad.sum()))) % len(CLASSES)
    return y


def _data(p: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x, y, b = shapes(p["n_train"], p["noise"], rng)
    vx, vy, vb = shapes(p["n_eval"], p["noise"], rng)
    if p["class_noise"]:  # noisy annotators: random classes in both sets
        y = np.where(rng.random(len(y)) < p["class_noise"], rng.integers(0, len(CLASSES), len(y)), y)
        vy = np.where(rng.random(len(vy)) < p["class_noise"], rng.integers(0, len(CLASSES), len(vy)), vy)
    if p["box_jitter"]:
        for boxes in (b, vb):
            jittered = boxes + rng.normal(0, p["box_jitter"] / SIZE, boxes.shape).astype(np.float32)
            lo = np.clip(np.minimum(jittered[:, :2], jittered[:, 2:] - 2 / SIZE), 0, 1)
            hi = np.clip(np.maximum(jittered[:, 2:], lo + 2 / SIZE), 0, 1)
            boxes[:] = np.concatenate([lo, hi], 1)
    if p["shuffle_annotations"]:  # the join bug: annotations attached to other images
        perm = rng.permutation(len(y))
        y, b = y[perm], b[perm]
    if p["eval_class_noise"]:
        vy = _other_class(vy, p["eval_class_noise"], rng)
    if p["eval_label_map"]:
        vy = (vy + 1) % len(CLASSES)
    return {"x": x, "y": y.astype(np.int32), "b": b, "vx": vx, "vy": vy.astype(np.int32), "vb": vb}


def encode(boxes: np.ndarray) -> np.ndarray:
    """FasterRcnnBoxCoder against the whole-image anchor, no scale factors: (ty, tx, log h, log w)."""
    with np.errstate(divide="ignore"):
        h, w = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2 - 0.5, (boxes[:, 1] + boxes[:, 3]) / 2 - 0.5,
                         np.log(h), np.log(w)], 1).astype(np.float32)


def decode(codes: np.ndarray) -> np.ndarray:
    cy, cx = codes[:, 0] + 0.5, codes[:, 1] + 0.5
    with np.errstate(over="ignore", invalid="ignore"):
        h, w = np.exp(codes[:, 2]), np.exp(codes[:, 3])
    return np.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], 1)


def _augment(x: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Heavy training augmentation (the configs' random_horizontal_flip, random_adjust_brightness,
    random_black_patches, plus extra pixel noise)."""
    x, b = x.copy(), b.copy()
    flip = rng.random(len(x)) < 0.5
    x[flip] = x[flip, :, ::-1]
    b[flip] = np.stack([b[flip, 0], 1 - b[flip, 3], b[flip, 2], 1 - b[flip, 1]], 1)
    x *= rng.uniform(0.6, 1.4, (len(x), 1, 1, 1)).astype(np.float32)
    x += rng.normal(0, 0.35, x.shape).astype(np.float32)
    for _ in range(2):
        hit = np.flatnonzero(rng.random(len(x)) < 0.5)
        ys, xs = rng.integers(0, SIZE - 4, len(hit)), rng.integers(0, SIZE - 4, len(hit))
        for i, yy, xx in zip(hit, ys, xs, strict=True):
            x[i, yy : yy + 4, xx : xx + 4] = 0.0
    return x, b


# --------------------------------------------------------------------------- metrics


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of two [N, 4] box arrays (NaN boxes give 0)."""
    with np.errstate(invalid="ignore"):
        ih = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
        iw = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
        inter = ih * iw
        union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
        out = inter / np.maximum(union, 1e-12)
    return np.nan_to_num(out, nan=0.0)


def _ap101(tp: np.ndarray, n_pos: int) -> tuple[float, float]:
    """COCO's 101-point interpolated AP and the final recall of score-ranked detections ``tp``."""
    if n_pos == 0:
        return math.nan, math.nan
    if tp.size == 0:
        return 0.0, 0.0
    ctp = np.cumsum(tp)
    recall, precision = ctp / n_pos, ctp / np.arange(1, tp.size + 1)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, np.linspace(0, 1, 101), side="left")
    return float(np.where(idx < tp.size, precision[np.minimum(idx, tp.size - 1)], 0.0).mean()), float(recall[-1])


def coco_metrics(scores: np.ndarray, boxes: np.ndarray, y: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """The COCO evaluator's 12 box metrics for one box per image reported with every class at its score."""
    scores = np.nan_to_num(scores, nan=-1.0)
    overlap = iou(boxes, gt)
    aps, ar1, ar_all = [], [], []
    top = scores.argmax(1)
    for c in range(scores.shape[1]):
        n_pos = int((y == c).sum())
        if n_pos == 0:
            continue
        order = np.argsort(-scores[:, c], kind="stable")
        top1 = order[top[order] == c]
        for t in IOU_THRESHOLDS:
            hit = (y == c) & (overlap >= t)
            aps.append(_ap101(hit[order], n_pos)[0])
            ar1.append(_ap101(hit[top1], n_pos)[1])
            ar_all.append(float(hit.sum()) / n_pos)
    ap = lambda rows: float(np.mean(rows)) if rows else -1.0  # noqa: E731
    per_t = np.array(aps).reshape(-1, len(IOU_THRESHOLDS)) if aps else np.full((1, 10), -1.0)
    m = {
        "DetectionBoxes_Precision/mAP": ap(aps),
        "DetectionBoxes_Precision/mAP@.50IOU": float(per_t[:, 0].mean()),
        "DetectionBoxes_Precision/mAP@.75IOU": float(per_t[:, 5].mean()),
    }
    m["DetectionBoxes_Precision/mAP (small)"] = m["DetectionBoxes_Precision/mAP"]  # every box < 32² px
    m["DetectionBoxes_Precision/mAP (medium)"] = m["DetectionBoxes_Precision/mAP (large)"] = -1.0
    m["DetectionBoxes_Recall/AR@1"] = ap(ar1)
    m["DetectionBoxes_Recall/AR@10"] = m["DetectionBoxes_Recall/AR@100"] = ap(ar_all)
    m["DetectionBoxes_Recall/AR@100 (small)"] = m["DetectionBoxes_Recall/AR@100"]
    m["DetectionBoxes_Recall/AR@100 (medium)"] = m["DetectionBoxes_Recall/AR@100 (large)"] = -1.0
    return m


def chance_map(d: dict[str, np.ndarray], draws: int = 10) -> float:
    """mAP of the image-centre box of the mean evaluation box size with random class scores."""
    rng = np.random.default_rng(12345)
    vb, vy = d["vb"], d["vy"]
    h, w = float(np.mean(vb[:, 2] - vb[:, 0])), float(np.mean(vb[:, 3] - vb[:, 1]))
    centre = np.tile([0.5 - h / 2, 0.5 - w / 2, 0.5 + h / 2, 0.5 + w / 2], (len(vy), 1))
    return float(np.mean([coco_metrics(rng.random((len(vy), len(CLASSES))), centre, vy, vb)
                          ["DetectionBoxes_Precision/mAP"] for _ in range(draws)]))


# --------------------------------------------------------------------------- schedule


def lr_at(p: dict[str, Any], step: int) -> float:
    """The OD API schedule's value at global step ``step`` (learning_schedules.py)."""
    lr, kind = float(p["lr"]), p["schedule"]
    if kind == "constant":
        return lr
    if kind == "cosine_decay_with_warmup":
        total, warm = p["total_steps"], p["warmup_steps"]
        if step > total:
            return 0.0
        if step < warm:
            return p["warmup_lr"] + (lr - p["warmup_lr"]) / warm * step
        return 0.5 * lr * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))
    if kind == "manual_step":
        return float(p["rates"][sum(step >= b for b in p["boundaries"])])
    if kind == "exponential_decay":
        e = step / p["decay_steps"]
        return lr * p["decay_factor"] ** (math.floor(e) if p["staircase"] else e)
    raise ValueError(f"unknown schedule {kind!r}")


# --------------------------------------------------------------------------- training


def train(spec: RunSpec, run_dir: Path) -> Facts:
    """Train one run; write ``run_dir/train`` the way ``train_loop`` does and ``run_dir/eval`` the way
    ``eval_continuously`` does."""
    p = run_params(spec, DEFAULTS)
    tf_setup(spec.seed)
    import keras
    import tensorflow as tf

    d = _data(p, spec.seed)
    n_classes, k, bs = len(CLASSES), STEPS_PER_ITERATION, p["batch"]

    inp = keras.Input((SIZE, SIZE, 1))
    h = inp
    for f in p["filters"]:
        h = keras.layers.Conv2D(f, 3, padding="same", activation="relu")(h)
        h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Flatten()(h)
    if p["dense"]:
        h = keras.layers.Dense(p["dense"], activation="relu")(h)
    model = keras.Model(inp, [keras.layers.Dense(n_classes)(h), keras.layers.Dense(4)(h)])
    kernels = [w for w in model.trainable_variables if len(w.shape) > 1]
    variables = model.trainable_variables
    if p["optimizer"] == "adam":
        opt = keras.optimizers.Adam(learning_rate=p["lr"])
    else:
        opt = keras.optimizers.SGD(learning_rate=p["lr"], momentum=p["momentum"] if p["optimizer"] == "momentum"
                                   else 0.0)
    opt.build(variables)  # slots built outside the stepping loop
    l2, clip = float(p["l2"]), float(p["clip_norm"])

    def losses(x: Any, y: Any, codes: Any) -> dict[str, Any]:
        """Per-image losses (the model's ``loss()`` entries) plus the regularisation loss."""
        logits, pred = model(x)
        reg = l2 * tf.add_n([tf.reduce_sum(tf.square(w)) for w in kernels]) if l2 else tf.constant(0.0)
        diff = tf.abs(pred - codes)
        smooth_l1 = tf.reduce_sum(tf.where(diff < 1.0, 0.5 * diff**2, diff - 0.5), 1)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
        return {"cls": ce, "loc": smooth_l1, "reg": reg, "logits": logits, "pred": pred}

    @tf.function(input_signature=[tf.TensorSpec([k, None, SIZE, SIZE, 1]), tf.TensorSpec([k, None], tf.int32),
                                  tf.TensorSpec([k, None, 4]), tf.TensorSpec([k])])
    def dist_train_step(xs: Any, ys: Any, cs: Any, lrs: Any) -> dict[str, Any]:
        """``_dist_train_step``: ``k`` steps in one function; returns the last step's ``losses_dict``."""
        out = {key: tf.constant(0.0) for key in ("cls", "loc", "reg", "total")}
        for i in tf.range(k):
            opt.learning_rate.assign(lrs[i])
            with tf.GradientTape() as tape:
                ls = losses(xs[i], ys[i], cs[i])
                cls, loc = tf.reduce_mean(ls["cls"]), tf.reduce_mean(ls["loc"])
                total = cls + loc + ls["reg"]
            grads = tape.gradient(total, variables)
            if clip:
                grads, _ = tf.clip_by_global_norm(grads, clip)
            opt.apply_gradients(zip(grads, variables, strict=True))
            out = {"cls": cls, "loc": loc, "reg": ls["reg"], "total": total}
        return out

    eval_fn = tf.function(losses)

    def evaluate(step: int) -> None:
        ls = {key: v.numpy() for key, v in eval_fn(tf.constant(d["vx"]), tf.constant(d["vy"]),
                                                   tf.constant(encode(d["vb"]))).items()}
        logits = ls["logits"].astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            e = np.exp(logits - logits.max(1, keepdims=True))
            scores = e / e.sum(1, keepdims=True)
        metrics = coco_metrics(scores, decode(ls["pred"]), d["vy"], d["vb"])
        cls, loc, reg = float(np.mean(ls["cls"])), float(np.mean(ls["loc"])), float(ls["reg"])
        metrics |= {"Loss/classification_loss": cls, "Loss/localization_loss": loc,
                    "Loss/regularization_loss": reg, "Loss/total_loss": cls + loc + reg}
        with eval_writer.as_default():
            for key, v in metrics.items():
                tf.summary.scalar(key, v, step=step)

    rng = np.random.default_rng(spec.seed + 1000)
    n = len(d["y"])
    order: list[int] = []

    def batch() -> np.ndarray:
        while len(order) < bs:
            order.extend(rng.permutation(n).tolist())
        idx = np.array(order[:bs])
        del order[:bs]
        return idx

    train_writer = tf.summary.create_file_writer(str(run_dir / "train"))
    eval_writer = tf.summary.create_file_writer(str(run_dir / "eval"))
    corrupt = set(p["corrupt_steps"])
    gs, checkpointed = 0, 0
    evaluate(0)  # manager.save() at global step 0, picked up by the evaluator
    last = time.time()
    for _ in range(0, p["total_steps"], k):
        xs = np.empty((k, bs, SIZE, SIZE, 1), np.float32)
        ys = np.empty((k, bs), np.int32)
        bxs = np.empty((k, bs, 4), np.float32)
        for i in range(k):
            idx = batch()
            xb, yb, bb = d["x"][idx], d["y"][idx], d["b"][idx]
            if p["augment"]:
                xb, bb = _augment(xb, bb, rng)
            logged = gs + i + 1  # the global step after this update, as a summary at it would show
            if logged in corrupt:  # annotations shifted by one image within the batch
                yb, bb = np.roll(yb, 1), np.roll(bb, 1, axis=0)
            if logged == p["zero_box_step"]:  # a degenerate annotation: ymin == ymax
                bb = bb.copy()
                bb[0, 2] = bb[0, 0]
            xs[i], ys[i], bxs[i] = xb, yb, bb
        codes = encode(bxs.reshape(-1, 4)).reshape(k, bs, 4)
        lrs = np.array([lr_at(p, gs + i) for i in range(k)], np.float32)
        out = {key: float(v) for key, v in dist_train_step(xs, ys, codes, lrs).items()}
        gs += k
        now = time.time()
        steps_per_sec, last = k / max(now - last, 1e-9), now
        with train_writer.as_default():
            tf.summary.scalar("steps_per_sec", steps_per_sec, step=gs)
            logged_dict = {"Loss/classification_loss": out["cls"], "Loss/localization_loss": out["loc"],
                           "Loss/regularization_loss": out["reg"], "Loss/total_loss": out["total"],
                           "learning_rate": lr_at(p, gs)}
            for key, v in logged_dict.items():
                tf.summary.scalar(key, v, step=gs)
        if gs - checkpointed >= p["checkpoint_every_n"]:
            checkpointed = gs
            evaluate(gs)
    train_writer.close()
    eval_writer.close()
    return _facts(p, spec, d)


def _schedule_name(p: dict[str, Any]) -> str:
    kind = p["schedule"]
    if kind == "cosine_decay_with_warmup":
        return "warmup_cosine"
    if kind == "manual_step":
        return "step_decay"
    if kind == "exponential_decay":
        return "exponential" if p["decay_factor"] < 1 else "exponential_growth"
    return "constant"


def _facts(p: dict[str, Any], spec: RunSpec, d: dict[str, np.ndarray]) -> Facts:
    tags = {"train_loss": "train/Loss/total_loss", "batch_loss": "train/Loss/total_loss",
            "val_loss": "eval/Loss/total_loss", "val_metric": "eval/DetectionBoxes_Precision/mAP",
            "lr": "train/learning_rate"}
    spe = max(1, round(p["n_train"] / p["batch"]))
    injected: dict[str, Any] = {"intent": spec.intent}
    injected |= {k: v for k, v in spec.params.items() if k not in ("corrupt_steps", "zero_box_step",
                                                                   "eval_label_map", "shuffle_annotations")}
    if p["corrupt_steps"]:
        injected["corrupt_steps"] = f"annotations shifted by one image within the batch at steps {p['corrupt_steps']}"
    if p["zero_box_step"]:
        injected["zero_box_step"] = (f"a zero-height box in the batch of step {p['zero_box_step']}: log(0) in the "
                                     "box encoding, NaN weights from then on (the TF2 loop has no NaN check)")
    if p["eval_label_map"]:
        injected["eval_label_map"] = "evaluation classes written with a shifted label map (c -> c + 1 mod 3)"
    if p["shuffle_annotations"]:
        injected["shuffle_annotations"] = "training annotations (class and box) joined to other images"
    return Facts(
        tags=tags,
        steps={role: "step" for role in tags},
        task="detection",
        metric="mAP",
        metric_direction="max",
        num_classes=len(CLASSES),
        chance_metric=chance_map(d),
        epochs=max(1, round(p["total_steps"] / spe)),
        steps_per_epoch=spe,
        batch_size=p["batch"],
        lr_peak=max(lr_at(p, s) for s in range(p["total_steps"])),
        schedule=_schedule_name(p),
        log_every_steps=STEPS_PER_ITERATION,
        eval_every_steps=max(STEPS_PER_ITERATION, math.ceil(p["checkpoint_every_n"] / STEPS_PER_ITERATION)
                             * STEPS_PER_ITERATION),
        shuffled=True,
        injected=injected,
    )


PROGRAM = Program(
    name=NAME,
    family="cnn",
    data="synthetic 16x16 shapes, one object per image (3 classes, a box each)",
    script="tf_loop",
    writer="tf_summary",
    framework="tensorflow",
    version=2,
    runs=runs,
    train=train,
)
