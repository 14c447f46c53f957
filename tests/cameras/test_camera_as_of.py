"""A partner's or a traffic camera says how old what we know of it is: its place and its stream's state."""

from __future__ import annotations

from datetime import UTC, datetime

from apps.briefings.services import briefing_assemble
from apps.cameras.models import Camera
from apps.cameras.services import camera_reachability_record
from tests.base import World, signed_in_client
from tests.cameras.helpers import active_call, camera_at

LISTED = datetime(2026, 1, 15, 3, 30, tzinfo=UTC)  # when the city's list placed it: 19:30 the day before in Seattle


def _camera_items(world: World) -> dict[str, dict]:
    version = briefing_assemble(call_id=active_call(world).pk, reason="call_created")
    assert version is not None
    return {i["title"]: i for i in version.items if i["section"] == "cameras"}


def test_a_traffic_camera_in_the_briefing_says_when_its_place_and_status_were_known(world: World) -> None:
    traffic = camera_at(world, "Rainier Ave S & S Henderson St", 120, owner_kind=Camera.OwnerKind.CITY_DEPARTMENT,
                        source_kind=Camera.SourceKind.SNAPSHOT, source_url="https://images.example.invalid/a.jpg")
    Camera.objects.filter(pk=traffic.pk).update(location_updated_at=LISTED)

    item = _camera_items(world)["Rainier Ave S & S Henderson St"]

    assert item["as_of"] == "2026-01-15T03:30:00.000000Z"
    assert "Position and status as of 2026-01-14 19:30 PST." in item["body"]
    assert item["data"]["location_as_of"] == "2026-01-15T03:30:00.000000Z"
    assert item["data"]["status_as_of"] is None


def test_a_partners_camera_is_as_of_its_last_stream_check_when_that_is_newer(world: World) -> None:
    grocery = camera_at(world, "Corner grocery", 30, kind=Camera.Kind.PARTNER,
                        owner_kind=Camera.OwnerKind.BUSINESS_PARTNER)
    Camera.objects.filter(pk=grocery.pk).update(location_updated_at=LISTED)
    camera_reachability_record(camera_ids=[grocery.pk], reachable=False, reason="Connection refused")
    checked = Camera.objects.get(pk=grocery.pk).reachability_checked_at
    assert checked is not None and checked > LISTED

    item = _camera_items(world)["Corner grocery"]

    assert item["as_of"] == checked.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert item["data"]["reachable"] is False and item["data"]["status_as_of"] == item["as_of"]


def test_the_agencys_own_fixed_camera_carries_no_date(world: World) -> None:
    camera_at(world, "Our pole camera", 50)

    item = _camera_items(world)["Our pole camera"]

    assert item["as_of"] is None and "as of" not in item["body"]


def test_the_registry_answers_with_the_cameras_as_of(world: World) -> None:
    traffic = camera_at(world, "Traffic cam", 120, owner_kind=Camera.OwnerKind.PUBLIC_PARTNER)
    Camera.objects.filter(pk=traffic.pk).update(location_updated_at=LISTED)

    body = signed_in_client(world.ava).get(f"/api/v1/cameras/{traffic.pk}").json()

    assert body["as_of"] == "2026-01-15T03:30:00.000000Z"
