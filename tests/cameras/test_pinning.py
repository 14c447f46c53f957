"""An analyst pins cameras to a call: listed whatever the distance, while the owner shares them."""

from __future__ import annotations

from typing import Any

from apps.calls.models import Call
from apps.cameras.models import Camera, CameraPin
from apps.cameras.selectors import cameras_pinned_to_active_calls
from tests.base import World, signed_in_client
from tests.cameras.helpers import active_call, camera_at


def _pin(client: Any, call: Call, camera: Camera) -> Any:
    return client.post(f"/api/v1/calls/{call.pk}/camera-pins", {"camera_id": camera.pk}, format="json")


def test_a_pinned_camera_is_listed_beyond_the_radius_and_says_why(world: World) -> None:
    far = camera_at(world, "Drone over the river", 3000, kind=Camera.Kind.DRONE)
    near = camera_at(world, "Near", 50)
    call = active_call(world)
    ava = signed_in_client(world.ava)
    response = _pin(ava, call, far)
    assert response.status_code == 201
    assert response.json() == {"call_id": call.pk, "camera_id": far.pk, "pinned_by": world.ava.pk,
                               "pinned_at": response.json()["pinned_at"]}
    body = ava.get(f"/api/v1/calls/{call.pk}/cameras").json()
    assert [(c["camera"]["id"], c["pinned"]) for c in body] == [(near.pk, False), (far.pk, True)]
    assert body[1]["reason"].startswith("Pinned to this call by an analyst")


def test_pinning_twice_is_one_pin(world: World) -> None:
    camera = camera_at(world, "Near", 50)
    call = active_call(world)
    ava = signed_in_client(world.ava)
    assert _pin(ava, call, camera).status_code == 201
    assert _pin(signed_in_client(world.sam), call, camera).status_code == 200
    assert CameraPin.objects.filter(call=call, camera=camera).count() == 1


def test_a_camera_its_owner_never_shares_cannot_be_pinned(world: World) -> None:
    camera = camera_at(world, "Private garage", 50, sharing=Camera.Sharing.NEVER)
    call = active_call(world)
    response = _pin(signed_in_client(world.ava), call, camera)
    assert response.status_code == 400 and response.json()["code"] == "camera_not_shared"
    assert not CameraPin.objects.exists()


def test_officers_cannot_pin(world: World) -> None:
    camera = camera_at(world, "Near", 50)
    call = active_call(world)
    response = _pin(signed_in_client(world.omar), call, camera)
    assert response.status_code == 404 and response.json()["code"] == "call_not_found"
    assert not CameraPin.objects.exists()


def test_unpinning_takes_it_off_the_call(world: World) -> None:
    far = camera_at(world, "Far", 3000)
    call = active_call(world)
    ava = signed_in_client(world.ava)
    _pin(ava, call, far)
    assert ava.delete(f"/api/v1/calls/{call.pk}/camera-pins/{far.pk}").status_code == 204
    assert ava.get(f"/api/v1/calls/{call.pk}/cameras").json() == []
    # Again: nothing to do, same answer.
    assert ava.delete(f"/api/v1/calls/{call.pk}/camera-pins/{far.pk}").status_code == 204


def test_a_pinned_camera_drops_out_when_its_owner_stops_sharing(world: World) -> None:
    camera = camera_at(world, "Corner store", 50)
    call = active_call(world)
    ava = signed_in_client(world.ava)
    _pin(ava, call, camera)
    signed_in_client(world.abe).put(f"/api/v1/cameras/{camera.pk}/sharing", {"sharing": "never"}, format="json")
    assert ava.get(f"/api/v1/calls/{call.pk}/cameras").json() == []
    assert cameras_pinned_to_active_calls() == []


def test_the_pre_roll_worker_gets_cameras_pinned_to_active_calls_once_each(world: World) -> None:
    shared = camera_at(world, "Trailer", 50, kind=Camera.Kind.TRAILER)
    on_cleared = camera_at(world, "Only on the cleared call", 60)
    first, second = active_call(world, event="26-1"), active_call(world, event="26-2")
    cleared = active_call(world, event="26-3", status=Call.Status.CLEARED)
    ava = signed_in_client(world.ava)
    for call in (first, second):
        _pin(ava, call, shared)
    _pin(ava, cleared, on_cleared)
    assert [c.pk for c in cameras_pinned_to_active_calls()] == [shared.pk]


def test_pinning_reassembles_the_briefing_after_commit(world: World, django_capture_on_commit_callbacks: Any) -> None:
    from apps.briefings.models import Briefing

    camera = camera_at(world, "Far", 3000)
    call = active_call(world)
    with django_capture_on_commit_callbacks(execute=True):
        assert _pin(signed_in_client(world.ava), call, camera).status_code == 201
    items = Briefing.objects.get(call=call).auto_items
    assert [i["id"] for i in items if i["section"] == "cameras"] == [f"camera:{camera.pk}"]
