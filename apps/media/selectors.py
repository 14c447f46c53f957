"""Reads of clip jobs and their files. The only road to them, filtered by agency and role, and audited.

Analysts and supervisors see every clip job of their agency; officers those of the
calls their unit is on (as for briefings). Anything else answers "not found".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import QuerySet

from apps.accounts.models import Role
from apps.accounts.policy import AGENCY_ROLES, CENTER_ROLES
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record, audited_get
from apps.calls.models import Call
from apps.calls.selectors import calls_visible_to
from apps.common.errors import NotFound
from apps.media.models import CallPhoto, ClipJob
from apps.media.photos import PhotoFile, photo_file_read

# What a phone gets unless it asks for more: 360p at ~500 kbit/s plays on weak LTE.
DEFAULT_RENDITION = "360p"

M = TypeVar("M", ClipJob, CallPhoto)


@dataclass(frozen=True)
class MediaFile:
    """What a media link opens: a file in storage, its type, and its digest (the Range validator)."""

    name: str
    content_type: str
    sha256: str


def calls_of_officer(*, user: Any) -> QuerySet[Call]:
    """Calls an officer's unit is on now (not cleared)."""
    return Call.objects.filter(agency_id=user.agency_id, assignments__cleared_at__isnull=True,
                               assignments__unit__members_on_shift=user)


def _call_media_visible_to(*, user: Any, model: type[M]) -> QuerySet[M]:
    """A call's clips and photos: the agency's for analysts and supervisors, the calls their unit is on for officers."""
    media = model._default_manager.all()
    if user is None or user.agency_id is None:
        return media.none()
    if user.role in CENTER_ROLES:
        return media.filter(agency_id=user.agency_id)
    if user.role == Role.OFFICER:
        return media.filter(agency_id=user.agency_id, call__in=calls_of_officer(user=user).values("pk"))
    return media.none()


def _call_media_read(*, user: Any, media: QuerySet[M], call_id: int, ip: str | None) -> list[M]:
    """One call's clips or photos (of those `media` holds), newest first, and the audit record of the read."""
    items = list(media.filter(call_id=call_id))
    audit_record(actor=user, action=AuditEvent.Action.READ, object_type=media.model._meta.label_lower, objects=items,
                 ip=ip, detail={"call_id": call_id})
    return items


def clip_jobs_visible_to(*, user: Any) -> QuerySet[ClipJob]:
    return _call_media_visible_to(user=user, model=ClipJob)


def clip_job_get_for_user(*, user: Any, job_id: int, ip: str | None = None) -> ClipJob:
    return audited_get(user=user, queryset=clip_jobs_visible_to(user=user).prefetch_related("renditions"), pk=job_id,
                       code="clip_not_found", ip=ip, noun="Clip")


def clip_jobs_for_call(*, user: Any, call_id: int, ip: str | None = None) -> list[ClipJob]:
    """The clip jobs of one call, newest first; the call itself must be one the user sees."""
    if not calls_visible_to(user=user).filter(pk=call_id).exists():
        raise NotFound("Call not found.", code="call_not_found")
    return _call_media_read(user=user, media=clip_jobs_visible_to(user=user).prefetch_related("renditions"),
                            call_id=call_id, ip=ip)


def clip_file_get(*, user: Any, job_id: int, variant: str, ip: str | None = None) -> MediaFile:
    """A rendition ("360p", "720p") or the poster ("poster") of a ready clip the user may see."""
    job = clip_jobs_visible_to(user=user).filter(pk=job_id, state=ClipJob.State.READY).first()
    if job is None:
        raise NotFound("Clip not found.", code="clip_not_found")
    if variant == "poster":
        found = MediaFile(name=job.poster.name, content_type="image/jpeg", sha256=job.poster_sha256)
    else:
        rendition = job.renditions.filter(name=variant).first()
        if rendition is None:
            raise NotFound("This clip has no such rendition.", code="clip_not_found")
        found = MediaFile(name=rendition.file.name, content_type="video/mp4", sha256=rendition.sha256)
    audit_record(actor=user, action=AuditEvent.Action.READ, obj=job, ip=ip, detail={"file": variant})
    return found


# ------------------------------------------------------------------ call photos


def call_photos_visible_to(*, user: Any) -> QuerySet[CallPhoto]:
    return _call_media_visible_to(user=user, model=CallPhoto)


def call_photos_for_call(*, user: Any, call_id: int, ip: str | None = None) -> list[CallPhoto]:
    """The photos of one call, newest first; the call must be one whose photos the user sees."""
    calls = calls_visible_to(user=user) if user.role in CENTER_ROLES else calls_of_officer(user=user)
    if user.role not in AGENCY_ROLES or not calls.filter(pk=call_id).exists():
        raise NotFound("Call not found.", code="call_not_found")
    return _call_media_read(user=user, media=call_photos_visible_to(user=user).select_related("added_by"),
                            call_id=call_id, ip=ip)


def call_photo_file_get(*, user: Any, photo_id: int, variant: str, ip: str | None = None) -> PhotoFile:
    """One file of a call photo the user may see: a variant, or the original for analysts and supervisors."""
    photo = call_photos_visible_to(user=user).filter(pk=photo_id).first()
    return photo_file_read(user=user, photo=photo, variant=variant, ip=ip,
                           detail={"call_id": photo.call_id if photo else None})
