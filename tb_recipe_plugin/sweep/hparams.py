"""A run's hyperparameters, from the best source it has (issue 10).

In order of preference:

1. TensorBoard's HParams plugin data in the run's event files: the
   `HParamsPluginData` that Keras' `hp.hparams` / `hp.KerasCallback`,
   Lightning's `TensorBoardLogger.log_hyperparams` and PyTorch/tensorboardX's
   `add_hparams` write under ``_hparams_/session_start_info`` (values) and
   ``_hparams_/experiment`` (the declared hyperparameters and metrics). The
   loaders keep those bytes (`RunData.hparams`); they are parsed here with
   TensorBoard's own protos (`tensorboard.plugins.hparams.plugin_data_pb2`,
   protobuf only: no TensorFlow).
2. Hugging Face Trainer's ``args`` text summary: its `TrainingArguments` as
   JSON (``args/text_summary`` when PyTorch or tensorboardX wrote it).
3. Configuration files beside the event files, which the loader reads:
   Lightning's ``hparams.yaml``, Ultralytics' ``args.yaml``, YOLOv5's
   ``opt.yaml`` and ``hyp.yaml`` (merged; the first file names a value first).
   Nested keys are joined with dots (``hyp.lr0``).
4. Tokens in the run's folder name: ``lr=0.01,bs=64``, ``lr_0.01``,
   ``UNet_dr015_bs32_lr3e_4``, ``lr3e-4``; reported as inferred, since a name
   is a convention, not a record.

Values are numbers (float), strings or booleans, as the HParams API has them;
lists, nulls and long texts in a configuration are not hyperparameter values
and are left out. The source is named on every run (`HParams.source`).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from tb_recipe_plugin.io.event_reader import CONFIG_TEXT_KEY
from tb_recipe_plugin.io.event_reader import HPARAMS_EXPERIMENT_TAG as EXPERIMENT_TAG
from tb_recipe_plugin.io.event_reader import HPARAMS_SESSION_START_TAG as SESSION_START_TAG
from tb_recipe_plugin.io.loader import CONFIG_FILE_KEY, CONFIG_FILES

TRAINER_ARGS_TAGS = ("args/text_summary", "args")
"""Where Hugging Face's Trainer writes its arguments (the reader keeps these tags: `CONFIG_TEXT_TAGS`)."""
MAX_TEXT_VALUE = 200
"""A string longer than this in a configuration is a description or a path list, not a hyperparameter value."""

HParamValue = float | str | bool


@dataclass(frozen=True)
class HParams:
    """One run's hyperparameters and where they came from."""

    values: dict[str, HParamValue]
    source: str  # "hparams_plugin" | "trainer_args" | "file:<name>" (`CONFIG_FILES`, joined by "+") | "run_name"
    metrics: tuple[str, ...] = ()  # metric tags the HParams experiment declares, if it does
    group: str = ""  # the session group the writer named (tensorboardX/PyTorch: the run's own name)
    notes: list[str] = field(default_factory=list)  # why a source was not usable


def from_plugin_data(contents: Mapping[str, bytes]) -> HParams | None:
    """The values of ``_hparams_/session_start_info`` (and the metrics ``_hparams_/experiment`` declares); None when
    the run has no session start info. Content that does not parse is a note, never an exception."""
    from google.protobuf.message import DecodeError
    from tensorboard.plugins.hparams import plugin_data_pb2

    raw = contents.get(SESSION_START_TAG)
    if raw is None:
        return None
    notes: list[str] = []
    try:
        start = plugin_data_pb2.HParamsPluginData.FromString(raw).session_start_info
    except DecodeError as exc:
        return HParams({}, "hparams_plugin", notes=[f"{SESSION_START_TAG}: unreadable HParams data ({exc})"])
    values = {name: v for name, value in sorted(start.hparams.items()) if (v := _value(value)) is not None}
    metrics: tuple[str, ...] = ()
    experiment = contents.get(EXPERIMENT_TAG)
    if experiment is not None:
        try:
            exp = plugin_data_pb2.HParamsPluginData.FromString(experiment).experiment
            metrics = tuple(m.name.tag for m in exp.metric_infos)
        except DecodeError as exc:
            notes.append(f"{EXPERIMENT_TAG}: unreadable HParams data ({exc})")
    return HParams(values, "hparams_plugin", metrics, start.group_name, notes)


def _value(value) -> HParamValue | None:  # noqa: ANN001 - google.protobuf.Value
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return float(value.number_value)
    if kind == "string_value":
        return str(value.string_value)
    if kind == "bool_value":
        return bool(value.bool_value)
    return None  # null, struct or list: not a hyperparameter value the HParams API writes


ALIASES: dict[str, str] = {
    "lr": "lr",
    "learningrate": "lr",
    "learning_rate": "lr",
    "bs": "batch_size",
    "batch": "batch_size",
    "batchsize": "batch_size",
    "batch_size": "batch_size",
    "dr": "dropout",
    "dropout": "dropout",
    "drop": "dropout",
    "wd": "weight_decay",
    "weightdecay": "weight_decay",
    "weight_decay": "weight_decay",
    "ep": "epochs",
    "epochs": "epochs",
    "seed": "seed",
    "mom": "momentum",
    "momentum": "momentum",
    "warmup": "warmup",
    "layers": "layers",
    "hidden": "hidden",
    "width": "width",
    "depth": "depth",
    "heads": "heads",
}
"""Short names in run folder names and the hyperparameter each stands for. Compact tokens (``lr3e_4``) are read only
for these: an arbitrary word followed by digits (``resnet50``, ``exp2``) is a name, not a hyperparameter."""

_NUMBER = r"\d+(?:\.\d+)?(?:[eE][-_+]?\d+)?"
_SEP = r"[/_\-,;&+ ]"
_KEY_VALUE = re.compile(r"(?:^|(?<=[/,;& ]))([A-Za-z][A-Za-z0-9_.]*?)[=:]([^/,;& =:]+)")
_COMPACT = re.compile(
    rf"(?:^|(?<={_SEP}))({'|'.join(sorted(ALIASES, key=len, reverse=True))})[_=:]?({_NUMBER})(?=$|{_SEP})",
    re.IGNORECASE,
)


def from_run_name(name: str) -> HParams | None:
    """Hyperparameters spelled in a run's folder name; None when it spells none.

    ``key=value`` pairs (any key) win over compact tokens of `ALIASES` (``bs32``, ``lr_0.01``, ``lr3e-4``,
    ``lr3e_4`` with ``_`` for the exponent's minus, as in ``UNet_dr015_bs32_lr3e_4``). A compact value with a
    leading zero and no decimal point is a fraction (``dr015`` = 0.15), the usual way to keep a dot out of a name.
    """
    values: dict[str, HParamValue] = {}
    for key, raw in _KEY_VALUE.findall(name):
        values[ALIASES.get(key.lower(), key)] = _parse(raw, compact=False)
    for key, raw in _COMPACT.findall(name):
        canonical = ALIASES[key.lower()]
        if canonical not in values:
            values[canonical] = _parse(raw, compact=True)
    return HParams(values, "run_name") if values else None


def _parse(raw: str, compact: bool) -> HParamValue:
    text = raw.replace("_", "-") if re.fullmatch(r"\d+(?:\.\d+)?[eE]_\d+", raw) else raw
    if compact and re.fullmatch(r"0\d+", text):
        text = "0." + text[1:]
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        number = float(text)
    except ValueError:
        return raw
    return number if math.isfinite(number) else raw


def from_trainer_args(contents: Mapping[str, bytes]) -> HParams | None:
    """The JSON `TrainingArguments` Hugging Face's Trainer writes as its ``args`` text; None when there is none."""
    for tag in TRAINER_ARGS_TAGS:
        raw = contents.get(CONFIG_TEXT_KEY + tag)
        if raw is None:
            continue
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return HParams({}, "trainer_args", notes=[f"{tag}: not the JSON the Trainer writes ({exc})"])
        if isinstance(data, dict):
            return HParams(dict(_flat(data)), "trainer_args")
        return HParams({}, "trainer_args", notes=[f"{tag}: JSON, but not an object of arguments"])
    return None


def from_config_files(contents: Mapping[str, bytes]) -> HParams | None:
    """Values of the YAML configuration files the loader found beside the run (`CONFIG_FILES`), merged."""
    present = [f for f in CONFIG_FILES if CONFIG_FILE_KEY + f in contents]
    if not present:
        return None
    import yaml

    values: dict[str, HParamValue] = {}
    used: list[str] = []
    notes: list[str] = []
    for name in present:
        try:
            data = yaml.load(contents[CONFIG_FILE_KEY + name], Loader=_lenient_loader())  # noqa: S506 - a SafeLoader
        except yaml.YAMLError as exc:
            notes.append(f"{name}: not readable YAML ({str(exc).splitlines()[0]})")
            continue
        if not isinstance(data, dict):
            notes.append(f"{name}: YAML, but not a mapping of hyperparameters")
            continue
        used.append(name)
        for key, value in _flat(data):
            values.setdefault(key, value)
    source = "+".join(f"{CONFIG_FILE_KEY}{n}" for n in used) or f"{CONFIG_FILE_KEY}{present[0]}"
    return HParams(values, source, notes=notes)


@functools.cache
def _lenient_loader() -> type:
    """PyYAML's safe loader, where a tag it does not know (``!!python/object:argparse.Namespace``, which
    Lightning writes for some hyperparameters) reads as None instead of failing the whole file. Nothing is
    constructed from a tag: no code runs."""
    import yaml

    class Lenient(yaml.SafeLoader):
        pass

    Lenient.add_multi_constructor("", lambda loader, suffix, node: None)
    return Lenient


def _flat(data: Mapping, prefix: str = "") -> Iterator[tuple[str, HParamValue]]:
    """(dotted key, value) for every scalar of a nested mapping; numbers spelled as text (YAML 1.1 reads
    ``3e-4`` as a string) become numbers."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flat(value, name + ".")
        elif isinstance(value, bool):
            yield name, value
        elif isinstance(value, int | float):
            if math.isfinite(value):
                yield name, float(value)
        elif isinstance(value, str) and len(value) <= MAX_TEXT_VALUE:
            yield name, _parse(value, compact=False) if value.strip() else value


def run_hparams(name: str, contents: Mapping[str, bytes]) -> HParams | None:
    """The run's hyperparameters from its best source: the HParams plugin data, the Trainer's arguments, the
    configuration files beside it, else its folder name. Why a better source was not usable stays in `notes`."""
    unusable: list[HParams] = []  # sources present but without values, for their notes
    for read in (from_plugin_data, from_trainer_args, from_config_files):
        found = read(contents)
        if found is not None and found.values:
            found.notes[:0] = [n for u in unusable for n in u.notes]
            return found
        if found is not None:
            unusable.append(found)
    named = from_run_name(name)
    if named is not None:
        named.notes[:0] = [n for u in unusable for n in u.notes]
        return named
    if unusable:
        unusable[0].notes[len(unusable[0].notes):] = [n for u in unusable[1:] for n in u.notes]
        return unusable[0]
    return None
