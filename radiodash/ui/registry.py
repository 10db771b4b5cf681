"""One shared reader per run for every browser session, a bound on how many are followed, idle runs closed.

Plain Python (thread-safe, testable without Streamlit): the Streamlit layer keeps one
Registry per server process in `st.cache_resource`.

Why the bound: every followed run costs a watch on its folder (an inotify instance and a watcher
thread) and a refresh every `poll_interval`; a hundred sessions opening a hundred runs must not
leave a hundred of them running. Past `max_runs`, the run viewed least recently stops being
followed (a viewer who comes back to it simply reopens it). Opening a run (its first, possibly
long, read) happens outside the lock all sessions share: one slow or odd run never holds up
another run's viewers.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..follow import FollowService
from ..model import Snapshot
from ..run import Run

IDLE_SECONDS = 600.0
SWEEP_SECONDS = 60.0
MAX_RUNS = 16

# The Live page's cadences. Its header is a fragment run every HEADER_TICK seconds; Streamlit starts the next
# run `run_every` after the last one started, so a tick comes a hair early or late. A snapshot slot as long as
# the tick let every tick that came early find the last tick's snapshot (0.999 s old) and show it again: the
# appended step a whole tick late (append→visible median 1.52 s; with half a tick, 0.66 s —
# benchmarks/bench_latency.py). So a reader's slot is shorter than its period by half a tick.
HEADER_TICK = 1.0
HEADER_SLOT = HEADER_TICK / 2
PANEL_REFRESH = 3.0  # the charts redraw at most this often (every third header tick)
PANEL_SLOT = PANEL_REFRESH - HEADER_TICK / 2


@dataclass
class _Entry:
    last_viewed: float
    run: Run | None = None  # None while it is being opened
    ready: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    snaps: dict[float, tuple[Snapshot, float]] = field(default_factory=dict)  # cadence -> (snapshot, taken)


def _key(path: Path | str) -> str:
    """One key per run: a local path normalised, a URL as it is (`Path` would fold its '//')."""
    text = str(path)
    return text if "://" in text else str(Path(text))


class Registry:
    """The runs this server follows, shared by every session (see the module docstring)."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS, poll_interval: float = 0.5,
                 clock: Callable[[], float] = time.monotonic, janitor: bool = True,
                 max_runs: int | None = None, force_polling: bool | None = None,
                 make_run: Callable[[str], Run] = Run) -> None:
        self.idle_seconds = idle_seconds
        self.make_run = make_run  # how a run is opened: a path's local Run, or a fake in tests
        self.max_runs = max_runs if max_runs is not None else int(os.environ.get("RADIODASH_MAX_RUNS", MAX_RUNS))
        self.clock = clock
        self._lock = threading.Lock()
        self._runs: dict[str, _Entry] = {}
        self.follow = FollowService(poll_interval=poll_interval, force_polling=force_polling)
        self.opened = 0  # runs opened over the life of the registry (a second open of one path is a bug)
        self._stop = threading.Event()
        if janitor:
            threading.Thread(target=self._janitor, name="radiodash-janitor", daemon=True).start()

    def get(self, path: Path | str) -> Run:
        """The shared, followed Run of `path` (a local path or a URL; opened and read on first use)."""
        key = _key(path)
        with self._lock:
            entry = self._runs.get(key)
            opener = entry is None
            if opener:
                entry = self._runs[key] = _Entry(self.clock())
            entry.last_viewed = self.clock()
        if not opener:
            entry.ready.wait()
            if entry.error is not None:
                raise entry.error
            return entry.run
        try:
            run = self.make_run(key)
            run.refresh()
        except BaseException as e:  # noqa: BLE001 - said to every viewer waiting for it, then forgotten
            entry.error = e
            with self._lock:
                if self._runs.get(key) is entry:
                    del self._runs[key]
            entry.ready.set()
            raise
        entry.run = run
        self.follow.add(key, run.source.watch_dirs, run.refresh, getattr(run.source, "poll_interval", None))
        with self._lock:
            self.opened += 1
        entry.ready.set()
        self._evict_over_bound(keep=key)
        return run

    def snapshot(self, path: Path | str, max_age: float = 1.0) -> Snapshot:
        """The run's snapshot as every viewer sees it: renewed at most once per `max_age` seconds
        (one shared snapshot per cadence: HEADER_SLOT for the header, PANEL_SLOT for the charts).

        Why: a run receiving 10 lines/s has a new version every 0.1 s; if each viewer took its own,
        no two would share the analysis and figures built for a version. One shared cadence makes
        the per-viewer cost of an update just the drawing.
        """
        run = self.get(path)
        key = _key(path)
        now = self.clock()
        with self._lock:
            entry = self._runs.get(key)
            if entry is None or entry.run is not run:  # closed between the two calls: read directly
                return run.snapshot()
            held = entry.snaps.get(max_age)
            if held is None or now - held[1] >= max_age:
                held = entry.snaps[max_age] = (run.snapshot(), now)
            return held[0]

    def _evict_over_bound(self, keep: str) -> list[str]:
        """Stop following the least recently viewed runs beyond `max_runs`."""
        with self._lock:
            ready = [(e.last_viewed, k) for k, e in self._runs.items() if e.run is not None and k != keep]
            over = len(ready) + 1 - self.max_runs
            victims = [k for _, k in sorted(ready)[:max(0, over)]]
            entries = [self._runs.pop(k) for k in victims]
        for k, e in zip(victims, entries):
            self._close(k, e)
        return victims

    def _close(self, key: str, entry: _Entry) -> None:
        self.follow.remove(key)
        if entry.run is not None:
            entry.run.close()

    def sweep(self) -> list[str]:
        """Close runs nobody has viewed for `idle_seconds`; returns their paths."""
        now = self.clock()
        with self._lock:
            idle = [k for k, e in self._runs.items() if e.run is not None and now - e.last_viewed > self.idle_seconds]
            entries = [self._runs.pop(k) for k in idle]
        for k, e in zip(idle, entries):
            self._close(k, e)
        return idle

    def followers(self) -> int:
        """How many runs are followed now."""
        return len(self.follow) if self.follow.is_alive() else 0

    @property
    def watcher_mode(self) -> str:
        """inotify, polling or poll-only (what the follow service could start)."""
        return self.follow.mode

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for e in self._runs.values() if e.run is not None)

    def close(self) -> None:
        """Close every run and stop following (the server shuts down)."""
        self._stop.set()
        with self._lock:
            entries = list(self._runs.items())
            self._runs.clear()
        for k, e in entries:
            self._close(k, e)
        self.follow.stop()

    def _janitor(self) -> None:
        while not self._stop.wait(SWEEP_SECONDS):
            self.sweep()
