"""A past track needs a purpose and a case number; it is audited, and the officer sees who looked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.locations.models import PositionReport, TrackLookup
from apps.locations.services import tracks_purge
from tests.base import World, signed_in_client
from tests.locations.helpers import fix, post_positions

pytestmark = pytest.mark.django_db
PURPOSE = "Use-of-force review of the 08:10 stop on Rainier Ave"


def _look(user: object, unit_id: int, **body: object) -> object:
    now = timezone.now()
    payload = {"start": (now - timedelta(hours=1)).isoformat(), "end": now.isoformat(), **body}
    return signed_in_client(user).post(f"/api/v1/units/{unit_id}/track", payload, format="json")  # type: ignore[arg-type]


@pytest.fixture
def driven(world: World) -> None:
    post_positions(signed_in_client(world.omar), fix(ago_s=60), fix(ago_s=30, lat=47.5310), fix(ago_s=5, lat=47.532))


def test_a_lookup_without_a_purpose_is_refused_and_records_nothing(world: World, driven: None) -> None:
    response = _look(world.sam, world.unit.pk, case_number="26-000101")
    assert response.status_code == 400 and response.json()["code"] == "purpose_required"  # type: ignore[attr-defined]
    response = _look(world.sam, world.unit.pk, purpose=PURPOSE)
    assert response.status_code == 400 and response.json()["code"] == "case_number_required"  # type: ignore[attr-defined]
    assert not TrackLookup.objects.exists()
    assert not AuditEvent.objects.filter(actor=world.sam, object_type="accounts.unit").exists()


def test_a_lookup_with_a_purpose_is_audited_and_omar_sees_who_looked(world: World, driven: None) -> None:
    response = _look(world.sam, world.unit.pk, purpose=PURPOSE, case_number="26-000101")
    assert response.status_code == 200, response.content  # type: ignore[attr-defined]
    assert [p["latitude"] for p in response.json()["points"]] == [47.5301, 47.5310, 47.532]  # type: ignore[attr-defined]
    event = AuditEvent.objects.get(actor=world.sam, object_type="accounts.unit", object_id=str(world.unit.pk))
    assert event.detail["purpose"] == PURPOSE and event.detail["case_number"] == "26-000101"
    mine = signed_in_client(world.omar).get("/api/v1/me/track-lookups").json()["results"]
    assert [(m["looked_by"], m["purpose"], m["case_number"]) for m in mine] == [("Sam", PURPOSE, "26-000101")]
    assert signed_in_client(world.ava).get("/api/v1/me/track-lookups").json()["results"] == []


def test_officers_co_responders_and_xavier_cannot_look_up_a_track(world: World, driven: None) -> None:
    for user in (world.omar, world.cora, world.xavier, world.abe, world.aud):
        response = _look(user, world.unit.pk, purpose=PURPOSE, case_number="26-000101")
        assert response.status_code == 404 and response.json()["code"] == "unit_not_found"  # type: ignore[attr-defined]
    assert not TrackLookup.objects.exists()


def test_the_purge_drops_points_past_retention_and_is_audited(world: World, driven: None, settings: object) -> None:
    PositionReport.objects.filter(latitude=47.5301).update(received_at=timezone.now() - timedelta(days=31))
    assert tracks_purge() == 1
    assert PositionReport.objects.count() == 2
    event = AuditEvent.objects.filter(object_type="locations.positionreport").latest("id")
    assert event.actor_username == "retention" and event.detail["deleted"] == 1
    assert event.detail["retention_days"] == 30
