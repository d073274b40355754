"""TFRecord framing of event files: checksums, record boundaries, and finding the next record after damage.

A record is `uint64 length | uint32 masked crc32c(length) | payload | uint32
masked crc32c(payload)`. Splitting a buffer into records one length at a time
from Python is the single largest cost of reading, so `frame` predicts record
starts from the repeating pattern of lengths a training loop writes and
confirms thousands of them per numpy pass.

When a header is damaged (bad length checksum, a length no protobuf can have,
a length running past the end of the file or over the next records) the reader
does not give up on the rest of the file: `find_record` scans forward for the
next position where a credible record starts, i.e. a header whose length
checksum matches, whose length is possible and whose payload checksum matches
too. Two independent 32-bit checksums make a false match in garbage about
one in 2^64 positions; the scan is a few numpy passes over the bytes, linear in
the size of the damaged region.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np
from google_crc32c import _crc32c  # C extension; the pure-Python fallback is ~100x slower

HEADER_SIZE = 12  # uint64 length + uint32 masked crc32c of those 8 bytes
FOOTER_SIZE = 4  # uint32 masked crc32c of the payload
OVERHEAD = HEADER_SIZE + FOOTER_SIZE
# Protobuf cannot parse a message of 2 GiB or more, so a longer record is damage, not data.
MAX_RECORD = (1 << 31) - 1

_LENGTH = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8


def masked_crc32c(data: bytes) -> int:
    """CRC32C as TFRecord stores it: rotated and offset so CRCs of CRCs stay well distributed."""
    crc = _crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def mask(crcs: np.ndarray) -> np.ndarray:
    """`masked_crc32c`'s rotation and offset, for a uint32 array of plain CRCs."""
    return ((crcs >> 15) | (crcs << 17)) + np.uint32(_MASK_DELTA)


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


def masked_crc32c_rows(rows: np.ndarray) -> np.ndarray:
    """Masked CRC32C of every row of a (n, k) uint8 matrix; checks all 8-byte record headers at once."""
    crc = np.full(rows.shape[0], 0xFFFFFFFF, dtype=np.uint32)
    for k in range(rows.shape[1]):
        crc = _CRC_TABLE[(crc ^ rows[:, k]) & 0xFF] ^ (crc >> 8)
    crc ^= np.uint32(0xFFFFFFFF)
    return mask(crc)


def header_length(buf: bytes, pos: int) -> int | None:
    """Length stored in the complete header at `pos`, or None when its checksum does not match."""
    length_bytes = buf[pos : pos + 8]
    if masked_crc32c(length_bytes) != _U32.unpack_from(buf, pos + 8)[0]:
        return None
    return _LENGTH.unpack(length_bytes)[0]


def payload_ok(buf: bytes, pos: int, length: int) -> bool:
    """Whether the complete record at `pos` (header already checked) has a matching payload checksum."""
    start = pos + HEADER_SIZE
    return masked_crc32c(buf[start : start + length]) == _U32.unpack_from(buf, start + length)[0]


# --------------------------------------------------------------------------- framing undamaged data

_SPECULATE_BLOCK = 4096  # records framed per numpy pass
_MAX_PERIOD = 64  # longest repeating pattern of record lengths looked for (tags written per step)


def frame(buf: bytes, pos: int) -> tuple[np.ndarray, int]:
    """Start offsets of the complete records from `pos` and where the first incomplete one begins.

    A training loop writes the same tags every step, so record lengths repeat
    with a short period: once a period shows, the next few thousand starts are
    predicted from it and confirmed at once by reading every predicted length
    field with numpy; the walk resumes at the first misprediction. Lengths are
    not checksummed here; the caller does that for all headers at once.
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
        if n - pos < HEADER_SIZE:
            return pos, False
        length = unpack(buf, pos)[0]
        end = pos + OVERHEAD + length
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
    np.cumsum(guess + OVERHEAD, out=offsets[1:])
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


def bad_headers(buf: bytes, starts: np.ndarray) -> np.ndarray:
    """Indices into `starts` of the records whose length checksum does not match."""
    raw = np.frombuffer(buf, dtype=np.uint8)
    heads = raw[starts[:, None] + np.arange(HEADER_SIZE)]
    stored = heads[:, 8:].copy().view("<u4").ravel()
    return np.flatnonzero(masked_crc32c_rows(heads[:, :8]) != stored)


# --------------------------------------------------------------------------- resynchronising after damage

_SCAN_WINDOW = 1 << 20  # positions examined per numpy pass (bounds the temporaries)


FOUND, NONE, MORE = "found", "none", "more"


def find_record(buf: bytes, lo: int, hi: int, eof: bool) -> tuple[int, str]:
    """The first credible record start q with lo <= q < hi in `buf`, scanning forward.

    Returns (q, FOUND); (q, NONE) when no position in [lo, hi) holds one; or
    (q, MORE) when none does in [lo, q) and judging q needs more data (a header
    cut by the end of the buffer, or a candidate whose payload is not all read
    yet). At EOF a candidate whose payload runs past the end counts as
    credible: it is the file's last record, still being written or cut off.
    """
    n = len(buf)
    end = min(hi, n - HEADER_SIZE + 1)  # positions holding a whole header
    pos = lo
    while pos < end:
        last = min(end, pos + _SCAN_WINDOW)
        for q in _candidates(buf, pos, last).tolist():
            length = _LENGTH.unpack_from(buf, q)[0]
            if q + OVERHEAD + length > n:
                return q, FOUND if eof else MORE
            if payload_ok(buf, q, length):
                return q, FOUND
        pos = last
    if eof or end >= hi:
        return max(end, lo), NONE
    return max(end, lo), MORE


def _candidates(buf: bytes, lo: int, hi: int) -> np.ndarray:
    """Positions in [lo, hi) holding a header with a possible length (< 2^31) and a matching checksum.

    Cheap tests first: a possible length has its top 33 bits zero, which leaves
    about one position in 2^33 of random bytes; runs of zero bytes (the usual
    tail of a crashed file) pass that test everywhere, so windows of zeros are
    skipped whole and positions whose whole header is zero (never a valid
    header) are dropped before any CRC is computed.
    """
    m = hi - lo
    seg = np.frombuffer(buf, dtype=np.uint8, count=m + HEADER_SIZE - 1, offset=lo)
    if not seg.any():  # a stretch of zeros holds no header: skipped at memory speed
        return np.zeros(0, dtype=np.int64)
    zero = seg == 0
    maybe = zero[4 : 4 + m] & zero[5 : 5 + m] & zero[6 : 6 + m] & zero[7 : 7 + m] & (seg[3 : 3 + m] < 0x80)
    idx = np.flatnonzero(maybe)
    if not idx.size:
        return idx
    if idx.size > 64:
        nonzero = np.zeros(seg.size + 1, dtype=np.int64)
        np.cumsum(~zero, out=nonzero[1:])
        idx = idx[nonzero[idx + HEADER_SIZE] > nonzero[idx]]
        if not idx.size:
            return idx
    heads = seg[idx[:, None] + np.arange(HEADER_SIZE)]
    stored = heads[:, 8:].copy().view("<u4").ravel()
    return idx[masked_crc32c_rows(heads[:, :8]) == stored] + lo


# --------------------------------------------------------------------------- reading


def read_up_to(read: Callable[[int], bytes], size: int, piece: int) -> bytes:
    """Read `size` bytes unless EOF comes first, at most `piece` bytes per call.

    Short reads are normal for raw and remote files; bounded calls keep a
    header claiming gigabytes from allocating them before EOF proves it wrong.
    """
    parts = []
    got = 0
    while got < size:
        more = read(min(piece, size - got))
        if not more:
            break
        parts.append(more)
        got += len(more)
    return parts[0] if len(parts) == 1 else b"".join(parts)
