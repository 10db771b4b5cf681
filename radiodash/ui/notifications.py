"""Notifications in the dashboard server: the watcher, once per server process, and the Live page's panel.

With `RADIODASH_NOTIFY` (or `RADIODASH_NOTIFY_CONFIG`) set, `app.py` calls `start(settings)` after
the token gate: the first page view starts the same `notify.Watch` as `python -m radiodash watch`
(a `st.cache_resource`, so one per server however many sessions), on the server's roots. The
panel says notifications are on and to how many targets — never a URL, not even masked: the
URLs hold secrets — and offers a test notification to the configured targets only.

`fleet()` is the server's shared `Fleet` of every run under the roots; the watcher uses it, and a
page that lists every run (a team overview) can use the same one.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from ..fleet import Fleet
from ..notify import NoTargets, StateLocked, StateUnusable, Watch, WatchSettings
from . import session
from .settings import Settings

TEST_WAIT_SECONDS = 20.0  # how long the button's viewer waits for the targets' answers (Apprise's timeouts are shorter)
#: The watcher's first scan waits this long after the page view that started it. Why: that scan parses every run's
#: config header (ast.literal_eval) while Streamlit compiles the page (ast.parse), and CPython 3.11's ast is not
#: thread-safe (gh-106905: "AST constructor recursion depth mismatch", raised in either thread).
FIRST_SCAN_DELAY = 5.0


@dataclass(frozen=True)
class Running:
    """The server's watcher, or why notifications are configured but not running (no URL in it)."""

    watch: Watch | None
    problem: str | None = None


def default_base_url() -> str:
    """This server's address for the links in messages: `server.address` (this machine's name when it
    listens on every interface), `server.port` and `server.baseUrlPath`. RADIODASH_BASE_URL overrides it."""
    address = str(st.get_option("server.address") or "")
    host = address if address not in ("", "0.0.0.0", "::") else socket.gethostname()
    path = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return f"http://{host}:{st.get_option('server.port')}/" + (f"{path}/" if path else "")


@st.cache_resource(on_release=lambda f: f.stop())
def fleet(roots: tuple[str, ...], interval: float, min_analysis_seconds: float = 0.0) -> Fleet:
    """The server's fleet of every run under `roots` (locations), scanning every `interval` seconds once started,
    on the pages' clock and stop threshold (RADIODASH_CLOCK, RADIODASH_STOPPED_AFTER): the Overview and the Live
    page say the same state."""
    from . import clock

    return Fleet(roots, interval=interval, clock=clock.now, stopped_after=clock.stopped_after(),
                 min_analysis_seconds=min_analysis_seconds)


def _release(r: Running) -> None:
    if r.watch is not None:
        r.watch.close(stop_fleet=False)  # the fleet is released with its own cache entry


@st.cache_resource(on_release=_release)
def _running(roots: tuple[str, ...]) -> Running:
    try:
        settings = WatchSettings.from_env(os.environ, roots, base_url=default_base_url())
    except ValueError as e:
        return Running(None, f"{e}.")
    try:
        watch = Watch(settings, fleet=fleet(roots, settings.interval))
    except NoTargets:
        return Running(None, "none of the notification targets is a URL Apprise understands "
                             "(the server log says which, with its secrets masked).")
    except StateLocked:
        return Running(None, "another RadioDash watcher of the same runs holds the state file; "
                             "that one sends the notifications.")
    except StateUnusable:
        return Running(None, "its state file cannot be used (the server log says which; move it away to start afresh).")
    except OSError as e:
        return Running(None, f"the state folder cannot be used ({e.strerror or type(e).__name__}).")
    return Running(watch.start(FIRST_SCAN_DELAY))


def start(settings: Settings) -> Running | None:
    """Start the server's watcher once, when notifications are configured; None when they are not."""
    if not WatchSettings.configured(os.environ) or not settings.roots:
        return None
    return _running(settings.roots.locations)


def _targets(n: int) -> str:
    return f"{n} target" + ("" if n == 1 else "s")


def panel() -> None:
    """The Live page's notification line and test button (nothing when notifications are not configured)."""
    running = start(session.settings())
    if running is None:
        return
    _panel(running)


@st.fragment
def _panel(running: Running) -> None:
    watch = running.watch
    if watch is None:
        st.warning(f"Notifications are configured but not running: {running.problem}")
        return
    what = "new warnings and errors, stalls, stops, finishes and crashes"
    if watch.settings.checkpoints:
        what += ", and each new checkpoint"
    under = "the root" if len(watch.settings.roots) == 1 else "the roots"
    line = (f"Notifications on: to {_targets(watch.target_count)}. Every run under {under} is checked every "
            f"{watch.fleet.interval:g} s for {what}.")
    if watch.targets.unusable:
        line += (f" {watch.targets.unusable} more target(s) given could not be used (the server log says why, "
                 "with secrets masked).")
    pending = watch.pending()
    if pending == 1:
        line += " 1 notification is waiting for a target that has not taken it yet (retried with backoff)."
    elif pending:
        line += f" {pending} notifications are waiting for targets that have not taken them yet (retried with backoff)."
    left, right = st.columns([3, 1])
    left.caption(line)
    if right.button("Send a test notification", key="notify_test",
                    help="To the configured targets only; each says whether it took it."):
        with st.spinner(f"Sending a test notification to {_targets(watch.target_count)}…"):
            test = watch.send_test()
            test.wait(TEST_WAIT_SECONDS)
        n, ok = test.total, test.accepted
        if ok == n:
            st.success(f"Test notification taken by {'the target' if n == 1 else f'all {n} targets'}.")
        else:
            refused = ", ".join(str(i) for i in test.refused)
            silent = n - ok - len(test.refused)
            parts = [f"taken by {ok} of {n} targets"]
            if refused:
                parts.append(f"not taken by target(s) {refused} (in the order configured)")
            if silent:
                parts.append(f"{silent} had not answered after {TEST_WAIT_SECONDS:g} s")
            st.warning("Test notification " + "; ".join(parts) + ". The server log says why, with secrets masked.")
