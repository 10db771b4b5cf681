"""The text of a notification: the run, what happened, the step and the log's time, what to do, a link.

Plain text on purpose (Apprise is told so): log text in a message is never rendered as Markdown
or HTML by a chat client, and an e-mail reads the same as a phone notification.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pandas as pd

from ..fleet import RunSummary
from .rules import Change

#: Apprise's notify types (apprise.NotifyType values), by a change's severity
NOTIFY_TYPES = {"error": "failure", "warning": "warning", "success": "success", "info": "info"}


@dataclass(frozen=True)
class Message:
    """One notification, as queued for every target."""

    run: str  # the run's key (its real path); "" for a test
    kind: str  # alert | state | crash | checkpoint | test
    code: str
    title: str
    body: str
    notify_type: str  # info | success | warning | failure


def link(base_url: str | None, rel: str, view: tuple[tuple[str, str], ...] = ()) -> str | None:
    """`base_url` + `?run=` + the run's name under its root, percent-encoded (+ the view's parameters)."""
    if not base_url:
        return None
    base = base_url.rstrip("?&")
    query = "run=" + quote(rel, safe="") + ("&" + urlencode(list(view)) if view else "")
    return base + ("&" if "?" in base else "?") + query


def log_time_text(t: pd.Timestamp | None) -> str:
    """The log's own timestamp as it wrote it (local time of the training machine, to the second)."""
    return "no timestamp in the log there" if t is None or pd.isna(t) else f"log time {t:%Y-%m-%d %H:%M:%S}"


def _headline(c: Change) -> str:
    return {"alert": f"{c.severity} {c.code}", "state": c.code, "crash": "crashed",
            "checkpoint": "checkpoint"}.get(c.kind, c.code)


def compose(s: RunSummary, c: Change, base_url: str | None) -> Message:
    """The message for change `c` of run `s`."""
    if c.step is None:
        at = "no step logged yet"
    else:
        at = f"step {c.step:,}" + (f" of {s.train_num_steps:,}" if s.train_num_steps else "")
    url = link(base_url, s.rel, c.view)
    lines = [f"Run: {s.rel} (under {s.root})",
             f"What happened: {c.what}",
             f"When: {at}, {log_time_text(c.log_time)}"]
    if c.advice:
        lines.append(f"What to do: {c.advice}")
    if c.kind != "state":
        lines.append(f"The run now: {s.state_description}")
    lines.append(f"Open: {url}" if url else f"Open: ?run={quote(s.rel, safe='')} on the RadioDash server "
                 "(the watcher was started without --base-url, so it cannot link it)")
    return Message(s.key, c.kind, c.code, f"RadioDash: {s.rel}: {_headline(c)}", "\n".join(lines),
                   NOTIFY_TYPES.get(c.severity, "info"))


def test_message(base_url: str | None, targets: int, runs: int) -> Message:
    """What the "send a test notification" button sends."""
    body = (f"A test notification from RadioDash: this target is one of the {targets} it notifies about "
            f"the {runs} run(s) it watches.") if targets > 1 else (
            f"A test notification from RadioDash: this is the target it notifies about the {runs} run(s) it watches.")
    if base_url:
        body += f"\nOpen: {base_url}"
    return Message("", "test", "test", "RadioDash: test notification", body, "info")
