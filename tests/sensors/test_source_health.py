"""A source that goes silent raises one health alert; speaking again clears it."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.delivery.models import Event
from apps.sensors.models import Alert, SensorSource
from apps.sensors.services import sources_silence_check
from tests.base import World
from tests.sensors.helpers import make_source, post_signed


def test_a_silent_source_raises_one_health_alert_for_the_analysts(world: World) -> None:
    alpr = make_source(world, "alpr", name="Rainier & Othello ALPR")
    SensorSource.objects.filter(pk=alpr.source.pk).update(last_seen_at=timezone.now() - timedelta(hours=1))
    (alert_id,) = sources_silence_check()
    assert sources_silence_check() == []  # still silent: no second alert
    alert = Alert.objects.get(pk=alert_id)
    assert alert.kind == "source_silent" and alert.detail["source_name"] == "Rainier & Othello ALPR"
    assert set(Event.objects.filter(type="alert").values_list("user__username", flat=True)) == {"ava", "sam"}


def test_a_source_that_speaks_again_can_raise_a_new_alert_later(world: World) -> None:
    alpr = make_source(world, "alpr")
    SensorSource.objects.filter(pk=alpr.source.pk).update(last_seen_at=timezone.now() - timedelta(hours=1))
    sources_silence_check()
    post_signed(alpr, {"data_type": "heartbeat"})
    alpr.source.refresh_from_db()
    assert alpr.source.silent_since is None
    assert sources_silence_check(now=timezone.now() + timedelta(hours=1)) != []


def test_a_source_heard_recently_is_fine(world: World) -> None:
    alpr = make_source(world, "alpr")
    post_signed(alpr, {"data_type": "heartbeat"})
    assert sources_silence_check() == []
