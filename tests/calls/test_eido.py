"""Calls from EIDO documents (NENA-STA-021): the standard's own sample, and what a call cannot do without."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.audit.models import AuditEvent
from apps.calls.eido import eido_call_parse
from apps.calls.models import CadTypeMapping, Call, Category
from apps.common.errors import ValidationFailed
from tests.base import World, make_user, signed_in_client

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures/data/standards/eido_sample_call_transfer.json"
URL = "/api/v1/cad/eido"


def _sample() -> dict[str, Any]:
    return json.loads(SAMPLE.read_text())


def _pidf(inner: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?><presence xmlns="urn:ietf:params:xml:ns:pidf" '
            'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gml="http://www.opengis.net/gml">'
            f'<tuple id="t1"><status><gp:geopriv><gp:location-info>{inner}</gp:location-info></gp:geopriv>'
            '</status></tuple></presence>')


CIVIC = ('<civicAddress xmlns="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"><country>US</country><A1>WA</A1>'
         '<A3>Seattle</A3><HNO>1520</HNO><RD>3rd</RD><STS>AVE</STS><UNIT>4B</UNIT></civicAddress>')
POINT = '<gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>47.6101 -122.3366</gml:pos></gml:Point>'


def _incident_eido(**incident: Any) -> dict[str, Any]:
    """A dispatch-side EIDO: the CAD's incident, its call, one location by value and a note."""
    return {
        "$id": "urn:emergency:uid:incidentid:b77e1:cad.demo-city.example",
        "lastUpdateTimeStamp": "2026-11-24T08:01:00Z",
        "updatedByAgencyReference": {"$ref": "demo-city.example"},
        "eidoVersion": "1.0",
        "issuingElementIdentification": "cad.demo-city.example",
        "agencyComponent": [{"$id": "demo-city.example", "agencyRoleDescriptionRegistryText": ["Dispatch"],
                             "agencyType": ["police"]}],
        "incidentComponent": {"$id": "inc-1", "internalIncidentId": "26-0004711",
                              "incidentTypeInternalCode": "ASLT", "incidentTypeInternalText": "Assault",
                              "incidentTypeCommonRegistryText": "Assault",
                              "locationReference": [{"$ref": "loc-incident"}], **incident},
        "callComponent": [{"$id": "urn:emergency:uid:callid:c1:psap.example", "standardPrimaryCallType": "emergency",
                           "direction": "incoming", "callStateRegistryText": "callAnswered",
                           "priorityIdentifier": "high", "callStartTimestamp": "2026-11-24T00:00:05-08:00",
                           "locationReference": [{"$ref": "loc-caller"}]}],
        "locationComponent": [
            {"$id": "loc-caller", "locationTypeDescriptionRegistryText": "Caller",
             "locationByValue": _pidf('<gml:Point><gml:pos>47.0 -122.0</gml:pos></gml:Point>')},
            {"$id": "loc-incident", "locationTypeDescriptionRegistryText": "Incident",
             "locationByValue": _pidf(CIVIC + POINT)},
        ],
        "notesComponent": [{"$id": "note-1", "notesActionComments": "<p>Caller says one has a <b>knife</b> &amp; "
                                                                    "is wearing red.</p>"}],
    }


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"} and body["code"] == code
    return body


def _nothing_written() -> None:
    assert not Call.objects.exists()
    assert not AuditEvent.objects.filter(object_type="calls.call").exists()


@pytest.fixture
def cad(world: World) -> APIClient:
    return signed_in_client(make_user("cad", Role.INTEGRATION, world.agency))


def test_the_standards_call_transfer_sample_creates_a_call(world: World, cad: APIClient) -> None:
    response = cad.post(URL, _sample(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["event_number"], body["cad_code"], body["address"]) == ("a56e556d871", "emergency",
                                                                         "42 W Cellular Street")
    assert (body["source"], body["category"], body["cad_code_unmapped"]) == ("eido", "unknown", True)
    assert body["narrative"] == "This is an example text."
    assert body["located_by"] == ""  # the sample gives a civic address only, and Demo City has no such premise
    call = Call.objects.get()
    assert call.received_at == datetime(2021, 4, 30, 18, 40, tzinfo=UTC)  # callStartTimestamp, 14:40 at -04:00


def test_the_sample_sent_again_changes_nothing(world: World, cad: APIClient) -> None:
    first = cad.post(URL, _sample(), format="json")
    again = cad.post(URL, _sample(), format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Call.objects.count() == 1
    assert AuditEvent.objects.filter(object_type="calls.call").count() == 1


def test_a_dispatch_eido_brings_the_cads_number_type_priority_place_and_notes(world: World, cad: APIClient) -> None:
    CadTypeMapping.objects.create(agency=world.agency, code="ASLT", category=Category.VIOLENT, priority=3)

    body = cad.post(URL, _incident_eido(), format="json").json()

    assert (body["event_number"], body["cad_code"], body["cad_description"]) == ("26-0004711", "ASLT", "Assault")
    assert (body["category"], body["priority"]) == ("violent", 2)  # priorityIdentifier "high" beats the mapping's 3
    # The incident's own location wins over the caller's; city and unit stay out of the address.
    assert (body["address"], body["latitude"], body["longitude"], body["located_by"]) == (
        "1520 3rd AVE", 47.6101, -122.3366, "cad")
    assert body["narrative"] == "Caller says one has a knife & is wearing red.\nLocation: Unit 4B"
    assert body["received_at"] == "2026-11-24T08:00:05.000000Z"


def test_the_same_incident_by_eido_and_by_put_is_one_call(world: World, cad: APIClient) -> None:
    cad.post(URL, _incident_eido(), format="json")

    response = cad.put("/api/v1/cad/calls/26-0004711", {"cad_code": "ASLT", "received_at": "2026-11-24T08:00:05Z"},
                       format="json")

    assert response.status_code == 200
    assert Call.objects.count() == 1


def _without(document: dict[str, Any], *paths: tuple[Any, ...]) -> dict[str, Any]:
    document = copy.deepcopy(document)
    for path in paths:
        node: Any = document
        for key in path[:-1]:
            node = node[key]
        node.pop(path[-1], None)
    return document


@pytest.mark.parametrize(
    ("paths", "missing"),
    [
        ([("$id",), ("callComponent", 0, "$id")], {"incidentTrackingIdentifier"}),
        ([("callComponent", 0, "standardPrimaryCallType")], {"incidentTypeCommonRegistryText"}),
        ([("callComponent", 0, "callStartTimestamp")], {"callStartTimestamp"}),
        ([("callComponent",)], {"incidentTypeCommonRegistryText", "callStartTimestamp"}),
        ([("$id",), ("callComponent",)], {"incidentTrackingIdentifier", "incidentTypeCommonRegistryText",
                                          "callStartTimestamp"}),
    ],
    ids=["no-id", "no-type", "no-time", "no-call", "nothing"],
)
def test_a_document_missing_what_a_call_needs_gets_400_eido_incomplete(world: World, cad: APIClient,
                                                                       paths: list[tuple[Any, ...]],
                                                                       missing: set[str]) -> None:
    body = _error(cad.post(URL, _without(_sample(), *paths), format="json"), 400, "eido_incomplete")
    assert set(body["fields"]) == missing
    _nothing_written()


def test_an_incident_without_a_call_start_time_is_incomplete(world: World, cad: APIClient) -> None:
    body = _error(cad.post(URL, _without(_incident_eido(), ("callComponent",)), format="json"), 400,
                  "eido_incomplete")
    assert set(body["fields"]) == {"callStartTimestamp"}
    _nothing_written()


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ([1, 2, 3], "non_field_errors"),
        ({**_sample(), "callComponent": "not a list"}, "callComponent"),
        ({**_sample(), "callComponent": [{**_sample()["callComponent"][0], "callStartTimestamp": "last tuesday"}]},
         "callStartTimestamp"),
        ({**_sample(), "callComponent": [{**_sample()["callComponent"][0], "callStartTimestamp": "2021-04-30"}]},
         "callStartTimestamp"),
    ],
    ids=["not-an-object", "calls-not-a-list", "time-as-words", "time-without-zone"],
)
def test_a_malformed_document_gets_400_eido_invalid(world: World, cad: APIClient, document: Any, field: str) -> None:
    body = _error(cad.post(URL, document, format="json"), 400, "eido_invalid")
    assert field in body["fields"]
    _nothing_written()


def test_malformed_json_gets_400_malformed_json(world: World, cad: APIClient) -> None:
    _error(cad.post(URL, data='{"$id": ', content_type="application/json"), 400, "malformed_json")
    _nothing_written()


def test_an_incident_number_that_cannot_be_an_event_number_gets_400(world: World, cad: APIClient) -> None:
    document = _incident_eido(internalIncidentId="26 0004711/B")
    body = _error(cad.post(URL, document, format="json"), 400, "invalid")
    assert "event_number" in body["fields"]
    _nothing_written()


def test_a_location_with_a_document_type_declaration_is_not_parsed() -> None:
    # An entity bomb in a PIDF-LO: refused before the parser sees it; the call comes in unlocated.
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            '<presence><civicAddress><RD>&lol2;</RD></civicAddress></presence>')
    document = _incident_eido()
    document["locationComponent"] = [{"$id": "loc-incident", "locationTypeDescriptionRegistryText": "Incident",
                                      "locationByValue": bomb}]

    parsed = eido_call_parse(document=document)

    assert (parsed.address, parsed.latitude) == ("", None)


def test_a_location_given_only_by_reference_is_not_fetched() -> None:
    document = _without(_sample(), ("locationComponent", 0, "locationByValue"))

    parsed = eido_call_parse(document=document)

    assert (parsed.address, parsed.latitude) == ("", None)  # the Caller location is a URL: never called


def test_the_parser_raises_validation_failed_not_key_errors_on_odd_shapes() -> None:
    for document in ({}, {"callComponent": [None, 1, "x"]}, {"incidentComponent": [{}], "locationComponent": [1]}):
        with pytest.raises(ValidationFailed) as raised:
            eido_call_parse(document=document)
        assert raised.value.code == "eido_incomplete"


def test_the_civic_addresss_city_scopes_the_address_key(world: World, cad: APIClient) -> None:
    cad.post(URL, _sample(), format="json")
    call = Call.objects.get()
    assert (call.municipality, call.address_key) == ("Wilmington", "WILMINGTON: 42 W CELLULAR ST")


def _mutual_aid(**owner: Any) -> dict[str, Any]:
    """Demo City's CAD sends an incident the county sheriff owns and asked Demo City to help with."""
    document = _incident_eido()
    document["agencyComponent"].append({
        "$id": "sheriff.other-county.example", "agencyRoleDescriptionRegistryText": ["Requesting"],
        "agencyType": ["police"], "incidentOwningAgencyIndicator": True,
        "agencyJcard": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Other County Sheriff"]]],
        **owner})
    return document


def test_a_mutual_aid_incident_keeps_the_other_agency_as_requesting_and_warns(world: World, cad: APIClient) -> None:
    response = cad.post(URL, _mutual_aid(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["requesting_agency"] == "Other County Sheriff (sheriff.other-county.example)"
    assert [w["code"] for w in body["warnings"]] == ["eido_other_agency"]
    assert "Other County Sheriff" in body["warnings"][0]["message"]
    assert world.agency.name in body["warnings"][0]["message"]  # where it was filed, said
    call = Call.objects.get()
    assert call.agency == world.agency  # the only agency the CAD's credentials may write
    assert call.requesting_agency == "Other County Sheriff (sheriff.other-county.example)"


def test_the_officer_reads_that_the_call_is_mutual_aid(world: World, cad: APIClient) -> None:
    from apps.briefings.services import briefing_assemble

    cad.post(URL, _mutual_aid(), format="json")
    version = briefing_assemble(call_id=Call.objects.get().pk, reason="call_created")

    assert version is not None
    call_item = next(i for i in version.items if i["id"] == "call")
    assert "Mutual aid: requested by Other County Sheriff (sheriff.other-county.example)." in call_item["body"]


def test_a_document_naming_only_its_sender_has_no_warning(world: World, cad: APIClient) -> None:
    for document in (_incident_eido(), _sample()):
        body = cad.post(URL, document, format="json").json()

        assert (body["requesting_agency"], body["warnings"]) == ("", [])


def test_the_receiving_agencys_own_ori_is_not_another_agency(world: World, cad: APIClient) -> None:
    body = cad.post(URL, _mutual_aid(**{"$id": world.agency.ori.lower(), "agencyJcard": None}), format="json").json()

    assert (body["requesting_agency"], body["warnings"]) == ("", [])
