"""The owner's sharing policy decides which cameras a call may use: always, on an active call nearby, never."""

from __future__ import annotations

import pytest

from apps.calls.models import Call
from apps.cameras.models import Camera
from apps.cameras.selectors import cameras_for_call
from apps.cameras.services import camera_create
from tests.base import World, make_user, signed_in_client
from tests.cameras.helpers import active_call, camera_at


def _near_ids(call: Call) -> list[int]:
    return [c.camera.pk for c in cameras_for_call(call=call)]


def test_each_policy_decides_for_an_active_call(world: World) -> None:
    always = camera_at(world, "Always", 100, sharing=Camera.Sharing.ALWAYS)
    nearby = camera_at(world, "On a call nearby", 200, sharing=Camera.Sharing.ACTIVE_CALL_NEARBY,
                       sharing_radius_m=300)
    camera_at(world, "Never", 50, sharing=Camera.Sharing.NEVER)
    found = {c.camera.pk: c.reason for c in cameras_for_call(call=active_call(world))}
    assert set(found) == {always.pk, nearby.pk}
    assert "at all times" in found[always.pk]
    assert "while an active call is within 300 m" in found[nearby.pk]


def test_a_call_beyond_the_owners_radius_does_not_unlock_the_camera(world: World) -> None:
    camera_at(world, "Shares within 150 m", 200, sharing=Camera.Sharing.ACTIVE_CALL_NEARBY, sharing_radius_m=150)
    assert _near_ids(active_call(world)) == []


def test_a_cleared_call_unlocks_only_the_always_shared_cameras(world: World) -> None:
    always = camera_at(world, "Always", 100)
    camera_at(world, "On a call nearby", 100, sharing=Camera.Sharing.ACTIVE_CALL_NEARBY)
    call = active_call(world, status=Call.Status.CLEARED)
    assert _near_ids(call) == [always.pk]


def test_a_disabled_camera_is_not_offered(world: World) -> None:
    camera = camera_at(world, "Broken", 100)
    Camera.objects.filter(pk=camera.pk).update(enabled=False)
    assert _near_ids(active_call(world)) == []


def test_the_administrator_sets_the_policy_and_it_takes_effect_at_once(world: World) -> None:
    camera = camera_at(world, "Corner store", 100)
    call = active_call(world)
    assert _near_ids(call) == [camera.pk]
    response = signed_in_client(world.abe).put(f"/api/v1/cameras/{camera.pk}/sharing", {"sharing": "never"},
                                               format="json")
    assert response.status_code == 200 and response.json()["sharing"] == "never"
    assert _near_ids(call) == []


def test_the_owners_own_administrator_may_set_the_policy_too(world: World) -> None:
    partner_admin = make_user("pat", "integration", world.agency)
    camera = camera_create(agency=world.agency, name="Grocery", kind=Camera.Kind.PARTNER, owner="Grocery",
                           owner_kind=Camera.OwnerKind.BUSINESS_PARTNER, source_kind=Camera.SourceKind.HLS,
                           source_url="https://grocery.example.invalid/live.m3u8", owner_administrator=partner_admin)
    response = signed_in_client(partner_admin).put(
        f"/api/v1/cameras/{camera.pk}/sharing", {"sharing": "active_call_nearby", "sharing_radius_m": 120},
        format="json")
    assert response.status_code == 200
    camera.refresh_from_db()
    assert (camera.sharing, camera.sharing_radius_m) == ("active_call_nearby", 120)


@pytest.mark.parametrize("persona", ["ava", "sam"])
def test_analysts_and_supervisors_see_the_policy_but_may_not_change_it(world: World, persona: str) -> None:
    camera = camera_at(world, "City camera", 100)
    response = signed_in_client(world.personas[persona]).put(f"/api/v1/cameras/{camera.pk}/sharing",
                                                             {"sharing": "never"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "not_camera_owner"
    camera.refresh_from_db()
    assert camera.sharing == "always"


def test_a_policy_change_is_audited_with_before_and_after(world: World) -> None:
    from apps.audit.models import AuditEvent

    camera = camera_at(world, "City camera", 100)
    signed_in_client(world.abe).put(f"/api/v1/cameras/{camera.pk}/sharing",
                                    {"sharing": "active_call_nearby", "sharing_radius_m": 250}, format="json")
    event = AuditEvent.objects.get(action="update", object_type="cameras.camera", object_id=str(camera.pk))
    assert event.actor_id == world.abe.pk
    assert event.detail == {"before": {"sharing": "always", "sharing_radius_m": 500},
                            "after": {"sharing": "active_call_nearby", "sharing_radius_m": 250}}
