"""Compare runs: one metric of several runs, aligned by step or by hours since start."""
import pandas as pd
import streamlit as st

from radiodash import charts, radiodiff, security
from radiodash.source import Unreachable
from radiodash.analysis import analyze
from radiodash.model import metric_column, short_name
from radiodash.text import md_escape
from radiodash.ui import params, tables
from radiodash.ui import session as ui
from radiodash.text import rate

MAX_RUNS = 8  # runs drawn together (and names read from ?runs=)

ui.through_gate()
settings = ui.settings()
st.title("Compare runs")
wanted = params.texts("runs", max_items=4 * MAX_RUNS)
entries = ui.listing(settings.roots)
rels = [e.name for e in entries]
unlisted = [r for r in wanted if r not in rels]
if unlisted:  # the shared listing may be a few seconds old: a run created since is listed now
    entries = ui.listing(settings.roots, must_have=unlisted[0])
    rels = [e.name for e in entries]
refused = []
for r in wanted:
    if r not in rels:
        try:
            settings.roots.split(r)  # its form only: a listed name is the only one that can be picked
        except security.Refused as e:
            refused.append(e)
        else:
            refused.append(security.Refused(security.refusal(r), name=security.shown_name(r)))
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
        path = settings.roots.resolve(rel).location
    except security.Refused as e:  # listed a moment ago, gone (or replaced) now
        ui.refusal(str(e), e.name)
        continue
    except Unreachable as e:
        st.warning(md_escape(f"{rel} cannot be read now: {e}"))
        continue
    snap = ui.shared_run(path).snapshot()
    runs.append((rel, snap, analyze(snap)))
if not runs:
    st.stop()

# one name per metric across stages: stage 1 logs `train/total_loss`, stage 2 `total_loss` (the same quantity)
metrics = list(dict.fromkeys(short_name(m) for _, s, _ in runs for m in s.metrics))
c1, c2, c3 = st.columns(3)
main = radiodiff.main_metric(metrics)
default = metrics.index(main) if main in metrics else 0
metric = c1.selectbox("Metric", metrics, index=default if metrics else None, key="cmp_metric", bind="query-params")
align = c2.radio("Align by", ["step", "hours"], key="align", bind="query-params", horizontal=True)
smooth = c3.slider("Smoothing", 0.0, 0.999, 0.6, 0.001, key="cmp_smooth", bind="query-params")
log_y = st.toggle("log y", key="cmp_log", bind="query-params")
lacking = [rel for rel, s, _ in runs if metric and metric_column(s.frame, metric) is None]
if metric:
    ui.chart(charts.compare_figure(runs, metric, align=align, smooth=smooth, log_y=log_y), ui.chart_key("compare"))
    if lacking:
        st.caption(md_escape(f"{', '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} no {metric}."))

rows = []
for rel, snap, a in runs:
    tp = a.throughput
    row = {"run": rel, "latest step": tp.latest_step, "of": tp.total_steps, "steps/hour": rate(tp.steps_per_hour),
           "launches": len(snap.segments),
           "switch-on step": a.disc.first_on_step if a.disc else None,
           "alerts": ", ".join(al.code for al in a.alerts)}
    if metric:
        column = metric_column(snap.frame, metric)
        st_ = (a.stats.get(column) if column else None) or {}
        row[f"final {metric}"] = st_.get("last")
        row[f"best {metric}"] = st_.get("min")
        row["best at step"] = st_.get("min_step")
    rows.append(row)
table = pd.DataFrame(rows)
values = tuple(c for c in table.columns if c.startswith(("final ", "best ")) and c != "best at step")
st.dataframe(tables.at_log_precision(table, values), hide_index=True, width="stretch", placeholder=tables.MISSING,
             column_config=tables.column_config(table, steps=("latest step", "of", "switch-on step", "best at step"),
                                                values=values))
