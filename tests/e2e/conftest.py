"""Browser end-to-end tests: Debian's Chromium, driven by Playwright, against Daphne on PostgreSQL and Redis.

They run in `.ci/run` (which installs Chromium) and are skipped only in the
embedded run without DATABASE_URL and REDIS_URL. With the services set, a
missing browser fails them: CI must not pass by skipping.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import global_settings
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.utils.module_loading import import_string

from apps.accounts.models import User
from apps.delivery import wake
from tests.base import PASSWORD, World
from tests.e2e.proxy import CuttableLink
from tests.harness.processes import Stack, database_url_for

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE.parent / "artifacts"
SERVICES = bool(os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
CHROMIUM = os.environ.get("RTCC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--autoplay-policy=no-user-gesture-required"]


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    for item in items:
        if HERE not in Path(str(item.fspath)).resolve().parents:
            continue
        item.add_marker(pytest.mark.django_db(transaction=True))
        if not SERVICES:
            item.add_marker(pytest.mark.skip(reason="browser tests need DATABASE_URL and REDIS_URL, as in .ci/run"))


@dataclass
class Site:
    url: str  # through the cuttable link: what the officer's browser uses
    direct: str  # straight to Daphne: what the analyst's desktop uses
    link: CuttableLink
    stack: Stack


def _real_passwords(settings: Any) -> None:
    """The suite hashes with MD5 for speed; the server process checks with the production hashers.

    One production hash serves every user and every test: PBKDF2 costs over half a second a hash here,
    which per user per test was seconds of each browser test's setup.
    """
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    User.objects.update(password=_production_hash())


@functools.cache
def _production_hash() -> str:
    return make_password(PASSWORD, hasher=import_string(global_settings.PASSWORD_HASHERS[0])())


@pytest.fixture
def site(world: World, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """Daphne on the test database (tasks in process), and a link to it a test can cut."""
    _real_passwords(settings)
    url = database_url_for(os.environ["DATABASE_URL"], connection.settings_dict["NAME"])
    with Stack(database_url=url, redis_url=os.environ["REDIS_URL"],
               extra_env={"CELERY_TASK_ALWAYS_EAGER": "1"}) as stack:
        # What the test process writes (notes, clips) wakes the server's sockets and lands in its media folder.
        settings.DELIVERY_WAKE_CHANNEL = stack.wake_channel
        settings.MEDIA_ROOT = stack.workdir / "var" / "media"
        monkeypatch.setattr(wake, "_redis_client", None)
        daphne = stack.daphne()
        link = CuttableLink(int(daphne.port or 0))
        try:
            yield Site(url=f"http://127.0.0.1:{link.port}", direct=f"http://127.0.0.1:{daphne.port}", link=link,
                       stack=stack)
        finally:
            link.close()
    monkeypatch.setattr(wake, "_redis_client", None)


@pytest.fixture
def browser(site: Site, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Chromium for one test, closed before the database is emptied."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `apt-get install chromium` (.ci/run does)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make between
    # browser steps are plain synchronous code all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
