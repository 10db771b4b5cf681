"""The Share box, as a teammate uses it: a view set up with the mouse (three overlay metrics, smoothing,
the x axis, a step range) on a page opened through loopback, the shared address read off the box, and
that address opened in a second, fresh browser context — which shows the same view."""
from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from .conftest import Server, shot
from .live_runs import FIRST_LOAD, charts, metric, plain_title
from .logwriter import write_run


def this_machines_address() -> str | None:
    """This machine's address on its default route (written out here, independent of the code under test)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # a UDP connect sends nothing: it only picks the route
            addr = s.getsockname()[0]
    except OSError:
        return None
    return None if ipaddress.ip_address(addr).is_loopback else addr


@pytest.fixture(scope="module")
def lan_server(root):
    """A server listening on every interface (the shipped .streamlit/config.toml does so), reached on 127.0.0.1."""
    srv = Server({"RADIODASH_ROOT": str(root)}, address="0.0.0.0")
    yield srv
    srv.stop()


def test_the_shared_url_holds_the_whole_view_and_opens_it_for_a_teammate(lan_server, root, browser, context):
    if this_machines_address() is None:
        pytest.skip("this machine has no network address to share")
    write_run(root / "share2", range(0, 3_000, 100), disc_start=1_501, total=30_000)
    page = context.new_page()
    page.goto(f"{lan_server.url}/?run=share2")
    expect(metric(page, "Latest step")).to_have_text("2,900", timeout=FIRST_LOAD)
    # the view, set up by hand: a third overlay metric, smoothing, hours on the x axis, steps 1,000-2,500
    page.get_by_test_id("stMultiSelect").filter(has_text="Metrics (overlay)").locator("input").click()
    page.get_by_role("option", name="train/total_loss").click()
    page.keyboard.press("Escape")
    slider = page.get_by_role("slider").first
    slider.focus()
    for _ in range(5):
        slider.press("ArrowRight")
    page.get_by_test_id("stRadio").filter(has_text="x axis").get_by_text("hours").click()
    for label, value in (("From step", "1000"), ("Until step", "2500")):
        box = page.get_by_label(re.compile(label))
        box.fill(value)
        box.press("Enter")
    expect(page).to_have_url(re.compile(r"until=2500"), timeout=10_000)
    page.get_by_test_id("stPopover").filter(has_text="Share this view").get_by_role("button").click()
    code = page.get_by_test_id("stCode").filter(has_text="http")
    expect(code).to_be_visible(timeout=10_000)
    shared = code.inner_text().strip()
    shot(page, "live-share")
    parts = urlsplit(shared)
    query = parse_qs(parts.query)
    # every parameter, repeated ones included, percent-encoded, on an address a teammate can reach
    assert query["metrics"] == ["train/kl_loss", "train/rec_loss", "train/total_loss"]
    assert (query["run"], query["smooth"], query["x"], query["from"], query["until"]) == (
        ["share2"], ["0.605"], ["hours"], ["1000"], ["2500"])
    assert "metrics=train%2Fkl_loss&metrics=train%2Frec_loss&metrics=train%2Ftotal_loss" in parts.query
    host = parts.hostname
    assert host not in ("localhost", "127.0.0.1", "::1") and not ipaddress.ip_address(
        socket.gethostbyname(host)).is_loopback  # a name or address teammates can reach, not this machine's loopback
    assert parts.port == int(lan_server.url.rsplit(":", 1)[1]) and "token" not in query

    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        p2 = other.new_page()
        p2.goto(shared)
        expect(metric(p2, "Latest step")).to_have_text("2,900", timeout=FIRST_LOAD)
        chips = p2.get_by_test_id("stMultiSelect").filter(has_text="Metrics (overlay)")
        for m in ("train/kl_loss", "train/rec_loss", "train/total_loss"):
            expect(chips.get_by_text(m, exact=True)).to_be_visible()
        expect(p2.get_by_role("slider").first).to_have_value("0.605")
        expect(p2.get_by_test_id("stRadio").filter(has_text="x axis").get_by_role("radio", name="hours")).to_be_checked()
        expect(p2.get_by_label(re.compile("From step"))).to_have_value("1000")
        expect(p2.get_by_label(re.compile("Until step"))).to_have_value("2500")
        overlay = next(c for c in charts(p2) if plain_title(c["title"]) == "Overlay")
        assert overlay["traces"] == ["kl_loss", "rec_loss", "total_loss"]
        assert overlay["axes"]["xaxis"]["title"] == "hours since start"
    finally:
        other.close()


def test_a_server_on_loopback_only_says_no_teammate_can_open_it(servers, root, context):
    write_run(root / "share3", range(0, 500, 100))
    srv = servers(RADIODASH_ROOT=str(root))  # --server.address 127.0.0.1
    page = context.new_page()
    page.goto(f"{srv.url}/?run=share3")
    expect(metric(page, "Latest step")).to_have_text("400", timeout=FIRST_LOAD)
    page.get_by_test_id("stPopover").filter(has_text="Share this view").get_by_role("button").click()
    expect(page.get_by_text("This server listens on 127.0.0.1 only: no other machine can open it.",
                            exact=False)).to_be_visible(timeout=10_000)
    expect(page.get_by_test_id("stCode").filter(has_text="http")).to_have_count(0)


def test_with_a_token_the_box_says_teammates_need_it_and_never_shows_it(root, context):
    srv = Server({"RADIODASH_ROOT": str(root), "RADIODASH_TOKEN": "s3cret-share"}, address="0.0.0.0")
    try:
        write_run(root / "share4", range(0, 500, 100))
        page = context.new_page()
        page.goto(f"{srv.url}/?run=share4&token=s3cret-share")
        expect(metric(page, "Latest step")).to_have_text("400", timeout=FIRST_LOAD)
        page.get_by_test_id("stPopover").filter(has_text="Share this view").get_by_role("button").click()
        expect(page.get_by_text("They will need the access token too", exact=False)).to_be_visible(timeout=10_000)
        assert "s3cret-share" not in page.inner_text("body")
    finally:
        srv.stop()
