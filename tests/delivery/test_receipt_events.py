"""The analyst who pushed hears of every receipt change on her own stream, so the console needs no polling."""

from __future__ import annotations

from django.test import TestCase
from django.utils import timezone

from apps.briefings.services import briefing_assemble
from apps.calls.models import UnitAssignment
from apps.delivery.models import Delivery, Event
from apps.delivery.services import delivery_ack, receipts_changed
from tests.base import World, signed_in_client
from tests.briefings.helpers import make_call


def _pushed(world: World) -> int:
    call = make_call(world, event="RCPT-1")
    UnitAssignment.objects.create(call=call, unit=world.unit, assigned_at=timezone.now())
    briefing_assemble(call_id=call.pk, reason="call_created")
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = signed_in_client(world.ava).post(f"/api/v1/calls/{call.pk}/briefing/push",
                                                    {"audience": {"kind": "call"}}, format="json")
    assert response.status_code == 202, response.content
    return int(response.json()["id"])


def _receipt_events(world: World, push_id: int) -> list[Event]:
    return list(Event.objects.filter(user=world.ava, type="receipt", object_id=str(push_id)).order_by("offset"))


def test_the_sender_is_told_when_the_recipients_are_known_and_when_the_officer_acknowledges(world: World) -> None:
    push_id = _pushed(world)
    (resolved,) = _receipt_events(world, push_id)
    assert (resolved.op, resolved.object_type, resolved.payload) == ("changed", "delivery.push", {"push_id": push_id})
    response = signed_in_client(world.omar).post(f"/api/v1/pushes/{push_id}/receipt", {"state": "acknowledged"},
                                                 format="json")
    assert response.status_code == 200, response.content
    assert len(_receipt_events(world, push_id)) == 2


def test_the_sender_is_told_when_the_officers_socket_acks_the_push(world: World) -> None:
    push_id = _pushed(world)
    delivery = Delivery.objects.get(push_id=push_id, user=world.omar)
    assert delivery_ack(user_id=world.omar.pk, epoch=delivery.epoch, offset=delivery.offset) >= 1
    assert len(_receipt_events(world, push_id)) == 2
    # The same ack again changes nothing and tells nobody.
    assert delivery_ack(user_id=world.omar.pk, epoch=delivery.epoch, offset=delivery.offset) == 0
    assert len(_receipt_events(world, push_id)) == 2


def test_a_repeated_receipt_tells_the_sender_nothing_new(world: World) -> None:
    push_id = _pushed(world)
    omar = signed_in_client(world.omar)
    for _ in range(2):
        omar.post(f"/api/v1/pushes/{push_id}/receipt", {"state": "opened"}, format="json")
    assert len(_receipt_events(world, push_id)) == 2, "one when resolved, one when opened"


def test_nobody_else_hears_of_the_receipts(world: World) -> None:
    push_id = _pushed(world)
    signed_in_client(world.omar).post(f"/api/v1/pushes/{push_id}/receipt", {"state": "acknowledged"}, format="json")
    assert not Event.objects.filter(type="receipt").exclude(user=world.ava).exists()


def test_an_automatic_push_has_no_sender_to_tell(world: World) -> None:
    before = Event.objects.filter(type="receipt").count()
    from apps.delivery.services import push_record

    push = push_record(agency_id=world.agency.pk, type="briefing", op="pushed", object_type="test.object",
                       object_id="1", payload={}, priority=3, users=[world.omar.pk])
    receipts_changed(push_ids={push.pk})
    assert Event.objects.filter(type="receipt").count() == before
