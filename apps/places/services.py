"""Where a call is: its address key, its position and cell, and the premise it matches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet

from apps.accounts.models import Agency
from apps.cases.models import Premise
from apps.places.geo import cells_within, distance_m, geohash_encode
from apps.places.normalize import address_key, block_key, key_is_block


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


def agency_municipality(*, agency_id: int) -> str:
    return Agency.objects.filter(pk=agency_id).values_list("municipality", flat=True).first() or ""


def place_key(*, address: str, municipality: str, agency_municipality: str) -> str:
    """The address key in the municipality the source gave, else the agency's own (blank: the agency alone)."""
    return address_key(address, municipality.strip() or agency_municipality)


def places_apart(lat1: float | None, lon1: float | None, lat2: float | None, lon2: float | None) -> bool:
    """Whether two positions, both known, are too far apart to be one address."""
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return False
    return distance_m(lat1, lon1, lat2, lon2) > settings.PLACE_SAME_ADDRESS_M


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
    if premise is not None and places_apart(latitude, longitude, premise.latitude, premise.longitude):
        premise = None  # the same words, somewhere else: not this address
    if latitude is not None and longitude is not None:
        located_by = "cad"
    elif premise and premise.latitude is not None and premise.longitude is not None:
        latitude, longitude, located_by = premise.latitude, premise.longitude, "premise"
    else:
        latitude = longitude = None  # half a position locates nothing
    cell = geohash_encode(latitude, longitude) if latitude is not None and longitude is not None else ""
    return Place(address_key=key, latitude=latitude, longitude=longitude, cell=cell, located_by=located_by,
                 premise_id=premise.id if premise else None)


def place_resolve(*, agency_id: int, address: str, latitude: float | None, longitude: float | None,
                  municipality: str = "") -> Place:
    """Match an address to the agency's premise and fill in a missing position from it."""
    key = place_key(address=address, municipality=municipality,
                    agency_municipality=agency_municipality(agency_id=agency_id))
    return place_locate(key=key, latitude=latitude, longitude=longitude,
                        premise=premise_spot_get(agency_id=agency_id, key=key))


@dataclass(frozen=True)
class BlockPremise:
    """A premise on the call's hundred block but not at its address: what it holds is only "on this block"."""

    id: int
    address: str
    hazards: str
    updated_at: datetime


def premises_on_block(*, agency_id: int, key: str, latitude: float | None, longitude: float | None,
                      exclude_id: int | None, limit: int) -> list[BlockPremise]:
    """The agency's unrestricted premises on the same hundred block as `key`, other than the call's own; one query.

    For a house: its block's record and its neighbours'. For a hundred block: the houses on it. Only
    within PLACE_SAME_ADDRESS_M when both have positions; an intersection or a bare street has no block.
    """
    block = block_key(key)
    if not key or limit <= 0 or (block == key and not key_is_block(key)):
        return []
    where = Q(address_key=block)
    if latitude is not None and longitude is not None:
        where |= Q(cell__in=cells_within(latitude, longitude, settings.PLACE_SAME_ADDRESS_M))
    candidates = _premises(agency_id).filter(where).exclude(address_key=key)
    if exclude_id is not None:
        candidates = candidates.exclude(pk=exclude_id)
    rows = (candidates
            .values_list("id", "address", "hazards", "updated_at", "address_key", "latitude", "longitude")[:200])
    found = [BlockPremise(id=pk, address=address, hazards=hazards, updated_at=updated)
             for pk, address, hazards, updated, other, lat, lon in rows
             if block_key(other) == block and not places_apart(latitude, longitude, lat, lon)]
    return found[:limit]
