"""The TensorFlow side of the pre-flight checks (`tb_recipe_plugin.preflight.run_preflight` calls `run`).

- `samples`: the rows the checks read, as NumPy arrays;
- `task`: what the compiled loss and the output layer say the labels are;
- `data_checks`: NaN/Inf, labels out of range, train/validation overlap;
- `sandbox`: the clone of the model and optimizer the checks train;
- `training_checks`: initial loss, zero-input baseline, batch mixing, overfitting one batch;
- `lr_range`: the learning-rate range test;
- `runner`: all of them in order, timed, within a budget of training steps.

Thresholds are module constants next to the check that applies them.
"""

from tb_recipe_plugin.keras.preflight.runner import run

__all__ = ["run"]
