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


def cache_take_many(keys: list[str]) -> dict[str, Any]:
    """Read and delete each key of the default cache at once: a key's value goes to one caller only.

    On Redis one round trip (GETDEL for every key in one pipeline), for the tickets of a whole
    reconnect storm; elsewhere (the embedded demo's local memory) a read and a delete per key, where
    the delete answers which of two racing callers removed the key.
    """
    from django.core.cache import cache
    from django.core.cache.backends.redis import RedisCache

    if not keys:
        return {}
    if isinstance(cache, RedisCache):
        backend: Any = cache._cache  # type: ignore[attr-defined]  # Django's cache API has no atomic take
        names = [cache.make_and_validate_key(key) for key in keys]
        pipe = backend.get_client(write=True).pipeline(transaction=False)
        for name in names:
            pipe.getdel(name)
        values = pipe.execute()
        return {key: backend._serializer.loads(value)
                for key, value in zip(keys, values, strict=True) if value is not None}
    found = cache.get_many(keys)
    return {key: value for key, value in found.items() if cache.delete(key)}
