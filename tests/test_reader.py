"""The event-file reader against files written by TensorBoard's own writer, by hand-built
protos laid out as TF writes them, by real TensorFlow / PyTorch / tensorboardX writers,
and by damaged files. The column-wise fast path must agree with the per-record path
(which mirrors EventAccumulator) on anything, so a property test compares them."""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

import tb_recipe_plugin.io.event_reader as er
from tb_recipe_plugin.analysis.series import Series
from tb_recipe_plugin.io import columns
from tb_recipe_plugin.io.event_reader import ScalarCollector, frame_record, read_event_bytes, read_scalars
from tests.conftest import require_tensorflow

# --------------------------------------------------------------------------- helpers shared with test_loader

WALL0 = 1_700_000_000.0


def simple_event(tag: str, step: int, value: float, wall: float | None = None) -> event_pb2.Event:
    event = event_pb2.Event(step=step, wall_time=WALL0 + step if wall is None else wall)
    event.summary.value.add(tag=tag, simple_value=value)
    return event


def scalar_metadata(plugin: str = "scalars") -> summary_pb2.SummaryMetadata:
    meta = summary_pb2.SummaryMetadata()
    meta.plugin_data.plugin_name = plugin
    if plugin == "scalars":
        meta.data_class = summary_pb2.DATA_CLASS_SCALAR
    return meta


def float_tensor(value: float) -> tensor_pb2.TensorProto:
    """How TF2's summary writer stores a float32 scalar: DT_FLOAT, empty shape, tensor_content."""
    return tensor_pb2.TensorProto(
        dtype=1, tensor_shape=tensor_shape_pb2.TensorShapeProto(), tensor_content=struct.pack("<f", value)
    )


def tensor_event(
    tag: str,
    step: int,
    value: float | None = None,
    *,
    tensor: tensor_pb2.TensorProto | None = None,
    metadata: bool = True,
    plugin: str = "scalars",
    wall: float | None = None,
) -> event_pb2.Event:
    event = event_pb2.Event(step=step, wall_time=WALL0 + step if wall is None else wall)
    val = event.summary.value.add(tag=tag)
    val.tensor.CopyFrom(tensor if tensor is not None else float_tensor(value))
    if metadata:
        val.metadata.CopyFrom(scalar_metadata(plugin))
    return event


def session_start(step: int) -> event_pb2.Event:
    return event_pb2.Event(step=step, wall_time=WALL0 + step, session_log=event_pb2.SessionLog(status=1))


def header() -> event_pb2.Event:
    return event_pb2.Event(wall_time=WALL0, file_version="brain.Event:2")


def write_events(folder: Path, events: list[event_pb2.Event], name: str | None = None) -> Path:
    """Write with TensorBoard's EventFileWriter (it adds the file_version header); rename if asked."""
    folder.mkdir(parents=True, exist_ok=True)
    before = set(folder.iterdir())
    writer = EventFileWriter(str(folder))
    for event in events:
        writer.add_event(event)
    writer.close()
    (path,) = set(folder.iterdir()) - before
    if name:
        path = path.rename(folder / name)
    return path


def write_raw(path: Path, payloads: list[bytes]) -> Path:
    """Frame serialized payloads ourselves: for damaged files and hand-encoded events."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(frame_record(p) for p in payloads))
    return path


def serialized(events: list[event_pb2.Event]) -> list[bytes]:
    return [e.SerializeToString() for e in events]


def read(path: Path, **kwargs) -> tuple[dict[str, Series], list[str]]:
    series, report = read_scalars(str(path), **kwargs)
    return series, report.errors


def points(series: Series) -> list[tuple[int, float]]:
    return list(zip(series.steps.tolist(), series.values.tolist(), strict=True))


@pytest.fixture(params=["fast", "slow"])
def path_mode(request, monkeypatch):
    """Run a test through the column-wise batch path and through the per-record path."""
    monkeypatch.setattr(er, "MIN_BATCH", 0 if request.param == "fast" else 10**9)
    return request.param


def many(events: list[event_pb2.Event], copies: int = 1) -> list[event_pb2.Event]:
    return events * copies


# --------------------------------------------------------------------------- formats


def test_simple_value_roundtrip(tmp_path, path_mode):
    events = [simple_event("loss", s, 1.0 / (s + 1)) for s in range(100)]
    series, errors = read(write_events(tmp_path, events))
    assert errors == []
    loss = series["loss"]
    assert loss.steps.dtype == np.int64 and loss.values.dtype == np.float64
    assert loss.steps.tolist() == list(range(100))
    np.testing.assert_array_equal(loss.values, np.float32([1.0 / (s + 1) for s in range(100)]).astype(np.float64))
    np.testing.assert_array_equal(loss.wall_times, WALL0 + np.arange(100))


def test_tf2_tensor_scalars_metadata_only_on_first_event(tmp_path, path_mode):
    events = [tensor_event("epoch_loss", s, 2.0 - s / 100, metadata=(s == 0)) for s in range(120)]
    series, errors = read(write_events(tmp_path, events))
    assert errors == []
    assert series["epoch_loss"].steps.tolist() == list(range(120))
    np.testing.assert_allclose(series["epoch_loss"].values, [2.0 - s / 100 for s in range(120)], rtol=1e-6)


def test_keras3_metadata_on_every_event(tmp_path, path_mode):
    events = [tensor_event(f"m{k}", s, s + k / 10) for s in range(40) for k in range(3)]
    series, errors = read(write_events(tmp_path, events))
    assert errors == [] and sorted(series) == ["m0", "m1", "m2"]
    np.testing.assert_allclose(series["m2"].values, np.arange(40) + 0.2, rtol=1e-6)


def _tensor(**fields) -> tensor_pb2.TensorProto:
    dims = fields.pop("dims", None)
    tensor = tensor_pb2.TensorProto(**fields)
    if dims is not None:
        for size in dims:
            tensor.tensor_shape.dim.add(size=size)
    return tensor


HALF_1_5 = struct.unpack("<H", struct.pack("<e", 1.5))[0]
BF16_2_5 = struct.unpack("<I", struct.pack("<f", 2.5))[0] >> 16


@pytest.mark.parametrize(
    ("tensor", "expected"),
    [
        (_tensor(dtype=1, tensor_content=struct.pack("<f", 0.25)), 0.25),
        (_tensor(dtype=1, float_val=[0.5]), 0.5),
        (_tensor(dtype=2, tensor_content=struct.pack("<d", 0.1)), 0.1),
        (_tensor(dtype=2, double_val=[1e-300]), 1e-300),
        (_tensor(dtype=19, half_val=[HALF_1_5]), 1.5),
        (_tensor(dtype=19, tensor_content=struct.pack("<e", -2.0)), -2.0),
        (_tensor(dtype=14, half_val=[BF16_2_5]), 2.5),
        (_tensor(dtype=3, int_val=[-7]), -7.0),
        (_tensor(dtype=9, int64_val=[2**40]), float(2**40)),
        (_tensor(dtype=1, float_val=[3.0], dims=[1]), 3.0),
        (_tensor(dtype=1, float_val=[4.0], dims=[1, 1]), 4.0),
    ],
    ids=[
        "content",
        "float_val",
        "double",
        "double_val",
        "half_val",
        "half_content",
        "bf16",
        "int32",
        "int64",
        "shape1",
        "shape1x1",
    ],
)
def test_tensor_encodings(tmp_path, path_mode, tensor, expected):
    events = [tensor_event("x", s, tensor=tensor, metadata=(s == 0)) for s in range(80)]
    series, errors = read(write_events(tmp_path, events))
    assert errors == []
    assert series["x"].values.tolist() == [expected] * 80


def test_non_scalar_tensor_is_reported_not_read(tmp_path, path_mode):
    vector = _tensor(dtype=1, float_val=[1.0, 2.0], dims=[2])
    events = [tensor_event("v", s, tensor=vector, metadata=(s == 0)) for s in range(70)]
    events += [tensor_event("ok", s, 1.0) for s in range(70)]
    series, errors = read(write_events(tmp_path, events))
    assert list(series) == ["ok"]
    assert len(errors) == 1 and "70 'scalars' tensor value(s)" in errors[0] and "'v'" in errors[0]


def test_other_plugins_and_untagged_tensors_are_ignored(tmp_path, path_mode):
    histo = _tensor(dtype=2, double_val=[0, 1, 3], dims=[1, 3])
    text = tensor_pb2.TensorProto(dtype=7, string_val=[b"hello"])
    events = []
    for s in range(50):
        events.append(tensor_event("hist", s, tensor=histo, plugin="histograms", metadata=(s == 0)))
        events.append(tensor_event("txt", s, tensor=text, plugin="text"))
        events.append(tensor_event("no_meta", s, 1.0, metadata=False))  # no metadata ever: not a scalar
        events.append(tensor_event("hp", s, 1.0, plugin="hparams"))  # numeric, but not the scalars plugin
        ev = event_pb2.Event(step=s, wall_time=WALL0)
        ev.summary.value.add(tag="h", histo=summary_pb2.HistogramProto(min=0, max=1, num=2))
        events.append(ev)
        events.append(event_pb2.Event(step=s, graph_def=b"\x0a\x00"))
        events.append(simple_event("loss", s, 0.5))
    series, errors = read(write_events(tmp_path, events))
    assert errors == [] and list(series) == ["loss"] and len(series["loss"]) == 50


def test_first_seen_metadata_wins(tmp_path, path_mode):
    """EventAccumulator keeps the first metadata of a tag; a later 'scalars' one does not re-class it."""
    events = [tensor_event("t", s, 1.0, plugin="custom" if s == 0 else "scalars") for s in range(80)]
    events += [tensor_event("u", s, 2.0, metadata=s > 10) for s in range(80)]
    series, _ = read(write_events(tmp_path, events))
    assert "t" not in series
    assert series["u"].steps.tolist() == list(range(11, 80))  # only once the plugin is known


@pytest.mark.parametrize("fmt", ["simple", "tensor"])
def test_nan_and_inf_are_kept(tmp_path, path_mode, fmt):
    specials = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-45]
    make = simple_event if fmt == "simple" else tensor_event
    events = [make("loss", s, specials[s % len(specials)]) for s in range(120)]
    series, errors = read(write_events(tmp_path, events))
    assert errors == []
    values = series["loss"].values
    assert np.isnan(values[0::6]).all()
    assert (values[1::6] == math.inf).all() and (values[2::6] == -math.inf).all()
    assert np.signbit(values[4::6]).all() and (values[5::6] > 0).all()


def test_multi_value_events_tf1_merged_summary(tmp_path, path_mode):
    events = []
    for s in range(90):
        ev = event_pb2.Event(step=s, wall_time=WALL0 + s)
        ev.summary.value.add(tag="a", simple_value=s)
        ev.summary.value.add(tag="b", simple_value=-s)
        events.append(ev)
    series, errors = read(write_events(tmp_path, events))
    assert errors == [] and series["b"].values.tolist() == [-float(s) for s in range(90)]


# --------------------------------------------------------------------------- orphan purge


def test_repeated_step_later_data_wins(tmp_path, path_mode):
    events = [simple_event("loss", s, 1.0) for s in range(100)]
    events += [simple_event("loss", s, 2.0) for s in range(50, 150)]  # restart from step 50
    series, _ = read(write_events(tmp_path, events))
    loss = series["loss"]
    assert loss.steps.tolist() == list(range(150))
    assert loss.values.tolist() == [1.0] * 50 + [2.0] * 100


def test_same_step_twice_keeps_the_last(tmp_path, path_mode):
    events = [simple_event("hp_metric", 0, -1.0), simple_event("hp_metric", 0, 0.75)] * 40
    series, _ = read(write_events(tmp_path, events))
    assert points(series["hp_metric"]) == [(0, 0.75)]


def test_purge_is_per_tag(tmp_path, path_mode):
    """Lightning writes val at the epoch's last step and train at earlier steps: no cross-tag purge."""
    events = []
    for epoch in range(40):
        events += [simple_event("train_loss", epoch * 10 + k, 1.0) for k in range(10)]
        events.append(simple_event("val_loss", epoch * 10 + 9, 2.0))
    series, _ = read(write_events(tmp_path, events))
    assert len(series["train_loss"]) == 400 and len(series["val_loss"]) == 40


def test_session_log_start_purges_all_tags(tmp_path, path_mode):
    events = [simple_event(tag, s, 1.0) for s in range(100) for tag in ("a", "b")]
    events.append(session_start(60))
    events += [simple_event("a", s, 2.0) for s in range(70, 120)]
    series, _ = read(write_events(tmp_path, events))
    assert series["b"].steps.tolist() == list(range(60))
    assert series["a"].steps.tolist() == list(range(60)) + list(range(70, 120))
    assert set(series["a"].values[60:].tolist()) == {2.0}


def test_unsorted_steps_resolved_like_a_restart(tmp_path, path_mode):
    steps = [5, 6, 7, 3, 4, 9, 8]
    events = [simple_event("x", s, float(i)) for i, s in enumerate(steps)] * 12
    series, _ = read(write_events(tmp_path, events))
    # The last repetition ends with ... 3, 4, 9, 8: 8 purges 9; 3 and 4 survive from before.
    assert points(series["x"]) == [(3, 3.0), (4, 4.0), (8, 6.0)]


# --------------------------------------------------------------------------- damaged files


def _records(tmp_path, n=200) -> tuple[Path, list[bytes]]:
    payloads = serialized([header()] + [simple_event("loss", s, float(s)) for s in range(n)])
    return write_raw(tmp_path / "events.out.tfevents.1.host", payloads), payloads


@pytest.mark.parametrize("cut", [1, 5, 11, 13, 20])
def test_truncated_last_record(tmp_path, path_mode, cut):
    path, _ = _records(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:-cut])
    series, errors = read(path)
    assert series["loss"].steps.tolist() == list(range(199))
    assert len(errors) == 1
    assert "truncated record at byte" in errors[0] and "still being written" in errors[0]
    assert "read 200 records before it" in errors[0]


def test_corrupt_length_crc_skips_to_the_next_record(tmp_path, path_mode):
    path, payloads = _records(tmp_path)
    data = bytearray(path.read_bytes())
    offset = sum(len(p) + 16 for p in payloads[:101])  # header + 100 events
    data[offset + 8] ^= 0xFF  # the length's checksum
    path.write_bytes(bytes(data))
    series, errors = read(path)
    assert series["loss"].steps.tolist() == [s for s in range(200) if s != 100]
    size = len(payloads[101]) + 16
    assert errors == [
        f"{path.name}: corrupt record header at byte {offset} (length checksum mismatch); skipped {size} bytes "
        f"to the next valid record at byte {offset + size} and read on (101 records read before it, 200 in all)"
    ]


def test_corrupt_length_with_huge_value_is_not_truncation(tmp_path, path_mode):
    path, payloads = _records(tmp_path)
    data = bytearray(path.read_bytes())
    offset = sum(len(p) + 16 for p in payloads[:51])
    data[offset + 6] = 0x7F  # length becomes enormous, its checksum no longer matches
    path.write_bytes(bytes(data))
    series, errors = read(path)
    assert len(series["loss"]) == 199 and 50 not in series["loss"].steps
    assert len(errors) == 1 and "length checksum mismatch" in errors[0] and "still being written" not in errors[0]


def test_corrupt_data_crc_skips_only_that_record(tmp_path, path_mode):
    path, payloads = _records(tmp_path)
    data = bytearray(path.read_bytes())
    offset = sum(len(p) + 16 for p in payloads[:11])  # the event of step 10
    data[offset + 12 + 3] ^= 0x01  # a payload byte
    path.write_bytes(bytes(data))
    series, errors = read(path)
    assert series["loss"].steps.tolist() == [s for s in range(200) if s != 10]
    assert errors == [f"{path.name}: skipped 1 record(s) with a bad data checksum (first at byte {offset})"]


def test_invalid_protobuf_is_skipped(tmp_path, path_mode):
    payloads = serialized([header()] + [simple_event("loss", s, 1.0) for s in range(100)])
    payloads.insert(30, b"\x0a\xff\xff\xff\xff\x0f")  # length-delimited field running past the end
    path = write_raw(tmp_path / "events.out.tfevents.1.h", payloads)
    series, errors = read(path)
    assert len(series["loss"]) == 100
    assert len(errors) == 1 and "1 record(s) that are not valid Event protos" in errors[0]


def test_empty_file(tmp_path, path_mode):
    path = tmp_path / "events.out.tfevents.1.h"
    path.write_bytes(b"")
    assert read(path) == ({}, [f"{path.name}: empty file (no records yet)"])


def test_header_only_file(tmp_path, path_mode):
    path = write_events(tmp_path, [])
    assert read(path) == ({}, [f"{path.name}: only the file header, no events yet"])


def test_not_an_event_file(tmp_path, path_mode):
    path = tmp_path / "notes.tfevents.txt"
    path.write_text("these are my notes about tfevents files, not a record stream\n" * 20)
    series, errors = read(path)
    assert series == {} and errors == [
        f"{path.name}: not a TensorBoard event file (bad record checksum at byte 0); skipped"
    ]


def test_tiny_garbage_file_is_truncated_not_crash(tmp_path, path_mode):
    path = tmp_path / "events.out.tfevents.2.h"
    path.write_bytes(b"\x01\x02\x03")
    series, errors = read(path)
    assert series == {} and "truncated record at byte 0" in errors[0]


# --------------------------------------------------------------------------- chunking, batch vs per-record


def test_chunk_boundaries_do_not_matter(tmp_path):
    events = [tensor_event(f"t{k}", s, s * 0.5 + k, metadata=s == 0) for s in range(300) for k in range(4)]
    events += [simple_event("big", s, 1.0) for s in range(0, 300, 7)]
    events.append(event_pb2.Event(step=3, graph_def=os.urandom(50_000)))  # larger than a chunk
    data = write_events(tmp_path, events).read_bytes()
    expected = _read_bytes(data, chunk_size=1 << 22)
    for chunk in (1, 7, 100, 4096):
        assert _same(_read_bytes(data, chunk_size=chunk), expected)


def _read_bytes(data: bytes, chunk_size: int = 1 << 22) -> tuple[dict[str, Series], list[str]]:
    import io

    collector = ScalarCollector()
    report = er.read_event_stream(io.BytesIO(data), collector.scope(""), "f", chunk_size=chunk_size)
    return collector.to_series(), report.errors


def _same(a: tuple[dict[str, Series], list[str]], b: tuple[dict[str, Series], list[str]]) -> bool:
    (sa, ea), (sb, eb) = a, b
    if ea != eb or sa.keys() != sb.keys():
        return False
    return all(
        np.array_equal(sa[k].steps, sb[k].steps)
        and np.array_equal(sa[k].values, sb[k].values, equal_nan=True)
        and np.array_equal(sa[k].wall_times, sb[k].wall_times)
        for k in sa
    )


def _both_paths(data: bytes, monkeypatch) -> tuple[tuple, tuple]:
    with monkeypatch.context() as m:
        m.setattr(er, "MIN_BATCH", 0)
        m.setattr(er, "MAX_SLOW_FRACTION", 1.0)
        fast = _read_bytes(data)
    with monkeypatch.context() as m:
        m.setattr(er, "MIN_BATCH", 10**9)
        slow = _read_bytes(data)
    return fast, slow


def _varint(n: int) -> bytes:
    return columns.varint(n & 0xFFFFFFFFFFFFFFFF)


def test_sentinel_collisions_fall_back_correctly(monkeypatch):
    """Values equal to the batch sentinels (explicit step 0, the int64 minimum, the sentinel NaN, the
    sentinel wall time) must not be mistaken for record boundaries."""
    value = b"\x0a\x04loss\x15" + struct.pack("<I", 0xFFFFFFFF)  # simple_value with the sentinel NaN bits
    odd = [
        b"\x09" + struct.pack("<d", WALL0) + b"\x10\x00" + b"\x2a" + bytes([len(value) + 2, 0x0A, len(value)]) + value,
        b"\x09"
        + struct.pack("<d", columns.SENT_WALL)
        + b"\x10"
        + _varint(-(1 << 63))
        + b"\x2a"
        + bytes([len(value) + 2, 0x0A, len(value)])
        + value,
    ]
    normal = serialized([simple_event("loss", s, 1.0) for s in range(1, 200)])
    data = b"".join(frame_record(p) for p in [odd[0]] + normal + [odd[1]])
    fast, slow = _both_paths(data, monkeypatch)
    assert _same(fast, slow)
    loss = slow[0]["loss"]
    assert loss.steps[0] == -(1 << 63) and len(loss) == 1  # the min-int step purged everything after it
    assert np.isnan(loss.values[0])


EVENT_KINDS = st.sampled_from(["simple", "tensor", "tensor_nometa", "multi", "session", "histo", "text", "graph"])


@st.composite
def event_streams(draw) -> list[bytes]:
    tags = draw(st.lists(st.sampled_from(["a", "b", "c/d", "é", ""]), min_size=1, max_size=4, unique=True))
    n = draw(st.integers(1, 150))
    out = [header().SerializeToString()]
    step = 0
    for _ in range(n):
        kind = draw(EVENT_KINDS)
        step = max(-3, step + draw(st.integers(-5, 5)))
        tag = draw(st.sampled_from(tags))
        value = draw(st.floats(width=32, allow_nan=True, allow_infinity=True))
        wall = draw(st.sampled_from([WALL0 + step] * 30 + [0.0, columns.SENT_WALL]))  # rare collisions
        if kind == "simple":
            ev = simple_event(tag, step, value, wall)
        elif kind == "tensor":
            ev = tensor_event(tag, step, value, wall=wall, metadata=draw(st.booleans()))
        elif kind == "tensor_nometa":
            ev = tensor_event(tag, step, value, wall=wall, metadata=False)
        elif kind == "multi":
            ev = simple_event(tag, step, value, wall)
            ev.summary.value.add(tag=draw(st.sampled_from(tags)), simple_value=-value)
        elif kind == "session":
            ev = session_start(step)
        elif kind == "histo":
            ev = tensor_event(
                tag, step, tensor=_tensor(dtype=2, double_val=[0, 1, 2], dims=[1, 3]), plugin="histograms"
            )
        elif kind == "text":
            ev = tensor_event(tag, step, tensor=tensor_pb2.TensorProto(dtype=7, string_val=[b"x"]), plugin="text")
        else:
            ev = event_pb2.Event(step=step, wall_time=wall, graph_def=b"\x0a\x00")
        out.append(ev.SerializeToString())
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payloads=event_streams())
def test_batch_path_matches_per_record_path(payloads, monkeypatch):
    data = b"".join(frame_record(p) for p in payloads)
    fast, slow = _both_paths(data, monkeypatch)
    assert _same(fast, slow)
    assert _same(slow, _reference(payloads))


def test_mixed_stream_takes_the_batch_path_with_per_record_islands(monkeypatch):
    """Only multi-value events, session logs and rare fields (the file header, a tag's first metadata)
    leave the batch path; everything else stays columnar."""
    events = [header()]
    for s in range(1, 300):
        events.append(simple_event("a", s, s))
        events.append(tensor_event("t", s, -s, metadata=s < 3))
        if s % 50 == 0:
            multi = simple_event("m", s, 1.0)
            multi.summary.value.add(tag="m2", simple_value=2.0)
            events += [multi, session_start(s - 5)]
    data = b"".join(frame_record(p) for p in serialized(events))
    slow_records = []
    original = er._apply_records

    def spy(datas, *args):
        slow_records.extend(datas)
        return original(datas, *args)

    monkeypatch.setattr(er, "_apply_records", spy)
    monkeypatch.setattr(er, "MIN_BATCH", 0)
    fast = _read_bytes(data)
    assert len(slow_records) == 13  # 5 multi-value events + 5 session logs + file header + 2 with metadata
    monkeypatch.setattr(er, "MIN_BATCH", 10**9)
    assert _same(fast, _read_bytes(data))
    assert _same(fast, _reference(serialized(events)))


def _reference(payloads: list[bytes]) -> tuple[dict[str, Series], list[str]]:
    """Independent model of the documented semantics, decoding tensors with TensorBoard's tensor_util."""
    from tensorboard.util import tensor_util

    plugins: dict[str, str] = {}
    data: dict[str, list[tuple[int, float, float]]] = {}
    bad_tensors = 0
    first_bad = ""
    for payload in payloads:
        ev = event_pb2.Event.FromString(payload)
        if ev.session_log.status == event_pb2.SessionLog.START:
            for tag in data:
                data[tag] = [p for p in data[tag] if p[0] < ev.step]
        for v in ev.summary.value:
            if v.HasField("metadata"):
                plugins.setdefault(v.tag, v.metadata.plugin_data.plugin_name)
            if v.HasField("simple_value"):
                x = v.simple_value
            elif v.HasField("tensor") and plugins.get(v.tag) == "scalars":
                arr = tensor_util.make_ndarray(v.tensor)
                if arr.size != 1 or arr.dtype.kind not in "fiu":
                    if not bad_tensors:
                        first_bad = v.tag
                    bad_tensors += 1
                    continue
                x = float(arr.reshape(()))
            else:
                continue
            pts = [p for p in data.get(v.tag, []) if p[0] < ev.step]
            data[v.tag] = pts + [(ev.step, x, ev.wall_time)]
    errors = []
    if bad_tensors:
        errors.append(
            f"f: skipped {bad_tensors} 'scalars' tensor value(s) that are not one-element numbers "
            f"(first tag {first_bad!r})"
        )
    if len(payloads) == 1:
        errors.append("f: only the file header, no events yet")
    series = {
        tag: Series(tag, [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts])
        for tag, pts in sorted(data.items())
        if pts
    }
    return series, errors


# --------------------------------------------------------------------------- real writers


def test_matches_event_accumulator(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    events = [simple_event("s", s, math.sin(s)) for s in range(300)]
    events += [tensor_event("t", s, math.cos(s), metadata=s == 0) for s in range(300)]
    path = write_events(tmp_path, events)
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    series, _ = read(path)
    assert points(series["s"]) == [(e.step, e.value) for e in acc.Scalars("s")]
    expected = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors("t")]
    assert points(series["t"]) == expected


def test_real_tensorflow_tf_summary_scalar(tmp_path):
    tf = require_tensorflow()
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        for step in range(100):
            tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
            tf.summary.scalar("acc64", tf.constant(step / 100, dtype=tf.float64), step=step)
            tf.summary.text("note", "hello", step=step)
            tf.summary.histogram("w", tf.random.normal([10]), step=step)
        tf.summary.scalar("nan", float("nan"), step=0)
    writer.close()
    (path,) = tmp_path.iterdir()
    series, errors = read(path)
    assert errors == [] and sorted(series) == ["acc64", "loss", "nan"]
    np.testing.assert_allclose(series["loss"].values, 1.0 / (np.arange(100) + 1), rtol=1e-6)
    np.testing.assert_allclose(series["acc64"].values, np.arange(100) / 100)
    assert np.isnan(series["nan"].values[0])


def test_real_torch_summary_writer(tmp_path):
    pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(tmp_path))
    for step in range(200):
        writer.add_scalar("train/loss", 2.0 / (step + 1), step)
        if step % 50 == 49:
            writer.add_scalar("val/loss", 3.0 / (step + 1), step)
            writer.add_histogram("w", np.arange(10), step)
    writer.close()
    (path,) = [p for p in tmp_path.iterdir() if "tfevents" in p.name]
    series, errors = read(path)
    assert errors == [] and sorted(series) == ["train/loss", "val/loss"]
    assert len(series["train/loss"]) == 200 and series["val/loss"].steps.tolist() == [49, 99, 149, 199]


def test_real_tensorboardx_writer(tmp_path):
    tbx = pytest.importorskip("tensorboardX")
    writer = tbx.SummaryWriter(logdir=str(tmp_path))
    for step in range(150):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.add_text("t", "hello", 0)
    writer.close()
    (path,) = [p for p in tmp_path.iterdir() if "tfevents" in p.name]
    series, errors = read(path)
    assert errors == [] and list(series) == ["loss"] and len(series["loss"]) == 150


def test_read_event_bytes_in_memory():
    data = b"".join(frame_record(p) for p in serialized([header(), simple_event("x", 1, 2.0)]))
    collector = ScalarCollector()
    report = read_event_bytes(data, collector.scope("train/"), "mem")
    assert report.records == 2 and report.errors == []
    assert points(collector.to_series()["train/x"]) == [(1, 2.0)]


def test_reader_never_imports_tensorflow():
    import subprocess
    import sys

    code = (
        "import sys, tb_recipe_plugin.io.event_reader, tb_recipe_plugin.io.loader; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
