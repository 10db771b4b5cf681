"""The Samples page's helpers: which image files may be shown, their bytes read through the run's
source (local or `ssh://` alike), and the Streamlit blocks that draw a milestone.

What may be shown: only a sample image of the selected run's last listing (`Snapshot.artifacts`),
named as RadioDiff names them, lying in the run's own folder (a symlink leading elsewhere is
refused), a complete PNG or JPEG within `samples.MAX_IMAGE_BYTES` (`samples.check_image`). Nothing
a visitor sends names a file: the address only picks a milestone number among the listing's.
A half-written image (`save_image` writes in place) is "being written", never an error.

Why a cache keyed by the listing's (path, size, mtime, identity): a page redraws every few seconds;
an image is read once per version of the file, not once per redraw and viewer.
"""
from __future__ import annotations

import io
import os
import posixpath
from dataclasses import dataclass, replace
from datetime import datetime

import pandas as pd
import streamlit as st

from ..analysis.checkpoints import (EVENTS_SUFFIX, LOG_SUFFIX, ON_DISK, cell_text, checkpoint_table, event_columns,
                                    file_of, listing, log_columns, loss_columns, size_text)
from ..analysis.sources import same_quantities
from ..cache import LRU
from ..model import Snapshot
from ..samples import MAX_IMAGE_BYTES, ImageCheck, StartupSample, check_image
from ..source import Entry, FileKind, LocalSource, NotRegular, Source, Unreachable
from ..text import md_escape

#: Images up to this size are kept in memory between redraws (real samples are ~100 KB).
MAX_CACHED_BYTES = 2_000_000
REFRESH_SECONDS = 2.0
GRID_COLUMNS = 4
GRID_MAX = 12  # thumbnails in the overview; older milestones through the slider
THUMB_WIDTH = 170

_IMAGES: LRU["Shown"] = LRU(96)
_TABLES: LRU[tuple[Snapshot, pd.DataFrame]] = LRU(32)
_THUMBS: LRU[bytes] = LRU(96)


@dataclass(frozen=True)
class Shown:
    """What the page may show of one image file: the bytes when `status` is "ok", else a plain-text reason.

    status: ok | incomplete (being written) | too_large | not_image | outside (a symlink out of the run's
    folder) | gone (deleted since the listing) | unreachable (the host is down) | refused (not a regular file).
    """

    name: str
    status: str
    message: str = ""
    data: bytes | None = None
    check: ImageCheck | None = None
    key: tuple = ()  # the file version it was read from (the cache key)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def run_folder(source: Source) -> str:
    """The folder the source lists (a remote source's path on its host, a local one's real path)."""
    target = getattr(source, "target", None)
    if target is not None:
        return target.path.rstrip("/") or "/"
    return source.location.rstrip("/") or "/"


def in_run_folder(source: Source, path: str) -> bool:
    """Is `path` a file directly in the run's folder? Locally its real path (symlinks followed) must be,
    so a `sample-3.png` linking to a file elsewhere is refused; on a remote host, its listed path."""
    if isinstance(source, LocalSource):
        try:
            return os.path.dirname(os.path.realpath(path)) == os.path.realpath(source.location)
        except (OSError, ValueError):
            return False
    return posixpath.dirname(path) == run_folder(source)


def read_image(source: Source, entry: Entry, *, max_bytes: int = MAX_IMAGE_BYTES) -> Shown:
    """The image `entry` (a sample of the run's listing) as the page may show it; never raises.

    Read through `source.open(entry.path)` — the same for local and remote runs; at most `max_bytes` + 1
    bytes are read, and none when the listing already says the file is larger.
    """
    name = entry.name
    key = (source.location, entry.path, entry.stat.size, entry.stat.mtime, entry.stat.ident, max_bytes)
    held = _IMAGES.get(key)
    if held is not None:
        return held
    shown = replace(_read(source, entry, name, max_bytes), key=key)
    if shown.status != "unreachable" and (shown.data is None or len(shown.data) <= MAX_CACHED_BYTES):
        _IMAGES.put(key, shown)
    return shown


def _read(source: Source, entry: Entry, name: str, max_bytes: int) -> Shown:
    if entry.kind is not FileKind.SAMPLE:
        return Shown(name, "refused", f"{name} is not a sample image of this run: not shown.")
    if not in_run_folder(source, entry.path):
        return Shown(name, "outside", f"{name} leads outside the run's folder (a symlink): not shown.")
    if entry.stat.size > max_bytes:
        return Shown(name, "too_large", f"{name} is too large to show ({entry.stat.size:,} bytes; at most "
                                        f"{max_bytes:,}).")
    try:
        handle = source.open(entry.path)
    except NotRegular:
        return Shown(name, "refused", f"{name} is not a regular file: not shown.")
    except Unreachable as e:
        return Shown(name, "unreachable", f"{name} cannot be read now: {e}")
    except OSError as e:
        return Shown(name, "gone", f"{name} cannot be read ({e.strerror or type(e).__name__}).")
    if handle is None:
        return Shown(name, "gone", f"{name} is no longer there.")
    try:
        want = min(handle.stat().size, max_bytes + 1)
        parts, got = [], 0
        while got < want:
            piece = handle.read_at(got, want - got)
            if not piece:
                break
            parts.append(piece)
            got += len(piece)
        data = b"".join(parts)
    except Unreachable as e:
        return Shown(name, "unreachable", f"{name} cannot be read now: {e}")
    except OSError as e:
        return Shown(name, "gone", f"{name} cannot be read ({e.strerror or type(e).__name__}).")
    finally:
        try:
            handle.close()
        except Exception:  # noqa: BLE001 - a close that fails changes nothing read
            pass
    check = check_image(data, max_bytes=max_bytes)
    if check.ok:
        return Shown(name, "ok", data=data, check=check)
    if check.status == "incomplete":
        return Shown(name, "incomplete", f"{name} is being written ({len(data):,} bytes so far): it appears when "
                                         "complete.", check=check)
    if check.status == "too_large":
        return Shown(name, "too_large", f"{name} is too large to show ({check.reason}).", check=check)
    return Shown(name, "not_image", f"{name} is not a PNG or JPEG image: not shown.", check=check)


def thumbnail(shown: Shown, width: int) -> bytes:
    """The image scaled to `width` pixels as PNG bytes, made once per file version (Streamlit would decode and
    scale it again at every redraw); a narrower image is returned as it is."""
    def build() -> bytes:
        from PIL import Image

        with Image.open(io.BytesIO(shown.data)) as img:
            if img.width <= width:
                return shown.data
            small = img.convert("RGB").resize((width, max(1, round(img.height * width / img.width))),
                                              Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        small.save(buf, "PNG")
        return buf.getvalue()

    return _THUMBS.get_or_build((shown.key, width), build)


def milestone_table(snap: Snapshot) -> pd.DataFrame:
    """`analysis.checkpoint_table` of the snapshot, built once per run version for every viewer."""
    return _TABLES.get_or_build((snap.path, snap.version, id(snap)), lambda: (snap, checkpoint_table(snap)))[1]


def samples_by_name(snap: Snapshot) -> dict[str, Entry]:
    """The sample images of the run's listing, by file name (the only files the page may show)."""
    return {e.name: e for e in snap.artifacts if e.kind is FileKind.SAMPLE}


def with_files(table: pd.DataFrame) -> pd.DataFrame:
    """Milestones with a file on disk (a sample, a ground truth or a checkpoint), newest first."""
    has = table["sample"].notna() | table["gt_sample"].notna() | (table["checkpoint_status"] == ON_DISK)
    return table[has].sort_values("milestone", ascending=False)


SAMPLES_PAGE = "views/samples.py"


def samples_query(run_rel: str, milestone: int | None = None) -> dict[str, str]:
    """The Samples page's address parameters for a run and a milestone, for
    `st.page_link(SAMPLES_PAGE, query_params=samples_query(rel, k))` (the live page's checkpoint table)."""
    return {"run": run_rel} | ({"milestone": str(int(milestone))} if milestone is not None else {})


def samples_url(run_rel: str, milestone: int | None = None) -> str:
    """The same as a relative address (`samples?run=…&milestone=K`), for a link in text."""
    from urllib.parse import urlencode

    return "samples?" + urlencode(samples_query(run_rel, milestone))


# ------------------------------------------------------------------ text of a milestone


def heading(row: pd.Series) -> str:
    """'Milestone 3 · step 15,000' (the step unknown when save_and_sample_every is)."""
    step = row["step"]
    return f"Milestone {int(row['milestone'])} · " + (f"step {int(step):,}" if step is not pd.NA else "step unknown")


def checkpoint_line(row: pd.Series) -> str:
    """Whether model-K.pt is on disk, with its size and modification time."""
    if row["checkpoint_status"] == ON_DISK:
        when = datetime.fromtimestamp(float(row["mtime"])).strftime("%Y-%m-%d %H:%M:%S")
        return f"{row['checkpoint']}: on disk, {size_text(row['size_bytes'])}, modified {when} (this machine's clock)"
    return f"{row['checkpoint']}: {row['checkpoint_status']}"


def values_lines(row: pd.Series, table: pd.DataFrame, snap: Snapshot) -> list[str]:
    """The loss values at the milestone's step, one line per source, each saying its source and step."""
    out = []
    for source, cols, step_col in (("log", loss_columns(log_columns(table)), "log_step"),
                                   ("events", loss_columns(event_columns(table)), "event_step")):
        if not cols or row[step_col] is pd.NA:
            continue
        suffix = LOG_SUFFIX if source == "log" else EVENTS_SUFFIX
        shown = [f"{c[: -len(suffix)]} {cell_text(row, c)}" for c in cols if cell_text(row, c) != "—"]
        if shown:
            where = "log record" if source == "log" else "event values"
            out.append(f"{where} at step {int(row[step_col]):,}: " + " · ".join(shown))
    if len(out) == 2 and not same_quantities(snap.config):
        out.append("The two sources are not the same quantities under this run's gradient accumulation: compare "
                   "each with itself.")
    return out


def startup_label(s: StartupSample) -> str:
    """What a `test_before` image is: sampled at launch, before training, from the model of a milestone."""
    model = f"milestone {s.milestone}" + (f" (step {s.step:,})" if s.step is not None else "")
    if s.milestone == 0:
        model = "the initial model (milestone 0)"
    return (f"{s.file.name} — start-up sample: drawn at launch, before training, from {model} with "
            f"{s.sampling_timesteps} sampling steps")


# ------------------------------------------------------------------ Streamlit blocks


def image(source: Source, entries: dict[str, Entry], name: str | None, label: str, where=None,
          width: int | None = None) -> None:
    """One image with its label (plain text), or the plain-text reason it is not shown."""
    where = where or st
    where.caption(md_escape(label))
    if name is None:
        where.caption("no image saved at this milestone")
        return
    entry = entries.get(name)
    if entry is None:  # the listing changed between the table and now
        where.info(md_escape(f"{name} is no longer listed."))
        return
    shown = read_image(source, entry)
    if shown.ok:
        # the file's own format: Streamlit's "auto" would re-encode an RGB PNG as a lossy JPEG at every redraw
        if isinstance(width, int):
            where.image(thumbnail(shown, width), output_format="PNG")
        else:
            where.image(shown.data, output_format=shown.check.format)
        c = shown.check
        where.caption(md_escape(f"{name} · {c.width}×{c.height} {c.format}"))
    elif shown.status == "incomplete":
        where.info(md_escape(shown.message))
    else:
        where.warning(md_escape(shown.message))


def milestone_card(source: Source, entries: dict[str, Entry], row: pd.Series, table: pd.DataFrame,
                   snap: Snapshot, where=None) -> None:
    """A milestone: its step, sample beside its ground truth, the checkpoint on disk, the values at the step."""
    where = where or st
    where.markdown("#### " + md_escape(heading(row)))
    if file_of(row, "gt_sample") is not None:
        left, right = where.columns(2)
        image(source, entries, file_of(row, "sample"), "sample (generated)", left)
        image(source, entries, file_of(row, "gt_sample"), "ground truth", right)
    else:
        image(source, entries, file_of(row, "sample"), "sample", where)
    where.caption(md_escape(checkpoint_line(row)))
    for line in values_lines(row, table, snap):
        where.caption(md_escape(line))


def thumbnails(source: Source, entries: dict[str, Entry], rows: pd.DataFrame) -> None:
    """The newest milestones' samples in a grid, each under its milestone and step."""
    cols = st.columns(GRID_COLUMNS)
    for i, (_, row) in enumerate(rows.head(GRID_MAX).iterrows()):
        image(source, entries, file_of(row, "sample"), heading(row), cols[i % GRID_COLUMNS], width=THUMB_WIDTH)


def startup_samples(source: Source, entries: dict[str, Entry], snap: Snapshot) -> None:
    """The `test_before` images, labelled as such (they belong to a launch, not to a milestone's training)."""
    found = listing(snap).startup
    if not found:
        return
    st.subheader("Start-up samples")
    cols = st.columns(GRID_COLUMNS)
    for i, s in enumerate(found):
        image(source, entries, s.file.name, startup_label(s), cols[i % GRID_COLUMNS], width=THUMB_WIDTH)


__all__ = ["Shown", "read_image", "in_run_folder", "run_folder", "milestone_table", "samples_by_name", "with_files",
           "samples_url", "samples_query", "SAMPLES_PAGE", "heading", "checkpoint_line", "values_lines", "startup_label", "image", "milestone_card",
           "thumbnails", "startup_samples", "REFRESH_SECONDS"]
