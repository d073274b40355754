"""TensorFlow set-up shared by the TensorFlow programs (not a program: the registry loads programs by name)."""

from __future__ import annotations

import os


def tf_setup(seed: int) -> None:
    """Seeded, deterministic, one intra-op thread (two programs share the two cores).

    Imports TensorFlow here, inside a run's training, so listing runs stays cheap.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TF already initialised by an earlier run in this process
        pass
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
