"""Reading BOLOs: the only road to them, filtered by agency and role, and audited (docs/bolos.md).

Officers, analysts and supervisors read every bulletin of their agency (a lookout is meant to
be seen; the audience decides who is pushed it and must acknowledge). Co-responders,
administrators, auditors and every other agency: not found.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from apps.accounts.policy import AGENCY_ROLES, CENTER_ROLES
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record, audited_get
from apps.bolos.models import Bolo, BoloPhoto, Sighting
from apps.bolos.services import BOLO_OBJECT
from apps.delivery.models import Push
from apps.delivery.selectors import push_visible_to
from apps.media.photos import PhotoFile, photo_file_read

MAX_ACTIVE = 200


def bolos_visible_to(*, user: Any) -> QuerySet[Bolo]:
    if user is None or user.agency_id is None or user.role not in AGENCY_ROLES:
        return Bolo.objects.none()
    return Bolo.objects.filter(agency_id=user.agency_id)


def _with_details(bolos: QuerySet[Bolo]) -> QuerySet[Bolo]:
    return bolos.select_related("issued_by", "cancelled_by").prefetch_related(
        "photos", Prefetch("sightings", queryset=Sighting.objects.select_related("reported_by", "photo")))


def bolo_list_for_user(*, user: Any, ip: str | None = None) -> list[Bolo]:
    """The active bulletins, most urgent then newest first: cancelled and expired ones are not on it."""
    now = timezone.now()
    bolos = list(_with_details(bolos_visible_to(user=user).filter(state=Bolo.State.ACTIVE, expires_at__gt=now))
                 .order_by("priority", "-issued_at", "-id")[:MAX_ACTIVE])
    audit_record(actor=user, action=AuditEvent.Action.READ, object_type=Bolo._meta.label_lower, objects=bolos, ip=ip)
    return bolos


def bolo_get_for_user(*, user: Any, bolo_id: int, ip: str | None = None) -> Bolo:
    """One bulletin, whatever its state (a device that hears of a cancellation opens it to say so)."""
    return audited_get(user=user, queryset=_with_details(bolos_visible_to(user=user)), pk=bolo_id,
                       code="bolo_not_found", noun="BOLO", ip=ip)


def bolo_pushes_for_user(*, user: Any, bolo: Bolo) -> list[Push]:
    """The pushes of this bulletin whose receipts the user may read (GET /pushes/{id}), newest first."""
    if user.role not in CENTER_ROLES:
        return []
    return list(push_visible_to(user=user).filter(object_type=BOLO_OBJECT, object_id=str(bolo.pk))
                .order_by("-created_at", "-id"))


def bolo_photo_file_get(*, user: Any, photo_id: int, variant: str, ip: str | None = None) -> PhotoFile:
    """One file of a photo of a bulletin (or of its sighting) the user reads; an unused upload for its uploader."""
    photo = (BoloPhoto.objects.filter(pk=photo_id, agency_id=user.agency_id).select_related("sighting").first()
             if user.agency_id is not None else None)
    bolo_id = (photo.bolo_id or (photo.sighting.bolo_id if photo.sighting else None)) if photo else None
    if photo is not None and not (bolos_visible_to(user=user).filter(pk=bolo_id).exists() if bolo_id is not None
                                  else photo.added_by_id == user.pk):
        photo = None
    return photo_file_read(user=user, photo=photo, variant=variant, ip=ip, detail={"bolo_id": bolo_id})
