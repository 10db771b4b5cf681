"""The shared registry: one reader per run for all sessions, a bound on followed runs, no shared lock held
while a run is opened, idle runs closed."""
from __future__ import annotations

import threading
import time

import pytest

from radiodash.run import Run
from radiodash.ui.registry import Registry

LINE = "2025-08-15 20:00:00,000 [Train Step] 0/10: a: 1.00000, \n"


def _threads() -> int:
    return threading.active_count()


def test_one_reader_per_run_for_twenty_sessions(tmp_path):
    (tmp_path / "x_.log").write_text(LINE)
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
        assert len(reg) == 1 and reg.followers() == 1 and reg.follow.watches == 1
        assert reg.get(a) is not run_a and reg.opened == 3  # opened again on demand
    finally:
        reg.close()


@pytest.mark.slow
def test_a_hundred_runs_opened_and_released_leave_only_the_bound(tmp_path):
    base = _threads()
    now = [0.0]
    reg = Registry(janitor=False, max_runs=5, clock=lambda: now[0])
    try:
        for i in range(100):
            folder = tmp_path / f"run{i:03d}"
            folder.mkdir()
            (folder / "2025-08-15-20-00_.log").write_text(LINE)
            now[0] += 1
            assert reg.get(folder).frame()["step"].tolist() == [0]
        assert len(reg) == 5 and reg.followers() == 5 and reg.follow.watches == 5 and reg.opened == 100
        assert _threads() - base <= 5 + 6  # a watcher thread per followed folder, plus a fixed few
        # the least recently viewed goes first
        now[0] += 1
        reg.get(tmp_path / "run095")
        now[0] += 1
        reg.get(tmp_path / "run000")
        followed = {k.rsplit("/", 1)[-1] for k in reg._runs}
        assert followed == {"run095", "run097", "run098", "run099", "run000"}
    finally:
        reg.close()
    time.sleep(0.5)
    assert _threads() - base <= 3  # the pool's idle workers may linger a moment


def test_opening_a_slow_run_holds_up_no_other_run(tmp_path):
    slow, fast = tmp_path / "slow", tmp_path / "fast"
    slow.mkdir(), fast.mkdir()
    (fast / "2025-08-15-20-00_.log").write_text(LINE)
    release = threading.Event()

    class SlowRun(Run):
        def refresh(self) -> int:
            if self.path.endswith("slow") and not release.is_set():
                release.wait(30)  # a first read that takes long (a huge file, a slow disk)
            return super().refresh()

    reg = Registry(janitor=False, make_run=SlowRun)
    try:
        opener = threading.Thread(target=reg.get, args=(slow,))
        opener.start()
        time.sleep(0.2)
        assert reg.get(fast).frame()["step"].tolist() == [0]  # while the slow one is still opening
        assert opener.is_alive()
        release.set()
        opener.join(10)
        assert len(reg) == 2
    finally:
        release.set()
        reg.close()


def test_a_run_that_fails_to_open_is_said_to_every_waiting_viewer_and_forgotten(tmp_path):
    class Broken(Run):
        def refresh(self) -> int:
            raise PermissionError("cannot read")

    reg = Registry(janitor=False, make_run=Broken)
    try:
        for _ in range(2):
            with pytest.raises(PermissionError):
                reg.get(tmp_path)
        assert len(reg) == 0 and reg.opened == 0
    finally:
        reg.close()


@pytest.mark.parametrize("hair", [-0.001, 0.0, 0.001])
def test_the_live_header_takes_a_new_snapshot_every_tick_and_the_charts_every_third(tmp_path, hair):
    """Streamlit starts a fragment `run_every` after its last run started: a tick comes a hair early or late.
    With a slot as long as the tick, an early tick found the last tick's snapshot (0.999 s old) and showed the
    appended step a whole tick late (bench_latency's append→visible median 1.52 s against 0.66 s)."""
    from radiodash.ui.registry import HEADER_SLOT, HEADER_TICK, PANEL_REFRESH, PANEL_SLOT

    (tmp_path / "x_.log").write_text(LINE)
    versions = iter(range(1, 1_000))

    class EveryReadIsNew(Run):  # a run logging many lines a second: each snapshot taken is a new version
        def snapshot(self):
            return next(versions)

    now = [0.0]
    reg = Registry(janitor=False, clock=lambda: now[0], make_run=EveryReadIsNew)
    try:
        header, charts = [], []
        for k in range(1, 31):
            now[0] = k * (HEADER_TICK + hair)
            header.append(reg.snapshot(tmp_path, HEADER_SLOT))
            charts.append(reg.snapshot(tmp_path, PANEL_SLOT))
        assert len(set(header)) == 30  # every tick shows what was read by then
        changed = [k for k in range(1, 30) if charts[k] != charts[k - 1]]
        assert changed == list(range(3, 30, 3)) and PANEL_REFRESH == 3 * HEADER_TICK  # every third tick, never later
    finally:
        reg.close()
