"""The plain-Python parts under the pages: settings and text helpers (the registry: test_registry.py)."""
from __future__ import annotations

from radiodash.text import age, duration, md_escape
from radiodash.ui.settings import parse


def test_settings_from_argv_and_environment(tmp_path):
    log = tmp_path / "run" / "a_.log"
    s = parse(["--log", str(log)], {})
    assert s.log == log.resolve() and s.roots == (log.parent.resolve(),) and not s.demo and s.token is None
    s = parse([], {"RADIODASH_LOG": str(log), "RADIODASH_ROOT": str(tmp_path), "RADIODASH_TOKEN": "t"})
    assert s.roots == (tmp_path.resolve(),) and s.token == "t"
    assert parse([], {}).demo
    assert parse(["--root", str(tmp_path)], {}).roots == (tmp_path.resolve(),)


def test_text_helpers():
    assert md_escape("**bold** [x](javascript:alert(1)) <b>") == \
        r"\*\*bold\*\* \[x\]\(javascript\:alert\(1\)\) \<b\>"
    assert age(5) == "5 s ago" and age(180) == "3 min ago" and age(7200) == "2.0 h ago"
    assert duration(42) == "42 s" and duration(3_900) == "1 h 05 min" and duration(None) == "—"
