"""One owner per file: a reader holds the tail and the parser of one file of a run.

`Run.refresh` asks each reader what is new; a reader yields parsed chunks, typed resets and
notices, in file order, and the run store applies them. Nothing flows back down: the reader
numbers the lines itself (the tail knows bytes, the parser says how many lines a block held),
and on a reset it restarts its own parser.

A reader of another kind of file (TensorBoard event files) follows the same protocol:
`read(source, buffer)` yielding what the store can apply.
"""
from __future__ import annotations

from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Iterator, Protocol

from .parse import ParsedChunk, Parser
from ._scan import PARALLEL_BYTES, _executor
from .tfevents import EventChunk, EventDecoder
from .source import Source
from .tail import MAX_LINE_BYTES, READ_BLOCK, FileReset, FileTail, Lines, LongLine, ReadBuffer, Refused, TailItem


@dataclass(frozen=True)
class Limits:
    """How much a reader holds at once: the knobs of the tail and the parser, in one place.

    A line longer than `max_line_bytes`, a key longer than `max_key_bytes` or a key beyond the
    first `max_keys` of a file makes that line a counted, located problem; the rest is read.
    """

    read_block: int = READ_BLOCK
    max_line_bytes: int = MAX_LINE_BYTES
    max_keys: int = 1024
    max_key_bytes: int = 96
    parallel_bytes: int = PARALLEL_BYTES  # a block larger than this is scanned as two halves on two threads

    def buffer(self) -> ReadBuffer:
        """One reusable read buffer for a refresh of every file of a run."""
        return ReadBuffer(self.read_block, self.max_line_bytes)


@dataclass(frozen=True)
class Notice:
    """Something a user should know about a file, in plain text, saying what and where."""

    file: str
    line: int | None
    message: str


@dataclass(frozen=True)
class EventValues:
    """Scalar values an event file's reader decoded (one launch's `SummaryWriter` file)."""

    file: str
    chunk: EventChunk


ReaderItem = ParsedChunk | EventValues | FileReset | Notice


class Reader(Protocol):
    """The per-file protocol Run.refresh drives."""

    path: str

    def read(self, source: Source, buffer: ReadBuffer | None = None) -> Iterator[ReaderItem]:
        """What is new in the file since the last call, in file order (see the module docstring)."""
        ...

    @property
    def bytes_read(self) -> int:
        """Bytes read from the file so far (a refresh must cost only the new ones)."""
        ...


class _FileReader:
    """What every reader holds: its file's path and name, and the tail of its bytes."""

    def __init__(self, path: str, tail: FileTail) -> None:
        self.path = path
        self.name = path.rsplit("/", 1)[-1]
        self.tail = tail

    @property
    def bytes_read(self) -> int:
        """Bytes read from the file so far."""
        return self.tail.bytes_read


class LogReader(_FileReader):
    """A text log (launch file or console capture): tail → parser, lines numbered here."""

    def __init__(self, path: str, limits: Limits = Limits()) -> None:
        super().__init__(path, FileTail(path, block=limits.read_block, max_line=limits.max_line_bytes))
        self.parser = Parser(path, max_keys=limits.max_keys, max_key_bytes=limits.max_key_bytes,
                             parallel_bytes=limits.parallel_bytes)
        self.line = 1  # number of the next line

    def read(self, source: Source, buffer: ReadBuffer | None = None) -> Iterator[ReaderItem]:
        """Parsed chunks of the new complete lines, resets and notices, in file order.

        A big block's next block is read on the scanner's worker thread while the store takes this one's
        chunks (they hold nothing of the read buffer: they are parsed): the read is ~10 % of a full parse,
        and it left a core idle while the store copied and merged.
        """
        items = self.tail.read(source, buffer)
        ahead: Future | None = None
        try:
            while (item := ahead.result() if ahead is not None else next(items, None)) is not None:
                ahead = None
                if not isinstance(item, Lines):
                    yield from self._other(item)
                    continue
                parsed = self.parser.feed_parts(item.data, self.line, reuse=buffer is not None)
                if len(item.data) > self.parser.parallel_bytes:  # never for a live refresh's few lines
                    ahead = _executor().submit(next, items, None)
                for chunk in parsed:
                    self.line += chunk.lines
                    yield chunk
        finally:
            if ahead is not None:  # the consumer stopped early: the read finishes before the tail closes
                wait([ahead])
            items.close()

    def _other(self, item: TailItem) -> Iterator[ReaderItem]:
        """A skipped line, a reset or a refusal, as the store takes it."""
        if isinstance(item, LongLine):
            yield Notice(self.path, self.line, f"{self.name}:{self.line}: a line longer than "
                                               f"{item.limit:,} bytes was skipped")
            self.line += 1
        elif isinstance(item, FileReset):
            self.parser.reset()
            self.line = 1
            yield item
        elif isinstance(item, Refused):
            yield Notice(self.path, None, item.message)


class EventReader(_FileReader):
    """A TensorBoard event file: tail (raw bytes) → decoder (TFRecord framing, Event protobufs).

    The decoder keeps an incomplete last record until its bytes arrive (the writer flushes every
    120 s); damage is skipped and said, never raised.
    """

    def __init__(self, path: str, limits: Limits = Limits()) -> None:
        super().__init__(path, FileTail(path, block=limits.read_block, lines=False))
        self.decoder = EventDecoder()

    def read(self, source: Source, buffer: ReadBuffer | None = None) -> Iterator[ReaderItem]:
        """Decoded values, resets and notices, in file order."""
        for item in self.tail.read(source, buffer):
            if isinstance(item, Lines):
                chunk = self.decoder.feed(item.data)
                for n in chunk.notices:
                    yield Notice(self.path, None, f"{self.name}: {n.text}")
                if len(chunk) or chunk.records:
                    yield EventValues(self.path, chunk)
            elif isinstance(item, FileReset):
                self.decoder = EventDecoder()
                yield item
            elif isinstance(item, Refused):
                yield Notice(self.path, None, item.message)
