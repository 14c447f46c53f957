"""What changed, what to ask for, and what arrived: marks since the last version seen, the co-responder request
from the terminal, and a new clip announced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from apps.briefings.models import Briefing
from apps.briefings.services import briefing_item_add
from apps.calls.models import Call
from apps.referrals.models import Referral
from tests.base import World
from tests.briefings.helpers import full_scene
from tests.e2e.conftest import Site
from tests.e2e.test_terminal_and_console import WAIT_MS
from tests.e2e.test_terminal_calls import _terminal


def test_a_note_added_after_omar_saw_the_briefing_is_marked_new_with_its_time_in_the_agencys_zone(
        world: World, tmp_path: Path, site: Site, browser: Any) -> None:
    world.agency.time_zone = "America/New_York"
    world.agency.save(update_fields=["time_zone"])
    call = full_scene(world, tmp_path)
    terminal = _terminal(browser, site, world)
    expect(terminal.locator("#safety .item").first).to_be_visible(timeout=WAIT_MS)
    assert terminal.locator("[data-mark]").count() == 0, "nothing is new on the first look"
    terminal.get_by_role("button", name="Acknowledge", exact=True).click()

    briefing_item_add(briefing_id=Briefing.objects.get(call=call).pk, user=world.ava, title="Caller moved",
                      body="She is waiting in unit 4 now")
    card = terminal.locator("[data-item]", has_text="Caller moved")
    expect(card).to_have_attribute("data-mark", "new", timeout=WAIT_MS)
    expect(card).to_contain_text("New")
    expect(card.locator("time")).to_contain_text("EST")
    assert terminal.locator("[data-item='call'], [data-mark='new']").count() == 1, "only the note is new"


def test_omar_requests_the_recommended_co_responder_and_sees_the_referral_state(
        world: World, site: Site, browser: Any) -> None:
    from tests.referrals.helpers import PART2_MARKER, referral_scene

    scene = referral_scene(world)
    terminal = _terminal(browser, site, world)
    part = terminal.locator("#co-responder")
    expect(part).to_contain_text("behavioral-health technician", timeout=WAIT_MS)
    part.get_by_role("button", name="Request co-responder").click()
    expect(part.locator(".referral-state")).to_contain_text("Requested: offered", timeout=WAIT_MS)
    referral = Referral.objects.get(call=scene.call)
    assert referral.requested_by == world.omar
    assert PART2_MARKER not in terminal.content()


def test_a_new_clip_of_the_call_is_announced_and_plays(world: World, tmp_path: Path, site: Site,
                                                         browser: Any) -> None:
    from tests.e2e.clips import ready_clip

    call = full_scene(world, tmp_path)
    terminal = _terminal(browser, site, world)
    expect(terminal.locator("#safety .item").first).to_be_visible(timeout=WAIT_MS)
    ready_clip(call=Call.objects.get(pk=call.pk), requested_by=world.ava, work=tmp_path)
    expect(terminal.locator("#notice")).to_contain_text("new clip", timeout=WAIT_MS)
    expect(terminal.locator("#clips video").first).to_be_visible(timeout=WAIT_MS)
