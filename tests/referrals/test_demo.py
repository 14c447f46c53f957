"""The demo data: a health department with an on-call roster, and a referral in each state."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.referrals.models import Member, OnCallShift, Referral
from apps.referrals.selectors import referral_report_for_user

pytestmark = pytest.mark.django_db


def test_the_demo_has_an_on_call_roster_and_a_referral_in_each_state(settings: Any) -> None:
    settings.DEMO_MODE = True
    output = StringIO()
    call_command("load_demo", stdout=output, stderr=StringIO(), verbosity=0)
    assert {r.state for r in Referral.objects.all()} == set(Referral.State.values)
    assert set(OnCallShift.objects.values_list("user__username", flat=True)) == {"cora", "cody"}
    assert "cody" in output.getvalue() and "hana" in output.getvalue()
    hana = Member.objects.get(is_coordinator=True).user
    closed = Referral.objects.get(state="closed")
    day = timezone.localdate(closed.created_at)
    report = referral_report_for_user(user=hana, start=day, end=day, period="day")
    assert sum(r["diverted_from_arrest"] for r in report.rows) == 1
