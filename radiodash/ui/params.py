"""URL parameters, read defensively: whatever a visitor puts in the address, the page gets a
finite number in range, a bounded string or nothing, and the visitor one sentence.

Bound widgets (`bind="query-params"`) read the URL themselves, and Streamlit 1.67's number
input turns `?until=1e999` or `?from=inf` into `int(inf)`: an OverflowError before any page
code runs. So `screen()` runs in app.py before any page and its widgets: every parameter that
is too long, repeated too often or, for a known key, not a valid value is taken out of the
address and out of what the widgets are seeded from. Pages (the Report page too) then read
parameters with `text()` / `texts()` / `number()`, which never raise.
"""
from __future__ import annotations

import math
import time
from typing import Callable

import streamlit as st

from ..text import md_escape

MAX_KEY_CHARS = 64
MAX_VALUE_CHARS = 1024  # a run name is refused past security.MAX_NAME_CHARS anyway
MAX_VALUES = 32  # repeated keys (?metrics=a&metrics=b…)
MAX_STEP = 10**12  # above any real step count, far below float precision trouble


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def is_step(text: str) -> bool:
    """A step number: finite, 0 ≤ value ≤ MAX_STEP (Streamlit's number inputs accept "1200.0")."""
    value = _number(text)
    return value is not None and 0 <= value <= MAX_STEP


def is_fraction(text: str) -> bool:
    """A smoothing weight: finite, 0 ≤ value < 1."""
    value = _number(text)
    return value is not None and 0 <= value < 1


def is_flag(text: str) -> bool:
    return text.lower() in ("true", "false")


#: The value each numeric or boolean URL key of the pages must have; other keys are only bounded.
RULES: dict[str, Callable[[str], bool]] = {
    "from": is_step, "until": is_step, "rep_from": is_step, "rep_until": is_step,
    "smooth": is_fraction, "cmp_smooth": is_fraction, "cmp_log": is_flag,
}


def screen(rules: dict[str, Callable[[str], bool]] = RULES) -> list[str]:
    """Take every unusable parameter out of the address; return the names of those taken out.

    Call before any widget of the run is created (app.py does, before the page runs).
    """
    dropped = []
    for key in list(st.query_params):
        values = st.query_params.get_all(key)
        rule = rules.get(key)
        bad = (len(key) > MAX_KEY_CHARS or len(values) > MAX_VALUES or any(len(v) > MAX_VALUE_CHARS for v in values)
               or (rule is not None and not all(rule(v) for v in values)))
        if bad:
            _forget(key)
            dropped.append(key)
    return dropped


def ignored_sentence(keys: list[str]) -> str | None:
    """One sentence naming what `screen` took out (Markdown-escaped: key names come from the URL)."""
    if not keys:
        return None
    shown = [k if len(k) <= 24 else k[:24] + "…" for k in keys[:5]]
    more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
    return md_escape(f"Ignored in the address: {', '.join(shown)}{more} (not a usable value).")


def _forget(key: str) -> None:
    """Remove `key` from the address bar and from the values bound widgets are seeded from.

    The seeding copy (`_initial_query_params`) has no public API in Streamlit 1.67; deleting
    through `st.query_params` leaves it, and `del` refuses a key bound to a widget. The fuzz
    test (tests/test_params.py) fails if a Streamlit upgrade moves either.
    """
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return
    with ctx.session_state.query_params() as qp:
        qp.remove_param(key)
        qp._initial_query_params.pop(key, None)


def text(key: str, max_chars: int = MAX_VALUE_CHARS) -> str | None:
    """The last value of `key`, or None when absent or longer than `max_chars`."""
    try:
        values = st.query_params.get_all(key)
    except Exception:  # noqa: BLE001 - never let a parameter take the page down
        return None
    if not values or len(values[-1]) > max_chars:
        return None
    return values[-1]


def texts(key: str, max_items: int = MAX_VALUES, max_chars: int = MAX_VALUE_CHARS, sep: str | None = ",") -> list[str]:
    """Every value of `key` (repeated keys, and `sep`-separated lists within one), de-duplicated,
    at most `max_items`, each at most `max_chars` (longer ones dropped)."""
    try:
        values = st.query_params.get_all(key)
    except Exception:  # noqa: BLE001
        return []
    items = [p for v in values for p in (v.split(sep) if sep else [v])]
    return list(dict.fromkeys(p for p in items if p and len(p) <= max_chars))[:max_items]


def number(key: str, lo: float, hi: float, default: float | None = None) -> float | None:
    """The last value of `key` as a finite number within [lo, hi], else `default`."""
    value = _number(text(key) or "")
    return value if value is not None and lo <= value <= hi else default


#: How long the "Ignored in the address" note is shown again on every rerun of the session.
IGNORED_NOTE_SECONDS = 10.0


def ignored_note(keys: list[str]) -> str | None:
    """The sentence to toast on this run: the one `screen` produced now, or the one of a few seconds ago.

    Why again: taking the junk out of the address makes the browser rerun the page at once, and a toast
    that a rerun does not send again can vanish before it was ever drawn (seen under load).
    """
    sentence = ignored_sentence(keys)
    if sentence:
        st.session_state["_ignored_note"] = (sentence, time.monotonic())
        return sentence
    held = st.session_state.get("_ignored_note")
    if held and time.monotonic() - held[1] < IGNORED_NOTE_SECONDS:
        return held[0]
    return None

