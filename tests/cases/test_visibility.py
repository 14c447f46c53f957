from __future__ import annotations

from tests.base import World, signed_in_client


def _ids(response) -> set[int]:  # type: ignore[no-untyped-def]
    return {row["id"] for row in response.json()["results"]}


def test_omar_lists_his_agencys_open_cases_but_not_the_juvenile_one(world: World) -> None:
    response = signed_in_client(world.omar).get("/api/v1/cases")
    assert response.status_code == 200
    assert _ids(response) == {world.case.pk}


def test_ava_named_on_the_juvenile_case_sees_it(world: World) -> None:
    response = signed_in_client(world.ava).get("/api/v1/cases")
    assert _ids(response) == {world.case.pk, world.juvenile_case.pk}


def test_xavier_sees_none_of_demo_citys_cases(world: World) -> None:
    client = signed_in_client(world.xavier)
    assert _ids(client.get("/api/v1/cases")) == {world.xavier_case.pk}
    response = client.get(f"/api/v1/cases/{world.case.pk}")
    assert response.status_code == 404
    assert response.json()["code"] == "case_not_found"


def test_the_case_file_hides_the_juvenile_witness_from_omar(world: World) -> None:
    body = signed_in_client(world.omar).get(f"/api/v1/cases/{world.case.pk}").json()
    assert [p["person"]["id"] for p in body["people"]] == [world.person.pk]
    body = signed_in_client(world.ava).get(f"/api/v1/cases/{world.case.pk}").json()
    assert {p["person"]["id"] for p in body["people"]} == {world.person.pk, world.restricted_person.pk}


def test_people_search_finds_a_person_by_alias(world: World) -> None:
    client = signed_in_client(world.omar)
    assert _ids(client.post("/api/v1/people/search", {"search": "whit"}, format="json")) == {world.person.pk}
    assert _ids(client.post("/api/v1/people/search", {"search": "Dee"}, format="json")) == {world.person.pk}


def test_search_words_are_refused_in_the_url_because_urls_are_logged(world: World) -> None:
    response = signed_in_client(world.omar).get("/api/v1/people", {"search": "Whitfield"})
    assert response.status_code == 400
    assert response.json()["code"] == "search_not_allowed_in_url"


def test_a_search_names_what_it_returned_in_the_audit_trail(world: World) -> None:
    from apps.audit.models import AuditEvent

    signed_in_client(world.omar).post("/api/v1/vehicles/search", {"search": "abc-1234"}, format="json")
    event = AuditEvent.objects.filter(action="search").latest("id")
    assert (event.actor_id, event.object_type, event.object_ids) == (world.omar.pk, "cases.vehicle", [world.vehicle.pk])
