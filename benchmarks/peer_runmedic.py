"""Run the peer tool runmedic on tb-recipe's labelled runs and translate its diagnoses into tb-recipe codes.

runmedic (PyPI `runmedic`, MIT, 0.1.x, no dependencies) reads TensorBoard event
files with its own parser, guesses series roles from their names
(`runmedic.roles.detect`) and runs a fixed list of heuristic checks
(`runmedic.checks.run_checks`). Its CLI is `runmedic diagnose PATH [--json]`;
this adapter calls the same three steps the CLI's `main` calls, in-process, so
the timing compares analysis and not Python start-up.

What it is given: exactly the event files tb-recipe's loader assigns to the
labelled run. Each file is read by runmedic's own loader
(`runmedic.loaders.load_file`); the series of a Keras `train/` or `validation/`
split folder are prefixed with the folder name (`validation/epoch_loss`), as
tb-recipe and TensorBoard name them. This is generous to the peer: its CLI on a
Keras run folder reports `train` and `validation` as two separate runs, and in
the `validation` one it takes `epoch_loss` for the *training* loss.

Mapping of runmedic checks (its JSON `findings[].check`) to tb-recipe codes:

  non_finite          -> nonfinite_loss (nonfinite_gradients when the series is its grad-norm role)
  divergence          -> divergence
  loss_spikes         -> loss_spikes
  no_learning         -> no_learning
  overfitting         -> overfitting (its info-level "Mild overfitting", a 5-15% rise, included)
  val_below_train     -> val_better_than_train
  constant_lr_plateau -> plateau (approximate: training loss flat over the last 30% with a logged constant LR)
  grad_spikes         -> exploding_gradients (approximate: a logged grad norm above 10x its median)
  input_bound, slow_steps, slowdown, memory_growth, log:*  -> nothing (system/performance checks
                         tb-recipe does not make)

tb-recipe codes runmedic cannot express at all: val_plateau, underfitting,
still_learning, lr_too_small, lr_too_high, noisy_loss, periodic_loss,
lr_decay_too_early, data_problem, best_checkpoint_mismatch, and the callback
codes other than the two above (vanishing_gradients, dying_relu,
saturated_activations, update_ratio_high/low, initial_loss_off). The side by
side comparison in accuracy.py is made only on the codes in `EXPRESSIBLE`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHECK_TO_CODE: dict[str, str] = {
    "non_finite": "nonfinite_loss",
    "divergence": "divergence",
    "loss_spikes": "loss_spikes",
    "no_learning": "no_learning",
    "overfitting": "overfitting",
    "val_below_train": "val_better_than_train",
    "constant_lr_plateau": "plateau",
    "grad_spikes": "exploding_gradients",
}
"""runmedic check name -> tb-recipe finding code (see the module docstring for how close each is)."""

NONFINITE_GRADIENTS = "nonfinite_gradients"
"""runmedic's `non_finite` on its grad-norm series is tb-recipe's NaN-gradient code, not a NaN loss."""

NOT_MAPPED: frozenset[str] = frozenset({"input_bound", "slow_steps", "slowdown", "memory_growth"})
"""runmedic checks about speed and memory: no tb-recipe counterpart (nor are its `log:*` stdout patterns)."""

EXPRESSIBLE: frozenset[str] = frozenset(CHECK_TO_CODE.values()) | {NONFINITE_GRADIENTS}
"""Every tb-recipe code runmedic can report through this mapping: the codes compared side by side."""


def map_result(result: Mapping[str, Any]) -> tuple[set[str], list[str]]:
    """tb-recipe codes predicted by one runmedic run result, and the checks that had no counterpart.

    `result` is one element of `runmedic diagnose --json` (its `report.to_dict`):
    {"roles": {role: [series]}, "findings": [{"check", "severity", "metric", ...}]}.
    Pure, so the mapping can be tested without runmedic installed.
    """
    grad_series = set(result.get("roles", {}).get("grad_norm", ()))
    codes: set[str] = set()
    unmapped: list[str] = []
    for finding in result.get("findings", ()):
        check = str(finding.get("check", ""))
        if check == "non_finite" and finding.get("metric") in grad_series:
            codes.add(NONFINITE_GRADIENTS)
        elif check in CHECK_TO_CODE:
            codes.add(CHECK_TO_CODE[check])
        else:
            unmapped.append(check)
    return codes, unmapped


@dataclass
class Timing:
    """Wall-clock and CPU seconds of one tool. Both are kept because the benchmark machine is shared: the
    wall time is what a user waits, the CPU time is the fairer ratio between two tools when others load it."""

    wall: float = 0.0
    cpu: float = 0.0

    @contextmanager
    def measure(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu


@dataclass
class PeerRun:
    """runmedic over a set of runs: codes per run, what went wrong, and the time its analysis took."""

    predicted: dict[str, list[str]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # run -> why runmedic raised (scored as nothing)
    no_train_loss: list[str] = field(default_factory=list)  # runs where it recognised no training loss
    unmapped: dict[str, list[str]] = field(default_factory=dict)  # run -> checks without a tb-recipe code
    timing: Timing = field(default_factory=Timing)


def available() -> str | None:
    """runmedic's version if it can be imported, else None (it is a [dev] dependency, not a runtime one)."""
    try:
        import runmedic
    except ImportError:
        return None
    return str(getattr(runmedic, "__version__", "unknown"))


def diagnose_files(name: str, files: Sequence[tuple[str | None, str]]) -> dict[str, Any]:
    """runmedic's JSON result for one run made of `files` ((split folder or None, event file path) pairs)."""
    from runmedic import checks, loaders, report, roles
    from runmedic.model import Run

    merged = Run(name=name, source="tensorboard", path=str(Path(files[0][1]).parent) if files else name)
    for split, path in files:
        prefix = f"{split}/" if split else ""
        for part in loaders.load_file(Path(path)):
            for tag, series in part.series.items():
                target = merged.get(prefix + tag)
                target.steps.extend(series.steps)
                target.values.extend(series.values)
    merged.finalize()
    run_roles = roles.detect(merged)
    return report.to_dict(merged, run_roles, checks.run_checks(merged, run_roles))


def run_peer(runs: Mapping[str, Sequence[tuple[str | None, str]]]) -> PeerRun:
    """Diagnose every run with runmedic; a run it raises on predicts nothing and is listed with the reason.

    The clock covers reading and analysis of each run, the same span that
    accuracy.py times for tb-recipe.
    """
    out = PeerRun()
    for name, files in runs.items():
        try:
            with out.timing.measure():
                result = diagnose_files(name, files)
        except Exception as exc:  # noqa: BLE001 - any peer crash is a scored failure, not ours to raise
            out.predicted[name] = []
            out.failures[name] = f"{type(exc).__name__}: {exc}"
            continue
        codes, unmapped = map_result(result)
        out.predicted[name] = sorted(codes)
        if unmapped:
            out.unmapped[name] = unmapped
        if "train_loss" not in result.get("roles", {}):
            out.no_train_loss.append(name)
    return out
