"""Which camera a clip may be taken from (the contract apps/media relies on)."""

from __future__ import annotations

import pytest

from apps.cameras.models import Camera
from apps.cameras.selectors import camera_get_for_clip
from apps.common.errors import NotFound, ValidationFailed
from tests.base import World
from tests.cameras.helpers import active_call, camera_at


def test_an_analyst_takes_a_clip_from_a_camera_shared_for_the_call(world: World) -> None:
    camera = camera_at(world, "Corner", 100, sharing=Camera.Sharing.ACTIVE_CALL_NEARBY, sharing_radius_m=200)
    call = active_call(world)
    assert camera_get_for_clip(user=world.ava, camera_id=camera.pk, call_id=call.pk) == camera
    assert camera_get_for_clip(user=world.sam, camera_id=camera.pk, call_id=call.pk) == camera


def test_without_a_call_only_always_shared_cameras_give_clips(world: World) -> None:
    always = camera_at(world, "Always", 100)
    on_call = camera_at(world, "On a call", 100, sharing=Camera.Sharing.ACTIVE_CALL_NEARBY)
    assert camera_get_for_clip(user=world.ava, camera_id=always.pk, call_id=None) == always
    with pytest.raises(NotFound):
        camera_get_for_clip(user=world.ava, camera_id=on_call.pk, call_id=None)


@pytest.mark.parametrize("sharing, radius", [(Camera.Sharing.NEVER, 500), (Camera.Sharing.ACTIVE_CALL_NEARBY, 50)])
def test_the_owners_policy_can_refuse_the_clip(world: World, sharing: str, radius: int) -> None:
    camera = camera_at(world, "Guarded", 100, sharing=sharing, sharing_radius_m=radius)
    call = active_call(world)
    with pytest.raises(NotFound) as refused:
        camera_get_for_clip(user=world.ava, camera_id=camera.pk, call_id=call.pk)
    assert refused.value.code == "camera_not_found"


@pytest.mark.parametrize("persona", ["omar", "cora", "abe", "aud", "xavier"])
def test_no_one_else_takes_clips(world: World, persona: str) -> None:
    camera = camera_at(world, "Always", 100)
    with pytest.raises(NotFound):
        camera_get_for_clip(user=world.personas[persona], camera_id=camera.pk, call_id=None)


def test_another_agencys_camera_or_call_is_not_found(world: World) -> None:
    theirs = camera_at(world, "Theirs", 100, agency=world.other_agency)
    ours = camera_at(world, "Ours", 100)
    their_call = active_call(world, agency_id=world.other_agency.pk)
    with pytest.raises(NotFound):
        camera_get_for_clip(user=world.ava, camera_id=theirs.pk, call_id=None)
    with pytest.raises(NotFound):
        camera_get_for_clip(user=world.ava, camera_id=ours.pk, call_id=their_call.pk)


def test_a_still_image_camera_gives_no_clip(world: World) -> None:
    camera = camera_at(world, "Highway still", 100, source_kind=Camera.SourceKind.SNAPSHOT,
                       source_url="http://images.example.invalid/cam.jpg")
    with pytest.raises(ValidationFailed) as refused:
        camera_get_for_clip(user=world.ava, camera_id=camera.pk, call_id=None)
    assert refused.value.code == "camera_has_no_video"
