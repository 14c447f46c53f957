"""ASGI entry point: HTTP through Django, websockets through Channels.

The one websocket route is the event stream (docs/delivery.md); the Origin
header must name an allowed host.
"""

from __future__ import annotations

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rtcc_server.settings")
# Every ASGI server pools its PostgreSQL connections (settings.py says why); without the pool each HTTP
# request opened a connection of its own, a new PostgreSQL backend with cold caches (bench/dispatch.py).
os.environ.setdefault("RTCC_DB_POOL_SIZE", "10")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import get_resolver, path  # noqa: E402

from mobile_api.v1.consumers import StreamConsumer  # noqa: E402

websocket_urlpatterns = [path("ws/v1/stream", StreamConsumer.as_asgi())]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)

# What start-up loaded (Django, the URLconf and every view it imports) lives as long as the process: take
# it out of the cycle collector's scans. A full collection walked it all, stalling every socket of the
# process for ~100 ms in the middle of a broadcast (bench/fanout.py's slowest pushes); now it walks only
# what came after.
get_resolver().url_patterns  # noqa: B018  import the views now, not on the first request
gc.collect()
gc.freeze()
