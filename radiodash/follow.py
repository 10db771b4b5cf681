"""Following: call back when a run's files may have changed.

The real watchdog observer (inotify, or polling when inotify is unavailable or
`RADIODASH_POLL=1`), plus a periodic poll of its own, because on NFS inotify never sees
writes made by other machines and remote sources cannot be watched at all.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Callable

log = logging.getLogger("radiodash.follow")


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
