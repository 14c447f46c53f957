"""Calls for service, as the CAD sends them and as history imports them."""

from __future__ import annotations

from django.db import models

from apps.accounts.models import Agency, Unit
from apps.cases.models import Person, Premise
from apps.common.fields import owning_agency


class Category(models.TextChoices):
    VIOLENT = "violent", "Violent crime"
    WEAPONS = "weapons", "Weapons"
    PROPERTY = "property", "Property crime"
    TRAFFIC = "traffic", "Traffic"
    FIRE = "fire", "Fire"
    DISTURBANCE = "disturbance", "Disturbance"
    DOMESTIC = "domestic", "Domestic"
    MENTAL_HEALTH = "mental_health", "Mental health"
    OVERDOSE = "overdose", "Overdose"
    WELFARE_CHECK = "welfare_check", "Welfare check"
    MEDICAL = "medical", "Medical"
    SUSPICIOUS = "suspicious", "Suspicious"
    ALARM = "alarm", "Alarm"
    ADMINISTRATIVE = "administrative", "Administrative"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown (unmapped CAD code)"


class CadTypeMapping(models.Model):
    """How one agency's CAD type code maps to our category and priority. Data, edited by administrators.

    A code ending in `*` is a family: `EMS: *` maps every code that starts `EMS: ` (case aside) that has no
    mapping of its own; the longest family wins. After changing mappings, `manage.py recategorise_calls`
    brings the calls already stored up to date.
    """

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="cad_types")
    code = models.CharField(max_length=80)
    description = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=20, choices=Category.choices)
    # 1 is the most urgent, as in most CAD systems.
    priority = models.PositiveSmallIntegerField(default=3)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["agency", "code"], name="cad_code_per_agency")]

    def __str__(self) -> str:
        return f"{self.code} -> {self.category} P{self.priority}"


class Call(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        DISPATCHED = "dispatched", "Dispatched"
        ON_SCENE = "on_scene", "On scene"
        CLEARED = "cleared", "Cleared"
        CLOSED = "closed", "Closed"

    class Source(models.TextChoices):
        CAD = "cad", "CAD"
        EIDO = "eido", "EIDO"
        IMPORT = "import", "History import"

    ACTIVE_STATUSES = (Status.RECEIVED, Status.DISPATCHED, Status.ON_SCENE)

    agency = owning_agency()
    event_number = models.CharField(max_length=40)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.CAD)
    cad_code = models.CharField(max_length=80, blank=True)
    cad_description = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.UNKNOWN)
    # True when the CAD code had no mapping: kept, categorised unknown, and flagged for an administrator.
    cad_code_unmapped = models.BooleanField(default=False)
    priority = models.PositiveSmallIntegerField(default=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    address = models.CharField(max_length=200, blank=True)
    # City, township or borough as the source gave it (a CSV column, EIDO's civic address); blank: the agency's.
    municipality = models.CharField(max_length=100, blank=True, default="", db_default="")
    # Mutual aid: the other agency an EIDO document names (apps/calls/eido.py), filed under ours.
    requesting_agency = models.CharField(max_length=200, blank=True, default="", db_default="")
    # apps.places.services.place_key(address, municipality): the same key for every spelling of one place.
    address_key = models.CharField(max_length=200, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    # Geohash cell of precision 7 (about 150 m): the spatial index. Empty when unlocated.
    cell = models.CharField(max_length=12, blank=True)
    # How the position was found: "cad" (given), "premise" (from a known premise), "" (unlocated).
    located_by = models.CharField(max_length=10, blank=True)
    premise = models.ForeignKey(Premise, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls")
    people = models.ManyToManyField(Person, blank=True, related_name="calls")
    narrative = models.TextField(blank=True)
    received_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    on_scene_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["agency", "event_number"], name="call_event_per_agency")]
        indexes = [
            models.Index(fields=["agency", "status", "received_at"], name="call_active_idx"),
            # Covering (PostgreSQL): a briefing's prior-call counts are index-only scans (bench/briefing.py).
            # cell too: "at this address" also needs the points near each other (settings.PLACE_SAME_ADDRESS_M).
            models.Index(fields=["agency", "address_key", "received_at"], include=["category", "cell"],
                         name="call_address_cell_idx"),
            models.Index(fields=["agency", "cell", "received_at"], include=["category", "address_key"],
                         name="call_cell_idx"),
            models.Index(fields=["premise", "received_at"], name="call_premise_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_number} {self.cad_code} {self.address}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES


class UnitAssignment(models.Model):
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="assignments")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="assignments")
    assigned_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["assigned_at"]
        constraints = [models.UniqueConstraint(fields=["call", "unit"], name="unit_once_per_call")]

    def __str__(self) -> str:
        return f"{self.unit_id} on {self.call_id}"
