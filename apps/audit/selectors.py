from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.models import Role
from apps.audit import merkle, signing
from apps.audit.models import AuditCheckpoint, AuditEvent, AuditLeaf, AuditLogHead, AuditNode
from apps.audit.services import LOG_HEAD_ID, STORED_LEVEL, audit_record, event_hash, unsequenced, unsequenced_ids
from apps.common.errors import DomainError, NotFound


def _auditor_only(user: Any) -> None:
    if user.role != Role.AUDITOR or user.agency_id is None:
        raise NotFound("Not found.")


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
    _auditor_only(user)
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



# --- The Merkle log: proofs for auditors (docs/audit.md) ---

class NotCheckpointed(DomainError):
    status = 409
    code = "audit_not_checkpointed"


def _stored_subtree() -> merkle.Subtree:
    """Look-ups of stored complete subtrees, each fetched once per proof."""

    @cache
    def subtree(level: int, index: int) -> bytes:
        if level >= STORED_LEVEL:
            found = AuditNode.objects.filter(level=level, index=index).values_list("hash", flat=True).first()
            if found is None:
                raise LookupError(f"no stored subtree at level {level}, index {index}")
            return bytes.fromhex(found)
        width = 1 << level
        hashes = [bytes.fromhex(h) for h in AuditLeaf.objects.filter(
            seq__gte=index * width, seq__lt=(index + 1) * width).order_by("seq").values_list("leaf_hash", flat=True)]
        if len(hashes) != width:
            raise LookupError(f"log positions missing under level {level}, index {index}")
        while len(hashes) > 1:
            hashes = [merkle.node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]

    return subtree


def checkpoint_as_dict(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    """A checkpoint as an auditor keeps it: enough to check the signature with no access to us."""
    note = signing.checkpoint_note(origin=checkpoint.origin, tree_size=checkpoint.tree_size,
                                   root_hash=checkpoint.root_hash, signed_at=checkpoint.signed_at)
    return {"id": checkpoint.pk, "tree_size": checkpoint.tree_size, "root_hash": checkpoint.root_hash,
            "signed_at": checkpoint.signed_at, "origin": checkpoint.origin, "key_id": checkpoint.key_id,
            "public_key": signing.public_key_b64(), "note": note.decode(), "signature": checkpoint.signature}


def audit_checkpoint_list_for_user(*, user: Any) -> QuerySet[AuditCheckpoint]:
    """The signed checkpoints, newest first. Auditors only; the read is recorded."""
    _auditor_only(user)
    audit_record(actor=user, action=AuditEvent.Action.AUDIT_READ, object_type="audit.auditcheckpoint")
    return AuditCheckpoint.objects.order_by("-id")


def _checkpoint_get(tree_size: int | None) -> AuditCheckpoint:
    checkpoints = AuditCheckpoint.objects.order_by("-id")
    if tree_size is not None:
        checkpoints = checkpoints.filter(tree_size=tree_size)
    checkpoint = checkpoints.first()
    if checkpoint is None:
        raise NotCheckpointed("No checkpoint of that size." if tree_size is not None else "No checkpoint yet.")
    return checkpoint


def audit_inclusion_proof_for_user(*, user: Any, event_id: int, tree_size: int | None = None) -> dict[str, Any]:
    """Where an event of the auditor's agency sits in the log, and the path from it to a checkpoint's root.

    Against the newest checkpoint unless `tree_size` names one. 404 for an event that is not the
    auditor's to see; 409 while it is not yet under a checkpoint (wait a minute and ask again).
    """
    _auditor_only(user)
    event = AuditEvent.objects.filter(pk=event_id, agency_id_snapshot=user.agency_id).first()
    if event is None:
        raise NotFound("Not found.")
    audit_record(actor=user, action=AuditEvent.Action.AUDIT_READ, obj=event, detail={"proof": "inclusion"})
    checkpoint = _checkpoint_get(tree_size)
    leaf = AuditLeaf.objects.filter(event_id=event.pk).first()
    if leaf is None or leaf.seq >= checkpoint.tree_size:
        raise NotCheckpointed("This event is not under that checkpoint yet; the next one is at most a minute away.")
    path = merkle.inclusion_path(_stored_subtree(), index=leaf.seq, size=checkpoint.tree_size)
    return {"event": event, "leaf_index": leaf.seq, "leaf_hash": leaf.leaf_hash,
            "audit_path": [h.hex() for h in path], "checkpoint": checkpoint_as_dict(checkpoint)}


def audit_consistency_proof_for_user(*, user: Any, first: int, second: int) -> dict[str, Any]:
    """That the checkpoint of size `second` extends the one of size `first`: RFC 9162 2.1.4."""
    _auditor_only(user)
    if first > second:
        raise DomainError("first must not be larger than second.", code="invalid",
                          fields={"first": ["must not be larger than second"]})
    older, newer = _checkpoint_get(first), _checkpoint_get(second)
    audit_record(actor=user, action=AuditEvent.Action.AUDIT_READ, object_type="audit.auditcheckpoint",
                 detail={"proof": "consistency", "first": first, "second": second})
    proof = merkle.consistency_proof(_stored_subtree(), first=first, second=second)
    return {"first": checkpoint_as_dict(older), "second": checkpoint_as_dict(newer),
            "proof": [h.hex() for h in proof]}


# --- The log's health: the admin's view and the sequencer's alarm ---

@dataclass(frozen=True)
class LogHealth:
    size: int
    unsequenced: int
    oldest_unsequenced_at: datetime | None
    sequencer: str
    lease_until: datetime | None
    last_checkpoint_at: datetime | None

    @property
    def alarm(self) -> bool:
        """A committed row waiting past the limit, or no checkpoint for twice the interval."""
        now = timezone.now()
        late = self.oldest_unsequenced_at is not None and now - self.oldest_unsequenced_at > timedelta(
            seconds=settings.AUDIT_UNSEQUENCED_ALARM_SECONDS)
        stale = self.last_checkpoint_at is not None and now - self.last_checkpoint_at > timedelta(
            seconds=2 * settings.AUDIT_CHECKPOINT_SECONDS)
        return late or stale


def audit_log_health() -> LogHealth:
    """Read live, not from the sequencer: a sequencer that is down cannot report itself."""
    head = AuditLogHead.objects.filter(pk=LOG_HEAD_ID).first()
    waiting, oldest = unsequenced(head)
    return LogHealth(
        size=head.size if head else 0,
        unsequenced=waiting,
        oldest_unsequenced_at=oldest,
        sequencer=head.holder if head else "",
        lease_until=head.lease_until if head else None,
        last_checkpoint_at=head.checkpointed_at if head else None,
    )


# --- audit_verify: every row, the order, the tree and every checkpoint ---

@dataclass(frozen=True)
class Fault:
    what: str  # "event 12", "checkpoint 3", "log position 7"
    reason: str

    def __str__(self) -> str:
        return f"{self.what}: {self.reason}"


@dataclass(frozen=True)
class VerifyProgress:
    checked: int
    fault: Fault | None = None
    sequenced: int = 0
    unsequenced: int = 0
    checkpoints: int = 0


def audit_log_total() -> int:
    """How many rows audit_verify will check (its progress bar's length)."""
    return AuditEvent.objects.count()


def _checkpoint_signature_faults(last_id: int) -> Iterator[Fault]:
    public = signing.public_key_b64()
    our_key = signing.key_id(public)
    largest = 0
    for cp in AuditCheckpoint.objects.filter(id__lte=last_id).order_by("id").iterator(chunk_size=2000):
        note = signing.checkpoint_note(origin=cp.origin, tree_size=cp.tree_size, root_hash=cp.root_hash,
                                       signed_at=cp.signed_at)
        if cp.key_id != our_key:
            yield Fault(f"checkpoint {cp.pk}", f"signed by key {cp.key_id}, not the configured key {our_key}")
        elif not signing.signature_valid(note=note, signature=cp.signature, public_b64=public):
            yield Fault(f"checkpoint {cp.pk}", "its signature does not verify (the checkpoint was altered or forged)")
        elif cp.tree_size < largest:
            yield Fault(f"checkpoint {cp.pk}", f"covers {cp.tree_size} events, fewer than the {largest} of an "
                                               "earlier one (the log was cut back)")
        largest = max(largest, cp.tree_size)


def _content_fault(event: AuditEvent) -> Fault | None:
    """A row whose content no longer gives its hash: edited after it was written, in the log or not."""
    if event_hash(event) != event.hash:
        return Fault(f"event {event.pk}", "content does not match its hash (the row was edited)")
    return None


def audit_log_verify(*, batch_size: int = 2000) -> Iterator[VerifyProgress]:
    """Walk the log in order and recompute it; yields progress, and stops at the first fault.

    For each position: the event exists, its content matches its hash, and it is the row that was
    placed there (the leaf hash binds id and content). The tree is rebuilt from those leaves; each
    stored subtree (what proofs are made of) must equal the rebuilt one, and each checkpoint's root
    must equal the rebuilt root at its size: two checkpoints that both match one rebuilt log are
    consistent with each other, which is what an RFC 9162 consistency proof shows an outsider.
    Rows not yet placed are checked for their own hash, and each must be one the sequencer will
    still find (its transaction committed after the sequencer last looked).
    """
    head = AuditLogHead.objects.filter(pk=LOG_HEAD_ID).first()
    size = head.size if head else 0
    last_checkpoint = AuditCheckpoint.objects.order_by("-id").values_list("id", flat=True).first() or 0
    for fault in _checkpoint_signature_faults(last_checkpoint):
        yield VerifyProgress(0, fault)
        return
    checkpoints = iter(AuditCheckpoint.objects.filter(id__lte=last_checkpoint).order_by("tree_size", "id")
                       .values_list("id", "tree_size", "root_hash").iterator(chunk_size=2000))
    nodes = iter(AuditNode.objects.order_by("id").values_list("level", "index", "hash").iterator(chunk_size=5000))
    checkpoint = next(checkpoints, None)
    frontier: merkle.Frontier = []
    seq = 0
    counted = 0

    while checkpoint is not None and checkpoint[1] == 0:
        if checkpoint[2] != merkle.EMPTY_ROOT.hex():
            yield VerifyProgress(0, Fault(f"checkpoint {checkpoint[0]}", "an empty log has another root"))
            return
        checkpoint = next(checkpoints, None)
    while seq < size:
        batch = list(AuditLeaf.objects.filter(seq__gte=seq, seq__lt=min(seq + batch_size, size)).order_by("seq"))
        events = AuditEvent.objects.in_bulk([leaf.event_id for leaf in batch])
        if not batch:
            yield VerifyProgress(counted, Fault(f"log position {seq}", f"missing: the log should run to {size}"))
            return
        for leaf in batch:
            if leaf.seq != seq:
                yield VerifyProgress(counted, Fault(f"log position {seq}", "missing (a log entry was removed)"))
                return
            event = events.get(leaf.event_id)
            if event is None:
                yield VerifyProgress(counted, Fault(f"event {leaf.event_id}", f"missing from log position {seq}: "
                                                    "the row was deleted"))
                return
            if (edited := _content_fault(event)) is not None:
                yield VerifyProgress(counted, edited)
                return
            leaf_hash = merkle.leaf_hash(event_id=event.pk, row_hash=event.hash)
            if leaf_hash.hex() != leaf.leaf_hash:
                yield VerifyProgress(counted, Fault(f"event {event.pk}", f"is not the row placed at log position "
                                                    f"{seq} (rows were swapped, or edited with a new hash)"))
                return
            for level, index, rebuilt in merkle.frontier_append(frontier, leaf_hash, size=seq):
                if level < STORED_LEVEL:
                    continue
                stored = next(nodes, None)
                if stored != (level, index, rebuilt.hex()):
                    yield VerifyProgress(counted, Fault(f"log subtree {level}/{index}", "the stored hash does not "
                                                        "match the log (proofs would be false)"))
                    return
            seq += 1
            counted += 1
            while checkpoint is not None and checkpoint[1] == seq:
                if checkpoint[2] != merkle.frontier_root(frontier).hex():
                    yield VerifyProgress(counted, Fault(
                        f"checkpoint {checkpoint[0]}",
                        f"is not consistent with the log at size {seq}, nor with the checkpoints after it "
                        "(the log was rewritten, reordered or the checkpoint forged)"))
                    return
                checkpoint = next(checkpoints, None)
        yield VerifyProgress(counted, sequenced=seq)
    if checkpoint is not None:
        yield VerifyProgress(counted, Fault(f"checkpoint {checkpoint[0]}", f"covers {checkpoint[1]} events but "
                                            f"the log holds {size} (positions were removed from its end)"))
        return
    if head is not None and head.root_hash != merkle.frontier_root(frontier).hex():
        yield VerifyProgress(counted, Fault("the log head", "its root is not the rebuilt one"))
        return
    yield from _unsequenced_verify(counted, sequenced=seq,
                                   checkpoints=AuditCheckpoint.objects.filter(id__lte=last_checkpoint).count())


def _unsequenced_verify(counted: int, *, sequenced: int, checkpoints: int) -> Iterator[VerifyProgress]:
    waiting = unsequenced_ids()
    placed = AuditLeaf.objects.values("event_id")
    for event in AuditEvent.objects.exclude(id__in=placed).order_by("id").iterator(chunk_size=2000):
        if event.pk not in waiting:
            # Committed, or placed, since we asked: ask again before naming it.
            waiting = unsequenced_ids()
        if event.pk not in waiting and not AuditLeaf.objects.filter(event_id=event.pk).exists():
            yield VerifyProgress(counted, Fault(f"event {event.pk}", "is neither in the log nor waiting for the "
                                                "sequencer (written behind the API's back as if by a transaction "
                                                "the sequencer had already read)"))
            return
        if (edited := _content_fault(event)) is not None:
            yield VerifyProgress(counted, edited)
            return
        counted += 1
    yield VerifyProgress(counted, sequenced=sequenced, unsequenced=counted - sequenced, checkpoints=checkpoints)
