"""The Report page through AppTest: its summary, its downloads, and URL parameters that never raise."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from radiodash.text import md_escape
from test_app import ROOT, all_text, env  # noqa: F401 - the shared fixture: a root with two runs

# slow: whole-app Streamlit AppTest runs (~1 s each);
# `make test` runs them, the quick run (-m "not slow") does not
pytestmark = pytest.mark.slow


def report_page(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    at.switch_page("views/report.py")
    at.run()
    return at


def test_the_page_shows_the_summary_and_offers_the_downloads(env):
    at = report_page({"run": "runA"})
    assert not at.exception
    text = all_text(at)
    assert "Training progress report" in text and "## Summary" in text and "## Key metrics" in text
    assert "steps 0 to" not in text  # the whole run: no window sentence
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Report: Markdown + chart images (.zip)", "Report: HTML", "Table (.csv)", "Analysis (.json)"]
    assert "--" not in " ".join(labels) and "--html" not in text and "--from-step" not in text  # no CLI flags


@pytest.mark.parametrize("value", ["inf", "1e999", "-5", "abc", "99999999999999999999"])
@pytest.mark.parametrize("key", ["rep_until", "rep_from"])
def test_a_bad_step_in_the_address_is_one_sentence_never_a_traceback(env, key, value):
    """The address is screened before any page runs (radiodash/ui/params.py): one sentence, the key dropped."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update({"run": "runA", key: value})
    at.run()
    toasts = [str(t.proto.body) for t in at.get("toast")]
    assert toasts == [md_escape(f"Ignored in the address: {key} (not a usable value).")]
    at.switch_page("views/report.py")
    at.run()
    assert not at.exception and not at.warning
    assert key not in at.query_params  # dropped from the address
    assert "## Summary" in all_text(at)  # the whole run is shown instead


def test_a_window_from_the_address_restricts_the_report(env):
    at = report_page({"run": "runA", "rep_from": "300", "rep_until": "800"})
    assert not at.exception and not at.warning
    text = all_text(at)
    assert "this report covers steps 300 to 800" in text.replace("\\", "")
    assert at.query_params["rep_from"] == "300" and at.query_params["rep_until"] == "800"
    at = report_page({"run": "runA", "rep_from": "800", "rep_until": "300"})
    assert not at.exception
    assert [i.value for i in at.info] == ["From step 800 is after until step 300: no step can be in that window."]
    at = report_page({"run": "runA", "rep_from": "50000"})
    assert [i.value for i in at.info] == ["No step record in this window: the log has steps 0 to 1,200."]
