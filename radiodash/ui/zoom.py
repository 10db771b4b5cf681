"""Zoom and pan that survive live redraws, until the user double-clicks.

Why this exists: Streamlit 1.67 gives every `st.plotly_chart` an element id hashed from the
figure's JSON (`key_as_main_identity=False`: the `key` does not change that), and the browser
mounts a new chart whenever the id changes (React `key={element.id}`). New data is a new figure,
so every live redraw threw the old chart, and the user's zoom with it, away; Plotly's
`uirevision` never got to act, since it only works on the same chart.

So the zoom goes through the server: a tiny component (`st.components.v2`, JavaScript only, no
HTML) listens to every chart's `plotly_relayout` in the page and reports, per chart key, the axis
ranges the user set and the chart's `uirevision`; a double-click (`plotly_doubleclick`) or an
autorange drops the chart's entry. `apply()` writes those ranges into the next figure of the same
chart — only while its `uirevision` is the same (same run, panel, axis kind and step range), so
a changed view starts from its own range. The page reads the zooms (`current`) before drawing and
mounts the reporter (`mount`) after the charts. The report is client input: `sanitize()` keeps only
chart keys of our own shape, axis names, and finite numbers or short date strings.
"""
from __future__ import annotations

import copy
import math
import re
from typing import Any

import streamlit as st

NAME = "radiodash_zoom"
MAX_CHARTS = 64
MAX_AXES = 8
MAX_REV_CHARS = 2000
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,120}$")
_AXIS = re.compile(r"^[xy]axis[0-9]{0,2}$")
_DATE = re.compile(r"^[0-9][0-9 :.T-]{0,39}$")

JS = r"""
export default function (component) {
  const { setStateValue } = component;
  const z = (window.__radiodashZoom = window.__radiodashZoom || { state: {}, timer: null, send: null });
  z.send = () => setStateValue("zoom", JSON.parse(JSON.stringify(z.state)));
  if (z.timer) return;
  const keyOf = (gd) => {
    const box = gd.closest('[class*="st-key-"]');
    if (!box) return null;
    const cls = [...box.classList].find((c) => c.startsWith("st-key-"));
    return cls ? cls.slice(7) : null;
  };
  const hook = (gd) => {
    if (gd.__radiodashZoom || typeof gd.on !== "function") return;
    gd.__radiodashZoom = true;
    gd.on("plotly_doubleclick", () => {
      const key = keyOf(gd);
      gd.__radiodashReset = Date.now();
      if (key && key in z.state) { delete z.state[key]; z.send(); }
    });
    gd.on("plotly_relayout", (ev) => {
      const key = keyOf(gd);
      if (!key || !ev) return;
      const touched = new Set(), auto = new Set();
      for (const k of Object.keys(ev)) {
        const m = /^([xy]axis\d*)\.(range|autorange)/.exec(k);
        if (!m) continue;
        (m[2] === "autorange" ? auto : touched).add(m[1]);
      }
      if (!touched.size && !auto.size) return;  // a resize, a legend click: not a zoom
      const reset = Date.now() - (gd.__radiodashReset || 0) < 800;
      const entry = z.state[key] && z.state[key].rev === String(gd.layout.uirevision)
        ? z.state[key] : { rev: String(gd.layout.uirevision), axes: {} };
      for (const a of auto) delete entry.axes[a];
      for (const a of touched) {
        const ax = gd._fullLayout && gd._fullLayout[a];
        if (ax && Array.isArray(ax.range) && !reset) entry.axes[a] = ax.range.slice(0, 2);
        else delete entry.axes[a];
      }
      if (Object.keys(entry.axes).length) z.state[key] = entry; else delete z.state[key];
      z.send();
    });
  };
  const scan = () => document.querySelectorAll(".js-plotly-plot").forEach(hook);
  z.timer = setInterval(scan, 250);
  scan();
}
"""

Zooms = dict[str, tuple[str, dict[str, list]]]


def _value_ok(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return math.isfinite(v)
    return isinstance(v, str) and bool(_DATE.match(v))


def sanitize(raw: Any) -> Zooms:
    """The component's report reduced to what a figure may take: {chart key: (uirevision, {axis: [a, b]})}."""
    if not isinstance(raw, dict):
        return {}
    out: Zooms = {}
    for key, entry in list(raw.items())[:MAX_CHARTS]:
        if not isinstance(key, str) or not _KEY.match(key) or not isinstance(entry, dict):
            continue
        rev, axes = entry.get("rev"), entry.get("axes")
        if not isinstance(rev, str) or len(rev) > MAX_REV_CHARS or not isinstance(axes, dict):
            continue
        good = {a: list(r) for a, r in list(axes.items())[:MAX_AXES]
                if isinstance(a, str) and _AXIS.match(a) and isinstance(r, list) and len(r) == 2
                and all(_value_ok(v) for v in r)}
        if good:
            out[key] = (rev, good)
    return out


def apply(fig, key: str, zooms: Zooms):
    """`fig` with the ranges the user zoomed chart `key` to, when its uirevision is the zoom's; a copy
    (figures are cached and shared by every session), or `fig` itself when there is nothing to apply."""
    entry = zooms.get(key)
    if fig is None or entry is None or str(fig.layout.uirevision) != entry[0]:
        return fig
    present = {k for k in fig.to_plotly_json()["layout"] if _AXIS.match(k)}
    axes = {a: r for a, r in entry[1].items() if a in present}
    if not axes:
        return fig
    fig = copy.deepcopy(fig)
    for a, r in axes.items():
        fig.layout[a].range = r
        fig.layout[a].autorange = False
    return fig


_component = None


def mount() -> None:
    """Mount the (invisible) zoom reporter. Call it last on the page: a component mounted before the charts
    held up their first drawing in a new browser (~12 % in benchmarks/bench_latency.py)."""
    global _component
    if _component is None:
        _component = st.components.v2.component(NAME, js=JS, isolate_styles=False)
    _component(key=NAME, default={"zoom": {}}, on_zoom_change=lambda: None, height=0)


def current() -> Zooms:
    """The zooms the reporter sent so far (its state in the session, kept from one run of the page to the
    next), screened; {} before it reported anything or on a page without it."""
    try:
        state = st.session_state.get(NAME)
        raw = state.get("zoom") if state is not None and hasattr(state, "get") else None
    except Exception:  # noqa: BLE001 - a state of another shape is no zoom
        raw = None
    return sanitize(raw)
