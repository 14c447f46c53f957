"""Fault tests: real Daphne, Celery worker, dispatcher and redis-server processes, killed on purpose.

They need PostgreSQL and Redis (DATABASE_URL and REDIS_URL, as in `.ci/run`) and
are skipped without them. Every test is a `transaction=True` test: what it writes
commits at once, so the server processes it starts (on the test database, and a
redis-server of the test's own on a free port) see it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from apps.delivery import wake
from tests.harness.processes import Stack, database_url_for

HERE = Path(__file__).resolve().parent
SERVICES = bool(os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    for item in items:
        if HERE not in Path(str(item.fspath)).resolve().parents:
            continue
        item.add_marker(pytest.mark.django_db(transaction=True))
        if not SERVICES:
            item.add_marker(pytest.mark.skip(reason="fault tests need DATABASE_URL and REDIS_URL (PostgreSQL, Redis)"))


@pytest.fixture
def stack(db: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """A redis-server of the test's own; the test process publishes its wakes there too."""
    url = database_url_for(os.environ["DATABASE_URL"], connection.settings_dict["NAME"])
    with Stack(database_url=url) as processes:
        processes.redis()
        settings.REDIS_URL = processes.redis_url
        settings.DELIVERY_WAKE_CHANNEL = processes.wake_channel
        monkeypatch.setattr(wake, "_redis_client", None)
        yield processes
        # Server processes go before pytest-django empties the tables under them.
    monkeypatch.setattr(wake, "_redis_client", None)
