"""The in-car terminal (/terminal/) and the analyst console (/console/), in the browser.

Server-rendered shells; everything they show comes from the same /api/v1 endpoints
and /ws/v1/stream protocol the phones use (docs/delivery.md), with the same
permission checks: the browser is just another client. The pages hold no case data.
"""

from __future__ import annotations

import asyncio
import gzip
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.templatetags.static import static
from django.views.generic import TemplateView

from apps.web.basemap import basemap_info, basemap_tile

# No inline script or style, nothing from another origin: a stored note rendered by mistake cannot run.
# The one exception is the agency's own map tile server (RTCC_MAP_TILE_URL), for images only.
# connect-src 'self' covers the stream's ws:/wss: on our own host only (CSP Level 3).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:%(tiles)s; "
    "media-src 'self'; connect-src 'self'; worker-src 'self'; manifest-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# Basemap tiles hold public street geometry only: cacheable for a day, unlike everything else here.
BASEMAP_MAX_AGE_SECONDS = 24 * 3600


def _tile_origin() -> str:
    parts = urlsplit(settings.MAP_TILE_URL)
    # A template may put {s} (subdomains) in the host: allow the host's parent then.
    host = parts.netloc.replace("{s}.", "*.") if "{s}" in parts.netloc else parts.netloc
    return f" {parts.scheme}://{host}" if settings.MAP_TILE_URL else ""


def _hardened(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY % {"tiles": _tile_origin()}
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class _Page(TemplateView):
    page = ""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        # What map.js needs: the agency's tile server if set, else the offline basemap (apps/web/basemap.py).
        tiles = {"url": settings.MAP_TILE_URL, "attribution": settings.MAP_TILE_ATTRIBUTION} if settings.MAP_TILE_URL \
            else {"url": "", "basemap": "/map/basemap/", **basemap_info()}
        return {**super().get_context_data(**kwargs), "page": self.page, "map_settings": tiles}

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _hardened(super().get(request, *args, **kwargs))


class TerminalView(_Page):
    """The officer's in-car terminal: the active call's briefing, live, in large type."""

    template_name = "web/terminal.html"
    page = "terminal"


class ConsoleView(_Page):
    """The analyst's console: active calls, briefings with their reasons, pushes and their receipts."""

    template_name = "web/console.html"
    page = "console"


def terminal_manifest(request: HttpRequest) -> JsonResponse:
    """Installable as an app on the in-car laptop (PWA)."""
    return JsonResponse({
        "name": "RTCC Relay terminal", "short_name": "RTCC", "start_url": "/terminal/", "scope": "/terminal/",
        "display": "standalone", "background_color": "#101418", "theme_color": "#101418",
        "icons": [{"src": static("web/icon.svg"), "sizes": "any", "type": "image/svg+xml"}],
    }, content_type="application/manifest+json")


# The worker caches the page shell and its static files only. API answers, photos and clips never pass
# through its cache (CJIS: nothing with case data stays on the device after the session ends).
_SERVICE_WORKER = """\
const SHELL = "rtcc-shell-v1";
const FILES = ["/terminal/", %(files)s];
self.addEventListener("install", (e) => e.waitUntil(caches.open(SHELL).then((c) => c.addAll(FILES))));
self.addEventListener("activate", (e) => e.waitUntil(caches.keys().then((keys) =>
  Promise.all(keys.filter((k) => k !== SHELL).map((k) => caches.delete(k))))));
self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || !FILES.includes(url.pathname)) return;
  e.respondWith(fetch(e.request).catch(() => caches.match(e.request)));
});
"""


def terminal_service_worker(request: HttpRequest) -> HttpResponse:
    files = ", ".join(f'"{static(name)}"' for name in ("web/rtcc.js", "web/terminal.js", "web/avl.js", "web/style.css",
                                                          "web/icon.svg", "web/map.js", "web/bolos.js", "web/bolos.css",
                                                          "web/vendor/leaflet-1.9.4/leaflet.js",
                                                          "web/vendor/leaflet-1.9.4/leaflet.css"))
    response = HttpResponse(_SERVICE_WORKER % {"files": files}, content_type="text/javascript")
    response["Service-Worker-Allowed"] = "/terminal/"
    return _hardened(response)


async def basemap_tile_view(request: HttpRequest, z: int, x: int, y: int) -> HttpResponse:
    """One tile of the offline basemap as JSON (apps/web/basemap.py): public street data, no sign-in.

    Async, and the first build runs in a thread of its own: the sync views share one thread under
    Daphne, and two seconds of cutting tiles there would hold up every API request behind it.
    """
    body = await asyncio.to_thread(basemap_tile, zoom=z, x=x, y=y)
    if body is None:
        raise Http404("No such tile.")
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(body, content_type="application/json")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(gzip.decompress(body), content_type="application/json")
    response["Cache-Control"] = f"public, max-age={BASEMAP_MAX_AGE_SECONDS}"
    response["Vary"] = "Accept-Encoding"
    response["X-Content-Type-Options"] = "nosniff"
    return response
