"""Omar attaches a photo from his phone's camera to the call, sees it among the call's photos and opens it;
Ava's console shows it as it arrives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from apps.media.models import CallPhoto
from tests.base import World
from tests.briefings.helpers import full_scene
from tests.e2e.conftest import Site, screenshot
from tests.e2e.test_terminal_and_console import WAIT_MS, _console
from tests.e2e.test_terminal_calls import _no_sideways_scroll, _terminal
from tests.media.helpers import oriented_geotagged_jpeg


def test_omar_attaches_a_photo_from_his_phone_and_sees_it_on_the_call_and_so_does_ava(
        world: World, tmp_path: Path, site: Site, browser: Any) -> None:
    call = full_scene(world, tmp_path)
    taken = tmp_path / "IMG_0412.jpg"
    taken.write_bytes(oriented_geotagged_jpeg(900, 600))
    console = _console(browser, site, world.ava)
    console.get_by_role("button", name=f"P{call.priority}").first.click()
    expect(console.locator("#items")).to_contain_text("Whitfield", timeout=WAIT_MS)
    terminal = _terminal(browser, site, world)
    terminal.set_viewport_size({"width": 390, "height": 844})
    control = terminal.locator("label", has_text="Attach a photo from this phone")
    expect(control).to_be_visible(timeout=WAIT_MS)
    box = control.bounding_box()
    assert box is not None and box["height"] >= 44, box

    terminal.set_input_files("#attach-photo", str(taken))
    expect(terminal.locator("#attach-status")).to_contain_text("Photo attached", timeout=WAIT_MS)
    thumbnail = terminal.locator("#call-photos .call-photo img").first
    expect(thumbnail).to_be_visible(timeout=WAIT_MS)
    terminal.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    (photo,) = CallPhoto.objects.filter(call=call)
    assert photo.added_by == world.omar
    expect(console.locator("#call-photos .call-photo")).to_contain_text("Omar", timeout=WAIT_MS)  # live, no reload
    arrived = console.locator("#call-photos .call-photo img").first
    arrived.scroll_into_view_if_needed()
    console.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=arrived.element_handle())
    screenshot(console, "console-call-photo-arrived")
    thumbnail.scroll_into_view_if_needed()
    screenshot(terminal, "terminal-call-photo-attached-390")

    terminal.locator("#call-photos .call-photo").first.click()
    full = terminal.locator("#photo-view #photo-full")
    expect(terminal.locator("#photo-view")).to_be_visible()
    terminal.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=full.element_handle())
    # Upright (stored sideways with EXIF orientation 6) and the phone's variant, not the original.
    width, height = full.evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
    assert (width, height) == (600, 900)
    screenshot(terminal, "terminal-call-photo-open-390")
    terminal.locator("#photo-view").get_by_role("button", name="Close").click()
    _no_sideways_scroll(terminal, "the terminal with a call photo")
