"""The briefing's "cameras near this call" section: pinned cameras first, then the nearest shared, with reasons."""

from __future__ import annotations

from typing import Any

from apps.briefings.services import briefing_assemble
from apps.cameras.models import Camera
from apps.cameras.services import camera_pin
from tests.base import World, signed_in_client
from tests.cameras.helpers import active_call, camera_at


def test_the_briefing_lists_pinned_then_nearest_shared_cameras_with_distance_and_reason(world: World) -> None:
    near = camera_at(world, "Rainier Ave S & S Henderson St", 120)
    nearer = camera_at(world, "Corner grocery", 30, kind=Camera.Kind.PARTNER,
                       sharing=Camera.Sharing.ACTIVE_CALL_NEARBY, sharing_radius_m=100)
    camera_at(world, "Private garage", 10, sharing=Camera.Sharing.NEVER)
    camera_at(world, "Other County pole", 5, agency=world.other_agency)
    drone = camera_at(world, "Drone D-1", 4000, kind=Camera.Kind.DRONE)
    call = active_call(world)
    camera_pin(call_id=call.pk, camera_id=drone.pk, user=world.ava)
    version = briefing_assemble(call_id=call.pk, reason="call_created")
    assert version is not None
    cameras = [i for i in version.items if i["section"] == "cameras"]
    assert [i["id"] for i in cameras] == [f"camera:{drone.pk}", f"camera:{nearer.pk}", f"camera:{near.pk}"]
    pinned, grocery, street = cameras
    assert pinned["reason"]["rule"] == "camera_pinned" and pinned["data"]["pinned"] is True
    assert pinned["reason"]["text"].startswith("Pinned to this call by an analyst")
    assert pinned["title"] == "Drone D-1" and "Drone camera, 4000 m away" in pinned["body"]
    assert pinned["as_of"] is not None  # a mobile camera's position is dated
    assert grocery["reason"]["rule"] == "camera_nearby"
    assert grocery["reason"]["text"] == ("30 m from the call; Owner of Corner grocery shares this camera while an "
                                         "active call is within 100 m")
    assert grocery["data"]["camera_id"] == nearer.pk and grocery["data"]["distance_m"] == 30
    assert street["data"]["distance_m"] == 120 and street["data"]["sharing"] == "always"


def test_the_officer_on_the_call_reads_the_section_in_the_briefing(world: World) -> None:
    from apps.calls.services import call_assignment_add

    camera = camera_at(world, "Street camera", 75)
    call = active_call(world)
    call_assignment_add(call=call, unit_call_sign=world.unit.call_sign, actor=None)
    briefing_assemble(call_id=call.pk, reason="unit_assigned")
    body = signed_in_client(world.omar).get(f"/api/v1/calls/{call.pk}/briefing").json()
    (item,) = [i for i in body["items"] if i["section"] == "cameras"]
    assert item["data"]["camera_id"] == camera.pk and item["reason"]["rule"] == "camera_nearby"
    # ...but not the registry itself.
    assert signed_in_client(world.omar).get(f"/api/v1/cameras/{camera.pk}").status_code == 404


def test_no_section_when_no_camera_is_shared_near_the_call(world: World) -> None:
    camera_at(world, "Private garage", 10, sharing=Camera.Sharing.NEVER)
    call = active_call(world)
    version = briefing_assemble(call_id=call.pk, reason="call_created")
    assert version is not None and not [i for i in version.items if i["section"] == "cameras"]


def test_the_briefing_shows_at_most_the_configured_number_besides_pins(world: World, settings: Any) -> None:
    settings.CAMERAS_IN_BRIEFING = 2
    for n in range(4):
        camera_at(world, f"Cam {n}", 40 * (n + 1))
    call = active_call(world)
    version = briefing_assemble(call_id=call.pk, reason="call_created")
    assert version is not None
    assert [i["title"] for i in version.items if i["section"] == "cameras"] == ["Cam 0", "Cam 1"]
