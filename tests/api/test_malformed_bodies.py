"""Malformed bodies (nesting, encoding, multipart framing) get 400 in the error shape, logged at WARNING only.

The outside probe's finding: `{"a":` repeated 5,000 times gave 500 and a RecursionError traceback at
ERROR on every JSON endpoint, before sign-in too; broken multipart got a bare 400.
"""

from __future__ import annotations

import logging

import pytest
from rest_framework.test import APIClient

from tests.base import World, signed_in_client
from tests.sensors.helpers import make_source, post_signed

DEEP = b'{"a":' * 5000 + b"1" + b"}" * 5000
PATHS = ["/api/v1/auth/login", "/api/v1/auth/mfa", "/api/v1/cases/search", "/api/v1/me/location"]


def _assert_quiet_400(response: object, caplog: pytest.LogCaptureFixture, code: str) -> None:
    assert response.status_code == 400, response.content  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "nothing at ERROR"
    assert not [r for r in caplog.records if r.exc_info], "no traceback"
    assert [r for r in caplog.records if r.levelno == logging.WARNING], "one WARNING line"


@pytest.mark.parametrize("path", PATHS)
def test_deeply_nested_json_gets_400_malformed_json_not_a_crash(world: World, path: str,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    client = APIClient() if "auth" in path else signed_in_client(world.omar)
    response = client.post(path, DEEP, content_type="application/json")
    _assert_quiet_400(response, caplog, "malformed_json")


def test_json_nested_just_past_the_cap_is_refused_and_just_under_is_parsed(world: World,
                                                                            caplog: pytest.LogCaptureFixture) -> None:
    client = APIClient()
    over = b'{"a":' * 40 + b"1" + b"}" * 40
    _assert_quiet_400(client.post("/api/v1/auth/login", over, content_type="application/json"), caplog,
                      "malformed_json")
    under = b'{"username":{"a":{"b":1}}}'
    assert client.post("/api/v1/auth/login", under, content_type="application/json").json()["code"] == "invalid"


@pytest.mark.parametrize("path", PATHS)
def test_a_body_in_a_broken_encoding_gets_400_malformed_json(world: World, path: str,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    client = APIClient() if "auth" in path else signed_in_client(world.omar)
    response = client.post(path, b'{"username": "\xff\xfe\xfa"}', content_type="application/json")
    _assert_quiet_400(response, caplog, "malformed_json")


def test_a_signed_sensor_webhook_nested_too_deeply_gets_400(world: World, caplog: pytest.LogCaptureFixture) -> None:
    source = make_source(world, "gunshot")
    response = post_signed(source, DEEP)
    _assert_quiet_400(response, caplog, "malformed_json")


def test_a_photo_upload_with_broken_multipart_framing_gets_400_malformed_multipart(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    response = signed_in_client(world.ava).post(
        f"/api/v1/people/{world.person.pk}/photos", b"--nope\r\nContent-Disposition: form-data; name=\"file\"",
        content_type="multipart/form-data")  # no boundary: the framing cannot be read
    _assert_quiet_400(response, caplog, "malformed_multipart")
