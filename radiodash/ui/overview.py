"""The team overview: every run under every root in one table, updated live — the landing page.

Cheap by construction: the table is drawn from one `Fleet` per server (the notification watcher's when it
runs, else `notifications.fleet`), scanned only while someone has the overview open (`Fleet.scan_if_due`).
Each scan lists the
roots' folders and checks the files' sizes; only runs whose files changed are re-read, and only their
new bytes; each run's summary is computed once per change and shared by every viewer. A viewer's
refresh is drawing that table: no file is touched for it.
"""
from __future__ import annotations

import os
from urllib.parse import quote

import streamlit as st

from ..fleet import STATE_ORDER, Fleet, overview_frame, state_counts
from ..text import duration, md_escape
from . import access, notifications, tables
from .settings import Settings

#: Seconds between the fleet's scans (and the table's redraws); RADIODASH_OVERVIEW_INTERVAL changes it.
DEFAULT_INTERVAL = 5.0
#: A changed run's alerts (its full analysis: phases, spikes, statistics — three quarters of a scan's CPU with
#: live runs, benchmarks/bench_overview.py) are redone at most this often; its step, state and ETA every scan.
ANALYSIS_SECONDS = 30.0


def interval() -> float:
    try:
        value = float(os.environ.get("RADIODASH_OVERVIEW_INTERVAL") or DEFAULT_INTERVAL)
    except ValueError:
        value = DEFAULT_INTERVAL
    return value if value >= 0.5 else DEFAULT_INTERVAL


def shared_fleet(s: Settings) -> Fleet:
    """The server's fleet of every run. When the notification watcher runs, its fleet (scanned on its own
    thread). Otherwise one scanned while someone looks: each viewer's redraw asks for a pass when the last
    one is `interval()` old (`Fleet.scan_if_due`: one viewer scans, the others draw what is there), so an
    overview nobody has open costs nothing; a changed run is analysed again at most every
    `ANALYSIS_SECONDS` (its step, state and ETA are of every scan)."""
    running = notifications.start(s)
    watcher = running.watch.fleet if running is not None and running.watch is not None else None
    fleet = watcher or notifications.fleet(s.roots.locations, interval(), ANALYSIS_SECONDS)
    if fleet.scans == 0:  # the first table is complete (one pass at a time: a second viewer waits for this one)
        with st.spinner("Reading every run under the roots for the first time (a few seconds per hundred runs)…"):
            fleet.scan()
    else:
        fleet.scan_if_due()
    return fleet


def link(name: str) -> str:
    """The address of a run's Live page, from this site's root (what the table's 'open' column holds)."""
    return f"{access.base_path()}/?run={quote(name, safe='/')}"


def render(s: Settings) -> None:
    """The overview page's body (its own page, and the Live page when no run is selected)."""
    opened = st.session_state.pop("_ov_open", None)
    if opened is not None:  # a row ticked in the table's last run: its Live page
        st.session_state["run"] = opened
        st.switch_page("views/live.py", query_params={"run": opened})
    st.title("Runs")
    _table(s)


@st.fragment(run_every=interval())
def _table(s: Settings) -> None:
    fleet = shared_fleet(s)
    summaries = fleet.summaries()
    machines = sorted({r.machine for r in s.roots})
    # one group above the other: side by side, the six State pills were cut off in an 800 px window
    states = st.pills("State", STATE_ORDER, selection_mode="multi", key="ov_state", bind="query-params",
                      help="Show only runs in these states (none chosen: every run).")
    chosen = st.pills("Machine", machines, selection_mode="multi", key="ov_machine", bind="query-params",
                      help="Show only runs on these machines (none chosen: every machine).")
    shown = [x for x in summaries if (not states or x.state in states) and (not chosen or x.machine in chosen)]
    counts = state_counts(summaries)
    on = len({x.machine for x in summaries})
    summary = f"{len(summaries)} run{'' if len(summaries) == 1 else 's'} on {on} machine{'' if on == 1 else 's'}"
    if counts:
        summary += ": " + " · ".join(f"{n} {state}" for state, n in counts.items())
    if len(shown) != len(summaries):
        summary += f" — {len(shown)} shown"
    st.markdown(md_escape(summary), help="States: live (written recently), stalled (unfinished and silent for ten "
                "of its usual intervals), stopped (silent for over RADIODASH_STOPPED_AFTER), finished, "
                "unreachable (its machine cannot be reached now).")
    if fleet.listing_problem:
        st.warning(md_escape(f"Some runs may be missing: {fleet.listing_problem}"), icon=":material/cloud_off:")
    if not summaries:
        st.info("No run under the root(s) yet: a results folder appears here as soon as its first launch file does.")
        return
    frame = overview_frame(shown, link)
    event = st.dataframe(
        frame, hide_index=True, width="stretch", key="ov_table", placeholder=tables.MISSING, on_select="rerun", selection_mode="single-row",
        column_config={
            "run": st.column_config.TextColumn("run", help="Its name in the address (`?run=`)."),
            "step": st.column_config.NumberColumn("step", format="localized", help="The latest logged step."),
            "of": st.column_config.NumberColumn("of", format="localized", help="train_num_steps from the run's config."),
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent"),
            "steps/hour": st.column_config.NumberColumn("steps/hour", format="localized",
                                                        help="Over the current launch, pauses excluded."),
            "ETA (h)": st.column_config.NumberColumn("ETA (h)", format="%.1f", help="Hours left; live runs only."),
            "last written": st.column_config.DatetimeColumn("last written", format="distance",
                                                            help="When the trainer last wrote the run's files."),
            "last log line": st.column_config.DatetimeColumn("last log line", format="YYYY-MM-DD HH:mm:ss",
                                                             help="The log's own clock (the trainer's local time)."),
            "alerts": st.column_config.NumberColumn("alerts", format="%d", help="Warnings and errors now."),
            "alert": st.column_config.TextColumn("most severe alert", width="medium"),
            "open": st.column_config.LinkColumn("open", display_text="open ↗", help="The run's Live page in a new tab."),
        })
    rows = event.selection.rows if event is not None else []
    if rows:
        name = str(frame.iloc[rows[0]]["run"])
        del st.session_state["ov_table"]  # coming back here must not open it again
        # The page is switched by a whole-app run (render), not from inside this fragment: switched from here, the
        # browser could apply a late delta of the fragment to the next page's tree ("Bad delta path index") and
        # go blank (seen in about 1 of 10 browser runs).
        st.session_state["_ov_open"] = name
        st.rerun(scope="app")
    took = fleet.last_scan_seconds
    roots = ", ".join(f"{r.name} (on {r.machine})" for r in s.roots)  # names, not paths or user@host URLs
    st.caption(md_escape(f"Every run under {roots}, scanned every "
                         f"{fleet.interval:g} s" + (f" (the last scan took {duration(took) if took >= 1 else f'{took:.2f} s'})"
                                                    if took is not None else "") +
                         ". Tick a row's box to open the run here; “open ↗” opens it in a new tab. "
                         "Click a column's header to sort."))
