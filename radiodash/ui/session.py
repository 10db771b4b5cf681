"""Streamlit glue shared by the pages: settings, the shared registry, the token gate, the run picker
and the URL-bound view controls. Pages stay thin; everything below them is plain Python."""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from .. import security
from ..model import Snapshot
from ..run import Run
from .demo import Demo
from .registry import Registry
from .settings import Settings, parse
from ..text import age, md_escape

log = logging.getLogger("radiodash.ui")

SMOOTHERS = {"ema": "EMA (TensorBoard)", "centered": "centred average"}
X_AXES = {"step": "step", "time": "wall-clock time", "hours": "hours since start"}
SCALES = {"linear": "linear", "log": "log"}


@st.cache_resource
def settings() -> Settings:
    s = parse(sys.argv[1:], __import__("os").environ)
    if s.token is None:
        try:
            token = st.secrets.get("RADIODASH_TOKEN")  # optional .streamlit/secrets.toml
        except Exception:  # noqa: BLE001 - no secrets file is the normal case
            token = None
        if token:
            s = Settings(s.log, s.roots, str(token), s.demo)
    if s.demo:
        demo = _demo()
        s = Settings(demo.first, (demo.root,), s.token, True)
    return s


@st.cache_resource
def _demo() -> Demo:
    return Demo()


@st.cache_resource(on_release=lambda r: r.close())
def registry() -> Registry:
    return Registry()


def shared_run(path: Path) -> Run:
    return registry().get(path)


def shared_snapshot(path: Path, max_age: float = 1.0) -> Snapshot:
    """The snapshot all viewers of `path` draw in this `max_age`-second slot (see Registry.snapshot)."""
    return registry().snapshot(path, max_age)


# ------------------------------------------------------------------ access


def gate(s: Settings) -> bool:
    """True when this session may see runs; otherwise draws only the token box."""
    if not s.token or st.session_state.get("authed"):
        return True
    given = st.query_params.get("token")
    if given is not None:
        del st.query_params["token"]  # accepted once, never left in the address bar
        if security.token_matches(given, s.token):
            st.session_state["authed"] = True
            return True
        st.error("wrong token")
    st.title("RadioDash")
    typed = st.text_input("Access token", type="password", key="token_input")
    if typed:
        if security.token_matches(typed, s.token):
            st.session_state["authed"] = True
            st.rerun()
        st.error("wrong token")
    return False


def through_gate() -> None:
    """Stop a page that runs without the entrypoint (app.py: settings, the token gate, the run choice).

    Streamlit runs a script in a folder named `pages/` on its own when its URL is opened on a fresh
    server, skipping the entrypoint and so the gate: our pages live in `views/`, and this keeps a
    page that somehow runs alone from showing anything.
    """
    if not st.session_state.get("_through_gate"):
        st.error("Open RadioDash from its main page.")
        st.stop()


def show_refusal_or_pick(sel: "Selection | None") -> "Selection":
    """The selection of this run of app.py; stops the page with a hint when there is no run to show."""
    if sel is not None and sel.refused:
        st.error(sel.refused)  # "refused: …" — a fixed sentence, the user's input is not echoed as markup
    if sel is None or sel.path is None:
        st.info("Pick a run in the sidebar.")
        st.stop()
    return sel


@dataclass(frozen=True)
class Selection:
    path: Path | None
    rel: str | None
    refused: str | None = None


def _rel_of(s: Settings, path: Path) -> str | None:
    for root in s.roots:
        try:
            rel = path.resolve().relative_to(root.resolve())
            return str(rel) if str(rel) != "." else "."
        except ValueError:
            continue
    return None


def select_run(s: Settings) -> Selection:
    """The run in `?run=` (checked against the roots), else the last one chosen, else `--log`."""
    wanted = st.query_params.get("run")
    if wanted is None:
        wanted = st.session_state.get("run")  # query params are cleared on page change: carry it
    if wanted is None and s.log is not None:
        wanted = _rel_of(s, s.log)
    if wanted is None:
        return Selection(None, None)
    try:
        path = security.resolve_run(list(s.roots), wanted)
    except security.Refused as e:
        st.session_state.pop("run", None)
        return Selection(None, None, str(e))
    st.session_state["run"] = wanted
    if st.query_params.get("run") != wanted:
        st.query_params["run"] = wanted
    return Selection(path, wanted)


def sidebar_picker(s: Settings, sel: Selection) -> None:
    entries = security.list_runs(list(s.roots))
    if not entries:
        st.sidebar.caption("No runs under the root yet.")
        return
    now = time.time()
    rels = [e.rel for e in entries]
    labels = {e.rel: f"{e.rel} · {age(now - e.mtime)}" for e in entries}
    index = rels.index(sel.rel) if sel.rel in rels else None
    choice = st.sidebar.selectbox("Run", rels, index=index, format_func=labels.get, key="picker",
                                  help="Runs under the root, newest first, with their last update.")
    if choice is not None and choice != sel.rel:
        st.session_state["run"] = choice
        st.query_params["run"] = choice
        st.rerun()


# ------------------------------------------------------------------ view controls (in the URL)


@dataclass(frozen=True)
class View:
    metrics: tuple[str, ...]
    smooth: float
    smoother: str
    x: str
    log_y: bool
    step_range: tuple[int, int] | None
    live: bool


def view_controls(metrics: list[str], default_metrics: list[str], max_step: int) -> View:
    """Every choice is a widget bound to the URL (bind="query-params"): the URL is the shareable view."""
    sb = st.sidebar
    sb.subheader("View")
    chosen = sb.multiselect("Metrics (overlay)", metrics, default=[m for m in default_metrics if m in metrics],
                            key="metrics", bind="query-params")
    smooth = sb.slider("Smoothing", 0.0, 0.999, 0.6, 0.001, format="%.3f", key="smooth", bind="query-params",
                       help="TensorBoard's debiased EMA weight, computed on the full series before downsampling.")
    # bound widgets put the *shown* option in the URL, so the options are the short URL words themselves
    smoother = sb.radio("Smoother", list(SMOOTHERS), key="smoother", bind="query-params", horizontal=True,
                        help="ema: TensorBoard's debiased EMA; centered: centred moving average over 1/(1-w) records.")
    x = sb.radio("x axis", list(X_AXES), key="x", bind="query-params", horizontal=True,
                 help="step, wall-clock time, or hours since the run's first line.")
    scale = sb.radio("y scale", list(SCALES), key="scale", bind="query-params", horizontal=True)
    c1, c2 = sb.columns(2)
    lo = c1.number_input("From step", min_value=0, value=0, step=1000, key="from", bind="query-params")
    hi = c2.number_input("Until step (0 = latest)", min_value=0, value=0, step=1000, key="until", bind="query-params")
    live = sb.toggle("Live updates", value=True, key="live")
    step_range = None
    if lo or hi:
        step_range = (int(lo), int(hi) if hi else max(int(lo), max_step))
    return View(tuple(chosen), float(smooth), smoother, x, scale == "log", step_range, bool(live))


def share_box(rel: str | None) -> None:
    """The URL of this view, with the address the viewer reached (what teammates can open)."""
    try:
        url = st.context.url
    except Exception:  # noqa: BLE001
        url = None
    if not url:
        host = st.context.headers.get("host", "localhost:8501")
        url = f"http://{host}/"
    params = "&".join(f"{k}={v}" for k, v in st.query_params.to_dict().items() if k != "token")
    base = url.split("?", 1)[0]
    with st.sidebar.popover("Share this view"):
        st.caption("Teammates on the network open:")
        st.code(base + (f"?{params}" if params else ""), language=None)


def title(text: str) -> None:
    st.title(md_escape(text))


def chart(fig, key: str, where=None) -> None:
    """A RadioDash figure at full width, drawn with its own look (`charts._layout`).

    theme=None: merging Streamlit's theme into every figure costs a new browser ~0.6 s on a page
    of a dozen panels (benchmarks/bench_latency.py), and the figures set their colours already.
    """
    (where or st).plotly_chart(fig, key=key, width="stretch", theme=None)


__all__ = ["settings", "registry", "shared_run", "gate", "select_run", "sidebar_picker", "through_gate",
           "show_refusal_or_pick", "view_controls", "share_box", "View", "Selection", "title", "chart", "md_escape", "log"]
