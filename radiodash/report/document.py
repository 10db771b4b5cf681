"""The report as a small document tree — sections of paragraphs, lists, tables and charts — rendered
to Markdown (plain text that reads well) and to HTML (a Jinja2 template) from the same content.

Why a tree and not strings: both renderings must say the same, and each escapes in its own way.
Text is a sequence of pieces: `str` is our own words (escaped only where the format needs it), `Code`
is text from a log or config (a metric name, a file, a value) and is always a code span — inert.
"""
from __future__ import annotations

import re
from urllib.parse import quote
from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class Code:
    """Log- or config-sourced text: shown verbatim in a code span, never interpreted."""

    text: str


@dataclass(frozen=True)
class Strong:
    """Our own emphasised words (a severity label)."""

    text: str


@dataclass(frozen=True)
class Link:
    """A link to a file written next to the report (our own relative path)."""

    label: str
    href: str


Piece = Union[str, Code, Strong, Link]
Text = tuple[Piece, ...]


def text(*pieces: Piece | None) -> Text:
    """A Text from pieces (None pieces are skipped)."""
    return tuple(p for p in pieces if p is not None and p != "")


@dataclass(frozen=True)
class Para:
    parts: Text


@dataclass(frozen=True)
class Bullets:
    items: tuple[Text, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[Text, ...], ...]
    numeric: tuple[bool, ...] = ()  # right-aligned columns


@dataclass(frozen=True)
class Chart:
    """A figure by key (the renderers look it up): interactive in HTML, a PNG link in Markdown."""

    key: str
    title: str


Block = Union[Para, Bullets, Table, Chart]


@dataclass(frozen=True)
class Section:
    title: str
    anchor: str
    blocks: tuple[Block, ...] = field(default=())


@dataclass(frozen=True)
class Document:
    title: Text
    sections: tuple[Section, ...]


# ------------------------------------------------------------------ Markdown

_WORD = r"[0-9A-Za-z]"
_ALWAYS = re.compile(r"([\\`*\[\]<>|~&])")
_EDGE_UNDERSCORE = re.compile(rf"(?<!{_WORD})_|_(?!{_WORD})")
_BLOCK_START = re.compile(r"^(\s*)([#+\-=]|\d+[.)])")
_STREAMLIT = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_plain(s: str, *, streamlit: bool = False) -> str:
    """Our own words made literal for CommonMark/GFM, escaping only what would be read as markup.

    An underscore inside a word (`d_weight`) is never emphasis, so it stays as it is: the .md reads
    as plain text. For Streamlit's Markdown (which adds :emoji:, $math$ and :color[...]) every
    markup character is escaped.
    """
    if streamlit:
        return _STREAMLIT.sub(r"\\\1", s)
    s = _ALWAYS.sub(r"\\\1", s)
    return _EDGE_UNDERSCORE.sub(r"\\_", s)


def md_code(s: str, *, in_table: bool = False) -> str:
    """A code span that holds any text: fenced by more backticks than it contains, one line."""
    s = " ".join(str(s).splitlines()) or " "
    if in_table:
        s = s.replace("|", "\\|")  # GFM splits table cells before code spans
    run = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (run + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or (s.startswith(" ") and s.strip()) else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def md_text(parts: Text, *, in_table: bool = False, streamlit: bool = False) -> str:
    out = []
    for p in parts:
        if isinstance(p, Code):
            out.append(md_code(p.text, in_table=in_table))
        elif isinstance(p, Strong):
            out.append(f"**{md_plain(p.text, streamlit=streamlit)}**")
        elif isinstance(p, Link):
            out.append(f"[{md_plain(p.label, streamlit=streamlit)}]({quote(p.href)})")
        else:
            out.append(md_plain(str(p), streamlit=streamlit))
    s = "".join(out)
    return _BLOCK_START.sub(r"\1\\\2", s) if not in_table else s


def _md_table(t: Table, streamlit: bool = False) -> list[str]:
    align = [("---:" if (i < len(t.numeric) and t.numeric[i]) else "---") for i in range(len(t.header))]
    lines = ["| " + " | ".join(md_plain(h, streamlit=streamlit) for h in t.header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(md_text(c, in_table=True, streamlit=streamlit) or " " for c in row) + " |"
              for row in t.rows]
    return lines


def render_markdown(doc: Document, images: dict[str, str] | None = None, note: Text = (), *,
                    streamlit: bool = False, sections: set[str] | None = None) -> str:
    """The document as Markdown; `images` maps chart keys to relative PNG paths; `note` (why there are
    no images, where the charts are) goes into the charts section. `streamlit`: for st.markdown (every
    markup character of our words escaped); `sections`: only these anchors, without the title."""
    lines = ["# " + md_text(doc.title, streamlit=streamlit), ""] if sections is None else []
    for sec in doc.sections:
        if sections is not None and sec.anchor not in sections:
            continue
        lines += [f"## {md_plain(sec.title, streamlit=streamlit)}", ""]
        for b in sec.blocks:
            if isinstance(b, Para):
                lines += [md_text(b.parts, streamlit=streamlit), ""]
            elif isinstance(b, Bullets):
                lines += [f"- {md_text(item, streamlit=streamlit)}" for item in b.items] + [""]
            elif isinstance(b, Table):
                lines += _md_table(b, streamlit) + [""]
            elif isinstance(b, Chart):
                path = (images or {}).get(b.key)
                if path:
                    lines += [f"![{md_plain(b.title)}]({quote(path)})", ""]
        if note and sec.anchor == "charts":
            lines += [md_text(note, streamlit=streamlit), ""]
    return "\n".join(lines).rstrip() + "\n"
