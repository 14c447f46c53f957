"""Plate reads that hit nothing are kept SENSOR_READ_RETENTION_DAYS, then purged, and the purge is audited."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.sensors.models import PlateRead, SensorHeartbeat
from apps.sensors.tasks import plate_reads_purge_task
from tests.base import World
from tests.sensors.helpers import make_source, post_signed, sample_bytes, sample_json, stolen_list


def _read(alpr: object, n: int, plate: str) -> None:
    body = sample_json() | {"best_uuid": f"read-{n}", "best_plate_number": plate}
    assert post_signed(alpr, body).status_code == 202  # type: ignore[arg-type]


def test_old_reads_without_a_hit_are_purged_and_the_rest_kept(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SENSOR_READ_RETENTION_DAYS = 30
    stolen_list(world, ("A424761", "IN"))
    alpr = make_source(world, "alpr")
    _read(alpr, 1, "OLD0001")
    _read(alpr, 2, "A424761")  # a hit: kept whatever its age
    _read(alpr, 3, "NEW0003")
    post_signed(alpr, {"data_type": "heartbeat"})
    long_ago = timezone.now() - timedelta(days=31)
    PlateRead.objects.filter(event_id__in=["read-1", "read-2"]).update(received_at=long_ago)
    SensorHeartbeat.objects.update(received_at=long_ago)

    assert plate_reads_purge_task.delay().get() == 1
    assert set(PlateRead.objects.values_list("event_id", flat=True)) == {"read-2", "read-3"}
    assert not SensorHeartbeat.objects.exists()
    event = AuditEvent.objects.get(action="delete", object_type="sensors.plateread")
    assert event.actor is None and event.actor_username == "retention"
    assert event.detail["deleted"] == 1 and event.detail["retention_days"] == 30


def test_a_shorter_retention_purges_sooner(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SENSOR_READ_RETENTION_DAYS = 1
    alpr = make_source(world, "alpr")
    post_signed(alpr, sample_bytes())
    PlateRead.objects.update(received_at=timezone.now() - timedelta(days=2))
    assert plate_reads_purge_task.delay().get() == 1 and not PlateRead.objects.exists()


def test_a_purge_with_nothing_to_do_is_still_on_the_audit_trail(world: World) -> None:
    assert plate_reads_purge_task.delay().get() == 0
    assert AuditEvent.objects.filter(action="delete", object_type="sensors.plateread").count() == 1
