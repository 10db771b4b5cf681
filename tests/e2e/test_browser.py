"""What a user sees, in a real browser against a real `streamlit run` server."""
from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, quote, urlparse

from playwright.sync_api import expect

from .conftest import shot
from .logwriter import append, write_run

FIRST_LOAD = 45_000


def metric(page, label: str):
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def test_open_by_url_and_see_appended_lines_live(servers, root, context):
    log = write_run(root / "live1", range(0, 1_000, 100))
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    page.goto(f"{srv.url}/?run=live1")
    expect(metric(page, "Latest step")).to_have_text("900", timeout=FIRST_LOAD)
    expect(page.locator(".js-plotly-plot .scatterlayer .trace").first).to_be_visible(timeout=FIRST_LOAD)
    page.evaluate("window.__noReload = 42")
    append(log, range(1_000, 1_300, 100))
    expect(metric(page, "Latest step")).to_have_text("1,200", timeout=10_000)
    assert page.evaluate("window.__noReload") == 42  # updated in place, no page reload
    expect(page.get_by_text("last line")).to_be_visible()
    shot(page, "live-run")


def test_smoothing_lives_in_the_url_and_a_second_browser_sees_the_same(servers, root, browser, context):
    write_run(root / "share1", range(0, 2_000, 100))
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    page.goto(f"{srv.url}/?run=share1")
    expect(metric(page, "Latest step")).to_have_text("1,900", timeout=FIRST_LOAD)
    slider = page.get_by_role("slider").first
    slider.focus()
    for _ in range(5):
        slider.press("ArrowRight")
    expect(page).to_have_url(re.compile(r"smooth=0\.605"), timeout=10_000)
    url = page.url
    assert parse_qs(urlparse(url).query)["run"] == ["share1"]
    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        p2 = other.new_page()
        p2.goto(url)
        expect(metric(p2, "Latest step")).to_have_text("1,900", timeout=FIRST_LOAD)
        expect(p2.get_by_role("slider").first).to_have_value("0.605", timeout=10_000)
    finally:
        other.close()


def test_discriminator_switch_on_is_annotated(servers, root, context):
    write_run(root / "disc1", range(0, 3_000, 100), disc_start=1_501, total=3_000)
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    page.goto(f"{srv.url}/?run=disc1")
    expect(page.locator(".js-plotly-plot").filter(has_text="switched on").first).to_be_attached(timeout=FIRST_LOAD)
    expect(page.get_by_text("The discriminator switched on between steps 1,500 and 1,600", exact=False)).to_be_visible()
    # the annotation fits the narrow panel: the step axis still ends at the last step (2,900), not past it
    plot = page.locator(".js-plotly-plot").filter(has_text="disc_factor").first
    assert plot.evaluate("d => d._fullLayout.xaxis.range[1]") <= 2_900 * 1.03
    page.get_by_text("Discriminator, learning rate").scroll_into_view_if_needed()
    shot(page, "discriminator")


def test_compare_two_runs(servers, root, context):
    write_run(root / "cmpA", range(0, 1_500, 100))
    write_run(root / "cmpB", range(0, 800, 100))
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    page.goto(f"{srv.url}/compare?runs=cmpA,cmpB")
    chart = page.locator(".js-plotly-plot")
    expect(chart.filter(has_text="cmpA").first).to_be_attached(timeout=FIRST_LOAD)
    expect(chart.filter(has_text="cmpB").first).to_be_attached()
    assert "runs=cmpA" in page.url
    shot(page, "compare")


def test_log_text_never_runs_as_html(servers, root, context):
    folder = root / "xss1"
    log = write_run(folder, range(0, 500, 100))
    with open(log, "a") as f:
        f.write("<script>window.__xss=1</script>\n<img src=x onerror=\"window.__xss=2\">\n"
                "2025-08-15 20:45:00,000 [Train Step] 600/150000: train/<img src=x onerror=window.__xss=3>: 1.0, \n")
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    page.goto(f"{srv.url}/?run=xss1")
    # the damaged step line still counts its step; its bad field is a located problem, shown as text
    expect(metric(page, "Latest step")).to_have_text("600", timeout=FIRST_LOAD)
    page.get_by_text("Diagnostics").click()
    expect(page.get_by_text("<script>window.__xss=1</script>", exact=False).first).to_be_visible(timeout=10_000)
    expect(page.get_by_text("train/<img src=x onerror=window.__xss=3>", exact=False).first).to_be_visible()
    assert page.evaluate("typeof window.__xss") == "undefined"


def _frames(page) -> list[bytes]:
    got: list[bytes] = []

    def on_ws(ws):
        ws.on("framereceived", lambda payload: got.append(payload if isinstance(payload, bytes) else payload.encode()))
    page.on("websocket", on_ws)
    return got


def test_paths_outside_the_root_are_refused_and_nothing_leaks(servers, root, context):
    srv = servers(RADIODASH_ROOT=str(root))
    attempts = ["../secret.log", "/etc/passwd", quote("../secret.log", safe=""), "..%252fsecret.log",
                "%2e%2e%2fsecret.log", "a%00b", "escape.log", "live1/../../secret.log"]
    for bad in attempts:
        page = context.new_page()
        frames = _frames(page)
        page.goto(f"{srv.url}/?run={bad}")
        expect(page.get_by_test_id("stAlertContentError").first).to_contain_text("There is no run named",
                                                                                   timeout=FIRST_LOAD)
        time.sleep(0.5)
        assert "E2E-SECRET-BYTES" not in page.content(), bad
        assert not any(b"E2E-SECRET-BYTES" in f for f in frames), bad
        assert "root:x:0:0" not in page.content()
        page.close()
    assert "refused" in srv.output()  # the refusal is logged on the server


def test_page_urls_opened_first_on_a_fresh_server_still_ask_for_the_token(servers, root, context):
    """A page's own URL as the very first request: Streamlit would run a script from a `pages/`
    folder without app.py, and so without the token gate."""
    write_run(root / "tok2", range(0, 700, 100))
    srv = servers(RADIODASH_ROOT=str(root), RADIODASH_TOKEN="s3cret-token", RADIODASH_FRESH="1")  # its own server
    page = context.new_page()
    frames = _frames(page)
    for path in ("compare?runs=tok2", "report?run=tok2", "live?run=tok2"):
        page.goto(f"{srv.url}/{path}")
        expect(page.get_by_label("Access token")).to_be_visible(timeout=FIRST_LOAD)
        time.sleep(1)
        body = page.inner_text("body")
        assert "tok2" not in body and "Compare runs" not in body and "Latest step" not in body, path
    assert not any(b"tok2" in f for f in frames)


def test_token_hides_everything_until_entered(servers, root, context, browser):
    write_run(root / "tok1", range(0, 700, 100))
    srv = servers(RADIODASH_ROOT=str(root), RADIODASH_TOKEN="s3cret-token")
    page = context.new_page()
    frames = _frames(page)
    page.goto(f"{srv.url}/?run=tok1")
    expect(page.get_by_label("Access token")).to_be_visible(timeout=FIRST_LOAD)
    time.sleep(1)
    assert "tok1" not in page.inner_text("body") and not any(b"tok1" in f for f in frames)
    shot(page, "token-gate")
    expect(page.get_by_text("Ask whoever runs this dashboard for the access token")).to_be_visible()
    page.get_by_label("Access token").fill("wrong")
    page.get_by_label("Access token").press("Enter")
    expect(page.get_by_text("That token was not accepted")).to_be_visible(timeout=FIRST_LOAD)
    assert "tok1" not in page.inner_text("body")
    page.get_by_label("Access token").fill("s3cret-token")
    page.get_by_label("Access token").press("Enter")
    expect(metric(page, "Latest step")).to_have_text("600", timeout=FIRST_LOAD)
    assert parse_qs(urlparse(page.url).query)["run"] == ["tok1"]  # back on the view asked for
    other = browser.new_context()
    try:
        p2 = other.new_page()
        p2.goto(f"{srv.url}/?run=tok1&token=s3cret-token")
        expect(metric(p2, "Latest step")).to_have_text("600", timeout=FIRST_LOAD)
        assert "token=" not in p2.url
    finally:
        other.close()


def test_the_demo_updates_live_on_its_own(servers, context):
    """The built-in demo: the page opens on the simulated run and its latest step moves on by itself,
    twice, with nobody touching the page. (How soon after start is a figure, not a test:
    benchmarks/bench_latency.py prints it; the README states it.)"""
    started = time.monotonic()
    srv = servers()  # no RADIODASH_*: the built-in demo
    page = context.new_page()
    page.goto(srv.url)
    expect(page.get_by_text("Demo", exact=False).first).to_be_visible(timeout=60_000)
    value = metric(page, "Latest step")
    expect(value).to_have_text(re.compile(r"^\d[\d,]*$"), timeout=60_000)
    seen = [int(value.inner_text().replace(",", ""))]
    for _ in range(2):  # it moves on its own, forward
        expect(value).not_to_have_text(f"{seen[-1]:,}", timeout=30_000)
        seen.append(int(value.inner_text().replace(",", "")))
    assert seen == sorted(seen) and len(set(seen)) == 3
    print(f"demo live after {time.monotonic() - started:.1f} s from server start")
    shot(page, "demo")
