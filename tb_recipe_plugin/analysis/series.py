"""Containers passed from the loaders to the analyzer.

The analyzer never does I/O: it receives a `RunData` that any loader (the fast
event-file reader of the CLI, TensorBoard's data provider inside the plugin, a
test) filled in. Values are numpy arrays so that a 100k-point batch-level
series costs 2.4 MB, not a list of Python floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Series:
    """One scalar curve: steps sorted ascending and unique, values may be NaN/Inf."""

    tag: str
    steps: np.ndarray  # int64
    values: np.ndarray  # float64
    wall_times: np.ndarray | None = None  # float64 seconds since epoch

    def __post_init__(self) -> None:
        self.steps = np.asarray(self.steps, dtype=np.int64)
        self.values = np.asarray(self.values, dtype=np.float64)
        if self.wall_times is not None:
            self.wall_times = np.asarray(self.wall_times, dtype=np.float64)
        if self.steps.shape != self.values.shape:
            raise ValueError(f"series {self.tag!r}: {self.steps.size} steps but {self.values.size} values")

    def __len__(self) -> int:
        return int(self.steps.size)


@dataclass
class RunData:
    """All scalar series of one run plus what went wrong while reading it.

    Series are keyed by their display tag: the tag as written, prefixed by the
    split folder (``train/``, ``validation/``...) when the writer used the Keras
    per-split sub-folder layout, so ``validation/epoch_loss`` stays distinct
    from ``train/epoch_loss``.
    """

    name: str
    series: dict[str, Series] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # Hyperparameter records as written, tag -> bytes (HParams plugin data, Trainer `args` text, config files the
    # loader found beside the event files); `sweep/hparams.py` reads them
    hparams: dict[str, bytes] = field(default_factory=dict)
