from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from mobile_api.errors import json_bad_request, json_not_found, json_server_error


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("", RedirectView.as_view(url="/api/v1/docs/", permanent=False)),
    path("healthz", healthz),
    path("api/v1/", include("mobile_api.v1.urls")),
    # The in-car terminal and the analyst console: browser clients of the same API (apps/web).
    path("", include("apps.web.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its script from a URL of its own: the page needs no inline script (CSP).
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    # Administrators only, with password and TOTP code (apps/accounts/admin_site.py).
    path("admin/", admin.site.urls),
]

handler400 = json_bad_request
handler404 = json_not_found
handler500 = json_server_error
