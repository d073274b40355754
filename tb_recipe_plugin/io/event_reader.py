"""Pure-Python reader for TensorBoard event files (TFRecord framing + `Event` protos).

Why not TensorBoard's `EventAccumulator`: it keeps every summary type, wraps
each point in a namedtuple and (when TensorFlow is installed) imports all of
TensorFlow just to iterate records. The CLI only needs scalar curves. This
module never imports TensorFlow.

Scalars come in two encodings and both are read:

* ``value.simple_value`` (PyTorch / tensorboardX / Lightning / HF / TF1);
* TF2 / Keras tensor summaries: a tag whose first-seen metadata names the
  ``scalars`` plugin, with a one-element numeric ``value.tensor``.

Restarts are resolved like TensorBoard's orphan purge so appended launches are
not double counted: a point whose step is <= the last step of its series drops
the earlier points at steps >= it (later data wins), and a ``SessionLog.START``
at step s drops every point at step >= s written from the same folder.

Speed. Touching each record from Python (`Event.FromString`, then a handful of
attribute reads) costs ~5 us a record, barely 3x `EventAccumulator`. Instead a
whole chunk of records is decoded in a few C calls (see `_apply_batch`): the
records' payloads are concatenated, each preceded by a tiny
serialized event made of sentinel values, and the result is parsed ONCE with
`_EventColumns`, a private schema mirroring `Event` in which every field we need
is repeated and every sub-message singular. Protobuf's merge rules (repeated
fields concatenate, a repeated singular sub-message merges) turn that single
parse into columns: all wall times, all steps, all tags, all simple values...
in record order, each record's entries starting with its sentinel so they can
be assigned back to records with numpy. Anything that does not fit (several
values in one event, session logs, sentinel collisions, undecodable bytes)
falls back to the plain per-record `Event.FromString` path, which defines the
semantics; the tests check that both paths agree.
"""

from __future__ import annotations

import io
import struct
from array import array
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError
from google_crc32c import _crc32c  # C extension; the pure-Python fallback is ~100x slower
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2

from tb_recipe_plugin.analysis.series import Series

SCALARS_PLUGIN = "scalars"

_HEADER_SIZE = 12  # uint64 length + uint32 masked crc32c of those 8 bytes
_FOOTER_SIZE = 4  # uint32 masked crc32c of the payload
_LENGTH = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8
_MAX_RECORD = 1 << 31  # protobuf cannot parse more; a checksummed larger length means corruption
_CHUNK = 4 << 20  # bounded read size: a multi-GB event file is never held in memory at once

# Batches smaller than this are decoded record by record: numpy's fixed cost per call would dominate.
MIN_BATCH = 64
# A batch where more than this fraction of records needs the per-record path is decoded entirely that way.
MAX_SLOW_FRACTION = 0.125

_START = event_pb2.SessionLog.START


def masked_crc32c(data: bytes) -> int:
    """CRC32C as TFRecord stores it: rotated and offset so CRCs of CRCs stay well distributed."""
    crc = _crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame_record(data: bytes) -> bytes:
    """One TFRecord (header, payload, footer); used by tests and the benchmark to write files."""
    length = _LENGTH.pack(len(data))
    return length + _U32.pack(masked_crc32c(length)) + data + _U32.pack(masked_crc32c(data))


def _crc32c_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table[byte] = crc
    return table


_CRC_TABLE = _crc32c_table()


def _masked_crc32c_rows(rows: np.ndarray) -> np.ndarray:
    """Masked CRC32C of every row of a (n, k) uint8 matrix; checks all 8-byte record headers at once."""
    crc = np.full(rows.shape[0], 0xFFFFFFFF, dtype=np.uint32)
    for k in range(rows.shape[1]):
        crc = _CRC_TABLE[(crc ^ rows[:, k]) & 0xFF] ^ (crc >> 8)
    crc ^= np.uint32(0xFFFFFFFF)
    return ((crc >> 15) | (crc << 17)) + np.uint32(_MASK_DELTA)


# --------------------------------------------------------------------------- accumulation


class _Points:
    """Growing columns of one series; typed arrays cost 8 bytes a point instead of a 32-byte float object."""

    __slots__ = ("steps", "values", "walls")

    def __init__(self) -> None:
        self.steps = array("q")
        self.values = array("d")
        self.walls = array("d")

    def drop_from(self, step: int) -> None:
        """Forget points at steps >= `step`; steps are kept strictly increasing so bisect applies."""
        cut = bisect_left(self.steps, step)
        if cut < len(self.steps):
            del self.steps[cut:]
            del self.values[cut:]
            del self.walls[cut:]

    def add(self, step: int, value: float, wall: float) -> None:
        """One point, later data wins: an old point at this step or beyond was orphaned by a restart."""
        if self.steps and step <= self.steps[-1]:
            self.drop_from(step)
        self.steps.append(step)
        self.values.append(value)
        self.walls.append(wall)

    def extend(self, steps: np.ndarray, values: np.ndarray, walls: np.ndarray) -> int:
        """Many points in write order with the same outcome as calling `add` on each; returns points kept.

        Every new point purges stored points at steps >= its own, so the store is
        cut at the smallest new step; a new point survives unless a later one has
        a step <= its step (suffix minimum).
        """
        if steps.size == 0:
            return 0
        self.drop_from(int(steps.min()))
        if steps.size > 1 and not bool((steps[1:] > steps[:-1]).all()):
            later_min = np.minimum.accumulate(steps[::-1])[::-1]
            keep = np.ones(steps.size, dtype=bool)
            keep[:-1] = steps[:-1] < later_min[1:]
            steps, values, walls = steps[keep], values[keep], walls[keep]
        self.steps.frombytes(steps.astype(np.int64, copy=False).tobytes())
        self.values.frombytes(values.astype(np.float64, copy=False).tobytes())
        self.walls.frombytes(walls.astype(np.float64, copy=False).tobytes())
        return int(steps.size)

    def to_series(self, key: str) -> Series:
        return Series(
            key,
            np.frombuffer(self.steps, dtype=np.int64).copy(),
            np.frombuffer(self.values, dtype=np.float64).copy(),
            np.frombuffer(self.walls, dtype=np.float64).copy(),
        )


class FolderScope:
    """State TensorBoard keeps per run folder: first-seen plugin of each tag and the folder's series.

    In the Keras layout `run/train/` and `run/validation/` are separate folders
    (separate TensorBoard runs) merged into one of our runs, so tag metadata and
    `SessionLog.START` purges must stay within the folder that wrote them.
    """

    def __init__(self, collector: ScalarCollector, prefix: str) -> None:
        self.collector = collector
        self.prefix = prefix
        self.plugins: dict[str, str] = {}  # tag -> plugin name of its first metadata
        self.points: dict[str, _Points] = {}  # raw tag -> columns (shared with the collector)
        self.metadata_plugins: dict[bytes, str] = {}  # serialized SummaryMetadata -> plugin name

    def points_for(self, tag: str) -> _Points:
        pts = self.points.get(tag)
        if pts is None:
            pts = self.points[tag] = self.collector.points_for(self.prefix + tag)
        return pts

    def session_start(self, step: int) -> None:
        for pts in self.points.values():
            pts.drop_from(step)

    def plugin_of_metadata(self, raw: bytes) -> str:
        name = self.metadata_plugins.get(raw)
        if name is None:
            try:
                name = summary_pb2.SummaryMetadata.FromString(raw).plugin_data.plugin_name
            except DecodeError:
                name = ""
            self.metadata_plugins[raw] = name
        return name


class ScalarCollector:
    """Merges the scalars of all event files of one run, keyed by display tag."""

    def __init__(self) -> None:
        self._points: dict[str, _Points] = {}
        self._scopes: dict[str, FolderScope] = {}

    def scope(self, prefix: str = "") -> FolderScope:
        scope = self._scopes.get(prefix)
        if scope is None:
            scope = self._scopes[prefix] = FolderScope(self, prefix)
        return scope

    def points_for(self, key: str) -> _Points:
        pts = self._points.get(key)
        if pts is None:
            pts = self._points[key] = _Points()
        return pts

    def to_series(self) -> dict[str, Series]:
        """Series with at least one point, sorted by key so reports are stable."""
        return {key: pts.to_series(key) for key, pts in sorted(self._points.items()) if len(pts.steps)}


# --------------------------------------------------------------------------- tensor scalars

# dtype enum -> (struct format of one little-endian element, repeated field used without tensor_content)
_TENSOR_DTYPES: dict[int, tuple[struct.Struct, str]] = {
    1: (struct.Struct("<f"), "float_val"),  # DT_FLOAT
    2: (struct.Struct("<d"), "double_val"),  # DT_DOUBLE
    19: (struct.Struct("<e"), "half_val"),  # DT_HALF: half_val holds the raw 16 bits
    14: (struct.Struct("<H"), "half_val"),  # DT_BFLOAT16: upper 16 bits of a float32
    3: (struct.Struct("<i"), "int_val"),  # DT_INT32
    9: (struct.Struct("<q"), "int64_val"),  # DT_INT64
    5: (struct.Struct("<h"), "int_val"),  # DT_INT16
    6: (struct.Struct("<b"), "int_val"),  # DT_INT8
    4: (struct.Struct("<B"), "int_val"),  # DT_UINT8
    17: (struct.Struct("<H"), "int_val"),  # DT_UINT16
    22: (struct.Struct("<I"), "uint32_val"),  # DT_UINT32
    23: (struct.Struct("<Q"), "uint64_val"),  # DT_UINT64
}
_DT_HALF = 19
_DT_BFLOAT16 = 14
_HALF = struct.Struct("<e")
_U16 = struct.Struct("<H")
_F32 = struct.Struct("<f")

# Serialized TensorProto prefixes of the scalar layouts TF actually writes (dtype, empty shape,
# tensor_content of one element): decoded with one numpy view for a whole batch.
_TENSOR_LAYOUTS: tuple[tuple[bytes, str], ...] = (
    (b"\x08\x01\x12\x00\x22\x04", "<f4"),  # DT_FLOAT
    (b"\x08\x02\x12\x00\x22\x08", "<f8"),  # DT_DOUBLE
)


def tensor_scalar(tensor: tensor_pb2.TensorProto) -> float | None:
    """Value of a one-element numeric tensor, or None when it is not a scalar we can read."""
    spec = _TENSOR_DTYPES.get(tensor.dtype)
    if spec is None:
        return None
    unpacker, field_name = spec
    count = 1
    for dim in tensor.tensor_shape.dim:
        count *= dim.size
    if count != 1:
        return None
    content = tensor.tensor_content
    if content:
        if len(content) != unpacker.size:
            return None
        raw = unpacker.unpack(content)[0]
        return _bfloat16(raw) if tensor.dtype == _DT_BFLOAT16 else float(raw)
    vals = getattr(tensor, field_name)
    if not vals:
        return None
    raw = vals[0]
    if tensor.dtype == _DT_HALF:
        return float(_HALF.unpack(_U16.pack(raw & 0xFFFF))[0])
    if tensor.dtype == _DT_BFLOAT16:
        return _bfloat16(raw)
    return float(raw)


def _bfloat16(bits: int) -> float:
    return float(_F32.unpack(_U32.pack((bits & 0xFFFF) << 16))[0])


def _decode_tensors(raws: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Values of serialized scalar TensorProtos and a mask of those that were readable scalars."""
    n = len(raws)
    lengths = set(map(len, raws))
    for head, dtype in _TENSOR_LAYOUTS:
        size = len(head) + np.dtype(dtype).itemsize
        if lengths == {size}:
            rows = np.frombuffer(b"".join(raws), dtype=np.uint8).reshape(n, size)
            if bool((rows[:, : len(head)] == np.frombuffer(head, dtype=np.uint8)).all()):
                values = rows[:, len(head) :].copy().view(dtype).reshape(n).astype(np.float64)
                return values, np.ones(n, dtype=bool)
    values = np.empty(n, dtype=np.float64)
    ok = np.ones(n, dtype=bool)
    for i, raw in enumerate(raws):
        try:
            number = tensor_scalar(tensor_pb2.TensorProto.FromString(raw))
        except DecodeError:
            number = None
        if number is None:
            ok[i] = False
        else:
            values[i] = number
    return values, ok


# --------------------------------------------------------------------------- per-record path


@dataclass
class FileReport:
    """What reading one file produced; `errors` are ready to show to a person."""

    label: str
    records: int = 0
    headers: int = 0  # `file_version` records, to tell a header-only file from one with events
    scalars: int = 0
    errors: list[str] = field(default_factory=list)
    bad_data_crc: int = 0
    first_bad_data_crc: int = -1
    bad_protos: int = 0
    first_bad_proto: int = -1
    bad_tensors: int = 0
    first_bad_tensor_tag: str = ""

    def count_bad_tensor(self, tag: str) -> None:
        if not self.bad_tensors:
            self.first_bad_tensor_tag = tag
        self.bad_tensors += 1


def _apply_event(event: event_pb2.Event, scope: FolderScope, report: FileReport) -> None:
    """Reference semantics for one event; the batch path must give the same result."""
    report.records += 1
    if event.HasField("summary"):
        step = event.step
        wall = event.wall_time
        for value in event.summary.value:
            tag = value.tag
            if value.HasField("metadata") and tag not in scope.plugins:
                scope.plugins[tag] = value.metadata.plugin_data.plugin_name  # first-seen wins
            if value.HasField("simple_value"):
                number = value.simple_value
            elif value.HasField("tensor") and scope.plugins.get(tag) == SCALARS_PLUGIN:
                number = tensor_scalar(value.tensor)
                if number is None:
                    report.count_bad_tensor(tag)
                    continue
            else:
                continue
            scope.points_for(tag).add(step, number, wall)
            report.scalars += 1
    elif event.HasField("file_version"):
        report.headers += 1
    elif event.HasField("session_log") and event.session_log.status == _START:
        scope.session_start(event.step)


def _apply_records(datas: Sequence[bytes], offsets: np.ndarray, scope: FolderScope, report: FileReport) -> None:
    parse = event_pb2.Event.FromString
    for data, offset in zip(datas, offsets.tolist(), strict=True):
        try:
            event = parse(data)
        except DecodeError:
            if not report.bad_protos:
                report.first_bad_proto = offset
            report.bad_protos += 1
            continue
        _apply_event(event, scope, report)


# --------------------------------------------------------------------------- batch path


# Field numbers taken from the real descriptors, so the column schema cannot drift from event.proto.
_EVENT = {f.name: f.number for f in event_pb2.Event.DESCRIPTOR.fields}
_VALUE = {f.name: f.number for f in summary_pb2.Summary.Value.DESCRIPTOR.fields}


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

    # Tags stay bytes (no UTF-8 check per value); sub-messages we only look at stay bytes too.
    message(
        "ValueColumns",
        [
            ("tag", _VALUE["tag"], t.TYPE_BYTES, rep, ""),
            ("simple_value", _VALUE["simple_value"], t.TYPE_FLOAT, rep, ""),
            ("tensor", _VALUE["tensor"], t.TYPE_BYTES, rep, ""),
            ("metadata", _VALUE["metadata"], t.TYPE_BYTES, rep, ""),
        ],
    )
    message("SummaryColumns", [("value", 1, t.TYPE_MESSAGE, opt, ".tb_recipe_columns.ValueColumns")])
    message(
        "EventColumns",
        [
            ("wall_time", _EVENT["wall_time"], t.TYPE_DOUBLE, rep, ""),
            ("step", _EVENT["step"], t.TYPE_INT64, rep, ""),
            ("file_version", _EVENT["file_version"], t.TYPE_BYTES, rep, ""),
            ("summary", _EVENT["summary"], t.TYPE_MESSAGE, opt, ".tb_recipe_columns.SummaryColumns"),
            ("session_log", _EVENT["session_log"], t.TYPE_BYTES, rep, ""),
        ],
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tb_recipe_columns.EventColumns"))


_EventColumns = _columns_schema()

# Sentinels opening each record's entries in every column. A real value equal to one only costs speed:
# the column then has more groups than records and the batch is decoded record by record.
_SENT_WALL = -1.2345678901234567e300
_SENT_STEP = 0  # one byte; writers omit a zero step (proto3 default), so an explicit 0 is a sentinel
_SENT_FLOAT_BITS = 0xFFFFFFFF  # a float32 NaN with a payload writers do not produce
_SENT_BYTES = b"\xff"  # not valid UTF-8, so never a real tag; an impossible TensorProto / metadata


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if not n:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _sentinel_prefix(step_sentinel: int) -> bytes:
    """A serialized event whose every field we read holds a sentinel; it opens each record's entries."""
    value = (
        _len_field(_VALUE["tag"], _SENT_BYTES)
        + _varint(_VALUE["simple_value"] << 3 | 5)
        + _U32.pack(_SENT_FLOAT_BITS)
        + _len_field(_VALUE["tensor"], _SENT_BYTES)
        + _len_field(_VALUE["metadata"], _SENT_BYTES)
    )
    return (
        _varint(_EVENT["wall_time"] << 3 | 1)
        + struct.pack("<d", _SENT_WALL)
        + _varint(_EVENT["step"] << 3)
        + _varint(step_sentinel & 0xFFFFFFFFFFFFFFFF)
        + _len_field(_EVENT["summary"], _len_field(1, value))
        + _len_field(_EVENT["session_log"], _SENT_BYTES)
    )


# Step sentinels: 0 costs one byte and writers omit zero steps (proto3 default); a writer that spells
# step 0 out gets the 10-byte int64 minimum instead, which no training loop uses.
_PREFIXES = tuple((_sentinel_prefix(sentinel), sentinel) for sentinel in (_SENT_STEP, -(1 << 63)))
_SENT_WALL_BITS = np.array([_SENT_WALL], dtype=np.float64).view(np.uint64)[0]
_SENT_SIMPLE_BITS = np.array([_SENT_FLOAT_BITS], dtype="<u4").view("<f4").astype(np.float64).view(np.uint64)[0]


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


def _empty_column(records: int) -> _Column:
    return _Column(count=np.zeros(records, dtype=np.int64), last=np.arange(records, dtype=np.int64))


def _bytes_column(values: Sequence[bytes], records: int) -> tuple[_Column | None, np.ndarray]:
    """A bytes column as an object array (fancy indexing and `==` then run in C, ~30 ns an element)."""
    if len(values) == records:
        return _empty_column(records), np.empty(0, dtype=object)
    items = np.empty(len(values), dtype=object)
    items[:] = list(values)
    return _group(items == _SENT_BYTES, records), items


def _numeric_column(column: np.ndarray, sentinel_bits: int, records: int) -> _Column | None:
    bits = column.view(np.uint64) if column.dtype == np.float64 else column
    return _group(bits == sentinel_bits, records)


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
    for name in ("session_log", "file_version"):
        cols.ClearField(name)  # type: ignore[attr-defined]
    top = _length_delimited(cols.SerializeToString())  # type: ignore[attr-defined]
    value = _length_delimited(_length_delimited(top.get(_EVENT["summary"], b"")).get(1, b""))
    walls = np.frombuffer(top.get(_EVENT["wall_time"], b""), dtype="<f8")
    steps = _decode_varints(top.get(_EVENT["step"], b""))
    simples = np.frombuffer(value.get(_VALUE["simple_value"], b""), dtype="<f4").astype(np.float64)
    return walls, steps, simples


@dataclass
class _Batch:
    """Per-record arrays of one decoded batch (record i = i-th good record of the chunk)."""

    steps: np.ndarray
    walls: np.ndarray
    tag_codes: np.ndarray  # index into `tags`, -1 when the record has no single tagged value
    tags: list[str]
    simple: np.ndarray  # bool: value is a simple_value
    simple_values: np.ndarray
    tensor_rows: np.ndarray  # index into `tensors` of the record's tensor, -1 if none
    tensors: np.ndarray  # object array of serialized TensorProtos
    meta_rows: np.ndarray  # index into `metas` of the record's metadata, -1 if none
    metas: np.ndarray  # object array of serialized SummaryMetadata
    slow: np.ndarray  # bool: needs the per-record path
    headers: int


def _decode_columns(datas: list[bytes], plugins: dict[str, str]) -> _Batch | None:
    """Column-decode a batch of event payloads, or None when only the per-record path can.

    `plugins` (tags whose plugin is already known) lets the metadata column be
    skipped: Keras 3 repeats the metadata on every event, only the first counts.
    """
    for prefix, step_sentinel in _PREFIXES:
        batch = _decode_with(datas, prefix, step_sentinel, plugins)
        if batch is not None:
            return batch
    return None


def _decode_with(datas: list[bytes], prefix: bytes, step_sentinel: int, plugins: dict[str, str]) -> _Batch | None:
    r = len(datas)
    try:
        cols = _EventColumns.FromString(prefix + prefix.join(datas))
    except DecodeError:
        return None
    values = cols.summary.value
    tag_col, tag_items = _bytes_column(values.tag, r)
    if tag_col is None:
        return None
    tags, tag_codes = _encode_tags(tag_items, tag_col)
    tensor_col, tensors = _bytes_column(values.tensor, r)
    if all(tag in plugins for tag in tags):
        meta_col, metas = _empty_column(r), np.empty(0, dtype=object)
    else:
        meta_col, metas = _bytes_column(values.metadata, r)
    session_col, _ = _bytes_column(cols.session_log, r)
    headers = len(cols.file_version)
    try:
        walls, steps, simples = _packed_numbers(cols)
    except (ValueError, IndexError):
        return None
    wall_col = _numeric_column(walls, _SENT_WALL_BITS, r)
    step_col = _numeric_column(steps, step_sentinel, r)
    simple_col = _numeric_column(simples, _SENT_SIMPLE_BITS, r)
    if None in (wall_col, step_col, simple_col, tensor_col, meta_col, session_col):
        return None
    assert wall_col and step_col and simple_col and tensor_col and meta_col and session_col  # for type checkers
    return _Batch(
        steps=np.where(step_col.count > 0, steps[step_col.last], 0),
        walls=np.where(wall_col.count > 0, walls[wall_col.last], 0.0),
        tag_codes=tag_codes,
        tags=tags,
        simple=simple_col.count == 1,
        simple_values=simples[simple_col.last],
        tensor_rows=_rows(tensor_col),
        tensors=tensors,
        meta_rows=_rows(meta_col),
        metas=metas,
        slow=_needs_record_path(tag_col, simple_col, tensor_col, meta_col, session_col),
        headers=headers,
    )


def _needs_record_path(tag: _Column, simple: _Column, tensor: _Column, meta: _Column, session: _Column) -> np.ndarray:
    """Records the columns cannot represent: several values (TF1 merged summaries), a session log
    (purges must happen in order), or a value without a tag (proto3 drops an empty tag)."""
    return (
        (tag.count > 1)
        | (meta.count > 1)
        | (session.count > 0)
        | ((simple.count + tensor.count) > 1)
        | ((tag.count == 0) & ((simple.count + tensor.count + meta.count) > 0))
    )


def _rows(col: _Column) -> np.ndarray:
    return np.where(col.count == 1, col.last, -1)


def _encode_tags(items: np.ndarray, col: _Column) -> tuple[list[str], np.ndarray]:
    """Small integer per record for its tag, so grouping by tag is a numpy sort, not a dict per point."""
    codes = np.full(col.count.size, -1, dtype=np.int64)
    single = np.flatnonzero(col.count == 1)
    if not single.size:
        return [], codes
    rec_tags = items[col.last[single]]
    uniques = list(dict.fromkeys(rec_tags))
    index = {tag: i for i, tag in enumerate(uniques)}
    codes[single] = np.fromiter(map(index.__getitem__, rec_tags), dtype=np.int64, count=len(rec_tags))
    return [tag.decode("utf-8", "replace") for tag in uniques], codes


def _apply_batch(datas: list[bytes], offsets: np.ndarray, scope: FolderScope, report: FileReport) -> None:
    """Decode a chunk's records column-wise; rare odd records go through `_apply_event` in order."""
    if not datas:
        return
    if len(datas) < MIN_BATCH:
        _apply_records(datas, offsets, scope, report)
        return
    batch = _decode_columns(datas, scope.plugins)
    if batch is None or batch.slow.sum() > MAX_SLOW_FRACTION * len(datas):
        _apply_records(datas, offsets, scope, report)
        return
    report.records += len(datas)
    report.headers += batch.headers
    start = 0
    for i in np.flatnonzero(batch.slow).tolist():
        report.records -= 1  # counted again by `_apply_event`
        _apply_segment(batch, start, i, scope, report)
        _apply_records(datas[i : i + 1], offsets[i : i + 1], scope, report)
        start = i + 1
    _apply_segment(batch, start, len(datas), scope, report)


def _apply_segment(batch: _Batch, lo: int, hi: int, scope: FolderScope, report: FileReport) -> None:
    """Records [lo, hi) of a batch, none of them slow: register metadata, then append scalars per tag."""
    if hi <= lo:
        return
    codes = batch.tag_codes[lo:hi]
    first_meta = _register_metadata(batch, lo, hi, scope)
    is_scalars = np.array([scope.plugins.get(tag) == SCALARS_PLUGIN for tag in batch.tags] + [False])
    tensor_rows = batch.tensor_rows[lo:hi]
    take_tensor = (tensor_rows >= 0) & is_scalars[codes]  # code -1 picks the trailing False
    if first_meta:
        position = np.arange(lo, hi)
        for code, at in first_meta.items():
            take_tensor &= ~((codes == code) & (position < at))  # no plugin known yet at that point
    values = np.where(batch.simple[lo:hi], batch.simple_values[lo:hi], np.nan)
    take = batch.simple[lo:hi] & (codes >= 0)
    if take_tensor.any():
        picked = np.flatnonzero(take_tensor)
        decoded, ok = _decode_tensors(batch.tensors[tensor_rows[picked]])
        values[picked[ok]] = decoded[ok]
        take[picked[ok]] = True
        for j in picked[~ok].tolist():
            report.count_bad_tensor(batch.tags[codes[j]])
    if not take.any():
        return
    rows = np.flatnonzero(take)
    _append_by_tag(batch, codes[rows], lo + rows, values[rows], scope, report)


def _register_metadata(batch: _Batch, lo: int, hi: int, scope: FolderScope) -> dict[int, int]:
    """First-seen plugin per tag, as EventAccumulator keeps it; returns {tag code: record} newly learnt."""
    meta_rows = batch.meta_rows[lo:hi]
    with_meta = np.flatnonzero((meta_rows >= 0) & (batch.tag_codes[lo:hi] >= 0))
    if not with_meta.size:
        return {}
    codes = batch.tag_codes[lo:hi][with_meta]
    uniq, first = np.unique(codes, return_index=True)
    learnt: dict[int, int] = {}
    for code, pos in zip(uniq.tolist(), first.tolist(), strict=True):
        tag = batch.tags[code]
        if tag in scope.plugins:
            continue
        record = int(with_meta[pos])
        scope.plugins[tag] = scope.plugin_of_metadata(batch.metas[int(meta_rows[record])])
        learnt[code] = lo + record
    return learnt


def _append_by_tag(
    batch: _Batch, codes: np.ndarray, records: np.ndarray, values: np.ndarray, scope: FolderScope, report: FileReport
) -> None:
    order = np.argsort(codes, kind="stable")  # stable: keeps write order within a tag
    codes = codes[order]
    records = records[order]
    values = values[order]
    bounds = np.flatnonzero(np.diff(codes)) + 1
    for part in np.split(np.arange(codes.size), bounds):
        tag = batch.tags[int(codes[part[0]])]
        recs = records[part]
        kept = scope.points_for(tag).extend(batch.steps[recs], values[part], batch.walls[recs])
        report.scalars += kept


# --------------------------------------------------------------------------- framing and the file driver


@dataclass
class _ScanState:
    offset: int = 0  # file offset of buffer[0]
    stop: str | None = None  # "length-crc" / "length-too-large" / "read-error" once reading must stop
    need: int = 0  # bytes needed from the current position to complete the pending record


_SPECULATE_BLOCK = 4096  # records framed per numpy pass
_MAX_PERIOD = 64  # longest repeating pattern of record lengths looked for (tags written per step)


def _frame(buf: bytes, pos: int) -> tuple[np.ndarray, int]:
    """Start offsets of the complete records from `pos` and where the first incomplete one begins.

    Walking length fields one record at a time from Python is the single largest
    cost of reading. A training loop writes the same tags every step, so record
    lengths repeat with a short period: once a period shows, the next few
    thousand starts are predicted from it and confirmed at once by reading
    every predicted length field with numpy; the walk resumes at the first
    misprediction. Lengths are not checksummed here; `_process` does that.
    """
    raw = np.frombuffer(buf, dtype=np.uint8)
    blocks: list[np.ndarray] = []
    starts: list[int] = []
    lengths: list[int] = []
    while True:
        pos, more = _walk(buf, pos, starts, lengths, 2 * _MAX_PERIOD)
        if not more:
            break
        del lengths[: -2 * _MAX_PERIOD]  # judge the period on the latest records only
        period = _period(lengths)
        if period:
            blocks.append(np.array(starts, dtype=np.int64))
            starts = []
            pos = _speculate(raw, pos, np.array(lengths[-period:], dtype=np.int64), blocks)
            lengths = []
    blocks.append(np.array(starts, dtype=np.int64))
    return np.concatenate(blocks), pos


def _walk(buf: bytes, pos: int, starts: list[int], lengths: list[int], count: int) -> tuple[int, bool]:
    """Frame up to `count` records one by one; False once the next record is incomplete."""
    unpack = _LENGTH.unpack_from
    n = len(buf)
    for _ in range(count):
        if n - pos < 8:
            return pos, False
        length = unpack(buf, pos)[0]
        end = pos + _HEADER_SIZE + length + _FOOTER_SIZE
        if end > n:
            return pos, False
        starts.append(pos)
        lengths.append(length)
        pos = end
    return pos, True


def _period(lengths: list[int]) -> int:
    """Shortest period explaining the whole window: runs of equal lengths must not pass for period 1."""
    for period in range(1, min(_MAX_PERIOD, len(lengths) // 2) + 1):
        if lengths[period:] == lengths[:-period]:
            return period
    return 0


def _speculate(raw: np.ndarray, pos: int, pattern: np.ndarray, blocks: list[np.ndarray]) -> int:
    """Frame records predicted to repeat `pattern`; returns the start of the first unconfirmed record."""
    guess = np.tile(pattern, max(1, _SPECULATE_BLOCK // pattern.size))  # whole periods: next block keeps phase
    offsets = np.zeros(guess.size + 1, dtype=np.int64)
    np.cumsum(guess + (_HEADER_SIZE + _FOOTER_SIZE), out=offsets[1:])
    n = raw.size
    while True:
        ends = pos + offsets[1:]
        fit = int(np.searchsorted(ends, n, side="right"))  # records wholly inside the buffer
        if fit == 0:
            return pos
        starts = pos + offsets[:fit]
        stored = raw[starts[:, None] + np.arange(8)].view("<u8").ravel()
        wrong = np.flatnonzero(stored != guess[:fit])
        good = int(wrong[0]) if wrong.size else fit
        if good:
            blocks.append(starts[:good])
        pos = int(starts[good]) if good < fit else int(ends[fit - 1])
        if good < guess.size:
            return pos


def _process(buf: bytes, pos: int, scope: FolderScope, report: FileReport, state: _ScanState) -> int:
    """Consume the complete records of `buf` from `pos`; return where unconsumed bytes start."""
    starts, pending = _frame(buf, pos)
    if starts.size:
        raw = np.frombuffer(buf, dtype=np.uint8)
        heads = raw[starts[:, None] + np.arange(_HEADER_SIZE)]
        stored = heads[:, 8:].copy().view("<u4").ravel()
        bad = np.flatnonzero(_masked_crc32c_rows(heads[:, :8]) != stored)
        if bad.size:
            pending = int(starts[bad[0]])
            starts = starts[: bad[0]]
            state.stop = "length-crc"
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    if starts.size:
        ends[-1] = pending
    ends -= _FOOTER_SIZE
    datas, offsets = _check_payloads(buf, starts, ends, report, state)
    _apply_batch(datas, offsets, scope, report)
    if state.stop is None:
        _check_pending_header(buf, pending, state)
    return pending


def _check_payloads(
    buf: bytes, starts: np.ndarray, ends: np.ndarray, report: FileReport, state: _ScanState
) -> tuple[list[bytes], np.ndarray]:
    """Payloads whose data CRC matches; a bad one is skipped (its length was sound, so framing continues)."""
    offsets = starts + state.offset
    if not starts.size:
        return [], offsets
    datas = [buf[s:e] for s, e in zip((starts + _HEADER_SIZE).tolist(), ends.tolist(), strict=True)]
    crcs = np.fromiter(map(_crc32c.value, datas), dtype=np.uint32, count=len(datas))
    masked = ((crcs >> 15) | (crcs << 17)) + np.uint32(_MASK_DELTA)
    raw = np.frombuffer(buf, dtype=np.uint8)
    stored = raw[ends[:, None] + np.arange(_FOOTER_SIZE)].view("<u4").ravel()
    bad = masked != stored
    if not bad.any():
        return datas, offsets
    if not report.bad_data_crc:
        report.first_bad_data_crc = int(offsets[bad][0])
    report.bad_data_crc += int(bad.sum())
    return [d for d, b in zip(datas, bad.tolist(), strict=True) if not b], offsets[~bad]


def _check_pending_header(buf: bytes, pos: int, state: _ScanState) -> None:
    """Validate the header of the incomplete record at `pos` so a corrupt length is not mistaken for truncation."""
    state.need = _HEADER_SIZE
    if len(buf) - pos < _HEADER_SIZE:
        return
    length_bytes = buf[pos : pos + 8]
    if masked_crc32c(length_bytes) != _U32.unpack_from(buf, pos + 8)[0]:
        state.stop = "length-crc"
        return
    length = _LENGTH.unpack(length_bytes)[0]
    if length > _MAX_RECORD:
        state.stop = "length-too-large"
        return
    state.need = _HEADER_SIZE + length + _FOOTER_SIZE


def read_event_stream(stream: BinaryIO, scope: FolderScope, label: str, chunk_size: int = _CHUNK) -> FileReport:
    """Read every scalar of one open event file into `scope`; problems end up in the report, never raised.

    I/O errors while reading (not opening) are reported too: a network file
    system or a file truncated under our feet must not abort the whole run.
    """
    report = FileReport(label)
    state = _ScanState()
    buf = b""
    pos = 0
    eof = False
    while True:
        pos = _process(buf, pos, scope, report, state)
        if state.stop or eof:
            break
        want = max(chunk_size, state.need - (len(buf) - pos))
        try:
            chunk = _read_exactly(stream.read, want)
        except OSError as exc:
            report.errors.append(
                f"{label}: read error at byte {state.offset + len(buf)} ({exc.strerror or exc.__class__.__name__}); "
                f"read {report.records} records before it"
            )
            state.stop = "read-error"
            break
        eof = len(chunk) < want
        state.offset += pos
        buf = buf[pos:] + chunk if pos < len(buf) else chunk
        pos = 0
    _finish_report(report, state, state.offset + pos, pos < len(buf))
    return report


def _read_exactly(read: Callable[[int], bytes], size: int) -> bytes:
    """Read `size` bytes unless EOF comes first; raw and remote files may return short reads."""
    first = read(size)
    if len(first) >= size or not first:
        return first
    parts = [first]
    got = len(first)
    while got < size:
        more = read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _finish_report(report: FileReport, state: _ScanState, at: int, leftover: bool) -> None:
    """Turn counters and the stop reason into the human-readable messages the CLI prints."""
    label = report.label
    before = f"read {report.records} records before it"
    if state.stop == "length-crc":
        if at == 0:
            report.errors.append(f"{label}: not a TensorBoard event file (bad record checksum at byte 0); skipped")
        else:
            report.errors.append(
                f"{label}: corrupt record header at byte {at} (length checksum mismatch); "
                f"stopped reading this file, {before}"
            )
    elif state.stop == "length-too-large":
        report.errors.append(f"{label}: implausible record length at byte {at}; stopped reading this file, {before}")
    elif state.stop is None and leftover:
        report.errors.append(f"{label}: truncated record at byte {at} (file still being written?); {before}")
    if report.bad_data_crc:
        report.errors.append(
            f"{label}: skipped {report.bad_data_crc} record(s) with a bad data checksum "
            f"(first at byte {report.first_bad_data_crc})"
        )
    if report.bad_protos:
        report.errors.append(
            f"{label}: skipped {report.bad_protos} record(s) that are not valid Event protos "
            f"(first at byte {report.first_bad_proto})"
        )
    if report.bad_tensors:
        report.errors.append(
            f"{label}: skipped {report.bad_tensors} 'scalars' tensor value(s) that are not one-element "
            f"numbers (first tag {report.first_bad_tensor_tag!r})"
        )
    if state.stop is None and not leftover and not report.bad_data_crc and not report.bad_protos:
        if at == 0:
            report.errors.append(f"{label}: empty file (no records yet)")
        elif report.records and report.records == report.headers:
            report.errors.append(f"{label}: only the file header, no events yet")


def read_event_bytes(data: bytes, scope: FolderScope, label: str) -> FileReport:
    """Read an event file already in memory (tests, fsspec `cat_file`)."""
    return read_event_stream(io.BytesIO(data), scope, label)


def read_scalars(path: str, prefix: str = "") -> tuple[dict[str, Series], FileReport]:
    """Convenience for one local file: its scalar series and the read report (raises only on open)."""
    collector = ScalarCollector()
    with open(path, "rb") as stream:
        label = path.replace("\\", "/").rsplit("/", 1)[-1]
        report = read_event_stream(stream, collector.scope(prefix), label)
    return collector.to_series(), report
