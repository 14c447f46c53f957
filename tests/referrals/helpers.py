"""A health department on call for Demo City, a crisis team for Other County, and a crisis call on Omar's unit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from apps.accounts.models import Role, User
from apps.briefings.models import BriefingVersion
from apps.briefings.services import briefing_assemble, recommendation_rules_seed
from apps.calls.models import Call, Category, UnitAssignment
from apps.referrals.models import Agreement, Member, OnCallShift, Organisation, Referral, ResponderKind, Team
from apps.referrals.services import referral_create
from tests.base import World, make_user
from tests.briefings.helpers import make_call

RECOMMENDATION = "co_responder:behavioral_health"
# Written as Part 2 notes in the tests; must never appear in anything that leaves the server.
PART2_MARKER = "methadone-clinic-enrolment-7731"
HEALTH_NOTE = "Calm after twenty minutes; agreed to a follow-up visit."


@dataclass
class Scene:
    world: World
    call: Call
    health: Organisation
    agreement: Agreement
    team: Team
    cora: User
    cody: User  # second on call, after Cora
    hana: User  # the health department's coordinator
    crisis: Organisation  # another organisation, serving Other County
    olga: User  # its co-responder
    xavier_call: Call


def _member(user: User, organisation: Organisation, team: Team, *, coordinator: bool = False) -> None:
    Member.objects.create(user=user, organisation=organisation, team=team, is_coordinator=coordinator)


def _shift(team: Team, user: User, rank: int, now: datetime) -> None:
    OnCallShift.objects.create(team=team, user=user, rank=rank, starts_at=now - timedelta(hours=1),
                               ends_at=now + timedelta(hours=8))


def referral_scene(world: World) -> Scene:
    now = timezone.now()
    health = Organisation.objects.create(name="Demo City Health Department", kind="health_department",
                                         callback_number="+1 206 555 0199")
    agreement = Agreement.objects.create(agency=world.agency, organisation=health,
                                         starts_on=timezone.localdate() - timedelta(days=30))
    team = Team.objects.create(organisation=health, name="Behavioral health on call",
                               responder_kind=ResponderKind.BEHAVIORAL_HEALTH)
    cody = make_user("cody", Role.CO_RESPONDER, world.agency)
    hana = make_user("hana", Role.CO_RESPONDER, world.agency)
    _member(world.cora, health, team)
    _member(cody, health, team)
    _member(hana, health, team, coordinator=True)
    _shift(team, world.cora, 1, now)
    _shift(team, cody, 2, now)

    crisis = Organisation.objects.create(name="Other County Crisis Team", kind="crisis_team")
    Agreement.objects.create(agency=world.other_agency, organisation=crisis, starts_on=timezone.localdate())
    crisis_team = Team.objects.create(organisation=crisis, name="Crisis",
                                      responder_kind=ResponderKind.BEHAVIORAL_HEALTH)
    olga = make_user("olga", Role.CO_RESPONDER, world.other_agency)
    _member(olga, crisis, crisis_team)
    _shift(crisis_team, olga, 1, now)

    recommendation_rules_seed(agency_id=world.agency.pk)
    call = make_call(world, event="26-0100001", category=Category.MENTAL_HEALTH, cad="CRISIS",
                     narrative="Caller says her brother is suicidal and has not slept in days.")
    UnitAssignment.objects.create(call=call, unit=world.unit, assigned_at=now)
    briefing_assemble(call_id=call.pk, reason=BriefingVersion.Reason.CALL_CREATED)
    xavier_call = make_call(world, event="OC-26-0100", agency_id=world.other_agency.pk,
                            category=Category.MENTAL_HEALTH, address="1 OTHER COUNTY RD")
    return Scene(world=world, call=call, health=health, agreement=agreement, team=team, cora=world.cora, cody=cody,
                 hana=hana, crisis=crisis, olga=olga, xavier_call=xavier_call)


def refer(scene: Scene, **extra: Any) -> Referral:
    """Ava accepts the briefing's recommendation, with what the center knows for the technician."""
    values: dict[str, Any] = {"recommendation_item": RECOMMENDATION, "approach_guidance": "Speak slowly; he "
                              "responds to his first name.", "language_needs": "Spanish preferred",
                              "callback_number": "+1 206 555 0100", "requester_notes": "Sister is on scene."}
    return referral_create(user=scene.world.ava, call_id=scene.call.pk, **(values | extra))


def xavier_referral(scene: Scene) -> Referral:
    """Other County's analyst refers Xavier's agency's call: it goes to the crisis team's Olga."""
    return referral_create(user=_xavier_analyst(scene), call_id=scene.xavier_call.pk,
                           responder_kind=ResponderKind.BEHAVIORAL_HEALTH)


def _xavier_analyst(scene: Scene) -> User:
    found = User.objects.filter(username="xena").first()
    return found or make_user("xena", Role.ANALYST, scene.world.other_agency)
