"""Unit locations and emergencies in tests/api/test_access_matrix.py: the records every persona is tried against.

Omar's unit 2A12 and Xavier's OC7 have a latest fix and a track; each officer has an open emergency.
Analysts and supervisors may look up a track (with a purpose and case number); officers, co-responders,
administrators, auditors and other agencies may not (404). Emergencies are their agency's officers',
analysts' and supervisors' to read; the officer closes his own, a supervisor any; others acknowledge.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from apps.emergencies.models import Emergency, EmergencyStep
from apps.locations.models import PositionReport, TrackLookup, UnitPosition
from tests.base import World

PURPOSE = "Access matrix: where was the unit at the time of the stop"
UNIT_404 = {"status": 404, "code": "unit_not_found"}
EMERGENCY_404 = {"status": 404, "code": "emergency_not_found"}
NOT_ALLOWED = {"status": 403, "code": "emergency_not_allowed"}


def _fix(unit: Any, user: Any, lat: float, lon: float) -> None:
    now = timezone.now()
    PositionReport.objects.create(unit=unit, user=user, latitude=lat, longitude=lon, reported_at=now - timedelta(
        seconds=30), received_at=now)
    UnitPosition.objects.create(unit=unit, user=user, agency_id=unit.agency_id, latitude=lat, longitude=lon,
                                reported_at=now - timedelta(seconds=30), received_at=now)


def _emergency(user: Any, unit: Any, lat: float, lon: float) -> Emergency:
    now = timezone.now()
    emergency = Emergency.objects.create(agency_id=user.agency_id, officer=user, unit=unit, source="phone",
                                         latitude=lat, longitude=lon, raised_at=now)
    EmergencyStep.objects.create(emergency=emergency, kind=EmergencyStep.Kind.RAISED, at=now, by=user)
    return emergency


def location_records(world: World, records: dict[str, Any]) -> dict[str, Any]:
    xavier_unit = records["xavier_unit"]
    _fix(world.unit, world.omar, 47.5301, -122.2700)
    _fix(xavier_unit, world.xavier, 47.2, -122.5)
    return {"demo_emergency": _emergency(world.omar, world.unit, 47.5301, -122.2700),
            "xavier_emergency": _emergency(world.xavier, xavier_unit, 47.2, -122.5)}


def track_body() -> dict[str, Any]:
    now = timezone.now()
    return {"start": (now - timedelta(hours=1)).isoformat(), "end": now.isoformat(), "purpose": PURPOSE,
            "case_number": "26-000101"}


def after_locations(records: dict[str, Any], user: Any, op_id: str, target: str, ok: bool, body: Any) -> None:
    """A refused lookup leaves no record of one; an allowed one is on the officer's list; a refused close or
    acknowledgement leaves the emergency as it was."""
    if op_id == "units_track_lookup":
        made = TrackLookup.objects.filter(looked_by=user)
        assert made.exists() == ok
        if ok:
            assert len(body["points"]) == 1 and made.get().officers.count() == 1
    elif op_id in {"emergencies_close", "emergencies_acknowledge"} and target != "missing":
        emergency = Emergency.objects.get(pk=records[target].pk)
        changed = emergency.closed_at is not None if op_id == "emergencies_close" else (
            emergency.acknowledged_at is not None)
        assert changed == ok
