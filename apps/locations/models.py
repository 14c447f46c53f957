"""Unit locations (AVL): each unit's track while on shift, its latest point, and who looked at a track.

What is kept, for how long and who sees it: docs/locations.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.accounts.models import Unit
from apps.common.fields import by_user


class Fix(models.Model):
    """A position as a device took it: where, how sure, which way and how fast, and when (its own clock)."""

    latitude = models.FloatField()
    longitude = models.FloatField()
    accuracy_m = models.FloatField(null=True, blank=True)
    heading_deg = models.FloatField(null=True, blank=True)
    speed_mps = models.FloatField(null=True, blank=True)
    # The device's own time of the fix; the order of a track, and what duplicates are told by.
    reported_at = models.DateTimeField()
    received_at = models.DateTimeField()
    # Further from the previous fix than LOCATIONS_JUMP_MPS allows: kept, shown as doubtful.
    jump = models.BooleanField(default=False)

    class Meta:
        abstract = True


class PositionReport(Fix):
    """One fix a device reported for its unit, kept LOCATIONS_RETENTION_DAYS (30) days."""

    # No database constraint (as delivery's events): the purge deletes by time in batches, and a unit or
    # user is never deleted while its track is kept (PROTECT everywhere else).
    unit = models.ForeignKey(Unit, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False,
                             db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, related_name="+",
                             db_constraint=False, db_index=False)

    class Meta:
        ordering = ["unit", "reported_at"]
        indexes = [models.Index(fields=["unit", "reported_at"], name="position_unit_time_idx"),
                   models.Index(fields=["received_at"], name="position_received_idx")]

    def __str__(self) -> str:
        return f"{self.unit_id} at {self.reported_at:%Y-%m-%d %H:%M:%S}"


class UnitPosition(Fix):
    """A unit's latest fix: the live map, "nearest available units" and the emergency radius."""

    unit = models.OneToOneField(Unit, on_delete=models.CASCADE, primary_key=True, related_name="position")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    agency_id = models.BigIntegerField(db_index=True)

    def __str__(self) -> str:
        return f"{self.unit_id} last at {self.reported_at:%H:%M:%S}"


class TrackLookup(models.Model):
    """Someone read where a unit was: the stated purpose and case number, shown to the unit's officers."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="track_lookups")
    looked_by = by_user()
    # The officers on the unit in the period looked at: whose track it was.
    officers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="track_lookups_of_me")
    start = models.DateTimeField()
    end = models.DateTimeField()
    purpose = models.CharField(max_length=300)
    case_number = models.CharField(max_length=40)
    points = models.PositiveIntegerField(default=0)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"track of {self.unit_id} read by {self.looked_by_id}"
