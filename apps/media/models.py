"""Clip jobs: a short clip cut from a live camera or an uploaded video, transcoded for phones.

A job is tied to a call; its renditions and poster exist in storage before the job
says `ready` and before any officer is told about it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.calls.models import Call
from apps.cameras.models import Camera
from apps.common.fields import by_user, owning_agency
from apps.media.variants import PhotoVariant


class ClipJob(models.Model):
    class Source(models.TextChoices):
        CAMERA = "camera", "Live camera"
        UPLOAD = "upload", "Uploaded video"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED_STATES = (State.READY, State.FAILED, State.CANCELLED)

    agency = owning_agency()
    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="clip_jobs")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                     related_name="+")
    source = models.CharField(max_length=10, choices=Source.choices)
    camera = models.ForeignKey(Camera, on_delete=models.PROTECT, null=True, blank=True, related_name="clip_jobs")
    # The uploaded video as received (evidence), with its digest; kept while the clip is.
    upload = models.FileField(upload_to="clips/sources/%Y/%m/", blank=True)
    upload_sha256 = models.CharField(max_length=64, blank=True)
    seconds = models.PositiveSmallIntegerField(help_text="How much of the source the clip covers, at most 60 s.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    percent = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=20, blank=True)
    cancel_requested = models.BooleanField(default=False)
    failure_code = models.CharField(max_length=40, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    preroll_s = models.FloatField(null=True, blank=True,
                                  help_text="Seconds of pre-roll the clip starts with (camera clips only).")
    # Each asked-for rendition, made or not, its size and why (apps.media.transcode.rendition_plan).
    rendition_plan = models.JSONField(default=list, blank=True)
    poster = models.FileField(upload_to="clips/%Y/%m/", blank=True)
    poster_sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["call", "created_at"], name="clipjob_call_idx"),
            models.Index(fields=["state", "started_at"], name="clipjob_state_idx"),
        ]

    def __str__(self) -> str:
        return f"clip {self.pk} ({self.state}) for call {self.call_id}"


class ClipRendition(models.Model):
    """One MP4 of a clip (360p for phones by default, 720p on request)."""

    job = models.ForeignKey(ClipJob, on_delete=models.CASCADE, related_name="renditions")
    name = models.CharField(max_length=10)
    file = models.FileField(upload_to="clips/%Y/%m/")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveBigIntegerField()
    has_audio = models.BooleanField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["job", "height"]
        constraints = [models.UniqueConstraint(fields=["job", "name"], name="clip_rendition_once")]

    def __str__(self) -> str:
        return f"{self.name} of clip {self.job_id}"


class CallPhoto(models.Model):
    """A photo taken at a call (an officer's phone, an analyst's upload): evidence of the call.

    The original as received, byte for byte with its SHA-256; phones and terminals get its
    variants, re-encoded without metadata (apps.media.photos, the same road as a person's photos).
    """

    agency = owning_agency()
    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="photos")
    image = models.FileField(upload_to="calls/photos/%Y/%m/")
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=40)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    added_by = by_user()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["call", "created_at"], name="callphoto_call_idx")]

    def __str__(self) -> str:
        return f"photo {self.sha256[:12]} of call {self.call_id}"


class CallPhotoVariant(PhotoVariant):
    photo = models.ForeignKey(CallPhoto, on_delete=models.CASCADE, related_name="variants")

    class Meta(PhotoVariant.Meta):
        constraints = [models.UniqueConstraint(fields=["photo", "name"], name="call_photo_variant_once")]
