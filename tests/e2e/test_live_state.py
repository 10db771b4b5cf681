"""The run's state in the header and the picker, as a user sees it: a finished run and an unfinished run
whose files were last written days ago (mtime set with os.utime). Real server, real Chromium."""
from __future__ import annotations

import time

from playwright.sync_api import expect

from .conftest import shot
from .live_runs import FIRST_LOAD, age_files, metric, stage1

DAY = 86_400.0


def picker(page):
    return page.get_by_test_id("stSelectbox").filter(has_text="Run").locator("input")


def header_badge(page):
    return page.locator(".stMarkdownBadge").first


def test_an_unfinished_run_last_written_days_ago_is_stopped_with_no_eta(servers, root, context):
    stage1(root / "old1", stop_step=2_000, events=False, samples=False)
    age_files(root / "old1", 3 * DAY, time.time())
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    page.goto(f"{srv.url}/?run=old1")
    expect(metric(page, "Latest step")).to_have_text("2,000", timeout=FIRST_LOAD)
    expect(header_badge(page)).to_have_text("stop_circle stopped")  # the icon's ligature, then the word
    expect(page.get_by_text("stopped 3.0 d ago at step 2,000 of 20,000", exact=True)).to_be_visible()
    expect(metric(page, "Silent for")).to_have_text("3 d 0 h")
    expect(page.get_by_test_id("stMetric").filter(has_text="ETA")).to_have_count(0)
    expect(page.get_by_text("next checkpoint")).to_have_count(0)
    # "last written": the files' mtime, and the log's own last line on the trainer's clock (20:41:07 + 20 records x 20 s)
    expect(page.get_by_text("files last written 3.0 d ago · last log line 2025-08-15 20:47:47 (the trainer's "
                            "local time; the log has no time zone)")).to_be_visible()
    expect(picker(page)).to_have_value("old1 · stopped · 3.0 d ago")
    time.sleep(2.5)  # the header redraws every second: still stopped, never "ETA 18 s"
    expect(header_badge(page)).to_have_text("stop_circle stopped")
    expect(page.get_by_test_id("stMetric").filter(has_text="ETA")).to_have_count(0)
    shot(page, "live-stopped")


def test_a_finished_run_says_when_it_finished_and_how_long_it_took(servers, root, context):
    stage1(root / "done1", train_num_steps=4_000, events=False, samples=False)  # to the end: "training complete"
    age_files(root / "done1", 2 * DAY, time.time())
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    page.goto(f"{srv.url}/?run=done1")
    expect(metric(page, "Latest step")).to_have_text("3,900", timeout=FIRST_LOAD)
    expect(header_badge(page)).to_have_text("check_circle finished")
    # 0 to 3,900 at 20 s a record: 39 x 20 s = 13 min 00 s
    expect(page.get_by_text("finished 2.0 d ago after 13 min 00 s", exact=True)).to_be_visible()
    expect(metric(page, "Took")).to_have_text("13 min 00 s")
    expect(page.get_by_test_id("stMetric").filter(has_text="ETA")).to_have_count(0)
    expect(page.get_by_text("next checkpoint")).to_have_count(0)
    expect(picker(page)).to_have_value("done1 · finished · 2.0 d ago")
    shot(page, "live-finished")


CLIPPED = """(el) => [el, ...el.querySelectorAll('*')].filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => e.tagName + ' ' + e.scrollWidth + '>' + e.clientWidth)"""


def test_the_state_badge_is_whole_in_a_narrow_window(servers, root, browser):
    """At 800 px the badge once sat in a column an eighth of the page wide and read "st…": every state word
    must be shown whole, with its sentence beside or under it, at both widths."""
    stage1(root / "old2", stop_step=2_000, events=False, samples=False)
    age_files(root / "old2", 3 * DAY, time.time())
    srv = servers(RADIODASH_ROOT=str(root))
    for width in (800, 1400):
        ctx = browser.new_context(viewport={"width": width, "height": 900})
        page = ctx.new_page()
        page.goto(f"{srv.url}/?run=old2")
        expect(metric(page, "Latest step")).to_have_text("2,000", timeout=FIRST_LOAD)
        badge = header_badge(page)
        expect(badge).to_have_text("stop_circle stopped")
        assert badge.evaluate(CLIPPED) == [], f"the badge is cut off at {width} px"
        box = badge.bounding_box()
        assert box is not None and box["width"] >= 60, box  # the icon and the whole word, not "st…"
        sentence = page.get_by_text("stopped 3.0 d ago at step 2,000 of 20,000", exact=True)
        expect(sentence).to_be_visible()
        assert sentence.evaluate(CLIPPED) == []
        shot(page, f"live-badge-{width}")
        ctx.close()
