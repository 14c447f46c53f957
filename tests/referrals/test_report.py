"""Counts per period for the health department and for the agency, as JSON or CSV, each side its own."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.referrals.models import Referral
from apps.referrals.services import referral_transition
from tests.base import World, signed_in_client
from tests.referrals.helpers import Scene, refer, referral_scene, xavier_referral


@pytest.fixture
def scene(world: World) -> Scene:
    return referral_scene(world)


def _accepted_after(scene: Scene, seconds: int, *, outcome: str = "", diverted: bool | None = None) -> Referral:
    referral = refer(scene)
    start = referral.created_at
    referral_transition(referral_id=referral.pk, user=scene.cora, to="accepted", now=start + timedelta(seconds=seconds))
    if outcome:
        referral_transition(referral_id=referral.pk, user=scene.cora, to="on_scene", now=start + timedelta(minutes=20))
        referral_transition(referral_id=referral.pk, user=scene.cora, to="closed", outcome=outcome,
                            diverted_from_arrest=diverted, now=start + timedelta(minutes=50))
    return referral


def _query() -> dict[str, Any]:
    today = timezone.localdate()
    return {"from": (today - timedelta(days=7)).isoformat(), "to": today.isoformat(), "period": "month"}


def test_the_agency_gets_counts_accept_times_outcomes_and_diversions(scene: Scene) -> None:
    for seconds in (30, 60, 90, 120, 300):
        _accepted_after(scene, seconds)
    _accepted_after(scene, 45, outcome="referred_to_services", diverted=True)
    _accepted_after(scene, 45, outcome="police_took_over")
    answer = signed_in_client(scene.world.ava).get("/api/v1/referrals/report", _query())
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["side"] == "agency" and body["name"] == scene.world.agency.name
    rows = body["rows"]
    assert sum(r["referrals"] for r in rows) == 7 and sum(r["accepted"] for r in rows) == 7
    if len(rows) == 1:  # the week did not straddle a month's start
        (row,) = rows
        assert row["accept_seconds_median"] == 60.0
        assert row["accept_seconds_p90"] == pytest.approx(192.0)  # 120 + 0.4 * (300 - 120)
    assert sum(r["outcome_referred_to_services"] for r in rows) == 1
    assert sum(r["outcome_police_took_over"] for r in rows) == 1
    assert sum(r["diverted_from_arrest"] for r in rows) == 1


def test_the_report_exports_as_csv(scene: Scene) -> None:
    _accepted_after(scene, 30, outcome="transported", diverted=True)
    answer = signed_in_client(scene.hana).get("/api/v1/referrals/report", _query() | {"format": "csv"})
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    assert answer["Content-Disposition"].startswith('attachment; filename="referrals-organisation-')
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert sum(int(r["referrals"]) for r in rows) == 1 and sum(int(r["outcome_transported"]) for r in rows) == 1
    assert rows[0]["accept_seconds_median"] == "30.0"


def test_each_side_sees_only_its_own(scene: Scene) -> None:
    refer(scene)
    xavier_referral(scene)
    olga_org = signed_in_client(scene.olga)
    # Olga is no coordinator: the organisation's report is not hers to read.
    assert olga_org.get("/api/v1/referrals/report", _query()).status_code == 404
    hana = signed_in_client(scene.hana).get("/api/v1/referrals/report", _query()).json()
    assert hana["side"] == "organisation" and sum(r["referrals"] for r in hana["rows"]) == 1
    for persona in ("cora", "omar", "abe", "aud"):
        answer = signed_in_client(scene.world.personas[persona]).get("/api/v1/referrals/report", _query())
        assert answer.status_code == 404 and answer.json()["code"] == "not_found", persona


def test_a_bad_span_is_refused_in_the_one_error_shape_even_as_csv(scene: Scene) -> None:
    answer = signed_in_client(scene.world.ava).get("/api/v1/referrals/report", {
        "from": "2026-03-01", "to": "2026-01-01", "format": "csv"})
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_report"
    assert signed_in_client(scene.world.ava).get("/api/v1/referrals/report", {"to": "2026-01-01"}).json()[
        "fields"] == {"from": ["This field is required."]}
