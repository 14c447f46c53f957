"""ASGI entry point: HTTP through Django, websockets through Channels.

The one websocket route is the event stream (docs/delivery.md); the Origin
header must name an allowed host.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import sys
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponseBase

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rtcc_server.settings")


class SyncChainASGIHandler(ASGIHandler):
    """Django's ASGI handler with the middleware chain and the view in one thread hop.

    Every view and middleware here is synchronous. Django's own ASGI handler runs
    the chain in async mode, where each of Django's middlewares moves to a thread
    and back for its request half and again for its response half: about fourteen
    hops per request, 3.5 ms of CPU for a bare /healthz, most of it thread wake-ups
    on a loop that also serves the sockets. This runs the chain as WSGI does, in
    the request's thread; reading the body and sending the response stay async.
    """

    def __init__(self) -> None:
        django_handler_fits()
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # As Django's own, with the request's thread one of the process's request threads instead of one started
        # for it (and a second started to join it afterwards): in a reconnect storm, a thousand ticket requests
        # started two thousand threads on the loop that serves the sockets (bench/reconnect_storm.py).
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = await _request_threads.take()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            _request_threads.give(executor)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        return response


class _RequestThreads:
    """A fixed set of request threads, as a WSGI server has: each request's sync work runs on one thread of its
    own, as under ThreadSensitiveContext(), and a request that finds them all busy waits for one. Django started
    (and joined) a thread per request: in a reconnect storm, hundreds at once on the loop that serves the sockets,
    each then queueing for one of the process's ten database connections."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._made = 0
        self._idle: list[ThreadPoolExecutor] = []
        self._waiting: deque[asyncio.Future[ThreadPoolExecutor]] = deque()
        self._lock = threading.Lock()  # a test process runs event loops on several threads

    async def take(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            if self._made < self.size:
                self._made += 1
                return ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
            turn: asyncio.Future[ThreadPoolExecutor] = asyncio.get_running_loop().create_future()
            self._waiting.append(turn)
        try:
            return await turn
        except asyncio.CancelledError:  # the client left; a thread handed over meanwhile goes to the next
            if turn.done() and not turn.cancelled():
                self.give(turn.result())
            raise

    def give(self, executor: ThreadPoolExecutor) -> None:
        with self._lock:
            while self._waiting:
                turn = self._waiting.popleft()
                if not turn.done():
                    turn.get_loop().call_soon_threadsafe(self._hand, turn, executor)
                    return
            self._idle.append(executor)

    def _hand(self, turn: asyncio.Future[ThreadPoolExecutor], executor: ThreadPoolExecutor) -> None:
        if turn.done():  # cancelled on its way
            self.give(executor)
        else:
            turn.set_result(executor)


def django_handler_fits() -> None:
    """Fail at start-up, loudly, if Django's ASGI handler no longer has the shape SyncChainASGIHandler needs.

    It skips ASGIHandler.__init__ (which loads the chain in async mode), relies on Django awaiting
    `get_response_async` for every request, and replaces `__call__`, which only wraps `handle` in a
    thread-sensitive context. Written against Django 5.2: a version whose __init__ sets
    up more, or that stops calling get_response_async, would serve requests half set up or through
    the async chain without saying so.
    """
    init = inspect.getsource(ASGIHandler.__init__).split(":", 1)[1].split()
    calls = inspect.getsource(ASGIHandler)
    enter = inspect.getsource(ASGIHandler.__call__)
    if init != ["super().__init__()", "self.load_middleware(is_async=True)"] \
            or "await self.get_response_async(request)" not in calls \
            or "async with ThreadSensitiveContext():\n            await self.handle(scope, receive, send)" not in enter:
        raise RuntimeError("Django's ASGIHandler changed shape; check SyncChainASGIHandler in rtcc_server/asgi.py")


# Settings loaded from here know they serve ASGI (settings.ASGI_SERVER): this process pools its PostgreSQL
# connections, as every ASGI server must (settings.py says why).
django.setup(set_prefix=False)

from apps.common.intake import install_bounded_requests, spooled_body  # noqa: E402
from apps.common.redaction import install_redacted_access_log  # noqa: E402

# Bodies are bounded by Daphne's request object from their headers, before they are read (apps/common/intake.py).
install_bounded_requests()
# Signed media links are credentials while they live: Daphne's access log shows them as [link].
install_redacted_access_log()
from django.conf import settings  # noqa: E402

_request_threads = _RequestThreads(settings.ASGI_REQUEST_THREADS)
django_asgi_app = spooled_body(SyncChainASGIHandler())

from apps.delivery.stream import autobahn_log_arguments_lazy  # noqa: E402

autobahn_log_arguments_lazy()

from urllib.parse import urlparse  # noqa: E402

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import OriginValidator, WebsocketDenier  # noqa: E402
from django.urls import get_resolver, path  # noqa: E402

from mobile_api.v1.consumers import StreamConsumer  # noqa: E402

websocket_urlpatterns = [path("ws/v1/stream", StreamConsumer.as_asgi())]


class _Denier(WebsocketDenier):
    # No channel layer, like the stream itself: the stock denier opened a Redis receive that nobody
    # read, which timed out seconds after the refusal with an ERROR traceback.
    channel_layer_alias = StreamConsumer.channel_layer_alias


class OwnHostsOriginValidator(OriginValidator):
    """Channels' AllowedHostsOriginValidator (the Origin must name one of ALLOWED_HOSTS), refusing quietly."""

    def __init__(self, application: Any) -> None:
        super().__init__(application, settings.ALLOWED_HOSTS)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        origin = next((value for name, value in scope.get("headers", []) if name == b"origin"), None)
        try:
            parsed = urlparse(origin.decode("latin1")) if origin is not None else None
        except UnicodeDecodeError:
            parsed = None
        if self.valid_origin(parsed):
            return await self.application(scope, receive, send)
        return await _Denier()(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OwnHostsOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)

# What start-up loaded (Django, the URLconf and every view it imports) lives as long as the process: take
# it out of the cycle collector's scans. A full collection walked it all, stalling every socket of the
# process for ~100 ms in the middle of a broadcast (bench/fanout.py's slowest pushes); now it walks only
# what came after.
get_resolver().url_patterns  # noqa: B018  import the views now, not on the first request
gc.collect()

# One server process runs a busy event loop (the sockets) beside threads that wait on the database (the views,
# the stream's batches). Each query hands the GIL over, and getting it back waits until the loop thread gives it
# up: by default every 5 ms. Under a city's live positions an officer's emergency request (two dozen queries)
# spent most of its time in that queue before the first terminal heard of it (bench/avl.py). Only a server:
# a test process that imports this module keeps Python's own interval.
if settings.ASGI_SERVER:
    sys.setswitchinterval(settings.ASGI_GIL_SWITCH_MS / 1000)
gc.freeze()
