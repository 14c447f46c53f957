"""A camera's stream credentials never leave the server except to the media worker.

Not in any API answer, the audit trail, a log line, the admin site, or a model's str/repr;
stored encrypted; and never accepted inside the source URL.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from apps.audit.models import AuditEvent
from apps.briefings.services import briefing_assemble
from apps.calls.services import call_assignment_add
from apps.cameras.models import Camera, CameraCredential
from apps.cameras.services import camera_create, camera_credentials_set, camera_source_url
from apps.common.errors import ValidationFailed
from tests.base import PASSWORD, World, current_code, signed_in_client
from tests.cameras.helpers import STREAM_PASSWORD, STREAM_USER, active_call, camera_at

SOURCE_HOST = "cam.example.invalid"
SECRETS = (STREAM_USER, STREAM_PASSWORD, quote(STREAM_PASSWORD, safe=""), SOURCE_HOST)


def _camera_operations() -> set[str]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {op["operationId"] for methods in schema["paths"].values() for op in methods.values()
            if "camera" in op["operationId"]}


def _every_camera_answer(world: World) -> dict[tuple[str, str], Any]:
    """Each camera operation, by each persona: (operation, persona) -> response."""
    trailer = camera_at(world, "Trailer", 60, kind=Camera.Kind.TRAILER)
    camera_at(world, "Street", 120)
    call = active_call(world)
    call_assignment_add(call=call, unit_call_sign=world.unit.call_sign, actor=None)
    answers: dict[tuple[str, str], Any] = {}
    for persona, user in world.personas.items():
        client = signed_in_client(user)
        answers |= {
            ("cameras_list", persona): client.get("/api/v1/cameras"),
            ("cameras_retrieve", persona): client.get(f"/api/v1/cameras/{trailer.pk}"),
            ("cameras_sharing_set", persona): client.put(f"/api/v1/cameras/{trailer.pk}/sharing",
                                                         {"sharing": "always"}, format="json"),
            ("cameras_relocate", persona): client.post(f"/api/v1/cameras/{trailer.pk}/relocate",
                                                       {"latitude": 47.5196, "longitude": -122.2690},
                                                       format="json"),
            ("calls_cameras_list", persona): client.get(f"/api/v1/calls/{call.pk}/cameras"),
            ("calls_camera_pins_add", persona): client.post(f"/api/v1/calls/{call.pk}/camera-pins",
                                                            {"camera_id": trailer.pk}, format="json"),
            ("calls_camera_pins_remove", persona): client.delete(
                f"/api/v1/calls/{call.pk}/camera-pins/{trailer.pk}"),
        }
    briefing_assemble(call_id=call.pk, reason="unit_assigned")
    for persona in ("ava", "omar", "sam"):
        answers[("briefings_retrieve", persona)] = signed_in_client(world.personas[persona]).get(
            f"/api/v1/calls/{call.pk}/briefing")
    return answers


def test_no_camera_answer_carries_the_credentials_or_the_stream_address(world: World, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    answers = _every_camera_answer(world)
    assert {op for op, _ in answers} - {"briefings_retrieve"} == _camera_operations()
    shown = 0
    for (op, persona), response in answers.items():
        text = response.content.decode()
        for secret in SECRETS:
            assert secret not in text, (op, persona)
        shown += response.status_code < 300 and "Trailer" in text
    # Not vacuous: the cameras were in many of those answers (the registry, near-call lists, briefings).
    assert shown >= 12
    for secret in SECRETS[:3]:
        assert secret not in caplog.text
        assert secret not in json.dumps(list(AuditEvent.objects.values("detail", "object_ids", "object_id")))


def test_the_credentials_are_stored_encrypted_and_only_the_worker_url_has_them(world: World) -> None:
    camera = camera_at(world, "Pole", 10)
    stored = CameraCredential.objects.get(camera=camera)
    assert STREAM_USER not in stored.username_encrypted and STREAM_PASSWORD not in stored.password_encrypted
    assert camera.source_url == f"rtsp://{SOURCE_HOST}:554/live"
    assert camera_source_url(camera=camera) == (
        f"rtsp://{STREAM_USER}:{quote(STREAM_PASSWORD, safe='')}@{SOURCE_HOST}:554/live")


def test_a_camera_without_credentials_or_on_udp_gets_its_plain_url(world: World) -> None:
    camera = camera_create(agency=world.agency, name="Multicast", kind=Camera.Kind.DRONE, owner="Us",
                           source_kind=Camera.SourceKind.UDP, source_url="udp://239.0.0.1:5004",
                           username="ignored", password="ignored-too")
    assert camera_source_url(camera=camera) == "udp://239.0.0.1:5004"
    camera_credentials_set(camera=camera, username="", password="", actor=world.abe)
    assert not CameraCredential.objects.filter(camera=camera).exists()
    event = AuditEvent.objects.filter(object_type="cameras.camera", action="update").latest("id")
    assert event.detail == {"fields": ["credentials"]}


@pytest.mark.parametrize("password", ["plain-secret-77", STREAM_PASSWORD])  # the second holds a "/"
def test_a_source_url_with_credentials_in_it_is_refused_without_echoing_them(world: World, password: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        camera_create(agency=world.agency, name="Careless", kind=Camera.Kind.FIXED, owner="Us",
                      source_kind=Camera.SourceKind.RTSP, source_url=f"rtsp://admin:{password}@cam/1")
    assert refused.value.code == "credentials_in_url"
    assert password not in str(refused.value.message) + json.dumps(refused.value.fields)
    assert not Camera.objects.exists()


def test_a_source_url_must_match_its_kind(world: World) -> None:
    with pytest.raises(ValidationFailed) as refused:
        camera_create(agency=world.agency, name="Odd", kind=Camera.Kind.FIXED, owner="Us",
                      source_kind=Camera.SourceKind.RTSP, source_url="http://cam.example.invalid/live.ts")
    assert refused.value.code == "invalid_source"


def test_str_and_repr_show_no_credentials(world: World) -> None:
    camera = camera_at(world, "Pole", 10)
    credential = CameraCredential.objects.get(camera=camera)
    for text in (str(camera), repr(camera), str(credential), repr(credential)):
        for secret in SECRETS[:3]:
            assert secret not in text


def _admin(world: World) -> Client:
    client = Client()
    client.post("/admin/login/?next=/admin/", {"username": "abe", "password": PASSWORD,
                                               "code": current_code(world.abe)})
    return client


def test_the_admin_site_writes_credentials_but_never_shows_them(world: World) -> None:
    camera = camera_at(world, "Pole", 10)
    abe = _admin(world)
    listing = abe.get("/admin/cameras/camera/")
    page = abe.get(f"/admin/cameras/camera/{camera.pk}/change/")
    assert listing.status_code == 200 and page.status_code == 200 and "Pole" in listing.content.decode()
    for response in (listing, page):
        for secret in SECRETS[:3]:
            assert secret not in response.content.decode()
    form = {"name": "Pole", "kind": "fixed", "external_id": "", "owner_kind": "agency", "owner": "Us",
            "owner_administrator": "", "latitude": "47.52", "longitude": "-122.27", "source_kind": "rtsp",
            "source_url": f"rtsp://{SOURCE_HOST}/2", "sharing": "always", "sharing_radius_m": "500",
            "enabled": "on", "stream_username": "new-user", "stream_password": "new-secret-42",
            # A fixed camera has no location history: an empty inline.
            "locations-TOTAL_FORMS": "0", "locations-INITIAL_FORMS": "0", "locations-MIN_NUM_FORMS": "0",
            "locations-MAX_NUM_FORMS": "1000"}
    response = abe.post(f"/admin/cameras/camera/{camera.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    camera.refresh_from_db()
    assert camera_source_url(camera=camera) == f"rtsp://new-user:new-secret-42@{SOURCE_HOST}/2"
    assert "new-secret-42" not in json.dumps(list(AuditEvent.objects.values("detail")))
    assert "new-secret-42" not in abe.get(f"/admin/cameras/camera/{camera.pk}/change/").content.decode()
