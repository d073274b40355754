"""TensorFlow set-up shared by the TensorFlow programs (not a program: the registry loads programs by name)."""

from __future__ import annotations

import os
from typing import Any


def tf_single_thread() -> None:
    """TensorFlow quiet and on one thread per op pool (two programs share the two cores).

    Imports TensorFlow here, inside a run's training, so listing runs stays cheap. Enough for a program that only
    writes summaries with TensorFlow (flax_clu_style trains with PyTorch).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TF already initialised by an earlier run in this process
        pass


def tf_setup(seed: int) -> None:
    """Seeded, deterministic, one intra-op thread: `tf_single_thread` plus Keras' seeds and op determinism."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    tf_single_thread()
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def keras_session(seed: int) -> tuple[Any, Any]:
    """Keras and TensorFlow for a Keras ``fit`` program: `tf_single_thread`, a fresh Keras state, everything seeded
    from the run's seed. Returns the two modules (imported here, inside a run's training).

    Threads can only be set before TensorFlow's runtime starts; later runs in the same worker process keep the
    first setting (the same one).
    """
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    tf_single_thread()
    import keras
    import tensorflow as tf

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    return keras, tf
