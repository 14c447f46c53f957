"""From an EIDO document (NENA-STA-021, the Emergency Incident Data Object) to the fields of a call.

The schema is NENA911/EIDO-JSON `Schema/openapi.yaml`; the call transfer sample
in fixtures/data/standards/eido_sample_call_transfer.json is what we test with.
An EIDO is a set of components (incident, calls, locations, notes, additional
data...) that point at each other by `$id`/`$ref`. We read what a call needs:

- event number: incidentComponent.internalIncidentId (the CAD's own number), else the
  unique part of the incident tracking id (`urn:emergency:uid:incidentid:<unique>:<element>`,
  the document's `$id`), else of the first call's id (`urn:emergency:uid:callid:...`);
- type: incidentTypeInternalCode (the agency's CAD code, which our CAD type mapping knows),
  else incidentTypeCommonRegistryText, else a call's localCallType or standardPrimaryCallType;
- priority: a call's priorityIdentifier (highest..lowest -> 1..5). incidentCommonPriorityNumber
  is not used: the standard gives it no scale, and its sample writes 10 for "very high",
  the opposite of a CAD's 1 = most urgent;
- place: the civic address (its A3, the city or township, scopes the address key) and/or gml:pos
  of the first location given by value (PIDF-LO),
  the incident's own locations first. locationByReferenceUrl is never fetched: a URL a
  client hands us is not one our server should call;
- narrative: notes (HTML reduced to text) and EmergencyCallData.Comment additional data;
- received time: the earliest callStartTimestamp;
- requesting agency (mutual aid): an agencyComponent other than the sender (the document's
  updatedByAgencyReference) and other than the receiving agency's own ORI, the incident's owner
  (incidentOwningAgencyIndicator) first. The call is still filed under the CAD's own agency,
  which is the only one its credentials may write; the other agency is kept on the call and the
  submission is answered with a warning, never filed silently.

A document without an id, a type or a time is refused whole (eido_incomplete).
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

from django.utils.html import strip_tags

from apps.common.errors import ValidationFailed
from apps.places.geo import on_earth

_TRACKING_ID = re.compile(r"urn:emergency:uid:(?:incidentid|callid):([^:]+):.+", re.IGNORECASE)
# STA-023 call priority, as CAD priorities: 1 is the most urgent.
_CALL_PRIORITY = {"highest": 1, "high": 2, "normal": 3, "low": 4, "lowest": 5}
# RFC 4776/5139 civic address elements that make up the street line, in the order they are written.
_STREET_PARTS = ("HNO", "HNS", "PRD", "RD", "STS", "POD")
# Elements an officer needs at the door but that would keep the address from matching a premise.
_DETAIL_PARTS = (("BLD", "Building"), ("UNIT", "Unit"), ("FLR", "Floor"), ("ROOM", "Room"), ("LOC", ""))


@dataclasses.dataclass(frozen=True)
class EidoCall:
    event_number: str
    cad_code: str
    cad_description: str
    priority: int | None
    address: str
    latitude: float | None
    longitude: float | None
    narrative: str
    received_at: datetime
    # The civic address's A3 (city, township): the address key's scope.
    municipality: str = ""
    # Another agency the incident names (mutual aid): "Name (id)", or its id alone.
    requesting_agency: str = ""
    # Every other agency the document names, the requesting one first.
    other_agencies: tuple[str, ...] = ()

    def upsert_kwargs(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "other_agencies"}


@dataclasses.dataclass(frozen=True)
class _Place:
    address: str
    latitude: float | None
    longitude: float | None
    detail: str
    municipality: str = ""


def _invalid(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed("The EIDO document is not valid.", code="eido_invalid", fields={field: [problem]})


def _components(document: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = document.get(name)
    if value is None:
        return []
    if isinstance(value, dict):  # incidentComponent is one object; early drafts made it a list
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    raise _invalid(name, "expected a list of objects")


def _text(value: Any) -> str:
    """A string element, or the first of a registry-text list; "" for anything else."""
    if isinstance(value, list) and value:
        value = value[0]
    return value.strip() if isinstance(value, str) else ""


def _refs(component: dict[str, Any], key: str) -> list[str]:
    value = component.get(key)
    items = value if isinstance(value, list) else [value]
    return [r["$ref"] for r in items if isinstance(r, dict) and isinstance(r.get("$ref"), str)]


def _time(value: Any, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise _invalid(field, "an ISO 8601 time with a zone, e.g. 2021-04-30T14:40:00-04:00")
    return parsed


def _local(tag: Any) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _xml(text: Any) -> ElementTree.Element | None:
    """A PIDF-LO or additional-data XML text, or None when there is none or it does not parse.

    PIDF-LO needs no DTD, so a document type or entity declaration is refused
    before parsing (no entity expansion, no external fetch).
    """
    if not isinstance(text, str) or not text.strip():
        return None
    upper = text.upper()
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        return None
    try:
        return ElementTree.fromstring(text.strip())  # noqa: S314 (declarations refused above)
    except ElementTree.ParseError:
        return None


def _position(root: ElementTree.Element) -> tuple[float, float] | None:
    # gml:pos is "latitude longitude [altitude]" in EPSG:4326/4979, the only CRSs PIDF-LO allows.
    for element in root.iter():
        if _local(element.tag) == "pos" and element.text:
            try:
                lat, lon = (float(v) for v in element.text.split()[:2])
            except ValueError:
                continue
            if on_earth(lat, lon):
                return lat, lon
    return None


def _pidf_place(text: Any) -> _Place | None:
    root = _xml(text)
    if root is None:
        return None
    civic = next((e for e in root.iter() if _local(e.tag) == "civicAddress"), None)
    parts: dict[str, str] = {}
    for child in civic if civic is not None else []:
        parts.setdefault(_local(child.tag), (child.text or "").strip())
    street = " ".join(p for p in (parts.get(k, "") for k in _STREET_PARTS) if p)
    landmark = parts.get("LMK", "")
    # The street line alone is the address: a city or unit would keep it from matching the premise's key.
    address = street or landmark or parts.get("NAM", "")
    details = [f"{label} {parts[k]}".strip() for k, label in _DETAIL_PARTS if parts.get(k)]
    if street and landmark:
        details.append(f"near {landmark}")
    position = _position(root)
    if not address and position is None:
        return None
    lat, lon = position if position else (None, None)
    return _Place(address=address, latitude=lat, longitude=lon, municipality=parts.get("A3", ""),
                  detail=f"Location: {', '.join(details)}" if details else "")


def _unique(ids: list[str]) -> Iterator[str]:
    seen: set[str] = set()
    for value in ids:
        if value not in seen:
            seen.add(value)
            yield value


def _place(document: dict[str, Any], incident: dict[str, Any], calls: list[dict[str, Any]]) -> _Place | None:
    locations = _components(document, "locationComponent") or _components(document, "locationInformationComponent")
    by_id = {loc["$id"]: loc for loc in locations if isinstance(loc.get("$id"), str)}
    ordered = [
        *_refs(incident, "locationReference"),
        *[i for i, loc in by_id.items() if _text(loc.get("locationTypeDescriptionRegistryText")) == "Incident"],
        *[ref for call in calls for ref in _refs(call, "locationReference")],
        *by_id,
    ]
    for location_id in _unique(ordered):
        location = by_id.get(location_id)
        place = _pidf_place(location.get("locationByValue")) if location else None
        if place:
            return place
    return None


def _event_number(document: dict[str, Any], incident: dict[str, Any], calls: list[dict[str, Any]]) -> str:
    internal = _text(incident.get("internalIncidentId"))
    if internal:
        return internal
    candidates = [_text(document.get("incidentTrackingIdentifier")), _text(document.get("$id")),
                  *[_text(call.get("$id")) for call in calls]]
    for candidate in candidates:
        match = _TRACKING_ID.fullmatch(candidate)
        if match:
            return match.group(1)
    return ""


def _narrative(document: dict[str, Any], place: _Place | None) -> str:
    lines = [html.unescape(strip_tags(n["notesActionComments"])).strip()
             for n in _components(document, "notesComponent") if isinstance(n.get("notesActionComments"), str)]
    for data in _components(document, "additionalDataComponent"):
        root = _xml(data.get("additionalDataByValue"))
        if root is not None and _local(root.tag) == "EmergencyCallData.Comment":
            lines += [e.text.strip() for e in root.iter() if _local(e.tag) == "Comment" and e.text and e.text.strip()]
    if place and place.detail:
        lines.append(place.detail)
    return "\n".join(line for line in lines if line)


def _jcard_name(card: Any) -> str:
    """The fn of a jCard (RFC 7095: ["vcard", [["fn", {}, "text", "Name"], ...]]), or ""."""
    if isinstance(card, str):
        return ""
    properties = card[1] if isinstance(card, list) and len(card) == 2 and card[0] == "vcard" else []
    for prop in properties if isinstance(properties, list) else []:
        if isinstance(prop, list) and len(prop) >= 4 and prop[0] == "fn" and isinstance(prop[3], str):
            return prop[3].strip()
    return ""


def _other_agencies(document: dict[str, Any], own_ori: str) -> list[str]:
    """Agencies the document names besides its sender and the receiving agency, the incident's owner first."""
    agencies = _components(document, "agencyComponent")
    sender = next(iter(_refs(document, "updatedByAgencyReference")), "")
    if not sender and len(agencies) == 1:
        return []  # one agency and no sender named: the sender
    ours = {sender.lower(), own_ori.lower()} - {""}
    others = [a for a in agencies if isinstance(a.get("$id"), str) and a["$id"].strip()
              and a["$id"].strip().lower() not in ours]
    others.sort(key=lambda a: a.get("incidentOwningAgencyIndicator") is not True)
    labels: list[str] = []
    for agency in others:
        identifier = agency["$id"].strip()
        name = _jcard_name(agency.get("agencyJcard")) or _text(agency.get("agencyName"))
        labels.append(f"{name} ({identifier})"[:200] if name and name != identifier else identifier[:200])
    return list(_unique(labels))


def eido_call_parse(*, document: Any, own_ori: str = "") -> EidoCall:
    """The call an EIDO document describes; ValidationFailed (eido_incomplete / eido_invalid) otherwise."""
    if not isinstance(document, dict):
        raise _invalid("non_field_errors", "an EIDO document is a JSON object")
    incidents = _components(document, "incidentComponent")
    incident = incidents[0] if incidents else {}
    calls = _components(document, "callComponent")

    event_number = _event_number(document, incident, calls)
    code = _text(incident.get("incidentTypeInternalCode")) or _text(incident.get("incidentTypeCommonRegistryText"))
    description = _text(incident.get("incidentTypeInternalText"))
    for call in calls:
        code = code or _text(call.get("localCallType")) or _text(call.get("standardPrimaryCallType"))
    times = [_time(c["callStartTimestamp"], "callStartTimestamp") for c in calls if "callStartTimestamp" in c]
    missing: dict[str, list[str]] = {}
    if not event_number:
        missing["incidentTrackingIdentifier"] = [
            "no incident id: give the document $id (urn:emergency:uid:incidentid:...), "
            "incidentComponent.internalIncidentId or a callComponent $id"]
    if not code:
        missing["incidentTypeCommonRegistryText"] = [
            "no type: give incidentComponent.incidentTypeInternalCode or incidentTypeCommonRegistryText, "
            "or a callComponent localCallType or standardPrimaryCallType"]
    if not times:
        missing["callStartTimestamp"] = ["no time: give a callComponent with callStartTimestamp"]
    if missing:
        raise ValidationFailed("The EIDO document lacks what a call needs.", code="eido_incomplete", fields=missing)

    priority = next((_CALL_PRIORITY[p] for call in calls
                     if (p := _text(call.get("priorityIdentifier")).lower()) in _CALL_PRIORITY), None)
    place = _place(document, incident, calls)
    others = _other_agencies(document, own_ori)
    return EidoCall(
        event_number=event_number,
        cad_code=code,
        cad_description=description,
        priority=priority,
        address=place.address if place else "",
        latitude=place.latitude if place else None,
        longitude=place.longitude if place else None,
        narrative=_narrative(document, place),
        received_at=min(times),
        municipality=place.municipality if place else "",
        requesting_agency=others[0] if others else "",
        other_agencies=tuple(others),
    )
