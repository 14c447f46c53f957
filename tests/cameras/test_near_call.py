"""Cameras near this call: the nearest shareable ones within a radius, nearest first."""

from __future__ import annotations

from apps.calls.models import Call
from apps.cameras.selectors import cameras_for_call
from tests.base import World, signed_in_client
from tests.cameras.helpers import active_call, camera_at


def test_it_lists_cameras_within_the_radius_nearest_first(world: World) -> None:
    far = camera_at(world, "Far", 800)
    near = camera_at(world, "Near", 40)
    middle = camera_at(world, "Middle", 0, 300)
    camera_at(world, "Beyond", 2500)
    call = active_call(world)
    body = signed_in_client(world.ava).get(f"/api/v1/calls/{call.pk}/cameras").json()
    assert [c["camera"]["id"] for c in body] == [near.pk, middle.pk, far.pk]
    distances = [c["distance_m"] for c in body]
    assert distances == sorted(distances)
    assert 35 < distances[0] < 45 and 290 < distances[1] < 310 and 790 < distances[2] < 810
    assert all(not c["pinned"] and c["reason"].startswith(f"{round(c['distance_m'])} m from the call")
               for c in body)


def test_a_smaller_radius_leaves_the_farther_cameras_out(world: World) -> None:
    near = camera_at(world, "Near", 40)
    camera_at(world, "Middle", 300)
    call = active_call(world)
    body = signed_in_client(world.sam).get(f"/api/v1/calls/{call.pk}/cameras", {"radius_m": 100}).json()
    assert [c["camera"]["id"] for c in body] == [near.pk]


def test_a_radius_beyond_five_km_is_refused(world: World) -> None:
    call = active_call(world)
    response = signed_in_client(world.ava).get(f"/api/v1/calls/{call.pk}/cameras", {"radius_m": 50_000})
    assert response.status_code == 400 and "radius_m" in response.json()["fields"]


def test_another_agencys_cameras_are_never_near_our_call(world: World) -> None:
    ours = camera_at(world, "Ours", 100)
    camera_at(world, "Theirs", 10, agency=world.other_agency)
    call = active_call(world)
    assert [c.camera.pk for c in cameras_for_call(call=call)] == [ours.pk]


def test_a_call_without_a_position_has_no_cameras_by_distance(world: World) -> None:
    camera_at(world, "Near", 10)
    call = active_call(world)
    Call.objects.filter(pk=call.pk).update(latitude=None, longitude=None, cell="")
    call.refresh_from_db()
    assert cameras_for_call(call=call) == []


def test_the_briefing_limit_keeps_the_nearest(world: World) -> None:
    cameras = [camera_at(world, f"Cam {n}", 50 * (n + 1)) for n in range(4)]
    call = active_call(world)
    assert [c.camera.pk for c in cameras_for_call(call=call, limit=2)] == [cameras[0].pk, cameras[1].pk]
