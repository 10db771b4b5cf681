"""The watcher's memory across restarts: one SQLite file (standard library) in a per-user folder.

It holds, per run, what was told (`rules.Known`), the time of the last scan, and the outbox:
every message still to deliver, per target (known by the hash of its URL — never the URL), with
its tries and the time of its next try. A scan's decisions and its messages are committed in one
transaction, and a message leaves the outbox only once a target took it: a watcher killed at
any point resends nothing it had delivered (but for the instant between a target's answer and
the commit) and loses nothing it had decided; what happened while it was down is seen by the
next scan.

One watcher per state file: a second one on the same roots and folder would send everything
twice, so the file is locked (`StateLocked`). The default folder is the user's state folder
(`$XDG_STATE_HOME/radiodash`, else `~/.local/state/radiodash`), never a results folder (which
may be read-only and is shared).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import platformdirs

from .messages import Message
from .rules import Known

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run TEXT PRIMARY KEY, known TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, run TEXT NOT NULL, kind TEXT NOT NULL,
    code TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, notify_type TEXT NOT NULL,
    created REAL NOT NULL, tries INTEGER NOT NULL DEFAULT 0, next_try REAL NOT NULL DEFAULT 0,
    first_try REAL, last_error TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (target, next_try, id);
"""


class StateLocked(RuntimeError):
    """Another watcher uses this state file (it would send every notification twice)."""


class StateUnusable(RuntimeError):
    """The state file exists but is no SQLite database RadioDash can use (the message says where)."""


def default_state_dir() -> Path:
    """The per-user state folder: `$XDG_STATE_HOME/radiodash` or `~/.local/state/radiodash` on Linux."""
    return Path(platformdirs.user_state_dir("radiodash", appauthor=False))


def _root_key(root: str | os.PathLike) -> str:
    """A root as it names a state file: a local folder's real path, a URL as it is."""
    from ..roots import is_url, local_path

    return os.fspath(root) if is_url(os.fspath(root)) else local_path(root)


def state_file_name(roots: Iterable[str | os.PathLike]) -> str:
    """One file per set of roots, so that watchers of different roots share a folder peacefully."""
    key = "\n".join(sorted(_root_key(r) for r in roots))
    return f"watch-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:12]}.sqlite"


@dataclass(frozen=True)
class Pending:
    """A message waiting for one target."""

    id: int
    target: str
    title: str
    body: str
    notify_type: str
    tries: int
    first_try: float | None
    created: float


class StateStore:
    """The SQLite state file of one watcher (thread-safe: one connection behind a lock)."""

    def __init__(self, folder: str | os.PathLike, roots: Iterable[str | os.PathLike]) -> None:
        roots = [_root_key(r) for r in roots]
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / state_file_name(roots)
        self._lock_file = open(self.path.with_suffix(".lock"), "a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise StateLocked(f"another watcher of the same runs uses the state file {self.path}") from None
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('roots', ?)", (json.dumps(roots),))
        except sqlite3.DatabaseError as e:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            raise StateUnusable(f"the state file {self.path} cannot be used ({e}); move it away to start afresh") from None

    # ------------------------------------------------------------------ runs

    def known(self) -> dict[str, Known]:
        """What was told about every run the file knows."""
        with self._lock:
            rows = self._db.execute("SELECT run, known FROM runs").fetchall()
        return {run: Known.from_json(k) for run, k in rows}

    def last_scan(self) -> float | None:
        """The time (the fleet's clock) of the last committed scan; None before the first."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'last_scan'").fetchone()
        return float(row[0]) if row else None

    def commit(self, now: float, changed: Mapping[str, Known], messages: Iterable[Message],
               targets: Iterable[str]) -> int:
        """One scan, atomically: the runs' new records, the messages queued for every target, the scan time.
        Returns the outbox rows added."""
        targets = list(targets)
        rows = [(t, m.run, m.kind, m.code, m.title, m.body, m.notify_type, now) for m in messages for t in targets]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT INTO runs VALUES (?, ?, ?) ON CONFLICT(run) DO UPDATE SET "
                                     "known = excluded.known, updated = excluded.updated",
                                     [(k, v.to_json(), now) for k, v in changed.items()])
                self._db.executemany("INSERT INTO outbox (target, run, kind, code, title, body, notify_type, created) "
                                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
                self._db.execute("INSERT INTO meta VALUES ('last_scan', ?) ON CONFLICT(key) DO UPDATE SET "
                                 "value = excluded.value", (repr(float(now)),))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return len(rows)

    # ------------------------------------------------------------------ the outbox

    def next_due(self, target: str, now: float) -> Pending | None:
        """The oldest message for `target` whose next try is due at `now` (epoch seconds)."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, target, title, body, notify_type, tries, first_try, created, next_try FROM outbox "
                "WHERE target = ? ORDER BY id LIMIT 1", (target,)).fetchone()
        # in order: a later message never overtakes one still being retried
        return Pending(*row[:-1]) if row is not None and row[-1] <= now else None

    def next_time(self, target: str) -> float | None:
        """When the oldest message for `target` is due (None: nothing queued)."""
        with self._lock:
            row = self._db.execute("SELECT next_try FROM outbox WHERE target = ? ORDER BY id LIMIT 1",
                                   (target,)).fetchone()
        return row[0] if row else None

    def delivered(self, row_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))

    def retry_later(self, row_id: int, tries: int, at: float, first_try: float, error: str) -> None:
        with self._lock:
            self._db.execute("UPDATE outbox SET tries = ?, next_try = ?, first_try = ?, last_error = ? WHERE id = ?",
                             (tries, at, first_try, error, row_id))

    def give_up(self, row_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))

    def pending(self, target: str | None = None) -> int:
        """Messages waiting (for one target, or for all)."""
        with self._lock:
            if target is None:
                return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            return self._db.execute("SELECT COUNT(*) FROM outbox WHERE target = ?", (target,)).fetchone()[0]

    def forget_targets(self, keep: Iterable[str]) -> int:
        """Drop the messages of targets no longer configured; returns how many."""
        keep = list(keep)
        marks = ",".join("?" * len(keep)) or "''"
        with self._lock:
            return self._db.execute(f"DELETE FROM outbox WHERE target NOT IN ({marks})", keep).rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        finally:
            self._lock_file.close()


def read_last_scan(folder: str | os.PathLike) -> float | None:
    """The last committed scan time of the watcher whose state files are in `folder`, read without the
    watcher's lock (read-only, for a benchmark or a test waiting on a running watcher); None before one."""
    for f in Path(folder).glob("watch-*.sqlite"):
        with sqlite3.connect(f"file:{f}?mode=ro", uri=True) as db:
            try:
                row = db.execute("SELECT value FROM meta WHERE key = 'last_scan'").fetchone()
            except sqlite3.OperationalError:
                return None
        return float(row[0]) if row else None
    return None
