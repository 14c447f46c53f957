"""Assembling, versioning and editing briefings.

A version is the automatic items merged with the analyst's overrides (hide,
pin, retitle, rewrite) and hand-added items. A new version is stored only when
that merge differs from the current one, with a record of what changed, so
re-assembly that finds nothing new is silent and every update says what changed.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.policy import CENTER_ROLES
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.briefings.assembly import Item, briefing_items_build, item
from apps.briefings.models import Briefing, BriefingVersion, RecommendationRule
from apps.briefings.rules import DEFAULT_RULES
from apps.calls.models import Call
from apps.calls.selectors import officers_on_call
from apps.cases.models import PersonPhoto
from apps.common.errors import NotFound, PermissionDenied, ValidationFailed
from apps.delivery.models import Push
from apps.delivery.selectors import users_told
from apps.delivery.services import push_create, push_record

# What a diff compares; as_of moves on every rebuild and would make every item look changed.
COMPARED_FIELDS = ("section", "title", "body", "severity", "reason", "stale", "ref", "data", "pinned", "hidden")
EDITABLE_FIELDS = frozenset({"hidden", "pinned", "title", "body"})
BRIEFING_OBJECT = "briefings.briefing"
SECTION_ORDER = ("call", "alert", "notes", "hazards", "health", "co_responder", "people", "photos", "prior_history")


def briefing_diff(old: list[Item], new: list[Item]) -> dict[str, Any]:
    before = {i["id"]: i for i in old}
    after = {i["id"]: i for i in new}
    changed = []
    for item_id in after.keys() & before.keys():
        fields = [f for f in COMPARED_FIELDS if before[item_id].get(f) != after[item_id].get(f)]
        if fields:
            changed.append({"id": item_id, "title": after[item_id]["title"], "fields": fields})
    return {
        "added": [{"id": i, "title": after[i]["title"]} for i in after if i not in before],
        "removed": [{"id": i, "title": before[i]["title"]} for i in before if i not in after],
        "changed": sorted(changed, key=lambda c: c["id"]),
    }


def _merge(auto: list[Item], briefing: Briefing) -> list[Item]:
    items = [dict(i) for i in auto] + [dict(i) for i in briefing.manual_items]
    for entry in items:
        entry.update(briefing.overrides.get(entry["id"], {}))
    order = {section: n for n, section in enumerate(SECTION_ORDER)}
    # Pinned items first, then by section; the stable sort keeps assembly order within a section.
    items.sort(key=lambda i: (not i["pinned"], order.get(i["section"], len(order))))
    return items


def _store(*, briefing: Briefing, items: list[Item], reason: str, actor: User | None) -> BriefingVersion | None:
    current = briefing.versions.order_by("-number").first() if briefing.current_version else None
    changes = briefing_diff(current.items if current else [], items)
    if current is not None and not any(changes.values()):
        return None
    briefing.current_version += 1
    briefing.save(update_fields=["current_version", "auto_items", "overrides", "manual_items", "updated_at"])
    version = BriefingVersion.objects.create(briefing=briefing, number=briefing.current_version, reason=reason,
                                             created_at=timezone.now(), created_by=actor, items=items,
                                             changes=changes)
    _announce(briefing=briefing, version=version)
    return version


def briefing_announce(*, briefing: Briefing, op: str, users: list[int] | None = None, audience: Any = None,
                      sent_by: User | None = None, priority: int | None = None,
                      alert_id: int | None = None) -> Push:
    """Tell of the briefing's current version: the one place a briefing's event and push are made.

    With `users` (the officers on the call, those near an alert) the push is recorded now, in the
    caller's transaction; without, `audience` is resolved after commit (an analyst's push). The
    payload is ids and the priority only: the phone fetches the briefing over the API. `priority`
    stands in for the call's (an alert's push goes at the alert's); `alert_id` names the alert that
    raised the call.
    """
    call = briefing.call
    payload: dict[str, Any] = {"call_id": call.pk, "version": briefing.current_version, "priority": call.priority}
    if alert_id is not None:
        payload["alert_id"] = alert_id
    about: dict[str, Any] = {
        "agency_id": briefing.agency_id, "type": "briefing", "op": op, "object_type": BRIEFING_OBJECT,
        "object_id": str(briefing.pk), "payload": payload, "priority": call.priority if priority is None else priority,
        "call_id": call.pk}
    if users is None:
        if sent_by is None:
            raise ValueError("a push to an audience names who sent it")
        return push_create(**about, sent_by=sent_by, audience=audience)
    return push_record(**about, users=users, sent_by=sent_by,
                       audience=audience or {"kind": "call", "call_id": call.pk})


def _announce(*, briefing: Briefing, version: BriefingVersion) -> None:
    """Tell the officers on the call, in the same transaction: the stream carries ids, never content."""
    officers = officers_on_call(briefing.call_id)
    if officers:
        briefing_announce(briefing=briefing, op="created" if version.number == 1 else "updated", users=officers)


def _announce_to_newcomers(*, briefing: Briefing) -> None:
    """Officers put on the call since the current version was announced get it now (nothing else changed)."""
    if briefing.current_version == 0:
        return
    officers = officers_on_call(briefing.call_id)
    told = users_told(object_type=BRIEFING_OBJECT, object_id=briefing.pk, among=officers,
                      payload={"version": briefing.current_version})
    newcomers = [officer for officer in officers if officer not in told]
    if newcomers:
        briefing_announce(briefing=briefing, op="assigned", users=newcomers)


def briefing_push(*, call_id: int, pushed_by: User, audience: Any, ip: str | None = None) -> Push:
    """An analyst or supervisor sends the call's current briefing to an audience.

    Recipients are resolved after commit, each checked against who may read a
    briefing; an officer who receives one may open it even when not on the call.
    """
    from apps.briefings.selectors import briefing_visible_to

    briefing = briefing_visible_to(user=pushed_by).select_related("call").filter(call_id=call_id).first()
    if briefing is None:
        raise NotFound("Briefing not found.", code="briefing_not_found")
    if pushed_by.role not in CENTER_ROLES:
        raise PermissionDenied("Only analysts and supervisors push briefings.", code="push_not_allowed")
    if briefing.current_version == 0:
        raise ValidationFailed("This briefing has no version to push yet.", code="briefing_empty")
    if isinstance(audience, dict) and audience.get("kind") == "call":
        audience = {"kind": "call", "call_id": briefing.call_id}  # this call's officers, whatever id was sent
    return briefing_announce(briefing=briefing, op="pushed", audience=audience, sent_by=pushed_by)


def _briefing_locked(*, call: Call) -> Briefing:
    """The call's briefing, row-locked; created if it is the first assembly.

    Not get_or_create: its savepoint costs two more round trips on every new call, and on a
    loaded machine each round trip waits for a core. ON CONFLICT covers a concurrent creator.
    """
    briefing = Briefing.objects.select_for_update().filter(call=call).first()
    if briefing is None:
        Briefing.objects.bulk_create([Briefing(call=call, agency_id=call.agency_id)], ignore_conflicts=True)
        briefing = Briefing.objects.select_for_update().get(call=call)
    return briefing


def briefing_assemble(*, call_id: int, reason: str) -> BriefingVersion | None:
    """Build the briefing from the data; store a version if it differs from the current one.

    Safe to run twice: a second run finds nothing new and stores nothing.
    """
    with transaction.atomic():
        call = Call.objects.select_related("premise").filter(pk=call_id).first()
        if call is None:
            return None
        briefing = _briefing_locked(call=call)
        briefing.call = call  # announcing reads its priority: not again from the database
        briefing.auto_items = briefing_items_build(call=call, now=timezone.now())
        version = _store(briefing=briefing, items=_merge(briefing.auto_items, briefing), reason=reason, actor=None)
        if version is None:
            _announce_to_newcomers(briefing=briefing)
        return version


def _editable(*, briefing_id: int, user: User) -> Briefing:
    from apps.briefings.selectors import briefing_visible_to

    # Visibility first (an officer's queryset is DISTINCT, which FOR UPDATE refuses), then the row lock.
    if not briefing_visible_to(user=user).filter(pk=briefing_id).exists():
        raise NotFound("Briefing not found.", code="briefing_not_found")
    briefing = Briefing.objects.select_for_update().select_related("call").get(pk=briefing_id)
    if user.role not in CENTER_ROLES:
        raise PermissionDenied("Only analysts and supervisors edit briefings.", code="briefing_read_only")
    return briefing


def _save_edit(*, briefing: Briefing, user: User, detail: dict[str, Any], ip: str | None) -> BriefingVersion:
    version = _store(briefing=briefing, items=_merge(briefing.auto_items, briefing),
                     reason=BriefingVersion.Reason.EDITED, actor=user)
    if version is None:
        raise ValidationFailed("That changes nothing.", code="no_change")
    audit_record(actor=user, action=AuditEvent.Action.UPDATE, obj=briefing, ip=ip, detail=detail)
    return version


def briefing_item_edit(*, briefing_id: int, item_id: str, user: User, changes: dict[str, Any],
                       ip: str | None = None) -> BriefingVersion:
    """Hide, pin, retitle or rewrite one item. Kept when the briefing is re-assembled."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown or not changes:
        raise ValidationFailed("Only hidden, pinned, title and body can be edited.", code="field_not_editable",
                               fields={name: ["not editable"] for name in sorted(unknown)})
    with transaction.atomic():
        briefing = _editable(briefing_id=briefing_id, user=user)
        if item_id not in {i["id"] for i in [*briefing.auto_items, *briefing.manual_items]}:
            raise NotFound("No such item in this briefing.", code="item_not_found")
        manual = next((i for i in briefing.manual_items if i["id"] == item_id), None)
        if manual is not None:
            manual.update(changes)
        else:
            briefing.overrides[item_id] = {**briefing.overrides.get(item_id, {}), **changes}
        return _save_edit(briefing=briefing, user=user, ip=ip, detail={"item": item_id, "fields": sorted(changes)})


def briefing_item_add(*, briefing_id: int, user: User, title: str, body: str, photo_id: int | None = None,
                      ip: str | None = None) -> BriefingVersion:
    """An analyst's own item: a note, optionally with a photo of a person the briefing may show."""
    with transaction.atomic():
        briefing = _editable(briefing_id=briefing_id, user=user)
        data: dict[str, Any] = {}
        ref = None
        if photo_id is not None:
            # Only photos of unrestricted people of the call's agency: everyone the briefing reaches may see them.
            photo = PersonPhoto.objects.filter(pk=photo_id, person__agency_id=briefing.agency_id,
                                               person__restriction="").first()
            if photo is None:
                raise ValidationFailed("Unknown photo.", code="unknown_reference", fields={"photo_id": ["not found"]})
            data["photo_ids"] = [photo.pk]
            ref = {"type": "cases.person", "id": photo.person_id}
        entry = item(id=f"note:{secrets.token_hex(4)}", section="photos" if photo_id else "notes", title=title,
                     body=body, rule="analyst_note", why=f"Added by {user.get_full_name() or user.username}",
                     as_of=timezone.now(), ref=ref, data=data)
        entry["source"] = "analyst"
        briefing.manual_items = [*briefing.manual_items, entry]
        return _save_edit(briefing=briefing, user=user, ip=ip, detail={"item": entry["id"], "added": True})


def briefing_item_remove(*, briefing_id: int, item_id: str, user: User, ip: str | None = None) -> BriefingVersion:
    """Remove an analyst's own item; automatic items are hidden instead, so the record stays explainable."""
    with transaction.atomic():
        briefing = _editable(briefing_id=briefing_id, user=user)
        kept = [i for i in briefing.manual_items if i["id"] != item_id]
        if len(kept) == len(briefing.manual_items):
            raise ValidationFailed("Only added items can be removed; hide automatic ones.",
                                   code="item_not_removable")
        briefing.manual_items = kept
        return _save_edit(briefing=briefing, user=user, ip=ip, detail={"item": item_id, "removed": True})


def recommendation_rules_seed(*, agency_id: int) -> int:
    """Give an agency the default co-responder rules (idempotent); returns how many were created."""
    created = 0
    for rule in DEFAULT_RULES:
        _, new = RecommendationRule.objects.get_or_create(agency_id=agency_id, name=rule["name"], defaults=rule)
        created += int(new)
    return created


def recommendation_rule_save(*, user: User, rule_id: int | None, values: dict[str, Any],
                             ip: str | None = None) -> RecommendationRule:
    """Analysts and supervisors create or change their agency's co-responder rules."""
    from apps.briefings.selectors import recommendation_rules_for_user

    if user.agency_id is None:
        raise NotFound("Not found.")
    rule = RecommendationRule(agency_id=user.agency_id)
    if rule_id is not None:
        found = recommendation_rules_for_user(user=user).filter(pk=rule_id).first()
        if found is None:
            raise NotFound("Rule not found.", code="rule_not_found")
        rule = found
    if user.role not in CENTER_ROLES:
        if rule_id is None:
            raise NotFound("Not found.")
        raise PermissionDenied("Only analysts and supervisors change rules.", code="rule_read_only")
    for name, value in values.items():
        setattr(rule, name, value)
    try:
        with transaction.atomic():
            rule.save()
            audit_record(actor=user, action=AuditEvent.Action.CREATE if rule_id is None else AuditEvent.Action.UPDATE,
                         obj=rule, ip=ip, detail={"fields": sorted(values)})
    except IntegrityError as exc:
        raise ValidationFailed("A rule with this name exists.", code="rule_name_taken",
                               fields={"name": ["already exists"]}) from exc
    return rule
