"""The access token at the HTTP layer (access.AccessMiddleware) and its Guard, driven as ASGI.

The middleware is called the way uvicorn calls it (scope, receive, send); behind it stands a
minimal ASGI app in Streamlit's place that records what reached it. The same middleware in
front of the real Streamlit server is tested in tests/test_serve.py and tests/e2e/.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest

from radiodash.ui import access
from radiodash.ui.settings import Settings, SettingsError

TOKEN = "correct horse battery staple"


class Streamlit:
    """Stands where Streamlit's app stands: answers 200 and remembers the paths it saw."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        self.seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"streamlit"})


class Reply:
    def __init__(self, sent: list[dict]) -> None:
        start = sent[0]
        self.status = start["status"]
        self.headers = [(k.decode().lower(), v.decode()) for k, v in start["headers"]]
        self.body = b"".join(m.get("body", b"") for m in sent[1:])

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    def cookies(self) -> dict[str, str]:
        jar = SimpleCookie()
        for k, v in self.headers:
            if k == "set-cookie":
                jar.load(v)
        return {name: m.value for name, m in jar.items()}

    def raw_cookies(self) -> list[str]:
        return [v for k, v in self.headers if k == "set-cookie"]


def call(mw, method: str, path: str, query: str = "", headers: dict[str, str] | None = None, body: bytes = b"",
         client: str = "10.1.2.3") -> Reply:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": "dash:8501", **(headers or {})}.items()],
             "client": (client, 50000), "server": ("dash", 8501)}
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive():
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    # on a thread of its own: Playwright's sync API (the browser tests, earlier in the same pytest
    # process) leaves an event loop running on the main thread, where asyncio.run() refuses to start
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, mw(scope, receive, send)).result()
    return Reply(sent)


def gate(token: str | None = TOKEN, guard: access.Guard | None = None) -> tuple[access.AccessMiddleware, Streamlit]:
    inner = Streamlit()
    return access.AccessMiddleware(inner, settings=lambda: Settings(None, (), token), guard=guard or access.Guard()), inner


def with_cookie(token: str = TOKEN) -> dict[str, str]:
    return {"cookie": f"{access.COOKIE}={access.cookie_value(token)}"}


def test_without_a_token_everything_passes():
    mw, inner = gate(token=None)
    for path in ("/", "/media/abc.csv", "/_stcore/metrics"):
        assert call(mw, "GET", path).status == 200
    assert inner.seen == ["/", "/media/abc.csv", "/_stcore/metrics"]


@pytest.mark.parametrize("path", ["/media/0123abcd.csv", "/_stcore/metrics", "/_stcore/upload_file/s/f",
                                  "/component/x/index.html", "/_stcore/agent/openapi.json", "/app/static/x.png"])
def test_guarded_endpoints_need_the_cookie(path):
    mw, inner = gate()
    reply = call(mw, "GET", path)
    assert reply.status == 403 and inner.seen == []
    assert call(mw, "GET", path, headers={"cookie": f"{access.COOKIE}=forged"}).status == 403
    assert call(mw, "GET", path, headers=with_cookie("an older token")).status == 403
    assert call(mw, "GET", path, headers=with_cookie()).status == 200 and inner.seen == [path]


@pytest.mark.parametrize("path", ["/", "/compare", "/_stcore/health", "/_stcore/host-config", "/static/js/index.js"])
def test_what_the_token_box_needs_stays_open(path):
    mw, inner = gate()
    assert call(mw, "GET", path).status == 200 and inner.seen == [path]


def test_token_in_the_url_is_exchanged_for_a_cookie_and_a_redirect_without_it():
    mw, inner = gate()
    query = urlencode([("runs", "a,b"), ("token", TOKEN), ("metrics", "train/x"), ("metrics", "train/y")])
    reply = call(mw, "GET", "/compare", query)
    assert reply.status == 303 and inner.seen == []  # the URL holding the token is never a page (no history entry)
    assert reply.header("location") == "/compare?runs=a%2Cb&metrics=train%2Fx&metrics=train%2Fy"
    assert reply.cookies()[access.COOKIE] == access.cookie_value(TOKEN) != TOKEN
    raw = reply.raw_cookies()[0].lower()
    assert "httponly" in raw and "samesite=strict" in raw
    assert reply.header("cache-control") == "no-store"
    assert all(TOKEN not in v for _, v in reply.headers)


def test_a_wrong_token_in_the_url_is_dropped_with_a_short_note():
    mw, inner = gate()
    reply = call(mw, "GET", "/", "run=r1&token=guess")
    assert reply.status == 303 and reply.header("location") == "/?run=r1" and inner.seen == []
    assert reply.cookies() == {access.OUTCOME_COOKIE: "wrong"}


def test_the_token_form():
    mw, inner = gate()
    body = urlencode({"token": TOKEN, "next": "/report?run=r1&token=x"}).encode()
    reply = call(mw, "POST", "/_radiodash/token", body=body, headers={"origin": "http://dash:8501",
                                                                      "content-type": "application/x-www-form-urlencoded"})
    assert reply.status == 303 and reply.header("location") == "/report?run=r1"
    assert reply.cookies()[access.COOKIE] == access.cookie_value(TOKEN) and inner.seen == []
    wrong = call(mw, "POST", "/_radiodash/token", body=urlencode({"token": "guess", "next": "/"}).encode())
    assert wrong.status == 303 and access.COOKIE not in wrong.cookies()


@pytest.mark.parametrize("target", ["//evil.example/x", "http://evil.example/", "\\\\evil", "javascript:alert(1)",
                                    "/\\evil.example", "", "/ok\r\nSet-Cookie: x=1"])
def test_the_form_only_sends_back_to_this_site(target):
    mw, _ = gate()
    reply = call(mw, "POST", "/_radiodash/token", body=urlencode({"token": TOKEN, "next": target}).encode())
    assert reply.status == 303 and reply.header("location") == "/"


def test_the_form_refuses_other_sites_and_big_bodies():
    mw, _ = gate()
    body = urlencode({"token": TOKEN, "next": "/"}).encode()
    assert call(mw, "POST", "/_radiodash/token", body=body, headers={"origin": "http://evil.example"}).status == 403
    assert call(mw, "POST", "/_radiodash/token", body=b"token=" + b"x" * 10_000).status == 413
    assert call(mw, "GET", "/_radiodash/token").status == 405


def test_guessing_is_slowed_down_per_client_and_logged_without_the_text(caplog):
    now = [0.0]
    mw, _ = gate(guard=access.Guard(clock=lambda: now[0]))
    with caplog.at_level("WARNING", logger="radiodash.access"):
        outcomes = [call(mw, "GET", "/", f"token=guess-{i}").cookies().get(access.OUTCOME_COOKIE) for i in range(5)]
        # the client must wait now: even the right token is not compared
        blocked = call(mw, "GET", "/", f"token={TOKEN}")
        other = call(mw, "GET", "/", f"token={TOKEN}", client="10.9.9.9")  # another client is not affected
        now[0] += 2.01  # the 5th miss made this client wait 2 s
        later = call(mw, "GET", "/", f"token={TOKEN}")
    assert outcomes == ["wrong", "wrong", "wrong", "wait-1", "wait-1"]
    assert access.COOKIE not in blocked.cookies() and blocked.cookies()[access.OUTCOME_COOKIE].startswith("wait-")
    assert access.COOKIE in other.cookies() and access.COOKIE in later.cookies()
    logged = [r.getMessage() for r in caplog.records]
    assert sum("wrong access token from 10.1.2.3" in m for m in logged) == 4
    assert any("10.1.2.3 refused unchecked" in m for m in logged)
    assert not any("guess" in m or TOKEN in m for m in logged)


def test_guard_doubles_the_wait_and_forgets():
    now = [0.0]
    g = access.Guard(clock=lambda: now[0], free=3, max_wait=300)
    waits = []
    for _ in range(12):
        a = g.attempt("c", "bad", "good")
        waits.append(a.wait_seconds)
        now[0] += a.wait_seconds  # the client waits exactly as long as asked
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert g.attempt("c", "good", "good").verdict is access.Verdict.ACCEPTED
    assert g.attempt("c", "bad", "good").wait_seconds == 0  # a success resets the count
    now[0] += access.FORGET_SECONDS + 1
    for _ in range(3):
        assert g.attempt("c", "bad", "good").wait_seconds == 0


def test_guard_memory_is_bounded():
    g = access.Guard(clock=lambda: 0.0, max_clients=100)
    for i in range(1000):
        g.attempt(f"10.0.{i // 256}.{i % 256}", "bad", "good")
    assert len(g._misses) == 100


def test_an_unusable_token_file_closes_the_guarded_endpoints(tmp_path):
    def broken() -> Settings:
        raise SettingsError("cannot read the token file /nope")
    inner = Streamlit()
    mw = access.AccessMiddleware(inner, settings=broken, guard=access.Guard())
    assert call(mw, "GET", "/media/x.csv").status == 403
    assert access.COOKIE not in call(mw, "GET", "/", "token=").cookies()
    assert access.COOKIE not in call(mw, "GET", "/", "token=anything").cookies()


def test_base_url_path_is_honoured():
    from streamlit import config

    before = config.get_option("server.baseUrlPath")
    config.set_option("server.baseUrlPath", "dash")
    try:
        mw, inner = gate()
        assert call(mw, "GET", "/dash/media/x.csv").status == 403
        reply = call(mw, "POST", "/dash/_radiodash/token", body=urlencode({"token": TOKEN, "next": "/dash/?run=a"}).encode())
        assert reply.status == 303 and reply.header("location") == "/dash/?run=a" and access.COOKIE in reply.cookies()
        assert 'action="/dash/_radiodash/token"' in access.token_form()
    finally:
        config.set_option("server.baseUrlPath", before)


def test_outcome_cookie_round_trip_and_sentences():
    assert access.outcome_from_cookie("wrong").verdict is access.Verdict.WRONG
    assert access.outcome_from_cookie("wait-12").wait_seconds == 12
    for junk in (None, "", "wait-", "wait-1e9", "wait-99999999999", "<b>", "wait--1"):
        assert access.outcome_from_cookie(junk) is None
    assert access.outcome_sentence(access.Attempt(access.Verdict.WRONG)) == "That token was not accepted."
    assert "try again in 12 s" in access.outcome_sentence(access.Attempt(access.Verdict.WAIT, 12))
    assert access.outcome_sentence(None) is None


def test_the_form_sends_back_to_the_page_it_was_posted_from():
    mw, _ = gate()
    body = urlencode({"token": TOKEN}).encode()
    view = "/compare?runs=a%2Cb&metrics=x&metrics=y"
    reply = call(mw, "POST", "/_radiodash/token", body=body, headers={"referer": f"http://dash:8501{view}"})
    assert reply.header("location") == view and access.COOKIE in reply.cookies()
    other = call(mw, "POST", "/_radiodash/token", body=body, headers={"referer": f"http://evil.example{view}"})
    assert other.header("location") == "/"
    assert call(mw, "POST", "/_radiodash/token", body=body).header("location") == "/"
