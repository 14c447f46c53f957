"""Timestamps on the wire: one format, RFC 3339 in UTC with `Z` and microseconds always present.

DRF's DATETIME_FORMAT (settings.REST_FRAMEWORK) renders model and serializer datetimes in it; timestamps a
service writes into JSON it stores (briefing items) go through `wire_datetime`, so a client parses one form.
"""

from __future__ import annotations

from datetime import UTC, datetime

WIRE_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def wire_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime(WIRE_DATETIME_FORMAT)
