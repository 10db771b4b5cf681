"""The clock the pages judge a run's state by, and the silence after which an unfinished run is "stopped".

`RADIODASH_STOPPED_AFTER` (seconds, default 3600): an unfinished run silent longer than this (and
longer than its stall limit) is "stopped", not "stalled".
`RADIODASH_CLOCK` (epoch seconds) freezes the pages' clock — for tests only: AppTest runs the
run-state transitions (live → stalled → stopped, → finished) on real files whose mtime is set with
os.utime, and moves this clock between runs instead of waiting. Never set it on a real server.
Both are read on every call (cheap), so a test can change them between two runs of a page.
"""
from __future__ import annotations

import math
import os
import time

from ..analysis.state import STOPPED_AFTER_SECONDS


def _env_number(name: str) -> float | None:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def now() -> float:
    """Epoch seconds: the real clock, or RADIODASH_CLOCK when a test froze it."""
    frozen = _env_number("RADIODASH_CLOCK")
    return time.time() if frozen is None else frozen


def stopped_after() -> float:
    """Seconds of silence after which an unfinished run is stopped (RADIODASH_STOPPED_AFTER, default 1 h)."""
    value = _env_number("RADIODASH_STOPPED_AFTER")
    return value if value is not None and value > 0 else STOPPED_AFTER_SECONDS
