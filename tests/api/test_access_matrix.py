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

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyotp
import pytest
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.test import RequestFactory, override_settings
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apps.accounts.models import Device, User
from apps.accounts.services import DeviceInfo, session_issue
from apps.audit.models import AuditEvent
from apps.cases.models import (
    Case,
    CasePerson,
    CaseUserObjectPermission,
    Person,
    PersonPhoto,
    Premise,
    Restriction,
    Vehicle,
)
from apps.cases.services import person_photo_add, record_access_grant
from mobile_api.v1.cases import photo_link
from tests.base import PASSWORD, World, current_code, make_user, make_world, signed_in_client

PERSONAS = ("ava", "omar", "cora", "sam", "abe", "aud", "xavier")
MFA_PERSONAS = ("ava", "sam", "abe", "aud")
MISSING_ID = 999_999
NEW_TITLE = "Renamed by the access matrix"
NEW_CASE_NUMBER = "26-777001"
PUSH_TOKEN = "fcm-token-from-the-access-matrix"
NEW_ROLE = "supervisor"


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
LINK_404 = Expect(404, "link_invalid")
HIDDEN_404 = Expect(404, "not_found")
READ_ONLY = Expect(403, "case_read_only")
CANNOT_CREATE = Expect(403, "role_cannot_create_cases")
UNKNOWN_REFERENCE = Expect(400, "unknown_reference")

# Public operations: no token needed (sign-in, and photo links that carry their own signature).
PUBLIC = frozenset({"auth_login", "auth_mfa", "photos_file"})

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
    "me_device_update": {"own_device": row(200)},
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
        "person_photo": row(LINK_404, ava=200, omar=200, sam=200),
        "restricted_photo": row(LINK_404, ava=200),
        "xavier_photo": row(LINK_404, xavier=200),
        "missing_photo": row(LINK_404),
        "expired_link": row(LINK_404),
        "tampered_link": row(LINK_404),
    },
    "audit_list": {
        "all": row(HIDDEN_404, aud=200),
        "xavier_actor": row(HIDDEN_404, aud=ids()),
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
        return photo_link(request, SimpleNamespace(pk=photo_id)).rsplit("/", 1)[1]  # type: ignore[arg-type]


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
    return {
        "lou": lou,
        "gus": gus,
        "restricted_vehicle": restricted_vehicle,
        "restricted_premise": restricted_premise,
        "xavier_vehicle": Vehicle.objects.create(agency=world.other_agency, plate="OTH999", plate_state="OR"),
        "xavier_premise": Premise.objects.create(agency=world.other_agency, address="1 OTHER COUNTY RD"),
        **devices,
    }


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


CALLS: dict[str, Callable[[Ctx, str], Call]] = {
    "auth_login": lambda ctx, target: Call(
        body=_login_body(ctx.user.username, PASSWORD if target == "right_password" else "wrong password"),
        client=APIClient()),
    "auth_mfa": _call_mfa,
    "auth_logout": lambda ctx, target: Call(),
    "me_retrieve": lambda ctx, target: Call(),
    "me_device_update": lambda ctx, target: Call(body={"push_token": PUSH_TOKEN}),
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


def _after(ctx: Ctx, op_id: str, target: str, ok: bool, body: Any) -> None:
    """The effect a success must have, and the absence of any effect when refused."""
    exists = target != "missing"
    if ok and isinstance(body, dict) and "id" in body:
        _nested_shown_exactly(ctx, op_id, body)
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
        response = getattr(client, op.method)(url, call.body, format="json")

    if response.get("Content-Type", "").startswith("image/"):
        # Consuming the stream lets the test client close the response the way a server would;
        # closing it by hand fires request_finished, which closes the test's database connection.
        content = b"".join(response.streaming_content)
        assert response.status_code == expect.status
        assert content == _photo_bytes() and response["Cache-Control"] == "private, no-store"
        return
    body = response.json() if response.content else None
    assert response.status_code == expect.status, body
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
    assert opened.status_code == 200 and b"".join(opened.streaming_content) == content
    # The link is checked again each time: once Omar is disabled it opens nothing.
    assert signed_in_client(world.abe).post(f"/api/v1/users/{world.omar.pk}/active", {"is_active": False},
                                            format="json").status_code == 200
    refused = APIClient().get(path)
    assert refused.status_code == 404 and refused.json()["code"] == "link_invalid"
