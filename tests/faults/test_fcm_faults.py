"""FCM answering 500, 429 with Retry-After, or hanging: each recipient ends sent or failed with a reason, in time.

The push alerts go out from a real `delivery_dispatcher` process to the local
fake FCM; the recipients have no open socket, so their alerts are due at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from apps.delivery.models import Delivery
from apps.delivery.services import push_record
from tests.base import World
from tests.fakes.fcm_server import FakeFCM
from tests.faults.scene import Officer, briefed_call, officer_sessions, wait_until
from tests.harness.processes import Stack

FCM_TIMEOUT_S = 2
RETRY_BUDGET_S = 5


@pytest.fixture
def fcm() -> Iterator[FakeFCM]:
    with FakeFCM(hang_seconds=15) as fake:
        yield fake


def _alerts(world: World, stack: Stack, fcm: FakeFCM) -> tuple[list[Officer], int]:
    """Four officers with phones, the dispatcher running, and a push to them."""
    officers = officer_sessions(world, 4, push_token="tok-")
    call = briefed_call(world)
    stack.fcm_endpoint = fcm.url
    stack.extra_env.update({"RTCC_FCM_TIMEOUT_SECONDS": str(FCM_TIMEOUT_S),
                            "RTCC_FCM_RETRY_SECONDS": str(RETRY_BUDGET_S)})
    stack.dispatcher()
    push = push_record(agency_id=world.agency.pk, type="briefing", op="pushed", object_type="briefings.briefing",
                       object_id=str(call.briefing.pk), payload={"call_id": call.pk}, priority=2,
                       users=[o.user.pk for o in officers], call_id=call.pk)
    return officers, push.pk


def _settled(push_id: int) -> bool:
    return not Delivery.objects.filter(push_id=push_id, alert_sent_at__isnull=True, failed_at__isnull=True).exists()


def _outcomes(push_id: int) -> dict[int, tuple[str, str]]:
    return {d.user_id: (d.status, d.failure_reason) for d in Delivery.objects.filter(push_id=push_id)}


def _settle(stack: Stack, fcm: FakeFCM, push_id: int, bound: float) -> dict[int, tuple[str, str]]:
    """Wait for every alert to end sent or failed; it must take at most `bound` s from FCM's first answer."""
    try:
        wait_until(lambda: _settled(push_id), 40, "every alert sent or failed")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; dispatcher log:\n{stack.procs[-1].log()[-3000:]}") from None
    took = time.monotonic() - min(r.at for r in fcm.received())
    assert took <= bound, f"settled {took:.1f} s after the first request to FCM; bound {bound} s"
    return _outcomes(push_id)


def test_fcm_failing_with_500_ends_in_failed_internal_after_bounded_retries(world: World, stack: Stack,
                                                                            fcm: FakeFCM) -> None:
    fcm.reply("internal")
    officers, push_id = _alerts(world, stack, fcm)
    outcomes = _settle(stack, fcm, push_id, bound=RETRY_BUDGET_S + 3)
    assert outcomes == {o.user.pk: ("failed", "internal") for o in officers}
    assert fcm.counts() == {"internal": 4 * 3}, "each message tried once and retried twice, no more"
    assert fcm.invalid() == []


def test_one_500_is_retried_and_the_alert_is_sent(world: World, stack: Stack, fcm: FakeFCM) -> None:
    fcm.reply("internal", times=2)
    officers, push_id = _alerts(world, stack, fcm)
    outcomes = _settle(stack, fcm, push_id, bound=RETRY_BUDGET_S + 3)
    assert outcomes == {o.user.pk: ("sent", "") for o in officers}
    assert fcm.counts() == {"internal": 2, "ok": 4}


def test_429_with_retry_after_is_honoured_then_sent(world: World, stack: Stack, fcm: FakeFCM) -> None:
    fcm.reply("quota_exceeded", times=4, retry_after=2)
    officers, push_id = _alerts(world, stack, fcm)
    outcomes = _settle(stack, fcm, push_id, bound=RETRY_BUDGET_S + 3)
    assert outcomes == {o.user.pk: ("sent", "") for o in officers}
    received = fcm.received()
    refused = max(r.at for r in received if r.reply == "quota_exceeded")
    sent = min(r.at for r in received if r.reply == "ok")
    assert sent - refused >= 1.9, "nothing was sent again before Retry-After"


def test_429_asking_longer_than_the_send_may_wait_is_rescheduled_for_then_and_sent(world: World, stack: Stack,
                                                                                     fcm: FakeFCM) -> None:
    later = RETRY_BUDGET_S + 3
    fcm.reply("quota_exceeded", times=4, retry_after=later)
    officers, push_id = _alerts(world, stack, fcm)
    wait_until(lambda: fcm.counts().get("quota_exceeded") == 4, 20, "FCM asked us to come back later")
    time.sleep(1)
    assert {status for status, _ in _outcomes(push_id).values()} == {"sent"}, "waiting, not failed"
    assert Delivery.objects.filter(push_id=push_id, alert_sent_at__isnull=True).count() == 4
    outcomes = _settle(stack, fcm, push_id, bound=later + 3)
    assert outcomes == {o.user.pk: ("sent", "") for o in officers}
    received = fcm.received()
    sent = min(r.at for r in received if r.reply == "ok")
    assert sent - min(r.at for r in received) >= later - 0.1, "nothing was sent again before Retry-After"


def test_a_hanging_fcm_fails_that_alert_with_timeout_and_the_others_go_out(world: World, stack: Stack,
                                                                           fcm: FakeFCM, settings: Any) -> None:
    fcm.reply("hang", token=f"tok-{world.omar.pk}")
    officers, push_id = _alerts(world, stack, fcm)
    outcomes = _settle(stack, fcm, push_id, bound=FCM_TIMEOUT_S + 3)
    assert outcomes.pop(world.omar.pk) == ("failed", "timeout")
    assert outcomes == {o.user.pk: ("sent", "") for o in officers if o.user != world.omar}
