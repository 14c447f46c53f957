"""A call lists the units on it now, their officers by name, and where the unit last was."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.accounts.models import Device
from apps.calls.models import UnitAssignment
from tests.base import World, signed_in_client
from tests.briefings.helpers import make_call
from tests.sensors.helpers import place


def test_the_console_list_shows_each_calls_unit_with_its_officers_and_position(world: World) -> None:
    world.omar.last_name = "Okafor"
    world.omar.save(update_fields=["last_name"])
    call = make_call(world, event="UNITS-1")
    UnitAssignment.objects.create(call=call, unit=world.unit, assigned_at=timezone.now())
    place(world.omar, 47.6, -122.33)
    (listed,) = signed_in_client(world.ava).get("/api/v1/calls").json()["results"]
    (unit,) = listed["units"]
    assert unit["call_sign"] == "2A12" and unit["officers"] == [{"id": world.omar.pk, "name": "Omar Okafor"}]
    assert (unit["latitude"], unit["longitude"]) == (47.6, -122.33) and unit["located_at"]
    detail = signed_in_client(world.omar).get(f"/api/v1/calls/{call.pk}").json()
    assert detail["units"] == listed["units"]


def test_a_cleared_unit_is_not_on_the_call_and_a_stale_position_is_not_shown(world: World) -> None:
    call = make_call(world, event="UNITS-2")
    UnitAssignment.objects.create(call=call, unit=world.unit, assigned_at=timezone.now())
    device = place(world.omar)
    Device.objects.filter(pk=device.pk).update(located_at=timezone.now() - timedelta(hours=1))
    (unit,) = signed_in_client(world.ava).get(f"/api/v1/calls/{call.pk}").json()["units"]
    assert unit["latitude"] is None and unit["located_at"] is None, "an hour-old fix would put the car elsewhere"
    UnitAssignment.objects.filter(call=call).update(cleared_at=timezone.now())
    assert signed_in_client(world.ava).get(f"/api/v1/calls/{call.pk}").json()["units"] == []
