"""Tail: bytes and files, nothing about what a line means.

A `LogSource` follows one log file (any name) or a results folder (every `*_.log`
launch file in launch order; new launches appear). Each read returns only new complete
lines; a partial last line waits for its newline. Truncation (copytruncate, also when
the file has already grown back past our offset), replacement (new inode), deletion and
re-creation are detected and reported as `Notice`s, after which the file is read again
from its start. An absurdly long line is skipped and counted, never held in memory.

A `Follower` calls back when something may have changed: the real watchdog observer
(inotify, or polling when inotify is unavailable or `RADIODASH_POLL=1`), plus a periodic
poll of its own because on NFS inotify never sees writes made by other machines.
"""
from __future__ import annotations

import logging
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

log = logging.getLogger("radiodash.tail")

MAX_LINE_BYTES = 1 << 20  # a longer line is skipped (a binary dump, a 50 MB tensor print…)
READ_BLOCK = 8 << 20
PROBE_BYTES = 64 << 10  # a read past the size fstat gave: is there more after all?
FINGERPRINT = 64  # bytes before the offset re-read each time: catches truncate-then-rewrite-longer
LAUNCH_SUFFIX = "_.log"  # launch files are named <timestamp>_.log


@dataclass
class Chunk:
    """Complete lines of one file: `data` ends with b"\\n"; `first_line` is 1-based.

    A consumer that counts the lines anyway (the parser does) may set `counted` before asking
    for the next chunk: the source then skips its own pass over the bytes to number the lines.
    """

    file: str
    first_line: int
    data: bytes | memoryview  # a memoryview of the block read when the chunk is part of it (no copy)
    offset: int
    counted: int | None = None

    def lines(self) -> list[bytes]:
        return bytes(self.data).split(b"\n")[:-1]


@dataclass(frozen=True)
class Notice:
    """Something happened to a file that a user should know (plain text, says what and where)."""

    file: str
    kind: str  # truncated | replaced | deleted | created | long_line | new_file
    line: int | None
    message: str


class FileTail:
    """One file: offset, line count, the partial last line, identity and a fingerprint."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = os.path.basename(path)
        self.ident: tuple[int, int] | None = None  # (st_dev, st_ino)
        self.offset = 0  # bytes consumed (complete lines + partial + skipped)
        self.line = 1  # number of the next line
        self.partial = b""
        self.skipping = False  # inside an over-long line: drop bytes until its newline
        self.skip_start_line = 0
        self.tail_bytes = b""  # the last FINGERPRINT bytes before offset, as we read them
        self.existed = False  # at the last read
        self.seen = False  # ever
        self.bytes_read = 0
        self.mtime: float | None = None  # st_mtime at the last read

    def _reset(self) -> None:
        self.offset = 0
        self.line = 1
        self.partial = b""
        self.skipping = False
        self.tail_bytes = b""

    def read(self, reuse: "_Buffer | None" = None) -> Iterator[Chunk | Notice]:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            if self.existed:
                self.existed = False
                self.ident = None
                self._reset()
                yield Notice(self.path, "deleted", None, f"{self.name} was deleted; waiting for it to appear again")
            return
        except OSError as e:
            log.warning("cannot open %s: %s", self.path, e)
            return
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):  # the path became a folder: LogSource follows its files instead
                return
            ident = (st.st_dev, st.st_ino)
            self.mtime = st.st_mtime
            if not self.existed:
                if self.seen:  # deleted earlier, now back
                    yield Notice(self.path, "created", None, f"{self.name} appeared again; reading it from the start")
                self.existed = self.seen = True
            elif ident != self.ident:
                yield Notice(self.path, "replaced", None,
                             f"{self.name} was replaced by a new file; reading the new one from the start")
                self._reset()
            elif st.st_size < self.offset or not self._same_tail(fd):
                yield Notice(self.path, "truncated", None,
                             f"{self.name} was truncated at byte {self.offset:,}; reading it again from the start")
                self._reset()
            self.ident = ident
            yield from self._read_new(fd, reuse, st.st_size)
        finally:
            os.close(fd)

    def _same_tail(self, fd: int) -> bool:
        if not self.tail_bytes:
            return True
        n = len(self.tail_bytes)
        return os.pread(fd, n, self.offset - n) == self.tail_bytes

    def _read_new(self, fd: int, reuse: "_Buffer | None", file_size: int) -> Iterator[Chunk | Notice]:
        """Read to the end of the file, in reads sized by `file_size` (fstat's, just before).

        Never a blind 8 MB read: a fresh 8 MB allocation per live refresh costs more than the
        read itself. Past `file_size`, small probe reads go on until one comes back empty (a
        size can be stale or meaningless: procfs, some network filesystems).
        """
        while True:
            want = min(READ_BLOCK, file_size - self.offset) if self.offset < file_size else PROBE_BYTES
            keep = len(self.partial)
            start = self.offset - keep  # file offset of data[0]
            buf = reuse.get() if reuse is not None and reuse.wanted else None
            if buf is not None:  # into the caller's buffer: no fresh 8 MB of memory per block
                buf[:keep] = self.partial
                size = keep + os.preadv(fd, [memoryview(buf)[keep: keep + want]], self.offset)
                data: bytes | bytearray = buf
            else:
                # A pending partial line is read again with the new bytes instead of being joined
                # to them: a join copied every block of a big log once more.
                data = os.pread(fd, want + keep, start)
                if keep and not data.startswith(self.partial):  # rewritten in place under us: keep what we had
                    data = self.partial + data[keep:]
                size = len(data)
            if size <= keep:
                return
            if reuse is not None and size - keep == READ_BLOCK:
                reuse.wanted = True  # a big read: the next blocks go into one reused buffer
            fresh = size - keep
            self.offset += fresh
            self.bytes_read += fresh
            self.tail_bytes = (bytes(data[size - FINGERPRINT: size]) if size >= FINGERPRINT
                               else (self.tail_bytes + bytes(data[keep:size]))[-FINGERPRINT:])
            pos = 0
            if self.skipping:
                nl = data.find(b"\n", 0, size)
                if nl < 0:
                    self.partial = b""
                    continue
                self.skipping = False
                self.line += 1
                yield Notice(self.path, "long_line", self.skip_start_line,
                             f"{self.name}:{self.skip_start_line}: a line longer than {MAX_LINE_BYTES:,} bytes "
                             "was skipped")
                pos = nl + 1
            end = max(data.rfind(b"\n", pos, size) + 1, pos)
            self.partial = bytes(data[end:size])
            if end > pos:
                yield from self._emit(data, pos, end, start)
            if len(self.partial) > MAX_LINE_BYTES:
                self.skipping = True
                self.skip_start_line = self.line
                self.partial = b""

    def _emit(self, data: bytes | bytearray, pos: int, end: int, offset: int) -> Iterator[Chunk | Notice]:
        """Yield the complete lines data[pos:end], cutting out over-long ones (they arrived whole within one block).

        A chunk is `data` itself (bytes) or a memoryview of part of it: never a copy of the block.
        `offset` is the file offset of data[0].
        """
        view = memoryview(data)
        line = self.line
        while pos < end:
            # fast path: no over-long line in the rest
            if end - pos <= MAX_LINE_BYTES or not _may_hold_long_line(data, pos, end):
                whole = pos == 0 and end == len(data) and isinstance(data, bytes)
                chunk = Chunk(self.path, line, data if whole else view[pos:end], offset + pos)
                yield chunk
                line += chunk.counted if chunk.counted is not None else data.count(b"\n", pos, end)
                break
            nl = data.index(b"\n", pos, end)
            if nl - pos > MAX_LINE_BYTES:
                yield Notice(self.path, "long_line", line,
                             f"{self.name}:{line}: a line longer than {MAX_LINE_BYTES:,} bytes was skipped")
                pos = nl + 1
                line += 1
                continue
            # emit up to the next over-long line
            cut = pos
            while cut < end:
                nl = data.index(b"\n", cut, end)
                if nl - cut > MAX_LINE_BYTES:
                    break
                cut = nl + 1
            n = data.count(b"\n", pos, cut)
            yield Chunk(self.path, line, view[pos:cut], offset + pos)
            line += n
            pos = cut
        self.line = line


class _Buffer:
    """One read buffer for a whole pass over big files (see `LogSource.iter_read(reuse=True)`).

    Allocated only once a read fills a whole block: a live refresh of a few lines never holds it.
    """

    def __init__(self) -> None:
        self.wanted = False
        self._buf: bytearray | None = None

    def get(self) -> bytearray:
        size = READ_BLOCK + MAX_LINE_BYTES
        if self._buf is None or len(self._buf) != size:
            self._buf = bytearray(size)
        return self._buf


def _may_hold_long_line(data: bytes, pos: int, end: int) -> bool:
    """Cheap test: a line longer than MAX_LINE_BYTES must contain a whole aligned half-size window."""
    half = MAX_LINE_BYTES // 2
    for a in range(pos, end - half + 1, half):
        if data.find(b"\n", a, a + half) < 0:
            return True
    return False


class LogSource:
    """A log file or a results folder, read incrementally; thread-safe."""

    def __init__(self, path: str | os.PathLike, **_: object) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self._tails: dict[str, FileTail] = {}
        self._lock = threading.RLock()
        self.reads = 0

    @property
    def is_folder(self) -> bool:
        return os.path.isdir(self.path)

    def _discover(self) -> list[str]:
        """The folder's launch files (`*_.log`), or failing those any *.log/*.out/*.txt: one readdir."""
        try:
            with os.scandir(self.path) as it:
                names = sorted(e.name for e in it if not e.name.startswith(".") and e.is_file())
        except NotADirectoryError:
            return [self.path]
        except OSError:  # missing, or not readable right now
            return [self.path] if not self.is_folder else []
        found = [n for n in names if n.endswith(LAUNCH_SUFFIX)]
        if not found and not any(t.existed for t in self._tails.values()):
            found = [n for n in names if n.endswith((".log", ".out", ".txt"))]
        return [os.path.join(self.path, n) for n in found]

    @property
    def files(self) -> list[str]:
        with self._lock:
            return sorted(self._tails) if self.is_folder else [self.path]

    @property
    def watch_dirs(self) -> list[str]:
        return [self.path] if self.is_folder else [os.path.dirname(self.path)]

    @property
    def mtimes(self) -> dict[str, float]:
        """Modification time of each file that existed at its last read."""
        with self._lock:
            return {f: t.mtime for f, t in self._tails.items() if t.existed and t.mtime is not None}

    @property
    def bytes_read(self) -> int:
        return sum(t.bytes_read for t in self._tails.values())

    def iter_read(self, reuse: bool = False) -> Iterator[Chunk | Notice]:
        """New complete lines of every file (launch order), block by block, with notices in between.

        `reuse=True`: for a caller that is done with each chunk before it asks for the next one
        (the run's refresh): big reads then go into one buffer, overwritten block after block,
        instead of 8 MB of fresh memory each. A chunk is then only valid until the next item.
        """
        buffer = _Buffer() if reuse else None
        with self._lock:
            self.reads += 1
            folder = self.is_folder
            for f in self._discover():
                if f not in self._tails:
                    self._tails[f] = FileTail(f)
                    if folder and self.reads > 1:
                        yield Notice(f, "new_file", None, f"new launch file {os.path.basename(f)}")
            for f in sorted(self._tails) if folder else [self.path]:
                if folder and f == self.path:
                    continue
                yield from self._tails.setdefault(f, FileTail(f)).read(buffer)

    def read(self) -> list[Chunk | Notice]:
        return list(self.iter_read())

    def close(self) -> None:
        with self._lock:
            self._tails.clear()


class Follower:
    """Call `on_change` when the watched directories may have changed, and every `poll_interval` anyway."""

    def __init__(self, dirs: list[str], on_change: Callable[[], None], *, poll_interval: float = 1.0,
                 force_polling: bool | None = None) -> None:
        self.dirs = [os.path.abspath(d) for d in dirs]
        self.on_change = on_change
        self.poll_interval = poll_interval
        self.force_polling = os.environ.get("RADIODASH_POLL") == "1" if force_polling is None else force_polling
        self.mode = "none"
        self._observer = None
        self._late: list[str] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="radiodash-follow", daemon=True)

    def start(self) -> "Follower":
        self._observer = self._start_observer()
        self._thread.start()
        return self

    def _start_observer(self):
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        wake = self._wake

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                if event.event_type in ("modified", "created", "deleted", "moved", "closed"):
                    wake.set()

        targets = [_existing(d) for d in self.dirs]
        self._late = [d for d, t in zip(self.dirs, targets) if d != t]
        kinds = [("polling", lambda: PollingObserver(timeout=max(0.25, self.poll_interval / 2)))]
        if not self.force_polling:
            kinds.insert(0, ("inotify", Observer))
        for mode, make in kinds:
            obs = None
            try:
                obs = make()
                for d in dict.fromkeys(targets):
                    obs.schedule(Handler(), d, recursive=False)
                obs.start()
                self.mode = mode
                return obs
            except OSError as e:  # inotify instance or watch limits: fall back to polling
                log.warning("file watcher %s unavailable (%s); falling back", mode, e)
                if obs is not None:
                    try:
                        obs.stop()
                    except Exception:  # noqa: BLE001
                        pass
        self.mode = "poll-only"
        return None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_interval)
            if self._stop.is_set():
                break
            self._wake.clear()  # events arriving during the call cause exactly one more call
            try:
                self.on_change()
            except Exception:  # noqa: BLE001 - a bad callback must not kill the follower
                log.exception("refresh after a file change failed")
            self._watch_late_dirs()

    def _watch_late_dirs(self) -> None:
        """A folder that did not exist at start was watched through its parent; watch it once it exists."""
        if self._observer is None or not self._late:
            return
        from watchdog.events import FileSystemEventHandler

        wake = self._wake

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                wake.set()

        for d in [d for d in self._late if os.path.isdir(d)]:
            try:
                self._observer.schedule(Handler(), d, recursive=False)
                self._late.remove(d)
            except OSError as e:  # watch limit: the periodic poll still covers it
                log.warning("cannot watch %s: %s", d, e)
                self._late.remove(d)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            try:
                self._observer.stop()
                self._observer.join(timeout=5)
            except Exception:  # noqa: BLE001
                pass
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)


def _existing(d: str) -> str:
    """The directory itself, or its nearest existing parent (a run folder that does not exist yet)."""
    p = Path(d)
    while not p.exists() and p.parent != p:
        p = p.parent
    return str(p)
