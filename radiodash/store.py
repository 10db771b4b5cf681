"""The run store: launches and an append-only columnar step table, versioned.

Why columnar and append-only: a 1,000,000-step run must cost a few numpy arrays, not
a million dicts, and a live refresh must append 100 rows without touching the rest.
Readers get immutable `Snapshot`s: rows a snapshot can see are never written again
in place (copy-on-write for the rare merge into an already published row).
"""
from __future__ import annotations

import threading
import time as _time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .model import Problem, Segment, Snapshot
from . import _scan
from .parse import TRAIN, VAL, Header, Marker, ParsedChunk, stage_of
from .reader import EventValues, Notice, ReaderItem
from .source import Entry
from .tail import FileReset
from .tfevents import EventTable

NAT = np.iinfo(np.int64).min  # datetime64's NaT as int64: the time column is viewed, not converted
MAX_PROBLEMS = 500
MAX_NOTICES = 200


class _Table:
    """Growable columns: step, time (ms, NaT), segment, line, and float64 metrics."""

    def __init__(self, capacity: int = 1024) -> None:
        self.n = 0
        self.cap = capacity
        self.step = np.empty(capacity, np.int64)
        self.time = np.empty(capacity, np.int64)
        self.segment = np.empty(capacity, np.int32)
        self.line = np.empty(capacity, np.int64)
        self.cols: dict[str, np.ndarray] = {}
        self.published = 0  # rows a snapshot may hold: never written in place again
        self._copied: set[str] = set()  # columns already copied since the last snapshot

    def reserve(self, rows: int) -> None:
        """Room for `rows` rows (fresh arrays: a published snapshot keeps the old ones)."""
        if rows <= self.cap:
            return
        cap = rows
        for name in ("step", "time", "segment", "line"):
            old = getattr(self, name)
            new = np.empty(cap, old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)
        for key, old in self.cols.items():
            new = np.empty(cap)  # rows past n are filled (NaN first) when appended
            new[: self.n] = old[: self.n]
            self.cols[key] = new
        self.cap = cap
        self.published = 0  # fresh arrays: no snapshot holds them

    def column(self, key: str) -> np.ndarray:
        """The column of `key`, created NaN for the rows before it first appeared."""
        col = self.cols.get(key)
        if col is None:
            col = self.cols[key] = np.empty(self.cap)
            col[: self.n] = np.nan  # earlier rows did not have this key
        return col

    def writable(self, key: str, first_row: int) -> np.ndarray:
        """The column, copied first if `first_row` is visible to a snapshot (copy-on-write)."""
        if first_row >= self.published and key in self.cols:  # the usual case: new rows only
            return self.cols[key]
        col = self.column(key)
        if first_row < self.published and key not in self._copied:
            col = self.cols[key] = col.copy()
            self._copied.add(key)
        return col

    def keep(self, rows: np.ndarray, seg_map: np.ndarray) -> None:
        """Keep only `rows` (ascending), renumbering segments through `seg_map`; fresh arrays."""
        n = rows.size
        self.step = self.step[rows].copy()
        self.time = self.time[rows].copy()
        self.segment = seg_map[self.segment[rows]].astype(np.int32)
        self.line = self.line[rows].copy()
        # a column only the dropped rows had would not exist in a fresh parse (a logged nan looks absent)
        self.cols = {k: c for k, v in self.cols.items() if not np.isnan(c := v[rows]).all()}
        self.n = self.cap = n
        self.published = 0
        self._copied = set()
        self.reserve(max(n, 1024))

    def frame_columns(self) -> dict[str, np.ndarray]:
        """Views of the first n rows for a snapshot; from now on those rows are copied before a write."""
        n = self.n
        self.published = n
        self._copied = set()
        return {"step": self.step[:n], "time": self.time[:n].view("datetime64[ms]"),
                "segment": self.segment[:n], "line": self.line[:n],
                **{k: v[:n] for k, v in self.cols.items()}}


@dataclass
class _Seg:
    """Mutable bookkeeping of one launch (frozen into a model.Segment for snapshots)."""

    index: int
    file: str
    header_line: int | None
    config: dict[str, Any] | None
    first_step: int | None = None
    last_step: int | None = None
    first_ms: int = NAT
    last_ms: int = NAT
    total_steps: int | None = None
    records: int = 0
    resumed_from_milestone: int | None = None
    completed: bool = False
    crashed: bool = False
    keys: frozenset[str] = frozenset()


class RunStore:
    """One run, fed by ParsedChunks from any number of files; thread-safe."""

    def __init__(self, path: str, name: str) -> None:
        self.path = path
        self.name = name
        self.lock = threading.RLock()
        self.version = 0
        self.train = _Table()
        self.val = _Table()
        self.segments: list[_Seg] = []
        self._current: dict[str, int] = {}  # file -> its current segment
        # markers (resumed/complete/crash) met before the file's first launch: they belong to the
        # implicit launch its first header-less step line opens, whichever chunk that line is in
        self._early_markers: dict[str, list[Marker]] = {}
        self._headers: dict[int, int] = {}  # id(Header) -> segment (a block header may still grow)
        self.nonfinite: list[tuple[int, str, str, int, str, int]] = []
        self.problems: list[Problem] = []
        self.problem_count = 0
        self.other_lines = 0
        self._other_by_file: dict[str, int] = {}
        self._problems_by_file: dict[str, int] = {}
        self.other_examples: list[str] = []
        self.notices: list[str] = []
        self.lines_read = 0
        self.bytes_read = 0
        self.events = EventTable()  # the event files' values, one table per file (launch), stitched on demand
        self._events_version = 0
        self._events_frame: tuple[int, pd.DataFrame, pd.DataFrame] | None = None
        self.artifacts: tuple[Entry, ...] = ()  # sample images and checkpoints as last listed
        self.file_mtimes: dict[str, float] = {}
        self.read_time: float | None = None
        self.unreachable_since: float | None = None
        self.files: list[str] = []
        self._snap: Snapshot | None = None

    # ------------------------------------------------------------------ writing

    def reserve(self, rows: int) -> None:
        """Room for `rows` step records (the run presizes from the listing's file sizes)."""
        with self.lock:
            self.train.reserve(rows)

    def apply(self, item: ReaderItem) -> int:
        """Apply what a reader yielded; returns the number of new train step records."""
        if isinstance(item, ParsedChunk):
            return self.ingest(item, item.nbytes)
        if isinstance(item, EventValues):
            with self.lock:
                self.events.apply(_base(item.file), item.chunk)
                self._events_version += 1
                self.version += 1
            return 0
        if isinstance(item, FileReset):
            message = item.message
            if item.kind.forgets and _base(item.file) in self.events.files:
                with self.lock:
                    self.events.forget(_base(item.file))
                    self._events_version += 1
            if item.kind.forgets:
                dropped = self.forget_file(item.file)
                if dropped:
                    message += f" ({dropped:,} step records read from it earlier were taken out of the view)"
            self.add_notice(message)
        elif isinstance(item, Notice):
            self.add_notice(item.message)
        return 0

    def note_read(self, mtimes: dict[str, float], when: float | None = None,
                  artifacts: list[Entry] | tuple[Entry, ...] = ()) -> None:
        """The files' modification times as just listed, and when: the basis of "last written";
        `artifacts`: the sample images and checkpoints the same listing saw."""
        with self.lock:
            artifacts = tuple(artifacts)
            changed = mtimes != self.file_mtimes or self.unreachable_since is not None or artifacts != self.artifacts
            self.file_mtimes = dict(mtimes)
            self.artifacts = artifacts
            self.read_time = _time.time() if when is None else when
            if self.unreachable_since is not None:
                self.add_notice("reachable again; reading resumed where it stopped")
            self.unreachable_since = None
            if changed:
                self.version += 1

    def set_unreachable(self, message: str, when: float | None = None) -> None:
        """The source cannot be reached: keep everything read so far, say since when."""
        with self.lock:
            if self.unreachable_since is None:
                self.unreachable_since = _time.time() if when is None else when
                self.add_notice(message)

    def add_notice(self, message: str) -> None:
        """A plain-text notice for the user (kept up to MAX_NOTICES)."""
        with self.lock:
            if len(self.notices) < MAX_NOTICES:
                self.notices.append(message)
            self.version += 1

    def forget_file(self, file: str) -> int:
        """Drop everything read from `file` (it was truncated, replaced or deleted); returns rows dropped.

        Why: the file will be read again from its start, and the view must equal a
        one-shot parse of the files as they are now — never the old rows plus the new.
        """
        with self.lock:
            gone = [s.index for s in self.segments if s.file == file]
            if not gone and file not in self.files:
                return 0
            kept = [s for s in self.segments if s.file != file]
            seg_map = np.full(max(len(self.segments), 1), -1, np.int32)
            for new, s in enumerate(kept):
                seg_map[s.index] = new
                s.index = new
            dropped = 0
            for t in (self.train, self.val):
                rows = np.flatnonzero(seg_map[t.segment[: t.n]] >= 0) if t.n else np.zeros(0, np.int64)
                dropped += t.n - rows.size if t is self.train else 0
                t.keep(rows, seg_map)
            self.segments = kept
            self._current = {f: int(seg_map[i]) for f, i in self._current.items() if f != file}
            self._early_markers.pop(file, None)
            self._headers = {h: int(seg_map[i]) for h, i in self._headers.items() if seg_map[i] >= 0}
            self.nonfinite = [(st, k, v, int(seg_map[sg]), f, ln) for st, k, v, sg, f, ln in self.nonfinite
                              if f != file]
            self.problems = [p for p in self.problems if p.file != file]
            self.problem_count -= self._problems_by_file.pop(file, 0)
            self.other_lines -= self._other_by_file.pop(file, 0)
            self.other_examples = [e for e in self.other_examples if not e.startswith(file + ":")]
            if file in self.files:
                self.files.remove(file)
            self.version += 1
            return dropped

    def ingest(self, chunk: ParsedChunk, nbytes: int = 0) -> int:
        """Add one parsed chunk; returns the number of new train step records."""
        with self.lock:
            if chunk.file not in self.files:
                self.files.append(chunk.file)
            self.lines_read += chunk.lines
            self.bytes_read += nbytes
            self.problem_count += chunk.problem_count
            self.problems.extend(chunk.problems[: max(0, MAX_PROBLEMS - len(self.problems))])
            self.other_lines += chunk.other_lines
            f = chunk.file
            self._other_by_file[f] = self._other_by_file.get(f, 0) + chunk.other_lines
            self._problems_by_file[f] = self._problems_by_file.get(f, 0) + chunk.problem_count
            self.other_examples.extend(chunk.other_examples[: max(0, 5 - len(self.other_examples))])
            for h in chunk.header_updates:
                seg = self._headers.get(id(h))
                if seg is not None:
                    self.segments[seg].config = h.config
            seg_of_row = self._walk_events(chunk)
            added = 0
            m = chunk.step.size
            if m:
                is_train = chunk.kind == TRAIN
                all_train = bool(is_train.all())  # the usual chunk: no [Val Step] line
                for kind, table in ((TRAIN, self.train), (VAL, self.val)):
                    if all_train:
                        if kind == VAL:
                            continue
                        rows: np.ndarray | slice = slice(None)  # views, not copies, below
                    else:
                        rows = np.flatnonzero(is_train if kind == TRAIN else chunk.kind == kind)
                        if not rows.size:
                            continue
                    n_new = self._append(table, chunk, rows, seg_of_row[rows], kind == TRAIN)
                    if kind == TRAIN:
                        added = n_new
            self.version += 1
            return added

    def _walk_events(self, chunk: ParsedChunk) -> np.ndarray:
        """Open launches at headers and apply markers; return the launch of each step row."""
        f = chunk.file
        m = chunk.step.size
        before = self._current.get(f)
        first_header = next((at for at, ev in chunk.events if isinstance(ev, Header)), None)
        if m and before is None and (first_header is None or first_header > 0):
            before = self._open(f, None, None)  # step lines with no header yet: an implicit launch
            for ev in self._early_markers.pop(f, []):
                self._mark(before, ev)
        cuts: list[tuple[int, int]] = []
        for at, ev in chunk.events:
            if isinstance(ev, Header):
                seg = self._open(f, ev.line, ev.config)
                self._headers[id(ev)] = seg
                self._early_markers.pop(f, None)  # a header opens the first launch: they were before it
                cuts.append((at, seg))
            elif isinstance(ev, Marker):
                cur = self._current.get(f)
                if cur is None:
                    self._early_markers.setdefault(f, []).append(ev)
                else:
                    self._mark(cur, ev)
        out = np.full(m, -1 if before is None else before, np.int32)
        for at, seg in cuts:
            out[at:] = seg
        return out

    def _mark(self, seg: int, ev: Marker) -> None:
        s = self.segments[seg]
        if ev.kind == "resume":
            s.resumed_from_milestone = ev.milestone
        elif ev.kind == "complete":
            s.completed = True
        elif ev.kind == "crash":
            s.crashed = True

    def _open(self, file: str, header_line: int | None, config: dict[str, Any] | None) -> int:
        seg = _Seg(len(self.segments), file, header_line, config)
        self.segments.append(seg)
        self._current[file] = seg.index
        return seg.index

    def _append(self, t: _Table, chunk: ParsedChunk, rows: np.ndarray | slice, seg: np.ndarray, is_train: bool) -> int:
        """Merge consecutive lines of one step (gradient accumulation) and append the records.

        `rows`: the chunk's rows of this table, or slice(None) for all of them (the usual case,
        which then costs views instead of copies). The per-line work is compiled (`group_lines`,
        `merge_lines`); what is left here is per key and per launch.
        """
        step = chunk.step[rows]
        m = step.size
        time_ms = chunk.time_ms[rows]
        has_last = t.n > 0
        new, local_firsts, merge_first, backs, first_ms, last_ms, unstamped = _scan.group_lines(
            step, seg, time_ms, has_last, int(t.step[t.n - 1]) if has_last else 0,
            int(t.segment[t.n - 1]) if has_last else 0)
        if is_train and backs.size:
            self._note_backwards(t, chunk, rows, step, backs)
        n_groups = local_firsts.size
        one_line_per_record = n_groups == m  # no line merges into another (nor into the last record)
        one_launch = seg[0] == seg[-1]
        n_after = t.n + n_groups
        if n_after > t.cap:
            t.reserve(max(n_after, int(t.cap * 1.5) + 1024))
        # a record's step, time and line are its first line's
        firsts = rows if one_line_per_record else local_firsts if isinstance(rows, slice) else rows[local_firsts]
        idx = slice(t.n, n_after)
        t.step[idx] = chunk.step[firsts]
        times = chunk.time_ms[firsts]
        t.time[idx] = times
        if unstamped:
            t.time[idx][times < 0] = NAT
        t.segment[idx] = seg[0] if one_launch else seg if one_line_per_record else seg[new]
        t.line[idx] = chunk.line[firsts]
        present = chunk.present[:, rows]
        values = chunk.values[:, rows]
        used = chunk.used if isinstance(rows, slice) else np.flatnonzero(present.any(axis=1)).tolist()
        keys = chunk.keys
        cols = t.cols
        fresh = [j for j in used if keys[j] not in cols]
        # new columns in order of first appearance (row, then the file's key order): chunking-independent
        for j in sorted(fresh, key=lambda j: (int(np.argmax(present[j])), chunk.rank.get(keys[j], 0))):
            t.column(keys[j])
        used_keys = {keys[j] for j in used}
        if len(used_keys) < len(cols):
            for key, col in cols.items():
                if key not in used_keys:
                    col[t.n: n_after] = np.nan  # no line of this chunk has the key
        if one_line_per_record:  # only new rows are written (none merges into the last record): no copy
            for j in used:
                cols[keys[j]][t.n: n_after] = values[j]  # NaN where the line lacks the key
        elif used:
            # C-contiguous arrays only (see _c_corner): one compiled signature, which `make install` warms; a
            # view's layout ('A', or 'F' for one line) compiled a variant of its own at a live page's first refresh
            merged, has_first = _scan.merge_lines(_c_corner(values), _c_corner(present),
                                                  np.asarray(used, np.int64), new, merge_first)
            shift = 1 if merge_first else 0
            for a, j in enumerate(used):
                if shift and has_first[a]:  # the chunk's first lines complete the last record
                    col = t.writable(keys[j], t.n - 1)  # copied first if a snapshot holds that record
                    col[t.n - 1] = merged[a, 0]
                else:  # only new rows are written: a published column is not copied
                    col = cols[keys[j]]
                col[t.n: n_after] = merged[a, shift:]
        t.n = n_after
        if not is_train:
            return n_groups
        row_ids = np.arange(chunk.step.size)[rows] if chunk.nonfinite else None
        for r, key, val in chunk.nonfinite:
            i = int(np.searchsorted(row_ids, r))
            if i < m and row_ids[i] == r:
                sg = int(seg[i])
                self.nonfinite.append((int(step[i]), key, val, sg, self.segments[sg].file, int(chunk.line[r])))
        total = chunk.total[rows]
        if one_launch:  # the usual chunk: its figures are the compiled pass's
            sg = self.segments[int(seg[0])]
            if sg.first_step is None:
                sg.first_step = int(step[0])
            sg.last_step = int(step[-1])
            if first_ms >= 0:
                if sg.first_ms == NAT:
                    sg.first_ms = int(first_ms)
                sg.last_ms = int(last_ms)
            sg.total_steps = int(total[-1])
            sg.records += n_groups
            if not used_keys <= sg.keys:
                sg.keys = sg.keys | used_keys
            return n_groups
        # seg is non-decreasing (a chunk only opens newer launches): one slice per launch
        bounds = [0, *(np.flatnonzero(seg[1:] != seg[:-1]) + 1).tolist(), m]
        for a, b in zip(bounds[:-1], bounds[1:]):
            sg = self.segments[int(seg[a])]
            if sg.first_step is None:
                sg.first_step = int(step[a])
            sg.last_step = int(step[b - 1])
            tm = time_ms[a:b]
            stamped = tm[tm >= 0]
            if stamped.size:
                if sg.first_ms == NAT:
                    sg.first_ms = int(stamped[0])
                sg.last_ms = int(stamped[-1])
            sg.total_steps = int(total[b - 1])
            sg.records += int(new[a:b].sum())
            seen = {keys[j] for j in np.flatnonzero(present[:, a:b].any(axis=1)).tolist()}
            if not seen <= sg.keys:
                sg.keys = sg.keys | seen
        return n_groups

    def _note_backwards(self, t: _Table, chunk: ParsedChunk, rows: np.ndarray | slice, step: np.ndarray,
                        backs: np.ndarray) -> None:
        """A step lower than the one before it within one launch (`backs`: where; 0 = against the last
        record): said once per occurrence (the later line wins that step in the view, as for any repeated step)."""
        lines = chunk.line[rows]
        for i in backs.tolist():
            before = int(step[i - 1]) if i else int(t.step[t.n - 1])
            self.add_notice(f"{chunk.file.rsplit('/', 1)[-1]}:{int(lines[i])}: the step went back from {before:,} to "
                            f"{int(step[i]):,} within one launch (lines out of order, or two writers in one file); records are "
                            "shown in step order, and where a step repeats the later line wins")

    # ------------------------------------------------------------------ reading

    def snapshot(self) -> Snapshot:
        """An immutable view of the run now (cached per version)."""
        with self.lock:
            if self._snap is not None and self._snap.version == self.version:
                return self._snap
            segments = tuple(self._freeze(s) for s in self.segments)
            files = [s.file for s in self.segments] or [""]
            cols = self.train.frame_columns()
            raw = self._frame(cols, files)
            frame, kept = _stitch(raw, segments)
            val = self._frame(self.val.frame_columns(), files)
            nonfinite = pd.DataFrame(self.nonfinite, columns=["step", "metric", "value", "segment", "file", "line"])
            snap = Snapshot(
                path=self.path, name=self.name, version=self.version, frame=frame, raw=raw, val_frame=val,
                segments=segments, nonfinite=nonfinite, problems=tuple(self.problems),
                problem_count=self.problem_count, other_lines=self.other_lines,
                other_examples=tuple(self.other_examples), notices=tuple(self.notices),
                lines_read=self.lines_read, bytes_read=self.bytes_read,
                last_write_time=max(self.file_mtimes.values(), default=None), read_time=self.read_time,
                unreachable_since=self.unreachable_since,
                files=tuple(self.files), raw_lines=cols["line"], events=self._event_frame()[0],
                events_written=self._event_frame()[1],
                artifacts=self.artifacts,
                lines=cols["line"] if kept is None else cols["line"][kept],
            )
            self._snap = snap
            return snap

    def _event_frame(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The stitched per-step event table and which of its cells were written, rebuilt only when event
        values changed (lock held)."""
        if self._events_frame is None or self._events_frame[0] != self._events_version:
            self._events_frame = (self._events_version, self.events.frame(), self.events.written_frame())
        return self._events_frame[1], self._events_frame[2]

    def _frame(self, cols: dict[str, np.ndarray], files: list[str]) -> pd.DataFrame:
        seg = cols["segment"]
        seg_file = [self.segments[i].file for i in range(len(self.segments))]
        cats = list(dict.fromkeys(seg_file)) or [""]
        code_of_seg = np.array([cats.index(f) for f in seg_file] or [0], np.int32)
        codes = code_of_seg[seg] if seg.size else np.zeros(0, np.int32)
        data: dict[str, Any] = {"step": cols["step"], "time": cols["time"], "segment": seg,
                                "file": pd.Categorical.from_codes(codes, categories=cats)}
        for k, v in cols.items():
            if k not in ("step", "time", "segment", "line"):
                data[k] = v
        return pd.DataFrame(data, copy=False)

    def _freeze(self, s: _Seg) -> Segment:
        cfg = s.config
        milestone = s.resumed_from_milestone
        trainer = cfg.get("trainer") if isinstance(cfg, dict) and isinstance(cfg.get("trainer"), dict) else {}
        rm = trainer.get("resume_milestone") if trainer else None
        if isinstance(rm, int) and not isinstance(rm, bool) and rm > 0 and milestone is None:
            milestone = rm
        resumes = None
        if s.first_step is not None and (s.first_step > 0 or milestone):
            earlier = [o for o in self.segments[: s.index] if o.first_step is not None and o.first_step <= s.first_step]
            if earlier:
                resumes = earlier[-1].index
        return Segment(
            index=s.index, file=s.file, header_line=s.header_line, config=cfg, stage=stage_of(cfg, set(s.keys)),
            first_step=s.first_step, last_step=s.last_step,
            first_time=_ts(s.first_ms), last_time=_ts(s.last_ms), total_steps=s.total_steps, records=s.records,
            resumed_from_milestone=milestone, resumes_segment=resumes, completed=s.completed, crashed=s.crashed,
        )


def _ts(ms: int) -> pd.Timestamp | None:
    return None if ms == NAT else pd.Timestamp(ms, unit="ms")


def _stitch(raw: pd.DataFrame, segments: tuple[Segment, ...]) -> tuple[pd.DataFrame, np.ndarray | None]:
    """One row per step: a later launch replaces every earlier row from its first step on.

    Returns the table and the raw rows it kept (None: all of them, in order).
    """
    step = raw["step"].to_numpy()
    if step.size < 2 or bool((np.diff(step) > 0).all()):
        return raw, None
    seg = raw["segment"].to_numpy()
    # cutoff[i] = smallest first step of any later launch
    firsts = np.array([s.first_step if s.first_step is not None else np.iinfo(np.int64).max for s in segments] + [np.iinfo(np.int64).max], np.int64)
    cutoff = np.minimum.accumulate(firsts[::-1])[::-1][1:]  # suffix min over later segments
    keep = step < cutoff[seg]
    idx = np.flatnonzero(keep)
    s = step[idx]
    if s.size > 1 and not bool((np.diff(s) > 0).all()):
        order = np.argsort(s, kind="stable")
        ss = s[order]
        last = np.r_[ss[1:] != ss[:-1], True]  # repeated step in one launch: the later line wins
        idx = idx[order[last]]
    return raw.iloc[idx].reset_index(drop=True), idx


def _c_corner(a: np.ndarray) -> np.ndarray:
    """A C-contiguous 2-D array whose top-left corner is `a` (merge_lines reads only that corner).

    A chunk's values are the top-left corner of its scan's arrays (sized by an estimate, then cut to the
    lines read): passing those whole spares a copy of every row (~4 % of a full parse under gradient
    accumulation); anything else is copied. Always C-contiguous: one compiled variant, warmed by `make install`.
    """
    owner = a.base
    if (isinstance(owner, np.ndarray) and owner.ndim == 2 and owner.flags.c_contiguous and owner.dtype == a.dtype
            and a.strides == owner.strides and a.ctypes.data == owner.ctypes.data
            and a.shape[0] <= owner.shape[0] and a.shape[1] <= owner.shape[1]):  # (a fancy index's result can be
        return owner  # the transpose of its base: with one row, base (n, 1) and result (1, n) have equal strides)
    return np.ascontiguousarray(a)


def _base(path: str) -> str:
    """A file's name within its run folder (the event table keys files by name: launch order is in it)."""
    return path.rsplit("/", 1)[-1]
