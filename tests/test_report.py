"""Every number in the report is traceable: recomputed here from the parsed table with pandas, at the
log's precision; the HTML is a real, offline document; the Markdown reads as text; the window holds."""
from __future__ import annotations

import io
import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from radiodash import open_run
from radiodash.analysis import analyze
from radiodash.report import markdown_zip, render_html, render_markdown, table_csv, write_report
from radiodash.report.figures import report_figures
from radiodash.simulate import SimConfig, render
from radiodash.text import duration, log_number
from runcheck import parse_files
import pytest

NOW = 1_800_000_000.0
ROOT = Path(__file__).resolve().parents[1]


def sections(md: str) -> dict[str, str]:
    out, name = {}, None
    for line in md.splitlines():
        if line.startswith("## "):
            name = line[3:]
            out[name] = ""
        elif name:
            out[name] += line + "\n"
    return out


def cell(c: str) -> str:
    c = c.strip()
    c = re.sub(r"^`+ ?(.*?) ?`+$", r"\1", c)  # a code span
    return re.sub(r"\\(.)", r"\1", c)


def tables(md: str) -> dict[str, list[list[str]]]:
    """Section title -> rows of its table (header and alignment rows dropped, escapes and code spans removed)."""
    out: dict[str, list[list[str]]] = {}
    for name, body in sections(md).items():
        rows = [line for line in body.splitlines() if line.startswith("|")]
        if rows:
            out[name] = [[cell(c) for c in re.split(r"(?<!\\)\|", r.strip()[1:-1])] for r in rows[2:]]
    return out


def build(**kw):
    cfg = dict(grad_accum=2, resume_at=52_345, spike_steps=(12_000,), nan_step=140_000)
    files, truth = render(SimConfig(**{**cfg, **kw}))
    snap = parse_files(files)
    return snap, truth


def robust(v: pd.Series) -> tuple[float, float]:
    v = v[np.isfinite(v)].to_numpy()
    k = max(3, math.ceil(len(v) * 0.1))
    return float(np.median(v[:k])), float(np.median(v[-k:]))


def test_every_figure_is_recomputed_from_the_table():
    snap, _ = build()
    a = analyze(snap, now=NOW)
    md = render_markdown(snap, a)
    t = tables(md)
    f, raw = snap.frame, snap.raw
    # --- summary: progress, the log's span over every launch, rates inside launches
    prog = dict(t["Summary"])
    assert prog["latest step"] == f"{int(f.step.iloc[-1]):,}" == "149,900"
    assert prog["train_num_steps"] == "150,000" and prog["progress"] == f"{149_900 / 150_000:.1%}"
    assert prog["logged records in view"] == f"{len(f):,}"
    assert prog["log start (log time)"] == raw.time.min().strftime("%Y-%m-%d %H:%M:%S")
    assert prog["log end (log time)"] == raw.time.max().strftime("%Y-%m-%d %H:%M:%S")
    assert prog["elapsed, first to last line (every launch)"] == duration((raw.time.max() - raw.time.min()).total_seconds())
    d = raw.assign(ds=raw.step.diff(), dt=raw.time.diff().dt.total_seconds())[raw.segment.diff() == 0]
    assert prog["time inside launches"] == duration(d.dt.sum())
    assert prog["steps per hour (inside launches)"] == f"{d.ds.sum() / d.dt.sum() * 3600:,.0f}"
    assert prog["log lines per hour"] == f"{len(d) / d.dt.sum() * 3600 * 2:,.0f}"  # two lines a step (accumulation 2)
    assert prog["ETA to train_num_steps"] == "— (the run is finished)"  # finished: no ETA anywhere
    summary = sections(md)["Summary"]
    assert "finished" in summary and "ETA" not in summary.replace("ETA to train_num_steps", "")
    assert (f"The log runs from {raw.time.min():%Y-%m-%d %H:%M:%S} to {raw.time.max():%Y-%m-%d %H:%M:%S}"
            in re.sub(r"\\(.)", r"\1", summary))
    assert f"{len(f):,} logged records in view; the trainer logs one record every 100 steps" in summary
    # findings in the summary, most severe first, each with its code; what to do: their actions
    found = re.findall(r"^- \*\*(\w+)\*\* `(\w+)`", summary, re.M)
    assert [c for _, c in found] == [al.code for al in a.alerts]
    assert [s for s, _ in found] == sorted((s for s, _ in found), key=["error", "warning", "info"].index)
    for al in a.alerts:
        if al.action:
            assert f"- {al.action}" in re.sub(r"\\(.)", r"\1", summary)
    # --- key metrics: robust start/end (medians of the first and last tenth), min/max with steps
    for name, start, end, change, trend, mn, mx, note in t["Key metrics"]:
        col = f"train/{name}"
        v = f[col].replace([np.inf, -np.inf], np.nan)
        s0, s1 = robust(v.dropna())
        assert (start, end) == (log_number(s0), log_number(s1)), name
        i_min, i_max = v.idxmin(), v.idxmax()
        assert mn == f"{log_number(v[i_min])} ({int(f.step[i_min]):,})", name
        assert mx == f"{log_number(v[i_max])} ({int(f.step[i_max]):,})", name
        crosses = not ((v.dropna() > 0).all() or (v.dropna() < 0).all())
        assert change.startswith(("+" if s1 > s0 else "") + log_number(s1 - s0)), name
        assert ("%" not in change.replace("no %", "")) == crosses, name
    notes = {r[0]: r[-1] for r in t["Key metrics"]}
    dw = f["train/d_weight"]
    assert notes["d_weight"] == f"at its clamp 5,000 (1e4 × disc_weight) on {(dw == 5000).mean():.1%} of records"
    kl_end, nll_end = robust(f["train/kl_loss"].dropna())[1], robust(f["train/nll_loss"].dropna())[1]
    assert notes["kl_loss"].startswith(f"loss term kl_weight × kl_loss = 1e-06 × {log_number(kl_end)} = "
                                       f"{log_number(1e-6 * kl_end)}, ")
    assert notes["kl_loss"].endswith(f"of nll_loss ({log_number(nll_end)})")
    # --- phases: records in each
    for name, lo, hi, n, _ in t["Phases"]:
        lo_i, hi_i = int(lo.replace(",", "")), int(hi.replace(",", ""))
        assert n == f"{((f.step >= lo_i) & (f.step <= hi_i)).sum():,}", name
    # --- launches: each launch's own records from the raw (unstitched) table, replaced records counted
    for launch, file, steps, records, total, started, changes, replaced, end in t["Launches"]:
        mine = raw[raw.segment == int(launch) - 1]
        assert records == f"{len(mine):,}" and steps == f"{int(mine.step.min()):,} to {int(mine.step.max()):,}"
        assert total == "150,000"
    assert t["Launches"][0][7] == "24 records (steps 50,000 to 52,300) by launch 2"  # 50,000 + 23 x 100
    assert t["Launches"][1][5] == "`model-10.pt` — resumes launch 1" and t["Launches"][1][8] == "completed"
    # --- statistics
    for name, n, first, last, mn, mx, mean, std, median, note in t["Statistics"]:
        col = next(c for c in snap.metrics if c.split("/")[-1] == name)
        v = f[col].replace([np.inf, -np.inf], np.nan).dropna()
        assert n == f"{len(v):,}", name
        assert (first, last) == (log_number(v.iloc[0]), log_number(v.iloc[-1])), name
        assert (mean, median, std) == (log_number(v.mean()), log_number(v.median()), log_number(v.std(ddof=1))), name
    notes = {r[0]: r[-1] for r in t["Statistics"]}
    assert notes["logvar"].startswith("constant 0: RadioDiff's loss does not optimise logvar")
    lr0 = 5e-6 * max((1 - 0 / 150_000) ** 0.95, 0.1)
    lr1 = 5e-6 * max((1 - 149_900 / 150_000) ** 0.95, 0.1)
    assert notes["lr"] == (f"printed with 5 decimals, it reads 0 on 100% of records; the optimizer's lr goes "
                           f"{lr0:.4g} → {lr1:.4g} in view (reconstructed from the config's lr, min_lr and "
                           "train_num_steps): the run is not training at lr 0")
    # --- values at checkpoints: the last logged step at or before each milestone
    for ckpt, step, logged, *vals in t["Values at checkpoints"]:
        k = int(re.match(r"model-(\d+)\.pt", ckpt).group(1))
        assert step == f"{k * 5000:,}"
        row = f[f.step <= k * 5000].iloc[-1]
        assert logged == f"{int(row.step):,}" and vals[0] == log_number(row["train/rec_loss"])


def test_figures_are_at_the_log_precision(tmp_path):
    log = tmp_path / "2025-08-15-20-41_.log"
    lines = ["2025-08-15 20:41:03,512 {'model': {'lossconfig': {'kl_weight': 1e-06}}, 'trainer': {'log_freq': 100}}\n"]
    for i, (total, rec) in enumerate([(1916.70959, 0.02765), (1811.20437, 0.02712), (1700.11111, 0.02698),
                                      (1650.5, 0.02601), (1600.25, 0.02555), (1500.12345, 0.02501)]):
        lines.append(f"2025-08-15 20:41:{10 + i:02d},000 [Train Step] {i * 100}/1000: train/total_loss: {total:.5f}, "
                     f"train/rec_loss: {rec:.5f}, lr: 0.00000, \n")
    log.write_text("".join(lines))
    run = open_run(log)
    snap = run.snapshot()
    run.close()
    t = tables(render_markdown(snap, analyze(snap, now=NOW)))
    stats = {r[0]: r for r in t["Statistics"]}
    assert stats["total_loss"][2] == "1,916.71" and stats["total_loss"][3] == "1,500.12"  # not 1,917 / 1,500
    assert stats["rec_loss"][2] == "0.02765" and stats["total_loss"][4] == "1,500.12 (500)"
    assert log_number(1916.70959) == "1,916.71" and log_number(-0.4512) == "-0.4512" and log_number(2.09e-6) == "2.090e-06"


@pytest.mark.slow
def test_a_window_report_is_restricted_everywhere():
    snap, _ = build()
    a = analyze(snap, from_step=35_000, until_step=104_800, now=NOW)
    md = render_markdown(snap, a)
    t = tables(md)
    assert "this report covers steps 35,000 to 104,800" in md
    f = snap.frame[(snap.frame.step >= 35_000) & (snap.frame.step <= 104_800)]
    assert dict(t["Summary"])["logged records in view"] == f"{len(f):,}"
    s0, s1 = robust(f["train/rec_loss"])
    assert t["Key metrics"][0][:3] == ["rec_loss", log_number(s0), log_number(s1)]
    launch_steps = [r[2] for r in t["Launches"]]
    assert launch_steps == ["35,000 to 52,300", "50,000 to 104,800"]  # each launch inside the window only
    assert all(int(c[0].split("-")[1].split(".")[0]) * 5000 <= 104_800 for c in t["Values at checkpoints"])
    # every chart's step axis is the window, every drawn point inside it
    for key, (_, fig) in report_figures(snap, a).items():
        lo, hi = fig.layout.xaxis.range
        assert 34_000 <= lo <= 35_000 and 104_800 <= hi <= 105_800, key
        for tr in fig.data:
            x = np.asarray(tr.x, float) if tr.x is not None else np.zeros(0)
            assert x.size == 0 or (x.min() >= 35_000 and x.max() <= 104_800), key


@pytest.mark.slow
def test_html_is_a_real_offline_document_under_6_mb():
    snap, _ = build()
    a = analyze(snap, now=NOW)
    html = render_html(snap, a)
    assert len(html.encode()) <= 6 * 1024 * 1024
    assert not re.search(r"<script[^>]*\bsrc=", html)  # nothing is fetched
    assert not re.search(r"<link[^>]*\bhref=[\"']?https?:", html)
    assert html.count("/** @license") <= html.count("plotly.js") and html.count("Plotly.newPlot") == len(
        report_figures(snap, a))
    assert len(re.findall(r"<script>\s*/\*\*\s*\n?\s*\* plotly\.js", html)) <= 1
    assert "<pre" not in html and html.count("<table>") >= 6 and "<h2>Summary</h2>" in html
    assert "@media print" in html and "model\\.embed" not in html and "<code>model.embed_dim</code>" in html
    # the summary comes first, the configuration last
    order = [html.index(f"<h2>{h}</h2>") for h in ("Summary", "Key metrics", "Phases", "Discriminator", "Statistics",
                                                   "Values at checkpoints", "Launches", "Configuration")]
    assert order == sorted(order)


def test_markdown_reads_as_plain_text():
    snap, _ = build()
    md = render_markdown(snap, analyze(snap, now=NOW))
    assert "event files" not in sections(md)["Summary"]  # a log alone: nothing said of event files
    assert "`model.ddconfig.ch_mult` | `[1, 2, 4]`" in md  # three levels deep, in code spans
    assert not re.search(r"\w\\[._]\w", md)  # no model\.embed\_dim, no 0\.5
    assert "d_weight·disc_factor·g_loss" in md
    conf = tables(md)["Configuration"]
    assert len(conf) == 31  # every leaf of every group (the old report listed two levels of three groups)


def test_log_text_in_the_report_is_inert(tmp_path):
    log = tmp_path / "x_.log"
    log.write_text("2025-08-15 20:00:00,000 {'model': {'name': '<script>x</script> | [a](javascript:1) `b`'}}\n"
                   "2025-08-15 20:00:01,000 [Train Step] 0/10: train/rec_loss: 1.00000, \n")
    run = open_run(log)
    snap = run.snapshot()
    a = analyze(snap, now=NOW)
    md, html = render_markdown(snap, a), render_html(snap, a)
    run.close()
    # Markdown: in a code span (backticks fenced longer than the text's own, the pipe escaped for the table)
    assert "| `model.name` | ``'<script>x</script> \\| [a](javascript:1) `b`'`` |" in md
    assert "<script>x" not in html and "&lt;script&gt;x&lt;/script&gt;" in html


@pytest.mark.slow
def test_written_report_links_png_charts_and_zips_them(tmp_path):
    snap, _ = build()
    a = analyze(snap, now=NOW)
    data, problem = markdown_zip(snap, a, "run-report")
    assert problem is None
    z = zipfile.ZipFile(io.BytesIO(data))
    names = set(z.namelist())
    md = z.read("run-report.md").decode()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == len(report_figures(snap, a)) and all(link in names for link in links)
    assert all(z.read(link)[:8] == b"\x89PNG\r\n\x1a\n" for link in links)


@pytest.mark.slow
def test_without_a_browser_the_report_says_so_and_links_the_html(tmp_path, monkeypatch):
    monkeypatch.setenv("RADIODASH_CHROMIUM", str(tmp_path / "no-such-browser"))
    snap, _ = build()
    files = write_report(snap, analyze(snap, now=NOW), tmp_path / "r.md")
    md = (tmp_path / "r.md").read_text()
    assert files.image_problem.startswith("no Chromium browser was found") and files.html == tmp_path / "r.html"
    assert "No static chart images: no Chromium browser was found" in md and "[r.html](r.html)" in md
    assert (tmp_path / "r.html").read_text().startswith("<!doctype html>")


def test_csv_keeps_logged_nan_and_inf_and_applies_the_window(tmp_path):
    text = ("2025-08-15 20:00:00,000 {'trainer': {'log_freq': 100}}\n"
            "2025-08-15 20:00:01,000 [Train Step] 0/1000: train/a: 1.00000, train/b: 2.00000, \n"
            "2025-08-15 20:00:02,000 [Train Step] 100/1000: train/a: nan, train/b: -inf, \n"
            "2025-08-15 20:00:03,000 [Train Step] 200/1000: train/a: inf, \n"
            "2025-08-15 20:00:04,000 [Train Step] 300/1000: train/a: 4.00000, train/b: 5.00000, \n")
    (tmp_path / "x_.log").write_text(text)
    run = open_run(tmp_path / "x_.log")
    snap = run.snapshot()
    run.close()
    df = pd.read_csv(io.StringIO(table_csv(snap, 100, 200)), keep_default_na=False, dtype=str)
    assert df["step"].tolist() == ["100", "200"]
    assert df["train/a"].tolist() == ["nan", "inf"] and df["train/b"].tolist() == ["-inf", ""]  # 200 has no b


def test_json_contract_additions():
    snap, _ = build()
    j = json.loads(json.dumps(analyze(snap, now=NOW).to_json(), allow_nan=False))
    # parsed from memory: no file, so no mtime; finished all the same (it logged its completion), with no "ago"
    assert j["state"] == "finished" and j["run_state"]["description"] == "finished after 8 h 30 min"
    assert j["steps"]["first_time"] == snap.raw.time.min().isoformat() == "2025-08-15T20:41:07.512000"
    assert j["steps"]["last_time"] == snap.raw.time.max().isoformat()
    assert j["throughput"]["elapsed_seconds"] == (snap.raw.time.max() - snap.raw.time.min()).total_seconds()
    assert [s["total_steps"] for s in j["segments"]] == [150_000, 150_000]
    (sup,) = [e for e in j["events"] if e["kind"] == "superseded"]
    assert (sup["count"], sup["step"]) == (24, 50_000)
    (cc,) = [e for e in j["events"] if e["kind"] == "config_changed"]
    assert cc["changed"] == ["trainer.resume_milestone"] and cc["step"] == 50_000


@pytest.mark.slow
def test_checkpoint_table_of_a_results_folder(tmp_path):
    """Files on disk, samples, and each source's values, labelled; read off the log line and tensorboard's reader."""
    from datetime import datetime

    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    files, truth = render(SimConfig(train_num_steps=3_000, log_freq=100, save_and_sample_every=500, grad_accum=2,
                                    disc_start=1_501, events=True, samples=True))
    folder = tmp_path / "run"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "model-2.pt").unlink()
    run = open_run(folder)
    snap = run.snapshot()
    run.close()
    md = render_markdown(snap, analyze(snap, now=NOW))
    rows = tables(md)["Values at checkpoints"]
    header = next(line for line in sections(md)["Values at checkpoints"].splitlines() if line.startswith("| checkpoint"))
    assert [cell(c) for c in header.strip("|").split("|")] == [
        "checkpoint", "step", "on disk", "samples", "logged step", "rec_loss (log)", "nll_loss (log)",
        "total_loss (log)", "kl_loss (log)", "event step", "rec_loss (events)", "total_loss (events)",
        "kl_loss (events)"]
    assert [r[0] for r in rows] == [f"model-{k}.pt" for k in range(1, 7)]
    by_name = {r[0]: r for r in rows}
    assert by_name["model-2.pt"][2] == "not on disk" and by_name["model-2.pt"][3] == "sample-2.png"
    mtime = (folder / "model-3.pt").stat().st_mtime
    ck, step, disk, samples, logged, rec, nll, total, kl, ev_step, ev_rec, ev_total, ev_kl = by_name["model-3.pt"]
    assert (step, samples, logged, ev_step) == ("1,500", "sample-3.png", "1,500", "1,500")
    assert disk == f"4.0 KiB, {datetime.fromtimestamp(mtime).strftime('%Y-%m-%d %H:%M:%S')}"  # 4,096 bytes
    line = next(ln for ln in files[truth.files[0]].decode().splitlines() if "[Train Step] 1500/" in ln
                and "rec_loss" in ln)
    printed = dict(re.findall(r"(\S+): ([-\d.naif]+),", line.split(": ", 1)[1]))
    assert (rec, nll, total, kl) == tuple(log_number(float(printed[f"train/{k}"]))
                                          for k in ("rec_loss", "nll_loss", "total_loss", "kl_loss"))
    ea = EventAccumulator(str(folder / truth.event_files[0]), size_guidance={SCALARS: 0})
    ea.Reload()
    at = {tag: next(p.value for p in ea.Scalars(tag) if p.step == 1_500) for tag in ("rec_loss", "total_loss", "kl_loss")}
    assert (ev_rec, ev_total, ev_kl) == (log_number(at["rec_loss"]), log_number(at["total_loss"]), log_number(at["kl_loss"]))
    assert by_name["model-6.pt"][4] == "2,900" and by_name["model-6.pt"][9] == "2,999"  # saved after the last record
    assert ("Its TensorBoard event files hold 3,000 steps in view (every step, 10 tags, steps 0 to 2,999): where a "
            "finding comes from them, it says so.") in sections(md)["Summary"]
    intro = sections(md)["Values at checkpoints"]
    assert "not the same quantities under gradient_accumulate_every 2" in intro
    assert "compare a column with itself, never across sources" in intro
    assert "<td>not on disk</td>" in render_html(snap, analyze(snap, now=NOW))


@pytest.mark.slow
def test_checkpoint_table_says_when_both_sources_hold_the_same_quantities(tmp_path):
    files, _ = render(SimConfig(train_num_steps=2_000, log_freq=100, save_and_sample_every=500, grad_accum=1,
                                events=True))
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    run = open_run(tmp_path)
    snap = run.snapshot()
    run.close()
    md = render_markdown(snap, analyze(snap, now=NOW))
    intro = sections(md)["Values at checkpoints"]
    assert "With gradient_accumulate_every 1 both sources hold the same quantities" in intro
    rows = tables(md)["Values at checkpoints"]
    # no samples were written: the listing is empty, so a checkpoint is not called missing from disk
    assert {r[2] for r in rows} == {"not in the listing"} and {r[3] for r in rows} == {"—"}
    assert [r[5] for r in rows] == [r[10] for r in rows]  # rec_loss: the log prints the event value


@pytest.mark.slow
def test_the_report_page_offers_the_event_values_of_a_run_that_has_them(tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from radiodash.report import events_csv

    root = tmp_path / "root"
    for name, events in (("withEvents", True), ("logOnly", False)):
        files, _ = render(SimConfig(train_num_steps=1_000, log_freq=100, save_and_sample_every=500, events=events))
        (root / name).mkdir(parents=True)
        for f, data in files.items():
            (root / name / f).write_bytes(data)
    for k in ("RADIODASH_LOG", "RADIODASH_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("RADIODASH_ROOT", str(root))
    labels = {}
    for name in ("withEvents", "logOnly"):
        st.cache_resource.clear()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.query_params["run"] = name
        at.run()
        at.switch_page("views/report.py")
        at.run()
        assert not at.exception
        labels[name] = [b.proto.label for b in at.get("download_button")]
    st.cache_resource.clear()
    assert labels["logOnly"] == ["Report: Markdown + chart images (.zip)", "Report: HTML", "Table (.csv)",
                                 "Analysis (.json)"]
    assert labels["withEvents"] == labels["logOnly"] + ["Event values (.csv)"]
    run = open_run(root / "withEvents")
    csv = events_csv(run.snapshot(), 200, 299)
    run.close()
    assert csv.splitlines()[0].startswith("step,wall_time,Learning_Rate,total_loss") and len(csv.splitlines()) == 101

