"""Several roots (local folders and `ssh://` URLs) and the team overview, without a browser.

- `radiodash.roots.Roots`: how roots are named, how a run name splits into (root, path), which runs
  `list()` finds under two roots and what `resolve()` refuses — always with the one sentence;
- the same over a real OpenSSH server on 127.0.0.1 (tests/sshd.py), a host that goes down included;
- `fleet.overview_frame` and `fleet.state_counts`, every figure checked by hand;
- the Live page without a run (the overview) through Streamlit's AppTest, on two real roots.
"""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import apptest

from radiodash.fleet import STATE_ORDER, AlertInfo, Fleet, RunSummary, overview_frame, state_counts
from radiodash.remote import close_all
from radiodash.roots import Roots
from radiodash.security import Refused, checked_parts
from radiodash.simulate import SimConfig, write_run
from radiodash.ui import access
from radiodash.ui.session import refusal_markdown
from sshd import running_sshd, sshd  # noqa: F401 - pytest fixtures

REPO = Path(__file__).resolve().parents[1]
HOST = socket.gethostname()
T = 1_800_000_000.0
DAY = 86_400.0
LAUNCH = "2025-08-15-20-41_.log"


def sentence(name: str) -> str:
    return f"There is no run named “{name}” here."


def set_mtime(path: Path, t: float) -> None:
    for f in ([path] if path.is_file() else path.iterdir()):
        os.utime(f, (t, t))


def make_tree(top: Path, name: str, t0: float = T) -> Path:
    """A root folder `top/name` with runs and everything a root must not serve:

    runA (a results folder), a/b/runB (deeper), loose.log (a run file by itself); notes.md (not a run
    file), .env and .hidden/ (hidden), escape.log -> a file outside, linked_out -> a run folder outside,
    sneaky.log -> a log in .hidden/, sneakydir -> .hidden/ (symlinks out of the root or into a hidden part).
    mtimes: runA newest, then a/b/runB, then loose.log.
    """
    r = top / name
    (r / "runA").mkdir(parents=True)
    (r / "runA" / LAUNCH).write_text("x\n")
    set_mtime(r / "runA", t0)
    (r / "a" / "b" / "runB").mkdir(parents=True)
    (r / "a" / "b" / "runB" / LAUNCH).write_text("y\n")
    set_mtime(r / "a" / "b" / "runB", t0 - 100)
    (r / "loose.log").write_text("z\n")
    set_mtime(r / "loose.log", t0 - 200)
    (r / "notes.md").write_text("not a run\n")
    (r / ".env").write_text("SECRET=1\n")
    (r / ".hidden").mkdir()
    (r / ".hidden" / LAUNCH).write_text("hidden\n")
    outside = top / f"{name}-outside"
    outside.mkdir()
    (outside / LAUNCH).write_text("outside\n")
    (top / f"{name}-secret.log").write_text("TOP-SECRET\n")
    os.symlink(top / f"{name}-secret.log", r / "escape.log")
    os.symlink(outside, r / "linked_out")
    os.symlink(r / ".hidden" / LAUNCH, r / "sneaky.log")
    os.symlink(r / ".hidden", r / "sneakydir")
    return r


RUNS = ["runA", "a/b/runB", "loose.log"]  # newest first

#: names under a root that no root may serve (each is refused with the one sentence)
HOSTILE = [".hidden", f".hidden/{LAUNCH}", ".env", "notes.md", "escape.log", "linked_out", f"linked_out/{LAUNCH}",
           "sneaky.log", "sneakydir", f"sneakydir/{LAUNCH}", "..", "../lab-results/runA", "runA/../../x",
           "%2e%2e/runA", "runC", "runA/nohup.out"]


@pytest.fixture
def two(tmp_path) -> tuple[Path, Path]:
    return make_tree(tmp_path, "lab-results"), make_tree(tmp_path, "gpu-results", T - 1000)


# ------------------------------------------------------------------ names


def test_a_root_is_named_by_its_folder(two):
    lab, gpu = two
    roots = Roots.parse([lab, str(gpu) + "/", f"ssh://me@gpu1:2222/data/ldm-results/"])
    assert [(r.name, r.location, r.machine, r.remote) for r in roots] == [
        ("lab-results", str(lab.resolve()), HOST, False),
        ("gpu-results", str(gpu.resolve()), HOST, False),
        ("ldm-results", "ssh://me@gpu1:2222/data/ldm-results", "gpu1", True),
    ]
    assert Roots.parse([lab, lab, f"file://{lab}"]).locations == (str(lab.resolve()),)  # the same folder once
    same = Roots.parse(["ssh://me@gpu1:2222/data/ldm-results", "ssh://me@gpu1:2222/data/ldm-results/"])
    assert [r.name for r in same] == ["ldm-results"]  # a trailing '/' names the same root, not a second one
    assert [r.location for r in Roots.parse(["ssh://me@gpu1/"])] == ["ssh://me@gpu1/"]


def test_roots_with_the_same_folder_name_get_distinct_names(tmp_path):
    a, b, c = (tmp_path / x / "results" for x in "abc")
    for p in (a, b, c):
        p.mkdir(parents=True)
    names = [r.name for r in Roots.parse([a, b, c, "ssh://me@gpu1/data/results", "ssh://me@gpu2:22/results"])]
    assert len(set(names)) == 5, names
    assert names[3:] == ["gpu1-results", "gpu2-results"]  # the machine's name in front
    assert all("results" in n for n in names)
    # a folder called like a generated name does not collide with it, in either order
    (tmp_path / "d" / "results-2").mkdir(parents=True)
    for order in ([a, b, tmp_path / "d" / "results-2"], [tmp_path / "d" / "results-2", a, b]):
        names = [r.name for r in Roots.parse(order)]
        assert len(set(names)) == 3, names


@pytest.mark.parametrize("folders", [[".cache"], [".cache", "x/.cache"], ["..."], ["-.-x"], ["a b/c d"]])
def test_a_root_name_is_never_hidden_and_is_a_valid_first_part(tmp_path, folders):
    paths = []
    for f in folders:
        (tmp_path / f).mkdir(parents=True)
        paths.append(tmp_path / f)
    roots = Roots.parse([*paths, "ssh://me@.evil/srv/.secret", "ssh://me@host/"])
    for r in roots:
        assert r.name and not r.name.startswith(".") and "/" not in r.name, r
        assert checked_parts(f"{r.name}/runA") == [r.name, "runA"]  # the rules on run names accept it
    assert len({r.name for r in roots}) == len(roots)


def test_split_takes_the_root_from_the_first_part(two):
    lab, gpu = two
    roots = Roots.parse([lab, gpu])
    root, rel = roots.split("gpu-results/a/b/runB")
    assert (root.location, rel) == (str(gpu.resolve()), "a/b/runB")
    root, rel = roots.split("lab-results/runA")
    assert (root.location, rel) == (str(lab.resolve()), "runA")
    assert roots.split("lab-results")[1] == "."
    for name in ("runA", "nosuch/runA", "lab/runA", "lab-results-x/runA"):
        with pytest.raises(Refused) as e:
            roots.split(name)
        assert str(e.value) == sentence(name)
    one = Roots.parse([gpu])  # one root: names are paths under it, a first part is never taken as a root's name
    assert one.split("a/b/runB") == (one.items[0], "a/b/runB")
    assert one.split("gpu-results/runA") == (one.items[0], "gpu-results/runA")


def test_name_of_a_location(two, tmp_path):
    lab, gpu = two
    roots = Roots.parse([lab, gpu])
    assert roots.name_of(str(gpu / "a" / "b" / "runB")) == "gpu-results/a/b/runB"
    assert roots.name_of(str(lab / "loose.log")) == "lab-results/loose.log"
    assert roots.name_of(str(tmp_path / "gpu-results-outside")) is None  # a sibling sharing the prefix
    assert roots.name_of(str(tmp_path)) is None
    assert Roots.parse([gpu]).name_of(str(gpu / "runA")) == "runA"
    remote = Roots.parse([lab, "ssh://me@gpu1:2222/data/ldm-results"])
    assert remote.name_of("ssh://me@gpu1:2222/data/ldm-results/run7") == "ldm-results/run7"
    assert remote.name_of("ssh://me@gpu1:2222/data/ldm-results-old/run7") is None
    assert remote.name_of("ssh://me@gpu2:2222/data/ldm-results/run7") is None


# ------------------------------------------------------------------ listing and resolving, local roots


def test_list_over_two_roots_names_each_run_after_its_root(two):
    lab, gpu = two
    roots = Roots.parse([lab, gpu])
    listing = roots.list()
    assert listing.problems == ()
    expected = [f"lab-results/{r}" for r in RUNS] + [f"gpu-results/{r}" for r in RUNS]  # gpu's are 1000 s older
    assert [r.name for r in listing.runs] == expected
    for r in listing.runs:
        assert r.machine == HOST and r.root.name == r.name.split("/")[0] and r.name == f"{r.root.name}/{r.rel}"
        assert r.location == str(Path(r.root.location) / r.rel)
        assert r.is_dir == (r.rel != "loose.log")
        assert roots.resolve(r.name).location == r.location  # what is listed opens
    one = Roots.parse([gpu]).list()
    assert [r.name for r in one.runs] == RUNS  # one root: no prefix


def test_resolve_finds_a_run_under_its_own_root(two):
    lab, gpu = two
    roots = Roots.parse([lab, gpu])
    found = roots.resolve("gpu-results/runA")
    assert (found.name, found.root.name, found.rel, found.location, found.is_dir) == (
        "gpu-results/runA", "gpu-results", "runA", str(gpu.resolve() / "runA"), True)
    found = roots.resolve("lab-results/loose.log")
    assert (found.location, found.is_dir) == (str(lab.resolve() / "loose.log"), False)


@pytest.mark.parametrize("rel", HOSTILE)
def test_resolve_refuses_with_the_one_sentence(two, rel):
    roots = Roots.parse(two)
    name = f"gpu-results/{rel}"
    with pytest.raises(Refused) as e:
        roots.resolve(name)
    assert str(e.value) == sentence(name)
    assert "TOP-SECRET" not in str(e.value)
    with pytest.raises(Refused) as e:  # one root: the same, without the prefix
        Roots.parse([two[1]]).resolve(rel)
    assert str(e.value) == sentence(rel)


@pytest.mark.parametrize("name", ["nosuch/runA", "runA", "/etc/passwd", "", "lab-results\x00/runA"])
def test_resolve_refuses_names_of_no_root(two, name):
    with pytest.raises(Refused) as e:
        Roots.parse(two).resolve(name)
    assert str(e.value) in (sentence(name.replace("\x00", "\ufffd")), "No run was named.")


# ------------------------------------------------------------------ a remote root over real SSH


@pytest.fixture
def mixed(tmp_path, running_sshd):
    """A local root and an ssh:// root (the sshd serves this machine's files), with their Roots."""
    lab, gpu = make_tree(tmp_path, "lab-results"), make_tree(tmp_path, "gpu-results", T - 1000)
    roots = Roots.parse([lab, running_sshd.url(gpu)], options=running_sshd.client_options())
    yield lab, gpu.resolve(), roots
    close_all()  # a host stopped by a test: no connection in backoff left for the next test


@pytest.mark.slow
def test_list_of_a_local_and_an_ssh_root(mixed, running_sshd):
    lab, gpu, roots = mixed
    assert [(r.name, r.machine) for r in roots] == [("lab-results", HOST), ("gpu-results", "127.0.0.1")]
    listing = roots.list()
    assert listing.problems == ()
    got = {r.name: r for r in listing.runs}
    assert "gpu-results/sneaky.log" not in got  # a link into a hidden folder: refused (the test below)
    assert list(got) == [f"lab-results/{r}" for r in RUNS] + [f"gpu-results/{r}" for r in RUNS]
    local = {r.rel: r.mtime for r in Roots.parse([gpu]).list().runs}  # the same folder, listed locally
    for rel in RUNS:
        remote = got[f"gpu-results/{rel}"]
        assert (remote.machine, remote.location, remote.mtime) == ("127.0.0.1", running_sshd.url(gpu / rel),
                                                                   int(local[rel]))  # SFTP: whole seconds
        assert got[f"lab-results/{rel}"].machine == HOST


def test_resolve_of_a_remote_run_is_its_ssh_url(mixed, running_sshd):
    lab, gpu, roots = mixed
    for rel in RUNS:
        found = roots.resolve(f"gpu-results/{rel}")
        assert (found.location, found.root.name, found.machine) == (running_sshd.url(gpu / rel), "gpu-results",
                                                                    "127.0.0.1")
    assert roots.resolve("lab-results/runA").location == str(lab.resolve() / "runA")


@pytest.mark.parametrize("rel", HOSTILE)
def test_a_remote_root_refuses_what_a_local_root_refuses(mixed, rel):
    _, _, roots = mixed
    name = f"gpu-results/{rel}"
    with pytest.raises(Refused) as e:
        roots.resolve(name)
    assert str(e.value) == sentence(name)
    assert "TOP-SECRET" not in str(e.value)


def test_a_remote_listing_leaves_out_a_link_into_a_hidden_folder(mixed):
    _, _, roots = mixed
    names = [r.name for r in roots.list().runs]
    assert "gpu-results/sneaky.log" not in names, names


@pytest.mark.slow
def test_a_host_that_is_down_is_a_problem_of_its_root_only(mixed, running_sshd):
    lab, gpu, roots = mixed
    assert roots.list().problems == ()  # connected once
    running_sshd.stop()
    listing = roots.list()  # must not raise
    assert [r.name for r in listing.runs] == [f"lab-results/{r}" for r in RUNS]
    ((root, why),) = listing.problems
    assert root.name == "gpu-results" and "cannot be reached" in why and "127.0.0.1" in why, why
    assert not listing.complete(root) and listing.complete(roots.items[0])


@pytest.mark.slow
def test_a_fleet_keeps_the_runs_of_a_host_that_went_down_as_unreachable(tmp_path, running_sshd):
    cfg = dict(train_num_steps=2_000, log_freq=100, save_and_sample_every=500, disc_start=1_001)
    lab, gpu = tmp_path / "lab-results", tmp_path / "gpu-results"
    write_run(lab / "done", SimConfig(**cfg))
    write_run(gpu / "ldm7", SimConfig(**cfg, stop_step=1_000))
    write_run(gpu / "old3", SimConfig(**cfg, stop_step=600))
    for run, t in ((lab / "done", T - DAY), (gpu / "ldm7", T), (gpu / "old3", T - 2 * DAY)):
        set_mtime(run, t)
    roots = Roots.parse([lab, running_sshd.url(gpu)], options=running_sshd.client_options())
    fleet = Fleet(roots)  # make_run: the default (Roots.source, with the test's ssh options)
    try:
        got = {s.rel: s for s in fleet.scan(now=T + 30)}
        assert {k: (v.machine, v.state, v.latest_step) for k, v in got.items()} == {
            "lab-results/done": (HOST, "finished", 1_900),
            "gpu-results/ldm7": ("127.0.0.1", "live", 1_000),
            "gpu-results/old3": ("127.0.0.1", "stopped", 600),
        }
        assert fleet.listing_problem is None
        running_sshd.stop()
        got = {s.rel: s for s in fleet.scan(now=T + 60)}
        assert {k: (v.machine, v.state, v.latest_step) for k, v in got.items()} == {
            "lab-results/done": (HOST, "finished", 1_900),
            "gpu-results/ldm7": ("127.0.0.1", "unreachable", 1_000),  # kept, with what was read
            "gpu-results/old3": ("127.0.0.1", "unreachable", 600),
        }
        assert "cannot be reached" in fleet.listing_problem
        assert got["gpu-results/ldm7"].eta_seconds is None
        frame = overview_frame(fleet.summaries())
        assert frame["run"].tolist() == ["gpu-results/ldm7", "gpu-results/old3", "lab-results/done"]
        assert state_counts(fleet.summaries()) == {"unreachable": 2, "finished": 1}
    finally:
        fleet.stop()
        close_all()


# ------------------------------------------------------------------ the overview's table, by hand


def summary(rel: str, state: str, *, step: int | None = 400, total: int | None = 1_000, eta: float | None = None,
            written: float | None = T, alerts: tuple[AlertInfo, ...] = (), machine: str = "gpu1",
            rate: float | None = 72_000.0) -> RunSummary:
    return RunSummary(
        key=f"/data/{rel}", name=rel.rsplit("/", 1)[-1], rel=rel, root="/data", machine=machine, version=1, as_of=T,
        state=state, state_description=state, latest_step=step, train_num_steps=total, log_freq=100,
        steps_per_hour=rate, eta_seconds=eta, last_written=written,
        last_log_time=pd.Timestamp("2025-08-15 20:00:20") if step is not None else None, alerts=alerts,
        milestone=None, milestone_step=None, milestone_time=None, crashes=())


def alert(severity: str, code: str, message: str) -> AlertInfo:
    return AlertInfo(code, severity, message, "", 100, None)


def test_overview_frame_figures_by_hand():
    rows = [
        summary("r/fin", "finished", step=900, total=1_000, written=T - 50),  # within log_freq of the end: 100 %
        summary("r/live", "live", step=400, total=1_000, eta=5_400.0, written=T - 10,
                alerts=(alert("error", "non_finite_loss", "NaN at step 400"), alert("warning", "spike", "a spike"),
                        alert("info", "lr_below_log_precision", "lr prints 0"))),
        summary("r/nocfg", "stalled", step=300, total=None, written=T - 900, rate=None),
        summary("r/old", "stopped", step=250, total=1_000, written=T - 3 * DAY,
                alerts=(alert("warning", "stopped", "The run is stopped"),)),
        summary("r/away", "unreachable", step=1_200, total=1_000, written=T - 100,  # past the end: capped at 100 %
                rate=719_856.039),
        summary("r/new", "unknown", step=None, total=1_000, written=None, rate=None),
    ]
    f = overview_frame(rows, lambda name: f"/base/?run={name}")
    assert list(f.columns) == ["run", "machine", "state", "step", "of", "progress", "steps/hour", "ETA (h)",
                               "last written", "last log line", "alerts", "alert", "open"]
    # stalled, stopped, unreachable, live, finished, unknown
    assert f["run"].tolist() == ["r/nocfg", "r/old", "r/away", "r/live", "r/fin", "r/new"]
    by = f.set_index("run")
    assert by.loc["r/live", "progress"] == pytest.approx(0.4)
    assert by.loc["r/fin", "progress"] == 1.0
    assert by.loc["r/away", "progress"] == 1.0
    assert by.loc["r/old", "progress"] == pytest.approx(0.25)
    assert pd.isna(by.loc["r/nocfg", "progress"]) and pd.isna(by.loc["r/new", "progress"])
    assert by.loc["r/live", "ETA (h)"] == pytest.approx(1.5)
    assert f["ETA (h)"].isna().sum() == 5  # only where eta_seconds is set
    assert by.loc["r/live", "step"] == 400 and by.loc["r/live", "of"] == 1_000 and pd.isna(by.loc["r/new", "step"])
    assert by.loc["r/live", "steps/hour"] == 72_000 and pd.isna(by.loc["r/nocfg", "steps/hour"])
    assert by.loc["r/away", "steps/hour"] == 719_856  # whole steps per hour on screen, not 719,856.039
    assert str(f["steps/hour"].dtype) == "Int64"
    assert by.loc["r/live", "alerts"] == 2 and by.loc["r/old", "alerts"] == 1 and by.loc["r/fin", "alerts"] == 0
    assert by.loc["r/live", "alert"] == "error: NaN at step 400" and by.loc["r/fin", "alert"] == ""
    assert by.loc["r/old", "last written"] == pd.Timestamp(T - 3 * DAY, unit="s", tz="UTC")
    assert pd.isna(by.loc["r/new", "last written"])
    assert by.loc["r/live", "last log line"] == pd.Timestamp("2025-08-15 20:00:20")
    assert by.loc["r/live", "open"] == "/base/?run=r/live" and by.loc["r/live", "machine"] == "gpu1"
    assert str(f["step"].dtype) == "Int64" and str(f["progress"].dtype) == "Float64"


def test_overview_frame_orders_by_state_then_newest_first():
    rows = [summary("b/live-old", "live", written=T - 500), summary("a/fin", "finished", written=T),
            summary("c/live-new", "live", written=T - 5), summary("d/stalled", "stalled", written=T - 600),
            summary("e/live-nomtime", "live", written=None)]
    assert overview_frame(rows)["run"].tolist() == ["d/stalled", "c/live-new", "b/live-old", "e/live-nomtime", "a/fin"]
    assert overview_frame([])["run"].tolist() == []
    assert overview_frame([summary("x", "live")])["open"].tolist() == ["?run=x"]


def test_state_counts_in_reading_order():
    rows = [summary(f"r{i}", s) for i, s in enumerate(["finished", "live", "finished", "unknown", "stopped",
                                                        "weird", "stalled", "live", "finished"])]
    counts = state_counts(rows)
    assert counts == {"stalled": 1, "stopped": 1, "live": 2, "finished": 3, "unknown": 1, "weird": 1}
    assert list(counts) == ["stalled", "stopped", "live", "finished", "unknown", "weird"]
    assert state_counts([]) == {}
    assert STATE_ORDER == ("stalled", "stopped", "unreachable", "live", "finished", "unknown")


# ------------------------------------------------------------------ the page (AppTest)


@pytest.fixture
def page_roots(tmp_path, monkeypatch):
    """Two local roots, four runs: lab-results/{live1, done1}, gpu-results/{old1, done2}.

    The fleet behind the overview judges states by the real clock (not RADIODASH_CLOCK), so the live run's
    files are dated a little in the future (silent 0 s however slow the test) and the others days ago."""
    cfg = dict(train_num_steps=2_000, log_freq=100, save_and_sample_every=500, disc_start=1_001)
    lab, gpu = tmp_path / "lab-results", tmp_path / "gpu-results"
    write_run(lab / "live1", SimConfig(**cfg, stop_step=1_000))
    write_run(lab / "done1", SimConfig(**cfg))
    write_run(gpu / "old1", SimConfig(**cfg, stop_step=600))
    write_run(gpu / "done2", SimConfig(**cfg))
    now = time.time()
    for run, t in ((lab / "live1", now + 600), (lab / "done1", now - DAY), (gpu / "old1", now - 3 * DAY),
                   (gpu / "done2", now - 2 * DAY)):
        set_mtime(run, t)
    for k in ("RADIODASH_LOG", "RADIODASH_ROOT", "RADIODASH_TOKEN", "RADIODASH_CLOCK", "RADIODASH_STOPPED_AFTER",
              "RADIODASH_NOTIFY", "RADIODASH_NOTIFY_CONFIG", "RADIODASH_OVERVIEW_INTERVAL"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("RADIODASH_ROOT", f"{lab} {gpu}")
    monkeypatch.setattr(access, "GUARD", access.Guard())
    st.cache_resource.clear()
    yield lab, gpu
    st.cache_resource.clear()  # stops the fleet (on_release)


def run_app(query: dict | None = None, page: str | None = None) -> AppTest:
    at = apptest.run_app(query, page, timeout=90)
    assert not at.exception, [e.value for e in at.exception]
    return at


def overview_table(at: AppTest) -> pd.DataFrame:
    (df,) = at.dataframe
    return df.value


def summary_line(at: AppTest) -> str:
    (line,) = [m.value for m in at.markdown if " on " in m.value and " machine" in m.value]
    return line.replace("\\", "")  # md_escape'd: "machine\\: …" shows as "machine: …"


@pytest.mark.slow
def test_the_live_page_without_a_run_is_the_overview_of_both_roots(page_roots):
    at = run_app()
    assert [t.value for t in at.title] == ["Runs"]
    assert summary_line(at) == "4 runs on 1 machine: 1 stopped · 1 live · 2 finished"
    frame = overview_table(at)
    assert frame["run"].tolist() == ["gpu-results/old1", "lab-results/live1", "lab-results/done1", "gpu-results/done2"]
    assert frame["state"].tolist() == ["stopped", "live", "finished", "finished"]
    assert frame["step"].tolist() == [600, 1_000, 1_900, 1_900]
    assert frame["machine"].tolist() == [HOST] * 4
    assert frame["progress"].tolist() == [pytest.approx(0.3), pytest.approx(0.5), 1.0, 1.0]
    assert frame["open"].tolist() == [f"/?run={n}" for n in frame["run"]]
    assert frame["ETA (h)"].isna().tolist() == [True, False, True, True]  # live runs only
    assert at.dataframe[0].proto.placeholder == "—"  # what those cells show (the default is the word "None")
    assert not at.warning


@pytest.mark.slow
def test_the_state_filter_in_the_url_keeps_only_those_runs(page_roots):
    at = run_app({"ov_state": "finished"})
    frame = overview_table(at)
    assert frame["run"].tolist() == ["lab-results/done1", "gpu-results/done2"]
    assert set(frame["state"]) == {"finished"}
    assert summary_line(at) == "4 runs on 1 machine: 1 stopped · 1 live · 2 finished — 2 shown"
    at = run_app({"ov_state": ["stopped", "live"]}, page="views/overview.py")  # its own page too
    assert overview_table(at)["run"].tolist() == ["gpu-results/old1", "lab-results/live1"]


@pytest.mark.slow
def test_a_run_named_in_the_url_opens_its_live_page_not_the_overview(page_roots):
    at = run_app({"run": "gpu-results/old1"})
    assert [t.value for t in at.title] == ["old1"]
    assert all("open" not in d.value.columns for d in at.dataframe)  # no overview table
    at = run_app({"run": "old1"})  # two roots: the bare name is no run
    assert [e.value for e in at.error] == [refusal_markdown(sentence("old1"), "old1")]
    assert [t.value for t in at.title] == ["Runs"]  # and the overview to pick from
