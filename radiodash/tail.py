"""Tail: the bytes of one file, nothing about what a line means.

A `FileTail` remembers how far it read one file and hands out only what is new, as
complete lines; a partial last line waits for its newline. Before each read it checks the
file is still the one it read: truncation (copytruncate, also when the file has already grown
back past our offset, caught by re-reading the bytes just before the offset), replacement (a new
identity), deletion and re-creation are reported as a typed `FileReset`, after which the file is
read again from its start. An absurdly long line is skipped and reported (`LongLine`), never held
in memory. It reads through a `Handle` (radiodash.source), so local and remote files behave alike.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import Iterator

from .source import Handle, NotRegular, Source

log = logging.getLogger("radiodash.tail")

READ_BLOCK = 8 << 20  # one read; a big file is read block after block
MAX_LINE_BYTES = 1 << 20  # a longer line is skipped (a binary dump, a 50 MB tensor print…)
PROBE_BYTES = 64 << 10  # a read past the size the storage gave: is there more after all?
FINGERPRINT = 64  # bytes before the offset re-read each time: catches truncate-then-rewrite-longer


class Reset(Enum):
    """Why a file is read again from its start (or not at all for now)."""

    TRUNCATED = "truncated"
    REPLACED = "replaced"
    DELETED = "deleted"
    RECREATED = "recreated"

    @property
    def forgets(self) -> bool:
        """Whether what was read from the file before must leave the view (it is not the file any more)."""
        return self is not Reset.RECREATED


@dataclass(frozen=True)
class FileReset:
    """A file changed under us: what it was read as so far no longer holds (plain-text message)."""

    file: str
    kind: Reset
    message: str


@dataclass(frozen=True)
class Lines:
    """Complete lines of one file: `data` ends with b"\\n"; `offset` is the file offset of data[0].

    `data` may be a view of a buffer the tail reuses for its next block: valid until the next item.
    """

    file: str
    data: bytes | memoryview
    offset: int


@dataclass(frozen=True)
class LongLine:
    """One line longer than the limit was skipped at `offset` (it counts as one line)."""

    file: str
    offset: int
    limit: int


@dataclass(frozen=True)
class Refused:
    """The path is not a regular file (a FIFO, a device, a symlink loop): it is never read."""

    file: str
    message: str


TailItem = Lines | LongLine | FileReset | Refused


class ReadBuffer:
    """One read buffer for a whole pass over big files (Run.refresh is done with each block before the next).

    Allocated only once a read fills a whole block: a live refresh of a few lines never holds it.
    """

    def __init__(self, block: int, max_line: int) -> None:
        self.size = block + max_line
        self.wanted = False
        self._buf: bytearray | None = None

    def get(self) -> bytearray:
        """The buffer, allocated on first use."""
        if self._buf is None:
            self._buf = bytearray(self.size)
        return self._buf


class FileTail:
    """One file: offset, the partial last line, identity and a fingerprint of the bytes before the offset.

    `lines=False` hands out every new byte as it is (`Lines` then holds raw bytes; a binary file such
    as an event file has its own framing, which its reader keeps across reads).
    """

    def __init__(self, path: str, *, block: int = READ_BLOCK, max_line: int = MAX_LINE_BYTES,
                 lines: bool = True) -> None:
        self.path = path
        self.lines = lines
        self.name = path.rsplit("/", 1)[-1]
        self.block = block
        self.max_line = max_line
        self.ident: object = None
        self.offset = 0  # bytes consumed (complete lines + partial + skipped)
        self.partial = b""
        self.skipping = False  # inside an over-long line: drop bytes until its newline
        self.skip_start = 0
        self.tail_bytes = b""  # the last FINGERPRINT bytes before offset, as we read them
        self.existed = False  # at the last read
        self.seen = False  # ever
        self.refused = False  # said once that the path is not a regular file
        self.bytes_read = 0

    def _restart(self) -> None:
        self.offset = 0
        self.partial = b""
        self.skipping = False
        self.tail_bytes = b""

    def read(self, source: Source, buffer: ReadBuffer | None = None) -> Iterator[TailItem]:
        """What is new since the last call: resets first, then complete lines block by block.

        Raises the source's `Unreachable` when the storage cannot be reached (nothing consumed).
        """
        try:
            handle = source.open(self.path)
        except NotRegular as e:
            if not self.refused:
                self.refused = True
                yield Refused(self.path, str(e))
            return
        if handle is None:
            if self.existed:
                self.existed = False
                self.ident = None
                self._restart()
                yield FileReset(self.path, Reset.DELETED, f"{self.name} was deleted; waiting for it to appear again")
            return
        try:
            st = handle.stat()
            if not self.existed:
                if self.seen:  # deleted earlier, now back
                    yield FileReset(self.path, Reset.RECREATED, f"{self.name} appeared again; reading it from the start")
                self.existed = self.seen = True
            elif st.ident is not None and self.ident is not None and st.ident != self.ident:
                yield FileReset(self.path, Reset.REPLACED,
                                f"{self.name} was replaced by a new file; reading the new one from the start")
                self._restart()
            elif st.size < self.offset or not self._same_tail(handle):
                yield FileReset(self.path, Reset.TRUNCATED,
                                f"{self.name} was truncated at byte {self.offset:,}; reading it again from the start")
                self._restart()
            self.ident = st.ident
            yield from self._read_new(handle, buffer, st.size)
        finally:
            handle.close()

    def _same_tail(self, handle: Handle) -> bool:
        if not self.tail_bytes:
            return True
        n = len(self.tail_bytes)
        return handle.read_at(self.offset - n, n) == self.tail_bytes

    def _read_new(self, handle: Handle, buffer: ReadBuffer | None, file_size: int) -> Iterator[TailItem]:
        """Read to the end of the file, in reads sized by `file_size` (the handle's, just before).

        Never a blind 8 MB read: a fresh 8 MB allocation per live refresh costs more than the
        read itself. A size of 0 can be meaningless (procfs): then small probe reads go on until
        one comes back empty. A stale size that is too small only delays the rest to the next
        refresh, and a remote source is spared a round trip per refresh.
        """
        while True:
            if self.offset < file_size:
                want = min(self.block, file_size - self.offset)
            elif file_size == 0:
                want = PROBE_BYTES
            else:
                return
            keep = len(self.partial)
            start = self.offset - keep  # file offset of data[0]
            buf = buffer.get() if buffer is not None and buffer.wanted else None
            if buf is not None:  # into the caller's buffer: no fresh 8 MB of memory per block
                buf[:keep] = self.partial
                size = keep + handle.readinto_at(memoryview(buf)[keep: keep + want], self.offset)
                data: bytes | bytearray = buf
            else:
                # A pending partial line is read again with the new bytes instead of being joined
                # to them: a join copied every block of a big log once more.
                data = handle.read_at(start, want + keep)
                if keep and not data.startswith(self.partial):  # rewritten in place under us: keep what we had
                    data = self.partial + data[keep:]
                size = len(data)
            if size <= keep:
                return
            if buffer is not None and size - keep == self.block:
                buffer.wanted = True  # a big read: the next blocks go into one reused buffer
            self.offset += size - keep
            self.bytes_read += size - keep
            self.tail_bytes = (bytes(data[size - FINGERPRINT: size]) if size >= FINGERPRINT
                               else (self.tail_bytes + bytes(data[keep:size]))[-FINGERPRINT:])
            pos = 0
            if self.skipping:
                nl = data.find(b"\n", 0, size)
                if nl < 0:
                    self.partial = b""
                    continue
                self.skipping = False
                yield LongLine(self.path, self.skip_start, self.max_line)
                pos = nl + 1
            end = max(data.rfind(b"\n", pos, size) + 1, pos) if self.lines else size
            self.partial = bytes(data[end:size])
            if end > pos:
                if self.lines:
                    yield from self._emit(data, pos, end, start)
                else:
                    yield Lines(self.path, memoryview(data)[pos:end], start + pos)
            if len(self.partial) > self.max_line:
                self.skipping = True
                self.skip_start = self.offset - len(self.partial)
                self.partial = b""

    def _emit(self, data: bytes | bytearray, pos: int, end: int, offset: int) -> Iterator[TailItem]:
        """The complete lines data[pos:end], with over-long ones cut out (they arrived whole within one block).

        A `Lines` holds `data` itself (bytes) or a memoryview of part of it: never a copy of the block.
        `offset` is the file offset of data[0].
        """
        view = memoryview(data)
        limit = self.max_line
        while pos < end:
            if end - pos <= limit or not _may_hold_long_line(data, pos, end, limit):  # the usual case
                whole = pos == 0 and end == len(data) and isinstance(data, bytes)
                yield Lines(self.path, data if whole else view[pos:end], offset + pos)
                return
            nl = data.index(b"\n", pos, end)
            if nl - pos > limit:
                yield LongLine(self.path, offset + pos, limit)
                pos = nl + 1
                continue
            cut = pos  # up to the next over-long line
            while cut < end:
                nl = data.index(b"\n", cut, end)
                if nl - cut > limit:
                    break
                cut = nl + 1
            yield Lines(self.path, view[pos:cut], offset + pos)
            pos = cut


def _may_hold_long_line(data: bytes | bytearray, pos: int, end: int, limit: int) -> bool:
    """Cheap test: a line longer than `limit` must contain a whole aligned half-size window."""
    half = max(1, limit // 2)
    for a in range(pos, end - half + 1, half):
        if data.find(b"\n", a, a + half) < 0:
            return True
    return False
