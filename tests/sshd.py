"""A real OpenSSH server on 127.0.0.1 for the remote-source tests, and a TCP relay in front of it.

The server (Debian's `/usr/sbin/sshd`, installed by `scripts/install-sshd.sh`) runs with a
temporary host key and accepts one temporary client key. The client side lives in a temporary
home (`home/.ssh/`: the key, `known_hosts` naming the server's host key, and a `config` with a
host alias) so that nothing of the real user's SSH setup is read or changed: the test process
passes those files to the source explicitly (`client_options`), a subprocess gets `HOME=home`.

`Relay` forwards a local port to the server and counts the bytes that cross it (what a
remote read really costs on the wire); `hold()` stops forwarding without closing anything,
like a network that drops every packet, so a client can only find out through its timeouts.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unavailable_reason() -> str | None:
    """Why an SSH server cannot run here (None when it can)."""
    if not os.path.exists(SSHD):
        return f"{SSHD} is not installed (run scripts/install-sshd.sh, as `make install-dev` does)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen is not installed (Debian openssh-client)"
    return None


def _keygen(path: Path, comment: str) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True)
    return path.with_suffix(".pub").read_text().strip()


class SshServer:
    """One sshd on 127.0.0.1:port with its own keys; `stop()` ends the server and every session it serves."""

    def __init__(self, workdir: Path, alias: str = "gpu-box") -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.alias = alias
        self.user = os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        self.host_key_pub = _keygen(self.dir / "ssh_host_ed25519_key", "radiodash-test-host")
        self.home = self.dir / "home"
        ssh = self.home / ".ssh"
        ssh.mkdir(parents=True)
        client_pub = _keygen(ssh / "id_ed25519", "radiodash-test-client")
        (self.dir / "authorized_keys").write_text(client_pub + "\n")
        key_type, key_b64 = self.host_key_pub.split()[:2]
        self.known_hosts = ssh / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {key_type} {key_b64}\n")
        self.client_key = ssh / "id_ed25519"
        # an alias as users write them: the source must follow HostName/Port/User/IdentityFile
        (ssh / "config").write_text(f"Host {alias}\n    HostName 127.0.0.1\n    Port {self.port}\n"
                                    f"    User {self.user}\n    IdentityFile {self.client_key}\n")
        for f in ssh.iterdir():
            f.chmod(0o600)
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege-separation directory
        self.config = self.dir / "sshd_config"
        self.config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1",
            f"HostKey {self.dir / 'ssh_host_ed25519_key'}",
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
            "PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "UsePAM no", "StrictModes no", f"PidFile {self.dir / 'sshd.pid'}",
            "Subsystem sftp internal-sftp", "MaxSessions 64", "MaxStartups 64", "LogLevel ERROR", "",
        ]))
        self.proc: subprocess.Popen | None = None
        self._log = open(self.dir / "sshd.log", "ab")

    def client_options(self) -> dict:
        """asyncssh options naming the temporary client files (no agent, no user config)."""
        return {"known_hosts": str(self.known_hosts), "client_keys": [str(self.client_key)],
                "agent_path": None, "config": []}

    def trust(self, port: int) -> None:
        """Also trust this server's host key at 127.0.0.1:port (a relay in front of it)."""
        key_type, key_b64 = self.host_key_pub.split()[:2]
        with open(self.known_hosts, "a") as f:
            f.write(f"[127.0.0.1]:{port} {key_type} {key_b64}\n")

    @property
    def label(self) -> str:
        """How the source names this server in its messages."""
        return f"ssh://{self.user}@127.0.0.1:{self.port}"

    def url(self, path: str | os.PathLike, port: int | None = None) -> str:
        return f"ssh://{self.user}@127.0.0.1:{port or self.port}{os.fspath(path)}"

    def start(self, timeout: float = 15.0) -> None:
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)], stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited with {self.proc.returncode}: "
                                   f"{(self.dir / 'sshd.log').read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(4).startswith(b"SSH-"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("sshd did not answer on its port")

    def stop(self) -> None:
        """Kill the listener and every per-connection sshd it forked (they run in sessions of their own)."""
        import psutil

        if self.proc is None:
            return
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        for p in [psutil.Process(self.proc.pid), *children] if self.proc.poll() is None else children:
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        self.proc.wait(timeout=10)
        psutil.wait_procs(children, timeout=10)
        self.proc = None

    def sessions(self) -> int:
        """Per-connection sshd processes now (one per SSH connection a client holds)."""
        import psutil

        if self.proc is None:
            return 0
        return len(psutil.Process(self.proc.pid).children())

    def close(self) -> None:
        self.stop()
        self._log.close()


class Relay:
    """127.0.0.1:port → target, counting bytes each way; `hold()` makes it a black hole until `release()`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.to_server = 0
        self.to_client = 0
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._closed = False
        self._budget: int | None = None  # bytes still to pass to the client before the connections are cut
        threading.Thread(target=self._accept, daemon=True, name="relay-accept").start()

    @property
    def total(self) -> int:
        with self._lock:
            return self.to_server + self.to_client

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def cut_after(self, n: int) -> None:
        """Pass `n` more bytes to the client, then cut every connection (once; later ones pass freely)."""
        with self._lock:
            self._budget = n

    def _cut(self) -> None:
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            for s in (client, server):  # as ssh itself does: no Nagle delay on small SFTP messages
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._socks += [client, server]
            threading.Thread(target=self._pump, args=(client, server, "to_server"), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, "to_client"), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, counter: str) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                self._open.wait()  # held: the bytes wait here, as on a dead link
                with self._lock:
                    cut = counter == "to_client" and self._budget is not None and len(data) >= self._budget
                    if cut:
                        data, self._budget = data[: self._budget], None
                    elif counter == "to_client" and self._budget is not None:
                        self._budget -= len(data)
                    setattr(self, counter, getattr(self, counter) + len(data))
                dst.sendall(data)
                if cut:
                    self._cut()
                    break
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._closed = True
        self._open.set()
        self.listener.close()
        self._cut()  # shutdown first: a thread blocked in recv() on a socket only wakes up for that


# ------------------------------------------------------------------ pytest fixtures (imported by test files)

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """A running SshServer for the module; skipped (with the reason) only when sshd cannot run here."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    server = None
    try:
        server = SshServer(tmp_path_factory.mktemp("sshd"))
        server.start()
    except (OSError, RuntimeError, subprocess.CalledProcessError) as e:
        if server is not None:
            server.close()
        pytest.skip(f"sshd could not be started: {e}")
    yield server
    from radiodash.remote import close_all

    close_all()
    server.close()


@pytest.fixture
def running_sshd(sshd):
    """The module's server, started again if a test stopped it."""
    if sshd.proc is None:
        sshd.start()
    yield sshd
    if sshd.proc is None:
        sshd.start()
