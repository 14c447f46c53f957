"""The officer's terminal with several calls: the right call first, a banner that survives a reload, and "opened"
only once the safety cards were on screen. Every view fits 360 and 390 px, and each is photographed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.briefings.services import briefing_assemble, briefing_push
from apps.calls.models import Call, UnitAssignment
from apps.delivery.models import Delivery, Push
from apps.delivery.services import push_resolve
from tests.base import World
from tests.briefings.helpers import full_scene, make_call
from tests.e2e.conftest import Site, screenshot
from tests.e2e.test_terminal_and_console import WAIT_MS, _sign_in

SIZES = {"phone": (390, 844), "laptop": (1280, 800), "desktop": (1440, 900)}


def _three_calls(world: World, tmp_path: Path) -> tuple[Call, Call, Call]:
    """Omar's unit on three calls: the full Rainier scene (P2), a knife call (P2) and a noise complaint (P3)."""
    scene = full_scene(world, tmp_path)
    now = timezone.now()
    knife = make_call(world, event="KNIFE-1", cad="MAN WITH KNIFE", narrative="Man waving a knife outside the shop")
    noise = make_call(world, event="NOISE-1", cad="NOISE COMPLAINT", narrative="Loud music")
    Call.objects.filter(pk=noise.pk).update(priority=3)
    for n, call in enumerate((knife, noise)):
        UnitAssignment.objects.create(call=call, unit=world.unit, assigned_at=now - timedelta(minutes=10 * (n + 1)))
        briefing_assemble(call_id=call.pk, reason="call_created")
    # The announcements of the assignments were read long ago: nothing waits for Omar yet.
    Delivery.objects.filter(user=world.omar).update(opened_at=now, acknowledged_at=now)
    return scene, Call.objects.get(pk=knife.pk), Call.objects.get(pk=noise.pk)


def _push_to_omar(world: World, call: Call) -> Push:
    push = briefing_push(call_id=call.pk, pushed_by=world.ava, audience={"kind": "user", "ids": [world.omar.pk]})
    push_resolve(push_id=push.pk)  # what the worker does after commit; safe to run twice
    return push


def _terminal(browser: Any, site: Site, world: World, size: str = "phone") -> Page:
    width, height = SIZES[size]
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    _sign_in(page, f"{site.url}/terminal/", world.omar)
    expect(page.locator("html")).to_have_attribute("data-link", "live", timeout=WAIT_MS)
    return page


def _tabs(page: Page) -> list[str]:
    return page.locator("#calls .call-tab").evaluate_all("(tabs) => tabs.map((t) => t.textContent)")


def _no_sideways_scroll(page: Page, what: str) -> None:
    for width in (360, 390):
        page.set_viewport_size({"width": width, "height": 844})
        page.wait_for_timeout(100)
        scroll, client = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        wide = page.evaluate("""(w) => [...document.querySelectorAll('body *')].filter((n) => n.offsetParent !== null
            && n.getBoundingClientRect().right > w + 0.5).map((n) => n.tagName + '#' + n.id + '.' + n.className)
            .slice(0, 8)""", client)
        assert scroll <= client, f"{what} at {width} px is {scroll} px wide: {wide}"
        signout = page.get_by_role("button", name="Sign out")
        if signout.is_visible():
            box = signout.bounding_box()
            assert box is not None and box["x"] + box["width"] <= width, f"Sign out off-screen at {width} px"


def _small_targets(page: Page) -> list[str]:
    return page.evaluate("""() => [...document.querySelectorAll('button, label.button, a[href]')]
        .filter((n) => n.offsetParent !== null)
        .map((n) => [n.textContent.trim().slice(0, 30), n.getBoundingClientRect()])
        .filter(([, r]) => r.height < 44 || r.width < 44).map(([t, r]) => `${t} ${r.width}x${r.height}`)""")


def test_omar_sees_the_call_with_the_pending_push_first_and_switches_with_one_tap(
        world: World, tmp_path: Path, site: Site, browser: Any) -> None:
    _scene, _knife, noise = _three_calls(world, tmp_path)
    terminal = _terminal(browser, site, world)
    expect(terminal.locator("#calls .call-tab")).to_have_count(3, timeout=WAIT_MS)
    # No push waiting: priority first, then the latest assignment (the scene's was made just now).
    tabs = _tabs(terminal)
    assert ["P2 DISTURBANCE" in tabs[0], "P2 MAN WITH KNIFE" in tabs[1], "P3 NOISE" in tabs[2]] == [True] * 3, tabs

    _push_to_omar(world, noise)
    expect(terminal.locator("#call-title")).to_contain_text("P3 NOISE COMPLAINT", timeout=WAIT_MS)
    expect(terminal.get_by_role("alertdialog")).to_be_visible()
    assert "Pending" in _tabs(terminal)[0] and "NOISE" in _tabs(terminal)[0], "the pushed call leads the list"

    terminal.locator("#calls .call-tab", has_text="MAN WITH KNIFE").click()
    expect(terminal.locator("#call-title")).to_contain_text("P2 MAN WITH KNIFE", timeout=WAIT_MS)
    expect(terminal.locator("#safety")).to_contain_text("knife", ignore_case=True)
    expect(terminal.get_by_role("alertdialog")).to_be_hidden()  # the banner belongs to the pushed call
    terminal.locator("#calls .call-tab", has_text="NOISE").click()
    expect(terminal.get_by_role("alertdialog")).to_be_visible(timeout=WAIT_MS)
    terminal.get_by_role("button", name="Acknowledge").click()
    expect(terminal.get_by_role("alertdialog")).to_be_hidden(timeout=WAIT_MS)
    expect(terminal.locator("#calls .call-tab").first).not_to_contain_text("NOISE", timeout=WAIT_MS)


def test_a_reload_keeps_the_pending_acknowledgement(world: World, tmp_path: Path, site: Site, browser: Any) -> None:
    _scene, knife, _noise = _three_calls(world, tmp_path)
    terminal = _terminal(browser, site, world)
    push = _push_to_omar(world, knife)
    expect(terminal.get_by_role("alertdialog")).to_be_visible(timeout=WAIT_MS)
    terminal.reload()
    expect(terminal.get_by_role("alertdialog")).to_be_visible(timeout=WAIT_MS)
    expect(terminal.locator("#call-title")).to_contain_text("MAN WITH KNIFE")
    # A second device of Omar's shows the same banner.
    other = _terminal(browser, site, world, "laptop")
    expect(other.get_by_role("alertdialog")).to_be_visible(timeout=WAIT_MS)
    terminal.get_by_role("button", name="Acknowledge").click()
    expect(terminal.get_by_role("alertdialog")).to_be_hidden(timeout=WAIT_MS)
    assert Delivery.objects.get(push=push, user=world.omar).acknowledged_at is not None
    other.reload()
    expect(other.locator("#call-title")).to_contain_text("P2", timeout=WAIT_MS)
    expect(other.get_by_role("alertdialog")).to_be_hidden()


def test_the_receipt_reads_opened_only_after_the_safety_cards_were_on_screen(
        world: World, tmp_path: Path, site: Site, browser: Any) -> None:
    scene, _knife, _noise = _three_calls(world, tmp_path)
    Call.objects.filter(pk=scene.pk).update(priority=1)  # the scene leads the list, and stays on screen
    briefing_assemble(call_id=scene.pk, reason="priority_changed")
    Delivery.objects.filter(user=world.omar).update(opened_at=timezone.now(), acknowledged_at=timezone.now())
    terminal = _terminal(browser, site, world, "laptop")
    expect(terminal.locator("#call-title")).to_contain_text("P1", timeout=WAIT_MS)
    terminal.set_viewport_size({"width": 1280, "height": 300})
    terminal.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    push = _push_to_omar(world, scene)
    expect(terminal.get_by_role("alertdialog")).to_be_visible(timeout=WAIT_MS)
    terminal.wait_for_timeout(1500)
    delivery = Delivery.objects.get(push=push, user=world.omar)
    assert delivery.opened_at is None, "the banner alone is not the briefing"
    terminal.locator("#safety .item").first.scroll_into_view_if_needed()
    _until_opened(terminal, push)


def _until_opened(page: Page, push: Push) -> None:
    for _ in range(50):
        if Delivery.objects.get(push=push).opened_at is not None:
            return
        page.wait_for_timeout(200)
    raise AssertionError("never opened after the cards were on screen")


def _photograph(page: Page, name: str) -> None:
    """Day, then night, then back to day: tests/artifacts/terminal-<name>-<mode>.png."""
    for mode in ("day", "night"):
        if mode == "night":
            page.get_by_role("button", name="Night mode").click()
        screenshot(page, f"terminal-{name}-{mode}")
    page.get_by_role("button", name="Night mode").click()


def _first_safety_card_above_the_fold(page: Page, height: int) -> str:
    # A stream event may redraw the call just as it is measured: measure the card that is there after it.
    box = None
    for _ in range(20):
        card = page.locator("#safety .item").first
        expect(card).to_be_visible(timeout=WAIT_MS)
        box = card.bounding_box()
        if box is not None:
            break
        page.wait_for_timeout(100)
    return "" if box is not None and box["y"] + box["height"] <= height else f"{box}"


def test_every_terminal_view_fits_the_phone_and_is_photographed_day_and_night(
        world: World, tmp_path: Path, site: Site, browser: Any) -> None:
    from tests.referrals.helpers import refer, referral_scene

    _scene, knife, _noise = _three_calls(world, tmp_path)
    views: dict[str, Page] = {}
    below_fold: dict[str, str] = {}
    for size, (width, height) in SIZES.items():
        signin = browser.new_context(viewport={"width": width, "height": height}).new_page()
        signin.goto(f"{site.url}/terminal/")
        expect(signin.get_by_role("button", name="Sign in")).to_be_visible()
        _photograph(signin, f"signin-{size}")
        views[f"signin-{size}"] = signin
    _push_to_omar(world, knife)
    for size, (_width, height) in SIZES.items():
        page = _terminal(browser, site, world, size)
        expect(page.get_by_role("alertdialog")).to_be_visible(timeout=WAIT_MS)
        expect(page.locator("#call-title")).to_contain_text("MAN WITH KNIFE")
        expect(page.locator("#safety .item").first).to_contain_text("knife", ignore_case=True)
        below_fold[f"pushed-{size}"] = _first_safety_card_above_the_fold(page, height)
        _photograph(page, f"call-pushed-{size}")
        views[f"call-pushed-{size}"] = page
    for size, (_width, height) in SIZES.items():
        page = views[f"call-pushed-{size}"]
        page.get_by_role("button", name="Acknowledge").click()
        expect(page.get_by_role("alertdialog")).to_be_hidden(timeout=WAIT_MS)
        page.locator("#calls .call-tab", has_text="P2 DISTURBANCE").click()
        expect(page.locator("#safety")).to_contain_text("Whitfield", timeout=WAIT_MS)
        expect(page.locator("#history")).to_contain_text("1 mental health")
        below_fold[f"scene-{size}"] = _first_safety_card_above_the_fold(page, height)
        _photograph(page, f"call-scene-{size}")

    xavier = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    _sign_in(xavier, f"{site.url}/terminal/", world.xavier)
    expect(xavier.locator("#call-title")).to_have_text("No active call", timeout=WAIT_MS)
    _photograph(xavier, "no-call-phone")
    views["no-call-phone"] = xavier

    referral = refer(referral_scene(world))
    cora = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    _sign_in(cora, f"{site.url}/terminal/", world.cora)
    expect(cora.locator(f"[data-referral='{referral.pk}']")).to_be_visible(timeout=WAIT_MS)
    _photograph(cora, "co-responder-phone")
    views["co-responder-phone"] = cora

    for name, page in views.items():
        assert _small_targets(page) == [], f"touch targets under 44 px on {name}"
        size = page.viewport_size
        _no_sideways_scroll(page, name)
        page.set_viewport_size(size)
    assert {k: v for k, v in below_fold.items() if v} == {}, "the first safety card ends inside the first screen"
