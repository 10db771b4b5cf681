"""The shared access token, at the HTTP layer and in the page.

`streamlit run app.py` serves app.py's `st.App` (Streamlit 1.67 runs the ASGI app it finds in
the script), wrapped in `AccessMiddleware`. With a token configured, the middleware:

- answers a visit with `?token=…` by a 303 redirect to the same view without it, so the URL
  holding the token never becomes a history entry (Back cannot restore it — Streamlit's own
  address-bar update would push a new entry and leave the old one behind), setting the access
  cookie when the token is right;
- takes the token box's form (`POST <base>/_radiodash/token`, never in a URL) the same way;
- refuses `/media/…` (downloads), `/_stcore/metrics` and every other Streamlit endpoint that is
  not needed to draw the token box, unless the request carries the access cookie.

The cookie holds an HMAC of the token, not the token (HttpOnly, SameSite=Strict); changing the
token revokes every cookie. `Guard` logs each wrong token with the client's address (never the
text tried) and makes a client that keeps guessing wait, doubling the wait with each miss.
The page's gate (`session.gate`) accepts the same cookie, and `?token=` itself when no
middleware ran (AppTest), through the same Guard.
"""
from __future__ import annotations

import enum
import hashlib
import hmac
import html
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..security import token_matches
from .settings import Settings, SettingsError, parse

log = logging.getLogger("radiodash.access")

COOKIE = "radiodash_access"
#: A short-lived cookie telling the token box what became of the last attempt ("wrong", "wait-12").
OUTCOME_COOKIE = "radiodash_gate"
LOGIN_PATH = "_radiodash/token"  # under server.baseUrlPath; not a Streamlit route
COOKIE_SECONDS = 30 * 86400
OUTCOME_SECONDS = 20
MAX_FORM_BYTES = 8192

#: Wrong tokens a client may send before it has to wait; then 1 s, 2 s, 4 s … up to MAX_WAIT.
FREE_FAILURES = 3
MAX_WAIT = 300.0
#: A client's misses are forgotten after this long without one.
FORGET_SECONDS = 3600.0
MAX_CLIENTS = 10_000

ASK = "Ask whoever runs this dashboard for the access token."

# Streamlit endpoints a browser needs before it has the token: the page, its assets, the health
# check, the host config and the websocket (the page script draws only the token box until then).
_OPEN_CORE = {"_stcore/health", "_stcore/host-config", "_stcore/stream"}
_GUARDED_PREFIXES = ("media/", "_stcore/", "component/", "app/static/")


def cookie_value(token: str) -> str:
    """What the access cookie holds for `token`: a MAC of it (the token itself never leaves the server)."""
    return hmac.new(token.encode("utf-8", "surrogatepass"), b"radiodash access cookie v1", hashlib.sha256).hexdigest()


def cookie_ok(value: str | None, token: str) -> bool:
    return isinstance(value, str) and bool(value) and hmac.compare_digest(str(value).encode("utf-8", "surrogatepass"),
                                               cookie_value(token).encode())


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    WAIT = "wait"  # too many wrong tokens lately: this attempt was not even compared


@dataclass(frozen=True)
class Attempt:
    verdict: Verdict
    wait_seconds: float = 0.0  # before the client's next attempt is compared


@dataclass
class _Misses:
    count: int
    not_before: float
    last: float


class Guard:
    """Per-client count of wrong tokens, with an exponential wait once a client passes `free` misses.

    While a client must wait, its attempts are refused without being compared (even the right
    token), so parallel or scripted guessing gains nothing. Thread-safe; bounded memory.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, free: int = FREE_FAILURES,
                 max_wait: float = MAX_WAIT, max_clients: int = MAX_CLIENTS) -> None:
        self.clock = clock
        self.free = free
        self.max_wait = max_wait
        self.max_clients = max_clients
        self._lock = threading.Lock()
        self._misses: OrderedDict[str, _Misses] = OrderedDict()

    def attempt(self, client: str, given: str | None, expected: str) -> Attempt:
        """Compare `given` with `expected` for `client` (an address), unless the client must wait first."""
        with self._lock:
            now = self.clock()
            m = self._misses.get(client)
            if m is not None and now - m.last > FORGET_SECONDS:
                del self._misses[client]
                m = None
            if m is not None and now < m.not_before:
                wait = m.not_before - now
                log.warning("access token attempt from %s refused unchecked: %d wrong in a row, "
                            "the next is compared in %.0f s", client, m.count, wait)
                return Attempt(Verdict.WAIT, wait)
            if token_matches(given, expected):
                self._misses.pop(client, None)
                return Attempt(Verdict.ACCEPTED)
            count = (m.count if m else 0) + 1
            wait = 0.0 if count <= self.free else min(self.max_wait, 2.0 ** (count - self.free - 1))
            self._misses[client] = _Misses(count, now + wait, now)
            self._misses.move_to_end(client)
            while len(self._misses) > self.max_clients:
                self._misses.popitem(last=False)
        log.warning("wrong access token from %s (%d in a row%s)", client, count,
                    f"; its next attempt is compared in {wait:.0f} s" if wait else "")
        return Attempt(Verdict.WRONG, wait)


GUARD = Guard()  # one per server process: the middleware and every page session share it


def outcome_sentence(attempt: Attempt | None) -> str | None:
    """What the token box says after an attempt (None after none)."""
    if attempt is None or attempt.verdict is Verdict.ACCEPTED:
        return None
    if attempt.verdict is Verdict.WAIT or attempt.wait_seconds >= 1:
        return (f"That token was not accepted, and there were too many wrong tokens from your address: "
                f"try again in {max(1, round(attempt.wait_seconds))} s.")
    return "That token was not accepted."


def outcome_from_cookie(value: str | None) -> Attempt | None:
    """The Attempt the middleware summed up in OUTCOME_COOKIE ("wrong" or "wait-<seconds>")."""
    if value == "wrong":
        return Attempt(Verdict.WRONG)
    if value and value.startswith("wait-") and value[5:].isdigit() and len(value) < 12:
        return Attempt(Verdict.WAIT, float(value[5:]))
    return None


def _outcome_cookie(attempt: Attempt) -> str:
    return f"wait-{max(1, round(attempt.wait_seconds))}" if attempt.wait_seconds >= 1 else "wrong"


def read_settings(argv: list[str] | None = None, environ=None) -> Settings:
    """The server's settings with the token from `--token-file`, RADIODASH_TOKEN or `.streamlit/secrets.toml`."""
    s = parse(sys.argv[1:] if argv is None else argv, os.environ if environ is None else environ)
    if s.token is None:
        secret = _secrets_token()
        if secret:
            s = replace(s, token=secret)
    return s


def _secrets_token() -> str | None:
    try:
        import streamlit as st

        value = st.secrets.get("RADIODASH_TOKEN")  # optional .streamlit/secrets.toml
    except Exception:  # noqa: BLE001 - no secrets file is the normal case
        return None
    return str(value) if value else None


def base_path() -> str:
    """'' or '/prefix': Streamlit's server.baseUrlPath as a URL path prefix."""
    try:
        from streamlit import config

        base = (config.get_option("server.baseUrlPath") or "").strip("/")
    except Exception:  # noqa: BLE001
        base = ""
    return f"/{base}" if base else ""


def without_token(query: str) -> str:
    """The query string minus every `token` key (order and repeated keys kept)."""
    return urlencode([(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "token"])


def safe_next(target: str | None, fallback: str) -> str:
    """A same-site path to send the browser back to (the view it asked for), never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return fallback
    query = without_token(parts.query)
    return parts.path + (f"?{query}" if query else "")


def token_form() -> str:
    """The token box: a plain HTML form posted to the middleware (the token never goes into a URL).

    It sends the visitor back to the view they asked for (`?run=…&metrics=…`) from the form's
    Referer, the page's own address: the page repeats nothing of what the URL held.
    """
    return (f'<form method="post" action="{html.escape(base_path() + "/" + LOGIN_PATH)}">'
            '<label for="radiodash-token">Access token</label><br>'
            '<input id="radiodash-token" name="token" type="password" autocomplete="current-password" '
            'required autofocus style="width:24em;max-width:100%;padding:0.4em;margin:0.3em 0.5em 0.3em 0">'
            '<button type="submit" style="padding:0.4em 1em">Open</button></form>')


def _same_site_referer(request) -> str | None:
    """Path and query of the page that posted the form, when it is a page of this server."""
    referer = request.headers.get("referer")
    if not referer:
        return None
    parts = urlsplit(referer)
    if parts.netloc != request.headers.get("host"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


class AccessMiddleware:
    """ASGI middleware in front of Streamlit: see the module docstring. Open access when no token is set."""

    def __init__(self, app, settings: Callable[[], Settings] = read_settings, guard: Guard = GUARD) -> None:
        self.app = app
        self._settings = settings
        self.guard = guard
        self._token: str | None | bool = False  # False: not read yet

    def token(self) -> str | None:
        """The configured token, read once. An unusable token file closes every guarded path."""
        if self._token is False:
            try:
                self._token = self._settings().token
            except SettingsError as e:
                log.error("%s: every protected endpoint is closed", e)
                self._token = os.urandom(32).hex()  # nobody knows it: fail closed
        return self._token  # type: ignore[return-value]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = self.token()
        if not token:
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request
        from starlette.responses import PlainTextResponse

        request = Request(scope, receive)
        base = base_path()
        path = scope["path"]
        rel = path[len(base):] if base and path.startswith(base) else path
        rel = rel.lstrip("/")
        if rel == LOGIN_PATH:
            if scope["method"] != "POST":
                await PlainTextResponse("Method not allowed", status_code=405)(scope, receive, send)
                return
            response = await self._login(request, token, base)
            await response(scope, receive, send)
            return
        guarded = rel.startswith(_GUARDED_PREFIXES) and rel not in _OPEN_CORE
        if guarded and not cookie_ok(request.cookies.get(COOKIE), token):
            await PlainTextResponse("Forbidden: open the dashboard and enter its access token first.",
                                    status_code=403, headers={"Cache-Control": "no-store"})(scope, receive, send)
            return
        if not guarded and scope["method"] in ("GET", "HEAD") and "token" in request.query_params:
            given = request.query_params.getlist("token")[-1]
            query = without_token(scope.get("query_string", b"").decode("latin-1"))
            target = path + (f"?{query}" if query else "")
            await self._answer(request, token, given, target)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _login(self, request, token: str, base: str):
        from starlette.responses import PlainTextResponse

        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
            return PlainTextResponse("Forbidden: cross-site token form", status_code=403)
        body = b""
        async for piece in request.stream():
            body += piece
            if len(body) > MAX_FORM_BYTES:
                return PlainTextResponse("Request too large", status_code=413)
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=8))
        target = safe_next(form.get("next") or _same_site_referer(request), base + "/")
        return self._answer(request, token, form.get("token", ""), target)

    def _answer(self, request, token: str, given: str, target: str):
        from starlette.responses import RedirectResponse

        client = request.client.host if request.client else "unknown"
        attempt = self.guard.attempt(client, given, token)
        response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store",
                                                                       "Referrer-Policy": "no-referrer"})
        secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
        if attempt.verdict is Verdict.ACCEPTED:
            response.set_cookie(COOKIE, cookie_value(token), max_age=COOKIE_SECONDS, path="/", httponly=True,
                                samesite="strict", secure=secure)
            response.delete_cookie(OUTCOME_COOKIE, path="/")
        else:
            response.set_cookie(OUTCOME_COOKIE, _outcome_cookie(attempt), max_age=OUTCOME_SECONDS, path="/",
                                httponly=True, samesite="strict", secure=secure)
        return response


def middleware() -> list:
    """The middleware list for `st.App(..., middleware=…)`."""
    from starlette.middleware import Middleware

    return [Middleware(AccessMiddleware)]
