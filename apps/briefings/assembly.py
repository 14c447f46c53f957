"""What a briefing says about a call, item by item, each with its reason and as-of time.

Reads only; apps/briefings/services.py stores the result. Everything here is
read with the agency's role-default view: restricted records (juvenile, sealed,
undercover) never enter an automatic briefing, and nothing counts them, so a
briefing cannot hint that they exist. About ten queries a briefing
(bench/briefing.py counts them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q

from apps.briefings.models import RecommendationRule
from apps.briefings.rules import FROM_CALL, Cues, recommend, safety_signals
from apps.calls.models import Call, Category
from apps.cameras.selectors import CallCamera, cameras_for_call
from apps.cases.models import CasePerson, Person, PersonPhoto, Premise, Warrant
from apps.common.wire import wire_datetime
from apps.hazards.models import RecordHazard
from apps.hazards.selectors import health_hotspot_at, record_hazards_active
from apps.places.geo import cell_block, cells_within
from apps.places.normalize import key_is_block
from apps.places.services import BlockPremise, premises_on_block

Item = dict[str, Any]
LAST_CALLS_SHOWN = 5
PEOPLE_SHOWN = 10


def item(*, id: str, section: str, title: str, body: str, rule: str, why: str, as_of: datetime | None,
         severity: str = "info", ref: dict[str, Any] | None = None, data: dict[str, Any] | None = None,
         stale: bool = False) -> Item:
    return {
        "id": id,
        "section": section,
        "title": title,
        "body": body,
        "severity": severity,
        "reason": {"rule": rule, "text": why},
        "as_of": wire_datetime(as_of) if as_of else None,
        "stale": stale,
        "ref": ref,
        "data": data or {},
        "source": "auto",
        "pinned": False,
        "hidden": False,
    }


def _call_item(call: Call) -> Item:
    # A call with a position is never "unknown location": without an address, its coordinates are where it is.
    located = call.latitude is not None and call.longitude is not None
    where = call.address or (f"at {call.latitude:.5f}, {call.longitude:.5f}" if located else "unknown location")
    if not call.located_by and not located:
        where += " (not located: no coordinates and no known premise)"
    elif call.located_by == "premise":
        where += " (located from the known premise)"
    flagged = " CAD code not mapped; check the type." if call.cad_code_unmapped else ""
    return item(id="call", section="call", title=f"P{call.priority} {call.cad_description or call.cad_code}",
                body=f"{where}. {call.narrative}".strip() + flagged, rule="call",
                why="The call as dispatched", as_of=call.updated_at,
                severity="caution" if call.cad_code_unmapped else "info",
                data={"category": call.category, "priority": call.priority, "event_number": call.event_number})


def _kinds(counts: Counter[str]) -> str:
    """"2 Disturbance, 1 Mental health": the categories' labels, as an officer reads them, never their codes."""
    labels = dict(Category.choices)
    return ", ".join(f"{n} {labels.get(cat, cat)}" for cat, n in counts.most_common())


def _prior_calls(call: Call, now: datetime) -> list[Item]:
    since = now - timedelta(days=settings.PRIOR_CALLS_DAYS)
    items: list[Item] = []
    # received_at < the call's leaves the call itself out; counting "*" keeps the scans index-only.
    earlier = Call.objects.filter(agency_id=call.agency_id, received_at__gte=since, received_at__lt=call.received_at)
    lat, lon = call.latitude, call.longitude
    if call.address_key:
        here = earlier.filter(address_key=call.address_key)
        if lat is not None and lon is not None:  # the same words kilometres away (the next township) are elsewhere
            here = here.filter(Q(cell="") | Q(cell__in=cells_within(lat, lon, settings.PLACE_SAME_ADDRESS_M)))
        where = "on this block" if key_is_block(call.address_key) else "at this address"
        counts = Counter({row["category"]: row["n"] for row in
                          here.values("category").annotate(n=Count("*")).order_by()})
        if counts:
            last = list(here.order_by("-received_at").values("event_number", "received_at", "category",
                                                             "cad_description", "cad_code")[:LAST_CALLS_SHOWN])
            total = sum(counts.values())
            summary = _kinds(counts)
            lines = [f"{c['received_at']:%Y-%m-%d} {c['cad_description'] or c['cad_code']}" for c in last]
            items.append(item(
                id="prior_calls:address", section="prior_history",
                title=f"{total} prior call{'s' if total != 1 else ''} {where}",
                body=f"{summary}. Last {len(last)}: " + "; ".join(lines), rule="prior_calls_at_address",
                why=(f"Calls at the same address in the last {settings.PRIOR_CALLS_DAYS} days" if where ==
                     "at this address" else f"The call gives only its hundred block; calls on that block in the "
                     f"last {settings.PRIOR_CALLS_DAYS} days"),
                as_of=last[0]["received_at"], severity="caution" if total >= 3 else "info",
                data={"match": "block" if where == "on this block" else "exact", "by_category": dict(counts),
                      "last": [
                    {"event_number": c["event_number"], "received_at": wire_datetime(c["received_at"]),
                     "category": c["category"], "type": c["cad_description"] or c["cad_code"]} for c in last]},
            ))
    if lat is not None and lon is not None:
        nearby = earlier.filter(cell__in=cell_block(lat, lon))
        if call.address_key:
            nearby = nearby.exclude(address_key=call.address_key)
        counts = Counter({row["category"]: row["n"] for row in
                          nearby.values("category").annotate(n=Count("*")).order_by()})
        if counts:
            total = sum(counts.values())
            items.append(item(
                id="prior_calls:nearby", section="prior_history",
                title=f"{total} prior call{'s' if total != 1 else ''} in the surrounding blocks",
                body=_kinds(counts), rule="prior_calls_nearby",
                why=(f"Calls in the 3x3 block of ~150 m geohash cells around the call, last "
                     f"{settings.PRIOR_CALLS_DAYS} days"),
                as_of=now, data={"by_category": dict(counts)},
            ))
    return items


@dataclass
class PersonFacts:
    """What a briefing says about a person, read with plain value queries (no model instances)."""

    id: int
    first_name: str
    last_name: str
    date_of_birth: date | None
    caution_flags: list[str]
    caution_notes: str
    supervision: str
    supervision_detail: str
    behavioral_health_guidance: str
    updated_at: datetime
    named: bool
    warrants: list[str] = field(default_factory=list)
    photo_ids: list[int] = field(default_factory=list)


_PERSON_FIELDS = ("id", "first_name", "last_name", "date_of_birth", "caution_flags", "caution_notes", "supervision",
                  "supervision_detail", "behavioral_health_guidance", "updated_at")


def _people(call: Call, premise: Premise | None) -> list[PersonFacts]:
    """People named in the call, then people on the newest unrestricted cases at this premise; unrestricted only."""
    named = set(Call.people.through.objects.filter(call_id=call.pk).values_list("person_id", flat=True))
    linked: list[int] = []
    if premise is not None:
        linked = list(CasePerson.objects.filter(case__premises=premise, case__restriction="",
                                                case__agency_id=call.agency_id)
                      .order_by("-case__opened_at", "person_id").values_list("person_id", flat=True)
                      [:PEOPLE_SHOWN * 2])
    wanted = list(dict.fromkeys([*sorted(named), *linked]))[:PEOPLE_SHOWN * 2]
    if not wanted:
        return []
    rows = Person.objects.filter(pk__in=wanted, agency_id=call.agency_id, restriction="").values(*_PERSON_FIELDS)
    people = {row["id"]: PersonFacts(**row, named=row["id"] in named) for row in rows}
    order = {pk: n for n, pk in enumerate(wanted)}
    shown = sorted(people.values(), key=lambda p: (not p.named, order[p.id]))[:PEOPLE_SHOWN]
    ids = [p.id for p in shown]
    if ids:
        for person_id, number, offense in (Warrant.objects.filter(person_id__in=ids, status=Warrant.Status.ACTIVE)
                                           .values_list("person_id", "number", "offense")):
            people[person_id].warrants.append(f"{number} {offense}")
        for person_id, photo_id in PersonPhoto.objects.filter(person_id__in=ids).values_list("person_id", "id"):
            people[person_id].photo_ids.append(photo_id)
    return shown


def _person_item(person: PersonFacts) -> Item:
    parts: list[str] = []
    if person.caution_flags:
        parts.append("CAUTION: " + ", ".join(flag.replace("_", " ") for flag in person.caution_flags) + ".")
    if person.caution_notes:
        parts.append(person.caution_notes)
    if person.warrants:
        parts.append("Active warrant: " + "; ".join(person.warrants))
    if person.supervision:
        parts.append(f"On {person.supervision}. {person.supervision_detail}".strip())
    if person.behavioral_health_guidance:
        parts.append("Approach: " + person.behavioral_health_guidance)
    danger = bool(set(person.caution_flags) & {"armed", "violent_to_officers"})
    return item(
        id=f"person:{person.id}", section="people", title=f"{person.first_name} {person.last_name}",
        body=" ".join(parts) or "No cautions on record.", rule="linked_person",
        why="Named in this call" if person.named else "On a case at this address", as_of=person.updated_at,
        severity="danger" if danger else ("caution" if parts else "info"),
        ref={"type": "cases.person", "id": person.id},
        data={"date_of_birth": person.date_of_birth.isoformat() if person.date_of_birth else None,
              "caution_flags": list(person.caution_flags), "warrants": len(person.warrants),
              "photo_ids": sorted(person.photo_ids)},
    )


def _hazard_items(premise: Premise | None, hazards: list[RecordHazard], block: list[BlockPremise]) -> list[Item]:
    """This address's hazards first; then what is recorded elsewhere on its hundred block, said as such.

    A block's record is not this house's: it is ranked below and never more than a caution.
    """
    items: list[Item] = []
    if premise is not None and premise.hazards:
        items.append(item(id=f"premise_note:{premise.pk}", section="hazards", title="Premise hazard notes",
                          body=premise.hazards, rule="premise_hazard_notes", why="Noted on the premise record",
                          as_of=premise.updated_at, severity="caution",
                          ref={"type": "cases.premise", "id": premise.pk}, data={"match": "exact"}))
    on_block = {p.id: p for p in block}
    later: list[Item] = []
    for hazard in hazards:
        nearby = on_block.get(hazard.premise_id) if hazard.premise_id else None
        ref = ({"type": "cases.premise", "id": hazard.premise_id} if hazard.premise_id
               else {"type": "cases.person", "id": hazard.person_id})
        data = {"kind": hazard.kind, "expires_at": wire_datetime(hazard.expires_at) if hazard.expires_at else None}
        if nearby is not None:
            later.append(item(
                id=f"hazard:{hazard.pk}", section="hazards", title=f"On this block: {hazard.get_kind_display()}",
                body=hazard.description, rule=f"block_hazard:{hazard.kind}",
                why=f"Recorded at {nearby.address} by {hazard.source}, on this block but not at this address",
                as_of=hazard.reported_at, ref=ref, severity="caution",
                data={**data, "match": "block", "recorded_at_address": nearby.address}))
            continue
        on = "this address" if hazard.premise_id else "a linked person"
        items.append(item(
            id=f"hazard:{hazard.pk}", section="hazards", title=hazard.get_kind_display(), body=hazard.description,
            rule=f"recorded_hazard:{hazard.kind}", why=f"Recorded on {on} by {hazard.source}",
            as_of=hazard.reported_at, ref=ref,
            severity="danger" if hazard.kind in ("weapons", "violence_to_officers") else "caution",
            data={**data, "match": "exact" if hazard.premise_id else "person"},
        ))
    for nearby in block:
        if nearby.hazards:
            later.append(item(
                id=f"premise_note:{nearby.id}", section="hazards", title="On this block: premise hazard notes",
                body=nearby.hazards, rule="block_premise_hazard_notes",
                why=f"Noted on the premise record of {nearby.address}, on this block but not at this address",
                as_of=nearby.updated_at, severity="caution",
                ref={"type": "cases.premise", "id": nearby.id},
                data={"match": "block", "recorded_at_address": nearby.address}))
    return items + later


def _health_item(call: Call, now: datetime) -> Item | None:
    if call.latitude is None or call.longitude is None:
        return None
    found = health_hotspot_at(agency_id=call.agency_id, latitude=call.latitude, longitude=call.longitude, now=now)
    # Fresh and below the threshold: nothing to say. Stale: say so whatever the figure, never use it silently.
    if found is None or not (found.is_hotspot or found.stale):
        return None
    week = found.week_ending.isoformat()
    if found.stale:
        body = (f"Health data is stale: the latest {found.disease} figure for {found.area_label or found.area_code} "
                f"is from the week ending {week} ({found.rate:.0f} {found.rate_unit}). Do not rely on it; "
                f"ask the center for current advice.")
    else:
        body = (f"{found.disease}: {found.rate:.0f} {found.rate_unit} in {found.area_label or found.area_code} "
                f"(week ending {week}). {found.ppe_advice}")
    return item(
        id="health:hotspot", section="health",
        title=f"{found.disease} data is stale" if found.stale else f"{found.disease} hotspot",
        body=body, rule="health_hotspot",
        why=(f"The area's newest figure is older than {settings.HEALTH_DATA_MAX_AGE_DAYS} days" if found.stale
             else f"Weekly rate at or above {found.threshold} {found.rate_unit}"), as_of=datetime.combine(
            found.week_ending, datetime.min.time(), tzinfo=now.tzinfo), severity="info" if found.stale else "caution",
        stale=found.stale,
        data={"area": found.area_code, "rate": found.rate, "week_ending": week, "dataset": found.dataset_name},
    )


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def _cues(call: Call, people: list[PersonFacts], hazards: list[RecordHazard]) -> Cues:
    return Cues(
        category=call.category,
        text=f"{call.cad_description}. {call.cad_code}. {call.narrative}",
        caution_flags=frozenset(flag for p in people for flag in p.caution_flags),
        hazard_kinds=frozenset(h.kind for h in hazards),
    )


def _weapon_item(call: Call, cues: Cues) -> Item | None:
    """Weapons or violence in the call itself: said first, whatever the co-responder rules make of it.

    The same signals that stage a co-responder (apps/briefings/rules.py); a word match can be wrong
    ("no knife seen"), so the body says it is the call text that says so, for the officer to weigh.
    """
    # One line per mention, whatever its case: "KNIFE" in the CAD type and "knife" in the narrative are one.
    reasons: list[str] = []
    for signal in safety_signals(cues):
        if signal.source == FROM_CALL and signal.reason.lower() not in map(str.lower, reasons):
            reasons.append(signal.reason)
    if not reasons:
        return None
    text = "; ".join(reasons)
    return item(id="safety:call", section="safety", title="Weapon or violence reported in this call",
                body=text[:1].upper() + text[1:] + ". Matched on words, not confirmed: treat as armed.",
                rule="call_safety_signals", why="Weapon and violence words and categories in the call",
                as_of=call.updated_at, severity="danger", data={"reasons": reasons})


def _grouped(reasons: list[str]) -> str:
    """"Rule: a; Rule: b" as "Rule: a; b": each rule's name once."""
    by_rule: dict[str, list[str]] = {}
    for reason in reasons:
        name, _, text = reason.partition(": ")
        by_rule.setdefault(name if text else "", []).append(text or name)
    return "; ".join(f"{name}: {'; '.join(texts)}" if name else "; ".join(texts) for name, texts in by_rule.items())


def _co_responder_items(call: Call, cues: Cues) -> list[Item]:
    rules = list(RecommendationRule.objects.filter(agency_id=call.agency_id, enabled=True))
    items: list[Item] = []
    for found in recommend(rules, cues):
        label = dict(RecommendationRule.Responder.choices)[found.responder]
        if found.mode == "staged":
            title = f"Police first; stage {_article(label)} {label.lower()}"
            body = ("Safety signals: " + "; ".join(found.safety_reasons) + ". Secure the scene before the "
                    "co-responder joins.")
        else:
            title = f"Recommend {_article(label)} {label.lower()} go along"
            body = "Send with the responding officer."
        items.append(item(
            id=f"co_responder:{found.responder}", section="co_responder", title=title, body=body,
            rule="co_responder_rules", why=_grouped(found.reasons), as_of=call.updated_at,
            severity="caution" if found.mode == "staged" else "info",
            data={"responder": found.responder, "mode": found.mode, "reasons": found.reasons,
                  "safety_reasons": found.safety_reasons, "safety_flags": found.safety_flags},
        ))
    return items


def _camera_item(found: CallCamera) -> Item:
    camera = found.camera
    where = f"{found.distance_m:.0f} m away" if found.distance_m is not None else "position unknown"
    return item(
        id=f"camera:{camera.pk}", section="cameras", title=camera.name,
        body=f"{camera.get_kind_display()} camera, {where}. Owner: {camera.owner}.",
        rule="camera_pinned" if found.pinned else "camera_nearby", why=found.reason,
        # A mobile camera's position is as old as its last move.
        as_of=camera.location_updated_at if camera.is_mobile else None,
        # No `ref`: briefing readers filter refs by case-file visibility, and cameras are not case files.
        data={"camera_id": camera.pk, "kind": camera.kind, "pinned": found.pinned, "sharing": camera.sharing,
              "distance_m": round(found.distance_m) if found.distance_m is not None else None,
              "latitude": camera.latitude, "longitude": camera.longitude, "reachable": camera.reachable,
              "unreachable_reason": camera.unreachable_reason},
    )


def _camera_items(call: Call) -> list[Item]:
    """Cameras near this call: the pinned ones first, then the nearest the owners share, by distance."""
    found = cameras_for_call(call=call, limit=settings.CAMERAS_IN_BRIEFING)
    found.sort(key=lambda c: not c.pinned)  # stable: distance order within each group
    return [_camera_item(c) for c in found]


# Sections other apps add (apps.sensors: the alert that raised the call), registered in their
# AppConfig.ready() as fn(call, now) -> items, so this module imports none of their models.
SectionBuilder = Callable[[Call, datetime], list[Item]]
_section_builders: list[SectionBuilder] = []


def briefing_section_register(build: SectionBuilder) -> None:
    if build not in _section_builders:
        _section_builders.append(build)


def briefing_items_build(*, call: Call, now: datetime) -> list[Item]:
    """Every automatic item for a call, in reading order."""
    premise = call.premise if call.premise_id and call.premise and not call.premise.restriction else None
    people = _people(call, premise)
    block = premises_on_block(agency_id=call.agency_id, key=call.address_key, latitude=call.latitude,
                              longitude=call.longitude, exclude_id=premise.pk if premise else None,
                              limit=settings.BLOCK_PREMISES_SHOWN)
    hazards = record_hazards_active(premise_ids=([premise.pk] if premise else []) + [p.id for p in block],
                                    person_ids=[p.id for p in people], now=now)
    # The safety cues are this address's and its people's: a neighbour's record is not "recorded here".
    block_ids = {p.id for p in block}
    cues = _cues(call, people, [h for h in hazards if h.premise_id not in block_ids])
    items = [_call_item(call)]
    weapon = _weapon_item(call, cues)
    if weapon is not None:
        items.append(weapon)
    items += _hazard_items(premise, hazards, block)
    health = _health_item(call, now)
    if health is not None:
        items.append(health)
    items += _co_responder_items(call, cues)
    items += [_person_item(p) for p in people]
    items += _prior_calls(call, now)
    items += _camera_items(call)
    for build in _section_builders:
        items += build(call, now)
    return items
