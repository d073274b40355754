"""tb-recipe: read TensorBoard curves the way an experienced practitioner would.

This package must stay importable without TensorFlow: TensorBoard loads the
plugin entry point at start-up, and the CLI must start fast. Heavy or optional
imports live in the modules that need them.
"""

__version__ = "0.1.0"
