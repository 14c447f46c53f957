"""The BOLO records and requests tests/api/test_access_matrix.py tries every persona against.

Demo City has an active bulletin (demo_bolo) and a cancelled one (ended_bolo), both Ava's; Other
County has one of its supervisor Olsen's (xavier_bolo). None has a plate, so the hot lists the
sensor rows count stay as they were. Photos are made by the cells that need them: each test has
its own MEDIA_ROOT.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.utils import timezone

from apps.accounts.models import Role
from apps.accounts.services import DeviceInfo, session_issue
from apps.bolos.models import Bolo, BoloPhoto, BoloPhotoVariant, Sighting
from apps.bolos.services import bolo_cancel, bolo_issue, bolo_photo_upload
from mobile_api.v1.bolos import bolo_photo_link
from tests.base import World, make_user

NEW_BOLO = "Issued by the access matrix"
CHANGED_BOLO = "Changed by the access matrix"
BOLO_OPS = ("bolos_list", "bolos_create", "bolos_retrieve", "bolos_update", "bolos_cancel",
            "bolo_sightings_create", "bolo_photos_create", "bolo_photos_file")
MISSING_ID = 999_999


def _photo_bytes() -> bytes:
    return (Path(settings.BASE_DIR) / "fixtures/data/media/grace_hopper.jpg").read_bytes()


def _values(title: str) -> dict[str, Any]:
    return {"subject": "person", "title": title, "description": "White male, 30s, red jacket; armed.",
            "audience": {"kind": "agency"}, "expires_at": timezone.now() + timedelta(days=30)}


def bolo_records(world: World) -> dict[str, Any]:
    olsen = make_user("olsen", Role.SUPERVISOR, world.other_agency)
    ended = bolo_issue(user=world.ava, values=_values("Matrix ended BOLO"))
    bolo_cancel(user=world.sam, bolo_id=ended.pk, reason="Arrested")
    return {"olsen": olsen, "demo_bolo": bolo_issue(user=world.ava, values=_values("Matrix BOLO")),
            "ended_bolo": ended, "xavier_bolo": bolo_issue(user=olsen, values=_values("Other County BOLO"))}


def _photos(records: dict[str, Any], world: World) -> None:
    """demo_photo on demo_bolo, xavier_bolo_photo on Other County's, and unused uploads of Ava's and Olsen's.

    Made anew by every cell that needs them (as the matrix's call photos are): each cell's transaction is rolled back.
    """
    for name, by, bolo in (("demo_photo", world.ava, "demo_bolo"), ("xavier_bolo_photo", records["olsen"],
                                                                     "xavier_bolo"),
                           ("unused_photo", world.ava, None), ("xavier_photo", records["olsen"], None)):
        photo = bolo_photo_upload(user=by, content=_photo_bytes(), content_type="image/jpeg")
        if bolo is not None:
            BoloPhoto.objects.filter(pk=photo.pk).update(bolo=records[bolo])
        records[name] = photo


def served_bytes() -> bytes:
    with BoloPhotoVariant.objects.filter(name="phone").first().image.open("rb") as fh:  # type: ignore[union-attr]
        return bytes(fh.read())


def _link(user: Any, photo_id: int, monkeypatch: Any, *, expired: bool = False) -> str:
    request = RequestFactory().get("/")
    request.user = user
    request.auth = session_issue(user=user, device_info=DeviceInfo("bolo viewer", "phone", "android"), ip=None).session
    if not expired:
        return bolo_photo_link(request, photo_id).rsplit("/", 1)[1]  # type: ignore[arg-type]
    minted_at = timezone.now().timestamp() - settings.MEDIA_LINK_SECONDS - 1
    with monkeypatch.context() as patch:
        patch.setattr(signing, "time", type("Clock", (), {"time": staticmethod(lambda: minted_at)}))
        return bolo_photo_link(request, photo_id).rsplit("/", 1)[1]  # type: ignore[arg-type]


def bolo_call(*, records: dict[str, Any], world: World, user: Any, persona: str, op_id: str, target: str,
              monkeypatch: Any) -> dict[str, Any]:
    """The keyword arguments of the matrix's Call for one cell: path params, query, body, format."""
    def pk(name: str) -> int:
        return MISSING_ID if name == "missing" else int(records[name].pk)

    if op_id == "bolos_list":
        return {}
    if op_id == "bolos_create":
        body: dict[str, Any] = {**_values(NEW_BOLO), "expires_at": (timezone.now() + timedelta(days=30)).isoformat()}
        if target == "no_expiry":
            del body["expires_at"]
        if target == "xavier_photo":
            _photos(records, world)
            body["photo_ids"] = [pk("xavier_photo")]
        return {"body": body}
    if op_id == "bolos_retrieve":
        return {"params": {"bolo_id": pk(target)}}
    if op_id == "bolos_update":
        return {"params": {"bolo_id": pk(target)}, "body": {"title": CHANGED_BOLO}}
    if op_id == "bolos_cancel":
        return {"params": {"bolo_id": pk(target)}, "body": {"reason": "Found by the access matrix"}}
    if op_id == "bolo_sightings_create":
        return {"params": {"bolo_id": pk(target)}, "format": "multipart",
                "body": {"latitude": 47.54, "longitude": -122.28, "seen_at": timezone.now().isoformat(),
                         "note": "Seen by the access matrix"}}
    if op_id == "bolo_photos_create":
        return {"format": "multipart",
                "body": {"file": SimpleUploadedFile("suspect.jpg", _photo_bytes(), content_type="image/jpeg")}}
    assert op_id == "bolo_photos_file", op_id
    _photos(records, world)
    visible = "xavier_bolo_photo" if persona == "xavier" else "demo_photo"
    if target == "expired_link":
        return {"params": {"token": _link(user, pk(visible), monkeypatch, expired=True)}}
    if target == "tampered_link":
        token = _link(user, pk(visible), monkeypatch)
        return {"params": {"token": token[:-1] + ("A" if token[-1] != "A" else "B")}}
    return {"params": {"token": _link(user, MISSING_ID if target == "missing_photo" else pk(target), monkeypatch)}}


def after_bolos(records: dict[str, Any], user: Any, op_id: str, target: str, ok: bool, body: Any) -> None:
    """What a success must have changed, and that a refusal changed nothing."""
    exists = target in records
    if op_id == "bolos_list" and ok:
        assert {b["state"] for b in body} <= {"active"}
    elif op_id == "bolos_create":
        made = Bolo.objects.filter(title=NEW_BOLO).first()
        assert (made is not None) == ok
        if made is not None:
            assert made.agency_id == user.agency_id and made.issued_by_id == user.pk and body["id"] == made.pk
    elif op_id == "bolos_update" and exists:
        assert (Bolo.objects.get(pk=records[target].pk).title == CHANGED_BOLO) == ok
    elif op_id == "bolos_cancel" and exists and target != "ended_bolo":
        assert (Bolo.objects.get(pk=records[target].pk).state == "cancelled") == ok
    elif op_id == "bolo_sightings_create" and exists:
        assert Sighting.objects.filter(bolo=records[target], reported_by=user).exists() == ok
    elif op_id == "bolo_photos_create":
        # The cell makes no other photo (_photos is not called for it).
        assert BoloPhoto.objects.filter(added_by=user).exists() == ok
