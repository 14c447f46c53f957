"""Prior calls are told in the agency's own clock, its zone named: an officer reads "last night", not UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from apps.accounts.models import Agency
from apps.briefings.services import briefing_assemble
from tests.base import World
from tests.briefings.helpers import make_call


def _last_january_15th() -> datetime:
    """03:30 UTC on the latest 15 January (within the prior-call window, and in winter: EST and PST)."""
    now = timezone.now()
    moment = datetime(now.year, 1, 15, 3, 30, tzinfo=UTC)
    return moment if moment < now - timedelta(hours=1) else moment.replace(year=now.year - 1)


# 03:30 UTC on the 15th: 22:30 the evening before in New York (EST), 19:30 in Seattle (PST).
EARLIER = _last_january_15th()
DAY_BEFORE = f"{EARLIER.year}-01-14"


def _prior(world: World, agency: Agency) -> dict:
    make_call(world, event=f"{agency.pk}-old", agency_id=agency.pk, received_at=EARLIER)
    live = make_call(world, event=f"{agency.pk}-live", agency_id=agency.pk,
                     received_at=timezone.now())
    version = briefing_assemble(call_id=live.pk, reason="call_created")
    assert version is not None
    return next(i for i in version.items if i["id"] == "prior_calls:address")


def test_a_new_york_agency_reads_its_prior_calls_in_eastern_time(world: World) -> None:
    world.agency.time_zone = "America/New_York"
    world.agency.save(update_fields=["time_zone"])

    prior = _prior(world, world.agency)

    assert f"{DAY_BEFORE} 22:30 EST DISTURBANCE" in prior["body"]
    assert "03:30" not in prior["body"] and f"{EARLIER.year}-01-15" not in prior["body"]
    assert prior["data"]["time_zone"] == "America/New_York"
    assert "times in America/New_York" in prior["reason"]["text"]
    # The wire keeps UTC: only the words an officer reads are local.
    assert prior["data"]["last"][0]["received_at"] == f"{EARLIER.year}-01-15T03:30:00.000000Z"


def test_a_seattle_agency_reads_the_same_moment_in_pacific_time(world: World) -> None:
    assert world.other_agency.time_zone == "America/Los_Angeles"  # the default

    prior = _prior(world, world.other_agency)

    assert f"{DAY_BEFORE} 19:30 PST DISTURBANCE" in prior["body"]
    assert prior["data"]["time_zone"] == "America/Los_Angeles"
