"""Runs for the Live page's browser tests: simulator runs (the whole results folder) and a stage-2 run
whose configuration block holds every stage-2 field (objective, timesteps, sampling_timesteps, the
first-stage checkpoint, scale_factor, the finetune checkpoint), as RadioDiff's LDM config has them."""
from __future__ import annotations

import os
from pathlib import Path

from radiodash.simulate import SimConfig, write_run

#: Added to the simulator's stage-2 config block (sorted keys, 2-space indent, as the trainer dumps it).
STAGE2_MODEL_EXTRA = ("  objective: pred_KC", "  sampling_timesteps: 50", "  scale_by_std: True",
                      "  scale_factor: 0.3")
STAGE2_FINETUNE = ("finetune:", "  ckpt_path: ./radiodiff_LDM/model-8.pt")


def stage1(folder: Path, **kw) -> Path:
    """A VAE run (events and samples on unless told), returned folder."""
    cfg = dict(train_num_steps=20_000, save_and_sample_every=5_000, disc_start=10_001, events=True, samples=True,
               flush_secs=0.001)
    cfg.update(kw)
    write_run(folder, SimConfig(**cfg))
    return folder


def stage2(folder: Path, **kw) -> Path:
    """A diffusion run (lr 2e-05) with the full stage-2 configuration block."""
    cfg = dict(stage="diffusion", lr=2e-5, train_num_steps=80_000, log_freq=500, save_and_sample_every=5_000,
               events=True, samples=True, flush_secs=0.001)
    cfg.update(kw)
    write_run(folder, SimConfig(**cfg))
    for log in folder.glob("*_.log"):
        lines = log.read_text().split("\n")
        out = []
        for line in lines:
            if line == "model:":
                out += list(STAGE2_FINETUNE) + [line]
                continue
            out.append(line)
            if line.startswith("  model_type:"):
                out += list(STAGE2_MODEL_EXTRA)
        stat = log.stat()
        log.write_text("\n".join(out))
        os.utime(log, (stat.st_atime, stat.st_mtime))
    return folder


def age_files(folder: Path, seconds_ago: float, now: float) -> None:
    """Every file of the run last written `seconds_ago` before `now` (os.utime)."""
    t = now - seconds_ago
    for f in folder.iterdir():
        os.utime(f, (t, t))


# ---------------------------------------------------------------- what the page shows

FIRST_LOAD = 45_000

#: Every Plotly chart of the page: its title, and per x axis its title and live range (what the user sees).
CHARTS_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(g => ({
    title: g._fullLayout.title && g._fullLayout.title.text,
    axes: Object.fromEntries(Object.keys(g._fullLayout).filter(k => /^[xy]axis\\d*$/.test(k)).map(k =>
        [k, {title: g._fullLayout[k].title && g._fullLayout[k].title.text, range: g._fullLayout[k].range.slice()}])),
    traces: g._fullData.map(t => t.name)}))"""


def metric(page, label: str):
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def charts(page) -> list[dict]:
    return page.evaluate(CHARTS_JS)


def chart(page, title: str, first: bool = True):
    """The chart whose Plotly title is `title`, with or without a note after it ("Overlay" finds "Overlay (log)");
    `first=False`: every element that matches (a chart being swapped for its redrawn successor is two)."""
    import re

    found = page.locator(".js-plotly-plot").filter(
        has=page.locator(".gtitle", has_text=re.compile(f"^{re.escape(title)}( \\(.*\\))?$")))
    return found.first if first else found


def plain_title(title: str) -> str:
    """A chart title without its note: 'Overlay (log)' -> 'Overlay', 'nll_loss <span…>(log only…)' -> 'nll_loss'."""
    return title.split(" <span")[0].removesuffix(" (log)")


def trace_data(page, title: str, name: str) -> dict:
    """x and y of the trace `name` of chart `title`, as drawn in the page (typed arrays made plain)."""
    return chart(page, title).evaluate("""(g, name) => { const t = g._fullData.find(t => t.name === name);
        return t ? {x: Array.from(t.x), y: Array.from(t.y)} : null }""", name)


def box_zoom(page, locator, x0: float = 0.3, x1: float = 0.5, y0: float = 0.3, y1: float = 0.6) -> None:
    """Drag a zoom box with the mouse across part of a chart's plot area, as a user does."""
    locator.scroll_into_view_if_needed()
    box = locator.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * x0, box["y"] + box["height"] * y0)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * x1, box["y"] + box["height"] * y1, steps=8)
    page.mouse.up()
