"""Column-wise decoding of many event records in a few C calls: the reader's fast path.

Touching each record from Python (`Event.FromString`, then a handful of
attribute reads) costs ~5 us a record. Instead a whole chunk of records is
parsed ONCE with `_EventColumns`, a private schema mirroring `Event` in which
every field we need is repeated and every sub-message singular, over the
records' payloads concatenated, each preceded by a tiny serialized event made of
sentinel values. Protobuf's merge rules (repeated fields concatenate, a
singular sub-message merges) turn that single parse into columns (all wall
times, all steps, all tags...) in record order, each record's entries starting
with its sentinel so they can be assigned back to records with numpy.

The per-record path defines what a record means, so a record may only be read
from the columns when they provably say the same. What the mirror cannot see is
checked here; a record failing any check is marked `slow` and read per record,
in order:

* Alignment. Each record must have been parsed within its own bytes, as
  `Event.FromString(record)` parses it: see the wall-time sentinel below.
* Structure. The columns lose how fields were laid out: a second `Summary.value`
  whose fields merge into the first, an empty sub-message (a `log_message{}`
  that, as the last `what` member, voids the summary), a wall time written as a
  packed array (the real parser ignores it, the mirror reads it), fields the
  mirror does not declare (a histogram next to a simple value, a file version,
  a session log, unknown fields). All of them take bytes the columns do not
  account for, so each record's size is recomputed from its columns as the
  minimal encoding of exactly those entries and compared with its real size:
  any other layout is larger. The same check lets a column that few records
  use (TF2 writes a tag's metadata on its first value only) go unread.
* Content the mirror keeps as bytes: tags must be valid UTF-8 (proto3 strings;
  the real parse rejects the whole event otherwise), and tensors and summary
  metadata must parse as the real messages at the depth they have inside an
  event (protobuf limits nesting depth, so depth changes validity).
* Several values (TF1 merged summaries) or several of one field in a record.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError
from tensorboard.compat.proto import event_pb2, summary_pb2

# Field numbers taken from the real descriptors, so the column schema cannot drift from event.proto.
_EVENT = {f.name: f.number for f in event_pb2.Event.DESCRIPTOR.fields}
_VALUE = {f.name: f.number for f in summary_pb2.Summary.Value.DESCRIPTOR.fields}
_SUMMARY_VALUE = summary_pb2.Summary.DESCRIPTOR.fields_by_name["value"].number


def _columns_schema() -> type:
    """`Event` re-declared so one parse of many concatenated events yields per-field columns."""
    fdp = descriptor_pb2.FileDescriptorProto(
        name="tb_recipe_event_columns.proto", package="tb_recipe_columns", syntax="proto3"
    )
    rep, opt = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED, descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    t = descriptor_pb2.FieldDescriptorProto

    def message(name: str, fields: list[tuple[str, int, int, int, str]]) -> None:
        msg = fdp.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = msg.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name

    # Strings and sub-messages stay bytes: validated separately, and only where they matter.
    message(
        "ValueColumns",
        [
            ("tag", _VALUE["tag"], t.TYPE_BYTES, rep, ""),
            ("simple_value", _VALUE["simple_value"], t.TYPE_FLOAT, rep, ""),
            ("tensor", _VALUE["tensor"], t.TYPE_BYTES, rep, ""),
            ("metadata", _VALUE["metadata"], t.TYPE_BYTES, rep, ""),
        ],
    )
    message("SummaryColumns", [("value", _SUMMARY_VALUE, t.TYPE_MESSAGE, opt, ".tb_recipe_columns.ValueColumns")])
    message(
        "EventColumns",
        [
            ("wall_time", _EVENT["wall_time"], t.TYPE_DOUBLE, rep, ""),
            ("step", _EVENT["step"], t.TYPE_INT64, rep, ""),
            ("summary", _EVENT["summary"], t.TYPE_MESSAGE, opt, ".tb_recipe_columns.SummaryColumns"),
        ],
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tb_recipe_columns.EventColumns"))


_EventColumns = _columns_schema()

# Sentinels opening each record's entries in every column. A real value equal to one only costs speed:
# the column then has more groups than records and the batch is decoded record by record.
#
# The wall-time sentinel also proves that every record was parsed within its own bytes, as
# `Event.FromString(record)` parses it. A record whose last field runs past its end (invalid on its own)
# swallows the first byte of the next prefix, the wall sentinel's key, so that sentinel is never parsed;
# nor can its 8 bytes be read as a wall time from any other position, since the one key byte before them
# is gone. Hence: if the 8 sentinel bytes occur in the joined buffer exactly once per prefix (none inside
# a record; they contain no 0x09 byte and start with no suffix of the prefix, so no occurrence can
# straddle a record and a prefix) and the wall column shows one sentinel per record, no record overran.
SENT_WALL = -1.2345678901234567e300
_SENT_STEP = 0  # one byte; writers omit a zero step (proto3 default), so an explicit 0 is a sentinel
_SENT_FLOAT_BITS = 0xFFFFFFFF  # a float32 NaN with a payload writers do not produce
_SENT_BYTES = b"\xff"  # not valid UTF-8, so never a valid tag; an impossible TensorProto / metadata


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if not n:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def _len_field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def _sentinel_prefix(step_sentinel: int) -> bytes:
    """A serialized event whose every field we read holds a sentinel; it opens each record's entries."""
    value = (
        _len_field(_VALUE["tag"], _SENT_BYTES)
        + varint(_VALUE["simple_value"] << 3 | 5)
        + struct.pack("<I", _SENT_FLOAT_BITS)
        + _len_field(_VALUE["tensor"], _SENT_BYTES)
        + _len_field(_VALUE["metadata"], _SENT_BYTES)
    )
    return (
        varint(_EVENT["wall_time"] << 3 | 1)
        + struct.pack("<d", SENT_WALL)
        + varint(_EVENT["step"] << 3)
        + varint(step_sentinel & 0xFFFFFFFFFFFFFFFF)
        + _len_field(_EVENT["summary"], _len_field(_SUMMARY_VALUE, value))
    )


# Step sentinels: 0 costs one byte and writers omit zero steps (proto3 default); a writer that spells
# step 0 out gets the 10-byte int64 minimum instead, which no training loop uses.
PREFIXES = tuple((_sentinel_prefix(sentinel), sentinel) for sentinel in (_SENT_STEP, -(1 << 63)))
_SENT_WALL_BITS = np.array([SENT_WALL], dtype=np.float64).view(np.uint64)[0]
_SENT_WALL_BYTES = struct.pack("<d", SENT_WALL)
assert b"\x09" not in _SENT_WALL_BYTES and all(
    not _SENT_WALL_BYTES.startswith(prefix[-k:]) for prefix, _ in PREFIXES for k in range(1, 8)
)
_SENT_SIMPLE_BITS = np.array([_SENT_FLOAT_BITS], dtype="<u4").view("<f4").astype(np.float64).view(np.uint64)[0]

# Serialized TensorProto prefixes of the scalar layouts TF actually writes (dtype, empty shape,
# tensor_content of one element): valid whatever the value bytes, and decoded with one numpy view.
TENSOR_LAYOUTS: tuple[tuple[bytes, str], ...] = (
    (b"\x08\x01\x12\x00\x22\x04", "<f4"),  # DT_FLOAT
    (b"\x08\x02\x12\x00\x22\x08", "<f8"),  # DT_DOUBLE
)


# --------------------------------------------------------------------------- columns


@dataclass
class _Column:
    """Where each record's entries sit in one column: `last` is its last entry (or its sentinel)."""

    count: np.ndarray  # entries per record, sentinel excluded
    last: np.ndarray  # index of the record's last entry; the sentinel itself when count is 0


def _group(is_sentinel: np.ndarray, records: int) -> _Column | None:
    starts = np.flatnonzero(is_sentinel)
    if starts.size != records or (records and starts[0] != 0):
        return None
    ends = np.empty(records, dtype=np.int64)
    ends[:-1] = starts[1:]
    ends[-1] = is_sentinel.size
    return _Column(count=ends - starts - 1, last=ends - 1)


def _numeric_column(column: np.ndarray, sentinel_bits: int, records: int) -> _Column | None:
    bits = column.view(np.uint64) if column.dtype == np.float64 else column
    return _group(bits == sentinel_bits, records)


@dataclass
class _Entries:
    """A bytes column reduced to what the fast path can use: records holding exactly one entry."""

    count: np.ndarray  # entries per record; all zero when the column was not read (see `_bytes_entries`)
    single: np.ndarray  # records holding exactly one entry
    items: Sequence[bytes]  # their entries, in the same order


def _bytes_entries(values: Sequence[bytes], records: int) -> _Entries | None:
    """Read a bytes column, or skip it when few records have an entry (None: the sentinels do not add up).

    Materialising a column costs ~40 ns an entry, the sentinels included. A
    column with entries in few records (TF2 writes a tag's metadata on its
    first value only) is not read at all: its entries then go unaccounted in
    the size check, which sends exactly the records holding them to the
    per-record path.
    """
    extra = len(values) - records
    none = np.zeros(records, dtype=np.int64)
    if extra <= records * MAX_UNREAD_FRACTION:
        return _Entries(none, none[:0], [])
    if extra == records:
        # The usual layout, one entry per record, checked on the odd positions alone: every record adds its
        # sentinel and its entries, so with 2r items and no sentinel at an odd position each sentinel sits
        # at an even one, which leaves every record an odd number of entries, r in all: one each.
        entries = values[1::2]  # type: ignore[index]
        if not entries.count(_SENT_BYTES):
            return _Entries(np.ones(records, dtype=np.int64), np.arange(records), entries)
    listed = list(values)
    items = np.empty(len(listed), dtype=object)
    items[:] = listed
    col = _group(items == _SENT_BYTES, records)
    if col is None:
        return None
    single = np.flatnonzero(col.count == 1)
    return _Entries(col.count, single, items[col.last[single]].tolist())


# A bytes column with entries in at most this fraction of a batch's records is left unread.
MAX_UNREAD_FRACTION = 1 / 32


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _length_delimited(buf: bytes) -> dict[int, bytes]:
    """Length-delimited fields of a serialized message, by number (last wins); other wire types skipped."""
    fields: dict[int, bytes] = {}
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = _read_varint(buf, pos)
        wire = key & 7
        if wire == 2:
            size, pos = _read_varint(buf, pos)
            fields[key >> 3] = buf[pos : pos + size]
            pos += size
        elif wire == 0:
            pos = _read_varint(buf, pos)[1]
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return fields


def _decode_varints(payload: bytes) -> np.ndarray:
    """Packed int64 varints to an array, vectorised: one numpy pass instead of a Python call per step."""
    raw = np.frombuffer(payload, dtype=np.uint8)
    ends = np.flatnonzero(raw < 0x80)
    if raw.size == 0:
        return np.zeros(0, dtype=np.int64)
    if ends.size == 0 or ends[-1] != raw.size - 1:
        raise ValueError("truncated varint")
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    widths = ends - starts + 1
    if int(widths.max()) > 10:
        raise ValueError("varint longer than 10 bytes")
    shift = (np.arange(raw.size) - np.repeat(starts, widths)).astype(np.uint64) * np.uint64(7)
    parts = (raw & 0x7F).astype(np.uint64) << shift
    return np.add.reduceat(parts, starts).view(np.int64)


def _packed_numbers(cols: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wall times, steps and simple values of a parsed column message, read as packed arrays.

    Iterating a repeated field from Python costs ~70 ns an element; serializing
    the message emits each numeric column as one packed array that numpy reads
    in place. The bytes columns must have been read already: they are cleared
    here so the serialization stays small.
    """
    value_columns = cols.summary.value  # type: ignore[attr-defined]
    for name in ("tag", "tensor", "metadata"):
        value_columns.ClearField(name)
    top = _length_delimited(cols.SerializeToString())  # type: ignore[attr-defined]
    value = _length_delimited(_length_delimited(top.get(_EVENT["summary"], b"")).get(_SUMMARY_VALUE, b""))
    walls = np.frombuffer(top.get(_EVENT["wall_time"], b""), dtype="<f8")
    steps = _decode_varints(top.get(_EVENT["step"], b""))
    simples = _widen(np.frombuffer(value.get(_VALUE["simple_value"], b""), dtype="<f4"))
    return walls, steps, simples


def _widen(values: np.ndarray) -> np.ndarray:
    """float32 -> float64 without numpy's warning on signalling NaNs (they become quiet, as in Python)."""
    with np.errstate(invalid="ignore"):
        return values.astype(np.float64)


# --------------------------------------------------------------------------- validity of the bytes kept as bytes

_WRAP_EVENT = varint(_EVENT["summary"] << 3 | 2)
_WRAP_VALUE = varint(_SUMMARY_VALUE << 3 | 2)
_WRAP_TENSOR = varint(_VALUE["tensor"] << 3 | 2)
_WRAP_METADATA = varint(_VALUE["metadata"] << 3 | 2)


def in_event(key: bytes, raw: bytes) -> bytes:
    """`raw` as the tensor or metadata (`key`) of a value of an event's summary: the depth it had when read."""
    value = key + varint(len(raw)) + raw
    summary = _WRAP_VALUE + varint(len(value)) + value
    return _WRAP_EVENT + varint(len(summary)) + summary


def metadata_plugin(raw: bytes) -> str | None:
    """Plugin name of a serialized SummaryMetadata, or None when the real parser rejects it inside an event."""
    try:
        event = event_pb2.Event.FromString(in_event(_WRAP_METADATA, raw))
    except DecodeError:
        return None
    return event.summary.value[0].metadata.plugin_data.plugin_name


def metadata_content(raw: bytes) -> bytes:
    """The plugin's own content of a serialized SummaryMetadata that `metadata_plugin` accepted."""
    return event_pb2.Event.FromString(in_event(_WRAP_METADATA, raw)).summary.value[0].metadata.plugin_data.content


@dataclass
class _Tensors:
    """The single tensor of each record that has one: validity, and the value when its layout is known."""

    rows: np.ndarray  # per record: index into `items`, -1 if none
    items: Sequence[bytes]  # serialized TensorProtos
    sizes: np.ndarray  # per record: encoded size of its tensor field, 0 if none
    ok: np.ndarray  # per record: the real parser accepts the tensor inside an event (True if none)
    decoded: np.ndarray  # per item: True when `values` holds its value (a layout TF writes)
    values: np.ndarray  # per item


def _tensors(entries: _Entries, records: int) -> _Tensors:
    rows = np.full(records, -1, dtype=np.int64)
    rows[entries.single] = np.arange(entries.single.size)
    items = entries.items
    lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
    sizes = np.zeros(records, dtype=np.int64)
    sizes[entries.single] = _entry_size(lengths)
    decoded = np.zeros(len(items), dtype=bool)
    values = np.full(len(items), np.nan)
    for head, dtype in TENSOR_LAYOUTS:  # valid whatever the value bytes: no parse needed
        at = np.flatnonzero(lengths == len(head) + np.dtype(dtype).itemsize)
        if at.size:
            joined = b"".join(items if at.size == len(items) else [items[i] for i in at.tolist()])
            raw = np.frombuffer(joined, dtype=np.uint8).reshape(at.size, -1)
            match = (raw[:, : len(head)] == np.frombuffer(head, dtype=np.uint8)).all(axis=1)
            at, raw = at[match], raw[match]
            decoded[at] = True
            values[at] = _widen(raw[:, len(head) :].copy().view(dtype).ravel())
    ok = np.ones(records, dtype=bool)
    ok[entries.single] = _valid_tensors(items, decoded)
    return _Tensors(rows, items, sizes, ok, decoded, values)


def _valid_tensors(items: Sequence[bytes], known: np.ndarray) -> np.ndarray:
    """Which serialized TensorProtos the real parser accepts inside an event (one parse when all do)."""
    ok = np.ones(len(items), dtype=bool)
    rest = np.flatnonzero(~known).tolist()
    if not rest:
        return ok
    wrapped = [in_event(_WRAP_TENSOR, items[i]) for i in rest]
    try:
        event_pb2.Event.FromString(b"".join(wrapped))  # repeated summaries merge: one parse checks them all
        return ok
    except DecodeError:
        pass
    for i, data in zip(rest, wrapped, strict=True):
        try:
            event_pb2.Event.FromString(data)
        except DecodeError:
            ok[i] = False
    return ok


# --------------------------------------------------------------------------- a decoded batch


@dataclass
class Batch:
    """Per-record arrays of one decoded batch (record i = i-th good record of the chunk)."""

    steps: np.ndarray
    walls: np.ndarray
    tag_codes: np.ndarray  # index into `tags`, -1 when the record has no single tagged value
    tags: list[str]
    simple: np.ndarray  # bool: value is a simple_value
    simple_values: np.ndarray
    tensor_rows: np.ndarray  # index into `tensors` of the record's tensor, -1 if none
    tensors: Sequence[bytes]  # serialized TensorProtos
    tensor_decoded: np.ndarray  # per tensor: `tensor_values` holds its value (a scalar layout TF writes)
    tensor_values: np.ndarray
    meta_rows: np.ndarray  # index into `metas` of the record's metadata, -1 if none
    metas: Sequence[bytes]  # serialized SummaryMetadata
    slow: np.ndarray  # bool: needs the per-record path


MetadataCheck = Callable[[bytes], bool]


def decode_columns(datas: list[bytes], sizes: np.ndarray, metadata_ok: MetadataCheck) -> Batch | None:
    """Column-decode a batch of event payloads, or None when only the per-record path can.

    `sizes` are the payload lengths; `metadata_ok` says whether a serialized
    SummaryMetadata is valid (the caller caches it: Keras 3 repeats the same
    metadata on every event).
    """
    for prefix, step_sentinel in PREFIXES:
        batch = _decode_with(datas, sizes, prefix, step_sentinel, metadata_ok)
        if batch is not None:
            return batch
    return None


def _decode_with(
    datas: list[bytes], sizes: np.ndarray, prefix: bytes, step_sentinel: int, metadata_ok: MetadataCheck
) -> Batch | None:
    r = len(datas)
    joined = prefix + prefix.join(datas)
    if joined.count(_SENT_WALL_BYTES) != r:
        return None  # a record holds the wall sentinel's bytes: alignment could not be proven (see below)
    try:
        cols = _EventColumns.FromString(joined)
    except DecodeError:
        return None
    del joined  # a chunk-sized buffer: not held while the columns are read
    values = cols.summary.value
    tag = _bytes_entries(values.tag, r)
    tensor = _bytes_entries(values.tensor, r)
    meta = _bytes_entries(values.metadata, r)
    try:
        walls, steps, simples = _packed_numbers(cols)
    except (ValueError, IndexError):
        return None
    wall = _numeric_column(walls, _SENT_WALL_BITS, r)
    step = _numeric_column(steps, step_sentinel, r)
    simple = _numeric_column(simples, _SENT_SIMPLE_BITS, r)
    if wall is None or step is None or simple is None or tag is None or tensor is None or meta is None:
        return None
    has_value = (tag.count + simple.count + tensor.count + meta.count) > 0
    tags, tag_codes, tag_sizes = _encode_tags(tag, r, (tag.count == 0) & has_value)
    step_values = np.where(step.count > 0, steps[step.last], 0)
    tensors = _tensors(tensor, r)
    meta_rows, meta_sizes, meta_ok = _metadata(meta, r, metadata_ok)
    value_size = tag_sizes + 5 * simple.count + tensors.sizes + meta_sizes  # simple_value: key + float32
    summary_size = np.where(has_value, _entry_size(_entry_size(value_size)), 0)  # summary{ value{...} }
    step_size = np.where(step.count > 0, 1 + _varint_size(step_values.view(np.uint64), 10), 0)
    expected = 9 * wall.count + step_size + summary_size  # wall_time: key + double
    slow = (
        (expected != sizes)  # anything the columns do not account for (see the module doc)
        | (wall.count > 1)
        | (step.count > 1)
        | (tag.count > 1)
        | (meta.count > 1)
        | ((simple.count + tensor.count) > 1)  # several values, or a simple value and a tensor
        | ((tag_codes < 0) & (tag.count == 1))  # a tag that is not valid UTF-8
        | ~tensors.ok
        | ~meta_ok
    )
    return Batch(
        steps=step_values,
        walls=np.where(wall.count > 0, walls[wall.last], 0.0),
        tag_codes=tag_codes,
        tags=tags,
        simple=simple.count == 1,
        simple_values=simples[simple.last],
        tensor_rows=tensors.rows,
        tensors=tensors.items,
        tensor_decoded=tensors.decoded,
        tensor_values=tensors.values,
        meta_rows=meta_rows,
        metas=meta.items,
        slow=slow,
    )


def _entry_size(length: np.ndarray) -> np.ndarray:
    """Size of a length-delimited field with a one-byte key (all field numbers here are below 16)."""
    return 1 + _varint_size(length, 5) + length


def _varint_size(values: np.ndarray, most: int) -> np.ndarray:
    size = np.ones(values.shape, dtype=np.int64)
    for k in range(1, most):
        size += values >= (1 << (7 * k))
    return size


def _metadata(entries: _Entries, records: int, valid: MetadataCheck) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per record: index of its metadata in `entries.items` (-1 if none), encoded size, validity."""
    rows = np.full(records, -1, dtype=np.int64)
    sizes = np.zeros(records, dtype=np.int64)
    ok = np.ones(records, dtype=bool)
    if entries.single.size:
        items = entries.items
        rows[entries.single] = np.arange(len(items))
        uniques = list(dict.fromkeys(items))  # Keras repeats one metadata on every event
        if len(uniques) == 1:
            codes = np.zeros(len(items), dtype=np.int64)
        else:
            index = {raw: i for i, raw in enumerate(uniques)}
            codes = np.fromiter(map(index.__getitem__, items), dtype=np.int64, count=len(items))
        lengths = np.fromiter(map(len, uniques), dtype=np.int64, count=len(uniques))
        sizes[entries.single] = _entry_size(lengths)[codes]
        ok[entries.single] = np.fromiter(map(valid, uniques), dtype=bool, count=len(uniques))[codes]
    return rows, sizes, ok


def _encode_tags(entries: _Entries, records: int, untagged: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Small integer per record for its tag, so grouping by tag is a numpy sort, not a dict per point.

    Returns the decoded tags, each record's code (-1: no single tag, or one
    that is not valid UTF-8) and the encoded size of each record's tag field.
    A value without a tag field (`untagged`) has the tag "": proto3 does not
    write an empty string.
    """
    codes = np.full(records, -1, dtype=np.int64)
    sizes = np.zeros(records, dtype=np.int64)
    uniques = list(dict.fromkeys(entries.items))
    if untagged.any() and b"" not in uniques:
        uniques.append(b"")
    if not uniques:
        return [], codes, sizes
    index = {tag: i for i, tag in enumerate(uniques)}
    rec_codes = np.fromiter(map(index.__getitem__, entries.items), dtype=np.int64, count=len(entries.items))
    lengths = np.fromiter(map(len, uniques), dtype=np.int64, count=len(uniques))
    sizes[entries.single] = _entry_size(lengths)[rec_codes]
    tags: list[str] = []
    invalid = []
    for i, raw in enumerate(uniques):
        try:
            tags.append(raw.decode("utf-8"))  # strict, like the real parser: no U+FFFD stand-ins
        except UnicodeDecodeError:
            tags.append("")
            invalid.append(i)
    if invalid:
        rec_codes[np.isin(rec_codes, invalid)] = -1
    codes[entries.single] = rec_codes
    codes[untagged] = index[b""] if untagged.any() else -1
    return tags, codes, sizes
