"""Issuing, changing, cancelling and expiring BOLOs, their photos and sightings (docs/bolos.md).

A bulletin reaches its audience as a push (apps.delivery: events, receipts, push alerts,
escalation); bolo_announce and bolo_sighting_announce make every one of its events. A plate
bulletin keeps one entry on the agency's BOLO hot list, so a matching plate read raises a
sensor alert that names it (apps.sensors). Everything is checked before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Role, User
from apps.accounts.policy import AGENCY_ROLES, CENTER_ROLES, agency_staff, agency_staff_filter
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.bolos.models import Bolo, BoloPhoto, BoloPhotoVariant, Sighting
from apps.common.errors import Gone, NotFound, PermissionDenied, ValidationFailed
from apps.common.jsonbody import json_id
from apps.common.later import after_commit
from apps.delivery.models import Push
from apps.delivery.selectors import users_told
from apps.delivery.services import audience_clean, push_create, push_record
from apps.media.photos import photo_files_delete, photo_store
from apps.places.geo import no_fix
from apps.sensors import plates
from apps.sensors.models import HotList, HotListEntry

BOLO_OBJECT = "bolos.bolo"
# Who issues, changes and cancels bulletins: the center (CENTER_ROLES); who reads them and reports sightings:
# the agency's officers too (AGENCY_ROLES). docs/bolos.md says why co-responders are not among them.
# The audiences a bulletin takes: the agency, a district, a beat, a radius, named units.
AUDIENCE_KINDS = ("agency", "district", "beat", "radius", "unit")
MAX_PHOTOS = 10
BOLO_HOT_LIST = "BOLO plates"
# A device clock a little ahead of ours is not a sighting from the future.
CLOCK_SKEW = timedelta(minutes=2)
EDITABLE = frozenset({"title", "description", "plate", "plate_region", "area", "case_number", "priority",
                      "expires_at", "audience", "photo_ids"})


# --- Who may -------------------------------------------------------------------------------------------


def _issuer(user: User) -> int:
    """The agency an issuer writes for. Officers read bulletins but may not write them (403); others see none."""
    if user.agency_id is None or user.role not in AGENCY_ROLES:
        raise NotFound("Not found.", code="not_found")
    if user.role not in CENTER_ROLES:
        raise PermissionDenied("Only analysts and supervisors issue and change BOLOs.", code="bolo_read_only")
    return user.agency_id


def _bolo_for_write(*, user: User, bolo_id: int) -> Bolo:
    from apps.bolos.selectors import bolos_visible_to

    if not bolos_visible_to(user=user).filter(pk=bolo_id).exists():
        raise NotFound("BOLO not found.", code="bolo_not_found")
    _issuer(user)
    bolo = Bolo.objects.select_for_update().get(pk=bolo_id)
    if bolo_state(bolo) != Bolo.State.ACTIVE:
        raise Gone(f"This BOLO is {bolo_state(bolo)}; issue a new one.", code="bolo_ended")
    return bolo


def bolo_state(bolo: Bolo, now: datetime | None = None) -> str:
    """Active, cancelled, or expired (an active bulletin past its expiry, before the sweep has announced it)."""
    if bolo.state == Bolo.State.CANCELLED:
        return Bolo.State.CANCELLED
    return Bolo.State.EXPIRED if bolo.expires_at <= (now or timezone.now()) else Bolo.State.ACTIVE


# --- Checking what is sent -----------------------------------------------------------------------------


def _text(values: dict[str, Any], name: str, limit: int, errors: dict[str, list[str]], *, required: bool) -> None:
    value = values.get(name)
    if value is None and not required:
        return
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        errors[name] = [f"required, at most {limit} characters" if required else f"at most {limit} characters"]
        return
    values[name] = value.strip()


def _expiry(value: Any, *, now: datetime, errors: dict[str, list[str]]) -> None:
    if value is None:
        errors["expires_at"] = ["required: say when the bulletin ends (the console offers "
                                f"{settings.BOLO_DEFAULT_DAYS} days)"]
    elif not isinstance(value, datetime) or value.tzinfo is None:
        errors["expires_at"] = ["an ISO 8601 time with a zone"]
    elif value <= now:
        errors["expires_at"] = ["in the future"]
    elif value > now + timedelta(days=settings.BOLO_MAX_DAYS):
        errors["expires_at"] = [f"at most {settings.BOLO_MAX_DAYS} days ahead"]


def _values_clean(*, values: dict[str, Any], agency_id: int, creating: bool, now: datetime) -> dict[str, Any]:
    """The values to store, or ValidationFailed naming every wrong field. `expires_at` has no default here."""
    unknown = set(values) - EDITABLE - ({"subject"} if creating else set())
    if unknown:
        raise ValidationFailed("Unknown fields.", code="invalid", fields={n: ["unknown"] for n in sorted(unknown)})
    clean = dict(values)
    errors: dict[str, list[str]] = {}
    if creating and clean.get("subject") not in Bolo.Subject.values:
        errors["subject"] = list(Bolo.Subject.values)
    _text(clean, "title", 120, errors, required=creating or "title" in values)
    _text(clean, "description", 4000, errors, required=creating or "description" in values)
    for name, limit in (("area", 200), ("case_number", 40), ("plate", 20), ("plate_region", 10)):
        _text(clean, name, limit, errors, required=False)
    if "priority" in clean and clean["priority"] not in (1, 2, 3, 4):
        errors["priority"] = ["1 (most urgent) to 4"]
    if creating or "expires_at" in values:
        _expiry(clean.get("expires_at"), now=now, errors=errors)
    if "plate" in clean:
        normalized = plates.plate_normalize(clean["plate"])
        if clean["plate"] and (not normalized or len(normalized) > plates.MAX_PLATE):
            errors["plate"] = [f"1-{plates.MAX_PLATE} letters or digits"]
        clean["plate"] = normalized
    if clean.get("plate_region"):
        region = plates.region_normalize(clean["plate_region"])
        if not region:
            errors["plate_region"] = ["a state or province code, e.g. WA"]
        clean["plate_region"] = region
    photo_ids = clean.get("photo_ids", [])
    if not isinstance(photo_ids, list) or len(photo_ids) > MAX_PHOTOS or not all(
            json_id(i) for i in photo_ids):
        errors["photo_ids"] = [f"a list of at most {MAX_PHOTOS} photo ids"]
    if errors:
        raise ValidationFailed("Some fields are missing or wrong.", code="invalid", fields=errors)
    if creating or "audience" in values:
        audience = clean.get("audience")
        if not isinstance(audience, dict) or audience.get("kind") not in AUDIENCE_KINDS:
            raise ValidationFailed("A BOLO goes to the agency, a district, a beat, a radius or named units.",
                                   code="invalid_audience", fields={"audience.kind": list(AUDIENCE_KINDS)})
        clean["audience"] = audience_clean(agency_id=agency_id, audience=audience)
    return clean


def _expiry_required(values: dict[str, Any]) -> None:
    # Its own code: the one refusal a phone or console must tell apart from a typo.
    if values.get("expires_at") is None:
        raise ValidationFailed(f"Say when the BOLO ends (the console offers {settings.BOLO_DEFAULT_DAYS} days).",
                               code="expiry_required", fields={"expires_at": ["required"]})


def _photos_claim(*, bolo: Bolo, photo_ids: list[int]) -> None:
    """Attach uploaded photos, in the caller's transaction: the agency's, not yet on a bulletin or sighting."""
    ids = sorted(set(photo_ids))
    if not ids:
        return
    claimed = BoloPhoto.objects.filter(pk__in=ids, agency_id=bolo.agency_id, bolo__isnull=True,
                                       sighting__isnull=True).update(bolo=bolo)
    if claimed != len(ids):
        # Another agency's photo, one already used, or an unknown id: all answer alike, and nothing stays.
        raise ValidationFailed("Some of those photos are unknown.", code="unknown_photo",
                               fields={"photo_ids": ["unknown photo id"]})


# --- The BOLO hot list ---------------------------------------------------------------------------------


def _bolo_hot_list(*, agency_id: int, owner: User) -> HotList:
    hot_list, _ = HotList.objects.get_or_create(agency_id=agency_id, name=BOLO_HOT_LIST, defaults={
        "kind": HotList.Kind.CUSTOM, "owner": owner, "priority": 2, "source": "RTCC BOLOs",
        "reason": "Plates of the agency's BOLOs; each entry follows its bulletin (docs/bolos.md)."})
    return hot_list


def _hot_list_sync(*, bolo: Bolo, user: User, now: datetime) -> None:
    """The bulletin's plate on the BOLO list while it is active; gone from matching once it ends."""
    entry = bolo.hot_list_entry
    ended = bolo_state(bolo, now) != Bolo.State.ACTIVE
    if entry is not None and (ended or not bolo.plate or entry.plate_normalized != bolo.plate
                              or entry.region != bolo.plate_region):
        # Kept, no longer matching: alerts it raised still name the bulletin through it.
        HotListEntry.objects.filter(pk=entry.pk).update(expires_at=min(now, bolo.expires_at))
        if not ended:
            bolo.hot_list_entry = None
            bolo.save(update_fields=["hot_list_entry"])
            entry = None
    if ended or not bolo.plate:
        return
    description = f"BOLO {bolo.pk}: {bolo.title}"[:300]
    if entry is not None:
        HotListEntry.objects.filter(pk=entry.pk).update(description=description, expires_at=bolo.expires_at,
                                                        case_number=bolo.case_number[:40])
        return
    hot_list = _bolo_hot_list(agency_id=bolo.agency_id, owner=user)
    same = HotListEntry.objects.filter(hot_list=hot_list, plate_normalized=bolo.plate, region=bolo.plate_region)
    holder = Bolo.objects.filter(hot_list_entry__in=same).exclude(pk=bolo.pk).first()
    if holder is not None and bolo_state(holder, now) == Bolo.State.ACTIVE:
        raise ValidationFailed(f"BOLO {holder.pk} is already out for this plate; update it instead.",
                               code="plate_on_active_bolo", fields={"plate": [f"on BOLO {holder.pk}"]})
    # An ended bulletin's entry for the plate makes way (the list holds a plate once); its alerts keep their detail.
    same.delete()
    entry = HotListEntry.objects.create(
        hot_list=hot_list, agency_id=bolo.agency_id, plate=bolo.plate, plate_normalized=bolo.plate,
        plate_key=plates.plate_key(bolo.plate), region=bolo.plate_region, description=description,
        case_number=bolo.case_number[:40] or f"BOLO-{bolo.pk}", expires_at=bolo.expires_at, added_by=user)
    bolo.hot_list_entry = entry
    bolo.save(update_fields=["hot_list_entry"])


# --- Announcements: the bulletin's news, and its sightings (type "bolo"; docs/delivery.md) ---------------


def bolo_announce(*, bolo: Bolo, op: str, sent_by: User | None) -> Push | None:
    """Tell of the bulletin: the one place its bolo.issued/updated/cancelled/expired push is made.

    issued and updated go to the bulletin's audience, resolved after commit, each recipient to
    acknowledge the version; cancelled and expired go at once to everyone any push of it reached,
    so every device that shows it drops it. The payload is ids, the version and the priority: a
    push may show on a lock screen, never a name, plate or description.
    """
    about: dict[str, Any] = {
        "agency_id": bolo.agency_id, "type": "bolo", "op": op, "object_type": BOLO_OBJECT, "object_id": str(bolo.pk),
        "payload": {"bolo_id": bolo.pk, "version": bolo.version, "priority": bolo.priority},
        "priority": bolo.priority}
    if op in ("issued", "updated"):
        if sent_by is None:
            raise ValueError("a bulletin to an audience names who sent it")
        return push_create(**about, sent_by=sent_by, audience=bolo.audience, expires_at=bolo.expires_at)
    if op not in ("cancelled", "expired"):
        raise ValueError(f"no bolo.{op} event")
    users = sorted(users_told(object_type=BOLO_OBJECT, object_id=bolo.pk))
    if not users:
        return None
    return push_record(**about, users=users, sent_by=sent_by, audience={"kind": "user", "ids": users})


def bolo_sighting_announce(*, sighting: Sighting, reported_by: User) -> Push | None:
    """bolo.sighting: at once (in the reporter's transaction) to the bulletin's author and the agency's supervisors."""
    bolo = sighting.bolo
    supervisors = agency_staff(agency_id=bolo.agency_id, roles=frozenset({Role.SUPERVISOR}))
    users = sorted({bolo.issued_by_id, *supervisors} - {reported_by.pk})
    if not users:
        return None
    return push_record(agency_id=bolo.agency_id, type="bolo", op="sighting", object_type=BOLO_OBJECT,
                       object_id=str(bolo.pk), payload={"bolo_id": bolo.pk, "version": bolo.version,
                                                        "priority": bolo.priority, "sighting_id": sighting.pk},
                       priority=bolo.priority, users=users, sent_by=reported_by,
                       audience={"kind": "user", "ids": users}, expires_at=bolo.expires_at)


# Who may be sent a bulletin: the active officers, analysts and supervisors of its agency, never co-responders.
bolo_recipients_allowed = agency_staff_filter(Bolo)


# --- Writing --------------------------------------------------------------------------------------------


def bolo_photo_upload(*, user: User, content: bytes, content_type: str = "", ip: str | None = None) -> BoloPhoto:
    """A photo for a bulletin about to be issued or changed: through the photo road, kept until it is used."""
    agency_id = _issuer(user)
    photo = BoloPhoto(agency_id=agency_id, added_by=user)

    def audit() -> None:
        audit_record(actor=user, action=AuditEvent.Action.CREATE, obj=photo, ip=ip, detail={"sha256": photo.sha256})

    stored: BoloPhoto = photo_store(photo=photo, variant_model=BoloPhotoVariant, content=content,
                                    content_type=content_type, after=audit)
    return stored


# An upload not named by a bulletin within this long was abandoned (a form closed): it is deleted, files and all.
UNUSED_PHOTO_HOURS = 24


def bolo_photos_unused_purge(*, now: datetime | None = None) -> int:
    """Delete photos uploaded for a bulletin and never used; audited. Run hourly by Celery beat."""
    cutoff = (now or timezone.now()) - timedelta(hours=UNUSED_PHOTO_HOURS)
    unused = list(BoloPhoto.objects.filter(bolo__isnull=True, sighting__isnull=True, created_at__lt=cutoff)[:500])
    for photo in unused:
        with transaction.atomic():
            # Claimed by the delete itself: a photo named by a bulletin meanwhile is not deleted.
            if not BoloPhoto.objects.filter(pk=photo.pk, bolo__isnull=True, sighting__isnull=True).delete()[0]:
                continue
            audit_record(actor=None, username="retention", action=AuditEvent.Action.DELETE, obj=photo,
                         detail={"unused_hours": UNUSED_PHOTO_HOURS})
            after_commit(photo_files_delete, photo=photo)
    return len(unused)


def bolo_issue(*, user: User, values: dict[str, Any], ip: str | None = None) -> Bolo:
    """An analyst or supervisor issues a bulletin to an audience. An expiry is required (no silent default)."""
    agency_id = _issuer(user)
    _expiry_required(values)
    now = timezone.now()
    clean = _values_clean(values=values, agency_id=agency_id, creating=True, now=now)
    photo_ids = clean.pop("photo_ids", [])
    with transaction.atomic():
        bolo = Bolo.objects.create(agency_id=agency_id, issued_by=user, issued_at=now, updated_at=now, **clean)
        _photos_claim(bolo=bolo, photo_ids=photo_ids)
        _hot_list_sync(bolo=bolo, user=user, now=now)
        audit_record(actor=user, action=AuditEvent.Action.CREATE, obj=bolo, ip=ip,
                     detail={"subject": bolo.subject, "audience": bolo.audience, "plate": bool(bolo.plate),
                             "photos": len(photo_ids), "expires_at": bolo.expires_at.isoformat()})
        bolo_announce(bolo=bolo, op="issued", sent_by=user)
    return bolo


def bolo_update(*, user: User, bolo_id: int, values: dict[str, Any], ip: str | None = None) -> Bolo:
    """Change an active bulletin; its audience is told the new version (and acknowledges it again)."""
    now = timezone.now()
    if not values:
        raise ValidationFailed("Nothing to change.", code="no_change")
    with transaction.atomic():
        bolo = _bolo_for_write(user=user, bolo_id=bolo_id)
        clean = _values_clean(values=values, agency_id=bolo.agency_id, creating=False, now=now)
        photo_ids = clean.pop("photo_ids", [])
        for name, value in clean.items():
            setattr(bolo, name, value)
        bolo.version += 1
        bolo.updated_at = now
        bolo.save()
        _photos_claim(bolo=bolo, photo_ids=photo_ids)
        _hot_list_sync(bolo=bolo, user=user, now=now)
        audit_record(actor=user, action=AuditEvent.Action.UPDATE, obj=bolo, ip=ip,
                     detail={"fields": sorted(values), "version": bolo.version})
        bolo_announce(bolo=bolo, op="updated", sent_by=user)
    return bolo


def bolo_cancel(*, user: User, bolo_id: int, reason: str, ip: str | None = None) -> Bolo:
    """Cancel an active bulletin with the reason: its plate stops matching, every device it reached is told."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise ValidationFailed("Say why the BOLO is cancelled (found, arrested, withdrawn...).",
                               code="reason_required", fields={"reason": ["required"]})
    now = timezone.now()
    with transaction.atomic():
        bolo = _bolo_for_write(user=user, bolo_id=bolo_id)
        bolo.state, bolo.cancelled_at, bolo.cancelled_by, bolo.cancel_reason = (
            Bolo.State.CANCELLED, now, user, reason[:300])
        bolo.updated_at = now
        bolo.save(update_fields=["state", "cancelled_at", "cancelled_by", "cancel_reason", "updated_at"])
        _hot_list_sync(bolo=bolo, user=user, now=now)
        audit_record(actor=user, action=AuditEvent.Action.UPDATE, obj=bolo, ip=ip,
                     detail={"state": ["active", "cancelled"]})
        bolo_announce(bolo=bolo, op="cancelled", sent_by=user)
    return bolo


def bolos_expire_due(*, now: datetime | None = None) -> int:
    """Announce bulletins whose expiry has passed, each once (claimed); run by the delivery dispatcher."""
    now = now or timezone.now()
    due = Bolo.objects.filter(state=Bolo.State.ACTIVE, expiry_announced_at__isnull=True, expires_at__lte=now)
    if not due.exists():  # the dispatcher polls five times a second: a read, not a write lock, for nothing
        return 0
    announced = 0
    for bolo_id in due.values_list("pk", flat=True)[:100]:
        with transaction.atomic():
            if not Bolo.objects.filter(pk=bolo_id, expiry_announced_at__isnull=True).update(expiry_announced_at=now):
                continue
            bolo = Bolo.objects.get(pk=bolo_id)
            audit_record(actor=None, username="expiry", action=AuditEvent.Action.UPDATE, obj=bolo,
                         detail={"state": ["active", "expired"], "expires_at": bolo.expires_at.isoformat()})
            bolo_announce(bolo=bolo, op="expired", sent_by=None)
            announced += 1
    return announced


@dataclass(frozen=True)
class SightingIn:
    latitude: float
    longitude: float
    seen_at: datetime
    note: str = ""
    photo: bytes | None = None
    photo_content_type: str = ""


def _sighting_check(sighting: SightingIn, *, now: datetime) -> None:
    errors: dict[str, list[str]] = {}
    if not -90 <= sighting.latitude <= 90:
        errors["latitude"] = ["-90 to 90"]
    if not -180 <= sighting.longitude <= 180:
        errors["longitude"] = ["-180 to 180"]
    if no_fix(sighting.latitude, sighting.longitude):
        errors["latitude"] = ["0, 0 is a phone without a fix, not a place"]
    if sighting.seen_at.tzinfo is None:
        errors["seen_at"] = ["give a time zone"]
    elif sighting.seen_at > now + CLOCK_SKEW:
        errors["seen_at"] = ["in the future"]
    elif sighting.seen_at < now - timedelta(hours=settings.BOLO_SIGHTING_MAX_AGE_HOURS):
        errors["seen_at"] = [f"more than {settings.BOLO_SIGHTING_MAX_AGE_HOURS} hours ago"]
    if len(sighting.note) > 1000:
        errors["note"] = ["at most 1000 characters"]
    if errors:
        raise ValidationFailed("Some fields are missing or wrong.", code="invalid", fields=errors)


def bolo_sighting_report(*, user: User, bolo_id: int, sighting: SightingIn, ip: str | None = None) -> Sighting:
    """Someone who reads the bulletin saw its subject. Stored with its photo (or not at all) and told at once."""
    from apps.bolos.selectors import bolos_visible_to

    bolo = bolos_visible_to(user=user).filter(pk=bolo_id).first()
    if bolo is None:
        raise NotFound("BOLO not found.", code="bolo_not_found")
    now = timezone.now()
    if bolo_state(bolo, now) != Bolo.State.ACTIVE:
        raise Gone(f"This BOLO is {bolo_state(bolo, now)}.", code="bolo_ended")
    _sighting_check(sighting, now=now)
    with transaction.atomic():
        row = Sighting.objects.create(bolo=bolo, reported_by=user, latitude=sighting.latitude,
                                      longitude=sighting.longitude, seen_at=sighting.seen_at,
                                      note=sighting.note.strip(), created_at=now)

        def audit_and_announce() -> None:
            audit_record(actor=user, action=AuditEvent.Action.CREATE, obj=row, ip=ip,
                         detail={"bolo_id": bolo.pk, "photo": sighting.photo is not None})
            bolo_sighting_announce(sighting=row, reported_by=user)

        if sighting.photo is None:
            audit_and_announce()
        else:
            photo_store(photo=BoloPhoto(agency_id=bolo.agency_id, sighting=row, added_by=user),
                        variant_model=BoloPhotoVariant, content=sighting.photo,
                        content_type=sighting.photo_content_type, after=audit_and_announce)
    return row
