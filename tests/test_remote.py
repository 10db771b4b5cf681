"""Runs on other machines, read over a real OpenSSH server on 127.0.0.1 (tests/sshd.py starts it).

The server serves this machine's own files, so every remote run can be compared with the local
parse of the very same folder. A TCP relay in front of the server counts the bytes on the wire,
cuts connections mid-transfer and plays a host that stops answering.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import fsspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radiodash.reader import Limits
from radiodash.remote import (RemoteSource, close_all, list_remote_runs, resolve_remote_run, ssh_connections)
from radiodash.run import open_run
from radiodash.security import Refused, list_runs
from radiodash.simulate import SimConfig, render
from radiodash.source import LocalSource, as_source
from runcheck import assert_same_run, parse_files, step_starts
from sshd import Relay, free_port, running_sshd, sshd  # noqa: F401 - pytest fixtures

# slow: a real sshd on 127.0.0.1;
# `make test` runs them, the quick run (-m "not slow") does not
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def remote(server, path, *, port: int | None = None, **kw) -> RemoteSource:
    """A source on the test server with its temporary client files, retrying quickly after a failure."""
    kw.setdefault("retry_interval", 0.05)
    return RemoteSource(server.url(path, port), options=server.client_options(), **kw)


def write(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def until_reachable(run, deadline: float = 30.0) -> int:
    """Refresh until the host answers again (it reconnects after retry_interval); the records that brought."""
    end = time.monotonic() + deadline
    added = 0
    while time.monotonic() < end:
        added += run.refresh()
        if run.snapshot().unreachable_since is None:
            return added
        time.sleep(0.05)
    raise AssertionError(f"still unreachable: {run.snapshot().notices[-3:]}")


@pytest.fixture(scope="module")
def big_launch() -> tuple[str, bytes]:
    """A 20,000-line VAE launch file (~5.6 MB): big enough that reading it whole would show."""
    files, _ = render(SimConfig(train_num_steps=200_000, log_freq=10, disc_start=50_001, seed=11))
    ((name, data),) = files.items()
    return name, data


# ------------------------------------------------------------------ reading


@pytest.mark.parametrize("accum", [1, 2])
def test_an_ssh_results_folder_reads_exactly_like_the_local_one(sshd, tmp_path, accum):
    files, truth = render(SimConfig(train_num_steps=4_000, log_freq=10, grad_accum=accum, resume_at=1_700,
                                    save_and_sample_every=500, disc_start=1_000, nan_step=3_500, seed=5))
    assert len(files) == 2  # two launches
    folder = write(tmp_path / "run", files)
    (folder / "nohup.out").write_bytes(b"console capture, left out when launch files exist\n")
    (folder / "sample-1000.png").write_bytes(b"\x89PNG")
    (folder / ".hidden_.log").write_bytes(b"never read\n")
    os.mkfifo(folder / "2025-08-16-00-00_.log")  # opening it on the host would block its SFTP server
    (folder / "2025-08-16-00-01_.log").symlink_to(folder / "missing.log")  # dangling

    run = open_run(remote(sshd, folder))
    local = open_run(folder)
    assert run.path == sshd.url(folder) and run.name == "run" and run.source.watch_dirs == ()
    assert_same_run(run.snapshot(), local.snapshot())
    assert_same_run(run.snapshot(), parse_files(files, str(folder)))
    assert run.frame()["step"].tolist() == truth.steps
    assert [(e.name, e.kind, e.stat.size) for e in run.entries] == [(e.name, e.kind, e.stat.size) for e in local.entries]
    assert [e.stat.mtime for e in run.entries] == [int(e.stat.mtime) for e in local.entries]  # whole seconds
    assert run.snapshot().unreachable_since is None and run.snapshot().notices == local.snapshot().notices


def test_a_single_log_file_over_ssh(sshd, tmp_path, big_launch):
    name, data = big_launch
    folder = write(tmp_path / "run", {name: data[: step_starts(data)[500]]})
    run = open_run(remote(sshd, folder / name))
    assert run.name == name and len(run.frame()) == 500
    append(folder / name, data[step_starts(data)[500]: step_starts(data)[600]])
    assert run.refresh() == 100
    assert_same_run(run.snapshot(), open_run(folder / name).snapshot())


def test_refresh_after_100_appended_lines_reads_only_the_new_bytes(sshd, tmp_path, big_launch):
    name, data = big_launch
    starts = step_starts(data)
    head, new = data[: starts[19_000]], data[starts[19_000]: starts[19_100]]
    folder = write(tmp_path / "run", {name: head})
    relay = Relay(sshd.port)
    sshd.trust(relay.port)
    try:
        src = remote(sshd, folder, port=relay.port)
        run = open_run(src)
        assert len(run.frame()) == 19_000
        run.refresh()  # settled: nothing new
        read0, wire0 = src.bytes_read, relay.total
        append(folder / name, new)
        t = time.perf_counter()
        assert run.refresh() == 100
        took = time.perf_counter() - t
        read, wire = src.bytes_read - read0, relay.total - wire0
    finally:
        relay.close()
    # asked of the host: the 64 bytes before the offset (the truncation check) and the new bytes — nothing else
    assert read == 64 + len(new), (read, len(new))
    # on the wire, encrypted and framed, with the listing: the new bytes and a little, not the 5 MB file
    assert len(new) < wire < len(new) + 16_384, (wire, len(new))
    print(f"\n[remote] refresh after 100 lines: {len(new):,} new bytes, {read:,} bytes read, "
          f"{wire:,} bytes on the wire, {took * 1000:.1f} ms (file {len(head) + len(new):,} bytes)")


def test_a_new_launch_file_appears(sshd, tmp_path):
    files, _ = render(SimConfig(train_num_steps=3_000, log_freq=10, resume_at=1_500, save_and_sample_every=500,
                                seed=2))
    first, second = sorted(files)
    folder = write(tmp_path / "run", {first: files[first]})
    run = open_run(remote(sshd, folder))
    assert len(run.snapshot().segments) == 1
    (folder / second).write_bytes(files[second])
    assert run.refresh() == len(step_starts(files[second]))  # one record per step line of the new file
    assert len(run.snapshot().segments) == 2
    assert_same_run(run.snapshot(), parse_files(files, str(folder)))


def test_truncation_and_replacement_are_found_without_an_inode(sshd, tmp_path, big_launch):
    name, data = big_launch
    starts = step_starts(data)
    folder = write(tmp_path / "run", {name: data[: starts[300]]})
    run = open_run(remote(sshd, folder))
    handle = run.source.open(str(folder / name))
    assert handle.stat().ident is None and handle.stat().size == starts[300]  # SFTP has no inode
    handle.close()
    (folder / name).write_bytes(data[: starts[100]])  # copytruncate, then 100 lines
    run.refresh()
    assert len(run.frame()) == 100 and any("was truncated" in n for n in run.snapshot().notices)
    longer = data[: starts[50]] + data[starts[60]: starts[400]]  # rewritten longer in place: same size check passes
    tmp = folder / "new.tmp"
    tmp.write_bytes(longer)
    os.replace(tmp, folder / name)  # a new file under the same name
    run.refresh()
    assert_same_run(run.snapshot(), open_run(folder).snapshot())


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=1, max_value=60_000), min_size=1, max_size=8))
def test_any_chunking_over_ssh_equals_the_one_shot_parse(sshd, tmp_path_factory, big_launch, cuts):
    name, data = big_launch
    data = data[: step_starts(data)[200]]  # 200 lines: ~56 KB
    folder = tmp_path_factory.mktemp("chunks")
    run = open_run(remote(sshd, folder), limits=Limits(read_block=4096))
    written = 0
    for cut in sorted(set(c for c in cuts if c < len(data))) + [len(data)]:
        append(folder / name, data[written:cut])
        written = cut
        run.refresh()
    assert_same_run(run.snapshot(), parse_files({name: data}, str(folder)))


def test_the_follow_service_keeps_an_ssh_run_current(sshd, tmp_path, big_launch):
    name, data = big_launch
    starts = step_starts(data)
    folder = write(tmp_path / "run", {name: data[: starts[100]]})
    run = open_run(remote(sshd, folder))
    seen = threading.Event()
    run.follow(lambda n: n and seen.set(), poll_interval=0.2)  # nothing to watch remotely: polled
    try:
        append(folder / name, data[starts[100]: starts[150]])
        assert seen.wait(30)
        end = time.monotonic() + 30
        while len(run.frame()) < 150 and time.monotonic() < end:
            time.sleep(0.05)
        assert len(run.frame()) == 150
    finally:
        run.close()


# ------------------------------------------------------------------ connections


def test_every_run_on_a_host_shares_one_connection(running_sshd, tmp_path, big_launch):
    server = running_sshd
    name, data = big_launch
    close_all()
    end = time.monotonic() + 10
    while server.sessions() and time.monotonic() < end:  # the closed connections' server processes end
        time.sleep(0.05)
    assert server.sessions() == 0
    folders = [write(tmp_path / f"run{i}", {name: data[: step_starts(data)[50 + i]]}) for i in range(6)]
    with ThreadPoolExecutor(6) as pool:  # opened at the same time, from six threads
        runs = list(pool.map(lambda f: open_run(remote(server, f)), folders))
    assert [len(r.frame()) for r in runs] == [50 + i for i in range(6)]
    assert len(ssh_connections()) == 1 and ssh_connections()[0].opened == 1
    assert server.sessions() == 1


def test_a_server_stopped_and_restarted_mid_run_loses_and_duplicates_nothing(running_sshd, tmp_path, big_launch):
    server = running_sshd
    name, data = big_launch
    starts = step_starts(data)
    a, b, c = starts[1_000], starts[1_500] + 40, starts[2_000] + 17  # b and c cut a line in two
    folder = write(tmp_path / "run", {name: data[:a]})
    other = write(tmp_path / "local", {name: data[:a]})
    run, local_run = open_run(remote(server, folder)), open_run(other)
    assert len(run.frame()) == 1_000
    append(folder / name, data[a:b])
    assert run.refresh() == 500  # the half line waits for its newline
    server.stop()
    append(folder / name, data[b:c])
    assert run.refresh() == 0
    snap = run.snapshot()
    assert snap.unreachable_since is not None and len(snap.frame) == 1_500  # kept
    assert snap.notices[-1] == f"{server.label} cannot be reached: connection refused"
    append(other / name, data[a:c])
    assert local_run.refresh() == 1_000  # other runs keep working
    assert run.refresh() == 0 and run.snapshot().unreachable_since == snap.unreachable_since
    server.start()
    assert until_reachable(run) == 500
    assert run.snapshot().notices[-1] == "reachable again; reading resumed where it stopped"
    append(folder / name, data[c: starts[2_100]])
    assert run.refresh() == 100
    assert_same_run(run.snapshot(), open_run(folder).snapshot())  # nothing lost, nothing twice
    assert run.frame()["step"].is_unique
    assert run.source.storage.connection.opened >= 2  # reopened after the failure


def test_a_connection_cut_in_the_middle_of_a_big_read_loses_and_duplicates_nothing(sshd, tmp_path, big_launch):
    name, data = big_launch
    folder = write(tmp_path / "run", {name: data[: step_starts(data)[1_000]]})
    relay = Relay(sshd.port)
    sshd.trust(relay.port)
    try:
        src = remote(sshd, folder, port=relay.port)
        run = open_run(src, limits=Limits(read_block=64 << 10))
        append(folder / name, data[step_starts(data)[1_000]:])
        relay.cut_after(1_500_000)  # ~1.5 MB into the 5 MB that follow: between two reads, or within one
        added = run.refresh()
    finally:
        relay.close()
    # the connection had worked: it is reopened at once and the same refresh goes on where the cut left it
    assert src.storage.connection.opened == 2
    assert added == len(step_starts(data)) - 1_000
    assert run.snapshot().unreachable_since is None and not any("reached" in n for n in run.snapshot().notices)
    assert_same_run(run.snapshot(), open_run(folder).snapshot())


def test_a_host_that_stops_answering_is_given_up_after_the_timeout(sshd, tmp_path, big_launch):
    name, data = big_launch
    starts = step_starts(data)
    folder = write(tmp_path / "run", {name: data[: starts[100]]})
    relay = Relay(sshd.port)
    sshd.trust(relay.port)
    try:
        run = open_run(remote(sshd, folder, port=relay.port, timeout=1, connect_timeout=1, retry_interval=0.2))
        relay.hold()  # packets go nowhere; the connection stays open: only a timeout can tell
        append(folder / name, data[starts[100]: starts[200]])
        assert run.refresh() == 0  # returns (pytest-timeout would catch a hang)
        snap = run.snapshot()
        assert snap.unreachable_since is not None and len(snap.frame) == 100
        assert snap.notices[-1].endswith("cannot be reached: no answer within 1 s"), snap.notices[-1]
        assert run.refresh() == 0
        relay.release()
        assert until_reachable(run) == 100
    finally:
        relay.close()
    assert run.frame()["step"].is_unique and len(run.frame()) == 200
    # a connection that timed out is in an unknown state (and a dead link never comes back): a new one
    assert run.source.storage.connection.opened == 2


def test_while_a_dead_host_is_retried_the_other_runs_on_it_do_not_wait(sshd, tmp_path, big_launch):
    name, data = big_launch
    folders = [write(tmp_path / f"run{i}", {name: data[: step_starts(data)[10]]}) for i in range(2)]
    relay = Relay(sshd.port)
    sshd.trust(relay.port)
    try:
        kw = dict(port=relay.port, timeout=1, connect_timeout=60, retry_interval=0.05)
        run_a, run_b = (open_run(remote(sshd, f, **kw)) for f in folders)
        connection = run_a.source.storage.connection
        assert run_b.source.storage.connection is connection
        relay.hold()
        assert run_a.refresh() == 0 and run_a.snapshot().unreachable_since is not None  # timed out: host down
        time.sleep(0.1)  # past retry_interval: the next refresh tries to connect again
        retry = threading.Thread(target=run_a.refresh)
        retry.start()  # connects through the held relay: it waits for a banner that does not come
        end = time.monotonic() + 30
        while not connection._connecting and time.monotonic() < end:
            time.sleep(0.01)
        assert connection._connecting
        assert run_b.refresh() == 0 and run_b.snapshot().unreachable_since is not None  # did not wait for it
        assert retry.is_alive()
        relay.release()  # the banner arrives: the retry connects
        retry.join(60)
        assert run_a.snapshot().unreachable_since is None
        assert until_reachable(run_b) == 0 and len(run_b.frame()) == 10
    finally:
        relay.close()


def test_an_unknown_or_changed_host_key_is_refused(sshd, tmp_path):
    folder = write(tmp_path / "run", {"2025-08-15-20-41_.log": b"never read over an untrusted connection\n"})
    empty = tmp_path / "known_hosts_empty"
    empty.write_text("")
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    changed = tmp_path / "known_hosts_changed"
    changed.write_text(f"[127.0.0.1]:{sshd.port} " + " ".join(other.with_suffix(".pub").read_text().split()[:2]) + "\n")
    for known in (empty, changed):
        src = RemoteSource(sshd.url(folder), options={**sshd.client_options(), "known_hosts": str(known)})
        run = open_run(src)
        snap = run.snapshot()
        assert snap.frame.empty and snap.unreachable_since is not None and src.bytes_read == 0
        assert list(snap.notices) == [f"{sshd.label} cannot be reached: its host key is not trusted "
                                "(not in known_hosts, or different from it); host keys are always checked"]
    with pytest.raises(ValueError, match="always checks host keys"):
        RemoteSource(sshd.url(folder), options={**sshd.client_options(), "known_hosts": None})


def test_a_refused_connection_is_one_line_naming_the_host_and_never_the_password(sshd, tmp_path):
    port = free_port()  # nothing listens there
    src = RemoteSource(f"ssh://alice:s3cret-pw@127.0.0.1:{port}/data/run", options=sshd.client_options())
    assert src.location == f"ssh://alice@127.0.0.1:{port}/data/run"
    run = open_run(src)
    assert list(run.snapshot().notices) == [f"ssh://alice@127.0.0.1:{port} cannot be reached: connection refused"]
    listing = list_remote_runs(f"ssh://alice:s3cret-pw@127.0.0.1:{port}/data", options=sshd.client_options())
    assert listing.runs == [] and listing.error == run.snapshot().notices[0]
    assert "s3cret" not in repr(src.target) + repr(listing)


def test_the_users_own_ssh_configuration_is_used(sshd, tmp_path, big_launch):
    """A subprocess whose HOME holds the key, known_hosts and a config alias: no option passed at all."""
    name, data = big_launch
    folder = write(tmp_path / "run", {name: data[: step_starts(data)[300]]})
    code = ("import json, sys; from radiodash.run import open_run; s = open_run(sys.argv[1]).snapshot(); "
            "print(json.dumps([len(s.frame), s.unreachable_since is None, s.notices]))")
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"} | {"HOME": str(sshd.home),
                                                                             "PYTHONPATH": str(ROOT)}

    def read(url: str) -> list:
        out = subprocess.run([sys.executable, "-c", code, url], env=env, cwd=ROOT, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "Traceback" not in out.stderr
        return json.loads(out.stdout)

    assert read(f"ssh://{sshd.alias}{folder}") == [300, True, []]  # HostName, Port, User, IdentityFile from ~/.ssh/config
    assert read(sshd.url(folder)) == [300, True, []]  # ~/.ssh/id_ed25519 and ~/.ssh/known_hosts
    saved, config = sshd.known_hosts.read_text(), sshd.home / ".ssh" / "config"
    saved_config = config.read_text()
    try:
        sshd.known_hosts.write_text("")
        n, reachable, notices = read(sshd.url(folder))
        assert (n, reachable) == (0, False) and "host key is not trusted" in notices[0]
        # asyncssh would accept any host key here (OpenSSH would still ask): refused
        config.write_text(saved_config + f"Host no-checks\n    HostName 127.0.0.1\n    Port {sshd.port}\n"
                                         "    UserKnownHostsFile none\n")
        assert read(f"ssh://no-checks{folder}") == [0, False, [
            "ssh://no-checks cannot be reached: its SSH configuration turns host-key checking off "
            "(UserKnownHostsFile none); RadioDash always checks host keys"]]
    finally:
        sshd.known_hosts.write_text(saved)
        config.write_text(saved_config)


# ------------------------------------------------------------------ confinement under a remote root


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """The local tree test_security.py uses, plus what only a listing meets: depth, hidden folders, links in."""
    root = tmp_path / "root"
    (root / "runA").mkdir(parents=True)
    (root / "runA" / "2025-08-15-20-41_.log").write_text("x\n")
    (root / "runA" / "nohup.out").write_text("console\n")
    (root / "loose.log").write_text("y\n")
    (root / "a" / "b" / "runB").mkdir(parents=True)
    (root / "a" / "b" / "runB" / "2025-08-16-10-00_.log").write_text("z\n")
    (root / "a" / "b" / "c" / "d").mkdir(parents=True)
    (root / "a" / "b" / "c" / "d" / "2025-08-16-11-00_.log").write_text("too deep\n")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "2025-08-16-12-00_.log").write_text("hidden\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET\n")
    outside = tmp_path / "outside_run"
    outside.mkdir()
    (outside / "2025-08-16-13-00_.log").write_text("outside\n")
    os.symlink(secret, root / "escape.log")
    os.symlink(tmp_path, root / "updir")
    os.symlink(outside, root / "linked_run")
    os.symlink(root / "loose.log", root / "inside_link.log")
    os.utime(root / "loose.log", (1_700_000_000, 1_700_000_000))
    return root, secret


HOSTILE = ["../secret.txt", "runA/../../secret.txt", "/etc/passwd", "%2e%2e/secret.txt", "..%2fsecret.txt",
           "%252e%252e%252fsecret.txt", "runA/%00", "runA\x00.log", "runA/\x1b[31m", "escape.log",
           "updir/secret.txt", "linked_run", "linked_run/2025-08-16-13-00_.log", "..\\secret.txt", "C:/windows", ""]


@pytest.mark.parametrize("rel", HOSTILE)
def test_traversal_and_symlink_escapes_are_refused_on_a_remote_root(sshd, tree, rel):
    root, _ = tree
    with pytest.raises(Refused) as remote_refusal:
        resolve_remote_run(sshd.url(root), rel, options=sshd.client_options())
    assert "TOP-SECRET" not in str(remote_refusal.value)
    from radiodash.security import resolve_run

    with pytest.raises(Refused):  # the local rules refuse the same names
        resolve_run([root], rel)


def test_names_under_a_remote_root_resolve_to_their_url(sshd, tree):
    root, _ = tree
    opts = sshd.client_options()
    assert resolve_remote_run(sshd.url(root), "runA", options=opts) == sshd.url(root.resolve() / "runA")
    assert resolve_remote_run(sshd.url(root), "a/b/runB/2025-08-16-10-00_.log", options=opts) == \
        sshd.url(root.resolve() / "a/b/runB/2025-08-16-10-00_.log")
    assert resolve_remote_run(sshd.url(root), "inside_link.log", options=opts) == sshd.url(root.resolve() / "loose.log")
    with pytest.raises(Refused, match="no run named"):
        resolve_remote_run(sshd.url(root), "runC", options=opts)


def test_listing_a_remote_root_finds_what_the_local_listing_finds(sshd, tree):
    root, _ = tree
    listing = list_remote_runs(sshd.url(root), options=sshd.client_options())
    assert listing.error is None
    local = list_runs([root])
    assert {(r.rel, r.is_dir, r.mtime) for r in listing.runs} == {(r.rel, r.is_dir, int(r.mtime)) for r in local}
    assert {r.rel for r in listing.runs} == {"runA", "runA/nohup.out", "loose.log", "inside_link.log", "a/b/runB"}
    assert [r.mtime for r in listing.runs] == sorted((r.mtime for r in listing.runs), reverse=True)  # newest first
    runa = next(r for r in listing.runs if r.rel == "runA")
    assert runa.is_dir and runa.url == sshd.url(root.resolve() / "runA")
    assert [r.rel for r in list_remote_runs(sshd.url(root), max_depth=1, options=sshd.client_options()).runs
            if "runB" in r.rel] == []


# ------------------------------------------------------------------ any fsspec URL, and what is a URL


def test_any_fsspec_url_is_a_source_read_by_byte_ranges():
    files, _ = render(SimConfig(train_num_steps=3_000, log_freq=10, resume_at=1_500, save_and_sample_every=500,
                                seed=4))
    first, second = sorted(files)
    fs = fsspec.filesystem("memory")
    base = f"/radiodash-test-{os.getpid()}/run"
    starts = step_starts(files[first])
    fs.pipe(f"{base}/{first}", files[first][: starts[100]])
    src = as_source(f"memory://radiodash-test-{os.getpid()}/run")
    assert isinstance(src, RemoteSource)
    run = open_run(src)
    assert len(run.frame()) == 100
    read0 = src.bytes_read
    fs.pipe(f"{base}/{first}", files[first])  # an append, as far as a reader can tell
    assert run.refresh() == len(starts) - 100
    assert src.bytes_read - read0 == 64 + len(files[first]) - starts[100]
    fs.pipe(f"{base}/{second}", files[second])
    run.refresh()
    assert_same_run(run.snapshot(), parse_files(files, base))
    fs.pipe(f"{base}/{first}", files[first][: starts[10]])
    run.refresh()
    assert any("was truncated" in n for n in run.snapshot().notices)
    fs.rm(base, recursive=True)


def test_what_as_source_makes_of_a_name(tmp_path):
    assert isinstance(as_source(str(tmp_path)), LocalSource)
    assert isinstance(as_source(f"file://{tmp_path}"), LocalSource) and as_source(f"file://{tmp_path}").location == \
        str(tmp_path)
    src = as_source("ssh://bob@gpu-box:2222/data/results/run1")
    assert isinstance(src, RemoteSource) and src.location == "ssh://bob@gpu-box:2222/data/results/run1"
    assert src.name == "run1" and src.watch_dirs == ()
    assert isinstance(as_source("sftp://gpu-box/data/x"), RemoteSource)
    assert isinstance(as_source("nonsense-proto://x"), LocalSource)  # not a protocol fsspec knows: a (missing) path
