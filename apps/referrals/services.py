"""Writing referrals: making one, its state machine, offers and their rollover. Docs: docs/referrals.md.

A referral is offered to one on-call person at a time. Every answer to an offer (accept,
decline, rollover, withdrawal) is a claim on the offer row, made under the referral's row
lock, so of two racing answers exactly one counts. Offers and state changes travel as
events and push alerts through apps.delivery, written in the same transaction; their
payloads carry ids and the state only (EVENT_FIELDS). The 42 CFR Part 2 notes are
written here and sent nowhere: not in an event, an audit detail or a log line.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Role, User
from apps.accounts.policy import CENTER_ROLES
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.calls.models import Call
from apps.calls.safety import safety_flags
from apps.calls.selectors import call_get_for_user, officers_on_call, user_is_assigned_to_call
from apps.common.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from apps.delivery.models import Push
from apps.delivery.services import delivery_receipt, event_append, push_record
from apps.referrals.models import (
    Agreement,
    Offer,
    OnCallShift,
    Outcome,
    Referral,
    ResponderKind,
    SafetyFlag,
    Team,
    Transition,
)
from apps.referrals.selectors import referral_visible_to_user, referrals_visible_to

logger = logging.getLogger(__name__)

REFERRAL_OBJECT = "referrals.referral"
# Everything an event or push about a referral carries (besides delivery's own `push` id).
EVENT_FIELDS = ("referral_id", "state")
State = Referral.State
ALLOWED: dict[str, frozenset[str]] = {
    State.OFFERED: frozenset({State.ACCEPTED, State.DECLINED, State.CLOSED}),
    State.ACCEPTED: frozenset({State.EN_ROUTE, State.ON_SCENE, State.CLOSED}),
    State.DECLINED: frozenset({State.CLOSED}),
    State.EN_ROUTE: frozenset({State.ON_SCENE, State.CLOSED}),
    State.ON_SCENE: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}
# Outcomes that only someone who got there can report.
ON_SCENE_OUTCOMES = frozenset({Outcome.RESOLVED_ON_SCENE, Outcome.TRANSPORTED, Outcome.REFERRED_TO_SERVICES})
CALLBACK_RE = re.compile(r"\+?[0-9()\-. ]{3,25}")


class InvalidTransition(DomainError):
    status = 409
    code = "invalid_transition"


def _priority(value: int) -> int:
    # Push alerts speak of priorities 1-9 (apps/delivery/fcm.py); a CAD may send 0 for "unset".
    return max(1, min(9, value or 3))


# --------------------------------------------------------------------- who is on call


def _on_call(*, team: Team, now: datetime, exclude: set[int]) -> int | None:
    """The next person on call for the team now, who has not been offered this referral yet."""
    # Only co-responders of the team's own organisation: a roster row cannot hand a referral to an outsider.
    shifts = OnCallShift.objects.filter(team=team, starts_at__lte=now, ends_at__gt=now, user__is_active=True,
                                        user__role=Role.CO_RESPONDER,
                                        user__co_responder__organisation_id=team.organisation_id)
    shift = shifts.exclude(user_id__in=exclude).order_by("rank", "starts_at", "pk").first()
    return shift.user_id if shift else None


def _route(*, agency_id: int, kind: str, now: datetime) -> tuple[Agreement, Team, int]:
    today = timezone.localdate(now)
    agreements = (Agreement.objects.filter(agency_id=agency_id, starts_on__lte=today)
                  .exclude(ends_on__lt=today).select_related("organisation").order_by("pk"))
    for agreement in agreements:
        for team in Team.objects.filter(organisation_id=agreement.organisation_id, responder_kind=kind).order_by("pk"):
            user_id = _on_call(team=team, now=now, exclude=set())
            if user_id is not None:
                return agreement, team, user_id
    label = dict(ResponderKind.choices)[kind].lower()
    raise ValidationFailed(f"No {label} is on call for your agency now.", code="no_one_on_call",
                           fields={"responder_kind": ["no one on call"]})


# ------------------------------------------------------------------------- delivery


def _payload(referral: Referral, state: str) -> dict[str, Any]:
    return {"referral_id": referral.pk, "state": state}


def _watchers(referral: Referral) -> set[int]:
    """The agency side that follows the referral live: whoever asked, and the officers on the call."""
    return {referral.requested_by_id, *officers_on_call(referral.call_id)}


def _push(*, referral: Referral, op: str, users: set[int], sent_by: User | None) -> list[int]:
    users = {u for u in users if u is not None and (sent_by is None or u != sent_by.pk)}
    if not users:
        return []
    push = referral_announce(referral=referral, op=op, users=sorted(users), sent_by=sent_by)
    return sorted(push.deliveries.values_list("user_id", flat=True))


def referral_announce(*, referral: Referral, op: str, users: list[int], sent_by: User | None = None,
                      state: str | None = None) -> Push:
    """Push news of the referral to these users: the one place its push is made (ids and its state only)."""
    return push_record(agency_id=referral.agency_id, type="referral", op=op, object_type=REFERRAL_OBJECT,
                       object_id=str(referral.pk), payload=_payload(referral, state or referral.state),
                       priority=_priority(referral.priority), users=users, sent_by=sent_by,
                       call_id=referral.call_id)


def _withdraw(*, referral: Referral, user_id: int) -> None:
    """The offer is gone (lapsed, or the referral was cancelled): the app drops it. An event, no alert."""
    event_append(users=[user_id], type="referral", op="withdrawn", object_type=REFERRAL_OBJECT,
                 object_id=str(referral.pk), payload=_payload(referral, "withdrawn"))


def _acknowledge(*, offer: Offer, user: User) -> None:
    # Answering the offer is acknowledging its push: no escalation for an offer someone answered.
    if offer.push_id is None:
        return
    try:
        delivery_receipt(user=user, push_id=offer.push_id, state="acknowledged")
    except NotFound:
        pass  # the offer reached no device row (e.g. the push was trimmed); nothing to acknowledge


def referral_recipients_allowed(object_id: str, user_ids: list[int]) -> list[int]:
    """Who may be sent an event about this referral: exactly those who may read it."""
    if not object_id.isdigit():
        return []
    users = User.objects.filter(pk__in=user_ids, is_active=True).select_related("agency")
    return [u.pk for u in users if referrals_visible_to(user=u).filter(pk=int(object_id)).exists()]


# ------------------------------------------------------------------------- offers


def _transition(referral: Referral, state: str, *, by: User | None, at: datetime, note: str = "") -> None:
    Transition.objects.create(referral=referral, state=state, by=by, at=at, note=note)


def _offer(*, referral: Referral, user_id: int, now: datetime) -> Offer:
    offer = Offer.objects.create(referral=referral, user_id=user_id, offered_at=now,
                                 roll_over_at=now + timedelta(seconds=settings.REFERRAL_OFFER_SECONDS))
    referral.responder_id = user_id
    referral.save(update_fields=["responder", "updated_at"])
    push = referral_announce(referral=referral, op="offered", users=[user_id], state=State.OFFERED)
    offer.push_id = push.pk
    offer.save(update_fields=["push_id"])
    return offer


def _offer_next(*, referral: Referral, now: datetime, by: User | None, note: str) -> dict[str, Any]:
    """Offer to the next person on call, or, with nobody left, mark the referral declined."""
    asked = set(referral.offers.values_list("user_id", flat=True))
    user_id = _on_call(team=referral.team, now=now, exclude=asked)
    if user_id is not None:
        _transition(referral, State.OFFERED, by=by, at=now, note=note)
        _offer(referral=referral, user_id=user_id, now=now)
        notified = _push(referral=referral, op="offered", users=_watchers(referral), sent_by=by)
        return {"offered_to": user_id, "notified": notified}
    referral.state, referral.declined_at, referral.responder = State.DECLINED, now, None
    referral.save(update_fields=["state", "declined_at", "responder", "updated_at"])
    _transition(referral, State.DECLINED, by=by, at=now, note=f"{note}; no one left on call")
    notified = _push(referral=referral, op="declined", users=_watchers(referral), sent_by=by)
    return {"offered_to": None, "notified": notified}


def referral_offers_roll_over(*, now: datetime | None = None, limit: int = 100) -> int:
    """Offers nobody answered in time go to the next person on call, each exactly once.

    Run by `manage.py delivery_dispatcher` every loop. The referral's row lock, then the
    conditional update of the offer, is the claim: a second worker, or an accept that
    raced it, finds the offer answered and does nothing.
    """
    now = now or timezone.now()
    due = list(Offer.objects.filter(result=Offer.Result.OPEN, roll_over_at__lte=now)
               .order_by("roll_over_at").values_list("pk", "referral_id")[:limit])
    rolled = 0
    for offer_id, referral_id in due:
        with transaction.atomic():
            referral = Referral.objects.select_for_update().select_related("team").get(pk=referral_id)
            claimed = Offer.objects.filter(pk=offer_id, result=Offer.Result.OPEN).update(
                result=Offer.Result.ROLLED_OVER, answered_at=now)
            if not claimed or referral.state != State.OFFERED:
                continue
            lapsed = Offer.objects.get(pk=offer_id)
            _withdraw(referral=referral, user_id=lapsed.user_id)
            outcome = _offer_next(referral=referral, now=now, by=None, note="rolled_over")
            audit_record(actor=None, username="referral_rollover", action=AuditEvent.Action.UPDATE, obj=referral,
                         detail={"rolled_over_from": lapsed.user_id, **outcome, "event_fields": list(EVENT_FIELDS)})
            rolled += 1
    if rolled:
        logger.info("referral offers rolled over: %d", rolled)
    return rolled


# ------------------------------------------------------------------------- making one


def _safety_from_recommendation(found: dict[str, Any]) -> set[str]:
    """The flags the briefing's safety signals raised (apps/briefings/rules.py:safety_signals).

    A briefing stored before the flags were kept carries only its reasons: read them with the same
    vocabulary the briefing used (apps/calls/safety.py).
    """
    if "safety_flags" in found:
        return set(found["safety_flags"] or [])
    text = "; ".join(found.get("safety_reasons") or []).replace("_", " ")
    flags = safety_flags(text)
    if "hazard recorded" in text:
        flags.add(SafetyFlag.HAZARD)
    if "category is domestic" in text:
        flags.add(SafetyFlag.VIOLENCE_TO_RESPONDERS)
    return flags


def _recommendation(*, user: User, call_id: int, item_id: str) -> dict[str, Any]:
    from apps.briefings.selectors import briefing_get_for_user

    view = briefing_get_for_user(user=user, call_id=call_id)
    for entry in view.items:
        if entry.get("id") == item_id and entry.get("section") == "co_responder":
            return dict(entry.get("data") or {})
    raise ValidationFailed("The briefing recommends no such co-responder.", code="recommendation_not_found",
                           fields={"recommendation_item": ["not a co-responder item of this call's briefing"]})


def _may_request(*, user: User, call: Call) -> None:
    if user.role in CENTER_ROLES:
        return
    if not user_is_assigned_to_call(user=user, call=call):
        raise PermissionDenied("Only the center or an officer assigned to the call can ask for a co-responder.",
                               code="referral_not_allowed")


def referral_create(
    *, user: User, call_id: int, responder_kind: str = "", recommendation_item: str = "",
    safety_flags: list[str] | None = None, police_first: bool | None = None, hazard_notes: str = "",
    approach_guidance: str = "", language_needs: str = "", callback_number: str = "", requester_notes: str = "",
    ip: str | None = None, now: datetime | None = None,
) -> Referral:
    """Ask for a co-responder on a call, or accept the briefing's recommendation of one.

    The referral copies what the co-responder may be told from the call and the request,
    and is offered at once to the first person on call in the first agreement that has one.
    """
    now = now or timezone.now()
    call = call_get_for_user(user=user, call_id=call_id, ip=ip)
    _may_request(user=user, call=call)
    flags = set(safety_flags or [])
    source = Referral.Source.CALL
    if recommendation_item:
        found = _recommendation(user=user, call_id=call.pk, item_id=recommendation_item)
        responder_kind = responder_kind or str(found.get("responder", ""))
        flags |= _safety_from_recommendation(found)
        police_first = found.get("mode") == "staged" if police_first is None else police_first
        source = Referral.Source.RECOMMENDATION
    errors: dict[str, list[str]] = {}
    if responder_kind not in ResponderKind.values:
        errors["responder_kind"] = [f"one of {', '.join(ResponderKind.values)}"]
    if flags - set(SafetyFlag.values):
        errors["safety_flags"] = [f"each one of {', '.join(SafetyFlag.values)}"]
    if callback_number and not CALLBACK_RE.fullmatch(callback_number):
        errors["callback_number"] = ["a phone number: digits, spaces, +, -, (, ) and ."]
    if not call.is_active:
        errors["call_id"] = ["the call is no longer active"]
    if errors:
        raise ValidationFailed("Some fields are missing or wrong.", code="invalid", fields=errors)
    agreement, team, first = _route(agency_id=call.agency_id, kind=responder_kind, now=now)
    with transaction.atomic():
        referral = Referral.objects.create(
            agency_id=call.agency_id, call=call, organisation_id=agreement.organisation_id, agreement=agreement,
            team=team, responder_kind=responder_kind, source=source, recommendation_item=recommendation_item,
            address=call.address, latitude=call.latitude, longitude=call.longitude, call_type=call.category,
            priority=call.priority, safety_flags=sorted(flags), police_first=bool(police_first),
            hazard_notes=hazard_notes, approach_guidance=approach_guidance, language_needs=language_needs,
            callback_number=callback_number, requester_notes=requester_notes, requested_by=user, created_at=now)
        _transition(referral, State.OFFERED, by=user, at=now)
        _offer(referral=referral, user_id=first, now=now)
        audit_record(actor=user, action=AuditEvent.Action.CREATE, obj=referral, ip=ip,
                     detail={"call_id": call.pk, "source": source, "responder_kind": responder_kind,
                             "organisation": agreement.organisation_id, "offered_to": first,
                             "event_fields": list(EVENT_FIELDS)})
    logger.info("referral %s offered for call %s", referral.pk, call.pk)
    return referral


# ------------------------------------------------------------------------- the state machine


def _check_state(referral: Referral, to: str) -> None:
    if to not in ALLOWED[referral.state]:
        allowed = sorted(ALLOWED[referral.state])
        raise InvalidTransition(f"A referral that is {referral.state} cannot become {to}.",
                                fields={"to": [f"from {referral.state}: {', '.join(allowed) or 'nothing'}"]})


def _open_offer(referral: Referral, user: User) -> Offer:
    offer = referral.offers.filter(user=user, result=Offer.Result.OPEN).first()
    if offer is None:
        raise PermissionDenied("This referral was offered to someone else.", code="offer_not_yours")
    return offer


def _claim(offer: Offer, result: str, now: datetime) -> None:
    if not Offer.objects.filter(pk=offer.pk, result=Offer.Result.OPEN).update(result=result, answered_at=now):
        raise InvalidTransition("The offer was answered already.", code="offer_answered")


def _responder_only(user: User, referral: Referral) -> None:
    if user.role != Role.CO_RESPONDER:
        raise PermissionDenied("Only the co-responder reports this.", code="responder_only")
    if referral.responder_id != user.pk:
        raise PermissionDenied("This referral is another co-responder's.", code="offer_not_yours")


def _close_check(*, user: User, referral: Referral, outcome: str) -> None:
    if outcome not in Outcome.values:
        raise ValidationFailed("Say how it ended.", code="invalid_outcome",
                               fields={"outcome": [f"one of {', '.join(Outcome.values)}"]})
    if user.role == Role.CO_RESPONDER:
        _responder_only(user, referral)
        if referral.state not in (State.ACCEPTED, State.EN_ROUTE, State.ON_SCENE):
            _check_state(referral, State.ON_SCENE)  # raises: a responder closes only what they accepted
        if outcome in ON_SCENE_OUTCOMES and referral.state != State.ON_SCENE:
            raise InvalidTransition(f"Report on scene before the outcome {outcome}.", code="invalid_transition",
                                    fields={"outcome": ["needs on_scene first"]})
    elif outcome != Outcome.CANCELLED:
        raise PermissionDenied("The co-responder reports the outcome; the agency can only cancel.",
                               code="responder_reports_outcome")


def referral_transition(
    *, referral_id: int, user: User, to: str, outcome: str = "", diverted_from_arrest: bool | None = None,
    health_notes: str | None = None, part2_notes: str | None = None, ip: str | None = None,
    now: datetime | None = None,
) -> Referral:
    """Move a referral on: accepted or declined (its offeree), en route, on scene, closed with an outcome.

    The co-responder who holds it reports status, outcome and notes; the agency side may
    cancel (close with outcome cancelled) while it is open. Anything else is refused with
    `invalid_transition` (409), `responder_only` or `offer_not_yours` (403).
    """
    now = now or timezone.now()
    if to not in State.values or to == State.OFFERED:
        raise ValidationFailed("`to` names the state to move to.", code="invalid_state",
                               fields={"to": [s for s in State.values if s != State.OFFERED]})
    with transaction.atomic():
        referral_visible_to_user(user=user, referral_id=referral_id)
        referral = Referral.objects.select_for_update().select_related("team").get(pk=referral_id)
        notes = {k: v for k, v in (("health_notes", health_notes), ("part2_notes", part2_notes)) if v is not None}
        if notes and user.role != Role.CO_RESPONDER:
            raise PermissionDenied("Only the co-responder writes health notes.", code="responder_only")
        detail: dict[str, Any] = {"to": to, "event_fields": list(EVENT_FIELDS)}
        was_responder = referral.responder_id
        if to in (State.ACCEPTED, State.DECLINED):
            if user.role != Role.CO_RESPONDER:
                raise PermissionDenied("Only the co-responder offered the referral answers it.", code="responder_only")
            _check_state(referral, to)
            offer = _open_offer(referral, user)
            _claim(offer, Offer.Result.ACCEPTED if to == State.ACCEPTED else Offer.Result.DECLINED, now)
            _acknowledge(offer=offer, user=user)
            if to == State.DECLINED:
                detail |= _offer_next(referral=referral, now=now, by=user, note="declined by the offeree")
                _write_notes(referral, notes)
                audit_record(actor=user, action=AuditEvent.Action.UPDATE, obj=referral, ip=ip, detail=detail)
                return referral
            referral.accepted_at = now
        elif to in (State.EN_ROUTE, State.ON_SCENE):
            _responder_only(user, referral)
            _check_state(referral, to)
            setattr(referral, f"{to}_at", now)
        else:
            _close_check(user=user, referral=referral, outcome=outcome)
            _check_state(referral, to)
            open_offer = referral.offers.filter(result=Offer.Result.OPEN).first()
            if open_offer is not None:
                Offer.objects.filter(pk=open_offer.pk).update(result=Offer.Result.WITHDRAWN, answered_at=now)
                _withdraw(referral=referral, user_id=open_offer.user_id)
                referral.responder = None
            referral.outcome, referral.closed_at, referral.closed_by = outcome, now, user
            if diverted_from_arrest is not None and user.role == Role.CO_RESPONDER:
                referral.diverted_from_arrest = diverted_from_arrest
            detail["outcome"] = outcome
        referral.state = to
        _write_notes(referral, notes)
        referral.save()
        _transition(referral, to, by=user, at=now, note=outcome)
        followers = _watchers(referral) | ({referral.responder_id} if referral.responder_id else set())
        detail["notified"] = _push(referral=referral, op=to, users=followers, sent_by=user)
        if notes:
            detail["notes_changed"] = True  # never which notes, and never what they say
        if was_responder and referral.responder_id is None:
            detail["withdrawn_from"] = was_responder
        audit_record(actor=user, action=AuditEvent.Action.UPDATE, obj=referral, ip=ip, detail=detail)
    logger.info("referral %s is %s", referral.pk, to)
    return referral


def _write_notes(referral: Referral, notes: dict[str, str]) -> None:
    if notes:
        for name, value in notes.items():
            setattr(referral, name, value)
        referral.save(update_fields=[*notes, "updated_at"])
