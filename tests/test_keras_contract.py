"""The tag contract between the callback and the analyzer, checked on real fits.

`internal_tags` declares every name. On the healthy run and every fault run
of `tests.keras_runs`: (a) every tag the callback writes is declared;
(b) every name declared `Use.RULES` is read by some rule when the analyzer
runs on those runs; (c) every declared name is written by some real fit
(a name nobody writes is drift as well).
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

from tests.conftest import require_tensorflow

tf = require_tensorflow()

from tb_recipe_plugin import internal_tags as tags  # noqa: E402
from tb_recipe_plugin.analysis import analyzer  # noqa: E402
from tb_recipe_plugin.internal_tags import USE, LayerStat, Meta, Use, Window  # noqa: E402
from tb_recipe_plugin.io.loader import iter_runs  # noqa: E402
from tests.keras_runs import FAULTS, trained_logdir  # noqa: E402

DECLARED: set[StrEnum | str] = {
    *Window,
    *LayerStat,
    *Meta,
    tags.BATCH_LOSS,
    tags.GRAD_NORM,
    tags.LEARNING_RATE,
    tags.CONFIG,
    *tags.Check,  # the pre-flight checks (their measures: `test_preflight.py`'s contract test)
    *tags.PREFLIGHT_TOTALS,
}
RUNS = sorted(FAULTS)  # "healthy" and every fault


def written_tags(logdir: Path) -> Iterator[str]:
    """Every summary tag in the callback's own event files, scalars and text alike."""
    files = sorted((logdir / "train").glob("events.out.tfevents.*.tb_recipe"))
    assert files, f"no callback event file under {logdir}"
    for path in files:
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                yield value.tag


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    found = {name: set(written_tags(trained_logdir(name, tmp_path_factory))) for name in RUNS}
    found["preflight"] = set(written_tags(preflight_logdir(tmp_path_factory)))
    return found


def preflight_logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The healthy run once more, with every pre-flight check and the LR range test before its first step."""
    import keras

    from tb_recipe_plugin.keras import DiagnosisCallback
    from tests.keras_runs import fault_run

    model, x, y = fault_run("healthy")
    logdir = tmp_path_factory.mktemp("preflight")
    options = {"lr_range_test": True, "validation_data": (x[-200:], y[-200:])}
    callback = DiagnosisCallback(
        str(logdir), update_freq=25, print_diagnosis=False, preflight=True, preflight_options=options
    )
    keras.utils.set_random_seed(2)
    model.fit(x[:-200], y[:-200], batch_size=64, epochs=1, verbose=0, callbacks=[callback])
    return logdir


@pytest.fixture(scope="module")
def reads(tmp_path_factory: pytest.TempPathFactory) -> set[StrEnum]:
    """Union of what the rules asked `Internals` for while the analyzer ran on every run."""
    captured: list[tags.Internals] = []
    real = analyzer.find_internals

    def spy(series):  # noqa: ANN001, ANN202
        found = real(series)
        captured.append(found)
        return found

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(analyzer, "find_internals", spy)
        for name in RUNS:
            (run,) = iter_runs(str(trained_logdir(name, tmp_path_factory)))
            report = analyzer.analyze_run(run)
            assert not report.analysis_errors, (name, report.analysis_errors)
    assert len(captured) == len(RUNS)
    return set().union(*(found.reads for found in captured))


def test_every_written_tag_is_declared(written):
    undeclared = {(run, tag) for run, found in written.items() for tag in found if tags.parse_tag(tag) is None}
    assert undeclared == set()


def test_every_run_carries_the_schema_version(written, tmp_path_factory):
    for name in RUNS:
        (run,) = iter_runs(str(trained_logdir(name, tmp_path_factory)))
        assert tags.find_internals(run.series).schema_version() == tags.SCHEMA_VERSION, name


def test_every_declared_name_is_written_by_some_fit(written):
    names = {tags.parse_tag(tag)[0] for found in written.values() for tag in found}
    assert DECLARED - names == set(), "declared but never written"
    assert names - DECLARED == set()


@pytest.mark.parametrize(
    "name",
    sorted((n for n, use in USE.items() if use is Use.RULES), key=lambda n: (type(n).__name__, n)),
    ids=lambda n: f"{type(n).__name__}.{n.name}",
)
def test_every_rules_name_is_read_by_some_rule(name, reads):
    assert name in reads


def test_use_covers_every_declared_enum_member():
    assert set(USE) == {*Window, *LayerStat, *Meta}
