"""A filter the schema gives an enum refuses a value outside it with 400, instead of answering unfiltered."""

from __future__ import annotations

import pytest

from tests.api.contract import schema
from tests.base import World, signed_in_client


def _enum_filters() -> list[tuple[str, str, str]]:
    found = []
    for path, methods in schema()["paths"].items():
        op = methods.get("get")
        if op is None or "{" in path:
            continue
        found += [(op["operationId"], path, p["name"]) for p in op.get("parameters", [])
                  if p["in"] == "query" and "enum" in p["schema"]]
    return found


@pytest.mark.parametrize(("op_id", "path", "name"), _enum_filters())
def test_an_unknown_filter_value_gets_400_naming_the_parameter(world: World, op_id: str, path: str,
                                                               name: str) -> None:
    query = {name: "no-such-value", **({"from": "2026-11-01", "to": "2026-11-30"} if op_id == "referrals_report"
                                       else {})}
    response = signed_in_client(world.ava).get(path, query)

    assert response.status_code == 400, (op_id, response.status_code)
    assert response.json()["code"] == "invalid" and name in response.json()["fields"]


def test_the_case_list_filters_by_a_known_status(world: World) -> None:
    response = signed_in_client(world.ava).get("/api/v1/cases", {"status": "closed"})

    assert response.status_code == 200 and response.json()["results"] == []
