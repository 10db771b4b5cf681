"""Streamlit AppTest of RadioDash's app.py, shared by the page tests."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[1]


def run_app(query: dict[str, str | list[str]] | None = None, page: str | None = None,
            timeout: float = 60) -> AppTest:
    """app.py run once with `query` in the URL, opening `page` (views/….py) first when given."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout)
    if page:
        at.switch_page(page)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    return at
