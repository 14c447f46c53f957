"""Unacknowledged pushes live on the server: every device of the officer reads the same ones until acknowledged."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.delivery.models import Delivery, Push
from tests.base import World, signed_in_client
from tests.delivery.test_pushes import _call, _push


def _pending(user: object) -> list[dict[str, object]]:
    response = signed_in_client(user).get("/api/v1/me/pushes")
    assert response.status_code == 200
    return response.json()


def test_a_pending_push_is_there_on_a_second_device_until_acknowledged(world: World) -> None:
    call = _call(world)
    push_id = _push(world, call, {"kind": "unit", "ids": [world.unit.pk]})["id"]
    [pending] = _pending(world.omar)
    assert (pending["push_id"], pending["call_id"], pending["priority"], pending["type"]) == (
        push_id, call.pk, 2, "briefing")
    assert pending["version"] == call.briefing.current_version
    signed_in_client(world.omar).post(f"/api/v1/pushes/{push_id}/receipt", {"state": "acknowledged"}, format="json")
    assert _pending(world.omar) == [], "acknowledged on one device, gone on the other"


def test_nobody_else_sees_omars_pending_push_and_an_expired_one_is_not_pending(world: World) -> None:
    push_id = _push(world, _call(world), {"kind": "unit", "ids": [world.unit.pk]})["id"]
    for persona in (world.sam, world.ava, world.xavier, world.cora):
        assert _pending(persona) == []
    Push.objects.filter(pk=push_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _pending(world.omar) == []


def test_a_push_nobody_acknowledged_reads_waiting_not_resolved_and_failures_read_as_words(world: World) -> None:
    push_id = _push(world, _call(world), {"kind": "unit", "ids": [world.unit.pk]})["id"]
    Delivery.objects.filter(push_id=push_id).update(failed_at=timezone.now(), failure_reason="no_push_device")
    ava = signed_in_client(world.ava)
    body = ava.get(f"/api/v1/pushes/{push_id}").json()
    assert body["status"] == "waiting"
    [omar] = body["recipients"]
    assert omar["failure_text"] == "No phone with push alerts signed in"
    assert omar["sent_at"] and omar["failed_at"], "receipts carry their times"
    signed_in_client(world.omar).post(f"/api/v1/pushes/{push_id}/receipt", {"state": "acknowledged"}, format="json")
    body = ava.get(f"/api/v1/pushes/{push_id}").json()
    assert body["status"] == "acknowledged"
    assert body["recipients"][0]["acknowledged_at"]
