from __future__ import annotations

from apps.cases.models import Premise
from apps.places.geo import geohash_encode
from apps.places.selectors import nearest, within_radius
from tests.base import World

# Rainier Ave S & S Henderson St, Seattle, and points roughly 100 m, 400 m and 3 km from it.
ORIGIN = (47.5224, -122.2696)
POINTS = {"100 m": (47.5233, -122.2696), "400 m": (47.5260, -122.2696), "3 km": (47.5494, -122.2696)}


def _premises(world: World) -> dict[str, Premise]:
    return {name: Premise.objects.create(agency=world.agency, address=name, latitude=lat, longitude=lon,
                                         cell=geohash_encode(lat, lon)) for name, (lat, lon) in POINTS.items()}


def test_a_radius_lookup_finds_exactly_the_premises_inside_nearest_first(world: World) -> None:
    premises = _premises(world)
    found = within_radius(Premise.objects.all(), latitude=ORIGIN[0], longitude=ORIGIN[1], radius_m=500)
    assert [p.address for p, _ in found] == ["100 m", "400 m"]
    assert 90 < found[0][1] < 110
    assert premises["3 km"] not in [p for p, _ in found]


def test_nearest_widens_its_search_until_it_finds_enough(world: World) -> None:
    _premises(world)
    found = nearest(Premise.objects.all(), latitude=ORIGIN[0], longitude=ORIGIN[1], limit=3)
    assert [p.address for p, _ in found] == ["100 m", "400 m", "3 km"]
    assert nearest(Premise.objects.all(), latitude=ORIGIN[0], longitude=ORIGIN[1], max_radius_m=1000, limit=3)[-1][
        0].address == "400 m"
