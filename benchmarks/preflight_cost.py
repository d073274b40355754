"""What the pre-flight checks cost, in training steps of the model they check (issue 11's bound: about 200).

    python benchmarks/preflight_cost.py              # the benchmark CNN of callback_overhead.py, 3 repeats
    python benchmarks/preflight_cost.py --repeat 1   # quicker

The model and data are `callback_overhead.py`'s (a 1.1M-parameter CNN on 32x32x3 images, Adam, batch 32). A
training step is the median step of a warm ``fit`` (one untimed fit first, so tracing is not counted). Then
``run_preflight`` runs on the same model and 512 training rows, once with the default checks and once with the
learning-rate range test too; each is timed whole (its own tracing of the clone included: that is what a user
waits for) and per check. Printed: seconds, that time in training steps, and each check's share. Nothing is
asserted; the checks' own `step_seconds` is printed beside the fit's step for comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from benchmarks.callback_overhead import build_model, compile_model, make_data  # noqa: E402
from tb_recipe_plugin.preflight import run_preflight  # noqa: E402

BATCH = 32


class StepClock(keras.callbacks.Callback):
    """Wall time of every training step (batch begin to batch end)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[float] = []

    def on_train_batch_begin(self, batch, logs=None):  # noqa: ANN001
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):  # noqa: ANN001
        self.steps.append(time.perf_counter() - self._start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    x, y, x_val, y_val = make_data(3200, 512)
    keras.utils.set_random_seed(0)
    model = compile_model(build_model())
    model.fit(x[:640], y[:640], batch_size=BATCH, epochs=1, verbose=0)  # tracing, untimed
    clock = StepClock()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[clock])
    step = statistics.median(clock.steps)
    print(f"{model.name}: {model.count_params():,} parameters, batch {BATCH}; median training step {step * 1e3:.1f} ms")
    for label, options in (("default checks", {}), ("with lr_range_test", {"lr_range_test": True})):
        runs = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            report = run_preflight(model, x[:512], y[:512], validation_data=(x_val, y_val), **options)
            runs.append((time.perf_counter() - start, report))
        seconds, report = min(runs, key=lambda r: r[0])
        clone_step = f"{report.step_seconds * 1e3:.1f} ms" if report.step_seconds else "?"
        print(f"\n{label}: {seconds:.2f} s = {seconds / step:.0f} training steps (fastest of {args.repeat}; "
              f"the clone's own step {clone_step})")  # fmt: skip
        for result in report.results:
            verdict = {True: "passed", False: "FAILED", None: "n/a"}[result.passed]
            print(f"  {result.code:<22} {result.seconds:6.2f} s  {verdict}")


if __name__ == "__main__":
    main()
