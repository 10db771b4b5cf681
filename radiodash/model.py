"""The data model shared by every layer: what a run *is* once its logs are read.

These are plain frozen dataclasses so that analysis, charts, pages, the CLI and a
notebook all see the same shapes, and so that a snapshot handed to a reader can
never change underneath it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: Columns every step table starts with; metric columns follow, named as in the log.
BASE_COLUMNS: tuple[str, ...] = ("step", "time", "segment", "file")


@dataclass(frozen=True)
class Problem:
    """A line that looked like data but could not be used, located precisely."""

    file: str
    line: int  # 1-based line number within the file (after the last reset)
    reason: str
    text: str = ""  # the start of the offending line, for the message (plain text, never HTML)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class Segment:
    """One launch of a trainer: a config header and the steps that follow it.

    A resume is a segment whose first step continues an earlier segment.
    """

    index: int
    file: str  # path of the log file this launch wrote to
    header_line: int | None  # line of the config header; None when the launch has no header
    config: dict[str, Any] | None
    stage: str | None  # "vae", "diffusion" or None when unknown
    first_step: int | None
    last_step: int | None
    first_time: pd.Timestamp | None
    last_time: pd.Timestamp | None
    total_steps: int | None  # the `total` of `[Train Step] step/total`
    records: int  # step records in this launch (raw, before stitching)
    resumed_from_milestone: int | None = None  # from the config or a "resumed from milestone K" line
    resumes_segment: int | None = None  # index of the earlier segment this one continues
    completed: bool = False  # the trainer logged its completion message ("training complete")
    crashed: bool = False  # a traceback followed this launch's lines

    @property
    def is_resume(self) -> bool:
        """A launch that continues an earlier one (from a milestone), not a fresh start."""
        return self.resumes_segment is not None or bool(self.resumed_from_milestone)


@dataclass(frozen=True)
class Snapshot:
    """A consistent, immutable view of a run at one version.

    `frame` is the stitched table: one row per step, later launches winning for
    repeated steps. `raw` keeps every launch's own rows (column `segment` tells them apart).
    """

    path: str
    name: str
    version: int
    frame: pd.DataFrame
    raw: pd.DataFrame
    val_frame: pd.DataFrame  # `[Val Step]` records: step, time, segment, file, val/...
    segments: tuple[Segment, ...]
    nonfinite: pd.DataFrame  # logged nan/inf cells: step, metric, value, segment, file, line
    problems: tuple[Problem, ...]
    problem_count: int
    other_lines: int
    other_examples: tuple[str, ...]
    notices: tuple[str, ...]  # truncations, replacements, skipped long lines…, with file and place
    lines_read: int
    bytes_read: int
    # when the run's files were last written, from the filesystem (epoch seconds of the newest
    # mtime), as of `read_time` (epoch seconds of the last read): never the time the server read them
    last_write_time: float | None
    read_time: float | None
    # set while the run's files cannot be reached (a remote host down): epoch seconds since when
    unreachable_since: float | None = None
    files: tuple[str, ...] = field(default=())
    # the log line (1-based, in its file) of each row's first line: `lines` for `frame`, `raw_lines`
    # for `raw`. Not in DataFrame.attrs: pandas deep-copies attrs on every column access.
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    raw_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # the TensorBoard event files' values: one row per step, `step`, `wall_time` (epoch seconds), one
    # column per tag as written — a second, labelled source, never merged into `frame`'s columns
    events: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"step": np.zeros(0, np.int64),
                                                                       "wall_time": np.zeros(0)}))
    # the same rows and columns as `events`, True where a record of that tag was read at that step:
    # a NaN in `events` is a value the trainer wrote as nan exactly where this is True
    events_written: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"step": np.zeros(0, np.int64),
                                                                               "wall_time": np.zeros(0)}))
    # sample images and checkpoints of the results folder as last listed (radiodash.source.Entry)
    artifacts: tuple = ()

    @property
    def metrics(self) -> list[str]:
        """Metric column names in the order they first appeared."""
        return [c for c in self.frame.columns if c not in BASE_COLUMNS]

    @property
    def config(self) -> dict[str, Any] | None:
        """The config of the newest launch that has one."""
        for seg in reversed(self.segments):
            if seg.config is not None:
                return seg.config
        return None


# ------------------------------------------------------------------ lookups every layer uses


def config_value(config: dict[str, Any] | None, *path: str) -> Any:
    """config['a']['b']… or None (configs differ between stages and forks)."""
    node: Any = config
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def as_number(x: Any) -> float | None:
    """A config value as a float when it is a real number (not a bool, a string or None), else None."""
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def metric_column(frame: pd.DataFrame, name: str) -> str | None:
    """The column for a short metric name: `train/<name>` (VAE) or `<name>` (diffusion)."""
    for c in (f"train/{name}", name):
        if c in frame.columns:
            return c
    return None


def short_name(metric: str) -> str:
    """The metric name without its group: `train/rec_loss` → `rec_loss` (stage 1 and 2 name keys differently)."""
    return metric.split("/", 1)[1] if "/" in metric else metric
