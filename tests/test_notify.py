"""Notifications end to end: real log files under a real root, the real fleet and analysis, a real local HTTP
receiver (Apprise `json://`) and a real SMTP server (aiosmtpd, `mailto://`); the run's clock is controlled
(`scan(now=…)` and os.utime'd mtimes), deliveries are real. The `watch` subprocess is killed and restarted."""
from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from radiodash.fleet import AlertInfo, CrashInfo, RunSummary
from radiodash.notify import Known, NoTargets, StateLocked, Watch, WatchSettings, backoff, decide, link
from radiodash.notify.rules import baseline, is_news
from radiodash.notify.state import default_state_dir
from radiodash.notify.targets import Redactor, load_targets
from radiodash.simulate import SimConfig, write_run
from receivers import JsonReceiver, SmtpReceiver, free_port
from test_fleet import DAY, HEADER, T, line, touch, write_log

# slow: the watcher runs as a subprocess, with real SMTP/HTTP receivers and waits of seconds;
# `make test` runs them, the quick run (-m "not slow") does not
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
BASE = "http://dash.example:8501/"
PASSWORD = "Pw-S3cret-7781"  # in every target URL: it must never show up anywhere


# ------------------------------------------------------------------ the rules, pure


def summary(**kw) -> RunSummary:
    d = dict(key="/r/run", name="run", rel="run", root="/r", machine="gpu1", version=1, as_of=T, state="live", state_description="live",
             latest_step=100, train_num_steps=1000, log_freq=100, steps_per_hour=None, eta_seconds=None,
             last_written=T, last_log_time=None, alerts=(), milestone=None, milestone_step=None, milestone_time=None,
             crashes=())
    d.update(kw)
    return RunSummary(**d)


def alert(code: str, severity: str = "warning", step: int = 100) -> AlertInfo:
    return AlertInfo(code, severity, f"{code} happened", f"do something about {code}", step, None, {})


def test_first_sight_is_taken_as_known_unless_the_run_is_news():
    s = summary(state="stopped", alerts=(alert("non_finite_loss", "error"), alert("stopped")), milestone=3, milestone_step=1500,
                crashes=(CrashInfo(0, "nohup.out", 50, None),))
    known, told = decide(s, None)
    assert told == [] and known == Known("stopped", frozenset({"non_finite_loss"}), frozenset({0}), 3) == baseline(s)
    known, told = decide(s, None, news=True, checkpoints=True)
    assert [(c.kind, c.code) for c in told] == [("crash", "crashed"), ("alert", "non_finite_loss"),
                                                ("state", "stopped"), ("checkpoint", "checkpoint")]
    assert "milestones 1 to 3" in told[-1].what
    assert is_news(s, None, T - 1) and not is_news(s, None, T) and not is_news(s, None, None)
    assert not is_news(s, Known(), T - 1)


def test_an_alert_is_told_again_only_after_it_cleared():
    k = Known("live")
    k, told = decide(summary(alerts=(alert("kl_rising"),)), k)
    assert [c.code for c in told] == ["kl_rising"]
    k, told = decide(summary(alerts=(alert("kl_rising"),)), k)
    assert told == []
    k, told = decide(summary(alerts=(alert("kl_rising", "info"),)), k)  # information is no alarm: cleared
    assert told == [] and k.alerts == frozenset()
    k, told = decide(summary(alerts=(alert("kl_rising"),)), k)
    assert [c.code for c in told] == ["kl_rising"]


def test_unreachable_keeps_the_last_real_state():
    k = Known("stalled")
    k, told = decide(summary(state="unreachable"), k)
    assert told == [] and k.state == "stalled"
    k, told = decide(summary(state="stalled"), k)
    assert told == []  # the same stall: said once


CODES = ["non_finite_loss", "loss_spike", "kl_rising"]
STATES = ["live", "stalled", "stopped", "finished", "unreachable", "unknown"]
scans = st.lists(st.tuples(st.dictionaries(st.sampled_from(CODES), st.sampled_from(["error", "warning", "info"])),
                           st.sampled_from(STATES)), min_size=1, max_size=25)


@given(scans)
def test_each_alert_and_state_is_told_once_per_rise(seq):
    """Over any sequence of scans: an alert is told exactly at each scan where it (as a warning or error)
    is there and was not at the previous one; a state at each change to stalled/stopped/finished from
    the last real state; the first scan tells nothing."""
    summaries = [summary(alerts=tuple(alert(c, sev) for c, sev in alerts.items()), state=state)
                 for alerts, state in seq]
    known, told = decide(summaries[0], None)
    assert told == []
    counted: list[tuple[str, str]] = []
    for s in summaries[1:]:
        known, told = decide(s, known)
        counted += [(c.kind, c.code) for c in told]
    expected: list[tuple[str, str]] = []
    notable = [{c for c, sev in a.items() if sev != "info"} for a, _ in seq]
    last_state = seq[0][1] if seq[0][1] not in ("unreachable", "unknown") else None
    for i in range(1, len(seq)):
        expected += [("alert", c) for c in CODES if c in notable[i] and c not in notable[i - 1]]
        state = seq[i][1]
        if state not in ("unreachable", "unknown") and state != last_state:
            if state in ("stalled", "stopped", "finished"):
                expected.append(("state", state))
            last_state = state
    assert sorted(counted) == sorted(expected)


def test_links_name_the_run_percent_encoded_with_the_view():
    assert link(BASE, "exp a/run#1") == "http://dash.example:8501/?run=exp%20a%2Frun%231"
    assert link("https://x.example/dash/?token=t", "r", (("metrics", "train/rec_loss"), ("from", "100"))) == \
        "https://x.example/dash/?token=t&run=r&metrics=train%2Frec_loss&from=100"
    assert link(None, "r") is None


def test_backoff_doubles_up_to_the_cap():
    assert [backoff(k) for k in range(1, 12)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert backoff(3, first=0.5, cap=1.5) == 1.5


# ------------------------------------------------------------------ a watcher on real files, real receivers


@pytest.fixture
def receiver():
    r = JsonReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def smtp():
    r = SmtpReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def watches(tmp_path):
    made: list[Watch] = []

    def make(root: Path, urls: list[str], **kw) -> Watch:
        settings = WatchSettings(roots=(root,), urls=tuple(urls), base_url=BASE, state_dir=tmp_path / "state",
                                 **{"first_delay": 0.2, **kw})
        w = Watch(settings)
        w.delivery.start()  # the scans are driven by the test, with its clock
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def scan(w: Watch, now: float) -> None:
    w.fleet.scan(now=now)
    assert w.delivery.wait_idle(60)


def titles(receiver: JsonReceiver) -> list[str]:
    return [m["title"] for m in receiver.received()]


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    write_log(r / "vae" / "live", range(0, 500, 100))
    write_log(r / "old", range(0, 400, 100), mtime=T - 2 * DAY)  # stopped long ago: never told at start
    return r


def append(root: Path, rel: str, text: str, mtime: float) -> None:
    log = root / rel / "2025-08-15-20-00_.log"
    with open(log, "a") as f:
        f.write(text)
    touch(log, mtime)


def test_a_nan_line_gives_exactly_one_notification_to_each_target(root, receiver, smtp, watches):
    w = watches(root, [receiver.url(user="bot", password=PASSWORD), smtp.url()])
    scan(w, T + 10)
    assert receiver.received() == [] and smtp.messages == []  # nothing at the start (the old stopped run included)
    append(root, "vae/live", line(500, "nan"), T + 20)
    scan(w, T + 25)
    append(root, "vae/live", line(600, "nan"), T + 30)  # a second NaN while it persists
    scan(w, T + 35)
    scan(w, T + 40)
    (msg,) = receiver.received()
    (mail,) = smtp.wait_for(lambda m: len(m) >= 1)
    assert msg["title"] == mail["subject"] == "RadioDash: vae/live: error non_finite_loss"
    assert msg["type"] == "failure" and msg["path"] == "/hook"
    body = msg["message"]
    assert body.splitlines() == [
        f"Run: vae/live (under {root})",
        "What happened: Non-finite values (nan/inf) from step 500: train/rec_loss from step 500; 1 cells in all "
        "(train/rec_loss: 1). The run has diverged: resume from the last checkpoint before that step with a lower "
        "learning rate, or check AMP/fp16 overflow.",
        "When: step 500 of 1,000, log time 2025-08-15 20:00:25",
        "What to do: Resume from the last checkpoint before the first non-finite step with a lower learning rate, "
        "or check AMP/fp16 overflow.",
        "The run now: live: last line 5 s ago, at step 500 of 1,000",
        # the view of the alert: the metric that went non-finite, from 50 records before its first bad step
        "Open: http://dash.example:8501/?run=vae%2Flive&metrics=train%2Frec_loss&from=0",
    ]
    assert mail["body"].strip().splitlines() == body.splitlines() and mail["to"] == ["team@example.com"]
    scan(w, T + 50)
    assert len(receiver.received()) == 1 and len(smtp.messages) == 1


def test_a_run_that_stops_being_written_gives_one_stalled(root, receiver, watches):
    w = watches(root, [receiver.url()])
    scan(w, T + 30)
    for minutes in (2, 5, 14, 15, 30):  # usual interval 5 s: stalled past 50 s of silence
        scan(w, T + minutes * 60)
    assert titles(receiver) == ["RadioDash: vae/live: stalled"]
    (msg,) = receiver.received()
    assert "What happened: The run stalled: no line for 2 min 00 s (usual 5 s), at step 400 of 1,000." in msg["message"]
    assert "What to do: Check that the trainer process and its GPU are alive." in msg["message"]
    assert msg["message"].endswith("Open: http://dash.example:8501/?run=vae%2Flive") and msg["type"] == "warning"
    scan(w, T + 2 * 3600)  # past the hour: stopped is one more state
    assert titles(receiver) == ["RadioDash: vae/live: stalled", "RadioDash: vae/live: stopped"]
    append(root, "vae/live", line(500), T + 2 * 3600 + 10)  # written again: live; a new stall is told again
    scan(w, T + 2 * 3600 + 15)
    scan(w, T + 3 * 3600)
    assert titles(receiver)[2:] == ["RadioDash: vae/live: stalled"]


def test_a_run_reaching_train_num_steps_gives_one_finished(root, receiver, watches):
    w = watches(root, [receiver.url()])
    scan(w, T + 30)
    append(root, "vae/live", "".join(line(s) for s in range(500, 1000, 100)), T + 40)
    for t in (45, 60, 600, 2 * DAY):
        scan(w, T + t)
    assert titles(receiver) == ["RadioDash: vae/live: finished"]
    (msg,) = receiver.received()
    assert "What happened: The run finished 5 s ago after 45 s." in msg["message"] and msg["type"] == "success"
    assert "When: step 900 of 1,000, log time 2025-08-15 20:00:45" in msg["message"]


def test_a_crash_in_a_console_capture_is_told_once(root, receiver, watches):
    w = watches(root, [receiver.url()])
    scan(w, T + 30)
    # a run that appears after the first scan is news: a traceback after step 1,200, resumed from milestone 2
    write_run(root / "console", SimConfig(console=True, train_num_steps=2_000, log_freq=100,
                                          save_and_sample_every=500, resume_at=1_200, stop_step=1_500))
    for f in (root / "console").iterdir():
        touch(f, T + 35)
    scan(w, T + 40)
    scan(w, T + 45)
    crash = [m for m in receiver.received() if m["title"] == "RadioDash: console/nohup.out: crashed"]
    assert len(crash) == 1 and len(receiver.received()) == 1
    assert ("What happened: The trainer crashed: a Python traceback follows launch 1 in nohup.out after step 1,200."
            in crash[0]["message"])
    assert "What to do: Read the traceback in nohup.out. Resume the run from its last checkpoint" in crash[0]["message"]


def test_checkpoint_milestones_only_when_asked(root, receiver, watches, tmp_path):
    w = watches(root, [receiver.url()], checkpoints=True)
    scan(w, T + 30)  # milestone 2 (step 400) is known: not told
    append(root, "vae/live", line(500) + line(600), T + 40)
    scan(w, T + 45)
    append(root, "vae/live", line(700) + line(800), T + 50)
    scan(w, T + 55)
    assert titles(receiver) == ["RadioDash: vae/live: checkpoint"] * 2
    assert [m["message"].splitlines()[1] for m in receiver.received()] == [
        "What happened: The run reached checkpoint milestone 3: model-3.pt is saved at step 600.",
        "What happened: The run reached checkpoint milestone 4: model-4.pt is saved at step 800."]


def test_without_checkpoints_a_milestone_says_nothing(root, receiver, watches):
    w = watches(root, [receiver.url()])
    scan(w, T + 30)
    append(root, "vae/live", line(500) + line(600), T + 40)
    scan(w, T + 45)
    assert receiver.received() == []


def dweight_line(step: int, d_weight: float) -> str:
    return (f"2025-08-15 20:00:{step // 20:02d},000 [Train Step] {step}/1000: train/rec_loss: 0.10000, "
            f"train/d_weight: {d_weight:.5f}, train/disc_factor: 1.00000, lr: 0.00000, \n")


def test_an_alert_that_cleared_and_came_back_is_told_again(tmp_path, receiver, watches):
    """d_weight at its clamp (1e4 × disc_weight 0.5) on more than half the records is a warning (analysis/alerts.py)."""
    root = tmp_path / "root"
    log = write_log(root / "gan", [])
    log.write_text(HEADER.replace("'kl_weight': 1e-06", "'kl_weight': 1e-06, 'disc_weight': 0.5")
                   + "".join(dweight_line(s, 5000) for s in range(0, 300, 100)))
    touch(log, T)
    w = watches(root, [receiver.url()])
    scan(w, T + 1)  # at the clamp already: known
    append(root, "gan", "".join(dweight_line(s, 120) for s in range(300, 700, 100)), T + 2)  # 3 of 7: cleared
    scan(w, T + 3)
    assert receiver.received() == [] and w._known[str((root / "gan").resolve())].alerts == frozenset()
    append(root, "gan", "".join(dweight_line(s, 5000) for s in range(700, 900, 100)), T + 4)  # 5 of 9: back
    scan(w, T + 5)
    scan(w, T + 6)
    assert titles(receiver) == ["RadioDash: gan: warning d_weight_at_clamp"]


def test_a_receiver_down_when_the_alert_happens_and_back_5_s_later_still_gets_it(root, watches):
    down = JsonReceiver()  # its port: nothing listens yet
    w = watches(root, [down.url()], first_delay=1.0)
    scan(w, T + 10)
    append(root, "vae/live", line(500, "nan"), T + 20)
    w.fleet.scan(now=T + 25)
    time.sleep(5)
    assert w.pending() == 1  # tried, refused, waiting for its next try
    down.start()
    try:
        assert w.delivery.wait_idle(60)
        assert [m["title"] for m in down.received()] == ["RadioDash: vae/live: error non_finite_loss"]
        assert w.delivery.delivered[w.targets.targets[0].id] == 1
    finally:
        down.stop()


class SlowReceiver(JsonReceiver):
    """Takes every post and answers 500 after a delay: a target that is down slowly."""

    def __init__(self, delay: float) -> None:
        super().__init__(status=500)
        self.delay = delay

    def start(self):
        super().start()
        handler = self._server.RequestHandlerClass
        post = handler.do_POST

        def slow(h) -> None:
            time.sleep(self.delay)
            post(h)

        handler.do_POST = slow
        return self


def test_a_slow_dead_target_holds_up_neither_the_others_nor_the_scans(root, receiver, watches):
    slow = SlowReceiver(delay=3.0).start()
    try:
        w = watches(root, [slow.url(), receiver.url()], retries=1, first_delay=0.1)
        scan(w, T + 10)
        append(root, "vae/live", line(500, "nan"), T + 20)
        w.fleet.scan(now=T + 25)
        got = receiver.wait_for(lambda m: len(m) == 1)
        assert len(got) == 1 and slow.received() == []  # delivered while the slow target has not even answered
        assert w.pending() == 1
        w.fleet.scan(now=T + 30)  # a scan meanwhile is not held up either
        assert w.fleet.scans == 3
        assert w.delivery.wait_idle(60) and len(slow.received()) == 2  # 1 try + 1 retry, then given up
    finally:
        slow.stop()


def test_after_the_last_retry_the_failure_is_logged_with_the_target_masked(root, watches, caplog):
    refusing = JsonReceiver(status=500).start()
    try:
        caplog.set_level(logging.DEBUG)  # everything, Apprise's and urllib3's debug lines included
        w = watches(root, [refusing.url(user="bot", password=PASSWORD)], retries=2, first_delay=0.05)
        scan(w, T + 10)
        append(root, "vae/live", line(500, "nan"), T + 20)
        scan(w, T + 25)
        assert len(refusing.received()) == 3  # the first try and 2 retries
        assert refusing.received()[0]["auth"]  # the password did reach the target itself (basic auth)
        assert w.delivery.failed[w.targets.targets[0].id] == 1 and w.pending() == 0
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        masked = f"json://bot:****@127.0.0.1:{refusing.port}/hook"
        assert any(m.startswith("could not deliver 'RadioDash: vae/live: error non_finite_loss' to target 1 (" + masked)
                   and "after 3 tries" in m for m in errors), errors
        text = caplog.text + "".join(r.getMessage() for r in caplog.records)
        assert PASSWORD not in text and refusing.url(user="bot", password=PASSWORD) not in text
    finally:
        refusing.stop()


def test_urls_never_appear_in_a_notification_or_the_log(root, receiver, watches, caplog, request):
    caplog.set_level(logging.DEBUG)  # every logger, Apprise's and urllib3's debug lines included
    smtp = SmtpReceiver(login=("bot", PASSWORD)).start()
    request.addfinalizer(smtp.stop)
    urls = [receiver.url(user="bot", password=PASSWORD), smtp.url()]
    w = watches(root, urls)
    scan(w, T + 10)
    append(root, "vae/live", line(500, "nan"), T + 20)
    scan(w, T + 25)
    test = w.send_test()
    assert test.wait(30) and test.accepted == 2
    assert len(smtp.wait_for(lambda m: len(m) == 2)) == 2 and smtp.logins == ["bot", "bot"]
    got = receiver.wait_for(lambda m: len(m) == 2)
    assert [m["title"] for m in got] == ["RadioDash: vae/live: error non_finite_loss", "RadioDash: test notification"]
    assert got[1]["message"] == ("A test notification from RadioDash: this target is one of the 2 it notifies about the "
                                 "2 run(s) it watches.\nOpen: http://dash.example:8501/")
    texts = [m["title"] + m["message"] for m in got] + [m["subject"] + m["body"] for m in smtp.messages]
    texts += [caplog.text, *(r.getMessage() for r in caplog.records)]
    texts.append((w.store.path).read_bytes().decode("latin-1"))  # the state file knows targets by hash only
    for t in texts:
        assert PASSWORD not in t and not any(u in t for u in urls)
    assert "127.0.0.1" not in texts[0]


def test_the_redactor_scrubs_raw_urls_and_their_secret_parts():
    targets = load_targets([f"json://bot:{PASSWORD}@127.0.0.1:9/hook", "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7F"])
    r = Redactor(targets.secrets)
    rec = logging.LogRecord("apprise", logging.DEBUG, __file__, 1, "posting to %s with token %s",
                            ("http://bot:" + PASSWORD + "@127.0.0.1:9/hook", "TIiajkdnlazkcOXrIdevi7F"), None)
    r.filter(rec)
    assert rec.getMessage() == "posting to http://bot:****@127.0.0.1:9/hook with token ****"
    assert [t.masked.split("?")[0] for t in targets.targets] == ["json://bot:****@127.0.0.1:9/hook",
                                                                  "slack://T...2/A...D/T...F//"]


# ------------------------------------------------------------------ the state file


def test_a_restart_resends_nothing_and_tells_what_happened_meanwhile(root, receiver, watches):
    w = watches(root, [receiver.url()])
    scan(w, T + 10)
    append(root, "vae/live", line(500, "nan"), T + 20)
    scan(w, T + 25)
    w.close()
    # while nobody watched: the run finished, and a new run appeared and diverged
    append(root, "vae/live", "".join(line(s) for s in range(600, 1000, 100)), T + 60)
    write_log(root / "vae" / "new", [0, 100], line(200, "inf"), mtime=T + 70)
    w2 = watches(root, [receiver.url()])
    scan(w2, T + 80)
    scan(w2, T + 90)
    got = titles(receiver)
    assert got[0] == "RadioDash: vae/live: error non_finite_loss" and len(got) == 3
    assert sorted(got[1:]) == ["RadioDash: vae/live: finished", "RadioDash: vae/new: error non_finite_loss"]


def test_one_watcher_per_state_file_and_the_default_folder_is_the_users(root, receiver, watches, tmp_path, monkeypatch):
    w = watches(root, [receiver.url()])
    with pytest.raises(StateLocked):
        Watch(WatchSettings(roots=(root,), urls=(receiver.url(),), state_dir=tmp_path / "state"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_dir() == tmp_path / "xdg" / "radiodash"
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    other = Watch(WatchSettings(roots=(root / "vae",), urls=(receiver.url(),)))  # other roots: another state file
    try:
        other.fleet.scan(now=T + 5)
        assert other.store.path.parent == tmp_path / "xdg" / "radiodash" and other.store.path != w.store.path
    finally:
        other.close()
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # nothing written into the results


def test_no_usable_target_is_refused_with_the_url_masked(root, tmp_path):
    with pytest.raises(NoTargets) as e:
        Watch(WatchSettings(roots=(root,), urls=(f"nosuchscheme://bot:{PASSWORD}@host/x",), state_dir=tmp_path / "s"))
    assert PASSWORD not in str(e.value) and "nosuchscheme://bot:" in str(e.value)
    with pytest.raises(NoTargets, match="no notification target given"):
        Watch(WatchSettings(roots=(root,), state_dir=tmp_path / "s"))


def test_an_apprise_config_file_gives_targets(root, receiver, tmp_path, watches):
    cfg = tmp_path / "apprise.txt"
    cfg.write_text(receiver.url(path="from-config") + "\n")
    w = Watch(WatchSettings(roots=(root,), config_files=(str(cfg),), state_dir=tmp_path / "state2"))
    try:
        assert w.target_count == 1
        test = w.send_test()
        assert test.wait(30) and test.accepted == 1
        assert receiver.received()[0]["path"] == "/from-config"
    finally:
        w.close()


# ------------------------------------------------------------------ the watch command


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "radiodash", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={k: v for k, v in os.environ.items() if not k.startswith("RADIODASH_")}, **kw)


def test_watch_errors_are_one_line(tmp_path):
    res = cli("watch", str(tmp_path))
    assert res.returncode == 2 and res.stderr == ("radiodash: no notification target given (--notify URL, "
                                                  "RADIODASH_NOTIFY or an Apprise config file)\n")
    res = cli("watch", str(tmp_path / "nope"), "--notify", "json://127.0.0.1:9/x")
    assert res.returncode == 2 and res.stderr == f"radiodash: {tmp_path / 'nope'} does not exist\n"
    res = cli("watch", str(tmp_path), "--notify", "json://127.0.0.1:9/x", "--interval", "0")
    assert res.returncode == 2 and res.stderr == "radiodash: --interval 0 is not a positive number of seconds\n"


def test_serve_passes_the_notification_settings_to_the_server(tmp_path):
    from radiodash.cli import build_parser, serve_env

    args = build_parser().parse_args(["serve", "--root", str(tmp_path), "--notify", "json://a/x", "--notify",
                                      "ntfy://topic", "--notify-config", "a.yml", "--notify-config", "b.txt",
                                      "--base-url", BASE, "--state", "st", "--notify-checkpoints"])
    env = serve_env(args, {"RADIODASH_NOTIFY": "json://from-env/y", "PATH": "/bin"})
    assert env["RADIODASH_NOTIFY"] == "json://a/x ntfy://topic json://from-env/y" and env["PATH"] == "/bin"
    assert env["RADIODASH_NOTIFY_CONFIG"] == f"{Path('a.yml').resolve()}:{Path('b.txt').resolve()}"
    assert (env["RADIODASH_BASE_URL"], env["RADIODASH_NOTIFY_STATE"], env["RADIODASH_NOTIFY_CHECKPOINTS"]) == (
        BASE, str(Path("st").resolve()), "1")
    settings = WatchSettings.from_env({**env, "RADIODASH_NOTIFY_INTERVAL": "2.5"}, [tmp_path], base_url="http://x/")
    assert settings.urls == ("json://a/x", "ntfy://topic", "json://from-env/y") and settings.interval == 2.5
    assert settings.config_files == tuple(env["RADIODASH_NOTIFY_CONFIG"].split(":")) and settings.checkpoints
    assert settings.base_url == BASE and settings.state_dir == Path("st").resolve()
    assert WatchSettings.from_env({}, [tmp_path], base_url="http://x/").base_url == "http://x/"
    assert "json://a/x" not in repr(settings)  # URLs are secrets: not in a repr either
    quiet = serve_env(build_parser().parse_args(["serve"]), {})
    assert not any(k.startswith("RADIODASH_") for k in quiet)


def test_a_state_file_that_is_no_database_is_one_line(tmp_path, receiver):
    from radiodash.notify.state import state_file_name

    root, state = tmp_path / "root", tmp_path / "state"
    root.mkdir()
    state.mkdir()
    (state / state_file_name([root])).write_bytes(b"not a database\n" * 200)
    res = cli("watch", str(root), "--notify", receiver.url(), "--state", str(state))
    assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith(f"radiodash: the state file {state / state_file_name([root])} cannot be used (")
    assert res.stderr.endswith("); move it away to start afresh\n")


def start_watch(root: Path, state: Path, url: str, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADIODASH_")}
    return subprocess.Popen([sys.executable, "-m", "radiodash", "watch", str(root), "--notify", url, "--interval",
                             "0.3", "--state", str(state), "--base-url", BASE, "--retries", "8"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "ab"))


def state_query(state: Path, sql: str) -> list[tuple] | None:
    """Rows of the state file (read-only), or None before it has its tables."""
    files = list(state.glob("watch-*.sqlite"))
    if not files:
        return None
    with sqlite3.connect(f"file:{files[0]}?mode=ro", uri=True) as db:
        try:
            return db.execute(sql).fetchall()
        except sqlite3.OperationalError:
            return None


def last_scan(state: Path) -> float | None:
    rows = state_query(state, "SELECT value FROM meta WHERE key = 'last_scan'")
    return float(rows[0][0]) if rows else None


def outbox(state: Path) -> list[tuple[str, int]]:
    return state_query(state, "SELECT title, tries FROM outbox ORDER BY id") or []


def wait_until(pred, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_the_watcher_killed_and_restarted_mid_run_sends_nothing_twice_and_misses_nothing(tmp_path, receiver):
    root, state, log = tmp_path / "root", tmp_path / "state", tmp_path / "watch.log"
    now = time.time()
    write_log(root / "a", range(0, 500, 100), mtime=now)
    write_log(root / "b", range(0, 300, 100), mtime=now)
    url = receiver.url(user="bot", password=PASSWORD)
    proc = start_watch(root, state, url, log)
    try:
        assert wait_until(lambda: last_scan(state) is not None), log.read_text()
        append(root, "a", line(500, "nan"), time.time())
        assert len(receiver.wait_for(lambda m: len(m) == 1)) == 1
        assert wait_until(lambda: outbox(state) == [])  # delivered and committed
        receiver.stop()  # the target goes down; b diverges: its message waits in the outbox
        append(root, "b", line(300, "nan"), time.time())
        assert wait_until(lambda: [t for _, t in outbox(state)][:1] >= [1])
        assert outbox(state)[0][0] == "RadioDash: b: error non_finite_loss"
        os.kill(proc.pid, signal.SIGKILL)  # no clean shutdown: a crash, an OOM kill
        proc.wait(30)
        # while it was down: a finished, and a new run c appeared and went NaN
        append(root, "a", "".join(line(s) for s in range(600, 1000, 100)), time.time())
        write_log(root / "c", [0, 100], line(200, "nan"), mtime=time.time())
        receiver.start()
        proc = start_watch(root, state, url, log)
        receiver.wait_for(lambda m: len(m) >= 4)
        first = last_scan(state)
        assert wait_until(lambda: (last_scan(state) or 0) > first + 1) and outbox(state) == []  # a few scans more
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    got = [m["title"] for m in receiver.received()]
    assert got[0] == "RadioDash: a: error non_finite_loss" and len(got) == 4, got
    assert sorted(got[1:]) == ["RadioDash: a: finished", "RadioDash: b: error non_finite_loss",
                               "RadioDash: c: error non_finite_loss"]
    for m in receiver.received():  # each names its run and links its view
        run = m["title"].split(": ")[1]
        assert f"Run: {run} (under {root})" in m["message"] and f"Open: {BASE}?run={run}" in m["message"]
    text = log.read_text()
    assert "watching the runs under" in text and f"json://bot:****@127.0.0.1:{receiver.port}/hook" in text
    assert PASSWORD not in text and url not in text


# ------------------------------------------------------------------ the dashboard server (AppTest: the real app script)


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    import streamlit

    root = tmp_path / "root"
    write_log(root / "vae" / "live", range(0, 500, 100), mtime=time.time())
    for k in [k for k in os.environ if k.startswith("RADIODASH_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("RADIODASH_ROOT", str(root))
    monkeypatch.setenv("RADIODASH_NOTIFY_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("RADIODASH_BASE_URL", BASE)
    streamlit.cache_resource.clear()
    yield root
    streamlit.cache_resource.clear()  # closes the watcher and its fleet (on_release)


def page_text(at) -> str:
    parts = []
    for kind in ("markdown", "caption", "title", "text", "error", "warning", "info", "success", "code"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def run_live(query: dict[str, str]):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_live_page_says_notifications_are_on_and_sends_a_test_to_the_targets_only(app_env, monkeypatch, request):
    good, other = JsonReceiver().start(), JsonReceiver().start()
    request.addfinalizer(good.stop)
    request.addfinalizer(other.stop)
    urls = [good.url(user="bot", password=PASSWORD), good.url(path="second")]
    monkeypatch.setenv("RADIODASH_NOTIFY", " ".join(urls))
    at = run_live({"run": "vae/live"})
    text = page_text(at)
    assert ("Notifications on: to 2 targets. Every run under the root is checked every 10 s for new warnings and "
            "errors, stalls, stops, finishes and crashes.") in text
    at.button(key="notify_test").click().run()
    text = page_text(at)
    assert "Test notification taken by all 2 targets." in text
    assert sorted(m["path"] for m in good.received()) == ["/hook", "/second"] and other.received() == []
    assert all(m["title"] == "RadioDash: test notification" for m in good.received())
    for u in urls:
        assert u not in text and PASSWORD not in text and "127.0.0.1" not in text
    from radiodash.ui import notifications

    roots = (str(app_env.resolve()),)
    watch = notifications._running(roots).watch
    assert watch.fleet is notifications.fleet(roots, 10.0)  # the server's one fleet, shareable by other pages
    import streamlit

    streamlit.cache_resource.clear()
    assert not watch.fleet.is_alive() and watch._closed  # released with the server's caches


def test_a_target_that_refuses_the_test_is_named_by_its_number_only(app_env, monkeypatch):
    down = free_port()
    monkeypatch.setenv("RADIODASH_NOTIFY", f"json://bot:{PASSWORD}@127.0.0.1:{down}/x")
    at = run_live({"run": "vae/live"})
    at.button(key="notify_test").click().run()
    text = page_text(at)
    assert ("Test notification taken by 0 of 1 targets; not taken by target(s) 1 (in the order configured). "
            "The server log says why, with secrets masked.") in text
    assert PASSWORD not in text and str(down) not in text


def test_notifications_configured_but_unusable_say_so_without_the_url(app_env, monkeypatch):
    monkeypatch.setenv("RADIODASH_NOTIFY", f"nosuchscheme://bot:{PASSWORD}@host/x")
    text = page_text(run_live({"run": "vae/live"}))
    assert ("Notifications are configured but not running: none of the notification targets is a URL Apprise "
            "understands (the server log says which, with its secrets masked).") in text
    assert PASSWORD not in text and "nosuchscheme" not in text


def test_without_notifications_the_page_says_nothing_of_them(app_env):
    text = page_text(run_live({"run": "vae/live"}))
    assert "otification" not in text


def test_a_bad_interval_in_the_environment_is_said_on_the_page(app_env, monkeypatch):
    monkeypatch.setenv("RADIODASH_NOTIFY", "json://127.0.0.1:9/x")
    monkeypatch.setenv("RADIODASH_NOTIFY_INTERVAL", "soon")
    text = page_text(run_live({"run": "vae/live"}))
    assert ("Notifications are configured but not running: RADIODASH_NOTIFY_INTERVAL='soon' is not a positive number "
            "of seconds.") in text
