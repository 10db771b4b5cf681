"""A run's state where the user picks and watches runs: the header's badge and the run picker's labels.

The state itself is decided in the core (radiodash.analysis.state) — here it only gets a colour,
and the picker gets a state for runs this session is not watching: each is read once (a one-shot
`open_run`, closed again: never one of the registry's followed runs) when its files change, kept
as a RunState (not a snapshot) and asked again as time passes (`state.restate`).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Callable

from ..analysis import RunState, run_state
from ..analysis.state import restate
from ..cache import LRU
from ..run import Run
from ..source import Source, as_source
from ..text import age

#: st.badge colour and icon per state (the picker's options are plain text: the state's word).
BADGES = {"live": ("green", ":material/radio_button_checked:"),
          "stalled": ("orange", ":material/hourglass_top:"),
          "stopped": ("red", ":material/stop_circle:"),
          "finished": ("blue", ":material/check_circle:"),
          "unreachable": ("gray", ":material/cloud_off:"),
          "unknown": ("gray", ":material/help:")}
#: Runs of the picker given a state (the newest); older ones show when they were last written.
MAX_STATES = 24
#: A run whose files keep changing is read again at most this often for its picker label.
REREAD_SECONDS = 10.0


def badge(state: RunState) -> None:
    import streamlit as st

    color, icon = BADGES.get(state.state, BADGES["unknown"])
    st.badge(state.state, icon=icon, color=color)


def picker_label(rel: str, state: RunState | None, mtime: float | None, now: float) -> str:
    """'runA · live', 'runB · stopped · 3.1 d ago', 'runC · finished · 2.0 h ago': the state in words and,
    from a minute on, how long ago its files were last written (the picker is redrawn every few
    seconds: a count of seconds there would be stale)."""
    if state is None:
        return f"{rel} · last written {age(now - mtime)}" if mtime else rel
    silent = state.silent_seconds
    written = f" · {age(silent)}" if silent is not None and silent >= 60 else ""
    return f"{rel} · {state.state}{written}"


class PickerStates:
    """RunStates of the runs under the roots, for the picker: read when their files change, shared by
    every session of the server (one read per change, not one per viewer).

    Each run is kept open (a `Run`, not followed: refreshed here, only when its files changed), so a
    change costs reading the new bytes, not the whole log again: a live run among the newest would
    otherwise be read from its first byte every `reread_seconds` (benchmarks/bench_overview.py measured
    the picker reading 29–52× what was appended, over SSH too). `max_runs` bounds how many stay open.
    """

    def __init__(self, max_entries: int = 256, reread_seconds: float = REREAD_SECONDS,
                 max_runs: int = 2 * MAX_STATES) -> None:
        self._states: LRU[tuple[float, float, RunState | None]] = LRU(max_entries)  # path -> (mtime, read at, state)
        self._runs: OrderedDict[str, Run] = OrderedDict()  # path -> its open run, least recently read first
        self._lock = threading.Lock()
        self._busy: set[str] = set()
        self.reread_seconds = reread_seconds
        self.max_runs = max_runs
        self.reads = 0

    def state(self, path: str | Path, mtime: float, now: float, stopped_after: float,
              make_source: Callable[[str], Source] = as_source) -> RunState | None:
        """The state of the run at `path` (a local path or a URL, opened through `make_source`)."""
        key = str(path)
        held = self._states.get(key)
        if held is not None:
            seen, read_at, st = held
            if st is None:
                return None
            if seen == mtime or time.monotonic() - read_at < self.reread_seconds:
                st = st if seen == mtime else replace(st, last_written=max(mtime, st.last_written or 0.0))
                return restate(replace(st, stopped_after_seconds=stopped_after), now)
        with self._lock:
            if key in self._busy:  # another session is reading it: its old state (or none) meanwhile
                return None if held is None or held[2] is None else restate(held[2], now)
            self._busy.add(key)
            run = self._runs.pop(key, None)
        try:
            run, st = self._read(key, run, make_source, now, stopped_after)
        finally:
            with self._lock:
                self._busy.discard(key)
                if run is not None:
                    self._runs[key] = run
                    old = [self._runs.popitem(last=False)[1] for _ in range(len(self._runs) - self.max_runs)]
                else:
                    old = []
        for r in old:
            r.close()
        self._states.put(key, (mtime, time.monotonic(), st))
        return st

    def _read(self, key: str, run: Run | None, make_source: Callable[[str], Source], now: float,
              stopped_after: float) -> tuple[Run | None, RunState | None]:
        self.reads += 1
        try:
            if run is None:
                run = Run(make_source(key))
            run.refresh()  # only what was appended since the last read
            return run, run_state(run.snapshot(), now, stopped_after=stopped_after)
        except Exception:  # noqa: BLE001 - a run that cannot be read has no state in the picker; read afresh next time
            if run is not None:
                run.close()
            return None, None

    def close(self) -> None:
        with self._lock:
            runs, self._runs = list(self._runs.values()), OrderedDict()
        for r in runs:
            r.close()
