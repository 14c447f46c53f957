"""Signed media links: for one device session, for a few minutes, with Range so phones can seek."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.cases.models import PersonPhoto
from apps.cases.services import person_photo_add
from tests.base import World, signed_in_client
from tests.media.helpers import PORTRAIT, session_token


@pytest.fixture
def photo(world: World) -> PersonPhoto:
    return person_photo_add(person=world.person, filename="p.jpg", content=PORTRAIT.read_bytes())


def _phone_bytes(photo: PersonPhoto) -> bytes:
    with photo.variants.get(name="phone").image.open("rb") as fh:
        return bytes(fh.read())


def _url(client: Any, photo: PersonPhoto, variant: str = "phone") -> str:
    return reverse("v1:photo-file", kwargs={"token": session_token(client, photo.pk, variant)})


def _get(url: str, **headers: str) -> Any:
    return Client().get(url, **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def test_a_link_opens_without_a_header_and_is_never_cached(world: World, photo: PersonPhoto) -> None:
    response = _get(_url(signed_in_client(world.omar), photo))
    assert response.status_code == 200
    assert _body(response) == _phone_bytes(photo)
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Accept-Ranges"] == "bytes"
    assert "Content-Disposition" not in response  # the storage name says nothing to the phone


def test_an_expired_link_is_403_link_expired(world: World, photo: PersonPhoto, monkeypatch: Any) -> None:
    omar = signed_in_client(world.omar)
    minted_at = timezone.now().timestamp() - settings.MEDIA_LINK_SECONDS - 1
    with monkeypatch.context() as patch:
        patch.setattr(signing, "time", type("Clock", (), {"time": staticmethod(lambda: minted_at)}))
        url = _url(omar, photo)
    response = _get(url)
    assert response.status_code == 403 and response.json()["code"] == "link_expired"


@pytest.mark.parametrize("tamper", ["last character", "object id", "variant"])
def test_a_tampered_link_is_403_link_invalid(world: World, photo: PersonPhoto, tamper: str) -> None:
    omar = signed_in_client(world.omar)
    token = session_token(omar, photo.pk, "phone")
    if tamper == "last character":
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    else:
        # The payload is readable (base64 JSON), never trusted: change it and the signature no longer fits.
        _payload, rest = token.split(":", 1)
        other = session_token(omar, photo.pk + 1 if tamper == "object id" else photo.pk,
                              "phone" if tamper == "object id" else "original")
        token = other.split(":", 1)[0] + ":" + rest
    response = _get(reverse("v1:photo-file", kwargs={"token": token}))
    assert response.status_code == 403 and response.json()["code"] == "link_invalid"


def test_a_link_of_another_kind_does_not_open_here(world: World, photo: PersonPhoto) -> None:
    token = session_token(signed_in_client(world.omar), photo.pk, "phone", kind="clip")
    response = _get(reverse("v1:photo-file", kwargs={"token": token}))
    assert response.status_code == 403 and response.json()["code"] == "link_invalid"


def test_another_users_session_cannot_use_a_link(world: World, photo: PersonPhoto) -> None:
    url = _url(signed_in_client(world.omar), photo)
    sam = signed_in_client(world.sam)
    response = sam.get(url)
    assert response.status_code == 403 and response.json()["code"] == "link_not_yours"


def test_a_link_dies_with_its_session(world: World, photo: PersonPhoto) -> None:
    omar = signed_in_client(world.omar)
    url = _url(omar, photo)
    assert omar.post(f"/api/v1/devices/{omar.device_id}/revoke").status_code == 200  # type: ignore[attr-defined]
    response = _get(url)
    assert response.status_code == 403 and response.json()["code"] == "link_session_ended"


def test_xavier_and_users_who_cannot_see_the_person_get_404(world: World, photo: PersonPhoto) -> None:
    for user in (world.xavier, world.cora, world.abe):
        response = _get(_url(signed_in_client(user), photo))
        assert response.status_code == 404 and response.json()["code"] == "photo_not_found", user.username
    juvenile = person_photo_add(person=world.restricted_person, filename="j.jpg", content=PORTRAIT.read_bytes())
    assert _get(_url(signed_in_client(world.omar), juvenile)).status_code == 404
    assert _get(_url(signed_in_client(world.ava), juvenile)).status_code == 200


def test_a_range_request_gets_206_and_exactly_those_bytes(world: World, photo: PersonPhoto) -> None:
    url = _url(signed_in_client(world.omar), photo)
    whole = _phone_bytes(photo)
    size = len(whole)
    first = _get(url, Range="bytes=0-99")
    assert first.status_code == 206
    assert first["Content-Range"] == f"bytes 0-99/{size}" and first["Content-Length"] == "100"
    assert _body(first) == whole[:100]
    middle = _get(url, Range=f"bytes=1000-{size + 5000}")  # past the end: up to the end
    assert middle.status_code == 206 and middle["Content-Range"] == f"bytes 1000-{size - 1}/{size}"
    assert _body(middle) == whole[1000:]
    tail = _get(url, Range="bytes=-50")
    assert tail.status_code == 206 and _body(tail) == whole[-50:]
    assert tail["Cache-Control"] == "private, no-store"


def test_a_range_outside_the_file_is_416_with_its_length(world: World, photo: PersonPhoto) -> None:
    url = _url(signed_in_client(world.omar), photo)
    size = len(_phone_bytes(photo))
    response = _get(url, Range=f"bytes={size}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{size}"
    assert response.json()["code"] == "range_not_satisfiable"


@pytest.mark.parametrize("header", ["bytes=0-1,5-9", "pages=1-2", "bytes=9-2"])
def test_ranges_we_do_not_serve_get_the_whole_file(world: World, photo: PersonPhoto, header: str) -> None:
    url = _url(signed_in_client(world.omar), photo)
    response = _get(url, Range=header)
    assert response.status_code == 200 and _body(response) == _phone_bytes(photo)


def test_if_range_with_another_validator_gets_the_whole_file(world: World, photo: PersonPhoto) -> None:
    url = _url(signed_in_client(world.omar), photo)
    etag = _get(url)["ETag"]
    assert _get(url, Range="bytes=0-9", If_Range=etag).status_code == 206
    stale = _get(url, Range="bytes=0-9", If_Range='"something-else"')
    assert stale.status_code == 200 and _body(stale) == _phone_bytes(photo)


def test_opening_a_photo_is_audited_with_its_variant(world: World, photo: PersonPhoto) -> None:
    from apps.audit.models import AuditEvent

    _get(_url(signed_in_client(world.omar), photo, "thumbnail"))
    event = AuditEvent.objects.filter(object_type="cases.personphoto", object_id=str(photo.pk)).get()
    assert event.actor_id == world.omar.pk and event.detail == {"person_id": world.person.pk, "variant": "thumbnail"}
