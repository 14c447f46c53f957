"""Nearest available units for a call: straight-line distance and the age of each unit's last position."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.accounts.models import Role, Unit
from apps.calls.models import UnitAssignment
from tests.base import World, make_user, signed_in_client
from tests.briefings.helpers import LAT, LON, make_call
from tests.locations.helpers import fix, post_positions

pytestmark = pytest.mark.django_db


def _unit(world: World, call_sign: str, lat: float, lon: float) -> Unit:
    unit = Unit.objects.create(agency=world.agency, call_sign=call_sign)
    officer = make_user(call_sign.lower(), Role.OFFICER, world.agency)
    unit.members_on_shift.add(officer)
    post_positions(signed_in_client(officer), fix(lat=lat, lon=lon, ago_s=4))
    return unit


def test_it_lists_the_available_units_nearest_first(world: World) -> None:
    call = make_call(world, event="26-0600001")
    _unit(world, "2B3", LAT + 0.01, LON)
    _unit(world, "2B4", LAT + 0.002, LON)
    busy = _unit(world, "2B5", LAT + 0.001, LON)
    UnitAssignment.objects.create(call=make_call(world, event="26-0600002"), unit=busy, assigned_at=timezone.now())
    response = signed_in_client(world.ava).get(f"/api/v1/calls/{call.pk}/nearest-units")
    assert response.status_code == 200, response.content
    found = response.json()["results"]
    assert [u["call_sign"] for u in found] == ["2B4", "2B3"]
    assert 200 < found[0]["distance_m"] < 250 and 3 <= found[0]["age_s"] < 30


def test_officers_not_on_the_call_and_xavier_get_404(world: World) -> None:
    call = make_call(world, event="26-0600003")
    for user in (world.omar, world.cora, world.xavier, world.abe):
        response = signed_in_client(user).get(f"/api/v1/calls/{call.pk}/nearest-units")
        assert response.status_code == 404 and response.json()["code"] == "call_not_found"
