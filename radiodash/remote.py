"""Runs on other machines: a `Source` for `ssh://user@host[:port]/path` (fsspec + sshfs) and any read-only
fsspec URL, and the confinement of run names under a remote root.

What a refresh costs over SSH: one listing (SFTP readdir: names, types, sizes, mtimes; a symlinked
file costs one stat more); then per log file one SFTP open (its size is the listing's, just taken),
the reads the tail asks for — exactly those byte ranges, pipelined for big ones, never the whole
file — and a close that is not waited for. Nothing is inotify-watched: the run is polled.

What is detected, given what SFTP (v3, as OpenSSH serves it) tells: there is no inode, so `ident`
is None. A truncation shows as the size going below the offset, or the 64 bytes before the offset
changing (the tail re-reads them each time); a replaced file the same way. Not detected: a
replacement at least as long as what was read whose 64 bytes before the offset are the same —
it is read on as an append (which it is, when the new file is the old one plus new lines).
Modification times have whole seconds.

SSH is the user's own: keys, agent, `~/.ssh/config` (host aliases, User, Port, IdentityFile) and
`known_hosts` through asyncssh. Host keys are always checked: sshfs turns the check off unless
told otherwise, so `known_hosts` is always passed (asyncssh's default lookup: the config's
`UserKnownHostsFile`, else `~/.ssh/known_hosts`); an option or a `UserKnownHostsFile none` in the
config, which would turn it off, is refused. One connection per (user, host, port), shared by every
run on the host, opened on first use and reopened after a failure (while the host stays down, an
attempt after `retry_interval`, doubling up to a minute). Every network call is bounded
(`connect_timeout`, `timeout`) and every network failure becomes `Unreachable` with one line
naming the host — never a traceback, never a password.
"""
from __future__ import annotations

import asyncio
import logging
import posixpath
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Awaitable, Callable
from urllib.parse import unquote

from .radiodiff import is_launch_file, is_run_file
from .security import Refused, checked_parts, refusal, shown_name
from .source import Entry, FileKind, FileStat, NotRegular, Unreachable, kind_of, run_files

log = logging.getLogger("radiodash.remote")

SSH_PROTOCOLS = ("ssh", "sftp")
CONNECT_TIMEOUT = 5.0  # seconds for TCP + SSH handshake + authentication
TIMEOUT = 10.0  # seconds for any one call on an open connection
RETRY_INTERVAL = 5.0  # seconds before a new connection attempt to a host that is down (then doubling)
RETRY_MAX = 60.0  # at most this long between attempts: a host back up is read again within a minute
MIN_RATE = 1 << 20  # bytes/s a read is allowed at least, on top of `timeout` (an 8 MB block on a slow link)
POLL_INTERVAL = 2.0  # seconds between refreshes a remote run asks for (inotify does not cross machines)


def is_remote_protocol(protocol: str) -> bool:
    """Whether fsspec knows `protocol` (ssh and sftp through sshfs)."""
    import fsspec

    return protocol.lower() in SSH_PROTOCOLS or protocol.lower() in fsspec.available_protocols()


# ------------------------------------------------------------------ URLs


@dataclass(frozen=True)
class Target:
    """Where a remote path lives: protocol, host and the path on it (the password is never part of `url`)."""

    protocol: str
    host: str
    path: str
    user: str | None = None
    port: int | None = None
    password: str | None = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        """protocol://user@host:port — how messages name the host."""
        who = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{self.protocol}://{who}{self.host}{port}"

    @property
    def url(self) -> str:
        if self.protocol == "ssh":
            return self.label + (self.path if self.path.startswith("/") else "/" + self.path)
        return self.path if "://" in self.path else f"{self.protocol}://{self.path.lstrip('/')}"

    def at(self, path: str) -> "Target":
        return replace(self, path=path)


def parse_url(url: str) -> Target:
    """`ssh://user@host:port/abs/path` (user and port optional: ~/.ssh/config may give them), or any fsspec URL."""
    protocol, sep, rest = url.partition("://")
    if not sep or not protocol:
        raise ValueError(f"not a URL: {url!r}")
    protocol = protocol.lower()
    if protocol in SSH_PROTOCOLS:
        from fsspec.utils import infer_storage_options

        o = infer_storage_options(url)
        if not o.get("host"):
            raise ValueError(f"no host in the URL {protocol}://…")
        port = int(o["port"]) if o.get("port") else None
        return Target("ssh", o["host"], unquote(o["path"]) or "/", o.get("username"), port, o.get("password"))
    import fsspec

    netloc = rest.split("/", 1)[0].rpartition("@")[2]  # never the user:password part
    return Target(protocol, netloc, fsspec.get_filesystem_class(protocol)._strip_protocol(url))


# ------------------------------------------------------------------ what storages return


@dataclass(frozen=True)
class _Item:
    """One name as the storage listed or stat'ed it."""

    path: str
    type: str  # "file", "directory", "link" (not followed yet) or "other" (a FIFO, a socket, a device…)
    size: int
    mtime: float

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]


class FileProblem(OSError):
    """The host answered, but this path cannot be read (permission denied, not a folder…)."""


class Unreadable(NotRegular):
    """A file that exists but may not be read (permission): never read, said once by the tail."""


def _item(info: dict, mtime: float | None = None) -> _Item:
    kind = info.get("type")
    kind = kind if kind in ("file", "directory", "link") else "other"
    return _Item(info["name"].rstrip("/") or "/", kind, int(info.get("size") or 0),
                 _mtime_of(info) if mtime is None else mtime)


def _mtime_of(info: dict) -> float | None:
    for key in ("mtime", "LastModified", "last_modified", "modified", "updated", "mtime_ns"):
        v = info.get(key)
        if v is None:
            continue
        if isinstance(v, datetime):
            return v.timestamp()
        if isinstance(v, (int, float)):
            return v / 1e9 if key == "mtime_ns" else float(v)
        try:
            return datetime.fromisoformat(str(v).replace("Z", "+00:00")).timestamp()
        except ValueError:
            continue
    return None


class _Counter:
    """Bytes a source's handles returned (what the tail really asked the host for)."""

    def __init__(self) -> None:
        self.bytes = 0

    def add(self, n: int) -> None:
        self.bytes += n


# ------------------------------------------------------------------ SSH


def _reason(e: BaseException, timeout: float | None) -> str:
    """One line saying why, from asyncssh/OS errors (never their traceback, never a key or password)."""
    import asyncssh

    if isinstance(e, TimeoutError):
        return f"no answer within {timeout:g} s" if timeout else "no answer (timed out)"
    if isinstance(e, HostKeysOff):
        return ("its SSH configuration turns host-key checking off (UserKnownHostsFile none); "
                "RadioDash always checks host keys")
    if isinstance(e, asyncssh.HostKeyNotVerifiable):
        return ("its host key is not trusted (not in known_hosts, or different from it); "
                "host keys are always checked")
    if isinstance(e, (asyncssh.PermissionDenied, PermissionError)):
        return "authentication failed (no key or agent identity was accepted)"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, socket.gaierror):
        return "unknown host name"
    if isinstance(e, (asyncssh.DisconnectError, asyncssh.SFTPError, asyncssh.ChannelOpenError)):
        said = str(getattr(e, "reason", "") or "").strip()
        if "connection" in said.lower():
            return said[:1].lower() + said[1:]
        return f"connection lost ({said})" if said else "connection lost"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    text = str(e).strip()
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _SshConnection:
    """One SSH connection (sshfs filesystem + one SFTP session), shared by every run on its host; thread-safe.

    Opened on first use; dropped on any network failure and reopened by a later call. A call that
    fails on a connection that worked before is tried once more on a fresh one (a restarted server
    or a dropped idle connection costs no refresh). While the host stays down, a new attempt is
    made after `retry_interval`, doubling up to `RETRY_MAX`; calls in between — and calls made
    while another thread is connecting — fail at once with the last reason, so a dead host holds
    up at most one caller at a time, for at most `connect_timeout`.
    """

    def __init__(self, target: Target, options: dict, *, connect_timeout: float, timeout: float,
                 retry_interval: float) -> None:
        self.target = target
        self.label = target.label
        self.options = options
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.retry_interval = retry_interval
        self.opened = 0  # connections opened so far (the current one's number)
        self._cond = threading.Condition()
        self._connecting = False
        self._fs: Any = None
        self._sftp: Any = None
        self._failures = 0  # failed attempts in a row
        self._failed_at: float | None = None
        self._failure = ""
        self._last_ok = 0  # the connection number that last answered a call

    # -------------------------------------------------------------- connecting

    def _connect_args(self) -> dict:
        args = dict(self.options)
        args.setdefault("known_hosts", ())  # () = asyncssh's own lookup; sshfs's default (None) checks nothing
        if self.target.user:
            args["username"] = self.target.user
        if self.target.port:
            args["port"] = self.target.port
        if self.target.password:
            args["password"] = self.target.password
        args.setdefault("connect_timeout", self.connect_timeout)
        return args

    def _backoff(self) -> float:
        return min(self.retry_interval * 2 ** max(self._failures - 1, 0), max(RETRY_MAX, self.retry_interval))

    def _acquire(self) -> tuple[Any, Any, int]:
        """The open connection (fs, sftp, its number), opening it if needed. Raises Unreachable."""
        with self._cond:
            deadline = time.monotonic() + self.connect_timeout + 2
            while True:
                if self._fs is not None:
                    return self._fs, self._sftp, self.opened
                failed = self._failed_at is not None
                if failed and (self._connecting or time.monotonic() - self._failed_at < self._backoff()):
                    raise Unreachable(self._failure)
                if not self._connecting:
                    break
                if not self._cond.wait(max(0.0, deadline - time.monotonic())):  # the first connection: wait for it
                    raise Unreachable(f"{self.label} cannot be reached: no answer within {self.connect_timeout:g} s")
            self._connecting = True
        try:
            fs, sftp = self._open()
        except Exception as e:  # noqa: BLE001 - every failure to connect is "cannot be reached"
            message = self._message(e, self.connect_timeout)
            with self._cond:
                self._connecting = False
                self._failures += 1
                self._failed_at, self._failure = time.monotonic(), message
                self._cond.notify_all()
            log.info("%s", message)
            raise Unreachable(message) from None
        except BaseException:  # interrupted: the next caller tries again
            with self._cond:
                self._connecting = False
                self._cond.notify_all()
            raise
        with self._cond:
            self._connecting = False
            self._fs, self._sftp = fs, sftp
            self._failures, self._failed_at = 0, None
            self.opened += 1
            self._cond.notify_all()
            return fs, sftp, self.opened

    def _open(self) -> tuple[Any, Any]:
        from fsspec.asyn import get_loop, sync
        from sshfs import SSHFileSystem

        args = self._connect_args()
        if sync(get_loop(), _checks_host_keys, self.target.host, args, timeout=self.connect_timeout + 1) is False:
            raise HostKeysOff()
        # skip_instance_cache: fsspec would hand the same (possibly dead) instance back forever
        fs = SSHFileSystem(self.target.host, skip_instance_cache=True, timeout=self.connect_timeout + 1, **args)
        try:
            sftp = sync(fs.loop, _start_sftp, fs.client, timeout=self.connect_timeout + 1)
        except BaseException:
            _close_client(fs)
            raise
        return fs, sftp

    def _drop(self, number: int, message: str | None = None) -> None:
        """Forget connection `number` (if it is still the current one) and close it without waiting.

        With a `message`, the host counts as down from now (the next attempt waits `retry_interval`).
        """
        with self._cond:
            fs = None
            if self._fs is not None and number == self.opened:
                fs, self._fs, self._sftp = self._fs, None, None
            if message is not None and not self._connecting:
                self._failures = max(self._failures, 1)
                self._failed_at, self._failure = time.monotonic(), message
        if fs is not None:
            _close_client(fs)

    def _message(self, e: BaseException, timeout: float) -> str:
        return _one_line(f"{self.label} cannot be reached: {_reason(e, timeout)}")

    def close(self) -> None:
        with self._cond:
            fs, self._fs, self._sftp = self._fs, None, None
            self._failures, self._failed_at = 0, None
        if fs is not None:
            _close_client(fs)

    # -------------------------------------------------------------- calls

    def call(self, op: Callable[..., Awaitable[Any]], *args: Any, timeout: float | None = None) -> Any:
        """`await op(fs, sftp, *args)` on the connection, bounded by `timeout`.

        Raises FileNotFoundError (the path is not there), FileProblem (the host said no for this
        path), or Unreachable (anything else: the connection is dropped).
        """
        from fsspec.asyn import sync

        timeout = self.timeout if timeout is None else timeout
        for attempt in (1, 2):
            fs, sftp, number = self._acquire()
            try:
                result = sync(fs.loop, op, fs, sftp, *args, timeout=timeout)
            except Exception as e:  # noqa: BLE001 - sorted below
                problem = _file_problem(e)
                if problem is not None:
                    raise problem from None
                if attempt == 1 and not isinstance(e, TimeoutError) and number == self._last_ok:
                    # it worked before: the server restarted or dropped an idle connection; one new try
                    log.info("%s: connection lost (%s); reconnecting", self.label, _reason(e, timeout))
                    self._drop(number)
                    continue
                message = self._message(e, timeout)
                self._drop(number, message)
                raise Unreachable(message) from None
            self._last_ok = number
            return result
        raise AssertionError("not reached")  # pragma: no cover

    def close_later(self, file: Any, sftp: Any) -> None:
        """Close an SFTP file handle without waiting for the answer (if its connection is still the current one)."""
        with self._cond:
            fs = self._fs if sftp is self._sftp else None
        if fs is not None:
            try:
                asyncio.run_coroutine_threadsafe(_quiet_close(file), fs.loop)
            except RuntimeError:  # the loop is gone (interpreter exit)
                pass


class HostKeysOff(Exception):
    """The user's SSH configuration turns host-key checking off for this host: not connected."""


async def _checks_host_keys(host: str, args: dict) -> bool:
    """Whether asyncssh will check the host key, once `~/.ssh/config` is applied as `connect` applies it
    (`UserKnownHostsFile none` there turns the check off in asyncssh, where OpenSSH would still ask)."""
    import asyncssh

    # config=() as connect passes it: without it the user's config is not read here
    options = await asyncssh.SSHClientConnectionOptions.construct(None, host=host, **{"config": (), **args})
    return options.known_hosts is not None


async def _start_sftp(client: Any) -> Any:
    return await client.start_sftp_client()


def _close_client(fs: Any) -> None:
    """Close an sshfs filesystem's SSH connection from its loop thread, without waiting for the host."""
    try:
        fs.loop.call_soon_threadsafe(fs.client.close)
    except Exception:  # noqa: BLE001 - already closed, or its loop is gone
        pass


def _file_problem(e: BaseException) -> OSError | None:
    """FileNotFoundError / FileProblem for errors about one path; None for errors about the connection."""
    import asyncssh

    if isinstance(e, (FileNotFoundError, asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath)):
        return FileNotFoundError(str(e))
    if isinstance(e, (asyncssh.SFTPPermissionDenied, asyncssh.SFTPFailure, NotADirectoryError, IsADirectoryError)):
        return FileProblem(_one_line(getattr(e, "reason", "") or str(e)))
    return None


# the coroutines run on fsspec's IO loop: (fs, sftp, *args)

async def _ls(fs: Any, sftp: Any, path: str) -> list[dict]:
    return await fs._ls(path, detail=True)


async def _info(fs: Any, sftp: Any, path: str) -> dict:
    return await fs._info(path)


async def _realpath(fs: Any, sftp: Any, path: str) -> str:
    return await sftp.realpath(path)


async def _quiet_close(f: Any) -> None:
    try:
        await f.close()
    except Exception:  # noqa: BLE001 - the connection may be gone; the server frees its handles then
        pass


class _SshStorage:
    """Listing, stat, realpath and ranged reads on one host, over its shared connection."""

    def __init__(self, connection: _SshConnection) -> None:
        self.connection = connection
        self.label = connection.label

    def listdir(self, path: str) -> list[_Item]:
        return [_item(i) for i in self.connection.call(_ls, path)]

    def stat(self, path: str) -> _Item | None:
        """Following symlinks; None when the path (or a link's target) is not there."""
        try:
            return _item(self.connection.call(_info, path))
        except FileNotFoundError:
            return None

    def realpath(self, path: str) -> str:
        return self.connection.call(_realpath, path)

    def open(self, item: _Item, counter: _Counter) -> "SshHandle | None":
        try:
            file, sftp = self.connection.call(_open, item.path)
        except FileNotFoundError:
            return None
        except FileProblem as e:
            raise Unreadable(f"{item.name} cannot be read ({e}); it is not read") from None
        return SshHandle(self.connection, item, file, sftp, counter)


async def _open(fs: Any, sftp: Any, path: str) -> tuple[Any, Any]:
    """The file handle and the SFTP session it belongs to (a handle dies with its connection)."""
    return await sftp.open(path, "rb"), sftp


class SshHandle:
    """An SFTP file handle; reads at an offset. Reopened by path if the connection was reopened meanwhile."""

    def __init__(self, connection: _SshConnection, item: _Item, file: Any, sftp: Any, counter: _Counter) -> None:
        self._conn = connection
        self._item = item
        self._file = file
        self._sftp = sftp
        self._counter = counter

    def stat(self) -> FileStat:
        return FileStat(self._item.size, self._item.mtime, None)

    async def _read(self, fs: Any, sftp: Any, offset: int, size: int) -> bytes:
        if sftp is not self._sftp:  # a new connection since the open: the old handle is gone with it
            self._file, self._sftp = await sftp.open(self._item.path, "rb"), sftp
        return await self._file.read(size, offset)

    def read_at(self, offset: int, size: int) -> bytes:
        if size <= 0:
            return b""
        try:
            data = self._conn.call(self._read, offset, size, timeout=self._conn.timeout + size / MIN_RATE)
        except (FileNotFoundError, FileProblem) as e:
            # the open handle keeps a deleted file readable, so this is a reopen after a reconnection
            # that found no file, or the host's disk failing: stop this pass, consume nothing (an
            # empty read would look like a truncation); the next listing says what became of the file
            raise Unreachable(_one_line(f"{self._conn.label}: {self._item.name} could not be read ({str(e) or 'gone'})"
                                        "; trying again")) from None
        self._counter.add(len(data))
        return data

    def readinto_at(self, buffer: memoryview, offset: int) -> int:
        data = self.read_at(offset, len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:  # not waited for: the host answers while the next file is read
            self._conn.close_later(file, self._sftp)


# ------------------------------------------------------------------ any other fsspec filesystem


class _FsspecStorage:
    """A read-only fsspec filesystem (memory://, http(s)://, s3://…): its own timeouts, ranged `cat_file` reads."""

    def __init__(self, target: Target, options: dict) -> None:
        import fsspec

        self.label = target.label
        self.fs = fsspec.filesystem(target.protocol, **options)
        self._seen: dict[str, tuple[int, float]] = {}  # path -> (size, when first listed at that size)

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FileNotFoundError:
            raise
        except (PermissionError, NotADirectoryError, IsADirectoryError) as e:
            raise FileProblem(_one_line(str(e))) from None
        except Exception as e:  # noqa: BLE001 - the storage itself failed
            raise Unreachable(_one_line(f"{self.label} cannot be reached: {_reason(e, None)}")) from None

    def _with_mtime(self, info: dict) -> _Item:
        mtime = _mtime_of(info)
        if mtime is None:
            try:
                mtime = self.fs.modified(info["name"]).timestamp()
            except Exception:  # noqa: BLE001 - not every filesystem knows: the time the size was first seen
                size, seen = self._seen.get(info["name"], (None, 0.0))
                if size != info.get("size"):
                    seen = time.time()
                    self._seen[info["name"]] = (info.get("size"), seen)
                mtime = seen
        return _item(info, mtime)

    def listdir(self, path: str) -> list[_Item]:
        infos = self._call(self.fs.ls, path, detail=True)
        if len(infos) == 1 and infos[0].get("type") == "file" and infos[0]["name"].rstrip("/") == path.rstrip("/"):
            raise FileNotFoundError(path)  # ls of a file lists the file itself: not a folder
        return [self._with_mtime(i) for i in infos]

    def stat(self, path: str) -> _Item | None:
        try:
            return self._with_mtime(self._call(self.fs.info, path))
        except FileNotFoundError:
            return None

    def realpath(self, path: str) -> str:
        return posixpath.normpath(path)

    def open(self, item: _Item, counter: _Counter) -> "FsspecHandle | None":
        return FsspecHandle(self, item, counter)


class FsspecHandle:
    """Reads a byte range with `cat_file(path, start, end)`: only those bytes are fetched."""

    def __init__(self, storage: _FsspecStorage, item: _Item, counter: _Counter) -> None:
        self._storage, self._item, self._counter = storage, item, counter

    def stat(self) -> FileStat:
        return FileStat(self._item.size, self._item.mtime, None)

    def read_at(self, offset: int, size: int) -> bytes:
        if size <= 0:
            return b""
        try:
            data = self._storage._call(self._storage.fs.cat_file, self._item.path, start=offset, end=offset + size)
        except (FileNotFoundError, FileProblem) as e:  # gone since the listing: the next one says so
            raise Unreachable(_one_line(f"{self._storage.label}: {self._item.name} could not be read "
                                        f"({str(e) or 'gone'}); trying again")) from None
        self._counter.add(len(data))
        return bytes(data)

    def readinto_at(self, buffer: memoryview, offset: int) -> int:
        data = self.read_at(offset, len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        pass


# ------------------------------------------------------------------ the pool: one connection per host

_POOL: dict[tuple, _SshConnection | _FsspecStorage] = {}
_POOL_LOCK = threading.Lock()


def _storage(target: Target, options: dict | None, *, connect_timeout: float, timeout: float,
             retry_interval: float) -> _SshStorage | _FsspecStorage:
    """The shared storage of `target`'s host: one per (protocol, user, host, port, options)."""
    options = dict(options or {})
    if target.protocol == "ssh" and "known_hosts" in options and options["known_hosts"] is None:
        raise ValueError("known_hosts=None would turn host-key checking off; RadioDash always checks host keys")
    key = (target.protocol, target.user, target.host, target.port, target.password, repr(sorted(options.items())),
           connect_timeout, timeout, retry_interval)
    with _POOL_LOCK:
        shared = _POOL.get(key)
        if shared is None:
            if target.protocol == "ssh":
                shared = _SshConnection(target, options, connect_timeout=connect_timeout, timeout=timeout,
                                        retry_interval=retry_interval)
            else:
                shared = _FsspecStorage(target, options)
            _POOL[key] = shared
    return _SshStorage(shared) if isinstance(shared, _SshConnection) else shared


def ssh_connections() -> list[_SshConnection]:
    """The SSH connections of this process (one per host), for tests and diagnostics."""
    with _POOL_LOCK:
        return [c for c in _POOL.values() if isinstance(c, _SshConnection)]


def close_all() -> None:
    """Close every shared connection (the process is ending, or a test is)."""
    with _POOL_LOCK:
        shared = list(_POOL.values())
        _POOL.clear()
    for s in shared:
        if isinstance(s, _SshConnection):
            s.close()


# ------------------------------------------------------------------ the source


class RemoteSource:
    """A log file or results folder at a URL (see the module docstring). The same rules as `LocalSource`:
    a folder's logs are its launch files, or its other log files when it has none.

    `poll_interval`: how often a follower should refresh this run (nothing can be watched remotely).
    `options`: extra asyncssh (or fsspec) options, e.g. `known_hosts`, `client_keys`, `config`;
    by default everything comes from the user's `~/.ssh`.
    """

    def __init__(self, url: str, *, poll_interval: float = POLL_INTERVAL, connect_timeout: float = CONNECT_TIMEOUT,
                 timeout: float = TIMEOUT, retry_interval: float = RETRY_INTERVAL, options: dict | None = None) -> None:
        self.target = parse_url(url)
        self.location = self.target.url
        self.name = posixpath.basename(self.target.path.rstrip("/")) or self.target.host
        self.watch_dirs: tuple[str, ...] = ()
        self.poll_interval = poll_interval
        self.storage = _storage(self.target, options, connect_timeout=connect_timeout, timeout=timeout,
                                retry_interval=retry_interval)
        self._counter = _Counter()
        self._listed: dict[str, _Item] = {}
        self._is_file = False

    @property
    def bytes_read(self) -> int:
        """Bytes the host returned to this source's reads (fingerprints included)."""
        return self._counter.bytes

    def discover(self) -> list[Entry]:
        """One listing (Unreachable when the host cannot be reached)."""
        path = self.target.path
        items: list[_Item]
        try:
            if self._is_file:
                raise FileNotFoundError(path)
            items = self.storage.listdir(path)
        except FileNotFoundError:  # not a folder: a file, or nothing (yet)
            item = self.storage.stat(path)
            self._is_file = item is not None and item.type == "file"
            items = [item] if self._is_file else []
            kinds = {item.path: FileKind.LOG for item in items}  # a file given by itself is the run
        except FileProblem as e:
            log.debug("cannot list %s: %s", self.location, e)
            return []
        else:
            kinds = {i.path: kind_of(i.name) for i in items}
        found: list[Entry] = []
        listed: dict[str, _Item] = {}
        for item in items:
            kind = kinds.get(item.path)
            if kind is None:
                continue
            if item.type == "link" and not self._is_file:  # as locally: a run folder's symlinks are not followed
                continue  # (one could lead out of the served folder; `resolve_remote_run` resolves a run's own name)
            if item.type == "link":  # the file given by itself: what it points to
                target = self.storage.stat(item.path)
                if target is None:
                    continue
                item = replace(target, path=item.path)
            if item.type != "file":  # a folder, a FIFO, a device: never opened
                continue
            listed[item.path] = item
            found.append(Entry(item.path, kind, FileStat(item.size, item.mtime, None)))
        self._listed = listed
        return run_files(found)

    def open(self, path: str) -> SshHandle | FsspecHandle | None:
        """A handle on `path`, sized by the listing just made (or by a stat); None when it is not there."""
        item = self._listed.pop(path, None)
        if item is None:
            item = self.storage.stat(path)
            if item is None:
                return None
            if item.type != "file":
                raise NotRegular(f"{item.name} is not a regular file; it is not read")
        return self.storage.open(item, self._counter)

    def close(self) -> None:
        """Nothing to release: the host's connection is shared with the other runs on it."""


# ------------------------------------------------------------------ confinement under a remote root


@dataclass(frozen=True)
class RemoteRun:
    """A run under a remote root: a results folder or a single log file."""

    rel: str  # path relative to the root, "/"-separated (what a run name holds)
    url: str
    mtime: float
    is_dir: bool


@dataclass(frozen=True)
class RemoteRuns:
    """The runs found under a remote root, and why the listing is incomplete (None: it is complete)."""

    runs: list[RemoteRun]
    error: str | None = None


def checked_run_name(rel: str) -> str:
    """`rel` checked by the very rules of local roots (`security.checked_parts`: no `..`, no absolute
    path, no hidden part, no control character, not deeper than runs are listed), "/"-joined, or Refused."""
    return "/".join(checked_parts(rel))


def _refuse(rel: str, why: str) -> None:
    log.warning("refused remote run path %r: %s", rel, why)
    raise Refused(refusal(rel), name=shown_name(rel))


def _inside(real_root: str, real: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip("/") + "/")


def resolve_remote_run(root_url: str, rel: str, *, options: dict | None = None, connect_timeout: float = CONNECT_TIMEOUT,
                       timeout: float = TIMEOUT, retry_interval: float = RETRY_INTERVAL) -> str:
    """The URL of run `rel` under the remote root `root_url` (symlinks resolved on the host), or Refused.

    Raises Unreachable when the host cannot be asked (then nothing can be said about the name).
    """
    decoded = checked_run_name(rel)
    root = parse_url(root_url)
    storage = _storage(root, options, connect_timeout=connect_timeout, timeout=timeout, retry_interval=retry_interval)
    try:
        real_root = storage.realpath(root.path)
        real = storage.realpath(posixpath.join(real_root, decoded))
    except (FileNotFoundError, FileProblem):
        raise Refused(refusal(rel), missing=True, name=shown_name(rel)) from None
    if not _inside(real_root, real):
        _refuse(rel, "it leads outside the served folder (symlink)")
    if any(p.startswith(".") for p in posixpath.relpath(real, real_root).split("/") if p != "."):
        _refuse(rel, "it leads to a hidden file or folder (symlink)")
    item = storage.stat(real)
    if item is None:
        raise Refused(refusal(rel), missing=True, name=shown_name(rel))
    if item.type == "file":
        if not (is_run_file(posixpath.basename(decoded)) and is_run_file(posixpath.basename(real))):
            _refuse(rel, "not a run file")
    elif item.type != "directory":
        _refuse(rel, "not a regular file or folder (a FIFO, socket or device)")
    return root.at(real).url


def list_remote_runs(root_url: str, max_depth: int = 3, *, options: dict | None = None,
                     connect_timeout: float = CONNECT_TIMEOUT, timeout: float = TIMEOUT,
                     retry_interval: float = RETRY_INTERVAL) -> RemoteRuns:
    """Runs under a remote root, newest first — folders holding launch files and loose log files, as
    `security.list_runs` finds them locally — never raising: what could not be listed is in `error`."""
    try:
        root = parse_url(root_url)
        storage = _storage(root, options, connect_timeout=connect_timeout, timeout=timeout,
                           retry_interval=retry_interval)
        real_root = storage.realpath(root.path)
    except (ValueError, FileNotFoundError, FileProblem) as e:
        return RemoteRuns([], _one_line(f"{root_url}: {e}"))
    except Unreachable as e:
        return RemoteRuns([], str(e))
    found: list[RemoteRun] = []
    pending = [(real_root, 0)]
    try:
        while pending:
            folder, depth = pending.pop()
            try:
                items = storage.listdir(folder)
            except (FileNotFoundError, FileProblem):
                continue
            logs: list[_Item] = []
            for item in items:
                if item.name.startswith("."):
                    continue
                if item.type == "directory":
                    if depth < max_depth:
                        pending.append((item.path, depth + 1))
                elif is_run_file(item.name):
                    if item.type == "link":  # counted only when it stays under the root and is a file
                        try:
                            real = storage.realpath(item.path)
                        except (FileNotFoundError, FileProblem):
                            continue
                        hidden = any(p.startswith(".") for p in posixpath.relpath(real, real_root).split("/"))
                        target = storage.stat(real) if _inside(real_root, real) and not hidden else None
                        if target is None or target.type != "file":
                            continue
                        item = replace(target, path=item.path)
                    if item.type == "file":
                        logs.append(item)
            launch = [i for i in logs if is_launch_file(i.name)]
            if launch and folder != real_root:
                found.append(RemoteRun(posixpath.relpath(folder, real_root), root.at(folder).url,
                                       max(i.mtime for i in launch), True))
                logs = [i for i in logs if not is_launch_file(i.name)]
            found += [RemoteRun(posixpath.relpath(i.path, real_root), root.at(i.path).url, i.mtime, False)
                      for i in logs]
    except Unreachable as e:
        return RemoteRuns(sorted(found, key=lambda r: r.mtime, reverse=True), str(e))
    return RemoteRuns(sorted(found, key=lambda r: r.mtime, reverse=True))
