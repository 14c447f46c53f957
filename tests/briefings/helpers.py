"""A call with everything a briefing can say about it, for the briefing tests."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

from django.utils import timezone

from apps.accounts.models import Agency
from apps.briefings.services import briefing_assemble, recommendation_rules_seed
from apps.calls.models import Call, Category, UnitAssignment
from apps.cases.models import Case, CasePerson, Person, Premise, Restriction
from apps.hazards.loading import health_dataset_load, read_areas, read_long_rates
from apps.hazards.models import HealthDataset, RecordHazard
from apps.places.geo import geohash_encode
from apps.places.normalize import address_key
from tests.base import World

# A premise in Seattle's Rainier Valley (a real hundred block from the SPD calls).
ADDRESS = "92XX BLOCK OF RAINIER AV S"
LAT, LON = 47.5195, -122.2690


def premise_at(world: World, agency_id: int | None = None) -> Premise:
    return Premise.objects.create(agency_id=agency_id or world.agency.pk, address=ADDRESS,
                                  address_key=address_key(ADDRESS), latitude=LAT, longitude=LON,
                                  cell=geohash_encode(LAT, LON))


def make_call(world: World, *, event: str, agency_id: int | None = None, category: str = Category.DISTURBANCE,
              cad: str = "DISTURBANCE", narrative: str = "", received_at: datetime | None = None,
              premise: Premise | None = None, status: str = Call.Status.RECEIVED, address: str = ADDRESS) -> Call:
    return Call.objects.create(
        agency_id=agency_id or world.agency.pk, event_number=event, cad_code=cad, cad_description=cad,
        category=category, priority=2, status=status, address=address, address_key=address_key(address),
        latitude=LAT, longitude=LON, cell=geohash_encode(LAT, LON), located_by="cad", premise=premise,
        narrative=narrative, received_at=received_at or timezone.now())


def hotspot_dataset(tmp_path: Path, *, week: date, rate: float, agency: Agency | None = None) -> None:
    """A one-square health area around the premise, with one weekly rate, for one agency (or all)."""
    square = [[LON - 0.01, LAT - 0.01], [LON + 0.01, LAT - 0.01], [LON + 0.01, LAT + 0.01],
              [LON - 0.01, LAT + 0.01], [LON - 0.01, LAT - 0.01]]
    geojson = tmp_path / "areas.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"zone": "RV1", "name": "Rainier Valley"},
         "geometry": {"type": "Polygon", "coordinates": [square]}}]}))
    rates = tmp_path / "rates.csv"
    rates.write_text(f"zone,week,rate\nRV1,{week.isoformat()},{rate}\n")
    health_dataset_load(
        name="Test COVID", disease="COVID-19", ppe_advice="Wear an N95 respirator and gloves.",
        areas=read_areas(geojson, area_property="zone", label_property="name"),
        rates=read_long_rates(rates, week_column="week", week_format="%Y-%m-%d", area_column="zone",
                              rate_column="rate"),
    )
    if agency is not None:
        HealthDataset.objects.get(name="Test COVID").agencies.set([agency])


def full_scene(world: World, tmp_path: Path) -> Call:
    """Prior calls, a cautioned person on a case here, a dog, a hotspot, and a restricted case."""
    recommendation_rules_seed(agency_id=world.agency.pk)
    premise = premise_at(world)
    now = timezone.now()
    for n, category in enumerate([Category.DISTURBANCE, Category.DISTURBANCE, Category.MENTAL_HEALTH]):
        make_call(world, event=f"H-{n}", category=category, cad=category.upper(), premise=premise,
                  received_at=now - timedelta(days=30 * (n + 1)), status=Call.Status.CLOSED)
    case = Case.objects.create(agency=world.agency, number="26-000500", case_type="Assault", title="Rainier fight",
                               opened_at=now)
    case.premises.add(premise)
    CasePerson.objects.create(case=case, person=world.person, involvement=CasePerson.Involvement.SUSPECT)
    sealed = Case.objects.create(agency=world.agency, number="26-000501", case_type="Informant",
                                 title="Sealed matter", opened_at=now, restriction=Restriction.SEALED)
    sealed.premises.add(premise)
    secret = Person.objects.create(agency=world.agency, first_name="Sealed", last_name="Witness")
    CasePerson.objects.create(case=sealed, person=secret)
    RecordHazard.objects.create(agency=world.agency, kind=RecordHazard.Kind.DOG, premise=premise,
                                description="Two pit bulls in the back yard", source="call H-0",
                                reported_at=now - timedelta(days=30))
    hotspot_dataset(tmp_path, week=now.date() - timedelta(days=3), rate=450.0, agency=world.agency)
    call = make_call(world, event="LIVE-1", premise=premise, narrative="Loud argument, neighbours worried")
    UnitAssignment.objects.create(call=call, unit=world.unit, assigned_at=now)
    briefing_assemble(call_id=call.pk, reason="call_created")
    return call
