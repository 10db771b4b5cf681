"""Every run under the roots, followed cheaply, each summed up in one small record.

Why a fleet, next to the dashboard's registry: the registry follows the few runs people look at;
whatever watches *all* runs (the notification watcher, a team overview page) needs every run under
the roots, new ones included, at a cost that stays small with hundreds of finished runs. So each
`interval` a `Fleet`:

- lists the runs under each root (`Roots.list`: the same rule and the same names as the sidebar; a
  remote root is listed over its host's shared connection);
- keeps one `Run` per run and refreshes it (a run whose files did not change costs one directory
  listing; a RadioDiff run's table is small: ~1,500 records for 150,000 steps at log_freq 100);
- analyses a run (`analysis.analyze`) only when its version changed (and, with `min_analysis_seconds`,
  at most that often: the team overview's alerts may lag its steps by that much), and takes its state as of
  each scan (`analysis.run_state`: it moves with the clock even when no byte was written); the
  header figures and alerts (`analysis.live_header`) are redone when the version or the state
  changed, and at every scan while stalled or stopped (that alert counts the silence);
- drops a run whose files disappeared (not a run of a root that could not be listed this time: a
  host that is down keeps its runs, each one `unreachable` since its last good read).

The summaries are immutable and the fleet is thread-safe: one fleet can serve every viewer and
the watcher. No Streamlit here (the UI wraps it in `ui/notifications.py`).
"""
from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import pandas as pd

from .analysis import Analysis, LiveHeader, analyze, live_header, run_state
from .analysis.state import STOPPED_AFTER_SECONDS
from .analysis.events import _time_at
from .model import as_number, config_value
from .roots import Listed, Listing, Roots
from .run import Run

log = logging.getLogger("radiodash.fleet")

DEFAULT_INTERVAL = 10.0  # seconds between scans


@dataclass(frozen=True)
class AlertInfo:
    """One alert of a run, as the analysis raised it, with the log's own time at its step."""

    code: str
    severity: str  # error | warning | info
    message: str
    action: str  # what to do, one sentence ("" for information only)
    step: int | None
    log_time: pd.Timestamp | None  # the log's timestamp at `step` (naive local time, as logged)
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CrashInfo:
    """A launch after which a console capture shows a Python traceback."""

    segment: int  # the launch's index in the run (0 = first)
    file: str  # the log file's name
    last_step: int | None  # the launch's last logged step
    last_time: pd.Timestamp | None


@dataclass(frozen=True)
class RunSummary:
    """What a watcher or an overview needs of one run, at one scan."""

    key: str  # the run's real path or URL: unique, stable across restarts
    name: str  # its folder or file name
    rel: str  # its name as `?run=` takes it (`Roots.run_name`: the path under its root, after the root's name
    #           when the server has several roots)
    root: str  # the root's location (a local folder's real path or a URL)
    machine: str  # the machine its files are on
    version: int  # the run store's version this summary was computed from
    as_of: float  # epoch seconds the state is true at
    state: str  # live | stalled | stopped | finished | unreachable | unknown (analysis.state)
    state_description: str  # one true line: "stalled: no line for 14 min 00 s (usual 20 s), at step …"
    latest_step: int | None
    train_num_steps: int | None
    log_freq: int | None
    steps_per_hour: float | None
    eta_seconds: float | None  # only while live
    last_written: float | None  # epoch seconds: the files' newest mtime
    last_log_time: pd.Timestamp | None  # the log's last timestamp
    alerts: tuple[AlertInfo, ...]  # ranked: errors, warnings, then information
    milestone: int | None  # the latest checkpoint milestone K the log reached (model-K.pt)
    milestone_step: int | None
    milestone_time: pd.Timestamp | None
    crashes: tuple[CrashInfo, ...]

    @property
    def worst(self) -> AlertInfo | None:
        """The most severe alert (the first of the ranked list), or None."""
        return self.alerts[0] if self.alerts else None

    @property
    def crashed(self) -> bool:
        """A console capture of the run shows a traceback."""
        return bool(self.crashes)


Listener = Callable[[tuple[RunSummary, ...], float], None]


@dataclass
class _Followed:
    entry: Listed
    run: Run
    basis: Analysis | None = None
    basis_version: int = -1
    analysed_at: float = float("-inf")  # monotonic time of the basis' analysis
    head_version: int = -1  # the run store's version `head` was computed from
    head: LiveHeader | None = None  # live_header of the basis, redone when the version or the state changes
    log_times: dict[int | None, pd.Timestamp | None] = field(default_factory=dict)  # step -> log time, this version
    failed: bool = False  # its last refresh raised (said once in the log until it works again)


class Fleet:
    """Every run under `roots`, refreshed and summed up every `interval` seconds (see the module docstring).

    `scan()` does one pass synchronously (tests drive it with a controlled `now`); `start()` runs
    passes on a thread of its own. Listeners get every pass's summaries, on that thread.
    `make_run` opens a run from its path (a local `Run` by default: any `Source` works).
    """

    def __init__(self, roots: Roots | Iterable[str | os.PathLike], *, interval: float = DEFAULT_INTERVAL,
                 clock: Callable[[], float] = time.time, make_run: Callable[[str], Run] | None = None,
                 max_depth: int = 3, stopped_after: float = STOPPED_AFTER_SECONDS,
                 min_analysis_seconds: float = 0.0) -> None:
        self.roots = roots if isinstance(roots, Roots) else Roots.parse(roots)
        self.interval = float(interval)
        self.clock = clock
        self.make_run = make_run or (lambda location: Run(self.roots.source(location)))
        self.max_depth = max_depth
        self.stopped_after = stopped_after  # the silence that makes an unfinished run "stopped" (as on the pages)
        # a changed run is analysed again (phases, spikes, statistics: ~75 % of a scan's CPU for live runs) at most
        # this often; its step, throughput and state are of every scan. 0: every version (the notification watcher)
        self.min_analysis_seconds = min_analysis_seconds
        self._lock = threading.Lock()  # guards _summaries and _listeners
        self._scan_lock = threading.Lock()  # one pass at a time
        self._followed: dict[str, _Followed] = {}
        self._summaries: dict[str, RunSummary] = {}
        self._listeners: list[Listener] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.scans = 0
        self.last_scan_at: float | None = None
        self.last_scan_seconds: float | None = None  # wall time the last pass took
        self.listing_problem: str | None = None  # why the last listing failed (the previous one is kept)
        self._due_lock = threading.Lock()  # scan_if_due: one caller scans, the others go on
        self._pass_started: float | None = None  # monotonic time the last pass started

    # ------------------------------------------------------------------ reading

    def summaries(self) -> list[RunSummary]:
        """Every run's latest summary, most recently written first."""
        with self._lock:
            found = list(self._summaries.values())
        return sorted(found, key=lambda s: (s.last_written or 0.0, s.key), reverse=True)

    def summary(self, key: str) -> RunSummary | None:
        """The summary of the run at `key` (its real path), or None."""
        with self._lock:
            return self._summaries.get(key)

    def analysis(self, key: str) -> Analysis | None:
        """The analysis of the run's latest version (what its alerts came from), or None."""
        f = self._followed.get(key)
        return f.basis if f is not None else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._summaries)

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(summaries, now)` after every pass (on the scanning thread)."""
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    # ------------------------------------------------------------------ scanning

    def scan(self, now: float | None = None) -> tuple[RunSummary, ...]:
        """One pass: list, refresh, summarise, tell the listeners. Returns the summaries."""
        with self._scan_lock:
            self._pass_started = time.monotonic()
            t0 = time.perf_counter()
            now = self.clock() if now is None else float(now)
            self._sync(self._list())
            out: dict[str, RunSummary] = {}
            for key, f in list(self._followed.items()):
                s = self._summarize(key, f, now)
                if s is not None:
                    out[key] = s
            with self._lock:
                self._summaries = out
                listeners = list(self._listeners)
            self.scans += 1
            self.last_scan_at = now
            self.last_scan_seconds = time.perf_counter() - t0
            result = tuple(out.values())
        for listener in listeners:
            try:
                listener(result, now)
            except Exception:  # noqa: BLE001 - one bad listener must not stop the scans
                log.exception("a fleet listener failed")
        return result

    def _list(self) -> Listing:
        """Every run under the roots; a root that cannot be listed now is named in `problems`."""
        listing = self.roots.list(self.max_depth)
        problem = "; ".join(why for _, why in listing.problems) or None
        if problem and problem != self.listing_problem:
            log.warning("listing the runs failed (%s); that root's runs are kept", problem)
        self.listing_problem = problem
        return listing

    def _sync(self, listing: Listing) -> None:
        listed = {}
        for e in listing.runs:
            listed.setdefault(e.location, e)  # nested roots: the first one names it
        for key in [k for k, f in self._followed.items() if k not in listed and listing.complete(f.entry.root)]:
            self._followed.pop(key).run.close()  # its files are gone: dropped
        for key, entry in listed.items():
            f = self._followed.get(key)
            if f is None:
                self._followed[key] = _Followed(entry, self.make_run(key))
            else:
                f.entry = entry

    def _summarize(self, key: str, f: _Followed, now: float) -> RunSummary | None:
        try:
            f.run.refresh()  # an unchanged run: one listing
            snap = f.run.snapshot()
            mono = time.monotonic()
            if f.basis is None or (f.basis_version != snap.version
                                   and mono - f.analysed_at >= self.min_analysis_seconds):
                f.basis, f.basis_version, f.analysed_at = analyze(snap, now=now), snap.version, mono  # once per version
                f.head = None  # its alerts are the basis': redone
            state = run_state(snap, now, usual=f.basis.throughput.typical_interval_seconds,
                              stopped_after=self.stopped_after)
            # step, throughput and state of this version, the alerts of the basis (the state's alert included);
            # the same as the last scan's while neither the version nor the state changed — but a stalled/stopped
            # alert counts the silence: redone
            if (f.head is None or f.head_version != snap.version or f.head.state.state != state.state
                    or state.state in ("stalled", "stopped")):
                f.head = live_header(snap, f.basis, now, stopped_after=self.stopped_after)
                f.head_version, f.log_times = snap.version, {}
            head = f.head
        except Exception:  # noqa: BLE001 - a run that cannot be read must not stop the others
            if not f.failed:
                log.exception("reading %s failed; it is read again from its start at the next scan", key)
            # the failed read may have consumed lines it never applied (CPython 3.11's ast is not thread-safe:
            # a literal_eval racing Streamlit's compile can raise SystemError mid-chunk): a fresh Run loses nothing
            try:
                f.run.close()
            finally:
                self._followed[key] = _Followed(f.entry, self.make_run(key), failed=True)
            with self._lock:
                return self._summaries.get(key)
        f.failed = False
        basis, tp = f.basis, head.throughput
        config = snap.config
        checkpoints = [e for e in basis.events if e.kind == "checkpoint"]
        last_ckpt = checkpoints[-1] if checkpoints else None
        log_freq = as_number(config_value(config, "trainer", "log_freq"))
        return RunSummary(
            key=key, name=snap.name, rel=f.entry.name, root=f.entry.root.location, machine=f.entry.machine,
            version=snap.version, as_of=now,
            state=state.state, state_description=state.description, latest_step=state.latest_step,
            train_num_steps=state.total_steps, log_freq=int(log_freq) if log_freq else None,
            steps_per_hour=tp.steps_per_hour, eta_seconds=tp.eta_seconds if state.show_eta else None,
            last_written=state.last_written, last_log_time=state.last_log_time,
            alerts=tuple(AlertInfo(a.code, a.severity, a.message, a.action, a.step, self._log_time(f, snap, a.step),
                                   dict(a.detail)) for a in head.alerts),
            milestone=int(last_ckpt.detail["milestone"]) if last_ckpt else None,
            milestone_step=last_ckpt.step if last_ckpt else None,
            milestone_time=last_ckpt.time if last_ckpt else None,
            crashes=tuple(CrashInfo(s.index, os.path.basename(s.file), s.last_step, s.last_time)
                          for s in snap.segments if s.crashed),
        )

    @staticmethod
    def _log_time(f: _Followed, snap, step: int | None) -> pd.Timestamp | None:
        if step not in f.log_times:
            f.log_times[step] = _time_at(snap.frame, step)
        return f.log_times[step]

    def scan_if_due(self) -> bool:
        """One pass, if the last one started about `interval` seconds ago or more, no other pass is running and
        no thread of its own scans (`start`). For a fleet that scans only while someone looks at it (the
        overview: each viewer's redraw calls this; one of them scans, the others draw the summaries they
        have): nobody looking costs nothing. Returns whether it scanned."""
        if self.is_alive():
            return False
        started = self._pass_started
        # three quarters: a caller every `interval` (a redraw timer) must not skip every other pass on jitter
        if started is not None and time.monotonic() - started < 0.75 * self.interval:
            return False
        if not self._due_lock.acquire(blocking=False):
            return False
        try:
            self.scan()
        finally:
            self._due_lock.release()
        return True

    # ------------------------------------------------------------------ the thread

    def start(self, delay: float = 0.0) -> "Fleet":
        """Scan after `delay` seconds, then every `interval` seconds, on a daemon thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, args=(delay,), name="radiodash-fleet", daemon=True)
            self._thread.start()
        return self

    def _loop(self, delay: float) -> None:
        if delay > 0:
            self._stop.wait(delay)
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.scan()
            except Exception:  # noqa: BLE001 - the loop outlives a bad pass
                log.exception("a fleet scan failed")
            # the interval is from start to start: a slow pass does not stretch the cadence
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Stop scanning and close every run."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        with self._scan_lock:
            for f in self._followed.values():
                f.run.close()
            self._followed.clear()


# ------------------------------------------------------------------ the team overview's table

#: The states in the order a reader scans them (what needs attention first).
STATE_ORDER = ("stalled", "stopped", "unreachable", "live", "finished", "unknown")


def overview_frame(summaries: Iterable[RunSummary], link: Callable[[str], str] = lambda name: f"?run={name}") -> pd.DataFrame:
    """One row per run, for the team overview: what a person scanning every run of the group needs.

    Numbers stay numbers (a table sorts them); each column's unit is in its name. `progress` is the
    latest step over train_num_steps (None when the config does not say; 1 once finished), `ETA (h)` only for live runs
    (the state decides: analysis.state), `last written` the files' newest modification time (UTC; it is
    when the trainer last wrote, not when this server read), `last log line` the log's own clock (naive
    local time: the log has no zone). `alert` is the most severe alert in one line.
    """
    rows = []
    for s in summaries:
        worst = s.worst
        progress = None
        if s.state == "finished":  # its last logged step is within log_freq of the end (or the trainer said so)
            progress = 1.0
        elif s.latest_step is not None and s.train_num_steps:
            progress = min(1.0, max(0.0, s.latest_step / s.train_num_steps))
        rows.append({
            "run": s.rel, "machine": s.machine, "state": s.state,
            "step": s.latest_step, "of": s.train_num_steps, "progress": progress,
            # 719,856, not 719,856.039; none when unknown (or not finite)
            "steps/hour": round(s.steps_per_hour) if s.steps_per_hour is not None and math.isfinite(s.steps_per_hour) else None,
            "ETA (h)": s.eta_seconds / 3600.0 if s.eta_seconds is not None else None,
            "last written": pd.Timestamp(s.last_written, unit="s", tz="UTC") if s.last_written else pd.NaT,
            "last log line": s.last_log_time if s.last_log_time is not None else pd.NaT,
            "alerts": len([a for a in s.alerts if a.severity in ("error", "warning")]),
            "alert": f"{worst.severity}: {worst.message}" if worst is not None else "",
            "open": link(s.rel),
        })
    columns = ["run", "machine", "state", "step", "of", "progress", "steps/hour", "ETA (h)", "last written",
               "last log line", "alerts", "alert", "open"]
    frame = pd.DataFrame(rows, columns=columns)
    for c in ("step", "of", "steps/hour", "alerts"):
        frame[c] = frame[c].astype("Int64")
    for c in ("progress", "ETA (h)"):
        frame[c] = frame[c].astype("Float64")
    order = {s: i for i, s in enumerate(STATE_ORDER)}
    frame["_order"] = frame["state"].map(order).fillna(len(order))
    frame = frame.sort_values(["_order", "last written"], ascending=[True, False], na_position="last", kind="stable")
    return frame.drop(columns="_order").reset_index(drop=True)


def state_counts(summaries: Iterable[RunSummary]) -> dict[str, int]:
    """{state: how many runs}, in STATE_ORDER, states with no run left out."""
    counts: dict[str, int] = {}
    for s in summaries:
        counts[s.state] = counts.get(s.state, 0) + 1
    return {k: counts[k] for k in (*STATE_ORDER, *sorted(set(counts) - set(STATE_ORDER))) if k in counts}
