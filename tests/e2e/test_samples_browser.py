"""The Samples page in a real browser against a real `streamlit run` server."""
from __future__ import annotations

import io
import time

from PIL import Image
from playwright.sync_api import expect

from radiodash.simulate import SimConfig, render

from .conftest import shot

FIRST_LOAD = 45_000


def write_results(folder, stop_step: int) -> None:
    """A diffusion results folder as RadioDiff leaves it: log, event file, samples, ground truths, checkpoints."""
    files, _ = render(SimConfig(stage="diffusion", lr=2e-5, train_num_steps=10_000, log_freq=100,
                                save_and_sample_every=1_000, events=True, samples=True, stop_step=stop_step))
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def png(size: int, shade: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (shade, shade, shade)).save(buf, "PNG")
    return buf.getvalue()


def heading(page, text: str):
    return page.get_by_role("heading", name=text)


def loaded_images(page) -> int:
    """Images the browser has decoded (naturalWidth > 0): drawn, not just announced."""
    return page.evaluate("() => [...document.querySelectorAll('[data-testid=stImage] img, img')]"
                         ".filter(i => i.complete && i.naturalWidth > 0).length")


def test_samples_page_shows_the_newest_sample_with_its_step(servers, root, context):
    write_results(root / "smp1", stop_step=3_500)
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    page.goto(f"{srv.url}/samples?run=smp1")
    expect(heading(page, "Milestone 3 · step 3,000")).to_be_visible(timeout=FIRST_LOAD)
    expect(page.get_by_text("sample-3.png · 256×256 PNG", exact=True).first).to_be_visible()
    expect(page.get_by_text("gt-sample-3.png · 256×256 PNG", exact=True)).to_be_visible()
    expect(page.get_by_text("model-3.pt: on disk, 4.0 KiB", exact=False)).to_be_visible()
    expect(page.get_by_text("log record at step 3,000: loss_simple", exact=False)).to_be_visible()
    page.wait_for_function("() => [...document.querySelectorAll('img')].filter(i => i.complete && "
                           "i.naturalWidth > 0).length >= 6", timeout=20_000)  # 2 in the card, 3 thumbnails, start-up
    shot(page, "samples")


def test_a_sample_written_while_the_page_is_open_appears_within_10_s(servers, root, context):
    folder = root / "smp2"
    write_results(folder, stop_step=2_500)
    srv = servers(RADIODASH_ROOT=str(root))
    page = context.new_page()
    page.goto(f"{srv.url}/samples?run=smp2")
    expect(heading(page, "Milestone 2 · step 2,000")).to_be_visible(timeout=FIRST_LOAD)
    page.evaluate("window.__noReload = 7")
    data = png(256, 90)
    (folder / "model-3.pt").write_bytes(b"\0" * 4_096)
    with open(folder / "sample-3.png", "wb") as f:  # save_image writes in place: first a part…
        f.write(data[: len(data) // 2])
        f.flush()
        expect(page.get_by_text("sample-3.png is being written", exact=False).first).to_be_visible(timeout=10_000)
        f.write(data[len(data) // 2:])  # …then the rest
    written = time.monotonic()
    expect(heading(page, "Milestone 3 · step 3,000")).to_be_visible(timeout=10_000)
    expect(page.get_by_text("sample-3.png · 256×256 PNG", exact=True).first).to_be_visible(timeout=10_000)
    print(f"sample shown {time.monotonic() - written:.1f} s after it was complete")
    assert page.evaluate("window.__noReload") == 7  # updated in place, no reload
    assert page.get_by_text("is being written").count() == 0


def test_the_samples_page_asks_for_the_token_first(servers, root, context):
    write_results(root / "smp3", stop_step=1_500)
    srv = servers(RADIODASH_ROOT=str(root), RADIODASH_TOKEN="s3cret-token", RADIODASH_FRESH="samples")
    page = context.new_page()
    page.goto(f"{srv.url}/samples?run=smp3")
    expect(page.get_by_label("Access token")).to_be_visible(timeout=FIRST_LOAD)
    time.sleep(1)
    assert "Milestone" not in page.inner_text("body") and loaded_images(page) == 0
