"""Suspect photos: one pipeline from upload to the variants phones and terminals open."""

from __future__ import annotations

import hashlib
import io
import time
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from apps.cases.models import PersonPhoto, PersonPhotoVariant
from apps.cases.services import person_photo_add
from tests.base import World, signed_in_client
from tests.media.helpers import (
    ASTRONAUT,
    CAMERA,
    PORTRAIT,
    oriented_geotagged_jpeg,
    png_bomb,
    session_token,
    stored_files,
)


def _upload(client: Any, person_id: int, content: bytes, name: str = "photo.jpg",
            content_type: str = "image/jpeg") -> Any:
    return client.post(f"/api/v1/people/{person_id}/photos",
                       {"file": SimpleUploadedFile(name, content, content_type=content_type)}, format="multipart")


def _open(url: str, **headers: str) -> Any:
    return Client().get(url.removeprefix("http://testserver"), **headers)


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def _variant_bytes(photo: PersonPhoto, name: str) -> bytes:
    with photo.variants.get(name=name).image.open("rb") as fh:
        return bytes(fh.read())


def test_an_analyst_attaches_a_photo_and_gets_links_to_every_file(world: World) -> None:
    response = _upload(signed_in_client(world.ava), world.person.pk, PORTRAIT.read_bytes())
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["width"], body["height"]) == (512, 600)
    assert body["sha256"] == hashlib.sha256(PORTRAIT.read_bytes()).hexdigest()
    assert body["url"] and body["thumbnail_url"] and body["original_url"]
    photo = PersonPhoto.objects.get(pk=body["id"])
    assert photo.added_by == world.ava
    assert sorted(photo.variants.values_list("name", flat=True)) == ["phone", "terminal", "thumbnail"]


def test_the_original_is_kept_byte_for_byte_with_its_sha256(world: World) -> None:
    content = oriented_geotagged_jpeg()
    photo = PersonPhoto.objects.get(pk=_upload(signed_in_client(world.ava), world.person.pk, content).json()["id"])
    with photo.image.open("rb") as fh:
        assert fh.read() == content
    assert photo.sha256 == hashlib.sha256(content).hexdigest()
    assert photo.content_type == "image/jpeg"


def test_no_variant_keeps_exif_gps_comments_or_icc_text(world: World) -> None:
    ava = signed_in_client(world.ava)
    for content in (PORTRAIT.read_bytes(), oriented_geotagged_jpeg(), ASTRONAUT.read_bytes()):
        photo = PersonPhoto.objects.get(pk=_upload(ava, world.person.pk, content).json()["id"])
        for variant in photo.variants.all():
            data = _variant_bytes(photo, variant.name)
            image = Image.open(io.BytesIO(data))
            assert not {"exif", "comment", "icc_profile", "xmp", "Comment"} & set(image.info), variant.name
            assert not image.getexif()
            for marker in (b"Exif", b"commons.wikimedia", b"Rainier", b"SERIAL-123456", b"ACME", b"ICC_PROFILE"):
                assert marker not in data, (variant.name, marker)
            assert variant.size_bytes == len(data) and variant.sha256 == hashlib.sha256(data).hexdigest()


def test_the_exif_orientation_is_applied_to_every_variant(world: World) -> None:
    photo_id = _upload(signed_in_client(world.ava), world.person.pk, oriented_geotagged_jpeg()).json()["id"]
    photo = PersonPhoto.objects.get(pk=photo_id)
    assert (photo.width, photo.height) == (200, 300)  # stored 300x200 sideways, shown upright
    for name in ("terminal", "phone", "thumbnail"):
        image = Image.open(io.BytesIO(_variant_bytes(photo, name))).convert("RGB")
        assert image.height > image.width, name
        top = image.getpixel((image.width // 2, image.height // 8))
        bottom = image.getpixel((image.width // 2, image.height * 7 // 8))
        assert top[0] > 200 and top[2] < 60, (name, top)  # the left (red) half is now on top
        assert bottom[2] > 200 and bottom[0] < 60, (name, bottom)


def test_variants_fit_their_device_class_and_are_never_upscaled(world: World) -> None:
    photo = person_photo_add(person=world.person, filename="x.png", content=CAMERA.read_bytes())
    sizes = {v.name: (v.width, v.height, v.content_type) for v in photo.variants.all()}
    assert sizes == {"terminal": (512, 512, "image/jpeg"), "phone": (512, 512, "image/jpeg"),
                     "thumbnail": (320, 320, "image/webp")}
    assert photo.content_type == "image/png"


def test_a_phone_opens_the_phone_variant_and_a_terminal_the_terminal_one(world: World) -> None:
    big = io.BytesIO()
    Image.new("RGB", (3000, 2000), (10, 120, 30)).save(big, "JPEG")
    person_photo_add(person=world.person, filename="big.jpg", content=big.getvalue())
    for kind, longest in (("phone", 1080), ("terminal", 1920)):
        client = signed_in_client(world.omar, kind=kind)
        photo = client.get(f"/api/v1/people/{world.person.pk}").json()["photos"][0]
        image = Image.open(io.BytesIO(_body(_open(photo["url"]))))
        assert max(image.size) == longest, kind
        thumb = Image.open(io.BytesIO(_body(_open(photo["thumbnail_url"]))))
        assert thumb.format == "WEBP" and max(thumb.size) == 320


def test_an_officer_gets_variants_but_never_the_original(world: World) -> None:
    content = oriented_geotagged_jpeg()
    person_photo_add(person=world.person, filename="p.jpg", content=content)
    omar = signed_in_client(world.omar)
    photo = omar.get(f"/api/v1/people/{world.person.pk}").json()["photos"][0]
    assert photo["original_url"] is None
    assert _open(photo["url"]).status_code == 200
    # A link to the original made for Omar's session anyway is refused when opened.
    refused = Client().get(reverse("v1:photo-file", kwargs={"token": session_token(omar, photo["id"], "original")}))
    assert refused.status_code == 403 and refused.json()["code"] == "original_not_allowed"
    # Ava and Sam get the original as received, EXIF and all.
    for user in (world.ava, world.sam):
        original = signed_in_client(user).get(f"/api/v1/people/{world.person.pk}").json()["photos"][0]
        assert _body(_open(original["original_url"])) == content


@pytest.mark.parametrize(("case", "content", "name", "content_type", "code"), [
    ("zero bytes", b"", "empty.jpg", "image/jpeg", "empty_file"),
    ("truncated", PORTRAIT.read_bytes()[:20_000], "cut.jpg", "image/jpeg", "image_unreadable"),
    ("a video named .jpg", (PORTRAIT.parent / "bigbuckbunny.mp4").read_bytes()[:200_000], "clip.jpg", "image/jpeg",
     "unsupported_image"),
    ("a GIF", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "a.gif", "image/gif", "unsupported_image"),
    ("a declared type outside the list", PORTRAIT.read_bytes(), "a.tiff", "image/tiff", "unsupported_image"),
])
def test_bad_input_is_refused_with_a_code_and_leaves_nothing(world: World, case: str, content: bytes, name: str,
                                                             content_type: str, code: str) -> None:
    response = _upload(signed_in_client(world.ava), world.person.pk, content, name, content_type)
    assert response.status_code == 400, case
    assert response.json()["code"] == code, case
    assert not PersonPhoto.objects.exists() and not PersonPhotoVariant.objects.exists()
    assert stored_files() == []


def test_a_14000_pixel_png_bomb_is_refused_from_its_header_in_a_second(world: World) -> None:
    bomb = png_bomb()
    started = time.monotonic()
    response = _upload(signed_in_client(world.ava), world.person.pk, bomb, "bomb.png", "image/png")
    assert time.monotonic() - started < 2.0
    assert response.status_code == 400 and response.json()["code"] == "image_too_large"
    assert not PersonPhoto.objects.exists() and stored_files() == []


def test_a_photo_over_the_byte_limit_is_refused_before_it_is_decoded(world: World, settings: Any) -> None:
    settings.MEDIA_PHOTO_MAX_BYTES = 10_000
    response = _upload(signed_in_client(world.ava), world.person.pk, PORTRAIT.read_bytes())
    assert response.status_code == 413 and response.json()["code"] == "file_too_large"
    assert not PersonPhoto.objects.exists() and stored_files() == []


def test_only_analysts_and_supervisors_attach_photos_and_xavier_finds_no_one(world: World) -> None:
    content = PORTRAIT.read_bytes()
    refused = _upload(signed_in_client(world.omar), world.person.pk, content)
    assert refused.status_code == 403 and refused.json()["code"] == "person_read_only"
    for user in (world.xavier, world.cora, world.abe):
        hidden = _upload(signed_in_client(user), world.person.pk, content)
        assert hidden.status_code == 404 and hidden.json()["code"] == "person_not_found"
    # The juvenile is visible to Ava only: Sam cannot attach to what he cannot see.
    assert _upload(signed_in_client(world.sam), world.restricted_person.pk, content).status_code == 404
    assert _upload(signed_in_client(world.ava), world.restricted_person.pk, content).status_code == 201
    assert _upload(signed_in_client(world.sam), world.person.pk, content).status_code == 201
    assert PersonPhoto.objects.count() == 2
