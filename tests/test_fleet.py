"""The fleet: every run under the roots on real files, a controlled clock (os.utime'd mtimes, `scan(now=…)`),
every summary figure checked by hand."""
from __future__ import annotations

import socket
import os
import threading
import time
from pathlib import Path

import pytest

from radiodash.fleet import Fleet
from radiodash.simulate import SimConfig, write_run

T = 1_800_000_000.0  # the files' mtime: "now" is T + the silence we want
DAY = 86_400.0
HEADER = ("2025-08-15 20:00:00,000 {'model': {'lossconfig': {'kl_weight': 1e-06}}, 'trainer': {'lr': 5e-06, "
          "'train_num_steps': 1000, 'log_freq': 100, 'save_and_sample_every': 200}}\n")


def line(step: int, value: str = "0.10000") -> str:
    """A step record every 100 steps, 5 s apart (step // 20 seconds)."""
    return f"2025-08-15 20:00:{step // 20:02d},000 [Train Step] {step}/1000: train/rec_loss: {value}, lr: 0.00000, \n"


def write_log(folder: Path, steps, tail: str = "", mtime: float = T, name: str = "2025-08-15-20-00_.log") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(HEADER + "".join(line(s) for s in steps) + tail)
    os.utime(p, (mtime, mtime))
    return p


def touch(path: Path, mtime: float) -> None:
    os.utime(path, (mtime, mtime))


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    write_log(r / "vae" / "live", range(0, 500, 100))
    write_log(r / "vae" / "done", range(0, 1000, 100), "2025-08-15 20:00:50,000 training complete\n", T - 3 * DAY)
    write_log(r / "old", range(0, 400, 100), mtime=T - 2 * DAY)
    write_log(r, range(0, 300, 100), name="loose.log", mtime=T - 2 * DAY)
    # a console capture: a launch crashes (a traceback) after step 1,200 and is resumed from milestone 2
    write_run(r / "console", SimConfig(console=True, train_num_steps=2_000, log_freq=100, save_and_sample_every=500,
                                       resume_at=1_200, stop_step=1_500))
    for f in (r / "console").iterdir():
        touch(f, T)
    return r


def by_rel(summaries):
    return {s.rel: s for s in summaries}


def test_every_run_under_the_root_with_its_figures(root):
    fleet = Fleet([root])
    got = by_rel(fleet.scan(now=T + 30))
    # a console capture alone in its folder is a run by itself (security.list_runs)
    assert sorted(got) == ["console/nohup.out", "loose.log", "old", "vae/done", "vae/live"]
    live = got["vae/live"]
    assert (live.state, live.latest_step, live.train_num_steps, live.log_freq) == ("live", 400, 1000, 100)
    assert live.state_description == "live: last line 30 s ago, at step 400 of 1,000"
    assert live.key == str((root / "vae" / "live").resolve()) and live.root == str(root) and live.machine == socket.gethostname() and live.name == "live"
    # 100 steps every 5 s: 72,000 steps/hour; 600 steps to go at that rate: 30 s
    assert live.steps_per_hour == pytest.approx(72_000) and live.eta_seconds == pytest.approx(30)
    assert live.last_written == T and str(live.last_log_time) == "2025-08-15 20:00:20"
    assert (live.milestone, live.milestone_step) == (2, 400)  # save_and_sample_every 200: model-2.pt at step 400
    assert not live.crashed
    # lr prints 0.00000: the analysis says so (information), nothing worse
    assert [a.code for a in live.alerts] == ["lr_below_log_precision"] and live.worst.severity == "info"

    done = got["vae/done"]
    assert (done.state, done.eta_seconds, done.latest_step) == ("finished", None, 900)  # no ETA unless live
    assert done.state_description == "finished 3.0 d ago after 45 s"
    old = got["old"]
    assert old.state == "stopped" and old.worst.code == "stopped" and old.worst.severity == "warning"
    assert old.worst.action == "Resume the run from its last checkpoint if it should go on."
    assert old.worst.step == 300 and str(old.worst.log_time) == "2025-08-15 20:00:15"
    assert got["loose.log"].state == "stopped" and got["loose.log"].latest_step == 200

    console = got["console/nohup.out"]
    assert console.crashed and [(c.segment, c.file, c.last_step) for c in console.crashes] == [(0, "nohup.out", 1200)]
    assert console.latest_step == 1500 and console.state == "live"


def test_new_runs_are_picked_up_and_vanished_ones_dropped(root):
    fleet = Fleet([root])
    fleet.scan(now=T + 30)
    write_log(root / "vae" / "new", range(0, 200, 100))
    got = by_rel(fleet.scan(now=T + 40))
    assert "vae/new" in got and got["vae/new"].latest_step == 100
    old = fleet._followed[str((root / "old").resolve())].run
    for f in (root / "old").iterdir():
        f.unlink()
    (root / "old").rmdir()
    got = by_rel(fleet.scan(now=T + 50))
    assert "old" not in got and fleet.summary(str((root / "old").resolve())) is None
    assert len(fleet) == len(got) == 5
    assert old.source.location.endswith("/old")  # closed and forgotten: a later scan does not touch it
    refreshes = old.refreshes
    fleet.scan(now=T + 60)
    assert old.refreshes == refreshes


def test_an_unchanged_run_is_read_and_analysed_once_and_its_state_follows_the_clock(root):
    fleet = Fleet([root])
    key = str((root / "vae" / "live").resolve())
    first = fleet.scan(now=T + 30)
    run = fleet._followed[key].run
    basis, read = fleet.analysis(key), run.bytes_read
    assert basis is not None and read > 0
    later = by_rel(fleet.scan(now=T + 14 * 60))["vae/live"]
    assert fleet.analysis(key) is basis and run.bytes_read == read  # one listing, no read, no new analysis
    assert later.version == by_rel(first)["vae/live"].version
    assert later.state == "stalled" and later.eta_seconds is None  # 14 min of silence, usual 5 s
    assert later.worst.code == "stalled" and later.worst.action == "Check that the trainer process and its GPU are alive."
    again = by_rel(fleet.scan(now=T + 20 * 60))["vae/live"]  # same version, same state: the alert still counts on
    assert again.worst.message.startswith("The run is stalled: no line for 20 min 00 s (usual 5 s), at step 400 of 1,000")
    with open(root / "vae" / "live" / "2025-08-15-20-00_.log", "a") as f:
        f.write(line(500, "nan"))
    touch(root / "vae" / "live" / "2025-08-15-20-00_.log", T + 14 * 60)
    now = by_rel(fleet.scan(now=T + 14 * 60 + 1))["vae/live"]
    assert fleet.analysis(key) is not basis and now.version > later.version and now.state == "live"
    assert now.worst.code == "non_finite_loss" and now.worst.step == 500 and str(now.worst.log_time) == "2025-08-15 20:00:25"


def test_nested_roots_name_a_run_once(root):
    fleet = Fleet([root / "vae", root])
    got = fleet.scan(now=T + 30)
    assert len(got) == 5 and len({s.key for s in got}) == 5
    named = by_rel(got)  # two roots: a run's name starts with its root's short name (the folder's name)
    assert named["vae/live"].root == str(root / "vae")  # named by the first root that has it
    assert sorted(named) == ["root/console/nohup.out", "root/loose.log", "root/old", "vae/done", "vae/live"]


def test_the_thread_follows_appends_and_readers_never_see_a_torn_list(root):
    fleet = Fleet([root], interval=0.1)
    problems: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                s = fleet.summaries()
                assert all(x.key for x in s) and len({x.key for x in s}) == len(s)
            except BaseException as e:  # noqa: BLE001 - collected for the assertion below
                problems.append(e)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    fleet.start()
    try:
        deadline = time.monotonic() + 30
        while fleet.scans < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert by_rel(fleet.summaries())["vae/live"].latest_step == 400
        log = root / "vae" / "live" / "2025-08-15-20-00_.log"
        with open(log, "a") as f:
            f.write(line(500))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            live = by_rel(fleet.summaries()).get("vae/live")
            if live is not None and live.latest_step == 500:
                break
            time.sleep(0.05)
        assert by_rel(fleet.summaries())["vae/live"].latest_step == 500
        assert fleet.scans >= 2 and fleet.is_alive()
    finally:
        stop.set()
        for t in readers:
            t.join()
        fleet.stop()
    assert not problems and not fleet.is_alive()


def test_a_run_whose_read_failed_is_read_again_from_its_start(root, monkeypatch):
    """A read that fails in the middle of a chunk whose lines the tail already consumed (an unexpected error
    in the parser) must not leave the run without those lines: injected here once, in the first chunk read."""
    import radiodash.parse as parse

    real = parse.Parser.feed_parts
    calls = {"n": 0}

    def failing(self, data, first_line, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise SystemError("an unexpected parser error")
        return real(self, data, first_line, **kwargs)

    monkeypatch.setattr(parse.Parser, "feed_parts", failing)
    fleet = Fleet([root / "vae"])
    first = by_rel(fleet.scan(now=T + 30))  # the newest run is read first: its header is the one that fails
    assert sorted(first) == ["done"] and calls["n"] >= 2
    live = by_rel(fleet.scan(now=T + 31))["live"]
    assert (live.train_num_steps, live.log_freq, live.latest_step) == (1000, 100, 400)  # the header was not lost
    assert live.steps_per_hour == pytest.approx(72_000) and live.milestone == 2


def test_a_fleet_without_a_thread_scans_when_asked_and_due_and_one_caller_at_a_time(root):
    fleet = Fleet([root], interval=60.0)
    assert fleet.scan_if_due() and fleet.scans == 1  # never scanned: due
    assert not fleet.scan_if_due() and fleet.scans == 1  # scanned a moment ago: the summaries it has
    fleet._pass_started -= 60.0
    results: list[bool] = []
    callers = [threading.Thread(target=lambda: results.append(fleet.scan_if_due())) for _ in range(4)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    assert sorted(results) == [False, False, False, True] and fleet.scans == 2  # one of the four scanned
    fleet.start(delay=3600)  # a thread of its own (the notification watcher's): callers never scan
    fleet._pass_started -= 60.0
    try:
        assert not fleet.scan_if_due() and fleet.scans == 2
    finally:
        fleet.stop()


def test_a_fleet_may_analyse_a_changed_run_less_often_than_it_reads_it(root):
    fleet = Fleet([root], min_analysis_seconds=3600.0)  # the overview's setting, stretched
    key = str((root / "vae" / "live").resolve())
    first = by_rel(fleet.scan(now=T + 30))["vae/live"]
    basis = fleet.analysis(key)
    log = root / "vae" / "live" / "2025-08-15-20-00_.log"
    with open(log, "a") as f:
        f.write(line(500, "nan"))
    touch(log, T + 40)
    now = by_rel(fleet.scan(now=T + 41))["vae/live"]
    # step, version and state of this scan; the analysis (and so the nan alert) waits for min_analysis_seconds
    assert now.latest_step == 500 and now.version > first.version and now.state == "live"
    assert fleet.analysis(key) is basis and (now.worst is None or now.worst.code != "non_finite_loss")
    fleet._followed[key].analysed_at -= 3600.0
    later = by_rel(fleet.scan(now=T + 42))["vae/live"]
    assert fleet.analysis(key) is not basis and later.worst.code == "non_finite_loss" and later.worst.step == 500
