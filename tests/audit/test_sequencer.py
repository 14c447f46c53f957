"""The sequencer places every committed row in the log exactly once, in one order that a restart,
a crash or a second sequencer does not change; a row left waiting raises the alarm."""

from __future__ import annotations

import logging
import os
import random
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone

from apps.audit.models import AuditEvent, AuditLeaf, AuditLogHead, AuditNode
from apps.audit.selectors import audit_log_health
from apps.audit.services import audit_log_sequence, audit_record, unsequenced
from tests.audit.support import verify
from tests.base import PASSWORD, World, current_code


def _write(n: int, **detail: object) -> list[int]:
    return [audit_record(actor=None, action=AuditEvent.Action.READ, object_type="cases.case", object_id=i,
                         detail=dict(detail)).pk for i in range(n)]


def _waiting() -> int:
    return unsequenced()[0]


def _positions() -> list[int]:
    return list(AuditLeaf.objects.order_by("seq").values_list("event_id", flat=True))


ONE_WRITER = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the SQLite test database is in shared-cache memory, which refuses a second writer outright")


@ONE_WRITER
@pytest.mark.parametrize("lease_seconds", [5, 0], ids=["one holds the lease", "both contend every pass"])
@pytest.mark.django_db(transaction=True)
def test_two_sequencers_started_at_once_place_every_row_exactly_once(settings, lease_seconds: int) -> None:
    settings.AUDIT_SEQUENCER_LEASE_SECONDS = lease_seconds
    _write(40)
    placed = {"a": 0, "b": 0}
    writing = threading.Event()
    writing.set()

    def sequencer(name: str) -> None:
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and (writing.is_set() or _waiting()):
                placed[name] += audit_log_sequence(holder=name, limit=7)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sequencer, args=(name,)) for name in placed]
    for thread in threads:
        thread.start()
    _write(40, during="sequencing")
    writing.clear()
    for thread in threads:
        thread.join(30)

    assert sum(placed.values()) == 80
    assert sorted(_positions()) == sorted(AuditEvent.objects.values_list("id", flat=True))
    assert AuditLogHead.objects.get().size == 80
    assert "intact: 80 events verified (80 in the log, 0 waiting" in verify()


def test_a_second_sequencer_stands_by_until_the_lease_runs_out(db: None, settings) -> None:  # type: ignore[no-untyped-def]
    _write(3)
    assert audit_log_sequence(holder="first") == 3
    _write(2)

    assert audit_log_sequence(holder="second") == 0
    assert _waiting() == 2

    AuditLogHead.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    assert audit_log_sequence(holder="second") == 2
    assert AuditLogHead.objects.get().holder == "second"


def test_a_crash_half_way_through_a_batch_loses_and_reorders_nothing(db: None, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ids = _write(20)
    audit_log_sequence(limit=8)
    before = _positions()

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("sequencer killed")

    monkeypatch.setattr(AuditNode.objects, "bulk_create", crash)
    with pytest.raises(RuntimeError):
        audit_log_sequence()
    monkeypatch.undo()

    assert _positions() == before
    assert _waiting() == 12
    assert audit_log_sequence() == 12
    assert _positions() == ids
    assert _waiting() == 0
    assert "intact: 20 events verified (20 in the log" in verify()


# A sequencer in its own process, killed (SIGKILL) after placing rows and before its commit.
KILLED_SEQUENCER = """
import time
import django
django.setup()
from django.db import transaction
from apps.audit.services import audit_log_sequence
with transaction.atomic():
    print("placed", audit_log_sequence(holder="doomed"), flush=True)
    time.sleep(60)
"""


@ONE_WRITER
@pytest.mark.django_db(transaction=True)
def test_a_sequencer_killed_before_its_commit_loses_and_reorders_nothing() -> None:
    first = _write(5)
    audit_log_sequence(holder="doomed")
    later = _write(20)
    db = connection.settings_dict
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "rtcc_server.settings",
                        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    child = subprocess.Popen([sys.executable, "-c", KILLED_SEQUENCER], cwd=settings.BASE_DIR, env=env,  # noqa: S603
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().split() == ["placed", "20"]
    finally:
        child.kill()
        child.wait(10)

    assert _positions() == first
    assert _waiting() == 20
    AuditLogHead.objects.update(lease_until=timezone.now() - timedelta(seconds=1))  # its lease runs out
    deadline = time.monotonic() + 10
    placed = 0
    while placed < 20 and time.monotonic() < deadline:  # the server notices the dead connection within moments
        placed += audit_log_sequence(holder="restarted")
    assert _positions() == first + later
    assert "intact: 25 events verified (25 in the log, 0 waiting" in verify()


@ONE_WRITER
@pytest.mark.django_db(transaction=True)
def test_requests_committing_out_of_order_beside_two_sequencers_are_each_placed_once(settings) -> None:  # type: ignore[no-untyped-def]
    """Requests that audit early and commit late, in any order, some rolled back, while two
    sequencers contend for every pass: each committed row is placed exactly once."""
    settings.AUDIT_SEQUENCER_LEASE_SECONDS = 0
    committed: list[int] = []
    rolled_back: list[int] = []
    writing = threading.Event()
    writing.set()

    class RolledBack(Exception):
        pass

    def requests(seed: int) -> None:
        chance = random.Random(seed)  # noqa: S311 (timing, not secrets)
        try:
            for _ in range(10):
                ids: list[int] = []
                try:
                    with transaction.atomic():
                        ids = _write(chance.randint(1, 3), writer=seed)
                        time.sleep(chance.uniform(0, 0.08))  # the rest of the request
                        if chance.random() < 0.2:
                            raise RolledBack
                    committed.extend(ids)
                except RolledBack:
                    rolled_back.extend(ids)
        finally:
            connections.close_all()

    def sequencer(name: str) -> None:
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and (writing.is_set() or _waiting()):
                audit_log_sequence(holder=name, limit=4)
                time.sleep(0.005)
        finally:
            connections.close_all()

    writers = [threading.Thread(target=requests, args=(seed,)) for seed in range(8)]
    sequencers = [threading.Thread(target=sequencer, args=(name,)) for name in ("a", "b")]
    for thread in sequencers + writers:
        thread.start()
    for thread in writers:
        thread.join(30)
    writing.clear()
    for thread in sequencers:
        thread.join(30)

    placed = _positions()
    assert len(placed) == len(set(placed)) == len(committed)
    assert set(placed) == set(committed)
    assert not set(placed) & set(rolled_back)
    assert list(AuditLeaf.objects.order_by("seq").values_list("seq", flat=True)) == list(range(len(placed)))
    assert f"intact: {len(committed)} events verified ({len(committed)} in the log, 0 waiting" in verify()


def test_rows_written_while_no_sequencer_ran_are_all_placed_after_restart(db: None) -> None:
    first = _write(5)
    audit_log_sequence(holder="before restart")
    later = _write(30)  # the dispatcher was down meanwhile
    AuditLogHead.objects.update(lease_until=timezone.now() - timedelta(seconds=1))

    assert audit_log_sequence(holder="after restart", limit=10) == 10
    while audit_log_sequence(holder="after restart", limit=10):
        pass

    assert _positions() == first + later
    assert _waiting() == 0


@ONE_WRITER
@pytest.mark.django_db(transaction=True)
def test_a_row_that_commits_late_with_a_lower_id_is_placed_after_the_others() -> None:
    written, release = threading.Event(), threading.Event()
    late: list[int] = []

    def slow_request() -> None:
        try:
            with transaction.atomic():
                late.extend(_write(1, slow=True))
                written.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_request)
    thread.start()
    try:
        assert written.wait(10)
        quick = _write(3)
        assert audit_log_sequence() == 3
    finally:
        release.set()
        thread.join(10)

    assert late[0] < quick[0]
    assert audit_log_sequence() == 1
    assert _positions() == [*quick, late[0]]
    assert "intact: 4 events verified (4 in the log" in verify()


def _written_minutes_ago(n: int, minutes: int) -> list[int]:
    """Rows written while the dispatcher was down for a while."""
    with time_machine.travel(timezone.now() - timedelta(minutes=minutes), tick=True):
        return _write(n)


def test_a_row_waiting_past_the_limit_raises_the_alarm(world: World, settings, caplog) -> None:  # type: ignore[no-untyped-def]
    audit_log_sequence()
    _written_minutes_ago(3, minutes=5)

    assert audit_log_health().alarm  # read live: nothing has to be running to see it
    assert audit_log_health().unsequenced == 3

    abe = Client()
    abe.post("/admin/login/?next=/admin/", {"username": "abe", "password": PASSWORD, "code": current_code(world.abe)})
    page = abe.get("/admin/audit/auditloghead/")
    assert page.status_code == 200
    assert b"ALARM" in page.content

    with caplog.at_level(logging.ERROR, logger="apps.audit.services"):
        audit_log_sequence(limit=2)  # a sequencer that cannot keep up: one old row is left
    assert "audit alarm" in caplog.text
    assert AuditLogHead.objects.get().alarm_since is not None


def test_the_alarm_clears_once_every_row_is_placed(world: World) -> None:
    audit_log_sequence()
    _written_minutes_ago(3, minutes=5)
    audit_log_sequence(limit=2)
    assert audit_log_health().alarm

    audit_log_sequence()

    assert not audit_log_health().alarm
    assert AuditLogHead.objects.get().alarm_since is None


def test_a_checkpoint_is_signed_at_least_once_a_minute(db: None, settings) -> None:  # type: ignore[no-untyped-def]
    from apps.audit.models import AuditCheckpoint

    audit_log_sequence()
    first = AuditCheckpoint.objects.count()
    audit_log_sequence()
    assert AuditCheckpoint.objects.count() == first  # not due yet

    AuditLogHead.objects.update(checkpointed_at=timezone.now() - timedelta(seconds=settings.AUDIT_CHECKPOINT_SECONDS))
    _write(2)
    audit_log_sequence()

    latest = AuditCheckpoint.objects.order_by("-id").first()
    assert AuditCheckpoint.objects.count() == first + 1
    assert latest is not None and latest.tree_size == AuditLogHead.objects.get().size
