"""Reading the event log: replay after an offset, or tell the client to resync (docs/delivery.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import BigIntegerField, Count, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from apps.accounts.models import DeviceSession, Role, Unit, User
from apps.accounts.policy import AGENCY_ROLES, CENTER_ROLES
from apps.accounts.services import session_is_live, session_live
from apps.common.errors import NotFound
from apps.delivery.models import Delivery, Event, Push, UserStream


@dataclass(frozen=True)
class ReplayResult:
    events: list[Event]
    resync: bool
    # Where the stream stands now: after a resync the client continues from here.
    epoch: str
    offset: int
    # True when more events follow the ones returned: fetch again after sending these.
    more: bool = False


def events_after(*, user: User | int, epoch: str | None, offset: int, limit: int) -> ReplayResult:
    """Exactly the user's events after `offset` in `epoch`, oldest first, at most `limit`.

    Resync instead when the epoch is not the stream's, the offset is not one the
    server gave out, the events after it are no longer kept, or the gap is longer
    than DELIVERY_MAX_BACKLOG (a client that far behind refetches state instead).
    """
    user_id = user if isinstance(user, int) else user.pk
    streams = {uid: (stream_epoch, next_offset - 1) for uid, stream_epoch, next_offset
               in UserStream.objects.filter(user_id=user_id).values_list("user_id", "epoch", "next_offset")}
    return _replays([(user_id, epoch, offset)], streams, limit)[0]


def stream_replays(*, requests: list[tuple[int, int, str | None, int]], limit: int) -> list[ReplayResult | None]:
    """`events_after` for many sockets, (session id, user id, epoch, offset) each, in two queries for all.

    None for a socket whose session no longer stands: a revoked device gets nothing more.
    """
    checks = stream_checks(session_ids=[session_id for session_id, _, _, _ in requests])
    streams: dict[int, tuple[str, int]] = {}
    for session_id, user_id, _, _ in requests:
        live, stream_epoch, last = checks.get(session_id, (False, None, 0))
        if live and stream_epoch is not None:
            streams[user_id] = (stream_epoch, last)
    live_requests = [(i, (user_id, epoch, offset)) for i, (session_id, user_id, epoch, offset) in enumerate(requests)
                     if checks.get(session_id, (False,))[0]]
    results: list[ReplayResult | None] = [None] * len(requests)
    for (i, _), result in zip(live_requests, _replays([r for _, r in live_requests], streams, limit), strict=True):
        results[i] = result
    return results


def _replays(requests: list[tuple[int, str | None, int]], streams: dict[int, tuple[str, int]],
             limit: int) -> list[ReplayResult]:
    """The replay of each (user id, epoch, offset), given each user's stream (epoch, last offset)."""
    results: list[ReplayResult | None] = [None] * len(requests)
    wanted: list[int] = []
    for i, (user_id, epoch, offset) in enumerate(requests):
        stream = streams.get(user_id)
        if stream is None:
            results[i] = ReplayResult(events=[], resync=True, epoch="", offset=0)
            continue
        stream_epoch, last = stream
        if epoch != stream_epoch or offset < 0 or offset > last or last - offset > settings.DELIVERY_MAX_BACKLOG:
            results[i] = ReplayResult(events=[], resync=True, epoch=stream_epoch, offset=last)
        elif offset == last:
            results[i] = ReplayResult(events=[], resync=False, epoch=stream_epoch, offset=last)
        else:
            wanted.append(i)
    if wanted:
        # Offsets in an epoch are consecutive and trimming takes the oldest, so the `limit` events after an
        # offset are the offsets up to offset + limit, and the gap is still kept exactly when its first
        # event is: one statement serves every socket of the batch.
        match = Q()
        for i in wanted:
            user_id, _, offset = requests[i]
            match |= Q(user_id=user_id, epoch=streams[user_id][0], offset__gt=offset, offset__lte=offset + limit)
        by_user: dict[int, list[Event]] = {}
        for event in Event.objects.filter(match).order_by("user_id", "offset"):
            by_user.setdefault(event.user_id, []).append(event)
        for i in wanted:
            user_id, _, offset = requests[i]
            stream_epoch, last = streams[user_id]
            events = [e for e in by_user.get(user_id, ()) if offset < e.offset <= offset + limit]
            if not events or events[0].offset != offset + 1:
                results[i] = ReplayResult(events=[], resync=True, epoch=stream_epoch, offset=last)
            else:
                results[i] = ReplayResult(events=events, resync=False, epoch=stream_epoch, offset=last,
                                          more=events[-1].offset < last)
    return [result for result in results if result is not None]


def stream_session_live(*, session_id: int) -> bool:
    """Whether the socket's device session still stands (revoked device, disabled user, ended, idle)."""
    session = DeviceSession.objects.select_related("device", "device__user").filter(pk=session_id).first()
    return session is not None and session_is_live(session=session)


def stream_checks(*, session_ids: list[int]) -> dict[int, tuple[bool, str | None, int]]:
    """The periodic check of open sockets, in one query: session id -> (session live, epoch, last offset).

    A session that no longer exists is missing from the answer (its socket treats that as not live).
    """
    # Plain rows, not four model instances a session: every Daphne sweeps its sockets every few seconds,
    # and building 2,000 instances for 500 sockets held the GIL for ~40 ms of the loop's broadcasts.
    rows = DeviceSession.objects.filter(pk__any=session_ids).values_list(
        "pk", "ended_at", "expires_at", "last_used_at", "device__revoked_at", "device__user__is_active",
        "device__user__locked_at", "device__user__event_stream__epoch", "device__user__event_stream__next_offset")
    now = timezone.now()
    found: dict[int, tuple[bool, str | None, int]] = {}
    for pk, ended_at, expires_at, last_used_at, revoked_at, active, locked_at, epoch, next_offset in rows:
        live = session_live(ended_at=ended_at, expires_at=expires_at, last_used_at=last_used_at,
                            device_revoked_at=revoked_at, user_active=active, user_locked_at=locked_at, now=now)
        found[pk] = (live, epoch, next_offset - 1 if next_offset is not None else 0)
    return found


def stream_check(*, session_id: int, user_id: int) -> tuple[bool, str | None, int]:
    """One socket's check: is its session live, and where does its user's stream stand."""
    return stream_checks(session_ids=[session_id]).get(session_id, (False, None, 0))


def users_told(*, object_type: str, object_id: str | int, among: list[int] | None = None,
               payload: dict[str, Any] | None = None) -> set[int]:
    """Who was sent a push about this object: "who was told about X", for the app that owns X.

    `among`: only these users. `payload`: only pushes whose payload held these values (e.g. a version).
    """
    deliveries = Delivery.objects.filter(push__object_type=object_type, push__object_id=str(object_id))
    if among is not None:
        deliveries = deliveries.filter(user_id__in=among)
    for key, value in (payload or {}).items():
        deliveries = deliveries.filter(**{f"push__payload__{key}": value})
    return set(deliveries.values_list("user_id", flat=True))


def push_ids_told_to(*, user_id: int, object_type: str, object_id: str | int) -> list[int]:
    """The pushes about this object that were sent to this user, oldest first."""
    return list(Delivery.objects.filter(user_id=user_id, push__object_type=object_type,
                                        push__object_id=str(object_id)).order_by("push_id")
                .values_list("push_id", flat=True))


def object_ids_told_to(*, user_id: int, object_type: str) -> QuerySet[Any, dict[str, Any]]:
    """The ids of the objects of this type pushed to this user, as a subquery (`pk__in=`) of integer ids."""
    return (Delivery.objects.filter(user_id=user_id, push__object_type=object_type)
            .annotate(told_id=Cast("push__object_id", BigIntegerField())).values("told_id"))


def push_visible_to(*, user: User) -> QuerySet[Push]:
    """Pushes whose per-recipient state this user may read: their own, any in the agency for a supervisor,
    and automatic ones (no sender) for the agency's analysts."""
    if user.agency_id is None:
        return Push.objects.none()
    pushes = Push.objects.filter(agency_id=user.agency_id)
    if user.role == Role.SUPERVISOR:
        return pushes
    if user.role == Role.ANALYST:
        return pushes.filter(Q(sent_by=user) | Q(sent_by__isnull=True))
    return Push.objects.none()


def push_get_for_user(*, user: User, push_id: int) -> Push:
    push = push_visible_to(user=user).filter(pk=push_id).first()
    if push is None:
        raise NotFound("Push not found.", code="push_not_found")
    return push


def push_list_for_user(*, user: User, call_id: int | None = None) -> QuerySet[Push]:
    pushes = push_visible_to(user=user)
    if call_id is not None:
        pushes = pushes.filter(call_id=call_id)
    return pushes.select_related("sent_by").order_by("-created_at", "-id")


def push_recipients(*, push: Push) -> list[Delivery]:
    return list(push.deliveries.select_related("user").order_by("user__username"))


# A screen holds a handful of banners; more than this is a backlog the officer acknowledges at once anyway.
PENDING_SHOWN = 50


def deliveries_pending_for_user(*, user: User, now: object = None) -> list[Delivery]:
    """What was pushed to this user and not yet acknowledged, newest first: the terminal's banner.

    Kept on the server, so a reload, a restart or another device shows the same banner.
    A push past its expiry is no longer pending: it cannot be acknowledged any more.
    """
    now = now or timezone.now()
    return list(Delivery.objects.filter(user=user, acknowledged_at__isnull=True, push__expires_at__gt=now)
                .select_related("push").order_by("-sent_at", "-pk")[:PENDING_SHOWN])



def versions_opened_by(*, user: User, call_ids: list[int], type: str) -> dict[int, int]:
    """Per call, the highest payload `version` of a push of this type the user opened (what they last saw)."""
    seen: dict[int, int] = {}
    rows = (Delivery.objects.filter(user=user, opened_at__isnull=False, push__call_id__in=call_ids, push__type=type)
            .values_list("push__call_id", "push__payload__version"))
    for call_id, version in rows:
        if call_id is not None and isinstance(version, int):
            seen[call_id] = max(version, seen.get(call_id, 0))
    return seen


# What a recipient's failure reason means, in words for the console (the codes are the FCM client's).
FAILURE_TEXT = {
    "no_push_device": "No phone with push alerts signed in",
    "push_disabled": "Push alerts are switched off on this server",
    "no_token": "The phone has not registered for push alerts",
    "unregistered": "The phone's app was removed or signed out",
    "invalid_token": "The phone's push registration is no longer valid",
    "invalid_argument": "The push service refused the message",
    "sender_id_mismatch": "The phone is registered with another server",
    "quota_exceeded": "Too many alerts to this phone; the push service is holding them back",
    "unavailable": "The push service was unavailable",
    "internal": "The push service failed",
    "timeout": "The push service did not answer in time",
    "unauthenticated": "This server could not sign in to the push service",
    "third_party_auth_error": "Apple's push service refused this server's credentials",
    "push_failed": "The alert could not be sent",
}


def failure_text(reason: str) -> str:
    return FAILURE_TEXT.get(reason, "The alert could not be sent") if reason else ""


def push_status(*, push: Push, deliveries: list[Delivery]) -> str:
    """One word for where a push stands, never "resolved": queued, no_recipients, waiting, partly_acknowledged
    or acknowledged. Waiting lasts until someone acknowledges; the per-recipient rows say the rest."""
    if push.state == Push.State.PENDING:
        return "queued"
    if not deliveries:
        return "no_recipients"
    acknowledged = sum(1 for d in deliveries if d.acknowledged_at is not None)
    if acknowledged == 0:
        return "waiting"
    return "acknowledged" if acknowledged == len(deliveries) else "partly_acknowledged"


# Who picks recipients: those who may push (briefings and case files), the center's staff.
RECIPIENT_CHOICES_MAX = 20


@dataclass(frozen=True)
class RecipientChoice:
    """One thing a push can go to, as the analyst names it: a person, a unit, a beat or a district."""

    kind: str  # an audience kind: user, unit, beat, district
    label: str
    detail: str
    id: int | None = None  # user and unit
    value: str = ""  # beat and district


def recipient_choices_for_user(*, user: User, q: str) -> list[RecipientChoice]:
    """People, units and areas of the user's agency whose name, badge, call sign, beat or district holds `q`.

    Only for those who push; for anyone else the search does not exist. What is listed is what
    audience_clean accepts, so a choice made here is never refused as "not in your agency".
    Not audited: names, call signs and beats are the agency's directory, not case data.
    """
    if user.role not in CENTER_ROLES or user.agency_id is None:
        raise NotFound("Not found.", code="not_found")
    q = q.strip()
    units = Unit.objects.filter(agency_id=user.agency_id).prefetch_related("members_on_shift").order_by("call_sign")
    people = User.objects.filter(agency_id=user.agency_id, is_active=True,
                                 role__in=AGENCY_ROLES).order_by("last_name", "first_name")
    if q:
        people = people.filter(Q(first_name__icontains=q) | Q(last_name__icontains=q) | Q(username__icontains=q)
                               | Q(badge_number__icontains=q) | Q(units_on_shift__call_sign__icontains=q)).distinct()
        units = units.filter(Q(call_sign__icontains=q) | Q(members_on_shift__first_name__icontains=q)
                             | Q(members_on_shift__last_name__icontains=q)).distinct()
    else:
        units = units.filter(members_on_shift__isnull=False).distinct()
    choices: list[RecipientChoice] = []
    for unit in units[:RECIPIENT_CHOICES_MAX]:
        crew = ", ".join(m.get_full_name() or m.username for m in unit.members_on_shift.all()) or "nobody on shift"
        area = " · ".join(part for part in (f"beat {unit.beat}" if unit.beat else "",
                                            f"district {unit.district}" if unit.district else "") if part)
        choices.append(RecipientChoice(kind="unit", id=unit.pk, label=f"Unit {unit.call_sign}",
                                       detail=" · ".join(p for p in (crew, area) if p)))
    for person in people.prefetch_related("units_on_shift")[:RECIPIENT_CHOICES_MAX]:
        signs = ", ".join(u.call_sign for u in person.units_on_shift.all())
        choices.append(RecipientChoice(kind="user", id=person.pk, label=person.get_full_name() or person.username,
                                       detail=" · ".join(p for p in (person.get_role_display().lower(),
                                                                     f"on {signs}" if signs else "off shift") if p)))
    for kind in ("beat", "district"):
        areas = Unit.objects.filter(agency_id=user.agency_id).exclude(**{kind: ""})
        if q:
            areas = areas.filter(**{f"{kind}__icontains": q})
        for value, count in (areas.values_list(kind).annotate(n=Count("pk")).order_by(kind)
                             [:RECIPIENT_CHOICES_MAX]):
            choices.append(RecipientChoice(kind=kind, value=value, label=f"{kind.title()} {value}",
                                           detail=f"the units working it ({count})"))
    return choices
