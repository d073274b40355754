"""Framing damage never hides the rest of a file: the reader says what it skipped (byte offset, bytes,
what the header claimed) and resumes at the next credible record. Only an incomplete last record with
nothing after it is "truncated (file still being written?)".

Every file here is built from real serialized events and framed with valid CRCs, then damaged the way
disks, crashes and hostile writers damage files: a checksummed header claiming 2^31 bytes, a length
that is plausible but wrong, garbage or zeros between records, a cut-off tail.
"""

from __future__ import annotations

import io
import random
import re
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tb_recipe_plugin.io.event_reader as er
from tb_recipe_plugin.io.event_reader import ScalarCollector, frame_record, masked_crc32c
from tests.test_reader import header, serialized, simple_event

LABEL = "events.out.tfevents.1.host"


def payloads(n: int = 200) -> list[bytes]:
    return serialized([header()] + [simple_event("loss", s, float(s)) for s in range(n)])


def offsets(records: list[bytes]) -> list[int]:
    """File offset of every framed record."""
    out, at = [], 0
    for p in records:
        out.append(at)
        at += len(p) + 16
    return out


def bad_header(length: int) -> bytes:
    """A header whose length checksum is VALID for a length that is wrong."""
    raw = struct.pack("<Q", length)
    return raw + struct.pack("<I", masked_crc32c(raw))


def read(data: bytes, chunk_size: int = 4 << 20, stream: io.RawIOBase | None = None) -> tuple[list[int], list[str]]:
    collector = ScalarCollector()
    report = er.read_event_stream(stream or io.BytesIO(data), collector.scope(""), LABEL, chunk_size=chunk_size)
    series = collector.to_series()
    return (series["loss"].steps.tolist() if "loss" in series else []), report.errors


# --------------------------------------------------------------------------- a header claiming too much


@pytest.mark.parametrize("claim", [1 << 31, (1 << 31) - 1, 1 << 40, (1 << 64) - 1])
def test_checksummed_huge_length_does_not_hide_the_records_after_it(claim):
    """The attack: a record claims 2^31 bytes with a valid header CRC. Every record after it used to
    be dropped and the file reported as "still being written"."""
    records = payloads()
    at = offsets(records)[101]
    framed = [frame_record(p) for p in records]
    framed[101] = bad_header(claim) + framed[101][12:]  # the event of step 100 now claims `claim` bytes
    steps, errors = read(b"".join(framed))
    assert steps == [s for s in range(200) if s != 100]
    skipped = len(framed[101])
    assert len(errors) == 1, errors
    assert "still being written" not in errors[0]
    if claim >= 1 << 31:
        what = f"implausible record length at byte {at} (the header claims {claim} bytes)"
    else:  # possible for protobuf, but the file goes on with valid records inside the claimed bytes
        what = f"the record at byte {at} claims {claim} bytes but a valid record starts inside them"
    assert errors[0] == (
        f"{LABEL}: {what}; skipped {skipped} bytes to the next valid record at byte {at + skipped} "
        "and read on (101 records read before it, 200 in all)"
    )


def test_huge_claim_is_never_allocated_or_read_at_once():
    """A claim of 2^31 - 1 bytes must not make the reader ask the stream for gigabytes in one call."""
    framed = [frame_record(p) for p in payloads(50)]
    framed.insert(10, bad_header((1 << 31) - 1))
    asked: list[int] = []

    class Recording(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            asked.append(size if size is not None else -1)
            return super().read(size)

    steps, errors = read(b"", chunk_size=1 << 16, stream=Recording(b"".join(framed)))
    assert steps == list(range(50)) and len(errors) == 1
    assert max(asked) <= 4 << 20, max(asked)


def test_plausible_but_wrong_length_is_found_inside_the_claimed_payload():
    """A checksummed length of 5,000 where the record holds 40: the "payload" swallows ~100 real records
    and fails its checksum; a valid record starting inside it shows the length is what is wrong."""
    records = payloads()
    at = offsets(records)[51]
    framed = [frame_record(p) for p in records]
    framed[51] = bad_header(5000) + framed[51][12:]
    steps, errors = read(b"".join(framed))
    assert steps == [s for s in range(200) if s != 50]
    assert errors == [
        f"{LABEL}: the record at byte {at} claims 5000 bytes but a valid record starts inside them; skipped "
        f"{len(framed[51])} bytes to the next valid record at byte {at + len(framed[51])} and read on "
        "(51 records read before it, 200 in all)"
    ]


def test_damaged_payload_with_a_right_length_is_still_one_skipped_record():
    records = payloads()
    framed = [bytearray(frame_record(p)) for p in records]
    framed[11][12 + 3] ^= 0x01
    steps, errors = read(b"".join(framed))
    assert steps == [s for s in range(200) if s != 10]
    assert errors == [f"{LABEL}: skipped 1 record(s) with a bad data checksum (first at byte {offsets(records)[11]})"]


# --------------------------------------------------------------------------- garbage, zeros, truncation


@pytest.mark.parametrize("filler", ["random", "zeros", "text"])
def test_garbage_between_records_is_skipped_and_measured(filler):
    records = payloads()
    framed = [frame_record(p) for p in records]
    junk = {
        "random": random.Random(3).randbytes(10_000),
        "zeros": bytes(10_000),
        "text": b"not a record " * 800,
    }[filler]
    at = offsets(records)[120]
    data = b"".join(framed[:120]) + junk + b"".join(framed[120:])
    steps, errors = read(data)
    assert steps == list(range(200))
    assert len(errors) == 1
    assert f"at byte {at} " in errors[0] and f"at byte {at + len(junk)} and read on" in errors[0]
    skipped = "10000 zero bytes" if filler == "zeros" else f"skipped {len(junk)} bytes to the next valid record"
    assert skipped in errors[0]


def test_zero_filled_tail_after_a_crash():
    """What a crash often leaves: the file's tail is zeros. Everything before is kept, the tail measured."""
    framed = b"".join(frame_record(p) for p in payloads(100))
    steps, errors = read(framed + bytes(50_000))
    assert steps == list(range(100))
    assert errors == [
        f"{LABEL}: the last 50000 bytes of the file, from byte {len(framed)}, are all zero (as a crash can leave "
        "a file); skipped them (read 101 records before them)"
    ]


@pytest.mark.parametrize("cut", [1, 5, 11, 13, 30])
def test_only_an_incomplete_last_record_is_truncation(cut):
    framed = b"".join(frame_record(p) for p in payloads(100))
    steps, errors = read(framed[:-cut])
    assert steps == list(range(99))
    assert len(errors) == 1 and re.fullmatch(
        rf"{re.escape(LABEL)}: truncated record at byte \d+ \(file still being written\?\); read 100 records "
        "before it",
        errors[0],
    )


def test_claim_past_the_end_with_records_after_it_is_not_truncation():
    """A checksummed length of 100,000 in a 9 kB file, with valid records after it: not a file still being
    written (that would end with the incomplete record), so the records after it are read."""
    records = payloads(100)
    framed = [frame_record(p) for p in records]
    framed[30] = bad_header(100_000) + framed[30][12:]
    steps, errors = read(b"".join(framed))
    assert steps == [s for s in range(100) if s != 29]
    assert len(errors) == 1 and "claims 100000 bytes but a valid record starts inside them" in errors[0]


def test_damage_at_byte_zero_with_records_after_it():
    framed = b"".join(frame_record(p) for p in payloads(100))
    steps, errors = read(b"JUNK" + framed)
    assert steps == list(range(100))
    assert errors == [
        f"{LABEL}: corrupt record header at byte 0 (length checksum mismatch); skipped 4 bytes to the next "
        "valid record at byte 4 and read on (0 records read before it, 101 in all)"
    ]


def test_many_damaged_stretches_are_summarised():
    records = payloads(100)
    framed = [frame_record(p) for p in records]
    for i in range(10, 90, 10):
        framed[i] = b"\x07" * 25 + framed[i]
    steps, errors = read(b"".join(framed))
    assert steps == list(range(100))
    assert len(errors) == 4
    assert all("skipped 25 bytes to the next valid record" in e for e in errors[:3])
    assert errors[3].startswith(f"{LABEL}: 5 more damaged stretches skipped the same way (125 bytes), the last at byte")


# --------------------------------------------------------------------------- chunking and cost


def _damaged_file(seed: int) -> bytes:
    rng = random.Random(seed)
    framed = [frame_record(p) for p in payloads(300)]
    for _ in range(6):
        i = rng.randrange(1, len(framed))
        kind = rng.choice(["junk", "zeros", "claim", "crc", "cut"])
        if kind == "junk":
            framed[i] = rng.randbytes(rng.randrange(1, 300)) + framed[i]
        elif kind == "zeros":
            framed[i] = bytes(rng.randrange(1, 300)) + framed[i]
        elif kind == "claim":
            framed[i] = bad_header(rng.choice([1 << 31, 5000, 17, 1 << 20])) + framed[i][12:]
        elif kind == "crc":
            framed[i] = framed[i][:9] + bytes([framed[i][9] ^ 0x40]) + framed[i][10:]
        else:
            framed[i] = framed[i][: rng.randrange(len(framed[i]))]
    return b"".join(framed)


@pytest.mark.parametrize("seed", range(4))
def test_chunk_size_does_not_change_what_is_read_or_said(seed):
    data = _damaged_file(seed)
    expected = read(data)
    assert expected[1], "the damage must show"
    for chunk in (1, 13, 100, 4096, 65536):
        assert read(data, chunk_size=chunk) == expected, chunk


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(5, 120),
    cuts=st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=40)), min_size=1, max_size=5),
)
def test_inserted_garbage_never_costs_a_valid_record(n, cuts):
    """Garbage inserted between records (any bytes, any length): every record is still read."""
    framed = [frame_record(p) for p in payloads(n)]
    for at, junk in cuts:
        framed.insert(at % (len(framed) + 1), junk)
    steps, errors = read(b"".join(framed))
    assert steps == list(range(n))
    assert errors


def test_scan_is_linear_in_the_damaged_bytes(monkeypatch):
    """No position is examined twice, however the damage falls across chunks: a resync over big garbage
    costs one pass (its speed is in benchmarks/read_speed.py --resync)."""
    from tb_recipe_plugin.io import framing

    examined = []
    real = framing._candidates

    def counting(buf, lo, hi):
        examined.append(hi - lo)
        return real(buf, lo, hi)

    monkeypatch.setattr(framing, "_candidates", counting)
    garbage = random.Random(5).randbytes(3_000_000) + bytes(2_000_000)
    before = b"".join(frame_record(p) for p in payloads(20))
    after = b"".join(frame_record(simple_event("loss", s, 1.0).SerializeToString()) for s in range(100, 120))
    steps, errors = read(before + garbage + after, chunk_size=1 << 16)
    assert steps == list(range(20)) + list(range(100, 120)) and len(errors) == 1
    assert 0 < sum(examined) <= len(garbage) + len(before) + len(after), (sum(examined), len(garbage))


def test_reading_never_raises_on_random_damage():
    rng = random.Random(11)
    base = b"".join(frame_record(p) for p in payloads(150))
    for _ in range(200):
        data = bytearray(base)
        for _ in range(rng.randrange(1, 6)):
            at = rng.randrange(len(data))
            action = rng.random()
            if action < 0.4:
                data[at] ^= 1 << rng.randrange(8)
            elif action < 0.7:
                data[at:at] = rng.randbytes(rng.randrange(1, 64))
            else:
                del data[at : at + rng.randrange(1, 64)]
        steps, errors = read(bytes(data), chunk_size=rng.choice([97, 4096, 1 << 20]))
        assert errors and len(steps) <= 150
        assert np.all(np.diff(steps) > 0)


def test_wrong_huge_length_is_caught_before_the_claimed_bytes_are_buffered():
    """A checksummed claim of 1 GiB at the start of a 6 MB file: the credible record inside the claimed
    payload is found in the first chunk, so the reader never holds more than a few chunks."""
    import tracemalloc

    block = b"".join(frame_record(p) for p in payloads(2000))
    data = bad_header(1 << 30) + block * (6_000_000 // len(block))
    tracemalloc.start()
    try:
        steps, errors = read(b"", chunk_size=1 << 16, stream=io.BytesIO(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert steps == list(range(2000)) and len(errors) == 1 and "claims 1073741824 bytes" in errors[0]
    assert peak < 8 << 20, peak
