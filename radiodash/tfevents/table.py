"""One row per step from a run's event files: per-file step tables, stitched across launches.

Why per file: each launch of a trainer writes its own `events.out.tfevents.<unix time>.…`
file, and a resumed launch re-writes the steps from its milestone on. Like the log's
launches, a later file replaces every earlier row from its first step on; within one file,
the later record of a (step, tag) wins. Values stay exactly as written (float32 widened to
float64); `Learning_Rate` is the rate *after* the scheduler stepped, one step ahead of the
`lr` the log prints for the same step — it is not shifted here.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from .._jit import compiled

from ..radiodiff import EVENTS_PREFIX
from .decoder import EventChunk

INDEX_COLUMNS = ("step", "wall_time")


def is_event_file(name: str) -> bool:
    """A `SummaryWriter` file (`events.out.tfevents.<unix time>.<host>.<pid>.<n>`), never a hidden one."""
    return name.startswith(EVENTS_PREFIX) and len(name) > len(EVENTS_PREFIX)


def event_file_time(name: str) -> int | None:
    """The `<unix time>` in an event file's name (when the writer was created), None if it has none."""
    head = name[len(EVENTS_PREFIX):].split(".", 1)[0] if is_event_file(name) else ""
    return int(head) if head.isdigit() else None


def launch_order(names) -> list[str]:
    """Event files in launch order: by the time in their names (then by name; unnamed times last)."""
    def key(name: str) -> tuple[int, int, str]:
        t = event_file_time(name)
        return (0, t, name) if t is not None else (1, 0, name)
    return sorted(names, key=key)


@compiled
def _scatter(values, written, wall, rows, tags, val, wall_in):
    """values[rows[i], tags[i]] = val[i] (and marked written) and wall[rows[i]] = wall_in[i], in order:
    the later record wins."""
    for i in range(rows.size):
        values[rows[i], tags[i]] = val[i]
        written[rows[i], tags[i]] = True
        wall[rows[i]] = wall_in[i]


class FileSteps:
    """The step table of one event file: sorted unique steps, a wall time per step, a value per (step, tag).

    Tag ids are the file's decoder's; chunks are applied in file order.
    """

    def __init__(self) -> None:
        self.tags: tuple[str, ...] = ()
        self.n = 0
        self._steps = np.empty(0, np.int64)
        self._wall = np.empty(0, np.float64)
        self._values = np.empty((0, 0), np.float64)
        self._written = np.empty((0, 0), np.bool_)  # a record of (step, tag) was read: a NaN there was written

    @property
    def steps(self) -> np.ndarray:
        return self._steps[: self.n]

    @property
    def wall_time(self) -> np.ndarray:
        return self._wall[: self.n]

    @property
    def values(self) -> np.ndarray:
        """(steps × tags) float64, NaN where a step has no value of a tag."""
        return self._values[: self.n, : len(self.tags)]

    @property
    def written(self) -> np.ndarray:
        """(steps × tags) bool: a record of this tag at this step was read (its value may be a written nan)."""
        return self._written[: self.n, : len(self.tags)]

    def apply(self, chunk: EventChunk) -> None:
        """Add a chunk's values (rows for new steps; a value at a known step replaces the old one)."""
        if len(chunk.tags) > len(self.tags):
            self.tags = chunk.tags
            self._reserve(self.n, len(self.tags))
        s = chunk.step
        if s.size == 0:
            return
        last = self._steps[self.n - 1] if self.n else None
        ordered = bool((s[1:] >= s[:-1]).all())
        if ordered and (last is None or s[0] >= last):
            new = s[np.r_[True, s[1:] != s[:-1]]]
            if last is not None and new[0] == last:
                new = new[1:]
            start = self.n - (1 if last is not None and s[0] == last else 0)
            self._reserve(self.n + new.size, len(self.tags))
            self._steps[self.n: self.n + new.size] = new
            self._wall[self.n: self.n + new.size] = np.nan
            self._values[self.n: self.n + new.size] = np.nan
            self._written[self.n: self.n + new.size] = False
            self.n += new.size
            rows = start + np.searchsorted(self._steps[start: self.n], s)
        else:  # a step older than the last one: merge the step index (rare: the general path)
            merged = np.union1d(self.steps, s)
            old_rows = np.searchsorted(merged, self.steps)
            values = np.full((merged.size, max(self._values.shape[1], 1)), np.nan)
            written = np.zeros(values.shape, np.bool_)
            wall = np.full(merged.size, np.nan)
            values[old_rows, : len(self.tags)] = self.values
            written[old_rows, : len(self.tags)] = self.written
            wall[old_rows] = self.wall_time
            self._steps, self._wall, self._values, self._written, self.n = merged, wall, values, written, merged.size
            rows = np.searchsorted(merged, s)
        _scatter(self._values, self._written, self._wall, rows.astype(np.int64), chunk.tag, chunk.value, chunk.wall_time)

    def _reserve(self, rows: int, cols: int) -> None:
        cap_rows, cap_cols = self._values.shape
        if rows <= cap_rows and cols <= cap_cols:
            return
        new_rows = max(rows, 2 * cap_rows if rows > cap_rows else cap_rows, 64)
        new_cols = max(cols, cap_cols, 1)
        values = np.full((new_rows, new_cols), np.nan)
        values[: self.n, :cap_cols] = self._values[: self.n]
        written = np.zeros((new_rows, new_cols), np.bool_)
        written[: self.n, :cap_cols] = self._written[: self.n]
        self._written = written
        steps = np.empty(new_rows, np.int64)
        steps[: self.n] = self._steps[: self.n]
        wall = np.empty(new_rows, np.float64)
        wall[: self.n] = self._wall[: self.n]
        self._values, self._steps, self._wall = values, steps, wall


class EventTable:
    """The event files of one run, each a launch: `apply` a file's chunks, `frame()` the stitched table."""

    def __init__(self) -> None:
        self._files: dict[str, FileSteps] = {}

    def apply(self, name: str, chunk: EventChunk) -> None:
        """A chunk decoded from file `name` (by that file's own `EventDecoder`)."""
        self._files.setdefault(name, FileSteps()).apply(chunk)

    def forget(self, name: str) -> None:
        """The file was truncated, replaced or removed: its rows go (re-read it with a new decoder)."""
        self._files.pop(name, None)

    @property
    def files(self) -> list[str]:
        return launch_order(self._files)

    def file(self, name: str) -> FileSteps:
        return self._files[name]

    @property
    def tags(self) -> list[str]:
        """Every tag, in order of first appearance over the files in launch order."""
        seen: dict[str, None] = {}
        for name in self.files:
            seen.update(dict.fromkeys(self._files[name].tags))
        return list(seen)

    def frame(self) -> pd.DataFrame:
        """One row per step: `step`, `wall_time` (s since the epoch) and one float64 column per tag.

        A later launch replaces every earlier row from its first step on (as the log's
        launches do); `wall_time` is that of the step's last record in the launch kept.
        NaN is both "no record" and "a nan was written": `written_frame()` tells them apart.
        """
        return self._stitched(lambda fs: fs.values, np.nan, np.float64)

    def written_frame(self) -> pd.DataFrame:
        """The same rows as `frame()`, each tag column True where a record of it was read at that step."""
        return self._stitched(lambda fs: fs.written, False, np.bool_)

    def _stitched(self, matrix, missing, dtype) -> pd.DataFrame:
        """Stitch one per-file matrix (values or written flags) across launches, `missing` where a file lacks a tag."""
        names = self.files
        firsts = [self._files[n].steps[0] if self._files[n].n else np.iinfo(np.int64).max for n in names]
        cutoff = np.minimum.accumulate(np.array(firsts[::-1] or [0], np.int64))[::-1]  # min over this and later
        parts = []
        for i, name in enumerate(names):
            fs = self._files[name]
            limit = cutoff[i + 1] if i + 1 < len(names) else np.iinfo(np.int64).max
            keep = int(np.searchsorted(fs.steps, limit)) if fs.n else 0
            parts.append((fs, keep))
        tags = self.tags
        cols: dict[str, np.ndarray] = {
            "step": np.concatenate([fs.steps[:k] for fs, k in parts] or [np.empty(0, np.int64)]),
            "wall_time": np.concatenate([fs.wall_time[:k] for fs, k in parts] or [np.empty(0)]),
        }
        for tag in tags:
            pieces = []
            for fs, k in parts:
                j = fs.tags.index(tag) if tag in fs.tags else -1
                pieces.append(matrix(fs)[:k, j] if j >= 0 else np.full(k, missing, dtype))
            cols[_column_name(tag)] = np.concatenate(pieces or [np.empty(0, dtype)])
        return pd.DataFrame(cols)


def _column_name(tag: str) -> str:
    """The tag itself, unless it would clash with the index columns."""
    return f"{tag} (tag)" if tag in INDEX_COLUMNS else tag
