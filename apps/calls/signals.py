"""What the calls app tells the apps built on it, without importing them.

A briefing is assembled from the call, its units, the cases at its address, its cameras and hazards
and the sensors' alerts; the apps that change those sit below briefings (or beside it) and must not
import it. They say `call_changed_notify(...)`; briefings listens (apps/briefings/apps.py) and
schedules one assembly after commit.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that changed what the call's briefing is built from. Arguments: call_id, reason
# (one of apps.briefings.models.BriefingVersion.Reason: call_created, call_updated, unit_assigned, record_changed).
call_changed = Signal()


def call_changed_notify(*, call_id: int, reason: str) -> None:
    """The call's briefing should be re-assembled once this transaction commits (never for a rolled-back one)."""
    call_changed.send(sender=None, call_id=call_id, reason=reason)
