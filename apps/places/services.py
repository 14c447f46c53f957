"""Where a call is: its address key, its position and cell, and the premise it matches."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

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


@dataclass(frozen=True)
class PremiseSpot:
    """What a call needs of the premise at its address."""

    id: int
    latitude: float | None
    longitude: float | None


def _premises(agency_id: int) -> QuerySet[Premise]:
    # Restricted premises (undercover locations, sealed cases) never attach themselves to a call.
    return Premise.objects.filter(agency_id=agency_id, restriction="").order_by("address", "id")


def premise_spot_get(*, agency_id: int, key: str) -> PremiseSpot | None:
    """The agency's unrestricted premise with this address key (the first by address when several share it)."""
    if not key:
        return None
    row = _premises(agency_id).filter(address_key=key).values("id", "latitude", "longitude").first()
    return PremiseSpot(**row) if row else None


def premise_spots_by_key(*, agency_id: int) -> dict[str, PremiseSpot]:
    """Every unrestricted premise of the agency by address key, in one query, for bulk imports."""
    spots: dict[str, PremiseSpot] = {}
    rows = _premises(agency_id).exclude(address_key="").values_list("address_key", "id", "latitude", "longitude")
    for key, pk, latitude, longitude in rows:
        spots.setdefault(key, PremiseSpot(id=pk, latitude=latitude, longitude=longitude))
    return spots


def place_locate(*, key: str, latitude: float | None, longitude: float | None,
                 premise: PremiseSpot | None) -> Place:
    """The call's place, given its premise: a missing position is taken from the premise."""
    located_by = ""
    if latitude is not None and longitude is not None:
        located_by = "cad"
    elif premise and premise.latitude is not None and premise.longitude is not None:
        latitude, longitude, located_by = premise.latitude, premise.longitude, "premise"
    else:
        latitude = longitude = None  # half a position locates nothing
    cell = geohash_encode(latitude, longitude) if latitude is not None and longitude is not None else ""
    return Place(address_key=key, latitude=latitude, longitude=longitude, cell=cell, located_by=located_by,
                 premise_id=premise.id if premise else None)


def place_resolve(*, agency_id: int, address: str, latitude: float | None, longitude: float | None) -> Place:
    """Match an address to the agency's premise and fill in a missing position from it."""
    key = address_key(address)
    return place_locate(key=key, latitude=latitude, longitude=longitude,
                        premise=premise_spot_get(agency_id=agency_id, key=key))
