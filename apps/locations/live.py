"""Live positions on the stream: who may see which unit, and one batch of fixes matched against many viewers.

Positions are not events of the log (docs/delivery.md): they are the latest state, 400 a second for a city,
and a viewer that missed one gets the next within seconds or reads GET /api/v1/units/positions. So they
travel as one wake per written batch (apps.delivery.wake.live_publish), and each server process matches the
batches it has not sent yet once against all its sockets.
Frame: {"type": "unit.position", "positions": [...]} (docs/locations.md).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from apps.places.geo import distance_m

LIVE_KIND = "unit.position"
_METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class PositionScope:
    """The units one viewer may see live. The rule itself: apps.locations.selectors.position_scopes_for."""

    agency_id: int
    everyone: bool = False  # analysts and supervisors: the whole agency
    unit_ids: frozenset[int] = field(default_factory=frozenset)  # always: own unit, units on the same calls
    own_unit_id: int | None = None  # officers: the units within near_m of this one
    near_m: float = 0.0
    emergencies: bool = False  # officers: every unit of the agency with an open emergency

    def allows(self, *, unit_id: int, agency_id: int, latitude: float, longitude: float, emergency: bool,
               near_from: tuple[float, float] | None) -> bool:
        if agency_id != self.agency_id:
            return False
        if self.everyone or unit_id in self.unit_ids or (emergency and self.emergencies):
            return True
        return (near_from is not None and self.near_m > 0
                and distance_m(near_from[0], near_from[1], latitude, longitude) <= self.near_m)


def _cell(latitude: float, longitude: float, size: float) -> tuple[int, int]:
    return math.floor(latitude / size), math.floor(longitude / size)


class LiveBatch:
    """One written batch of fixes, each encoded once, indexed by unit, agency and a grid for "near"."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.encoded = [json.dumps(item, separators=(",", ":")) for item in items]
        self.by_agency: dict[int, list[int]] = {}
        self.by_unit: dict[int, list[int]] = {}
        # Cells of near_m degrees of latitude: a degree of longitude is shorter, so a cell is never wider.
        self.cell_size = settings.LOCATIONS_NEAR_M / _METRES_PER_DEGREE
        self.grid: dict[tuple[int, tuple[int, int]], list[int]] = {}
        self.emergencies: dict[int, list[int]] = {}  # agency -> the fixes of units whose officer needs help
        for index, item in enumerate(items):
            self.by_agency.setdefault(item["agency_id"], []).append(index)
            if item["emergency_id"] is not None:
                self.emergencies.setdefault(item["agency_id"], []).append(index)
            self.by_unit.setdefault(item["unit_id"], []).append(index)
            cell = _cell(item["latitude"], item["longitude"], self.cell_size)
            self.grid.setdefault((item["agency_id"], cell), []).append(index)

    @classmethod
    def from_messages(cls, messages: list[dict[str, Any]]) -> LiveBatch:
        """The written batches a process has not sent yet, oldest first, as one (a unit's newest fix last)."""
        return cls([item for data in messages for item in data.get("items") or []])

    def latest_of(self, unit_id: int | None) -> tuple[float, float] | None:
        indexes = self.by_unit.get(unit_id) if unit_id is not None else None
        if not indexes:
            return None
        item = self.items[indexes[-1]]
        return item["latitude"], item["longitude"]

    def _near(self, scope: PositionScope, near_from: tuple[float, float]) -> list[int]:
        lat, lon = near_from
        row, col = _cell(lat, lon, self.cell_size)
        reach = scope.near_m / _METRES_PER_DEGREE / self.cell_size
        rows = math.ceil(reach)
        cols = math.ceil(reach / max(math.cos(math.radians(lat)), 0.01))
        found: list[int] = []
        for r in range(row - rows, row + rows + 1):
            for c in range(col - cols, col + cols + 1):
                found += self.grid.get((scope.agency_id, (r, c)), ())
        return found

    def visible(self, scope: PositionScope, near_from: tuple[float, float] | None) -> list[tuple[int, str]]:
        """(unit id, encoded fix) of what this viewer may see, in the batch's order."""
        if scope.everyone:
            candidates = self.by_agency.get(scope.agency_id, [])
        else:
            picked: set[int] = set()
            for unit_id in scope.unit_ids:
                picked.update(self.by_unit.get(unit_id, ()))
            if scope.emergencies:
                picked.update(self.emergencies.get(scope.agency_id, ()))
            if near_from is not None and scope.near_m > 0:
                picked.update(self._near(scope, near_from))
            if not picked:
                return []  # most officers, most batches: nothing of theirs or near them
            candidates = sorted(picked)
        return [(self.items[i]["unit_id"], self.encoded[i]) for i in candidates
                if scope.allows(unit_id=self.items[i]["unit_id"], agency_id=self.items[i]["agency_id"],
                                latitude=self.items[i]["latitude"], longitude=self.items[i]["longitude"],
                                emergency=self.items[i]["emergency_id"] is not None, near_from=near_from)]


def live_frame(encoded: list[str]) -> str:
    return '{"type":"' + LIVE_KIND + '","positions":[' + ",".join(encoded) + "]}"
