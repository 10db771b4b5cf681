"""Live monitor: progress, ETA, alerts and one panel per metric, updated in place every second."""

import pandas as pd
import streamlit as st

from radiodash import charts, radiodiff
from radiodash.analysis import analyze, live_header
from radiodash.model import config_value, short_name
from radiodash.ui import notifications, session as ui
from radiodash.ui.figures import cached
from radiodash.text import age, duration, md_escape, rate

ui.through_gate()
selection = ui.show_refusal_or_pick(st.session_state.get("_selection"))

run = ui.shared_run(selection.path)
first = run.snapshot()
defaults = [m for m in first.metrics if short_name(m) in radiodiff.OVERLAY_DEFAULTS][:3]
view = ui.view_controls(first.metrics, defaults, int(first.frame["step"].iloc[-1]) if len(first.frame) else 0)
ui.share_box(selection.rel)
ui.title(first.name)

if view.live:
    st.session_state.pop("paused_snapshot", None)


def at_a_glance(config: dict | None) -> pd.DataFrame:
    rows = [("model", "embed_dim / ch / ch_mult", [config_value(config, "model", "embed_dim"), config_value(config, "model", "ddconfig", "ch"),
                                                   config_value(config, "model", "ddconfig", "ch_mult")]),
            ("loss", "kl_weight", config_value(config, "model", "lossconfig", "kl_weight")),
            ("loss", "disc_weight", config_value(config, "model", "lossconfig", "disc_weight")),
            ("loss", "disc_start", config_value(config, "model", "lossconfig", "disc_start")),
            ("optimizer", "lr / min_lr (factor)", [config_value(config, "trainer", "lr"), config_value(config, "trainer", "min_lr")]),
            ("data", "batch_size", config_value(config, "data", "batch_size")),
            ("trainer", "train_num_steps", config_value(config, "trainer", "train_num_steps")),
            ("trainer", "gradient_accumulate_every", config_value(config, "trainer", "gradient_accumulate_every")),
            ("trainer", "log_freq / save_and_sample_every", [config_value(config, "trainer", "log_freq"),
                                                             config_value(config, "trainer", "save_and_sample_every")]),
            ("trainer", "resume_milestone", config_value(config, "trainer", "resume_milestone"))]
    return pd.DataFrame([(g, k, str(v)) for g, k, v in rows if v is not None and v != [None, None]
                         and v != [None, None, None]], columns=["group", "setting", "value"])


def figure(snap, analysis, kind: str, metric: str | None = None):
    key = (snap.path, snap.version, kind, metric, view.smooth, view.smoother, view.x, view.log_y, view.step_range,
           view.metrics if kind == "overlay" else None)
    opts = dict(smoother=view.smoother, smooth=view.smooth, x=view.x, step_range=view.step_range)
    builders = {
        "metric": lambda: charts.metric_figure(snap, metric, analysis, log_y=view.log_y, **opts),
        "overlay": lambda: charts.overlay_figure(snap, list(view.metrics), analysis, **opts),
        "disc": lambda: charts.discriminator_figure(snap, analysis),
        "lr": lambda: charts.lr_figure(snap, analysis),
        "decomp": lambda: charts.decomposition_figure(snap, analysis),
        "dist": lambda: charts.distribution_figure(snap, analysis, metric),
    }
    return cached(key, builders[kind])


# the charts follow a 3 s snapshot shared by every viewer (figures and analysis built once per run
# and slot, not once per viewer); the header follows the 1 s one
PANEL_REFRESH_SECONDS = 3.0
page_snap = (ui.shared_snapshot(selection.path, PANEL_REFRESH_SECONDS) if view.live
             else st.session_state.setdefault("paused_snapshot", run.snapshot()))


@st.fragment(run_every=1.0 if view.live else None)
def ticker() -> None:
    """Progress, rate, ETA, staleness and alerts: a cheap partial rerun every second.

    When the shared chart snapshot has moved on (at most every PANEL_REFRESH_SECONDS), it asks
    for one rerun of the page so the charts redraw; an idle run costs each viewer only this fragment.
    """
    snap = ui.shared_snapshot(selection.path) if view.live else page_snap
    charts_snap = ui.shared_snapshot(selection.path, PANEL_REFRESH_SECONDS) if view.live else page_snap
    basis = analyze(charts_snap)
    tp, alerts, (since, usual, stalled) = live_header(snap, basis)
    stage = {"vae": "VAE-GAN autoencoder (stage 1)", "diffusion": "conditional latent diffusion (stage 2)"}.get(
        basis.stage or "", "stage unknown")
    st.caption(f"{md_escape(stage)} · {len(snap.segments)} launch(es) · {len(snap.frame):,} step records")

    latest, total = tp.latest_step, tp.total_steps
    if latest is not None and total:
        st.progress(min(1.0, max(0.0, latest / total)), text=f"{latest:,} / {total:,} steps")
    c = st.columns(4)
    c[0].metric("Latest step", f"{latest:,}" if latest is not None else "—")
    c[1].metric("Steps/hour", rate(tp.steps_per_hour), help="Optimizer steps per hour inside launches "
                f"(log lines per hour: {rate(tp.lines_per_hour)}).")
    c[2].metric("Elapsed", duration(tp.elapsed_seconds), help="First to last timestamp, gaps between launches included.")
    nxt = (f"next checkpoint model-{tp.next_checkpoint_step // int(config_value(snap.config, 'trainer', 'save_and_sample_every'))}.pt "
           f"at step {tp.next_checkpoint_step:,} in {duration(tp.eta_next_checkpoint_seconds)}"
           if tp.next_checkpoint_step and config_value(snap.config, "trainer", "save_and_sample_every") else "no checkpoint ahead")
    c[3].metric("ETA", duration(tp.eta_seconds), help=f"To train_num_steps at the current rate; {nxt}.")
    if stalled:
        st.warning(f"stalled: no new line for {duration(since)} (usual interval {duration(usual)}); "
                   "the run is unfinished — check the trainer.")
    else:
        st.caption(f"last line {age(since)} · {nxt}" + ("" if view.live else " · live updates paused"))

    for al in alerts:
        show = {"error": st.error, "warning": st.warning}.get(al.severity, st.info)
        show(f"**{al.code}** — {md_escape(al.message)}")
    if charts_snap.version != page_snap.version:
        st.rerun(scope="app")


def panels(snap) -> None:
    """Every chart and table of the run at one version (built once per version for all viewers)."""
    a = analyze(snap)
    glance = at_a_glance(snap.config)
    # visible at a glance, as plain text (config values are log text: never Markdown or HTML)
    st.text(" · ".join(f"{k} {v}" for k, v in zip(glance["setting"], glance["value"])) or "no configuration header")
    with st.expander("Configuration at a glance", expanded=False):
        st.text(glance.to_string(index=False))

    if view.metrics:
        ui.chart(figure(snap, a, "overlay"), "overlay")
    metrics = [m for m in snap.metrics]
    val_metrics = [m for m in snap.val_frame.columns if m.startswith("val/")]
    disc, lr = figure(snap, a, "disc"), figure(snap, a, "lr")
    # keys with a panel of their own below are not drawn twice (fewer charts: a faster first render)
    own_panel = ({"disc_factor", "d_weight"} if disc is not None else set()) | ({"lr"} if lr is not None else set())
    cols = st.columns(2)
    for i, m in enumerate([m for m in metrics if short_name(m) not in own_panel] + val_metrics):
        with cols[i % 2]:
            ui.chart(figure(snap, a, "metric", m), f"m:{m}")

    st.subheader("Discriminator, learning rate, loss decomposition")
    left, right = st.columns(2)
    if disc is not None:
        ui.chart(disc, "disc", left)
    if lr is not None:
        ui.chart(lr, "lr", right)
    dec = figure(snap, a, "decomp")
    if dec is not None:
        ui.chart(dec, "decomp", left)
    losses = [m for m in metrics if "loss" in short_name(m)] or metrics
    main = radiodiff.main_metric(losses) or (losses[0] if losses else None)
    if main is not None:
        pick = right.selectbox("Distribution per phase of", losses, index=losses.index(main), key="dist_metric")
        ui.chart(figure(snap, a, "dist", pick), "dist", right)

    st.subheader("Phases")
    st.dataframe(pd.DataFrame([{"phase": p.name, "from step": p.start_step, "to step": p.end_step,
                                "what happened": p.description} for p in a.phases]), hide_index=True, width="stretch")
    with st.expander("Events and checkpoints"):
        st.dataframe(pd.DataFrame([{"kind": e.kind, "step": e.step, "time": e.time, "detail": str(e.detail)}
                                   for e in a.events]), hide_index=True, width="stretch")
        st.dataframe(a.checkpoints, hide_index=True, width="stretch")

    with st.expander("Diagnostics"):
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
