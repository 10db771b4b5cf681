"""Following: refresh runs when their files may have changed — for any number of runs, with bounded threads.

One `FollowService` holds one watchdog observer (inotify, or polling when inotify is
unavailable or `RADIODASH_POLL=1`), one scheduler thread and a small pool of refresh workers
for every run it follows. A run costs one watch on its folder (shared by runs in the same
folder) and no thread of its own. Besides the watcher's events, every run is refreshed every
`poll_interval` anyway: on NFS inotify never sees writes made by other machines, and a remote
source cannot be watched at all. A run is never refreshed by two workers at once, and a slow
one (a huge first read, a remote host timing out) does not hold up the others.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Hashable

log = logging.getLogger("radiodash.follow")


@dataclass
class _Target:
    key: Hashable
    dirs: tuple[str, ...]
    refresh: Callable[[], None]
    interval: float  # seconds between refreshes without an event (a remote source sets its own)
    dirty: bool = True
    running: bool = False
    last: float = 0.0
    watched: list[str] = field(default_factory=list)  # directories actually scheduled (a parent while missing)


class FollowService:
    """Refresh registered targets on file events and every `poll_interval` seconds; thread-safe."""

    def __init__(self, *, poll_interval: float = 1.0, force_polling: bool | None = None, workers: int = 2) -> None:
        self.poll_interval = poll_interval
        self.force_polling = os.environ.get("RADIODASH_POLL") == "1" if force_polling is None else force_polling
        self.mode = "none"
        self._lock = threading.Lock()
        self._targets: dict[Hashable, _Target] = {}
        self._watches: dict[str, tuple[object, int]] = {}  # directory -> (watchdog watch, targets using it)
        self._observer = None
        self._events: queue.SimpleQueue[tuple[str, ...]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="radiodash-refresh")
        self._thread = threading.Thread(target=self._loop, name="radiodash-follow", daemon=True)
        self._started = False

    # ------------------------------------------------------------------ targets

    def add(self, key: Hashable, dirs: list[str] | tuple[str, ...], refresh: Callable[[], None],
            interval: float | None = None) -> None:
        """Follow `key`: call `refresh()` (on a worker) when one of `dirs` changes, and every `interval`
        seconds anyway (default: the service's `poll_interval`)."""
        self._start()
        target = _Target(key, tuple(os.path.abspath(d) for d in dirs), refresh,
                         self.poll_interval if interval is None else interval)
        with self._lock:
            old = self._targets.pop(key, None)
            if old is not None:
                self._unwatch(old)
            self._targets[key] = target
            self._watch(target)
        self._wake.set()

    def remove(self, key: Hashable) -> None:
        """Stop following `key`; its folders are released (unwatched when nobody else follows them)."""
        with self._lock:
            target = self._targets.pop(key, None)
            if target is not None:
                self._unwatch(target)

    def __len__(self) -> int:
        with self._lock:
            return len(self._targets)

    @property
    def watches(self) -> int:
        """Directories watched by the observer (each costs the observer one emitter thread)."""
        with self._lock:
            return len(self._watches)

    def is_alive(self) -> bool:
        """Whether the scheduler thread runs (started at the first `add`, until `stop`)."""
        return self._thread.is_alive()

    # ------------------------------------------------------------------ the observer

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            self._observer = self._start_observer()
        self._thread.start()

    def _start_observer(self):
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        kinds = [("polling", lambda: PollingObserver(timeout=max(0.25, self.poll_interval / 2)))]
        if not self.force_polling:
            kinds.insert(0, ("inotify", Observer))
        for mode, make in kinds:
            obs = None
            try:
                obs = make()
                obs.start()
                self.mode = mode
                return obs
            except OSError as e:  # inotify instance limit: fall back to polling
                log.warning("file watcher %s unavailable (%s); falling back", mode, e)
                _stop_quietly(obs)
        self.mode = "poll-only"
        return None

    def _handler(self):
        from watchdog.events import FileSystemEventHandler

        service = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                if event.event_type in ("modified", "created", "deleted", "moved", "closed"):
                    service._mark(os.fsdecode(event.src_path), os.fsdecode(getattr(event, "dest_path", "") or ""))

        return Handler()

    def _mark(self, *paths: str) -> None:
        """An event under a watched folder: its targets are refreshed soon.

        Called on watchdog's thread while it holds the observer's lock: it takes no lock of ours
        (the loop, which does, calls the observer to schedule and unschedule), it only queues.
        """
        self._events.put(paths)
        self._wake.set()

    def _apply_marks(self) -> None:
        """Mark the targets under the folders of the queued events dirty. Lock held."""
        while True:
            try:
                paths = self._events.get_nowait()
            except queue.Empty:
                return
            for t in self._targets.values():
                if any(p and (os.path.dirname(p) == w or p == w) for p in paths for w in t.watched):
                    t.dirty = True

    def _watch(self, target: _Target) -> None:
        """Schedule the target's folders (or their nearest existing parents), shared and counted. Lock held."""
        target.watched = [_existing(d) for d in target.dirs]
        if self._observer is None:
            return
        for d in dict.fromkeys(target.watched):
            watch, users = self._watches.get(d, (None, 0))
            if watch is None:
                try:
                    watch = self._observer.schedule(self._handler(), d, recursive=False)
                except OSError as e:  # the watch or instance limit: the periodic poll still covers it
                    log.warning("cannot watch %s (%s); polling it", d, e)
                    continue
            self._watches[d] = (watch, users + 1)

    def _unwatch(self, target: _Target) -> None:
        """Release the target's watches; a folder nobody follows any more is unscheduled. Lock held."""
        for d in dict.fromkeys(target.watched):
            watch, users = self._watches.get(d, (None, 0))
            if watch is None:
                continue
            if users > 1:
                self._watches[d] = (watch, users - 1)
            else:
                del self._watches[d]
                try:
                    self._observer.unschedule(watch)
                except Exception:  # noqa: BLE001 - already gone with its folder
                    pass
        target.watched = []

    # ------------------------------------------------------------------ the loop

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_interval / 2)
            if self._stop.is_set():
                break
            self._wake.clear()  # events arriving from here on cause one more round
            now = time.monotonic()
            with self._lock:
                self._apply_marks()
                due = [t for t in self._targets.values()
                       if not t.running and (t.dirty or now - t.last >= t.interval)]
                for t in due:
                    t.running, t.dirty, t.last = True, False, now
                    if t.watched != [_existing(d) for d in t.dirs]:  # a folder that appeared: watch it
                        self._unwatch(t)
                        self._watch(t)
            for t in due:
                self._pool.submit(self._run, t)

    def _run(self, target: _Target) -> None:
        try:
            target.refresh()
        except Exception:  # noqa: BLE001 - a bad refresh must not stop the others
            log.exception("refresh of %s failed", target.key)
        finally:
            with self._lock:
                target.running = False
                again = target.dirty  # changed while it was being read: read it again at once
            if again:
                self._wake.set()

    def stop(self) -> None:
        """Stop following everything: the observer, the scheduler and the workers end."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            self._targets.clear()
            self._watches.clear()
        _stop_quietly(self._observer)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)


def _stop_quietly(observer) -> None:
    if observer is None:
        return
    try:
        observer.stop()
        observer.join(timeout=5)
    except Exception:  # noqa: BLE001
        pass


def _existing(d: str) -> str:
    """The directory itself, or its nearest existing parent (a run folder that does not exist yet)."""
    p = Path(d)
    while not p.is_dir() and p.parent != p:
        p = p.parent
    return str(p)
