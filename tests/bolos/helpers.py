"""BOLOs as the tests issue them: through the API, with the commit hooks run as a commit would run them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import User
from tests.base import World, signed_in_client

LAT, LON = 47.5395, -122.2810  # Rainier Valley, on Omar's beat


def in_days(days: float) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


def bolo_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": "vehicle", "title": "Grey Honda Civic, armed robbery suspect",
        "description": "Two men, one with a handgun; rear bumper dented.", "plate": "BLO-1234",
        "plate_region": "WA", "area": "Rainier Valley", "audience": {"kind": "agency"}, "expires_at": in_days(30)}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def issue(client: APIClient, **overrides: Any) -> Any:
    """POST /bolos; recipients are resolved after commit (eager Celery here), so the hooks run."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post("/api/v1/bolos", bolo_body(**overrides), format="json")


def issued(world: World, by: User | None = None, **overrides: Any) -> dict[str, Any]:
    response = issue(signed_in_client(by or world.ava), **overrides)
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def upload_photo(client: APIClient, content: bytes) -> Any:
    return client.post("/api/v1/bolos/photos", {"file": SimpleUploadedFile("suspect.jpg", content,
                                                                            content_type="image/jpeg")},
                       format="multipart")


def report_sighting(client: APIClient, bolo_id: int, *, photo: bytes | None = None, **overrides: Any) -> Any:
    body: dict[str, Any] = {"latitude": LAT, "longitude": LON, "seen_at": timezone.now().isoformat(),
                            "note": "Parked outside the laundromat, two men inside"}
    body.update(overrides)
    if photo is not None:
        body["photo"] = SimpleUploadedFile("sighting.jpg", photo, content_type="image/jpeg")
    return client.post(f"/api/v1/bolos/{bolo_id}/sightings", body, format="multipart")
