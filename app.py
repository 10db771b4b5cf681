"""RadioDash: `streamlit run app.py [-- --log PATH --root DIR]` (no arguments: the built-in demo)."""
import streamlit as st

from radiodash.ui import notifications, session as ui

st.set_page_config(page_title="RadioDash", layout="wide")
settings = ui.settings()
if not ui.gate(settings):
    st.stop()
st.session_state["_through_gate"] = True  # the views check it (ui.through_gate)
notifications.start(settings)  # with RADIODASH_NOTIFY set: the watcher, once per server process

selection = ui.select_run(settings)
st.session_state["_selection"] = selection
page = st.navigation([
    st.Page("views/live.py", title="Live", icon=":material/monitoring:", default=True),
    st.Page("views/compare.py", title="Compare runs", icon=":material/compare_arrows:"),
    st.Page("views/report.py", title="Report", icon=":material/description:"),
])
ui.sidebar_picker(settings, selection)
if settings.demo:
    st.info("Demo: a simulated RadioDiff VAE run is being written live into a temporary folder. "
            "Open a real log with `streamlit run app.py -- --log path/to/results_folder`.")
page.run()
