"""Shared test switches.

CI installs TensorFlow (`.[dev,tensorflow]`) and sets ``TB_RECIPE_REQUIRE_TF=1``
so that the real-training tests of the Keras callback cannot silently turn
into skips there; a developer without TensorFlow still gets a green run of
everything else.
"""

from __future__ import annotations

import os
import types

import pytest


def require_tensorflow() -> types.ModuleType:
    if os.environ.get("TB_RECIPE_REQUIRE_TF") == "1":
        import tensorflow

        return tensorflow
    return pytest.importorskip("tensorflow")
