"""Co-responders reach referrals of their own organisation that are theirs, and nothing of the police."""

from __future__ import annotations

import pytest

from tests.base import World, signed_in_client
from tests.referrals.helpers import Scene, refer, referral_scene, xavier_referral


@pytest.fixture
def scene(world: World) -> Scene:
    return referral_scene(world)


def test_cora_gets_404_for_calls_cases_people_briefings_and_audit(scene: Scene) -> None:
    world = scene.world
    cora = signed_in_client(scene.cora)
    for url, code in ((f"/api/v1/calls/{scene.call.pk}", "call_not_found"),
                      (f"/api/v1/calls/{scene.call.pk}/briefing", "briefing_not_found"),
                      (f"/api/v1/cases/{world.case.pk}", "case_not_found"),
                      (f"/api/v1/people/{world.person.pk}", "person_not_found"),
                      ("/api/v1/audit", "not_found")):
        answer = cora.get(url)
        assert answer.status_code == 404 and answer.json()["code"] == code, url
    pushed = cora.post(f"/api/v1/calls/{scene.call.pk}/briefing/push", {"audience": {"kind": "agency"}},
                       format="json")
    assert pushed.status_code == 404
    # Nor can she make a referral: for her the call does not exist.
    made = cora.post("/api/v1/referrals", {"call_id": scene.call.pk, "responder_kind": "behavioral_health"},
                     format="json")
    assert made.status_code == 404 and made.json()["code"] == "call_not_found"


def test_another_organisations_referral_is_not_found_either_way(scene: Scene) -> None:
    ours, theirs = refer(scene), xavier_referral(scene)
    assert theirs.organisation_id == scene.crisis.pk and theirs.responder_id == scene.olga.pk
    for user, referral in ((scene.cora, theirs), (scene.hana, theirs), (scene.olga, ours)):
        answer = signed_in_client(user).get(f"/api/v1/referrals/{referral.pk}")
        assert answer.status_code == 404 and answer.json()["code"] == "referral_not_found"
        moved = signed_in_client(user).post(f"/api/v1/referrals/{referral.pk}/transitions", {"to": "accepted"},
                                            format="json")
        assert moved.status_code == 404
    assert [r["id"] for r in signed_in_client(scene.olga).get("/api/v1/referrals").json()["results"]] == [theirs.pk]
    assert [r["id"] for r in signed_in_client(scene.cora).get("/api/v1/referrals").json()["results"]] == [ours.pk]


def test_xavier_and_other_agencies_see_none_of_demo_citys_referrals(scene: Scene) -> None:
    ours = refer(scene)
    xavier = signed_in_client(scene.world.xavier)
    assert xavier.get(f"/api/v1/referrals/{ours.pk}").status_code == 404
    assert xavier.get("/api/v1/referrals").json()["results"] == []


def test_cody_sees_nothing_until_it_is_offered_to_him(scene: Scene) -> None:
    ours = refer(scene)
    assert signed_in_client(scene.cody).get(f"/api/v1/referrals/{ours.pk}").status_code == 404
    # The coordinator sees every referral of the organisation.
    assert signed_in_client(scene.hana).get(f"/api/v1/referrals/{ours.pk}").status_code == 200


def test_an_ended_agreement_stops_the_sharing(scene: Scene) -> None:
    ours = refer(scene)
    scene.agreement.ends_on = scene.agreement.starts_on
    scene.agreement.save()
    assert signed_in_client(scene.cora).get(f"/api/v1/referrals/{ours.pk}").status_code == 404
