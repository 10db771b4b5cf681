"""When a change of a run is worth a notification: pure functions of a run summary and of what was said before.

The rules (the README's "Notifications" section says the same):

- an alert of severity warning or error that the run did not have: once per run and code; said
  again only after it cleared (the analysis no longer raises it) and came back;
- the run's state becomes stalled, stopped or finished (each a change from the last state said;
  the stalled/stopped *alerts* are this rule, not a second message);
- a console capture shows a launch crashed (a Python traceback): once per launch;
- optionally, each new checkpoint milestone (several new ones at once: one message).

A run nobody told us about is *news* only when it was written after the watcher last looked
(`is_news`): at the first start every run is taken as it is, silently (no flood of old finished
runs); a run that appears later, or was written while the watcher was down, is told in full.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import pandas as pd

from ..analysis.alerts import ACTIONS
from ..fleet import AlertInfo, RunSummary

NOTIFIED_SEVERITIES = frozenset({"warning", "error"})
STATE_NOTICES = ("stalled", "stopped", "finished")
#: states remembered between scans (unreachable and unknown say nothing about the trainer: the last real state stays)
TRACKED_STATES = frozenset({"live", "stalled", "stopped", "finished"})
#: alerts that are a state: told by the state rule
STATE_ALERTS = frozenset({"stalled", "stopped"})
#: records shown before (and after) an alert's step in the view a message links
VIEW_RECORDS = 50


@dataclass(frozen=True)
class Known:
    """What the watcher has told (or taken as known) about one run: a row of the state file."""

    state: str | None = None
    alerts: frozenset[str] = frozenset()  # warning/error codes told and not cleared since
    crashes: frozenset[int] = frozenset()  # launches whose crash was told
    milestone: int | None = None  # the latest checkpoint milestone told or known

    def to_json(self) -> str:
        return json.dumps({"state": self.state, "alerts": sorted(self.alerts), "crashes": sorted(self.crashes),
                           "milestone": self.milestone})

    @classmethod
    def from_json(cls, text: str) -> "Known":
        d = json.loads(text)
        return cls(d.get("state"), frozenset(d.get("alerts", ())), frozenset(int(c) for c in d.get("crashes", ())),
                   d.get("milestone"))


@dataclass(frozen=True)
class Change:
    """One thing worth telling about a run."""

    kind: str  # alert | state | crash | checkpoint
    code: str  # the alert's code, the new state, "crashed" or "checkpoint"
    severity: str  # error | warning | info | success
    what: str  # what happened, one or two sentences
    step: int | None
    log_time: pd.Timestamp | None  # the log's own time at `step`
    advice: str = ""  # what to do ("" when nothing)
    view: tuple[tuple[str, str], ...] = field(default=())  # extra query parameters of the view to link


def _notable(alerts: tuple[AlertInfo, ...]) -> dict[str, AlertInfo]:
    return {a.code: a for a in alerts if a.severity in NOTIFIED_SEVERITIES and a.code not in STATE_ALERTS}


def baseline(s: RunSummary) -> Known:
    """The run as it is, taken as known without telling anything."""
    return Known(state=s.state if s.state in TRACKED_STATES else None, alerts=frozenset(_notable(s.alerts)),
                 crashes=frozenset(c.segment for c in s.crashes), milestone=s.milestone)


def is_news(s: RunSummary, known: Known | None, last_scan: float | None) -> bool:
    """A run with no record is news when it was written after the watcher's previous scan
    (a new run, or one written while the watcher was down); never at the very first scan."""
    return known is None and last_scan is not None and s.last_written is not None and s.last_written > last_scan


def decide(s: RunSummary, known: Known | None, *, news: bool = False,
           checkpoints: bool = False) -> tuple[Known, list[Change]]:
    """What to tell about `s` given what was told (`known`); returns the new record and the changes.

    `known` None and not `news`: the run is taken as known (`baseline`), nothing is told.
    """
    if known is None:
        if not news:
            return baseline(s), []
        known = Known()
    changes: list[Change] = []

    for c in sorted(s.crashes, key=lambda c: c.segment):
        if c.segment not in known.crashes:
            changes.append(_crash(s, c))

    notable = _notable(s.alerts)
    for code, a in notable.items():  # ranked: errors first
        if code not in known.alerts:
            changes.append(Change("alert", code, a.severity, a.message, a.step, a.log_time, a.action, _view(a, s)))

    state = known.state
    if s.state in TRACKED_STATES and s.state != known.state:
        state = s.state
        if s.state in STATE_NOTICES:
            changes.append(_state(s))

    milestone = known.milestone
    if s.milestone is not None and (milestone is None or s.milestone > milestone):
        if checkpoints:
            changes.append(_checkpoint(s, milestone))
        milestone = s.milestone

    new = replace(known, state=state, alerts=frozenset(notable),
                  crashes=known.crashes | {c.segment for c in s.crashes}, milestone=milestone)
    return new, changes


def _state(s: RunSummary) -> Change:
    alert = next((a for a in s.alerts if a.code == s.state), None)  # stalled/stopped carry their action
    severity = "success" if s.state == "finished" else "warning"
    # "stalled: no line for 14 min 00 s …", "stopped 3.1 d ago at step …", "finished 12 s ago after 8 h 19 min"
    return Change("state", s.state, severity, f"The run {s.state_description}.", s.latest_step, s.last_log_time,
                  alert.action if alert is not None else "")


def _crash(s: RunSummary, c) -> Change:
    after = f" after step {c.last_step:,}" if c.last_step is not None else " before its first step"
    return Change("crash", "crashed", "error",
                  f"The trainer crashed: a Python traceback follows launch {c.segment + 1} in {c.file}{after}.",
                  c.last_step, c.last_time,
                  f"Read the traceback in {c.file}. {ACTIONS[('stopped', 'warning')]}")


def _checkpoint(s: RunSummary, told: int | None) -> Change:
    k = s.milestone
    first = (told or 0) + 1
    reached = (f"checkpoint milestone {k}" if first >= k else f"checkpoint milestones {first} to {k}")
    return Change("checkpoint", "checkpoint", "info",
                  f"The run reached {reached}: model-{k}.pt is saved at step {s.milestone_step:,}.",
                  s.milestone_step, s.milestone_time)


def _view(a: AlertInfo, s: RunSummary) -> tuple[tuple[str, str], ...]:
    """The Live page's view of an alert, as query parameters: the metrics that went non-finite from a
    little before the first bad step; the steps around the largest spike."""
    span = VIEW_RECORDS * s.log_freq if s.log_freq else None
    out: list[tuple[str, str]] = []
    if a.code == "non_finite_loss":
        out += [("metrics", str(m)) for m in a.detail.get("metrics", ())][:4]
        if span and a.step is not None:
            out.append(("from", str(max(0, a.step - span))))
    elif a.code == "loss_spike" and span and a.step is not None:
        out += [("from", str(max(0, a.step - span))), ("until", str(a.step + span))]
    return tuple(out)
