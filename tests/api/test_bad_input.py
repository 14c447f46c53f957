"""Bad input gets a clear 4xx in the one error shape, and leaves nothing half-written."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.cases.models import Case
from tests.base import World, signed_in_client

UNKNOWN_ID = 987654


def _case(**extra: Any) -> dict[str, Any]:
    return {"number": "26-000200", "case_type": "Robbery", "title": "Corner store robbery", **extra}


def _assert_error(response, status: int, code: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body  # type: ignore[no-any-return]


@pytest.fixture
def ava(world: World):  # type: ignore[no-untyped-def]
    return signed_in_client(world.ava)


def _nothing_written(world: World) -> None:
    assert set(Case.objects.values_list("number", flat=True)) == {"26-000101", "26-000102", "26-900001"}
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CREATE, object_type="cases.case").exists()


def test_malformed_json_gets_400_malformed_json_and_writes_no_case(world: World, ava) -> None:  # type: ignore[no-untyped-def]
    response = ava.post("/api/v1/cases", data='{"number": "26-000200", "title": ', content_type="application/json")

    body = _assert_error(response, 400, "malformed_json")
    assert body["fields"] == {}
    _nothing_written(world)


@pytest.mark.parametrize(
    ("body", "bad_field"),
    [
        (_case(number=["26-000200"]), "number"),
        (_case(number=26000200.5, title={"text": "x"}), "title"),
        (_case(person_ids=[1, "not-an-id"]), "person_ids.1"),
        (_case(person_ids="1,2"), "person_ids"),
        (_case(person_ids=[0]), "person_ids.0"),
        (_case(status="maybe"), "status"),
        (_case(title="x" * 201), "title"),
        ({"number": "26-000200"}, "title"),
    ],
    ids=["number-as-list", "title-as-object", "person-id-as-text", "person-ids-as-text", "person-id-zero",
         "unknown-status", "title-too-long", "missing-fields"],
)
def test_wrong_types_get_400_invalid_naming_the_field(world: World, ava, body: dict[str, Any],  # type: ignore[no-untyped-def]
                                                      bad_field: str) -> None:
    response = ava.post("/api/v1/cases", body, format="json")

    fields = _assert_error(response, 400, "invalid")["fields"]
    assert bad_field in fields
    _nothing_written(world)


def test_a_json_body_that_is_not_an_object_gets_400(world: World, ava) -> None:  # type: ignore[no-untyped-def]
    response = ava.post("/api/v1/cases", data="[1, 2, 3]", content_type="application/json")
    _assert_error(response, 400, "invalid")
    _nothing_written(world)


def test_an_unknown_person_id_gets_400_unknown_reference_and_writes_no_case(world: World, ava) -> None:  # type: ignore[no-untyped-def]
    response = ava.post("/api/v1/cases", _case(person_ids=[world.person.pk, UNKNOWN_ID]), format="json")

    body = _assert_error(response, 400, "unknown_reference")
    assert body["fields"] == {"person_ids": [f"{UNKNOWN_ID} not found"]}
    _nothing_written(world)


def test_another_agencys_person_is_answered_exactly_like_an_unknown_one(world: World, ava) -> None:  # type: ignore[no-untyped-def]
    unknown = ava.post("/api/v1/cases", _case(person_ids=[UNKNOWN_ID]), format="json").json()

    response = ava.post("/api/v1/cases", _case(person_ids=[world.xavier_person.pk]), format="json")

    body = _assert_error(response, 400, "unknown_reference")
    assert body == json.loads(json.dumps(unknown).replace(str(UNKNOWN_ID), str(world.xavier_person.pk)))
    _nothing_written(world)


def test_a_restricted_person_sam_is_not_named_on_is_unknown_to_him(world: World) -> None:
    sam = signed_in_client(world.sam)  # a supervisor, not named on the juvenile
    response = sam.post("/api/v1/cases", _case(person_ids=[world.restricted_person.pk]), format="json")
    _assert_error(response, 400, "unknown_reference")
    _nothing_written(world)


def test_a_body_over_the_size_limit_gets_413_and_writes_no_case(world: World, ava) -> None:  # type: ignore[no-untyped-def]
    huge = json.dumps(_case(notes="x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE))

    response = ava.post("/api/v1/cases", data=huge, content_type="application/json")

    _assert_error(response, 413, "body_too_large")
    _nothing_written(world)


def test_a_duplicate_case_number_gets_400_case_number_taken(world: World, ava) -> None:  # type: ignore[no-untyped-def]
    response = ava.post("/api/v1/cases", _case(number=world.case.number), format="json")

    body = _assert_error(response, 400, "case_number_taken")
    assert body["fields"] == {"number": ["already exists"]}
    assert Case.objects.filter(number=world.case.number).count() == 1
    _nothing_written(world)


def test_a_good_case_is_written_once_and_audited(world: World, ava) -> None:  # type: ignore[no-untyped-def]
    response = ava.post("/api/v1/cases", _case(person_ids=[world.person.pk]), format="json")

    assert response.status_code == 201
    assert [p["person"]["id"] for p in response.json()["people"]] == [world.person.pk]
    assert Case.objects.filter(number="26-000200").count() == 1


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/v1/cases/not-a-number", "/api/v1/"])
def test_an_unknown_url_gets_404_in_the_error_shape(world: World, ava, path: str) -> None:  # type: ignore[no-untyped-def]
    _assert_error(ava.get(path), 404, "not_found")


def test_an_unknown_url_gets_404_in_the_error_shape_without_a_token(db: None) -> None:
    _assert_error(APIClient().get("/api/v1/no-such-thing"), 404, "not_found")


@pytest.mark.parametrize("cursor", ["not-a-cursor!", "bm90IGpzb24", "WzEsMiwzXQ"],
                         ids=["garbage", "base64-not-json", "json-wrong-shape"])
def test_an_invalid_cursor_gets_400_invalid_cursor(world: World, ava, cursor: str) -> None:  # type: ignore[no-untyped-def]
    body = _assert_error(ava.get("/api/v1/cases", {"cursor": cursor}), 400, "invalid_cursor")
    assert "cursor" in body["fields"]


@pytest.mark.parametrize("since", ["yesterday", "2026-11-23T08:00:00"], ids=["words", "no-time-zone"])
def test_an_audit_query_with_a_bad_time_gets_400_naming_since(world: World, since: str) -> None:
    aud = signed_in_client(world.aud)

    body = _assert_error(aud.get("/api/v1/audit", {"since": since}), 400, "invalid")

    assert list(body["fields"]) == ["since"]
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.AUDIT_READ).exists()


def test_an_audit_query_with_an_unknown_action_gets_400(world: World) -> None:
    body = _assert_error(signed_in_client(world.aud).get("/api/v1/audit", {"action": "drop"}), 400, "invalid")
    assert list(body["fields"]) == ["action"]


def test_an_id_too_large_for_the_database_gets_400_not_a_crash(world: World, ava) -> None:  # type: ignore[no-untyped-def]
    too_big = str(2**64)
    response = ava.post("/api/v1/cases", _case(person_ids=[2**64]), format="json")
    assert "person_ids.0" in _assert_error(response, 400, "invalid")["fields"]
    _assert_error(signed_in_client(world.aud).get("/api/v1/audit", {"user": too_big}), 400, "invalid")
    _assert_error(signed_in_client(world.abe).get("/api/v1/devices", {"user": too_big}), 400, "invalid")
