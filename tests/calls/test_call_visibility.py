"""Who sees which calls: officers, analysts and supervisors their agency's; nobody else any.

What a user may not see answers 404 (call_not_found), never 403, and every read is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from apps.accounts.models import Role
from apps.audit.models import AuditEvent
from apps.calls.models import CadTypeMapping, Call, Category
from apps.calls.services import call_assignment_add, call_upsert
from apps.cases.models import Premise
from apps.places.normalize import address_key
from tests.base import World, make_user, signed_in_client

RECEIVED = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def _make_call(agency: Any, event_number: str, **extra: Any) -> Call:
    call, _ = call_upsert(agency=agency, event_number=event_number, actor=None, source=Call.Source.CAD,
                          cad_code=extra.pop("cad_code", "ASLT"), received_at=RECEIVED, **extra)
    return call


@pytest.fixture
def calls(world: World) -> dict[str, Call]:
    CadTypeMapping.objects.create(agency=world.agency, code="ASLT", category=Category.VIOLENT, priority=2)
    CadTypeMapping.objects.create(agency=world.agency, code="ALARM", category=Category.ALARM, priority=4)
    return {
        "active": _make_call(world.agency, "26-0000001", address="1500 BLOCK OF 3RD AVE"),
        "alarm": _make_call(world.agency, "26-0000002", cad_code="ALARM", status="dispatched"),
        "cleared": _make_call(world.agency, "26-0000003", status="cleared"),
        "xavier": _make_call(world.other_agency, "26-0000001"),
    }


def _ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("persona", ["omar", "ava", "sam"])
def test_officers_analysts_and_supervisors_list_their_agencys_active_calls(world: World, calls: dict[str, Call],
                                                                           persona: str) -> None:
    client = signed_in_client(world.personas[persona])
    assert _ids(client.get("/api/v1/calls")) == {calls["active"].pk, calls["alarm"].pk}


def test_omar_filters_by_status_and_category(world: World, calls: dict[str, Call]) -> None:
    client = signed_in_client(world.omar)
    assert _ids(client.get("/api/v1/calls", {"status": "cleared"})) == {calls["cleared"].pk}
    assert _ids(client.get("/api/v1/calls", {"category": "alarm"})) == {calls["alarm"].pk}
    assert _ids(client.get("/api/v1/calls", {"status": "received", "category": "alarm"})) == set()


def test_omar_reads_a_call_with_its_units_category_priority_and_place(world: World, calls: dict[str, Call]) -> None:
    premise = Premise.objects.create(agency=world.agency, address="1500 BLOCK OF 3RD AVE",
                                     address_key=address_key("1500 BLOCK OF 3RD AVE"), latitude=47.61,
                                     longitude=-122.33)
    call = _make_call(world.agency, "26-0000001", address="1500 BLOCK OF 3RD AVE")  # re-sent: now finds the premise
    call_assignment_add(call=call, unit_call_sign="2A12", actor=None)

    body = signed_in_client(world.omar).get(f"/api/v1/calls/{call.pk}").json()

    assert (body["event_number"], body["category"], body["priority"], body["cad_code_unmapped"]) == (
        "26-0000001", "violent", 2, False)
    assert (body["located_by"], body["premise_id"], body["status"]) == ("premise", premise.pk, "dispatched")
    assert [a["unit"] for a in body["assignments"]] == ["2A12"]
    assert body["received_at"] == "2026-11-24T08:00:00.000000Z" and body["dispatched_at"]


def test_xavier_sees_none_of_demo_citys_calls(world: World, calls: dict[str, Call]) -> None:
    client = signed_in_client(world.xavier)
    assert _ids(client.get("/api/v1/calls")) == {calls["xavier"].pk}
    response = client.get(f"/api/v1/calls/{calls['active'].pk}")
    assert (response.status_code, response.json()["code"]) == (404, "call_not_found")


@pytest.mark.parametrize("persona", ["cora", "abe", "aud", "cad"])
def test_co_responders_administrators_auditors_and_the_cad_account_see_no_calls(world: World,
                                                                               calls: dict[str, Call],
                                                                               persona: str) -> None:
    user = make_user("cad", Role.INTEGRATION, world.agency) if persona == "cad" else world.personas[persona]
    client = signed_in_client(user)

    assert _ids(client.get("/api/v1/calls")) == set()
    assert _ids(client.get("/api/v1/calls", {"status": "cleared"})) == set()
    for call in calls.values():
        response = client.get(f"/api/v1/calls/{call.pk}")
        assert (response.status_code, response.json()["code"]) == (404, "call_not_found")


def test_a_missing_call_and_a_hidden_one_answer_alike(world: World, calls: dict[str, Call]) -> None:
    client = signed_in_client(world.xavier)
    hidden = client.get(f"/api/v1/calls/{calls['active'].pk}").json()
    missing = client.get("/api/v1/calls/987654").json()
    assert hidden == missing


def test_every_read_is_audited_with_what_it_returned(world: World, calls: dict[str, Call]) -> None:
    client = signed_in_client(world.omar)

    client.get("/api/v1/calls")
    listed = AuditEvent.objects.filter(action="read", actor=world.omar).latest("id")
    client.get(f"/api/v1/calls/{calls['alarm'].pk}")
    read = AuditEvent.objects.filter(action="read", actor=world.omar).latest("id")

    assert (listed.object_type, sorted(listed.object_ids)) == ("calls.call",
                                                               sorted([calls["active"].pk, calls["alarm"].pk]))
    assert (read.object_type, read.object_id) == ("calls.call", str(calls["alarm"].pk))


def test_pages_follow_the_cursor_without_repeats(world: World, calls: dict[str, Call]) -> None:
    for n in range(4, 9):
        _make_call(world.agency, f"26-000000{n}")
    client = signed_in_client(world.omar)
    seen: list[int] = []
    cursor = None
    while True:
        body = client.get("/api/v1/calls", {"size": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [row["id"] for row in body["results"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7


@pytest.mark.parametrize(("query", "field"), [({"status": "maybe"}, "status"), ({"category": "nope"}, "category"),
                                               ({"size": 0}, "size"), ({"cursor": "garbage"}, "cursor")])
def test_bad_query_parameters_get_400(world: World, calls: dict[str, Call], query: dict[str, Any],
                                      field: str) -> None:
    response = signed_in_client(world.omar).get("/api/v1/calls", query)
    assert response.status_code == 400
    assert field in response.json()["fields"]
