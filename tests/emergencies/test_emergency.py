"""An officer needs help: the units within the radius, the supervisors on duty and the center are told at once,
over the stream and by push alert; nobody acknowledging escalates; it closes with a reason, all on the record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import TestCase
from django.utils import timezone

from apps.accounts.models import Role, Unit, User
from apps.audit.models import AuditEvent
from apps.calls.models import Call
from apps.calls.selectors import officers_on_call
from apps.cameras.models import CameraPin
from apps.cameras.services import camera_create
from apps.delivery.models import Delivery, Event
from apps.delivery.services import alerts_send_due, dispatcher_jobs_run
from apps.emergencies.models import Emergency, EmergencyStep
from apps.emergencies.services import emergency_close
from apps.media.models import ClipJob
from tests.base import World, make_user, signed_in_client
from tests.fakes.fcm_server import FakeFCM
from tests.locations.helpers import RAINIER, fix, officer_on_a_unit_at, post_positions

pytestmark = pytest.mark.django_db


def _phone(user: User, token: str) -> Any:
    client = signed_in_client(user)
    assert client.patch("/api/v1/me/device", {"push_token": token}, format="json").status_code == 200
    return client


@pytest.fixture
def scene(world: World) -> dict[str, User]:
    """Omar in Rainier Valley; Nia 1 km away, Dex downtown 11 km away; Sam supervising on a unit's shift."""
    post_positions(signed_in_client(world.omar), fix(ago_s=3))
    sam_unit = Unit.objects.create(agency=world.agency, call_sign="S1")
    sam_unit.members_on_shift.add(world.sam)
    camera_create(agency=world.agency, name="Rainier trailer", kind="trailer", owner="Demo City PD",
                  source_kind="rtsp", source_url="rtsp://127.0.0.1:8554/trailer", latitude=RAINIER[0] + 0.0005,
                  longitude=RAINIER[1], sharing="always", actor=None)
    return {"nia": officer_on_a_unit_at(world, "2B7", RAINIER[0] + 0.009, RAINIER[1]),
            "dex": officer_on_a_unit_at(world, "3D1", 47.6200, -122.3300)}


def _raise(client: Any, **position: float) -> Any:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post("/api/v1/emergencies", {"source": "phone", **position}, format="json")


def test_it_reaches_the_units_in_the_radius_the_supervisor_and_the_center(world: World, scene: dict[str, User],
                                                                         fcm: FakeFCM) -> None:
    for user in (scene["nia"], scene["dex"], world.sam, world.ava):
        _phone(user, f"{user.username}-token")
    response = _raise(signed_in_client(world.omar))
    assert response.status_code == 201, response.content
    emergency = Emergency.objects.get(pk=response.json()["id"])
    told = set(Delivery.objects.filter(push_id=emergency.push_id).values_list("user_id", flat=True))
    assert told == {scene["nia"].pk, world.sam.pk, world.ava.pk}  # not Dex, 11 km away; not Omar himself
    # Stream and push alert at once, never one alone: every recipient's alert is due now, socket or not.
    assert alerts_send_due() == 3
    tokens = {r.token for r in fcm.received()}
    assert tokens == {"2b7-token", "sam-token", "ava-token"}
    for received in fcm.received():
        assert received.message["notification"]["title"] == "Priority 1 emergency"  # nothing else on the lock screen
        assert received.message["android"]["priority"] == "high"
    events = Event.objects.filter(type="emergency", op="raised")
    assert set(events.values_list("user_id", flat=True)) == {scene["nia"].pk, world.sam.pk, world.ava.pk,
                                                             world.omar.pk}


def test_it_is_on_the_incidents_record_with_cameras_pinned_and_a_clip_asked(world: World,
                                                                           scene: dict[str, User]) -> None:
    emergency = Emergency.objects.get(pk=_raise(signed_in_client(world.omar)).json()["id"])
    call = Call.objects.get(pk=emergency.call_id)
    assert call.priority == 1 and call.cad_code == "OFFICER-EMERGENCY"
    assert call.assignments.filter(unit=world.unit, cleared_at__isnull=True).exists()
    assert CameraPin.objects.filter(call=call).count() == 1
    assert ClipJob.objects.filter(call=call, requested_by__isnull=True).count() == 1
    # Everyone the raise reached, and Omar, hear that the incident is filed: their screens list it now.
    filed = Event.objects.filter(type="emergency", op="filed", object_id=str(emergency.pk))
    told = set(Delivery.objects.filter(push_id=emergency.push_id).values_list("user_id", flat=True))
    assert told and set(filed.values_list("user_id", flat=True)) == told | {world.omar.pk}
    kinds = list(emergency.steps.values_list("kind", flat=True))
    assert kinds == ["raised", "notified", "cameras_pinned", "clip_requested"]
    audited = AuditEvent.objects.filter(object_type="emergencies.emergency", object_id=str(emergency.pk)).exclude(
        action=AuditEvent.Action.READ)
    assert [e.detail["step"] for e in audited.order_by("id")] == kinds


def test_omars_partner_on_his_unit_is_alerted_even_before_there_is_a_fix(world: World, fcm: FakeFCM) -> None:
    partner = make_user("pat", Role.OFFICER, world.agency)
    world.unit.members_on_shift.add(partner)
    _phone(partner, "pat-token")
    emergency = Emergency.objects.get(pk=_raise(signed_in_client(world.omar)).json()["id"])
    assert emergency.latitude is None  # no fix: no unit can be "within the radius"
    told = set(Delivery.objects.filter(push_id=emergency.push_id).values_list("user_id", flat=True))
    assert partner.pk in told and world.omar.pk not in told
    alerts_send_due()
    assert "pat-token" in {r.token for r in fcm.received()}


def test_omars_phone_is_not_rung_with_news_of_his_own_emergency_but_his_partners_is(world: World,
                                                                                    scene: dict[str, User]) -> None:
    partner = make_user("pat", Role.OFFICER, world.agency)
    world.unit.members_on_shift.add(partner)
    emergency = Emergency.objects.get(pk=_raise(signed_in_client(world.omar)).json()["id"])
    briefings = Delivery.objects.filter(push__type="briefing", push__call_id=emergency.call_id)
    assert set(briefings.values_list("user_id", flat=True)) == {partner.pk}
    # He still sees the incident among his calls, and once it is closed he hears of it again.
    mine = signed_in_client(world.omar).get("/api/v1/calls", {"mine": "true"})
    assert emergency.call_id in [c["id"] for c in mine.json()["results"]]
    assert officers_on_call(emergency.call_id) == [partner.pk]
    emergency_close(user=world.omar, emergency_id=emergency.pk, reason="resolved")
    assert officers_on_call(emergency.call_id) == sorted([world.omar.pk, partner.pk])


def test_a_second_press_is_the_same_emergency(world: World, scene: dict[str, User]) -> None:
    client = signed_in_client(world.omar)
    first = _raise(client)
    again = _raise(client)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert Emergency.objects.count() == 1


def test_unacknowledged_it_escalates_to_everyone_on_duty_once(world: World, scene: dict[str, User]) -> None:
    emergency_id = _raise(signed_in_client(world.omar)).json()["id"]
    assert dispatcher_jobs_run() == 0  # within 15 s: nothing yet
    Emergency.objects.filter(pk=emergency_id).update(raised_at=timezone.now() - timedelta(seconds=16))
    assert dispatcher_jobs_run() == 1
    assert dispatcher_jobs_run() == 0  # once
    escalated = Delivery.objects.filter(push__type="emergency", push__op="escalated")
    assert scene["dex"].pk in set(escalated.values_list("user_id", flat=True))
    assert EmergencyStep.objects.filter(emergency_id=emergency_id, kind="escalated").count() == 1


def test_acknowledged_it_does_not_escalate_and_the_officer_hears(world: World, scene: dict[str, User]) -> None:
    emergency_id = _raise(signed_in_client(world.omar)).json()["id"]
    response = signed_in_client(scene["nia"]).post(f"/api/v1/emergencies/{emergency_id}/acknowledge")
    assert response.status_code == 200 and response.json()["acknowledged_by"] == scene["nia"].pk
    Emergency.objects.filter(pk=emergency_id).update(raised_at=timezone.now() - timedelta(seconds=60))
    assert dispatcher_jobs_run() == 0
    assert Event.objects.filter(user=world.omar, type="emergency", op="acknowledged").exists()
    assert Delivery.objects.get(push__type="emergency", user=scene["nia"]).acknowledged_at is not None


def test_omar_closes_it_as_a_false_alarm_and_everyone_told_hears(world: World, scene: dict[str, User]) -> None:
    client = signed_in_client(world.omar)
    emergency_id = _raise(client).json()["id"]
    assert client.post(f"/api/v1/emergencies/{emergency_id}/close", {}, format="json").json()["code"] == \
        "close_reason_required"
    response = client.post(f"/api/v1/emergencies/{emergency_id}/close", {"reason": "false_alarm"}, format="json")
    assert response.status_code == 200 and response.json()["close_reason"] == "false_alarm"
    assert response.json()["steps"][-1]["kind"] == "closed"
    assert Event.objects.filter(user=world.sam, type="emergency", op="closed").exists()
    again = client.post(f"/api/v1/emergencies/{emergency_id}/close", {"reason": "resolved"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "emergency_closed"


def test_only_the_officer_or_a_supervisor_closes_it(world: World, scene: dict[str, User]) -> None:
    emergency_id = _raise(signed_in_client(world.omar)).json()["id"]
    for user in (scene["nia"], world.ava):
        response = signed_in_client(user).post(f"/api/v1/emergencies/{emergency_id}/close", {"reason": "resolved"},
                                               format="json")
        assert response.status_code == 403 and response.json()["code"] == "emergency_not_allowed"
    response = signed_in_client(world.sam).post(f"/api/v1/emergencies/{emergency_id}/close",
                                                {"reason": "resolved"}, format="json")
    assert response.status_code == 200


def test_xavier_and_cora_see_nothing_of_it(world: World, scene: dict[str, User]) -> None:
    emergency_id = _raise(signed_in_client(world.omar)).json()["id"]
    for user in (world.xavier, world.cora, world.abe, world.aud):
        client = signed_in_client(user)
        assert client.get(f"/api/v1/emergencies/{emergency_id}").status_code == 404
        assert client.get("/api/v1/emergencies").json()["results"] == []
        assert client.post(f"/api/v1/emergencies/{emergency_id}/acknowledge").status_code == 404
    assert not Delivery.objects.filter(user__in=[world.xavier, world.cora]).exists()


def test_only_an_officer_raises_one(world: World, scene: dict[str, User]) -> None:
    for user in (world.ava, world.cora, world.xavier):
        response = signed_in_client(user).post("/api/v1/emergencies", {"source": "phone"}, format="json")
        if user == world.xavier:
            assert response.status_code == 201  # his own agency's emergency, told to his own agency only
            continue
        assert response.status_code == 403 and response.json()["code"] == "emergency_not_allowed"
    assert not Delivery.objects.filter(push__type="emergency", user__agency=world.agency).exists()


def test_a_press_from_a_phone_without_a_fix_is_placed_at_his_units_last_fix(world: World,
                                                                            scene: dict[str, User]) -> None:
    # 0, 0 is what a phone without a fix sends: taken as the position, nobody near him would be told.
    response = _raise(signed_in_client(world.omar), latitude=0, longitude=0)
    assert response.status_code == 201, response.content
    emergency = Emergency.objects.get(pk=response.json()["id"])
    assert (emergency.latitude, emergency.longitude) == RAINIER
    told = set(Delivery.objects.filter(push_id=emergency.push_id).values_list("user_id", flat=True))
    assert scene["nia"].pk in told and scene["dex"].pk not in told


def test_a_position_off_the_earth_is_refused_and_nothing_is_raised(world: World, scene: dict[str, User]) -> None:
    response = signed_in_client(world.omar).post("/api/v1/emergencies", {"source": "phone", "latitude": 123,
                                                                          "longitude": 0}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "position_out_of_range"
    assert not Emergency.objects.exists() and not Call.objects.filter(cad_code="OFFICER-EMERGENCY").exists()
