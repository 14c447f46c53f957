"""Writes of clip jobs: create (from a live camera or an uploaded video), cancel, and run one.

A job runs in a Celery worker (apps.media.tasks). Its progress is written to the
job row (at most every MEDIA_PROGRESS_WRITE_SECONDS), where the API reads it; a
cancel is a flag on the row the transcoder polls. Every temporary file lives in
one directory per run, removed whatever happens; files reach storage only once
the transcode succeeded, and the officers on the call hear of the clip only
after its files exist.
"""

from __future__ import annotations

import hashlib
import logging
import math
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.policy import CENTER_ROLES, agency_staff
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.calls.models import Call
from apps.calls.selectors import calls_visible_to, officers_on_call, user_is_assigned_to_call
from apps.cameras.models import Camera
from apps.cameras.selectors import camera_get_for_clip
from apps.cameras.services import camera_reachability_record, camera_source_url
from apps.common.errors import NotFound, PermissionDenied, ValidationFailed
from apps.common.later import after_commit
from apps.common.rows import locked_get
from apps.delivery.services import event_append, push_record
from apps.media.errors import PayloadTooLarge
from apps.media.models import CallPhoto, CallPhotoVariant, ClipJob, ClipRendition
from apps.media.photos import photo_store
from apps.media.preroll import capture, concat, preroll_path
from apps.media.selectors import clip_jobs_visible_to
from apps.media.tasks import clip_job_run_later
from apps.media.transcode import RENDITIONS, ClipOutput, TranscodeError, probe, transcode

logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
# The pre-roll worker rewrites a camera's file every second; an older one means it stopped following it.
PREROLL_FRESH_S = 3.0


def _call_for_clip(*, user: User, call_id: int) -> Call:
    call = calls_visible_to(user=user).filter(pk=call_id).first()
    if call is None:
        raise NotFound("Call not found.", code="call_not_found")
    if user.role not in CENTER_ROLES:
        raise PermissionDenied("Only analysts and supervisors ask for clips.", code="clip_not_allowed")
    return call


def _call_for_field_upload(*, user: User, call_id: int) -> Call:
    """Evidence from the scene (a photo or a video from the phone): the center, or an officer on the call.

    Anyone else, including an officer of the agency who is not on it, is told the call does not exist.
    """
    call = calls_visible_to(user=user).filter(pk=call_id).first()
    if call is None or not (user.role in CENTER_ROLES or user_is_assigned_to_call(user=user, call=call)):
        raise NotFound("Call not found.", code="call_not_found")
    return call


def _seconds_check(seconds: int) -> None:
    if not 1 <= seconds <= settings.MEDIA_CLIP_MAX_SECONDS:
        raise ValidationFailed(f"A clip is 1 to {settings.MEDIA_CLIP_MAX_SECONDS} seconds long.",
                               code="clip_too_long", fields={"seconds": ["out of range"]})


def _queue(*, job: ClipJob, user: User, ip: str | None) -> ClipJob:
    job.save()
    audit_record(actor=user, action=AuditEvent.Action.CREATE, obj=job, ip=ip,
                 detail={"call_id": job.call_id, "source": job.source, "camera_id": job.camera_id,
                         "seconds": job.seconds})
    clip_job_run_later(job_id=job.pk)
    return job


def clip_job_create_from_camera(*, user: User, call_id: int, camera_id: int, seconds: int,
                                ip: str | None = None) -> ClipJob:
    """The next `seconds` of a live camera the owner shares for this call."""
    call = _call_for_clip(user=user, call_id=call_id)
    _seconds_check(seconds)
    camera = camera_get_for_clip(user=user, camera_id=camera_id, call_id=call.pk)
    with transaction.atomic():
        return _queue(job=ClipJob(agency_id=call.agency_id, call=call, requested_by=user,
                                  source=ClipJob.Source.CAMERA, camera=camera, seconds=seconds), user=user, ip=ip)


def clip_job_create_automatic(*, call: Call, camera: Camera, seconds: int, reason: str) -> ClipJob:
    """A clip nobody clicked for (an officer's emergency): the camera's owner shares it for the call, checked by
    the caller (cameras_pin_nearest). A pinned camera's pre-roll worker has the seconds before it. Audited."""
    seconds = max(1, min(seconds, settings.MEDIA_CLIP_MAX_SECONDS))
    job = ClipJob(agency_id=call.agency_id, call=call, requested_by=None, source=ClipJob.Source.CAMERA,
                  camera=camera, seconds=seconds)
    job.save()
    audit_record(actor=None, username="automatic", action=AuditEvent.Action.CREATE, obj=job,
                 detail={"call_id": call.pk, "source": job.source, "camera_id": camera.pk, "seconds": seconds,
                         "reason": reason})
    clip_job_run_later(job_id=job.pk)
    return job


@contextmanager
def _local_path(upload: Any) -> Iterator[Path]:
    """A path to the uploaded bytes: Django's own temporary file, or one written here and removed after."""
    if hasattr(upload, "temporary_file_path"):
        yield Path(upload.temporary_file_path())
        return
    with tempfile.NamedTemporaryFile(prefix="rtcc-upload-") as copy:
        upload.seek(0)
        for chunk in upload.chunks(_CHUNK):
            copy.write(chunk)
        copy.flush()
        yield Path(copy.name)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def clip_job_create_from_upload(*, user: User, call_id: int, upload: Any, ip: str | None = None) -> ClipJob:
    """A clip made of an uploaded video (body cam, drone, a witness's phone) of at most MEDIA_CLIP_MAX_SECONDS,
    from the center or an officer on the call (the same rule as a call's photos).

    The upload is probed before anything is stored: an empty, truncated (no index) or non-video
    file, or a longer one, is refused at once with the prober's code, and nothing is kept.
    """
    call = _call_for_field_upload(user=user, call_id=call_id)
    if not upload.size:
        raise ValidationFailed("The file is empty.", code="empty_file", fields={"file": ["empty"]})
    if upload.size > settings.MEDIA_VIDEO_MAX_BYTES:
        raise PayloadTooLarge("The video is too large.", fields={"file": ["too large"]})
    with _local_path(upload) as path:
        try:
            info = probe(path, open_timeout_s=settings.MEDIA_SOURCE_OPEN_TIMEOUT_SECONDS)
        except TranscodeError as exc:
            raise ValidationFailed(exc.message, code=exc.code, fields={"file": [exc.message]}) from exc
        # The same half-second of slack as the transcoder, which refuses a file longer than its clip.
        limit = settings.MEDIA_CLIP_MAX_SECONDS
        if info.duration_s is None or info.duration_s > limit + 0.5:
            raise ValidationFailed(f"Upload a video of at most {limit} s; cut longer ones first.", code="too_long",
                                   fields={"file": ["too long" if info.duration_s else "no duration"]})
        digest = _sha256_file(path)
        job = ClipJob(agency_id=call.agency_id, call=call, requested_by=user, source=ClipJob.Source.UPLOAD,
                      seconds=min(limit, math.ceil(info.duration_s)), upload_sha256=digest)
        with path.open("rb") as fh:
            job.upload.save(f"{digest[:16]}.video", File(fh), save=False)
    try:
        with transaction.atomic():
            return _queue(job=job, user=user, ip=ip)
    except BaseException:
        job.upload.delete(save=False)
        raise


def clip_job_cancel(*, user: User, job_id: int, ip: str | None = None) -> ClipJob:
    """Stop a job: a queued one at once, a running one at the transcoder's next check (within a second)."""
    with transaction.atomic():
        job = locked_get(clip_jobs_visible_to(user=user), pk=job_id, noun="Clip", code="clip_not_found")
        if user.role not in CENTER_ROLES:
            raise PermissionDenied("Only analysts and supervisors cancel clips.", code="clip_read_only")
        if job.state in ClipJob.FINISHED_STATES:
            raise ValidationFailed(f"The clip is already {job.state}.", code="clip_finished")
        job.cancel_requested = True
        if job.state == ClipJob.State.QUEUED:
            _set_finished(job, ClipJob.State.CANCELLED, "cancelled", "Cancelled before it started.")
        job.save()
        audit_record(actor=user, action=AuditEvent.Action.UPDATE, obj=job, ip=ip, detail={"cancel": True})
    return job


# ----------------------------------------------------------------- running a job


def _set_finished(job: ClipJob, state: str, code: str = "", reason: str = "") -> None:
    job.state = state
    job.failure_code = code
    job.failure_reason = reason[:300]
    job.finished_at = timezone.now()
    if state != ClipJob.State.READY and job.upload:
        # A clip that will not exist keeps no copy of its source: nothing is left behind.
        name = job.upload.name
        after_commit(default_storage.delete, name)
        job.upload = ""


class _Reporter:
    """The transcoder's progress and cancel callbacks, throttled to a few database round trips a second."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.every = settings.MEDIA_PROGRESS_WRITE_SECONDS
        self.stage = ""
        self.written_at = 0.0
        self.checked_at = 0.0
        self.cancelled = False

    def progress(self, percent: float, stage: str) -> None:
        now = time.monotonic()
        if stage == self.stage and now - self.written_at < self.every:
            return
        self.stage, self.written_at = stage, now
        # 100 is for a job whose files are stored, not for the transcoder's last frame.
        ClipJob.objects.filter(pk=self.job_id, state=ClipJob.State.RUNNING).update(
            percent=max(0, min(99, int(percent))), stage=stage[:20])

    def should_cancel(self) -> bool:
        now = time.monotonic()
        if not self.cancelled and now - self.checked_at >= self.every:
            self.checked_at = now
            self.cancelled = ClipJob.objects.filter(pk=self.job_id, cancel_requested=True).exists()
        return self.cancelled


def _claim(job_id: int) -> bool:
    """Take the job: a queued one, or a running one whose worker has been silent past the lease."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.MEDIA_CLIP_LEASE_SECONDS)
    return bool(ClipJob.objects.filter(Q(state=ClipJob.State.QUEUED) | Q(state=ClipJob.State.RUNNING,
                                                                           started_at__lt=stale),
                                       pk=job_id, cancel_requested=False)
                .update(state=ClipJob.State.RUNNING, started_at=now, percent=0, stage="starting"))


def _camera_source(job: ClipJob, camera: Camera, work: Path, reporter: _Reporter) -> tuple[str | Path, float]:
    """The camera's fresh pre-roll followed by its next seconds, as one file, and the pre-roll's seconds.

    Without a fresh pre-roll, or if joining it fails, the live camera alone (0 s of pre-roll).
    The capture's own failures (timeout, cancel) are the job's, as they would be without a pre-roll.
    """
    url = camera_source_url(camera=camera)  # has credentials: never logged, never stored
    held = preroll_path(Path(settings.MEDIA_PREROLL_DIR), camera.pk)
    try:
        if time.time() - held.stat().st_mtime > PREROLL_FRESH_S:
            return url, 0.0
        # A copy: the worker replaces the file every second while this job runs.
        shutil.copyfile(held, work / "preroll.mov")
    except OSError:
        return url, 0.0  # none, or the worker just removed it
    reporter.progress(0, "capturing")
    live = work / "live.mov"
    try:
        captured = capture(url, live, seconds=job.seconds, open_timeout_s=settings.MEDIA_SOURCE_OPEN_TIMEOUT_SECONDS,
                           should_cancel=reporter.should_cancel)
    except TranscodeError:
        raise  # the camera's own failure (timeout, unreadable) or a cancel: the job's, pre-roll or not
    except Exception as exc:
        logger.warning("clip job %s: live capture of camera %s failed (%s); no pre-roll", job.pk, camera.pk,
                       type(exc).__name__)
        return url, 0.0
    if captured <= 0:
        return live, 0.0
    try:
        return work / "joined.mov", concat(work / "preroll.mov", live, work / "joined.mov")
    except Exception as exc:
        code = exc.code if isinstance(exc, TranscodeError) else type(exc).__name__
        logger.warning("clip job %s: pre-roll of camera %s not used (%s)", job.pk, camera.pk, code)
        return live, 0.0


def _source(job: ClipJob, work: Path, reporter: _Reporter) -> tuple[str | Path, float]:
    """What to transcode, and how many seconds of pre-roll it starts with."""
    if job.camera is not None:
        return _camera_source(job, job.camera, work, reporter)
    local = work / "source"
    with default_storage.open(job.upload.name, "rb") as src, local.open("wb") as dst:
        shutil.copyfileobj(src, dst, _CHUNK)
    return local, 0.0


def _store(path: Path, name: str) -> tuple[str, str]:
    with path.open("rb") as fh:
        stored = default_storage.save(name, File(fh))
    return stored, _sha256_file(path)


CLIP_OBJECT = "media.clipjob"


def clip_announce(*, job: ClipJob) -> None:
    """Tell the officers on the call, in the transaction that made the clip ready: ids only.

    A push, so each officer's receipt is tracked and one without an open socket gets a push alert.
    """
    officers = officers_on_call(job.call_id)
    if officers:
        push_record(agency_id=job.agency_id, type="clip", op="ready", object_type=CLIP_OBJECT, object_id=str(job.pk),
                    payload={"call_id": job.call_id, "clip_id": job.pk}, priority=job.call.priority, users=officers,
                    call_id=job.call_id, audience={"kind": "call", "call_id": job.call_id})


# ------------------------------------------------------------------ call photos

CALL_PHOTO_OBJECT = "media.callphoto"


def call_photo_announce(*, photo: CallPhoto, call: Call, added_by: User) -> None:
    """A push to the other officers on the call, as for a new clip, and an event to the agency's consoles."""
    payload = {"call_id": call.pk, "photo_id": photo.pk}
    others = [pk for pk in officers_on_call(call.pk) if pk != added_by.pk]
    if others:
        push_record(agency_id=call.agency_id, type="photo", op="added", object_type=CALL_PHOTO_OBJECT,
                    object_id=str(photo.pk), payload=payload, priority=call.priority, users=others,
                    sent_by=added_by, call_id=call.pk, audience={"kind": "call", "call_id": call.pk})
    # The consoles: an event, not a push (nobody at the center acknowledges it), as for a sensor alert.
    center = [pk for pk in agency_staff(agency_id=call.agency_id, roles=CENTER_ROLES) if pk != added_by.pk]
    if center:
        event_append(users=center, type="photo", op="added", object_type=CALL_PHOTO_OBJECT,
                     object_id=str(photo.pk), payload=payload)


def call_photo_upload(*, user: User, call_id: int, content: bytes, content_type: str = "",
                      ip: str | None = None) -> CallPhoto:
    """An officer on the call, or an analyst or supervisor of its agency, attaches a photo to a call.

    Stored through the one photo road (apps.media.photos: checked, original kept, variants without
    metadata, nothing left on failure), audited, and announced in the same transaction: a push to
    the other officers on the call, as for a new clip, and an event to the agency's consoles.
    """
    call = _call_for_field_upload(user=user, call_id=call_id)
    photo = CallPhoto(agency_id=call.agency_id, call=call, added_by=user)

    def audit_and_announce() -> None:
        audit_record(actor=user, action=AuditEvent.Action.CREATE, obj=photo, ip=ip,
                     detail={"call_id": call.pk, "sha256": photo.sha256})
        call_photo_announce(photo=photo, call=call, added_by=user)

    return photo_store(photo=photo, variant_model=CallPhotoVariant, content=content, content_type=content_type,
                       after=audit_and_announce)


def _finish_ready(job_id: int, output: ClipOutput, stored: list[str], *, preroll_s: float | None) -> None:
    stamp = timezone.now().strftime("%Y/%m")
    renditions = []
    for made in output.outputs:
        name, digest = _store(made.path, f"clips/{stamp}/{job_id}-{made.rendition}.mp4")
        stored.append(name)
        renditions.append(ClipRendition(job_id=job_id, name=made.rendition, file=name, width=made.width,
                                        height=made.height, size_bytes=made.size_bytes, has_audio=made.has_audio,
                                        sha256=digest))
    poster, poster_digest = _store(output.poster_path, f"clips/{stamp}/{job_id}-poster.jpg")
    stored.append(poster)
    with transaction.atomic():
        job = ClipJob.objects.select_for_update().get(pk=job_id)
        if job.cancel_requested:
            raise TranscodeError("cancelled", "Cancelled while the clip was being stored.")
        ClipRendition.objects.bulk_create(renditions)
        job.poster, job.poster_sha256 = poster, poster_digest
        job.duration_s, job.percent, job.stage = output.duration_s, 100, "done"
        job.preroll_s = preroll_s
        job.rendition_plan = [{"name": p.rendition, "made": p.made, "width": p.width, "height": p.height,
                               "reason": p.reason} for p in output.plan]
        _set_finished(job, ClipJob.State.READY)
        job.save()
        clip_announce(job=job)


# A camera clip failing with these says the stream could not be read: the camera is marked unreachable.
SOURCE_FAILURES = ("source_unavailable", "source_timeout")


def _camera_unreachable(camera_id: int, reason: str) -> str:
    """Mark the camera unreachable; the clip's reason, with what is known of why (e.g. its server is down)."""
    known = Camera.objects.filter(pk=camera_id).values_list("unreachable_reason", flat=True).first() or ""
    camera_reachability_record(camera_ids=[camera_id], reachable=False, reason=known or reason)
    return f"{reason} {known}" if known and known != reason else reason


def _finish_failed(job_id: int, state: str, code: str, reason: str) -> None:
    with transaction.atomic():
        job = ClipJob.objects.select_for_update().get(pk=job_id)
        _set_finished(job, state, code, reason)
        job.save()


def clip_job_run(*, job_id: int) -> str:
    """Transcode one job (both renditions from one decode), store its files, then say it is ready.

    Safe to run twice (Celery may redeliver): a job already taken is left alone. Returns the final state.
    """
    if not _claim(job_id):
        return ClipJob.objects.filter(pk=job_id).values_list("state", flat=True).first() or "missing"
    job = ClipJob.objects.select_related("camera").get(pk=job_id)
    reporter = _Reporter(job_id)
    work = Path(tempfile.mkdtemp(prefix=f"rtcc-clip-{job_id}-"))
    stored: list[str] = []
    try:
        source, preroll_s = _source(job, work, reporter)
        output = transcode(source, work / "out", list(RENDITIONS.values()), max_seconds=job.seconds + preroll_s,
                           progress=reporter.progress, should_cancel=reporter.should_cancel,
                           open_timeout_s=settings.MEDIA_SOURCE_OPEN_TIMEOUT_SECONDS)
        _finish_ready(job_id, output, stored,
                      preroll_s=round(preroll_s, 3) if job.camera_id is not None else None)
        if job.camera_id is not None:
            camera_reachability_record(camera_ids=[job.camera_id], reachable=True)
        return ClipJob.State.READY
    except TranscodeError as exc:
        state = ClipJob.State.CANCELLED if exc.code == "cancelled" else ClipJob.State.FAILED
        code, reason = exc.code, exc.message
        if job.camera_id is not None and code in SOURCE_FAILURES:
            reason = _camera_unreachable(job.camera_id, reason)
    except Exception:
        logger.exception("clip job %s failed", job_id)  # the source URL is not in the job, so not in this log
        state, code, reason = ClipJob.State.FAILED, "internal_error", "The clip could not be made."
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name in stored:
        default_storage.delete(name)
    _finish_failed(job_id, state, code, reason)
    return state
