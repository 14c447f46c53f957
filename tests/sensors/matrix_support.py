"""The sensor records and requests tests/api/test_access_matrix.py tries every persona against.

Webhooks ignore the persona (a sensor has no user): each is tried signed, unsigned
and signed with another source's secret, and only the first may store anything.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.sensors import plates
from apps.sensors.models import Alert, HotList, HotListEntry, PlateRead, SensorSource
from apps.sensors.services import sensor_source_create
from apps.sensors.signing import signature_make
from tests.base import World

SECRETS: dict[int, str] = {}
WEBHOOKS = {"sensors_webhook_alpr": "alpr_source", "sensors_webhook_gunshot": "gunshot_source",
            "sensors_webhook_analytics": "analytics_source"}
NEW_LIST = "Matrix new list"
SNAPSHOT_BYTES = b"\xff\xd8\xff\xe0 an alert snapshot as the matrix stores it"
SEARCH_PLATES = {"own_agency": "MTX0001", "other_agency": "OTH0001"}


def _source(world: World, kind: str, agency: Any = None) -> SensorSource:
    source, secret = sensor_source_create(agency=agency or world.agency, name=f"Matrix {kind}", kind=kind,
                                          actor=None, latitude=47.52, longitude=-122.27)
    SECRETS[source.pk] = secret
    return source


def _entry(hot_list: HotList, plate: str) -> HotListEntry:
    return HotListEntry.objects.create(hot_list=hot_list, agency_id=hot_list.agency_id, plate=plate,
                                       plate_normalized=plate, plate_key=plates.plate_key(plate), region="WA")


def _read(source: SensorSource, plate: str) -> PlateRead:
    now = timezone.now()
    return PlateRead.objects.create(source=source, agency_id=source.agency_id, event_id=f"matrix-{plate}",
                                    plate=plate, plate_key=plates.plate_key(plate), region="WA", read_at=now,
                                    received_at=now)


def _alert(source: SensorSource, entry: HotListEntry | None, kind: str) -> Alert:
    now = timezone.now()
    return Alert.objects.create(agency_id=source.agency_id, source=source, kind=kind, event_id=f"matrix-{kind}",
                                occurred_at=now, received_at=now, priority=2, hot_list_entry=entry,
                                match_type="exact" if entry else "", detail={"plate": entry.plate} if entry else {},
                                dispatched_at=now, snapshot=f"sensors/snapshots/matrix/{kind}.jpg",
                                snapshot_sha256=hashlib.sha256(SNAPSHOT_BYTES).hexdigest())


def snapshot_files_write(records: dict[str, Any]) -> None:
    """The alerts' snapshot files: each test has its own MEDIA_ROOT, so the cells that open them write them."""
    for name in ("demo_alert", "xavier_alert"):
        default_storage.save(records[name].snapshot.name, ContentFile(SNAPSHOT_BYTES))


def sensor_records(world: World) -> dict[str, Any]:
    alpr = _source(world, "alpr")
    xavier_source = _source(world, "gunshot", world.other_agency)
    demo_hot_list = HotList.objects.create(agency=world.agency, name="Matrix stolen", kind="stolen_vehicle",
                                           owner=world.ava)
    xavier_hot_list = HotList.objects.create(agency=world.other_agency, name="Other stolen", kind="stolen_vehicle",
                                             owner=world.xavier)
    demo_entry, xavier_entry = _entry(demo_hot_list, "MTX0001"), _entry(xavier_hot_list, "OTH0001")
    return {
        "alpr_source": alpr, "gunshot_source": _source(world, "gunshot"),
        "analytics_source": _source(world, "video_analytics"), "xavier_source": xavier_source,
        "demo_hot_list": demo_hot_list, "xavier_hot_list": xavier_hot_list,
        "demo_entry": demo_entry, "xavier_entry": xavier_entry,
        "demo_read": _read(alpr, "MTX0001"), "xavier_read": _read(xavier_source, "OTH0001"),
        "demo_alert": _alert(alpr, demo_entry, Alert.Kind.PLATE_HIT),
        "xavier_alert": _alert(xavier_source, None, Alert.Kind.GUNSHOT),
    }


def webhook_body(op_id: str) -> dict[str, Any]:
    from tests.sensors.helpers import gunshot, sample_json

    if op_id == "sensors_webhook_alpr":
        return sample_json() | {"best_uuid": "matrix-webhook"}
    if op_id == "sensors_webhook_gunshot":
        return gunshot("matrix-webhook")
    return {"data_type": "video_analytics", "event_id": "matrix-webhook", "occurred_at": timezone.now().isoformat(),
            "rule": "loitering", "object_class": "person"}


def webhook_request(records: dict[str, Any], op_id: str, target: str) -> tuple[dict[str, Any], dict[str, Any],
                                                                               APIClient]:
    """(path params, body, client) for a webhook cell: the body signed as the test client will render it."""
    source = records[WEBHOOKS[op_id]]
    body = webhook_body(op_id)
    client = APIClient()
    if target != "unsigned":
        secret = SECRETS[source.pk] if target == "signed" else SECRETS[records["xavier_source"].pk]
        stamp = int(time.time())
        client.credentials(HTTP_X_RTCC_TIMESTAMP=str(stamp), HTTP_X_RTCC_SIGNATURE=signature_make(
            secret=secret, timestamp=stamp, body=JSONRenderer().render(body)))
    return {"key": source.key}, body, client


def after_sensors(records: dict[str, Any], user: Any, op_id: str, target: str, ok: bool, body: Any) -> None:
    """What a success must have changed, and that a refusal changed nothing."""
    if op_id in WEBHOOKS:
        stored = (PlateRead.objects.filter(event_id="matrix-webhook").exists()
                  or Alert.objects.filter(event_id="matrix-webhook").exists())
        assert stored == ok
    elif op_id == "sensor_alerts_verify" and target != "missing":
        alert = Alert.objects.get(pk=records[target].pk)
        assert (alert.state == "false") == ok
        if target == "demo_alert":
            assert HotListEntry.objects.get(pk=records["demo_entry"].pk).needs_correction == ok
    elif op_id == "sensor_alerts_retrieve" and ok:
        assert body["id"] == records[target].pk and body["source"]["id"] == records[target].source_id
    elif op_id == "hot_lists_create":
        made = HotList.objects.filter(name=NEW_LIST).first()
        assert (made is not None) == ok
        if made is not None:
            assert made.agency_id == user.agency_id and made.owner_id == user.pk
    elif op_id == "hot_lists_update" and target != "missing":
        assert HotList.objects.get(pk=records[target].pk).enabled == (not ok)
    elif op_id == "hot_lists_delete" and target != "missing":
        assert HotList.objects.filter(pk=records[target].pk).exists() == (not ok)
    elif op_id == "hot_list_entries_add" and target != "missing":
        assert HotListEntry.objects.filter(hot_list=records[target], plate_normalized="NEW0001").exists() == ok
    elif op_id == "hot_list_entries_remove" and target != "missing":
        assert HotListEntry.objects.filter(pk=records[target].pk).exists() == (not ok)
    elif op_id == "plate_reads_search":
        searched = AuditEvent.objects.filter(action="search", object_type="sensors.plateread", actor=user)
        assert searched.exists() == ok
