"""The per-user event log behind the stream (docs/delivery.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.common.fields import by_user


class UserStream(models.Model):
    """Where a user's stream stands: its epoch and the offset the next event gets."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="event_stream")
    # Random; a new one means offsets start again and clients holding the old one must resync.
    epoch = models.CharField(max_length=32)
    next_offset = models.BigIntegerField(default=1)

    def __str__(self) -> str:
        return f"stream of user {self.user_id} at {self.epoch}:{self.next_offset}"


class Event(models.Model):
    """One thing that happened for one user: a kind and an object id, never case content."""

    # No index of its own: the (user, offset) constraint's index starts with the user. No database
    # constraint either (see Delivery.push): Django's collector still deletes a user's events with the user.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False,
                             db_constraint=False)
    offset = models.BigIntegerField()
    epoch = models.CharField(max_length=32)
    type = models.CharField(max_length=40)
    op = models.CharField(max_length=20)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64)
    # Ids and lock-screen-safe fields only: the phone fetches anything else over the API.
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user", "offset"]
        # The unique constraint is also the (user, offset) index every replay reads through.
        constraints = [models.UniqueConstraint(fields=["user", "offset"], name="event_offset_per_user")]

    def __str__(self) -> str:
        return f"{self.type}.{self.op} {self.object_type}:{self.object_id} for user {self.user_id} @{self.offset}"


class Push(models.Model):
    """Something sent to an audience: who sent it, to whom, and what became of it.

    Each recipient gets one Delivery (and one Event on their stream). Automatic
    announcements (a briefing re-assembled for the officers on its call) have no sender.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Recipients not yet resolved"
        RESOLVED = "resolved", "Recipients resolved and events written"

    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+")
    sent_by = by_user(optional=True)
    type = models.CharField(max_length=40)
    op = models.CharField(max_length=20)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    priority = models.PositiveSmallIntegerField(default=3)
    # The call it concerns, if any: one push collapse key per call.
    call_id = models.BigIntegerField(null=True, blank=True)
    audience = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Push alerts are pointless after this (the call's life): FCM drops them instead of delivering late.
    expires_at = models.DateTimeField()
    # Priority 1 only: when nobody has acknowledged by then, the on-duty supervisors get it, once.
    escalate_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalation_of = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="escalations")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "created_at"]),
            models.Index(fields=["escalate_at"], condition=models.Q(escalated_at__isnull=True),
                         name="push_escalation_due"),
        ]

    def __str__(self) -> str:
        return f"push {self.pk} {self.type}.{self.op} {self.object_type}:{self.object_id}"


class Delivery(models.Model):
    """One recipient of one push: sent, delivered, opened, acknowledged, or failed with a reason."""

    # A push writes one row per recipient (and one event), so everything a row costs is paid 1,000 times
    # per broadcast. No index of its own: the (push, user) constraint's index starts with the push. No
    # foreign key constraints in the database: PostgreSQL checks deferred ones one row at a time at
    # commit, 12 of the 40 ms a 1,000-recipient push took to write (bench/fanout.py). The ids come from
    # rows this module has just read under lock (the push, the users' streams), and Django's collector
    # still deletes these rows with their push or user (on_delete is the ORM's, not the database's).
    push = models.ForeignKey(Push, on_delete=models.CASCADE, related_name="deliveries", db_index=False,
                             db_constraint=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             db_constraint=False)
    epoch = models.CharField(max_length=32)
    offset = models.BigIntegerField()
    sent_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # The push alert: due now for a user with no open socket, after the ack timeout otherwise.
    alert_due_at = models.DateTimeField(null=True, blank=True)
    alert_claimed_at = models.DateTimeField(null=True, blank=True)
    alert_sent_at = models.DateTimeField(null=True, blank=True)
    alert_devices = models.PositiveSmallIntegerField(default=0)
    failed_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=60, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["push", "user"], name="one_delivery_per_recipient")]
        indexes = [
            # What a socket's ack looks up: only the rows still waiting for one, so the index stays small
            # however many deliveries a user has had.
            models.Index(fields=["user", "epoch", "offset"], condition=models.Q(delivered_at__isnull=True),
                         name="delivery_awaiting_ack"),
            models.Index(fields=["alert_due_at"], condition=models.Q(alert_claimed_at__isnull=True,
                                                                     delivered_at__isnull=True),
                         name="delivery_alert_due"),
        ]

    def __str__(self) -> str:
        return f"delivery of push {self.push_id} to user {self.user_id}"

    @property
    def status(self) -> str:
        """The furthest the recipient has got, in the order a phone goes through them."""
        if self.acknowledged_at:
            return "acknowledged"
        if self.opened_at:
            return "opened"
        if self.delivered_at:
            return "delivered"
        if self.failed_at:
            return "failed"
        return "sent"


class StreamConnection(models.Model):
    """An open stream socket, so a push alert waits for the socket's ack only when there is one.

    Rows of a server that died stay behind; they only make an alert wait the ack
    timeout, and the sweeper removes rows older than a day.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey("accounts.DeviceSession", on_delete=models.CASCADE, related_name="+")
    connected_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user"])]

    def __str__(self) -> str:
        return f"socket of user {self.user_id}"
