"""Samples: the images RadioDiff saves at each milestone — newest first, a slider across milestones, two
side by side, each with its step, the values at that step and whether model-K.pt is on disk. Images that
appear while the page is open show up within a few seconds (a fragment redrawing from cached reads)."""
import streamlit as st

from radiodash.analysis.checkpoints import ON_DISK, save_every
from radiodash.text import md_escape
from radiodash.ui import samples as gallery
from radiodash.ui import session as ui

ui.through_gate()
selection = ui.show_refusal_or_pick(st.session_state.get("_selection"))
run = ui.shared_run(selection.path)
ui.title(f"Samples — {run.name}")
live = st.sidebar.toggle("Live updates", value=True, key="samples_live",
                         help="New sample images and checkpoints appear within a few seconds.")

FOCUS, COMPARE, NEWEST = "samples_milestone", "samples_compare", "_samples_newest"


def address_milestone(param: str, options: list[int]) -> int | None:
    """A milestone from the address (`?milestone=K`): only a number among this run's milestones is taken —
    the address never names a file. Anything else is said once, in plain text, and dropped."""
    raw = st.query_params.get(param)
    if raw is None:
        return None
    try:
        k = int(raw)
    except ValueError:
        k = None
    if k is None or k not in options:
        del st.query_params[param]
        st.warning(md_escape(f"The {param} in the address, {raw!r}, is not a milestone of this run with files: "
                             "it is ignored."))
        return None
    return k


def seed(options: list[int], newest: int) -> None:
    """The slider's milestone: from the address on first view, then the user's; it follows the newest
    milestone while the user has not moved it away from the newest."""
    ss = st.session_state
    if FOCUS not in ss:
        ss[FOCUS] = address_milestone("milestone", options) or newest
    elif ss[FOCUS] not in options or ss[FOCUS] == ss.get(NEWEST):
        ss[FOCUS] = newest
    if COMPARE not in ss:
        ss[COMPARE] = address_milestone("compare", options)
    elif ss[COMPARE] not in options:
        ss[COMPARE] = None
    ss[NEWEST] = newest


def keep_in_address(param: str, value: int | None) -> None:
    if value is None:
        if param in st.query_params:
            del st.query_params[param]
    elif st.query_params.get(param) != str(value):
        st.query_params[param] = str(value)


@st.fragment(run_every=gallery.REFRESH_SECONDS if live else None)
def samples_page() -> None:
    snap = ui.shared_snapshot(selection.path)
    table = gallery.milestone_table(snap)
    files = gallery.with_files(table)  # newest first
    entries = gallery.samples_by_name(snap)
    source = run.source
    every = save_every(snap)
    if files.empty:
        if len(snap.files) == 1 and snap.files[0] == selection.path:  # the run is one log file given by itself
            st.info("This run is a single log file: RadioDiff saves samples and checkpoints in the results folder "
                    "next to it. Open the folder as the run to see them.")
        else:
            first = f" (the first at step {every:,})" if every else ""
            st.info(md_escape("No sample image or checkpoint in this run's folder yet: RadioDiff saves them every "
                              f"save_and_sample_every steps{first}."))
        gallery.startup_samples(source, entries, snap)
        return
    by_k = {int(r["milestone"]): r for _, r in files.iterrows()}
    ks = list(by_k)  # newest first
    newest = ks[0]
    saved = int((files["checkpoint_status"] == ON_DISK).sum())
    st.caption(md_escape(f"{len(ks)} milestone(s) with files, {saved} checkpoint(s) on disk · newest: "
                         f"{gallery.heading(by_k[newest]).lower()}"
                         + (f" · save_and_sample_every {every:,}" if every else "")))

    seed(sorted(ks), newest)
    pick, other = st.columns([3, 2])
    if len(ks) > 1:
        k = pick.select_slider("Milestone", sorted(ks), key=FOCUS,
                               format_func=lambda x: gallery.heading(by_k[x]).replace("Milestone ", ""),
                               help="Across every milestone with a sample or a checkpoint (oldest left, newest right).")
        compare = other.selectbox("Side by side with", [None, *[x for x in ks if x != k]], key=COMPARE,
                                  format_func=lambda x: "—" if x is None else gallery.heading(by_k[x]),
                                  placeholder="— (one milestone)")
    else:
        k, compare = newest, None
    keep_in_address("milestone", k if k != newest else None)
    keep_in_address("compare", compare)
    if compare is not None:
        left, right = st.columns(2)
        gallery.milestone_card(source, entries, by_k[k], table, snap, left)
        gallery.milestone_card(source, entries, by_k[compare], table, snap, right)
    else:
        gallery.milestone_card(source, entries, by_k[k], table, snap)

    st.subheader("Newest first")
    if len(ks) > gallery.GRID_MAX:
        st.caption(f"The {gallery.GRID_MAX} newest milestones; earlier ones through the slider above.")
    gallery.thumbnails(source, entries, files)
    gallery.startup_samples(source, entries, snap)


samples_page()
