"""A weapon named in the call text, in any common form, puts police first with the reason on the briefing."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.briefings.models import BriefingVersion
from apps.briefings.services import briefing_assemble, recommendation_rules_seed
from apps.calls.models import Category, UnitAssignment
from apps.referrals.services import referral_create
from tests.base import World
from tests.briefings.helpers import make_call
from tests.referrals.helpers import RECOMMENDATION, referral_scene


def _co_responder(world: World, narrative: str, category: str = Category.MENTAL_HEALTH) -> dict:
    recommendation_rules_seed(agency_id=world.agency.pk)
    call = make_call(world, event="26-0200001", category=category, cad="CRISIS", narrative=narrative)
    version = briefing_assemble(call_id=call.pk, reason=BriefingVersion.Reason.CALL_CREATED)
    [found] = [i for i in version.items if i["section"] == "co_responder"]
    return found


@pytest.mark.parametrize("narrative", ["Caller's son is suicidal and has a handgun",
                                       "Suicidal male, told his wife he has a pistol",
                                       "suicidal, has guns in the house", "brother is suicidal, he was stabbed"])
def test_the_suicidal_caller_with_a_firearm_or_blade_is_police_first(world: World, narrative: str) -> None:
    found = _co_responder(world, narrative)
    assert found["title"] == "Police first; stage a behavioral-health technician"
    assert found["data"]["mode"] == "staged"
    assert "weapons" in found["data"]["safety_flags"]
    assert "in the call text" in found["body"]


def test_the_handgun_is_named_as_the_safety_reason(world: World) -> None:
    found = _co_responder(world, "Caller says her husband is suicidal and has a handgun")
    assert "'handgun' in the call text" in found["body"]


def test_no_weapons_seen_is_shown_as_what_the_caller_said(world: World) -> None:
    found = _co_responder(world, "Suicidal female, no weapons seen, sister on scene")
    assert "the call text says 'no weapons seen'" in found["body"]
    assert found["data"]["mode"] == "staged", "an unconfirmed 'no weapons' still puts police first"


def test_a_crisis_call_with_no_weapon_words_goes_along_with_police(world: World) -> None:
    found = _co_responder(world, "Suicidal female, alone at home, calm on the phone")
    assert found["title"] == "Recommend a behavioral-health technician go along"


def test_the_referral_from_a_handgun_briefing_carries_the_weapons_flag(world: World) -> None:
    scene = referral_scene(world)
    scene.call.narrative = "Caller says her brother is suicidal and has a handgun"
    scene.call.save(update_fields=["narrative"])
    UnitAssignment.objects.get_or_create(call=scene.call, unit=world.unit, defaults={"assigned_at": timezone.now()})
    briefing_assemble(call_id=scene.call.pk, reason=BriefingVersion.Reason.CALL_UPDATED)
    referral = referral_create(user=world.ava, call_id=scene.call.pk, recommendation_item=RECOMMENDATION)
    assert "weapons" in referral.safety_flags
    assert referral.police_first is True
