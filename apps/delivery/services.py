"""The event log, stream tickets, pushes and their delivery state. Protocol: docs/delivery.md.

Events are rows first: `event_append` writes them in the caller's transaction
and only after commit wakes the sockets (apps/delivery/wake.py). Redis carries
nothing but the wake-up, so a lost wake-up costs latency, never an event.
A push is one thing sent to an audience; each recipient's Delivery row records
sent, delivered, opened, acknowledged or failed, and drives the push alert
fallback and the escalation to supervisors (run by `manage.py delivery_dispatcher`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from redis.exceptions import RedisError

from apps.accounts.models import Device, DeviceSession, Role, Unit, User
from apps.accounts.policy import AGENCY_ROLES
from apps.accounts.services import session_is_live
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.common.cache import cache_take_many
from apps.common.errors import Conflict, Gone, NotFound, Unavailable, ValidationFailed
from apps.common.jsonbody import json_id, json_number
from apps.common.later import after_commit
from apps.delivery import wake, wire
from apps.delivery.models import Delivery, Event, Push, StreamConnection, UserStream
from apps.delivery.tasks import push_resolve_task
from apps.places.geo import distance_m, on_earth

logger = logging.getLogger(__name__)

# Payloads hold ids and lock-screen-safe fields: 2 KB is plenty, and a 200-event replay stays small.
MAX_PAYLOAD_BYTES = 2048
_TICKET_PREFIX = "delivery.ticket."


def _new_epoch() -> str:
    return secrets.token_hex(8)


def event_append(
    *, users: list[int], type: str, op: str, object_type: str, object_id: str, payload: dict[str, Any]
) -> list[Event]:
    """Append one event to each user's stream, inside the caller's transaction.

    The sockets are woken after commit: a rolled-back change reaches no one.
    """
    now = timezone.now()
    positions = _append(users=users, type=type, op=op, object_type=object_type, object_id=object_id,
                        payload=payload, now=now)
    return [Event(user_id=user_id, epoch=epoch, offset=offset, type=type, op=op, object_type=object_type,
                  object_id=str(object_id), payload=payload, created_at=now)
            for user_id, (epoch, offset) in positions.items()]


def _append(
    *, users: list[int], type: str, op: str, object_type: str, object_id: str, payload: dict[str, Any], now: Any
) -> dict[int, tuple[str, int]]:
    """Write the events; each user's (epoch, offset), in user id order."""
    if type in wire.CONTROL_TYPES or type in wake.live_kinds():
        raise ValueError(f"{type!r} is a control message type, not an event type")
    if len(json.dumps(payload, separators=(",", ":"))) > MAX_PAYLOAD_BYTES:
        raise ValueError("event payload too large: carry ids, not content")
    user_ids = sorted(set(users))
    if not user_ids:
        return {}
    object_id = str(object_id)
    # No savepoint inside a caller's transaction: nothing here is retried after an error, and a savepoint
    # is two more round trips per push (bench/dispatch.py).
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            positions = _append_postgresql(user_ids, type, op, object_type, object_id, payload, now)
        else:
            positions = _append_orm(user_ids, type, op, object_type, object_id, payload, now)
        prefix = wire.event_prefix(type=type, op=op, object_type=object_type, object_id=object_id,
                                   payload=payload)
        # robust: a Redis outage after commit must not fail the request; the event is already stored.
        after_commit(wake.wake_events, positions=positions, prefix=prefix, robust=True)
    return positions


def _streams_create(user_ids: list[int]) -> None:
    UserStream.objects.bulk_create([UserStream(user_id=uid, epoch=_new_epoch()) for uid in user_ids],
                                   ignore_conflicts=True)


def _append_orm(user_ids: list[int], type: str, op: str, object_type: str, object_id: str,
                payload: dict[str, Any], now: Any) -> dict[int, tuple[str, int]]:
    # Offsets are allocated under a row lock on each UserStream, users in id order so two appends never
    # deadlock.
    existing = set(UserStream.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))
    _streams_create([uid for uid in user_ids if uid not in existing])
    streams = list(UserStream.objects.select_for_update().filter(user_id__in=user_ids).order_by("user_id")
                   .values_list("user_id", "epoch", "next_offset"))
    UserStream.objects.filter(user_id__in=user_ids).update(next_offset=F("next_offset") + 1)
    Event.objects.bulk_create([
        Event(user_id=user_id, offset=offset, epoch=epoch, type=type, op=op, object_type=object_type,
              object_id=object_id, payload=payload, created_at=now) for user_id, epoch, offset in streams])
    return {user_id: (epoch, offset) for user_id, epoch, offset in streams}


# One statement on PostgreSQL: lock the streams in user id order (two appends never deadlock), move each
# on by one and write its event, with the user ids as one array parameter. The ORM path built 1,000 model
# instances and 9,000 bound values per push: two thirds of a 1,000-recipient push (bench/fanout.py).
_APPEND_SQL = """
WITH locked AS (
    SELECT user_id FROM delivery_userstream WHERE user_id = ANY(%(users)s::bigint[]) ORDER BY user_id FOR UPDATE
), moved AS (
    UPDATE delivery_userstream AS s SET next_offset = s.next_offset + 1 FROM locked
    WHERE s.user_id = locked.user_id RETURNING s.user_id, s.epoch, s.next_offset - 1 AS "offset"
)
INSERT INTO delivery_event (user_id, "offset", epoch, type, op, object_type, object_id, payload, created_at)
SELECT user_id, "offset", epoch, %(type)s, %(op)s, %(object_type)s, %(object_id)s, %(payload)s::jsonb, %(now)s
FROM moved ORDER BY user_id
RETURNING user_id, epoch, "offset"
"""


def _append_postgresql(user_ids: list[int], type: str, op: str, object_type: str, object_id: str,
                       payload: dict[str, Any], now: Any) -> dict[int, tuple[str, int]]:
    params = {"type": type, "op": op, "object_type": object_type, "object_id": object_id,
              "payload": json.dumps(payload), "now": now}
    positions: dict[int, tuple[str, int]] = {}
    todo = user_ids
    for _ in range(2):
        with connection.cursor() as cursor:
            cursor.execute(_APPEND_SQL, {**params, "users": todo})
            positions.update((user_id, (epoch, offset)) for user_id, epoch, offset in cursor.fetchall())
        # A user's first event: make the stream, then append for those users alone.
        todo = [uid for uid in todo if uid not in positions]
        if not todo:
            break
        _streams_create(todo)
    return dict(sorted(positions.items()))


def stream_position(*, user_id: int) -> tuple[str, int]:
    """The user's current epoch and last offset, making the stream if it is the user's first."""
    stream, _ = UserStream.objects.get_or_create(user_id=user_id, defaults={"epoch": _new_epoch()})
    return stream.epoch, stream.next_offset - 1


def _ticket_key(ticket: str) -> str:
    # Only the hash is stored, so a cache dump holds no usable ticket.
    return _TICKET_PREFIX + hashlib.sha256(ticket.encode()).hexdigest()


def stream_ticket_issue(*, session: DeviceSession) -> str:
    """A single-use ticket for opening the stream websocket as this device session."""
    return stream_tickets_issue(session_ids=[session.pk], seconds=settings.DELIVERY_TICKET_SECONDS)[0]


def stream_tickets_issue(*, session_ids: list[int], seconds: int, replacing: list[str] | None = None) -> list[str]:
    """A single-use ticket per device session, valid `seconds`; the tickets in `replacing` stop working.

    Over HTTP a phone asks for one ticket; over an open socket the stream hands out resume tickets
    for many sockets at once (docs/delivery.md), each replacing the one it handed that socket before.
    """
    tickets = [secrets.token_urlsafe(32) for _ in session_ids]
    try:
        cache.set_many({_ticket_key(t): sid for t, sid in zip(tickets, session_ids, strict=True)}, timeout=seconds)
        if replacing:
            cache.delete_many([_ticket_key(t) for t in replacing])
    except RedisError as exc:
        # Tickets live only in Redis (single use needs one shared store). Pushes still go out meanwhile:
        # an open socket keeps reading the log, and the push alert reaches a phone without one.
        raise Unavailable("The event stream cannot open new connections right now; retry in a few seconds.",
                          code="stream_unavailable") from exc
    return tickets


def stream_tickets_redeem(*, tickets: list[str]) -> list[DeviceSession | None]:
    """The live device session each ticket was issued to, or None. A ticket works once.

    Many sockets at once (a reconnect storm): one read of the tickets, one of their sessions.
    """
    keys = [_ticket_key(t) if t and len(t) <= 100 else None for t in tickets]
    # Taken, not read: of two racing redeemers only one gets the session, in this batch or another.
    found = cache_take_many(list({key for key in keys if key is not None}))
    session_ids = [found.pop(key, None) if key is not None else None for key in keys]
    wanted = {sid for sid in session_ids if sid is not None}
    sessions = {s.pk: s for s in DeviceSession.objects.select_related("device", "device__user").filter(pk__in=wanted)
                } if wanted else {}
    live = {pk for pk, session in sessions.items() if session_is_live(session=session)}
    return [sessions[sid] if sid in live else None for sid in session_ids]


# --- Pushes: audiences, per-recipient delivery state, push alerts and escalation ---

# Which of these candidate users may receive this object? Registered by the app that owns the object
# type (briefings, cases, ...), so delivery checks permissions without knowing the domain.
RecipientFilter = Callable[[str, list[int]], list[int]]
# Users an audience kind names that only a domain app can resolve (e.g. "call": the officers on it).
AudienceResolver = Callable[[int, dict[str, Any]], list[int]]
_recipient_filters: dict[str, RecipientFilter] = {}
_audience_resolvers: dict[str, AudienceResolver] = {}
# Time-driven work of other apps (a referral offer rolling over) that the dispatcher runs every loop.
_dispatcher_jobs: list[Callable[[], int]] = []

AUDIENCE_KINDS = ("user", "unit", "role", "beat", "district", "radius", "agency", "call")
MAX_RADIUS_M = 50_000
MAX_AUDIENCE_IDS = 500


def recipient_filter_register(object_type: str, check: RecipientFilter) -> None:
    _recipient_filters[object_type] = check


def audience_resolver_register(kind: str, resolve: AudienceResolver) -> None:
    _audience_resolvers[kind] = resolve


def dispatcher_job_register(job: Callable[[], int]) -> None:
    """Run `job` on every pass of `manage.py delivery_dispatcher`; it must claim its work (safe to run twice)."""
    if job not in _dispatcher_jobs:
        _dispatcher_jobs.append(job)


def dispatcher_jobs_run() -> int:
    return sum(job() for job in _dispatcher_jobs)


def _ids(value: Any, *, name: str) -> list[int]:
    if (not isinstance(value, list) or not value or len(value) > MAX_AUDIENCE_IDS
            or not all(json_id(v) for v in value)):
        raise ValidationFailed(f"The audience needs a list of 1 to {MAX_AUDIENCE_IDS} {name} ids.",
                               code="invalid_audience", fields={"ids": ["a list of ids"]})
    return sorted(set(value))


def audience_clean(*, agency_id: int, audience: Any) -> dict[str, Any]:
    """The audience in canonical form, or ValidationFailed naming what is wrong. Ids must be the agency's."""
    if not isinstance(audience, dict) or audience.get("kind") not in AUDIENCE_KINDS:
        raise ValidationFailed("The audience kind must be one of: " + ", ".join(AUDIENCE_KINDS) + ".",
                               code="invalid_audience", fields={"kind": list(AUDIENCE_KINDS)})
    kind = audience["kind"]
    if kind == "user":
        ids = _ids(audience.get("ids"), name="user")
        known = User.objects.filter(pk__in=ids, agency_id=agency_id).count()
        if known != len(ids):
            raise ValidationFailed("Some of those users are not in your agency.", code="unknown_recipient",
                                   fields={"ids": ["unknown user id"]})
        return {"kind": kind, "ids": ids}
    if kind == "unit":
        ids = _ids(audience.get("ids"), name="unit")
        if Unit.objects.filter(pk__in=ids, agency_id=agency_id).count() != len(ids):
            raise ValidationFailed("Some of those units are not in your agency.", code="unknown_recipient",
                                   fields={"ids": ["unknown unit id"]})
        return {"kind": kind, "ids": ids}
    if kind == "role":
        if audience.get("role") not in AGENCY_ROLES:
            raise ValidationFailed("Pushes go to officers, supervisors or analysts.", code="invalid_audience",
                                   fields={"role": sorted(AGENCY_ROLES)})
        return {"kind": kind, "role": audience["role"]}
    if kind in ("beat", "district"):
        value = audience.get("value")
        if not isinstance(value, str) or not value.strip() or len(value) > 40:
            raise ValidationFailed(f"Name the {kind}.", code="invalid_audience", fields={"value": ["required"]})
        lookup = {"agency_id": agency_id, kind: value.strip()}
        if not Unit.objects.filter(**lookup).exists():
            raise ValidationFailed(f"No unit works {kind} {value.strip()}.", code="unknown_recipient",
                                   fields={"value": [f"unknown {kind}"]})
        return {"kind": kind, "value": value.strip()}
    if kind == "radius":
        values = [audience.get("latitude"), audience.get("longitude"), audience.get("radius_m")]
        numbers = all(json_number(v) for v in values)
        lat, lon, radius = (float(v) if isinstance(v, int | float) else 0.0 for v in values)
        if not numbers or not (on_earth(lat, lon) and 0 < radius <= MAX_RADIUS_M):
            raise ValidationFailed(f"A radius needs latitude, longitude and radius_m (up to {MAX_RADIUS_M} m).",
                                   code="invalid_audience", fields={"radius_m": [f"1..{MAX_RADIUS_M}"]})
        return {"kind": kind, "latitude": lat, "longitude": lon, "radius_m": radius}
    if kind == "call":
        call_id = audience.get("call_id")
        if not json_id(call_id):
            raise ValidationFailed("Name the call.", code="invalid_audience", fields={"call_id": ["required"]})
        return {"kind": kind, "call_id": call_id}
    return {"kind": "agency"}


def _on_duty(users: QuerySet[User]) -> QuerySet[User]:
    return users.filter(units_on_shift__isnull=False).distinct()


def audience_users(*, agency_id: int, audience: dict[str, Any]) -> list[int]:
    """Active users of the agency the audience names, before any object permission check."""
    users = User.objects.filter(agency_id=agency_id, is_active=True, role__in=AGENCY_ROLES)
    kind = audience["kind"]
    if kind == "user":
        users = users.filter(pk__in=audience["ids"])
    elif kind == "unit":
        users = users.filter(units_on_shift__in=audience["ids"])
    elif kind == "role":
        users = users.filter(role=audience["role"])
    elif kind in ("beat", "district"):
        users = users.filter(**{f"units_on_shift__{kind}": audience["value"]})
    elif kind == "radius":
        since = timezone.now() - timedelta(seconds=settings.DELIVERY_LOCATION_MAX_AGE_SECONDS)
        devices = Device.objects.filter(user__in=users, revoked_at=None, located_at__gte=since,
                                        latitude__isnull=False, longitude__isnull=False)
        near = {d.user_id for d in devices.only("user_id", "latitude", "longitude")
                if d.latitude is not None and d.longitude is not None
                and distance_m(audience["latitude"], audience["longitude"], d.latitude, d.longitude)
                <= audience["radius_m"]}
        users = users.filter(pk__in=near)
    elif kind in _audience_resolvers:
        users = users.filter(pk__in=_audience_resolvers[kind](agency_id, audience))
    elif kind != "agency":
        return []
    return sorted(set(users.values_list("pk", flat=True)))


def _allowed(*, object_type: str, object_id: str, users: list[int]) -> list[int]:
    """Only those who may see the object. An object type nobody registered reaches no one."""
    check = _recipient_filters.get(object_type)
    if check is None or not users:
        return []
    return sorted(set(check(object_id, users)))


def _collapse_expiry(*, now: Any, expires_at: Any | None) -> Any:
    ceiling = now + timedelta(seconds=settings.DELIVERY_ALERT_TTL_SECONDS)
    return ceiling if expires_at is None else max(now, min(expires_at, ceiling))


def escalation_delay(*, priority: int) -> timedelta | None:
    """How long a push of this priority waits for an acknowledgement before the supervisors get it; None: never.

    DELIVERY_ESCALATE_SECONDS_BY_PRIORITY names 1 to 4; priorities 5 to 9 take priority 4's time.
    """
    table = settings.DELIVERY_ESCALATE_SECONDS_BY_PRIORITY
    seconds = table.get(priority, table[max(table)] if priority > max(table) else 0)
    return timedelta(seconds=seconds) if seconds > 0 else None


def _resolution(*, priority: int, reached: bool, escalation_of_id: int | None, now: Any,
                escalate: bool = True) -> dict[str, Any]:
    """A push's fields once its recipients have their events; a push someone got may escalate (not an escalation)."""
    delay = escalation_delay(priority=priority) if escalate and reached and escalation_of_id is None else None
    return {"state": Push.State.RESOLVED, "resolved_at": now, "escalate_at": now + delay if delay else None}


def _deliver(*, push: Push, users: list[int], now: Any = None, alert_at_once: bool = False) -> int:
    """Write each recipient's event and delivery row in the current transaction; how many there are.

    `now` given: the push was created already resolved (push_record) and is not saved again.
    """
    resolved = now is not None
    now = now or timezone.now()
    positions = _append(users=users, type=push.type, op=push.op, object_type=push.object_type,
                        object_id=push.object_id, payload={**push.payload, "push": push.pk}, now=now)
    # A recipient with an open socket gets the ack timeout to acknowledge; one without, the push alert now.
    # `alert_at_once` (an officer needs help): the alert goes now to everyone, socket or not.
    wait = timedelta(seconds=0 if alert_at_once else settings.DELIVERY_ACK_TIMEOUT_SECONDS)
    if connection.vendor == "postgresql":
        _deliveries_write_postgresql(push=push, positions=positions, now=now, alert_later=now + wait)
    else:
        online = set(StreamConnection.objects.filter(user_id__in=users).values_list("user_id", flat=True))
        Delivery.objects.bulk_create([
            Delivery(push=push, user_id=user_id, epoch=epoch, offset=offset, sent_at=now,
                     alert_due_at=now + wait if user_id in online else now)
            for user_id, (epoch, offset) in positions.items()])
    if not resolved:
        fields = _resolution(priority=push.priority, reached=bool(positions), escalation_of_id=push.escalation_of_id,
                             now=now)
        for name, value in fields.items():
            setattr(push, name, value)
        push.save(update_fields=list(fields))
    return len(positions)


_DELIVERIES_SQL = """
INSERT INTO delivery_delivery
    (push_id, user_id, epoch, "offset", sent_at, alert_due_at, alert_devices, failure_reason)
SELECT %(push)s, r.user_id, r.epoch, r."offset", %(now)s,
       CASE WHEN EXISTS (SELECT 1 FROM delivery_streamconnection c WHERE c.user_id = r.user_id)
            THEN %(alert_later)s ELSE %(now)s END,
       0, ''
FROM unnest(%(users)s::bigint[], %(epochs)s::text[], %(offsets)s::bigint[]) AS r(user_id, epoch, "offset")
"""


def _deliveries_write_postgresql(*, push: Push, positions: dict[int, tuple[str, int]], now: Any,
                                 alert_later: Any) -> None:
    # As for the events: one statement with three array parameters, not 1,000 model instances.
    if not positions:
        return
    with connection.cursor() as cursor:
        cursor.execute(_DELIVERIES_SQL, {
            "push": push.pk, "now": now, "alert_later": alert_later, "users": list(positions),
            "epochs": [epoch for epoch, _ in positions.values()],
            "offsets": [offset for _, offset in positions.values()]})


def push_record(
    *, agency_id: int, type: str, op: str, object_type: str, object_id: str, payload: dict[str, Any],
    priority: int, users: list[int], sent_by: User | None = None, call_id: int | None = None,
    audience: dict[str, Any] | None = None, expires_at: Any | None = None, escalation_of: Push | None = None,
    alert_at_once: bool = False, escalate: bool = True,
) -> Push:
    """Send to users already known (the officers on a call), in the caller's transaction.

    Each one is still checked against the object's recipient filter, then gets an
    event, a delivery row, and later a push alert if no socket acknowledges it.
    `alert_at_once`: the push alert goes at once to every recipient, over FCM as well as the stream (an
    officer's emergency: never one of them alone). `escalate` False: the caller escalates in its own way.
    """
    now = timezone.now()
    with transaction.atomic(savepoint=False):  # as in _append
        allowed = _allowed(object_type=object_type, object_id=str(object_id), users=users)
        # Its recipients are known, so it is written resolved: no second statement to say so.
        push = Push.objects.create(
            agency_id=agency_id, sent_by=sent_by, type=type, op=op, object_type=object_type,
            object_id=str(object_id), payload=payload, priority=priority, call_id=call_id,
            audience=audience or {"kind": "user", "ids": sorted(set(users))}, created_at=now,
            expires_at=_collapse_expiry(now=now, expires_at=expires_at), escalation_of=escalation_of,
            **_resolution(priority=priority, reached=bool(allowed),
                          escalation_of_id=escalation_of.pk if escalation_of else None, now=now, escalate=escalate))
        _deliver(push=push, users=allowed, now=now, alert_at_once=alert_at_once)
    return push


def push_create(
    *, agency_id: int, sent_by: User, type: str, op: str, object_type: str, object_id: str,
    payload: dict[str, Any], priority: int, audience: Any, call_id: int | None = None,
    expires_at: Any | None = None,
) -> Push:
    """Push to an audience. Recipients are resolved by a Celery task once this transaction commits."""
    clean = audience_clean(agency_id=agency_id, audience=audience)
    # Refused before anything is written: a push that reaches nobody must not read as sent.
    if not _allowed(object_type=object_type, object_id=str(object_id),
                    users=audience_users(agency_id=agency_id, audience=clean)):
        raise ValidationFailed("Nobody in that audience is on duty and may read this.", code="no_recipients",
                               fields={"audience": ["reaches nobody"]})
    now = timezone.now()
    with transaction.atomic():
        push = Push.objects.create(
            agency_id=agency_id, sent_by=sent_by, type=type, op=op, object_type=object_type,
            object_id=str(object_id), payload=payload, priority=priority, call_id=call_id, audience=clean,
            created_at=now, expires_at=_collapse_expiry(now=now, expires_at=expires_at))
        audit_record(actor=sent_by, action=AuditEvent.Action.CREATE, obj=push,
                     detail={"object_type": object_type, "object_id": str(object_id), "audience": clean})
        # robust: with the broker down the push is still stored, and deliveries_recover resolves it.
        after_commit(push_resolve_task.delay, push.pk, robust=True)
    return push


def push_resolve(*, push_id: int) -> int:
    """Resolve a pending push's audience and write its recipients' events. Safe to run twice."""
    with transaction.atomic():
        # skip_locked: a push another process is resolving right now is that process's; if it dies, its
        # transaction ends, the push is pending again and the next recovery sweep takes it.
        push = Push.objects.select_for_update(skip_locked=True).filter(pk=push_id, state=Push.State.PENDING).first()
        if push is None:
            return 0
        candidates = audience_users(agency_id=push.agency_id, audience=push.audience)
        users = _allowed(object_type=push.object_type, object_id=push.object_id, users=candidates)
        count = _deliver(push=push, users=users)
        receipts_changed(push_ids={push.pk})  # the sender's console lists the recipients now
        return count


RECEIPT_OBJECT = "delivery.push"


def receipts_changed(*, push_ids: set[int]) -> None:
    """Tell whoever sent these pushes that a recipient's state changed: one `receipt.changed` event per push.

    The console redraws that push's receipts from /pushes/{id} instead of polling it. Automatic pushes
    (no sender) tell no one. The event carries the push id only.
    """
    senders = Push.objects.filter(pk__in=push_ids, sent_by__isnull=False).values_list("pk", "sent_by_id")
    for push_id, sent_by in senders:
        event_append(users=[sent_by], type="receipt", op="changed", object_type=RECEIPT_OBJECT,
                     object_id=str(push_id), payload={"push_id": push_id})


def delivery_ack(*, user_id: int, epoch: str, offset: int) -> int:
    """The device has every event of this user's stream up to `offset`: those deliveries are delivered."""
    count, push_ids = _delivered(user_id=user_id, epoch=epoch, offset=offset)
    if push_ids:
        receipts_changed(push_ids=push_ids)
    return count


def _delivered(*, user_id: int, epoch: str, offset: int) -> tuple[int, set[int]]:
    waiting = Delivery.objects.filter(user_id=user_id, epoch=epoch, offset__lte=offset, delivered_at__isnull=True)
    push_ids = set(waiting.values_list("push_id", flat=True))
    return (waiting.update(delivered_at=timezone.now()) if push_ids else 0), push_ids


_ACK_MANY_SQL = """
UPDATE delivery_delivery AS d SET delivered_at = %(now)s
FROM unnest(%(users)s::bigint[], %(epochs)s::text[], %(offsets)s::bigint[]) AS a(user_id, epoch, upto)
WHERE d.user_id = a.user_id AND d.epoch = a.epoch AND d."offset" <= a.upto AND d.delivered_at IS NULL
RETURNING d.push_id
"""


def delivery_ack_many(*, acks: list[tuple[int, str, int]]) -> set[int]:
    """`delivery_ack` for many (user, epoch, offset) at once: what a server process's sockets acked lately.

    One statement on PostgreSQL. A broadcast to 1,000 sockets brings 1,000 acks within
    milliseconds; written one by one they queued on the server's one database thread
    ahead of the next handshakes and wake-ups (bench/fanout.py, bench/reconnect_storm.py).
    Returns the pushes whose receipts changed and does NOT tell their senders: the stream runtime
    tells them at once, then what follows in the next half second together (stream.Hub). Told in the
    ack's own transaction, every ack batch of every server appended to the one analyst's stream, all
    queued on that stream's row lock, and a reconnect storm's acks held its handshakes' database threads.
    """
    if not acks:
        return set()
    if connection.vendor != "postgresql":
        changed: set[int] = set()
        for user_id, epoch, offset in acks:
            changed |= _delivered(user_id=user_id, epoch=epoch, offset=offset)[1]
        return changed
    with connection.cursor() as cursor:
        cursor.execute(_ACK_MANY_SQL, {"now": timezone.now(), "users": [a[0] for a in acks],
                                       "epochs": [a[1] for a in acks], "offsets": [a[2] for a in acks]})
        return {row[0] for row in cursor.fetchall()}


RECEIPT_STATES = ("delivered", "opened", "acknowledged")


def delivery_receipt(*, user: User, push_id: int, state: str, ip: str | None = None) -> Delivery:
    """The recipient opened or acknowledged what was pushed; each later state implies the earlier ones.

    Repeating a receipt changes nothing: the first time of each state stands. Refused, changing nothing:
    someone else's push (404, as if it did not exist), a push past its expiry (410 push_expired), and a
    receipt behind the one kept, e.g. "opened" after "acknowledged" (409 receipt_stale).
    """
    if state not in RECEIPT_STATES:
        raise ValidationFailed("state must be delivered, opened or acknowledged.", code="invalid_state",
                               fields={"state": list(RECEIPT_STATES)})
    now = timezone.now()
    with transaction.atomic():
        delivery = (Delivery.objects.select_for_update(of=("self",)).select_related("push")
                    .filter(push_id=push_id, user=user).first())
        if delivery is None:
            raise NotFound("Push not found.", code="push_not_found")
        if delivery.push.expires_at <= now:
            raise Gone("This push has expired; ask the center for the current briefing.", code="push_expired")
        kept = delivery.status
        if kept in RECEIPT_STATES and RECEIPT_STATES.index(state) < RECEIPT_STATES.index(kept):
            raise Conflict(f"This push is already {kept}.", code="receipt_stale", fields={"state": [f"already {kept}"]})
        fields = ["delivered_at"] + (["opened_at"] if state != "delivered" else []) + (
            ["acknowledged_at"] if state == "acknowledged" else [])
        changed = [name for name in fields if getattr(delivery, name) is None]
        for name in changed:
            setattr(delivery, name, now)
        if changed:
            delivery.save(update_fields=changed)
            if "acknowledged_at" in changed:
                audit_record(actor=user, action=AuditEvent.Action.UPDATE, obj=delivery.push, ip=ip,
                             detail={"acknowledged": True})
            receipts_changed(push_ids={push_id})
    return delivery


# --- The sweeper: push alerts that are due, escalations, and recovery (run by delivery_dispatcher) ---

CLAIM_STALE_SECONDS = 60
# A push still unresolved this long after it was made lost its task (a worker killed outright leaves the
# message to Redis's one-hour visibility timeout; a push made while Redis was down has no message at all):
# the dispatcher resolves it, checking every second. A worker resolves a push in milliseconds, so 2 s is
# well past normal, and push -> socket stays under 5 s after a worker dies (tests/faults/test_worker_killed.py).
# Resolving twice is harmless (push_resolve claims the pending push under a lock and skips one being resolved).
PENDING_STALE_SECONDS = 2
ALERT_BATCH = 500


def _claim_due_alerts(*, now: Any, limit: int) -> list[int]:
    due = Delivery.objects.filter(alert_due_at__lte=now, alert_claimed_at__isnull=True, delivered_at__isnull=True)
    # A read first: the dispatcher polls five times a second and must not take a write lock for nothing.
    if not due.exists():
        return []
    # SKIP LOCKED: two dispatchers never claim the same row; the claim commits before anything is sent.
    with transaction.atomic():
        ids = list(due.order_by("alert_due_at").select_for_update(skip_locked=True)
                   .values_list("pk", flat=True)[:limit])
        Delivery.objects.filter(pk__in=ids).update(alert_claimed_at=now)
    return ids


def alerts_send_due(*, now: Any = None, limit: int = ALERT_BATCH) -> int:
    """Send the push alerts that are due: recipients without a socket, or whose socket did not ack in time.

    Returns how many recipients got at least one device alerted.
    """
    from apps.delivery import fcm

    now = now or timezone.now()
    ids = _claim_due_alerts(now=now, limit=limit)
    if not ids:
        return 0
    deliveries = list(Delivery.objects.filter(pk__in=ids).only("push_id", "user_id", "epoch", "offset"))
    # The pushes on their own: joined, each row would carry its push's audience (a broadcast's thousands
    # of user ids) and payload, decoded once per recipient.
    pushes = (Push.objects.only("type", "object_id", "priority", "call_id", "expires_at")
              .in_bulk({d.push_id for d in deliveries}))
    users = {d.user_id for d in deliveries}
    devices: dict[int, list[Device]] = {}
    live = DeviceSession.objects.filter(ended_at=None, expires_at__gt=now)
    for device in (Device.objects.filter(user_id__in=users, revoked_at=None, user__is_active=True,
                                         sessions__in=live).exclude(push_token="").distinct()):
        devices.setdefault(device.user_id, []).append(device)
    messages: list[fcm.PushMessage] = []
    owner: dict[int, int] = {}
    for delivery in deliveries:
        push = pushes[delivery.push_id]
        ttl = int((push.expires_at - now).total_seconds())
        for device in devices.get(delivery.user_id, []):
            owner[len(messages)] = delivery.pk
            messages.append(fcm.PushMessage(
                device_id=device.pk, token=device.push_token, platform=device.platform,
                title=fcm.push_title(priority=push.priority, kind=push.type), kind=push.type,
                object_id=push.object_id, priority=push.priority, visible=True,
                collapse_key=f"call-{push.call_id}" if push.call_id else f"push-{push.pk}",
                ttl_seconds=max(ttl, 0),
                data={"push": str(push.pk), "epoch": delivery.epoch, "offset": str(delivery.offset)}))
    outcomes = fcm.push_send(messages) if messages else []
    # Retry-After counts from FCM's answer, not from the start of this pass (a send can take seconds).
    answered = timezone.now()
    sent: dict[int, int] = {}
    errors: dict[int, str] = {}
    # FCM said "later" (429/503 with Retry-After) for every device of a recipient: try again then.
    retry_after: dict[int, float] = {}
    for index, outcome in enumerate(outcomes):
        delivery_id = owner[index]
        if outcome.ok:
            sent[delivery_id] = sent.get(delivery_id, 0) + 1
        else:
            errors.setdefault(delivery_id, outcome.error or "push_failed")
            if outcome.retry_after_s is not None:
                retry_after[delivery_id] = max(retry_after.get(delivery_id, 0.0), outcome.retry_after_s)
    # One UPDATE per distinct outcome, not per recipient: a batch of 500 is usually one statement.
    by_devices: dict[int, list[int]] = {}
    by_retry: dict[Any, list[int]] = {}
    by_reason: dict[str, list[int]] = {}
    for delivery in deliveries:
        if delivery.pk in sent:
            by_devices.setdefault(sent[delivery.pk], []).append(delivery.pk)
            continue
        again = answered + timedelta(seconds=retry_after.get(delivery.pk, 0.0))
        if delivery.pk in retry_after and again < pushes[delivery.push_id].expires_at:
            by_retry.setdefault(again, []).append(delivery.pk)
            continue
        by_reason.setdefault(errors.get(delivery.pk, "no_push_device")[:60], []).append(delivery.pk)
    with transaction.atomic():
        for count, pks in by_devices.items():
            Delivery.objects.filter(pk__in=pks).update(alert_sent_at=now, alert_devices=count)
        for again, pks in by_retry.items():
            Delivery.objects.filter(pk__in=pks).update(alert_claimed_at=None, alert_due_at=again)
        for reason, pks in by_reason.items():
            Delivery.objects.filter(pk__in=pks, delivered_at__isnull=True).update(failed_at=now,
                                                                                  failure_reason=reason)
        receipts_changed(push_ids={d.push_id for d in deliveries if d.pk not in retry_after})
    return len(sent)


def supervisors_on_duty(*, agency_id: int) -> list[int]:
    """The agency's supervisors on a unit's shift, else those signed in now: who escalations reach."""
    return _on_duty_supervisors(agency_id)


def _on_duty_supervisors(agency_id: int) -> list[int]:
    supervisors = User.objects.filter(agency_id=agency_id, role=Role.SUPERVISOR, is_active=True)
    on_shift = list(_on_duty(supervisors).values_list("pk", flat=True))
    if on_shift:
        return on_shift
    # Nobody on a unit: those signed in now.
    signed_in = DeviceSession.objects.filter(ended_at=None, expires_at__gt=timezone.now())
    return list(supervisors.filter(devices__sessions__in=signed_in).distinct().values_list("pk", flat=True))


def escalations_due(*, now: Any = None) -> int:
    """Pushes nobody acknowledged in their priority's time go to the on-duty supervisors, exactly once.

    The claim (`escalated_at` set where it was empty) and the escalation's own
    events commit together, so two sweepers escalate once and a crash escalates later, not never.
    """
    now = now or timezone.now()
    escalated = 0
    due = list(Push.objects.filter(escalate_at__lte=now, escalated_at__isnull=True).values_list("pk", flat=True)[:100])
    for push_id in due:
        with transaction.atomic():
            if not Push.objects.filter(pk=push_id, escalated_at__isnull=True).update(escalated_at=now):
                continue
            push = Push.objects.get(pk=push_id)
            if push.deliveries.filter(acknowledged_at__isnull=False).exists():
                continue
            supervisors = _on_duty_supervisors(push.agency_id)
            unacknowledged = push.deliveries.count()
            push_record(agency_id=push.agency_id, type="escalation", op="unacknowledged",
                        object_type=push.object_type, object_id=push.object_id,
                        payload={**{k: v for k, v in push.payload.items() if k != "push"},
                                 "escalation_of": push.pk, "unacknowledged": unacknowledged},
                        priority=push.priority, users=supervisors, call_id=push.call_id, expires_at=push.expires_at,
                        audience={"kind": "on_duty_supervisors"}, escalation_of=push)
            escalated += 1
    return escalated


def deliveries_recover(*, now: Any = None) -> int:
    """Work a dead process left half-done: alerts claimed but never sent, pushes never resolved."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=CLAIM_STALE_SECONDS)
    released = Delivery.objects.filter(alert_claimed_at__lt=stale, alert_sent_at__isnull=True,
                                       failed_at__isnull=True, delivered_at__isnull=True).update(
        alert_claimed_at=None)
    pushes_recover(now=now)
    return released


def pushes_recover(*, now: Any = None) -> int:
    """Resolve pushes left pending PENDING_STALE_SECONDS (their task was lost); how many were resolved."""
    now = now or timezone.now()
    pending = Push.objects.filter(state=Push.State.PENDING,
                                  created_at__lt=now - timedelta(seconds=PENDING_STALE_SECONDS))
    resolved = 0
    for push_id in pending.order_by("created_at").values_list("pk", flat=True)[:100]:
        push_resolve(push_id=push_id)
        resolved += 1
    return resolved


def events_trim(*, now: Any = None) -> int:
    """Drop events older than the retention (their clients resync) and socket rows a dead server left."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.DELIVERY_EVENT_RETENTION_DAYS)
    deleted, _ = Event.objects.filter(created_at__lt=cutoff).delete()
    StreamConnection.objects.filter(connected_at__lt=now - timedelta(days=1)).delete()
    return deleted


def streams_connected(*, sockets: list[tuple[int, int]]) -> list[int]:
    """Record open sockets, (session id, user id) each; their connection ids in the same order."""
    now = timezone.now()
    rows = StreamConnection.objects.bulk_create(
        [StreamConnection(session_id=session_id, user_id=user_id, connected_at=now) for session_id, user_id in sockets])
    return [row.pk for row in rows]


def streams_disconnected(*, connection_ids: list[int]) -> None:
    StreamConnection.objects.filter(pk__in=connection_ids).delete()
