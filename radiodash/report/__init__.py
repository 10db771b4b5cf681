"""The training report: Markdown (plain text that reads well, with PNG charts next to it), a
self-contained HTML document with interactive charts, the parsed table as CSV, and zips of them.

Every figure comes from the Analysis at the log's precision; every log-derived string is inert
(code spans in Markdown, escaped in HTML); every section covers the report's window.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..analysis import Analysis
from ..model import Snapshot
from . import content
from .document import Document, Link, md_text, text
from .export import events_csv, table_csv
from .figures import KEY_METRICS, chart_titles, file_name, key_metrics, report_figures
from .html import render_html as _html
from .document import render_markdown as _markdown
from .images import write_pngs

__all__ = ["render_markdown", "render_html", "build_markdown_sections", "write_report", "markdown_zip", "table_csv", "events_csv", "build_document",
           "key_metrics", "KEY_METRICS", "ReportFiles"]


def build_document(snap: Snapshot, a: Analysis) -> tuple[Document, dict]:
    """The document and its figures (chart key -> (title, figure))."""
    figures = report_figures(snap, a)
    return content.build(snap, a, {k: title for k, (title, _) in figures.items()}), figures


def render_markdown(snap: Snapshot, a: Analysis, images: dict[str, str] | None = None,
                    note: tuple = ()) -> str:
    """The Markdown report; `images`: chart key -> relative PNG path (see `write_report`)."""
    doc = content.build(snap, a, chart_titles(snap, a))
    if images is None and not note:
        note = text("The interactive charts are in the HTML report.")
    return _markdown(doc, images, note)


def build_markdown_sections(snap: Snapshot, a: Analysis, on_screen: tuple[str, ...]) -> tuple[str, str]:
    """For a Streamlit page: (the sections `on_screen`, the other sections), as Markdown safe for st.markdown."""
    doc = content.build(snap, a, chart_titles(snap, a))
    shown = {s.anchor for s in doc.sections if s.anchor in on_screen}
    rest = {s.anchor for s in doc.sections if s.anchor not in on_screen and s.anchor != "charts"}
    title = "### " + md_text(doc.title, streamlit=True) + "\n\n"
    return (title + _markdown(doc, streamlit=True, sections=shown), _markdown(doc, streamlit=True, sections=rest))


def render_html(snap: Snapshot, a: Analysis) -> str:
    doc, figures = build_document(snap, a)
    return _html(doc, {k: fig for k, (_, fig) in figures.items()})


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    html: Path | None
    images: tuple[Path, ...]
    image_problem: str | None  # why there are no PNGs (None: they were written)


def write_report(snap: Snapshot, a: Analysis, markdown: Path, html: Path | None = None, *,
                 images: bool = True) -> ReportFiles:
    """Write the Markdown report, its PNG charts in `<stem>-charts/` next to it, and the HTML report.

    When the PNGs cannot be made, the Markdown says why and links the HTML report, which is then
    written next to it even if `html` was not asked for.
    """
    doc, figures = build_document(snap, a)
    folder = markdown.parent / f"{markdown.stem}-charts"
    paths = {k: folder / file_name(i, k) for i, k in enumerate(figures)}
    problem = write_pngs({k: fig for k, (_, fig) in figures.items()}, paths) if images else "images were not asked for"
    note: tuple = ()
    rel = None
    if problem is None:
        rel = {k: f"{folder.name}/{p.name}" for k, p in paths.items()}
    else:
        html = html or markdown.with_suffix(".html")
        note = text(f"No static chart images: {problem}. The interactive charts are in the HTML report ",
                    Link(html.name, _relative(html, markdown.parent)), ".")
    if html is not None:
        html.write_text(_html(doc, {k: fig for k, (_, fig) in figures.items()}), encoding="utf-8")
    markdown.write_text(_markdown(doc, rel, note), encoding="utf-8")
    return ReportFiles(markdown, html, tuple(paths.values()) if rel else (), problem)


def _relative(path: Path, start: Path) -> str:
    import os

    return os.path.relpath(path.resolve(), start.resolve())


def markdown_zip(snap: Snapshot, a: Analysis, name: str) -> tuple[bytes, str | None]:
    """`name.md` with its PNG charts in `name-charts/`, zipped (for a download); and why there are no
    images when they could not be made (the zip then also holds `name.html`)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="radiodash-report-") as tmp:
        md = Path(tmp) / f"{name}.md"
        files = write_report(snap, a, md)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for p in sorted(Path(tmp).rglob("*")):
                if p.is_file():
                    z.write(p, p.relative_to(tmp).as_posix())
        return buf.getvalue(), files.image_problem
