"""A hazard recorded at a house is that house's; one on its hundred block is only "on this block"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from apps.briefings.models import BriefingVersion
from apps.briefings.services import briefing_assemble, recommendation_rules_seed
from apps.calls.models import Category
from apps.cases.models import Premise
from apps.hazards.models import RecordHazard
from apps.places.geo import geohash_encode
from apps.places.normalize import address_key
from tests.base import World
from tests.briefings.helpers import LAT, LON, make_call

HOUSE = "9241 Rainier Ave S"
BLOCK = "92XX BLOCK OF RAINIER AV S"


def _premise(world: World, address: str, *, notes: str = "") -> Premise:
    return Premise.objects.create(agency=world.agency, address=address, address_key=address_key(address),
                                  latitude=LAT, longitude=LON, cell=geohash_encode(LAT, LON), hazards=notes)


def _hazard(world: World, premise: Premise, kind: str, description: str) -> RecordHazard:
    return RecordHazard.objects.create(agency=world.agency, kind=kind, premise=premise, description=description,
                                       source="call 16-1", reported_at=timezone.now() - timedelta(days=20))


def _briefing(world: World, address: str, **extra: Any) -> dict[str, dict[str, Any]]:
    call = make_call(world, event="26-0300001", address=address, **extra)
    version = briefing_assemble(call_id=call.pk, reason=BriefingVersion.Reason.CALL_CREATED)
    assert version is not None
    return {i["id"]: i for i in version.items}


def test_the_house_does_not_inherit_the_blocks_firearm_hazard(world: World) -> None:
    block = _premise(world, BLOCK, notes="Pit bull loose on the block")
    gun = _hazard(world, block, RecordHazard.Kind.WEAPONS, "Firearm reported in the house")
    dog = _hazard(world, block, RecordHazard.Kind.DOG, "Two dogs in the yard")
    items = _briefing(world, HOUSE)
    hazards = [i for i in items.values() if i["section"] == "hazards"]
    assert all(i["data"]["match"] == "block" for i in hazards)
    assert items[f"hazard:{gun.pk}"]["title"] == "On this block: Weapons"
    assert items[f"hazard:{gun.pk}"]["severity"] == "caution"
    assert "on this block but not at this address" in items[f"hazard:{gun.pk}"]["reason"]["text"]
    assert items[f"hazard:{dog.pk}"]["title"] == "On this block: Dog"
    assert items[f"premise_note:{block.pk}"]["title"] == "On this block: premise hazard notes"
    assert not any(i["title"] in ("Weapons", "Dog", "Premise hazard notes") for i in hazards)


def test_a_hazard_recorded_at_the_house_applies_to_the_house_and_ranks_first(world: World) -> None:
    house = _premise(world, "9241 RAINIER AVENUE SOUTH")
    block = _premise(world, BLOCK)
    here = _hazard(world, house, RecordHazard.Kind.WEAPONS, "Shotgun behind the front door")
    there = _hazard(world, block, RecordHazard.Kind.DOG, "Dog on the block")
    items = _briefing(world, HOUSE, premise=house)
    order = [i for i in items if i.startswith("hazard:")]
    assert order == [f"hazard:{here.pk}", f"hazard:{there.pk}"]
    assert items[f"hazard:{here.pk}"]["title"] == "Weapons"
    assert items[f"hazard:{here.pk}"]["severity"] == "danger"
    assert items[f"hazard:{here.pk}"]["data"]["match"] == "exact"
    assert items[f"hazard:{there.pk}"]["data"]["match"] == "block"


def test_a_call_on_the_block_shows_a_houses_hazard_as_on_this_block(world: World) -> None:
    house = _premise(world, HOUSE)
    gun = _hazard(world, house, RecordHazard.Kind.WEAPONS, "Handgun in the bedroom")
    items = _briefing(world, BLOCK, premise=_premise(world, BLOCK))
    assert items[f"hazard:{gun.pk}"]["title"] == "On this block: Weapons"
    assert items[f"hazard:{gun.pk}"]["data"]["recorded_at_address"] == HOUSE


def test_the_blocks_weapon_does_not_stage_the_co_responder_as_if_it_were_here(world: World) -> None:
    recommendation_rules_seed(agency_id=world.agency.pk)
    _hazard(world, _premise(world, BLOCK), RecordHazard.Kind.WEAPONS, "Firearm reported in the house")
    items = _briefing(world, HOUSE, category=Category.MENTAL_HEALTH, narrative="Person in crisis, calm")
    assert items["co_responder:behavioral_health"]["data"]["mode"] == "with_police"


def test_prior_calls_say_whether_they_are_at_this_address_or_on_this_block(world: World) -> None:
    earlier = timezone.now() - timedelta(days=10)
    make_call(world, event="OLD-1", address=HOUSE, received_at=earlier)
    assert _briefing(world, HOUSE)["prior_calls:address"]["title"] == "1 prior call at this address"
    make_call(world, event="OLD-2", address=BLOCK, received_at=earlier)
    make_call(world, event="26-0300002", address=BLOCK)
    call = make_call(world, event="26-0300003", address=BLOCK)
    version = briefing_assemble(call_id=call.pk, reason=BriefingVersion.Reason.CALL_CREATED)
    assert version is not None
    prior = next(i for i in version.items if i["id"] == "prior_calls:address")
    assert prior["title"].endswith("on this block") and prior["data"]["match"] == "block"
