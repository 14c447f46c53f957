"""Hazards: health hotspots by area and week, and hazards recorded on premises and people."""

from __future__ import annotations

from django.db import models

from apps.accounts.models import Agency
from apps.cases.models import Person, Premise
from apps.common.fields import by_user, owning_agency


class HealthDataset(models.Model):
    """One loaded set of areas and weekly rates (e.g. COVID-19 case rate by NYC MODZCTA)."""

    name = models.CharField(max_length=200, unique=True)
    disease = models.CharField(max_length=80)
    rate_unit = models.CharField(max_length=80, default="cases per 100,000 per week")
    source = models.CharField(max_length=300, blank=True)
    # What to tell an officer to take when an area is hot.
    ppe_advice = models.TextField()
    loaded_at = models.DateTimeField()
    # The agencies whose briefings use this dataset; none means every agency.
    agencies = models.ManyToManyField(Agency, blank=True, related_name="health_datasets")

    def __str__(self) -> str:
        return self.name


class HealthArea(models.Model):
    dataset = models.ForeignKey(HealthDataset, on_delete=models.CASCADE, related_name="areas")
    code = models.CharField(max_length=40)
    label = models.CharField(max_length=200, blank=True)
    # GeoJSON geometry (Polygon or MultiPolygon, lon/lat).
    geometry = models.JSONField()
    # Bounding box: an indexed pre-filter before the exact point-in-polygon test.
    min_lat = models.FloatField()
    max_lat = models.FloatField()
    min_lon = models.FloatField()
    max_lon = models.FloatField()
    # Denormalised from the newest HealthRate, so a briefing needs no second query.
    latest_week = models.DateField(null=True, blank=True)
    latest_rate = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "code"], name="area_code_per_dataset")]
        indexes = [models.Index(fields=["min_lat", "max_lat", "min_lon", "max_lon"], name="area_bbox_idx")]

    def __str__(self) -> str:
        return f"{self.code} {self.label}"


class HealthRate(models.Model):
    area = models.ForeignKey(HealthArea, on_delete=models.CASCADE, related_name="rates")
    week_ending = models.DateField()
    rate = models.FloatField()

    class Meta:
        ordering = ["-week_ending"]
        constraints = [models.UniqueConstraint(fields=["area", "week_ending"], name="rate_once_per_week")]

    def __str__(self) -> str:
        return f"{self.area_id} {self.week_ending} {self.rate}"


class RecordHazard(models.Model):
    """A hazard on a premise or a person, with where it came from and when it stops being true."""

    class Kind(models.TextChoices):
        DOG = "dog", "Dog"
        WEAPONS = "weapons", "Weapons"
        VIOLENCE = "violence_to_officers", "Violence toward officers"
        HAZMAT = "hazmat", "Hazardous materials"
        MEDICAL = "medical", "Medical needs"
        OTHER = "other", "Other"

    agency = owning_agency()
    kind = models.CharField(max_length=24, choices=Kind.choices)
    premise = models.ForeignKey(Premise, on_delete=models.CASCADE, null=True, blank=True, related_name="hazard_records")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, null=True, blank=True, related_name="hazard_records")
    description = models.CharField(max_length=500)
    source = models.CharField(max_length=200, help_text="Who or what reported it: a call, an officer, a record.")
    reported_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = by_user(optional=True)

    class Meta:
        ordering = ["-reported_at"]
        indexes = [models.Index(fields=["premise", "expires_at"]), models.Index(fields=["person", "expires_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(premise__isnull=False) | models.Q(person__isnull=False),
                name="hazard_on_premise_or_person",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.description}"
