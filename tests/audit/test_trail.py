"""The audit trail as auditors read it: what each read writes, the filters, and reads of the trail recorded."""

from __future__ import annotations

from django.utils import timezone

from apps.audit.models import AuditEvent
from tests.base import World, signed_in_client


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
