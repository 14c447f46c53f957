"""An alert's snapshot opens only through a signed, expiring link made for one device session, as other media do."""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

import pytest
from django.conf import settings
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from apps.audit.models import AuditEvent
from apps.sensors.models import Alert
from tests.base import World, make_user, signed_in_client
from tests.media.helpers import session_token
from tests.sensors.helpers import make_source, post_signed, sample_bytes, stolen_list


@pytest.fixture
def hit(world: World) -> Alert:
    """A plate hit of the real OpenALPR sample: its vehicle crop, through the photo pipeline, is the snapshot."""
    stolen_list(world, ("A424761", "IN"))
    assert post_signed(make_source(world, "alpr"), sample_bytes()).status_code == 202
    return Alert.objects.get()


def _link(client: Any, alert: Alert) -> str:
    body = client.get(f"/api/v1/sensors/alerts/{alert.pk}").json()
    return re.sub(r"^https?://[^/]+", "", body["snapshot_url"])


def _get(path: str, **headers: str) -> Any:
    return Client().get(path, **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})


def _stored(alert: Alert) -> bytes:
    with alert.snapshot.open("rb") as fh:
        return bytes(fh.read())


def _snapshot_path(token: str) -> str:
    return reverse("v1:sensor-alert-snapshot", kwargs={"token": token})


@pytest.mark.parametrize("persona", ["ava", "omar", "sam"])
def test_who_sees_the_alert_opens_its_snapshot_through_the_link(world: World, hit: Alert, persona: str) -> None:
    path = _link(signed_in_client(world.personas[persona]), hit)
    assert path.startswith("/api/v1/sensors/snapshots/")
    response = _get(path)
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    assert content == _stored(hit) and Image.open(io.BytesIO(content)).format == "JPEG"
    assert response["Content-Type"] == "image/jpeg" and response["Cache-Control"] == "private, no-store"
    assert response["ETag"] == f'"{hashlib.sha256(content).hexdigest()[:32]}"'
    opened = AuditEvent.objects.filter(actor=world.personas[persona], object_type="sensors.alert",
                                       object_id=str(hit.pk), detail__file="snapshot")
    assert opened.count() == 1


def test_the_list_carries_the_link_too(world: World, hit: Alert) -> None:
    (row,) = signed_in_client(world.omar).get("/api/v1/sensors/alerts").json()["results"]
    assert row["has_snapshot"] and _get(re.sub(r"^https?://[^/]+", "", row["snapshot_url"])).status_code == 200


def test_an_alert_without_a_snapshot_has_no_link(world: World) -> None:
    stolen_list(world, ("A424761", "IN"))
    read = sample_bytes().replace(b'"vehicle_crop_jpeg"', b'"no_crop"')
    post_signed(make_source(world, "alpr"), read)
    alert = Alert.objects.get()
    body = signed_in_client(world.ava).get(f"/api/v1/sensors/alerts/{alert.pk}").json()
    assert body["has_snapshot"] is False and body["snapshot_url"] is None
    token = session_token(signed_in_client(world.ava), alert.pk, "snapshot", kind="snapshot")
    response = _get(_snapshot_path(token))
    assert response.status_code == 404 and response.json()["code"] == "snapshot_not_found"


@pytest.mark.parametrize("persona", ["xavier", "cora"])
def test_another_agency_and_a_co_responder_get_no_snapshot(world: World, hit: Alert, persona: str) -> None:
    client = signed_in_client(world.personas[persona])
    assert client.get(f"/api/v1/sensors/alerts/{hit.pk}").status_code == 404
    # Even a link made for their own session (they are never given one) opens nothing.
    response = _get(_snapshot_path(session_token(client, hit.pk, "snapshot", kind="snapshot")))
    assert response.status_code == 404 and response.json()["code"] == "alert_not_found"


def test_a_tampered_link_is_403_link_invalid(world: World, hit: Alert) -> None:
    path = _link(signed_in_client(world.omar), hit)
    response = _get(path[:-1] + ("A" if path[-1] != "A" else "B"))
    assert response.status_code == 403 and response.json()["code"] == "link_invalid"


def test_a_link_to_other_media_does_not_open_a_snapshot(world: World, hit: Alert) -> None:
    token = session_token(signed_in_client(world.omar), hit.pk, "snapshot", kind="photo")
    response = _get(_snapshot_path(token))
    assert response.status_code == 403 and response.json()["code"] == "link_invalid"
    # Nor the other way round: a snapshot link is no photo link.
    snapshot_token = _link(signed_in_client(world.omar), hit).rsplit("/", 1)[1]
    response = _get(reverse("v1:photo-file", kwargs={"token": snapshot_token}))
    assert response.status_code == 403 and response.json()["code"] == "link_invalid"


def test_an_expired_link_is_403_link_expired(world: World, hit: Alert, monkeypatch: Any) -> None:
    omar = signed_in_client(world.omar)
    minted_at = timezone.now().timestamp() - settings.MEDIA_LINK_SECONDS - 1
    with monkeypatch.context() as patch:
        patch.setattr(signing, "time", type("Clock", (), {"time": staticmethod(lambda: minted_at)}))
        path = _link(omar, hit)
    response = _get(path)
    assert response.status_code == 403 and response.json()["code"] == "link_expired"


def test_a_link_sent_with_another_users_token_is_403_link_not_yours(world: World, hit: Alert) -> None:
    path = _link(signed_in_client(world.ava), hit)
    sam = signed_in_client(world.sam)  # who may see the alert himself: the link is still Ava's
    response = sam.get(path)
    assert response.status_code == 403 and response.json()["code"] == "link_not_yours"


def test_a_link_stops_working_when_its_session_ends(world: World, hit: Alert) -> None:
    omar = signed_in_client(world.omar)
    path = _link(omar, hit)
    assert omar.post("/api/v1/auth/logout").status_code == 204
    response = _get(path)
    assert response.status_code == 403 and response.json()["code"] == "link_session_ended"


def test_a_link_stops_working_when_its_user_moves_to_another_role(world: World, hit: Alert) -> None:
    fay = make_user("fay", "officer", world.agency)
    path = _link(signed_in_client(fay), hit)
    type(fay).objects.filter(pk=fay.pk).update(role="co_responder")
    response = _get(path)
    assert response.status_code == 404 and response.json()["code"] == "alert_not_found"


def test_a_snapshot_serves_byte_ranges(world: World, hit: Alert) -> None:
    response = _get(_link(signed_in_client(world.omar), hit), Range="bytes=0-99")
    assert response.status_code == 206 and response["Content-Range"].startswith("bytes 0-99/")
    assert b"".join(response.streaming_content) == _stored(hit)[:100]
