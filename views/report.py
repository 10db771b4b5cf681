"""Report: the run's summary on screen, and the report (Markdown with chart images, HTML), the parsed
table and the analysis to download — all for the chosen window of steps."""
import json

import streamlit as st

from radiodash.analysis import analyze
from radiodash.report import build_markdown_sections, events_csv, markdown_zip, render_html, table_csv
from radiodash.report.params import step_param
from radiodash.text import md_escape
from radiodash.ui import session as ui

ui.through_gate()
selection = ui.show_refusal_or_pick(st.session_state.get("_selection"))
snap = ui.shared_run(selection.path).snapshot()
ui.title(f"Report — {snap.name}")


def step_box(column, key: str, label: str, what: str) -> int | None:
    """A step number kept in the address as `?key=N`, synced by hand rather than by Streamlit's binding:
    the binding parses the address itself and fails on values like `inf` or `1e999`. A value that is
    not a step is dropped from the address with one sentence, never a traceback."""
    raw = st.query_params.get(key)
    value, problem = step_param(raw)
    if problem:
        del st.query_params[key]
        st.warning(f"The {what} in the address, {md_escape(repr(raw))}, {problem}: it is ignored.")
    box = f"{key}_box"
    if box not in st.session_state or (value is not None and value != st.session_state[box]):
        st.session_state[box] = value or 0
    chosen = int(column.number_input(label, min_value=0, step=1000, key=box))
    if chosen:
        if st.query_params.get(key) != str(chosen):
            st.query_params[key] = str(chosen)
    elif key in st.query_params:
        del st.query_params[key]
    return chosen or None


c1, c2 = st.columns(2)
from_step = step_box(c1, "rep_from", "From step", "first step")
until_step = step_box(c2, "rep_until", "Until step (0 = latest)", "last step")
if from_step is not None and until_step is not None and from_step > until_step:
    st.info(f"From step {from_step:,} is after until step {until_step:,}: no step can be in that window.")
    st.stop()

a = analyze(snap, from_step=from_step, until_step=until_step)
if a.records == 0:
    have = (f"the log has steps {int(snap.frame['step'].iloc[0]):,} to {int(snap.frame['step'].iloc[-1]):,}"
            if len(snap.frame) else "the log has no step lines yet")
    st.info(f"No step record in this window: {have}.")
    st.stop()

name = snap.name + (f"-steps-{from_step or 0}-{until_step or 'latest'}" if (from_step, until_step) != (None, None) else "")
has_events = bool(a.sources.get("events", {}).get("steps"))
b = st.columns(5 if has_events else 4)
b[0].download_button("Report: Markdown + chart images (.zip)", lambda: markdown_zip(snap, a, f"{name}-report")[0],
                     file_name=f"{name}-report.zip", mime="application/zip",
                     help="The report as Markdown, with PNG images of its charts in a folder next to it.")
b[1].download_button("Report: HTML", lambda: render_html(snap, a), file_name=f"{name}-report.html", mime="text/html",
                     help="One self-contained file with interactive charts; opens offline, prints well.")
b[2].download_button("Table (.csv)", lambda: table_csv(snap, from_step, until_step), file_name=f"{name}.csv",
                     mime="text/csv", help="One row per logged step in the window: step, time, launch, file, metrics.")
b[3].download_button("Analysis (.json)", json.dumps(a.to_json(), indent=2, allow_nan=False),
                     file_name=f"{name}-analysis.json", mime="application/json",
                     help="Phases, events, findings, statistics and the run's state, as JSON.")
if has_events:
    b[4].download_button("Event values (.csv)", lambda: events_csv(snap, from_step, until_step),
                         file_name=f"{name}-events.csv", mime="text/csv",
                         help="The event files' values, one row per step in the window: step, wall_time (seconds "
                              "since the epoch), one column per tag as written. A second source: not the log's table.")

shown, rest = build_markdown_sections(snap, a, on_screen=("summary", "key-metrics"))
st.markdown(shown)  # log text only in code spans, every other markup character escaped for Streamlit
with st.expander("The whole report"):
    st.markdown(rest)
