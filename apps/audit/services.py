"""Writing to the audit trail. Every write goes through `audit_record`; `audit_log_sequence` places
committed rows in the Merkle log and signs checkpoints (docs/audit.md)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min, Model, QuerySet
from django.utils import timezone

from apps.audit import merkle, signing
from apps.audit.models import AuditCheckpoint, AuditEvent, AuditLeaf, AuditLogHead, AuditNode, AuditPending
from apps.common.errors import NotFound

M = TypeVar("M", bound=Model)

logger = logging.getLogger(__name__)

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


def event_hash(event: AuditEvent) -> str:
    """The hash of the row's own content (and, for rows from before the Merkle log, of its chain link)."""
    return audit_row_hash(
        prev_hash=event.prev_hash,
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
    """Append one event, inside the caller's transaction if there is one.

    One statement and no lock: the row carries the hash of its own content, and goes in the
    sequencer's queue with it, where the sequencer sees it only once the caller commits.
    """
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
    # Round-trip detail through JSON so the hash covers exactly what the database keeps.
    event.detail = json.loads(json.dumps(event.detail, default=str))
    event.hash = event_hash(event)
    # Inside a caller's transaction the insert is part of it: an audit write that fails fails the whole change.
    _insert(event)
    return event


_COLUMNS = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
# Built once from the models' own table and column names; values always go as parameters.
_VALUES = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
    AuditEvent._meta.db_table, ", ".join(f.column for f in _COLUMNS), ", ".join(["%s"] * len(_COLUMNS)))
# PostgreSQL: the row and its queue entry in one statement. A PL/pgSQL trigger nearly tripled the
# insert's cost (docs/audit.md), and would queue rows written behind our back too, which
# audit_verify names instead.
_INSERT_QUEUED = (f"WITH e AS ({_VALUES} RETURNING id, at), "  # noqa: S608
                  f"q AS (INSERT INTO {AuditPending._meta.db_table} (event_id, at) SELECT id, at FROM e) "
                  "SELECT id FROM e")
_QUEUE = f"INSERT INTO {AuditPending._meta.db_table} (event_id, at) VALUES (%s, %s)"  # noqa: S608
_AT = _COLUMNS.index(AuditEvent._meta.get_field("at"))


def _insert(event: AuditEvent) -> None:
    """What `event.save(force_insert=True)` does plus the queue entry, less the ORM compiling the same
    INSERT on every call: this is the product's hottest write (bench/audit.py)."""
    values = [f.get_db_prep_save(getattr(event, f.attname), connection) for f in _COLUMNS]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_INSERT_QUEUED, values)
            event.pk = cursor.fetchone()[0]
        else:
            with transaction.atomic(savepoint=False):
                cursor.execute(f"{_VALUES} RETURNING id", values)
                event.pk = cursor.fetchone()[0]
                cursor.execute(_QUEUE, [event.pk, values[_AT]])
    event._state.adding = False
    event._state.db = connection.alias


# --- The sequencer: committed rows into the Merkle log, and signed checkpoints ---

# One batch is one transaction: 5,000 rows are about 50 ms of work, well inside the one-second target.
SEQUENCE_BATCH = 5000
LOG_HEAD_ID = 1
# Subtrees of 16 leaves and up are stored; a smaller one is rebuilt from its leaves when a proof needs
# it (at most 15 more rows read). That keeps the sequencer's writes to 1.07 rows per event, not 2.
STORED_LEVEL = 4
_HOLDER = f"{socket.gethostname()}:{os.getpid()}"


def audit_log_sequence(*, holder: str = "", limit: int = SEQUENCE_BATCH, checkpoint: bool = False) -> int:
    """Place the committed rows that wait in the queue at the end of the log; returns how many.

    Rows are taken from the queue the insert trigger fills, never by id watermark: a row that
    commits late with a lower id is still queued and goes in the next batch. Placing, storing
    the new subtrees, emptying the queue and moving the head happen in one transaction, so a
    sequencer killed half-way leaves the queue as it was. The head row is taken FOR UPDATE SKIP
    LOCKED: a second sequencer skips while the first works, and stands by while its lease runs.
    Signs a checkpoint when AUDIT_CHECKPOINT_SECONDS have passed (or `checkpoint`).
    """
    holder = holder or _HOLDER
    with transaction.atomic():
        head = AuditLogHead.objects.select_for_update(skip_locked=True).filter(pk=LOG_HEAD_ID).first()
        now = timezone.now()
        if head is None:
            if AuditLogHead.objects.filter(pk=LOG_HEAD_ID).exists():
                return 0  # another sequencer is mid-batch
            # A database flushed since migrating (tests): start the log afresh.
            AuditLogHead.objects.get_or_create(pk=LOG_HEAD_ID, defaults={"root_hash": merkle.EMPTY_ROOT.hex()})
            head = AuditLogHead.objects.select_for_update().get(pk=LOG_HEAD_ID)
        if head.holder not in ("", holder) and head.lease_until is not None and head.lease_until > now:
            return 0
        head.holder = holder
        head.lease_until = now + timedelta(seconds=settings.AUDIT_SEQUENCER_LEASE_SECONDS)
        queued = list(AuditPending.objects.order_by("event_id").values_list("event_id", flat=True)[:limit])
        hashes = dict(AuditEvent.objects.filter(id__in=queued).values_list("id", "hash"))
        frontier = [(level, bytes.fromhex(h)) for level, h in head.frontier]
        leaves: list[AuditLeaf] = []
        nodes: list[AuditNode] = []
        for event_id in queued:
            if event_id not in hashes:
                # Queued, then deleted behind the trigger's back: the queue entry stays, so the
                # alarm goes on and audit_verify names the event.
                logger.error("audit event %s was queued and is gone", event_id)
                continue
            leaf_hash = merkle.leaf_hash(event_id=event_id, row_hash=hashes[event_id])
            leaves.append(AuditLeaf(seq=head.size, event_id=event_id, leaf_hash=leaf_hash.hex()))
            nodes.extend(AuditNode(level=level, index=index, hash=h.hex())
                         for level, index, h in merkle.frontier_append(frontier, leaf_hash, size=head.size)
                         if level >= STORED_LEVEL)
            head.size += 1
        if leaves:
            placed_at = timezone.now()  # as late as it can be: the lag the bench measures ends here
            for leaf in leaves:
                leaf.sequenced_at = placed_at
            AuditLeaf.objects.bulk_create(leaves)
            AuditNode.objects.bulk_create(nodes)
            AuditPending.objects.filter(event_id__in=[leaf.event_id for leaf in leaves]).delete()
            head.frontier = [[level, h.hex()] for level, h in frontier]
            head.root_hash = merkle.frontier_root(frontier).hex()
            head.sequenced_at = placed_at
        _alarm_update(head, now=now)
        due = head.checkpointed_at is None or now - head.checkpointed_at >= timedelta(
            seconds=settings.AUDIT_CHECKPOINT_SECONDS)
        if checkpoint or due:
            audit_checkpoint_sign(head=head, now=now)
        head.save()
    return len(leaves)


def unsequenced_oldest() -> datetime | None:
    """When the oldest committed row still waiting for the sequencer was written."""
    return AuditPending.objects.aggregate(oldest=Min("at"))["oldest"]


def _alarm_update(head: AuditLogHead, *, now: datetime) -> None:
    oldest = unsequenced_oldest()
    late = oldest is not None and now - oldest > timedelta(seconds=settings.AUDIT_UNSEQUENCED_ALARM_SECONDS)
    if late and head.alarm_since is None:
        head.alarm_since = now
        logger.error("audit alarm: a committed audit row has waited since %s to be sequenced", oldest)
    elif not late and head.alarm_since is not None:
        logger.warning("audit alarm cleared: every committed row is sequenced (alarm since %s)", head.alarm_since)
        head.alarm_since = None


def audit_checkpoint_sign(*, head: AuditLogHead, now: datetime) -> AuditCheckpoint:
    """Sign the head's size and root (apps/audit/signing.py has the note's shape)."""
    note = signing.checkpoint_note(origin=settings.AUDIT_LOG_ORIGIN, tree_size=head.size,
                                   root_hash=head.root_hash, signed_at=now)
    head.checkpointed_at = now
    return AuditCheckpoint.objects.create(
        tree_size=head.size, root_hash=head.root_hash, signed_at=now, origin=settings.AUDIT_LOG_ORIGIN,
        key_id=signing.key_id(signing.public_key_b64()), signature=signing.sign(note))


def audited_get(*, user: Any, queryset: QuerySet[M], pk: int, code: str, ip: str | None = None,
                noun: str | None = None) -> M:
    """One record of a queryset of what this user may see, its read audited; else "<Noun> not found." (404).

    The selectors' one road to a single record: what the user may not see answers as if it did not exist.
    """
    record = queryset.filter(pk=pk).first()
    if record is None:
        noun = noun or str(queryset.model._meta.verbose_name).capitalize()
        raise NotFound(f"{noun} not found.", code=code)
    audit_record(actor=user, action=AuditEvent.Action.READ, obj=record, ip=ip)
    return record
