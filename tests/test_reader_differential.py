"""Differential fuzz: the column-wise batch decoder against the per-record decoder, on the same bytes.

The per-record path (`Event.FromString` + `_apply_event`) defines what an event
file means; the batch path must give the same series (keys, steps, values, wall
times) and the same report (counts, offsets, messages) on ANY stream. Streams are
built from real `Event` protos (scalars as simple values and as tensors of every
dtype, metadata, multi-value events, session logs, graphs, histograms...), then
mutated at the wire level: strings (tags, plugin names, file versions) replaced
by random bytes, invalid UTF-8, U+FFFD or the batch path's own sentinel; nested messages
duplicated, dropped, truncated or given a wrong length; keys given wrong wire
types; varints made huge or overlong; scalars re-encoded as packed arrays;
foreign fields and extra oneof members inserted; random byte flips. Every record
is framed with freshly computed CRCs, so the damage reaches the decoders.

Each case is read per record, batch-only (every chunk through the columns,
however many records need the per-record path) and, from 64 records up, with
the CLI's default thresholds. Cases are generated from a seed; a failure names it.
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from hypothesis import given, settings
from hypothesis import strategies as st
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2

import tb_recipe_plugin.io.event_reader as er
from tb_recipe_plugin.io.columns import SENT_WALL
from tb_recipe_plugin.io.event_reader import ScalarCollector, frame_record

WALL0 = 1_700_000_000.0

# --------------------------------------------------------------------------- wire-level tree


@dataclass
class Msg:
    """A length-delimited payload parsed as a message of `desc` (kept as a tree so it can be mutated)."""

    desc: Descriptor | None
    fields: list[Field]


@dataclass
class Field:
    number: int
    wire: int
    value: Any  # int (varint), bytes (fixed32/64, or a length-delimited payload), or Msg
    key: bytes | None = None  # raw key bytes overriding the canonical one (overlong, another wire type);
    # `wire` keeps saying how the value itself is encoded
    length: bytes | None = None  # raw length prefix overriding the real one (too long / too short)
    varint: bytes | None = None  # raw varint bytes overriding a wire-0 value (overlong, 11 bytes)


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1 if n < 0 else (1 << 70) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if not n:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise IndexError("varint too long")


def parse(data: bytes, desc: Descriptor | None) -> list[Field] | None:
    """Wire fields of `data`; message-typed fields of `desc` become sub-trees. None if not well formed."""
    out: list[Field] = []
    pos = 0
    try:
        while pos < len(data):
            key, pos = _read_varint(data, pos)
            number, wire = key >> 3, key & 7
            if number == 0:
                return None
            if wire == 0:
                value, pos = _read_varint(data, pos)
            elif wire in (1, 5):
                size = 8 if wire == 1 else 4
                value, pos = data[pos : pos + size], pos + size
            elif wire == 2:
                size, pos = _read_varint(data, pos)
                value, pos = data[pos : pos + size], pos + size
                fd = desc.fields_by_number.get(number) if desc is not None else None
                if fd is not None and fd.type == FieldDescriptor.TYPE_MESSAGE:
                    sub = parse(value, fd.message_type)
                    if sub is not None:
                        value = Msg(fd.message_type, sub)
            else:
                return None
            if pos > len(data):
                return None
            out.append(Field(number, wire, value))
    except IndexError:
        return None
    return out


def encode(fields: list[Field]) -> bytes:
    out = bytearray()
    for f in fields:
        out += f.key if f.key is not None else varint(f.number << 3 | f.wire)
        if isinstance(f.value, Msg):
            payload = encode(f.value.fields)
            out += f.length if f.length is not None else varint(len(payload))
            out += payload
        elif f.wire == 2:
            out += f.length if f.length is not None else varint(len(f.value))
            out += f.value
        elif isinstance(f.value, int):
            out += f.varint if f.varint is not None else varint(f.value)
        else:
            out += f.value
    return bytes(out)


def clone(f: Field) -> Field:
    """Deep copy (descriptors are shared, not copied)."""
    value = Msg(f.value.desc, [clone(c) for c in f.value.fields]) if isinstance(f.value, Msg) else f.value
    return Field(f.number, f.wire, value, f.key, f.length, f.varint)


def nodes(fields: list[Field], desc: Descriptor | None) -> Iterator[tuple[list[Field], int, Descriptor | None]]:
    """Every field of the tree with the list holding it and the descriptor of that list's message."""
    for i, f in enumerate(fields):
        yield fields, i, desc
        if isinstance(f.value, Msg):
            yield from nodes(f.value.fields, f.value.desc)


# --------------------------------------------------------------------------- valid streams from real protos

TAGS = ["loss", "acc", "train/loss", "val/acc", "args/text_summary", "é", "\ufffd", "a\ufffdb", "x" * 70, "", "\x00"]
PLUGINS = ["scalars", "scalars", "scalars", "histograms", "text", "", "custom", "hparams"]
# dtype -> (struct format for tensor_content, repeated field, example values)
DTYPES: dict[int, tuple[str, str, list[Any]]] = {
    1: ("<f", "float_val", [0.5, -1.25, float("nan"), float("inf")]),
    2: ("<d", "double_val", [0.1, -3.5e300, float("-inf")]),
    3: ("<i", "int_val", [-7, 2**31 - 1]),
    4: ("<B", "int_val", [0, 255]),
    5: ("<h", "int_val", [-300, 12]),
    6: ("<b", "int_val", [-128, 5]),
    9: ("<q", "int64_val", [2**40, -(2**63)]),
    14: ("<H", "half_val", [0x4020, 0x7FC0]),  # bfloat16 bits: 2.5, NaN
    17: ("<H", "int_val", [65535, 1]),
    19: ("<H", "half_val", [0x3E00, 0xFC00]),  # half bits: 1.5, -inf
    22: ("<I", "uint32_val", [2**32 - 1, 3]),
    23: ("<Q", "uint64_val", [2**64 - 1, 4]),
    10: ("<?", "bool_val", [True]),  # DT_BOOL: not a number we read
    7: ("", "string_val", [b"hello"]),  # DT_STRING
    8: ("<ff", "scomplex_val", [1.0]),  # DT_COMPLEX64
}


def tensor_proto(rng: random.Random) -> tensor_pb2.TensorProto:
    dtype = rng.choice(list(DTYPES))
    fmt, repeated, examples = DTYPES[dtype]
    value = rng.choice(examples)
    tensor = tensor_pb2.TensorProto(dtype=dtype)
    shape = rng.choice([[], [], [], [1], [1, 1], [2], [0]])
    for size in shape:
        tensor.tensor_shape.dim.add(size=size)
    count = int(np.prod(shape)) if shape else 1
    if fmt and dtype != 8 and rng.random() < 0.5:
        tensor.tensor_content = struct.pack(fmt, value) * max(count, rng.choice([1, 1, 2]))
    elif count:
        getattr(tensor, repeated).extend([value] * (count if rng.random() < 0.8 else count + 1))
    return tensor


def metadata(rng: random.Random) -> summary_pb2.SummaryMetadata:
    meta = summary_pb2.SummaryMetadata()
    meta.plugin_data.plugin_name = rng.choice(PLUGINS)
    if rng.random() < 0.3:
        meta.plugin_data.content = rng.randbytes(rng.randrange(4))
    if rng.random() < 0.2:
        meta.display_name = rng.choice(TAGS)
    if rng.random() < 0.5:
        meta.data_class = rng.choice([0, 1, 2, 3])
    return meta


def add_value(event: event_pb2.Event, rng: random.Random, tags: list[str], meta_rate: float) -> None:
    value = event.summary.value.add(tag=rng.choice(tags))
    kind = rng.random()
    if kind < 0.45:
        value.simple_value = rng.choice([0.25, -1.0, float("nan"), float("inf"), 1e-45, rng.random()])
    elif kind < 0.9:
        if rng.random() < 0.7:
            value.tensor.CopyFrom(
                tensor_pb2.TensorProto(dtype=1, tensor_shape={}, tensor_content=struct.pack("<f", rng.random()))
            )
        else:
            value.tensor.CopyFrom(tensor_proto(rng))
    elif kind < 0.95:
        value.histo.CopyFrom(summary_pb2.HistogramProto(min=0, max=1, num=2, bucket_limit=[1.0], bucket=[2.0]))
    else:
        value.image.CopyFrom(summary_pb2.Summary.Image(height=1, width=1, encoded_image_string=b"\x89PNG"))
    if rng.random() < meta_rate:
        value.metadata.CopyFrom(metadata(rng))


def base_event(rng: random.Random, step: int, tags: list[str], meta_rate: float) -> event_pb2.Event:
    wall = rng.choice([WALL0 + step] * 20 + [0.0, -1.0])
    event = event_pb2.Event(step=step, wall_time=wall)
    kind = rng.random()
    if kind < 0.82:
        add_value(event, rng, tags, meta_rate)
    elif kind < 0.88:
        for _ in range(rng.randrange(2, 4)):  # TF1 merged summary: several values in one event
            add_value(event, rng, tags, meta_rate)
    elif kind < 0.92:
        status = rng.choice([1, 1, 2, 3])  # START, START, STOP, CHECKPOINT
        event.session_log.CopyFrom(event_pb2.SessionLog(status=status, msg="restart"))
    elif kind < 0.94:
        event.graph_def = rng.randbytes(rng.randrange(12))
    elif kind < 0.96:
        event.log_message.CopyFrom(event_pb2.LogMessage(level=20, message="hi"))
    elif kind < 0.98:
        event.file_version = "brain.Event:2"
    else:
        event.tagged_run_metadata.CopyFrom(event_pb2.TaggedRunMetadata(tag="step1", run_metadata=b"\x00"))
    return event


def base_stream(rng: random.Random) -> list[bytes]:
    tags = rng.sample(TAGS, rng.randrange(1, 5))
    meta_rate = rng.choice([0.05, 0.3, 1.0])  # TF2 (first value only) ... Keras 3 (every value)
    records = [event_pb2.Event(wall_time=WALL0, file_version="brain.Event:2").SerializeToString()]
    step = rng.randrange(-2, 3)
    for _ in range(rng.randrange(20, 140)):
        step += rng.choice([1, 1, 1, 1, 0, -3, 5])
        records.append(base_event(rng, step, tags, meta_rate).SerializeToString())
    return records


# --------------------------------------------------------------------------- mutations

BAD_STRINGS = [
    b"\xff",  # invalid UTF-8, and the batch path's bytes sentinel
    b"\xc3",  # truncated sequence
    b"\xed\xa0\x80",  # UTF-16 surrogate
    b"\xc0\xaf",  # overlong encoding
    b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    b"ok\xfe",
    b"\xef\xbf\xbd",  # U+FFFD itself: valid
    "é/\ufffd".encode(),
    b"",
    b"scalars",
    b"\x00\x01",
]
FLOAT_SENTINEL = struct.pack("<I", 0xFFFFFFFF)


def _random_field(rng: random.Random) -> Field:
    number = rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 16, 100, 2**29 - 1])
    wire = rng.choice([0, 1, 2, 5])
    if wire == 0:
        return Field(number, 0, rng.choice([0, 1, 2**63, 2**64 - 1, rng.randrange(2**20)]))
    if wire == 1:
        return Field(number, 1, rng.randbytes(8))
    if wire == 5:
        return Field(number, 5, rng.randbytes(4))
    return Field(number, 2, rng.choice([b"", b"\x00", rng.randbytes(rng.randrange(6)), b"\x08\x01"]))


def _string_fields(tree: list[Field], desc: Descriptor) -> list[tuple[list[Field], int]]:
    out = []
    for parent, i, pdesc in nodes(tree, desc):
        fd = pdesc.fields_by_number.get(parent[i].number) if pdesc is not None else None
        if fd is not None and fd.type == FieldDescriptor.TYPE_STRING and parent[i].wire == 2:
            out.append((parent, i))
    return out


def mutate_tree(tree: list[Field], rng: random.Random) -> None:
    """One structural mutation somewhere in the tree of one event."""
    all_nodes = list(nodes(tree, event_pb2.Event.DESCRIPTOR))
    kind = rng.choice(
        [
            "string",
            "string",
            "dup",
            "drop",
            "truncate",
            "length",
            "wire",
            "varint",
            "packed",
            "insert",
            "swap",
            "oneof",
            "value_oneof",
            "sentinel",
            "empty",
        ]  # fmt: skip
    )
    if kind == "string":
        strings = _string_fields(tree, event_pb2.Event.DESCRIPTOR)
        if strings:
            parent, i = rng.choice(strings)
            parent[i].value = rng.choice(BAD_STRINGS) if rng.random() < 0.7 else rng.randbytes(rng.randrange(1, 6))
        return
    if kind == "oneof":
        extra = rng.choice(
            [
                Field(3, 2, rng.choice([b"brain.Event:2", b"\xff"])),
                Field(4, 2, b""),
                Field(5, 2, Msg(summary_pb2.Summary.DESCRIPTOR, [])),
                Field(6, 2, b""),
                Field(7, 2, b"\x08\x01"),
                Field(8, 2, b""),
                Field(9, 2, b"\x00"),
                Field(10, 2, b""),
            ]
        )
        tree.insert(rng.randrange(len(tree) + 1), extra)
        return
    if not all_nodes:
        tree.append(_random_field(rng))
        return
    parent, i, desc = rng.choice(all_nodes)
    node = parent[i]
    if kind == "dup":
        parent.insert(rng.choice([i + 1, len(parent)]), clone(node))
    elif kind == "drop":
        del parent[i]
    elif kind == "truncate" and node.wire == 2:
        payload = encode(node.value.fields) if isinstance(node.value, Msg) else node.value
        if payload:
            node.value = payload[: rng.randrange(len(payload))]
    elif kind == "length" and node.wire == 2:
        payload = encode(node.value.fields) if isinstance(node.value, Msg) else node.value
        node.length = varint(max(0, len(payload) + rng.choice([-2, -1, 1, 3, 2**31])))
    elif kind == "wire":
        node.key = varint(node.number << 3 | rng.choice([0, 1, 2, 3, 4, 5, 6, 7]))
    elif kind == "varint":
        if node.wire == 0:
            choice = rng.random()
            if choice < 0.4:
                node.value = rng.choice([2**63 - 1, 2**64 - 1, 2**63, 0, 2**70 - 1])
            else:  # same value, overlong encoding: 10 bytes is legal, 11 is not
                raw = bytearray(varint(node.value))
                while len(raw) < rng.choice([10, 10, 11]):
                    raw[-1] |= 0x80
                    raw.append(0)
                node.varint = bytes(raw)
        else:  # an overlong key: the same field number and wire type in one more byte
            key = node.key or varint(node.number << 3 | node.wire)
            node.key = key[:-1] + bytes([key[-1] | 0x80]) + b"\x00"
    elif kind == "packed" and node.wire in (0, 1, 5):
        raw = varint(node.value) if node.wire == 0 else node.value
        node.wire, node.value = 2, raw * rng.choice([1, 1, 2])
    elif kind == "insert":
        parent.insert(rng.randrange(len(parent) + 1), _random_field(rng))
    elif kind == "swap" and len(parent) > 1:
        j = rng.randrange(len(parent))
        parent[i], parent[j] = parent[j], parent[i]
    elif kind == "value_oneof" and desc is summary_pb2.Summary.Value.DESCRIPTOR:
        parent.append(
            rng.choice(
                [
                    Field(2, 5, struct.pack("<f", 2.0)),
                    Field(3, 2, b""),
                    Field(5, 2, b""),
                    Field(8, 2, b"\x08\x01\x22\x04\x00\x00\x80\x3f"),
                    Field(7, 2, b"node"),
                ]
            )
        )
    elif kind == "sentinel":
        parent.insert(
            rng.randrange(len(parent) + 1),
            rng.choice(
                [
                    Field(2, 0, 0),  # explicit step 0
                    Field(2, 0, -(1 << 63)),
                    Field(1, 1, struct.pack("<d", SENT_WALL)),
                    Field(2, 5, FLOAT_SENTINEL),
                    Field(1, 2, b"\xff"),
                ]
            ),
        )
    elif kind == "empty":
        parent.insert(rng.randrange(len(parent) + 1), Field(node.number, 2, b""))


def mutate_payload(payload: bytes, rng: random.Random) -> bytes:
    """A structural mutation of one event, or (rarely) raw byte damage."""
    if rng.random() < 0.12:
        data = bytearray(payload)
        for _ in range(rng.randrange(1, 4)):
            action = rng.random()
            at = rng.randrange(len(data) + 1)
            if action < 0.5 and data:
                data[min(at, len(data) - 1)] ^= 1 << rng.randrange(8)
            elif action < 0.75:
                data[at:at] = rng.randbytes(rng.randrange(1, 4))
            else:
                del data[at : at + rng.randrange(1, 4)]
        return bytes(data)
    tree = parse(payload, event_pb2.Event.DESCRIPTOR)
    if tree is None:
        return payload
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        mutate_tree(tree, rng)
    return encode(tree)


def fuzz_stream(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    records = base_stream(rng)
    for _ in range(rng.choice([0, 1, 1, 2, 3, 6])):
        i = rng.randrange(len(records))
        records[i] = mutate_payload(records[i], rng)
    if rng.random() < 0.1:  # a damaged record repeated: several bad records in one batch
        bad = mutate_payload(records[rng.randrange(len(records))], rng)
        for _ in range(rng.randrange(2, 6)):
            records.insert(rng.randrange(len(records) + 1), bad)
    return records


# --------------------------------------------------------------------------- comparing the decoders

MODES: dict[str, dict[str, float]] = {
    "per_record": {"MIN_BATCH": 10**9},
    "batch_only": {"MIN_BATCH": 0, "MAX_SLOW_FRACTION": 1.0},
    "default": {},
}


@contextmanager
def decoder_mode(mode: str) -> Iterator[None]:
    saved = {name: getattr(er, name) for name in MODES[mode]}
    for name, value in MODES[mode].items():
        setattr(er, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(er, name, value)


@dataclass
class Outcome:
    """Everything a reader's caller can observe, in comparable form."""

    series: dict[str, tuple[list[int], bytes, list[float]]]
    report: dict[str, Any] = field(default_factory=dict)
    hparams: dict[str, bytes] = field(default_factory=dict)  # HParams plugin contents, config texts (issue 10)


def read_with(data: bytes, mode: str) -> Outcome:
    collector = ScalarCollector()
    with decoder_mode(mode):
        report = er.read_event_stream(io.BytesIO(data), collector.scope(""), "events.out.tfevents.1.fuzz")
    series = {
        key: (s.steps.tolist(), _value_bits(s.values), s.wall_times.tolist())
        for key, s in collector.to_series().items()
    }
    return Outcome(series, asdict(report), dict(collector.hparams))


def _value_bits(values: np.ndarray) -> bytes:
    """Exact values; every NaN counts as one (both paths widen float32 NaNs the same way, but payload bits
    of a NaN are not something a user can see)."""
    canonical = np.where(np.isnan(values), np.nan, values)
    return canonical.tobytes()


def differences(records: list[bytes]) -> dict[str, Outcome]:
    """Outcomes of the batch modes that differ from the per-record outcome (empty when all agree)."""
    data = b"".join(frame_record(p) for p in records)
    reference = read_with(data, "per_record")
    out = {"per_record": reference}
    # Below MIN_BATCH records the default mode IS the per-record path: nothing to compare.
    for mode in ("batch_only", "default") if len(records) >= er.MIN_BATCH else ("batch_only",):
        outcome = read_with(data, mode)
        if outcome != reference:
            out[mode] = outcome
    return out if len(out) > 1 else {}


def describe(seed: int, diff: dict[str, Outcome]) -> str:
    ref = diff["per_record"]
    lines = [f"seed {seed}: batch path disagrees with the per-record path"]
    for mode, outcome in diff.items():
        if mode == "per_record":
            continue
        for key in sorted(set(ref.series) | set(outcome.series)):
            if ref.series.get(key) != outcome.series.get(key):
                lines.append(f"  {mode}: series {key!r} differs")
        for tag in sorted(set(ref.hparams) | set(outcome.hparams)):
            if ref.hparams.get(tag) != outcome.hparams.get(tag):
                got, want = outcome.hparams.get(tag), ref.hparams.get(tag)
                lines.append(f"  {mode}: hparams {tag!r} = {got!r}, per-record {want!r}")
        for name, value in outcome.report.items():
            if ref.report[name] != value:
                lines.append(f"  {mode}: report.{name} = {value!r}, per-record {ref.report[name]!r}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- tests

SEEDED_CASES = 2000


def test_fuzzed_streams_decode_the_same_on_both_paths():
    """Thousands of mutated streams from fixed seeds (reproducible); every disagreement is listed."""
    failures = []
    for seed in range(SEEDED_CASES):
        diff = differences(fuzz_stream(seed))
        if diff:
            failures.append(describe(seed, diff))
    assert not failures, f"{len(failures)} of {SEEDED_CASES} streams disagree:\n" + "\n".join(failures[:10])


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(SEEDED_CASES, 2**32))
def test_fuzzed_streams_hypothesis(seed):
    """Fresh seeds on every run (hypothesis keeps any failing one in its database)."""
    diff = differences(fuzz_stream(seed))
    assert not diff, describe(seed, diff)


def test_fuzz_exercises_what_it_claims():
    """Guard against a fuzzer that silently stopped producing the interesting cases."""
    seen: dict[str, int] = {}

    def count(name: str, hit: bool) -> None:
        seen[name] = seen.get(name, 0) + int(hit)

    parse_event: Callable[[bytes], Any] = event_pb2.Event.FromString
    for seed in range(300):
        for payload in fuzz_stream(seed):
            try:
                event = parse_event(payload)
            except Exception:  # noqa: BLE001 - counting undecodable records is the point
                count("undecodable", True)
                continue
            count("session", event.HasField("session_log"))
            count("multi_value", len(event.summary.value) > 1)
            count("tensor", any(v.HasField("tensor") for v in event.summary.value))
            count("fffd_tag", any("\ufffd" in v.tag for v in event.summary.value))
    assert all(seen.get(k, 0) >= 20 for k in ("undecodable", "session", "multi_value", "tensor", "fffd_tag")), seen


def test_fuzz_reaches_the_columns(monkeypatch):
    """Most fuzzed records must really be decoded from the columns in batch mode: a batch decoder that
    gave up on everything would agree with the per-record path trivially."""
    columnar = per_record = 0
    real_segment, real_records = er._apply_segment, er._apply_records

    def segment(batch, lo, hi, *args):
        nonlocal columnar
        columnar += max(0, hi - lo)
        return real_segment(batch, lo, hi, *args)

    def records(datas, *args):
        nonlocal per_record
        per_record += len(datas)
        return real_records(datas, *args)

    monkeypatch.setattr(er, "_apply_segment", segment)
    monkeypatch.setattr(er, "_apply_records", records)
    for seed in range(200):
        read_with(b"".join(frame_record(p) for p in fuzz_stream(seed)), "batch_only")
    assert columnar > per_record, (columnar, per_record)  # about 60% columnar; the rest are kinds it never takes


# --------------------------------------------------------------------------- named cases (each failed before the fix)


def _frames(records: list[bytes]) -> bytes:
    return b"".join(frame_record(p) for p in records)


def _ld(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


FLOAT_TENSOR = b"\x08\x01\x12\x00\x22\x04"  # DT_FLOAT, shape {}, 4 bytes of tensor_content follow


def _scalar_value(tag: bytes, step: int, plugin: bytes | None = None, tensor: bytes | None = None) -> bytes:
    """A TF2 scalar Summary.Value from raw bytes, so tags and plugin names can be invalid UTF-8."""
    value = _ld(1, tag) + _ld(8, tensor if tensor is not None else FLOAT_TENSOR + struct.pack("<f", step / 10))
    if plugin is not None:
        value += _ld(9, _ld(1, _ld(1, plugin)))  # metadata.plugin_data.plugin_name
    return value


def _event(step: int, *values: bytes, extra: bytes = b"") -> bytes:
    summary = b"".join(_ld(1, v) for v in values)
    return b"\x09" + struct.pack("<d", WALL0 + step) + b"\x10" + varint(step) + _ld(5, summary) + extra


HEADER = event_pb2.Event(wall_time=WALL0, file_version="brain.Event:2").SerializeToString()


def _agree(records: list[bytes]) -> Outcome:
    """Assert both batch modes agree with the per-record path; return the per-record outcome."""
    diff = differences(records)
    assert not diff, describe(-1, diff)
    return read_with(_frames(records), "per_record")


def test_invalid_utf8_plugin_name_on_the_first_event():
    """The attack's case: the first event's plugin name is invalid UTF-8 (valid CRC). That event is not a
    valid Event proto (reported), and the next event's metadata names the plugin: 99 of 100 points read.
    The batch path used to register an empty plugin name for the tag and read nothing, silently."""
    records = [HEADER, _event(1, _scalar_value(b"loss", 1, b"scal\xffars"))]
    records += [_event(s, _scalar_value(b"loss", s, b"scalars")) for s in range(2, 101)]
    outcome = _agree(records)
    assert list(outcome.series) == ["loss"] and outcome.series["loss"][0] == list(range(2, 101))
    assert outcome.report["errors"] == [
        "events.out.tfevents.1.fuzz: skipped 1 record(s) that are not valid Event protos (first at byte 40)"
    ]


@pytest.mark.parametrize("tag", [b"lo\xffss", b"\xed\xa0\x80", b"\xc0\xaf", b"ok\xc3"])
def test_invalid_utf8_tag_is_not_read_as_u_fffd(tag):
    records = [_event(s, _scalar_value(tag, s, b"scalars")) for s in range(100)]
    records[50] = _event(50, _scalar_value(b"ok", 50, b"scalars"))
    outcome = _agree(records)
    assert list(outcome.series) == ["ok"]
    assert "skipped 99 record(s) that are not valid Event protos" in outcome.report["errors"][0]


def test_a_real_u_fffd_in_a_tag_is_kept():
    records = [_event(s, _scalar_value("a\ufffdb".encode(), s, b"scalars")) for s in range(100)]
    assert list(_agree(records).series) == ["a\ufffdb"]


def _nested_tensor(depth: int) -> bytes:
    """A TensorProto nesting `depth` levels of variant_val.tensors: protobuf's depth limit decides."""
    tensor = b""
    for _ in range(depth):
        tensor = _ld(15, _ld(3, tensor))
    return FLOAT_TENSOR + struct.pack("<f", 1.0) + tensor


@pytest.mark.parametrize(
    "bad",
    [
        _scalar_value(b"t", 7, b"scalars").replace(b"\x0a\x07scalars", b"\x0b\x07scalars"),  # wire type 3
        _scalar_value(b"t", 7, tensor=FLOAT_TENSOR + b"\x00\x00"),  # tensor_content cut short: not a scalar
        _scalar_value(b"t", 7, tensor=b"\x08\x81"),  # truncated varint inside the tensor
        _scalar_value(b"t", 7, tensor=_nested_tensor(60)),  # too deep for protobuf inside an event
        _scalar_value(b"t", 7, tensor=_nested_tensor(49)),  # too deep inside an event, fine on its own
        _scalar_value(b"t", 7, b"\xff"),
    ],
    ids=["meta_wire_type", "short_content", "truncated_varint", "deep", "deep_in_event_only", "bad_plugin"],
)
def test_malformed_nested_metadata_and_tensors(bad):
    records = [_event(s, _scalar_value(b"t", s, b"scalars" if s == 0 else None)) for s in range(100)]
    records[40] = _event(40, bad)
    outcome = _agree(records)
    assert 40 not in outcome.series["t"][0]


@pytest.mark.parametrize(
    "record",
    [
        # wall time as a one-element packed array: the real parser ignores it (wall time 0)
        _ld(1, struct.pack("<d", WALL0)) + b"\x10\x07" + _ld(5, _ld(1, _ld(1, b"x") + b"\x15" + FLOAT_SENTINEL)),
        # step as packed varints
        b"\x09" + struct.pack("<d", WALL0) + _ld(2, b"\x07") + _ld(5, _ld(1, _ld(1, b"x") + b"\x15\x00\x00\x80?")),
        # the tag in one Summary.Value and the number in a second one (tag "")
        _event(7, _ld(1, b"x"), b"\x15\x00\x00\x80?"),
        # a summary, then an empty log_message: the last member of the `what` oneof wins
        _event(7, _ld(1, b"x") + b"\x15\x00\x00\x80?", extra=_ld(6, b"")),
        # a simple value, then an empty histogram: the value's oneof ends on the histogram
        _event(7, _ld(1, b"x") + b"\x15\x00\x00\x80?" + _ld(5, b"")),
        # an unknown field and an explicit zero step
        _event(0, _ld(1, b"x") + b"\x15\x00\x00\x80?") + b"\x10\x00" + _ld(99, b"z"),
    ],
    ids=["packed_wall", "packed_step", "split_value", "oneof_log_message", "value_oneof_histo", "unknown_field"],
)
def test_layouts_the_columns_cannot_see(record):
    records = [_event(s, _ld(1, b"x") + b"\x15" + struct.pack("<f", s)) for s in range(1, 100)]
    records.insert(50, record)
    _agree(records)


def test_overrunning_record_with_a_forged_sentinel_cannot_shift_columns():
    """A hostile file: one record ends with a field claiming 9 bytes more than it has (so, read in a batch,
    it would swallow the next record's wall-time sentinel), and a later record carries a copy of that
    sentinel (restoring the count). Without the check that proves every record was parsed within its own
    bytes, the records in between were read with their successor's wall time."""
    records = [_event(s, _ld(1, b"x") + b"\x15" + struct.pack("<f", s)) for s in range(1, 101)]
    records[30] += b"\x7a\x09"  # unknown field 15 whose 9 bytes are missing: invalid on its own
    records[60] = b"\x09" + struct.pack("<d", SENT_WALL) + records[60]
    outcome = _agree(records)
    steps, _, walls = outcome.series["x"]
    assert 31 not in steps and walls == [WALL0 + s for s in steps]
