"""Hostile run and tag names in the Diagnosis tab's routes (issue 7, defect 3, the tab's part).

Names come from whoever wrote the logs. The routes return them raw where they
are identifiers (`run`, sent back in `?run=`; series keys) and, next to them,
in the form the tab shows: `present.safe_text.visible`, so an escape sequence,
a newline or a right-to-left override appears as `\\x1b`, `\\x0a`, `\\u202e`.
Checked through the real TensorBoard app over folders with such names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tb_recipe_plugin.present.safe_text import has_unsafe, visible
from tests.tb_app import get, tensorboard_client
from tests.test_cli import write_run

NAMES = ("clear\x1b[2Jscreen", "title\x1b]0;pwned\x07", "two\nlines", "rtl\u202etxt.exe")
TRAIN_TAG, VAL_TAG = "loss\x1b[31m/train", "loss\u202e/val"
UNDECODABLE = "bad\udcffbyte"  # byte 0xFF kept by surrogateescape


def overfitting() -> dict[str, list[float]]:
    """Curves whose `overfitting` finding quotes both (hostile) tags in its message."""
    x = np.linspace(0, 8, 60)
    train = 0.3 + 2 * np.exp(-x) - x / 32
    val = 0.6 + 2 * np.exp(-x) + 0.03 * np.clip(x - 2, 0, None) ** 2
    return {TRAIN_TAG: list(train), VAL_TAG: list(val)}


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("display")
    for name in NAMES:
        write_run(root / name, **overfitting())
    write_run(root / "plain", **overfitting())
    return root


@pytest.fixture(scope="module")
def client(logdir):
    return tensorboard_client(str(logdir))


def strings(tree):
    """Every string in a JSON tree (dict keys excluded)."""
    if isinstance(tree, str):
        yield tree
    elif isinstance(tree, dict):
        for value in tree.values():
            yield from strings(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from strings(value)


def test_run_list_gives_the_raw_name_and_its_visible_form(client):
    code, body = get(client, "runs")
    assert code == 200
    rows = {r["run"]: r for r in body["runs"]}
    assert set(NAMES) < set(rows)
    for name in NAMES:
        assert rows[name]["display"] == visible(name) and not has_unsafe(rows[name]["display"])
    assert rows["two\nlines"]["display"] == "two\\x0alines"
    assert rows["rtl\u202etxt.exe"]["display"] == "rtl\\u202etxt.exe"
    assert rows["plain"]["display"] == "plain"


@pytest.mark.parametrize("name", NAMES)
def test_raw_name_is_the_identifier_and_everything_shown_is_visible(client, name):
    code, body = get(client, "diagnosis", run=name)
    assert code == 200 and body["run"] == name
    shown = body["display"]
    assert shown["run"] == visible(name)
    assert not [s for s in strings(shown) if has_unsafe(s)]
    finding = next(f for f in shown["findings"] if f["code"] == "overfitting")
    assert visible(VAL_TAG) in finding["message"] and visible(TRAIN_TAG) in finding["message"]
    assert shown["roles"]["val_loss"]["tag"] == "loss\\u202e/val"
    assert shown["best_step_basis"] == f"lowest {visible(VAL_TAG)}"
    # The CLI's object is unchanged next to it: raw names, for scripts.
    assert body["roles"]["val_loss"]["tag"] == VAL_TAG
    assert set(next(f for f in body["findings"] if f["code"] == "overfitting")["series"]) == {TRAIN_TAG, VAL_TAG}


def test_series_are_keyed_by_raw_tag_with_a_visible_legend(client):
    code, body = get(client, "series", run=NAMES[0])
    assert code == 200 and body["run"] == NAMES[0] and body["display"] == visible(NAMES[0])
    legends = {tag: s["display"] for tag, s in body["series"].items()}
    assert legends == {TRAIN_TAG: visible(TRAIN_TAG), VAL_TAG: visible(VAL_TAG)}


def test_unknown_hostile_name_is_quoted_visibly_in_the_error(client):
    code, body = get(client, "diagnosis", run="nope\x1b[2J\u202e")
    assert code == 404
    assert "nope\\x1b[2J\\u202e" in body["error"] and not has_unsafe(body["error"])


def test_a_name_with_an_undecodable_byte_is_named_by_its_visible_form(logdir):
    """TensorBoard's loaders never pass such a name on (the data server writes U+FFFD, the Python
    loader fails on the folder), but a data provider may: the tab must not fail for every run."""
    client = tensorboard_client(str(logdir))
    client.multiplexer.AddRun(str(logdir / "plain"), name=UNDECODABLE)
    client.multiplexer.Reload()
    code, body = get(client, "runs")
    assert code == 200
    row = next(r for r in body["runs"] if r["run"].startswith("bad"))
    assert row["run"] == row["display"] == "bad\\xffbyte"
    code, report = get(client, "diagnosis", run=row["run"])
    assert code == 200 and report["run"] == "bad\\xffbyte" and report["findings"]
