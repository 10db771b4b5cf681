"""Incremental decoder of TensorBoard event files: bytes in any pieces -> columnar scalar values.

Why no I/O here: the run store reads each file's new bytes (the tail layer handles
truncation, replacement, NFS) and hands them to this decoder, exactly as it does for logs.
A decoder holds the state of one file: the bytes of an incomplete last record, the file
offset, the file's tag table and an open damaged range.

Damage never raises. A record whose length CRC fails, whose length is absurd or whose
payload CRC fails starts a damaged range; decoding resumes at the next intact record (a
length whose CRC matches, then a payload whose CRC matches), and the range is reported as
a `Notice` (file offsets, what was wrong) once it is closed. An intact record whose
payload is no Event protobuf is skipped with a notice too.

What a record means is defined by the `protobuf` runtime with the Event/Summary messages
that tensorboardX ships (`decode_event`); the compiled kernel (`_kernel.py`) decodes only
the regular `add_scalar` layout and hands every other record back to it.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np
from google.protobuf.message import DecodeError
from tensorboardX.proto import event_pb2, types_pb2

from . import _kernel
from ._kernel import ABSURD_LENGTH, BAD_DATA_CRC, BAD_LENGTH_CRC, DAMAGE, DONE, FOUND, FULL, SLOW, WAIT

#: Records longer than this are taken as damage (a scalar record is ~50 bytes; graphs and images a few MB).
MAX_RECORD_BYTES = 64 * 1024 * 1024

PROBLEMS = {
    BAD_LENGTH_CRC: "the record length fails its CRC",
    ABSURD_LENGTH: "the record length exceeds {max:,} bytes",
    BAD_DATA_CRC: "the record payload fails its CRC",
}
INCOMPLETE = "the file ends inside a record"

_FLOAT_DTYPES = {types_pb2.DT_FLOAT: "<f4", types_pb2.DT_DOUBLE: "<f8", types_pb2.DT_HALF: "<f2"}


@dataclass(frozen=True)
class Notice:
    """Bytes [offset, end) of a file that held no readable record, and why."""

    offset: int
    end: int
    problem: str

    @property
    def text(self) -> str:
        return f"bytes {self.offset:,}–{self.end:,} skipped: {self.problem}"


@dataclass
class EventChunk:
    """The scalar values of the records completed by one `feed`, as columns.

    `tag` indexes `tags`, the file's tag table so far (ids are stable for the life of a
    decoder, so chunk after chunk line up). One row per scalar value, in file order.
    """

    step: np.ndarray  # int64
    wall_time: np.ndarray  # float64, seconds since the epoch
    tag: np.ndarray  # int32
    value: np.ndarray  # float64 (float32 values widened exactly)
    tags: tuple[str, ...]
    notices: list[Notice] = field(default_factory=list)
    file_version: str | None = None  # set by the chunk holding the file's version record
    records: int = 0  # intact records decoded
    skipped_values: int = 0  # summary values that are no scalar (histograms, images, text...)
    end_offset: int = 0  # file offset up to which the bytes are decoded (the rest waits)

    def __len__(self) -> int:
        return int(self.step.size)


class _Columns:
    """Growable output arrays shared by the kernel and the Python path."""

    def __init__(self, capacity: int) -> None:
        capacity = max(16, capacity)
        self.step = np.empty(capacity, np.int64)
        self.wall = np.empty(capacity, np.float64)
        self.tag = np.empty(capacity, np.int32)
        self.value = np.empty(capacity, np.float64)
        self.n = 0

    def grow(self, need: int) -> None:
        cap = max(2 * self.step.size, need)
        for name in ("step", "wall", "tag", "value"):
            old = getattr(self, name)
            new = np.empty(cap, old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)

    def append(self, step: int, wall: float, tag: int, value: float) -> None:
        if self.n >= self.step.size:
            self.grow(self.n + 1)
        i = self.n
        self.step[i], self.wall[i], self.tag[i], self.value[i] = step, wall, tag, value
        self.n += 1


def decode_event(payload: bytes) -> tuple[int, float, list[tuple[str, float]], str | None, int]:
    """(step, wall_time, [(tag, value)], file_version, skipped values) of one Event payload.

    Scalars are `simple_value`s (what `add_scalar` writes) and 0-d float tensors (what
    `add_scalar(new_style=True)` and TF2's `tf.summary.scalar` write). Raises DecodeError.
    """
    event = event_pb2.Event.FromString(payload)
    values: list[tuple[str, float]] = []
    skipped = 0
    for v in event.summary.value:
        kind = v.WhichOneof("value")
        if kind == "simple_value":
            values.append((v.tag, v.simple_value))
        elif kind == "tensor" and (scalar := _tensor_scalar(v)) is not None:
            values.append((v.tag, scalar))
        elif kind is not None:
            skipped += 1
    version = event.file_version if event.WhichOneof("what") == "file_version" else None
    return event.step, event.wall_time, values, version, skipped


def _tensor_scalar(v) -> float | None:
    """The value of a 0-d float tensor of the scalars plugin (or of no plugin); None otherwise."""
    t = v.tensor
    plugin = v.metadata.plugin_data.plugin_name
    if plugin not in ("", "scalars") or t.dtype not in _FLOAT_DTYPES or len(t.tensor_shape.dim):
        return None
    if t.tensor_content:
        arr = np.frombuffer(t.tensor_content, _FLOAT_DTYPES[t.dtype])
        return float(arr[0]) if arr.size == 1 else None
    vals = {types_pb2.DT_FLOAT: t.float_val, types_pb2.DT_DOUBLE: t.double_val}.get(t.dtype)
    if vals is None:  # DT_HALF: IEEE half bits in half_val
        return float(np.array(t.half_val[0] & 0xFFFF, np.uint16).view(np.float16)) if len(t.half_val) == 1 else None
    return float(vals[0]) if len(vals) == 1 else None


class EventDecoder:
    """The state of one event file being read: feed it the file's bytes in order, in any pieces.

    `compiled=False` runs the Python reference path for every record (framing in Python,
    CRC32C from tensorboardX's implementation, every payload through protobuf): slower,
    the same results — the tests hold the kernel to it.
    """

    def __init__(self, *, compiled: bool = True, max_record_bytes: int = MAX_RECORD_BYTES) -> None:
        self.compiled = compiled and _kernel.LITTLE_ENDIAN
        self.max_record_bytes = min(int(max_record_bytes), 2**32 - 1)  # the kernel reads the length's low word
        self.offset = 0  # file offset of the first byte not yet decoded
        self.tags: list[str] = []
        self._tag_id: dict[str, int] = {}
        self._blob = np.zeros(0, np.uint8)
        self._off = np.zeros(1, np.int64)
        self._pending = b""
        self._damage: tuple[int, str] | None = None  # (file offset, problem) of the open damaged range
        self.file_version: str | None = None
        self.records = 0

    @property
    def pending_bytes(self) -> int:
        """Bytes held back: an incomplete last record (or the tail of a damaged range)."""
        return len(self._pending)

    @property
    def damaged_since(self) -> int | None:
        """File offset where an open damaged range starts (no intact record found after it yet)."""
        return None if self._damage is None else self._damage[0]

    def finish(self) -> EventChunk:
        """The file is complete (a finished or crashed run): whatever is held back is reported."""
        return self.feed(b"", final=True)

    def feed(self, data: bytes, *, final: bool = False) -> EventChunk:
        """Decode the records completed by `data` (the file's next bytes)."""
        buf = self._pending + bytes(data) if self._pending else bytes(data)
        arr = np.frombuffer(buf, np.uint8)
        base, end, pos = self.offset, len(buf), 0
        out = _Columns(end // 32 + 16)
        notices: list[Notice] = []
        version = None
        records = skipped = 0
        while True:
            if self._damage is not None:
                status, q = self._resync(arr, buf, pos, end, final)
                if status == FOUND:
                    notices.append(Notice(self._damage[0], base + q, self._damage[1]))
                    self._damage, pos = None, q
                elif status == WAIT:
                    pos = q
                    break
                else:
                    notices.append(Notice(self._damage[0], base + end, self._damage[1]))
                    self._damage, pos = None, end
                    break
            status, pos, info, regular = self._scan(arr, buf, pos, end, out)
            records += regular
            if status == DONE:
                if final and pos < end:  # an incomplete record at the end of a complete file
                    self._damage, pos = (base + pos, INCOMPLETE), pos + 1
                    continue
                break
            if status == FULL:
                out.grow(2 * out.step.size)
            elif status == SLOW:
                payload = buf[pos + _kernel.HEADER: pos + _kernel.HEADER + info]
                try:
                    step, wall, values, file_version, skip = decode_event(payload)
                except (DecodeError, ValueError) as exc:
                    notices.append(Notice(base + pos, base + pos + _kernel.HEADER + info + _kernel.FOOTER,
                                          f"the record is no Event protobuf ({type(exc).__name__})"))
                else:
                    records += 1
                    skipped += skip
                    version = file_version if file_version is not None else version
                    for tag, value in values:
                        out.append(step, wall, self._tag(tag), value)
                pos += _kernel.HEADER + info + _kernel.FOOTER
            elif status == DAMAGE:
                self._damage, pos = (base + pos, PROBLEMS[info].format(max=self.max_record_bytes)), pos + 1
        self._pending = buf[pos:]
        self.offset = base + pos
        self.records += records
        if version is not None:
            self.file_version = version
        n = out.n
        return EventChunk(out.step[:n].copy(), out.wall[:n].copy(), out.tag[:n].copy(), out.value[:n].copy(),
                          tuple(self.tags), notices, version, records, skipped, self.offset)

    # ---------------------------------------------------------------- the two paths

    def _scan(self, arr: np.ndarray, buf: bytes, pos: int, end: int, out: _Columns) -> tuple[int, int, int, int]:
        """(status, pos, info, regular records decoded) from the kernel, or the Python framing."""
        if not self.compiled:
            return (*_python_scan(buf, pos, end, self.max_record_bytes), 0)
        status, pos, n, info, recs = _kernel.scan(arr, pos, end, self.max_record_bytes, _kernel.CRC_TABLES,
                                                  self._blob, self._off, out.step, out.wall, out.tag, out.value, out.n)
        out.n = n
        return int(status), int(pos), int(info), int(recs)

    def _resync(self, arr: np.ndarray, buf: bytes, pos: int, end: int, final: bool) -> tuple[int, int]:
        if not self.compiled:
            return _python_resync(buf, pos, end, final, self.max_record_bytes)
        status, q = _kernel.resync(arr, pos, end, final, self.max_record_bytes, _kernel.CRC_TABLES)
        return int(status), int(q)

    def _tag(self, tag: str) -> int:
        tid = self._tag_id.get(tag)
        if tid is None:
            tid = self._tag_id[tag] = len(self.tags)
            self.tags.append(tag)
            encoded = [t.encode("utf-8") for t in self.tags]
            self._blob = np.frombuffer(b"".join(encoded), np.uint8).copy()
            self._off = np.concatenate([[0], np.cumsum([len(e) for e in encoded])]).astype(np.int64)
        return tid


# ------------------------------------------------------------------ Python reference framing


def _masked_crc(data: bytes) -> int:
    from tensorboardX.record_writer import masked_crc32c

    return masked_crc32c(data)


def _python_header(buf: bytes, i: int, max_len: int) -> int | None:
    """The length of the record at i when its length CRC matches: -1 when absurd; None when the CRC fails."""
    if _masked_crc(buf[i:i + 8]) != struct.unpack_from("<I", buf, i + 8)[0]:
        return None
    (ln,) = struct.unpack_from("<Q", buf, i)
    return ln if ln <= max_len else -1


def _python_scan(buf: bytes, pos: int, end: int, max_len: int) -> tuple[int, int, int]:
    """Framing of the record at pos, in Python: (DONE | SLOW | DAMAGE, pos, info) as the kernel."""
    if end - pos < _kernel.HEADER:
        return DONE, pos, 0
    ln = _python_header(buf, pos, max_len)
    if ln is None:
        return DAMAGE, pos, BAD_LENGTH_CRC
    if ln < 0:
        return DAMAGE, pos, ABSURD_LENGTH
    if end - pos < _kernel.HEADER + ln + _kernel.FOOTER:
        return DONE, pos, 0
    ds = pos + _kernel.HEADER
    if _masked_crc(buf[ds:ds + ln]) != struct.unpack_from("<I", buf, ds + ln)[0]:
        return DAMAGE, pos, BAD_DATA_CRC
    return SLOW, pos, ln


def _python_resync(buf: bytes, pos: int, end: int, final: bool, max_len: int) -> tuple[int, int]:
    for q in range(pos, end):
        if end - q < _kernel.HEADER:
            return (_kernel.NONE, end) if final else (WAIT, q)
        ln = _python_header(buf, q, max_len)
        if ln is None or ln < 0:
            continue
        if end - q < _kernel.HEADER + ln + _kernel.FOOTER:
            if not final:
                return WAIT, q
            continue
        ds = q + _kernel.HEADER
        if _masked_crc(buf[ds:ds + ln]) == struct.unpack_from("<I", buf, ds + ln)[0]:
            return FOUND, q
    return _kernel.NONE, end


def decode(data: bytes, *, compiled: bool = True) -> EventChunk:
    """One-shot decode of a complete file's bytes (a finished or crashed run)."""
    dec = EventDecoder(compiled=compiled)
    first = dec.feed(data)
    rest = dec.finish()
    return concat([first, rest])


def concat(chunks: list[EventChunk]) -> EventChunk:
    """Chunks of one file, in order, as one (tag ids line up: the last chunk's table holds them all)."""
    last = chunks[-1]
    version = next((c.file_version for c in reversed(chunks) if c.file_version is not None), None)
    return EventChunk(np.concatenate([c.step for c in chunks]), np.concatenate([c.wall_time for c in chunks]),
                      np.concatenate([c.tag for c in chunks]), np.concatenate([c.value for c in chunks]),
                      last.tags, [n for c in chunks for n in c.notices], version,
                      sum(c.records for c in chunks), sum(c.skipped_values for c in chunks), last.end_offset)
