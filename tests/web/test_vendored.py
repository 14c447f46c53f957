"""The vendored map library: what npm shipped, with its licence, served gzipped from its precompressed copy."""

from __future__ import annotations

import gzip
from pathlib import Path

from django.conf import settings
from django.test import Client

LEAFLET = Path(settings.BASE_DIR) / "apps/web/static/web/vendor/leaflet-1.9.4"


def test_each_precompressed_copy_is_exactly_the_file_beside_it() -> None:
    for name in ("leaflet.js", "leaflet.css"):
        assert gzip.decompress((LEAFLET / f"{name}.gz").read_bytes()) == (LEAFLET / name).read_bytes(), name
    assert "BSD 2-Clause" in (LEAFLET / "LICENSE").read_text()
    assert "leaflet@1.9.4" in (LEAFLET.parent / "VENDORED.md").read_text()


def test_the_library_reaches_a_browser_gzipped() -> None:
    response = Client().get("/static/web/vendor/leaflet-1.9.4/leaflet.js", HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    assert int(response["Content-Length"]) < 45 * 1024
