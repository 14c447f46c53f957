"""The demo city's sensors load once, and a plate typed with a misreadable O still hits."""

from __future__ import annotations

from apps.sensors.models import HotListEntry, SensorSource
from apps.sensors.services import hot_list_match
from fixtures.demo_sensors import demo_sensors_load
from tests.base import World


def test_the_demo_sensors_load_once(world: World) -> None:
    assert demo_sensors_load() == 4
    assert demo_sensors_load() == 0
    assert SensorSource.objects.filter(agency=world.agency).count() == 4
    assert HotListEntry.objects.count() == 8
    (hit,) = hot_list_match(agency_id=world.agency.pk, plate="A0K1008", region="WA")
    assert hit.match_type == "confusable"
