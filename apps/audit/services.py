"""Writing to the audit trail. Every write goes through `audit_record`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from apps.audit.models import AuditEvent

GENESIS_HASH = "0" * 64
# Any fixed 64-bit number: the key of the PostgreSQL advisory lock that makes
# audit writers take turns, so the chain stays one line under concurrency.
_CHAIN_LOCK_KEY = 7_412_690_118


def audit_row_hash(
    *,
    prev_hash: str,
    at: datetime,
    actor_id: int | None,
    actor_username: str,
    agency_id: int | None,
    action: str,
    object_type: str,
    object_id: str,
    object_ids: list[Any],
    detail: dict[str, Any],
    ip: str | None,
) -> str:
    payload = json.dumps(
        [prev_hash, at.isoformat(), actor_id, actor_username, agency_id, action, object_type, object_id,
         object_ids, detail, ip],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def event_hash(event: AuditEvent, *, prev_hash: str) -> str:
    return audit_row_hash(
        prev_hash=prev_hash,
        at=event.at,
        actor_id=event.actor_id,
        actor_username=event.actor_username,
        agency_id=event.agency_id_snapshot,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        object_ids=event.object_ids,
        detail=event.detail,
        ip=event.ip,
    )


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    # SQLite: the settings open every transaction IMMEDIATE, which already serialises writers.


def audit_record(
    *,
    actor: Any | None,
    action: str,
    obj: Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    objects: Iterable[Model] = (),
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
    username: str = "",
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction if there is one."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = obj.pk
    listed = list(objects)
    ids = [o.pk for o in listed]
    if listed and not object_type:
        object_type = listed[0]._meta.label_lower
    actor_id = getattr(actor, "pk", None)
    event = AuditEvent(
        at=timezone.now(),
        actor_id=actor_id,
        actor_username=getattr(actor, "username", "") or username,
        agency_id_snapshot=getattr(actor, "agency_id", None),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_ids=ids,
        detail=detail or {},
        ip=ip,
    )
    # No savepoint inside a caller's transaction: an audit write that fails fails the whole change.
    with transaction.atomic(savepoint=False):
        _lock_chain()
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        event.prev_hash = last or GENESIS_HASH
        # Round-trip detail through JSON so the hash covers exactly what the database keeps.
        event.detail = json.loads(json.dumps(event.detail, default=str))
        event.hash = event_hash(event, prev_hash=event.prev_hash)
        event.save(force_insert=True)
    return event
