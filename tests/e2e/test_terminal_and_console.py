"""The officer's terminal and the analyst's console in a real browser, over the real API and websocket."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import redis
from playwright.sync_api import Page, expect

from apps.briefings.models import Briefing
from apps.briefings.services import briefing_item_add
from apps.calls.models import Call
from tests.base import PASSWORD, World, current_code
from tests.briefings.helpers import full_scene
from tests.e2e.conftest import Site, screenshot

WAIT_MS = 10_000


def _sign_in(page: Page, url: str, user: Any) -> None:
    page.goto(url)
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if user.mfa_required:
        page.get_by_label("Authenticator code").fill(current_code(user))
        page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=WAIT_MS)


def _terminal(browser: Any, site: Site, user: Any, page: Page | None = None) -> Page:
    page = page or browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _sign_in(page, f"{site.url}/terminal/", user)
    expect(page.locator("html")).to_have_attribute("data-link", "live", timeout=WAIT_MS)
    return page


def _terminal_holding_a_resume_ticket(browser: Any, site: Site, user: Any) -> Page:
    """A live terminal once its socket has handed over the ticket for the next one.

    The ticket frame follows `ready`; a link cut between the two would leave the terminal nothing
    to come back on but HTTP, which is what the fallback test means to show, not the tunnel test.
    """
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    handed: list[str] = []

    def watch(socket: Any) -> None:
        socket.on("framereceived", lambda payload: handed.append(payload) if '"ticket"' in str(payload) else None)

    page.on("websocket", watch)
    _terminal(browser, site, user, page)
    deadline = time.monotonic() + WAIT_MS / 1000
    while not any(json.loads(frame).get("type") == "ticket" for frame in handed):
        assert time.monotonic() < deadline, "the live socket never handed over a resume ticket"
        page.wait_for_timeout(50)
    return page


def _console(browser: Any, site: Site, user: Any) -> Page:
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    _sign_in(page, f"{site.direct}/console/", user)
    return page


def test_an_analyst_pushes_the_officer_acknowledges_and_the_console_shows_it(
        world: World, tmp_path: Path, site: Site, browser: Any) -> None:
    call = full_scene(world, tmp_path)
    terminal = _terminal(browser, site, world.omar)
    expect(terminal.locator("#call-title")).to_contain_text("P2", timeout=WAIT_MS)
    expect(terminal.locator("#safety")).to_contain_text("Whitfield")

    console = _console(browser, site, world.ava)
    console.get_by_role("button", name=f"P{call.priority}").first.click()
    expect(console.locator("#items")).to_contain_text("Whitfield", timeout=WAIT_MS)
    console.get_by_label("To", exact=True).select_option("call")
    console.get_by_role("button", name="Push", exact=True).click()

    expect(terminal.get_by_role("alertdialog")).to_be_visible(timeout=WAIT_MS)
    expect(terminal.locator("#alert-text")).to_contain_text("Priority 2 briefing")
    for night in (False, True):
        if night:
            terminal.get_by_role("button", name="Night mode").click()
            console.get_by_role("button", name="Night mode").click()
        mode = "night" if night else "day"
        screenshot(terminal, f"terminal-{mode}")
        screenshot(console, f"console-{mode}")
    terminal.get_by_role("button", name="Acknowledge").click()
    expect(terminal.get_by_role("alertdialog")).to_be_hidden(timeout=WAIT_MS)

    omar_row = console.locator("#pushes tr[data-user='omar'] .status").first
    expect(omar_row).to_have_text("acknowledged", timeout=WAIT_MS)


def test_a_briefing_missed_in_a_tunnel_appears_once_when_the_link_is_back(
        world: World, tmp_path: Path, site: Site, browser: Any) -> None:
    call = full_scene(world, tmp_path)
    terminal = _terminal_holding_a_resume_ticket(browser, site, world.omar)
    applied_before = terminal.evaluate("JSON.parse(sessionStorage.getItem('rtcc.stream')).offset")
    tickets_asked = _ticket_requests(terminal)

    site.link.cut()
    expect(terminal.locator("#link")).to_contain_text("Link down", timeout=WAIT_MS)
    briefing = Briefing.objects.get(call=call)
    briefing_item_add(briefing_id=briefing.pk, user=world.ava, title="Tunnel note", body="Caller moved to unit 4")
    terminal.wait_for_timeout(1500)
    expect(terminal.locator("#briefing")).not_to_contain_text("Tunnel note")
    site.link.restore()

    expect(terminal.locator("#briefing")).to_contain_text("Tunnel note", timeout=WAIT_MS * 2)
    expect(terminal.locator("html")).to_have_attribute("data-link", "live", timeout=WAIT_MS)
    assert terminal.locator("[data-item]", has_text="Tunnel note").count() == 1
    applied_after = terminal.evaluate("JSON.parse(sessionStorage.getItem('rtcc.stream')).offset")
    assert applied_after == applied_before + 1, "exactly the one missed event, applied once"
    assert tickets_asked == [], "it came back on the ticket its last socket handed over, not over HTTP"


def test_a_terminal_whose_resume_ticket_is_gone_comes_back_over_http_still_signed_in(
        world: World, tmp_path: Path, site: Site, browser: Any) -> None:
    call = full_scene(world, tmp_path)
    terminal = _terminal_holding_a_resume_ticket(browser, site, world.omar)
    tickets_asked = _ticket_requests(terminal)

    site.link.cut()
    expect(terminal.locator("#link")).to_contain_text("Link down", timeout=WAIT_MS)
    # Redis restarted while the car was in the tunnel: the ticket the socket handed over is gone.
    # The server's cache, not this process's: under xdist the test process has a cache database of its own.
    with redis.Redis.from_url(site.stack.redis_url) as client:
        assert client.delete(*client.keys("*delivery.ticket.*")) >= 1
    briefing_item_add(briefing_id=Briefing.objects.get(call=call).pk, user=world.ava, title="Tunnel note",
                      body="Caller moved to unit 4")
    site.link.restore()

    expect(terminal.locator("#briefing")).to_contain_text("Tunnel note", timeout=WAIT_MS * 2)
    expect(terminal.locator("html")).to_have_attribute("data-link", "live", timeout=WAIT_MS)
    expect(terminal.get_by_role("button", name="Sign out")).to_be_visible()
    assert len(tickets_asked) >= 1, "the refused resume ticket was followed by one over HTTP"


def _ticket_requests(page: Page) -> list[str]:
    """The stream ticket requests the page makes from now on."""
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/stream/ticket" in request.url else None)
    return asked


def test_xaviers_terminal_shows_nothing_of_demo_city(world: World, tmp_path: Path, site: Site,
                                                       browser: Any) -> None:
    call = full_scene(world, tmp_path)
    xavier = _terminal(browser, site, world.xavier)
    expect(xavier.locator("#call-title")).to_have_text("No active call")
    console = _console(browser, site, world.ava)
    console.get_by_role("button", name=f"P{call.priority}").first.click()
    console.get_by_label("To", exact=True).select_option("agency")
    console.get_by_role("button", name="Push", exact=True).click()
    expect(console.locator("#pushes tr[data-user='omar']").first).to_be_visible(timeout=WAIT_MS)
    xavier.wait_for_timeout(1500)
    expect(xavier.get_by_role("alertdialog")).to_be_hidden()
    expect(xavier.locator("#briefing")).to_be_empty()
    expect(xavier.locator("#safety")).to_be_empty()
    assert "Whitfield" not in xavier.content()


def test_a_clip_of_the_call_plays_in_the_terminal(world: World, tmp_path: Path, site: Site, browser: Any) -> None:
    from tests.e2e.clips import ready_clip

    call = full_scene(world, tmp_path)
    ready_clip(call=Call.objects.get(pk=call.pk), requested_by=world.ava, work=tmp_path)
    terminal = _terminal(browser, site, world.omar)
    video = terminal.locator("#clips video").first
    expect(video).to_be_visible(timeout=WAIT_MS)
    _until(terminal, "document.querySelector('#clips video').readyState >= 2")
    # Seeking works: the signed link answers Range requests.
    terminal.evaluate("document.querySelector('#clips video').currentTime = 3.0")
    _until(terminal, "(v => !v.seeking && v.currentTime >= 2.9 && v.readyState >= 2)"
                     "(document.querySelector('#clips video'))")


def _until(page: Page, condition: str, seconds: float = 20) -> None:
    """Poll a condition in the page. (wait_for_function evaluates strings, which the pages' CSP forbids.)"""
    deadline = time.monotonic() + seconds
    while not page.evaluate(condition):
        state = page.evaluate("(v => v && [v.currentTime, v.seeking, v.readyState, v.duration, v.error && v.error.code,"
                              " v.networkState])(document.querySelector('#clips video'))")
        assert time.monotonic() < deadline, f"never true: {condition} (video: {state})"
        page.wait_for_timeout(200)


def test_a_co_responders_terminal_shows_the_referral_offer_and_takes_her_answer(
        world: World, site: Site, browser: Any) -> None:
    from tests.referrals.helpers import refer, referral_scene

    scene = referral_scene(world)
    cora = _terminal(browser, site, world.cora)
    expect(cora.locator("#call-view")).to_be_hidden()
    referral = refer(scene)
    card = cora.locator(f"[data-referral='{referral.pk}']")
    expect(card).to_contain_text("Speak slowly", timeout=WAIT_MS)
    expect(cora.get_by_role("alertdialog")).to_be_visible()
    assert "Whitfield" not in cora.content(), "nothing from criminal records"
    card.get_by_role("button", name="Accept").click()
    expect(card.get_by_role("button", name="En route")).to_be_visible(timeout=WAIT_MS)
    referral.refresh_from_db()
    assert referral.state == "accepted"
