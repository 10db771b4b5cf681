"""Where a run's files live: the seam between storage (a local folder, `ssh://…`, a fake) and the readers.

The protocol is small on purpose, so that a new kind of storage is one class:

- `discover()` — the files of the run now, from one listing, each with its kind, size and
  modification time (launch logs, console captures, event files, sample images, checkpoints);
- `open(path)` — a `Handle` to read bytes at an offset, with the file's identity and size
  (`stat()`); `None` when the file is not there (now);
- `watch_dirs` — local folders an inotify watcher may watch (empty for a remote source: it is polled).

What is *new* in a file, and whether it was truncated, replaced or deleted, is decided by the
per-file reader (`radiodash.reader`) over a `Handle`, so that logic is the same for every source.
A source raises `Unreachable` when its storage cannot be reached at all (a host down); a run
then says so and keeps what it has.

Local files are opened non-blocking and must be regular files: a FIFO or a device named like a
log can never hang a reader, and a symlink loop or a dangling link is skipped, never raised.
"""
from __future__ import annotations

import errno
import logging
import os
import re
import stat as _stat
import time
from dataclasses import dataclass
from enum import Enum
from typing import Hashable, Iterable, Protocol, runtime_checkable

from .radiodiff import EVENTS_PREFIX, is_launch_file, is_run_file

log = logging.getLogger("radiodash.source")

_SAMPLE = re.compile(r"^(?:gt-)?sample-\d+(?:_\d+)?\.(?:png|jpe?g)$", re.I)
_CHECKPOINT = re.compile(r"^model-\d+\.pt$")


class FileKind(Enum):
    """What a file of a results folder is, from its name."""

    LOG = "log"  # a launch log, a console capture or another text log
    EVENTS = "events"  # a TensorBoard event file (one per launch)
    SAMPLE = "sample"  # a sample image written at a milestone
    CHECKPOINT = "checkpoint"  # model-K.pt


def kind_of(name: str, *, launch_files_only: bool = False) -> FileKind | None:
    """The kind of a file in a results folder by its name; None for anything else (hidden files included)."""
    if name.startswith("."):
        return None
    if name.startswith(EVENTS_PREFIX):
        return FileKind.EVENTS
    if _SAMPLE.match(name):
        return FileKind.SAMPLE
    if _CHECKPOINT.match(name):
        return FileKind.CHECKPOINT
    if is_launch_file(name) or (not launch_files_only and is_run_file(name)):
        return FileKind.LOG
    return None


@dataclass(frozen=True)
class FileStat:
    """What a reader needs to know of a file before reading it."""

    size: int
    mtime: float  # epoch seconds
    ident: Hashable | None = None  # (st_dev, st_ino) locally; None where the storage has no identity


@dataclass(frozen=True)
class Entry:
    """One file of a run, as a listing saw it."""

    path: str  # the source's name for the file (a local absolute path, or a path on the remote host)
    kind: FileKind
    stat: FileStat

    @property
    def name(self) -> str:
        """The file's name without its folder."""
        return self.path.rsplit("/", 1)[-1]


class Unreachable(OSError):
    """The storage cannot be reached at all (not: one file is missing). The message says what and where."""


class NotRegular(OSError):
    """The path exists but is not a regular file (a FIFO, a socket, a device, a folder): never read."""


@runtime_checkable
class Handle(Protocol):
    """An open file: its stat and reads at an offset. Closed by the reader after each pass."""

    def stat(self) -> FileStat:
        """Size, modification time and identity of the open file."""
        ...

    def read_at(self, offset: int, size: int) -> bytes:
        """Up to `size` bytes from `offset` (fewer at the end of the file)."""
        ...

    def readinto_at(self, buffer: memoryview, offset: int) -> int:
        """Read into `buffer` from `offset`; returns how many bytes were read."""
        ...

    def close(self) -> None:
        """Release the file."""
        ...


@runtime_checkable
class Source(Protocol):
    """A run's location (see the module docstring)."""

    location: str  # the path or URL the run was opened with
    name: str  # the run's name (its folder or file name)
    watch_dirs: tuple[str, ...]

    def discover(self) -> list[Entry]:
        """The run's files now, from one listing; raises Unreachable when the storage cannot be reached."""
        ...

    def open(self, path: str) -> Handle | None:
        """A handle on one file; None when it is not there; NotRegular for a FIFO, a device, a loop."""
        ...

    def close(self) -> None:
        """Release connections (a local source holds none)."""
        ...


# ------------------------------------------------------------------ local files


class LocalHandle:
    """A local file opened O_RDONLY | O_NONBLOCK, checked to be a regular file."""

    def __init__(self, fd: int, st: os.stat_result) -> None:
        self.fd = fd
        self._st = st

    def stat(self) -> FileStat:
        """From the fstat taken when the file was opened (the size the reader reads up to)."""
        st = self._st
        return FileStat(st.st_size, st.st_mtime, (st.st_dev, st.st_ino))

    def read_at(self, offset: int, size: int) -> bytes:
        """pread: no seek, no shared file position."""
        return os.pread(self.fd, size, offset)

    def readinto_at(self, buffer: memoryview, offset: int) -> int:
        """preadv into the caller's buffer (no new 8 MB allocation per block)."""
        return os.preadv(self.fd, [buffer], offset)

    def close(self) -> None:
        """Close the descriptor."""
        os.close(self.fd)


def open_local(path: str, *, follow_symlink: bool = True) -> LocalHandle | None:
    """Open a local file for reading without ever blocking; None when it does not exist.

    Raises NotRegular for anything that is not a regular file (a FIFO opened non-blocking
    returns at once instead of waiting for a writer; it is then refused), and, with
    `follow_symlink` off, for a symlink (a file of a run folder swapped for a link to elsewhere).
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlink else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            what = "a symlink loop" if follow_symlink else "a symlink; files of a run folder are not followed"
            raise NotRegular(f"{os.path.basename(path)} is {what}") from None
        if e.errno in (errno.ENXIO, errno.ENODEV, errno.EISDIR):  # a socket, a device, a folder
            raise NotRegular(f"{os.path.basename(path)} is not a regular file") from None
        raise
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not _stat.S_ISREG(st.st_mode):
        os.close(fd)
        what = "a folder" if _stat.S_ISDIR(st.st_mode) else "a FIFO" if _stat.S_ISFIFO(st.st_mode) else "not a regular file"
        raise NotRegular(f"{os.path.basename(path)} is {what}; it is not read")
    return LocalHandle(fd, st)


def regular_stat(path: str, entry: os.DirEntry | None = None, *, follow: bool = True) -> FileStat | None:
    """The stat of a regular file (following a symlink unless `follow` is off), or None for anything
    else — never raises."""
    try:
        st = entry.stat() if entry is not None else os.stat(path, follow_symlinks=follow)
    except (OSError, ValueError):  # dangling link, loop, vanished, name too long
        return None
    return _file_stat(st)


def _file_stat(st: os.stat_result) -> FileStat | None:
    return FileStat(st.st_size, st.st_mtime, (st.st_dev, st.st_ino)) if _stat.S_ISREG(st.st_mode) else None


def run_files(found: Iterable[Entry]) -> list[Entry]:
    """A folder's files as a run reads them, for every kind of source: in path order (launch order),
    and when the folder holds launch files, its other text logs (a console capture repeating them) left out."""
    files = sorted(found, key=lambda e: e.path)
    if any(e.kind is FileKind.LOG and is_launch_file(e.name) for e in files):
        files = [e for e in files if e.kind is not FileKind.LOG or is_launch_file(e.name)]
    return files


#: A folder's listing is reused only while the folder's mtime is unchanged, and only when that mtime was at
#: least this much older than the listing: a file created in the same timestamp tick as the change before it
#: (filesystems keep mtimes as coarse as 1–2 s) leaves the mtime as it was, so a listing taken within that
#: tick may miss it.
SETTLED_NS = 2_000_000_000
#: …and never for longer than this: whatever a filesystem does with a folder's mtime, a new file shows up.
RELIST_NS = 10_000_000_000


@dataclass(frozen=True)
class _Listing:
    """The names and kinds a folder listing found, and the folder's state when it was taken."""

    folder: tuple[int, int, int]  # st_dev, st_ino, st_mtime_ns
    taken_ns: int
    files: tuple[tuple[str, FileKind], ...]


class LocalSource:
    """A log file or a results folder on this machine.

    A folder's logs are its launch files (`*_.log`) or, when it has none, its other log files
    (a console capture such as `nohup.out`). A single file is the run by itself. A symlink inside
    a run folder is never followed (listed or opened): the folder was checked to be under the
    served root, what its links point to was not.

    A live refresh mostly finds the same files grown: creating, deleting or renaming a file changes
    the folder's mtime, so while it is unchanged the last listing's names are only stat'ed again
    (a listing with the kind of every name was ~12 % of a 100-line refresh on the ingest benchmark).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.location = os.path.abspath(os.fspath(path))
        self.name = os.path.basename(self.location.rstrip("/")) or self.location
        self._listing: _Listing | None = None

    @property
    def watch_dirs(self) -> tuple[str, ...]:
        """The run's folder, or a single file's folder (watching the folder sees deletion and re-creation)."""
        return (self.location,) if os.path.isdir(self.location) else (os.path.dirname(self.location),)

    def discover(self) -> list[Entry]:
        """One listing. Files in name order within each kind (launch files are named by their minute)."""
        try:
            folder = os.stat(self.location)
            if not _stat.S_ISDIR(folder.st_mode):
                st = _file_stat(folder)
                return [] if st is None else [Entry(self.location, FileKind.LOG, st)]
            state = (folder.st_dev, folder.st_ino, folder.st_mtime_ns)
            now = time.time_ns()
            seen = self._listing
            if seen is not None and seen.folder == state and now - seen.taken_ns < RELIST_NS:
                return [Entry(path, kind, st) for path, kind in seen.files
                        if (st := regular_stat(path, follow=False)) is not None]
            it = os.scandir(self.location)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except (OSError, ValueError) as e:  # unreadable right now: nothing new, said once per refresh by the caller
            log.debug("cannot list %s: %s", self.location, e)
            return []
        found: list[Entry] = []
        with it:
            for e in it:
                kind = kind_of(e.name)
                if kind is None or e.is_symlink():
                    continue
                st = regular_stat(e.path, e)
                if st is not None:
                    found.append(Entry(e.path, kind, st))
        files = run_files(found)
        # the folder's mtime was read before the listing: a change during or after it shows as a new mtime
        settled = now - folder.st_mtime_ns >= SETTLED_NS
        self._listing = _Listing(state, now, tuple((e.path, e.kind) for e in files)) if settled else None
        return files

    def open(self, path: str) -> LocalHandle | None:
        """See `open_local`; a file inside the run folder is opened without following a symlink."""
        return open_local(path, follow_symlink=path == self.location)

    def close(self) -> None:
        """Nothing to release."""


_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def as_source(where: "str | os.PathLike | Source") -> Source:
    """A Source for a local path, a URL (`ssh://user@host[:port]/path`, or any protocol fsspec knows),
    or an object that already is one. `file://` URLs are local paths (watched, not polled)."""
    if isinstance(where, str) and (m := _URL.match(where)):
        from .remote import RemoteSource, is_remote_protocol

        if m.group(1).lower() == "file":
            return LocalSource(where[len(m.group(0)):] or "/")
        if is_remote_protocol(m.group(1)):
            return RemoteSource(where)
    if isinstance(where, (str, os.PathLike)):
        return LocalSource(where)
    return where
