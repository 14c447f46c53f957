"""Co-responders get the allowlist and nothing else; Part 2 notes leave through no door at all.

Every referral answer a co-responder gets and every event about a referral is walked
key by key against allowlists written out here, independently of the code under test.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from apps.audit.models import AuditEvent
from apps.delivery.models import Event, Push
from apps.delivery.services import alerts_send_due
from apps.delivery.wire import event_message
from apps.referrals.models import Referral
from tests.base import World, signed_in_client
from tests.fakes.fcm_server import FakeFCM
from tests.referrals.helpers import HEALTH_NOTE, PART2_MARKER, Scene, refer, referral_scene

CO_RESPONDER_KEYS = frozenset({
    "id", "state", "outcome", "responder_kind", "priority", "address", "latitude", "longitude", "call_type",
    "safety_flags", "police_first", "hazard_notes", "approach_guidance", "language_needs", "callback_number",
    "requester_notes", "health_notes", "diverted_from_arrest", "created_at", "accepted_at", "en_route_at",
    "on_scene_at", "closed_at", "history",
    "view"})  # which side's view: "co_responder", the schema's discriminator, nothing about the call
HISTORY_KEYS = frozenset({"state", "at", "by"})
EVENT_KEYS = frozenset({"type", "op", "offset", "epoch", "object_type", "object_id", "payload"})
EVENT_PAYLOAD_KEYS = frozenset({"referral_id", "state", "push"})
# What the police know of Dana and the premise, linked to the call: none of it may reach a co-responder.
CRIMINAL_RECORD = ("W-2026-0042", "Burglary", "Whitfield", "Dee Whit", "Known to carry a knife", "26-000101",
                   "Two dogs", "armed")


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path of the dict, key) for every key of every dict nested anywhere in `value`."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield path, key
            yield from _walk(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(inner, f"{path}[]")


def assert_co_responder_allowlist(body: dict[str, Any]) -> None:
    assert set(body) == CO_RESPONDER_KEYS, set(body) ^ CO_RESPONDER_KEYS
    for path, key in _walk(body):
        allowed = HISTORY_KEYS if path == ".history[]" else CO_RESPONDER_KEYS if path == "" else frozenset()
        assert key in allowed, f"{path}.{key} is not on the co-responder allowlist"


def assert_event_allowlist(message: dict[str, Any]) -> None:
    for path, key in _walk(message):
        allowed = EVENT_KEYS if path == "" else EVENT_PAYLOAD_KEYS if path == ".payload" else frozenset()
        assert key in allowed, f"event key {path}.{key} is not on the allowlist"


@pytest.fixture
def scene(world: World) -> Scene:
    found = referral_scene(world)
    found.call.people.add(world.person)
    found.call.premise = world.premise
    found.call.save(update_fields=["premise"])
    return found


def _phone(user: Any, token: str) -> Any:
    client = signed_in_client(user)
    assert client.patch("/api/v1/me/device", {"push_token": token}, format="json").status_code == 200
    return client


def test_every_co_responder_answer_and_event_carries_only_allowlisted_fields_and_part2_leaves_nowhere(
        scene: Scene, fcm: FakeFCM, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    world = scene.world
    cora, omar = _phone(scene.cora, "cora-token"), _phone(world.omar, "omar-token")
    clients = {name: signed_in_client(user) for name, user in world.personas.items()}
    clients |= {"hana": signed_in_client(scene.hana), "olga": signed_in_client(scene.olga),
                "cody": signed_in_client(scene.cody)}
    answers: list[Any] = []

    referral = refer(scene, hazard_notes="Steep stairs")
    cora_bodies = [cora.get(f"/api/v1/referrals/{referral.pk}").json(), cora.get("/api/v1/referrals").json()]
    alerts_send_due()
    steps = [{"to": "accepted"}, {"to": "en_route", "health_notes": HEALTH_NOTE},
             {"to": "on_scene", "part2_notes": PART2_MARKER},
             {"to": "closed", "outcome": "resolved_on_scene", "diverted_from_arrest": True,
              "part2_notes": PART2_MARKER + " (updated)"}]
    for step in steps:
        answer = cora.post(f"/api/v1/referrals/{referral.pk}/transitions", step, format="json")
        assert answer.status_code == 200, answer.content
        cora_bodies.append(answer.json())
        cora_bodies.append(cora.get(f"/api/v1/referrals/{referral.pk}").json())
        alerts_send_due()
        answers.append(omar.get(f"/api/v1/referrals/{referral.pk}").json())
    assert Referral.objects.get(pk=referral.pk).part2_notes.startswith(PART2_MARKER)

    for body in cora_bodies:
        for one in body["results"] if "results" in body else [body]:
            assert_co_responder_allowlist(one)
            text = json.dumps(one)
            assert not [word for word in CRIMINAL_RECORD if word in text]
    assert cora_bodies[0]["approach_guidance"] and cora_bodies[0]["callback_number"] == "+1 206 555 0100"

    events = [event_message(e) for e in Event.objects.filter(type="referral")]
    assert {e["op"] for e in events} >= {"offered", "accepted", "en_route", "on_scene", "closed"}
    for message in events:
        assert_event_allowlist(message)

    for client in clients.values():
        answers += [client.get(f"/api/v1/referrals/{referral.pk}").json(), client.get("/api/v1/referrals").json()]
    pushed = [received.body for received in fcm.received()]
    assert pushed, "the offer and each update alerted a phone without a socket"
    titles = {p["message"]["notification"]["title"] for p in pushed}
    # Omar's unit also had the call's briefing announced; the referral alerts say nothing more than this.
    assert "Priority 2 referral" in titles and titles <= {"Priority 2 referral", "Priority 2 briefing"}
    leaks = {
        "responses": [*answers, *cora_bodies],
        "events": events,
        "pushes": list(Push.objects.values_list("payload", flat=True)),
        "push bodies": pushed,
        "audit": list(AuditEvent.objects.values_list("detail", flat=True)),
        "logs": [r.getMessage() for r in caplog.records],
    }
    for door, sent in leaks.items():
        assert PART2_MARKER not in json.dumps(sent, default=str), f"Part 2 notes left through {door}"
    assert "part2" not in json.dumps(leaks["responses"]) and "part2" not in json.dumps(leaks["audit"])


def test_the_agreement_narrows_what_the_co_responder_is_told_and_the_audit_says_what_went_to_whom(
        scene: Scene) -> None:
    scene.agreement.shares = ["location", "safety", "callback"]
    scene.agreement.save()
    referral = refer(scene)
    body = signed_in_client(scene.cora).get(f"/api/v1/referrals/{referral.pk}").json()
    assert_co_responder_allowlist(body)
    assert body["address"] and body["callback_number"]
    assert body["approach_guidance"] is None and body["language_needs"] is None and body["requester_notes"] is None
    assert body["call_type"] is None
    read = AuditEvent.objects.filter(action="read", object_type="referrals.referral", actor=scene.cora).last()
    assert read is not None and read.detail["to"] == "cora" and read.detail["audience"] == "co_responder"
    # The audit names the referral's fields that went out; `view` says only which serializer spoke.
    assert read.detail["fields"] == sorted(k for k, v in body.items() if v not in (None, "", []) and k != "view")
    # The offer itself was audited as a disclosure of ids and state to Cora.
    made = AuditEvent.objects.get(action="create", object_type="referrals.referral")
    assert made.detail["offered_to"] == scene.cora.pk and made.detail["event_fields"] == ["referral_id", "state"]


def _close_with_notes(scene: Scene) -> Referral:
    referral = refer(scene)
    cora = signed_in_client(scene.cora)
    for step in ({"to": "accepted"}, {"to": "on_scene", "health_notes": HEALTH_NOTE}):
        assert cora.post(f"/api/v1/referrals/{referral.pk}/transitions", step, format="json").status_code == 200
    return referral


def test_an_officer_reads_the_health_notes_while_open_but_not_after_close(scene: Scene) -> None:
    referral = _close_with_notes(scene)
    omar = signed_in_client(scene.world.omar)
    assert omar.get(f"/api/v1/referrals/{referral.pk}").json()["health_notes"] == HEALTH_NOTE
    assert signed_in_client(scene.cora).post(f"/api/v1/referrals/{referral.pk}/transitions",
                                             {"to": "closed", "outcome": "transported"},
                                             format="json").status_code == 200
    assert omar.get(f"/api/v1/referrals/{referral.pk}").json()["health_notes"] is None
    # The health side keeps them.
    assert signed_in_client(scene.cora).get(f"/api/v1/referrals/{referral.pk}").json()["health_notes"] == HEALTH_NOTE


def test_the_agreement_may_let_officers_keep_reading_the_notes_after_close(scene: Scene) -> None:
    scene.agreement.officers_read_notes_after_close = True
    scene.agreement.save()
    referral = _close_with_notes(scene)
    assert signed_in_client(scene.cora).post(f"/api/v1/referrals/{referral.pk}/transitions",
                                             {"to": "closed", "outcome": "transported"},
                                             format="json").status_code == 200
    assert signed_in_client(scene.world.omar).get(f"/api/v1/referrals/{referral.pk}").json()["health_notes"] == (
        HEALTH_NOTE)
