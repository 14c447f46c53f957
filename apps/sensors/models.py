"""Sensor sources and what they report: plate reads, hot lists, and alerts that wait to be verified.

Schemas, signatures and states: docs/sensors.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.accounts.models import Agency
from apps.calls.models import Call
from apps.common.fields import by_user, owning_agency


class SensorSource(models.Model):
    """One sending system (an ALPR camera agent, a gunshot detection service, a video analytics server).

    It posts to its own webhook URL, named by `key`, and signs every request with its own secret.
    """

    class Kind(models.TextChoices):
        ALPR = "alpr", "Licence plate reader"
        GUNSHOT = "gunshot", "Gunshot detection"
        VIDEO_ANALYTICS = "video_analytics", "Video analytics"

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="sensor_sources")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Public: it is in the webhook URL. Random, so one source's URL says nothing about another's.
    key = models.CharField(max_length=40, unique=True)
    # The HMAC secret, Fernet-encrypted (apps.sensors.signing); shown once when made or rotated.
    secret_encrypted = models.TextField()
    # Where a fixed sensor stands: used when an event carries no position of its own.
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    # The camera a video-analytics or fixed ALPR source watches through, if it is in the registry.
    camera = models.ForeignKey("cameras.Camera", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    enabled = models.BooleanField(default=True)
    # A source that sent nothing (event or heartbeat) for this long raises a health alert.
    silence_alert_seconds = models.PositiveIntegerField(default=15 * 60)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # Set when the silence alert is raised, cleared when the source speaks again: one alert per silence.
    silent_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def __repr__(self) -> str:
        return f"<SensorSource {self.pk} {self.kind}>"


class SensorHeartbeat(models.Model):
    """A source saying it is alive, with what it reports about itself (agent version, queue depth)."""

    source = models.ForeignKey(SensorSource, on_delete=models.CASCADE, related_name="heartbeats")
    received_at = models.DateTimeField()
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["source", "received_at"], name="sensor_heartbeat_idx")]

    def __str__(self) -> str:
        return f"heartbeat of {self.source_id} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class HotList(models.Model):
    class Kind(models.TextChoices):
        STOLEN_VEHICLE = "stolen_vehicle", "Stolen vehicles"
        WANTED_PERSON = "wanted_person", "Wanted persons' vehicles"
        AMBER = "amber", "AMBER alert"
        CUSTOM = "custom", "Custom list"

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="hot_lists")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Why the list exists (required for custom lists: who may be tracked, and why, is a policy question).
    reason = models.CharField(max_length=300, blank=True)
    owner = by_user()
    # Where the list comes from (NCIC extract, state DOJ, the analyst): what a hit is checked against.
    source = models.CharField(max_length=200, blank=True)
    # 1 is the most urgent; an AMBER alert outranks a stolen plate.
    priority = models.PositiveSmallIntegerField(default=2)
    expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["agency", "name"], name="hot_list_name_per_agency")]

    def __str__(self) -> str:
        return self.name


class HotListEntry(models.Model):
    hot_list = models.ForeignKey(HotList, on_delete=models.CASCADE, related_name="entries")
    # Denormalised from the list, so the one lookup a read costs is on (agency, key) alone.
    agency = owning_agency()
    plate = models.CharField(max_length=20)  # as entered
    plate_normalized = models.CharField(max_length=12)
    # apps.sensors.plates.plate_key(plate_normalized): the indexed, confusable-folded key.
    plate_key = models.CharField(max_length=12)
    region = models.CharField(max_length=3, blank=True)  # "" when the list does not say
    description = models.CharField(max_length=300, blank=True)  # vehicle and why it is listed
    case_number = models.CharField(max_length=40, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Set when a hit on this entry was marked false: someone must check the entry against its source.
    needs_correction = models.BooleanField(default=False)
    correction_note = models.CharField(max_length=500, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plate_normalized", "id"]
        constraints = [models.UniqueConstraint(fields=["hot_list", "plate_normalized", "region"],
                                               name="hot_list_entry_once")]
        indexes = [models.Index(fields=["agency", "plate_key"], name="hot_list_entry_key_idx")]
        verbose_name_plural = "hot list entries"

    def __str__(self) -> str:
        return f"{self.plate_normalized} {self.region}".strip()


class PlateRead(models.Model):
    """One plate an ALPR camera saw. Reads that hit nothing are purged after SENSOR_READ_RETENTION_DAYS."""

    source = models.ForeignKey(SensorSource, on_delete=models.PROTECT, related_name="plate_reads")
    agency = owning_agency()
    # The sensor's own id of the event (OpenALPR best_uuid): a resend is recognised, not stored twice.
    event_id = models.CharField(max_length=100)
    plate = models.CharField(max_length=12)  # normalised
    plate_key = models.CharField(max_length=12)
    region = models.CharField(max_length=3, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    read_at = models.DateTimeField()
    received_at = models.DateTimeField()
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    camera_label = models.CharField(max_length=100, blank=True)
    # The engine's best guess at make, colour and body type: short strings only, no images.
    vehicle = models.JSONField(default=dict, blank=True)
    has_hit = models.BooleanField(default=False)

    class Meta:
        ordering = ["-read_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["source", "event_id"], name="plate_read_event_once")]
        indexes = [
            # One index for both searches: by folded key (confusable), then by plate within it (exact).
            models.Index(fields=["agency", "plate_key", "read_at"], name="plate_read_key_idx"),
            # The retention purge walks reads without a hit by age.
            models.Index(fields=["received_at"], condition=models.Q(has_hit=False), name="plate_read_purge_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.plate} {self.region} at {self.read_at:%Y-%m-%d %H:%M}"


class Alert(models.Model):
    class Kind(models.TextChoices):
        GUNSHOT = "gunshot", "Gunshot detection"
        PLATE_HIT = "plate_hit", "Hot-list plate hit"
        VIDEO_ANALYTICS = "video_analytics", "Video analytics"
        SOURCE_SILENT = "source_silent", "Sensor source silent"

    class State(models.TextChoices):
        UNVERIFIED = "unverified", "Unverified"
        CONFIRMED = "confirmed", "Confirmed"
        FALSE = "false", "False"

    agency = owning_agency()
    source = models.ForeignKey(SensorSource, on_delete=models.PROTECT, related_name="alerts")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The sensor's event id ("" for alerts we raise ourselves, such as a silent source).
    event_id = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.UNVERIFIED)
    state_changed_by = by_user(optional=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    state_reason = models.CharField(max_length=500, blank=True)
    priority = models.PositiveSmallIntegerField(default=2)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    # Geohash-7 cell (apps.places.geo): "prior gunfire here" is an indexed lookup.
    cell = models.CharField(max_length=12, blank=True)
    # What the sensor said, in our schema (rounds, confidence, rule, object class, ...): docs/sensors.md.
    detail = models.JSONField(default=dict)
    plate_read = models.ForeignKey(PlateRead, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    hot_list_entry = models.ForeignKey(HotListEntry, on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="alerts")
    match_type = models.CharField(max_length=16, blank=True)
    # Opened only through a signed link (apps.media.links, kind "snapshot"); its digest is the link's ETag.
    snapshot = models.FileField(upload_to="sensors/snapshots/%Y/%m/", blank=True)
    snapshot_sha256 = models.CharField(max_length=64, blank=True)
    call = models.ForeignKey(Call, on_delete=models.SET_NULL, null=True, blank=True, related_name="sensor_alerts")
    # Claimed by the after-commit dispatch (call, briefing, push), so running it twice does it once.
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["source", "event_id"], condition=~models.Q(event_id=""),
                                               name="alert_event_once")]
        indexes = [
            models.Index(fields=["agency", "state", "received_at"], name="alert_state_idx"),
            models.Index(fields=["agency", "kind", "cell", "occurred_at"], name="alert_cell_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} alert {self.pk} ({self.state})"
