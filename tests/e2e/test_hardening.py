"""What a hostile root, a crafted URL or a guessed token can do to a real server in a real browser."""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import pytest
from playwright.sync_api import expect

from .conftest import shot
from .logwriter import append, header, step, write_run

FIRST_LOAD = 45_000
TRACEBACK_WORDS = ("Traceback", "RuntimeError", "FileNotFoundError", "OSError", "OverflowError", "Symlink loop")


def metric(page, label: str):
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def settled(page) -> None:
    """Wait until the page shows what it will show: a metric, a refusal, a note or an exception."""
    shown = (page.get_by_test_id("stMetric").or_(page.get_by_test_id("stAlertContentError"))
             .or_(page.get_by_test_id("stToast")).or_(page.get_by_test_id("stException")))
    expect(shown.first).to_be_visible(timeout=FIRST_LOAD)
    time.sleep(0.5)


def no_traceback(page) -> None:
    body = page.inner_text("body")
    assert not any(w in body for w in TRACEBACK_WORDS), body[:2000]
    assert page.get_by_test_id("stException").count() == 0


@pytest.fixture(scope="module")
def hostile_root():
    """A root holding a symlink loop, a dangling link, FIFOs and secrets next to a good run."""
    base = Path(tempfile.mkdtemp(prefix="radiodash-hostile-"))
    root = base / "runs"
    write_run(root / "good", range(0, 500, 100))
    os.symlink("loop.log", root / "loop.log")
    os.symlink("missing.log", root / "dangling.log")
    os.mkfifo(root / "fifo.log")
    os.mkfifo(root / "good" / "2025-08-15-20-59_.log")  # a FIFO named like a launch file, inside the run
    yield root
    shutil.rmtree(base, ignore_errors=True)


def test_a_hostile_root_with_two_concurrent_viewers(servers, hostile_root, browser):
    """A loop, a dangling link and a FIFO under the root: both viewers' pages keep working, live."""
    srv = servers(RADIODASH_ROOT=str(hostile_root))
    one, two = browser.new_context(), browser.new_context()
    try:
        a, b = one.new_page(), two.new_page()
        a.goto(f"{srv.url}/?run=good")
        settled(a)
        no_traceback(a)
        b.goto(f"{srv.url}/?run=fifo.log")  # the FIFO a viewer asks for by name
        settled(b)
        no_traceback(b)
        expect(b.get_by_test_id("stAlertContentError").first).to_contain_text("There is no run named “fifo.log”")
        expect(metric(a, "Latest step")).to_have_text("400", timeout=FIRST_LOAD)
        b.goto(f"{srv.url}/?run=good")
        expect(metric(b, "Latest step")).to_have_text("400", timeout=FIRST_LOAD)
        append(hostile_root / "good" / "2025-08-15-20-41_.log", range(500, 800, 100))
        for page in (a, b):
            expect(metric(page, "Latest step")).to_have_text("700", timeout=15_000)
            no_traceback(page)
        # the sidebar lists the good run and none of the hostile entries
        a.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").click()
        options = a.get_by_role("option").all_inner_texts()
        assert [o.split(" · ")[0] for o in options] == ["good"], options
        for name in ("loop.log", "dangling.log"):
            a.goto(f"{srv.url}/?run={name}")
            expect(a.get_by_test_id("stAlertContentError").first).to_contain_text("There is no run named",
                                                                                  timeout=FIRST_LOAD)
            no_traceback(a)
    finally:
        one.close()
        two.close()
    assert "Traceback" not in srv.output()


@pytest.mark.parametrize("rel", [".env", "good/.git/config", "%2eenv", "good/%2egit/config"])
def test_hidden_files_under_the_root_are_not_openable(servers, root, context, rel):
    write_run(root / "good", range(0, 300, 100))
    (root / ".env").write_text("HOSTILE-SECRET-ENV=1\n")
    (root / "good" / ".git").mkdir(exist_ok=True)
    (root / "good" / ".git" / "config").write_text("[core] HOSTILE-SECRET-GIT\n")
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    frames: list[bytes] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda p: frames.append(p if isinstance(p, bytes)
                                                                                    else p.encode())))
    page.goto(f"{srv.url}/?run={quote(rel, safe='/%')}")
    settled(page)
    assert "HOSTILE-SECRET" not in page.content() and not any(b"HOSTILE-SECRET" in f for f in frames)
    assert "Latest step" not in page.inner_text("body")
    expect(page.get_by_test_id("stAlertContentError").first).to_contain_text("There is no run named")


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def image_host():
    """A local HTTP server that records every request: a Markdown image in the page would hit it."""
    _Recorder.hits = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{httpd.server_address[1]}", _Recorder.hits
    httpd.shutdown()


def test_markdown_run_names_are_shown_as_text_and_fetch_nothing(servers, root, context, image_host):
    host, hits = image_host
    srv = servers(RADIODASH_ROOT=str(root))
    names = [f"![x](http://{host}/t.png)", f"[Session expired - click here](http://{host}/login)"]
    requested: list[str] = []
    page = context.new_page()
    page.on("request", lambda r: requested.append(r.url))
    for path, key in (("", "run"), ("report", "run"), ("compare", "runs")):
        for name in names:
            page.goto(f"{srv.url}/{path}?{key}={quote(name, safe='')}")
            alert = page.get_by_test_id("stAlertContentError").first
            expect(alert).to_be_visible(timeout=FIRST_LOAD)
            assert alert.locator("a, img").count() == 0, (path, alert.inner_html())
            expect(alert).to_contain_text(f"There is no run named “{name}” here.")
            no_traceback(page)
    shot(page, "markdown-run-name")
    time.sleep(1)
    assert hits == [] and not any(host in u for u in requested), (hits, [u for u in requested if host in u])


@pytest.mark.parametrize("query", ["until=1e999", "from=inf", "from=-inf&until=nan", "smooth=inf",
                                   "run=" + "a" * 300, "run=" + "b" * 2000, "until=1&until=1e999&until=x"])
def test_url_junk_gives_one_sentence_never_a_traceback(servers, root, context, query):
    write_run(root / "junk1", range(0, 300, 100))
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    q = query if query.startswith("run=") else f"run=junk1&{query}"
    page.goto(f"{srv.url}/?{q}")
    if not query.startswith("run=a"):  # first: a toast goes away after a while, and settling can take longer
        expect(page.get_by_test_id("stToast").first).to_contain_text("Ignored in the address", timeout=FIRST_LOAD)
    settled(page)
    no_traceback(page)
    if query.startswith("run=a"):
        expect(page.get_by_test_id("stAlertContentError").first).to_contain_text("There is no run named",
                                                                              timeout=FIRST_LOAD)
    no_traceback(page)
    if not query.startswith("run="):
        expect(metric(page, "Latest step")).to_have_text("200", timeout=FIRST_LOAD)


def test_report_url_junk(servers, root, context):
    write_run(root / "junk2", range(0, 300, 100))
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    page.goto(f"{srv.url}/report?run=junk2&rep_until=inf&rep_from=1e999")
    settled(page)
    no_traceback(page)
    expect(page.get_by_test_id("stToast").first).to_contain_text("Ignored in the address", timeout=FIRST_LOAD)
    expect(page.get_by_text("Training progress report").first).to_be_visible(timeout=FIRST_LOAD)
    no_traceback(page)


TOKEN = "hist-9b1f-token"


def test_a_token_visit_leaves_no_history_entry_with_the_token(servers, root, browser):
    write_run(root / "tokh", range(0, 400, 100))
    srv = servers(RADIODASH_ROOT=str(root), RADIODASH_TOKEN=TOKEN)
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.goto(f"{srv.url}/_stcore/health")  # some earlier page in this tab's history
        page.goto(f"{srv.url}/?run=tokh&metrics=train%2Frec_loss&token={TOKEN}")
        expect(metric(page, "Latest step")).to_have_text("300", timeout=FIRST_LOAD)
        assert "token" not in page.url
        assert parse_qs(urlparse(page.url).query)["run"] == ["tokh"]
        seen = [page.url]
        for _ in range(3):  # walk back through everything this visit left in the history
            page.go_back(wait_until="commit")  # None for a same-document entry (pushState): keep walking
            time.sleep(0.5)
            seen.append(page.url)
            if "_stcore/health" in page.url:
                break
        assert not any("token" in u for u in seen), seen
        assert any("_stcore/health" in u for u in seen), seen  # we did walk back to before the visit
    finally:
        ctx.close()


def test_the_token_box_keeps_the_view_and_opens_downloads_and_metrics(servers, root, browser, context):
    write_run(root / "tokd", range(0, 400, 100))
    srv = servers(RADIODASH_ROOT=str(root), RADIODASH_TOKEN=TOKEN)
    page = context.new_page()
    # nothing guarded answers before the token
    assert page.request.get(f"{srv.url}/_stcore/metrics").status == 403
    page.goto(f"{srv.url}/report?run=tokd&rep_from=100")
    expect(page.get_by_label("Access token")).to_be_visible(timeout=FIRST_LOAD)
    page.get_by_label("Access token").fill(TOKEN)
    page.get_by_label("Access token").press("Enter")
    expect(page.get_by_text("Training progress report").first).to_be_visible(timeout=FIRST_LOAD)
    url = urlparse(page.url)
    assert url.path == "/report" and parse_qs(url.query) == {"run": ["tokd"], "rep_from": ["100"]}
    with page.expect_download(timeout=20_000) as dl:
        page.get_by_role("button", name="Table (.csv)").click()
    media = dl.value.url
    assert "/media/" in media and open(dl.value.path()).read().startswith("step,")
    assert page.request.get(f"{srv.url}/_stcore/metrics").status == 200  # the cookie opens it
    stranger = browser.new_context()
    try:  # the same download and metrics URLs without the cookie
        assert stranger.request.get(media).status == 403
        assert stranger.request.get(f"{srv.url}/_stcore/metrics").status == 403
    finally:
        stranger.close()


def test_a_deleted_run_is_followed_when_it_is_created_again(servers, root, context):
    log = root / "recreate.log"
    log.write_text(header() + "".join(step(s) for s in range(0, 500, 100)))
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    page.goto(f"{srv.url}/?run=recreate.log")
    expect(metric(page, "Latest step")).to_have_text("400", timeout=FIRST_LOAD)
    page.evaluate("window.__noReload = 7")
    log.unlink()
    expect(page.get_by_test_id("stAlertContentInfo").filter(
        has_text="recreate.log was deleted; waiting for it to appear again.")).to_be_visible(timeout=15_000)
    no_traceback(page)
    log.write_text(header() + "".join(step(s) for s in range(0, 200, 100)))
    expect(metric(page, "Latest step")).to_have_text("100", timeout=15_000)
    append(log, range(200, 900, 100))
    expect(metric(page, "Latest step")).to_have_text("800", timeout=15_000)
    # the page's waiting note is gone (the Diagnostics keep the core's notice of what happened)
    expect(page.get_by_test_id("stAlertContentInfo").filter(has_text="was deleted")).to_have_count(0)
    shot(page, "deleted-and-recreated")
    assert page.evaluate("window.__noReload") == 7  # followed in place, never reloaded
    assert "run=recreate.log" in page.url
