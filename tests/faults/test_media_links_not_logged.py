"""A signed media link's token never appears in the server's log (the access log redacts it).

The outside probe's finding: `GET /api/v1/photos/<signed token>` in the access log, and the path
replayed without a token returned the photo.
"""

from __future__ import annotations

import httpx

from apps.media.links import media_token_make
from tests.harness.processes import Stack


def test_the_access_log_shows_a_signed_link_without_its_token(stack: Stack) -> None:
    web = stack.daphne()
    assert web.port
    token = media_token_make(kind="photo", object_id=1, session_id=1, variant="phone")
    clip = media_token_make(kind="clip", object_id=1, session_id=1, variant="360p")
    with httpx.Client(timeout=30, trust_env=False) as http:
        assert http.get(f"http://127.0.0.1:{web.port}/api/v1/photos/{token}").status_code in {403, 404}
        http.get(f"http://127.0.0.1:{web.port}/api/v1/media/clips/{clip}", headers={"Range": "bytes=0-99"})
        http.get(f"http://127.0.0.1:{web.port}/healthz")
    web.wait_for_log('"GET /healthz"', timeout=10)
    log = web.log()
    assert token not in log and clip not in log
    assert '"GET /api/v1/photos/[link]"' in log
