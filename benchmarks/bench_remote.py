"""Remote-run benchmark: a real OpenSSH server on 127.0.0.1 (as the tests start it), against the local read.

    .venv/bin/python benchmarks/bench_remote.py [--lines 1000000] [--repeat 5]

Prints:
- the first full read of a 1,000,000-line VAE log over SSH vs locally (seconds, MB/s, ratio);
- a refresh after N appended lines (N = 0, 1, 10, 100, 1000): records added, bytes the tail asked
  the host for, bytes on the wire (through a counting relay: SSH framing, the listing and the
  open/close included), and the refresh time (median of `--repeat`);
- the cost of polling 20 idle runs on one host (one connection): one round of refreshes.
Loopback has no latency: over a LAN add about 3 round trips per file per refresh (listing, open,
read), and the full read is bound by the link instead of the CPU.
Needs /usr/sbin/sshd (scripts/install-sshd.sh).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from _common import big_log  # noqa: E402
from radiodash.remote import RemoteSource, close_all  # noqa: E402
from radiodash.run import open_run  # noqa: E402
from runcheck import step_starts  # noqa: E402
from sshd import Relay, SshServer, unavailable_reason  # noqa: E402



def full_read(server: SshServer, folder: Path, size: int, repeat: int = 2) -> None:
    """Best of `repeat` for each, alternating, after a warm-up read (the parser's compiled code loads once)."""
    from radiodash.run import warm_compiled_code

    warm_compiled_code()
    t_local = t_remote = float("inf")
    n_local = n_remote = 0
    for _ in range(repeat):
        t = time.perf_counter()
        local = open_run(folder)
        t_local = min(t_local, time.perf_counter() - t)
        n_local = len(local.frame())
        del local
        close_all()  # the connection is opened inside the timed read
        src = RemoteSource(server.url(folder), options=server.client_options())
        t = time.perf_counter()
        run = open_run(src)
        t_remote = min(t_remote, time.perf_counter() - t)
        n_remote = len(run.frame())
        del run
    assert n_remote == n_local, (n_remote, n_local)
    mb = size / 1e6
    print(f"first full read, {n_local:,} records, {mb:,.0f} MB: local {t_local:.2f} s ({mb / t_local:,.0f} MB/s), "
          f"over SSH {t_remote:.2f} s ({mb / t_remote:,.0f} MB/s): {t_remote / t_local:.2f}x the local time "
          f"(connection set-up included)")


def refreshes(server: SshServer, work: Path, data: bytes, repeat: int) -> None:
    starts = step_starts(data)
    relay = Relay(server.port)
    server.trust(relay.port)
    print(f"\nrefresh of a {starts[50_000] / 1e6:.1f} MB log after N appended lines (median of {repeat}):")
    print(f"{'N':>6} {'records':>8} {'new bytes':>10} {'read':>10} {'on the wire':>12} {'time':>9}")
    try:
        for n in (0, 1, 10, 100, 1000):
            times, wires, reads, news, added = [], [], [], [], []
            for r in range(repeat):
                folder = work / f"refresh-{n}-{r}"
                folder.mkdir()
                (folder / "2025-08-15-20-41_.log").write_bytes(data[: starts[50_000]])
                src = RemoteSource(server.url(folder, relay.port), options=server.client_options())
                run = open_run(src)
                run.refresh()
                new = data[starts[50_000]: starts[50_000 + n]]
                with open(folder / "2025-08-15-20-41_.log", "ab") as f:
                    f.write(new)
                read0, wire0 = src.bytes_read, relay.total
                t = time.perf_counter()
                added.append(run.refresh())
                times.append(time.perf_counter() - t)
                time.sleep(0.05)  # the close of the file, sent without waiting, lands in this refresh's count
                reads.append(src.bytes_read - read0)
                wires.append(relay.total - wire0)
                news.append(len(new))
            assert added == [n] * repeat, added
            print(f"{n:>6} {n:>8} {statistics.median(news):>10,.0f} {statistics.median(reads):>10,.0f} "
                  f"{statistics.median(wires):>12,.0f} {statistics.median(times) * 1000:>7.1f} ms")
    finally:
        relay.close()


def many_idle_runs(server: SshServer, work: Path, data: bytes, runs: int = 20, rounds: int = 20) -> None:
    starts = step_starts(data)
    opened = []
    for i in range(runs):
        folder = work / f"idle-{i}"
        folder.mkdir()
        (folder / "2025-08-15-20-41_.log").write_bytes(data[: starts[1_000]])
        opened.append(open_run(RemoteSource(server.url(folder), options=server.client_options())))
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        for run in opened:
            run.refresh()
        times.append(time.perf_counter() - t)
    print(f"\npolling {runs} idle runs on one host over one connection ({server.sessions()} SSH session(s) on the "
          f"server): {statistics.median(times) * 1000:.1f} ms per round "
          f"({statistics.median(times) / runs * 1000:.2f} ms per run)")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    reason = unavailable_reason()
    if reason:
        print(f"skipped: {reason}")
        return 0
    folder, _ = big_log(args.lines)
    (log,) = [p for p in folder.iterdir() if p.name.endswith("_.log")]
    data = log.read_bytes()
    with tempfile.TemporaryDirectory(prefix="radiodash-bench-remote-") as tmp:
        work = Path(tmp)
        server = SshServer(work / "sshd")
        server.start()
        try:
            run_dir = work / "full"
            run_dir.mkdir()
            (run_dir / log.name).symlink_to(log)
            full_read(server, run_dir, len(data))
            close_all()
            refreshes(server, work, data, args.repeat)
            close_all()
            many_idle_runs(server, work, data)
        finally:
            close_all()
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
