"""A run: a source (a log file or a results folder), one reader per file, and the run store.

This is the public entry point of the core (`open_run`). Data flows one way, each layer entered
once per refresh: the source lists the files; each file's reader (tail → parser) yields parsed
chunks, resets and notices; the store applies them. Everything above reads immutable snapshots.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable, Mapping

import pandas as pd

from .model import Snapshot
from .reader import EventReader, Limits, LogReader, Reader
from .source import Entry, FileKind, FileStat, Source, Unreachable, as_source
from .store import RunStore

ReaderFactory = Callable[[str, Limits], Reader]
#: Which files a run reads, by kind, and with what (event files join when their reader does).
DEFAULT_READERS: Mapping[FileKind, ReaderFactory] = {FileKind.LOG: LogReader, FileKind.EVENTS: EventReader}


class Run:
    """One run, read incrementally. Thread-safe: refresh() may run in a follower thread.

    `source` is a path (a local log file or results folder) or any `radiodash.source.Source`
    (a remote folder, or a fake in tests).
    """

    def __init__(self, source: Source | str | os.PathLike, *, limits: Limits = Limits(),
                 readers: Mapping[FileKind, ReaderFactory] = DEFAULT_READERS) -> None:
        self.source = as_source(source)
        self.path = self.source.location
        self.name = self.source.name
        self.limits = limits
        self.reader_factories = dict(readers)
        self.store = RunStore(self.path, self.name)
        self.readers: dict[str, Reader] = {}
        self._reading_order: list[str] = []  # the readers' paths: logs first, then event files, each in name order
        self.entries: list[Entry] = []  # the source's last listing (every kind: samples, checkpoints…)
        self._lock = threading.Lock()
        self._sized = False
        self._follower = None
        self._read_as: dict[str, FileStat] = {}  # each file's stat as listed before its last full read
        self.refreshes = 0

    def refresh(self) -> int:
        """Read what was appended since the last call; return the number of new step records."""
        with self._lock:
            self.refreshes += 1
            try:
                entries = self.source.discover()
            except Unreachable as e:
                self.store.set_unreachable(str(e))
                return 0
            self.entries = entries
            for e in entries:
                make = self.reader_factories.get(e.kind)
                if make is not None and e.path not in self.readers:
                    self.readers[e.path] = make(e.path, self.limits)
                    self._reading_order = sorted(self.readers, key=lambda p: (self._order(p), p))
            listed = {e.path: e.stat for e in entries}
            buffer = self.limits.buffer()
            added = 0
            try:
                # a reader's chunk is applied before the next is asked for: the shared buffer stays valid
                for path in self._reading_order:
                    st = listed.get(path)
                    if st is not None and st.size and self._read_as.get(path) == st:
                        continue  # unchanged since its last read (size, mtime, identity): the listing suffices
                    for item in self.readers[path].read(self.source, buffer):
                        new = self.store.apply(item)
                        if new and not self._sized:  # only a parsed chunk adds records
                            self._presize(sum(e.stat.size for e in entries if e.kind is FileKind.LOG and e.path in self.readers),
                                          item.nbytes, new)
                        added += new
                    if st is not None:
                        self._read_as[path] = st
            except Unreachable as e:
                self.store.set_unreachable(str(e))
                return added
            self.store.note_read({e.path: e.stat.mtime for e in entries if e.path in self.readers}, time.time(),
                                 [e for e in entries if e.kind in (FileKind.SAMPLE, FileKind.CHECKPOINT)])
            return added

    def _order(self, path: str) -> int:
        """Logs first, then event files (each kind in name order: launch order)."""
        reader = self.readers[path]
        return 0 if isinstance(reader, LogReader) else 1

    def _presize(self, total_bytes: int, chunk_bytes: int, rows: int) -> None:
        """On the first big chunk, reserve the table for all the bytes the listing reported (no regrowth).

        `rows`: the step records the chunk added (two lines make one under gradient accumulation).
        """
        self._sized = True
        if chunk_bytes and total_bytes > 4 * chunk_bytes:
            self.store.reserve(int(total_bytes / chunk_bytes * rows * 1.05) + 1024)

    @property
    def bytes_read(self) -> int:
        """Bytes read from every file of the run so far."""
        return sum(r.bytes_read for r in self.readers.values())

    def snapshot(self) -> Snapshot:
        """An immutable view of the run as read so far (the same object until something changes)."""
        return self.store.snapshot()

    def frame(self) -> pd.DataFrame:
        """One row per step: step, time, segment, file, then the metrics as named in the log."""
        return self.snapshot().frame

    @property
    def version(self) -> int:
        """Grows with every change the store applied (a cheap "anything new?" for a redraw)."""
        return self.store.version

    def follow(self, on_update: Callable[[int], None] | None = None, *, poll_interval: float = 1.0,
               force_polling: bool | None = None):
        """Keep this run current from a background thread of its own (watchdog events + polling).

        For many runs at once, add them to one shared `radiodash.follow.FollowService` instead
        (the dashboard's registry does).
        """
        from .follow import FollowService

        def changed() -> None:
            n = self.refresh()
            if on_update is not None:
                on_update(n)

        if self._follower is None:
            self._follower = FollowService(poll_interval=poll_interval, force_polling=force_polling, workers=1)
            self._follower.add(self, self.source.watch_dirs, changed, getattr(self.source, "poll_interval", None))
        return self._follower

    def close(self) -> None:
        """Stop following and release the source (the snapshot taken stays valid)."""
        if self._follower is not None:
            self._follower.stop()
            self._follower = None
        self.source.close()


def open_run(source: Source | str | os.PathLike, *, limits: Limits = Limits(),
             readers: Mapping[FileKind, ReaderFactory] = DEFAULT_READERS) -> Run:
    """Open a log file or a results folder (or any Source) and read what exists now."""
    run = Run(source, limits=limits, readers=readers)
    run.refresh()
    return run


def warm_compiled_code() -> float:
    """Compile (and cache on disk) every compiled path of the parser once; returns the seconds it took.

    Run by `make install`: without it the first page of a fresh install spends ~9 s compiling the
    log scanner and the event-file decoder, which the first visitor of the demo would wait for.
    """
    import tempfile

    from .simulate import SimConfig, render

    t = time.perf_counter()
    big, _ = render(SimConfig(train_num_steps=40_000, log_freq=10, grad_accum=2, disc_start=20_000, seed=0))
    # a small run with its event file: the TensorBoard decoder is compiled too (the demo writes one)
    small, _ = render(SimConfig(train_num_steps=2_000, log_freq=10, seed=0, events=True))
    # the big run in 256 KiB blocks split in halves past 64 KiB: every path of a log over 8 MB (reads into
    # the reused buffer, the two-halves scan once the first block taught the keys) on a ~1 MB file
    small_blocks = Limits(read_block=1 << 18, parallel_bytes=1 << 16)
    for files, records, events, limits in ((big, 4_000, None, small_blocks), (small, 200, 2_000, Limits())):
        with tempfile.TemporaryDirectory(prefix="radiodash-warm-") as tmp:
            for name, data in files.items():
                with open(os.path.join(tmp, name), "wb") as f:
                    f.write(data)
            run = open_run(tmp, limits=limits)
            log = next((p for p in sorted(os.listdir(tmp)) if p.endswith(".log")), None)
            if log is not None:  # and a live refresh of a few appended lines
                with open(os.path.join(tmp, log), "rb") as f:
                    lines = f.read().splitlines(keepends=True)
                steps = [ln for ln in lines if b"[Train Step]" in ln][-4:]
                with open(os.path.join(tmp, log), "ab") as f:
                    f.writelines(steps)
                run.refresh()
            snap = run.snapshot()
            if len(snap.frame) != records or (events is not None and len(snap.events) != events):
                raise RuntimeError("the parser's warm-up run did not read back what it wrote")
    return time.perf_counter() - t
