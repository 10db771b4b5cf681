"""The training progress report (Markdown, and standalone HTML with interactive charts).

Every figure in it comes from the Analysis (tests recompute each one from the parsed
table); every log-derived string is escaped — the report never carries markup from a log.
"""
from __future__ import annotations

import html
from typing import Any

from .analysis import Analysis
from .model import Snapshot, short_name
from .text import duration, md_escape, number_text

KEY_METRICS = ("total_loss", "rec_loss", "nll_loss", "kl_loss", "g_loss", "d_weight", "disc_loss", "loss_simple",
               "loss_vlb")


def _num(x: Any) -> str:
    return "—" if x is None else (f"{x:,}" if isinstance(x, int) else number_text(float(x)))


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(md_escape(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(md_escape(c) for c in r) + " |" for r in rows]
    return out + [""]


def change_text(st: dict) -> str:
    """Absolute change, and a percentage only where the series keeps its sign."""
    if st.get("abs_change") is None:
        return "—"
    text = f"{number_text(st['abs_change'])}"
    if st.get("rel_change") is not None:
        text += f" ({st['rel_change']:+.1%})"
    else:
        text += " (crosses or starts at zero: no %)"
    return text


def key_metrics(snap: Snapshot, a: Analysis) -> list[str]:
    return [m for m in snap.metrics if short_name(m) in KEY_METRICS and m in a.stats]


def render_markdown(snap: Snapshot, a: Analysis) -> str:
    tp = a.throughput
    lines = [f"# Training progress report — {md_escape(snap.name)}", ""]
    window = ""
    if a.window != (None, None):
        window = f" (window: steps {_num(a.window[0]) if a.window[0] is not None else 'start'} to " \
                 f"{_num(a.window[1]) if a.window[1] is not None else 'latest'})"
    lines += [f"Stage: {md_escape(a.stage or 'unknown')} · {a.records:,} step records · "
              f"{len(snap.segments)} launch(es){window}", ""]

    lines += ["## Configuration", ""]
    c = a.config or {}
    conf_rows = []
    for group in ("model", "data", "trainer"):
        node = c.get(group) if isinstance(c, dict) else None
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(v, dict):
                    for k2, v2 in v.items():
                        if not isinstance(v2, dict):
                            conf_rows.append([f"{group}.{k}.{k2}", repr(v2)])
                else:
                    conf_rows.append([f"{group}.{k}", repr(v)])
    lines += _table(["setting", "value"], conf_rows) if conf_rows else ["No config header in the log.", ""]

    lines += ["## Progress and throughput", ""]
    lines += _table(["figure", "value"], [
        ["latest step", _num(tp.latest_step)],
        ["train_num_steps", _num(tp.total_steps)],
        ["progress", f"{tp.latest_step / tp.total_steps:.1%}" if tp.latest_step is not None and tp.total_steps else "—"],
        ["steps per hour (inside launches)", _num(round(tp.steps_per_hour)) if tp.steps_per_hour else "—"],
        ["log lines per hour", _num(round(tp.lines_per_hour)) if tp.lines_per_hour else "—"],
        ["elapsed (first to last line)", duration(tp.elapsed_seconds)],
        ["time inside launches", duration(tp.active_seconds)],
        ["ETA to train_num_steps", duration(tp.eta_seconds)],
        ["next checkpoint", f"step {tp.next_checkpoint_step:,} in {duration(tp.eta_next_checkpoint_seconds)}"
         if tp.next_checkpoint_step else "—"],
    ])

    lines += ["## Key metrics", ""]
    lines += _table(["metric", "initial", "final", "change", "min (step)", "max (step)"], [
        [short_name(m), _num(a.stats[m]["first"]), _num(a.stats[m]["last"]), change_text(a.stats[m]),
         f"{_num(a.stats[m]['min'])} ({_num(a.stats[m]['min_step'])})",
         f"{_num(a.stats[m]['max'])} ({_num(a.stats[m]['max_step'])})"] for m in key_metrics(snap, a)])

    lines += ["## Launches", ""]
    lines += _table(["launch", "file", "first step", "last step", "records", "resumed from milestone"], [
        [str(s["index"] + 1), s["file"].rsplit("/", 1)[-1], _num(s["first_step"]), _num(s["last_step"]),
         _num(s["records"]), _num(s["resumed_from_milestone"])] for s in a.segments])

    lines += ["## Phases", ""]
    lines += _table(["phase", "from step", "to step", "what happened"],
                    [[p.name, _num(p.start_step), _num(p.end_step), p.description] for p in a.phases])

    lines += ["## Discriminator", ""]
    if a.disc is None:
        lines += ["No discriminator in this stage.", ""]
    else:
        d = a.disc
        lines += [md_escape(f"Configured disc_start: {_num(d.configured_step)}. Observed: disc_factor was 0 at step "
                            f"{_num(d.last_off_step)} and 1 from step {_num(d.first_on_step)}."), ""]

    lines += ["## Areas for attention", ""]
    lines += [f"- **{a_.severity}** `{a_.code}`: {md_escape(a_.message)}" for a_ in a.alerts] or ["None."]
    lines += [""]

    lines += ["## Statistics", ""]
    lines += _table(["metric", "first", "last", "min", "min step", "max", "max step", "mean", "std", "median"], [
        [short_name(m), *[_num(s.get(k)) for k in ("first", "last", "min", "min_step", "max", "max_step", "mean", "std",
                                               "median")]] for m, s in a.stats.items()])

    if not a.checkpoints.empty:
        lines += ["## Values at checkpoints", ""]
        cols = [m for m in key_metrics(snap, a) if m in a.checkpoints.columns]
        lines += _table(["checkpoint", "step", "logged step", *[short_name(m) for m in cols]], [
            [f"model-{int(r['milestone'])}.pt", _num(int(r["step"])), _num(int(r["logged_step"])),
             *[_num(r[m]) for m in cols]] for _, r in a.checkpoints.iterrows()])

    lines += ["## Charts", "", "Interactive charts: the HTML report (`--html`) and the dashboard's Live page.", ""]
    return "\n".join(lines)


def render_html(snap: Snapshot, a: Analysis) -> str:
    """The Markdown report's content as preformatted text plus interactive Plotly charts."""
    from . import charts

    figs = [charts.metric_figure(snap, m, a) for m in key_metrics(snap, a)]
    figs += [f for f in (charts.discriminator_figure(snap, a), charts.lr_figure(snap, a),
                         charts.decomposition_figure(snap, a)) if f is not None]
    parts = [fig.to_html(full_html=False, include_plotlyjs="cdn" if i else True) for i, fig in enumerate(figs)]
    body = html.escape(render_markdown(snap, a))
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(snap.name)} — RadioDash report</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto}"
            "pre{white-space:pre-wrap}</style></head><body>"
            f"<pre>{body}</pre>{''.join(parts)}</body></html>")
