"""The camera registry: who owns each camera, where it is, how to reach its stream, and when it may be shared.

A camera's stream credentials live in their own row (CameraCredential), encrypted,
so that nothing that serializes or prints a Camera can carry them.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models

from apps.accounts.models import Agency
from apps.calls.models import Call
from apps.common.fields import by_user


class Camera(models.Model):
    class Kind(models.TextChoices):
        FIXED = "fixed", "Fixed"
        PTZ = "ptz", "Pan-tilt-zoom"
        TRAILER = "trailer", "Mobile trailer"
        DRONE = "drone", "Drone"
        BODY_WORN = "body_worn", "Body-worn"
        IN_CAR = "in_car", "In-car"
        PARTNER = "partner", "Partner"

    # Kinds whose position changes: each move is kept in CameraLocation.
    MOBILE_KINDS = (Kind.TRAILER, Kind.DRONE, Kind.BODY_WORN, Kind.IN_CAR)

    class OwnerKind(models.TextChoices):
        AGENCY = "agency", "The agency itself"
        CITY_DEPARTMENT = "city_department", "City department"
        # A state or county body, e.g. the state DOT's highway cameras.
        PUBLIC_PARTNER = "public_partner", "Other public agency"
        BUSINESS_PARTNER = "business_partner", "Business partner"

    class SourceKind(models.TextChoices):
        RTSP = "rtsp", "RTSP"
        HTTP_TS = "http_ts", "HTTP MPEG-TS"
        HLS = "hls", "HLS"
        UDP = "udp", "UDP MPEG-TS"
        RTMP = "rtmp", "RTMP"
        FILE = "file", "File"
        # A still image refreshed every few seconds (e.g. WSDOT highway cameras): no video, no clips.
        SNAPSHOT = "snapshot", "HTTP still image"

    class Sharing(models.TextChoices):
        ALWAYS = "always", "Always"
        ACTIVE_CALL_NEARBY = "active_call_nearby", "Only on an alarm or active call nearby"
        NEVER = "never", "Never"

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="cameras")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The registry's own key for a camera imported from an owner's list (e.g. "sdot:Airport_Norfolk").
    external_id = models.CharField(max_length=100, blank=True)
    owner_kind = models.CharField(max_length=20, choices=OwnerKind.choices, default=OwnerKind.AGENCY)
    owner = models.CharField(max_length=200)
    # The owner's administrator: may change the sharing policy besides the agency's administrators.
    owner_administrator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                            blank=True, related_name="+")
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    # Geohash cell of precision 7 (apps.places.geo): the spatial index. Empty when unlocated.
    cell = models.CharField(max_length=12, blank=True)
    location_updated_at = models.DateTimeField(null=True, blank=True)
    source_kind = models.CharField(max_length=10, choices=SourceKind.choices)
    # Without user name or password: those are in CameraCredential.
    source_url = models.CharField(max_length=500)
    sharing = models.CharField(max_length=20, choices=Sharing.choices, default=Sharing.ACTIVE_CALL_NEARBY)
    # For ACTIVE_CALL_NEARBY: how close an active call must be for the owner to share.
    sharing_radius_m = models.PositiveIntegerField(default=500)
    enabled = models.BooleanField(default=True)
    # Whether the stream could last be read, and if not why: from clip jobs, the pre-roll worker, or the
    # process serving the stream (the demo's replay). None: not tried yet.
    reachable = models.BooleanField(null=True, blank=True)
    unreachable_reason = models.CharField(max_length=300, blank=True)
    reachability_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "external_id"], condition=~models.Q(external_id=""),
                                    name="camera_external_id_per_agency"),
        ]
        indexes = [models.Index(fields=["agency", "cell"], name="camera_cell_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def is_mobile(self) -> bool:
        return self.kind in self.MOBILE_KINDS

    @property
    def is_others(self) -> bool:
        """A partner's or a traffic camera: what we know of it is what its owner last told us, and when."""
        return self.owner_kind != self.OwnerKind.AGENCY or self.kind == self.Kind.PARTNER \
            or self.source_kind == self.SourceKind.SNAPSHOT

    @property
    def known_as_of(self) -> datetime | None:
        """When its position or its stream's state was last known: the newer of the two, None if neither."""
        known = [t for t in (self.location_updated_at, self.reachability_checked_at) if t is not None]
        return max(known) if known else None


class CameraCredential(models.Model):
    """The stream's user name and password, Fernet-encrypted (apps.cameras.services).

    Read only by camera_source_url for the media worker; never serialized, logged or audited.
    """

    camera = models.OneToOneField(Camera, on_delete=models.CASCADE, related_name="credential")
    username_encrypted = models.TextField(blank=True)
    password_encrypted = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"credentials of camera {self.camera_id}"

    def __repr__(self) -> str:
        return f"<CameraCredential camera={self.camera_id}>"


class CameraLocation(models.Model):
    """Where a mobile camera was placed, one row per move (trailer relocated, drone launched)."""

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="locations")
    latitude = models.FloatField()
    longitude = models.FloatField()
    placed_at = models.DateTimeField()
    placed_by = by_user(optional=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        indexes = [models.Index(fields=["camera", "placed_at"], name="camera_location_idx")]

    def __str__(self) -> str:
        return f"camera {self.camera_id} at {self.latitude:.5f},{self.longitude:.5f}"


class CameraPin(models.Model):
    """An analyst's choice of a camera for a call: shown in the briefing whatever the distance."""

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="pins")
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="camera_pins")
    pinned_by = by_user()
    pinned_at = models.DateTimeField()

    class Meta:
        ordering = ["pinned_at", "id"]
        constraints = [models.UniqueConstraint(fields=["camera", "call"], name="camera_pin_once_per_call")]

    def __str__(self) -> str:
        return f"camera {self.camera_id} pinned to call {self.call_id}"
