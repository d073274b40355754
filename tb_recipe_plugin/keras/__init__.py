"""The Keras callback `DiagnosisCallback` (TensorFlow backend, Keras 3).

The only package that imports TensorFlow; nothing else in tb-recipe imports
it, so the CLI and the TensorBoard tab work without it.
"""

from tb_recipe_plugin.keras.callback import DiagnosisCallback

__all__ = ["DiagnosisCallback"]
