"""The CI run is on the real components, or it fails: never a silent fall-back to SQLite or in-memory.

PostgreSQL-only tests skip themselves when the database is not PostgreSQL. These
guards make sure that can only happen on a laptop: when DATABASE_URL (or REDIS_URL)
is set, the run must actually be on PostgreSQL and Redis, and both must answer.
"""

from __future__ import annotations

import asyncio
import os

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="DATABASE_URL not set: embedded run on SQLite")
def test_with_database_url_the_run_is_on_postgresql_with_redis_answering(db: None) -> None:
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert settings.REDIS_URL, "DATABASE_URL is set but REDIS_URL is not: CI runs on both"
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=5, socket_timeout=5)
    try:
        assert client.ping() is True
    finally:
        client.close()


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL not set: in-memory channel layer")
def test_with_redis_url_messages_round_trip_through_the_redis_channel_layer() -> None:
    from channels_redis.core import RedisChannelLayer

    layer = get_channel_layer()
    assert isinstance(layer, RedisChannelLayer)

    async def round_trip() -> dict[str, object]:
        try:
            channel = await layer.new_channel()
            await layer.send(channel, {"type": "guard.ping", "n": 42})
            return await asyncio.wait_for(layer.receive(channel), timeout=5)
        finally:
            await layer.close_pools()

    message = async_to_sync(round_trip)()

    assert message == {"type": "guard.ping", "n": 42}
