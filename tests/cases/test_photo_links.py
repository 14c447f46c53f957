from __future__ import annotations

from pathlib import Path

from django.test import Client

from apps.cases.models import PersonPhoto
from apps.cases.services import person_photo_add
from tests.base import World, signed_in_client

PORTRAIT = Path(__file__).resolve().parents[2] / "fixtures" / "data" / "media" / "grace_hopper.jpg"


def _photo_url(world: World, client) -> str:  # type: ignore[no-untyped-def]
    person_photo_add(person=world.person, filename="portrait.jpg", content=PORTRAIT.read_bytes(),
                     content_type="image/jpeg")
    url = client.get(f"/api/v1/people/{world.person.pk}").json()["photos"][0]["url"]
    return url.removeprefix("http://testserver")


def test_the_photo_link_opens_without_a_header_and_is_not_cached(world: World) -> None:
    url = _photo_url(world, signed_in_client(world.omar))
    response = Client().get(url)
    assert response.status_code == 200
    # A phone gets the phone variant (tests/media/test_photos.py); the original is for analysts and supervisors.
    with PersonPhoto.objects.get().variants.get(name="phone").image.open("rb") as fh:
        assert b"".join(response.streaming_content) == fh.read()  # type: ignore[attr-defined]
    assert response["Cache-Control"] == "private, no-store"


def test_revoking_the_phone_kills_its_photo_links_at_once(world: World) -> None:
    omar = signed_in_client(world.omar)
    url = _photo_url(world, omar)
    assert omar.post(f"/api/v1/devices/{omar.device_id}/revoke").status_code == 200  # type: ignore[attr-defined]
    response = Client().get(url)
    assert response.status_code == 403
    assert response.json()["code"] == "link_session_ended"


def test_a_link_names_no_person_and_no_user(world: World) -> None:
    url = _photo_url(world, signed_in_client(world.omar))
    assert "Whitfield" not in url and "omar" not in url
