"""Video analytics: a rule that fired becomes an alert for the analysts, its snapshot cleaned by the photo pipeline."""

from __future__ import annotations

import base64
import io

from django.utils import timezone
from PIL import Image

from apps.calls.models import Call
from apps.delivery.models import Push
from apps.sensors.models import Alert
from tests.base import World
from tests.sensors.helpers import LAT, LON, make_source, post_signed


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (640, 360), (90, 120, 150))
    exif = Image.Exif()
    exif[0x8825] = {2: (47.0, 31.0, 10.0)}  # GPS latitude: must not survive
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _event(**extra: object) -> dict[str, object]:
    return {"data_type": "video_analytics", "event_id": "VA-77", "occurred_at": timezone.now().isoformat(),
            "rule": "person_down", "object_class": "person", "confidence": 0.81, "latitude": LAT,
            "longitude": LON, **extra}


def test_an_analytics_event_becomes_an_alert_without_a_call(world: World) -> None:
    response = post_signed(make_source(world, "video_analytics"), _event())
    assert response.status_code == 202, response.content
    alert = Alert.objects.get()
    assert (alert.kind, alert.state, alert.detail["rule"], alert.detail["object_class"]) == (
        "video_analytics", "unverified", "person_down", "person")
    assert alert.call_id is None and not Call.objects.exists() and not Push.objects.exists()


def test_a_snapshot_is_stored_re_encoded_without_its_metadata(world: World) -> None:
    snapshot = base64.b64encode(_jpeg_with_gps()).decode()
    post_signed(make_source(world, "video_analytics"), _event(snapshot_jpeg=snapshot))
    alert = Alert.objects.get()
    with alert.snapshot.open("rb") as stored:
        image = Image.open(stored)
        assert image.format == "JPEG" and image.size == (640, 360)
        assert not image.getexif()


def test_a_snapshot_that_is_not_an_image_we_accept_gets_400_and_nothing_is_stored(world: World) -> None:
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    for payload in (base64.b64encode(gif.getvalue()).decode(), "not base64 at all!!"):
        response = post_signed(make_source(world, "video_analytics", name=payload[:5]),
                               _event(snapshot_jpeg=payload))
        assert response.status_code == 400, response.content
    assert not Alert.objects.exists()


def test_an_event_on_a_registered_camera_takes_the_cameras_position(world: World) -> None:
    from apps.cameras.services import camera_create

    camera = camera_create(agency=world.agency, name="Plaza", kind="fixed", owner="City", latitude=LAT + 0.01,
                           longitude=LON, source_kind="hls", source_url="https://cams.example.invalid/p.m3u8",
                           external_id="city:plaza")
    event = _event(camera="city:plaza")
    del event["latitude"], event["longitude"]
    post_signed(make_source(world, "video_analytics"), event)
    alert = Alert.objects.get()
    assert (alert.latitude, alert.detail["camera_id"]) == (LAT + 0.01, camera.pk)
