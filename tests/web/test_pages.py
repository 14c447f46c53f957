"""The terminal and console shells: served to anyone, holding nothing but the page; the data comes from the API."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.base import World

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/terminal/", "/console/"])
def test_the_page_is_a_shell_with_a_strict_policy_and_no_case_data(world: World, path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    for record in (world.person.last_name, world.case.title, world.premise.address):
        assert record not in html
    assert "<script>" not in html, "no inline script: the policy would block it"
    assert 'for="username"' in html and 'for="password"' in html, "labelled sign-in controls"


def test_the_terminal_installs_as_an_app_whose_worker_caches_only_the_shell() -> None:
    manifest = json.loads(Client().get("/terminal/manifest.webmanifest").content)
    assert manifest["start_url"] == "/terminal/" and manifest["display"] == "standalone"
    worker = Client().get("/terminal/sw.js")
    assert worker["Service-Worker-Allowed"] == "/terminal/"
    body = worker.content.decode()
    assert "/api/" not in body and "/media/" not in body, "no API answer, photo or clip is ever cached"
    assert "FILES.includes(url.pathname)" in body


def test_api_answers_are_never_cached_by_a_browser(world: World) -> None:
    from tests.base import signed_in_client

    response = signed_in_client(world.omar).get(f"/api/v1/people/{world.person.pk}")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
