"""An FCM registration token belongs to the device that registered it last, so alerts never reach the wrong officer."""

from __future__ import annotations

from apps.accounts.models import Device
from apps.audit.models import AuditEvent
from tests.accounts.signin import client_for, sign_in
from tests.base import World

TOKEN = "fcm-registration-token-shared-phone-0123456789"


def _device_of(user_id: int, name: str) -> Device:
    return Device.objects.get(user_id=user_id, name=name)


def test_a_token_signed_in_with_by_another_officer_is_taken_from_the_first_device(world: World) -> None:
    sign_in(world.omar, name="Pool phone 7", push_token=TOKEN)
    # The phone goes back to the pool and Xavier signs in on it.
    sign_in(world.xavier, name="Pool phone 7", push_token=TOKEN)

    assert _device_of(world.omar.pk, "Pool phone 7").push_token == ""
    assert _device_of(world.xavier.pk, "Pool phone 7").push_token == TOKEN
    assert list(Device.objects.filter(push_token=TOKEN).values_list("user_id", flat=True)) == [world.xavier.pk]


def test_a_token_updated_through_the_api_is_taken_from_the_other_device(world: World) -> None:
    sign_in(world.omar, name="Omar's phone", push_token=TOKEN)
    sam = client_for(sign_in(world.sam, name="Sam's phone", push_token="fcm-token-sams-old-one"))

    response = sam.patch("/api/v1/me/device", {"push_token": TOKEN}, format="json")

    assert response.status_code == 200, response.content
    assert _device_of(world.omar.pk, "Omar's phone").push_token == ""
    assert _device_of(world.sam.pk, "Sam's phone").push_token == TOKEN


def test_the_same_phone_signing_in_again_leaves_the_token_on_the_new_session_only(world: World) -> None:
    sign_in(world.omar, name="Omar's phone", push_token=TOKEN)
    sign_in(world.omar, name="Omar's phone", push_token=TOKEN)

    holders = Device.objects.filter(user=world.omar, push_token=TOKEN)
    assert holders.count() == 1
    assert holders.get() == Device.objects.filter(user=world.omar).order_by("-pk").first()


def test_moving_a_token_to_another_officer_is_audited_without_the_token(world: World) -> None:
    sign_in(world.omar, name="Pool phone 7", push_token=TOKEN)
    sign_in(world.xavier, name="Pool phone 7", push_token=TOKEN)
    omar_device = _device_of(world.omar.pk, "Pool phone 7")

    event = AuditEvent.objects.get(action=AuditEvent.Action.UPDATE, object_id=str(omar_device.pk))

    assert event.actor == world.xavier
    assert event.detail["owner_id"] == world.omar.pk
    assert event.detail["to_device_id"] == _device_of(world.xavier.pk, "Pool phone 7").pk
    assert TOKEN not in str(event.detail)


def test_an_empty_token_takes_nothing_from_anyone(world: World) -> None:
    sign_in(world.omar, name="Omar's phone", push_token=TOKEN)
    client = client_for(sign_in(world.sam, name="Sam's desktop", kind="desktop", platform="web"))

    assert client.patch("/api/v1/me/device", {"push_token": ""}, format="json").status_code == 200

    assert _device_of(world.omar.pk, "Omar's phone").push_token == TOKEN
