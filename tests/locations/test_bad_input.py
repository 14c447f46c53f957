"""Bad positions: off the Earth, from the future or the far past, faster than one a second: 4xx, nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from apps.locations.models import PositionReport, UnitPosition
from tests.base import World, signed_in_client
from tests.locations.helpers import fix, post_positions

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("bad", "status", "code"), [
    (fix(lat=91.0), 400, "position_out_of_range"),
    (fix(lon=-181.0), 400, "position_out_of_range"),
    (fix(lat="47.5"), 400, "position_out_of_range"),
    (fix(ago_s=-600), 400, "timestamp_in_future"),
    (fix(ago_s=2 * 3600), 400, "timestamp_too_old"),
    (fix(reported_at="2026-12-07T08:00:00"), 400, "invalid_timestamp"),
    (fix(heading_deg=400.0), 400, "invalid_position"),
    (fix(speed_mps=-1.0), 400, "invalid_position"),
])
def test_a_bad_report_refuses_the_whole_batch(world: World, bad: dict[str, Any], status: int, code: str) -> None:
    response = post_positions(signed_in_client(world.omar), fix(ago_s=30), bad)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert not PositionReport.objects.exists() and not UnitPosition.objects.exists()


def test_reports_faster_than_one_a_second_are_refused(world: World) -> None:
    response = post_positions(signed_in_client(world.omar), *(fix(ago_s=10 - i * 0.2) for i in range(10)))
    assert response.status_code == 429
    assert response.json()["code"] == "position_rate_exceeded"
    assert not PositionReport.objects.exists()


def test_a_batch_too_large_is_refused(world: World, settings: Any) -> None:
    settings.LOCATIONS_BATCH_MAX = 3
    response = post_positions(signed_in_client(world.omar), *(fix(ago_s=10 - i) for i in range(4)))
    assert response.status_code == 400 and response.json()["code"] == "batch_too_large"
    assert not PositionReport.objects.exists()


def test_no_list_is_refused(world: World) -> None:
    response = signed_in_client(world.omar).post("/api/v1/me/positions", {"positions": "here"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_position"
