"""The offline basemap: the demo city's streets as small gzipped tiles, public and cacheable; tiles are a setting."""

from __future__ import annotations

import gzip
import json

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

from apps.web.basemap import OVERVIEW_ZOOM, STREET_ZOOM, tile_of
from rtcc_server.settings import env_tile_url

# Downtown Seattle (3rd Ave & Pine St) and Midtown Manhattan (W 34th St & 8th Ave).
SEATTLE = (-122.3389, 47.6105)
MANHATTAN = (-73.9935, 40.7506)


def _tile(client: Client, zoom: int, point: tuple[float, float], **headers: str) -> object:
    x, y = tile_of(*point, zoom)
    return client.get(f"/map/basemap/{zoom}/{x}/{y}.json", **headers)


def test_a_street_tile_of_downtown_seattle_holds_its_streets_gzipped_and_small() -> None:
    response = _tile(Client(), STREET_ZOOM, SEATTLE, HTTP_ACCEPT_ENCODING="gzip, br")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip" and response["Vary"] == "Accept-Encoding"
    assert len(response.content) < 20 * 1024, "what a phone downloads per tile"
    streets = json.loads(gzip.decompress(response.content))["streets"]
    assert len(streets) > 200
    lons, lats = streets[0][0::2], streets[0][1::2]
    assert all(-122.42 < lon < -122.26 for lon in lons) and all(47.57 < lat < 47.65 for lat in lats)


def test_the_overview_has_seattles_arterials_and_new_yorks_area_outlines() -> None:
    client = Client()
    seattle = json.loads(_tile(client, OVERVIEW_ZOOM, SEATTLE).content)
    assert seattle["arterials"] and seattle["parks"]
    manhattan = json.loads(_tile(client, OVERVIEW_ZOOM, MANHATTAN).content)
    assert manhattan["areas"], "the health areas' outlines: the only New York shapes the repo has"


def test_tiles_are_public_and_cacheable_unlike_the_pages() -> None:
    response = _tile(Client(), STREET_ZOOM, SEATTLE)
    assert response.status_code == 200, "no sign-in: street geometry is public data"
    assert response["Cache-Control"] == "public, max-age=86400"


def test_a_tile_outside_the_grid_or_at_another_zoom_is_not_found() -> None:
    for path in ("/map/basemap/13/1310/2860.json", f"/map/basemap/{STREET_ZOOM}/99999/1.json"):
        assert Client().get(path).status_code == 404


def test_a_place_without_data_gets_an_empty_tile() -> None:
    assert json.loads(_tile(Client(), STREET_ZOOM, (0.0, 0.0)).content) == {}


def _map_settings(html: str) -> dict[str, object]:
    start = html.index('<script id="map-settings" type="application/json">')
    return dict(json.loads(html[html.index(">", start) + 1:html.index("</script>", start)]))


def test_without_a_tile_server_the_pages_draw_the_offline_basemap() -> None:
    html = Client().get("/console/").content.decode()
    assert _map_settings(html)["url"] == "" and _map_settings(html)["basemap"] == "/map/basemap/"
    assert "vendor/leaflet-1.9.4/leaflet.js" in html


@override_settings(MAP_TILE_URL="https://tiles.example.gov/{z}/{x}/{y}.png", MAP_TILE_ATTRIBUTION="© Example")
def test_an_agencys_tile_server_is_passed_to_the_page_and_allowed_for_images_only() -> None:
    response = Client().get("/terminal/")
    assert _map_settings(response.content.decode()) == {"url": "https://tiles.example.gov/{z}/{x}/{y}.png",
                                                        "attribution": "© Example"}
    policy = response["Content-Security-Policy"]
    assert "img-src 'self' blob: data: https://tiles.example.gov;" in policy
    assert "script-src 'self';" in policy and "connect-src 'self';" in policy


@pytest.mark.parametrize("url", ["ftp://tiles.example.gov/{z}/{x}/{y}.png", "https://tiles.example.gov/tile.png",
                                 "/{z}/{x}/{y}.png"])
def test_a_tile_server_setting_that_cannot_work_stops_the_start(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTCC_MAP_TILES", url)
    with pytest.raises(ImproperlyConfigured, match="RTCC_MAP_TILES must be an http"):
        env_tile_url("RTCC_MAP_TILES")
    monkeypatch.setenv("RTCC_MAP_TILES", "https://{s}.tiles.example.gov/{z}/{x}/{y}.png")
    assert env_tile_url("RTCC_MAP_TILES") == "https://{s}.tiles.example.gov/{z}/{x}/{y}.png"
