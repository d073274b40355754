"""Tags as lowercase word tokens: what role guessing and level inference both read names by."""

from __future__ import annotations

import re

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[a-z0-9]+")
_LR_GROUP = re.compile(r"lr\d+")


def tokens(tag: str) -> list[str]:
    spaced = _CAMEL.sub("_", tag).lower()
    spaced = spaced.replace("learning_rate", "learningrate").replace("learning rate", "learningrate")
    spaced = spaced.replace("cross_entropy", "crossentropy").replace("map_0.5", "map50")
    words = _WORD.findall(spaced)
    if "lr" not in spaced:
        return words
    # Parameter-group suffixes: YOLO's `x/lr0`, `lr1`...
    return ["lr" if _LR_GROUP.fullmatch(w) else w for w in words]
