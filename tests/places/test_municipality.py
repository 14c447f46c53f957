"""Places are scoped: the same corner in two townships is two places, and one key needs the points near."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from apps.briefings.models import BriefingVersion
from apps.briefings.services import briefing_assemble
from apps.calls.models import Call
from apps.cases.models import Premise
from apps.places.geo import geohash_encode
from apps.places.normalize import address_key, municipality_key
from apps.places.services import place_resolve
from tests.base import World
from tests.calls.test_import import run, summary, write

pytestmark = pytest.mark.django_db

# Two Pennsylvania townships 21 km apart that both have a Main St and Oak Ave.
LOWER_MERION = (40.0096, -75.2760)
UPPER_DUBLIN = (40.1489, -75.1853)


def _briefing_items(call: Call) -> dict[str, dict]:
    version = briefing_assemble(call_id=call.pk, reason=BriefingVersion.Reason.CALL_CREATED)
    assert version is not None
    return {i["id"]: i for i in version.items}


def test_a_municipality_is_spelt_one_way() -> None:
    assert {municipality_key(m) for m in ("Lower Merion Twp", "LOWER MERION TOWNSHIP", "Township of Lower Merion",
                                          "lower merion twp.")} == {"LOWER MERION TOWNSHIP"}
    assert municipality_key("City of Orlando") == municipality_key("Orlando") == "ORLANDO"
    assert municipality_key("Kansas City") == "KANSAS CITY"


def test_the_two_townships_intersections_are_two_places(world: World, tmp_path: Path) -> None:
    (lat1, lon1), (lat2, lon2) = LOWER_MERION, UPPER_DUBLIN
    csv_path = write(tmp_path / "county.csv", "id,when,type,where,township,lat,lon\n"
                     f"C-1,2024-03-01 10:00,DISTURBANCE,MAIN ST / OAK AVE,Lower Merion Twp,{lat1},{lon1}\n"
                     f"C-2,2024-03-02 11:00,DISTURBANCE,Oak Avenue & Main Street,Upper Dublin Township,{lat2},{lon2}\n")
    mapping = write(tmp_path / "county.yaml", "timezone: America/New_York\ncolumns:\n  event_number: id\n"
                    "  received_at: when\n  cad_code: type\n  address: where\n  municipality: township\n"
                    "  latitude: lat\n  longitude: lon\n")
    out, _ = run("import_calls", csv_path, "--format", "mapping", "--mapping", mapping)
    assert summary(out).startswith("loaded 2,")
    keys = dict(Call.objects.values_list("event_number", "address_key"))
    assert keys == {"C-1": "LOWER MERION TOWNSHIP: MAIN ST / OAK AVE",
                    "C-2": "UPPER DUBLIN TOWNSHIP: MAIN ST / OAK AVE"}
    live = Call.objects.get(event_number="C-2")
    live.received_at = timezone.now()
    live.save(update_fields=["received_at"])
    Call.objects.filter(event_number="C-1").update(received_at=timezone.now() - timedelta(days=3))
    assert "prior_calls:address" not in _briefing_items(live)


def test_without_a_municipality_the_same_words_21_km_apart_are_not_at_this_address(world: World) -> None:
    (lat1, lon1), (lat2, lon2) = LOWER_MERION, UPPER_DUBLIN
    now = timezone.now()
    key = address_key("MAIN ST / OAK AVE")
    common = {"agency": world.agency, "cad_code": "DISTURBANCE", "address": "MAIN ST / OAK AVE", "address_key": key,
              "located_by": "cad"}
    Call.objects.create(event_number="FAR-1", latitude=lat1, longitude=lon1, cell=geohash_encode(lat1, lon1),
                        received_at=now - timedelta(days=2), **common)
    Call.objects.create(event_number="NEAR-1", latitude=lat2 + 0.0005, longitude=lon2,
                        cell=geohash_encode(lat2 + 0.0005, lon2), received_at=now - timedelta(days=1), **common)
    live = Call.objects.create(event_number="LIVE-1", latitude=lat2, longitude=lon2, cell=geohash_encode(lat2, lon2),
                               received_at=now, **common)
    prior = _briefing_items(live)["prior_calls:address"]
    assert prior["title"] == "1 prior call at this address"
    assert [c["event_number"] for c in prior["data"]["last"]] == ["NEAR-1"]


def test_a_premise_far_from_the_call_is_not_this_address(world: World) -> None:
    lat, lon = LOWER_MERION
    Premise.objects.create(agency=world.agency, address="MAIN ST / OAK AVE",
                           address_key=address_key("MAIN ST / OAK AVE"), latitude=lat, longitude=lon,
                           cell=geohash_encode(lat, lon), hazards="Dog")
    far = place_resolve(agency_id=world.agency.pk, address="Main St & Oak Ave", latitude=UPPER_DUBLIN[0],
                        longitude=UPPER_DUBLIN[1])
    near = place_resolve(agency_id=world.agency.pk, address="Main St & Oak Ave", latitude=lat + 0.0003,
                         longitude=lon)
    assert far.premise_id is None and near.premise_id is not None


def test_the_agencys_municipality_scopes_an_address_the_source_gives_without_one(world: World) -> None:
    world.agency.municipality = "Lower Merion Twp"
    world.agency.save(update_fields=["municipality"])
    bare = place_resolve(agency_id=world.agency.pk, address="MAIN ST / OAK AVE", latitude=None, longitude=None)
    named = place_resolve(agency_id=world.agency.pk, address="MAIN ST / OAK AVE", latitude=None, longitude=None,
                          municipality="Upper Dublin")
    assert bare.address_key == "LOWER MERION TOWNSHIP: MAIN ST / OAK AVE"
    assert named.address_key == "UPPER DUBLIN: MAIN ST / OAK AVE"


def test_the_migration_rekeys_existing_houses_and_scopes_them(world: World) -> None:
    from importlib import import_module

    rekey = import_module("apps.calls.migrations.0004_rekey_places")
    house = Premise.objects.create(agency=world.agency, address="9241 Rainier Ave S",
                                   address_key="9200 BLOCK RAINIER AVE S")  # the key the old rule gave
    township = Premise.objects.create(agency=world.agency, address="MAIN ST / OAK AVE", municipality="Lower Merion Twp",
                                      address_key="MAIN ST / OAK AVE")
    call = Call.objects.create(agency=world.agency, event_number="OLD-9", cad_code="X", address="9241 Rainier Ave S",
                               address_key="9200 BLOCK RAINIER AVE S", received_at=timezone.now())
    rekey.forward(django_apps, None)
    house.refresh_from_db()
    township.refresh_from_db()
    call.refresh_from_db()
    assert house.address_key == call.address_key == "9241 RAINIER AVE S"
    assert township.address_key == "LOWER MERION TOWNSHIP: MAIN ST / OAK AVE"
    rekey.backward(django_apps, None)
    house.refresh_from_db()
    assert house.address_key == "9200 BLOCK RAINIER AVE S"
