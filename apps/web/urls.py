from __future__ import annotations

from django.urls import path

from apps.web import views

app_name = "web"

urlpatterns = [
    path("terminal/", views.TerminalView.as_view(), name="terminal"),
    path("terminal/manifest.webmanifest", views.terminal_manifest, name="terminal-manifest"),
    path("terminal/sw.js", views.terminal_service_worker, name="terminal-sw"),
    path("console/", views.ConsoleView.as_view(), name="console"),
    path("map/basemap/<int:z>/<int:x>/<int:y>.json", views.basemap_tile_view, name="basemap-tile"),
]
