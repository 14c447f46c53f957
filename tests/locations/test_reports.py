"""Reporting positions: recorded only on shift; out of order and duplicates dropped; jumps kept but flagged."""

from __future__ import annotations

import pytest

from apps.locations.models import PositionReport, UnitPosition
from tests.base import World, signed_in_client
from tests.locations.helpers import fix, post_positions

pytestmark = pytest.mark.django_db


def test_omars_unit_on_shift_records_his_positions(world: World) -> None:
    response = post_positions(signed_in_client(world.omar), fix(ago_s=10), fix(ago_s=5, lat=47.5310))
    assert response.status_code == 202, response.content
    assert response.json() == {"recorded": 2, "dropped": 0, "flagged": 0, "off_shift": False}
    assert PositionReport.objects.filter(unit=world.unit, user=world.omar).count() == 2
    latest = UnitPosition.objects.get(unit=world.unit)
    assert latest.latitude == 47.5310 and latest.heading_deg == 90.0 and latest.accuracy_m == 8.0


def test_omars_unit_off_shift_records_nothing(world: World) -> None:
    world.unit.members_on_shift.remove(world.omar)
    response = post_positions(signed_in_client(world.omar), fix(ago_s=5))
    assert response.status_code == 202
    assert response.json()["off_shift"] is True and response.json()["recorded"] == 0
    assert not PositionReport.objects.exists() and not UnitPosition.objects.exists()


def test_out_of_order_and_duplicate_reports_are_dropped(world: World) -> None:
    client = signed_in_client(world.omar)
    first = fix(ago_s=5)
    assert post_positions(client, first).json()["recorded"] == 1
    answer = post_positions(client, first, fix(ago_s=20), fix(ago_s=2)).json()
    assert answer == {"recorded": 1, "dropped": 2, "flagged": 0, "off_shift": False}
    assert PositionReport.objects.count() == 2


def test_a_fix_of_0_0_from_a_modem_without_one_is_dropped_and_the_batchs_good_fixes_kept(world: World) -> None:
    # Out of a tunnel, a backlog with the modem's "no fix" in it: the unit stays where it was really seen,
    # not in the Gulf of Guinea, where no unit is ever "near" an officer who needs help.
    answer = post_positions(signed_in_client(world.omar), fix(ago_s=30), fix(ago_s=20, lat=0.0, lon=0.0)).json()
    assert answer == {"recorded": 1, "dropped": 1, "flagged": 0, "off_shift": False}
    latest = UnitPosition.objects.get(unit=world.unit)
    assert (latest.latitude, latest.longitude) == (47.5301, -122.2700)
    assert not PositionReport.objects.filter(latitude=0.0, longitude=0.0).exists()


def test_an_impossible_jump_is_kept_but_flagged(world: World) -> None:
    client = signed_in_client(world.omar)
    # 40 km in 5 s: 8,000 m/s.
    answer = post_positions(client, fix(ago_s=10), fix(ago_s=5, lat=47.89)).json()
    assert answer["recorded"] == 2 and answer["flagged"] == 1
    assert list(PositionReport.objects.order_by("reported_at").values_list("jump", flat=True)) == [False, True]
    assert UnitPosition.objects.get(unit=world.unit).jump is True


def test_a_normal_drive_is_not_flagged(world: World) -> None:
    # 100 m in 5 s: 20 m/s, 72 km/h.
    answer = post_positions(signed_in_client(world.omar), fix(ago_s=10), fix(ago_s=5, lat=47.5310)).json()
    assert answer["flagged"] == 0
