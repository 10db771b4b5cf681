"""Plain-text formatting for every layer (no Streamlit): numbers, ages, durations, markdown escaping."""
from __future__ import annotations

import re

import numpy as np

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
_AUTOLINK = re.compile(r"((?:https?|ftp|mailto|www)(?=\\[:.])|@)", re.I)


def md_escape(text: object) -> str:
    """Text made inert for Streamlit's Markdown (titles, captions): every markup character escaped,
    and GFM's autolinks (`http://…`, `www.…`, `a@b.c`) broken by a zero-width space, since a
    backslash does not stop them."""
    return _AUTOLINK.sub("\\1\u200b", _MD_SPECIAL.sub(r"\\\1", str(text)))


def age(seconds: float | None) -> str:
    """'12 s ago', '3 min ago', '5 h ago', '2 d ago'."""
    if seconds is None:
        return "never"
    s = max(0.0, seconds)
    if s < 60:
        return f"{s:.0f} s ago"
    if s < 3600:
        return f"{s / 60:.0f} min ago"
    if s < 86400:
        return f"{s / 3600:.1f} h ago"
    return f"{s / 86400:.1f} d ago"


def duration(seconds: float | None) -> str:
    """'—' when unknown, else '1 h 05 min', '42 s'."""
    if seconds is None or seconds != seconds:
        return "—"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h} h {m:02d} min"
    d, h = divmod(h, 24)
    return f"{d} d {h} h"


def rate(steps_per_hour: float | None) -> str:
    """Steps per hour with thousands separators ('36,000'), '—' when unknown."""
    return "—" if steps_per_hour is None else f"{steps_per_hour:,.0f}"


def number_text(x: float | None, unit: str = "") -> str:
    """A number for a sentence: 4 significant digits, thousands separators for big values."""
    if x is None or not np.isfinite(x):
        return "n/a"
    ax = abs(x)
    if ax >= 1000:
        s = f"{x:,.0f}"
    elif ax >= 1 or ax == 0:
        s = f"{x:.4g}"
    else:
        s = f"{x:.3g}"
    return s + unit


def log_number(x: float | int | None, unit: str = "") -> str:
    """A figure at the log's precision, for readers who compare it with the log or pick a checkpoint by it.

    The log prints 5 decimals, so rounding 1916.70959 to '1,917' loses what the researcher reads:
    2 decimals with thousands separators for |x| ≥ 1 ('1,916.71'), 4 significant digits below
    ('0.02765', '2.090e-06'); '—' when unknown; nan and ±inf as the log writes them.
    """
    if x is None:
        return "—"
    v = float(x)
    if v != v:
        return "nan"
    if v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0" + unit
    s = f"{v:,.2f}" if abs(v) >= 1 else f"{v:#.4g}"
    return s + unit


def percent_text(share: float) -> str:
    """A share as a percentage that never reads 0.00 % for a small non-zero share: '12.3%', '0.0066%'."""
    if share != share:
        return "n/a"
    if share != 0 and abs(share) < 0.01:
        return f"{100 * share:.2g}%"
    return f"{share:.1%}"
