"""The run's state as of a moment — live, stalled, stopped, finished, unreachable — one implementation
for the report, `analyze --json`, the live header and anything that watches runs.

Why here and not in a page: every place that says "running" or "finished" must say the same
true thing, from the same facts: the files' modification time (when the trainer last wrote,
never when the server read), the log's own timestamps (its usual interval) and its progress.
"""
from __future__ import annotations

import time as _time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..model import Snapshot, as_number, config_value
from ..text import age, duration
from .events import stall_threshold
from .throughput import intervals

STOPPED_AFTER_SECONDS = 3600.0
STATES = ("live", "stalled", "stopped", "finished", "unreachable", "unknown")
_NOT_IN_JSON = ("unreachable_since", "span_seconds")


@dataclass(frozen=True)
class RunState:
    state: str  # one of STATES; "unknown" when neither an mtime nor the progress tells
    as_of: float  # epoch seconds the state is true at
    last_written: float | None  # epoch seconds: the files' newest mtime
    last_log_time: pd.Timestamp | None  # the log's own last timestamp (naive local time, as logged)
    silent_seconds: float | None  # as_of - last_written
    usual_interval_seconds: float | None  # median time between logged records within a launch
    stall_after_seconds: float | None  # silence that makes an unfinished run "stalled"
    stopped_after_seconds: float  # silence that makes it "stopped"
    latest_step: int | None
    total_steps: int | None
    finished_at: float | None  # epoch seconds (the files' mtime) of a finished run
    duration_seconds: float | None  # a finished run: its log's first to last timestamp, every launch
    description: str  # one true line: "finished 3.0 d ago after 5 h 12 min"
    show_eta: bool  # ETA and next checkpoint mean something only while the run is live
    unreachable_since: float | None = None  # epoch seconds, while the source cannot be read
    span_seconds: float | None = None  # the log's first to last timestamp, every launch (finished or not)

    def to_json(self) -> dict:
        from .results import jsonable

        # the two fields `restate` needs are not part of `analyze --json` (its shape stays as documented)
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__ if k not in _NOT_IN_JSON})


def usual_interval(snap: Snapshot) -> float | None:
    """Median seconds between consecutive logged records of the same launch, every launch's records
    (superseded ones too); None without timestamps."""
    _, d_t, _ = intervals(snap.raw)
    return float(np.median(d_t)) if d_t.size else None


def is_finished(snap: Snapshot) -> bool:
    """The latest launch logged its completion, or the latest step plus log_freq reaches train_num_steps."""
    if snap.segments and snap.segments[-1].completed:
        return True
    if not len(snap.frame):
        return False
    latest = int(snap.frame["step"].iloc[-1])
    total = _total_steps(snap)
    log_freq = as_number(config_value(snap.config, "trainer", "log_freq")) or 1
    return total is not None and latest + log_freq >= total


def _total_steps(snap: Snapshot) -> int | None:
    total = as_number(config_value(snap.config, "trainer", "train_num_steps"))
    if total is None and snap.segments:
        total = snap.segments[-1].total_steps
    return int(total) if total else None


def _log_span(snap: Snapshot) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """The log's first and last timestamps over every launch (superseded ones too)."""
    firsts = [s.first_time for s in snap.segments if s.first_time is not None]
    lasts = [s.last_time for s in snap.segments if s.last_time is not None]
    return (min(firsts) if firsts else None), (max(lasts) if lasts else None)


def run_state(snap: Snapshot, now: float | None = None, *, stopped_after: float = STOPPED_AFTER_SECONDS,
              usual: float | None | bool = False) -> RunState:
    """The state of `snap`'s run at `now` (epoch seconds; default: the clock).

    `usual`: the usual interval when the caller already has it (False: computed here). Rules:
    unreachable while the source says so; finished when the latest launch logged its completion
    or reached train_num_steps; otherwise by the silence since the files were last written:
    stalled past `events.stall_threshold(usual)`, stopped past `stopped_after` too, else live.
    No mtime (and not finished): unknown — a state is never guessed.
    """
    now = _time.time() if now is None else float(now)
    usual_s = usual_interval(snap) if usual is False else usual
    first_t, last_t = _log_span(snap)
    facts = _Facts(latest=int(snap.frame["step"].iloc[-1]) if len(snap.frame) else None, total=_total_steps(snap),
                   written=snap.last_write_time, unreachable_since=snap.unreachable_since, finished=is_finished(snap),
                   usual=usual_s, span=(last_t - first_t).total_seconds() if first_t is not None and last_t is not None
                   else None,
                   last_log=next((s.last_time for s in reversed(snap.segments) if s.last_time is not None), None))
    return _judge(facts, now, stopped_after)


def restate(state: RunState, now: float) -> RunState:
    """The same run's state at a later `now`, from an earlier RunState alone: nothing was written since
    (the caller knows, e.g. from the files' unchanged mtime), so only the silence has grown.

    Why: a list of runs (the run picker) keeps one RunState per run it does not follow instead of
    its whole snapshot, and asks it again as time passes — by the same rules as `run_state`.
    """
    facts = _Facts(latest=state.latest_step, total=state.total_steps, written=state.last_written,
                   unreachable_since=state.unreachable_since, finished=state.state == "finished",
                   usual=state.usual_interval_seconds, span=state.span_seconds, last_log=state.last_log_time)
    return _judge(facts, float(now), state.stopped_after_seconds)


@dataclass(frozen=True)
class _Facts:
    """What a run's state is decided from, besides the clock."""

    latest: int | None
    total: int | None
    written: float | None
    unreachable_since: float | None
    finished: bool
    usual: float | None
    span: float | None
    last_log: pd.Timestamp | None


def _judge(f: _Facts, now: float, stopped_after: float) -> RunState:
    silent = None if f.written is None else max(0.0, now - f.written)
    limit = stall_threshold(f.usual)
    at = f"step {f.latest:,}" + (f" of {f.total:,}" if f.total else "") if f.latest is not None else "no step logged yet"
    finished_at = None
    show_eta = False
    if f.unreachable_since is not None:
        state = "unreachable"
        desc = f"unreachable for {duration(now - f.unreachable_since)}: its files cannot be read now"
        desc += f" (last written {age(silent)}, at {at})" if silent is not None else f" (at {at})"
    elif f.finished:
        state, finished_at = "finished", f.written
        desc = "finished" + (f" {age(silent)}" if silent is not None else "")
        desc += f" after {duration(f.span)}" if f.span is not None else " (the log has no timestamps: how long it took is unknown)"
    elif silent is None:
        state = "unknown"
        desc = f"unknown: the files' modification time is not available ({at})"
    elif silent > stopped_after and (limit is None or silent > limit):
        state = "stopped"
        desc = f"stopped {age(silent)} at {at}"
    elif limit is not None and silent > limit:
        state = "stalled"
        desc = f"stalled: no line for {duration(silent)} (usual {duration(f.usual)}), at {at}"
    else:
        state, show_eta = "live", True
        desc = f"live: last line {age(silent)}, at {at}"
        if f.usual is None:
            desc += " (the log has no timestamps, so a stall cannot be told from a slow step)"
    return RunState(state=state, as_of=now, last_written=f.written, last_log_time=f.last_log, silent_seconds=silent,
                    usual_interval_seconds=f.usual, stall_after_seconds=limit, stopped_after_seconds=stopped_after,
                    latest_step=f.latest, total_steps=f.total, finished_at=finished_at,
                    duration_seconds=f.span if state == "finished" else None, description=desc, show_eta=show_eta,
                    unreachable_since=f.unreachable_since, span_seconds=f.span)
