from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from apps.accounts.models import Role
from apps.audit.models import AuditEvent
from apps.audit.services import GENESIS_HASH, audit_record, event_hash
from apps.common.errors import NotFound


def audit_event_list_for_user(
    *,
    user: Any,
    actor_id: int | None = None,
    object_type: str = "",
    object_id: str = "",
    action: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """The audit trail as an auditor sees it: their own agency's events.

    Anyone else gets "not found": the trail's existence is not theirs to learn.
    Reading the trail is itself recorded, with the filters used.
    """
    if user.role != Role.AUDITOR or user.agency_id is None:
        raise NotFound("Not found.")
    events = AuditEvent.objects.filter(agency_id_snapshot=user.agency_id)
    if actor_id is not None:
        events = events.filter(actor_id=actor_id)
    if object_type:
        events = events.filter(object_type=object_type)
    if object_id:
        events = events.filter(object_id=object_id)
    if action:
        events = events.filter(action=action)
    if since is not None:
        events = events.filter(at__gte=since)
    if until is not None:
        events = events.filter(at__lt=until)
    filters = {"actor_id": actor_id, "object_type": object_type, "object_id": object_id, "action": action,
               "since": since, "until": until}
    audit_record(actor=user, action=AuditEvent.Action.AUDIT_READ, object_type="audit.auditevent",
                 detail={"filters": {k: v for k, v in filters.items() if v}})
    return events.order_by("-id")


@dataclass(frozen=True)
class BrokenLink:
    event_id: int
    reason: str


def audit_chain_verify(*, batch_size: int = 2000) -> Iterator[tuple[int, BrokenLink | None]]:
    """Walk the chain in order; yields (rows checked, first broken link or None).

    A row is broken when its stored hash does not match its content, or when its
    prev_hash is not the hash of the row before it (a row was deleted or inserted).
    """
    prev = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        batch = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
        if not batch:
            return
        for event in batch:
            if event.prev_hash != prev:
                yield checked, BrokenLink(event.id, "previous-row link does not match (a row was removed or inserted)")
                return
            if event_hash(event, prev_hash=event.prev_hash) != event.hash:
                yield checked, BrokenLink(event.id, "content does not match its hash (the row was edited)")
                return
            prev = event.hash
            checked += 1
        last_id = batch[-1].id
        yield checked, None
