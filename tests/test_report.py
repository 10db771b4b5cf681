"""Every number in the report is traceable: recomputed here from the parsed table with pandas."""
from __future__ import annotations

import re

import numpy as np

from radiodash.analysis import analyze
from radiodash.text import number_text
from radiodash.report import render_html, render_markdown
from radiodash.simulate import SimConfig, render
from runcheck import parse_files


def tables(md: str) -> dict[str, list[list[str]]]:
    """Section title -> rows of its table (Markdown escapes removed)."""
    out: dict[str, list[list[str]]] = {}
    section = None
    for line in md.splitlines():
        if line.startswith("## "):
            section = line[3:]
        elif line.startswith("|") and not line.startswith("|---") and section:
            cells = [re.sub(r"\\(.)", r"\1", c.strip()) for c in line.strip("|").split(" | ")]
            out.setdefault(section, []).append([c.strip() for c in cells])
    return {k: v[1:] for k, v in out.items()}  # drop header rows


def build():
    files, truth = render(SimConfig(grad_accum=2, resume_at=52_345, spike_steps=(12_000,), nan_step=140_000))
    snap = parse_files(files)
    return snap, analyze(snap, now=0), truth


def test_every_figure_is_recomputed_from_the_table():
    snap, a, _ = build()
    md = render_markdown(snap, a)
    t = tables(md)
    f = snap.frame
    # progress and throughput: steps/hour from step and time deltas inside each launch
    prog = dict(t["Progress and throughput"])
    assert prog["latest step"] == f"{int(f.step.iloc[-1]):,}"
    d = f.assign(ds=f.step.diff(), dt=f.time.diff().dt.total_seconds())[f.segment.diff() == 0]
    assert prog["steps per hour (inside launches)"] == f"{round(d.ds.sum() / d.dt.sum() * 3600):,}"
    assert prog["train_num_steps"] == "150,000"
    # key metrics: initial, final, min/max with their steps
    for name, initial, final, change, mn, mx in t["Key metrics"]:
        col = f"train/{name}"
        v = f[["step", col]].replace([np.inf, -np.inf], np.nan).dropna()
        assert initial == number_text(v[col].iloc[0]) and final == number_text(v[col].iloc[-1]), name
        i_min, i_max = v[col].idxmin(), v[col].idxmax()
        assert mn == f"{number_text(v[col][i_min])} ({int(v.step[i_min]):,})", name
        assert mx == f"{number_text(v[col][i_max])} ({int(v.step[i_max]):,})", name
        crosses = not ((v[col] > 0).all() or (v[col] < 0).all())
        assert ("%" not in change.replace("no %", "")) == crosses, name  # no percentage for a series crossing 0
    # launches: records per launch from the raw (unstitched) table
    for launch, file, first, last, records, milestone in t["Launches"]:
        raw = snap.raw[snap.raw.segment == int(launch) - 1]
        assert records == f"{len(raw):,}" and first == f"{int(raw.step.iloc[0]):,}" and last == f"{int(raw.step.iloc[-1]):,}"
    # statistics
    for row in t["Statistics"]:
        name, first, last, mn, mn_step, mx, mx_step, mean, std, median = row
        col = next(c for c in snap.metrics if c.split("/")[-1] == name)
        v = f[col].replace([np.inf, -np.inf], np.nan).dropna()
        if v.empty:
            assert mean == "—"
            continue
        assert mean == number_text(v.mean()) and median == number_text(v.median()), name
        assert std == number_text(v.std(ddof=1)), name
    # values at checkpoints: the last logged step at or before each milestone
    for ckpt, step, logged, *vals in t["Values at checkpoints"]:
        k = int(re.match(r"model-(\d+)\.pt", ckpt).group(1))
        assert step == f"{k * 5000:,}"
        row = f[f.step <= k * 5000].iloc[-1]
        assert logged == f"{int(row.step):,}"


def test_alerts_are_listed_as_areas_for_attention_and_html_is_escaped(tmp_path):
    snap, a, _ = build()
    md = render_markdown(snap, a)
    section = md.split("## Areas for attention", 1)[1].split("##", 1)[0]
    for al in a.alerts:
        assert f"`{al.code}`" in section
    html = render_html(snap, a)
    assert "<script>alert" not in html and "Training progress report" in html


def test_log_text_in_the_report_is_escaped(tmp_path):
    log = tmp_path / "x_.log"
    log.write_text("2025-08-15 20:00:00,000 {'model': {'name': '<script>x</script> | [a](javascript:1)'}}\n"
                   "2025-08-15 20:00:01,000 [Train Step] 0/10: train/rec_loss: 1.00000, \n")
    from radiodash import open_run

    run = open_run(log)
    snap = run.snapshot()
    md = render_markdown(snap, analyze(snap, now=0))
    run.close()
    assert "<script>" not in md and "](javascript" not in md
    assert "\\<script\\>" in md
