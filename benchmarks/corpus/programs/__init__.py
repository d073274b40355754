"""Every program of the corpus. A program module defines ``PROGRAM`` (a `spec.Program`) and imports its
framework (TensorFlow or PyTorch) only inside its train function, so listing runs stays cheap."""

from __future__ import annotations

import importlib

from benchmarks.corpus.spec import Program
from benchmarks.corpus.split import SPLIT


def load(name: str) -> Program:
    program = importlib.import_module(f"benchmarks.corpus.programs.{name}").PROGRAM
    if program.name != name:
        raise ValueError(f"module {name} defines program {program.name!r}")
    return program


def all_programs() -> list[Program]:
    """Every program named in the split, in the split's order (a missing module is an error)."""
    return [load(name) for name in SPLIT]
