"""The ALPR webhook's body has one spec: what it refuses, the words it refuses it in, and what the schema says."""

from __future__ import annotations

from apps.sensors.models import PlateRead
from tests.api.contract import schema
from tests.base import World
from tests.sensors.helpers import make_source, post_signed, sample_json


def test_a_wrong_read_is_told_what_is_wrong_in_the_words_of_every_other_endpoint(world: World) -> None:
    alpr = make_source(world, "alpr")
    read = sample_json() | {"best_uuid": "x" * 101, "gps_latitude": 123.0, "vehicle": "white truck",
                            "best_confidence": None, "vehicle_crop_jpeg": 12, "best_region_confidence": True}
    del read["best_plate_number"]
    response = post_signed(alpr, read)
    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "message": "Some fields are missing or wrong.", "fields": {
        "best_uuid": ["Ensure this field has no more than 100 characters."],
        "best_plate_number": ["This field is required."],
        "best_confidence": ["This field may not be null."],
        "best_region_confidence": ["A valid number is required."],
        "gps_latitude": ["Ensure this value is between -90 and 90."],
        "vehicle": ["Expected a dictionary of items."],
        "vehicle_crop_jpeg": ["Not a valid string."],
    }}
    assert not PlateRead.objects.exists()


def test_a_read_with_numbers_as_text_and_padded_plates_is_taken_as_drf_would(world: World) -> None:
    alpr = make_source(world, "alpr")
    read = sample_json() | {"best_uuid": 4711, "best_plate_number": "  ABC1234 ", "epoch_start": "1764000000000",
                            "best_confidence": "91.5", "gps_latitude": None, "gps_longitude": None}
    assert post_signed(alpr, read).status_code == 202
    stored = PlateRead.objects.get()
    assert (stored.event_id, stored.plate, stored.confidence, stored.latitude) == ("4711", "ABC1234", 91.5, None)


def test_the_schema_describes_the_body_the_webhook_checks() -> None:
    body = schema()["components"]["schemas"]["AlprGroupRequest"]
    fields = body["properties"]
    assert body["required"] == ["best_plate_number", "best_uuid", "data_type", "epoch_start"]
    assert (fields["best_uuid"]["maxLength"], fields["best_plate_number"]["maxLength"]) == (100, 20)
    assert fields["gps_latitude"]["nullable"] and "nullable" not in fields["best_confidence"]
    assert (fields["best_confidence"]["minimum"], fields["best_confidence"]["maximum"]) == (0, 100)
    assert fields["epoch_start"] == {"type": "integer", "minimum": 0,
                                     "description": "When the plate was first seen, Unix ms."}
