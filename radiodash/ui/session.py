"""Streamlit glue shared by the pages: settings, the shared registry, the token gate, the run picker
and the URL-bound view controls. Pages stay thin; everything below them is plain Python."""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from .. import security
from ..model import Snapshot, short_name
from ..roots import Listed, Roots, is_url
from ..run import Run
from ..source import Unreachable
from ..text import md_escape
from . import access, params
from .demo import Demo
from .registry import Registry
from .settings import Settings, SettingsError

log = logging.getLogger("radiodash.ui")

SMOOTHERS = {"ema": "EMA (TensorBoard)", "centered": "centred average"}
X_AXES = {"step": "step", "time": "wall-clock time", "hours": "hours since start"}
SCALES = {"linear": "linear", "log": "log"}


def settings() -> Settings:
    """The server's settings; a page stops with one sentence when they cannot be honoured."""
    try:
        return _settings()
    except SettingsError as e:  # e.g. an unreadable --token-file: never serve open instead
        log.error("%s", e)
        st.error(md_escape(f"RadioDash cannot start: {e}."))
        st.stop()
        raise  # pragma: no cover - st.stop() raises


@st.cache_resource
def _settings() -> Settings:
    s = access.read_settings()
    if s.demo:
        demo = _demo()
        s = Settings(str(demo.first), Roots.parse([demo.root]), s.token, True)
    return s


@st.cache_resource
def _demo() -> Demo:
    return Demo()


@st.cache_resource(on_release=lambda r: r.close())
def registry() -> Registry:
    roots = settings().roots
    return Registry(make_run=lambda location: Run(roots.source(location)))


def shared_run(path: str) -> Run:
    return registry().get(path)


def shared_snapshot(path: str, max_age: float = 1.0) -> Snapshot:
    """The snapshot all viewers of `path` draw in this `max_age`-second slot (see Registry.snapshot)."""
    return registry().snapshot(path, max_age)


# ------------------------------------------------------------------ access


def gate(s: Settings) -> bool:
    """True when this session may see runs; otherwise draws only the token box (and no run name).

    Accepted: the access cookie the middleware sets (access.py), or `?token=` when no middleware
    ran (AppTest); both through the shared Guard, which logs and slows down wrong tokens.
    """
    if not s.token or st.session_state.get("authed"):
        return True
    if access.cookie_ok(_cookie(access.COOKIE), s.token):
        st.session_state["authed"] = True
        return True
    outcome = access.outcome_from_cookie(_cookie(access.OUTCOME_COOKIE))
    given = params.text("token")
    if "token" in st.query_params:
        del st.query_params["token"]
    if given is not None:
        ip = st.context.ip_address
        outcome = access.GUARD.attempt(ip if isinstance(ip, str) else "localhost", given, s.token)
        if outcome.verdict is access.Verdict.ACCEPTED:
            st.session_state["authed"] = True
            return True
    st.title("RadioDash")
    st.markdown(access.ASK)
    sentence = access.outcome_sentence(outcome)
    if sentence:
        st.error(sentence)
    st.html(access.token_form())
    return False


def _cookie(name: str) -> str | None:
    """A cookie the browser sent when it opened this session's websocket (None without one)."""
    try:
        value = st.context.cookies.get(name)
    except Exception:  # noqa: BLE001 - no client (bare mode)
        return None
    return value if isinstance(value, str) else None


def through_gate() -> None:
    """Stop a page that runs without the entrypoint (app.py: settings, the token gate, the run choice).

    Streamlit runs a script in a folder named `pages/` on its own when its URL is opened on a fresh
    server, skipping the entrypoint and so the gate: our pages live in `views/`, and this keeps a
    page that somehow runs alone from showing anything.
    """
    if not st.session_state.get("_through_gate"):
        st.error("Open RadioDash from its main page.")
        st.stop()


def refusal(message: str, name: str | None = None) -> None:
    """A refusal in a red box, as plain text (see `refusal_markdown`)."""
    st.error(refusal_markdown(message, name), icon=":material/block:")


def refusal_markdown(message: str, name: str | None = None) -> str:
    """`message` as Markdown that shows the plain text it is. It may repeat `name`, taken from the
    URL: that goes into a code span, the one Markdown construct whose content is shown character
    for character (backslash escapes alone do not stop GFM from turning `http://…` into a link);
    the rest is escaped. No link, no image fetched, no formatting from the URL.
    """
    if not name or name not in message:
        return md_escape(message)
    before, after = message.split(name, 1)
    return f"{md_escape(before)}{md_literal(name)}{md_escape(after)}"


def md_literal(text: str) -> str:
    """`text` as a Markdown code span: shown exactly, whatever it holds (CommonMark: a fence longer
    than any run of backticks inside; the one padding space on each side is stripped again)."""
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def show_refusal_or_pick(sel: "Selection | None", *, landing: bool = False) -> "Selection":
    """The selection of this run of app.py; stops the page with a hint when there is no run to show
    (`landing`: the Live page, which then shows the team overview of every run instead).

    A run that was deleted while this session had it open is not dropped: the page says so and
    goes on (its live header keeps checking), and shows the run again when it is re-created.
    """
    if sel is not None and sel.refused:
        refusal(sel.refused, sel.refused_name)
    if sel is not None and sel.waiting:
        st.info(refusal_markdown(sel.waiting, sel.rel), icon=":material/hourglass_empty:")
    if sel is None or sel.path is None:
        if landing and (sel is None or not sel.waiting):
            from . import overview

            overview.render(settings())
        else:
            st.info("Pick a run in the sidebar, or one on the Overview page.")
        st.stop()
    return sel


@dataclass(frozen=True)
class Selection:
    path: str | None  # where the run is: a local path or a URL (what the registry opens)
    rel: str | None  # its name, as `?run=` holds it (`Roots.run_name`)
    refused: str | None = None  # the sentence for a run name that cannot be opened
    refused_name: str | None = None  # the name it repeats (shown literally)
    waiting: str | None = None  # set while the run this session had open is deleted, or its host unreachable


def select_run(s: Settings) -> Selection:
    """The run in `?run=` (checked against the roots), else the last one chosen, else `--log`.

    The run this session opened last stays selected while its file or folder is deleted
    (`Selection.waiting`): a refresh must not turn a page that was following a run into a
    "no such run" page for good. A remote run's name is checked on its host once per session
    (not a round trip per rerun; a host that went away then shows as the run's state). Anything
    else that cannot be resolved is refused.
    """
    wanted = params.text("run")
    if wanted is None:
        wanted = st.session_state.get("run")  # query params are cleared on page change: carry it
    if wanted is None and s.log is not None:
        wanted = s.roots.name_of(s.log)
    if wanted is None:
        return Selection(None, None)
    held = st.session_state.get("_run_path")  # (name, location) this session opened
    held_path = held[1] if held and held[0] == wanted else None
    waiting = f"{wanted} was deleted; waiting for it to appear again."
    try:
        if held_path is not None and is_url(held_path):
            return Selection(held_path, wanted)
        if held_path is not None:
            root, rel = s.roots.split(wanted)
            if not any(os.path.lexists(p) for p in security.named_paths([Path(root.location)], rel)):
                return Selection(held_path, wanted, waiting=waiting)  # no resolve (no refusal logged) while it is gone
        found = s.roots.resolve(wanted)
    except security.Refused as e:
        if held_path is not None and e.missing:  # deleted between the check above and now
            return Selection(held_path, wanted, waiting=waiting)
        st.session_state.pop("run", None)
        st.session_state.pop("_run_path", None)
        return Selection(None, None, str(e), e.name)
    except Unreachable as e:
        return Selection(None, wanted, waiting=f"{wanted} cannot be opened now: {e}. Reload the page to try again.")
    st.session_state["run"] = wanted
    st.session_state["_run_path"] = (wanted, found.location)
    if st.query_params.get("run") != wanted:
        st.query_params["run"] = wanted
    return Selection(found.location, wanted)


#: The picker's labels (each run's state) are redrawn this often, apart from the page.
PICKER_REFRESH_SECONDS = 5.0


def sidebar_picker(s: Settings, sel: Selection) -> None:
    """The run picker: every run under the root, newest first, each with its state ('runA · live',
    'runB · stopped · 3.1 d ago'), redrawn every few seconds on its own."""
    with st.sidebar:
        _picker(s, sel)


@st.fragment(run_every=PICKER_REFRESH_SECONDS)
def _picker(s: Settings, sel: Selection) -> None:
    from . import clock, runstate

    entries = listing(s.roots, sel.rel)
    if not entries:
        st.caption("No runs under the root yet.")
        return
    now, stop = clock.now(), clock.stopped_after()
    states = picker_states()
    labels = {}
    for i, e in enumerate(entries):
        state = None
        if sel.path is not None and e.name == sel.rel:  # the run on screen: its followed snapshot
            from ..analysis import run_state

            state = run_state(shared_snapshot(sel.path), now, stopped_after=stop)
        elif i < runstate.MAX_STATES:
            state = states.state(e.location, e.mtime, now, stop, s.roots.source)
        labels[e.name] = runstate.picker_label(e.name, state, e.mtime, now)
    rels = [e.name for e in entries]
    index = rels.index(sel.rel) if sel.rel in rels else None
    # One widget per selected run, and a change only when the user makes one (on_change): a page that opened
    # another run (the Overview's row, a link) must not be taken back to the run the browser's copy of the
    # picker still holds, which it sends back with the next rerun.
    key = picker_key(sel.rel)
    st.selectbox("Run", rels, index=index, format_func=labels.get, key=key, on_change=_picked, args=(key, tuple(rels)),
                 help="Runs under the roots, newest first: each one's state (live, stalled, stopped, "
                      "finished) and, from a minute on, how long ago its files were last written.")
    if st.session_state.pop("_picked", False):
        st.rerun(scope="app")


def picker_key(rel: str | None) -> str:
    """The run picker's widget key while `rel` is the selected run."""
    return f"picker-{rel or ''}"


def _picked(key: str, options: tuple[str, ...]) -> None:
    # Only the picker of the page on screen (its last run's selection, app.py): after a page opened another run,
    # the browser can still send the previous picker's value (its widget gone from this run, so Streamlit calls
    # it a change) and would take the page back to that run (seen after ticking a second Overview row). And only
    # a run the picker offered: when the listing changes under it (the selected run deleted), the widget can
    # report its shown label ("runA · live") as its value, which is no run name.
    shown = st.session_state.get("_selection")
    if key != picker_key(shown.rel if shown is not None else None):
        return
    choice = st.session_state.get(key)
    if choice in options:
        st.session_state["run"] = choice
        st.query_params["run"] = choice
        st.session_state["_picked"] = True


_LISTED: dict[Roots, tuple[float, list[Listed]]] = {}
_LISTED_LOCK = threading.Lock()


def listing(roots: Roots, must_have: str | None = None) -> list[Listed]:
    """Every run under the roots (`Roots.list`), shared by every session for PICKER_REFRESH_SECONDS: the picker
    of each viewer redraws every few seconds, and one scan of the roots serves them all. A listing that
    lacks `must_have` (the run on screen, created since) is scanned again at once."""
    now = time.monotonic()
    with _LISTED_LOCK:
        held = _LISTED.get(roots)
        if held is not None and now - held[0] < PICKER_REFRESH_SECONDS and (
                must_have is None or any(e.name == must_have for e in held[1])):
            return held[1]
    entries = list(roots.list().runs)
    with _LISTED_LOCK:
        _LISTED[roots] = (now, entries)
    return entries


@st.cache_resource
def picker_states():
    """The picker's run states, shared by every session (radiodash/ui/runstate.py)."""
    from .runstate import PickerStates

    return PickerStates()


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
    source: str = "log"  # both | events | log: what metric panels draw when the run has event files


SOURCES = {"both": "both", "events": "event files", "log": "log"}


def _reset_overlay_for(run: str | None, metrics: list[str], default_metrics: list[str]) -> None:
    """A new run's overlay starts from what that run has: the metrics chosen for the previous run,
    matched by short name (`train/rec_loss` ≈ `rec_loss`), else the new run's defaults."""
    ss = st.session_state
    before = ss.get("_overlay_run")
    ss["_overlay_run"] = run
    if before is None or before == run:
        return
    wanted = {short_name(m) for m in ss.get("metrics", [])}
    ss["metrics"] = [m for m in metrics if short_name(m) in wanted] or list(default_metrics)


def view_controls(metrics: list[str], default_metrics: list[str], max_step: int, *, run: str | None = None,
                  has_events: bool = False) -> View:
    """Every choice is a widget bound to the URL (bind="query-params"): the URL is the shareable view."""
    sb = st.sidebar
    sb.subheader("View")
    _reset_overlay_for(run, metrics, default_metrics)
    if "metrics" in st.session_state:  # seeded (a run change): the widget takes it, not a default as well
        st.session_state["metrics"] = [m for m in st.session_state["metrics"] if m in metrics]
        chosen = sb.multiselect("Metrics (overlay)", metrics, key="metrics", bind="query-params")
    else:
        chosen = sb.multiselect("Metrics (overlay)", metrics, default=[m for m in default_metrics if m in metrics],
                                key="metrics", bind="query-params")
    smooth = sb.slider("Smoothing", 0.0, 0.999, 0.6, 0.001, format="%.3f", key="smooth", bind="query-params",
                       help="TensorBoard's debiased EMA weight, computed on the full series before downsampling.")
    # bound widgets put the *shown* option in the URL, so the options are the short URL words themselves
    smoother = sb.radio("Smoother", list(SMOOTHERS), key="smoother", bind="query-params", horizontal=True,
                        help="ema: TensorBoard's debiased EMA; centered: centred moving average over 1/(1-w) records.")
    x = sb.radio("x axis", list(X_AXES), key="x", bind="query-params", horizontal=True,
                 help="step, wall-clock time (the log's own clock), or hours since the run's first line — for every chart.")
    scale = sb.radio("y scale", list(SCALES), key="scale", bind="query-params", horizontal=True)
    source = sb.radio("Values from", list(SOURCES), key="source", bind="query-params", horizontal=True,
                      disabled=not has_events,
                      help="The run's TensorBoard event files hold every step at full precision; the log one record "
                           "every log_freq steps (5 decimals). both: the event files' curve with the log's records "
                           "as dots." + ("" if has_events else " This run has no event files: the log only."))
    c1, c2 = sb.columns(2)
    lo = c1.number_input("From step", min_value=0, value=0, step=1000, key="from", bind="query-params")
    hi = c2.number_input("Until step (0 = latest)", min_value=0, value=0, step=1000, key="until", bind="query-params")
    live = sb.toggle("Live updates", value=True, key="live")
    step_range = None
    if lo or hi:
        step_range = (int(lo), int(hi) if hi else max(int(lo), max_step))
    return View(tuple(chosen), float(smooth), smoother, x, scale == "log", step_range, bool(live),
                source if has_events else "log")


def share_box(s: Settings) -> None:
    """The URL of this view on an address teammates can open (radiodash/ui/share.py)."""
    from . import share

    share.box(bool(s.token))


def title(text: str) -> None:
    st.title(md_escape(text))


def chart_key(kind: str, name: str = "") -> str:
    """A chart's element key: letters, digits, '-' and '_' only (it is also its CSS class `st-key-…`,
    through which the zoom keeper finds the chart), unique per panel."""
    import hashlib

    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", name)[:40]
    digest = hashlib.sha1(f"{kind}|{name}".encode()).hexdigest()[:8]
    return f"chart-{kind}-{slug}-{digest}" if name else f"chart-{kind}"


def chart(fig, key: str, where=None) -> None:
    """A RadioDash figure at full width, drawn with its own look (`charts._layout`), zoomed where the
    user zoomed it (radiodash/ui/zoom.py: a redraw with new data keeps the zoom).

    theme=None: merging Streamlit's theme into every figure costs a new browser ~0.6 s on a page
    of a dozen panels (benchmarks/bench_latency.py), and the figures set their colours already.
    """
    from . import zoom

    fig = zoom.apply(fig, key, zoom.current())
    (where or st).plotly_chart(fig, key=key, width="stretch", theme=None)


__all__ = ["settings", "registry", "shared_run", "gate", "select_run", "sidebar_picker", "through_gate",
           "show_refusal_or_pick", "refusal", "refusal_markdown", "md_literal", "view_controls", "share_box", "View", "Selection", "title", "chart", "chart_key",
           "md_escape", "log"]
