"""Reading the event log: replay after an offset, or tell the client to resync (docs/delivery.md)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Min, Q, QuerySet
from django.utils import timezone

from apps.accounts.models import DeviceSession, Role, User
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
    stream = UserStream.objects.filter(user_id=user_id).first()
    if stream is None:
        return ReplayResult(events=[], resync=True, epoch="", offset=0)
    last = stream.next_offset - 1
    if epoch != stream.epoch or offset < 0 or offset > last or last - offset > settings.DELIVERY_MAX_BACKLOG:
        return ReplayResult(events=[], resync=True, epoch=stream.epoch, offset=last)
    if offset < last:
        oldest = Event.objects.filter(user_id=user_id, epoch=stream.epoch).aggregate(first=Min("offset"))["first"]
        if oldest is None or offset < oldest - 1:
            return ReplayResult(events=[], resync=True, epoch=stream.epoch, offset=last)
    events = list(Event.objects.filter(user_id=user_id, epoch=stream.epoch, offset__gt=offset)
                  .order_by("offset")[:limit])
    more = bool(events) and events[-1].offset < last
    return ReplayResult(events=events, resync=False, epoch=stream.epoch, offset=last, more=more)


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


def event_message(event: Event) -> dict[str, object]:
    """The one event shape on the wire."""
    return {"type": event.type, "op": event.op, "offset": event.offset, "epoch": event.epoch,
            "object_type": event.object_type, "object_id": event.object_id, "payload": event.payload}
