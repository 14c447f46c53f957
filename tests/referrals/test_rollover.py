"""An offer nobody answers goes to the next person on call after REFERRAL_OFFER_SECONDS, exactly once."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from apps.delivery.models import Event, Push
from apps.referrals.models import Offer, Referral
from apps.referrals.services import referral_offers_roll_over
from tests.base import World, signed_in_client
from tests.referrals.helpers import Scene, refer, referral_scene


@pytest.fixture
def scene(world: World) -> Scene:
    return referral_scene(world)


def _later(settings: Any) -> Any:
    return timezone.now() + timedelta(seconds=settings.REFERRAL_OFFER_SECONDS + 1)


def test_an_offer_is_not_rolled_over_before_its_time(scene: Scene) -> None:
    refer(scene)
    assert referral_offers_roll_over() == 0


def test_an_unanswered_offer_goes_to_the_next_on_call_once(scene: Scene, settings: Any) -> None:
    referral = refer(scene)
    later = _later(settings)
    assert referral_offers_roll_over(now=later) == 1
    assert referral_offers_roll_over(now=later) == 0
    referral.refresh_from_db()
    assert referral.state == "offered" and referral.responder_id == scene.cody.pk
    assert list(Offer.objects.filter(referral=referral).values_list("user_id", "result")) == [
        (scene.cora.pk, "rolled_over"), (scene.cody.pk, "")]
    assert Event.objects.filter(user=scene.cora, op="withdrawn").count() == 1
    assert Push.objects.filter(type="referral", op="offered", deliveries__user=scene.cody).count() == 1
    # Too late for Cora: the referral is Cody's now.
    late = signed_in_client(scene.cora).post(f"/api/v1/referrals/{referral.pk}/transitions", {"to": "accepted"},
                                             format="json")
    assert late.status_code == 404
    # Cody lets it lapse too: nobody is left, and the referral is declined.
    assert referral_offers_roll_over(now=later + timedelta(seconds=settings.REFERRAL_OFFER_SECONDS + 1)) == 1
    referral.refresh_from_db()
    assert referral.state == "declined"


def test_an_accepted_offer_never_rolls_over(scene: Scene, settings: Any) -> None:
    referral = refer(scene)
    assert signed_in_client(scene.cora).post(f"/api/v1/referrals/{referral.pk}/transitions", {"to": "accepted"},
                                             format="json").status_code == 200
    assert referral_offers_roll_over(now=_later(settings)) == 0
    assert Referral.objects.get(pk=referral.pk).responder_id == scene.cora.pk


# Two threads writing at once need a real server database; the embedded SQLite run serialises anyway.
@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="concurrent workers need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_rollover_happens_once_with_two_workers(world: World, settings: Any) -> None:
    scene = referral_scene(world)
    referrals = [refer(scene) for _ in range(5)]
    later = _later(settings)
    barrier = threading.Barrier(2)
    results: list[int] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(referral_offers_roll_over(now=later))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 2 and sum(results) == len(referrals)
    for referral in referrals:
        assert list(Offer.objects.filter(referral=referral).values_list("user_id", "result")) == [
            (scene.cora.pk, "rolled_over"), (scene.cody.pk, "")]
    assert Event.objects.filter(user=scene.cody, type="referral", op="offered").count() == len(referrals)
    assert Event.objects.filter(user=scene.cora, op="withdrawn").count() == len(referrals)
