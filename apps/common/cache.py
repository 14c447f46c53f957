"""One Redis connection pool per process for Django's cache, whatever the request's context."""

from __future__ import annotations

import threading
from typing import Any

import redis


class SharedConnectionPool(redis.ConnectionPool):
    """`from_url` hands every caller the same pool for the same URL.

    Django keeps cache objects per async context, so under ASGI each request
    builds a new RedisCache, a new pool and a new TCP connection to Redis (a
    connect on every throttled or ticketed request). The pool itself is
    thread-safe and notices a fork.
    """

    _shared: dict[str, redis.ConnectionPool] = {}
    _shared_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Any:
        with cls._shared_lock:
            pool = cls._shared.get(url)
            if pool is None:
                pool = cls._shared[url] = super().from_url(url, **kwargs)
            return pool
