"""From the briefing's recommendation to an outcome, with the officer following along live."""

from __future__ import annotations

import pytest

from apps.delivery.models import Event
from apps.referrals.models import Referral, Transition
from tests.base import World, signed_in_client
from tests.referrals.helpers import HEALTH_NOTE, PART2_MARKER, RECOMMENDATION, Scene, referral_scene


@pytest.fixture
def scene(world: World) -> Scene:
    return referral_scene(world)


def _states(user_id: int, referral_id: int) -> list[tuple[str, str]]:
    return [(e.op, e.payload["state"]) for e in Event.objects.filter(
        user_id=user_id, type="referral", object_id=str(referral_id)).order_by("offset")]


def test_the_recommendation_goes_from_two_taps_to_an_outcome_and_omar_sees_each_step(scene: Scene) -> None:
    world = scene.world
    ava, cora, omar = signed_in_client(world.ava), signed_in_client(world.cora), signed_in_client(world.omar)
    made = ava.post("/api/v1/referrals", {"call_id": scene.call.pk, "recommendation_item": RECOMMENDATION,
                                          "callback_number": "+1 206 555 0100"}, format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["source"] == "recommendation" and body["responder_kind"] == "behavioral_health"
    assert body["state"] == "offered" and body["responder"] == "Cora" and body["organisation"]["id"] == scene.health.pk
    referral_id = body["id"]
    assert _states(world.cora.pk, referral_id) == [("offered", "offered")]

    for step in ({"to": "accepted"}, {"to": "en_route"}, {"to": "on_scene"},
                 {"to": "closed", "outcome": "referred_to_services", "diverted_from_arrest": True,
                  "health_notes": HEALTH_NOTE, "part2_notes": PART2_MARKER}):
        answer = cora.post(f"/api/v1/referrals/{referral_id}/transitions", step, format="json")
        assert answer.status_code == 200, answer.content
        assert answer.json()["state"] == step["to"]

    referral = Referral.objects.get(pk=referral_id)
    assert referral.outcome == "referred_to_services" and referral.diverted_from_arrest is True
    assert referral.part2_notes == PART2_MARKER
    assert [(t.state, t.by_id) for t in Transition.objects.filter(referral=referral)] == [
        ("offered", world.ava.pk), ("accepted", world.cora.pk), ("en_route", world.cora.pk),
        ("on_scene", world.cora.pk), ("closed", world.cora.pk)]
    assert all(t.at for t in Transition.objects.filter(referral=referral))
    # Omar's unit is on the call: each step was an event on his stream, ids and state only.
    assert _states(world.omar.pk, referral_id) == [("accepted", "accepted"), ("en_route", "en_route"),
                                                   ("on_scene", "on_scene"), ("closed", "closed")]
    seen = omar.get(f"/api/v1/referrals/{referral_id}").json()
    assert seen["state"] == "closed" and [h["state"] for h in seen["history"]] == [
        "offered", "accepted", "en_route", "on_scene", "closed"]


def test_an_officer_on_scene_asks_for_a_technician_himself(scene: Scene) -> None:
    answer = signed_in_client(scene.world.omar).post("/api/v1/referrals", {
        "call_id": scene.call.pk, "responder_kind": "behavioral_health", "safety_flags": ["weapons"],
        "police_first": True, "requester_notes": "Knife secured in my car."}, format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["requested_by"] == "omar" and answer.json()["police_first"] is True


def test_an_officer_whose_unit_is_not_on_the_call_may_not_ask(scene: Scene) -> None:
    scene.call.assignments.all().delete()
    answer = signed_in_client(scene.world.omar).post("/api/v1/referrals", {
        "call_id": scene.call.pk, "responder_kind": "behavioral_health"}, format="json")
    assert answer.status_code == 403 and answer.json()["code"] == "referral_not_allowed"
    assert not Referral.objects.exists()


def test_the_recommendation_must_be_one_the_briefing_makes(scene: Scene) -> None:
    answer = signed_in_client(scene.world.ava).post("/api/v1/referrals", {
        "call_id": scene.call.pk, "recommendation_item": "co_responder:overdose"}, format="json")
    assert answer.status_code == 400 and answer.json()["code"] == "recommendation_not_found"


def test_nobody_on_call_refuses_the_referral_and_writes_nothing(scene: Scene) -> None:
    answer = signed_in_client(scene.world.ava).post("/api/v1/referrals", {
        "call_id": scene.call.pk, "responder_kind": "overdose"}, format="json")
    assert answer.status_code == 400 and answer.json()["code"] == "no_one_on_call"
    assert not Referral.objects.exists()
