"""The demo registry: Seattle's 135 real traffic cameras, loaded once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from django.conf import settings

from apps.cameras.models import Camera
from fixtures.demo_cameras import demo_cameras_load
from tests.base import World


def test_the_seattle_cameras_are_loaded_once_with_their_owners_and_policies(world: World) -> None:
    # tests.base's Demo City has the demo ORI, so the loader finds it (without live calls: no extras).
    assert demo_cameras_load() == 135
    cameras = Camera.objects.filter(agency=world.agency)
    assert cameras.count() == 135
    assert Counter(cameras.values_list("owner_kind", "sharing", "source_kind")) == {
        ("city_department", "always", "rtmp"): 114, ("public_partner", "active_call_nearby", "snapshot"): 21}
    assert len(set(cameras.values_list("external_id", flat=True))) == 135
    positions = list(cameras.values_list("latitude", "longitude"))
    assert all(lat is not None and lon is not None and 47.4 < lat < 47.8 and -122.5 < lon < -122.2
               for lat, lon in positions)
    henderson = cameras.get(name="Rainier Ave S & S Henderson St")
    assert (henderson.latitude, henderson.longitude) == (47.52345, -122.26989) and henderson.cell
    assert demo_cameras_load() == 0 and cameras.count() == 135


def test_the_data_file_has_its_row_in_sources() -> None:
    sources = (Path(settings.BASE_DIR) / "fixtures/data/SOURCES.md").read_text()
    assert "`cameras/seattle_sdot_traffic_cameras.json`" in sources
