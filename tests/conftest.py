from __future__ import annotations

import tempfile

import pytest
from django.conf import settings

from tests.base import World, make_world


@pytest.fixture(autouse=True)
def _fast_passwords(settings):  # type: ignore[no-untyped-def]
    # Real hashing costs ~0.3 s a login; tests log in hundreds of times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path, tmp_path_factory, monkeypatch):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    # Temp files per test: "nothing left behind" checks must not see another xdist worker's job 1.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path_factory.mktemp("scratch")))


@pytest.fixture(autouse=True)
def _clear_cache():  # type: ignore[no-untyped-def]
    # Throttle counters live in the cache; each test starts with none.
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True, scope="session")
def _tasks_in_process():  # type: ignore[no-untyped-def]
    # With REDIS_URL set the app sends tasks to Redis for a worker; the suite has no worker, so
    # tasks run in the test's process (after commit, as in production).
    from rtcc_server.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


@pytest.fixture(autouse=True, scope="session")
def _stream_threads_let_go(django_db_setup):  # type: ignore[no-untyped-def]
    # Set up after the test database, so torn down before it is dropped: the stream sockets' threads
    # keep persistent connections, which would stop the drop.
    yield
    from apps.delivery.stream import stream_db_close

    stream_db_close()


@pytest.fixture
def world(db) -> World:  # type: ignore[no-untyped-def]
    return make_world()


@pytest.fixture
def fcm(settings):  # type: ignore[no-untyped-def]
    """The FCM HTTP v1 fake (tests/fakes/fcm_server.py) with the settings pointing at it, for one test.

    tests/delivery/test_fcm.py and tests/faults keep their own (one fake per module, a fake in a process)."""
    from tests.fakes.fcm_server import FakeFCM

    with FakeFCM() as fake:
        settings.FCM_PROJECT_ID = fake.project_id
        settings.FCM_ENDPOINT = fake.url
        settings.FCM_TIMEOUT_SECONDS = 2
        yield fake


def pytest_report_header(config):  # type: ignore[no-untyped-def]
    database = settings.DATABASES["default"]["ENGINE"]
    return f"database: {database}; channel layer: {settings.CHANNEL_LAYERS['default']['BACKEND']}"
