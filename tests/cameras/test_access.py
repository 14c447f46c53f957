"""Who reads the camera registry: the center and the administrator, of their own agency only; reads are audited."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.cameras.models import Camera
from tests.base import World, signed_in_client
from tests.cameras.helpers import active_call, camera_at

REGISTRY_READERS = ("ava", "sam", "abe")
OTHERS = ("omar", "cora", "aud", "xavier")


@pytest.mark.parametrize("persona", REGISTRY_READERS)
def test_analysts_supervisors_and_administrators_read_their_agencys_registry(world: World, persona: str) -> None:
    ours = camera_at(world, "Ours", 100)
    camera_at(world, "Theirs", 100, agency=world.other_agency)
    client = signed_in_client(world.personas[persona])
    listed = client.get("/api/v1/cameras").json()
    assert [c["id"] for c in listed["results"]] == [ours.pk] and listed["next_cursor"] is None
    detail = client.get(f"/api/v1/cameras/{ours.pk}")
    assert detail.status_code == 200 and detail.json()["owner"] == "Owner of Ours"


@pytest.mark.parametrize("persona", OTHERS)
def test_officers_co_responders_auditors_and_xavier_see_no_camera(world: World, persona: str) -> None:
    ours = camera_at(world, "Ours", 100)
    client = signed_in_client(world.personas[persona])
    assert client.get("/api/v1/cameras").json() == {"results": [], "next_cursor": None}
    response = client.get(f"/api/v1/cameras/{ours.pk}")
    assert response.status_code == 404 and response.json()["code"] == "camera_not_found"


def test_xavier_gets_404_for_our_camera_and_our_call_whatever_he_tries(world: World) -> None:
    camera = camera_at(world, "Ours", 100)
    call = active_call(world)
    xavier = signed_in_client(world.xavier)
    answers = [
        xavier.get(f"/api/v1/cameras/{camera.pk}"),
        xavier.put(f"/api/v1/cameras/{camera.pk}/sharing", {"sharing": "never"}, format="json"),
        xavier.post(f"/api/v1/cameras/{camera.pk}/relocate", {"latitude": 1, "longitude": 1}, format="json"),
        xavier.get(f"/api/v1/calls/{call.pk}/cameras"),
        xavier.post(f"/api/v1/calls/{call.pk}/camera-pins", {"camera_id": camera.pk}, format="json"),
        xavier.delete(f"/api/v1/calls/{call.pk}/camera-pins/{camera.pk}"),
    ]
    assert [r.status_code for r in answers] == [404] * 6
    camera.refresh_from_db()
    assert camera.sharing == Camera.Sharing.ALWAYS


def test_an_administrator_of_another_agency_sees_none_of_ours(world: World) -> None:
    from tests.base import make_user

    other_admin = make_user("oscar_admin", "administrator", world.other_agency)
    camera = camera_at(world, "Ours", 100)
    theirs = camera_at(world, "Theirs", 100, agency=world.other_agency)
    client = signed_in_client(other_admin)
    assert [c["id"] for c in client.get("/api/v1/cameras").json()["results"]] == [theirs.pk]
    assert client.get(f"/api/v1/cameras/{camera.pk}").status_code == 404
    assert client.put(f"/api/v1/cameras/{camera.pk}/sharing", {"sharing": "never"},
                      format="json").status_code == 404


@pytest.mark.parametrize("persona", ["omar", "cora", "abe", "aud"])
def test_only_analysts_and_supervisors_list_the_cameras_near_a_call(world: World, persona: str) -> None:
    camera_at(world, "Near", 50)
    call = active_call(world)
    response = signed_in_client(world.personas[persona]).get(f"/api/v1/calls/{call.pk}/cameras")
    assert response.status_code == 404 and response.json()["code"] == "call_not_found"


def test_every_read_is_audited_with_the_cameras_it_showed(world: World) -> None:
    near = camera_at(world, "Near", 50)
    farther = camera_at(world, "Farther", 150)
    call = active_call(world)
    ava = signed_in_client(world.ava)
    ava.get("/api/v1/cameras")
    ava.get(f"/api/v1/cameras/{near.pk}")
    ava.get(f"/api/v1/calls/{call.pk}/cameras")
    reads = list(AuditEvent.objects.filter(actor=world.ava, action="read", object_type="cameras.camera")
                 .order_by("id"))
    assert [(e.object_id, sorted(e.object_ids)) for e in reads] == [
        ("", sorted([near.pk, farther.pk])), (str(near.pk), []), ("", sorted([near.pk, farther.pk]))]
    assert reads[2].detail == {"call_id": call.pk, "purpose": "near_call"}


def test_a_list_filters_by_kind_and_pages(world: World) -> None:
    trailers = [camera_at(world, f"Trailer {n}", 100 * n, kind=Camera.Kind.TRAILER) for n in range(3)]
    camera_at(world, "Pole", 10)
    ava = signed_in_client(world.ava)
    first = ava.get("/api/v1/cameras", {"kind": "trailer", "size": "2"}).json()
    second = ava.get("/api/v1/cameras", {"kind": "trailer", "size": "2", "cursor": str(first["next_cursor"])}).json()
    seen = [c["id"] for c in first["results"] + second["results"]]
    assert sorted(seen) == sorted(t.pk for t in trailers) and second["next_cursor"] is None
