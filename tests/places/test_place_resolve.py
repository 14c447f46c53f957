from __future__ import annotations

import random

import pytest
from django.utils import timezone

from apps.cases.models import Premise, Restriction
from apps.places.geo import geohash_encode
from apps.places.normalize import address_key
from apps.places.services import place_resolve, premise_spots_by_key
from fixtures.demo_city import Address, CityBuilder
from tests.base import World

pytestmark = pytest.mark.django_db

LAT, LON = 47.51985, -122.26803  # the 92XX block of Rainier Ave S, from the SPD calls
CALL_LAT, CALL_LON = 47.5201, -122.2675


def premise(world: World, address: str = "92XX BLOCK OF RAINIER AV S", *, agency_id: int | None = None,
            located: bool = True, **extra: object) -> Premise:
    return Premise.objects.create(
        agency_id=agency_id or world.agency.pk, address=address, address_key=address_key(address),
        latitude=LAT if located else None, longitude=LON if located else None,
        cell=geohash_encode(LAT, LON) if located else "", **extra)


def test_a_call_finds_the_premise_under_another_spelling(world: World) -> None:
    here = premise(world)
    place = place_resolve(agency_id=world.agency.pk, address="9200 block of Rainier Avenue South", latitude=CALL_LAT,
                          longitude=CALL_LON)
    assert place.premise_id == here.pk
    assert place.address_key == "9200 BLOCK RAINIER AVE S"


def test_a_house_is_not_its_hundred_blocks_premise(world: World) -> None:
    premise(world)
    place = place_resolve(agency_id=world.agency.pk, address="9241 Rainier Ave S", latitude=CALL_LAT,
                          longitude=CALL_LON)
    assert (place.address_key, place.premise_id) == ("9241 RAINIER AVE S", None)


def test_a_call_without_a_position_takes_the_premises(world: World) -> None:
    here = premise(world)
    place = place_resolve(agency_id=world.agency.pk, address="9200 block of Rainier Ave S", latitude=None,
                          longitude=None)
    assert (place.latitude, place.longitude, place.located_by) == (LAT, LON, "premise")
    assert place.cell == geohash_encode(LAT, LON)
    assert place.premise_id == here.pk


def test_a_call_with_a_position_keeps_its_own(world: World) -> None:
    premise(world)
    place = place_resolve(agency_id=world.agency.pk, address="92XX BLOCK OF RAINIER AV S", latitude=CALL_LAT,
                          longitude=CALL_LON)
    assert (place.latitude, place.longitude, place.located_by) == (CALL_LAT, CALL_LON, "cad")
    assert place.cell == geohash_encode(CALL_LAT, CALL_LON)


def test_an_unknown_address_without_a_position_is_unlocated(world: World) -> None:
    premise(world)
    place = place_resolve(agency_id=world.agency.pk, address="1XX BLOCK OF PINE ST", latitude=None, longitude=None)
    assert place.address_key == "100 BLOCK PINE ST"
    assert (place.latitude, place.longitude, place.cell, place.located_by, place.premise_id) == (
        None, None, "", "", None)


def test_an_unknown_address_with_a_position_is_located_by_the_cad(world: World) -> None:
    place = place_resolve(agency_id=world.agency.pk, address="1XX BLOCK OF PINE ST", latitude=CALL_LAT,
                          longitude=CALL_LON)
    assert (place.located_by, place.premise_id) == ("cad", None)


def test_half_a_position_locates_nothing(world: World) -> None:
    place = place_resolve(agency_id=world.agency.pk, address="1XX BLOCK OF PINE ST", latitude=CALL_LAT,
                          longitude=None)
    assert (place.latitude, place.longitude, place.cell, place.located_by) == (None, None, "", "")


def test_a_premise_without_a_position_is_matched_but_locates_nothing(world: World) -> None:
    here = premise(world, located=False)
    place = place_resolve(agency_id=world.agency.pk, address="92XX BLOCK OF RAINIER AV S", latitude=None,
                          longitude=None)
    assert (place.premise_id, place.located_by, place.cell) == (here.pk, "", "")


def test_a_withheld_address_matches_no_premise(world: World) -> None:
    Premise.objects.create(agency=world.agency, address="unknown", address_key="", latitude=LAT, longitude=LON)
    place = place_resolve(agency_id=world.agency.pk, address="Restricted Address", latitude=None, longitude=None)
    assert (place.address_key, place.premise_id, place.located_by) == ("", None, "")


def test_a_restricted_premise_is_never_matched(world: World) -> None:
    premise(world, restriction=Restriction.UNDERCOVER)
    place = place_resolve(agency_id=world.agency.pk, address="92XX BLOCK OF RAINIER AV S", latitude=None,
                          longitude=None)
    assert (place.premise_id, place.located_by) == (None, "")


def test_another_agencys_premise_is_never_matched(world: World) -> None:
    premise(world, agency_id=world.other_agency.pk)
    place = place_resolve(agency_id=world.agency.pk, address="92XX BLOCK OF RAINIER AV S", latitude=None,
                          longitude=None)
    assert place.premise_id is None


def test_the_bulk_lookup_picks_the_same_premise_as_the_single_one(world: World) -> None:
    premise(world, "92XX BLOCK OF RAINIER AV S")
    first = premise(world, "9200 block of Rainier Ave S")  # the same key, and first by address ("b" < "X")
    premise(world, "Pine St", restriction=Restriction.SEALED)
    spots = premise_spots_by_key(agency_id=world.agency.pk)
    assert set(spots) == {"9200 BLOCK RAINIER AVE S"}
    assert spots["9200 BLOCK RAINIER AVE S"].id == first.pk
    single = place_resolve(agency_id=world.agency.pk, address="9200 BLOCK RAINIER AVE S", latitude=None,
                           longitude=None)
    assert single.premise_id == first.pk


def test_a_demo_city_premise_is_found_by_the_calls_at_its_address(world: World) -> None:
    builder = CityBuilder(rng=random.Random(1), progress=lambda n: None, now=timezone.now())  # noqa: S311
    demo = builder.premise(world.agency, Address("S KING ST / 8 AV S", 47.598347, -122.32245, calls=2))
    demo.save()
    assert (demo.address_key, demo.cell) == ("8TH AVE S / S KING ST", geohash_encode(47.598347, -122.32245))
    place = place_resolve(agency_id=world.agency.pk, address="8th Ave S & S King St", latitude=None, longitude=None)
    assert (place.premise_id, place.located_by) == (demo.pk, "premise")
