"""The page at ``/`` in a real headless browser (Debian's chromium driven by Playwright, on a phone-sized
screen): a cat photo chosen with the file picker comes back as a cat with its Grad-CAM overlay; dropped and
pasted images work; a file that is no image shows the server's reason; the controls are reachable by Tab; a cat
shown to a texture classifier is marked unlike its training images; a multi-label model shows each label given."""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import Served

from helpers import cli

CHROMIUM = "/usr/bin/chromium"
# what the machine's closed network needs: no background connections, no sandbox as root
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]  # fmt: skip
CATS = re.compile("tabby|tiger cat|Egyptian cat|Persian cat|Siamese cat")
PHONE = {"width": 375, "height": 812}

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"no browser at {CHROMIUM}: `make test` installs Debian's chromium"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, lite0_server: Served) -> Iterator[Any]:
    from playwright.sync_api import expect

    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(lite0_server.url + "/")
    expect(page.locator("#model-name")).to_have_text("efficientnet_lite0")
    yield page
    context.close()


def test_a_cat_photo_comes_back_a_cat_with_its_overlay(
    page: Any, served_photos: dict[str, Path], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#model-info")).to_contain_text("1000 classes")
    page.locator("#file").set_input_files(served_photos["cat"])
    card = page.locator("#results .card").first
    expect(card.locator(".predictions li").first.locator(".label")).to_have_text(CATS, timeout=60_000)
    expect(card.locator(".predictions li")).to_have_count(5)
    expect(card.locator(".predictions li .value").first).to_have_text(re.compile(r"^\d+\.\d%$"))
    overlay = card.locator("img.overlay")
    expect(overlay).to_be_visible(timeout=120_000)
    expect(overlay).to_have_attribute("alt", CATS)
    assert overlay.evaluate("img => img.complete && img.naturalWidth") == 451  # the photo's own size, decoded
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    page.screenshot(path=tmp_path / "page.png", full_page=True)


def test_dropped_and_pasted_images(page: Any, served_photos: dict[str, Path]) -> None:
    from playwright.sync_api import expect

    coffee = base64.b64encode(served_photos["coffee"].read_bytes()).decode()
    for event in ("drop", "paste"):
        page.evaluate(
            """([data, event]) => {
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                const files = new DataTransfer();
                files.items.add(new File([bytes], `coffee-${event}.jpg`, { type: "image/jpeg" }));
                const init = { bubbles: true, cancelable: true };
                document.dispatchEvent(event === "drop"
                    ? new DragEvent("drop", { ...init, dataTransfer: files })
                    : new ClipboardEvent("paste", { ...init, clipboardData: files }));
            }""",
            [coffee, event],
        )
        card = page.locator("#results .card").first
        expect(card.locator("h3")).to_have_text(f"coffee-{event}.jpg")
        expect(card.locator(".predictions li .label").first).to_have_text("espresso", timeout=60_000)


def test_a_file_that_is_no_image_shows_the_reason(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    fake = tmp_path / "holiday.jpg"
    fake.write_text("not a photo at all\n" * 10)
    page.locator("#file").set_input_files(fake)
    error = page.locator("#results .card .error").first
    expect(error).to_be_visible(timeout=60_000)
    expect(error).to_contain_text("is not an image")
    assert error.get_attribute("role") == "alert"


def test_the_controls_are_reached_with_tab(page: Any) -> None:
    controls = ("summary", "file", "top", "tta", "cam", "docs")
    reached = []
    while len(reached) < len(controls):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.tagName.toLowerCase()"))
    assert tuple(reached) == controls  # the class list, the file picker, the options, the API docs link
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"  # focus is visible


def test_a_photo_unlike_the_training_images_is_marked_so(
    browser: Any, onnx_server: Served, served_photos: dict[str, Path]
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(onnx_server.url + "/")
    expect(page.locator("#model-name")).to_have_text("textures.onnx")
    page.locator("#file").set_input_files(served_photos["cat"])
    card = page.locator("#results .card").first
    expect(card.locator(".predictions li")).to_have_count(4, timeout=60_000)
    expect(card.locator(".unfamiliar")).to_contain_text("Unlike the images this model was trained on")
    expect(page.locator("#status")).to_contain_text("unlike the training images")
    context.close()


def test_a_multi_label_model_shows_every_label_it_gives(
    browser: Any, multi_label_run: tuple[Path, Path], multi_label_onnx: Path
) -> None:
    from playwright.sync_api import expect

    server = Served([sys.executable, "-m", "transferkit", "serve", str(multi_label_onnx)],
                    multi_label_onnx.parent / "browser-server.log", wait=120)  # fmt: skip
    try:
        context = browser.new_context(viewport=PHONE)
        page = context.new_page()
        page.goto(server.url + "/")
        image = multi_label_run[0].parent / "images" / "grid_0002.jpg"  # brick, gravel and moon
        expected = json.loads(cli("predict", "--model", multi_label_onnx, "--json", image).stdout)[0]["labels"]
        page.locator("#file").set_input_files(image)
        card = page.locator("#results .card").first
        expect(card.locator(".labels")).to_contain_text("labels: ", timeout=60_000)
        for label in expected:
            expect(card.locator(".labels")).to_contain_text(label["label"])
        expect(card.locator(".predictions li.on")).to_have_count(len(expected))
        context.close()
    finally:
        server.stop()
