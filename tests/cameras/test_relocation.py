"""Mobile cameras move: each move is kept, and "near this call" uses where they are now."""

from __future__ import annotations

from apps.audit.models import AuditEvent
from apps.cameras.models import Camera, CameraLocation
from apps.cameras.selectors import cameras_for_call
from tests.base import World, signed_in_client
from tests.cameras.helpers import active_call, camera_at, offset


def test_relocating_a_trailer_keeps_its_history_newest_first(world: World) -> None:
    trailer = camera_at(world, "Trailer T-1", 3000, kind=Camera.Kind.TRAILER)
    ava = signed_in_client(world.ava)
    first = offset(1500)
    second = offset(80)
    for (lat, lon), note in ((first, "towed to the park"), (second, "towed to the block party")):
        response = ava.post(f"/api/v1/cameras/{trailer.pk}/relocate", {"latitude": lat, "longitude": lon,
                                                                        "note": note}, format="json")
        assert response.status_code == 200
    body = response.json()
    assert (body["latitude"], body["longitude"]) == second
    assert [loc["note"] for loc in body["locations"]] == ["towed to the block party", "towed to the park",
                                                          "registered"]
    assert body["locations"][0]["placed_by"] == world.ava.pk
    assert CameraLocation.objects.filter(camera=trailer).count() == 3


def test_near_this_call_follows_the_trailer(world: World) -> None:
    trailer = camera_at(world, "Trailer T-1", 3000, kind=Camera.Kind.TRAILER)
    call = active_call(world)
    assert cameras_for_call(call=call) == []
    lat, lon = offset(60)
    signed_in_client(world.sam).post(f"/api/v1/cameras/{trailer.pk}/relocate",
                                     {"latitude": lat, "longitude": lon}, format="json")
    (found,) = cameras_for_call(call=call)
    assert found.camera.pk == trailer.pk and 55 < (found.distance_m or 0) < 65


def test_a_fixed_camera_cannot_be_relocated(world: World) -> None:
    camera = camera_at(world, "Pole camera", 100)
    response = signed_in_client(world.abe).post(f"/api/v1/cameras/{camera.pk}/relocate",
                                                {"latitude": 47.6, "longitude": -122.3}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "camera_not_mobile"
    camera.refresh_from_db()
    assert camera.latitude != 47.6 and not CameraLocation.objects.filter(camera=camera).exists()


def test_a_move_is_audited_with_the_distance_but_not_the_credentials(world: World) -> None:
    drone = camera_at(world, "Drone D-1", 0, kind=Camera.Kind.DRONE)
    lat, lon = offset(500)
    signed_in_client(world.ava).post(f"/api/v1/cameras/{drone.pk}/relocate", {"latitude": lat, "longitude": lon},
                                     format="json")
    event = AuditEvent.objects.get(action="update", object_type="cameras.camera", object_id=str(drone.pk))
    assert event.detail == {"fields": ["location"], "moved_m": 500}


def test_officers_and_xavier_cannot_move_cameras(world: World) -> None:
    trailer = camera_at(world, "Trailer", 100, kind=Camera.Kind.TRAILER)
    for persona in ("omar", "cora", "aud", "xavier"):
        response = signed_in_client(world.personas[persona]).post(
            f"/api/v1/cameras/{trailer.pk}/relocate", {"latitude": 47.6, "longitude": -122.3}, format="json")
        assert response.status_code == 404 and response.json()["code"] == "camera_not_found", persona
    assert CameraLocation.objects.filter(camera=trailer).count() == 1
