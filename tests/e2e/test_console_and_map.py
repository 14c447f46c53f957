"""The analyst's console and the map on both screens, in Chromium over Daphne, PostgreSQL and Redis."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.cameras.models import Camera
from apps.sensors.models import Alert
from tests.base import World
from tests.briefings.helpers import full_scene
from tests.cameras.helpers import camera_at, offset
from tests.e2e.accessibility import axe_blocking_violations, horizontal_overflow
from tests.e2e.conftest import ARTIFACTS, Site
from tests.e2e.test_terminal_and_console import WAIT_MS, _sign_in
from tests.sensors.helpers import make_source, place, sample_bytes, stolen_list

SIZES = ((390, 844), (1280, 800), (1440, 900))


def _page(browser: Any, url: str, user: Any, size: tuple[int, int]) -> Page:
    page = browser.new_context(viewport={"width": size[0], "height": size[1]}).new_page()
    _sign_in(page, url, user)
    return page


def _night(page: Page, on: bool) -> None:
    if (page.get_attribute("#night", "aria-pressed") == "true") != on:
        page.get_by_role("button", name="Night mode").click()


def _streets_drawn(page: Page, map_id: str) -> None:
    expect(page.locator(f"#{map_id} path.map-street").first).to_be_attached(timeout=WAIT_MS)


def _shoot(page: Page, name: str, map_id: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.locator(f"#{map_id}").screenshot(path=str(ARTIFACTS / f"{name.replace('console', 'map')}-map.png"
                                                  if name.startswith("terminal") else
                                                  str(ARTIFACTS / f"{name.replace('console', 'map')}.png")))


def _around_the_call(world: World) -> None:
    """Two cameras near the scene (one always shared, one only for a call nearby), Omar's phone placed a block
    away, and a gunshot detection two blocks off: what the map must show besides the call."""
    camera_at(world, "Rainier Ave S & S Henderson St", 120, 60, sharing=Camera.Sharing.ALWAYS)
    camera_at(world, "Corner store", -150, -90, sharing=Camera.Sharing.ACTIVE_CALL_NEARBY)
    place(world.omar, *offset(-220, 140))
    lat, lon = offset(260, -200)
    now = timezone.now()
    Alert.objects.create(agency=world.agency, source=make_source(world, "gunshot").source, kind=Alert.Kind.GUNSHOT,
                         event_id="SST-MAP-1", occurred_at=now, received_at=now, priority=1, latitude=lat,
                         longitude=lon, detail={"rounds": 3, "address": "S Henderson St"})


def test_the_console_and_its_map_pass_axe_fit_a_phone_and_draw_streets_day_and_night(
        world: World, tmp_path: Path, site: Site, browser: Any) -> None:
    _around_the_call(world)
    call = full_scene(world, tmp_path)
    console = _page(browser, f"{site.direct}/console/", world.ava, SIZES[1])
    console.get_by_role("button", name=f"P{call.priority}").first.click()
    expect(console.locator("#items")).to_contain_text("Whitfield", timeout=WAIT_MS)
    expect(console.locator("#calls")).to_contain_text("2A12 (Omar)")
    _streets_drawn(console, "console-map")
    expect(console.locator("#console-map path.map-call.focus")).to_have_count(1)
    expect(console.locator("#console-map path.map-camera")).to_have_count(2)
    expect(console.locator("#console-map path.map-unit")).to_have_count(1)
    expect(console.locator("#console-map path.map-alert")).to_have_count(1)
    expect(console.locator("#alerts")).to_contain_text("Gunshot")
    terminal = _page(browser, f"{site.url}/terminal/", world.omar, SIZES[1])
    expect(terminal.locator("#call-title")).to_contain_text("P2", timeout=WAIT_MS)
    _streets_drawn(terminal, "call-map")
    expect(terminal.locator("#call-map path.map-call.focus")).to_have_count(1)
    expect(terminal.locator("#call-map path.map-camera.share-always")).to_have_count(1)
    expect(terminal.locator("#call-map path.map-unit")).to_have_count(1)
    expect(terminal.locator("#call-map .map-label", has_text="2A12")).to_be_visible()
    expect(terminal.locator("#call-map path.map-alert")).to_have_count(1)

    problems: dict[str, Any] = {}
    for night in (False, True):
        mode = "night" if night else "day"
        for page, name in ((console, "console"), (terminal, "terminal")):
            _night(page, night)
            found = axe_blocking_violations(page)
            if found:
                problems[f"{name} {mode}"] = found
        for width, height in SIZES:
            for page, name, map_id in ((console, "console", "console-map"), (terminal, "terminal", "call-map")):
                page.set_viewport_size({"width": width, "height": height})
                page.wait_for_timeout(300)  # Leaflet re-measures and loads the tiles of the new view
                _shoot(page, f"{name}-{mode}-{width}x{height}", map_id)
            if width == 390:
                scroll, client = horizontal_overflow(console)
                assert scroll <= client, f"the console scrolls sideways at 390 px in {mode} mode: {scroll} > {client}"
    assert not problems, json.dumps(problems, indent=1)


def _post_signed(url: str, secret: str, body: bytes) -> httpx.Response:
    """As the plate reader posts: the raw body, signed with the source's secret over its timestamp."""
    from apps.sensors.signing import signature_make

    stamp = int(time.time())
    return httpx.post(url, content=body, timeout=10, headers={
        "Content-Type": "application/json", "X-RTCC-Timestamp": str(stamp),
        "X-RTCC-Signature": signature_make(secret=secret, timestamp=stamp, body=body)})


def test_a_plate_hit_posted_to_the_webhook_appears_in_the_console_feed_within_two_seconds(
        world: World, site: Site, browser: Any, settings: Any) -> None:
    stolen_list(world, ("A424761", "IN"))
    # The source's secret is stored encrypted under the server's key, which the stack sets.
    settings.SECRET_KEY = site.stack.secret_key
    alpr = make_source(world, "alpr")
    console = _page(browser, f"{site.direct}/console/", world.ava, SIZES[2])
    expect(console.locator("html")).to_have_attribute("data-link", "live", timeout=WAIT_MS)
    expect(console.locator("#alerts")).to_contain_text("No sensor alerts")

    started = time.monotonic()
    answer = _post_signed(f"{site.direct}{alpr.url}", alpr.secret, sample_bytes())
    assert answer.status_code == 202, answer.text
    hit = console.locator("#alerts [data-alert]").first
    expect(hit).to_contain_text("A424761", timeout=2000)
    seconds = time.monotonic() - started
    expect(hit).to_contain_text("Plate hit")
    expect(hit).to_contain_text("not yet verified")
    expect(hit).to_contain_text("Stolen vehicles")
    assert seconds <= 2.0, f"the hit took {seconds:.2f} s to reach the feed"


def test_ava_pushes_to_omar_picked_by_name_and_his_receipt_times_arrive_without_polling(
        world: World, tmp_path: Path, site: Site, browser: Any) -> None:
    call = full_scene(world, tmp_path)
    terminal = _page(browser, f"{site.url}/terminal/", world.omar, SIZES[1])
    expect(terminal.locator("html")).to_have_attribute("data-link", "live", timeout=WAIT_MS)
    console = _page(browser, f"{site.direct}/console/", world.ava, SIZES[2])
    console.get_by_role("button", name=f"P{call.priority}").first.click()
    expect(console.locator("#items")).to_contain_text("Whitfield", timeout=WAIT_MS)

    console.get_by_label("To", exact=True).select_option("pick")
    console.get_by_label("Find by name, badge, unit, beat or district").fill("oma")
    console.locator("#recipient-results button", has_text="officer · on 2A12").click()
    expect(console.locator("#picked")).to_contain_text("Omar")
    asked: list[str] = []
    console.on("request", lambda request: asked.append(request.url))
    console.get_by_role("button", name="Push", exact=True).click()

    newest = console.locator("#pushes section.push").first
    expect(newest).to_contain_text("sent to Omar", timeout=WAIT_MS)
    # The scene's own briefing push may already wait on the terminal: acknowledge once Ava's is there too.
    push_id = newest.get_attribute("data-push")
    expect(terminal.locator("html")).to_have_attribute("data-pending", re.compile(rf"(^|,){push_id}(,|$)"),
                                                        timeout=WAIT_MS)
    terminal.get_by_role("button", name="Acknowledge").click()
    row = newest.locator("tr[data-user='omar']")
    expect(row.locator(".status")).to_have_text("acknowledged", timeout=WAIT_MS)
    times = row.locator("td.time")
    for n in range(3):
        expect(times.nth(n)).to_have_text(re.compile(r"\d{1,2}:\d{2}:\d{2}"))
    ARTIFACTS.mkdir(exist_ok=True)
    console.screenshot(path=str(ARTIFACTS / "console-receipts-day-1440x900.png"), full_page=True)

    asked.clear()
    console.wait_for_timeout(3000)
    polled = [url for url in asked if "/api/v1/pushes" in url]
    assert polled == [], f"the console polled receipts while nothing changed: {polled}"
