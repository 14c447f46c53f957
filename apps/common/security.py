"""A Content-Security-Policy on every HTML page that does not set a stricter one of its own.

The in-car terminal and the console set theirs (apps/web/views.py); this covers the rest: the API
docs (where users paste tokens), the admin site, Django's error pages. Nothing from another origin,
no inline script; websockets only to our own host ('self' covers ws:/wss: of the same origin).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

DEFAULT_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html") and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = DEFAULT_CONTENT_SECURITY_POLICY
        return response
