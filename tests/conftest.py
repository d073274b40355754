"""Shared test switches.

CI installs TensorFlow (`.[dev,tensorflow]`) and sets ``TB_RECIPE_REQUIRE_TF=1``
so that the real-training tests of the Keras callback cannot silently turn
into skips there; a developer without TensorFlow still gets a green run of
everything else.

Property tests (Hypothesis) draw the same examples on every run (profile
``default``: derandomized), so a green CI run is reproducible and a red one is
a real regression, not a new draw. To search wider, run
``HYPOTHESIS_PROFILE=explore python -m pytest -k <test>`` (new random examples
on each run; repeat it, or raise the test's ``max_examples`` locally) and add
any failure it finds as an ``@example`` to the test.
"""

from __future__ import annotations

import os
import types

import pytest

try:  # the Keras-version matrix of .ci/run installs the Keras tests' needs only, without Hypothesis
    from hypothesis import settings
except ImportError:  # pragma: no cover
    pass
else:
    settings.register_profile("default", derandomize=True)
    settings.register_profile("explore", derandomize=False)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def require_tensorflow() -> types.ModuleType:
    if os.environ.get("TB_RECIPE_REQUIRE_TF") == "1":
        import tensorflow

        return tensorflow
    return pytest.importorskip("tensorflow")
