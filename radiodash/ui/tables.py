"""Tables and text blocks of the Live page, as plain data: the page hands them to st.dataframe with
the column configs here (thousands separators on steps, a precision that fits each column's values).

Pure functions (no Streamlit import at module level), tested without a page.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import Alert, Event, Phase
from ..model import config_value
from ..text import duration, log_number

#: What a table cell shows for a value that does not exist (st.dataframe's default is the word "None").
MISSING = "—"
SEVERITY_ORDER = ("error", "warning", "info")
SEVERITY_WORDS = {"error": ("error", "errors"), "warning": ("warning", "warnings"), "info": ("note", "notes")}


# ------------------------------------------------------------------ configuration


def plain_value(v: Any) -> str:
    """A config value as a person writes it: 5e-06, [1, 2, 4], radio, True, — for None (no Python reprs)."""
    if v is None:
        return MISSING
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10_000 else str(v)
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(plain_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {plain_value(x)}" for k, x in v.items())
    return str(v)


#: (label, config path) per stage, in reading order; a row whose value the config lacks is left out.
VAE_ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("embed_dim", ("model", "embed_dim")), ("channels (ch)", ("model", "ddconfig", "ch")),
    ("ch_mult", ("model", "ddconfig", "ch_mult")), ("resolution", ("model", "ddconfig", "resolution")),
    ("kl_weight", ("model", "lossconfig", "kl_weight")), ("disc_weight", ("model", "lossconfig", "disc_weight")),
    ("disc_start (step)", ("model", "lossconfig", "disc_start")),
    ("start checkpoint (model.ckpt_path)", ("model", "ckpt_path")),
)
LDM_ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("objective", ("model", "objective")), ("timesteps", ("model", "timesteps")),
    ("sampling_timesteps", ("model", "sampling_timesteps")), ("loss_type", ("model", "loss_type")),
    ("model_type", ("model", "model_type")),
    ("first-stage checkpoint (VAE)", ("model", "first_stage", "ckpt_path")),
    ("scale_factor", ("model", "scale_factor")), ("scale_by_std", ("model", "scale_by_std")),
    ("finetune checkpoint", ("finetune", "ckpt_path")), ("start checkpoint (model.ckpt_path)", ("model", "ckpt_path")),
)
COMMON_ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dataset", ("data", "name")), ("batch_size", ("data", "batch_size")),
    ("lr (start)", ("trainer", "lr")), ("min_lr (factor of lr)", ("trainer", "min_lr")),
    ("train_num_steps", ("trainer", "train_num_steps")),
    ("gradient_accumulate_every", ("trainer", "gradient_accumulate_every")),
    ("log_freq (steps)", ("trainer", "log_freq")), ("save_and_sample_every (steps)", ("trainer", "save_and_sample_every")),
    ("resume_milestone", ("trainer", "resume_milestone")),
)


def config_rows(config: dict | None, stage: str | None) -> pd.DataFrame:
    """The configuration at a glance as a two-column table (setting, value), stage-aware: stage 2 shows
    its diffusion settings and checkpoints, stage 1 the autoencoder's and the discriminator's."""
    specific = LDM_ROWS if stage == "diffusion" else VAE_ROWS
    rows = []
    for label, path in (*specific, *COMMON_ROWS):
        v = config_value(config, *path)
        present = config_value(config, *path[:-1]) if len(path) > 1 else config
        if v is None and not (isinstance(present, dict) and path[-1] in present):
            continue  # not in this config at all (an explicit None is shown as —)
        rows.append((label, plain_value(v)))
    return pd.DataFrame(rows, columns=["setting", "value"])


# ------------------------------------------------------------------ column configs


def value_format(values: pd.Series) -> str:
    """A printf format for a column of metric values: 2 decimals with separators from 1 up (like the
    log's '1,916.71'), 4 significant digits when every value is small ('0.02765', '2.09e-06')."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(float)
    v = v[np.isfinite(v)]
    if v.size and np.abs(v).max() >= 1:
        return "localized"
    return "%.4g"


def at_log_precision(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """A copy with each value column from 1 up rounded to 2 decimals (the log's '1,916.71'; the column
    config adds the separators): still numbers, so the table sorts by value."""
    out = df.copy()
    for c in columns:
        if c in out.columns and value_format(out[c]) == "localized":
            out[c] = pd.to_numeric(out[c], errors="coerce").round(2)
    return out


def column_config(df: pd.DataFrame, steps: tuple[str, ...] = (), values: tuple[str, ...] = (),
                  times: tuple[str, ...] = ()) -> dict[str, Any]:
    """st.dataframe column configs: step columns with thousands separators, value columns at a precision
    that fits them, time columns as the log wrote them (no zone)."""
    import streamlit as st

    out: dict[str, Any] = {}
    for c in steps:
        if c in df.columns:
            out[c] = st.column_config.NumberColumn(c, format="localized")
    for c in values:
        if c in df.columns:
            out[c] = st.column_config.NumberColumn(c, format=value_format(df[c]))
    for c in times:
        if c in df.columns:
            out[c] = st.column_config.DatetimeColumn(c, format="YYYY-MM-DD HH:mm:ss")
    return out


# ------------------------------------------------------------------ phases and events


def in_range(step: int | None, step_range: tuple[int, int] | None) -> bool:
    return step_range is None or (step is not None and step_range[0] <= step <= step_range[1])


def phases_table(phases: list[Phase], step_range: tuple[int, int] | None) -> pd.DataFrame:
    """The phases that overlap the step range, numbered as on the charts."""
    rows = [{"phase": p.name, "from step": p.start_step, "to step": p.end_step, "what happened": p.description}
            for p in phases if step_range is None or (p.end_step >= step_range[0] and p.start_step <= step_range[1])]
    return pd.DataFrame(rows, columns=["phase", "from step", "to step", "what happened"])


def _name(path: Any) -> str:
    """A run file's name without the server's folders (a viewer needs the launch file, not the server's layout)."""
    return str(path).replace("\\", "/").rsplit("/", 1)[-1] if path else "—"


def _steps(v: Any) -> str:
    return f"{int(v):,}" if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else plain_value(v)


def event_text(e: Event) -> str:
    """One readable sentence for an event's details (log text stays plain text: st.dataframe shows it so)."""
    d = e.detail
    if e.kind == "launch":
        return f"launch {d.get('segment')} in {_name(d.get('file'))}: steps {_steps(d.get('first_step'))} to {_steps(d.get('last_step'))}"
    if e.kind == "resume":
        return (f"resumed from milestone {d.get('milestone')} (model-{d.get('milestone')}.pt), continuing launch "
                f"{d.get('resumes_segment')}")
    if e.kind == "config_changed":
        return f"configuration changed in {_name(d.get('file'))}: {', '.join(map(str, d.get('changed') or []))}"
    if e.kind == "superseded":
        return (f"{_steps(d.get('count'))} records of launch {d.get('segment')} (steps {_steps(d.get('from_step'))} to "
                f"{_steps(d.get('to_step'))}) replaced by launch {d.get('by_segment')}")
    if e.kind == "discriminator_on":
        return (f"disc_factor became non-zero after step {_steps(d.get('last_off_step'))}; disc_start in the config: "
                f"{_steps(d.get('configured_step'))}")
    if e.kind == "checkpoint":
        return f"{d.get('file')} (milestone {d.get('milestone')})"
    if e.kind == "non_finite":
        return f"{_steps(d.get('cells'))} nan/inf values in {', '.join(map(str, d.get('metrics') or []))}"
    if e.kind == "spike":
        return (f"{d.get('metric')} = {log_number(d.get('value'))}, {d.get('ratio', 0):.1f} × the local median "
                f"{log_number(d.get('local_median'))}")
    if e.kind == "stall":
        return (f"no line for {duration(d.get('seconds'))} (usual {duration(d.get('usual_seconds'))}); "
                f"went on at step {_steps(d.get('resumed_at_step'))}")
    return "; ".join(f"{k}: {plain_value(v)}" for k, v in d.items())


def events_table(events: list[Event], step_range: tuple[int, int] | None) -> pd.DataFrame:
    rows = [{"kind": e.kind.replace("_", " "), "step": e.step, "time": e.time, "what": event_text(e)}
            for e in events if in_range(e.step, step_range)]
    return pd.DataFrame(rows, columns=["kind", "step", "time", "what"])


# ------------------------------------------------------------------ alerts


def alert_counts(alerts: list[Alert]) -> str:
    """'1 error · 2 warnings · 1 note', most severe first; '' without alerts."""
    parts = []
    for sev in SEVERITY_ORDER:
        n = sum(1 for a in alerts if a.severity == sev)
        if n:
            one, many = SEVERITY_WORDS[sev]
            parts.append(f"{n} {one if n == 1 else many}")
    other = sum(1 for a in alerts if a.severity not in SEVERITY_ORDER)
    if other:
        parts.append(f"{other} other")
    return " · ".join(parts)


def ranked(alerts: list[Alert]) -> list[Alert]:
    order = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    return sorted(alerts, key=lambda a: order.get(a.severity, len(order)))


# ------------------------------------------------------------------ checkpoints

WRITTEN = "written (server's clock)"


def checkpoints_view(table: pd.DataFrame, run: str | None, step_range: tuple[int, int] | None) -> pd.DataFrame:
    """The analysis' checkpoint table (radiodash.analysis.checkpoint_table: every milestone, its file, samples
    and the values at its step from each source) as the page shows it: one row per milestone in the step
    range, the file's size and time, each value at the log's precision ('nan' only where a source wrote nan,
    '—' where it has no value), and a link to the milestone on the Samples page when it has a sample."""
    from urllib.parse import quote

    from ..analysis.checkpoints import cell_text, event_columns, log_columns, size_text

    if table is None or not len(table):
        return pd.DataFrame(columns=["milestone", "step", "checkpoint", "on disk", "size", WRITTEN])
    rows = table
    if step_range is not None and table["step"].notna().any():
        steps = table["step"].astype("Float64")
        rows = table[(steps >= step_range[0]) & (steps <= step_range[1])].fillna({"step": np.nan})
    out = pd.DataFrame({
        "milestone": rows["milestone"].to_numpy(),
        "step": rows["step"].to_numpy(),
        "checkpoint": rows["checkpoint"].to_numpy(),
        "on disk": rows["checkpoint_status"].to_numpy(),
        "size": [size_text(v) for v in rows["size_bytes"]],
        WRITTEN: pd.to_datetime([datetime.fromtimestamp(t) if np.isfinite(t) else None for t in rows["mtime"]]),
    })
    for c in [*log_columns(rows), *event_columns(rows)]:
        out[c] = [cell_text(r, c) for _, r in rows.iterrows()]
    link = [f"samples?run={quote(run, safe='')}&milestone={int(k)}" if run and isinstance(s, str) and s else None
            for k, s in zip(rows["milestone"], rows["sample"])]
    out.insert(4, "sample", link)  # next to the file it goes with: the table is wide
    return out.reset_index(drop=True)
