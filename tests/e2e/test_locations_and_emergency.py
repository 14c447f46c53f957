"""Unit locations and the officer emergency in Chromium: the terminal reports where it is and raises an
emergency only with a deliberate gesture; the console's map moves the unit and shows the emergency above it;
raised before a fix, both screens take the first position when it comes."""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import Page, expect

from apps.calls.models import Call
from apps.emergencies.models import Emergency
from apps.emergencies.services import emergency_close
from apps.locations.models import PositionReport
from tests.base import World, signed_in_client
from tests.e2e.conftest import Site, screenshot
from tests.e2e.test_terminal_and_console import WAIT_MS, _sign_in
from tests.locations.helpers import RAINIER, fix, post_positions


def _terminal(browser: Any, site: Site, user: Any, at: tuple[float, float] = RAINIER) -> tuple[Any, Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["geolocation"],
                                  geolocation={"latitude": at[0], "longitude": at[1], "accuracy": 8})
    page = context.new_page()
    _sign_in(page, f"{site.url}/terminal/", user)
    expect(page.locator("html")).to_have_attribute("data-link", "live", timeout=WAIT_MS)
    return context, page


def test_the_terminal_raises_an_emergency_with_a_deliberate_gesture_and_not_with_a_tap(
        world: World, site: Site, browser: Any) -> None:
    _, terminal = _terminal(browser, site, world.omar)
    button = terminal.get_by_role("button", name="Needs help", exact=True)
    button.click()  # a single tap: a pocket, a glove
    expect(terminal.locator("#emergency-hint")).to_contain_text("Hold the button, or press it twice")
    time.sleep(1.0)
    assert not Emergency.objects.exists()

    box = button.bounding_box()
    assert box is not None
    terminal.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    terminal.mouse.down()
    time.sleep(0.5)
    terminal.mouse.up()  # let go too soon: still nothing
    time.sleep(1.0)
    assert not Emergency.objects.exists()

    terminal.mouse.down()  # pressed and held
    expect(terminal.locator("#emergency-state")).to_contain_text("Emergency sent", timeout=WAIT_MS)
    terminal.mouse.up()
    emergency = Emergency.objects.get(officer=world.omar)
    assert emergency.source == "terminal" and emergency.is_open
    screenshot(terminal, "terminal-emergency")

    emergency_close(user=world.omar, emergency_id=emergency.pk, reason="false_alarm")
    expect(terminal.get_by_role("button", name="Needs help", exact=True)).to_be_visible(timeout=WAIT_MS)
    expect(terminal.locator("#emergency-state")).to_be_hidden()
    terminal.get_by_role("button", name="Needs help", exact=True).dblclick()  # two presses close together
    expect(terminal.locator("#emergency-state")).to_contain_text("Emergency sent", timeout=WAIT_MS)
    assert Emergency.objects.filter(officer=world.omar, closed_at__isnull=True).count() == 1


def test_the_console_map_moves_the_unit_and_shows_the_emergency_above_it(
        world: World, site: Site, browser: Any) -> None:
    from tests.e2e.test_terminal_and_console import _console

    console = _console(browser, site, world.ava)
    expect(console.locator("html")).to_have_attribute("data-link", "live", timeout=WAIT_MS)
    context, terminal = _terminal(browser, site, world.omar)
    unit = console.locator("#console-map path.map-live-unit")
    expect(unit).to_have_count(1, timeout=WAIT_MS)  # the terminal's first fix, live
    expect(console.locator("#console-map")).to_contain_text("2A12")
    first = unit.get_attribute("d")

    context.set_geolocation({"latitude": RAINIER[0] + 0.003, "longitude": RAINIER[1], "accuracy": 8})
    # The second fix stored first, then the marker moved: the map's own redraws (a late fit to the calls)
    # change the path too, so its change alone proves nothing.
    deadline = time.monotonic() + WAIT_MS / 1000
    while PositionReport.objects.filter(unit=world.unit).count() < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert PositionReport.objects.filter(unit=world.unit).count() >= 2
    expect(unit).not_to_have_attribute("d", first or "", timeout=WAIT_MS)  # it drove 330 m north

    terminal.get_by_role("button", name="Needs help", exact=True).dblclick()
    expect(console.locator("#emergencies")).to_contain_text("Officer needs help: 2A12", timeout=WAIT_MS)
    expect(console.locator("#console-map path.map-emergency")).to_have_count(1, timeout=WAIT_MS)
    # Above everything: its pane over the markers and their labels.
    z = console.evaluate("() => getComputedStyle(document.querySelector('.leaflet-emergencies-pane')).zIndex")
    assert int(z) > 650
    screenshot(console, "console-emergency")
    console.get_by_role("button", name="Acknowledge").click()
    expect(terminal.locator("#emergency-state")).to_contain_text("acknowledged", timeout=WAIT_MS)
    assert Emergency.objects.get(officer=world.omar).acknowledged_by_id == world.ava.pk


def test_raised_before_a_fix_the_screens_take_the_first_position(world: World, site: Site, browser: Any) -> None:
    from tests.e2e.test_terminal_and_console import _console

    console = _console(browser, site, world.ava)
    expect(console.locator("html")).to_have_attribute("data-link", "live", timeout=WAIT_MS)
    # No geolocation permission: the terminal has no fix to send, and the unit none stored.
    terminal = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _sign_in(terminal, f"{site.url}/terminal/", world.omar)
    expect(terminal.locator("html")).to_have_attribute("data-link", "live", timeout=WAIT_MS)
    terminal.get_by_role("button", name="Needs help", exact=True).dblclick()
    state = terminal.locator("#emergency-state")
    expect(state).to_contain_text("the units nearby are told once your position is known", timeout=WAIT_MS)
    emergency = Emergency.objects.get(officer=world.omar)
    expect(console.locator("#emergencies")).to_contain_text("Officer needs help: 2A12", timeout=WAIT_MS)
    assert _incident_address(emergency) == "Position unknown"

    # The officer's phone gets its first fix and reports it (the API the app uses in the background).
    assert post_positions(signed_in_client(world.omar), fix()).status_code == 202
    expect(state).to_contain_text("Emergency sent to the units nearby", timeout=WAIT_MS)
    expect(console.locator("#calls .call-where", has_text="officer's position")).to_have_count(1, timeout=WAIT_MS)
    expect(terminal.locator("#call-line")).to_contain_text("officer's position", timeout=WAIT_MS)  # its incident
    emergency.refresh_from_db()
    assert emergency.latitude == RAINIER[0] and "officer's position" in _incident_address(emergency)


def _incident_address(emergency: Emergency) -> str:
    # Filed after commit by the follow-up, in the server's process.
    for _ in range(50):
        emergency.refresh_from_db()
        if emergency.call_id is not None:
            return Call.objects.get(pk=emergency.call_id).address
        time.sleep(0.2)
    raise AssertionError("the emergency's incident was not filed")
