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

Two decoders read the records. The per-record path (`Event.FromString`, then
`_apply_event`) DEFINES the semantics and costs ~5 us a record; the batch path
(`columns.decode_columns`, then `_apply_batch`) decodes a whole chunk in a few C
calls and hands every record it cannot prove it reads identically back to the
per-record path, in order. A differential fuzz test holds the two together.

Framing damage never hides the rest of a file: after a corrupt header, an
impossible length or a length running past the end of the file or over the
next records, reading resumes at the next credible record (`framing.find_record`)
and the report says what was skipped. Only an incomplete last record with
nothing credible after it is reported as truncated (file still being written?).
"""

from __future__ import annotations

import io
import struct
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
from google.protobuf.message import DecodeError
from google_crc32c import _crc32c
from tensorboard.compat.proto import event_pb2, tensor_pb2

from tb_recipe_plugin.analysis.series import Series
from tb_recipe_plugin.io.columns import Batch, decode_columns, metadata_content, metadata_plugin
from tb_recipe_plugin.io.framing import (
    FOOTER_SIZE,
    FOUND,
    HEADER_SIZE,
    MAX_RECORD,
    MORE,
    NONE,
    OVERHEAD,
    bad_headers,
    find_record,
    frame,
    frame_record,
    header_length,
    mask,
    masked_crc32c,
    read_up_to,
)

__all__ = [
    "SCALARS_PLUGIN",
    "FileReport",
    "FolderScope",
    "ScalarCollector",
    "frame_record",
    "masked_crc32c",
    "read_event_bytes",
    "read_event_stream",
    "read_scalars",
    "tensor_scalar",
]

SCALARS_PLUGIN = "scalars"
HPARAMS_PLUGIN = "hparams"
"""TensorBoard's HParams plugin: its summaries carry the run's hyperparameters in their metadata, no scalar."""
HPARAMS_SESSION_START_TAG = "_hparams_/session_start_info"
"""The HParams summary that holds a run's hyperparameter values (TensorBoard's `metadata.SESSION_START_INFO_TAG`)."""
HPARAMS_EXPERIMENT_TAG = "_hparams_/experiment"
"""The HParams summary that declares the hyperparameters and metrics of an experiment."""
CONFIG_TEXT_TAGS = frozenset({"args/text_summary", "args"})
"""Text summaries that hold a run's configuration as JSON: Hugging Face's Trainer writes its `TrainingArguments`
with `add_text("args", ...)`, which PyTorch and tensorboardX store under ``args/text_summary``."""
CONFIG_TEXT_KEY = "text:"
"""Configuration texts are kept under this prefix and their tag: apart from any HParams data of the same tag."""
CONFIG_TEXT_MAX = 1 << 18
"""A configuration text larger than 256 KiB is not a set of hyperparameters; it is not kept."""

_CHUNK = 4 << 20  # bounded read size: a multi-GB event file is never held in memory at once

# Batches smaller than this are decoded record by record: numpy's fixed cost per call would dominate.
MIN_BATCH = 64
# A batch where more than this fraction of records needs the per-record path is decoded entirely that way.
MAX_SLOW_FRACTION = 0.125
# A batch the columns cannot decode is split in halves down to this size, then decoded record by record.
_MIN_HALF = 16

_START = event_pb2.SessionLog.START
_U32 = struct.Struct("<I")

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

    def extend(self, steps: np.ndarray, values: np.ndarray, walls: np.ndarray) -> None:
        """Many points in write order with the same outcome as calling `add` on each.

        Every new point purges stored points at steps >= its own, so the store is
        cut at the smallest new step; a new point survives unless a later one has
        a step <= its step (suffix minimum).
        """
        if steps.size == 0:
            return
        self.drop_from(int(steps.min()))
        if steps.size > 1 and not bool((steps[1:] > steps[:-1]).all()):
            later_min = np.minimum.accumulate(steps[::-1])[::-1]
            keep = np.ones(steps.size, dtype=bool)
            keep[:-1] = steps[:-1] < later_min[1:]
            steps, values, walls = steps[keep], values[keep], walls[keep]
        self.steps.frombytes(steps.astype(np.int64, copy=False).tobytes())
        self.values.frombytes(values.astype(np.float64, copy=False).tobytes())
        self.walls.frombytes(walls.astype(np.float64, copy=False).tobytes())

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
        self.hparams = collector.hparams  # the run's HParams plugin contents (shared with the collector)
        self.metadata_plugins: dict[bytes, str | None] = {}  # serialized SummaryMetadata -> plugin (None: invalid)

    def points_for(self, tag: str) -> _Points:
        pts = self.points.get(tag)
        if pts is None:
            pts = self.points[tag] = self.collector.points_for(self.prefix + tag)
        return pts

    def session_start(self, step: int) -> None:
        for pts in self.points.values():
            pts.drop_from(step)

    def plugin_of_metadata(self, raw: bytes) -> str | None:
        """Plugin named by a serialized SummaryMetadata; None when an event holding it would not parse."""
        try:
            return self.metadata_plugins[raw]
        except KeyError:
            name = self.metadata_plugins[raw] = metadata_plugin(raw)
            return name

    def metadata_ok(self, raw: bytes) -> bool:
        return self.plugin_of_metadata(raw) is not None


class ScalarCollector:
    """Merges the scalars of all event files of one run, keyed by display tag."""

    def __init__(self) -> None:
        self._points: dict[str, _Points] = {}
        self._scopes: dict[str, FolderScope] = {}
        # The run's hyperparameter records, tag -> bytes, parsed by `sweep/hparams.py`: HParams plugin data
        # (`_hparams_/experiment`, `_hparams_/session_start_info`, ...: the serialized HParamsPluginData of the
        # tag's first metadata, as TensorBoard's HParams plugin reads it) and configuration texts
        # (`CONFIG_TEXT_TAGS`: the first value, UTF-8 JSON as written, under `CONFIG_TEXT_KEY` + tag).
        self.hparams: dict[str, bytes] = {}

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
    """Values of serialized scalar TensorProtos and a mask of those that were readable scalars
    (the layouts TF writes are decoded in bulk by the batch decoder before this)."""
    values = np.empty(len(raws), dtype=np.float64)
    ok = np.ones(len(raws), dtype=bool)
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
    scalars: int = 0  # scalar values read (before restarts purge any)
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
                if scope.plugins[tag] == HPARAMS_PLUGIN:
                    scope.hparams.setdefault(tag, value.metadata.plugin_data.content)
            if tag in CONFIG_TEXT_TAGS and CONFIG_TEXT_KEY + tag not in scope.hparams and value.HasField("tensor"):
                _keep_config_text(scope, tag, value.tensor)
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


def _apply_batch(
    datas: list[bytes], offsets: np.ndarray, sizes: np.ndarray, scope: FolderScope, report: FileReport
) -> None:
    """Decode a chunk's records column-wise; records the columns cannot vouch for go through `_apply_event`
    in order, so the outcome is the per-record path's."""
    if not datas:
        return
    if len(datas) < MIN_BATCH:
        _apply_records(datas, offsets, scope, report)
        return
    batch = decode_columns(datas, sizes, scope.metadata_ok)
    if batch is None and len(datas) >= 2 * _MIN_HALF:
        # Some record defeats the columns (it does not parse, or holds a sentinel value): decode each
        # half on its own, so one bad record costs the per-record path a small stretch, not the chunk.
        half = len(datas) // 2
        _apply_batch(datas[:half], offsets[:half], sizes[:half], scope, report)
        _apply_batch(datas[half:], offsets[half:], sizes[half:], scope, report)
        return
    if batch is None or batch.slow.sum() > MAX_SLOW_FRACTION * len(datas):
        _apply_records(datas, offsets, scope, report)
        return
    report.records += len(datas)
    start = 0
    for i in np.flatnonzero(batch.slow).tolist():
        report.records -= 1  # counted again by `_apply_event`
        _apply_segment(batch, start, i, scope, report)
        _apply_records(datas[i : i + 1], offsets[i : i + 1], scope, report)
        start = i + 1
    _apply_segment(batch, start, len(datas), scope, report)


def _apply_segment(batch: Batch, lo: int, hi: int, scope: FolderScope, report: FileReport) -> None:
    """Records [lo, hi) of a batch, none of them slow: register metadata, then append scalars per tag."""
    if hi <= lo:
        return
    codes = batch.tag_codes[lo:hi]
    first_meta = _register_metadata(batch, lo, hi, scope)
    for code, tag in enumerate(batch.tags):
        if tag in CONFIG_TEXT_TAGS and CONFIG_TEXT_KEY + tag not in scope.hparams:
            _keep_batch_config_text(batch, lo, hi, code, scope)
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
        rows = tensor_rows[picked]
        decoded = batch.tensor_values[rows]
        ok = batch.tensor_decoded[rows]
        if not ok.all():
            parse = np.flatnonzero(~ok)
            decoded[parse], ok[parse] = _decode_tensors([batch.tensors[i] for i in rows[parse].tolist()])
        values[picked[ok]] = decoded[ok]
        take[picked[ok]] = True
        for j in picked[~ok].tolist():
            report.count_bad_tensor(batch.tags[codes[j]])
    if not take.any():
        return
    rows = np.flatnonzero(take)
    _append_by_tag(batch, codes[rows], lo + rows, values[rows], scope)
    report.scalars += int(rows.size)


def _keep_batch_config_text(batch: Batch, lo: int, hi: int, code: int, scope: FolderScope) -> None:
    """`_keep_config_text` for the records [lo, hi) of a batch with tag `code`, in record order, as the
    per-record path meets them (the first that holds a text wins)."""
    for i in np.flatnonzero((batch.tag_codes[lo:hi] == code) & (batch.tensor_rows[lo:hi] >= 0)).tolist():
        try:
            tensor = tensor_pb2.TensorProto.FromString(batch.tensors[int(batch.tensor_rows[lo + i])])
        except DecodeError:
            continue  # the columns vouched for it; a tensor the parser refuses would have made the record slow
        _keep_config_text(scope, batch.tags[code], tensor)
        if CONFIG_TEXT_KEY + batch.tags[code] in scope.hparams:
            return


def _keep_config_text(scope: FolderScope, tag: str, tensor: tensor_pb2.TensorProto) -> None:
    """The first configuration text of `tag` (`CONFIG_TEXT_TAGS`), kept with the run's HParams contents."""
    if tensor.string_val and len(tensor.string_val[0]) <= CONFIG_TEXT_MAX:
        scope.hparams[CONFIG_TEXT_KEY + tag] = bytes(tensor.string_val[0])


def _register_metadata(batch: Batch, lo: int, hi: int, scope: FolderScope) -> dict[int, int]:
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
        raw = batch.metas[int(meta_rows[record])]
        plugin = scope.plugin_of_metadata(raw)
        assert plugin is not None  # records with invalid metadata are slow
        scope.plugins[tag] = plugin
        if plugin == HPARAMS_PLUGIN:
            scope.hparams.setdefault(tag, metadata_content(raw))
        learnt[code] = lo + record
    return learnt


def _append_by_tag(
    batch: Batch, codes: np.ndarray, records: np.ndarray, values: np.ndarray, scope: FolderScope
) -> None:
    order = np.argsort(codes, kind="stable")  # stable: keeps write order within a tag
    codes = codes[order]
    records = records[order]
    values = values[order]
    bounds = (np.flatnonzero(codes[1:] != codes[:-1]) + 1).tolist()
    for lo, hi in zip([0, *bounds], [*bounds, codes.size], strict=True):
        recs = records[lo:hi]
        scope.points_for(batch.tags[int(codes[lo])]).extend(batch.steps[recs], values[lo:hi], batch.walls[recs])


# --------------------------------------------------------------------------- the file driver

# Kinds of framing damage; each is skipped by scanning for the next credible record.
LENGTH_CRC = "length-crc"  # the length's checksum does not match
TOO_LONG = "too-long"  # the length is checksummed but no protobuf can be that long
OVERLAPS = "overlaps"  # a credible record starts inside the claimed payload (its checksum then fails too)


@dataclass
class _Damage:
    """A damaged stretch of a file: where, what the header said, and where reading resumed."""

    kind: str
    at: int  # file offset of the damaged record's header
    length: int = 0  # length the header claims (checksummed for every kind but LENGTH_CRC)
    resumed: int = -1  # file offset of the next credible record; -1 when none followed
    end: int = -1  # file size, once no credible record followed
    records_before: int = 0
    zeros: bool = True  # every skipped byte is zero (what a crash can leave), while it holds


@dataclass
class _Skip:
    """A scan in progress for the record after a damaged header."""

    damage: _Damage
    scan_from: int  # file offset the scan continues from
    limit: int | None = None  # OVERLAPS: the scan stops at the end of the claimed payload
    zeros_to: int = -1  # file offset up to which the skipped bytes were checked for zeros


@dataclass
class _State:
    """Reading position in a file; `buf` holds file bytes from `offset`, consumed up to `pos`."""

    buf: bytes = b""
    offset: int = 0
    pos: int = 0
    eof: bool = False
    need_end: int = 0  # file offset the buffer must reach before the pending record can be judged
    looked_at: int = -1  # the incomplete record whose claimed payload is being scanned ahead
    looked_to: int = -1  # file offset up to which that scan got
    skip: _Skip | None = None
    truncated_at: int = -1  # file offset of an incomplete last record
    read_error: str = ""
    damages: list[_Damage] = field(default_factory=list)


def read_event_stream(stream: BinaryIO, scope: FolderScope, label: str, chunk_size: int = _CHUNK) -> FileReport:
    """Read every scalar of one open event file into `scope`; problems end up in the report, never raised.

    I/O errors while reading (not opening) are reported too: a network file
    system or a file truncated under our feet must not abort the whole run.
    """
    report = FileReport(label)
    state = _State()
    while True:
        if state.skip is None and _consume_records(state, scope, report):
            continue  # resumed after damage: frame again from there
        if state.skip is not None:
            _resync(state, report)
            if state.skip is None:
                continue  # frame again from the record found
        if state.eof or state.truncated_at >= 0:
            break
        if not _fill(state, stream, chunk_size):
            break
    _finish_report(report, state)
    return report


def _fill(state: _State, stream: BinaryIO, chunk_size: int) -> bool:
    """Drop consumed bytes and read at least a chunk (more if the pending record needs it)."""
    end = state.offset + len(state.buf)
    held = len(state.buf) - state.pos
    # A long record is read in doubling steps (linear copying), each scanned ahead (see `_look_ahead`).
    want = max(chunk_size, min(state.need_end - end, held))
    try:
        chunk = read_up_to(stream.read, want, max(chunk_size, _CHUNK))
    except OSError as exc:
        state.read_error = f"read error at byte {end} ({exc.strerror or exc.__class__.__name__})"
        return False
    state.eof = len(chunk) < want
    state.buf = state.buf[state.pos :] + chunk if state.pos < len(state.buf) else chunk
    state.offset += state.pos
    state.pos = 0
    return True


def _consume_records(state: _State, scope: FolderScope, report: FileReport) -> bool:
    """Decode the complete records from `state.pos`; stop at damage or at the first incomplete record.

    Returns True when reading resumed at a record found after damage (frame again from there);
    otherwise `state.skip` is set (a scan for the next record must go on) or more data is needed.
    """
    buf = state.buf
    starts, pending = frame(buf, state.pos)
    damage_at = -1
    if starts.size:
        bad = bad_headers(buf, starts)
        if bad.size:
            damage_at = pending = int(starts[bad[0]])
            starts = starts[: bad[0]]
    ends = np.empty_like(starts)  # end of each payload (its footer follows)
    if starts.size:
        ends[:-1] = starts[1:]
        ends[-1] = pending
    ends -= FOOTER_SIZE
    datas = [buf[s:e] for s, e in zip((starts + HEADER_SIZE).tolist(), ends.tolist(), strict=True)]
    keep, overlap = _check_payloads(state, starts, ends, datas, report)
    if keep.size < starts.size:
        starts, ends = starts[keep], ends[keep]
        datas = [datas[i] for i in keep.tolist()]
    _apply_batch(datas, starts + state.offset, ends - starts - HEADER_SIZE, scope, report)
    if overlap is not None:
        return _overlap(state, report, *overlap)
    state.pos = pending
    if damage_at >= 0:
        _start_skip(state, report, _Damage(LENGTH_CRC, state.offset + damage_at))
        return False
    return _check_pending(state, report)


def _check_payloads(
    state: _State, starts: np.ndarray, ends: np.ndarray, datas: list[bytes], report: FileReport
) -> tuple[np.ndarray, tuple[int, int, int, str] | None]:
    """Indices of the records to decode, and the first wrong length found: (record start, its claimed
    length, the scan's position, the scan's status), or None.

    A bad payload checksum means a damaged payload, or a wrong length whose
    "payload" runs over the next records: a credible record starting inside it
    tells them apart. Records framed after a wrong length are not decoded.
    """
    if not starts.size:
        return starts, None
    buf = state.buf
    crcs = np.fromiter(map(_crc32c.value, datas), dtype=np.uint32, count=len(datas))
    raw = np.frombuffer(buf, dtype=np.uint8)
    stored = raw[ends[:, None] + np.arange(FOOTER_SIZE)].view("<u4").ravel()
    bad = np.flatnonzero(mask(crcs) != stored)
    if not bad.size:
        return np.arange(starts.size), None
    good = np.ones(starts.size, dtype=bool)
    for i in bad.tolist():
        at = int(starts[i])
        length = int(ends[i]) - at - HEADER_SIZE
        found, status = find_record(buf, at + 1, at + OVERHEAD + length, state.eof)
        if status != NONE:
            return np.flatnonzero(good[:i]), (at, length, found, status)
        _count_bad_payload(report, state.offset + at)
        good[i] = False
    return np.flatnonzero(good), None


def _overlap(state: _State, report: FileReport, at: int, length: int, found: int, status: str) -> bool:
    """A record whose payload checksum failed and inside whose claimed payload a credible record starts
    (FOUND: returns True) or may start (MORE: the scan needs more bytes)."""
    damage = _Damage(OVERLAPS, state.offset + at, length, records_before=report.records)
    state.pos = found
    if status == FOUND:
        damage.resumed = state.offset + found
        state.damages.append(damage)
        return True
    state.skip = _Skip(damage, state.offset + found, limit=state.offset + at + OVERHEAD + length)
    state.need_end = _need_end(state, found)
    return False


def _count_bad_payload(report: FileReport, offset: int) -> None:
    if not report.bad_data_crc:
        report.first_bad_data_crc = offset
    report.bad_data_crc += 1


def _check_pending(state: _State, report: FileReport) -> bool:
    """Judge the header of the incomplete record at `state.pos`: wait for more bytes, start a skip, or
    (returns True) resume at a record found inside its claimed payload."""
    buf, pos = state.buf, state.pos
    at = state.offset + pos
    if len(buf) - pos < HEADER_SIZE:
        state.need_end = at + HEADER_SIZE
        if state.eof and pos < len(buf):
            state.truncated_at = at
        return False
    length = header_length(buf, pos)
    if length is None:
        _start_skip(state, report, _Damage(LENGTH_CRC, at))
    elif length > MAX_RECORD:
        _start_skip(state, report, _Damage(TOO_LONG, at, length))
    else:
        state.need_end = at + OVERHEAD + length
        if (state.eof or length > _LOOK_AHEAD_FROM) and _look_ahead(state, report, length):
            return True
        if state.eof:  # nothing credible after it: the last record, still being written or cut off
            state.truncated_at = at
    return False


# Claims longer than this are checked while they are read (`_look_ahead`); shorter ones once complete,
# by their payload checksum. Only a record embedding a whole valid TFRecord in its payload can pass for
# a wrong length this way, so the early check is kept to claims no training writer makes.
_LOOK_AHEAD_FROM = 16 << 20


def _look_ahead(state: _State, report: FileReport, length: int) -> bool:
    """Scan the part read so far of an incomplete record's claimed payload for a credible record.

    Finding one proves the length wrong (OVERLAPS), whether the claim runs past
    the end of the file or not, and before the gigabytes it may claim are
    buffered; a real long record is scanned once, in the doubling steps it is
    read in.
    """
    at = state.offset + state.pos
    if state.looked_at != at:
        state.looked_at, state.looked_to = at, at + 1
    found, status = find_record(state.buf, state.looked_to - state.offset, len(state.buf) + 1, state.eof)
    state.looked_to = state.offset + found
    if status != FOUND:
        return False
    damage = _Damage(OVERLAPS, at, length, resumed=state.offset + found, records_before=report.records)
    state.damages.append(damage)
    state.pos = found
    state.need_end = 0
    return True


def _start_skip(state: _State, report: FileReport, damage: _Damage) -> None:
    damage.records_before = report.records
    state.skip = _Skip(damage, damage.at + 1)


def _resync(state: _State, report: FileReport) -> None:
    """Continue the scan for the next credible record; resume framing there, or give up at EOF."""
    skip = state.skip
    assert skip is not None
    damage = skip.damage
    lo = skip.scan_from - state.offset
    hi = len(state.buf) + 1 if skip.limit is None else skip.limit - state.offset
    found, status = find_record(state.buf, lo, hi, state.eof)
    _note_zeros(state, skip, found if status != NONE else len(state.buf))
    if status == MORE:
        skip.scan_from = state.offset + found
        state.pos = found
        state.need_end = _need_end(state, found)
        return
    state.skip = None
    if status == FOUND:
        damage.resumed = state.offset + found
        state.damages.append(damage)
        state.pos = found
    elif skip.limit is not None:  # nothing credible inside the payload: its length was right, its bytes not
        _count_bad_payload(report, damage.at)
        state.pos = skip.limit - state.offset
    else:
        damage.end = state.offset + len(state.buf)
        state.damages.append(damage)
        state.pos = len(state.buf)


def _note_zeros(state: _State, skip: _Skip, upto: int) -> None:
    """Track whether the skipped bytes so far (before buffer position `upto`) are all zero."""
    start = max(skip.zeros_to, skip.damage.at) - state.offset
    if skip.damage.zeros and upto > start:
        skip.damage.zeros = state.buf.count(0, start, upto) == upto - start
    skip.zeros_to = max(skip.zeros_to, state.offset + upto)


def _need_end(state: _State, pos: int) -> int:
    """File offset the buffer must reach to judge a record start at buffer position `pos`."""
    if len(state.buf) - pos < HEADER_SIZE:
        return state.offset + pos + HEADER_SIZE
    length = header_length(state.buf, pos)
    extra = OVERHEAD + length if length is not None and length <= MAX_RECORD else HEADER_SIZE
    return state.offset + pos + extra


def _finish_report(report: FileReport, state: _State) -> None:
    """Turn counters, damage and the end state into the sentences the CLI prints."""
    label = report.label
    size = state.offset + len(state.buf)
    damages = state.damages
    if len(damages) == 1 and damages[0].at == 0 and damages[0].resumed < 0 and damages[0].kind == LENGTH_CRC:
        report.errors.append(f"{label}: not a TensorBoard event file (bad record checksum at byte 0); skipped")
    else:
        report.errors.extend(_damage_message(label, d, report.records) for d in damages[:_DAMAGES_SHOWN])
    if len(damages) > _DAMAGES_SHOWN:
        rest = damages[_DAMAGES_SHOWN:]
        skipped = sum((d.resumed if d.resumed >= 0 else d.end) - d.at for d in rest)
        report.errors.append(
            f"{label}: {len(rest)} more damaged stretches skipped the same way ({skipped} bytes), "
            f"the last at byte {rest[-1].at}"
        )
    if state.read_error:
        report.errors.append(f"{label}: {state.read_error}; read {report.records} records before it")
    if state.truncated_at >= 0:
        report.errors.append(
            f"{label}: truncated record at byte {state.truncated_at} (file still being written?); "
            f"read {report.records} records before it"
        )
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
    if not report.errors:
        if size == 0:
            report.errors.append(f"{label}: empty file (no records yet)")
        elif report.records and report.records == report.headers:
            report.errors.append(f"{label}: only the file header, no events yet")


_DAMAGES_SHOWN = 3  # a file of garbage must not flood the report


def _damage_message(label: str, d: _Damage, total: int) -> str:
    """What was wrong at which byte, what was skipped, and what was kept."""
    if d.kind == LENGTH_CRC:
        what = f"corrupt record header at byte {d.at} (length checksum mismatch)"
    elif d.kind == TOO_LONG:
        what = f"implausible record length at byte {d.at} (the header claims {d.length} bytes)"
    else:
        what = f"the record at byte {d.at} claims {d.length} bytes but a valid record starts inside them"
    if d.zeros and d.kind != OVERLAPS:
        if d.resumed >= 0:
            return (
                f"{label}: {d.resumed - d.at} zero bytes at byte {d.at} instead of a record; skipped them to the "
                f"next valid record at byte {d.resumed} and read on ({d.records_before} records read before it, "
                f"{total} in all)"
            )
        return (
            f"{label}: the last {d.end - d.at} bytes of the file, from byte {d.at}, are all zero (as a crash "
            f"can leave a file); skipped them (read {d.records_before} records before them)"
        )
    if d.resumed >= 0:
        return (
            f"{label}: {what}; skipped {d.resumed - d.at} bytes to the next valid record at byte {d.resumed} "
            f"and read on ({d.records_before} records read before it, {total} in all)"
        )
    return (
        f"{label}: {what}; no valid record after it, skipped the last {d.end - d.at} bytes of the file "
        f"(read {d.records_before} records before it)"
    )


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
