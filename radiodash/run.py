"""A run: a log file or results folder, tailed into the parser and the run store.

This is the public entry point of the core (`open_run`). It wires the one-way flow
tail → parse → store; everything above it reads immutable snapshots.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

import pandas as pd

from .model import Snapshot
from .parse import ParsedChunk, Parser
from .store import RunStore
from .tail import LogSource, Notice

_RESET_KINDS = {"truncated", "replaced", "deleted", "created"}
_FORGET_KINDS = {"truncated", "replaced", "deleted"}


class Run:
    """One run, read incrementally. Thread-safe: refresh() may run in a follower thread."""

    def __init__(self, path: str | os.PathLike, **tail_kwargs) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self.name = Path(self.path).name
        self.source = LogSource(self.path, **tail_kwargs)
        self.store = RunStore(self.path, self.name)
        self._parsers: dict[str, Parser] = {}
        self._lock = threading.Lock()
        self._sized = False
        self._follower = None
        self.refreshes = 0

    def refresh(self) -> int:
        """Read what was appended since the last call; return the number of new step records."""
        with self._lock:
            self.refreshes += 1
            added = 0
            # each chunk is parsed and stored before the next is read: the source may reuse its buffer
            for ev in self.source.iter_read(reuse=True):
                if isinstance(ev, Notice):
                    if ev.kind in _RESET_KINDS and ev.file in self._parsers:
                        self._parsers[ev.file].reset()
                    message = ev.message
                    if ev.kind in _FORGET_KINDS:
                        dropped = self.store.forget_file(ev.file)
                        if dropped:
                            message += f" ({dropped:,} step records read from it earlier were taken out of the view)"
                    if ev.kind != "new_file":
                        self.store.add_notice(message)
                    continue
                parser = self._parsers.get(ev.file)
                if parser is None:
                    parser = self._parsers[ev.file] = Parser(ev.file)
                lines = 0
                for parsed in parser.feed_parts(ev.data, ev.first_line):
                    new = self.store.ingest(parsed, parsed.nbytes)
                    self._presize(parsed, new)
                    added += new
                    lines += parsed.lines
                ev.counted = lines  # the source numbers the next lines without a second pass
            self.store.note_read(self.source.mtimes)
            return added

    def _presize(self, parsed: ParsedChunk, rows: int) -> None:
        """On the first big chunk, reserve the table for the whole file (no regrowth copies).

        `rows`: the step records `parsed` added (two lines make one under gradient accumulation).
        """
        if self._sized or rows == 0:
            return
        self._sized = True
        total = 0
        for f in self.source.files:
            try:
                total += os.path.getsize(f)
            except OSError:
                pass
        if total > 4 * parsed.nbytes:
            self.store.reserve(int(total / parsed.nbytes * rows * 1.05) + 1024)

    def snapshot(self) -> Snapshot:
        return self.store.snapshot()

    def frame(self) -> pd.DataFrame:
        """One row per step: step, time, segment, file, then the metrics as named in the log."""
        return self.snapshot().frame

    @property
    def version(self) -> int:
        return self.store.version

    def follow(self, on_update: Callable[[int], None] | None = None, *, poll_interval: float = 1.0):
        """Keep the run current from a background thread (watchdog events + polling)."""
        from .tail import Follower

        def changed() -> None:
            n = self.refresh()
            if on_update is not None:
                on_update(n)

        if self._follower is None:
            self._follower = Follower(self.source.watch_dirs, changed, poll_interval=poll_interval)
            self._follower.start()
        return self._follower

    def close(self) -> None:
        if self._follower is not None:
            self._follower.stop()
            self._follower = None
        self.source.close()


def open_run(path: str | os.PathLike, **tail_kwargs) -> Run:
    """Open a log file or a results folder and read what exists now."""
    run = Run(path, **tail_kwargs)
    run.refresh()
    return run
