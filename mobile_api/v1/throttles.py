"""The v1 throttles: per client address (apps/common/addresses.py), per user, per sign-in username, per sensor source.

Throttle counters live in the cache (Redis in production). Redis only wakes sockets and counts; the
record is PostgreSQL. So a throttle whose cache is unreachable lets the request through and says so
at WARNING, instead of answering 500 to a push the database could have stored (the fault run: 11 of
15 pushes failed while Redis was down).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle, UserRateThrottle

from apps.common.addresses import client_address

logger = logging.getLogger(__name__)


class FailOpen:
    """A throttle that allows the request when its counter cannot be read or written."""

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return bool(super().allow_request(request, view))  # type: ignore[misc]
        except (RedisError, OSError) as exc:
            logger.warning("Throttle %s not applied: its cache is unreachable (%s)", type(self).__name__,
                           type(exc).__name__)
            return True


class _ByClientAddress:
    def get_ident(self, request: Request) -> str:
        return client_address(request.META) or ""


class UserThrottle(FailOpen, _ByClientAddress, UserRateThrottle):
    """RTCC_THROTTLE_USER per signed-in user (per client address before sign-in)."""


class LoginThrottle(FailOpen, _ByClientAddress, ScopedRateThrottle):
    """RTCC_THROTTLE_LOGIN per client address, for the views whose throttle_scope is "login"."""

    scope_attr = "throttle_scope"


class LoginUsernameThrottle(FailOpen, SimpleRateThrottle):
    """RTCC_THROTTLE_LOGIN_USERNAME per username, whatever address it comes from: password spraying
    from many addresses at one account is slowed before the account's lockout ends it."""

    scope = "login_username"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        data = request.data
        username = data.get("username") if isinstance(data, dict) else None
        if not isinstance(username, str) or not username:
            return None  # the serializer refuses it
        # The username is hashed: the cache holds no list of who tried to sign in.
        digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": digest}


class _FixedWindow(SimpleRateThrottle):
    """A counter that starts with the first request and lasts the rate's period, not DRF's sliding window.

    That one keeps a list of every request's time in the cache and reads and writes it whole on each
    request: up to 6,000 pickled floats per plate read at the default sensor rate. This is one INCR.
    """

    num_requests: int  # set from the rate by SimpleRateThrottle.__init__
    duration: int

    def allow_request(self, request: Request, view: Any) -> bool:
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        if self.cache.add(key, 1, timeout=self.duration):
            return True
        try:
            count = self.cache.incr(key)
        except ValueError:  # the period ended between the two calls: this request opens the next one
            self.cache.add(key, 1, timeout=self.duration)
            return True
        return bool(count <= self.num_requests)

    def wait(self) -> float:
        # The counter's age is not kept: at most a whole period.
        return float(self.duration)


class SourceThrottle(FailOpen, _FixedWindow):
    """RTCC_SENSOR_THROTTLE_RATE per sensor source, counted only for requests whose signature checked out
    (the view sets `request.sensor_source` then), so nobody can use up a source's allowance without its secret."""

    def get_rate(self) -> str:
        if not settings.SENSOR_THROTTLE_RATE:
            raise ImproperlyConfigured("RTCC_SENSOR_THROTTLE_RATE must be a rate such as 6000/min.")
        return str(settings.SENSOR_THROTTLE_RATE)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        source = getattr(request, "sensor_source", None)
        return None if source is None else f"throttle_sensor_{source.pk}"
