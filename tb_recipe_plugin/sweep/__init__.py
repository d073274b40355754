"""Sweeps (issue 10): many runs of one experiment read together: their hyperparameters, which of them matter, why
runs failed and what to search next. Built on the per-run analysis; no TensorFlow."""
