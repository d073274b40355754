"""What a program is, what one run of it is, and what a program must report about a run it trained.

Plain data, so that a run can be fingerprinted (retrained only when its spec
changes) and labelled without importing the framework that trained it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Split = Literal["dev", "heldout"]
Direction = Literal["min", "max"]

ROLES = ("train_loss", "val_loss", "train_metric", "val_metric", "lr", "batch_loss")
"""Roles a program names tags for: the ground truth the labeller reads, instead of guessing from tag names."""

INTENTS = frozenset({
    "healthy", "overfitting", "lr_too_high", "divergence", "nonfinite", "lr_too_small", "no_learning", "plateau",
    "val_plateau", "lr_decay_too_early", "underfitting", "still_learning", "unshuffled", "loss_spikes", "noisy",
    "data_problem", "val_better_than_train", "best_checkpoint_mismatch",
})  # fmt: skip
"""What a run may try to produce (the program guide's vocabulary); the labeller decides what actually shows."""


@dataclass(frozen=True)
class RunSpec:
    """One run of a program: `intent` is what the program tries to produce (a fault family or "healthy").

    The intent is a hint for the labeller, not the label: a fault that does not
    show in the curves is labelled by what does show.
    """

    program: str
    name: str
    intent: str
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    @property
    def run_id(self) -> str:
        return f"{self.program}/{self.name}"

    def fingerprint(self, program_version: int) -> str:
        blob = json.dumps({"v": program_version, **asdict(self)}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Facts:
    """What a program knows about a run it trained; written next to the run as ``facts.json``.

    ``tags`` maps roles (`ROLES`) to display tags as a reader sees them: the tag,
    prefixed by the sub-folder of the run it was written in (``validation/epoch_loss``
    for Keras' split folders, ``version_0/val_loss`` for a Lightning layout).
    ``steps`` says what the step axis of each role's tag counts ("epoch" or
    "step"); ``steps_per_epoch`` converts.
    """

    tags: dict[str, str]
    steps: dict[str, str]
    task: str  # classification | regression | segmentation | ranking | reconstruction
    metric: str | None = None  # e.g. "accuracy", "mae", "iou", "ndcg"
    metric_direction: Direction | None = None
    num_classes: int | None = None
    chance_metric: float | None = None  # the metric of a constant/random predictor, when known
    epochs: int = 0
    steps_per_epoch: int = 0
    batch_size: int = 0
    lr_peak: float = 0.0
    schedule: str = "constant"
    log_every_steps: int | None = None
    eval_every_steps: int | None = None
    shuffled: bool = True
    injected: dict[str, Any] = field(default_factory=dict)  # what was done to the run, for the notes
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


Trainer = Callable[[RunSpec, Path], Facts]


@dataclass(frozen=True)
class Program:
    """A training program: model family x data x script x writer, and the runs it makes."""

    name: str
    family: str  # mlp | cnn | rnn | transformer | autoencoder
    data: str
    script: str  # keras_fit | tf_loop | torch_loop | lightning_style | hf_style
    writer: str  # keras_tensorboard | tf_summary | torch_summarywriter | tensorboardx
    framework: Literal["tensorflow", "torch"]
    version: int  # bump when a change to the program should retrain its runs
    runs: Callable[[], list[RunSpec]]
    train: Trainer


def run_params(spec: RunSpec, defaults: dict[str, Any]) -> dict[str, Any]:
    """The program's defaults overridden by the run's params (tests shrink a run by overriding epochs/sizes); a
    param the program does not know is an error, not a silent no-op."""
    unknown = set(spec.params) - set(defaults)
    if unknown:
        raise ValueError(f"{spec.run_id}: unknown params {sorted(unknown)}")
    return {**defaults, **spec.params}
