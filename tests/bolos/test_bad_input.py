"""Bad input to BOLOs: a clear 4xx with a code, before anything is stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.bolos.models import Bolo, BoloPhoto, Sighting
from apps.delivery.models import Push
from apps.sensors.models import HotListEntry
from tests.base import World, signed_in_client
from tests.bolos.helpers import issue, issued, report_sighting, upload_photo
from tests.media.helpers import PORTRAIT, stored_files


def _nothing_stored() -> None:
    assert not Bolo.objects.exists() and not Push.objects.exists() and not HotListEntry.objects.exists()


@pytest.mark.parametrize("expiry", [None, ""])
def test_a_bolo_without_an_expiry_is_refused(world: World, expiry: Any) -> None:
    body: dict[str, Any] = {"expires_at": None} if expiry is None else {"expires_at": expiry}
    client = signed_in_client(world.ava)
    response = issue(client, **body) if expiry is None else client.post("/api/v1/bolos", {
        "subject": "person", "title": "t", "description": "d", "audience": {"kind": "agency"}}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "expiry_required"
    assert response.json()["fields"] == {"expires_at": ["required"]}
    _nothing_stored()


@pytest.mark.parametrize(("expiry", "why"), [(-1, "in the future"), (400, "at most 365 days ahead")])
def test_an_expiry_in_the_past_or_too_far_ahead_is_refused(world: World, expiry: int, why: str) -> None:
    response = issue(signed_in_client(world.ava), expires_at=(timezone.now() + timedelta(days=expiry)).isoformat())
    assert response.status_code == 400 and response.json()["fields"]["expires_at"] == [why]
    _nothing_stored()


def test_another_agencys_photo_is_refused_and_stays_unused(world: World) -> None:
    # Xavier's agency has a supervisor who uploads a photo; Ava names its id.
    from tests.base import make_user

    olsen = make_user("olsen", "supervisor", world.other_agency)
    photo_id = upload_photo(signed_in_client(olsen), PORTRAIT.read_bytes()).json()["id"]
    response = issue(signed_in_client(world.ava), photo_ids=[photo_id])
    assert response.status_code == 400 and response.json()["code"] == "unknown_photo"
    _nothing_stored()
    assert BoloPhoto.objects.get(pk=photo_id).bolo_id is None


def test_unknown_ids_are_refused(world: World) -> None:
    ava = signed_in_client(world.ava)
    assert issue(ava, photo_ids=[987654]).json()["code"] == "unknown_photo"
    unit = issue(ava, audience={"kind": "unit", "ids": [987654]})
    assert unit.status_code == 400 and unit.json()["code"] == "unknown_recipient"
    _nothing_stored()
    for response in (ava.get("/api/v1/bolos/987654"), ava.patch("/api/v1/bolos/987654", {"title": "x"}, format="json"),
                     ava.post("/api/v1/bolos/987654/cancel", {"reason": "x"}, format="json"),
                     report_sighting(ava, 987654)):
        assert response.status_code == 404 and response.json()["code"] == "bolo_not_found"


def test_a_photo_used_once_cannot_be_used_again(world: World) -> None:
    ava = signed_in_client(world.ava)
    photo_id = upload_photo(ava, PORTRAIT.read_bytes()).json()["id"]
    first = issued(world, photo_ids=[photo_id], plate="")
    assert [p["id"] for p in first["photos"]] == [photo_id]
    again = issue(ava, photo_ids=[photo_id], plate="")
    assert again.status_code == 400 and again.json()["code"] == "unknown_photo"
    assert Bolo.objects.count() == 1


def test_an_oversized_photo_is_413_and_nothing_is_stored(world: World, settings: Any) -> None:
    settings.MEDIA_PHOTO_MAX_BYTES = 1024
    bolo = issued(world)
    before = stored_files()
    for response in (upload_photo(signed_in_client(world.ava), PORTRAIT.read_bytes()),
                     report_sighting(signed_in_client(world.omar), bolo["id"], photo=PORTRAIT.read_bytes())):
        assert response.status_code == 413 and response.json()["code"] == "file_too_large"
    assert not BoloPhoto.objects.exists() and not Sighting.objects.exists() and stored_files() == before


def test_a_corrupt_sighting_photo_stores_no_sighting(world: World) -> None:
    bolo = issued(world)
    whole = PORTRAIT.read_bytes()
    response = report_sighting(signed_in_client(world.omar), bolo["id"], photo=whole[: len(whole) // 3])
    assert response.status_code == 400 and response.json()["code"] == "image_unreadable"
    assert not Sighting.objects.exists() and not BoloPhoto.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("latitude", 91), ("longitude", -181),
                                              ("seen_at", "future"), ("seen_at", "old")])
def test_a_sighting_out_of_range_or_time_is_refused(world: World, field: str, value: Any) -> None:
    bolo = issued(world)
    if value == "future":
        value = (timezone.now() + timedelta(hours=1)).isoformat()
    elif value == "old":
        value = (timezone.now() - timedelta(days=10)).isoformat()
    response = report_sighting(signed_in_client(world.omar), bolo["id"], **{field: value})
    assert response.status_code == 400 and field in response.json()["fields"]
    assert not Sighting.objects.exists()


def test_a_cancel_without_a_reason_changes_nothing(world: World) -> None:
    bolo = issued(world)
    response = signed_in_client(world.ava).post(f"/api/v1/bolos/{bolo['id']}/cancel", {"reason": " "}, format="json")
    assert response.status_code == 400
    assert Bolo.objects.get().state == "active"


def test_a_photo_uploaded_and_never_used_is_purged_after_a_day_files_and_all(world: World) -> None:
    from django.test import TestCase

    from apps.bolos.services import bolo_photos_unused_purge

    ava = signed_in_client(world.ava)
    abandoned = upload_photo(ava, PORTRAIT.read_bytes()).json()["id"]
    used = upload_photo(ava, PORTRAIT.read_bytes()).json()["id"]
    issued(world, photo_ids=[used])
    assert bolo_photos_unused_purge() == 0  # not a day old yet
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert bolo_photos_unused_purge(now=timezone.now() + timedelta(hours=25)) == 1
    assert list(BoloPhoto.objects.values_list("pk", flat=True)) == [used]
    kept = {str(p) for p in stored_files()}
    photo = BoloPhoto.objects.get(pk=used)
    assert any(photo.image.name in name for name in kept) and len(kept) == 1 + photo.variants.count()
    assert abandoned != used
