"""Co-responder organisations, their agreements with agencies, rosters, and referrals.

Docs: docs/referrals.md. A referral holds its own copy of what a co-responder may
be told (location, call type, safety flags, approach guidance, ...): co-responders
read the referral, never the call or a case file.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.accounts.models import Agency
from apps.calls.models import Call
from apps.common.fields import by_user, owning_agency


class ResponderKind(models.TextChoices):
    # The same values as apps.briefings RecommendationRule.Responder, so a recommendation names a team kind.
    BEHAVIORAL_HEALTH = "behavioral_health", "Behavioral-health technician"
    OVERDOSE = "overdose", "Overdose response technician"


class Organisation(models.Model):
    """A health department, a crisis team: not an agency, and never a reader of police records."""

    class Kind(models.TextChoices):
        HEALTH_DEPARTMENT = "health_department", "Health department"
        CRISIS_TEAM = "crisis_team", "Crisis team"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    callback_number = models.CharField(max_length=30, blank=True, help_text="The dispatch desk's number.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# What an agency may share with an organisation, by group of co-responder fields (see SHARED_FIELDS).
SHARE_GROUPS = ("location", "call_type", "safety", "approach_guidance", "language_needs", "callback",
                "requester_notes")


def all_share_groups() -> list[str]:
    return list(SHARE_GROUPS)


class Agreement(models.Model):
    """An agency and an organisation agree what may be shared, from when to when."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="referral_agreements")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="agreements")
    shares = models.JSONField(default=all_share_groups, help_text=f"Any of: {', '.join(SHARE_GROUPS)}")
    # After a referral closes the co-responder's health notes stay with the health side unless this is set.
    officers_read_notes_after_close = models.BooleanField(default=False)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True, help_text="Empty: until further notice.")

    class Meta:
        ordering = ["agency", "organisation"]

    def __str__(self) -> str:
        return f"{self.agency_id} with {self.organisation}"


class Team(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=100)
    responder_kind = models.CharField(max_length=20, choices=ResponderKind.choices)

    class Meta:
        ordering = ["organisation", "name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="team_name_per_organisation")]

    def __str__(self) -> str:
        return f"{self.organisation}: {self.name}"


class Member(models.Model):
    """A co-responder's place in one organisation. Coordinators see all its referrals and its report."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="co_responder")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="members")
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="members")
    is_coordinator = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.user_id} in {self.organisation}"


class OnCallShift(models.Model):
    """Who is on call for a team, when; offers go in `rank` order, then to whoever is next."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="shifts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="on_call_shifts")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    rank = models.PositiveSmallIntegerField(default=1, help_text="1 is offered first.")

    class Meta:
        ordering = ["team", "starts_at", "rank"]
        indexes = [models.Index(fields=["team", "ends_at"], name="shift_team_end_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.team_id} from {self.starts_at:%Y-%m-%d %H:%M}"


class Outcome(models.TextChoices):
    RESOLVED_ON_SCENE = "resolved_on_scene", "Resolved on scene"
    TRANSPORTED = "transported", "Transported"
    REFERRED_TO_SERVICES = "referred_to_services", "Referred to services"
    POLICE_TOOK_OVER = "police_took_over", "Police took over"
    CANCELLED = "cancelled", "Cancelled"


class SafetyFlag(models.TextChoices):
    WEAPONS = "weapons", "Weapons"
    VIOLENCE_TO_RESPONDERS = "violence_to_responders", "Violence toward responders"
    HAZARD = "hazard", "Hazard at the scene"


class Referral(models.Model):
    class State(models.TextChoices):
        OFFERED = "offered", "Offered"
        ACCEPTED = "accepted", "Accepted"
        # Everyone on call declined or let the offer lapse: the center decides what next.
        DECLINED = "declined", "Declined"
        EN_ROUTE = "en_route", "En route"
        ON_SCENE = "on_scene", "On scene"
        CLOSED = "closed", "Closed"

    class Source(models.TextChoices):
        CALL = "call", "From a call"
        RECOMMENDATION = "recommendation", "From the briefing's recommendation"

    OPEN_STATES = (State.OFFERED, State.ACCEPTED, State.DECLINED, State.EN_ROUTE, State.ON_SCENE)

    agency = owning_agency()
    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="referrals")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="referrals")
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="referrals")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="referrals")
    responder_kind = models.CharField(max_length=20, choices=ResponderKind.choices)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.CALL)
    recommendation_item = models.CharField(max_length=60, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OFFERED)
    outcome = models.CharField(max_length=24, choices=Outcome.choices, blank=True)
    # Reported at close: the person went to care instead of being arrested.
    diverted_from_arrest = models.BooleanField(null=True, blank=True)

    # What the co-responder is told: copied when the referral is made, never read through from the call.
    address = models.CharField(max_length=200, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    call_type = models.CharField(max_length=20, blank=True)
    priority = models.PositiveSmallIntegerField(default=3)
    safety_flags = models.JSONField(default=list, blank=True)
    police_first = models.BooleanField(default=False, help_text="Police secure the scene; the responder stages.")
    hazard_notes = models.CharField(max_length=500, blank=True)
    approach_guidance = models.TextField(blank=True)
    language_needs = models.CharField(max_length=200, blank=True)
    callback_number = models.CharField(max_length=30, blank=True)
    requester_notes = models.TextField(blank=True)

    # The co-responder's own notes: the agency side reads them only while the referral is open, or
    # after close where the agreement says so.
    health_notes = models.TextField(blank=True)
    # 42 CFR Part 2 (substance-use treatment): kept here, never sent by any API, event, push or log.
    part2_notes = models.TextField(blank=True)

    requested_by = by_user()
    responder = by_user(optional=True, help_text="Who has the offer now, or who accepted it.")
    created_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    en_route_at = models.DateTimeField(null=True, blank=True)
    on_scene_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = by_user(optional=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["agency", "created_at"], name="referral_agency_idx"),
            models.Index(fields=["organisation", "created_at"], name="referral_org_idx"),
        ]

    def __str__(self) -> str:
        return f"referral {self.pk} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES


class Offer(models.Model):
    """One on-call person asked to take a referral. Answered once: accepted, declined or rolled over.

    The conditional update `filter(pk=..., result="").update(result=...)` is the claim: of a
    decline, an accept and two rollover workers racing on one offer, exactly one wins.
    """

    class Result(models.TextChoices):
        OPEN = "", "Waiting"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        ROLLED_OVER = "rolled_over", "Rolled over (no answer in time)"
        WITHDRAWN = "withdrawn", "Withdrawn (the referral was cancelled)"

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="offers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referral_offers")
    offered_at = models.DateTimeField()
    roll_over_at = models.DateTimeField()
    result = models.CharField(max_length=12, choices=Result.choices, blank=True, default="")
    answered_at = models.DateTimeField(null=True, blank=True)
    push_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["offered_at", "id"]
        constraints = [models.UniqueConstraint(fields=["referral", "user"], name="offer_once_per_person")]
        indexes = [models.Index(fields=["result", "roll_over_at"], name="offer_due_idx")]

    def __str__(self) -> str:
        return f"offer of {self.referral_id} to {self.user_id}"


class Transition(models.Model):
    """Who moved a referral to which state, and when."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="transitions")
    state = models.CharField(max_length=10, choices=Referral.State.choices)
    at = models.DateTimeField()
    by = by_user(optional=True, help_text="Empty: the system (an offer rolled over).")
    note = models.CharField(max_length=80, blank=True, help_text="e.g. rolled_over, the outcome")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.referral_id} -> {self.state}"
