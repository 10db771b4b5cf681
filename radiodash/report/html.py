"""The report as one self-contained HTML file: a Jinja2 template (autoescaped), real tables, print CSS,
the interactive charts, and one embedded copy of plotly.js — nothing is fetched from the network."""
from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote
from typing import Mapping

import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from plotly.offline import get_plotlyjs

from .document import Bullets, Chart, Code, Document, Link, Para, Strong, Table, Text

SEVERITIES = ("error", "warning", "info")


def inline(parts: Text) -> Markup:
    """Pieces as HTML: our words escaped, log text in <code> (escaped), severity labels coloured."""
    out = []
    for p in parts:
        if isinstance(p, Code):
            out.append(Markup("<code>{}</code>").format(p.text))
        elif isinstance(p, Link):
            out.append(Markup('<a href="{}">{}</a>').format(quote(p.href), p.label))
        elif isinstance(p, Strong):
            cls = p.text.lower() if p.text.lower() in SEVERITIES else "label"
            out.append(Markup('<strong class="{}">{}</strong>').format(cls, p.text))
        else:
            out.append(escape(str(p)))
    return Markup("").join(out)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("radiodash.report", "templates"), autoescape=select_autoescape(["j2", "html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["inline"] = inline
    env.tests.update(para=lambda b: isinstance(b, Para), bullets=lambda b: isinstance(b, Bullets),
                     table=lambda b: isinstance(b, Table), chart=lambda b: isinstance(b, Chart))
    return env


def chart_html(fig: go.Figure, div_id: str) -> Markup:
    """A figure's div and drawing script (its JSON escapes `<`, so log text cannot close the script)."""
    return Markup(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                              config={"displaylogo": False, "responsive": True}))


def render_html(doc: Document, figures: Mapping[str, go.Figure]) -> str:
    """The whole report; `figures` maps the document's chart keys to Plotly figures."""
    charts = {key: chart_html(fig, f"chart-{i}") for i, (key, fig) in enumerate(figures.items())}
    title_plain = "".join(p.text if isinstance(p, (Code, Strong)) else p.label if isinstance(p, Link) else str(p)
                          for p in doc.title)
    return _environment().get_template("report.html.j2").render(
        doc=doc, charts=charts, title_plain=title_plain, plotlyjs=Markup(get_plotlyjs()))
