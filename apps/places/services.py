"""Where a call is: its address key, its position and cell, and the premise it matches."""

from __future__ import annotations

from dataclasses import dataclass

from apps.cases.models import Premise
from apps.places.geo import geohash_encode
from apps.places.normalize import address_key


@dataclass(frozen=True)
class Place:
    address_key: str
    latitude: float | None
    longitude: float | None
    cell: str
    # "cad" when the position came with the call, "premise" when taken from a known premise, "" when unlocated.
    located_by: str
    premise_id: int | None


def place_resolve(*, agency_id: int, address: str, latitude: float | None, longitude: float | None) -> Place:
    """Match an address to the agency's premise and fill in a missing position from it."""
    key = address_key(address)
    premise = (Premise.objects.filter(agency_id=agency_id, address_key=key, restriction="")
               .values("id", "latitude", "longitude").first() if key else None)
    located_by = ""
    if latitude is not None and longitude is not None:
        located_by = "cad"
    elif premise and premise["latitude"] is not None and premise["longitude"] is not None:
        latitude, longitude, located_by = premise["latitude"], premise["longitude"], "premise"
    cell = geohash_encode(latitude, longitude) if latitude is not None and longitude is not None else ""
    return Place(address_key=key, latitude=latitude, longitude=longitude, cell=cell, located_by=located_by,
                 premise_id=premise["id"] if premise else None)
