"""The access matrix: every operation of the OpenAPI schema, for every persona.

EXPECTED below classifies each operation (by operationId) against several
targets (an own-agency record, a restricted one only Ava is named on, another
agency's, a missing id, ...) and says, persona by persona, what the answer must
be: the status, the error code, and for lists the exact set of records returned.
Anything a persona may not see answers 404 in the one error shape, never 403:
403 is only for a record the persona can see but may not change.

The URL and method of each call come from the schema generated in-process, so
the test walks what the API publishes; an operation the schema gains without a
row here fails `test_every_schema_operation_is_classified`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyotp
import pytest
from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import RequestFactory, override_settings
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apps.accounts.models import Device, Unit, User
from apps.accounts.services import DeviceInfo, session_issue
from apps.audit.models import AuditCheckpoint, AuditEvent
from apps.audit.services import audit_log_sequence
from apps.briefings.models import Briefing, BriefingVersion, RecommendationRule
from apps.briefings.rules import DEFAULT_RULES
from apps.briefings.services import briefing_assemble, briefing_item_add, recommendation_rules_seed
from apps.calls.models import Call as CallForService
from apps.calls.models import UnitAssignment
from apps.calls.services import call_assignment_add, call_assignment_clear, call_upsert, call_upsert_from_eido
from apps.cameras.models import Camera, CameraLocation, CameraPin
from apps.cameras.services import camera_create
from apps.cases.models import (
    Case,
    CasePerson,
    CaseUserObjectPermission,
    Person,
    PersonPhoto,
    PersonPhotoVariant,
    Premise,
    Restriction,
    Vehicle,
)
from apps.cases.services import person_photo_add, record_access_grant
from apps.delivery.models import Push
from apps.delivery.services import push_record
from apps.hazards.models import HealthArea, HealthDataset, RecordHazard
from apps.media.models import CallPhoto, CallPhotoVariant, ClipJob, ClipRendition
from apps.media.services import call_photo_upload
from apps.places.normalize import address_key
from mobile_api.v1.call_photos import call_photo_link
from mobile_api.v1.cases import photo_link
from mobile_api.v1.media import clip_link
from mobile_api.v1.sensor_alerts import alert_snapshot_link
from tests.api import contract
from tests.base import PASSWORD, World, current_code, make_user, make_world, signed_in_client
from tests.bolos import matrix_support as bolos
from tests.locations.matrix_support import (
    EMERGENCY_404,
    NOT_ALLOWED,
    UNIT_404,
    after_locations,
    location_records,
    track_body,
)
from tests.sensors.matrix_support import (
    NEW_LIST,
    SEARCH_PLATES,
    SNAPSHOT_BYTES,
    after_sensors,
    sensor_records,
    snapshot_files_write,
    webhook_request,
)

PERSONAS = ("ava", "omar", "cora", "sam", "abe", "aud", "xavier")
MFA_PERSONAS = ("ava", "sam", "abe", "aud")
MISSING_ID = 999_999
NEW_TITLE = "Renamed by the access matrix"
NEW_CASE_NUMBER = "26-777001"
PUSH_TOKEN = "fcm-token-from-the-access-matrix"
NEW_ROLE = "supervisor"
# Calls for service: the CAD's event numbers, the units on them, and what the CAD says of them.
DEMO_EVENT, UNASSIGNED_EVENT, CLEARED_EVENT = "26-0000501", "26-0000502", "26-0000503"
XAVIER_EVENT = "OC-26-000901"
NEW_EVENT = "26-0777001"
MISSING_EVENT = "26-0999999"
XAVIER_UNIT = "OC7"
CAD_RECEIVED = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
EIDO_SAMPLE = Path(settings.BASE_DIR) / "fixtures/data/standards/eido_sample_call_transfer.json"
EIDO_EVENT = "a56e556d871"  # the unique part of the sample's incident tracking id
NOTE_TITLE = "Added by the access matrix"
NEW_ITEM_TITLE = "Retitled by the access matrix"
NEW_RULE_NAME = "Access matrix rule"
NEW_EXPLANATION = "Explained by the access matrix"
NEW_HAZARD = "Recorded by the access matrix"
# The seeded co-responder rules of each agency, by name (see _call_records).
DEMO_RULES = tuple(f"rule_{n}" for n in range(len(DEFAULT_RULES)))
XAVIER_RULES = tuple(f"xavier_rule_{n}" for n in range(len(DEFAULT_RULES)))


@dataclass(frozen=True)
class Expect:
    status: int
    code: str = ""  # the error code a 4xx must carry
    ids: tuple[str, ...] | None = None  # lists: the exact records returned, by name (see Ctx.pk)


def row(default: Expect | int, **personas: Expect | int) -> dict[str, Expect]:
    """One target's answers: `default` for every persona not named."""
    unknown = set(personas) - set(PERSONAS)
    assert not unknown, unknown
    return {p: (v if isinstance(v, Expect) else Expect(v)) for p in PERSONAS for v in [personas.get(p, default)]}


def ids(*names: str) -> Expect:
    return Expect(200, ids=names)


def listing(**visible: tuple[str, ...]) -> dict[str, Expect]:
    """A list every persona may call; those not named get an empty list."""
    return row(ids(), **{p: ids(*names) for p, names in visible.items()})


CASE_404 = Expect(404, "case_not_found")
PERSON_404 = Expect(404, "person_not_found")
VEHICLE_404 = Expect(404, "vehicle_not_found")
PREMISE_404 = Expect(404, "premise_not_found")
DEVICE_404 = Expect(404, "device_not_found")
USER_404 = Expect(404, "user_not_found")
HIDDEN_404 = Expect(404, "not_found")
READ_ONLY = Expect(403, "case_read_only")
CANNOT_CREATE = Expect(403, "role_cannot_create_cases")
UNKNOWN_REFERENCE = Expect(400, "unknown_reference")
CALL_404 = Expect(404, "call_not_found")
BRIEFING_404 = Expect(404, "briefing_not_found")
BRIEFING_READ_ONLY = Expect(403, "briefing_read_only")
RULE_404 = Expect(404, "rule_not_found")
RULE_READ_ONLY = Expect(403, "rule_read_only")
AREA_404 = Expect(404, "hazard_area_not_found")
HAZARD_404 = Expect(404, "hazard_not_found")
HAZARD_READ_ONLY = Expect(403, "hazard_read_only")
CAMERA_404 = Expect(404, "camera_not_found")
PUSH_404 = Expect(404, "push_not_found")
PUSH_NOT_ALLOWED = Expect(403, "push_not_allowed")
NOT_CAMERA_OWNER = Expect(403, "not_camera_owner")
CAMERA_PASSWORD = "matrix-camera-password-9f2"  # must never appear in an answer

# Public operations: no token needed (sign-in, and photo links that carry their own signature).
PUBLIC = frozenset({"auth_login", "auth_mfa", "photos_file", "clips_file", "call_photos_file"})

# Media (apps/media): a signed link that is bad or old is 403 for anyone; what its user may not see, 404.
LINK_INVALID = Expect(403, "link_invalid")
LINK_EXPIRED = Expect(403, "link_expired")
PHOTO_404 = Expect(404, "photo_not_found")
PERSON_READ_ONLY = Expect(403, "person_read_only")
CLIP_404 = Expect(404, "clip_not_found")
CLIP_NOT_ALLOWED = Expect(403, "clip_not_allowed")
CLIP_READ_ONLY = Expect(403, "clip_read_only")

# Co-responder referrals (apps/referrals): Cora is on call for the health department serving Demo City,
# Olga for the crisis team serving Other County. See _referral_records.
REFERRAL_404 = Expect(404, "referral_not_found")
RESPONDER_ONLY = Expect(403, "responder_only")
REFERRAL_NOT_ALLOWED = Expect(403, "referral_not_allowed")
DEMO_REFERRALS = ("demo_referral", "accepted_referral", "unassigned_referral")

# operationId -> target -> persona -> what they get.
EXPECTED: dict[str, dict[str, dict[str, Expect]]] = {
    # Sign-in answers the same to everyone who gets it wrong; MFA roles get a challenge (202), others a token.
    "auth_login": {
        "wrong_password": row(Expect(401, "invalid_credentials")),
        "right_password": row(202, omar=201, cora=201, xavier=201),
    },
    "auth_mfa": {
        "forged_challenge": row(Expect(401, "mfa_challenge_invalid")),
        # Only the roles that need MFA are ever given a challenge to answer.
        "wrong_code": {p: Expect(401, "invalid_credentials") for p in MFA_PERSONAS},
        "right_code": {p: Expect(201) for p in MFA_PERSONAS},
    },
    "auth_logout": {"own_session": row(204)},
    "me_retrieve": {"self": row(200)},
    # Your own calls and your own pending pushes: whatever the role, only ever your own (an empty list at worst).
    "me_calls_list": {"self": row(200)},
    "me_pushes_pending": {"self": row(200)},
    # Every signed-in device may open its own event stream; what reaches it is decided per event.
    "stream_ticket_create": {"own_device": row(201)},
    "me_device_update": {"own_device": row(200)},
    # Delivery (docs/delivery.md): anyone signed in acks their own stream and reports their own position.
    "stream_ack": {"own_device": row(200)},
    "me_location_report": {"own_device": row(200)},
    # Analysts and supervisors push what they can see; an officer who can see it may not push it.
    "briefings_push": {
        "demo_call": row(BRIEFING_404, ava=202, sam=202, omar=PUSH_NOT_ALLOWED),
        "unassigned_call": row(BRIEFING_404, ava=202, sam=202),
        "xavier_call": row(BRIEFING_404, xavier=PUSH_NOT_ALLOWED),
        "missing": row(BRIEFING_404),
    },
    "cases_push": {
        "case": row(CASE_404, ava=202, sam=202, omar=PUSH_NOT_ALLOWED),
        "juvenile_case": row(CASE_404, ava=202),
        "xavier_case": row(CASE_404, xavier=PUSH_NOT_ALLOWED),
        "missing": row(CASE_404),
    },
    # Per-recipient state: the sender's own pushes, the automatic ones for analysts, all for supervisors.
    "pushes_list": {
        "demo_call": listing(ava=("ava_push", "demo_auto_push", "demo_note_push"),
                             sam=("ava_push", "sam_push", "demo_auto_push", "demo_note_push")),
        "xavier_call": listing(),
    },
    # Whom to push to, by name: only those who push search the agency's directory.
    "push_recipients_search": {"agency": row(HIDDEN_404, ava=200, sam=200)},
    "pushes_get": {
        "ava_push": row(PUSH_404, ava=200, sam=200),
        "sam_push": row(PUSH_404, sam=200),
        "demo_auto_push": row(PUSH_404, ava=200, sam=200),
        "xavier_push": row(PUSH_404),
        "missing": row(PUSH_404),
    },
    # Only a recipient opens or acknowledges (Omar was sent Ava's push, Xavier his agency's).
    "pushes_receipt": {
        "ava_push": row(PUSH_404, omar=200),
        "xavier_push": row(PUSH_404, xavier=200),
        "missing": row(PUSH_404),
    },
    # Your own devices; an administrator may list a colleague's. Everyone is signed in on a phone
    # (own_device, or <name>_phone); Omar and Xavier have a second device each.
    "devices_list": {
        "own": row(ids("own_device"), omar=ids("own_device", "omar_device"),
                   xavier=ids("own_device", "xavier_device")),
        "omar": row(USER_404, omar=ids("omar_phone", "omar_device"), abe=ids("omar_phone", "omar_device")),
        # Abe asking for another agency's user gets what he gets for an unknown id: not found.
        "xavier": row(USER_404, xavier=ids("xavier_phone", "xavier_device")),
        "missing": row(USER_404),
    },
    "devices_revoke": {
        "own_device": row(200),
        "omar_device": row(DEVICE_404, omar=200, abe=200),
        "xavier_device": row(DEVICE_404, xavier=200),
        "missing": row(DEVICE_404),
    },
    "users_list": {"agency": row(HIDDEN_404, abe=ids("ava", "omar", "cora", "sam", "abe", "aud", "lou", "gus"))},
    # lou is a locked-out Demo City officer; omar is not locked.
    "users_release_lock": {
        "lou": row(USER_404, abe=200),
        "omar": row(USER_404, abe=Expect(400, "account_not_locked")),
        "xavier": row(USER_404),
        "missing": row(USER_404),
    },
    "users_set_active": {
        "omar": row(USER_404, abe=200),
        "self": row(USER_404, abe=Expect(403, "cannot_disable_self")),
        "xavier": row(USER_404),
        "missing": row(USER_404),
    },
    "users_create": {
        "new_officer": row(HIDDEN_404, abe=201),
        "taken_username": row(HIDDEN_404, abe=Expect(400, "username_taken")),
    },
    "users_set_role": {
        "omar": row(USER_404, abe=200),
        "self": row(USER_404, abe=Expect(403, "cannot_change_own_role")),
        "xavier": row(USER_404),
        "missing": row(USER_404),
    },
    "cases_list": {
        "all": listing(ava=("case", "juvenile_case"), omar=("case",), sam=("case",), xavier=("xavier_case",)),
    },
    # Searches (POST, words in the body): a word that matches someone else's record finds nothing.
    "cases_search": {
        "own_agency": listing(ava=("case",), omar=("case",), sam=("case",)),
        "restricted": listing(ava=("juvenile_case",)),
        "other_agency": listing(xavier=("xavier_case",)),
    },
    # Collections exist for everyone (no id leaks), so a role that cannot open cases gets 403 here.
    "cases_create": {
        "new_case": row(CANNOT_CREATE, ava=201, sam=201),
        "with_restricted_person": row(CANNOT_CREATE, ava=201, sam=UNKNOWN_REFERENCE),
        "with_xavier_person": row(CANNOT_CREATE, ava=UNKNOWN_REFERENCE, sam=UNKNOWN_REFERENCE),
    },
    "cases_retrieve": {
        "case": row(CASE_404, ava=200, omar=200, sam=200),
        "juvenile_case": row(CASE_404, ava=200),
        "xavier_case": row(CASE_404, xavier=200),
        "missing": row(CASE_404),
    },
    "cases_update": {
        "case": row(CASE_404, ava=200, sam=200, omar=READ_ONLY),
        "juvenile_case": row(CASE_404, ava=200),
        "xavier_case": row(CASE_404, xavier=READ_ONLY),
        "missing": row(CASE_404),
    },
    # Grant and revoke name gus, a Demo City officer.
    "cases_access_grant": {
        "case": row(CASE_404, ava=204, sam=204, omar=READ_ONLY),
        "juvenile_case": row(CASE_404, ava=204),
        "xavier_case": row(CASE_404, xavier=READ_ONLY),
        "missing": row(CASE_404),
    },
    "cases_access_revoke": {
        "case": row(CASE_404, ava=204, sam=204, omar=READ_ONLY),
        "juvenile_case": row(CASE_404, ava=204),
        "xavier_case": row(CASE_404, xavier=READ_ONLY),
        "missing": row(CASE_404),
    },
    "people_list": {
        "all": listing(ava=("person", "restricted_person"), omar=("person",), sam=("person",),
                       xavier=("xavier_person",)),
    },
    "people_search": {
        "own_agency": listing(ava=("person",), omar=("person",), sam=("person",)),
        "restricted": listing(ava=("restricted_person",)),
        "other_agency": listing(xavier=("xavier_person",)),
    },
    "people_retrieve": {
        "person": row(PERSON_404, ava=200, omar=200, sam=200),
        "restricted_person": row(PERSON_404, ava=200),
        "xavier_person": row(PERSON_404, xavier=200),
        "missing": row(PERSON_404),
    },
    "vehicles_list": {
        "all": listing(ava=("vehicle", "restricted_vehicle"), omar=("vehicle",), sam=("vehicle",),
                       xavier=("xavier_vehicle",)),
    },
    "vehicles_search": {
        "own_agency": listing(ava=("vehicle",), omar=("vehicle",), sam=("vehicle",)),
        "restricted": listing(ava=("restricted_vehicle",)),
        "other_agency": listing(xavier=("xavier_vehicle",)),
    },
    "vehicles_retrieve": {
        "vehicle": row(VEHICLE_404, ava=200, omar=200, sam=200),
        "restricted_vehicle": row(VEHICLE_404, ava=200),
        "xavier_vehicle": row(VEHICLE_404, xavier=200),
        "missing": row(VEHICLE_404),
    },
    "premises_list": {
        "all": listing(ava=("premise", "restricted_premise"), omar=("premise",), sam=("premise",),
                       xavier=("xavier_premise",)),
    },
    "premises_search": {
        "own_agency": listing(ava=("premise",), omar=("premise",), sam=("premise",)),
        "restricted": listing(ava=("restricted_premise",)),
        "other_agency": listing(xavier=("xavier_premise",)),
    },
    "premises_retrieve": {
        "premise": row(PREMISE_404, ava=200, omar=200, sam=200),
        "restricted_premise": row(PREMISE_404, ava=200),
        "xavier_premise": row(PREMISE_404, xavier=200),
        "missing": row(PREMISE_404),
    },
    # The persona is the user the link was made for; the check is made again when it is opened.
    "photos_file": {
        "person_photo": row(PHOTO_404, ava=200, omar=200, sam=200),
        "restricted_photo": row(PHOTO_404, ava=200),
        "xavier_photo": row(PHOTO_404, xavier=200),
        "missing_photo": row(PHOTO_404),
        "expired_link": row(LINK_EXPIRED),
        "tampered_link": row(LINK_INVALID),
    },
    "audit_list": {
        "all": row(HIDDEN_404, aud=200),
        "xavier_actor": row(HIDDEN_404, aud=ids()),
    },
    # The Merkle log's checkpoints and proofs: auditors only, and a proof only for their own agency's event.
    "audit_checkpoints_list": {"all": row(HIDDEN_404, aud=200)},
    "audit_proof": {
        "own_event": row(HIDDEN_404, aud=200),
        "xavier_event": row(HIDDEN_404),
        "missing": row(HIDDEN_404),
    },
    "audit_consistency": {"all": row(HIDDEN_404, aud=200)},
    # Calls for service: officers, analysts and supervisors read every call of their agency.
    "calls_list": {
        "active": listing(**{p: ("demo_call", "unassigned_call", "cleared_call") for p in ("ava", "omar", "sam")},
                          xavier=("xavier_call",)),
    },
    "calls_retrieve": {
        "demo_call": row(CALL_404, ava=200, omar=200, sam=200),
        "unassigned_call": row(CALL_404, ava=200, omar=200, sam=200),
        "xavier_call": row(CALL_404, xavier=200),
        "missing": row(CALL_404),
    },
    # The CAD's doors are for the CAD account, analysts and supervisors of the agency: for anyone else
    # they do not exist, whatever the event number or body. Event numbers are per agency, so a Demo City
    # writer naming Xavier's event number opens a Demo City call of that number and leaves his alone.
    "cad_calls_upsert": {
        "new_event": row(HIDDEN_404, ava=201, sam=201),
        "demo_call": row(HIDDEN_404, ava=200, sam=200),  # the same body again: unchanged
        "xavier_call": row(HIDDEN_404, ava=201, sam=201),
    },
    "cad_assignments_add": {
        "unassigned_call": row(HIDDEN_404, ava=201, sam=201),
        "demo_call": row(HIDDEN_404, ava=200, sam=200),  # 2A12 is on it already
        "other_agency_unit": row(HIDDEN_404, ava=Expect(400, "unknown_unit"), sam=Expect(400, "unknown_unit")),
        "xavier_call": row(HIDDEN_404, ava=CALL_404, sam=CALL_404),
        "missing": row(HIDDEN_404, ava=CALL_404, sam=CALL_404),
    },
    "cad_assignments_clear": {
        "demo_call": row(HIDDEN_404, ava=204, sam=204),
        "unassigned_call": row(HIDDEN_404, ava=204, sam=204),  # not on it: nothing to do
        "xavier_call": row(HIDDEN_404, ava=CALL_404, sam=CALL_404),
        "missing": row(HIDDEN_404, ava=CALL_404, sam=CALL_404),
    },
    "cad_eido_submit": {
        "sample": row(HIDDEN_404, ava=201, sam=201),
        "resent": row(HIDDEN_404, ava=200, sam=200),
        # Refused before it is read: the document's faults are no one else's business.
        "incomplete": row(HIDDEN_404, ava=Expect(400, "eido_incomplete"), sam=Expect(400, "eido_incomplete")),
    },
    # Briefings: officers read those of calls their unit is on (not one it was cleared from), analysts and
    # supervisors all of their agency's.
    "briefings_retrieve": {
        "demo_call": row(BRIEFING_404, ava=200, omar=200, sam=200),
        "unassigned_call": row(BRIEFING_404, ava=200, sam=200),
        "cleared_call": row(BRIEFING_404, ava=200, sam=200),
        "xavier_call": row(BRIEFING_404, xavier=200),
        "missing": row(BRIEFING_404),
    },
    "briefings_versions_list": {
        "demo_call": row(BRIEFING_404, ava=200, omar=200, sam=200),
        "unassigned_call": row(BRIEFING_404, ava=200, sam=200),
        "xavier_call": row(BRIEFING_404, xavier=200),
        "missing": row(BRIEFING_404),
    },
    "briefings_versions_retrieve": {
        "demo_call": row(BRIEFING_404, ava=200, omar=200, sam=200),
        "unassigned_call": row(BRIEFING_404, ava=200, sam=200),
        "xavier_call": row(BRIEFING_404, xavier=200),
        "missing": row(BRIEFING_404),
        # Only a reader of the briefing learns which versions it has.
        "missing_version": row(BRIEFING_404, **dict.fromkeys(("ava", "omar", "sam"),
                                                             Expect(404, "version_not_found"))),
    },
    "briefings_diff": {
        "demo_call": row(BRIEFING_404, ava=200, omar=200, sam=200),
        "unassigned_call": row(BRIEFING_404, ava=200, sam=200),
        "xavier_call": row(BRIEFING_404, xavier=200),
        "missing": row(BRIEFING_404),
        "missing_version": row(BRIEFING_404, **dict.fromkeys(("ava", "omar", "sam"),
                                                             Expect(400, "version_not_found"))),
    },
    # Edits: analysts and supervisors; an officer who reads the briefing may not change it (403).
    "briefings_items_add": {
        "demo_briefing": row(BRIEFING_404, ava=201, sam=201, omar=BRIEFING_READ_ONLY),
        "unassigned_briefing": row(BRIEFING_404, ava=201, sam=201),
        "xavier_briefing": row(BRIEFING_404, xavier=BRIEFING_READ_ONLY),
        "missing": row(BRIEFING_404),
        # A photo goes to everyone the briefing reaches: only photos of unrestricted people of the agency.
        "person_photo": row(BRIEFING_404, ava=201, sam=201, omar=BRIEFING_READ_ONLY),
        "restricted_photo": row(BRIEFING_404, ava=UNKNOWN_REFERENCE, sam=UNKNOWN_REFERENCE, omar=BRIEFING_READ_ONLY),
        "xavier_photo": row(BRIEFING_404, ava=UNKNOWN_REFERENCE, sam=UNKNOWN_REFERENCE, omar=BRIEFING_READ_ONLY),
    },
    # The item edited is "call", which every briefing has.
    "briefings_items_edit": {
        "demo_briefing": row(BRIEFING_404, ava=200, sam=200, omar=BRIEFING_READ_ONLY),
        "unassigned_briefing": row(BRIEFING_404, ava=200, sam=200),
        "xavier_briefing": row(BRIEFING_404, xavier=BRIEFING_READ_ONLY),
        "missing": row(BRIEFING_404),
        "missing_item": row(BRIEFING_404, ava=Expect(404, "item_not_found"), sam=Expect(404, "item_not_found"),
                            omar=BRIEFING_READ_ONLY),
    },
    # Ava's notes can be removed; automatic items only hidden.
    "briefings_items_remove": {
        "demo_note": row(BRIEFING_404, ava=200, sam=200, omar=BRIEFING_READ_ONLY),
        "automatic_item": row(BRIEFING_404, ava=Expect(400, "item_not_removable"),
                              sam=Expect(400, "item_not_removable"), omar=BRIEFING_READ_ONLY),
        "unassigned_note": row(BRIEFING_404, ava=200, sam=200),
        "xavier_briefing": row(BRIEFING_404, xavier=BRIEFING_READ_ONLY),
        "missing": row(BRIEFING_404),
    },
    # Co-responder rules: officers, analysts and supervisors read their agency's; the two last change them.
    "recommendation_rules_list": {
        "agency": listing(ava=DEMO_RULES, omar=DEMO_RULES, sam=DEMO_RULES, xavier=XAVIER_RULES),
    },
    "recommendation_rules_create": {
        "new_rule": row(HIDDEN_404, ava=201, sam=201),
        "taken_name": row(HIDDEN_404, ava=Expect(400, "rule_name_taken"), sam=Expect(400, "rule_name_taken")),
    },
    "recommendation_rules_update": {
        "rule_0": row(RULE_404, ava=200, sam=200, omar=RULE_READ_ONLY),
        "xavier_rule_0": row(RULE_404, xavier=RULE_READ_ONLY),
        "missing": row(RULE_404),
    },
    # Health areas: public health data for the field roles, the datasets shared by all and their agency's.
    "hazard_areas_list": {
        "all": row(HIDDEN_404, ava=ids("health_area"), omar=ids("health_area"), sam=ids("health_area"),
                   xavier=ids("health_area", "xavier_area")),
    },
    "hazard_areas_retrieve": {
        "health_area": row(HIDDEN_404, ava=200, omar=200, sam=200, xavier=200),
        "xavier_area": row(HIDDEN_404, ava=AREA_404, omar=AREA_404, sam=AREA_404, xavier=200),
        "missing": row(HIDDEN_404, ava=AREA_404, omar=AREA_404, sam=AREA_404, xavier=AREA_404),
    },
    # Hazards on records: read through a record one may see, and only those every linked record of
    # which one may see (restricted_person_hazard is on the open premise and the juvenile).
    "premise_hazards_list": {
        "premise": row(PREMISE_404, ava=ids("premise_hazard", "restricted_person_hazard"),
                       omar=ids("premise_hazard"), sam=ids("premise_hazard")),
        "restricted_premise": row(PREMISE_404, ava=ids("restricted_premise_hazard")),
        "xavier_premise": row(PREMISE_404, xavier=ids("xavier_hazard")),
        "missing": row(PREMISE_404),
    },
    "premise_hazards_create": {
        "premise": row(PREMISE_404, ava=201, sam=201, omar=HAZARD_READ_ONLY),
        "restricted_premise": row(PREMISE_404, ava=201),
        "xavier_premise": row(PREMISE_404, xavier=HAZARD_READ_ONLY),
        "missing": row(PREMISE_404),
    },
    "person_hazards_list": {
        "person": row(PERSON_404, ava=ids("person_hazard"), omar=ids("person_hazard"), sam=ids("person_hazard")),
        "restricted_person": row(PERSON_404, ava=ids("restricted_person_hazard")),
        "xavier_person": row(PERSON_404, xavier=ids("xavier_hazard")),
        "missing": row(PERSON_404),
    },
    "person_hazards_create": {
        "person": row(PERSON_404, ava=201, sam=201, omar=HAZARD_READ_ONLY),
        "restricted_person": row(PERSON_404, ava=201),
        "xavier_person": row(PERSON_404, xavier=HAZARD_READ_ONLY),
        "missing": row(PERSON_404),
    },
    "hazards_delete": {
        "premise_hazard": row(HAZARD_404, ava=204, sam=204, omar=HAZARD_READ_ONLY),
        "restricted_person_hazard": row(HAZARD_404, ava=204),
        "xavier_hazard": row(HAZARD_404, xavier=HAZARD_READ_ONLY),
        "missing": row(HAZARD_404),
    },
    # Cameras: the registry is read by analysts, supervisors and administrators of the agency; officers see
    # cameras only in briefings, co-responders and auditors never. Sharing is the owner's administrator's
    # call (Abe), moves are the center's; near-call lists and pins are for analysts and supervisors.
    "cameras_list": {
        "all": listing(**dict.fromkeys(("ava", "sam", "abe"), ("camera", "trailer", "never_camera"))),
    },
    "cameras_retrieve": {
        "camera": row(CAMERA_404, ava=200, sam=200, abe=200),
        "trailer": row(CAMERA_404, ava=200, sam=200, abe=200),
        "xavier_camera": row(CAMERA_404),
        "missing": row(CAMERA_404),
    },
    "cameras_sharing_set": {
        "camera": row(CAMERA_404, abe=200, ava=NOT_CAMERA_OWNER, sam=NOT_CAMERA_OWNER),
        "xavier_camera": row(CAMERA_404),
        "missing": row(CAMERA_404),
    },
    "cameras_relocate": {
        "trailer": row(CAMERA_404, ava=200, sam=200, abe=200),
        "camera": row(CAMERA_404, **dict.fromkeys(("ava", "sam", "abe"), Expect(400, "camera_not_mobile"))),
        "xavier_camera": row(CAMERA_404),
        "missing": row(CAMERA_404),
    },
    # The center's staff see the cameras of any call of theirs; an officer those of a call his unit is on now
    # (the ones its briefing lists), not of one it was cleared from or never on.
    "calls_cameras_list": {
        "demo_call": row(CALL_404, ava=200, sam=200, omar=200),
        "unassigned_call": row(CALL_404, ava=200, sam=200),
        "cleared_call": row(CALL_404, ava=200, sam=200),
        "xavier_call": row(CALL_404, xavier=200),  # his unit is on his agency's call
        "missing": row(CALL_404),
    },
    # Pins name a call and a camera: Demo City's call with each camera, then Xavier's call, then no call.
    "calls_camera_pins_add": {
        "camera": row(CALL_404, ava=201, sam=201),
        "trailer": row(CALL_404, ava=200, sam=200),  # pinned already
        "never_camera": row(CALL_404, ava=Expect(400, "camera_not_shared"), sam=Expect(400, "camera_not_shared")),
        "xavier_camera": row(CALL_404, ava=CAMERA_404, sam=CAMERA_404),
        "xavier_call": row(CALL_404),
        "missing": row(CALL_404),
    },
    "calls_camera_pins_remove": {
        "trailer": row(CALL_404, ava=204, sam=204),
        "xavier_call": row(CALL_404),
        "missing": row(CALL_404),
    },
    # Media: analysts and supervisors attach photos and ask for clips; officers read the clips of calls their
    # unit is on. Clips: demo_clip (queued) and ready_clip on demo_call, unassigned_clip, xavier_clip (ready).
    "people_photos_create": {
        "person": row(PERSON_404, ava=201, sam=201, omar=PERSON_READ_ONLY),
        "restricted_person": row(PERSON_404, ava=201),
        "xavier_person": row(PERSON_404, xavier=PERSON_READ_ONLY),
        "missing": row(PERSON_404),
    },
    "clips_list": {
        "demo_call": row(CALL_404, **dict.fromkeys(("ava", "omar", "sam"), ids("demo_clip", "ready_clip"))),
        "unassigned_call": row(CALL_404, ava=ids("unassigned_clip"), sam=ids("unassigned_clip"), omar=ids()),
        "xavier_call": row(CALL_404, xavier=ids("xavier_clip")),
        "missing": row(CALL_404),
    },
    # From a camera, for demo_call (xavier_call: with Xavier's camera).
    "clips_create": {
        "camera": row(CALL_404, ava=202, sam=202, omar=CLIP_NOT_ALLOWED),
        "never_camera": row(CALL_404, ava=CAMERA_404, sam=CAMERA_404, omar=CLIP_NOT_ALLOWED),
        "xavier_camera": row(CALL_404, ava=CAMERA_404, sam=CAMERA_404, omar=CLIP_NOT_ALLOWED),
        "xavier_call": row(CALL_404, xavier=CLIP_NOT_ALLOWED),
        "missing": row(CALL_404),
    },
    "clips_upload": {  # evidence from the scene: the center, or an officer on the call (as call photos)
        "demo_call": row(CALL_404, ava=202, sam=202, omar=202),
        "unassigned_call": row(CALL_404, ava=202, sam=202),
        "xavier_call": row(CALL_404, xavier=202),
        "missing": row(CALL_404),
    },
    "clips_retrieve": {
        "demo_clip": row(CLIP_404, ava=200, omar=200, sam=200),
        "unassigned_clip": row(CLIP_404, ava=200, sam=200),
        "xavier_clip": row(CLIP_404, xavier=200),
        "missing": row(CLIP_404),
    },
    "clips_cancel": {
        "demo_clip": row(CLIP_404, ava=200, sam=200, omar=CLIP_READ_ONLY),
        "ready_clip": row(CLIP_404, ava=Expect(400, "clip_finished"), sam=Expect(400, "clip_finished"),
                          omar=CLIP_READ_ONLY),
        "xavier_clip": row(CLIP_404, xavier=CLIP_READ_ONLY),
        "missing": row(CLIP_404),
    },
    # The persona is the user the link was made for, as for photos_file; a queued clip has no file yet.
    "clips_file": {
        "ready_clip": row(CLIP_404, ava=200, omar=200, sam=200),
        "demo_clip": row(CLIP_404),
        "xavier_clip": row(CLIP_404, xavier=200),
        "missing": row(CLIP_404),
        "expired_link": row(LINK_EXPIRED),
        "tampered_link": row(LINK_INVALID),
    },
    # Photos of a call: an officer whose unit is on it, and the agency's analysts and supervisors, add them
    # and list them; anyone else (another call, agency or role) gets the call's 404. call_photo is on demo_call.
    "call_photos_create": {
        "demo_call": row(CALL_404, ava=201, omar=201, sam=201),
        "unassigned_call": row(CALL_404, ava=201, sam=201),
        "xavier_call": row(CALL_404, xavier=201),
        "missing": row(CALL_404),
    },
    "call_photos_list": {
        "demo_call": row(CALL_404, **dict.fromkeys(("ava", "omar", "sam"), ids("call_photo"))),
        "unassigned_call": row(CALL_404, ava=ids(), sam=ids()),
        "xavier_call": row(CALL_404, xavier=ids("xavier_call_photo")),
        "missing": row(CALL_404),
    },
    # The persona is the user the link was made for, as for photos_file.
    "call_photos_file": {
        "call_photo": row(PHOTO_404, ava=200, omar=200, sam=200),
        "xavier_call_photo": row(PHOTO_404, xavier=200),
        "missing_photo": row(PHOTO_404),
        "expired_link": row(LINK_EXPIRED),
        "tampered_link": row(LINK_INVALID),
    },
    # Referrals: analysts and supervisors see their agency's, officers those they asked for or whose call their
    # unit is on, co-responders those offered to them or accepted by them, in their own organisation only.
    "referrals_list": {
        "all": listing(ava=DEMO_REFERRALS, sam=DEMO_REFERRALS, omar=("demo_referral", "accepted_referral"),
                       cora=DEMO_REFERRALS, xavier=("xavier_referral",)),
    },
    "referrals_retrieve": {
        "demo_referral": row(REFERRAL_404, ava=200, sam=200, omar=200, cora=200),
        "accepted_referral": row(REFERRAL_404, ava=200, sam=200, omar=200, cora=200),
        "unassigned_referral": row(REFERRAL_404, ava=200, sam=200, cora=200),
        "xavier_referral": row(REFERRAL_404, xavier=200),
        "missing": row(REFERRAL_404),
    },
    # For a co-responder a call does not exist; an officer asks only for a call his unit is on.
    "referrals_create": {
        "demo_call": row(CALL_404, ava=201, sam=201, omar=201),
        "unassigned_call": row(CALL_404, ava=201, sam=201, omar=REFERRAL_NOT_ALLOWED),
        "xavier_call": row(CALL_404, xavier=201),
        "missing": row(CALL_404),
    },
    # {"to": "accepted"}: only the co-responder it is offered to; once accepted, a second accept is refused.
    "referrals_transition": {
        "demo_referral": row(REFERRAL_404, cora=200, ava=RESPONDER_ONLY, sam=RESPONDER_ONLY, omar=RESPONDER_ONLY),
        "accepted_referral": row(REFERRAL_404, cora=Expect(409, "invalid_transition"), ava=RESPONDER_ONLY,
                                 sam=RESPONDER_ONLY, omar=RESPONDER_ONLY),
        "unassigned_referral": row(REFERRAL_404, cora=200, ava=RESPONDER_ONLY, sam=RESPONDER_ONLY),
        "xavier_referral": row(REFERRAL_404, xavier=RESPONDER_ONLY),
        "missing": row(REFERRAL_404),
    },
    # The agency's counts for its analysts and supervisors; a health department's for its coordinators.
    "referrals_report": {"agency": row(HIDDEN_404, ava=200, sam=200)},
}


# Sensors (apps/sensors, docs/sensors.md). Webhooks take no token: a sensor signs with its source's secret,
# whoever's client carries the request; unsigned or wrongly signed is 401 and stores nothing. Alerts are read
# by the agency's officers, analysts and supervisors, verified by the last two; hot lists and plate-read
# searches (purpose and case number required) are the analysts' and supervisors'.
ALERT_404 = Expect(404, "alert_not_found")
ALERT_READ_ONLY = Expect(403, "alert_read_only")
HOT_LIST_404 = Expect(404, "hot_list_not_found")
SENSOR_WEBHOOK_ROWS = {"signed": row(202), "unsigned": row(Expect(401, "signature_missing")),
                       "wrong_secret": row(Expect(401, "signature_invalid"))}
PUBLIC |= {"sensors_webhook_alpr", "sensors_webhook_gunshot", "sensors_webhook_analytics", "sensor_alerts_snapshot"}

# Unit locations and the officer emergency (docs/locations.md; records in tests/locations/matrix_support.py).
_UNIT_404, _EMERGENCY_404, _NOT_ALLOWED = Expect(**UNIT_404), Expect(**EMERGENCY_404), Expect(**NOT_ALLOWED)
EXPECTED |= {
    "me_positions_report": {"self": row(202)},  # off shift: answered, nothing recorded
    "me_track_lookups_list": {"self": row(200)},
    "units_positions_list": {"self": row(200)},
    "units_track_lookup": {"unit": row(_UNIT_404, ava=200, sam=200), "xavier_unit": row(_UNIT_404),
                           "missing": row(_UNIT_404)},
    "calls_nearest_units_list": {"demo_call": row(CALL_404, ava=200, sam=200, omar=200),
                                 "unassigned_call": row(CALL_404, ava=200, sam=200),
                                 "xavier_call": row(CALL_404, xavier=200), "missing": row(CALL_404)},
    # Omar and Xavier each have one open already: a second press answers it (200), it raises no other.
    "emergencies_raise": {"self": row(_NOT_ALLOWED, omar=200, xavier=200)},
    "emergencies_list": {"all": listing(omar=("demo_emergency",), ava=("demo_emergency",), sam=("demo_emergency",),
                                        xavier=("xavier_emergency",))},
    "emergencies_retrieve": {"demo_emergency": row(_EMERGENCY_404, omar=200, ava=200, sam=200),
                             "xavier_emergency": row(_EMERGENCY_404, xavier=200), "missing": row(_EMERGENCY_404)},
    "emergencies_acknowledge": {"demo_emergency": row(_EMERGENCY_404, omar=_NOT_ALLOWED, ava=200, sam=200),
                                "xavier_emergency": row(_EMERGENCY_404, xavier=_NOT_ALLOWED),
                                "missing": row(_EMERGENCY_404)},
    "emergencies_close": {"demo_emergency": row(_EMERGENCY_404, omar=200, sam=200, ava=_NOT_ALLOWED),
                          "xavier_emergency": row(_EMERGENCY_404, xavier=200), "missing": row(_EMERGENCY_404)},
}
EXPECTED |= {
    "sensors_webhook_alpr": SENSOR_WEBHOOK_ROWS,
    "sensors_webhook_gunshot": SENSOR_WEBHOOK_ROWS,
    "sensors_webhook_analytics": SENSOR_WEBHOOK_ROWS,
    "sensor_alerts_list": {
        "all": listing(ava=("demo_alert",), omar=("demo_alert",), sam=("demo_alert",), xavier=("xavier_alert",)),
    },
    "sensor_alerts_retrieve": {
        "demo_alert": row(ALERT_404, ava=200, omar=200, sam=200),
        "xavier_alert": row(ALERT_404, xavier=200),
        "missing": row(ALERT_404),
    },
    "sensor_alerts_verify": {
        "demo_alert": row(ALERT_404, ava=200, sam=200, omar=ALERT_READ_ONLY),
        "xavier_alert": row(ALERT_404, xavier=ALERT_READ_ONLY),
        "missing": row(ALERT_404),
    },
    # A snapshot link opens for its user as long as they see the alert (photos_file's rules).
    "sensor_alerts_snapshot": {
        "demo_alert": row(ALERT_404, ava=200, omar=200, sam=200),
        "xavier_alert": row(ALERT_404, xavier=200),
        "missing": row(ALERT_404),
        "expired_link": row(LINK_EXPIRED),
        "tampered_link": row(LINK_INVALID),
    },
    "hot_lists_list": {"all": listing(ava=("demo_hot_list",), sam=("demo_hot_list",))},
    "hot_lists_create": {
        "new_list": row(HIDDEN_404, ava=201, sam=201),
        "taken_name": row(HIDDEN_404, ava=Expect(400, "hot_list_name_taken"), sam=Expect(400, "hot_list_name_taken")),
    },
    "hot_lists_retrieve": {
        "demo_hot_list": row(HOT_LIST_404, ava=200, sam=200),
        "xavier_hot_list": row(HOT_LIST_404),
        "missing": row(HOT_LIST_404),
    },
    "hot_lists_update": {
        "demo_hot_list": row(HOT_LIST_404, ava=200, sam=200),
        "xavier_hot_list": row(HOT_LIST_404),
        "missing": row(HOT_LIST_404),
    },
    "hot_lists_delete": {
        "demo_hot_list": row(HOT_LIST_404, ava=204, sam=204),
        "xavier_hot_list": row(HOT_LIST_404),
        "missing": row(HOT_LIST_404),
    },
    "hot_list_entries_list": {
        "demo_hot_list": row(HOT_LIST_404, ava=ids("demo_entry"), sam=ids("demo_entry")),
        "xavier_hot_list": row(HOT_LIST_404),
        "missing": row(HOT_LIST_404),
    },
    "hot_list_entries_add": {
        "demo_hot_list": row(HOT_LIST_404, ava=201, sam=201),
        "xavier_hot_list": row(HOT_LIST_404),
        "missing": row(HOT_LIST_404),
    },
    # The entry named, on its own list (missing: an unknown entry on Demo City's list).
    "hot_list_entries_remove": {
        "demo_entry": row(HOT_LIST_404, ava=204, sam=204),
        "xavier_entry": row(HOT_LIST_404),
        "missing": row(HOT_LIST_404, ava=Expect(404, "entry_not_found"), sam=Expect(404, "entry_not_found")),
    },
    # A plate read by Demo City's camera, and one read by Other County's.
    "plate_reads_search": {
        "own_agency": row(HIDDEN_404, ava=ids("demo_read"), sam=ids("demo_read")),
        "other_agency": row(HIDDEN_404, ava=ids(), sam=ids()),
    },
}


# BOLOs (apps/bolos, docs/bolos.md): the agency's officers, analysts and supervisors read them and report
# sightings; analysts and supervisors issue, change and cancel (an officer: 403); a cancelled or expired one takes
# no change and no sighting (410). Co-responders, administrators, auditors and other agencies: 404.
BOLO_404 = Expect(404, "bolo_not_found")
BOLO_READ_ONLY = Expect(403, "bolo_read_only")
BOLO_ENDED = Expect(410, "bolo_ended")
ISSUERS = ("ava", "sam")


def _issuers(answer: Expect | int, **others: Expect | int) -> dict[str, Expect]:
    """A write only Demo City's analyst and supervisor may make: the officers may read, the rest see nothing."""
    return row(HIDDEN_404, **dict.fromkeys(ISSUERS, answer), omar=BOLO_READ_ONLY, xavier=BOLO_READ_ONLY, **others)


PUBLIC |= {"bolo_photos_file"}
EXPECTED |= {
    "bolos_list": {"active": listing(ava=("demo_bolo",), omar=("demo_bolo",), sam=("demo_bolo",),
                                     xavier=("xavier_bolo",))},
    "bolos_create": {"new": _issuers(201), "no_expiry": _issuers(Expect(400, "expiry_required")),
                     "xavier_photo": _issuers(Expect(400, "unknown_photo"))},
    "bolos_retrieve": {
        "demo_bolo": row(BOLO_404, ava=200, omar=200, sam=200),
        "ended_bolo": row(BOLO_404, ava=200, omar=200, sam=200),
        "xavier_bolo": row(BOLO_404, xavier=200),
        "missing": row(BOLO_404),
    },
    **{op: {
        "demo_bolo": row(BOLO_404, ava=200, sam=200, omar=BOLO_READ_ONLY),
        "ended_bolo": row(BOLO_404, ava=BOLO_ENDED, sam=BOLO_ENDED, omar=BOLO_READ_ONLY),
        "xavier_bolo": row(BOLO_404, xavier=BOLO_READ_ONLY),
        "missing": row(BOLO_404),
    } for op in ("bolos_update", "bolos_cancel")},
    "bolo_sightings_create": {
        "demo_bolo": row(BOLO_404, ava=201, omar=201, sam=201),
        "ended_bolo": row(BOLO_404, ava=BOLO_ENDED, omar=BOLO_ENDED, sam=BOLO_ENDED),
        "xavier_bolo": row(BOLO_404, xavier=201),
        "missing": row(BOLO_404),
    },
    "bolo_photos_create": {"photo": _issuers(201)},
    # The persona is the user the link was made for, as for photos_file; an unused upload opens for its uploader.
    "bolo_photos_file": {
        "demo_photo": row(PHOTO_404, ava=200, omar=200, sam=200),
        "xavier_bolo_photo": row(PHOTO_404, xavier=200),
        "unused_photo": row(PHOTO_404, ava=200),
        "missing_photo": row(PHOTO_404),
        "expired_link": row(LINK_EXPIRED),
        "tampered_link": row(LINK_INVALID),
    },
}


# Every case-file record each persona may see, by name. A record nested in any answer (the people on a
# case, the cases at a premise, a vehicle's owner) must be one of these: checked on every success.
VISIBLE: dict[str, frozenset[str]] = {
    "ava": frozenset({"case", "juvenile_case", "person", "restricted_person", "vehicle", "restricted_vehicle",
                      "premise", "restricted_premise"}),
    "omar": frozenset({"case", "person", "vehicle", "premise"}),
    "sam": frozenset({"case", "person", "vehicle", "premise"}),
    "xavier": frozenset({"xavier_case", "xavier_person", "xavier_vehicle", "xavier_premise"}),
    "cora": frozenset(),
    "abe": frozenset(),
    "aud": frozenset(),
}


# ---------------------------------------------------------------- the schema


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    secured: bool
    path_params: dict[str, str]  # name -> OpenAPI type


@pytest.fixture(scope="session")
def schema_ops() -> dict[str, Operation]:
    return _schema_operations()


def _schema_operations() -> dict[str, Operation]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    ops: dict[str, Operation] = {}
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            params = {p["name"]: p["schema"].get("type", "string") for p in op.get("parameters", [])
                      if p["in"] == "path"}
            assert op["operationId"] not in ops, f"duplicate operationId {op['operationId']}"
            ops[op["operationId"]] = Operation(method, path, bool(op.get("security")), params)
    return ops


def test_every_schema_operation_is_classified(schema_ops: dict[str, Operation]) -> None:
    unclassified = sorted(set(schema_ops) - set(EXPECTED))
    assert not unclassified, f"add these operations to EXPECTED in {__file__}: {unclassified}"


def test_every_classified_operation_is_in_the_schema(schema_ops: dict[str, Operation]) -> None:
    assert sorted(set(EXPECTED) - set(schema_ops)) == []


def test_the_matrix_tries_every_operation_with_every_persona() -> None:
    for op_id, targets in EXPECTED.items():
        tried = {persona for answers in targets.values() for persona in answers}
        assert tried == set(PERSONAS), f"{op_id} never tried by {set(PERSONAS) - tried}"


def test_the_read_rows_agree_with_what_each_persona_may_see() -> None:
    for kind, (list_op, get_op) in {"case": ("cases_list", "cases_retrieve"),
                                    "person": ("people_list", "people_retrieve"),
                                    "vehicle": ("vehicles_list", "vehicles_retrieve"),
                                    "premise": ("premises_list", "premises_retrieve")}.items():
        for persona in PERSONAS:
            may_see = {name for name in VISIBLE[persona] if name.endswith(kind)}
            assert set(EXPECTED[list_op]["all"][persona].ids or ()) == may_see, (list_op, persona)
            opened = {target for target, answers in EXPECTED[get_op].items() if answers[persona].status == 200}
            assert opened == may_see, (get_op, persona)


def test_only_the_sign_in_doors_and_photo_links_are_public(schema_ops: dict[str, Operation]) -> None:
    assert {op_id for op_id, op in schema_ops.items() if not op.secured} == PUBLIC


@pytest.mark.parametrize("op_id", sorted(set(EXPECTED) - PUBLIC))
def test_a_caller_without_a_token_gets_401(op_id: str, schema_ops: dict[str, Operation], db: Any) -> None:
    op = schema_ops[op_id]
    url = op.path.format(**{name: 1 if kind == "integer" else "x" for name, kind in op.path_params.items()})
    response = getattr(APIClient(), op.method)(url, {}, format="json")
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"
    assert not contract.undocumented(op_id, 401, response["Content-Type"], response.json())


# ----------------------------------------------------------------- the world


def _photo_bytes() -> bytes:
    return (Path(settings.BASE_DIR) / "fixtures/data/media/grace_hopper.jpg").read_bytes()


@dataclass
class Ctx:
    """One persona's side of one call: the world, their client, and names for everything in it."""

    world: World
    op_id: str
    persona: str
    client: APIClient
    monkeypatch: pytest.MonkeyPatch
    records: dict[str, Any] = field(default_factory=dict)
    _photos: dict[str, PersonPhoto] | None = None

    @property
    def user(self) -> User:
        return self.world.personas[self.persona]

    def obj(self, name: str) -> Any:
        if name in self.records:
            return self.records[name]
        if name == "self":
            return self.user
        return getattr(self.world, name)

    def pk(self, name: str) -> int:
        if name == "missing":
            return MISSING_ID
        if name == "own_device":
            return int(self.client.device_id)  # type: ignore[attr-defined]
        return int(self.obj(name).pk)

    def photos(self) -> dict[str, PersonPhoto]:
        if self._photos is None:
            content = _photo_bytes()
            self._photos = {
                name: person_photo_add(person=self.obj(owner), filename="mugshot.jpg", content=content,
                                       content_type="image/jpeg")
                for name, owner in (("person_photo", "person"), ("restricted_photo", "restricted_person"),
                                    ("xavier_photo", "xavier_person"))
            }
        return self._photos

    def photo_token(self, photo_id: int) -> str:
        """A link to a photo made for this persona, as a person record would give it (the token part)."""
        request = RequestFactory().get("/")
        request.user = self.user
        request.auth = session_issue(user=self.user, device_info=DeviceInfo("photo viewer", "phone", "android"),
                                     ip=None).session
        return photo_link(request, photo_id).rsplit("/", 1)[1]  # type: ignore[arg-type]


def _cad_body(address: str) -> dict[str, Any]:
    """A call as the CAD sends it (PUT /cad/calls/{event_number})."""
    return {"cad_code": "DISTURB", "cad_description": "Disturbance", "address": address,
            "narrative": "Loud argument next door.", "received_at": CAD_RECEIVED.isoformat()}


@cache
def _eido_sample() -> dict[str, Any]:
    return json.loads(EIDO_SAMPLE.read_text())


def _cad_call(agency: Any, event_number: str, address: str, unit: Unit | None = None) -> CallForService:
    """A call written the CAD's way (so the same body sent again changes nothing), with a unit on it."""
    call, _ = call_upsert(agency=agency, event_number=event_number, actor=None, source=CallForService.Source.CAD,
                          **(_cad_body(address) | {"received_at": CAD_RECEIVED}))
    if unit is not None:
        call_assignment_add(call=call, unit_call_sign=unit.call_sign, actor=None)
    return call


def _call_records(world: World) -> dict[str, Any]:
    """Calls with briefings: Omar's unit on one, on none, cleared from one; Xavier's unit on his agency's.

    Demo City's calls are at the open premise (its hazards and people go into their briefings), and
    Ava has added a note to two of them, so those briefings have two versions.
    """
    Premise.objects.filter(pk=world.premise.pk).update(address_key=address_key(world.premise.address))
    for agency in (world.agency, world.other_agency):
        recommendation_rules_seed(agency_id=agency.pk)
    xavier_unit = Unit.objects.create(agency=world.other_agency, call_sign=XAVIER_UNIT)
    xavier_unit.members_on_shift.add(world.xavier)
    here = world.premise.address
    calls = {
        "demo_call": _cad_call(world.agency, DEMO_EVENT, here, world.unit),
        "unassigned_call": _cad_call(world.agency, UNASSIGNED_EVENT, here),
        "cleared_call": _cad_call(world.agency, CLEARED_EVENT, here, world.unit),
        "xavier_call": _cad_call(world.other_agency, XAVIER_EVENT, "1 OTHER COUNTY RD", xavier_unit),
    }
    call_assignment_clear(call=calls["cleared_call"], unit_call_sign=world.unit.call_sign, actor=None)
    for call in calls.values():
        briefing_assemble(call_id=call.pk, reason=BriefingVersion.Reason.CALL_CREATED)
    for name in ("demo", "unassigned"):
        briefing_item_add(briefing_id=Briefing.objects.get(call=calls[f"{name}_call"]).pk, user=world.ava,
                          title="Caller is the landlord", body="Callback 555-0100")
    rules = {
        f"{prefix}rule_{n}": rule
        for prefix, agency in (("", world.agency), ("xavier_", world.other_agency))
        for n, rule in enumerate(RecommendationRule.objects.filter(agency=agency).order_by("name"))
    }
    return {
        **{name: CallForService.objects.get(pk=call.pk) for name, call in calls.items()},
        **{name.replace("_call", "_briefing"): Briefing.objects.get(call=call) for name, call in calls.items()},
        **rules,
        "xavier_unit": xavier_unit,
    }


def _camera_records(world: World) -> dict[str, Any]:
    """A fixed camera, a trailer pinned to demo_call, a camera its owner never shares, and Xavier's agency's one."""
    def camera(name: str, agency: Any, kind: str = "fixed", sharing: str = "always") -> Any:
        return camera_create(agency=agency, name=name, kind=kind, owner="Matrix owner", latitude=47.52,
                             longitude=-122.27, source_kind="rtsp", source_url="rtsp://cam.example.invalid/1",
                             sharing=sharing, username="matrix-user", password=CAMERA_PASSWORD)

    records = {"camera": camera("Matrix fixed camera", world.agency),
               "trailer": camera("Matrix trailer", world.agency, kind="trailer"),
               "never_camera": camera("Matrix never camera", world.agency, sharing="never"),
               "xavier_camera": camera("Other County camera", world.other_agency)}
    demo_call = CallForService.objects.get(agency=world.agency, event_number=DEMO_EVENT)
    xavier_call = CallForService.objects.get(agency=world.other_agency, event_number=XAVIER_EVENT)
    CameraPin.objects.create(camera=records["trailer"], call=demo_call, pinned_by=world.ava, pinned_at=timezone.now())
    CameraPin.objects.create(camera=records["xavier_camera"], call=xavier_call, pinned_by=world.xavier,
                             pinned_at=timezone.now())
    return records


def _health_area(name: str, *agencies: Any) -> HealthArea:
    """A one-square area with a fresh rate, of a dataset for these agencies (none: for every agency)."""
    dataset = HealthDataset.objects.create(name=name, disease="COVID-19", ppe_advice="N95 and gloves.",
                                           loaded_at=timezone.now())
    dataset.agencies.set(agencies)
    ring = [[0.0, 10.0], [1.0, 10.0], [1.0, 11.0], [0.0, 11.0], [0.0, 10.0]]
    return HealthArea.objects.create(dataset=dataset, code="A1", label=name, min_lat=10.0, max_lat=11.0,
                                     min_lon=0.0, max_lon=1.0, geometry={"type": "Polygon", "coordinates": [ring]},
                                     latest_week=timezone.localdate() - timedelta(days=3), latest_rate=250.0)


def _hazard_records(world: World, restricted_premise: Premise, xavier_premise: Premise) -> dict[str, Any]:
    def hazard(name: str, *, premise: Premise | None = None, person: Person | None = None) -> RecordHazard:
        record = premise or person
        assert record is not None
        return RecordHazard.objects.create(agency_id=record.agency_id, kind=RecordHazard.Kind.DOG, premise=premise,
                                           person=person, description=f"The {name}", source="matrix",
                                           reported_at=timezone.now())

    return {
        "premise_hazard": hazard("premise hazard", premise=world.premise),
        "person_hazard": hazard("person hazard", person=world.person),
        "restricted_premise_hazard": hazard("restricted premise hazard", premise=restricted_premise),
        # On the open premise and the juvenile both: only for those who may see both.
        "restricted_person_hazard": hazard("restricted person hazard", premise=world.premise,
                                           person=world.restricted_person),
        "xavier_hazard": hazard("xavier hazard", premise=xavier_premise, person=world.xavier_person),
        "health_area": _health_area("Shared COVID"),
        "xavier_area": _health_area("Other County COVID", world.other_agency),
    }


def _extra_records(world: World) -> dict[str, Any]:
    """What the matrix needs beyond tests.base.make_world."""
    lou = make_user("lou", "officer", world.agency)  # locked out
    User.objects.filter(pk=lou.pk).update(locked_at=timezone.now(), failed_login_count=settings.LOGIN_MAX_FAILURES)
    gus = make_user("gus", "officer", world.agency)  # named on cases by cases_access_*
    restricted_vehicle = Vehicle.objects.create(agency=world.agency, plate="UC0001", plate_state="WA",
                                                restriction=Restriction.UNDERCOVER)
    restricted_premise = Premise.objects.create(agency=world.agency, address="UNDISCLOSED",
                                                restriction=Restriction.UNDERCOVER)
    record_access_grant(obj=restricted_vehicle, grantee=world.ava, granted_by=None)
    record_access_grant(obj=restricted_premise, grantee=world.ava, granted_by=None)
    # Cross-links, so a record one may see points at records one may not: the open case at restricted
    # ones, and the open person, vehicle and premise at the juvenile case.
    world.case.vehicles.add(restricted_vehicle)
    world.case.premises.add(restricted_premise)
    CasePerson.objects.create(case=world.juvenile_case, person=world.person)
    world.juvenile_case.vehicles.add(world.vehicle)
    world.juvenile_case.premises.add(world.premise)
    devices = {
        f"{owner}_device": session_issue(user=getattr(world, owner), ip=None,
                                         device_info=DeviceInfo(name=f"{owner}'s laptop", kind="terminal",
                                                                platform="web")).session.device
        for owner in ("omar", "xavier")
    }
    xavier_premise = Premise.objects.create(agency=world.other_agency, address="1 OTHER COUNTY RD")
    events = AuditEvent.objects.order_by("id")
    records = {
        "own_event": events.filter(agency_id_snapshot=world.agency.pk).first(),
        "xavier_event": events.filter(agency_id_snapshot=world.other_agency.pk).first(),
        "lou": lou,
        "gus": gus,
        "restricted_vehicle": restricted_vehicle,
        "restricted_premise": restricted_premise,
        "xavier_vehicle": Vehicle.objects.create(agency=world.other_agency, plate="OTH999", plate_state="OR"),
        "xavier_premise": xavier_premise,
        **devices,
        # Hazards first: the briefings assembled next say what is recorded at the premise.
        **_hazard_records(world, restricted_premise, xavier_premise),
        **_call_records(world),
        **_camera_records(world),
    }
    # Media last: clip jobs are on the calls and cameras above.
    records |= _media_records(world, records)
    records |= _push_records(world, records)
    records |= sensor_records(world)
    records |= bolos.bolo_records(world)
    records |= _referral_records(world, records)
    records |= location_records(world, records)
    return records


def _referral_records(world: World, records: dict[str, Any]) -> dict[str, Any]:
    """Referrals offered to Cora, accepted by her, on a call Omar's unit is not on, and Xavier's (Olga's).

    They are on calls of their own, closed since, so the calls and pushes the rows above count stay as
    they were; Xavier asked for his while his unit was on the call (the assignment is gone since).
    """
    from apps.referrals.models import Agreement, Member, OnCallShift, Organisation, Team
    from apps.referrals.services import referral_create, referral_transition

    now = timezone.now()

    def on_call(name: str, agency: Any, user: User) -> None:
        organisation = Organisation.objects.create(name=name, kind="health_department")
        Agreement.objects.create(agency=agency, organisation=organisation, starts_on=timezone.localdate())
        team = Team.objects.create(organisation=organisation, name="On call", responder_kind="behavioral_health")
        Member.objects.create(user=user, organisation=organisation, team=team)
        OnCallShift.objects.create(team=team, user=user, starts_at=now - timedelta(hours=1),
                                   ends_at=now + timedelta(hours=12))

    on_call("Matrix Health Department", world.agency, world.cora)
    on_call("Matrix Crisis Team", world.other_agency, make_user("olga", "co_responder", world.other_agency))
    here = world.premise.address
    calls = [_cad_call(world.agency, "26-0000504", here, world.unit), _cad_call(world.agency, "26-0000505", here),
             _cad_call(world.other_agency, "OC-26-000905", "1 OTHER COUNTY RD", records["xavier_unit"])]

    def refer(user: User, call: CallForService) -> Any:
        return referral_create(user=user, call_id=call.pk, responder_kind="behavioral_health")

    made = {"demo_referral": refer(world.ava, calls[0]), "accepted_referral": refer(world.ava, calls[0]),
            "unassigned_referral": refer(world.ava, calls[1]), "xavier_referral": refer(world.xavier, calls[2])}
    referral_transition(referral_id=made["accepted_referral"].pk, user=world.cora, to="accepted")
    UnitAssignment.objects.filter(call=calls[2]).delete()
    CallForService.objects.filter(pk__in=[c.pk for c in calls]).update(status=CallForService.Status.CLOSED)
    return made


def _push_records(world: World, records: dict[str, Any]) -> dict[str, Any]:
    """Pushes of demo_call's briefing by Ava and by Sam to Omar, its two automatic announcements, and
    Xavier's agency's announcement of his call."""
    briefing, call = records["demo_briefing"], records["demo_call"]

    def sent(by: User) -> Push:
        return push_record(agency_id=world.agency.pk, type="briefing", op="pushed", object_type="briefings.briefing",
                           object_id=str(briefing.pk), payload={"call_id": call.pk}, priority=call.priority,
                           users=[world.omar.pk], sent_by=by, call_id=call.pk)

    automatic = list(Push.objects.filter(call_id=call.pk, sent_by=None).order_by("created_at", "id"))
    return {"ava_push": sent(world.ava), "sam_push": sent(world.sam), "demo_auto_push": automatic[0],
            "demo_note_push": automatic[1],
            "xavier_push": Push.objects.get(call_id=records["xavier_call"].pk, sent_by=None)}


@dataclass
class Matrix:
    world: World
    records: dict[str, Any]
    clients: dict[str, APIClient]


@pytest.fixture(scope="module")
def matrix(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Matrix]:
    """One world for the whole module, built once (some 700 cells would otherwise build their own).

    Each test still runs in its own transaction (the `db` fixture) that is rolled
    back, so every cell starts from this same untouched world; the world itself
    is rolled back when the module ends.
    """
    # The hasher tests/conftest.py sets for each test, so the passwords made here check there.
    fast_hashing = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), transaction.atomic(), fast_hashing:
        world = make_world()
        records = _extra_records(world)
        clients = {name: signed_in_client(user) for name, user in world.personas.items()}
        records |= {f"{name}_phone": Device.objects.get(pk=client.device_id)  # type: ignore[attr-defined]
                    for name, client in clients.items()}
        yield Matrix(world, records, clients)
        transaction.set_rollback(True)


# -------------------------------------------------------- one call per cell


@dataclass
class Call:
    params: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    client: APIClient | None = None  # default: the persona's signed-in client
    format: str = "json"  # "multipart" for uploads


def _audit_sequenced(call: Call) -> Call:
    """The dispatcher's sequencer pass before the call: every event so far in the log, under two checkpoints."""
    audit_log_sequence(limit=1, checkpoint=True)
    audit_log_sequence(checkpoint=True)
    if call.query and call.query.get("second") == "latest":
        call.query["second"] = AuditCheckpoint.objects.order_by("-id").values_list("tree_size", flat=True).first()
    return call


def _object(param: str) -> Callable[[Ctx, str], Call]:
    return lambda ctx, target: Call({param: ctx.pk(target)})


def _login_body(username: str, password: str) -> dict[str, Any]:
    return {"username": username, "password": password,
            "device": {"name": "matrix phone", "kind": "phone", "platform": "android"}}


def _call_mfa(ctx: Ctx, target: str) -> Call:
    if target == "forged_challenge":
        return Call(body={"challenge": "forged", "code": "123456"}, client=APIClient())
    answer = APIClient().post("/api/v1/auth/login", _login_body(ctx.user.username, PASSWORD), format="json")
    assert answer.status_code == 202, answer.content
    code = current_code(ctx.user)
    if target == "wrong_code":
        totp = pyotp.TOTP(ctx.user.mfa_secret)
        near = {totp.at(timezone.now() + timedelta(seconds=30 * step)) for step in (-2, -1, 0, 1, 2)}
        code = next(c for c in ("000000", "111111", "222222", "333333", "444444", "555555") if c not in near)
    return Call(body={"challenge": answer.json()["challenge"], "code": code}, client=APIClient())


def _call_devices_list(ctx: Ctx, target: str) -> Call:
    return Call(query={} if target == "own" else {"user": ctx.pk(target)})


def _call_case_create(ctx: Ctx, target: str) -> Call:
    body: dict[str, Any] = {"number": NEW_CASE_NUMBER, "case_type": "Robbery", "title": "Opened by the matrix"}
    if target == "with_restricted_person":
        body["person_ids"] = [ctx.pk("person"), ctx.pk("restricted_person")]
        body["restriction"] = Restriction.JUVENILE
    elif target == "with_xavier_person":
        body["person_ids"] = [ctx.pk("xavier_person")]
    return Call(body=body)


def _call_access_revoke(ctx: Ctx, target: str) -> Call:
    if target != "missing":
        record_access_grant(obj=ctx.obj(target), grantee=ctx.obj("gus"), granted_by=None)
    return Call({"case_id": ctx.pk(target), "user_id": ctx.pk("gus")})


def _call_photo(ctx: Ctx, target: str) -> Call:
    photos = ctx.photos()
    visible = photos["xavier_photo" if ctx.persona == "xavier" else "person_photo"].pk
    if target == "missing_photo":
        token = ctx.photo_token(MISSING_ID)
    elif target == "expired_link":
        minted_at = timezone.now().timestamp() - settings.MEDIA_LINK_SECONDS - 1
        with ctx.monkeypatch.context() as patch:
            patch.setattr(signing, "time", SimpleNamespace(time=lambda: minted_at))
            token = ctx.photo_token(visible)
    elif target == "tampered_link":
        token = ctx.photo_token(visible)
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    else:
        token = ctx.photo_token(photos[target].pk)
    return Call({"token": token})


# What each search looks for: words from an own-agency record, a restricted one, another agency's.
SEARCH_WORDS = {
    "cases_search": {"own_agency": "Rainier", "restricted": "Juvenile", "other_agency": "Other county"},
    "people_search": {"own_agency": "Dee Whit", "restricted": "Jamie", "other_agency": "Other"},
    "vehicles_search": {"own_agency": "ABC-1234", "restricted": "UC0001", "other_agency": "OTH 999"},
    "premises_search": {"own_agency": "Rainier", "restricted": "Undisclosed", "other_agency": "Other County"},
}


def _search(ctx: Ctx, target: str) -> Call:
    return Call(body={"search": SEARCH_WORDS[ctx.op_id][target]})


def _event_number(ctx: Ctx, target: str) -> str:
    if target == "new_event":
        return NEW_EVENT
    if target == "missing":
        return MISSING_EVENT
    return str(ctx.obj("unassigned_call" if target == "other_agency_unit" else target).event_number)


def _call_cad_upsert(ctx: Ctx, target: str) -> Call:
    return Call({"event_number": _event_number(ctx, target)}, body=_cad_body(ctx.world.premise.address))


def _call_cad_assign(ctx: Ctx, target: str) -> Call:
    unit = XAVIER_UNIT if target in {"other_agency_unit", "xavier_call"} else ctx.world.unit.call_sign
    return Call({"event_number": _event_number(ctx, target)}, body={"unit": unit})


def _call_cad_clear(ctx: Ctx, target: str) -> Call:
    unit = XAVIER_UNIT if target == "xavier_call" else ctx.world.unit.call_sign
    return Call({"event_number": _event_number(ctx, target), "unit": unit})


def _call_eido(ctx: Ctx, target: str) -> Call:
    document = copy.deepcopy(_eido_sample())
    if target == "resent":
        call_upsert_from_eido(agency=ctx.world.agency, document=document, actor=None)
    elif target == "incomplete":
        for component in document["callComponent"]:
            component.pop("callStartTimestamp")
    return Call(body=document)


def _current_version(ctx: Ctx, call_target: str) -> int:
    briefing = Briefing.objects.filter(call_id=ctx.pk(call_target)).first()
    return briefing.current_version if briefing else 1


def _call_briefing_version(ctx: Ctx, target: str) -> Call:
    call = "demo_call" if target == "missing_version" else target
    return Call({"call_id": ctx.pk(call), "number": 99 if target == "missing_version" else 1})


def _call_briefing_diff(ctx: Ctx, target: str) -> Call:
    call = "demo_call" if target == "missing_version" else target
    newest = 99 if target == "missing_version" else _current_version(ctx, call)
    return Call({"call_id": ctx.pk(call)}, query={"from_version": 1, "to_version": newest})


def _call_item_add(ctx: Ctx, target: str) -> Call:
    body: dict[str, Any] = {"title": NOTE_TITLE, "body": "Seen by the access matrix"}
    if target.endswith("_photo"):
        body["photo_id"] = ctx.photos()[target].pk
        target = "demo_briefing"
    return Call({"briefing_id": ctx.pk(target)}, body=body)


def _call_item_edit(ctx: Ctx, target: str) -> Call:
    briefing, item = ("demo_briefing", "no-such-item") if target == "missing_item" else (target, "call")
    return Call({"briefing_id": ctx.pk(briefing), "item_id": item}, body={"title": NEW_ITEM_TITLE})


def _note_id(ctx: Ctx, briefing: str) -> str:
    (note,) = ctx.obj(briefing).manual_items
    return str(note["id"])


def _call_item_remove(ctx: Ctx, target: str) -> Call:
    if target.endswith("_note"):
        briefing = target.replace("_note", "_briefing")
        return Call({"briefing_id": ctx.pk(briefing), "item_id": _note_id(ctx, briefing)})
    briefing = "demo_briefing" if target == "automatic_item" else target
    return Call({"briefing_id": ctx.pk(briefing), "item_id": "call"})


def _call_rule_create(ctx: Ctx, target: str) -> Call:
    name = ctx.obj("rule_0").name if target == "taken_name" else NEW_RULE_NAME
    return Call(body={"name": name, "responder": "overdose", "enabled": True, "categories": ["overdose"],
                      "narrative_keywords": ["narcan"], "caution_flags": [], "explanation": NEW_EXPLANATION})


def _call_hazard_create(param: str) -> Callable[[Ctx, str], Call]:
    return lambda ctx, target: Call({param: ctx.pk(target)}, body={
        "kind": "weapons", "description": NEW_HAZARD, "source": "The access matrix"})


def _call_camera_pin(ctx: Ctx, target: str) -> Call:
    call = target if target in {"xavier_call", "missing"} else "demo_call"
    return Call({"call_id": ctx.pk(call)}, body={"camera_id": ctx.pk("xavier_camera" if call == "xavier_call"
                                                                     else "camera" if call == "missing" else target)})


# ------------------------------------------------------------------ media

CLIP_BYTES = b"\x00\x00\x00\x18ftypmp42 a clip as the matrix stores it"
POSTER_BYTES = b"\xff\xd8\xff\xe0 a poster as the matrix stores it"
CLIPS = ("demo_clip", "ready_clip", "unassigned_clip", "xavier_clip")


def _media_records(world: World, records: dict[str, Any]) -> dict[str, Any]:
    """Clip jobs: queued and ready on demo_call (Omar's unit is on it), one on unassigned_call, Xavier's ready.

    Their files are written by the cells that open them (each test has its own MEDIA_ROOT).
    """
    def clip(name: str, call: str, camera: str, state: str) -> ClipJob:
        job = ClipJob.objects.create(agency_id=records[call].agency_id, call=records[call], camera=records[camera],
                                     source=ClipJob.Source.CAMERA, seconds=10, state=state,
                                     requested_by=world.xavier if camera == "xavier_camera" else world.ava)
        if state == ClipJob.State.READY:
            ClipRendition.objects.create(job=job, name="360p", file=f"clips/matrix/{name}-360p.mp4", width=640,
                                         height=360, size_bytes=len(CLIP_BYTES), has_audio=True,
                                         sha256=hashlib.sha256(CLIP_BYTES).hexdigest())
            ClipJob.objects.filter(pk=job.pk).update(poster=f"clips/matrix/{name}-poster.jpg", percent=100,
                                                      poster_sha256=hashlib.sha256(POSTER_BYTES).hexdigest())
        return job

    return {"demo_clip": clip("demo_clip", "demo_call", "camera", ClipJob.State.QUEUED),
            "ready_clip": clip("ready_clip", "demo_call", "camera", ClipJob.State.READY),
            "unassigned_clip": clip("unassigned_clip", "unassigned_call", "camera", ClipJob.State.QUEUED),
            "xavier_clip": clip("xavier_clip", "xavier_call", "xavier_camera", ClipJob.State.READY)}


def _served_bytes(op_id: str) -> bytes:
    """What a file link answers: a phone's variant of the photo (all made from one image), or the clip's MP4."""
    if op_id == "clips_file":
        return CLIP_BYTES
    if op_id == "sensor_alerts_snapshot":
        return SNAPSHOT_BYTES
    if op_id == "bolo_photos_file":
        return bolos.served_bytes()
    if op_id == "call_photos_file":
        with CallPhotoVariant.objects.filter(name="phone").first().image.open("rb") as fh:  # type: ignore[union-attr]
            return bytes(fh.read())
    with PersonPhotoVariant.objects.filter(name="phone").first().image.open("rb") as fh:  # type: ignore[union-attr]
        return bytes(fh.read())


def _link_request(ctx: Ctx) -> Any:
    request = RequestFactory().get("/")
    request.user = ctx.user
    request.auth = session_issue(user=ctx.user, device_info=DeviceInfo("clip viewer", "phone", "android"),
                                 ip=None).session
    return request


def _call_clip_file(ctx: Ctx, target: str) -> Call:
    for name in ("ready_clip", "xavier_clip"):
        default_storage.save(f"clips/matrix/{name}-360p.mp4", ContentFile(CLIP_BYTES))
        default_storage.save(f"clips/matrix/{name}-poster.jpg", ContentFile(POSTER_BYTES))
    job = "xavier_clip" if ctx.persona == "xavier" else "ready_clip"
    if target == "expired_link":
        minted_at = timezone.now().timestamp() - settings.MEDIA_LINK_SECONDS - 1
        with ctx.monkeypatch.context() as patch:
            patch.setattr(signing, "time", SimpleNamespace(time=lambda: minted_at))
            url = clip_link(_link_request(ctx), ctx.pk(job), "360p")
    else:
        url = clip_link(_link_request(ctx), ctx.pk(job if target == "tampered_link" else target), "360p")
        if target == "tampered_link":
            url = url[:-1] + ("A" if url[-1] != "A" else "B")
    return Call({"token": url.rsplit("/", 1)[1]})


def _call_clip_create(ctx: Ctx, target: str) -> Call:
    call = {"xavier_call": "xavier_call", "missing": "missing"}.get(target, "demo_call")
    camera = "xavier_camera" if target == "xavier_call" else "camera" if target == "missing" else target
    return Call({"call_id": ctx.pk(call)}, body={"camera_id": ctx.pk(camera), "seconds": 10})


def _call_clip_upload(ctx: Ctx, target: str) -> Call:
    video = SimpleUploadedFile("bodycam.mp4", (Path(settings.BASE_DIR) / "fixtures/data/media/bigbuckbunny.mp4")
                               .read_bytes(), content_type="video/mp4")
    return Call({"call_id": ctx.pk(target)}, body={"file": video}, format="multipart")


def _call_photo_upload(ctx: Ctx, target: str) -> Call:
    photo = SimpleUploadedFile("mugshot.jpg", _photo_bytes(), content_type="image/jpeg")
    return Call({"person_id": ctx.pk(target)}, body={"file": photo}, format="multipart")


def _call_photos(ctx: Ctx) -> None:
    """A photo on demo_call and one on xavier_call, added by an officer of each (Omar, Xavier)."""
    for name, call, by in (("call_photo", "demo_call", "omar"), ("xavier_call_photo", "xavier_call", "xavier")):
        ctx.records[name] = call_photo_upload(user=ctx.world.personas[by], call_id=ctx.pk(call),
                                              content=_photo_bytes(), content_type="image/jpeg")


def _call_call_photos(ctx: Ctx, target: str) -> Call:
    _call_photos(ctx)
    if ctx.op_id == "call_photos_create":
        photo = SimpleUploadedFile("scene.jpg", _photo_bytes(), content_type="image/jpeg")
        return Call({"call_id": ctx.pk(target)}, body={"file": photo}, format="multipart")
    return Call({"call_id": ctx.pk(target)})


def _call_photo_link(ctx: Ctx, photo_id: int) -> str:
    return call_photo_link(_link_request(ctx), photo_id).rsplit("/", 1)[1]


def _call_call_photo_file(ctx: Ctx, target: str) -> Call:
    _call_photos(ctx)
    visible = ctx.pk("xavier_call_photo" if ctx.persona == "xavier" else "call_photo")
    if target == "missing_photo":
        token = _call_photo_link(ctx, MISSING_ID)
    elif target == "expired_link":
        minted_at = timezone.now().timestamp() - settings.MEDIA_LINK_SECONDS - 1
        with ctx.monkeypatch.context() as patch:
            patch.setattr(signing, "time", SimpleNamespace(time=lambda: minted_at))
            token = _call_photo_link(ctx, visible)
    elif target == "tampered_link":
        token = _call_photo_link(ctx, visible)
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    else:
        token = _call_photo_link(ctx, ctx.pk(target))
    return Call({"token": token})


def _after_media(ctx: Ctx, op_id: str, target: str, ok: bool, body: Any) -> None:
    if op_id == "call_photos_create" and target != "missing":
        made = CallPhoto.objects.filter(call_id=ctx.pk(target), added_by=ctx.user).exclude(
            pk__in=[ctx.pk("call_photo"), ctx.pk("xavier_call_photo")])
        assert made.exists() == ok
        if ok:
            (photo,) = made
            assert body["id"] == photo.pk and body["call_id"] == ctx.pk(target) and photo.variants.count() == 3
            assert (body["original_url"] is not None) == (ctx.persona in ("ava", "sam")) and body["thumbnail_url"]
    if op_id == "people_photos_create" and target != "missing":
        photos = PersonPhoto.objects.filter(person=ctx.obj(target))
        assert photos.exists() == ok
        if ok:
            (photo,) = photos
            assert body["id"] == photo.pk and photo.added_by_id == ctx.user.pk and photo.variants.count() == 3
            assert (body["original_url"] is not None) and body["url"] and body["thumbnail_url"]
    elif op_id in {"clips_create", "clips_upload"}:
        made = ClipJob.objects.exclude(pk__in=[ctx.pk(name) for name in CLIPS])
        assert made.exists() == ok
        if ok:
            (job,) = made
            assert body["id"] == job.pk and job.requested_by_id == ctx.user.pk and job.call_id == ctx.pk(
                target if op_id == "clips_upload" else "demo_call")
            assert body["state"] == "queued" and body["url"] is None
            assert (job.upload.name != "") == (op_id == "clips_upload")
    elif op_id == "clips_retrieve" and ok:
        ready = ctx.obj(target).state == ClipJob.State.READY
        assert body["id"] == ctx.pk(target) and body["state"] == ctx.obj(target).state
        assert (body["url"] is not None) == ready and (body["rendition"] == "360p") == ready
    elif op_id == "clips_cancel" and target != "missing":
        state = ClipJob.objects.get(pk=ctx.pk(target)).state
        assert (state == ClipJob.State.CANCELLED) == ok
        if ok:
            assert body["state"] == "cancelled" and body["failure_code"] == "cancelled"


CALLS: dict[str, Callable[[Ctx, str], Call]] = {
    "auth_login": lambda ctx, target: Call(
        body=_login_body(ctx.user.username, PASSWORD if target == "right_password" else "wrong password"),
        client=APIClient()),
    "auth_mfa": _call_mfa,
    "auth_logout": lambda ctx, target: Call(),
    "me_retrieve": lambda ctx, target: Call(),
    "me_calls_list": lambda ctx, target: Call(),
    "me_pushes_pending": lambda ctx, target: Call(),
    "stream_ticket_create": lambda ctx, target: Call(),
    "me_device_update": lambda ctx, target: Call(body={"push_token": PUSH_TOKEN}),
    "stream_ack": lambda ctx, target: Call(body={"epoch": "0" * 16, "offset": 0}),
    "me_location_report": lambda ctx, target: Call(body={"latitude": 47.52, "longitude": -122.27}),
    "briefings_push": lambda ctx, target: Call({"call_id": ctx.pk(target)}, body={"audience": {"kind": "agency"}}),
    "cases_push": lambda ctx, target: Call({"case_id": ctx.pk(target)}, body={"audience": {"kind": "agency"}}),
    "pushes_list": lambda ctx, target: Call(query={"call_id": ctx.pk(target)}),
    "push_recipients_search": lambda ctx, target: Call(query={"q": "o"}),
    "pushes_get": _object("push_id"),
    "pushes_receipt": lambda ctx, target: Call({"push_id": ctx.pk(target)}, body={"state": "opened"}),
    "devices_list": _call_devices_list,
    "devices_revoke": _object("device_id"),
    "users_list": lambda ctx, target: Call(),
    "users_release_lock": _object("user_id"),
    "users_set_active": lambda ctx, target: Call({"user_id": ctx.pk(target)}, body={"is_active": False}),
    "users_create": lambda ctx, target: Call(body={
        "username": "omar" if target == "taken_username" else "nina", "role": "officer",
        "password": "a long and unusual passphrase 2026"}),
    "users_set_role": lambda ctx, target: Call({"user_id": ctx.pk(target)}, body={"role": NEW_ROLE}),
    "cases_list": lambda ctx, target: Call(query={}),
    "cases_search": _search,
    "cases_create": _call_case_create,
    "cases_retrieve": _object("case_id"),
    "cases_update": lambda ctx, target: Call({"case_id": ctx.pk(target)}, body={"title": NEW_TITLE}),
    "cases_access_grant": lambda ctx, target: Call({"case_id": ctx.pk(target)},
                                                   body={"user_id": ctx.pk("gus"), "can_change": False}),
    "cases_access_revoke": _call_access_revoke,
    "people_list": lambda ctx, target: Call(query={}),
    "people_search": _search,
    "people_retrieve": _object("person_id"),
    "vehicles_list": lambda ctx, target: Call(query={}),
    "vehicles_search": _search,
    "vehicles_retrieve": _object("vehicle_id"),
    "premises_list": lambda ctx, target: Call(query={}),
    "premises_search": _search,
    "premises_retrieve": _object("premise_id"),
    "photos_file": _call_photo,
    "audit_list": lambda ctx, target: Call(query={"size": 500} | (
        {"user": ctx.pk("xavier")} if target == "xavier_actor" else {})),
    "audit_checkpoints_list": lambda ctx, target: _audit_sequenced(Call(query={})),
    "audit_proof": lambda ctx, target: _audit_sequenced(Call({"event_id": ctx.pk(target)})),
    "audit_consistency": lambda ctx, target: _audit_sequenced(Call(query={"first": 1, "second": "latest"})),
    "calls_list": lambda ctx, target: Call(query={}),
    "calls_retrieve": _object("call_id"),
    "cad_calls_upsert": _call_cad_upsert,
    "cad_assignments_add": _call_cad_assign,
    "cad_assignments_clear": _call_cad_clear,
    "cad_eido_submit": _call_eido,
    "briefings_retrieve": _object("call_id"),
    "briefings_versions_list": _object("call_id"),
    "briefings_versions_retrieve": _call_briefing_version,
    "briefings_diff": _call_briefing_diff,
    "briefings_items_add": _call_item_add,
    "briefings_items_edit": _call_item_edit,
    "briefings_items_remove": _call_item_remove,
    "recommendation_rules_list": lambda ctx, target: Call(),
    "recommendation_rules_create": _call_rule_create,
    "recommendation_rules_update": lambda ctx, target: Call({"rule_id": ctx.pk(target)},
                                                            body={"explanation": NEW_EXPLANATION}),
    "hazard_areas_list": lambda ctx, target: Call(query={}),
    "hazard_areas_retrieve": _object("area_id"),
    "premise_hazards_list": _object("premise_id"),
    "premise_hazards_create": _call_hazard_create("premise_id"),
    "person_hazards_list": _object("person_id"),
    "person_hazards_create": _call_hazard_create("person_id"),
    "hazards_delete": _object("hazard_id"),
    "cameras_list": lambda ctx, target: Call(query={}),
    "cameras_retrieve": _object("camera_id"),
    "cameras_sharing_set": lambda ctx, target: Call({"camera_id": ctx.pk(target)},
                                                    body={"sharing": "never", "sharing_radius_m": 250}),
    "cameras_relocate": lambda ctx, target: Call({"camera_id": ctx.pk(target)},
                                                 body={"latitude": 47.53, "longitude": -122.28, "note": "matrix"}),
    "calls_cameras_list": _object("call_id"),
    "calls_camera_pins_add": _call_camera_pin,
    "calls_camera_pins_remove": lambda ctx, target: Call(
        {"call_id": ctx.pk("demo_call" if target == "trailer" else target),
         "camera_id": ctx.pk("xavier_camera" if target == "xavier_call" else "trailer")}),
    "people_photos_create": _call_photo_upload,
    "call_photos_create": _call_call_photos,
    "call_photos_list": _call_call_photos,
    "call_photos_file": _call_call_photo_file,
    "clips_list": _object("call_id"),
    "clips_create": _call_clip_create,
    "clips_upload": _call_clip_upload,
    "clips_retrieve": _object("clip_id"),
    "clips_cancel": _object("clip_id"),
    "clips_file": _call_clip_file,
    "referrals_list": lambda ctx, target: Call(query={}),
    "referrals_retrieve": _object("referral_id"),
    "referrals_create": lambda ctx, target: Call(body={"call_id": ctx.pk(target),
                                                       "responder_kind": "behavioral_health"}),
    "referrals_transition": lambda ctx, target: Call({"referral_id": ctx.pk(target)}, body={"to": "accepted"}),
    "referrals_report": lambda ctx, target: Call(query={"from": timezone.localdate().isoformat(),
                                                        "to": timezone.localdate().isoformat()}),
}


def _call_webhook(ctx: Ctx, target: str) -> Call:
    params, body, client = webhook_request(ctx.records, ctx.op_id, target)
    return Call(params, body=body, client=client)


def _call_alert_snapshot(ctx: Ctx, target: str) -> Call:
    snapshot_files_write(ctx.records)
    alert = "xavier_alert" if ctx.persona == "xavier" else "demo_alert"
    if target == "expired_link":
        minted_at = timezone.now().timestamp() - settings.MEDIA_LINK_SECONDS - 1
        with ctx.monkeypatch.context() as patch:
            patch.setattr(signing, "time", SimpleNamespace(time=lambda: minted_at))
            url = alert_snapshot_link(_link_request(ctx), ctx.pk(alert))
    else:
        url = alert_snapshot_link(_link_request(ctx), ctx.pk(alert if target == "tampered_link" else target))
        if target == "tampered_link":
            url = url[:-1] + ("A" if url[-1] != "A" else "B")
    return Call({"token": url.rsplit("/", 1)[1]})


CALLS |= {op: (lambda ctx, target, op=op: Call(**bolos.bolo_call(
    records=ctx.records, world=ctx.world, user=ctx.user, persona=ctx.persona, op_id=op, target=target,
    monkeypatch=ctx.monkeypatch))) for op in bolos.BOLO_OPS}


def _call_entry_remove(ctx: Ctx, target: str) -> Call:
    hot_list = "xavier_hot_list" if target == "xavier_entry" else "demo_hot_list"
    return Call({"hot_list_id": ctx.pk(hot_list), "entry_id": ctx.pk(target)})


CALLS |= {
    **dict.fromkeys(("sensors_webhook_alpr", "sensors_webhook_gunshot", "sensors_webhook_analytics"), _call_webhook),
    "sensor_alerts_list": lambda ctx, target: Call(query={}),
    "sensor_alerts_retrieve": _object("alert_id"),
    "sensor_alerts_snapshot": _call_alert_snapshot,
    "sensor_alerts_verify": lambda ctx, target: Call({"alert_id": ctx.pk(target)},
                                                     body={"state": "false", "reason": "Misread by the matrix"}),
    "hot_lists_list": lambda ctx, target: Call(),
    "hot_lists_create": lambda ctx, target: Call(body={
        "name": NEW_LIST if target == "new_list" else "Matrix stolen", "kind": "stolen_vehicle"}),
    "hot_lists_retrieve": _object("hot_list_id"),
    "hot_lists_update": lambda ctx, target: Call({"hot_list_id": ctx.pk(target)}, body={"enabled": False}),
    "hot_lists_delete": _object("hot_list_id"),
    "hot_list_entries_list": lambda ctx, target: Call({"hot_list_id": ctx.pk(target)}, query={}),
    "hot_list_entries_add": lambda ctx, target: Call({"hot_list_id": ctx.pk(target)},
                                                     body={"plate": "NEW-0001", "region": "WA"}),
    "hot_list_entries_remove": _call_entry_remove,
    "plate_reads_search": lambda ctx, target: Call(body={"plate": SEARCH_PLATES[target], "case_number": "26-000101",
                                                         "purpose": "Access matrix search"}),
}

CALLS |= {
    "me_positions_report": lambda ctx, target: Call(body={"positions": [
        {"latitude": 47.531, "longitude": -122.27, "reported_at": timezone.now().isoformat()}]}),
    "me_track_lookups_list": lambda ctx, target: Call(),
    "units_positions_list": lambda ctx, target: Call(),
    "units_track_lookup": lambda ctx, target: Call({"unit_id": ctx.pk(target)}, body=track_body()),
    "calls_nearest_units_list": _object("call_id"),
    "emergencies_raise": lambda ctx, target: Call(body={"source": "phone"}),
    "emergencies_list": lambda ctx, target: Call(query={}),
    "emergencies_retrieve": _object("emergency_id"),
    "emergencies_acknowledge": _object("emergency_id"),
    "emergencies_close": lambda ctx, target: Call({"emergency_id": ctx.pk(target)}, body={"reason": "false_alarm"}),
}


# ------------------------------------------- what a success must show, and side effects


def _gus_named_on(ctx: Ctx, target: str) -> bool:
    return CaseUserObjectPermission.objects.filter(user=ctx.obj("gus"), content_object_id=ctx.pk(target)).exists()


def _session_works(client: APIClient) -> bool:
    return client.get("/api/v1/me").status_code == 200


def _visible(ctx: Ctx, model: type[Any]) -> set[int]:
    return {ctx.pk(name) for name in VISIBLE[ctx.persona] if isinstance(ctx.obj(name), model)}


def _nested_shown_exactly(ctx: Ctx, op_id: str, body: Any) -> None:
    """What a record shows of its neighbours: those linked in the database that the persona may see, no more."""
    def shown(rows: list[dict[str, Any]]) -> set[int]:
        return {r["id"] for r in rows}

    def linked(related: Any, model: type[Any]) -> set[int]:
        return set(related.values_list("pk", flat=True)) & _visible(ctx, model)

    if op_id in {"cases_retrieve", "cases_update", "cases_create"}:
        case = Case.objects.get(pk=body["id"])
        assert shown([p["person"] for p in body["people"]]) == linked(case.people, Person)
        assert shown(body["vehicles"]) == linked(case.vehicles, Vehicle)
        assert shown(body["premises"]) == linked(case.premises, Premise)
    elif op_id == "people_retrieve":
        person = Person.objects.get(pk=body["id"])
        assert shown(body["cases"]) == linked(person.cases, Case)
        assert shown(body["vehicles"]) == linked(person.vehicles, Vehicle)
    elif op_id == "vehicles_retrieve":
        vehicle = Vehicle.objects.get(pk=body["id"])
        assert shown(body["cases"]) == linked(vehicle.cases, Case)
        owner = vehicle.registered_owner_id
        assert (body["registered_owner"] or {}).get("id") == (owner if owner in _visible(ctx, Person) else None)
    elif op_id == "premises_retrieve":
        premise = Premise.objects.get(pk=body["id"])
        assert shown(body["cases"]) == linked(premise.cases, Case)
    elif op_id in {"calls_retrieve", "cad_calls_upsert", "cad_eido_submit"}:
        # A call names its premise only if the premise is open: restricted ones never attach to a call.
        call = CallForService.objects.get(pk=body["id"])
        assert body["premise_id"] == call.premise_id and call.premise_id in _visible(ctx, Premise) | {None}
    elif op_id in {"premise_hazards_create", "person_hazards_create"}:
        assert body["premise"] in _visible(ctx, Premise) | {None}
        assert body["person"] in _visible(ctx, Person) | {None}


def _briefing_shown_exactly(ctx: Ctx, body: dict[str, Any]) -> None:
    """A briefing shows the items of its version that point at records the reader may see; officers no hidden ones."""
    version = BriefingVersion.objects.get(briefing_id=body["briefing_id"], number=body["version"])
    editor = ctx.persona in {"ava", "sam"}

    def refs(items: list[dict[str, Any]]) -> set[tuple[str, int]]:
        return {(i["ref"]["type"], i["ref"]["id"]) for i in items if i["ref"] and (editor or not i["hidden"])}

    visible = ({("cases.person", pk) for pk in _visible(ctx, Person)}
               | {("cases.premise", pk) for pk in _visible(ctx, Premise)})
    assert refs(body["items"]) == refs(version.items) & visible
    assert editor or not any(i["hidden"] for i in body["items"])
    if body["call_id"] == ctx.pk("demo_call"):
        # Not vacuous: the demo briefing speaks of the premise (its notes and hazard) and of Dana.
        assert {("cases.premise", ctx.pk("premise")), ("cases.person", ctx.pk("person"))} <= refs(body["items"])


def _untouched(ctx: Ctx, call_name: str) -> bool:
    """The call is as the matrix made it: not saved again, no update on the trail."""
    call = ctx.obj(call_name)
    return (CallForService.objects.get(pk=call.pk).updated_at == call.updated_at
            and not AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE, object_type="calls.call",
                                              object_id=str(call.pk)).exists())


def _units_on(ctx: Ctx, call_name: str) -> set[str]:
    return set(UnitAssignment.objects.filter(call=ctx.obj(call_name), cleared_at__isnull=True)
               .values_list("unit__call_sign", flat=True))


def _after_calls(ctx: Ctx, op_id: str, target: str, ok: bool, body: Any) -> None:
    if op_id == "calls_retrieve" and ok:
        assert body["id"] == ctx.pk(target)
        assert [a["unit"] for a in body["assignments"]] == sorted(_units_on(ctx, target))
    elif op_id == "cad_calls_upsert":
        assert _untouched(ctx, "demo_call") and _untouched(ctx, "xavier_call")
        if target != "demo_call":  # new to the writer's agency: created there, and only if allowed
            made = CallForService.objects.filter(event_number=_event_number(ctx, target)).exclude(
                pk=ctx.pk("xavier_call")).first()
            assert (made is not None) == ok
            if made is not None:
                assert made.agency_id == ctx.user.agency_id and body["id"] == made.pk and body["status"] == "received"
        elif ok:
            assert body["id"] == ctx.pk("demo_call")
    elif op_id == "cad_assignments_add":
        assert _units_on(ctx, "unassigned_call") == ({ctx.world.unit.call_sign} if ok and target == "unassigned_call"
                                                    else set())
        assert _units_on(ctx, "demo_call") == {ctx.world.unit.call_sign}
        assert _units_on(ctx, "xavier_call") == {XAVIER_UNIT}
        assert not UnitAssignment.objects.filter(unit=ctx.obj("xavier_unit")).exclude(
            call=ctx.obj("xavier_call")).exists()
        if ok:
            assert body["unit"] == ctx.world.unit.call_sign and body["cleared_at"] is None
    elif op_id == "cad_assignments_clear":
        assert _units_on(ctx, "demo_call") == (set() if ok and target == "demo_call" else {ctx.world.unit.call_sign})
        assert _units_on(ctx, "unassigned_call") == set() and _units_on(ctx, "xavier_call") == {XAVIER_UNIT}
    elif op_id == "cad_eido_submit":
        eido_calls = list(CallForService.objects.filter(event_number=EIDO_EVENT))
        if target == "resent":  # made before the cell by the CAD's own path, and left as it was
            assert len(eido_calls) == 1 and not AuditEvent.objects.filter(
                action=AuditEvent.Action.UPDATE, object_type="calls.call", object_id=str(eido_calls[0].pk)).exists()
        else:
            assert len(eido_calls) == (1 if ok else 0)
        if ok:
            (call,) = eido_calls
            assert call.agency_id == ctx.user.agency_id and call.source == "eido" and body["id"] == call.pk


# The briefing an edit addresses, by target (None: an unknown id).
EDITED_BRIEFING = {"demo_briefing": "demo_briefing", "unassigned_briefing": "unassigned_briefing",
                   "xavier_briefing": "xavier_briefing", "person_photo": "demo_briefing",
                   "restricted_photo": "demo_briefing", "xavier_photo": "demo_briefing",
                   "missing_item": "demo_briefing", "demo_note": "demo_briefing", "automatic_item": "demo_briefing",
                   "unassigned_note": "unassigned_briefing", "missing": None}
BRIEFINGS = ("demo_briefing", "unassigned_briefing", "cleared_briefing", "xavier_briefing")


def _after_briefings(ctx: Ctx, op_id: str, target: str, ok: bool, body: Any) -> None:
    if ok and isinstance(body, dict) and "items" in body:
        _briefing_shown_exactly(ctx, body)
    if op_id in {"briefings_retrieve", "briefings_versions_retrieve"} and ok:
        assert body["call_id"] == ctx.pk(target)
        assert body["version"] == (1 if op_id == "briefings_versions_retrieve" else _current_version(ctx, target))
    elif op_id == "briefings_versions_list" and ok:
        assert [v["number"] for v in body] == list(range(_current_version(ctx, target), 0, -1))
    elif op_id == "briefings_diff" and ok:
        assert (body["from_version"], body["to_version"]) == (1, _current_version(ctx, target))
        added = [a["title"] for a in body["added"]]
        assert added == ([] if target == "xavier_call" else ["Caller is the landlord"])
    elif op_id in {"briefings_items_add", "briefings_items_edit", "briefings_items_remove"}:
        # A new version when allowed, and nothing at all when refused.
        assert BriefingVersion.objects.count() == sum(ctx.obj(b).current_version for b in BRIEFINGS) + ok
        name = EDITED_BRIEFING[target]
        if name is None:
            return
        before = ctx.obj(name).current_version
        assert Briefing.objects.get(pk=ctx.pk(name)).current_version == before + ok
        if not ok:
            return
        assert body["briefing_id"] == ctx.pk(name) and body["version"] == before + 1
        items = {i["id"]: i for i in body["items"]}
        if op_id == "briefings_items_add":
            (note,) = [i for i in items.values() if i["title"] == NOTE_TITLE]
            assert note["source"] == "analyst" and len(note["photos"]) == (1 if target == "person_photo" else 0)
        elif op_id == "briefings_items_edit":
            assert items["call"]["title"] == NEW_ITEM_TITLE
        else:
            assert _note_id(ctx, name) not in items


def _after_rules_and_hazards(ctx: Ctx, op_id: str, target: str, ok: bool, body: Any) -> None:
    if op_id == "recommendation_rules_create":
        made = RecommendationRule.objects.filter(name=NEW_RULE_NAME).first()
        assert (made is not None) == ok
        if made is not None:
            assert made.agency_id == ctx.user.agency_id and body["id"] == made.pk
        # A taken name stays one rule per agency.
        assert RecommendationRule.objects.filter(name=ctx.obj("rule_0").name).count() == 2
    elif op_id == "recommendation_rules_update" and target != "missing":
        assert (RecommendationRule.objects.get(pk=ctx.pk(target)).explanation == NEW_EXPLANATION) == ok
        if ok:
            assert body["id"] == ctx.pk(target) and body["explanation"] == NEW_EXPLANATION
    elif op_id == "hazard_areas_retrieve" and ok:
        assert body["id"] == ctx.pk(target) and body["geometry"]["type"] == "Polygon"
    elif op_id in {"premise_hazards_list", "person_hazards_list"} and ok:
        for hazard in body["results"]:
            assert hazard["premise"] in _visible(ctx, Premise) | {None}
            assert hazard["person"] in _visible(ctx, Person) | {None}
    elif op_id in {"premise_hazards_create", "person_hazards_create"}:
        recorded = RecordHazard.objects.filter(description=NEW_HAZARD).first()
        assert (recorded is not None) == ok
        if recorded is not None:
            record = ctx.obj(target)
            on = recorded.premise_id if op_id == "premise_hazards_create" else recorded.person_id
            assert on == record.pk and recorded.agency_id == record.agency_id
            assert recorded.created_by_id == ctx.user.pk and body["id"] == recorded.pk
    elif op_id == "hazards_delete" and target != "missing":
        assert RecordHazard.objects.filter(pk=ctx.pk(target)).exists() == (not ok)


def _after_cameras(ctx: Ctx, op_id: str, target: str, ok: bool, body: Any) -> None:
    # Whatever the answer, a stream password is never in it.
    assert CAMERA_PASSWORD not in json.dumps(body)
    if op_id == "cameras_retrieve" and ok:
        assert body["id"] == ctx.pk(target)
    elif op_id == "cameras_sharing_set" and target != "missing":
        assert (Camera.objects.get(pk=ctx.pk(target)).sharing == "never") == ok
    elif op_id == "cameras_relocate" and target != "missing":
        assert CameraLocation.objects.filter(camera_id=ctx.pk(target), note="matrix").exists() == ok
        if ok:
            assert body["locations"][0]["note"] == "matrix" and body["latitude"] == 47.53
    elif op_id == "calls_cameras_list" and ok:
        # The calls have no position: the camera pinned to demo_call, and nothing by distance.
        pinned = {"demo_call": [ctx.pk("trailer")], "xavier_call": [ctx.pk("xavier_camera")]}
        assert [c["camera"]["id"] for c in body] == pinned.get(target, [])
        assert all(c["pinned"] for c in body)
    elif op_id == "calls_camera_pins_add":
        pinned = set(CameraPin.objects.values_list("camera_id", flat=True))
        assert pinned == {ctx.pk("trailer"), ctx.pk("xavier_camera")} | ({ctx.pk(target)} if ok else set())
    elif op_id == "calls_camera_pins_remove":
        remaining = set(CameraPin.objects.values_list("camera_id", flat=True))
        assert remaining == {ctx.pk("xavier_camera")} | (set() if ok and target == "trailer" else {ctx.pk("trailer")})


def _after(ctx: Ctx, op_id: str, target: str, ok: bool, body: Any) -> None:
    """The effect a success must have, and the absence of any effect when refused."""
    exists = target != "missing"
    if ok and isinstance(body, dict) and "id" in body:
        _nested_shown_exactly(ctx, op_id, body)
    for check in (_after_calls, _after_briefings, _after_rules_and_hazards, _after_cameras, _after_media):
        check(ctx, op_id, target, ok, body)
    after_sensors(ctx.records, ctx.user, op_id, target, ok, body)
    after_locations(ctx.records, ctx.user, op_id, target, ok, body)
    bolos.after_bolos(ctx.records, ctx.user, op_id, target, ok, body)
    if op_id in {"cases_retrieve", "people_retrieve", "vehicles_retrieve", "premises_retrieve"} and ok:
        assert body["id"] == ctx.pk(target)
    elif op_id == "cases_update" and exists:
        assert (Case.objects.get(pk=ctx.pk(target)).title == NEW_TITLE) == ok
        if ok:
            assert body["id"] == ctx.pk(target) and body["title"] == NEW_TITLE
    elif op_id == "cases_access_grant" and exists:
        assert _gus_named_on(ctx, target) == ok
    elif op_id == "cases_access_revoke" and exists:
        assert _gus_named_on(ctx, target) == (not ok)
    elif op_id == "cases_create":
        created = Case.objects.filter(number=NEW_CASE_NUMBER).first()
        assert (created is not None) == ok
        if ok:
            assert created is not None and created.agency_id == ctx.user.agency_id and body["id"] == created.pk
            assert {p["person"]["id"] for p in body["people"]} == {
                ctx.pk(n) for n in ("person", "restricted_person") if target == "with_restricted_person"}
    elif op_id == "devices_revoke" and exists:
        device_id = ctx.pk(target)
        assert (Device.objects.get(pk=device_id).revoked_at is not None) == ok
        if ok:
            assert body["id"] == device_id and body["revoked_at"]
        # Revoking the device you are signed in on ends this very session.
        assert _session_works(ctx.client) == (not (ok and target == "own_device"))
    elif op_id == "users_release_lock" and target == "lou":
        assert (User.objects.get(pk=ctx.pk("lou")).locked_at is None) == ok
    elif op_id == "users_set_active" and exists:
        assert User.objects.get(pk=ctx.pk(target)).is_active == (not ok)
        if ok:
            assert body["id"] == ctx.pk(target) and body["is_active"] is False
    elif op_id == "users_create":
        created = User.objects.filter(username="nina").first()
        assert (created is not None) == ok
        if ok:
            assert created is not None and created.agency_id == ctx.user.agency_id and body["id"] == created.pk
    elif op_id == "users_set_role" and exists:
        role_now = User.objects.get(pk=ctx.pk(target)).role
        assert role_now == (NEW_ROLE if ok else ctx.obj(target).role)
    elif op_id == "auth_logout":
        assert not _session_works(ctx.client)
    elif op_id == "me_retrieve":
        assert body["id"] == ctx.user.pk and body["agency"]["id"] == ctx.user.agency_id
        assert body["device_id"] == ctx.pk("own_device")
    elif op_id == "stream_ticket_create":
        assert body["ticket"] and body["url"] == "/ws/v1/stream" and body["expires_in"] == 30
    elif op_id == "me_device_update":
        assert body["id"] == ctx.pk("own_device") and body["user"] == ctx.user.pk and body["has_push_token"]
        assert Device.objects.get(pk=ctx.pk("own_device")).push_token == PUSH_TOKEN
    elif op_id == "auth_login" and ok:
        if body.get("mfa_required"):
            assert body["challenge"] and body["enrolment"] is None
        else:
            assert body["user"]["id"] == ctx.user.pk and body["token"]
    elif op_id == "auth_mfa" and ok:
        assert body["user"]["id"] == ctx.user.pk
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
        assert client.get("/api/v1/me").json()["id"] == ctx.user.pk
    elif op_id == "audit_proof" and ok:
        assert body["event"]["id"] == ctx.pk(target) and body["leaf_index"] >= 0
        assert body["checkpoint"]["tree_size"] > body["leaf_index"]
    elif op_id == "audit_consistency" and ok:
        assert body["first"]["tree_size"] == 1 and body["proof"]
    elif op_id == "audit_list" and ok and target == "all":
        events = body["results"]
        assert body["next_cursor"] is None
        own_agency = set(User.objects.filter(agency=ctx.world.agency).values_list("pk", flat=True))
        assert events and {e["actor"] for e in events} <= own_agency
        # Xavier's sign-in is on the trail, but not on Demo City's.
        assert AuditEvent.objects.filter(actor=ctx.world.xavier).exists()
        assert {e["id"] for e in events} == set(
            AuditEvent.objects.filter(agency_id_snapshot=ctx.world.agency.pk).values_list("pk", flat=True))


def _cases() -> list[Any]:
    words = {200: "can", 201: "can", 202: "can", 204: "can", 404: "cannot"}
    out = []
    for op_id, targets in EXPECTED.items():
        for target, answers in targets.items():
            for persona, expect in answers.items():
                verb = words.get(expect.status, f"gets {expect.status} {expect.code} from")
                if expect.ids == ():
                    verb = "sees nothing in"
                out.append(pytest.param(op_id, target, persona, expect, id=f"{persona} {verb} {op_id} {target}"))
    return out


@pytest.mark.parametrize(("op_id", "target", "persona", "expect"), _cases())
def test_access_matrix(op_id: str, target: str, persona: str, expect: Expect, matrix: Matrix, db: Any,
                       schema_ops: dict[str, Operation], monkeypatch: pytest.MonkeyPatch) -> None:
    op = schema_ops[op_id]
    ctx = Ctx(world=matrix.world, op_id=op_id, persona=persona, client=matrix.clients[persona],
              monkeypatch=monkeypatch, records=matrix.records)
    call = CALLS[op_id](ctx, target)
    assert set(call.params) == set(op.path_params), f"{op_id} takes {sorted(op.path_params)}"
    client = call.client or ctx.client
    url = op.path.format(**call.params)
    if op.method == "get":
        response = client.get(url, call.query or {})
    else:
        response = getattr(client, op.method)(url, call.body, format=call.format)

    content_type = response.get("Content-Type", "")
    if content_type.startswith(("image/", "video/")):
        assert not contract.undocumented(op_id, response.status_code, content_type, None)
        # Consuming the stream lets the test client close the response the way a server would;
        # closing it by hand fires request_finished, which closes the test's database connection.
        content = b"".join(response.streaming_content)
        assert response.status_code == expect.status
        assert content == _served_bytes(op_id) and response["Cache-Control"] == "private, no-store"
        return
    body = response.json() if response.content else None
    assert response.status_code == expect.status, body
    assert not contract.undocumented(op_id, response.status_code, content_type, body)
    if expect.status >= 400:
        assert isinstance(body, dict) and set(body) == {"code", "message", "fields"}, body
        assert body["code"] == expect.code, body
    if expect.ids is not None:
        rows = body["results"] if isinstance(body, dict) else body
        assert sorted(r["id"] for r in rows) == sorted(ctx.pk(name) for name in expect.ids)
    _after(ctx, op_id, target, 200 <= expect.status < 300, body)


# ------------------------------------------------------------ beyond one call


def test_a_photo_link_from_a_person_record_stops_working_when_its_user_loses_access(matrix: Matrix,
                                                                                     db: Any) -> None:
    world = matrix.world
    content = _photo_bytes()
    person_photo_add(person=world.person, filename="mugshot.jpg", content=content, content_type="image/jpeg")
    omar = signed_in_client(world.omar)
    url = omar.get(f"/api/v1/people/{world.person.pk}").json()["photos"][0]["url"]
    path = re.sub(r"^https?://[^/]+", "", url)
    assert path.startswith("/api/v1/photos/")
    opened = omar.get(path)
    assert opened.status_code == 200 and b"".join(opened.streaming_content) == _served_bytes("photos_file")
    # The link is checked again each time: once Omar is disabled it opens nothing.
    assert signed_in_client(world.abe).post(f"/api/v1/users/{world.omar.pk}/active", {"is_active": False},
                                            format="json").status_code == 200
    refused = APIClient().get(path)
    assert refused.status_code == 403 and refused.json()["code"] == "link_session_ended"
