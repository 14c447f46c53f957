"""BOLOs (be on the lookout): bulletins for a person or vehicle, their photos and their sightings (docs/bolos.md)."""

from __future__ import annotations

from django.db import models

from apps.common.fields import by_user, owning_agency
from apps.media.variants import PhotoVariant


class Bolo(models.Model):
    """One bulletin. Active from issue until it is cancelled or its expiry passes; kept afterwards as a record."""

    class Subject(models.TextChoices):
        PERSON = "person", "Person"
        VEHICLE = "vehicle", "Vehicle"

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        CANCELLED = "cancelled", "Cancelled"
        # Not stored: an active bulletin whose expiry has passed reads as expired (bolo_state).
        EXPIRED = "expired", "Expired"

    agency = owning_agency()
    subject = models.CharField(max_length=10, choices=Subject.choices)
    title = models.CharField(max_length=120)
    description = models.TextField(max_length=4000)
    # The plate as entered and normalised (apps.sensors.plates); "" for a person without a vehicle.
    plate = models.CharField(max_length=20, blank=True)
    plate_region = models.CharField(max_length=3, blank=True)
    # Where the subject was last seen or is expected, in words ("Rainier Valley, south of Othello").
    area = models.CharField(max_length=200, blank=True)
    case_number = models.CharField(max_length=40, blank=True)
    priority = models.PositiveSmallIntegerField(default=2)
    # Who is told, in apps.delivery's canonical audience form (agency, district, beat, radius, unit).
    audience = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    version = models.PositiveIntegerField(default=1)
    issued_by = by_user()
    issued_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # Set by the dispatcher's sweep when it told the recipients the bulletin expired: once, claimed.
    expiry_announced_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = by_user(optional=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    # A plate bulletin's entry on the agency's BOLO hot list: a matching plate read raises a sensor alert.
    hot_list_entry = models.OneToOneField("sensors.HotListEntry", on_delete=models.SET_NULL, null=True, blank=True,
                                          related_name="bolo")

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [
            models.Index(fields=["agency", "state", "expires_at"], name="bolo_active_idx"),
            models.Index(fields=["expires_at"], condition=models.Q(state="active", expiry_announced_at=None),
                         name="bolo_expiry_due_idx"),
        ]

    def __str__(self) -> str:
        return f"BOLO {self.pk}: {self.title}"


class Sighting(models.Model):
    """Someone saw the subject: where, when, what they noticed, and perhaps a photo."""

    bolo = models.ForeignKey(Bolo, on_delete=models.CASCADE, related_name="sightings")
    reported_by = by_user()
    latitude = models.FloatField()
    longitude = models.FloatField()
    seen_at = models.DateTimeField()
    note = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-seen_at", "-id"]

    def __str__(self) -> str:
        return f"sighting {self.pk} of BOLO {self.bolo_id}"


class BoloPhoto(models.Model):
    """A photo of a bulletin's subject or of a sighting, through the one photo road (apps.media.photos).

    Uploaded first (no bulletin yet), then named by id when the bulletin is issued or updated.
    """

    agency = owning_agency()
    bolo = models.ForeignKey(Bolo, on_delete=models.CASCADE, null=True, blank=True, related_name="photos")
    sighting = models.OneToOneField(Sighting, on_delete=models.CASCADE, null=True, blank=True, related_name="photo")
    image = models.FileField(upload_to="bolos/photos/%Y/%m/")
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=40)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    added_by = by_user()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"BOLO photo {self.sha256[:12]}"


class BoloPhotoVariant(PhotoVariant):
    photo = models.ForeignKey(BoloPhoto, on_delete=models.CASCADE, related_name="variants")

    class Meta(PhotoVariant.Meta):
        constraints = [models.UniqueConstraint(fields=["photo", "name"], name="bolo_photo_variant_once")]
