"""The people every test speaks of, and the records they do or do not see.

Demo City PD: analyst Ava, officer Omar, co-responder Cora, supervisor Sam,
administrator Abe and auditor Aud. Xavier is an officer of Other County SO and
should see none of Demo City's case files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyotp
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import Agency, Role, Unit, User
from apps.accounts.services import DeviceInfo, session_issue
from apps.cases.models import Case, CasePerson, Person, PersonAlias, Premise, Restriction, Vehicle, Warrant
from apps.cases.services import record_access_grant

PASSWORD = "correct horse battery staple"


@dataclass
class World:
    agency: Agency
    other_agency: Agency
    ava: User
    omar: User
    cora: User
    sam: User
    abe: User
    aud: User
    xavier: User
    unit: Unit
    person: Person
    restricted_person: Person
    vehicle: Vehicle
    premise: Premise
    case: Case
    juvenile_case: Case
    xavier_case: Case
    xavier_person: Person

    @property
    def personas(self) -> dict[str, User]:
        return {"ava": self.ava, "omar": self.omar, "cora": self.cora, "sam": self.sam, "abe": self.abe,
                "aud": self.aud, "xavier": self.xavier}


def make_user(username: str, role: str, agency: Agency, **extra: Any) -> User:
    user = User(username=username, role=role, agency=agency, first_name=username.capitalize(), **extra)
    user.set_password(PASSWORD)
    if user.mfa_required:
        user.mfa_secret = pyotp.random_base32()
        user.mfa_enabled = True
    user.save()
    return user


def make_world() -> World:
    agency = Agency.objects.create(name="Demo City Police Department", ori="WA0170000")
    other = Agency.objects.create(name="Other County Sheriff", ori="WA0180000")
    ava = make_user("ava", Role.ANALYST, agency)
    omar = make_user("omar", Role.OFFICER, agency)
    cora = make_user("cora", Role.CO_RESPONDER, agency)
    sam = make_user("sam", Role.SUPERVISOR, agency)
    abe = make_user("abe", Role.ADMINISTRATOR, agency)
    aud = make_user("aud", Role.AUDITOR, agency)
    xavier = make_user("xavier", Role.OFFICER, other)
    unit = Unit.objects.create(agency=agency, call_sign="2A12", district="South", beat="R2")
    unit.members_on_shift.add(omar)

    person = Person.objects.create(agency=agency, first_name="Dana", last_name="Whitfield",
                                   caution_flags=["armed"], caution_notes="Known to carry a knife.")
    PersonAlias.objects.create(person=person, name="Dee Whit")
    Warrant.objects.create(person=person, number="W-2026-0042", offense="Burglary 2nd degree",
                           issued_on=timezone.localdate())
    restricted_person = Person.objects.create(agency=agency, first_name="Jamie", last_name="Minor",
                                              restriction=Restriction.JUVENILE)
    vehicle = Vehicle.objects.create(agency=agency, plate="ABC1234", plate_state="WA", make="Honda",
                                     model="Civic", registered_owner=person)
    premise = Premise.objects.create(agency=agency, address="92XX BLOCK OF RAINIER AV S", hazards="Two dogs")
    now = timezone.now()
    case = Case.objects.create(agency=agency, number="26-000101", case_type="Burglary",
                               title="Rainier Ave burglary series", opened_at=now)
    CasePerson.objects.create(case=case, person=person, involvement=CasePerson.Involvement.SUSPECT)
    CasePerson.objects.create(case=case, person=restricted_person, involvement=CasePerson.Involvement.WITNESS)
    case.vehicles.add(vehicle)
    case.premises.add(premise)
    juvenile_case = Case.objects.create(agency=agency, number="26-000102", case_type="Assault",
                                        title="Juvenile assault", restriction=Restriction.JUVENILE, opened_at=now)
    CasePerson.objects.create(case=juvenile_case, person=restricted_person)
    # Only Ava is named on the juvenile case and its juvenile.
    record_access_grant(obj=juvenile_case, grantee=ava, granted_by=None, can_change=True)
    record_access_grant(obj=restricted_person, grantee=ava, granted_by=None)

    xavier_person = Person.objects.create(agency=other, first_name="Other", last_name="Person")
    xavier_case = Case.objects.create(agency=other, number="26-900001", case_type="Theft", title="Other county theft",
                                      opened_at=now)
    return World(agency=agency, other_agency=other, ava=ava, omar=omar, cora=cora, sam=sam, abe=abe, aud=aud,
                 xavier=xavier, unit=unit, person=person, restricted_person=restricted_person, vehicle=vehicle,
                 premise=premise, case=case, juvenile_case=juvenile_case, xavier_case=xavier_case,
                 xavier_person=xavier_person)


def signed_in_client(user: User, *, kind: str = "phone", platform: str = "android") -> APIClient:
    """An API client holding a fresh device session for `user` (sign-in itself is tested in tests/accounts)."""
    issued = session_issue(user=user, device_info=DeviceInfo(name=f"{user.username}'s {kind}", kind=kind,
                                                             platform=platform), ip="127.0.0.1")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    client.device_id = issued.session.device_id  # type: ignore[attr-defined]
    return client


def current_code(user: User) -> str:
    return pyotp.TOTP(user.mfa_secret).now()
