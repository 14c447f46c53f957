"""Photos of a call: Omar attaches one from his phone; the others on the call hear of it; no one else sees it."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from apps.accounts.models import Role
from apps.audit.models import AuditEvent
from apps.calls.models import Call, UnitAssignment
from apps.delivery.models import Event
from apps.media.models import CallPhoto, CallPhotoVariant
from tests.base import World, make_user, signed_in_client
from tests.media.helpers import PORTRAIT, oriented_geotagged_jpeg, stored_files


@pytest.fixture
def call(world: World) -> Call:
    """An active call with Omar's unit on it."""
    now = timezone.now()
    made = Call.objects.create(agency=world.agency, event_number="26-0000701", status=Call.Status.ON_SCENE,
                               received_at=now, latitude=47.52, longitude=-122.27, address="92XX RAINIER AV S")
    UnitAssignment.objects.create(call=made, unit=world.unit, assigned_at=now)
    return made


def _upload(client: Any, call_id: int, content: bytes, name: str = "IMG_0001.jpg") -> Any:
    return client.post(f"/api/v1/calls/{call_id}/photos",
                       {"file": SimpleUploadedFile(name, content, content_type="image/jpeg")}, format="multipart")


def _open(url: str) -> bytes:
    return b"".join(Client().get(url.removeprefix("http://testserver")).streaming_content)


def test_omar_on_the_call_attaches_a_photo_and_sees_it_listed(world: World, call: Call) -> None:
    omar = signed_in_client(world.omar)
    created = _upload(omar, call.pk, PORTRAIT.read_bytes())
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["call_id"] == call.pk and body["original_url"] is None  # officers get variants only
    assert body["added_by_name"] == (world.omar.get_full_name() or world.omar.username)
    listed = omar.get(f"/api/v1/calls/{call.pk}/photos").json()
    assert [p["id"] for p in listed] == [body["id"]]
    thumb = Image.open(io.BytesIO(_open(listed[0]["thumbnail_url"])))
    assert thumb.format == "WEBP" and max(thumb.size) <= 320
    assert AuditEvent.objects.filter(actor=world.omar, action=AuditEvent.Action.CREATE,
                                     object_type="media.callphoto", object_id=str(body["id"])).exists()
    # The analyst sees it too, and may open the original as received.
    (seen,) = signed_in_client(world.ava).get(f"/api/v1/calls/{call.pk}/photos").json()
    assert seen["id"] == body["id"] and seen["original_url"]


def test_the_other_officers_and_the_center_are_told_but_not_the_one_who_took_it(world: World, call: Call) -> None:
    partner = make_user("olive", Role.OFFICER, world.agency)
    world.unit.members_on_shift.add(partner)
    photo_id = _upload(signed_in_client(world.omar), call.pk, PORTRAIT.read_bytes()).json()["id"]
    (event,) = Event.objects.filter(user=partner, type="photo")
    assert event.op == "added" and event.payload["call_id"] == call.pk and event.payload["photo_id"] == photo_id
    assert not Event.objects.filter(user=world.omar, type="photo").exists()
    # The analyst's and supervisor's consoles hear of it too: the same ids, no push to acknowledge.
    for user in (world.ava, world.sam):
        (seen,) = Event.objects.filter(user=user, type="photo")
        assert seen.payload == {"call_id": call.pk, "photo_id": photo_id}
    assert not Event.objects.filter(user=world.xavier, type="photo").exists()


def test_omar_cannot_attach_to_a_call_his_unit_is_not_on(world: World) -> None:
    other = Call.objects.create(agency=world.agency, event_number="26-0000702", status=Call.Status.DISPATCHED,
                                received_at=timezone.now(), address="1XX PINE ST")
    omar = signed_in_client(world.omar)
    for response in (_upload(omar, other.pk, PORTRAIT.read_bytes()), omar.get(f"/api/v1/calls/{other.pk}/photos")):
        assert response.status_code == 404 and response.json()["code"] == "call_not_found"
    assert not CallPhoto.objects.exists()


@pytest.mark.parametrize("persona", ["xavier", "cora"])
def test_another_agency_or_a_co_responder_gets_not_found(world: World, call: Call, persona: str) -> None:
    client = signed_in_client(world.personas[persona])
    for response in (_upload(client, call.pk, PORTRAIT.read_bytes()), client.get(f"/api/v1/calls/{call.pk}/photos")):
        assert response.status_code == 404 and response.json()["code"] == "call_not_found"
    assert not CallPhoto.objects.exists()


def test_a_corrupt_jpeg_is_refused_with_a_code_and_nothing_is_stored(world: World, call: Call) -> None:
    before = stored_files()
    whole = PORTRAIT.read_bytes()
    response = _upload(signed_in_client(world.omar), call.pk, whole[: len(whole) // 3])
    assert response.status_code == 400 and response.json()["code"] == "image_unreadable"
    assert response.json()["fields"] == {"file": [response.json()["message"]]}
    assert not CallPhoto.objects.exists() and not CallPhotoVariant.objects.exists()
    assert stored_files() == before


def test_an_oversized_photo_is_413_and_nothing_is_stored(world: World, call: Call, settings: Any) -> None:
    settings.MEDIA_PHOTO_MAX_BYTES = 1024
    before = stored_files()
    response = _upload(signed_in_client(world.omar), call.pk, PORTRAIT.read_bytes())
    assert response.status_code == 413 and response.json()["code"] == "file_too_large"
    assert not CallPhoto.objects.exists() and stored_files() == before


def test_what_is_served_carries_no_gps_but_the_original_keeps_it_for_the_center(world: World, call: Call) -> None:
    content = oriented_geotagged_jpeg()
    _upload(signed_in_client(world.omar), call.pk, content)
    (photo,) = signed_in_client(world.omar).get(f"/api/v1/calls/{call.pk}/photos").json()
    for url in (photo["url"], photo["thumbnail_url"]):
        served = _open(url)
        image = Image.open(io.BytesIO(served))
        assert not image.getexif().get_ifd(0x8825) and not image.getexif()
        assert b"Exif" not in served and b"SERIAL-123456" not in served and b"Rainier" not in served
    (seen,) = signed_in_client(world.ava).get(f"/api/v1/calls/{call.pk}/photos").json()
    assert _open(seen["original_url"]) == content  # evidence, as received
