"""The per-route body caps Daphne's requests apply from the headers (apps/common/intake.py).

The real server is exercised in tests/faults/test_upload_refused_from_headers.py; this is the table.
"""

from __future__ import annotations

import json

from django.conf import settings

from apps.common.intake import MULTIPART_OVERHEAD, body_refusal, refusal_response

PHOTOS, CLIPS, LOGIN = "/api/v1/people/5/photos", "/api/v1/calls/7/clips/upload", "/api/v1/auth/login"
MB = 1024 * 1024


def _refused(path: str, length: int | None, authorization: str) -> tuple[int, str] | None:
    refusal = body_refusal(path=path, length=length, authorization=authorization)
    return refusal[:2] if refusal else None


def test_an_upload_larger_than_an_ordinary_body_needs_a_bearer_token_in_its_headers() -> None:
    assert _refused(PHOTOS, 100 * MB, "") == (401, "not_authenticated")
    assert _refused(CLIPS, 2 * MB, "Basic abc") == (401, "not_authenticated")
    assert _refused(PHOTOS, None, "") == (401, "not_authenticated")
    assert _refused(PHOTOS, 2 * MB, "Bearer t0ken") is None


def test_each_route_has_its_own_cap() -> None:
    photo_cap = settings.MEDIA_PHOTO_MAX_BYTES + MULTIPART_OVERHEAD
    assert _refused(PHOTOS, photo_cap, "Bearer t") is None
    assert _refused(PHOTOS, photo_cap + 1, "Bearer t") == (413, "body_too_large")
    assert _refused(CLIPS, photo_cap + 1, "Bearer t") is None
    too_big = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    assert _refused(LOGIN, too_big, "") == (413, "body_too_large")
    assert _refused(LOGIN, 1000, "") is None


def test_the_refusal_is_a_complete_answer_in_the_error_shape_that_closes_the_connection() -> None:
    raw = refusal_response(413, "body_too_large", "Request bodies here are limited to 1 MB.")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"Connection: close" in head and f"Content-Length: {len(body)}".encode() in head
    assert json.loads(body) == {"code": "body_too_large", "message": "Request bodies here are limited to 1 MB.",
                                "fields": {}}
