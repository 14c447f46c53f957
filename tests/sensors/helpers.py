"""Sensors as the tests see them: registered sources, signed webhook posts, officers placed on the map."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import TestCase
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import Device, User
from apps.sensors.models import HotList, SensorSource
from apps.sensors.services import EntryIn, hot_list_create, hot_list_entry_add, sensor_source_create
from apps.sensors.signing import signature_make
from tests.base import World

OPENALPR_SAMPLE = Path(settings.BASE_DIR) / "fixtures/data/standards/openalpr_alpr_group_webhook_sample.json"
# Where the sample's camera stood (Indiana), and a spot in Seattle's Rainier Valley for the gunfire.
SAMPLE_LAT, SAMPLE_LON = 40.00997543334961, -86.14463806152344
LAT, LON = 47.5195, -122.2690
KIND_PATH = {"alpr": "alpr", "gunshot": "gunshot", "video_analytics": "analytics"}


@dataclass
class Source:
    source: SensorSource
    secret: str

    @property
    def url(self) -> str:
        return f"/api/v1/sensors/webhooks/{KIND_PATH[self.source.kind]}/{self.source.key}"


def make_source(world: World, kind: str, *, agency: Any = None, name: str = "") -> Source:
    source, secret = sensor_source_create(agency=agency or world.agency, name=name or f"{kind} sensor", kind=kind,
                                          actor=None)
    return Source(source, secret)


def sample_bytes() -> bytes:
    """The real OpenALPR webhook, as sent: byte-order mark included."""
    raw = OPENALPR_SAMPLE.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    return raw


def sample_json() -> dict[str, Any]:
    return json.loads(sample_bytes().decode("utf-8-sig"))


def body_of(payload: dict[str, Any] | bytes) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def post_signed(source: Source, payload: dict[str, Any] | bytes, *, timestamp: int | None = None,
                secret: str | None = None, signature: str | None = None, client: APIClient | None = None) -> Any:
    """POST as the sensor would: the raw body, signed with the source's secret over its timestamp.

    After-commit work (the alert's call, briefing and push) runs as a commit would run it.
    """
    body = body_of(payload)
    stamp = int(time.time()) if timestamp is None else timestamp
    headers = {"HTTP_X_RTCC_TIMESTAMP": str(stamp),
               "HTTP_X_RTCC_SIGNATURE": signature or signature_make(secret=secret or source.secret, timestamp=stamp,
                                                                   body=body)}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return (client or APIClient()).post(source.url, body, content_type="application/json", **headers)


def gunshot(event_id: str = "SST-1", *, lat: float = LAT, lon: float = LON, rounds: int = 4) -> dict[str, Any]:
    return {"data_type": "gunshot", "event_id": event_id, "occurred_at": timezone.now().isoformat(),
            "latitude": lat, "longitude": lon, "rounds": rounds, "confidence": 0.93, "sensor_count": 3,
            "classification": "multiple_gunshots"}


def place(user: User, lat: float = LAT, lon: float = LON) -> Device:
    """A signed-in phone of this user that reported its position just now."""
    from apps.accounts.services import DeviceInfo, session_issue

    device = session_issue(user=user, device_info=DeviceInfo(name="phone", kind="phone", platform="android"),
                           ip=None).session.device
    Device.objects.filter(pk=device.pk).update(latitude=lat, longitude=lon, located_at=timezone.now())
    return device


def stolen_list(world: World, *plates: tuple[str, str]) -> HotList:
    hot_list = hot_list_create(user=world.ava, values={"name": "Stolen vehicles", "kind": "stolen_vehicle",
                                                       "source": "NCIC extract"})
    for plate, region in plates:
        hot_list_entry_add(user=world.ava, hot_list_id=hot_list.pk,
                           entry=EntryIn(plate=plate, region=region, description="Silver Kenworth, stolen"))
    return hot_list

