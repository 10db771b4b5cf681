"""Static PNGs of the report's charts, through Plotly's own export (kaleido) driving the system Chromium.

If it cannot run (no Chromium, a sandbox that forbids it), the caller gets the reason in one
sentence and the report says so and points to the HTML report instead.
"""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Mapping

import plotly.graph_objects as go

WIDTH, HEIGHT = 1000, 380
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")


def chromium_path() -> str | None:
    """The browser kaleido drives: $RADIODASH_CHROMIUM, else the system Chromium on PATH."""
    env = os.environ.get("RADIODASH_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def write_pngs(figures: Mapping[str, go.Figure], paths: Mapping[str, Path]) -> str | None:
    """Write each figure to its path; None when all were written, else why not (one sentence)."""
    if not figures:
        return None
    browser = chromium_path()
    if browser is None:
        return "no Chromium browser was found on this machine (set RADIODASH_CHROMIUM to its path)"
    try:
        import kaleido
    except ImportError:
        return "Plotly's image export (kaleido) is not installed"
    for name in ("kaleido", "choreographer", "logistro"):  # their progress logging is not the CLI's output
        logging.getLogger(name).setLevel(logging.ERROR)
    specs = []
    for key, fig in figures.items():
        paths[key].parent.mkdir(parents=True, exist_ok=True)
        specs.append({"fig": fig, "path": str(paths[key]), "opts": {"format": "png", "width": WIDTH,
                                                                    "height": int(fig.layout.height or HEIGHT)}})
    try:
        kaleido.write_fig_from_object_sync(specs, kopts={"path": browser, "mathjax": False, "timeout": 60})
    except Exception as e:  # noqa: BLE001 - any failure of the browser is reported, not raised
        return f"the image export failed ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else 'no detail'})"
    missing = [str(p) for p in paths.values() if not Path(p).exists()]
    if missing:
        return f"the image export wrote no file for {len(missing)} chart(s)"
    return None
