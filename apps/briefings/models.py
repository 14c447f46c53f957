"""Call briefings: versioned snapshots of explainable items, and the co-responder rules.

An item is a dict (see apps/briefings/items.py): section, title, body, reason,
as_of, optional ref to the record it came from, and the analyst's pin/hide.
"""

from __future__ import annotations

from django.db import models

from apps.accounts.models import Agency
from apps.calls.models import Call
from apps.common.fields import by_user, owning_agency


class RecommendationRule(models.Model):
    """When to recommend a co-responder. Data, edited by analysts and supervisors.

    A rule fires when any of its cues match: the call's category, a word in
    the narrative or CAD description, or a caution flag on the premise's or a
    linked person's record.
    """

    class Responder(models.TextChoices):
        BEHAVIORAL_HEALTH = "behavioral_health", "Behavioral-health technician"
        OVERDOSE = "overdose", "Overdose response technician"

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="recommendation_rules")
    name = models.CharField(max_length=100)
    responder = models.CharField(max_length=20, choices=Responder.choices)
    enabled = models.BooleanField(default=True)
    categories = models.JSONField(default=list, blank=True)
    narrative_keywords = models.JSONField(default=list, blank=True)
    caution_flags = models.JSONField(default=list, blank=True)
    explanation = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["agency", "name"], name="rule_name_per_agency")]

    def __str__(self) -> str:
        return self.name


class Briefing(models.Model):
    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="briefing")
    agency = owning_agency()
    # The latest automatic items, as assembled from the data (before the analyst's changes).
    auto_items = models.JSONField(default=list)
    # The analyst's changes, kept across re-assembly: {item_id: {"hidden", "pinned", "title", "body"}}.
    overrides = models.JSONField(default=dict)
    # Items an analyst added by hand (notes, photos), in the item shape.
    manual_items = models.JSONField(default=list)
    current_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"briefing for call {self.call_id} v{self.current_version}"


class BriefingVersion(models.Model):
    class Reason(models.TextChoices):
        CALL_CREATED = "call_created", "Assembled when the call was created"
        UNIT_ASSIGNED = "unit_assigned", "Re-assembled when a unit was assigned"
        CALL_UPDATED = "call_updated", "Re-assembled when the call changed"
        RECORD_CHANGED = "record_changed", "Re-assembled when a hazard at the call changed"
        EDITED = "edited", "Edited by an analyst"

    briefing = models.ForeignKey(Briefing, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    created_at = models.DateTimeField()
    created_by = by_user(optional=True)
    items = models.JSONField()
    # What changed from the version before: {"added": [...], "removed": [...], "changed": [{id, fields}]}.
    changes = models.JSONField(default=dict)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["briefing", "number"], name="version_number_once")]

    def __str__(self) -> str:
        return f"v{self.number} of {self.briefing_id}"
