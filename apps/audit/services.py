"""Writing to the audit trail. Every write goes through `audit_record`; `audit_log_sequence` places
committed rows in the Merkle log and signs checkpoints (docs/audit.md)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min, Model, QuerySet
from django.utils import timezone

from apps.audit import merkle, signing
from apps.audit.models import AuditCheckpoint, AuditEvent, AuditLeaf, AuditLogHead, AuditNode
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

    One INSERT, no lock and nothing read first: the row carries the hash of its own content, and
    the sequencer finds it by its transaction once that commits (docs/audit.md).
    """
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = obj.pk
    listed = list(objects)
    if listed and not object_type:
        object_type = listed[0]._meta.label_lower
    # JSON once: the text goes into the row, and the hash covers what reads back from it.
    ids_json = json.dumps([o.pk for o in listed], default=str)
    detail_json = json.dumps(detail, default=str) if detail else "{}"
    event = AuditEvent(
        at=timezone.now(),
        actor_id=getattr(actor, "pk", None),
        actor_username=getattr(actor, "username", "") or username,
        agency_id_snapshot=getattr(actor, "agency_id", None),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_ids=json.loads(ids_json) if listed else [],
        detail=json.loads(detail_json) if detail else {},
        ip=ip,
    )
    event.hash = event_hash(event)
    # Inside a caller's transaction the insert is part of it: an audit write that fails fails the whole change.
    _insert(event, ids_json=ids_json, detail_json=detail_json)
    return event


_COLUMNS = ("at", "actor_id", "actor_username", "agency_id_snapshot", "action", "object_type", "object_id",
            "object_ids", "detail", "ip", "prev_hash", "hash")
# Built once from the model's table and columns (the order of `_insert`'s values); values always go as parameters.
_INSERT = "INSERT INTO {} ({}) VALUES ({}) RETURNING id".format(  # noqa: S608
    AuditEvent._meta.db_table, ", ".join(_COLUMNS),
    ", ".join(["%s"] * len(_COLUMNS)))


def _insert(event: AuditEvent, *, ids_json: str, detail_json: str) -> None:
    """What `event.save(force_insert=True)` does, less the ORM compiling the same INSERT and adapting
    each field on every call: this is the product's hottest write (bench/audit.py). The JSON and the
    address go as text, which their columns take as they are (psycopg's Inet adapter alone cost a
    quarter of a plain insert's client time)."""
    values = [connection.ops.adapt_datetimefield_value(event.at), event.actor_id, event.actor_username,
              event.agency_id_snapshot, event.action, event.object_type, event.object_id, ids_json, detail_json,
              event.ip or None, event.prev_hash, event.hash]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, values)
        event.pk = cursor.fetchone()[0]
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
_HEX64 = re.compile(r"[0-9a-f]{64}")


# Committed rows not yet placed, on PostgreSQL: those whose transaction the snapshot the sequencer
# last finished (`seen`) did not see as finished (not begun, or still running), less those placed
# since. The first two terms are a range of the txid index and its few in-flight ids, given as
# constants so the planner knows how few rows they are and probes the leaf index for each; the
# third is the caller's own transaction (tests that write and sequence in one), which no snapshot
# of its own sees.
_NOT_SEEN_PG = f"""
    (e.txid >= %(seen_xmax)s::xid8 OR e.txid = ANY(%(seen_xip)s::xid8[]) OR e.txid = %(own)s::xid8)
    AND NOT EXISTS (SELECT 1 FROM {AuditLeaf._meta.db_table} l WHERE l.event_id = e.id)"""  # noqa: S608
# A batch: of those, the ones whose transaction had finished when the batch's snapshot (`target`)
# was taken, in id order from `after`. That set cannot grow while the batch works through it.
_NEXT_BATCH_PG = f"""
    SELECT e.id, e.hash FROM {AuditEvent._meta.db_table} e
    WHERE {_NOT_SEEN_PG}
      AND (pg_visible_in_snapshot(e.txid, %(target)s::pg_snapshot) OR e.txid = %(own)s::xid8)
      AND e.id > %(after)s
    ORDER BY e.id LIMIT %(limit)s"""  # noqa: S608
_WAITING_PG = f"SELECT {{}} FROM {AuditEvent._meta.db_table} e WHERE {_NOT_SEEN_PG}"  # noqa: S608
# Sees every transaction as unfinished: where a log starts (or restarts after a flush), all rows wait.
NOTHING_SEEN = "1:1:"


def audit_log_sequence(*, holder: str = "", limit: int = SEQUENCE_BATCH, checkpoint: bool = False) -> int:
    """Place the committed rows not yet placed at the end of the log; returns how many.

    Rows are found in the event table itself (`_next_batch`), by the transaction that wrote them,
    never by an id watermark: a row that commits late with a lower id is found in a later pass and
    placed after the others. Placing, storing the new subtrees and moving the head (how far it has
    read, size, root) happen in one transaction, so a sequencer killed half-way leaves the log as
    it was and the next pass finds the same rows. The head row is taken FOR UPDATE SKIP LOCKED: a
    second sequencer skips while the first works, and stands by while its lease runs. Signs a
    checkpoint when AUDIT_CHECKPOINT_SECONDS have passed (or `checkpoint`).
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
        batch = _next_batch(head, limit=limit)
        frontier = [(level, bytes.fromhex(h)) for level, h in head.frontier]
        leaves: list[tuple[int, int, str]] = []
        nodes: list[AuditNode] = []
        for event_id, row_hash in batch:
            if not _HEX64.fullmatch(row_hash):
                # Written behind audit_record's back with no hash of its own: placing it would bind nothing.
                # It stays out of the log, and audit_verify names it.
                logger.error("audit event %s has no valid hash and was not placed in the log", event_id)
                continue
            leaf_hash = merkle.leaf_hash(event_id=event_id, row_hash=row_hash)
            leaves.append((head.size, event_id, leaf_hash.hex()))
            nodes.extend(AuditNode(level=level, index=index, hash=h.hex())
                         for level, index, h in merkle.frontier_append(frontier, leaf_hash, size=head.size)
                         if level >= STORED_LEVEL)
            head.size += 1
        if leaves:
            placed_at = timezone.now()  # as late as it can be: the lag the bench measures ends here
            _leaves_insert(leaves, placed_at=placed_at)
            AuditNode.objects.bulk_create(nodes)
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


_LEAVES_PG = (f"INSERT INTO {AuditLeaf._meta.db_table} (seq, event_id, leaf_hash, sequenced_at) "  # noqa: S608
              "SELECT *, %s FROM unnest(%s::bigint[], %s::bigint[], %s::text[])")


def _leaves_insert(leaves: list[tuple[int, int, str]], *, placed_at: datetime) -> None:
    """The batch's log positions in one statement: on PostgreSQL as three arrays, which costs the
    sequencer a few microseconds a row where bulk_create's model instances cost tens."""
    if connection.vendor != "postgresql":
        AuditLeaf.objects.bulk_create(AuditLeaf(seq=seq, event_id=event_id, leaf_hash=leaf_hash, sequenced_at=placed_at)
                                      for seq, event_id, leaf_hash in leaves)
        return
    seqs, event_ids, hashes = (list(column) for column in zip(*leaves, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(_LEAVES_PG, [placed_at, seqs, event_ids, hashes])


def _next_batch(head: AuditLogHead, *, limit: int) -> list[tuple[int, str]]:
    """Up to `limit` committed rows not yet placed, as (id, hash), in the order to place them; moves
    the head's reading position past them (saved with the head, so a rolled-back pass moves nothing).

    PostgreSQL: a batch works through the rows whose transactions had finished at its snapshot
    (`target`), in id order; when fewer than `limit` are left, that snapshot becomes `seen`, and
    the next pass takes a new one. A row whose transaction was still running at `target` is not
    seen by it, so it is found after `seen` moves on, whatever its id. SQLite: one writer at a
    time (BEGIN IMMEDIATE), so rows commit in id order and the largest id placed is exact.
    """
    if connection.vendor != "postgresql":
        batch = list(AuditEvent.objects.filter(id__gt=head.after_id).order_by("id").values_list("id", "hash")[:limit])
        if batch:
            head.after_id = batch[-1][0]
        return batch
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_snapshot()::text, pg_current_xact_id_if_assigned()::text")
        snapshot, own = cursor.fetchone()
        if not head.target_snapshot:
            head.target_snapshot = snapshot  # after_id is 0 here, except after migration 0004
        cursor.execute(_NEXT_BATCH_PG, {**_not_seen(head, own=own), "target": head.target_snapshot,
                                        "after": head.after_id, "limit": limit})
        batch = cursor.fetchall()
    if len(batch) < limit:
        head.seen_snapshot, head.target_snapshot, head.after_id = head.target_snapshot, "", 0
    else:
        head.after_id = batch[-1][0]
    return batch


def unsequenced(head: AuditLogHead | None = None) -> tuple[int, datetime | None]:
    """How many committed rows wait for the sequencer, and when the oldest of them was written."""
    if head is None:
        head = AuditLogHead.objects.filter(pk=LOG_HEAD_ID).first() or AuditLogHead()
    if connection.vendor != "postgresql":
        found = AuditEvent.objects.filter(id__gt=head.after_id).aggregate(n=Count("id"), oldest=Min("at"))
        return found["n"], found["oldest"]
    with connection.cursor() as cursor:
        cursor.execute(_WAITING_PG.format("count(*), min(e.at)"), _not_seen(head, own=_own_txid(cursor)))
        count, oldest = cursor.fetchone()
    return count, oldest


def unsequenced_ids() -> set[int]:
    """The ids of the committed rows that wait for the sequencer (audit_verify: every other row must be placed)."""
    head = AuditLogHead.objects.filter(pk=LOG_HEAD_ID).first() or AuditLogHead()
    if connection.vendor != "postgresql":
        return set(AuditEvent.objects.filter(id__gt=head.after_id).values_list("id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(_WAITING_PG.format("e.id"), _not_seen(head, own=_own_txid(cursor)))
        return {row[0] for row in cursor.fetchall()}


def _own_txid(cursor: Any) -> str | None:
    cursor.execute("SELECT pg_current_xact_id_if_assigned()::text")
    return cursor.fetchone()[0]


def _not_seen(head: AuditLogHead, *, own: str | None) -> dict[str, Any]:
    """The parameters of _NOT_SEEN_PG, from the snapshot's text form `xmin:xmax:xip,xip,...`."""
    _, xmax, xip = (head.seen_snapshot or NOTHING_SEEN).split(":")
    return {"seen_xmax": xmax, "seen_xip": xip.split(",") if xip else [], "own": own}


def _alarm_update(head: AuditLogHead, *, now: datetime) -> None:
    _, oldest = unsequenced(head)
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
