"""Live monitor: the run's state, progress, alerts and one panel per metric, updated in place.

The header (a 1 s fragment) says what is true now: the state from the core (live, stalled, stopped,
finished), when the files were last written, ETA only while live. The panels follow a 3 s snapshot
shared by every viewer; the view (metrics, smoothing, axis, steps, source) is in the URL.
"""
import streamlit as st

from radiodash import charts, radiodiff
from radiodash.analysis import analyze, live_header
from radiodash.model import config_value, short_name
from radiodash.report import table_csv
from radiodash.text import age, duration, md_escape, rate
from radiodash.ui import clock, notifications, runstate, tables, zoom
from radiodash.ui import session as ui
from radiodash.ui.figures import cached
from radiodash.ui.registry import HEADER_SLOT, HEADER_TICK, PANEL_SLOT

ui.through_gate()
selection = ui.show_refusal_or_pick(st.session_state.get("_selection"), landing=True)

run = ui.shared_run(selection.path)
first = run.snapshot()
defaults = [m for m in first.metrics if short_name(m) in radiodiff.OVERLAY_DEFAULTS][:3]
view = ui.view_controls(first.metrics, defaults, int(first.frame["step"].iloc[-1]) if len(first.frame) else 0,
                        run=selection.rel, has_events=charts.uses_events(first, "both"))
ui.share_box(ui.settings())
ui.title(first.name)

if view.live:
    st.session_state.pop("paused_snapshot", None)

STAGES = {"vae": "VAE-GAN autoencoder (stage 1)", "diffusion": "conditional latent diffusion (stage 2)"}


def figure(snap, analysis, kind: str, metric: str | None = None):
    key = (snap.path, snap.version, kind, metric, view.smooth, view.smoother, view.x, view.log_y, view.step_range,
           view.source, view.metrics if kind == "overlay" else None)
    opts = dict(x=view.x, step_range=view.step_range)
    builders = {
        "metric": lambda: charts.metric_figure(snap, metric, analysis, log_y=view.log_y, smoother=view.smoother,
                                               smooth=view.smooth, source=view.source, **opts),
        "overlay": lambda: charts.overlay_figure(snap, list(view.metrics), analysis, smoother=view.smoother,
                                                 smooth=view.smooth, **opts),
        "disc": lambda: charts.discriminator_figure(snap, analysis, source=view.source, **opts),
        "lr": lambda: charts.lr_figure(snap, analysis, source=view.source, **opts),
        "decomp": lambda: charts.decomposition_figure(snap, analysis, **opts),
        "dist": lambda: charts.distribution_figure(snap, analysis, metric, step_range=view.step_range),
    }
    return cached(key, builders[kind])


# the charts follow a snapshot renewed every PANEL_REFRESH (3 s) and shared by every viewer (figures and
# analysis built once per run and slot, not once per viewer); the header follows one renewed every tick
page_snap = (ui.shared_snapshot(selection.path, PANEL_SLOT) if view.live
             else st.session_state.setdefault("paused_snapshot", run.snapshot()))


def alerts_block(alerts) -> None:
    """Every alert in one compact block: the count by severity, the most severe in full, the rest folded."""
    if not alerts:
        return
    ranked = tables.ranked(alerts)
    top, rest = ranked[0], ranked[1:]
    show = {"error": st.error, "warning": st.warning}.get(top.severity, st.info)
    count = f"**{md_escape(tables.alert_counts(alerts))}** · " if rest else ""
    show(f"{count}**{md_escape(top.code)}** — {md_escape(top.message)}")
    if rest:
        with st.expander(f"All {len(ranked)} alerts, and what to do"):
            for al in ranked:
                st.markdown(f"- **{md_escape(al.severity)}** · **{md_escape(al.code)}** — {md_escape(al.message)}"
                            + (f" *What to do:* {md_escape(al.action)}" if al.action else ""))


@st.fragment(run_every=HEADER_TICK if view.live else None)
def ticker() -> None:
    """State, progress, rate, ETA and alerts: a cheap partial rerun every second.

    When the shared chart snapshot has moved on (at most every PANEL_REFRESH seconds), it asks
    for one rerun of the page so the charts redraw; an idle run costs each viewer only this fragment.
    """
    now, stop = clock.now(), clock.stopped_after()
    snap = ui.shared_snapshot(selection.path, HEADER_SLOT) if view.live else page_snap
    charts_snap = ui.shared_snapshot(selection.path, PANEL_SLOT) if view.live else page_snap
    basis = analyze(charts_snap, now=now, stopped_after=stop)
    head = live_header(snap, basis, now=now, stopped_after=stop)
    tp, state = head.throughput, head.state

    # the badge as wide as its word, the sentence beside it (under it in a narrow window): a column of a
    # fixed share cut "stopped" to "st…" at 800 px
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        runstate.badge(state)
        st.markdown(md_escape(state.description), width="stretch")
    written = [f"files last written {age(state.silent_seconds)}" if state.silent_seconds is not None
               else "files' modification time unknown"]
    if state.last_log_time is not None:
        written.append(f"last log line {state.last_log_time:%Y-%m-%d %H:%M:%S} (the trainer's local time; "
                       "the log has no time zone)")
    stage = STAGES.get(basis.stage or "", "stage unknown")
    st.caption(md_escape(" · ".join(written)) + "  \n" + md_escape(
        f"{stage} · {len(snap.segments)} launch(es) · {len(snap.frame):,} step records"
        + ("" if view.live else " · live updates paused")))

    latest, total = tp.latest_step, tp.total_steps
    if latest is not None and total:
        st.progress(min(1.0, max(0.0, latest / total)), text=f"{latest:,} / {total:,} steps")
    row = st.container(horizontal=True, gap="medium")  # the figures wrap onto a second line when narrow
    row.metric("Latest step", f"{latest:,}" if latest is not None else "—", width="content")
    row.metric("Steps/hour", rate(tp.steps_per_hour), width="content", help="Optimizer steps per hour inside "
               f"launches (log lines per hour: {rate(tp.lines_per_hour)}).")
    row.metric("Elapsed", duration(tp.elapsed_seconds), width="content", help="The log's first to last timestamp, "
               "gaps between launches included.")
    save = config_value(snap.config, "trainer", "save_and_sample_every")
    if state.state == "live":
        row.metric("ETA", duration(tp.eta_seconds), width="content", help="To train_num_steps at the current rate.")
        if tp.next_checkpoint_step and save:
            st.caption(f"next checkpoint model-{tp.next_checkpoint_step // int(save)}.pt at step "
                       f"{tp.next_checkpoint_step:,} in {duration(tp.eta_next_checkpoint_seconds)}")
    elif state.state == "finished":
        row.metric("Took", duration(state.duration_seconds), width="content",
                   help="The log's first to last timestamp, every launch (its files were last written "
                        f"{age(state.silent_seconds)}).")
    else:
        row.metric("Silent for", duration(state.silent_seconds), width="content",
                   help="Since its files were last written: no ETA for a run that is not running.")
    alerts_block(head.alerts)
    if charts_snap.version != page_snap.version:
        st.rerun(scope="app")


def folded(label: str, key: str):
    """An expander whose content the page builds only while it is open (the caller checks `.open`): a collapsed
    expander's tables still cost a new browser their whole layout (README, bench_latency). Opening or closing
    it reruns the page."""
    return st.expander(label, key=key, on_change="rerun")


def panel_grid(items, columns: int = 2) -> None:
    """Panels left to right, top to bottom: no empty column when a stage has fewer panels."""
    cols = None
    for i, draw in enumerate(items):
        if i % columns == 0:
            cols = st.columns(columns)
        with cols[i % columns]:
            draw()


def panels(snap) -> None:
    """Every chart and table of the run at one version (built once per version for all viewers)."""
    a = analyze(snap, now=clock.now(), stopped_after=clock.stopped_after())
    box = folded(f"Configuration — {STAGES.get(a.stage or '', 'stage unknown')}", "fold_config")
    with box:
        if box.open:
            conf = tables.config_rows(snap.config, a.stage)
            if len(conf):
                st.dataframe(conf, hide_index=True, width="stretch", placeholder=tables.MISSING,
                             height=36 * (len(conf) + 1) + 4)
            else:
                st.text("The log has no configuration header.")

    constant = charts.constant_metrics(snap, view.step_range)
    if constant:
        st.caption(md_escape("Constant over the steps in view (no panel): " + ", ".join(
            f"{short_name(m)} = {v:g}" for m, v in constant.items())))
    if view.metrics:
        ui.chart(figure(snap, a, "overlay"), ui.chart_key("overlay"))

    disc, lr = figure(snap, a, "disc"), figure(snap, a, "lr")
    own_panel = ({"disc_factor", "d_weight", *charts.DISC_SERIES} if disc is not None else set()) | (
        {"lr"} if lr is not None else set())
    val_metrics = [m for m in snap.val_frame.columns if m.startswith("val/")]
    shown = [m for m in snap.metrics if short_name(m) not in own_panel and m not in constant] + val_metrics
    if charts.uses_events(snap, view.source):  # tags the log does not have (a fork's debug/*, …)
        logged = {short_name(m) for m in snap.metrics}
        shown += [t for t in charts.event_tags(snap)
                  if t not in logged and t not in own_panel and t != charts.LR_TAG]
    panel_grid([lambda m=m: ui.chart(figure(snap, a, "metric", m), ui.chart_key("metric", m)) for m in shown])

    special = []
    if disc is not None:
        def disc_panel() -> None:
            ui.chart(disc, ui.chart_key("disc"))
            st.caption(md_escape(" ".join(charts.discriminator_notes(a, view.step_range))))
        special.append(("discriminator", disc_panel))
    if lr is not None:
        special.append(("learning rate", lambda: ui.chart(lr, ui.chart_key("lr"))))
    dec = figure(snap, a, "decomp")
    if dec is not None:
        special.append(("loss decomposition", lambda: ui.chart(dec, ui.chart_key("decomp"))))
    losses = [m for m in snap.metrics if "loss" in short_name(m) and m not in constant] or [
        m for m in snap.metrics if m not in constant]
    main = radiodiff.main_metric(losses) or (losses[0] if losses else None)
    if main is not None:
        def dist() -> None:
            pick = st.selectbox("Distribution per phase of", losses, index=losses.index(main), key="dist_metric",
                                format_func=short_name)
            ui.chart(figure(snap, a, "dist", pick), ui.chart_key("dist"))
        special.append(("distribution per phase", dist))
    if special:  # only the panels this run has, side by side: no empty column
        st.subheader(md_escape(", ".join(n for n, _ in special).capitalize()))
        panel_grid([draw for _, draw in special])

    rng = view.step_range
    where = f" (steps {rng[0]:,} to {rng[1]:,})" if rng else ""
    st.subheader("Phases" + where)
    phases = tables.phases_table(a.phases, rng)
    if not len(phases):
        st.caption("No phase in these steps.")
    for _, ph in phases.iterrows():  # a list, not a table: each phase's sentence is long and must wrap
        st.markdown(f"**{md_escape(ph['phase'])}** · steps {ph['from step']:,} to {ph['to step']:,} — "
                    f"{md_escape(ph['what happened'])}")
    st.subheader("Checkpoints" + where)
    ck = tables.checkpoints_view(a.checkpoint_files, selection.rel, rng)
    if len(ck):
        st.dataframe(ck, hide_index=True, width="stretch", placeholder=tables.MISSING, column_config={
            **tables.column_config(ck, steps=("milestone", "step"), times=(tables.WRITTEN,)),
            "sample": st.column_config.LinkColumn("sample", display_text="open on Samples",
                                                  help="This milestone's sample images (the Samples page)")})
    else:
        st.caption("No checkpoint in these steps yet.")
    box = folded("Events" + where, "fold_events")
    with box:
        if box.open:
            ev = tables.events_table(a.events, rng)
            st.dataframe(ev, hide_index=True, width="stretch", placeholder=tables.MISSING,
                         column_config=tables.column_config(ev, steps=("step",), times=("time",)))
    lo, hi = rng if rng else (None, None)
    st.download_button(f"Steps in view as CSV{where}", lambda: table_csv(snap, lo, hi),
                       file_name=f"{snap.name}{f'-steps-{rng[0]}-{rng[1]}' if rng else ''}.csv", mime="text/csv",
                       help="One row per logged step in the view: step, time, launch, file, metrics.",
                       key="csv_download")

    box = folded("Diagnostics", "fold_diagnostics")
    if not box.open:
        return
    with box:
        reg = ui.registry()
        st.text(f"Bytes read: {run.bytes_read}\nLines read: {snap.lines_read}\n"
                f"Refreshes: {run.refreshes}\nRuns followed by this server: {reg.followers()} (at most {reg.max_runs})\n"
                f"Watcher: {reg.watcher_mode}\n"
                f"Other lines: {snap.other_lines}\nDamaged step lines: {snap.problem_count}")
        if snap.notices:
            st.text("Notices:\n" + "\n".join(snap.notices[-20:]))
        if snap.problems:
            st.text("Damaged lines:\n" + "\n".join(str(p) for p in snap.problems[:20]))
        if snap.other_examples:
            st.text("Other lines (first few):\n" + "\n".join(snap.other_examples))


ticker()
notifications.panel()
panels(page_snap)
with st.sidebar:
    zoom.mount()  # invisible: reports the user's zoom so the next redraw keeps it (last: the charts draw first)
