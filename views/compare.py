"""Compare runs: one metric of several runs, aligned by step or by hours since start."""
import pandas as pd
import streamlit as st

from radiodash import charts, radiodiff, security
from radiodash.analysis import analyze
from radiodash.model import short_name
from radiodash.ui import params
from radiodash.ui import session as ui
from radiodash.text import rate

MAX_RUNS = 8  # runs drawn together (and names read from ?runs=)

ui.through_gate()
settings = ui.settings()
st.title("Compare runs")
entries = security.list_runs(list(settings.roots))
rels = [e.rel for e in entries]
wanted = params.texts("runs", max_items=4 * MAX_RUNS)
refused = []
for r in wanted:
    if r not in rels:
        try:
            security.resolve_run(list(settings.roots), r)
        except security.Refused as e:
            refused.append(e)
for e in refused[:3]:
    ui.refusal(str(e), e.name)
if len(refused) > 3:
    ui.refusal(f"{len(refused) - 3} more run names in the address cannot be opened here.")
chosen = st.multiselect("Runs", rels, default=[r for r in wanted if r in rels][:MAX_RUNS], key="runs_pick",
                        max_selections=MAX_RUNS)
if chosen:
    st.query_params["runs"] = ",".join(chosen)
elif "runs" in st.query_params:
    del st.query_params["runs"]
if not chosen:
    st.info("Pick two or more runs under the root.")
    st.stop()

runs = []
for rel in chosen:
    try:
        path = security.resolve_run(list(settings.roots), rel)
    except security.Refused as e:  # listed a moment ago, gone (or replaced) now
        ui.refusal(str(e), e.name)
        continue
    snap = ui.shared_run(path).snapshot()
    runs.append((rel, snap, analyze(snap)))
if not runs:
    st.stop()

metrics = list(dict.fromkeys(m for _, s, _ in runs for m in s.metrics))
c1, c2, c3 = st.columns(3)
main = radiodiff.main_metric(metrics)
default = metrics.index(main) if main in metrics else 0
metric = c1.selectbox("Metric", metrics, index=default if metrics else None, key="cmp_metric", bind="query-params")
align = c2.radio("Align by", ["step", "hours"], key="align", bind="query-params", horizontal=True)
smooth = c3.slider("Smoothing", 0.0, 0.999, 0.6, 0.001, key="cmp_smooth", bind="query-params")
log_y = st.toggle("log y", key="cmp_log", bind="query-params")
if metric:
    ui.chart(charts.compare_figure(runs, metric, align=align, smooth=smooth, log_y=log_y), "cmp")

rows = []
for rel, snap, a in runs:
    tp = a.throughput
    row = {"run": rel, "latest step": tp.latest_step, "of": tp.total_steps, "steps/hour": rate(tp.steps_per_hour),
           "launches": len(snap.segments),
           "switch-on step": a.disc.first_on_step if a.disc else None,
           "alerts": ", ".join(al.code for al in a.alerts)}
    for m in [metric] if metric else []:
        st_ = a.stats.get(m) or {}
        row[f"final {short_name(m)}"] = st_.get("last")
        row[f"best {short_name(m)}"] = st_.get("min")
        row["best at step"] = st_.get("min_step")
    rows.append(row)
steps = st.column_config.NumberColumn(format="localized")  # 150,000 like the rest of the page, not 150000
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
             column_config={c: steps for c in ("latest step", "of", "switch-on step", "best at step")})
