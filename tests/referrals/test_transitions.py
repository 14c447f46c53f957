"""The state machine: what each side may do, the moves it refuses, and offers handed on."""

from __future__ import annotations

from typing import Any

import pytest

from apps.delivery.models import Event
from apps.referrals.models import Offer, Referral
from tests.base import World, signed_in_client
from tests.referrals.helpers import Scene, refer, referral_scene


@pytest.fixture
def scene(world: World) -> Scene:
    return referral_scene(world)


def _move(user: Any, referral: Referral, **body: Any) -> Any:
    return signed_in_client(user).post(f"/api/v1/referrals/{referral.pk}/transitions", body, format="json")


@pytest.mark.parametrize(("steps", "refused"), [
    ([], {"to": "en_route"}),
    ([], {"to": "on_scene"}),
    ([{"to": "accepted"}], {"to": "accepted"}),
    ([{"to": "accepted"}], {"to": "declined"}),
    ([{"to": "accepted"}, {"to": "on_scene"}], {"to": "en_route"}),
    ([{"to": "accepted"}, {"to": "on_scene"}, {"to": "closed", "outcome": "transported"}], {"to": "on_scene"}),
    # Resolved on scene needs someone on scene.
    ([{"to": "accepted"}, {"to": "en_route"}], {"to": "closed", "outcome": "resolved_on_scene"}),
])
def test_a_move_the_state_machine_does_not_allow_is_refused_with_409(scene: Scene, steps: list[dict[str, Any]],
                                                                    refused: dict[str, Any]) -> None:
    referral = refer(scene)
    for step in steps:
        assert _move(scene.cora, referral, **step).status_code == 200
    before = Referral.objects.get(pk=referral.pk)
    answer = _move(scene.cora, referral, **refused)
    assert answer.status_code == 409, answer.content
    assert answer.json()["code"] == "invalid_transition" and answer.json()["fields"]
    after = Referral.objects.get(pk=referral.pk)
    assert (after.state, after.updated_at) == (before.state, before.updated_at)


def test_an_unknown_state_is_bad_input(scene: Scene) -> None:
    answer = _move(scene.cora, refer(scene), to="teleported")
    assert answer.status_code == 400 and answer.json()["code"] == "invalid"


def test_the_agency_side_cannot_answer_an_offer_or_report_an_outcome(scene: Scene) -> None:
    referral = refer(scene)
    assert _move(scene.world.omar, referral, to="accepted").json()["code"] == "responder_only"
    answer = _move(scene.world.ava, referral, to="closed", outcome="resolved_on_scene")
    assert answer.status_code == 403 and answer.json()["code"] == "responder_reports_outcome"
    answer = _move(scene.world.ava, referral, to="closed", outcome="cancelled", health_notes="x")
    assert answer.status_code == 403 and answer.json()["code"] == "responder_only"


def test_the_coordinator_sees_the_offer_but_only_the_offeree_answers_it(scene: Scene) -> None:
    referral = refer(scene)
    answer = _move(scene.hana, referral, to="accepted")
    assert answer.status_code == 403 and answer.json()["code"] == "offer_not_yours"


def test_a_decline_hands_the_offer_to_the_next_on_call_and_cora_no_longer_sees_it(scene: Scene) -> None:
    referral = refer(scene)
    assert _move(scene.cora, referral, to="declined").status_code == 200
    referral.refresh_from_db()
    assert referral.state == "offered" and referral.responder_id == scene.cody.pk
    assert signed_in_client(scene.cora).get(f"/api/v1/referrals/{referral.pk}").status_code == 404
    assert Event.objects.filter(user=scene.cody, type="referral", op="offered").count() == 1
    # Cody declines too: nobody is left, the referral is declined and the center hears it.
    assert _move(scene.cody, referral, to="declined").status_code == 200
    referral.refresh_from_db()
    assert referral.state == "declined" and referral.responder_id is None and referral.declined_at
    assert Event.objects.filter(user=scene.world.ava, type="referral", op="declined").count() == 1
    assert _move(scene.world.ava, referral, to="closed", outcome="cancelled").status_code == 200


def test_cancelling_an_offer_withdraws_it_from_the_offeree(scene: Scene) -> None:
    referral = refer(scene)
    answer = _move(scene.world.ava, referral, to="closed", outcome="cancelled")
    assert answer.status_code == 200 and answer.json()["outcome"] == "cancelled"
    assert Offer.objects.get(referral=referral).result == "withdrawn"
    assert Event.objects.filter(user=scene.cora, type="referral", op="withdrawn").count() == 1
    assert signed_in_client(scene.cora).get(f"/api/v1/referrals/{referral.pk}").status_code == 404
    assert _move(scene.world.ava, referral, to="closed", outcome="cancelled").json()["code"] == "invalid_transition"
