"""BOLOs in Chromium over Daphne, PostgreSQL and Redis: Ava types one into the console form, Omar's terminal lists
it and sends a sighting, the console shows it on the map, and a cancellation clears the terminal's list."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from apps.bolos.models import Bolo, Sighting
from apps.bolos.services import bolo_cancel
from tests.base import World
from tests.e2e.accessibility import horizontal_overflow
from tests.e2e.conftest import ARTIFACTS, Site
from tests.e2e.test_terminal_and_console import WAIT_MS, _sign_in

SIZES = ((390, 844), (1280, 800))
TITLE = "Grey Honda Civic, armed robbery"


def _page(browser: Any, url: str, user: Any, size: tuple[int, int]) -> Page:
    page = browser.new_context(viewport={"width": size[0], "height": size[1]}).new_page()
    _sign_in(page, url, user)
    return page


def _shoot_both_sizes(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}x{height}.png"), full_page=True)
        if width == 390:
            scroll, client = horizontal_overflow(page)
            assert scroll <= client, f"{name} scrolls sideways at 390 px: {scroll} > {client}"


def test_a_bolo_typed_into_the_console_reaches_the_terminal_and_its_sighting_comes_back(
        world: World, site: Site, browser: Any) -> None:
    console = _page(browser, f"{site.direct}/console/", world.ava, SIZES[1])
    console.locator("#bolo-issue summary").click()
    # The expiry is required by the API; the form offers 30 days, already filled in.
    assert console.input_value("#bolo-expires")
    form = console.locator("#bolo-form")
    form.get_by_label("Title").fill(TITLE)
    form.get_by_label("Description").fill("Two men, one with a handgun; dented rear bumper.")
    form.get_by_label("Plate (joins the hot lists)").fill("BLO 1234")
    form.get_by_label("Plate state").fill("WA")
    form.get_by_label("Area", exact=True).fill("Rainier Valley")
    form.get_by_label("Audience").select_option("unit")
    form.get_by_label("Unit call signs, comma separated").fill("2A12")
    form.get_by_role("button", name="Issue BOLO").click()
    expect(console.locator("#bolo-status")).to_contain_text("issued", timeout=WAIT_MS)
    expect(console.locator("#bolo-list")).to_contain_text(TITLE)
    bolo = Bolo.objects.get()
    assert bolo.plate == "BLO1234" and bolo.audience == {"kind": "unit", "ids": [world.unit.pk]}
    expect(console.locator("#bolo-detail")).to_contain_text("Omar: sent", timeout=WAIT_MS)

    terminal = _page(browser, f"{site.url}/terminal/", world.omar, SIZES[0])
    expect(terminal.locator("html")).to_have_attribute("data-link", "live", timeout=WAIT_MS)
    expect(terminal.locator("#bolo-list")).to_contain_text(TITLE, timeout=WAIT_MS)
    expect(terminal.locator("#alert")).to_be_visible()  # the push waits for Omar's acknowledgement
    terminal.get_by_role("button", name="Report a sighting").click()
    terminal.get_by_label("What you saw").fill("Parked outside the laundromat, two inside")
    terminal.get_by_label("Latitude").fill("47.5395")
    terminal.get_by_label("Longitude").fill("-122.2810")
    _shoot_both_sizes(terminal, "terminal-bolo-sighting-form")
    terminal.get_by_role("button", name="Send sighting").click()
    expect(terminal.locator("#bolo-notice")).to_contain_text("Sighting sent", timeout=WAIT_MS)
    assert Sighting.objects.get().reported_by == world.omar

    # The console hears of it over the stream: the sighting in the detail and on its map.
    expect(console.locator("#bolo-detail")).to_contain_text("laundromat", timeout=WAIT_MS)
    expect(console.locator("#bolo-map path.map-sighting")).to_have_count(1, timeout=WAIT_MS)
    _shoot_both_sizes(console, "console-bolo")
    _shoot_both_sizes(terminal, "terminal-bolo-list")

    # Cancelled at the center: the terminal says so and the bulletin leaves its list.
    bolo_cancel(user=world.sam, bolo_id=bolo.pk, reason="Vehicle recovered")
    expect(terminal.locator("#bolo-notice")).to_contain_text("BOLO cancelled", timeout=WAIT_MS)
    expect(terminal.locator("#bolo-list")).to_contain_text("No active BOLOs", timeout=WAIT_MS)
    # Signed out, nothing of it is left on the terminal: not in the page, not in storage.
    terminal.get_by_role("button", name="Sign out").click()
    expect(terminal.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT_MS)
    assert TITLE not in terminal.content()
    assert terminal.evaluate("JSON.stringify({...sessionStorage}) + JSON.stringify({...localStorage})").find(
        "Honda") == -1
