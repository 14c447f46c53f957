"""The hazards API: health areas for the roles in the field, recorded hazards for whoever sees the record."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.hazards.loading import RateTable, health_dataset_load, read_areas
from apps.hazards.models import HealthArea, RecordHazard
from apps.hazards.services import record_hazard_add
from tests.base import World, signed_in_client
from tests.hazards.conftest import square_areas

DOG: dict[str, Any] = {"kind": "dog", "description": "Two dogs, aggressive", "source": "Officer report"}


def _error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["code"] == code


@pytest.fixture
def areas(world: World, tmp_path: Path) -> dict[str, HealthArea]:
    """Three squares: H hot and current, C current and below the threshold, S hot but stale; N without rates."""
    today = timezone.localdate()
    rates = RateTable(rates={"H": {today - timedelta(days=3): 250.0},
                             "C": {today - timedelta(days=3): 20.0},
                             "S": {today - timedelta(days=60): 300.0}})
    shapes = read_areas(square_areas(tmp_path / "city.geo.json", "H", "C", "S", "N"), area_property="zone",
                        label_property="name")
    health_dataset_load(name="Made-up COVID", disease="COVID-19", areas=shapes, rates=rates, ppe_advice="N95.")
    return {area.code: area for area in HealthArea.objects.all()}


@pytest.fixture
def dog(world: World) -> RecordHazard:
    return record_hazard_add(actor=world.ava, premise_id=world.premise.pk, **DOG)


# ------------------------------------------------------------------------------------------- health areas


@pytest.mark.parametrize("persona", ["omar", "ava", "sam", "xavier"])
def test_the_field_roles_list_health_areas_without_geometry(world: World, areas: dict[str, HealthArea],
                                                            persona: str) -> None:
    response = signed_in_client(world.personas[persona]).get("/api/v1/hazard-areas")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["next_cursor"] is None
    rows = {row["code"]: row for row in body["results"]}
    assert set(rows) == {"H", "C", "S", "N"}
    assert all("geometry" not in row for row in rows.values())
    assert {code: (row["is_hotspot"], row["stale"]) for code, row in rows.items()} == {
        "H": (True, False), "C": (False, False), "S": (True, True), "N": (False, True)}
    assert rows["H"] | {"id": 0, "latest_week": ""} == {
        "id": 0, "dataset": "Made-up COVID", "disease": "COVID-19", "code": "H", "label": "Zone H",
        "latest_week": "", "latest_rate": 250.0, "rate_unit": "cases per 100,000 per week", "is_hotspot": True,
        "stale": False}


@pytest.mark.parametrize("persona", ["cora", "abe", "aud"])
def test_other_roles_get_not_found_for_health_areas(world: World, areas: dict[str, HealthArea], persona: str) -> None:
    client = signed_in_client(world.personas[persona])
    _error(client.get("/api/v1/hazard-areas"), 404, "not_found")
    _error(client.get(f"/api/v1/hazard-areas/{areas['H'].pk}"), 404, "not_found")


def test_the_list_filters_hotspots_and_pages_by_id(world: World, areas: dict[str, HealthArea]) -> None:
    client = signed_in_client(world.omar)
    assert {r["code"] for r in client.get("/api/v1/hazard-areas", {"hotspot": "true"}).json()["results"]} == {
        "H", "S"}
    assert {r["code"] for r in client.get("/api/v1/hazard-areas", {"hotspot": "false"}).json()["results"]} == {
        "C", "N"}
    first = client.get("/api/v1/hazard-areas", {"size": 3}).json()
    assert [r["code"] for r in first["results"]] == ["H", "C", "S"] and first["next_cursor"]
    rest = client.get("/api/v1/hazard-areas", {"size": 3, "cursor": first["next_cursor"]}).json()
    assert ([r["code"] for r in rest["results"]], rest["next_cursor"]) == (["N"], None)
    _error(client.get("/api/v1/hazard-areas", {"size": 0}), 400, "invalid")


def test_one_area_comes_with_its_outline_and_ppe_advice(world: World, areas: dict[str, HealthArea]) -> None:
    client = signed_in_client(world.omar)
    body = client.get(f"/api/v1/hazard-areas/{areas['C'].pk}").json()
    assert body["geometry"] == {"type": "Polygon", "coordinates": [[[1, 10], [2, 10], [2, 11], [1, 11], [1, 10]]]}
    assert (body["ppe_advice"], body["min_lon"], body["max_lon"], body["is_hotspot"]) == ("N95.", 1.0, 2.0, False)
    _error(client.get("/api/v1/hazard-areas/999999"), 404, "hazard_area_not_found")


def test_reading_health_areas_is_not_audited(world: World, areas: dict[str, HealthArea]) -> None:
    client = signed_in_client(world.omar)
    before = AuditEvent.objects.count()
    assert client.get("/api/v1/hazard-areas").status_code == 200
    assert client.get(f"/api/v1/hazard-areas/{areas['H'].pk}").status_code == 200
    assert AuditEvent.objects.count() == before


# ---------------------------------------------------------------------------------------- record hazards


def test_omar_reads_the_hazards_at_a_premise_he_may_see(world: World, dog: RecordHazard) -> None:
    response = signed_in_client(world.omar).get(f"/api/v1/premises/{world.premise.pk}/hazards")

    assert response.status_code == 200, response.content
    [row] = response.json()["results"]
    assert row | {"reported_at": ""} == {
        "id": dog.pk, "kind": "dog", "premise": world.premise.pk, "person": None, "description": DOG["description"],
        "source": "Officer report", "reported_at": "", "expires_at": None, "created_by": world.ava.pk}
    event = AuditEvent.objects.filter(action="read", object_type="hazards.recordhazard").latest("id")
    assert (event.actor_id, event.object_ids, event.detail) == (world.omar.pk, [dog.pk],
                                                                {"premise_id": world.premise.pk})


@pytest.mark.parametrize("persona", ["xavier", "cora"])
def test_those_who_cannot_see_the_premise_get_not_found_for_its_hazards(world: World, dog: RecordHazard,
                                                                        persona: str) -> None:
    client = signed_in_client(world.personas[persona])
    _error(client.get(f"/api/v1/premises/{world.premise.pk}/hazards"), 404, "premise_not_found")
    _error(client.post(f"/api/v1/premises/{world.premise.pk}/hazards", DOG, format="json"), 404,
           "premise_not_found")
    _error(client.delete(f"/api/v1/hazards/{dog.pk}"), 404, "hazard_not_found")
    assert RecordHazard.objects.count() == 1


def test_omar_may_not_add_or_remove_hazards(world: World, dog: RecordHazard) -> None:
    client = signed_in_client(world.omar)
    _error(client.post(f"/api/v1/premises/{world.premise.pk}/hazards", DOG, format="json"), 403, "hazard_read_only")
    _error(client.post(f"/api/v1/people/{world.person.pk}/hazards", DOG, format="json"), 403, "hazard_read_only")
    _error(client.delete(f"/api/v1/hazards/{dog.pk}"), 403, "hazard_read_only")
    assert list(RecordHazard.objects.all()) == [dog]


def test_ava_adds_a_hazard_to_a_premise_and_to_a_person(world: World) -> None:
    client = signed_in_client(world.ava)
    expires = (timezone.now() + timedelta(days=30)).isoformat()

    on_premise = client.post(f"/api/v1/premises/{world.premise.pk}/hazards", DOG, format="json")
    on_person = client.post(f"/api/v1/people/{world.restricted_person.pk}/hazards",
                            {"kind": "medical", "description": "Diabetic", "source": "Family",
                             "expires_at": expires}, format="json")

    assert on_premise.status_code == 201, on_premise.content
    assert on_person.status_code == 201, on_person.content
    assert (on_premise.json()["premise"], on_person.json()["person"]) == (world.premise.pk, world.restricted_person.pk)
    assert on_person.json()["expires_at"] is not None
    listed = client.get(f"/api/v1/people/{world.restricted_person.pk}/hazards").json()["results"]
    assert [h["id"] for h in listed] == [on_person.json()["id"]]
    # Omar may not see the juvenile, so neither its hazards.
    _error(signed_in_client(world.omar).get(f"/api/v1/people/{world.restricted_person.pk}/hazards"), 404,
           "person_not_found")


def test_sam_removes_a_hazard(world: World, dog: RecordHazard) -> None:
    response = signed_in_client(world.sam).delete(f"/api/v1/hazards/{dog.pk}")
    assert response.status_code == 204
    assert not RecordHazard.objects.exists()
    _error(signed_in_client(world.sam).delete(f"/api/v1/hazards/{dog.pk}"), 404, "hazard_not_found")


def test_expired_hazards_are_not_listed(world: World, dog: RecordHazard) -> None:
    RecordHazard.objects.filter(pk=dog.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert signed_in_client(world.omar).get(f"/api/v1/premises/{world.premise.pk}/hazards").json()["results"] == []


def test_a_hazard_also_on_a_restricted_person_is_left_out_of_the_premise_list(world: World) -> None:
    record_hazard_add(actor=world.ava, premise_id=world.premise.pk, person_id=world.restricted_person.pk, **DOG)
    assert signed_in_client(world.omar).get(f"/api/v1/premises/{world.premise.pk}/hazards").json()["results"] == []
    assert len(signed_in_client(world.ava).get(f"/api/v1/premises/{world.premise.pk}/hazards").json()["results"]) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (DOG | {"kind": "volcano"}, "kind"),
        (DOG | {"description": ""}, "description"),
        (DOG | {"expires_at": "tomorrow"}, "expires_at"),
        ({"kind": "dog"}, "source"),
    ],
)
def test_bad_input_gets_400_naming_the_field_and_writes_nothing(world: World, body: dict[str, Any],
                                                                field: str) -> None:
    response = signed_in_client(world.ava).post(f"/api/v1/premises/{world.premise.pk}/hazards", body, format="json")
    _error(response, 400, "invalid")
    assert field in response.json()["fields"]
    assert not RecordHazard.objects.exists()


def test_an_expiry_in_the_past_gets_400(world: World) -> None:
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    response = signed_in_client(world.ava).post(f"/api/v1/premises/{world.premise.pk}/hazards",
                                                DOG | {"expires_at": past}, format="json")
    _error(response, 400, "invalid")
    assert "expires_at" in response.json()["fields"]
    assert not RecordHazard.objects.exists()


def test_the_hazard_endpoints_need_a_token(world: World, dog: RecordHazard) -> None:
    client = APIClient()
    for method, url in (("get", "/api/v1/hazard-areas"), ("get", f"/api/v1/premises/{world.premise.pk}/hazards"),
                        ("delete", f"/api/v1/hazards/{dog.pk}")):
        assert getattr(client, method)(url).status_code == 401


def test_a_dataset_for_demo_city_only_is_not_listed_for_xavier(world: World, areas: dict[str, HealthArea]) -> None:
    areas["H"].dataset.agencies.set([world.agency])
    assert len(signed_in_client(world.omar).get("/api/v1/hazard-areas").json()["results"]) == 4
    xavier = signed_in_client(world.xavier)
    assert xavier.get("/api/v1/hazard-areas").json()["results"] == []
    _error(xavier.get(f"/api/v1/hazard-areas/{areas['H'].pk}"), 404, "hazard_area_not_found")
