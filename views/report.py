"""Report: the training progress report, the parsed table and the analysis, to download."""
import json

import streamlit as st

from radiodash.analysis import analyze
from radiodash.report import render_html, render_markdown
from radiodash.ui import session as ui

ui.through_gate()
selection = ui.show_refusal_or_pick(st.session_state.get("_selection"))
snap = ui.shared_run(selection.path).snapshot()
ui.title(f"Report — {snap.name}")
c1, c2 = st.columns(2)
lo = c1.number_input("From step", min_value=0, value=0, step=1000, key="rep_from", bind="query-params")
hi = c2.number_input("Until step (0 = latest)", min_value=0, value=0, step=1000, key="rep_until", bind="query-params")
a = analyze(snap, from_step=int(lo) or None, until_step=int(hi) or None)
md = render_markdown(snap, a)
b = st.columns(4)
b[0].download_button("report.md", md, file_name=f"{snap.name}-report.md", mime="text/markdown")
b[1].download_button("report.html", render_html(snap, a), file_name=f"{snap.name}-report.html", mime="text/html")
b[2].download_button("table.csv", snap.frame.to_csv(index=False), file_name=f"{snap.name}.csv", mime="text/csv")
b[3].download_button("analysis.json", json.dumps(a.to_json(), indent=2, allow_nan=False),
                     file_name=f"{snap.name}-analysis.json", mime="application/json")
st.markdown(md)  # report.py escapes every log-derived string; it writes no HTML
