"""RadioDash: `streamlit run app.py [-- --log PATH --root DIR --token-file FILE]` (no arguments: the built-in demo).

This file is two things. `streamlit run app.py` first imports it as a module and finds `app`,
an `st.App` (Streamlit 1.67 then serves that ASGI app): the dashboard behind RadioDash's access
middleware (radiodash/ui/access.py: `?token=` visits, the token form, `/media` and
`/_stcore/metrics` closed without the token). Streamlit then runs this same file as the page
script of every session, as `__main__`: `main()` below.
"""
import streamlit as st


def main() -> None:
    from radiodash.ui import notifications, params
    from radiodash.ui import session as ui

    st.set_page_config(page_title="RadioDash", layout="wide")
    ignored = params.screen()  # before any widget: junk in the URL must not reach Streamlit's parsers
    settings = ui.settings()
    if not ui.gate(settings):
        st.stop()
    st.session_state["_through_gate"] = True  # the views check it (ui.through_gate)
    notifications.start(settings)  # with RADIODASH_NOTIFY set: the watcher, once per server process
    note = params.ignored_note(ignored)
    if note:
        st.toast(note, icon=":material/link_off:", duration="long")

    selection = ui.select_run(settings)
    st.session_state["_selection"] = selection
    page = st.navigation([
        st.Page("views/live.py", title="Live", icon=":material/monitoring:", default=True),
        st.Page("views/overview.py", title="Overview", icon=":material/dashboard:"),
        st.Page("views/compare.py", title="Compare runs", icon=":material/compare_arrows:"),
        st.Page("views/report.py", title="Report", icon=":material/description:"),
        st.Page("views/samples.py", title="Samples", icon=":material/photo_library:"),
    ])
    ui.sidebar_picker(settings, selection)
    if settings.demo:
        st.info("Demo: a simulated RadioDiff VAE run is being written live into a temporary folder. "
                "Open a real log with `streamlit run app.py -- --log path/to/results_folder`.")
    page.run()


if __name__ == "__main__":
    main()
else:  # imported by `streamlit run app.py`: the server
    from radiodash.ui.access import middleware

    app = st.App(__file__, middleware=middleware())
