"""The officer's calls on the terminal: the one with an unacknowledged push first, then priority, then newest."""

from __future__ import annotations

from datetime import timedelta

from django.test import TestCase
from django.utils import timezone

from apps.briefings.services import briefing_assemble
from apps.calls.models import Call, UnitAssignment
from tests.base import World, signed_in_client
from tests.briefings.helpers import make_call


def _assigned(world: World, event: str, *, priority: int, minutes_ago: int) -> Call:
    call = make_call(world, event=event)
    Call.objects.filter(pk=call.pk).update(priority=priority)
    assigned_at = timezone.now() - timedelta(minutes=minutes_ago)
    UnitAssignment.objects.create(call=call, unit=world.unit, assigned_at=assigned_at)
    briefing_assemble(call_id=call.pk, reason="call_created")
    return call


def _order(world: World) -> list[str]:
    response = signed_in_client(world.omar).get("/api/v1/me/calls")
    assert response.status_code == 200
    return [c["event_number"] for c in response.json()]


def _acknowledge_everything(world: World) -> None:
    omar = signed_in_client(world.omar)
    for push in omar.get("/api/v1/me/pushes").json():
        assert omar.post(f"/api/v1/pushes/{push['push_id']}/receipt", {"state": "acknowledged"},
                         format="json").status_code == 200


def test_calls_order_by_priority_then_the_latest_assignment(world: World) -> None:
    _assigned(world, "P3-OLD", priority=3, minutes_ago=30)
    _assigned(world, "P2-OLD", priority=2, minutes_ago=20)
    _assigned(world, "P2-NEW", priority=2, minutes_ago=5)
    _acknowledge_everything(world)
    assert _order(world) == ["P2-NEW", "P2-OLD", "P3-OLD"]


def test_a_call_with_an_unacknowledged_push_comes_first_until_acknowledged(world: World) -> None:
    low = _assigned(world, "P3-LOW", priority=3, minutes_ago=30)
    _assigned(world, "P2-KNIFE", priority=2, minutes_ago=5)
    _acknowledge_everything(world)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = signed_in_client(world.ava).post(f"/api/v1/calls/{low.pk}/briefing/push",
                                                    {"audience": {"kind": "user", "ids": [world.omar.pk]}},
                                                    format="json")
    assert response.status_code == 202
    calls = signed_in_client(world.omar).get("/api/v1/me/calls").json()
    assert [c["event_number"] for c in calls] == ["P3-LOW", "P2-KNIFE"]
    assert calls[0]["pending_pushes"] == [response.json()["id"]]
    assert calls[0]["unit"] == world.unit.call_sign
    _acknowledge_everything(world)
    assert _order(world) == ["P2-KNIFE", "P3-LOW"]


def test_a_cleared_or_closed_call_and_another_agencys_calls_are_not_listed(world: World) -> None:
    cleared = _assigned(world, "CLEARED", priority=1, minutes_ago=10)
    UnitAssignment.objects.filter(call=cleared).update(cleared_at=timezone.now())
    closed = _assigned(world, "CLOSED", priority=1, minutes_ago=10)
    Call.objects.filter(pk=closed.pk).update(status=Call.Status.CLOSED)
    _assigned(world, "MINE", priority=2, minutes_ago=1)
    assert _order(world) == ["MINE"]
    assert signed_in_client(world.xavier).get("/api/v1/me/calls").json() == []
    assert signed_in_client(world.cora).get("/api/v1/me/calls").json() == []
