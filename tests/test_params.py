"""Whatever a visitor puts in the URL, no page lets an exception escape (hypothesis against AppTest)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import streamlit as st
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as hs
from streamlit.testing.v1 import AppTest

from test_app import HEADER, step_line

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"live": None, "compare": "views/compare.py", "report": "views/report.py"}

# what a URL can carry: any text but lone surrogates (a browser sends UTF-8; Streamlit decodes invalid bytes to U+FFFD)
TEXT = hs.text(alphabet=hs.characters(blacklist_categories=("Cs",)), max_size=40)
KEYS = hs.sampled_from(["run", "runs", "metrics", "smooth", "smoother", "x", "scale", "from", "until", "cmp_metric",
                        "align", "cmp_smooth", "cmp_log", "rep_from", "rep_until", "token", "embed"]) | TEXT
JUNK = hs.sampled_from(["inf", "-inf", "nan", "1e999", "-1e999", "-1", "0", "1e300", "1e12", "1200", "0.6", "0.9999",
                        "true", "false", "True", "runA", "runB", "runA,runB", ",,,", "../secret.log",
                        "%2e%2e/secret.log", "..%252fsecret.log", "escape.log", "![x](http://127.0.0.1:9/t.png)",
                        "[a](http://e/)", "a" * 300, "b" * 5000, "", " ", "\x00", "%00", "a\x00b", "train/rec_loss",
                        "centered", "hours", "log", ":red[x]", "<script>", "\ufffd", "٣", "1_000", "0x10"])
VALUES = JUNK | TEXT | hs.integers().map(str) | hs.floats().map(repr)
QUERIES = hs.dictionaries(KEYS.filter(bool), hs.lists(VALUES, min_size=1, max_size=3), max_size=5)


@pytest.fixture(scope="module")
def served_root(tmp_path_factory):
    """A root with two runs and a secret outside it; RADIODASH_ROOT set for the module."""
    base = tmp_path_factory.mktemp("fuzz")
    root = base / "root"
    (root / "runA").mkdir(parents=True)
    (root / "runB").mkdir()
    (root / "runA" / "2025-08-15-20-00_.log").write_text(HEADER + "".join(step_line(s) for s in range(0, 1300, 100)))
    (root / "runB" / "2025-08-15-20-00_.log").write_text(HEADER + "".join(step_line(s) for s in range(0, 700, 100)))
    (base / "secret.log").write_text("FUZZ-SECRET\n")
    (root / "escape.log").symlink_to(base / "secret.log")
    saved = {k: os.environ.get(k) for k in ("RADIODASH_LOG", "RADIODASH_ROOT", "RADIODASH_TOKEN")}
    for k in saved:
        os.environ.pop(k, None)
    os.environ["RADIODASH_ROOT"] = str(root)
    st.cache_resource.clear()
    yield root
    st.cache_resource.clear()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _open(page: str, query: dict[str, list[str]]) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if PAGES[page]:
        at.switch_page(PAGES[page])
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    return at


@pytest.mark.slow
@pytest.mark.parametrize("page", list(PAGES))
def test_no_url_makes_a_page_raise(served_root, page):
    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(query=QUERIES)
    # the values that raised before (OverflowError, OSError: File name too long), always tried
    @example(query={"run": ["runA"], "until": ["1e999"]})
    @example(query={"run": ["runA"], "from": ["inf"], "rep_until": ["inf"], "cmp_smooth": ["-inf"]})
    @example(query={"run": ["a" * 300], "runs": ["b" * 300]})
    @example(query={"run": ["runA"], "rep_from": ["1e999"], "runs": ["runA,runB"]})
    def check(query):
        at = _open(page, query)
        assert not at.exception, (query, [e.message for e in at.exception])
        shown = "\n".join(str(e.value) for e in [*at.error, *at.markdown, *at.text, *at.caption])
        assert "FUZZ-SECRET" not in shown and "Traceback" not in shown

    check()
