"""An analyst pushes a briefing to an audience; each recipient's state is tracked from sent to acknowledged."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import TestCase
from django.utils import timezone

from apps.accounts.models import Role, Unit
from apps.briefings.services import briefing_assemble
from apps.calls.models import Call, UnitAssignment
from apps.delivery.models import Delivery, Event, Push
from tests.base import World, make_user, signed_in_client
from tests.briefings.helpers import LAT, LON, make_call


def _call(world: World, *, priority: int = 2, assigned: bool = False) -> Call:
    call = make_call(world, event="PUSH-1")
    Call.objects.filter(pk=call.pk).update(priority=priority)
    if assigned:
        UnitAssignment.objects.create(call=call, unit=world.unit, assigned_at=timezone.now())
    briefing_assemble(call_id=call.pk, reason="call_created")
    return Call.objects.get(pk=call.pk)


def _push(world: World, call: Call, audience: dict[str, Any], *, by: Any = None) -> dict[str, Any]:
    # Recipients are resolved after commit (eager Celery here): run the commit hooks as a commit would.
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = signed_in_client(by or world.ava).post(f"/api/v1/calls/{call.pk}/briefing/push",
                                                          {"audience": audience}, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def _recipients(push_id: int) -> set[str]:
    return set(Delivery.objects.filter(push_id=push_id).values_list("user__username", flat=True))


def test_a_push_to_a_unit_reaches_its_officers_on_shift_and_nobody_else(world: World) -> None:
    call = _call(world)
    body = _push(world, call, {"kind": "unit", "ids": [world.unit.pk]})
    assert _recipients(body["id"]) == {"omar"}
    event = Event.objects.get(user=world.omar, payload__push=body["id"])
    assert (event.type, event.op, event.object_id) == ("briefing", "pushed", str(call.briefing.pk))
    assert set(event.payload) == {"call_id", "version", "priority", "push"}, "ids only, never content"
    assert not Event.objects.filter(user__in=[world.xavier, world.cora, world.sam]).exists()


def test_each_audience_kind_names_the_right_people(world: World) -> None:
    nina = make_user("nina", Role.OFFICER, world.agency)
    beat_unit = Unit.objects.create(agency=world.agency, call_sign="3B21", district="North", beat="K2")
    beat_unit.members_on_shift.add(nina)
    call = _call(world)

    assert _recipients(_push(world, call, {"kind": "beat", "value": "K2"})["id"]) == {"nina"}
    assert _recipients(_push(world, call, {"kind": "district", "value": "South"})["id"]) == {"omar"}
    assert _recipients(_push(world, call, {"kind": "role", "role": "supervisor"})["id"]) == {"sam"}
    assert _recipients(_push(world, call, {"kind": "user", "ids": [nina.pk, world.omar.pk]})["id"]) == {
        "nina", "omar"}
    # The agency: its officers, supervisors and analysts. Never the co-responder, the auditor, another agency.
    assert _recipients(_push(world, call, {"kind": "agency"})["id"]) == {"ava", "omar", "sam", "nina"}


def test_a_radius_push_reaches_devices_that_reported_a_position_inside_it(world: World) -> None:
    nina = make_user("nina", Role.OFFICER, world.agency)
    omar_phone, nina_phone = signed_in_client(world.omar), signed_in_client(nina)
    assert omar_phone.post("/api/v1/me/location", {"latitude": LAT + 0.002, "longitude": LON},
                           format="json").status_code == 200  # ~220 m away
    assert nina_phone.post("/api/v1/me/location", {"latitude": LAT + 0.05, "longitude": LON},
                           format="json").status_code == 200  # ~5.5 km away
    call = _call(world)
    body = _push(world, call, {"kind": "radius", "latitude": LAT, "longitude": LON, "radius_m": 500})
    assert _recipients(body["id"]) == {"omar"}


def test_a_phone_without_a_fix_keeps_its_last_real_position_for_radius_pushes(world: World) -> None:
    phone = signed_in_client(world.omar)
    assert phone.post("/api/v1/me/location", {"latitude": LAT + 0.002, "longitude": LON},
                      format="json").status_code == 200
    response = phone.post("/api/v1/me/location", {"latitude": 0, "longitude": 0}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_location"
    body = _push(world, _call(world), {"kind": "radius", "latitude": LAT, "longitude": LON, "radius_m": 500})
    assert _recipients(body["id"]) == {"omar"}


def test_a_pushed_briefing_opens_for_an_officer_not_on_the_call(world: World) -> None:
    call = _call(world)
    omar = signed_in_client(world.omar)
    assert omar.get(f"/api/v1/calls/{call.pk}/briefing").status_code == 404
    _push(world, call, {"kind": "user", "ids": [world.omar.pk]})
    assert omar.get(f"/api/v1/calls/{call.pk}/briefing").status_code == 200


def test_bad_audiences_are_refused_with_a_code_and_store_nothing(world: World) -> None:
    call = _call(world)
    ava = signed_in_client(world.ava)
    cases = [
        ({"kind": "everyone"}, "invalid"),
        ({"kind": "user", "ids": [world.xavier.pk]}, "unknown_recipient"),
        ({"kind": "user", "ids": []}, "invalid_audience"),
        ({"kind": "beat", "value": "Z9"}, "unknown_recipient"),
        ({"kind": "role", "role": "co_responder"}, "invalid_audience"),
        ({"kind": "radius", "latitude": LAT, "longitude": LON}, "invalid_audience"),
        ({"kind": "unit", "ids": ["2A12"]}, "invalid"),
    ]
    for audience, code in cases:
        response = ava.post(f"/api/v1/calls/{call.pk}/briefing/push", {"audience": audience}, format="json")
        assert response.status_code == 400, (audience, response.content)
        assert response.json()["code"] == code, (audience, response.json())
    assert not Push.objects.filter(sent_by=world.ava).exists()


def test_officers_cannot_push_and_xavier_cannot_see_the_call(world: World) -> None:
    call = _call(world, assigned=True)
    audience = {"audience": {"kind": "agency"}}
    response = signed_in_client(world.omar).post(f"/api/v1/calls/{call.pk}/briefing/push", audience, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "push_not_allowed")
    for persona in (world.xavier, world.cora):
        response = signed_in_client(persona).post(f"/api/v1/calls/{call.pk}/briefing/push", audience,
                                                  format="json")
        assert response.status_code == 404


def test_a_restricted_case_pushed_to_the_agency_reaches_only_its_named_users(world: World) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = signed_in_client(world.ava).post(f"/api/v1/cases/{world.juvenile_case.pk}/push",
                                                    {"audience": {"kind": "agency"}}, format="json")
    assert response.status_code == 202, response.content
    assert _recipients(response.json()["id"]) == {"ava"}
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = signed_in_client(world.ava).post(f"/api/v1/cases/{world.case.pk}/push",
                                                    {"audience": {"kind": "agency"}}, format="json")
    assert _recipients(response.json()["id"]) == {"ava", "omar", "sam"}


def test_the_analyst_and_supervisors_follow_each_recipient_from_sent_to_acknowledged(world: World) -> None:
    call = _call(world)
    push_id = _push(world, call, {"kind": "unit", "ids": [world.unit.pk]})["id"]
    omar = signed_in_client(world.omar)
    ava = signed_in_client(world.ava)

    def omar_status() -> str:
        body = ava.get(f"/api/v1/pushes/{push_id}").json()
        return next(r["status"] for r in body["recipients"] if r["username"] == "omar")

    assert omar_status() == "sent"
    event = Event.objects.get(user=world.omar, payload__push=push_id)
    assert omar.post("/api/v1/stream/ack", {"epoch": event.epoch, "offset": event.offset},
                     format="json").json() == {"delivered": 1}
    assert omar_status() == "delivered"
    assert omar.post(f"/api/v1/pushes/{push_id}/receipt", {"state": "opened"}, format="json").status_code == 200
    assert omar_status() == "opened"
    first = omar.post(f"/api/v1/pushes/{push_id}/receipt", {"state": "acknowledged"}, format="json").json()
    again = omar.post(f"/api/v1/pushes/{push_id}/receipt", {"state": "acknowledged"}, format="json").json()
    assert first == again, "a repeated acknowledgement changes nothing"
    assert omar_status() == "acknowledged"
    body = signed_in_client(world.sam).get(f"/api/v1/pushes/{push_id}").json()
    assert body["counts"]["acknowledged"] == 1
    listed = ava.get(f"/api/v1/pushes?call_id={call.pk}").json()
    assert [p["id"] for p in listed if p["sent_by"] == world.ava.pk] == [push_id]

    for persona in (world.omar, world.xavier, world.cora):
        assert signed_in_client(persona).get(f"/api/v1/pushes/{push_id}").status_code == 404
    response = signed_in_client(world.sam).post(f"/api/v1/pushes/{push_id}/receipt", {"state": "opened"},
                                                format="json")
    assert (response.status_code, response.json()["code"]) == (404, "push_not_found"), "Sam was not a recipient"


def test_another_analysts_push_is_not_yours_to_follow(world: World) -> None:
    call = _call(world)
    push_id = _push(world, call, {"kind": "agency"}, by=world.sam)["id"]
    ana = make_user("ana", Role.ANALYST, world.agency)
    assert signed_in_client(ana).get(f"/api/v1/pushes/{push_id}").status_code == 404
    assert signed_in_client(world.sam).get(f"/api/v1/pushes/{push_id}").status_code == 200


@pytest.mark.parametrize("offset_past_end", [True, False])
def test_acks_mark_only_what_the_device_has(world: World, offset_past_end: bool) -> None:
    call = _call(world)
    first = _push(world, call, {"kind": "user", "ids": [world.omar.pk]})["id"]
    second = _push(world, call, {"kind": "user", "ids": [world.omar.pk]})["id"]
    first_event = Event.objects.get(user=world.omar, payload__push=first)
    offset = first_event.offset + (10 if offset_past_end else 0)
    signed_in_client(world.omar).post("/api/v1/stream/ack", {"epoch": first_event.epoch, "offset": offset},
                                      format="json")
    delivered = set(Delivery.objects.filter(delivered_at__isnull=False).values_list("push_id", flat=True))
    assert delivered == ({first, second} if offset_past_end else {first})
    wrong_epoch = signed_in_client(world.omar).post("/api/v1/stream/ack", {"epoch": "0" * 16, "offset": 99},
                                                    format="json")
    assert wrong_epoch.json() == {"delivered": 0}


def test_an_unresolved_push_is_resolved_by_the_recovery_sweep(world: World) -> None:
    from apps.delivery.services import deliveries_recover, push_create

    call = _call(world)
    # As if the Celery message were lost: a pending push, older than the recovery threshold.
    push = Push.objects.create(agency=world.agency, sent_by=world.ava, type="briefing", op="pushed",
                               object_type="briefings.briefing", object_id=str(call.briefing.pk), priority=2,
                               audience={"kind": "unit", "ids": [world.unit.pk]},
                               created_at=timezone.now() - timedelta(minutes=5), expires_at=timezone.now())
    assert push_create  # the normal path is exercised above; here only the recovery
    deliveries_recover()
    push.refresh_from_db()
    assert push.state == Push.State.RESOLVED
    assert _recipients(push.pk) == {"omar"}
    deliveries_recover()
    assert Event.objects.filter(user=world.omar, payload__push=push.pk).count() == 1, "resolved once"


@pytest.mark.django_db(transaction=True)
def test_a_restricted_case_push_reaches_the_named_analysts_socket_and_not_omars(world: World) -> None:
    from asgiref.sync import async_to_sync
    from channels.db import database_sync_to_async

    from tests.delivery.helpers import WAIT, open_stream, ticket_for

    ava, omar = signed_in_client(world.ava), signed_in_client(world.omar)
    ava_ticket, omar_ticket = ticket_for(ava), ticket_for(omar)

    def push_juvenile_case() -> int:
        response = ava.post(f"/api/v1/cases/{world.juvenile_case.pk}/push", {"audience": {"kind": "agency"}},
                            format="json")
        assert response.status_code == 202, response.content
        return int(response.json()["id"])

    async def scenario() -> None:
        ava_socket, _ = await open_stream(ava_ticket)
        omar_socket, _ = await open_stream(omar_ticket)
        push_id = await database_sync_to_async(push_juvenile_case)()
        event = await ava_socket.receive_json_from(timeout=WAIT)
        assert (event["type"], event["object_id"], event["payload"]["push"]) == (
            "case", str(world.juvenile_case.pk), push_id)
        assert await omar_socket.receive_nothing(timeout=0.5), "Omar is not named on the juvenile case"
        await ava_socket.disconnect()
        await omar_socket.disconnect()

    async_to_sync(scenario)()
