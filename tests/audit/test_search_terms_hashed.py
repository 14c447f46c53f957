"""Searches are audited as a keyed hash of their words with the ids they found: auditors read no case content.

The outside probe's finding: 20 audit rows readable by auditors held a juvenile's full name, 6 sealed titles.
"""

from __future__ import annotations

import json

from apps.audit.models import AuditEvent
from apps.cases.selectors import search_term_digest
from tests.base import World, signed_in_client


def _search(world: World, words: str) -> AuditEvent:
    response = signed_in_client(world.ava).post("/api/v1/people/search", {"search": words}, format="json")
    assert response.status_code == 200, response.content
    return AuditEvent.objects.filter(action=AuditEvent.Action.SEARCH).latest("pk")


def test_a_search_for_a_juveniles_name_leaves_no_name_in_the_audit_trail(world: World) -> None:
    event = _search(world, "Jamie Minor")
    stored = json.dumps(event.detail).lower() + event.object_type
    assert "jamie" not in stored and "minor" not in stored
    assert event.object_ids == [world.restricted_person.pk]


def test_the_auditor_reads_the_hash_and_the_result_ids_not_the_words(world: World) -> None:
    _search(world, "Jamie Minor")
    response = signed_in_client(world.aud).get("/api/v1/audit", {"action": "search"})
    assert response.status_code == 200, response.content
    assert "jamie" not in response.content.decode().lower()


def test_the_same_words_in_any_order_or_case_give_the_same_keyed_hash(world: World) -> None:
    event = _search(world, "minor  JAMIE")
    assert event.detail == {"search_hmac": search_term_digest("Jamie Minor")}
    assert search_term_digest("Jamie Minor") != search_term_digest("Jamie Minors")
