"""Tags as lowercase word tokens: what role guessing and level inference both read names by."""

from __future__ import annotations

import re

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[a-z0-9]+")
_LR_GROUP = re.compile(r"lr\d+")

TRAIN_WORDS = frozenset({"train", "training", "trn"})
"""Words that put a tag on the training side."""
VAL_WORDS = frozenset({"val", "valid", "validation", "eval", "evaluation", "test", "testing", "dev", "holdout"})
"""Words that put a tag on the validation side."""
_COMPOUND_HEADS = ("batch", "epoch", "step", "iter", "train", "val", "valid", "eval", "test", "total")
"""Words written run together with ``loss`` in the wild: Ignite's ``training/batchloss``, ``trainloss``,
``valloss``: split off so that the tag reads as a loss of that kind."""


def tokens(tag: str) -> list[str]:
    spaced = _CAMEL.sub("_", tag).lower()
    spaced = spaced.replace("learning_rate", "learningrate").replace("learning rate", "learningrate")
    spaced = spaced.replace("cross_entropy", "crossentropy").replace("map_0.5", "map50")
    words = _WORD.findall(spaced)
    if "loss" in spaced:
        words = _split_compounds(words)
    if "lr" not in spaced:
        return words
    # Parameter-group suffixes: YOLO's `x/lr0`, `lr1`...
    return ["lr" if _LR_GROUP.fullmatch(w) else w for w in words]


def _split_compounds(words: list[str]) -> list[str]:
    out: list[str] = []
    for w in words:
        head = w[: -len("loss")]
        out.extend((head, "loss") if w.endswith("loss") and head in _COMPOUND_HEADS else (w,))
    return out
