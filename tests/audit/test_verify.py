"""`manage.py audit_verify` rebuilds the Merkle log and names the first row edited, removed or moved,
and the first checkpoint that is forged or inconsistent with the log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.management import CommandError
from django.db import connection
from django.utils import timezone

from apps.audit import signing
from apps.audit.models import AuditCheckpoint, AuditEvent, AuditLeaf
from apps.audit.services import audit_log_sequence, event_hash, unsequenced
from tests.accounts.signin import client_for, login, sign_in
from tests.audit.support import behind_the_apis_back, verify
from tests.base import World

CONTENT = ("at", "actor_id", "actor_username", "agency_id_snapshot", "action", "object_type", "object_id",
           "object_ids", "detail", "ip", "prev_hash", "hash")


@pytest.fixture
def busy_day(world: World) -> list[int]:
    """Sign-ins, a failed one, list and detail reads, sequenced under two checkpoints: the events' ids in order."""
    omar = client_for(sign_in(world.omar))
    login("omar", "wrong password")
    omar.get("/api/v1/cases")
    audit_log_sequence(checkpoint=True)
    ava = client_for(sign_in(world.ava))
    omar.get(f"/api/v1/cases/{world.case.pk}")
    ava.get(f"/api/v1/people/{world.person.pk}")
    omar.post("/api/v1/auth/logout")
    audit_log_sequence(checkpoint=True)
    ids = list(AuditEvent.objects.order_by("id").values_list("id", flat=True))
    assert len(ids) >= 10
    assert unsequenced()[0] == 0
    return ids


def test_sign_ins_and_reads_form_an_intact_log(busy_day: list[int]) -> None:
    assert f"intact: {len(busy_day)} events verified ({len(busy_day)} in the log, 0 waiting" in verify()


def test_an_empty_trail_is_intact(db: None) -> None:
    assert "intact: 0 events" in verify()


def test_rows_not_yet_sequenced_are_checked_and_counted(busy_day: list[int], world: World) -> None:
    client_for(sign_in(world.sam))

    assert "waiting for the sequencer" in verify()
    assert ", 0 waiting" not in verify()


@pytest.mark.parametrize(
    "edit",
    [
        lambda qs: qs.update(detail={"reason": "nothing to see"}),
        lambda qs: qs.update(actor_username="someone-else"),
        lambda qs: qs.update(at=timezone.now() - timedelta(days=1)),
    ],
    ids=["detail", "actor_username", "at"],
)
def test_editing_a_row_behind_the_apis_back_is_named(busy_day: list[int], edit: Callable[[object], None]) -> None:
    target = busy_day[len(busy_day) // 2]

    with behind_the_apis_back():
        edit(AuditEvent.objects.filter(pk=target))

    with pytest.raises(CommandError, match=rf"broken at event {target}: content .*edited"):
        verify()


def test_editing_a_row_and_its_hash_together_is_named_too(busy_day: list[int]) -> None:
    target = AuditEvent.objects.get(pk=busy_day[3])
    target.detail = {"reason": "forged"}

    with behind_the_apis_back():
        AuditEvent.objects.filter(pk=target.pk).update(detail=target.detail, hash=event_hash(target))

    with pytest.raises(CommandError, match=rf"broken at event {target.pk}: is not the row placed at log position"):
        verify()


def test_deleting_a_row_is_named(busy_day: list[int]) -> None:
    target = busy_day[len(busy_day) // 2]

    with behind_the_apis_back():
        AuditEvent.objects.filter(pk=target).delete()

    with pytest.raises(CommandError, match=rf"broken at event {target}: missing from log position \d+: .*deleted"):
        verify()


def test_swapping_two_rows_is_named(busy_day: list[int]) -> None:
    first, second = (AuditEvent.objects.get(pk=pk) for pk in busy_day[2:4])

    with behind_the_apis_back():
        AuditEvent.objects.filter(pk=first.pk).update(**{f: getattr(second, f) for f in CONTENT})
        AuditEvent.objects.filter(pk=second.pk).update(**{f: getattr(first, f) for f in CONTENT})

    position = AuditLeaf.objects.get(event_id=first.pk).seq
    with pytest.raises(CommandError, match=rf"broken at event {first.pk}: is not the row placed at log position "
                                           rf"{position} \(rows were swapped"):
        verify()


def test_swapping_two_positions_of_the_log_is_named(busy_day: list[int]) -> None:
    a, b = AuditLeaf.objects.get(seq=2), AuditLeaf.objects.get(seq=3)

    with behind_the_apis_back("audit_auditleaf"):
        AuditLeaf.objects.filter(seq=2).update(event_id=-1)
        AuditLeaf.objects.filter(seq=3).update(event_id=a.event_id, leaf_hash=a.leaf_hash)
        AuditLeaf.objects.filter(seq=2).update(event_id=b.event_id, leaf_hash=b.leaf_hash)

    # Each row is still the one its position names; the tree over them is not the one that was signed.
    with pytest.raises(CommandError, match=r"broken at (log subtree 4/0: the stored hash does not match the log|"
                                           r"checkpoint \d+: is not consistent with the log)"):
        verify()


def test_a_checkpoint_with_a_bad_signature_is_named(busy_day: list[int]) -> None:
    checkpoint = AuditCheckpoint.objects.order_by("id").first()
    assert checkpoint is not None
    forged = signing.sign(b"something else entirely")

    with behind_the_apis_back("audit_auditcheckpoint"):
        AuditCheckpoint.objects.filter(pk=checkpoint.pk).update(signature=forged)

    with pytest.raises(CommandError, match=rf"broken at checkpoint {checkpoint.pk}: its signature does not verify"):
        verify()


def test_a_checkpoint_inconsistent_with_a_later_one_is_named(busy_day: list[int]) -> None:
    """Even signed with the right key: its root is not the root of the log the later checkpoint signs."""
    first, later = AuditCheckpoint.objects.order_by("id")[:2]
    other_root = "ab" * 32
    note = signing.checkpoint_note(origin=first.origin, tree_size=first.tree_size, root_hash=other_root,
                                   signed_at=first.signed_at)

    with behind_the_apis_back("audit_auditcheckpoint"):
        AuditCheckpoint.objects.filter(pk=first.pk).update(root_hash=other_root, signature=signing.sign(note))

    assert later.tree_size > first.tree_size
    with pytest.raises(CommandError, match=rf"broken at checkpoint {first.pk}: is not consistent with the log at "
                                           rf"size {first.tree_size}, nor with the checkpoints after it"):
        verify()


def test_a_log_cut_back_below_its_checkpoints_is_named(busy_day: list[int]) -> None:
    last = AuditLeaf.objects.order_by("-seq").first()
    assert last is not None

    with behind_the_apis_back("audit_auditleaf"):
        AuditLeaf.objects.filter(seq=last.seq).delete()

    with pytest.raises(CommandError, match=rf"broken at log position {last.seq}: missing"):
        verify()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite rows carry no transaction id")
@pytest.mark.django_db(transaction=True)  # each request its own committed transaction, as in production
def test_a_row_slipped_in_behind_the_sequencer_is_named(busy_day: list[int], world: World) -> None:
    """Inserted with the transaction id of rows placed long ago, so the sequencer, which has read past
    that transaction, will never place it: audit_verify names it."""
    forged = AuditEvent.objects.get(pk=busy_day[0])
    forged.pk = None
    forged.detail = {"reason": "slipped in later"}
    forged.hash = event_hash(forged)
    forged.save(force_insert=True)
    with connection.cursor() as cursor, behind_the_apis_back():
        cursor.execute("UPDATE audit_auditevent SET txid = (SELECT txid FROM audit_auditevent WHERE id = %s) "
                       "WHERE id = %s", [busy_day[0], forged.pk])
    audit_log_sequence()

    with pytest.raises(CommandError, match=rf"broken at event {forged.pk}: is neither in the log nor waiting"):
        verify()
