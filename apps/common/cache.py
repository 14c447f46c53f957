"""Django's Redis cache with one connection pool and one client per process, whatever the request's context."""

from __future__ import annotations

import threading
from typing import Any

import redis
from django.core.cache.backends.redis import RedisCache, RedisCacheClient


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


class _SharedClientCacheClient(RedisCacheClient):
    _clients: dict[redis.ConnectionPool, redis.Redis] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> redis.Redis:
        # Django builds a redis.Redis for every cache call (a few hundred microseconds: its response callbacks
        # copied into a new dict), two or three per throttled request. One per pool serves every thread.
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(pool)
        if client is None:
            client = self._clients.setdefault(pool, self._client(connection_pool=pool))  # type: ignore[attr-defined]
        return client


class SharedClientRedisCache(RedisCache):
    """Django's RedisCache (with SharedConnectionPool as its pool_class) keeping one client per pool."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _SharedClientCacheClient


def cache_take_many(keys: list[str]) -> dict[str, Any]:
    """Read and delete each key of the default cache at once: a key's value goes to one caller only.

    On Redis one round trip (GETDEL for every key in one pipeline), for the tickets of a whole
    reconnect storm; elsewhere (the embedded demo's local memory) a read and a delete per key, where
    the delete answers which of two racing callers removed the key.
    """
    from django.core.cache import cache

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
