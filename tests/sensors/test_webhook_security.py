"""Webhooks take no bearer token: a request counts only when its source's signature and timestamp check out."""

from __future__ import annotations

import time

import pytest
from rest_framework.test import APIClient

from apps.sensors.models import Alert, PlateRead, SensorHeartbeat
from apps.sensors.services import sensor_source_rotate_secret
from tests.base import World
from tests.sensors.helpers import gunshot, make_source, post_signed, sample_bytes, sample_json


def _nothing_stored() -> bool:
    return not (PlateRead.objects.exists() or Alert.objects.exists() or SensorHeartbeat.objects.exists())


def test_an_unsigned_webhook_gets_401_and_stores_nothing(world: World) -> None:
    alpr = make_source(world, "alpr")
    response = APIClient().post(alpr.url, sample_bytes(), content_type="application/json")
    assert response.status_code == 401 and response.json()["code"] == "signature_missing"
    assert _nothing_stored()


def test_a_body_signed_with_another_secret_gets_401(world: World) -> None:
    alpr = make_source(world, "alpr")
    other = make_source(world, "alpr", name="another camera")
    response = post_signed(alpr, sample_bytes(), secret=other.secret)
    assert response.status_code == 401 and response.json()["code"] == "signature_invalid"
    assert _nothing_stored()


def test_a_body_changed_after_signing_gets_401(world: World) -> None:
    alpr = make_source(world, "alpr")
    stamp = int(time.time())
    from apps.sensors.signing import signature_make

    signature = signature_make(secret=alpr.secret, timestamp=stamp, body=sample_bytes())
    tampered = sample_bytes().replace(b"A424761", b"B424761")
    response = post_signed(alpr, tampered, timestamp=stamp, signature=signature)
    assert response.status_code == 401 and response.json()["code"] == "signature_invalid"
    assert _nothing_stored()


@pytest.mark.parametrize("offset", [-400, 400])
def test_a_stale_or_future_timestamp_gets_401(world: World, offset: int) -> None:
    alpr = make_source(world, "alpr")
    response = post_signed(alpr, sample_bytes(), timestamp=int(time.time()) + offset)
    assert response.status_code == 401 and response.json()["code"] == "signature_stale"
    assert _nothing_stored()


def test_a_replayed_request_gets_401_and_the_event_is_stored_once(world: World) -> None:
    alpr = make_source(world, "alpr")
    stamp = int(time.time())
    first = post_signed(alpr, sample_bytes(), timestamp=stamp)
    again = post_signed(alpr, sample_bytes(), timestamp=stamp)
    assert first.status_code == 202
    assert again.status_code == 401 and again.json()["code"] == "replayed"
    assert PlateRead.objects.count() == 1


def test_a_resend_signed_anew_is_recognised_by_its_event_id(world: World) -> None:
    alpr = make_source(world, "alpr")
    first = post_signed(alpr, sample_bytes(), timestamp=int(time.time()) - 5)
    again = post_signed(alpr, sample_bytes())
    assert first.status_code == 202 and again.status_code == 200
    assert again.json() == {"status": "duplicate", "id": first.json()["id"], "alert_ids": []}
    assert PlateRead.objects.count() == 1


def test_a_source_key_on_another_kinds_webhook_gets_401(world: World) -> None:
    shots = make_source(world, "gunshot")
    body = sample_bytes()
    stamp = int(time.time())
    from apps.sensors.signing import signature_make

    response = APIClient().post(f"/api/v1/sensors/webhooks/alpr/{shots.source.key}", body,
                                content_type="application/json", HTTP_X_RTCC_TIMESTAMP=str(stamp),
                                HTTP_X_RTCC_SIGNATURE=signature_make(secret=shots.secret, timestamp=stamp, body=body))
    assert response.status_code == 401 and response.json()["code"] == "signature_invalid"
    assert _nothing_stored()


def test_a_disabled_source_is_refused(world: World) -> None:
    alpr = make_source(world, "alpr")
    type(alpr.source).objects.filter(pk=alpr.source.pk).update(enabled=False)
    assert post_signed(alpr, sample_bytes()).status_code == 401
    assert _nothing_stored()


def test_a_signed_body_that_is_not_json_gets_400_and_stores_nothing(world: World) -> None:
    alpr = make_source(world, "alpr")
    response = post_signed(alpr, b"\xef\xbb\xbf{not json")
    assert response.status_code == 400 and response.json()["code"] == "malformed_json"
    assert _nothing_stored()


def test_a_signed_event_missing_fields_gets_400_naming_them(world: World) -> None:
    shots = make_source(world, "gunshot")
    event = gunshot()
    del event["rounds"]
    event["latitude"] = 123.0
    response = post_signed(shots, event)
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"rounds", "latitude"}
    assert _nothing_stored()


def test_a_signed_read_with_missing_or_wrong_fields_gets_400_naming_them(world: World) -> None:
    alpr = make_source(world, "alpr")
    read = sample_json() | {"gps_latitude": 123.0, "epoch_start": "soon", "is_preview": ["maybe"],
                            "vehicle": "white truck", "best_confidence": None}
    del read["best_plate_number"]
    response = post_signed(alpr, read)
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert set(response.json()["fields"]) == {"best_plate_number", "gps_latitude", "epoch_start", "is_preview",
                                              "vehicle", "best_confidence"}
    assert _nothing_stored()


def test_a_preview_group_is_acknowledged_and_not_stored(world: World) -> None:
    alpr = make_source(world, "alpr")
    response = post_signed(alpr, sample_json() | {"is_preview": True})
    assert response.status_code == 202
    assert not PlateRead.objects.exists() and not Alert.objects.exists()


def test_a_rotated_secret_stops_working_at_once(world: World) -> None:
    alpr = make_source(world, "alpr")
    assert post_signed(alpr, sample_json() | {"best_uuid": "before"}).status_code == 202
    new_secret = sensor_source_rotate_secret(source=alpr.source, actor=None)
    old = post_signed(alpr, sample_json() | {"best_uuid": "after, old secret"})
    assert old.status_code == 401 and old.json()["code"] == "signature_invalid"
    assert post_signed(alpr, sample_json() | {"best_uuid": "after"}, secret=new_secret).status_code == 202
    assert set(PlateRead.objects.values_list("event_id", flat=True)) == {"before", "after"}


def test_an_event_time_without_a_zone_gets_400(world: World) -> None:
    shots = make_source(world, "gunshot")
    response = post_signed(shots, gunshot() | {"occurred_at": "2026-11-20T08:00:00"})
    assert response.status_code == 400 and "occurred_at" in response.json()["fields"]
    assert _nothing_stored()


def test_an_oversized_image_in_a_read_gets_400(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SENSOR_IMAGE_MAX_BYTES = 2048
    alpr = make_source(world, "alpr")
    response = post_signed(alpr, sample_json())  # its vehicle crop is about 7 KB
    assert response.status_code == 400 and response.json()["code"] == "file_too_large"
    assert _nothing_stored()


def test_a_flood_is_throttled_per_source_and_keeps_what_was_accepted(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SENSOR_THROTTLE_RATE = "3/min"
    shots = make_source(world, "gunshot")
    other = make_source(world, "gunshot", name="the next district's array")
    answers = [post_signed(shots, gunshot(f"SST-{n}")).status_code for n in range(5)]
    assert answers == [202, 202, 202, 429, 429]
    assert set(Alert.objects.filter(source=shots.source).values_list("event_id", flat=True)) == {
        "SST-0", "SST-1", "SST-2"}
    # Another source has its own allowance.
    assert post_signed(other, gunshot("SST-9")).status_code == 202


def test_unsigned_requests_do_not_use_up_a_sources_allowance(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SENSOR_THROTTLE_RATE = "2/min"
    shots = make_source(world, "gunshot")
    for _ in range(5):
        APIClient().post(shots.url, b"{}", content_type="application/json")
    assert post_signed(shots, gunshot()).status_code == 202


def test_a_heartbeat_is_recorded_and_marks_the_source_seen(world: World) -> None:
    alpr = make_source(world, "alpr")
    response = post_signed(alpr, {"data_type": "heartbeat", "agent_version": "2.8.101", "secret_stuff": "x"})
    assert response.status_code == 202 and response.json()["status"] == "heartbeat"
    beat = SensorHeartbeat.objects.get()
    assert beat.detail == {"agent_version": "2.8.101"}
    alpr.source.refresh_from_db()
    assert alpr.source.last_seen_at is not None
