"""The officer emergency ("needs help"): one row while it is open and after, and every step on its record."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.accounts.models import Unit
from apps.calls.models import Call
from apps.common.fields import by_user, owning_agency


class Emergency(models.Model):
    class Source(models.TextChoices):
        TERMINAL = "terminal", "In-car terminal (deliberate gesture)"
        PHONE = "phone", "Phone app"

    class CloseReason(models.TextChoices):
        RESOLVED = "resolved", "Resolved: the officer is safe"
        FALSE_ALARM = "false_alarm", "False alarm"
        OTHER = "other", "Other (see the note)"

    agency = owning_agency()
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="emergencies")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="emergencies")
    # The incident it is on the record of: a priority-1 call raised for it, the officer's unit assigned.
    call = models.ForeignKey(Call, on_delete=models.PROTECT, null=True, blank=True, related_name="emergencies")
    source = models.CharField(max_length=10, choices=Source.choices)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    raised_at = models.DateTimeField()
    # The pushes that told people (delivery's ids): the raise, and the escalation if there was one.
    push_id = models.BigIntegerField(null=True, blank=True)
    escalation_push_id = models.BigIntegerField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = by_user(optional=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = by_user(optional=True)
    close_reason = models.CharField(max_length=12, choices=CloseReason.choices, blank=True)
    close_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        indexes = [models.Index(fields=["agency", "closed_at"], name="emergency_open_idx")]
        # One open emergency per officer: a second press while one is open is the same emergency.
        constraints = [models.UniqueConstraint(fields=["officer"], condition=models.Q(closed_at__isnull=True),
                                               name="one_open_emergency_per_officer")]

    def __str__(self) -> str:
        return f"emergency {self.pk} of {self.officer_id}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class EmergencyStep(models.Model):
    """What happened, in order: raised, who was told, located (raised before the phone had a fix), cameras pinned,
    clips asked, escalated, acknowledged, closed."""

    class Kind(models.TextChoices):
        RAISED = "raised", "Raised"
        NOTIFIED = "notified", "Units, supervisors and the center told"
        LOCATED = "located", "Located: the first position after a raise without one, the units near it told"
        CAMERAS_PINNED = "cameras_pinned", "Nearest cameras pinned"
        CLIP_REQUESTED = "clip_requested", "Clip with pre-roll requested"
        ESCALATED = "escalated", "Escalated: nobody acknowledged"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        CLOSED = "closed", "Closed"

    emergency = models.ForeignKey(Emergency, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField()
    by = by_user(optional=True)
    # Ids and counts only (recipients, camera and clip ids, the reason).
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} of emergency {self.emergency_id}"
