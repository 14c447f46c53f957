"""The phone team's examples: each resource's main answers, kept as JSON files in tests/api/responses/.

One file per `<resource>-<action>.json`. Each test builds the same small city on a fresh database (ids start at
1) under a fixed clock, asks the API as the persona the phones sign in as, checks the answer against the
OpenAPI schema (tests/api/contract.py, strictly) and compares it with its file. What varies run to run (session
tokens, challenges, signed media links, random keys) is replaced by a placeholder in `normalised`.

When an answer changes on purpose, rewrite the files and read the diff before committing it:

    RTCC_GOLDEN_UPDATE=1 .venv/bin/pytest tests/api/test_golden_answers.py
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings
from rest_framework.test import APIClient

from apps.briefings.models import Briefing
from apps.briefings.services import briefing_item_add
from apps.cases.services import person_photo_add
from apps.hazards.models import HealthArea, HealthDataset
from apps.media.models import ClipJob, ClipRendition
from apps.referrals.services import referral_transition
from tests.api import contract
from tests.base import PASSWORD, current_code, make_world, signed_in_client
from tests.cameras.helpers import camera_at
from tests.referrals.helpers import Scene, refer, referral_scene
from tests.sensors.matrix_support import sensor_records

RESPONSES = Path(__file__).parent / "responses"
UPDATE = os.environ.get("RTCC_GOLDEN_UPDATE") == "1"
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # a Friday morning shift
CLIP_BYTES = b"\x00\x00\x00\x18ftypmp42 a clip as the golden answers store it"

# What changes from run to run, and what it becomes in the files.
_SECRET_KEYS = {"token": "<token>", "challenge": "<mfa-challenge>", "ticket": "<ticket>"}
_SIGNED_LINK = re.compile(r"(/api/v1/(?:photos|media/clips|media/bolo-photos|sensors/snapshots)/)[^/?\"]+")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_NOTE_ID = re.compile(r"\bnote:[0-9a-f]{8}\b")  # an analyst's item: a random id (apps/briefings/services.py)


def normalised(value: Any, key: str = "") -> Any:
    """The answer with its run-to-run secrets replaced by placeholders; everything else as the server sent it."""
    if isinstance(value, dict):
        return {k: normalised(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalised(v, key) for v in value]
    if isinstance(value, str):
        if key in _SECRET_KEYS and value:
            return _SECRET_KEYS[key]
        value = _SIGNED_LINK.sub(r"\1<signed-link>", value)
        return _NOTE_ID.sub("note:<random>", _UUID.sub("<uuid>", value))
    return value


@dataclass
class Golden:
    """Compares answers with their files (or rewrites them) and keeps every difference for one readable failure."""
    differences: list[str] = field(default_factory=list)

    def check(self, name: str, op_id: str, response: Any, status: int) -> Any:
        body = response.json()
        assert response.status_code == status, (name, response.status_code, body)
        problems = contract.undocumented(op_id, response.status_code, response["Content-Type"], body)
        assert not problems, (name, problems)
        # Sorted keys: JSON objects have no order, and PostgreSQL (jsonb) keeps stored ones in its own.
        text = json.dumps(normalised(body), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        path = RESPONSES / f"{name}.json"
        if UPDATE:
            path.write_text(text)
        elif not path.exists():
            self.differences.append(f"{path.name} is missing (RTCC_GOLDEN_UPDATE=1 writes it)")
        elif path.read_text() != text:
            self.differences.append("".join(difflib.unified_diff(
                path.read_text().splitlines(keepends=True), text.splitlines(keepends=True),
                fromfile=f"responses/{path.name}", tofile="the live answer")))
        return body

    def assert_same(self) -> None:
        assert not self.differences, "answers differ from their golden files:\n" + "\n".join(self.differences)


@pytest.fixture
def golden() -> Iterator[Golden]:
    found = Golden()
    yield found
    found.assert_same()


@pytest.fixture
def scene(django_db_reset_sequences: Any) -> Iterator[Scene]:
    """Demo City at 08:00 on a fixed day: Omar's unit on a crisis call with a camera nearby, a ready clip, a
    health area over it, a sensor alert, and a photo of Dana Whitfield."""
    with time_machine.travel(NOW, tick=False):
        world = make_world()
        camera = camera_at(world, "Rainier & Henderson", 120)
        built = referral_scene(world)
        content = (Path(settings.BASE_DIR) / "fixtures/data/media/grace_hopper.jpg").read_bytes()
        person_photo_add(person=world.person, filename="mugshot.jpg", content=content, content_type="image/jpeg")
        job = ClipJob.objects.create(agency_id=world.agency.pk, call=built.call, camera=camera, seconds=10,
                                     source=ClipJob.Source.CAMERA, state=ClipJob.State.READY, requested_by=world.ava,
                                     percent=100)
        ClipRendition.objects.create(job=job, name="360p", file="clips/golden/360p.mp4", width=640, height=360,
                                     size_bytes=len(CLIP_BYTES), has_audio=True,
                                     sha256=hashlib.sha256(CLIP_BYTES).hexdigest())
        ring = [[-122.28, 47.51], [-122.26, 47.51], [-122.26, 47.53], [-122.28, 47.53], [-122.28, 47.51]]
        dataset = HealthDataset.objects.create(name="Rainier Valley COVID", disease="COVID-19",
                                               ppe_advice="N95 and gloves.", loaded_at=NOW)
        HealthArea.objects.create(dataset=dataset, code="RV1", label="Rainier Valley", min_lat=47.51, max_lat=47.53,
                                  min_lon=-122.28, max_lon=-122.26,
                                  geometry={"type": "Polygon", "coordinates": [ring]},
                                  latest_week=NOW.date(), latest_rate=250.0)
        sensor_records(world)
        yield built


def _sign_in(username: str) -> Any:
    return APIClient().post("/api/v1/auth/login", {"username": username, "password": PASSWORD, "device": {
        "name": f"{username}'s phone", "kind": "phone", "platform": "android"}}, format="json")


def test_the_officers_answers_match_their_golden_files(scene: Scene, golden: Golden) -> None:
    world, call = scene.world, scene.call
    golden.check("auth-login-officer", "auth_login", _sign_in("omar"), 201)
    omar = signed_in_client(world.omar)
    golden.check("me-retrieve", "me_retrieve", omar.get("/api/v1/me"), 200)
    golden.check("calls-list", "calls_list", omar.get("/api/v1/calls", {"mine": "true"}), 200)
    golden.check("calls-retrieve", "calls_retrieve", omar.get(f"/api/v1/calls/{call.pk}"), 200)
    golden.check("me-calls-list", "me_calls_list", omar.get("/api/v1/me/calls"), 200)
    golden.check("briefings-retrieve", "briefings_retrieve", omar.get(f"/api/v1/calls/{call.pk}/briefing"), 200)
    golden.check("calls-cameras-list", "calls_cameras_list", omar.get(f"/api/v1/calls/{call.pk}/cameras"), 200)
    golden.check("clips-list", "clips_list", omar.get(f"/api/v1/calls/{call.pk}/clips"), 200)
    golden.check("cases-list", "cases_list", omar.get("/api/v1/cases"), 200)
    golden.check("cases-retrieve", "cases_retrieve", omar.get(f"/api/v1/cases/{world.case.pk}"), 200)
    golden.check("people-retrieve", "people_retrieve", omar.get(f"/api/v1/people/{world.person.pk}"), 200)
    golden.check("people-search", "people_search",
                 omar.post("/api/v1/people/search", {"search": "Dee Whit"}, format="json"), 200)
    golden.check("hazard-areas-list", "hazard_areas_list", omar.get("/api/v1/hazard-areas"), 200)
    area = HealthArea.objects.get(code="RV1")
    golden.check("hazard-areas-retrieve", "hazard_areas_retrieve", omar.get(f"/api/v1/hazard-areas/{area.pk}"), 200)
    golden.check("sensor-alerts-list", "sensor_alerts_list", omar.get("/api/v1/sensors/alerts"), 200)


def test_the_analysts_push_and_the_officers_receipt_match_their_golden_files(scene: Scene, golden: Golden) -> None:
    world, call = scene.world, scene.call
    challenge = golden.check("auth-login-mfa-challenge", "auth_login", _sign_in("ava"), 202)
    golden.check("auth-mfa", "auth_mfa", APIClient().post("/api/v1/auth/mfa", {
        "challenge": challenge["challenge"], "code": current_code(world.ava)}, format="json"), 201)
    ava, omar = signed_in_client(world.ava), signed_in_client(world.omar)
    briefing = Briefing.objects.get(call=call)
    briefing_item_add(briefing_id=briefing.pk, user=world.ava, title="Brother's car",
                      body="A grey Honda Civic in the driveway is his.")
    golden.check("briefings-diff", "briefings_diff", ava.get(f"/api/v1/calls/{call.pk}/briefing/diff",
                                                             {"from_version": 1, "to_version": 2}), 200)
    push = golden.check("briefings-push", "briefings_push", ava.post(
        f"/api/v1/calls/{call.pk}/briefing/push", {"audience": {"kind": "unit", "ids": [world.unit.pk]}},
        format="json"), 202)
    golden.check("me-pushes-pending", "me_pushes_pending", omar.get("/api/v1/me/pushes"), 200)
    for state in ("delivered", "opened"):
        omar.post(f"/api/v1/pushes/{push['id']}/receipt", {"state": state}, format="json")
    golden.check("pushes-receipt", "pushes_receipt", omar.post(
        f"/api/v1/pushes/{push['id']}/receipt", {"state": "acknowledged"}, format="json"), 200)
    golden.check("pushes-get", "pushes_get", ava.get(f"/api/v1/pushes/{push['id']}"), 200)


def test_both_views_of_a_referral_match_their_golden_files(scene: Scene, golden: Golden) -> None:
    referral = refer(scene)
    ava, cora = signed_in_client(scene.world.ava), signed_in_client(scene.cora)
    golden.check("referrals-list-agency", "referrals_list", ava.get("/api/v1/referrals"), 200)
    golden.check("referrals-list-co-responder", "referrals_list", cora.get("/api/v1/referrals", {"open": "true"}), 200)
    golden.check("referrals-transition", "referrals_transition", cora.post(
        f"/api/v1/referrals/{referral.pk}/transitions", {"to": "accepted"}, format="json"), 200)
    referral_transition(user=scene.cora, referral_id=referral.pk, to="en_route")
    golden.check("referrals-retrieve-agency", "referrals_retrieve", ava.get(f"/api/v1/referrals/{referral.pk}"), 200)


def test_a_bolo_and_its_sighting_match_their_golden_files(scene: Scene, golden: Golden) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import TestCase

    world = scene.world
    ava, omar = signed_in_client(world.ava), signed_in_client(world.omar)
    content = (Path(settings.BASE_DIR) / "fixtures/data/media/grace_hopper.jpg").read_bytes()
    with time_machine.travel(NOW, tick=False), TestCase.captureOnCommitCallbacks(execute=True):
        upload = SimpleUploadedFile("suspect.jpg", content, content_type="image/jpeg")
        photo = ava.post("/api/v1/bolos/photos", {"file": upload}, format="multipart").json()
        bolo = ava.post("/api/v1/bolos", {
            "subject": "vehicle", "title": "Grey Honda Civic, armed robbery suspects",
            "description": "Two men, one with a handgun; dented rear bumper.", "plate": "BLO-1234",
            "plate_region": "WA", "area": "Rainier Valley", "case_number": "26-000101",
            "audience": {"kind": "unit", "ids": [world.unit.pk]}, "expires_at": "2026-12-20T08:00:00Z",
            "photo_ids": [photo["id"]]}, format="json").json()
        omar.post(f"/api/v1/bolos/{bolo['id']}/sightings", {
            "latitude": 47.5395, "longitude": -122.281, "seen_at": "2026-11-20T07:55:00Z",
            "note": "Parked outside the laundromat"}, format="multipart")
        golden.check("bolos-list", "bolos_list", omar.get("/api/v1/bolos"), 200)
        golden.check("bolos-retrieve", "bolos_retrieve", ava.get(f"/api/v1/bolos/{bolo['id']}"), 200)


def test_the_auditors_first_page_matches_its_golden_file(scene: Scene, golden: Golden) -> None:
    world = scene.world
    omar = signed_in_client(world.omar)
    omar.get(f"/api/v1/people/{world.person.pk}")
    omar.get(f"/api/v1/cases/{world.case.pk}")
    aud = signed_in_client(world.aud)
    golden.check("audit-list", "audit_list", aud.get("/api/v1/audit", {"size": 10}), 200)


def test_every_golden_file_is_checked_by_a_test_here() -> None:
    checked = set(re.findall(r'golden\.check\(\s*"([^"]+)"', Path(__file__).read_text()))
    on_disk = {path.stem for path in RESPONSES.glob("*.json")}
    assert on_disk == checked, {"files no test checks": sorted(on_disk - checked),
                                "checked but missing": sorted(checked - on_disk)}
