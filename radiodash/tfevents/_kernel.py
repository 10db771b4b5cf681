"""The hot loop of the event-file decoder: TFRecord framing and the regular scalar Event, compiled by numba.

Why compiled: a 150,000-step VAE run writes 1.5 M records; the protobuf runtime decodes one
Event in about a microsecond, but the Python loop around it (framing, CRC32C, one call per
record) costs several, and CRC32C has no fast path in the standard library. This kernel
checks the framing of every record and decodes only the *regular* layout a `SummaryWriter`
writes for `add_scalar` — `wall_time`, `step`, one `summary` of `Value{tag, simple_value}`s
with known tags. Every other record (the `file_version` record, a new tag, tensor scalars,
histograms, unknown fields, anything unusual) goes back to Python, whose protobuf path
(`decoder.decode_event`) is the reference for what a record means.

Record layout (TFRecord): uint64 length, uint32 masked CRC32C of those 8 bytes, the payload,
uint32 masked CRC32C of the payload; all little-endian. Floats are rebuilt through native
views of their bits, so the kernel needs a little-endian machine (`LITTLE_ENDIAN`; elsewhere
the decoder takes the Python path).
"""
from __future__ import annotations

import sys

import numpy as np
from .._jit import compiled

LITTLE_ENDIAN = sys.byteorder == "little"

# statuses returned by scan()
DONE, FULL, SLOW, DAMAGE = 0, 1, 2, 3
# problems reported with DAMAGE
BAD_LENGTH_CRC, ABSURD_LENGTH, BAD_DATA_CRC = 1, 2, 3
# statuses returned by resync()
FOUND, WAIT, NONE = 0, 1, 2

HEADER = 12  # length + its CRC
FOOTER = 4  # the payload's CRC
MASK32 = 0xFFFFFFFF


def _crc_tables() -> np.ndarray:
    """Slicing-by-8 tables of CRC32C (Castagnoli, reflected polynomial 0x82F63B78)."""
    t = np.zeros((8, 256), np.int64)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t[0, i] = c
    for k in range(1, 8):
        for i in range(256):
            t[k, i] = (t[k - 1, i] >> 8) ^ t[0, t[k - 1, i] & 0xFF]
    return t


CRC_TABLES = _crc_tables()


@compiled
def crc32c(buf, s, e, t):
    """CRC32C of buf[s:e] (t: CRC_TABLES)."""
    crc = MASK32
    i = s
    while i + 8 <= e:
        lo = crc ^ (np.int64(buf[i]) | (np.int64(buf[i + 1]) << 8) | (np.int64(buf[i + 2]) << 16)
                    | (np.int64(buf[i + 3]) << 24))
        crc = (t[7, lo & 0xFF] ^ t[6, (lo >> 8) & 0xFF] ^ t[5, (lo >> 16) & 0xFF] ^ t[4, (lo >> 24) & 0xFF]
               ^ t[3, buf[i + 4]] ^ t[2, buf[i + 5]] ^ t[1, buf[i + 6]] ^ t[0, buf[i + 7]])
        i += 8
    while i < e:
        crc = t[0, (crc ^ buf[i]) & 0xFF] ^ (crc >> 8)
        i += 1
    return crc ^ MASK32


@compiled
def masked_crc32c(buf, s, e, t):
    """TFRecord's masked CRC: rotate right by 15 and add a constant (so CRCs of CRCs stay strong)."""
    x = crc32c(buf, s, e, t)
    return ((((x >> 15) | (x << 17)) & MASK32) + 0xA282EAD8) & MASK32


@compiled
def _u32(buf, i):
    return np.int64(buf[i]) | (np.int64(buf[i + 1]) << 8) | (np.int64(buf[i + 2]) << 16) | (np.int64(buf[i + 3]) << 24)


@compiled
def _length(buf, i, max_len):
    """The record length at i, or -1 when it exceeds max_len (the high word must be zero)."""
    if buf[i + 4] != 0 or buf[i + 5] != 0 or buf[i + 6] != 0 or buf[i + 7] != 0:
        return -1
    n = _u32(buf, i)
    return n if n <= max_len else -1


@compiled
def _header_ok(buf, i, t):
    return masked_crc32c(buf, i, i + 8, t) == _u32(buf, i + 8)


@compiled
def _varint(buf, i, e):
    """(value, next index) of a varint of at most 9 bytes at i (< 2**63); next -1 when it is not one."""
    v = np.int64(0)
    shift = 0
    while i < e and shift < 63:
        b = np.int64(buf[i])
        v |= (b & 0x7F) << shift
        i += 1
        if b < 0x80:
            return v, i
        shift += 7
    return np.int64(0), -1


@compiled
def _find_tag(buf, s, n, blob, off, guess):
    """Id of the known tag equal to buf[s:s+n], trying `guess` first; -1 when unknown."""
    ntags = off.size - 1
    for k in range(ntags):
        tid = (guess + k) % ntags
        if off[tid + 1] - off[tid] != n:
            continue
        same = True
        base = off[tid]
        for j in range(n):
            if blob[base + j] != buf[s + j]:
                same = False
                break
        if same:
            return tid
    return -1


@compiled
def _regular(buf, s, e, blob, off, guess, f32, u32, f64, w32, o_step, o_wall, o_tag, o_val, n, cap):
    """Decode the Event in buf[s:e] when it has the regular scalar layout with known tags.

    Values are written from index n on as they are met; only a record found regular in full
    counts (the caller keeps n otherwise). Returns the new output count, -1 when the record is
    not regular (Python decodes it), -2 when its values do not fit in the outputs.
    """
    wall = 0.0
    step = np.int64(0)
    sum_s = -1
    sum_e = -1
    i = s
    while i < e:
        key = buf[i]
        i += 1
        if key == 0x09:  # field 1 (wall_time), fixed64 (the two halves through a float64's uint32 view)
            if i + 8 > e:
                return -1
            w32[0] = np.uint32(_u32(buf, i))
            w32[1] = np.uint32(_u32(buf, i + 4))
            wall = f64[0]
            i += 8
        elif key == 0x10:  # field 2 (step), varint
            step, i = _varint(buf, i, e)
            if i < 0:
                return -1
        elif key == 0x2A and sum_s < 0:  # field 5 (summary), once
            ln, i = _varint(buf, i, e)
            if i < 0 or ln > e - i:
                return -1
            sum_s = i
            sum_e = i + ln
            i = sum_e
        else:
            return -1
    m = n
    i = sum_s
    while i < sum_e:
        if buf[i] != 0x0A:  # Summary field 1 (value), length-delimited
            return -1
        ln, i = _varint(buf, i + 1, sum_e)
        if i < 0 or ln > sum_e - i:
            return -1
        ve = i + ln
        j = i
        i = ve
        tag_s = -1
        tag_n = 0
        val_at = -1
        while j < ve:
            key = buf[j]
            j += 1
            if key == 0x0A and tag_s < 0:  # Value field 1 (tag)
                tl, j = _varint(buf, j, ve)
                if j < 0 or tl > ve - j:
                    return -1
                tag_s = j
                tag_n = tl
                j += tl
            elif key == 0x15 and val_at < 0:  # Value field 2 (simple_value), fixed32
                if j + 4 > ve:
                    return -1
                val_at = j
                j += 4
            else:
                return -1
        if tag_s < 0 or val_at < 0:
            return -1
        tid = _find_tag(buf, tag_s, tag_n, blob, off, guess)
        if tid < 0:
            return -1
        if m >= cap:
            return -2
        guess = tid + 1
        u32[0] = np.uint32(_u32(buf, val_at))
        o_step[m] = step
        o_tag[m] = tid
        o_val[m] = np.float64(f32[0])
        m += 1
    for k in range(n, m):  # the wall time may come after the summary
        o_wall[k] = wall
    return m


@compiled
def scan(buf, pos, end, max_len, t, blob, off, o_step, o_wall, o_tag, o_val, n):
    """Decode records from pos until one needs Python, is damaged, is incomplete, or outputs are full.

    Returns (status, pos, n, info, records decoded): DONE — pos is where an incomplete record (or the end) starts;
    FULL — the record at pos did not fit; SLOW — the record at pos is intact and info is its
    payload length; DAMAGE — the record at pos is not intact and info says why.
    """
    f32 = np.zeros(1, np.float32)
    u32 = f32.view(np.uint32)
    f64 = np.zeros(1, np.float64)
    w32 = f64.view(np.uint32)
    cap = o_step.size
    guess = 0
    recs = 0
    while True:
        if end - pos < HEADER:
            return DONE, pos, n, 0, recs
        if not _header_ok(buf, pos, t):
            return DAMAGE, pos, n, BAD_LENGTH_CRC, recs
        ln = _length(buf, pos, max_len)
        if ln < 0:
            return DAMAGE, pos, n, ABSURD_LENGTH, recs
        if end - pos < HEADER + ln + FOOTER:
            return DONE, pos, n, 0, recs
        ds = pos + HEADER
        de = ds + ln
        if masked_crc32c(buf, ds, de, t) != _u32(buf, de):
            return DAMAGE, pos, n, BAD_DATA_CRC, recs
        if off.size < 2:
            return SLOW, pos, n, ln, recs
        m = _regular(buf, ds, de, blob, off, guess, f32, u32, f64, w32, o_step, o_wall, o_tag, o_val, n, cap)
        if m == -1:
            return SLOW, pos, n, ln, recs
        if m == -2:
            return FULL, pos, n, 0, recs
        if m > n:
            guess = (o_tag[m - 1] + 1) % (off.size - 1)
        n = m
        recs += 1
        pos = de + FOOTER


@compiled
def resync(buf, pos, end, final, max_len, t):
    """The first intact record at or after pos: (FOUND, its start), (WAIT, where to wait from), or (NONE, end).

    Intact: its length CRC matches, the length is plausible and the payload CRC matches. A
    candidate whose payload is not all there yet is waited for (unless `final`: then it is not one).
    """
    q = pos
    while q < end:
        if end - q < HEADER:
            return (NONE, end) if final else (WAIT, q)
        if _header_ok(buf, q, t):
            ln = _length(buf, q, max_len)
            if ln >= 0:
                if end - q < HEADER + ln + FOOTER:
                    if not final:
                        return WAIT, q
                elif masked_crc32c(buf, q + HEADER, q + HEADER + ln, t) == _u32(buf, q + HEADER + ln):
                    return FOUND, q
        q += 1
    return NONE, end
