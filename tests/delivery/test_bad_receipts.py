"""Bad input to pushes and receipts: each is refused with a 4xx and a code, and nothing changes."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.accounts.models import Unit
from apps.delivery.models import Delivery, Push
from tests.base import World, signed_in_client
from tests.delivery.test_pushes import _call, _push


def _omars_delivery(world: World) -> Delivery:
    push_id = _push(world, _call(world), {"kind": "unit", "ids": [world.unit.pk]})["id"]
    return Delivery.objects.get(push_id=push_id, user=world.omar)


def test_a_push_to_a_unit_with_nobody_on_shift_is_refused_and_nothing_is_stored(world: World) -> None:
    empty = Unit.objects.create(agency=world.agency, call_sign="9Z99", district="North", beat="Z9")
    call = _call(world)
    before = Push.objects.count()
    response = signed_in_client(world.ava).post(f"/api/v1/calls/{call.pk}/briefing/push",
                                                {"audience": {"kind": "unit", "ids": [empty.pk]}}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "no_recipients"
    assert Push.objects.count() == before, "no push that reads as sent to nobody"


def test_opened_after_acknowledged_is_a_stale_receipt_and_keeps_the_acknowledgement(world: World) -> None:
    delivery = _omars_delivery(world)
    omar = signed_in_client(world.omar)
    assert omar.post(f"/api/v1/pushes/{delivery.push_id}/receipt", {"state": "acknowledged"},
                     format="json").status_code == 200
    kept = Delivery.objects.get(pk=delivery.pk)
    response = omar.post(f"/api/v1/pushes/{delivery.push_id}/receipt", {"state": "opened"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "receipt_stale")
    after = Delivery.objects.get(pk=delivery.pk)
    assert (after.opened_at, after.acknowledged_at) == (kept.opened_at, kept.acknowledged_at)


def test_a_receipt_for_someone_elses_push_is_not_found_and_changes_nothing(world: World) -> None:
    delivery = _omars_delivery(world)
    for persona in (world.sam, world.xavier, world.ava):
        response = signed_in_client(persona).post(f"/api/v1/pushes/{delivery.push_id}/receipt",
                                                  {"state": "acknowledged"}, format="json")
        assert (response.status_code, response.json()["code"]) == (404, "push_not_found")
    assert Delivery.objects.get(pk=delivery.pk).status == "sent"
    assert not Delivery.objects.filter(push_id=delivery.push_id).exclude(user=world.omar).exists()


def test_acknowledging_an_expired_push_is_gone_and_changes_nothing(world: World) -> None:
    delivery = _omars_delivery(world)
    Push.objects.filter(pk=delivery.push_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = signed_in_client(world.omar).post(f"/api/v1/pushes/{delivery.push_id}/receipt",
                                                 {"state": "acknowledged"}, format="json")
    assert (response.status_code, response.json()["code"]) == (410, "push_expired")
    assert set(response.json()) >= {"code", "message", "fields"}
    after = Delivery.objects.get(pk=delivery.pk)
    assert (after.opened_at, after.acknowledged_at) == (None, None)
