"""The test run's settings: production's (rtcc_server/settings.py), less what parallel workers must not share.

pytest-xdist workers (PYTEST_XDIST_WORKER gw0, gw1, ...) share one Redis but not one database: their user
ids collide, so each gets its own channel-layer prefix and wake channel, and its own cache database
(cache.clear() is FLUSHDB: one worker's setup would wipe another's throttle counters mid-test).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from rtcc_server.settings import *  # noqa: F403
from rtcc_server.settings import CACHES, CHANNEL_LAYERS, REDIS_URL, env_str

_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")

if _WORKER.removeprefix("gw").isdigit() and REDIS_URL:
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = "rtcc" + _WORKER
    _parts = urlsplit(REDIS_URL)
    CACHES["default"]["LOCATION"] = urlunsplit(
        (_parts.scheme, _parts.netloc, f"/{1 + int(_WORKER.removeprefix('gw'))}", _parts.query, ""))
    DELIVERY_WAKE_CHANNEL = env_str("RTCC_DELIVERY_WAKE_CHANNEL", f"rtcc{_WORKER}.wake")
