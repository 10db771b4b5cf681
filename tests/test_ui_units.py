"""The plain-Python parts under the pages: settings, the shared registry and its janitor, text helpers."""
from __future__ import annotations

import threading

from radiodash.text import age, duration, md_escape
from radiodash.ui.registry import Registry
from radiodash.ui.settings import parse


def test_settings_from_argv_and_environment(tmp_path):
    log = tmp_path / "run" / "a_.log"
    s = parse(["--log", str(log)], {})
    assert s.log == log.resolve() and s.roots == (log.parent.resolve(),) and not s.demo and s.token is None
    s = parse([], {"RADIODASH_LOG": str(log), "RADIODASH_ROOT": str(tmp_path), "RADIODASH_TOKEN": "t"})
    assert s.roots == (tmp_path.resolve(),) and s.token == "t"
    assert parse([], {}).demo
    assert parse(["--root", str(tmp_path)], {}).roots == (tmp_path.resolve(),)


def test_one_reader_per_run_for_twenty_sessions(tmp_path):
    (tmp_path / "x_.log").write_text("2025-08-15 20:00:00,000 [Train Step] 0/10: a: 1.00000, \n")
    reg = Registry(janitor=False)
    try:
        got: list = []
        threads = [threading.Thread(target=lambda: got.append(reg.get(tmp_path))) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len({id(r) for r in got}) == 1 and reg.opened == 1 and reg.followers() == 1
    finally:
        reg.close()
    assert reg.followers() == 0


def test_janitor_stops_runs_nobody_watches(tmp_path):
    now = [1000.0]
    reg = Registry(idle_seconds=600, clock=lambda: now[0], janitor=False)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    try:
        run_a = reg.get(a)
        reg.get(b)
        now[0] += 500
        reg.get(b)  # b is still being viewed
        now[0] += 200
        assert reg.sweep() == [str(a)]
        assert len(reg) == 1 and run_a._follower is None  # closed: its follower thread stopped
        assert reg.get(a) is not run_a and reg.opened == 3  # opened again on demand
    finally:
        reg.close()


def test_text_helpers():
    assert md_escape("**bold** [x](javascript:alert(1)) <b>") == \
        r"\*\*bold\*\* \[x\]\(javascript\:alert\(1\)\) \<b\>"
    assert age(5) == "5 s ago" and age(180) == "3 min ago" and age(7200) == "2.0 h ago"
    assert duration(42) == "42 s" and duration(3_900) == "1 h 05 min" and duration(None) == "—"
