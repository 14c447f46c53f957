"""The audit trail: a hash chain that names the first row edited or removed, and the auditor's view of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO
from itertools import pairwise

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEvent
from tests.accounts.signin import client_for, login, sign_in
from tests.base import World, signed_in_client


def _verify() -> str:
    out = StringIO()
    call_command("audit_verify", stdout=out, stderr=StringIO())
    return out.getvalue()


@contextmanager
def _behind_the_apis_back() -> Iterator[None]:
    """What someone with a database prompt could do. On PostgreSQL that needs the trigger switched off first."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        # Pending deferred FK checks on the table would make ALTER TABLE refuse; run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only")
        try:
            yield
        finally:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_append_only")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@pytest.fixture
def busy_day(world: World) -> list[int]:
    """Sign-ins, a failed one, list and detail reads: the ids of the events they wrote, in order."""
    omar = client_for(sign_in(world.omar))
    ava = client_for(sign_in(world.ava))
    login("omar", "wrong password")
    omar.get("/api/v1/cases")
    omar.get(f"/api/v1/cases/{world.case.pk}")
    ava.get(f"/api/v1/people/{world.person.pk}")
    omar.post("/api/v1/auth/logout")
    ids = list(AuditEvent.objects.order_by("id").values_list("id", flat=True))
    assert len(ids) >= 10
    return ids


def test_sign_ins_and_reads_form_an_intact_chain(busy_day: list[int]) -> None:
    output = _verify()
    assert "intact" in output
    assert f"{len(busy_day)} events verified" in output


def test_an_empty_trail_is_intact(db: None) -> None:
    assert "intact: 0 events" in _verify()


def test_each_row_links_to_the_one_before(busy_day: list[int]) -> None:
    rows = list(AuditEvent.objects.order_by("id"))
    assert rows[0].prev_hash == "0" * 64
    for before, after in pairwise(rows):
        assert after.prev_hash == before.hash


@pytest.mark.parametrize(
    "edit",
    [
        lambda qs: qs.update(detail={"reason": "nothing to see"}),
        lambda qs: qs.update(actor_username="someone-else"),
        lambda qs: qs.update(at=timezone.now() - timedelta(days=1)),
    ],
    ids=["detail", "actor_username", "at"],
)
def test_editing_a_row_behind_the_apis_back_is_named_by_audit_verify(
        busy_day: list[int], edit: Callable[[object], None]) -> None:
    target = busy_day[len(busy_day) // 2]

    with _behind_the_apis_back():
        edit(AuditEvent.objects.filter(pk=target))

    with pytest.raises(CommandError, match=rf"broken at event {target}: .*edited"):
        _verify()


def test_deleting_a_middle_row_is_named_by_the_row_after_it(busy_day: list[int]) -> None:
    middle = len(busy_day) // 2

    with _behind_the_apis_back():
        AuditEvent.objects.filter(pk=busy_day[middle]).delete()

    with pytest.raises(CommandError, match=rf"broken at event {busy_day[middle + 1]}: .*removed"):
        _verify()


def test_editing_the_last_row_is_caught_too(busy_day: list[int]) -> None:
    with _behind_the_apis_back():
        AuditEvent.objects.filter(pk=busy_day[-1]).update(detail={"reason": "logout", "forged": True})

    with pytest.raises(CommandError, match=rf"broken at event {busy_day[-1]}"):
        _verify()


def test_reading_a_case_writes_a_read_event_naming_it(world: World) -> None:
    omar = signed_in_client(world.omar)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    assert omar.get(f"/api/v1/cases/{world.case.pk}").status_code == 200

    event = AuditEvent.objects.get(pk__gt=last)
    assert event.action == "read"
    assert (event.actor_id, event.actor_username, event.object_type, event.object_id) == (
        world.omar.pk, "omar", "cases.case", str(world.case.pk))
    assert event.agency_id_snapshot == world.agency.pk
    assert event.ip == "127.0.0.1"


def test_a_case_omar_may_not_see_is_not_recorded_as_read(world: World) -> None:
    omar = signed_in_client(world.omar)
    assert omar.get(f"/api/v1/cases/{world.juvenile_case.pk}").status_code == 404
    assert not AuditEvent.objects.filter(action="read", object_id=str(world.juvenile_case.pk)).exists()


def test_listing_cases_writes_one_event_naming_every_listed_id(world: World) -> None:
    ava = signed_in_client(world.ava)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    response = ava.get("/api/v1/cases")

    listed = [row["id"] for row in response.json()["results"]]
    assert sorted(listed) == sorted([world.case.pk, world.juvenile_case.pk])
    events = list(AuditEvent.objects.filter(pk__gt=last))
    assert len(events) == 1
    assert events[0].action == "read"
    assert events[0].object_type == "cases.case"
    assert events[0].object_ids == listed
    assert events[0].actor_id == world.ava.pk


def _audit(client, **params: object) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/audit", params)
    assert response.status_code == 200, response.content
    return response.json()["results"]  # type: ignore[no-any-return]


def test_auditor_filters_the_trail_by_user(world: World) -> None:
    signed_in_client(world.omar).get(f"/api/v1/cases/{world.case.pk}")
    signed_in_client(world.ava).get(f"/api/v1/cases/{world.case.pk}")

    rows = _audit(signed_in_client(world.aud), user=world.omar.pk)

    assert rows
    assert {row["actor"] for row in rows} == {world.omar.pk}
    assert "read" in {row["action"] for row in rows}


def test_auditor_filters_the_trail_by_object(world: World) -> None:
    signed_in_client(world.omar).get(f"/api/v1/cases/{world.case.pk}")
    signed_in_client(world.ava).get(f"/api/v1/cases/{world.case.pk}")
    signed_in_client(world.ava).get(f"/api/v1/cases/{world.juvenile_case.pk}")

    rows = _audit(signed_in_client(world.aud), object_type="cases.case", object_id=str(world.case.pk))

    assert [(row["actor_username"], row["action"]) for row in rows] == [("ava", "read"), ("omar", "read")]


def test_auditor_filters_the_trail_by_time(world: World) -> None:
    start = timezone.now()
    signed_in_client(world.omar).get(f"/api/v1/cases/{world.case.pk}")
    middle = timezone.now()
    signed_in_client(world.ava).get(f"/api/v1/cases/{world.case.pk}")
    end = timezone.now()
    aud = signed_in_client(world.aud)

    first = _audit(aud, object_type="cases.case", since=start.isoformat(), until=middle.isoformat())
    second = _audit(aud, object_type="cases.case", since=middle.isoformat(), until=end.isoformat())
    later = _audit(aud, object_type="cases.case", since=end.isoformat())

    assert [row["actor_username"] for row in first] == ["omar"]
    assert [row["actor_username"] for row in second] == ["ava"]
    assert later == []


def test_reading_the_audit_trail_is_itself_recorded(world: World) -> None:
    aud = signed_in_client(world.aud)

    _audit(aud, user=world.omar.pk, object_type="cases.case")

    event = AuditEvent.objects.filter(action=AuditEvent.Action.AUDIT_READ).get()
    assert event.actor_id == world.aud.pk
    assert event.detail == {"filters": {"actor_id": world.omar.pk, "object_type": "cases.case"}}


def test_the_auditor_sees_only_her_own_agencys_trail(world: World) -> None:
    signed_in_client(world.xavier).get(f"/api/v1/cases/{world.xavier_case.pk}")

    rows = _audit(signed_in_client(world.aud))

    assert "xavier" not in {row["actor_username"] for row in rows}


def test_nobody_but_an_auditor_reads_the_trail(world: World) -> None:
    for user in (world.omar, world.ava, world.sam, world.abe, world.cora):
        response = signed_in_client(user).get("/api/v1/audit")
        assert response.status_code == 404
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.AUDIT_READ).exists()
