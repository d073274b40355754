"""The rows the pre-flight checks look at, as NumPy arrays.

The checks read a bounded sample (`gather`): a seeded random subset of
arrays, because data sets are often stored sorted by class and the first
rows would then hold one class only; the first batches of a dataset, which
is all that can be had from it without iterating an epoch. Everything is
copied to NumPy once, so the data checks are plain array code and the
training checks slice fixed batches from the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

MAX_DATA_ROWS = 200_000
"""Rows of in-memory data the data checks read at most (NaN/Inf, labels, train/validation overlap)."""


@dataclass
class Samples:
    """Rows of inputs, labels and sample weights (``x`` may be a list or dict of arrays, like Keras takes)."""

    x: Any
    y: Any = None
    sample_weight: np.ndarray | None = None

    def __len__(self) -> int:
        return rows(self.x)

    def take(self, index: np.ndarray | slice) -> Samples:
        def pick(a: Any) -> Any:
            return None if a is None else keras.tree.map_structure(lambda v: v[index], a)

        return Samples(pick(self.x), pick(self.y), None if self.sample_weight is None else self.sample_weight[index])

    def with_zero_inputs(self) -> Samples:
        return Samples(keras.tree.map_structure(np.zeros_like, self.x), self.y, self.sample_weight)

    def batches(self, size: int) -> list[tuple[Any, Any, Any]]:
        """Full batches only (a last, smaller one would trace the step functions again), as tensors."""
        out = []
        for start in range(0, len(self) - size + 1, size):
            part = self.take(slice(start, start + size))
            out.append((to_tensors(part.x), to_tensors(part.y), to_tensors(part.sample_weight)))
        return out


def to_tensors(a: Any) -> Any:
    return None if a is None else keras.tree.map_structure(tf.convert_to_tensor, a)


def rows(a: Any) -> int:
    leaves = keras.tree.flatten(a)
    return int(np.shape(leaves[0])[0]) if leaves else 0


def as_numpy(a: Any) -> Any:
    return None if a is None else keras.tree.map_structure(np.asarray, a)


def unpack(data: Any) -> tuple[Any, Any, Any]:
    """``(x, y, sample_weight)`` of one dataset element or ``validation_data`` value, as Keras reads it."""
    if isinstance(data, list):
        data = tuple(data)
    return keras.utils.unpack_x_y_sample_weight(data)


def is_dataset(a: Any) -> bool:
    return isinstance(a, tf.data.Dataset)


def read(x: Any, y: Any, sample_weight: Any, max_samples: int, seed: int) -> tuple[Samples, Samples]:
    """(rows the data checks read, rows the training checks use) of the data given as ``model.fit`` takes it.

    Arrays: the data checks read every row (up to `MAX_DATA_ROWS`), which is
    cheap next to a training step and finds the one NaN a subset would miss;
    the training checks take a seeded random subset of ``max_samples`` rows.
    A dataset: its first batches, up to ``max_samples`` rows, for both.
    """
    if is_dataset(x):
        if y is not None or sample_weight is not None:
            raise ValueError("with a tf.data.Dataset, give the labels inside it, not as y or sample_weight")
        first = _from_dataset(x, max_samples)
        return first, first
    whole = Samples(as_numpy(x), as_numpy(y), None if sample_weight is None else np.asarray(sample_weight))
    if len(whole) > MAX_DATA_ROWS:
        whole = whole.take(slice(0, MAX_DATA_ROWS))
    n = len(whole)
    if n <= max_samples:
        return whole, whole
    index = np.sort(np.random.default_rng(seed).choice(n, size=max_samples, replace=False))
    return whole, whole.take(index)


def first_rows(data: Any, limit: int) -> Samples:
    """The validation data: the first batches of a dataset, else the arrays (up to ``limit`` rows)."""
    if is_dataset(data):
        return _from_dataset(data, limit)
    x, y, sample_weight = unpack(data)
    whole = Samples(as_numpy(x), as_numpy(y), None if sample_weight is None else np.asarray(sample_weight))
    return whole.take(slice(0, limit)) if len(whole) > limit else whole


def _from_dataset(dataset: Any, limit: int) -> Samples:
    parts: list[tuple[Any, Any, Any]] = []
    count = 0
    for element in dataset:
        x, y, sw = unpack(element)
        parts.append((as_numpy(x), as_numpy(y), None if sw is None else np.asarray(sw)))
        count += rows(x)
        if count >= limit:
            break
    if not parts:
        raise ValueError("the dataset is empty")

    def concat(i: int) -> Any:
        if parts[0][i] is None:
            return None
        return keras.tree.map_structure(lambda *a: np.concatenate(a)[:limit], *[p[i] for p in parts])

    return Samples(concat(0), concat(1), concat(2))


def leaves(a: Any) -> Iterator[np.ndarray]:
    if a is not None:
        yield from (np.asarray(v) for v in keras.tree.flatten(a))


def nonfinite(a: Any) -> tuple[int, np.ndarray]:
    """(non-finite values, per-row mask of rows holding any) of the float arrays of ``a``."""
    n = rows(a) if a is not None else 0
    mask = np.zeros(n, dtype=bool)
    count = 0
    for v in leaves(a):
        if not np.issubdtype(v.dtype, np.floating) and not np.issubdtype(v.dtype, np.complexfloating):
            continue
        bad = ~np.isfinite(v)
        count += int(bad.sum())
        mask |= bad.reshape(len(v), -1).any(axis=1)
    return count, mask
