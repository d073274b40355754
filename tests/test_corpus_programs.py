"""Every corpus program, listed the way the generator lists it: cheap, and a usable slice of the corpus.

Listing runs in a fresh interpreter checks for real that no framework is
imported (the generator lists all programs before training any, and a labeller
or CI job must be able to do so without TensorFlow or torch). Each program must
then offer 15-20 uniquely named runs, intents from the guide's vocabulary, at
least 4 healthy runs and 8 intents, and only parameters its DEFAULTS know (a
misspelt parameter would be silently ignored, and the run would not be the
one its name says). The training itself is tested per framework in
test_corpus_keras.py, test_corpus_tf.py and test_corpus_torch.py.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.corpus.spec import INTENTS
from benchmarks.corpus.split import SPLIT

REPO = Path(__file__).resolve().parent.parent

LISTING = """
import json, sys
from benchmarks.corpus.programs import load
out = {}
for name in sys.argv[1:]:
    p = load(name)
    out[name] = {"name": p.name, "runs": [[r.program, r.name, r.intent, sorted(r.params), r.seed] for r in p.runs()]}
out["_imported"] = sorted(m for m in ("torch", "tensorflow", "tensorboardX", "keras") if m in sys.modules)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def listing() -> dict:
    proc = subprocess.run([sys.executable, "-c", LISTING, *SPLIT], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(proc.stdout)


def test_listing_imports_no_framework(listing: dict) -> None:
    assert listing["_imported"] == []


def test_the_corpus_has_the_size_issue_8_asks_for(listing: dict) -> None:
    runs = [r for name in SPLIT for r in listing[name]["runs"]]
    heldout = [name for name, split in SPLIT.items() if split == "heldout"]
    assert len(SPLIT) >= 12 and len(runs) >= 200
    assert len(heldout) >= 4


@pytest.mark.parametrize("name", sorted(SPLIT))
def test_runs_are_a_usable_corpus_slice(listing: dict, name: str) -> None:
    info = listing[name]
    runs = info["runs"]
    names = [r[1] for r in runs]
    intents = [r[2] for r in runs]
    assert info["name"] == name
    assert 15 <= len(runs) <= 26
    assert len(set(names)) == len(names)
    assert {r[0] for r in runs} == {name}
    assert set(intents) <= INTENTS, set(intents) - INTENTS
    assert intents.count("healthy") >= 4
    assert len(set(intents)) >= 8


@pytest.mark.parametrize("name", sorted(SPLIT))
def test_run_params_are_known_settings(listing: dict, name: str) -> None:
    module = importlib.import_module(f"benchmarks.corpus.programs.{name}")
    for _, run, _, params, _ in listing[name]["runs"]:
        unknown = set(params) - set(module.DEFAULTS)
        assert not unknown, f"{run}: {unknown}"
