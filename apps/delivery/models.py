"""The per-user event log behind the stream (docs/delivery.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


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

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
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
