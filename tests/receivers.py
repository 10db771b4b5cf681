"""Real local notification receivers for the tests and the benchmark: an HTTP server taking Apprise's
`json://` posts, and an SMTP server (aiosmtpd) taking `mailto://` mail. Both listen on 127.0.0.1 only."""
from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JsonReceiver:
    """Records every POST: {"path", "auth", "title", "message", "type", "at"} (`at`: time.time() on arrival)."""

    def __init__(self, port: int | None = None, *, status: int = 200) -> None:
        self.port = port or free_port()
        self.status = status
        self.messages: list[dict] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def url(self, path: str = "hook", user: str | None = None, password: str | None = None) -> str:
        auth = f"{user}:{password}@" if user and password else (f"{user}@" if user else "")
        return f"json://{auth}127.0.0.1:{self.port}/{path}"

    def start(self) -> "JsonReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                with receiver._lock:
                    receiver.messages.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                              "title": body.get("title", ""), "message": body.get("message", ""),
                                              "type": body.get("type"), "at": time.time()})
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="json-receiver").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def received(self) -> list[dict]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, pred: Callable[[list[dict]], bool], timeout: float = 30.0) -> list[dict]:
        """The messages once `pred(messages)` holds (or when `timeout` is up: the caller asserts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received()
            if pred(got):
                return got
            time.sleep(0.05)
        return self.received()


class SmtpReceiver:
    """A real SMTP server (aiosmtpd); `messages`: {"subject", "body", "from", "to"} with the body decoded."""

    def __init__(self, login: tuple[str, str] | None = None) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.port = free_port()
        self.messages: list[dict] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                part = msg.get_body(("plain",)) if msg.is_multipart() else msg
                receiver.messages.append({"subject": str(msg["Subject"]), "body": part.get_content(),
                                          "from": envelope.mail_from, "to": list(envelope.rcpt_tos)})
                return "250 OK"

        self.login = login
        self.logins: list[str] = []

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = login is not None and (auth_data.login.decode(), auth_data.password.decode()) == login
            if ok:
                receiver.logins.append(auth_data.login.decode())
            return AuthResult(success=ok)

        # with a login: AUTH offered without TLS (a test on the loopback only)
        extra = dict(authenticator=authenticate, auth_require_tls=False) if login else {}
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **extra)

    def url(self) -> str:
        auth = f"{self.login[0]}:{self.login[1]}@" if self.login else ""
        return f"mailto://{auth}127.0.0.1:{self.port}?from=radiodash@example.com&to=team@example.com&mode=insecure"

    def start(self) -> "SmtpReceiver":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def wait_for(self, pred: Callable[[list[dict]], bool], timeout: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(list(self.messages)):
                break
            time.sleep(0.05)
        return list(self.messages)
