"""One shared reader per run for every browser session; idle runs are closed.

Plain Python (thread-safe, testable without Streamlit): the Streamlit layer keeps one
Registry per server process in `st.cache_resource`.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..model import Snapshot
from ..run import Run

IDLE_SECONDS = 600.0
SWEEP_SECONDS = 60.0


@dataclass
class _Entry:
    run: Run
    last_viewed: float
    snaps: dict[float, tuple[Snapshot, float]] = field(default_factory=dict)  # cadence -> (snapshot, taken)


class Registry:
    def __init__(self, idle_seconds: float = IDLE_SECONDS, poll_interval: float = 0.5,
                 clock: Callable[[], float] = time.monotonic, janitor: bool = True) -> None:
        self.idle_seconds = idle_seconds
        self.poll_interval = poll_interval
        self.clock = clock
        self._lock = threading.Lock()
        self._runs: dict[str, _Entry] = {}
        self.opened = 0  # runs opened over the life of the registry (a second open of one path is a bug)
        self._stop = threading.Event()
        if janitor:
            threading.Thread(target=self._janitor, name="radiodash-janitor", daemon=True).start()

    def get(self, path: Path | str) -> Run:
        """The shared, followed Run of `path` (opened and read on first use)."""
        key = str(Path(path))
        with self._lock:
            entry = self._runs.get(key)
            if entry is None:
                run = Run(key)
                run.refresh()
                run.follow(poll_interval=self.poll_interval)
                entry = self._runs[key] = _Entry(run, self.clock())
                self.opened += 1
            entry.last_viewed = self.clock()
            return entry.run

    def snapshot(self, path: Path | str, max_age: float = 1.0) -> Snapshot:
        """The run's snapshot as every viewer sees it: renewed at most once per `max_age` seconds
        (one shared snapshot per cadence: the header's 1 s, the charts' 3 s).

        Why: a run receiving 10 lines/s has a new version every 0.1 s; if each viewer took its own,
        no two would share the analysis and figures built for a version. One shared cadence makes
        the per-viewer cost of an update just the drawing.
        """
        run = self.get(path)
        key = str(Path(path))
        now = self.clock()
        with self._lock:
            entry = self._runs.get(key)
            if entry is None:  # swept between the two calls: read directly
                return run.snapshot()
            held = entry.snaps.get(max_age)
            if held is None or now - held[1] >= max_age:
                held = entry.snaps[max_age] = (run.snapshot(), now)
            return held[0]

    def sweep(self) -> list[str]:
        """Close runs nobody has viewed for `idle_seconds`; returns their paths."""
        now = self.clock()
        with self._lock:
            idle = [k for k, e in self._runs.items() if now - e.last_viewed > self.idle_seconds]
            entries = [self._runs.pop(k) for k in idle]
        for e in entries:
            e.run.close()
        return idle

    def followers(self) -> int:
        with self._lock:
            return sum(1 for e in self._runs.values() if e.run._follower is not None and e.run._follower.is_alive())

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            entries = list(self._runs.values())
            self._runs.clear()
        for e in entries:
            e.run.close()

    def _janitor(self) -> None:
        while not self._stop.wait(SWEEP_SECONDS):
            self.sweep()
